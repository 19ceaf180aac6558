package online

import (
	"context"
	"errors"
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
	var uv *UnsupportedValueError
	if _, err := f.Fetch(context.Background(), []string{"a:lk"}, []Entity{{Key: "u1"}}, asOf); !errors.As(err, &uv) || uv.Ref != "a:lk" {
		t.Errorf("string value: %v", err)
	}
	calls := r.calls
	if _, err := f.Fetch(context.Background(), []string{"req:amount"}, []Entity{{Key: "u1", Request: map[string]float64{"req:amount": 1}}}, asOf); err != nil || r.calls != calls {
		t.Errorf("request features only: %v, %d reads", err, r.calls-calls)
	}
}
