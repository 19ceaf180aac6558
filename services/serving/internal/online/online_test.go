package online

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
)

const spec = `
entities: [{name: user}]
sources:
  - {name: s, stream: s, entity_key: /user_id, fields: {x: number, k: string, b: boolean}}
views:
  - name: a
    entity: user
    source: s
    ttl: 1d
    lateness: 1h
    features:
      - {name: c, agg: count, windows: [1h]}
      - {name: lk, agg: latest, field: k}
  - name: b
    entity: user
    source: s
    ttl: 1d
    lateness: 1h
    features:
      - {name: lb, agg: latest, field: b}
      - {name: lx, agg: latest, field: x}
`

// reader answers from a table and counts round trips.
type reader struct {
	calls int
	vals  map[string]map[string][]tiles.Value // view -> entity -> values
}

func (r *reader) ReadViews(_ context.Context, qs []tiles.Query, _ int64) ([][][]tiles.Value, error) {
	r.calls++
	out := make([][][]tiles.Value, len(qs))
	for q, qu := range qs {
		for _, e := range qu.Entities {
			v, ok := r.vals[qu.Plan.View.Name][e]
			if !ok {
				v = make([]tiles.Value, qu.Plan.Features())
			}
			out[q] = append(out[q], v)
		}
	}
	return out, nil
}

func TestFetch(t *testing.T) {
	views, err := featurespec.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	plans := map[string]*tiles.Plan{}
	for _, v := range views {
		plans[v.Name] = tiles.Compile(v)
	}
	lookup := func(n string) (*tiles.Plan, bool) { p, ok := plans[n]; return p, ok }
	const asOf = 1_000_000
	r := &reader{vals: map[string]map[string][]tiles.Value{
		"a": {"u1": {{V: int64(3), Time: asOf - 5000}, {V: "red", Time: asOf - 1000}}},
		"b": {"u1": {{V: true, Time: asOf - 20000}, {V: 2.5, Time: asOf - 2000}}},
	}}
	f := NewFetcher(lookup, r)
	refs := []string{"a:c_1h", "b:lb", "b:lx", "req:amount"}
	rows, err := f.Fetch(context.Background(), refs, []Entity{
		{Key: "u1", Request: map[string]float64{"req:amount": 7}},
		{Key: "u2", Request: map[string]float64{"req:amount": 1, "b:lx": 9}},
	}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if r.calls != 1 {
		t.Errorf("%d round trips, want 1 for two views and two entities", r.calls)
	}
	u1 := rows[0]
	if u1.Values[0] != 3 || u1.Values[1] != 1 || u1.Values[2] != 2.5 || u1.Values[3] != 7 || u1.Freshest != 2 || u1.Stalest != 20 {
		t.Errorf("u1 %+v", u1)
	}
	u2 := rows[1]
	if !math.IsNaN(u2.Values[0]) || !u2.Missing[0] || !u2.Missing[1] || u2.Values[2] != 9 || u2.Missing[2] || u2.Freshest != -1 {
		t.Errorf("u2 %+v", u2)
	}
	var mf *MissingFeatureError
	if _, err := f.Fetch(context.Background(), []string{"a:c_1h", "zz:q"}, []Entity{{Key: "u1"}}, asOf); !errors.As(err, &mf) || mf.Ref != "zz:q" {
		t.Errorf("feature no view provides: %v", err)
	}
	if _, err := f.Fetch(context.Background(), []string{"a:nosuch"}, []Entity{{Key: "u1"}}, asOf); !errors.As(err, &mf) || mf.Ref != "a:nosuch" {
		t.Errorf("feature the view lacks: %v", err)
	}
	// A string value is kept for Encode, with its age.
	srows, err := f.Fetch(context.Background(), []string{"a:lk", "req:m"}, []Entity{{Key: "u1", Text: map[string]string{"req:m": "blue"}}}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := srows[0].TextOf(0); !ok || s != "red" || !math.IsNaN(srows[0].Values[0]) || srows[0].Ages[0] != 1 {
		t.Errorf("string online value: %+v", srows[0])
	}
	if s, ok := srows[0].TextOf(1); !ok || s != "blue" {
		t.Errorf("string request value: %+v", srows[0])
	}
	var uv *UnsupportedValueError
	if _, err := Encode([]string{"a:lk", "req:m"}, srows, []string{"u1"}, vocab{}); !errors.As(err, &uv) || uv.Ref != "a:lk" || uv.Entity != "u1" {
		t.Errorf("string value for a numeric feature: %v", err)
	}
	calls := r.calls
	if _, err := f.Fetch(context.Background(), []string{"req:amount"}, []Entity{{Key: "u1", Request: map[string]float64{"req:amount": 1}}}, asOf); err != nil || r.calls != calls {
		t.Errorf("request features only: %v, %d reads", err, r.calls-calls)
	}
}

// vocab is a model whose features named in cats are categorical, with
// the codes of codes (NaN for others).
type vocab struct {
	cats  map[int]bool
	codes map[string]float64
}

func (v vocab) Categorical(j int) bool { return v.cats[j] }
func (v vocab) Code(_ int, s string) float64 {
	if c, ok := v.codes[s]; ok {
		return c
	}
	return math.NaN()
}

func TestEncode(t *testing.T) {
	red, blue, green := "red", "blue", "green"
	refs := []string{"v:x", "v:color", "v:size"}
	rows := []Row{
		{Values: []float64{1.5, math.NaN(), 3}, Missing: []bool{false, false, false}, Text: []*string{nil, &red, nil}},
		{Values: []float64{2, math.NaN(), math.NaN()}, Missing: []bool{false, false, true}, Text: []*string{nil, &blue, nil}},
		{Values: []float64{2, math.NaN(), 7}, Missing: []bool{false, false, false}, Text: []*string{nil, &green, nil}},
		{Values: []float64{2, math.NaN(), 3}, Missing: []bool{false, true, false}},
	}
	enc := vocab{cats: map[int]bool{1: true, 2: true}, codes: map[string]float64{"red": 0, "blue": 1, "3": 2}}
	out, err := Encode(refs, rows, []string{"a", "b", "c", "d"}, enc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[1.5 0 2]", "[2 1 NaN]", "[2 NaN NaN]", "[2 NaN 2]"}
	for i, r := range out {
		if got := fmt.Sprint(r.Values); got != want[i] {
			t.Errorf("row %d: %s, want %s", i, got, want[i])
		}
	}
	// The number 3 of a categorical feature is the category "3".
	if s, ok := out[0].TextOf(2); !ok || s != "3" {
		t.Errorf("text of a number: %q %v", s, ok)
	}
	if _, ok := out[1].TextOf(2); ok {
		t.Errorf("a missing value has a text")
	}
	// The rows given keep their values.
	if !math.IsNaN(rows[0].Values[1]) || rows[0].Values[2] != 3 {
		t.Errorf("Encode changed its input: %v", rows[0].Values)
	}
	// A model without categorical features gets the rows as they are.
	plain := []Row{{Values: []float64{1, 2, 3}}}
	if got, err := Encode(refs, plain, []string{"a"}, vocab{}); err != nil || &got[0] != &plain[0] {
		t.Errorf("numeric rows were copied: %v", err)
	}
}
