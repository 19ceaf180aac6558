package dedup

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkClaimDone is one new event's claim and written Done on a window
// held full at the bound of ingest's default, 500 000 pairs (each write
// evicts the oldest), as under a sustained load: ns/op is the window's
// cost of one event.
func BenchmarkClaimDone(b *testing.B) {
	ctx := context.Background()
	w := New(10*time.Minute, 500000)
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = "bench-" + strconv.Itoa(i)
	}
	for i := range 500000 {
		c, _, _ := w.Claim(ctx, "/bench/producer", "fill-"+strconv.Itoa(i))
		c.Done(true)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c, dup, err := w.Claim(ctx, "/bench/producer", ids[n&(len(ids)-1)]+strconv.Itoa(n>>20))
		if dup || err != nil {
			b.Fatal(dup, err)
		}
		c.Done(true)
		n++
	}
}

// BenchmarkBatch is ingest's pattern on a full window: a batch of 100 new
// events claimed one after the other, then their Dones (Kafka's answer),
// with and without Warm first; ns/op is for one event.
func BenchmarkBatch(b *testing.B) {
	for _, warm := range []bool{false, true} {
		b.Run("warm="+strconv.FormatBool(warm), func(b *testing.B) {
			ctx := context.Background()
			w := New(10*time.Minute, 500000)
			for i := range 500000 {
				c, _, _ := w.Claim(ctx, "/bench/producer", "fill-"+strconv.Itoa(i))
				c.Done(true)
			}
			const batch = 100
			pairs := make([]Pair, batch)
			claims := make([]Claim, batch)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if n%batch == 0 {
					b.StopTimer()
					for i := range pairs {
						pairs[i] = Pair{Source: "/bench/producer", ID: "bench-" + strconv.Itoa(n+i)}
					}
					b.StartTimer()
				}
				i := n % batch
				if i == 0 && warm {
					w.Warm(pairs)
				}
				c, dup, err := w.Claim(ctx, pairs[i].Source, pairs[i].ID)
				if dup || err != nil {
					b.Fatal(dup, err)
				}
				claims[i] = c
				if i == batch-1 {
					for _, c := range claims {
						c.Done(true)
					}
				}
				n++
			}
		})
	}
}
