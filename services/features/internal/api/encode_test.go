package api

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/tiles"
)

// reference is the answer as encoding/json's Encoder writes it.
func reference(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func refValue(v tiles.Value) Value {
	out := Value{Value: v.V}
	if v.Time != 0 {
		t := time.UnixMilli(v.Time).UTC()
		out.EventTime = &t
	}
	return out
}

// TestEncodeAsEncodingJSON: the hand-written answer is byte for byte what
// encoding/json writes for the same values: integers, floats of every
// magnitude (the exponent forms included), strings that need escaping
// (quotes, control and HTML characters, invalid UTF-8, U+2028), booleans,
// nulls and event times with and without milliseconds, many the same (the
// answer copies an instant it formatted before).
func TestEncodeAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "item-3", `a"b`, `back\slash`, "tab\t", "<b>&", "é", "\xff", "\u2028", "ü<"}
	var shared []int64 // event times drawn again
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-7, 1.234e-9, 1e20, 1e21, 1.5e300, -3e-300, math.Pi, 123456789.125, 5e-324}
	value := func() tiles.Value {
		var v tiles.Value
		switch r.IntN(6) {
		case 0:
			v.V = r.Int64N(1<<40) - 1<<39
		case 1:
			v.V = floats[r.IntN(len(floats))]
		case 2:
			v.V = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		case 3:
			v.V = strs[r.IntN(len(strs))]
		case 4:
			v.V = r.IntN(2) == 0
		}
		if v.V != nil && r.IntN(4) > 0 {
			v.Time = 1_700_000_000_000 + r.Int64N(1e11)
			if r.IntN(3) == 0 {
				v.Time -= v.Time % 1000
			}
			if r.IntN(2) == 0 {
				v.Time = shared[r.IntN(len(shared))]
			}
		}
		return v
	}
	for range 2000 {
		asOf := 1_700_000_000_000 + r.Int64N(1e11)
		shared = []int64{asOf, asOf - 1, 1_700_000_000_000 + r.Int64N(1e11)}
		entities := make([]string, 1+r.IntN(3))
		for i := range entities {
			entities[i] = strs[r.IntN(len(strs))] + "u"
		}
		names := []string{"v:b", "v:a", "w:c<", "v:a"} // a duplicate reference answers once
		cols := []column{{name: names[0], index: 0}, {name: names[1], index: 1}, {name: names[2], plan: 1, index: 0}, {name: names[3], index: 1}}
		vals := [][][]tiles.Value{make([][]tiles.Value, len(entities)), make([][]tiles.Value, len(entities))}
		want := Response{AsOf: time.UnixMilli(asOf).UTC()}
		for i, e := range entities {
			vals[0][i] = []tiles.Value{value(), value()}
			vals[1][i] = []tiles.Value{value()}
			ev := EntityValues{Entity: e, Values: map[string]Value{}}
			for _, c := range cols {
				ev.Values[c.name] = refValue(vals[c.plan][i][c.index])
			}
			want.Results = append(want.Results, ev)
		}
		got := appendResponse(nil, asOf, entities, sortColumns(cols), vals)
		if exp := reference(t, want); !bytes.Equal(got, exp) {
			t.Fatalf("POST answer\n got %s\nwant %s", got, exp)
		}
		one := ViewResponse{View: "v<", Version: "abc", Entity: entities[0], AsOf: want.AsOf, Values: map[string]Value{"b": want.Results[0].Values["v:b"], "a": want.Results[0].Values["v:a"]}}
		gotOne := appendViewResponse(nil, one.View, one.Version, one.Entity, asOf, sortColumns([]column{{name: "b", index: 0}, {name: "a", index: 1}}), vals[0][0])
		if exp := reference(t, one); !bytes.Equal(gotOne, exp) {
			t.Fatalf("GET answer\n got %s\nwant %s", gotOne, exp)
		}
	}
}

// TestEncodeNonFinite: a NaN or infinite float answers null (encoding/json
// would fail and leave the answer cut).
func TestEncodeNonFinite(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got := appendValue(nil, f, 5, nil)
		var v Value
		if err := json.Unmarshal(got, &v); err != nil || v.Value != nil {
			t.Errorf("%v: %s (%v)", f, got, err)
		}
	}
}
