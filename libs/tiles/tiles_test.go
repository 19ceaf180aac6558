package tiles_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
)

const spec = `
entities: [{name: user}]
sources:
  - {name: s, stream: s, entity_key: /user_id, fields: {x: number, k: string, b: boolean}}
views:
  - name: v
    entity: user
    source: s
    ttl: 8d
    lateness: 2h
    features:
      - {name: c, agg: count, windows: [20s, 5m, 1h, 1d, 7d]}
      - {name: sum, agg: sum, field: x, windows: [5m, 1h, 7d]}
      - {name: mean, agg: mean, field: x, windows: [1h, 7d]}
      - {name: min, agg: min, field: x, windows: [5m, 1d]}
      - {name: max, agg: max, field: x, windows: [1d]}
      - {name: sd, agg: stddev, field: x, windows: [1h, 7d]}
      - {name: dk, agg: distinct, field: k, windows: [1h, 1d]}
      - {name: lk, agg: last, field: k, windows: [1h, 7d]}
      - {name: lx, agg: last, field: x, windows: [5m]}
      - {name: ca, agg: count, windows: [1h], filter: {field: k, op: eq, value: a}}
      - {name: cbig, agg: sum, field: x, windows: [1d], filter: {field: x, op: gt, value: 50}}
      - {name: cin, agg: count, windows: [1d], filter: {field: k, op: in, values: [b, c]}}
      - {name: lb, agg: latest, field: b}
      - {name: lkk, agg: latest, field: k}
`

func plan(t testing.TB) *tiles.Plan {
	t.Helper()
	views, err := featurespec.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	return tiles.Compile(views[0])
}

// T0 is a fixed instant, not on any tile boundary.
var T0 = time.Date(2026, 11, 20, 13, 37, 41, 123_000_000, time.UTC).UnixMilli()

// events returns n events over span before T0 in arrival order: mostly in
// time order with jitter, some out of order by up to late.
func events(r *rand.Rand, n int, span, late int64) []tiles.Event {
	out := make([]tiles.Event, n)
	for i := range out {
		t := T0 - span + span*int64(i)/int64(n)
		if r.IntN(5) == 0 {
			t -= r.Int64N(late)
		}
		f := map[string]any{"x": math.Round(r.Float64()*10000) / 100, "k": string(rune('a' + r.IntN(5))), "b": r.IntN(2) == 0}
		if r.IntN(10) == 0 {
			delete(f, "x")
		}
		if r.IntN(20) == 0 {
			f["k"] = 7.0 // wrong type: skipped by string aggregates? no: distinct/last accept numbers
		}
		out[i] = tiles.Event{Time: t, Seq: tiles.Seq{Partition: 1, Offset: int64(i)}, Fields: f}
	}
	return out
}

