package tiles_test

import (
	"fmt"
	"math"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
)

func Example() {
	views, _ := featurespec.Parse([]byte(`
entities: [{name: user}]
sources: [{name: s, stream: s, entity_key: /u, fields: {x: number}}]
views: [{name: v, entity: user, source: s, features: [{name: n, agg: count, windows: [1h]}, {name: total, agg: sum, field: x, windows: [1h]}]}]
`))
	p := tiles.Compile(views[0])
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixMilli()
	s := tiles.NewState(p)
	for i, x := range []float64{1, 2, 4} {
		e := tiles.Event{Time: t0 + int64(i)*60_000, Seq: tiles.Seq{Offset: int64(i)}, Fields: map[string]any{"x": x}}
		fmt.Println(s.Apply(p, e, math.MaxInt64))
	}
	// A replay of an applied offset changes nothing.
	fmt.Println(s.Apply(p, tiles.Event{Time: t0, Seq: tiles.Seq{Offset: 1}, Fields: map[string]any{"x": 100.0}}, math.MaxInt64))
	// At 13:01:30 the 1h window starts at 12:01 (12:01:30 rounded down to
	// the window's unit, 1m): the event of 12:00 has left it.
	at := t0 + 61*60_000 + 30_000
	for i, v := range p.Read(s, at) {
		fmt.Println(p.View.Features[i].Name, v.V, time.UnixMilli(v.Time).UTC().Format(time.TimeOnly))
	}
	// Output:
	// applied
	// applied
	// applied
	// duplicate
	// n_1h 2 12:02:00
	// total_1h 6 12:02:00
}
