// Package jsonenc appends JSON values exactly as encoding/json writes
// them, without reflection, for the encoders of serving's hot paths (the
// prediction answers and the prediction log records). Each function
// reports ok = false for a value it does not write byte for byte as
// encoding/json does (a string needing escapes) or that encoding/json
// refuses (NaN, infinities, years beyond 9999); the caller then falls back
// to encoding/json.
package jsonenc

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// String appends s quoted when it needs no escape in encoding/json
// (printable ASCII but ", \, <, > and &).
func String(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// Float appends x as encoding/json writes a float64.
func Float(b []byte, x float64) ([]byte, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return b, false
	}
	f := byte('f')
	if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
		f = 'e'
	}
	b = strconv.AppendFloat(b, x, f, -1, 64)
	if f == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// Time appends t as its MarshalJSON does (RFC 3339 with nanoseconds).
func Time(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// SortedKeys are m's keys in the order encoding/json writes them.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Writer appends values to B until one fails; OK then stays false.
type Writer struct {
	B  []byte
	OK bool
}

// Raw appends s as is.
func (w *Writer) Raw(s string) { w.B = append(w.B, s...) }

// String appends a string.
func (w *Writer) String(s string) {
	if w.OK {
		w.B, w.OK = String(w.B, s)
	}
}

// Float appends a number.
func (w *Writer) Float(x float64) {
	if w.OK {
		w.B, w.OK = Float(w.B, x)
	}
}

// FloatPtr appends a number or null.
func (w *Writer) FloatPtr(x *float64) {
	if x == nil {
		w.B = append(w.B, "null"...)
		return
	}
	w.Float(*x)
}

// Floats appends an array of numbers.
func (w *Writer) Floats(xs []float64) {
	w.B = append(w.B, '[')
	for i, x := range xs {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.Float(x)
	}
	w.B = append(w.B, ']')
}

// Int appends an integer.
func (w *Writer) Int(n int) { w.B = strconv.AppendInt(w.B, int64(n), 10) }

// Time appends a time.
func (w *Writer) Time(t time.Time) {
	if w.OK {
		w.B, w.OK = Time(w.B, t)
	}
}