// naive computes a feature straight from the events, applying the same
// lateness rule in arrival order.
func naive(v featurespec.View, f featurespec.Feature, evs []tiles.Event, asOf int64) tiles.Value {
	var kept []tiles.Event
	var newest int64
	for i, e := range evs {
		if e.Time > asOf {
			continue
		}
		if i > 0 && len(kept) > 0 && e.Time < newest-time.Duration(v.Lateness).Milliseconds() {
			continue
		}
		if len(kept) == 0 || e.Time > newest {
			newest = e.Time
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 || newest < asOf-time.Duration(v.TTL).Milliseconds() {
		return tiles.Value{}
	}
	start := int64(math.MinInt64)
	if f.Window > 0 {
		start = tiles.WindowStart(asOf, time.Duration(f.Window).Milliseconds())
	}
	var xs []float64
	var vals []any
	var times []int64
	var lastV any
	var lastT int64 = math.MinInt64
	var lastSeq int64 = -1
	var newestIn int64
	for _, e := range kept {
		if e.Time < start || e.Time > asOf {
			continue
		}
		if fl := f.Filter; fl != nil {
			fv, ok := e.Fields[fl.Field]
			if !ok {
				continue
			}
			switch fl.Op {
			case featurespec.OpEq:
				if fv != fl.Value {
					continue
				}
			case featurespec.OpIn:
				if !slices.Contains(fl.Values, fv) {
					continue
				}
			case featurespec.OpGt:
				x, ok := fv.(float64)
				if !ok || x <= fl.Value.(float64) {
					continue
				}
			}
		}
		var fv any
		if f.Field != "" {
			var ok bool
			if fv, ok = e.Fields[f.Field]; !ok {
				continue
			}
		}
		if f.Agg == featurespec.AggLast || f.Agg == featurespec.AggLatest {
			if _, isStr := fv.(string); isStr != (f.Type == featurespec.ValueString) {
				continue
			}
		}
		switch f.Agg {
		case featurespec.AggSum, featurespec.AggMean, featurespec.AggMin, featurespec.AggMax, featurespec.AggStddev:
			x, ok := fv.(float64)
			if !ok {
				continue
			}
			xs = append(xs, x)
		}
		vals = append(vals, fv)
		times = append(times, e.Time)
		if e.Time > lastT || (e.Time == lastT && e.Seq.Offset > lastSeq) {
			lastV, lastT, lastSeq = fv, e.Time, e.Seq.Offset
		}
	}
	n := len(vals)
	if f.Agg == featurespec.AggSum || f.Agg == featurespec.AggMean || f.Agg == featurespec.AggMin || f.Agg == featurespec.AggMax || f.Agg == featurespec.AggStddev {
		n = len(xs)
		times = times[:0]
		// times of numeric events only
		for _, e := range kept {
			if x, ok := e.Fields[f.Field].(float64); ok && e.Time >= start && e.Time <= asOf && (f.Filter == nil || x > 50) {
				times = append(times, e.Time)
			}
		}
	}
	for _, t := range times {
		newestIn = max(newestIn, t)
	}
	out := tiles.Value{Time: newestIn}
	switch f.Agg {
	case featurespec.AggCount:
		out.V = int64(n)
	case featurespec.AggDistinct:
		set := map[string]bool{}
		for _, v := range vals {
			set[fmt.Sprintf("%T%v", v, v)] = true
		}
		out.V = int64(len(set))
	case featurespec.AggSum:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		out.V = s
	}
	if n == 0 {
		out.Time = 0
		return out
	}
	switch f.Agg {
	case featurespec.AggMean:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		out.V = s / float64(n)
	case featurespec.AggMin:
		out.V = slices.Min(xs)
	case featurespec.AggMax:
		out.V = slices.Max(xs)
	case featurespec.AggStddev:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		m := s / float64(n)
		ss := 0.0
		for _, x := range xs {
			ss += (x - m) * (x - m)
		}
		out.V = math.Sqrt(ss / float64(n))
	case featurespec.AggLast, featurespec.AggLatest:
		out.V, out.Time = lastV, lastT
	}
	return out
}

func approxEqual(a, b tiles.Value) bool {
	if a.Time != b.Time {
		return false
	}
	x, ok1 := a.V.(float64)
	y, ok2 := b.V.(float64)
	if ok1 && ok2 {
		return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y))
	}
	return a.V == b.V
}

// build applies the events with time up to asOf, the way the offline path
// does.
func build(p *tiles.Plan, evs []tiles.Event, asOf int64) *tiles.State {
	s := tiles.NewState(p)
	for _, e := range evs {
		if e.Time <= asOf {
			s.Apply(p, e, math.MaxInt64)
		}
	}
	return s
}

func TestReadMatchesNaive(t *testing.T) {
	p := plan(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name       string
		n          int
		span, late int64
	}{
		{"dense minutes", 2000, int64(30 * time.Minute / time.Millisecond), int64(3 * time.Minute / time.Millisecond)},
		{"hours", 3000, int64(30 * time.Hour / time.Millisecond), int64(time.Hour / time.Millisecond)},
		{"days", 3000, int64(9 * 24 * time.Hour / time.Millisecond), int64(4 * time.Hour / time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := events(r, tc.n, tc.span, tc.late)
			for _, asOf := range []int64{T0, T0 - 1, T0 - 7777, T0 - tc.span/3, T0 - tc.span/2 + 12345, T0 + int64(time.Hour/time.Millisecond)} {
				got := p.Read(build(p, evs, asOf), asOf)
				for i, f := range p.View.Features {
					want := naive(p.View, f, evs, asOf)
					if !approxEqual(got[i], want) {
						t.Errorf("asOf %d %s: got %+v, want %+v", asOf, f.Name, got[i], want)
					}
				}
			}
		})
	}
}

