package rawconsume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// Submitter is the part of intake the consumer uses.
type Submitter interface {
	Submit(ctx context.Context, src intake.Source, items []intake.Item) []intake.Result
	Panicked(src intake.Source, r any, stack []byte)
}

// Classify returns the reason of an error of event.FromKafkaRecord.
func Classify(err error) reason.ID {
	switch {
	case errors.Is(err, event.ErrNotCloudEvent):
		return reason.NotCloudEvent
	case errors.Is(err, event.ErrUnsupportedSpecVersion):
		return reason.UnsupportedSpecVersion
	case errors.Is(err, jsondoc.ErrDuplicateKey):
		return reason.DuplicateKey
	case errors.Is(err, jsondoc.ErrNumberRange):
		return reason.NumberOutOfRange
	case errors.Is(err, event.ErrMissingAttribute):
		return reason.MissingAttribute
	}
	return reason.InvalidAttribute
}

// Opts returns the consumer options of the group reading every raw topic
// (topicPrefix is for tests; "" in the service). New topics are found within
// metadataAge.
func Opts(group, topicPrefix string, metadataAge time.Duration) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics("^" + regexp.QuoteMeta(topicPrefix+event.TopicIngestPrefix) + "[a-z0-9][a-z0-9_-]*$"),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMaxAge(metadataAge),
	}
}

// Consumer routes raw records.
type Consumer struct {
	cl     *kgo.Client
	in     Submitter
	logger *slog.Logger
	prefix string
}

// New returns a consumer on a client built with Opts.
func New(cl *kgo.Client, in Submitter, logger *slog.Logger, topicPrefix string) *Consumer {
	return &Consumer{cl: cl, in: in, logger: logger, prefix: topicPrefix + event.TopicIngestPrefix}
}

// Run consumes until ctx ends. A poll's offsets are committed after all its
// records were written; records Kafka did not take are retried (the dedup
// window keeps a retry of a write that did land from being written twice),
// and on shutdown the uncommitted ones are read again by the next member.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.AllowRebalance()
	for {
		fetches := c.cl.PollRecords(ctx, 1000)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.logger.Warn("fetch failed", "topic", topic, "partition", partition, "error", err)
			}
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			c.cl.AllowRebalance()
			continue
		}
		if !c.route(ctx, recs) {
			return nil
		}
		if err := c.cl.CommitRecords(ctx, recs...); err != nil {
			// Not fatal: the records are read again and deduplicated.
			c.logger.Warn("commit failed", "error", err)
		}
		c.cl.AllowRebalance()
	}
}

// route writes every record, retrying those Kafka did not take, and
// reports false when ctx ended first.
func (c *Consumer) route(ctx context.Context, recs []*kgo.Record) bool {
	byTopic := map[string][]*kgo.Record{}
	for _, r := range recs {
		byTopic[r.Topic] = append(byTopic[r.Topic], r)
	}
	for topic, rs := range byTopic {
		src := intake.Source{Path: "kafka"}
		items := make([]intake.Item, len(rs))
		for i, r := range rs {
			items[i] = c.safeItem(src, r)
		}
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			results := c.in.Submit(ctx, src, items)
			var again []intake.Item
			for i, res := range results {
				if res.Outcome == intake.Unavailable {
					again = append(again, items[i])
				}
			}
			if len(again) == 0 {
				break
			}
			c.logger.Warn("records not written, retrying", "topic", topic, "count", len(again))
			select {
			case <-ctx.Done():
				return false
			case <-time.After(wait):
			}
			items = again
		}
	}
	return ctx.Err() == nil
}

// safeItem is item, recovering from a panic on this one record: it is
// dead-lettered as internal_error and its offset committed, so that one
// record cannot stop ingest again at every restart. (Submit recovers per
// record too.)
func (c *Consumer) safeItem(src intake.Source, r *kgo.Record) (it intake.Item) {
	defer func() {
		if p := recover(); p != nil {
			c.in.Panicked(src, p, debug.Stack())
			it = intake.Item{Raw: r.Value, Headers: r.Headers, Size: len(r.Value), Origin: deadletter.FromRecord(r),
				Rejection: &intake.Rejection{Reason: reason.InternalError, Message: fmt.Sprintf("record: ingest failed on it (%v)", p)}}
		}
	}()
	return c.item(r)
}

func (c *Consumer) item(r *kgo.Record) intake.Item {
	it := intake.Item{Raw: r.Value, Headers: r.Headers, Size: len(r.Value), Stream: strings.TrimPrefix(r.Topic, c.prefix), Origin: deadletter.FromRecord(r)}
	e, err := event.FromKafkaRecord(r)
	if err != nil {
		it.Rejection = &intake.Rejection{Reason: Classify(err), Message: "record: " + err.Error()}
		return it
	}
	// The raw record's own partitionkey is not trusted: intake sets it to
	// the entity key.
	it.Event = e
	return it
}
