package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestAsEncodingJSON: what the functions write is what encoding/json
// writes, and they decline what they do not write as it does.
func TestAsEncodingJSON(t *testing.T) {
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, -1e21, 5e-324, math.MaxFloat64, 123456789.125, 1.0 / 3} {
		want, _ := json.Marshal(x)
		if got, ok := Float(nil, x); !ok || string(got) != string(want) {
			t.Errorf("Float(%v) = %s, %v; want %s", x, got, ok, want)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, ok := Float(nil, x); ok {
			t.Errorf("Float(%v) accepted; encoding/json refuses it", x)
		}
	}
	for _, s := range []string{"", "abc", "view:feature_5m", "a b~"} {
		want, _ := json.Marshal(s)
		if got, ok := String(nil, s); !ok || string(got) != string(want) {
			t.Errorf("String(%q) = %s, %v; want %s", s, got, ok, want)
		}
	}
	for _, s := range []string{`"`, `\`, "<", ">", "&", "\n", "é", "\x7f", "\xff"} {
		if _, ok := String(nil, s); ok {
			t.Errorf("String(%q) accepted; encoding/json escapes it", s)
		}
	}
	for _, tm := range []time.Time{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 1, time.FixedZone("x", -3600)), {}} {
		want, _ := json.Marshal(tm)
		if got, ok := Time(nil, tm); !ok || string(got) != string(want) {
			t.Errorf("Time(%v) = %s, %v; want %s", tm, got, ok, want)
		}
	}
	if _, ok := Time(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("year 10000 accepted; encoding/json refuses it")
	}
}
