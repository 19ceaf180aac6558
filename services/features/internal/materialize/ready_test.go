package materialize

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProgressBehindSince: a partition is behind since the time of its
// oldest record not yet applied, so a record that just arrived on an idle
// partition is no lag, while a backlog written before the start is.
func TestProgressBehindSince(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fetch := func(hw int64, recs ...*kgo.Record) kgo.Fetches {
		for _, r := range recs {
			r.Topic, r.Partition = "t", 0
		}
		return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{{Partition: 0, HighWatermark: hw, Records: recs}}}}}}
	}
	rec := func(off int64, at time.Time) *kgo.Record { return &kgo.Record{Offset: off, Timestamp: at} }

	p := newProgress()
	// Idle for an hour after offset 9 was applied, then offset 10 arrives.
	p.fetched(fetch(10, rec(9, now.Add(-time.Hour))), now.Add(-time.Hour))
	p.applied([]*kgo.Record{{Topic: "t", Offset: 9, Timestamp: now.Add(-time.Hour)}})
	if b := p.parts["t"][0].behind; !b.IsZero() {
		t.Fatalf("caught up, yet behind since %v", b)
	}
	p.fetched(fetch(11, rec(10, now.Add(-5*time.Millisecond))), now)
	if got := now.Sub(p.parts["t"][0].behind); got != 5*time.Millisecond {
		t.Errorf("fresh record on an idle partition: behind for %v, want 5ms (the record's age)", got)
	}
	p.applied([]*kgo.Record{{Topic: "t", Offset: 10}})
	if !p.parts["t"][0].behind.IsZero() {
		t.Error("applied up to the high watermark, still behind")
	}

	// A fresh process fetches a backlog written a minute ago.
	q := newProgress()
	q.fetched(fetch(300, rec(0, now.Add(-time.Minute)), rec(1, now.Add(-time.Minute))), now)
	if got := now.Sub(q.parts["t"][0].behind); got != time.Minute {
		t.Errorf("backlog from before the start: behind for %v, want 1m", got)
	}
	// A record stamped in the future counts from now.
	r := newProgress()
	r.fetched(fetch(1, rec(0, now.Add(time.Hour))), now)
	if got := r.parts["t"][0].behind; !got.Equal(now) {
		t.Errorf("future-stamped record: behind since %v, want now", got)
	}
}
