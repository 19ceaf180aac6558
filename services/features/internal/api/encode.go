package api

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tributary-ml/tributary/libs/tiles"
)

// The answers of the read API are written by hand: encoding/json's
// reflection over a map of Values per entity took a fifth of a read's CPU
// (BenchmarkOnlineLoad's profile). The bytes are those encoding/json's
// Encoder writes for Response and ViewResponse (TestEncodeAsEncodingJSON),
// except that a non-finite float is null where encoding/json fails.

// column is one feature of an answer: its name (a reference or a view's
// feature name), and where its values come from.
type column struct {
	name  string
	plan  int // index into the answer's value sets
	index int // feature index in the plan
}

// appendValue appends {"value":...,"event_time":...}; tc, when not nil,
// is the answer's last formatted instant.
func appendValue(b []byte, v any, t int64, tc *timeCache) []byte {
	b = append(b, `{"value":`...)
	b = appendAny(b, v)
	b = append(b, `,"event_time":`...)
	switch {
	case t == 0:
		b = append(b, "null"...)
	case tc != nil:
		b = tc.append(b, t)
	default:
		b = appendTime(b, t)
	}
	return append(b, '}')
}

// timeCache is where in an answer the last instant it formatted is: the
// values of an entity often have the same event time (the newest event is
// in most windows), copied instead of formatted again (time.AppendFormat
// takes ~125 ns).
type timeCache struct {
	ms       int64
	from, to int // b[from:to] is ms formatted; to == 0: none yet
}

func (c *timeCache) append(b []byte, ms int64) []byte {
	if c.to > 0 && c.ms == ms {
		return append(b, b[c.from:c.to]...)
	}
	from := len(b)
	b = appendTime(b, ms)
	c.ms, c.from, c.to = ms, from, len(b)
	return b
}

func appendTime(b []byte, ms int64) []byte {
	b = append(b, '"')
	b = time.UnixMilli(ms).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendFloat(b, x)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

// appendFloat formats as encoding/json does (ES6 number formatting).
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, f, fmt, -1, 64)
	if fmt == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString quotes s as encoding/json does by default (HTML characters
// escaped); strings that need escaping go through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendResponse appends the answer of POST /v1/features (Response): the
// values of entities[i] are vals[c.plan][i][c.index] for each column c,
// cols sorted by sortColumns.
func appendResponse(b []byte, asOf int64, entities []string, cols []column, vals [][][]tiles.Value) []byte {
	var tc timeCache
	b = append(b, `{"as_of":`...)
	b = tc.append(b, asOf)
	b = append(b, `,"results":[`...)
	for i, e := range entities {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"entity":`...)
		b = appendString(b, e)
		b = append(b, `,"values":{`...)
		for j, c := range cols {
			if j > 0 {
				b = append(b, ',')
			}
			v := vals[c.plan][i][c.index]
			b = appendString(b, c.name)
			b = append(b, ':')
			b = appendValue(b, v.V, v.Time, &tc)
		}
		b = append(b, "}}"...)
	}
	return append(b, "]}\n"...)
}

// appendViewResponse appends the answer of GET /v1/features/{view}/{entity}
// (ViewResponse).
func appendViewResponse(b []byte, view, version, entity string, asOf int64, cols []column, vals []tiles.Value) []byte {
	b = append(b, `{"view":`...)
	b = appendString(b, view)
	b = append(b, `,"version":`...)
	b = appendString(b, version)
	b = append(b, `,"entity":`...)
	b = appendString(b, entity)
	var tc timeCache
	b = append(b, `,"as_of":`...)
	b = tc.append(b, asOf)
	b = append(b, `,"values":{`...)
	for j, c := range cols {
		if j > 0 {
			b = append(b, ',')
		}
		v := vals[c.index]
		b = appendString(b, c.name)
		b = append(b, ':')
		b = appendValue(b, v.V, v.Time, &tc)
	}
	return append(b, "}}\n"...)
}
