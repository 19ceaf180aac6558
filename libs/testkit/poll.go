package testkit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Intervals between attempts: the first wait is minInterval, doubling up to
// maxInterval, so a quick condition is seen quickly and a slow one does not
// spin.
const (
	minInterval = 5 * time.Millisecond
	maxInterval = 200 * time.Millisecond
	// deadlineGrace is kept between a wait and the test binary's -timeout,
	// so the test fails with the last error instead of a panic.
	deadlineGrace = 2 * time.Second
)

// Poll calls f until it returns nil, ctx ends or timeout passes. Each call
// gets a context that ends at the deadline. It returns nil, or an error
// wrapping f's last error (and the one before, when the last attempt was cut
// short by the deadline and only says so).
func Poll(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	wait := minInterval
	var last, prev error
	attempts := 0
	for {
		attempts++
		err := f(ctx)
		if err == nil {
			return nil
		}
		prev, last = last, err
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return pollError(time.Since(start), attempts, last, prev, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, maxInterval)
	}
}

func pollError(took time.Duration, attempts int, last, prev, cause error) error {
	took = took.Round(time.Millisecond)
	cutShort := errors.Is(last, context.DeadlineExceeded) || errors.Is(last, context.Canceled)
	if cutShort && prev != nil && !errors.Is(prev, context.DeadlineExceeded) && !errors.Is(prev, context.Canceled) {
		return fmt.Errorf("after %s and %d attempts: %w (the attempt before: %w)", took, attempts, last, prev)
	}
	if errors.Is(cause, context.Canceled) {
		return fmt.Errorf("canceled after %s and %d attempts: %w", took, attempts, last)
	}
	return fmt.Errorf("after %s and %d attempts: %w", took, attempts, last)
}

// Eventually fails the test unless f returns nil within timeout, reporting
// f's last error. f runs on the test's goroutine, so it may call t.Fatal; an
// f that blocks is not interrupted (use EventuallyContext for I/O). The
// wait ends early, with the same report, when the test binary's -timeout is
// near.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := testContext(t, timeout)
	defer cancel()
	if err := Poll(ctx, timeout, func(context.Context) error { return f() }); err != nil {
		t.Fatalf("condition not met %v", err)
	}
}

// EventuallyContext is Eventually for an f that does I/O: its context ends
// at the deadline.
func EventuallyContext(t testing.TB, timeout time.Duration, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := testContext(t, timeout)
	defer cancel()
	if err := Poll(ctx, timeout, f); err != nil {
		t.Fatalf("condition not met %v", err)
	}
}

// Never fails the test as soon as f returns an error during d, and
// otherwise returns after d: f says what must not happen ("a record reached
// the dead-letter topic"). It checks at the start, at growing intervals and
// once at the end.
func Never(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := testContext(t, d)
	defer cancel()
	start := time.Now()
	end, _ := ctx.Deadline()
	wait := minInterval
	for {
		if err := f(); err != nil {
			t.Fatalf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(wait, left)) // Never must wait d out: this is the pause between checks
		wait = min(2*wait, maxInterval)
	}
}

// testContext ends after timeout, or deadlineGrace before the test
// binary's deadline.
func testContext(t testing.TB, timeout time.Duration) (context.Context, context.CancelFunc) {
	end := time.Now().Add(timeout)
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dt.Deadline(); ok && d.Add(-deadlineGrace).Before(end) {
			end = d.Add(-deadlineGrace)
		}
	}
	return context.WithDeadline(context.Background(), end)
}