// TestStreamingEqualsOffline applies events as the materializer does (with
// pruning against the wall clock, through the encoded form, in batches) and
// compares with a state built offline: every value is equal to the bit.
func TestStreamingEqualsOffline(t *testing.T) {
	p := plan(t)
	r := rand.New(rand.NewPCG(3, 4))
	evs := events(r, 4000, int64(9*24*time.Hour/time.Millisecond), int64(3*time.Hour/time.Millisecond))
	online := tiles.NewState(p)
	for i, e := range evs {
		now := max(e.Time, T0-int64(9*24*time.Hour/time.Millisecond)+int64(i)*200)
		online.Apply(p, e, now)
		if i%500 == 0 {
			online.Prune(p, now)
			online = roundTrip(t, p, online)
		}
	}
	online.Prune(p, T0)
	asOf := T0
	want := p.Read(build(p, evs, asOf), asOf)
	got := p.Read(roundTrip(t, p, online), asOf)
	for i, f := range p.View.Features {
		if got[i] != want[i] {
			t.Errorf("%s: online %+v, offline %+v", f.Name, got[i], want[i])
		}
	}
}

func roundTrip(t *testing.T, p *tiles.Plan, s *tiles.State) *tiles.State {
	t.Helper()
	out := tiles.NewState(p)
	if err := p.DecodeMeta(p.EncodeMeta(s), out); err != nil {
		t.Fatal(err)
	}
	for k, tile := range s.Tiles {
		d, err := p.DecodeTile(p.EncodeTile(tile))
		if err != nil {
			t.Fatal(err)
		}
		out.Tiles[k] = d
	}
	for k, v := range s.Offsets {
		out.Offsets[k] = v
	}
	if err := p.DecodeSeen(p.EncodeSeen(s), out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReplayIsIdempotent(t *testing.T) {
	p := plan(t)
	evs := events(rand.New(rand.NewPCG(5, 6)), 500, int64(2*time.Hour/time.Millisecond), 1000)
	s := build(p, evs, T0)
	want := p.Read(s, T0)
	for _, e := range evs {
		if o := s.Apply(p, e, math.MaxInt64); o != tiles.Duplicate {
			t.Fatalf("replayed offset %d: %v", e.Seq.Offset, o)
		}
	}
	// A replay from the middle, as after a crash before the commit.
	for _, e := range evs[200:] {
		s.Apply(p, e, math.MaxInt64)
	}
	if got := p.Read(s, T0); !slices.Equal(got, want) {
		t.Errorf("replay changed values:\n got %v\nwant %v", got, want)
	}
	// Another partition's offsets are separate.
	e := evs[0]
	e.Seq.Partition = 2
	if o := s.Apply(p, e, math.MaxInt64); o != tiles.Applied {
		t.Errorf("new partition: %v", o)
	}
}

func TestLateness(t *testing.T) {
	p := plan(t) // lateness 2h
	s := tiles.NewState(p)
	h := int64(time.Hour / time.Millisecond)
	ev := func(off, at int64) tiles.Event {
		return tiles.Event{Time: at, Seq: tiles.Seq{Offset: off}, Fields: map[string]any{"x": 1.0}}
	}
	for i, tc := range []struct {
		at   int64
		want tiles.Outcome
	}{
		{T0, tiles.Applied},
		{T0 - 2*h + 1, tiles.Applied}, // inside the lateness
		{T0 - 2*h, tiles.Applied},     // exactly at it
		{T0 - 2*h - 1, tiles.Late},
		{T0 + h, tiles.Applied},
		{T0 - h - 1, tiles.Late}, // the newest moved on
	} {
		if got := s.Apply(p, ev(int64(i), tc.at), math.MaxInt64); got != tc.want {
			t.Errorf("event %d at %d: %v, want %v", i, tc.at, got, tc.want)
		}
	}
	if s.Events != 4 {
		t.Errorf("%d events applied, want 4", s.Events)
	}
}

func TestTTLAndUnknown(t *testing.T) {
	p := plan(t) // ttl 8d
	for _, v := range p.Read(nil, T0) {
		if v.V != nil || v.Time != 0 {
			t.Fatalf("unknown entity: %+v", v)
		}
	}
	s := tiles.NewState(p)
	s.Apply(p, tiles.Event{Time: T0, Fields: map[string]any{"x": 2.0, "k": "a", "b": true}}, math.MaxInt64)
	day := int64(24 * time.Hour / time.Millisecond)
	vals := p.Read(s, T0+8*day)
	_, i, _ := p.View.Feature("lkk")
	if vals[i].V != "a" || vals[i].Time != T0 {
		t.Errorf("latest at the TTL: %+v", vals[i])
	}
	_, i, _ = p.View.Feature("c_1h")
	if vals[i].V != int64(0) || vals[i].Time != 0 {
		t.Errorf("count outside its window: %+v", vals[i])
	}
	for _, v := range p.Read(s, T0+8*day+1) {
		if v.V != nil {
			t.Fatalf("expired entity: %+v", v)
		}
	}
}

func TestCover(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		w    time.Duration
		most int // tiles at most
	}{
		{20 * time.Second, 3}, {5 * time.Minute, 8}, {time.Hour, 9}, {23 * time.Hour, 14},
		{24 * time.Hour, 6}, {7 * 24 * time.Hour, 12}, {90 * 24 * time.Hour, 96},
	} {
		wm := tc.w.Milliseconds()
		most := 0
		for range 3000 {
			asOf := T0 + r.Int64N(int64(30*24*time.Hour/time.Millisecond))
			c := tiles.Cover(asOf, wm)
			start := tiles.WindowStart(asOf, wm)
			if start > asOf-wm || asOf-wm-start >= max(wm/24, tiles.Level0) {
				t.Fatalf("w %v asOf %d: start %d off by %d", tc.w, asOf, start, asOf-wm-start)
			}
			p := start
			for i, k := range c {
				if k.Start != p {
					t.Fatalf("w %v: tile %+v not contiguous at %d", tc.w, k, p)
				}
				if f, ok := tiles.ParseTileField(tiles.TileField(k)); !ok || f != k {
					t.Fatalf("w %v: tile %+v is not a tile of its level", tc.w, k)
				}
				// Only the last tile reaches past the 10s tile holding asOf.
				if i < len(c)-1 && k.End() > asOf-asOf%tiles.Level0+tiles.Level0 {
					t.Fatalf("w %v asOf %d: tile %d of %d (%+v) ends after asOf", tc.w, asOf, i, len(c), k)
				}
				p = k.End()
			}
			if p <= asOf {
				t.Fatalf("w %v: cover ends at %d, asOf %d", tc.w, p, asOf)
			}
			most = max(most, len(c))
		}
		if most > tc.most {
			t.Errorf("w %v: up to %d tiles, want at most %d", tc.w, most, tc.most)
		}
		t.Logf("window %v: at most %d tiles", tc.w, most)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	p := plan(t)
	s := build(p, events(rand.New(rand.NewPCG(9, 9)), 50, 100000, 10), T0)
	for k, tile := range s.Tiles {
		b := p.EncodeTile(tile)
		for _, bad := range [][]byte{b[:len(b)-1], append(slices.Clone(b), 0), {0xff}} {
			if _, err := p.DecodeTile(bad); err == nil {
				t.Errorf("tile %v: corrupt bytes decoded", k)
			}
		}
		break
	}
	if err := p.DecodeMeta([]byte{1}, tiles.NewState(p)); err == nil {
		t.Error("short meta decoded")
	}
}
