package offline_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

const spec = `
entities: [{name: user}]
sources: [{name: s, stream: s, entity_key: /u, fields: {x: number}}]
views:
  - name: v
    entity: user
    source: s
    lateness: 5m
    features:
      - {name: c, agg: count, windows: [1m, 1h]}
      - {name: s, agg: sum, field: x, windows: [10m]}
      - {name: sd, agg: stddev, field: x, windows: [1h]}
      - {name: l, agg: latest, field: x}
`

// TestAsOfNoLeakage checks the incremental point-in-time states against a
// state built only from the events at or before each instant: equal to the
// bit, so no event after an instant reaches its row, whatever the arrival
// order.
func TestAsOfNoLeakage(t *testing.T) {
	views, err := featurespec.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	p := tiles.Compile(views[0])
	r := rand.New(rand.NewPCG(1, 1))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for trial := range 30 {
		evs := make([]tiles.Event, 300)
		for i := range evs {
			at := t0 + int64(i)*5000
			if r.IntN(3) == 0 {
				at -= r.Int64N(int64(8 * time.Minute / time.Millisecond)) // some beyond the 5m lateness
			}
			evs[i] = tiles.Event{Time: at, Seq: tiles.Seq{Offset: int64(i)}, Fields: map[string]any{"x": r.Float64() * 100}}
		}
		accepted := p.Accept(evs)
		asOf := offline.AsOf(p, accepted)
		var instants []int64
		for range 40 {
			instants = append(instants, t0+r.Int64N(int64(30*time.Minute/time.Millisecond)))
		}
		slices.Sort(instants)
		for _, at := range instants {
			fresh := tiles.NewState(p)
			for _, e := range accepted {
				if e.Time <= at {
					fresh.Add(p, e)
				}
			}
			want := p.Read(fresh, at)
			got := p.Read(asOf(at), at)
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d at %d:\n got %v\nwant %v", trial, at, got, want)
			}
			for i, v := range got {
				if v.Time > at {
					t.Fatalf("trial %d: feature %d at %d includes an event at %d", trial, i, at, v.Time)
				}
			}
		}
	}
}

// TestOnlineEqualsOffline streams events the way the service receives
// them — some stamped up to 5 minutes ahead of their arrival, some re-sent
// copies of earlier ones (same source and id, new offset), some late — and
// checks that a read of the online state at each instant equals the
// training value computed from the same events at that instant, to the bit.
func TestOnlineEqualsOffline(t *testing.T) {
	views, err := featurespec.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	p := tiles.Compile(views[0])
	r := rand.New(rand.NewPCG(2, 3))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for trial := range 20 {
		var evs []tiles.Event
		var arrivals []int64
		for i := range 400 {
			arrival := t0 + int64(i)*3000
			at := arrival
			switch r.IntN(6) {
			case 0:
				at += r.Int64N(int64(5 * time.Minute / time.Millisecond)) // stamped ahead
			case 1:
				at -= r.Int64N(int64(8 * time.Minute / time.Millisecond)) // some beyond the lateness
			}
			id := fmt.Sprint(i)
			x := math.Round(r.Float64()*1e4) / 7
			if i > 0 && r.IntN(8) == 0 {
				j := r.IntN(len(evs)) // a copy of an earlier event
				id, x = fmt.Sprint(evs[j].Fields["id"]), evs[j].Fields["x"].(float64)
				at = max(evs[j].Time, evs[j].Stamped)
			}
			e := tiles.Event{Time: at, ID: tiles.EventID("src", id), Seq: tiles.Seq{Offset: int64(i)}, Fields: map[string]any{"x": x, "id": id}}
			e.Arrive(arrival)
			evs = append(evs, e)
			arrivals = append(arrivals, arrival)
		}
		instants := make([]int64, 60)
		for i := range instants {
			instants[i] = t0 + r.Int64N(int64(400*3000))
		}
		slices.Sort(instants)
		online := tiles.NewState(p)
		n := 0
		for _, at := range instants {
			for n < len(evs) && arrivals[n] <= at {
				online.Apply(p, evs[n], math.MaxInt64)
				n++
			}
			want := p.Read(online, at)
			got := p.Read(offline.AsOf(p, p.Accept(evs[:n]))(at), at)
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d at %d (%d events arrived):\n offline %v\n  online %v", trial, at, n, got, want)
			}
			for i, v := range want {
				if v.Time > at {
					t.Fatalf("trial %d: online feature %d at %d includes an event counted from %d", trial, i, at, v.Time)
				}
			}
		}
	}
}

func TestResolveRefs(t *testing.T) {
	views, err := featurespec.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	p := tiles.Compile(views[0])
	vs := lookup{"v": p}
	refs, err := offline.ResolveRefs(vs, []string{"v:c_1h", "v:l"})
	if err != nil || len(refs) != 2 || refs[1].Index != 4 || refs[1].Type != featurespec.ValueFloat {
		t.Fatalf("%+v %v", refs, err)
	}
	for _, bad := range [][]string{nil, {"v"}, {"w:c_1h"}, {"v:c_2h"}} {
		if _, err := offline.ResolveRefs(vs, bad); err == nil {
			t.Errorf("%v resolved", bad)
		}
	}
}

type lookup map[string]*tiles.Plan

func (l lookup) View(name string) (*tiles.Plan, bool) { p, ok := l[name]; return p, ok }
