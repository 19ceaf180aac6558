package kafkax

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The plumbing of the services' batch consumers: a consumer group client
// built with kgo.DisableAutoCommit and kgo.BlockRebalanceOnPoll polls a
// batch, runs its steps (each retried until it succeeds, nothing committed
// meanwhile), commits, and allows the rebalance before it polls again.

// PollBatch polls up to max records for at most a second, so that the
// caller's loop sees the end of ctx soon, and logs the fetch errors other
// than that wait's own. The caller must call client.AllowRebalance once it
// is done with the batch, also when ctx has ended.
func PollBatch(ctx context.Context, client *kgo.Client, max int, logger *slog.Logger) kgo.Fetches {
	pollCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	fetches := client.PollRecords(pollCtx, max)
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			logger.Warn("kafka fetch error", "topic", topic, "partition", p, "error", err)
		}
	})
	return fetches
}

// LostMembership reports a commit refused because this consumer is no
// longer a member of its group's current generation: its partitions are,
// or are about to be, another member's, so retrying the commit would block
// the rebalance for good.
func LostMembership(err error) bool {
	return errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

// StepRetrier runs the steps of a batch until each succeeds.
type StepRetrier struct {
	// Backoff is the wait before a failed step is run again.
	Backoff time.Duration
	// Failures counts the failed attempts by step (its one label); may be
	// nil.
	Failures *prometheus.CounterVec
	Logger   *slog.Logger
	// What names the steps in the log ("batch step", "label step").
	What string
}

// Do runs f until it succeeds, counting and logging each failure, or until
// ctx ends, when it returns ctx's error.
func (r StepRetrier) Do(ctx context.Context, step string, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		if r.Failures != nil {
			r.Failures.WithLabelValues(step).Inc()
		}
		r.Logger.Warn(r.What+" failed, retrying", "step", step, "error", err)
		t := time.NewTimer(r.Backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
