package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/testkit"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func getReadyz(t *testing.T, r *readiness) (int, readyReport) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var rep readyReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Code, rep
}

func TestReadinessHandler(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("dial tcp 127.0.0.1:1: connection refused") }
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	deaf := func(context.Context) error { time.Sleep(300 * time.Millisecond); return nil } // ignores its context

	type want struct {
		name  string
		ok    bool
		error string
	}
	for _, tc := range []struct {
		name   string
		checks map[string]func(context.Context) error
		code   int
		want   []want
	}{
		{"no checks", nil, 200, nil},
		{"all pass", map[string]func(context.Context) error{"kafka": ok, "nats": ok}, 200,
			[]want{{"kafka", true, ""}, {"nats", true, ""}}},
		{"one fails", map[string]func(context.Context) error{"kafka": ok, "redis": down}, 503,
			[]want{{"kafka", true, ""}, {"redis", false, "connection refused"}}},
		{"slow check times out", map[string]func(context.Context) error{"clickhouse": slow, "kafka": ok}, 503,
			[]want{{"clickhouse", false, "no answer within 100ms"}, {"kafka", true, ""}}},
		{"check ignoring its context times out", map[string]func(context.Context) error{"deaf": deaf}, 503,
			[]want{{"deaf", false, "no answer within 100ms"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReadiness(quietLogger())
			r.checkTimeout = 100 * time.Millisecond
			for _, w := range tc.want { // registration order = report order
				r.add(w.name, tc.checks[w.name])
			}
			start := time.Now()
			code, rep := getReadyz(t, r)
			if took := time.Since(start); took > time.Second {
				t.Errorf("answer took %v; checks must run within their timeout", took)
			}
			if code != tc.code || rep.Ready != (tc.code == 200) {
				t.Errorf("code %d ready %v, want %d", code, rep.Ready, tc.code)
			}
			if len(rep.Checks) != len(tc.want) {
				t.Fatalf("got %d checks, want %d: %+v", len(rep.Checks), len(tc.want), rep.Checks)
			}
			for i, w := range tc.want {
				got := rep.Checks[i]
				if got.Name != w.name || got.OK != w.ok || !strings.Contains(got.Error, w.error) || (w.ok && got.Error != "") {
					t.Errorf("check %d = %+v, want %+v", i, got, w)
				}
				if _, err := time.ParseDuration(got.Duration); err != nil {
					t.Errorf("check %s duration %q: %v", got.Name, got.Duration, err)
				}
			}
		})
	}
}

func TestReadinessChecksRunConcurrently(t *testing.T) {
	r := newReadiness(quietLogger())
	for _, name := range []string{"a", "b", "c", "d"} {
		r.add(name, func(ctx context.Context) error {
			select {
			case <-time.After(150 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	start := time.Now()
	if code, _ := getReadyz(t, r); code != 200 {
		t.Fatalf("code %d", code)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("four 150ms checks took %v: not concurrent", took)
	}
}

func TestReadinessCachesAndSharesRuns(t *testing.T) {
	var runs atomic.Int32
	r := newReadiness(quietLogger())
	r.cacheTTL = time.Hour
	r.add("counted", func(context.Context) error {
		runs.Add(1)
		time.Sleep(50 * time.Millisecond)
		return nil
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := getReadyz(t, r); code != 200 {
				t.Errorf("code %d", code)
			}
		}()
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("a burst of 20 probes ran the check %d times, want 1", n)
	}
	r.add("new", func(context.Context) error { return nil })
	getReadyz(t, r)
	if n := runs.Load(); n != 2 {
		t.Errorf("adding a check did not invalidate the cache (%d runs)", n)
	}
}

func TestReadinessNotReadyDuringShutdown(t *testing.T) {
	r := newReadiness(quietLogger())
	r.add("ok", func(context.Context) error { return nil })
	if code, _ := getReadyz(t, r); code != 200 {
		t.Fatalf("before shutdown: code %d", code)
	}
	r.shutdown()
	code, rep := getReadyz(t, r)
	if code != 503 || rep.Ready || !rep.ShuttingDown {
		t.Fatalf("during shutdown: code %d, report %+v", code, rep)
	}
}

func TestReadinessShutdownStopsRunningChecks(t *testing.T) {
	r := newReadiness(quietLogger())
	r.checkTimeout = time.Minute
	started := make(chan struct{})
	r.add("slow", func(ctx context.Context) error { close(started); <-ctx.Done(); return ctx.Err() })
	done := make(chan int)
	go func() { code, _ := getReadyz(t, r); done <- code }()
	<-started
	r.shutdown()
	select {
	case code := <-done:
		if code != 503 {
			t.Errorf("code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not stop a running check")
	}
}

func TestReadinessWatchLogsChanges(t *testing.T) {
	var logs testkit.Buffer
	r := newReadiness(slog.New(slog.NewJSONHandler(&logs, nil)))
	r.minPoll, r.maxPoll, r.readyPoll = 5*time.Millisecond, 20*time.Millisecond, 5*time.Millisecond
	var up atomic.Bool
	r.add("dep", func(context.Context) error {
		if !up.Load() {
			return errors.New("dep is down")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.watch(ctx) }()

	const notReady = `"msg":"not ready","failing":{"dep":"dep is down"}`
	waitFor := func(what string, n int) {
		t.Helper()
		testkit.Eventually(t, 5*time.Second, func() error {
			if strings.Count(logs.String(), what) < n {
				return fmt.Errorf("no %s in logs:\n%s", what, logs.String())
			}
			return nil
		})
	}
	waitFor(notReady, 1)
	up.Store(true)
	waitFor(`"msg":"ready"`, 1)
	up.Store(false)
	waitFor(notReady, 2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `"msg":"ready"`); n != 1 || strings.Count(logs.String(), notReady) != 2 {
		t.Errorf("logged ready %d times; it should log changes only:\n%s", n, logs.String())
	}
}
