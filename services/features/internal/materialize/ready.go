package materialize

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Leave makes a static member (Config.InstanceID) leave its consumer group,
// which closing the client does not do: its partitions move to the other
// members at once instead of after the session timeout. A dynamic member
// leaves when its client closes; nothing to do.
func Leave(ctx context.Context, cl *kgo.Client, cfg Config) error {
	if cfg.InstanceID == "" || cfg.InstanceID == "-" {
		return nil
	}
	member, _ := cl.GroupMetadata()
	if member == "" {
		return nil // never joined
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = cfg.Group
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = member
	m.InstanceID = &cfg.InstanceID
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("leave consumer group %s: %w", cfg.Group, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("leave consumer group %s: %w", cfg.Group, err)
	}
	for _, m := range resp.Members {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
			return fmt.Errorf("leave consumer group %s as %s: %w", cfg.Group, cfg.InstanceID, err)
		}
	}
	return nil
}

// progress is, per partition, the high watermark the last fetch reported,
// the next offset to apply and since when the partition has been behind
// (the time of the oldest record fetched and not yet applied).
type progress struct {
	mu    sync.Mutex
	parts map[string]map[int32]*partProgress
}

type partProgress struct {
	hw, next int64
	behind   time.Time // since when next < hw; zero when caught up
	known    bool      // next is known (records were fetched)
}

func newProgress() *progress {
	return &progress{parts: map[string]map[int32]*partProgress{}}
}

func (p *progress) part(topic string, partition int32) *partProgress {
	if p.parts[topic] == nil {
		p.parts[topic] = map[int32]*partProgress{}
	}
	pp := p.parts[topic][partition]
	if pp == nil {
		pp = &partProgress{}
		p.parts[topic][partition] = pp
	}
	return pp
}

// forget drops what is known of partitions revoked or lost: if they come
// back, another member may have applied records meanwhile, and the old
// position would look behind for ever on an idle partition.
func (p *progress) forget(m map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, ps := range m {
		for _, part := range ps {
			delete(p.parts[t], part)
		}
	}
}

// fetched records the high watermarks of a poll, made at now.
func (p *progress) fetched(fs kgo.Fetches, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs.EachPartition(func(f kgo.FetchTopicPartition) {
		if f.Err != nil {
			return
		}
		pp := p.part(f.Topic, f.Partition)
		pp.hw = max(pp.hw, f.HighWatermark)
		if !pp.known && len(f.Records) > 0 {
			// Nothing applied yet since the start: the position is the
			// first record fetched, and nothing applied is recent.
			pp.next, pp.known = f.Records[0].Offset, true
		}
		if pp.known && pp.next < pp.hw && pp.behind.IsZero() {
			// Behind since the first record not applied was written
			// (a backlog from before the start is old at once), never
			// later than now.
			pp.behind = now
			for _, r := range f.Records {
				if r.Offset >= pp.next {
					if r.Timestamp.Before(now) {
						pp.behind = r.Timestamp
					}
					break
				}
			}
		}
	})
}

// applied records a committed batch.
func (p *progress) applied(recs []*kgo.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		pp := p.part(r.Topic, r.Partition)
		if !pp.known || r.Offset+1 > pp.next {
			pp.next, pp.known = r.Offset+1, true
		}
		if pp.next >= pp.hw {
			pp.behind = time.Time{}
		}
	}
}

// ErrNotReady reports a materializer that is not applying the events as
// they come: not a group member (joining, or its partitions were lost), or
// behind on a partition.
var ErrNotReady = errors.New("materializer not ready")

// Ready is the materializer's readiness check: nil once it is a member of
// its consumer group (with or without partitions: more replicas than
// partitions leave some idle) and, on every partition it owns that has
// records left to read, the oldest record not yet applied was written at
// most Config.ReadyMaxLag ago: a record that just arrived on an idle
// partition is not lag, a backlog from before the start or a batch that
// cannot be applied for longer is. An owned partition no record was fetched
// from yet (just assigned, its first fetch or the backfill before it under
// way, or idle) is asked of Kafka: behind when its end offset is past the
// group's committed offset, since the age of that backlog is not known
// until it is fetched. Without that, a restarted replica answered ready
// before its first fetch, with a backlog from while it was down.
func (m *Materializer) Ready(ctx context.Context) error {
	if !m.owned.Joined() {
		return fmt.Errorf("%w: not a member of consumer group %s yet (joining; a replica that just died may hold the partitions until its session times out)", ErrNotReady, m.cfg.Group)
	}
	now := m.now()
	var behind []string
	unknown := map[string][]int32{}
	owned := m.owned.All()
	m.progress.mu.Lock()
	for topic, parts := range owned {
		for _, part := range parts {
			pp := m.progress.parts[topic][part]
			switch {
			case pp == nil || !pp.known:
				unknown[topic] = append(unknown[topic], part)
			case pp.next >= pp.hw:
			default:
				if d := now.Sub(pp.behind); !pp.behind.IsZero() && d > m.cfg.ReadyMaxLag {
					behind = append(behind, fmt.Sprintf("%s/%d (%d records behind for %s)", topic, part, pp.hw-pp.next, d.Round(time.Millisecond)))
				}
			}
		}
	}
	m.progress.mu.Unlock()
	if len(unknown) > 0 {
		more, err := m.backlog(ctx, unknown)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		behind = append(behind, more...)
	}
	if len(behind) > 0 {
		sort.Strings(behind)
		return fmt.Errorf("%w: lagging on %s", ErrNotReady, strings.Join(behind, ", "))
	}
	return nil
}

// backlog lists the partitions among parts whose end offset is past the
// group's committed offset (or, without one, past their start).
func (m *Materializer) backlog(ctx context.Context, parts map[string][]int32) ([]string, error) {
	adm := kadm.NewClient(m.client)
	topics := make([]string, 0, len(parts))
	for t := range parts {
		topics = append(topics, t)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, m.cfg.Group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = nil // no offsets committed yet
	}
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets of group %s: %w", m.cfg.Group, err)
	}
	var out []string
	for t, ps := range parts {
		for _, p := range ps {
			end, ok := ends.Lookup(t, p)
			if !ok || end.Err != nil {
				continue
			}
			at := int64(0)
			if s, ok := starts.Lookup(t, p); ok && s.Err == nil {
				at = s.Offset
			}
			if c, ok := committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
				at = c.At
			}
			if end.Offset > at {
				out = append(out, fmt.Sprintf("%s/%d (%d records behind, none fetched yet)", t, p, end.Offset-at))
			}
		}
	}
	return out, nil
}
