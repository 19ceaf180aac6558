package tiles_test

import (
	"context"
	"fmt"
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

// BenchmarkStoreRead reads 1 entity through Redis, as serving and the read
// API do (one HMGET of the cover's fields, then the merge), from the state
// of 3,000 events over the last 2 days applied with Store.Apply.
func BenchmarkStoreRead(b *testing.B) {
	rdb := redisClient(b)
	ctx := context.Background()
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	b.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	p := plan(b)
	st := tiles.NewStore(rdb, prefix)
	evs := events(rand.New(rand.NewPCG(1, 1)), 3000, int64(48*time.Hour/time.Millisecond), 1000)
	for i := 0; i < len(evs); i += 500 {
		if err := st.Apply(ctx, []*tiles.Update{{Plan: p, Entity: "u1", Events: evs[i:min(i+500, len(evs))]}}, T0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.ReadFields(T0))), "fields")
	for b.Loop() {
		if _, err := st.Read(ctx, p, []string{"u1"}, T0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoalescedRead reads the entity of BenchmarkStoreRead from 8
// goroutines at once through a coalescing Store, as the read API does
// under load.
func BenchmarkCoalescedRead(b *testing.B) {
	rdb := redisClient(b)
	ctx := context.Background()
	prefix := fmt.Sprintf("bench-coalesced-%d-", time.Now().UnixNano())
	b.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	p := plan(b)
	evs := events(rand.New(rand.NewPCG(1, 1)), 3000, int64(48*time.Hour/time.Millisecond), 1000)
	for i := 0; i < len(evs); i += 500 {
		if err := tiles.NewStore(rdb, prefix).Apply(ctx, []*tiles.Update{{Plan: p, Entity: "u1", Events: evs[i:min(i+500, len(evs))]}}, T0); err != nil {
			b.Fatal(err)
		}
	}
	st := tiles.NewStore(rdb, prefix, tiles.Coalesce())
	b.SetParallelism(4) // 8 goroutines on 2 cores
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Read(ctx, p, []string{"u1"}, T0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
