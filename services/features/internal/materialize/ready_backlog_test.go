package materialize

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReadyBacklogBeforeFirstFetch: a partition just assigned, nothing
// fetched from it yet, is not ready while Kafka holds records past the
// group's committed offset (a restarted replica's backlog from while it was
// down), at once and not only after ReadyMaxLag; an idle partition (nothing
// past the committed offset, or empty) is ready at once.
func TestReadyBacklogBeforeFirstFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "backlog", "empty"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		r := &kgo.Record{Topic: "backlog", Value: []byte{byte(i)}, Timestamp: time.Now().Add(-time.Hour)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const group = "g"
	// ReadyMaxLag far longer than the test: a check that waits for it before
	// asking Kafka answers ready throughout.
	now := time.Now()
	m := New(Config{Group: group, ReadyMaxLag: time.Hour}, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), cl, NewOwnership(), nil, nil, nil, nil)
	m.now = func() time.Time { return now }
	if err := m.Ready(ctx); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("before the first assignment: %v, want not a member", err)
	}
	m.owned.assigned(ctx, cl, map[string][]int32{"empty": {0}})
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("an empty partition, nothing fetched: %v, want ready", err)
	}
	m.owned.assigned(ctx, cl, map[string][]int32{"backlog": {0}})
	for i := range 2 { // the first call and the next alike
		err := m.Ready(ctx)
		if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "backlog/0 (3 records behind") {
			t.Fatalf("call %d, 3 records and no committed offset, nothing fetched: %v, want lagging on backlog/0", i+1, err)
		}
	}
	// The group committed 2 of 3 (the replica that died applied them).
	adm := kadm.NewClient(cl)
	commit := func(at int64) {
		t.Helper()
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "backlog", Partition: 0, At: at, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
			t.Fatal(err)
		}
	}
	commit(2)
	if err := m.Ready(ctx); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "backlog/0 (1 records behind") {
		t.Fatalf("committed 2 of 3, nothing fetched: %v, want 1 record behind", err)
	}
	commit(3)
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("committed up to the end (an idle stream): %v, want ready", err)
	}
	// Once fetched, the lag is the age of the oldest record not applied.
	fetch := func(hw int64, recs ...*kgo.Record) kgo.Fetches {
		return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "backlog", Partitions: []kgo.FetchPartition{{Partition: 0, HighWatermark: hw, Records: recs}}}}}}
	}
	rec := &kgo.Record{Topic: "backlog", Offset: 3, Timestamp: now}
	m.progress.fetched(fetch(4, rec), now)
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("a fresh record fetched: %v, want ready", err)
	}
	m.progress.applied([]*kgo.Record{rec})

	// The partition moves to another member, which applies 2 more records,
	// and comes back: the stream is idle, the old position is stale.
	m.owned.revoked(ctx, cl, map[string][]int32{"backlog": {0}})
	for i := range 3 {
		r := &kgo.Record{Topic: "backlog", Value: []byte{byte(i)}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commit(6)
	m.owned.assigned(ctx, cl, map[string][]int32{"backlog": {0}})
	m.progress.fetched(fetch(6), now) // nothing past the committed offset
	now = now.Add(2 * time.Hour)
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("a partition back from another member, idle and applied up to its end: %v, want ready", err)
	}
}
