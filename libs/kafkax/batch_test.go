package kafkax_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary-ml/tributary/libs/kafkax"
)

func TestLostMembership(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kerr.UnknownMemberID, true},
		{fmt.Errorf("commit: %w", kerr.IllegalGeneration), true},
		{kerr.RebalanceInProgress, true},
		{kerr.FencedInstanceID, true},
		{kerr.NotCoordinator, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := kafkax.LostMembership(tc.err); got != tc.want {
			t.Errorf("LostMembership(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestStepRetrier(t *testing.T) {
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failures_total"}, []string{"step"})
	r := kafkax.StepRetrier{Backoff: time.Millisecond, Failures: failures, Logger: slog.New(slog.DiscardHandler), What: "test step"}

	calls := 0
	err := r.Do(context.Background(), "insert", func() error {
		calls++
		if calls < 3 {
			return errors.New("refused")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Do = %v after %d calls, want nil after 3", err, calls)
	}
	if got := testutil.ToFloat64(failures.WithLabelValues("insert")); got != 2 {
		t.Errorf("failures{step=insert} = %v, want 2", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = r.Do(ctx, "commit", func() error {
		calls++
		cancel()
		return errors.New("refused")
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Do after cancel = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}
