package materialize

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

// Ownership tracks the partitions the group assigned to this consumer, and
// whether it is a member of the group: from the first assignment (possibly
// empty) until it loses its partitions (a session timeout).
type Ownership struct {
	mu     sync.Mutex
	owned  map[string]map[int32]bool
	joined bool
	// released is called with the partitions revoked or lost.
	released func(map[string][]int32)
}

// NewOwnership returns an empty tracker.
func NewOwnership() *Ownership { return &Ownership{owned: map[string]map[int32]bool{}} }

func (o *Ownership) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.joined = true
	for t, ps := range m {
		if o.owned[t] == nil {
			o.owned[t] = map[int32]bool{}
		}
		for _, p := range ps {
			o.owned[t][p] = true
		}
	}
}

func (o *Ownership) revoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(o.owned[t], p)
		}
	}
	if o.released != nil {
		o.released(m)
	}
}

// onRelease makes f learn the partitions revoked or lost.
func (o *Ownership) onRelease(f func(map[string][]int32)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released = f
}

func (o *Ownership) lost(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	o.revoked(ctx, cl, m)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.joined = false
}

// Joined reports whether the consumer is a member of its group.
func (o *Ownership) Joined() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.joined
}

// All returns the owned partitions by topic.
func (o *Ownership) All() map[string][]int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string][]int32, len(o.owned))
	for t, ps := range o.owned {
		if len(ps) > 0 {
			out[t] = slices.Sorted(maps.Keys(ps))
		}
	}
	return out
}

// Partitions returns the owned partitions of topic, sorted.
func (o *Ownership) Partitions(topic string) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Sorted(maps.Keys(o.owned[topic]))
}

// Opts are the client options that keep the tracker up to date.
func (o *Ownership) Opts() []kgo.Opt {
	return []kgo.Opt{kgo.OnPartitionsAssigned(o.assigned), kgo.OnPartitionsRevoked(o.revoked), kgo.OnPartitionsLost(o.lost)}
}

// backfillChunk is how many events are applied per Redis round trip.
const backfillChunk = 5000

// Backfiller replays the events stored in ClickHouse into the Redis state
// of a view that the service has not materialized yet (a new view, a new
// version, or a Redis that lost its data), partition by partition for the
// partitions this consumer owns. It runs in the materializer's loop between
// batches, so nothing else writes those entities meanwhile; the offsets kept
// with each entity make the Kafka records that follow, already in
// ClickHouse, count once.
type Backfiller struct {
	rdb    redis.UniversalClient
	prefix string
	store  *tiles.Store
	off    *offline.Store
	done   map[string]bool
}

// NewBackfiller returns a Backfiller.
func NewBackfiller(rdb redis.UniversalClient, prefix string, store *tiles.Store, off *offline.Store) *Backfiller {
	return &Backfiller{rdb: rdb, prefix: prefix, store: store, off: off, done: map[string]bool{}}
}

func (b *Backfiller) marker(p *tiles.Plan, partition int32) string {
	v := p.View.Version
	if len(v) > 12 {
		v = v[:12]
	}
	return b.prefix + tiles.KeyPrefix + "backfilled:" + p.View.Name + ":" + v + ":" + strconv.Itoa(int(partition))
}

// Run backfills every (plan, owned partition) not done yet; it returns the
// number of events replayed.
func (b *Backfiller) Run(ctx context.Context, plans []*tiles.Plan, owned func(topic string) []int32, topicPrefix string, now int64) (int, error) {
	total := 0
	for _, p := range plans {
		topic := topicPrefix + event.EventsTopic(p.View.Source.Stream)
		for _, part := range owned(topic) {
			key := b.marker(p, part)
			if b.done[key] {
				continue
			}
			n, err := b.rdb.Exists(ctx, key).Result()
			if err != nil {
				return total, fmt.Errorf("backfill marker: %w", err)
			}
			if n == 0 {
				replayed, err := b.partition(ctx, p, part, now)
				total += replayed
				if err != nil {
					return total, err
				}
				if err := b.rdb.Set(ctx, key, strconv.FormatInt(now, 10), 0).Err(); err != nil {
					return total, fmt.Errorf("backfill marker: %w", err)
				}
			}
			b.done[key] = true
		}
	}
	return total, nil
}

func (b *Backfiller) partition(ctx context.Context, p *tiles.Plan, part int32, now int64) (int, error) {
	n := 0
	var pending []*tiles.Update
	count := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := b.store.Apply(ctx, pending, now)
		pending, count = nil, 0
		return err
	}
	var cur *tiles.Update
	err := b.off.ScanPartition(ctx, p.View.Source.Stream, part, func(entity string, se offline.StoredEvent) error {
		e, err := se.Event(p)
		if err != nil {
			return nil // dead-lettered when it was consumed, if a view read it then
		}
		if cur == nil || cur.Entity != entity {
			if count >= backfillChunk {
				if err := flush(); err != nil {
					return err
				}
			}
			cur = &tiles.Update{Plan: p, Entity: entity}
			pending = append(pending, cur)
		}
		cur.Events = append(cur.Events, e)
		count++
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}
