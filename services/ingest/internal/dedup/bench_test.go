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
