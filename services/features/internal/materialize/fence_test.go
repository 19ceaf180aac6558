package materialize

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/catalog"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

const fenceSpec = `
entities: [{name: user}]
sources: [{name: clicks, stream: clicks, entity_key: /user_id, fields: {price: number}}]
views:
  - name: uc
    entity: user
    source: clicks
    features:
      - {name: clicks, agg: count, windows: [1d]}
      - {name: spend, agg: sum, field: price, windows: [1d]}
`

// TestLostPartition runs two materializers in one group on kfake: A polls a
// batch and stalls before writing it (a long GC pause); the group gives its
// partition to B.
//   - fenced: B applies that batch and more before A resumes; A's write is
//     refused and it drops its batch: the state in Redis is B's.
//   - commit refused: A resumes before B applied anything; A's write goes
//     through but its offset commit is refused (no longer a member): it drops
//     the batch instead of retrying the commit for ever (which blocked its
//     rejoin), and B applies the records as duplicates.
//
// Either way every event counts once, in Redis and in ClickHouse.
func TestLostPartition(t *testing.T) {
	for _, commitRefused := range []bool{false, true} {
		name := "fenced"
		if commitRefused {
			name = "commit refused"
		}
		t.Run(name, func(t *testing.T) { lostPartition(t, commitRefused) })
	}
}

func lostPartition(t *testing.T, commitRefused bool) {
	if testing.Short() {
		t.Skip("needs Redis and ClickHouse")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := time.Now().UnixNano()
	prefix := fmt.Sprintf("mf%d_", n)
	topic := prefix + event.EventsTopic("clicks")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(t)})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	conn, db := chxtest.Migrated(t, "mftest_")
	views, err := featurespec.Parse([]byte(fenceSpec))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	cat.Set(views[0])
	plan, _ := cat.Snapshot().View("uc")
	store := tiles.NewStore(rdb, prefix)
	off := offline.NewStore(conn, db)
	cfg := Config{Group: prefix + "group", MaxRecords: 100, Backoff: 50 * time.Millisecond, ReadyMaxLag: time.Second, InstanceID: "-", TopicPrefix: prefix}
	var logs [2]testkit.Buffer
	newMat := func(i int) (*Materializer, *kgo.Client) {
		owned := NewOwnership()
		cl, err := kgo.NewClient(append(cfg.ConsumeOpts(owned), kgo.SeedBrokers(cluster.ListenAddrs()...),
			kgo.SessionTimeout(6*time.Second), kgo.RebalanceTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))...)
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(slog.NewTextHandler(&logs[i], &slog.HandlerOptions{Level: slog.LevelWarn}))
		m := New(cfg, logger, prometheus.NewRegistry(), cl, owned, NewBackfiller(rdb, prefix, store, off), cat.Snapshot, store, off)
		return m, cl
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	produced := 0
	produce := func(k int) {
		var recs []*kgo.Record
		for range k {
			produced++
			e := ce.New()
			e.SetID(fmt.Sprint("c-", produced))
			e.SetSource("/test")
			e.SetType("com.example.click.v1")
			e.SetTime(time.Now())
			_ = e.SetData(ce.ApplicationJSON, map[string]any{"user_id": "u1", "price": 1.5})
			r, err := event.ToKafkaRecord(ctx, e, topic)
			if err != nil {
				t.Fatal(err)
			}
			r.Key = []byte("u1")
			recs = append(recs, r)
		}
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(50)

	// A stalls between reading the state and writing it, until released.
	a, aClient := newMat(0)
	stalled, release := make(chan struct{}), make(chan struct{})
	var stalls atomic.Int32
	a.wait = func(ctx context.Context, t time.Time) error {
		if stalls.Add(1) == 1 {
			close(stalled)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return waitUntil(ctx, t)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(ctx) }()
	defer stop(t, cancel, aDone, aClient)
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("A never got a batch")
	}
	produce(30)
	// B joins; A cannot rejoin while it holds its batch, so the group
	// gives the partition to B.
	b, bClient := newMat(1)
	bStalled, bRelease := make(chan struct{}), make(chan struct{})
	var bStalls atomic.Int32
	b.wait = func(ctx context.Context, t time.Time) error {
		if commitRefused && bStalls.Add(1) == 1 {
			close(bStalled)
			select {
			case <-bRelease:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return waitUntil(ctx, t)
	}
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(ctx) }()
	defer stop(t, cancel, bDone, bClient)
	adm := kadm.NewClient(producer)
	committed := func(timeout time.Duration) {
		t.Helper()
		testkit.Eventually(t, timeout, func() error {
			offs, err := adm.FetchOffsets(ctx, cfg.Group)
			if err == nil {
				if o, ok := offs.Lookup(topic, 0); ok && o.At == int64(produced) {
					return nil
				}
			}
			return fmt.Errorf("B did not commit the %d records (%v); logs:\nA: %s\nB: %s", produced, err, logs[0].String(), logs[1].String())
		})
	}
	read := func() int64 {
		vals, err := store.Read(ctx, plan, []string{"u1"}, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		c, _ := vals[0][0].V.(int64)
		return c
	}
	dropped := func() {
		t.Helper()
		testkit.Eventually(t, 30*time.Second, func() error {
			if !strings.Contains(logs[0].String(), "dropped") {
				return fmt.Errorf("A did not drop its stale batch; A logs:\n%s", logs[0].String())
			}
			return nil
		})
	}
	if commitRefused {
		select {
		case <-bStalled: // B owns the partition and holds its first batch
		case <-time.After(30 * time.Second):
			t.Fatal("B never got a batch")
		}
		close(release)
		dropped()
		if !strings.Contains(logs[0].String(), "UNKNOWN_MEMBER_ID") && !strings.Contains(logs[0].String(), "ILLEGAL_GENERATION") {
			t.Errorf("A dropped its batch for another reason than its lost membership:\n%s", logs[0].String())
		}
		close(bRelease)
		committed(60 * time.Second)
	} else {
		committed(60 * time.Second)
		if got := read(); got != 80 {
			t.Fatalf("B's state: clicks_1d %d, want 80", got)
		}
		// A resumes with its stale batch of 50: refused.
		close(release)
		dropped()
		if !strings.Contains(logs[0].String(), "changed by another writer") {
			t.Errorf("A's batch was not fenced off:\n%s", logs[0].String())
		}
	}
	if got := read(); got != 80 {
		t.Errorf("after A's stale batch: clicks_1d %d, want 80", got)
	}
	// ClickHouse holds each event once (A and B stored the same rows).
	stored, err := off.Events(ctx, "clicks", []string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(plan.Accept(decodeAll(t, plan, stored["u1"]))); got != 80 {
		t.Errorf("%d events in ClickHouse, want 80", got)
	}
}

// stop ends a materializer's Run and then closes its client (a client
// closed under a running Run would wait for the rebalance it blocks).
func stop(t *testing.T, cancel context.CancelFunc, done chan error, cl *kgo.Client) {
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("a materializer did not stop")
	}
	cl.Close()
}

func decodeAll(t *testing.T, p *tiles.Plan, stored []offline.StoredEvent) []tiles.Event {
	t.Helper()
	var out []tiles.Event
	for _, se := range stored {
		e, err := se.Event(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
