package tiles_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/tiles"
)

// BenchmarkDecodeRead decodes an entity's stored tiles and reads every
// feature, as a Redis read does after HMGET (no network).
func BenchmarkDecodeRead(b *testing.B) {
	p := plan(b)
	evs := events(rand.New(rand.NewPCG(1, 1)), 3000, int64(2*time.Hour/time.Millisecond), 1000)
	s := tiles.NewState(p)
	for _, e := range evs {
		s.Apply(p, e, math.MaxInt64)
	}
	meta := p.EncodeMeta(s)
	enc := map[tiles.TileKey][]byte{}
	for k, t := range s.Tiles {
		enc[k] = p.EncodeTile(t)
	}
	for b.Loop() {
		st := tiles.NewState(p)
		if err := p.DecodeMeta(meta, st); err != nil {
			b.Fatal(err)
		}
		for k, e := range enc {
			t, err := p.DecodeTile(e)
			if err != nil {
				b.Fatal(err)
			}
			st.Tiles[k] = t
		}
		p.Read(st, T0)
	}
}
