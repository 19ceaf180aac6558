package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// fakeT records what a helper reports; Fatalf and Skipf end the goroutine
// like the real ones.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	skipped  string
	errs     []string
	cleanups []func()
	deadline time.Time
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Error(args ...any)         { f.errs = append(f.errs, fmt.Sprint(args...)) }
func (f *fakeT) Errorf(s string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(s, a...)) }
func (f *fakeT) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Name() string              { return "fake" }
func (f *fakeT) Deadline() (time.Time, bool) {
	return f.deadline, !f.deadline.IsZero()
}

// run calls fn with a fakeT on its own goroutine, as the testing package
// would, and returns the fakeT once fn ended or stopped.
func run(fn func(t *fakeT)) *fakeT {
	return runWith(&fakeT{}, fn)
}

func runWith(ft *fakeT, fn func(t *fakeT)) *fakeT {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	return ft
}

var errNotYet = errors.New("not yet")

func TestPoll(t *testing.T) {
	ctx := context.Background()
	t.Run("met", func(t *testing.T) {
		n := 0
		err := testkit.Poll(ctx, 5*time.Second, func(context.Context) error {
			if n++; n < 4 {
				return fmt.Errorf("attempt %d: %w", n, errNotYet)
			}
			return nil
		})
		if err != nil || n != 4 {
			t.Fatalf("Poll = %v after %d attempts", err, n)
		}
	})
	t.Run("timeout keeps the last error", func(t *testing.T) {
		n := 0
		start := time.Now()
		err := testkit.Poll(ctx, 100*time.Millisecond, func(context.Context) error {
			n++
			return fmt.Errorf("attempt %d: %w", n, errNotYet)
		})
		if took := time.Since(start); took < 100*time.Millisecond || took > 2*time.Second {
			t.Errorf("Poll took %s", took)
		}
		if !errors.Is(err, errNotYet) || !strings.Contains(err.Error(), fmt.Sprintf("attempt %d: not yet", n)) ||
			!strings.Contains(err.Error(), fmt.Sprintf("%d attempts", n)) {
			t.Fatalf("Poll = %v, want the last attempt (%d)", err, n)
		}
	})
	t.Run("attempt cut short by the deadline", func(t *testing.T) {
		n := 0
		err := testkit.Poll(ctx, 150*time.Millisecond, func(ctx context.Context) error {
			if n++; n == 1 {
				return errors.New("offset 3, want 5")
			}
			<-ctx.Done()
			return fmt.Errorf("fetch offsets: %w", ctx.Err())
		})
		if err == nil || !strings.Contains(err.Error(), "fetch offsets: context deadline exceeded") || !strings.Contains(err.Error(), "the attempt before: offset 3, want 5") {
			t.Fatalf("Poll = %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		err := testkit.Poll(ctx, time.Hour, func(context.Context) error { return errNotYet })
		if !errors.Is(err, errNotYet) || !strings.HasPrefix(err.Error(), "canceled after") {
			t.Fatalf("Poll = %v", err)
		}
	})
}

func TestEventually(t *testing.T) {
	ft := run(func(t *fakeT) {
		testkit.Eventually(t, 80*time.Millisecond, func() error { return errors.New("3 records, want 4") })
	})
	if !strings.Contains(ft.fatal, "condition not met after") || !strings.HasSuffix(ft.fatal, "3 records, want 4") {
		t.Errorf("Eventually reported %q", ft.fatal)
	}
	n := 0
	ft = run(func(t *fakeT) {
		testkit.Eventually(t, time.Second, func() error {
			if n++; n < 3 {
				return errNotYet
			}
			return nil
		})
	})
	if ft.fatal != "" || n != 3 {
		t.Errorf("Eventually failed %q after %d attempts", ft.fatal, n)
	}
	// f may call t.Fatal itself.
	ft = run(func(t *fakeT) {
		testkit.Eventually(t, time.Second, func() error { t.Fatalf("broken"); return nil })
	})
	if ft.fatal != "broken" {
		t.Errorf("fatal %q", ft.fatal)
	}
}

func TestEventuallyStopsBeforeTheTestDeadline(t *testing.T) {
	start := time.Now()
	ft := runWith(&fakeT{deadline: time.Now().Add(2*time.Second + 300*time.Millisecond)}, func(t *fakeT) {
		testkit.EventuallyContext(t, time.Hour, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("waited %s past the test's deadline", took)
	}
	if !strings.Contains(ft.fatal, "deadline exceeded") {
		t.Errorf("fatal %q", ft.fatal)
	}
}

func TestNever(t *testing.T) {
	n := 0
	start := time.Now()
	ft := run(func(t *fakeT) {
		testkit.Never(t, 120*time.Millisecond, func() error { n++; return nil })
	})
	if took := time.Since(start); ft.fatal != "" || took < 120*time.Millisecond || took > 2*time.Second || n < 3 {
		t.Errorf("Never: fatal %q, took %s, %d checks", ft.fatal, took, n)
	}
	n = 0
	ft = run(func(t *fakeT) {
		testkit.Never(t, 10*time.Second, func() error {
			if n++; n == 3 {
				return errors.New("a record reached the dead-letter topic")
			}
			return nil
		})
	})
	if !strings.HasSuffix(ft.fatal, ": a record reached the dead-letter topic") || n != 3 {
		t.Errorf("Never reported %q after %d checks", ft.fatal, n)
	}
}

func TestVerifyNoneFindsALeak(t *testing.T) {
	stop := make(chan struct{})
	ft := run(func(t *fakeT) {
		testkit.VerifyNone(t)
		go func() { <-stop }()
	})
	for _, c := range ft.cleanups {
		c()
	}
	close(stop)
	if len(ft.errs) == 0 || !strings.Contains(strings.Join(ft.errs, "\n"), "TestVerifyNoneFindsALeak") {
		t.Errorf("the leaked goroutine was not reported: %q", ft.errs)
	}
}

func TestAddr(t *testing.T) {
	if testing.Short() {
		t.Skip("Addr skips under -short")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	up := ln.Addr().String()

	for _, c := range []struct {
		name, env string
		fatal     string
	}{
		{"unset", "", "TRIBUTARY_NATS_URL is unset"},
		{"down", "nats://" + closedAddr, "nats at TRIBUTARY_NATS_URL=nats://" + closedAddr},
		{"up", "nats://user:pw@" + up + "/x?y=1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TRIBUTARY_NATS_URL", c.env)
			var got string
			ft := run(func(ft *fakeT) { got = testkit.NATSURL(ft) })
			if c.fatal == "" && (ft.fatal != "" || got != c.env) {
				t.Fatalf("NATSURL = %q, fatal %q", got, ft.fatal)
			}
			if !strings.Contains(ft.fatal, c.fatal) {
				t.Fatalf("fatal %q, want %q", ft.fatal, c.fatal)
			}
		})
	}
	t.Setenv("TRIBUTARY_KAFKA_BROKERS", up+", 127.0.0.1:1,")
	var brokers []string
	if ft := run(func(ft *fakeT) { brokers = testkit.KafkaBrokers(ft) }); ft.fatal != "" || len(brokers) != 2 || brokers[0] != up || brokers[1] != "127.0.0.1:1" {
		t.Errorf("KafkaBrokers = %q, fatal %q", brokers, ft.fatal)
	}
	for _, s := range testkit.Servers() {
		if s.Env() == "" || s.Default() == "" {
			t.Errorf("server %s without env or default", s)
		}
	}
}
