package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Defaults of the readiness prober.
const (
	// defaultCheckTimeout bounds one dependency check.
	defaultCheckTimeout = 2 * time.Second
	// defaultCacheTTL is how long /readyz answers from the last evaluation,
	// so that a burst of probes runs the checks once.
	defaultCacheTTL = time.Second
	// While not ready, the prober re-evaluates after minPoll, doubling up to
	// maxPoll; once ready, every readyPoll. It logs each change of state.
	defaultMinPoll   = 100 * time.Millisecond
	defaultMaxPoll   = 5 * time.Second
	defaultReadyPoll = 10 * time.Second
)

// readiness answers whether the service can do its work: every registered
// dependency check passes and the service is not shutting down. Liveness
// (/healthz) is a different question and does not look at dependencies.
type readiness struct {
	logger       *slog.Logger
	checkTimeout time.Duration
	cacheTTL     time.Duration
	minPoll      time.Duration
	maxPoll      time.Duration
	readyPoll    time.Duration
	started      time.Time

	// base is the parent of every check's context; cancelled at shutdown so
	// that running checks stop.
	base       context.Context
	cancelBase context.CancelFunc

	mu           sync.Mutex
	checks       []namedCheck
	shuttingDown bool
	last         *readyReport  // last evaluation, nil before the first
	inflight     chan struct{} // closed when the running evaluation ends
	known        *bool         // state last logged, nil before the first
}

type namedCheck struct {
	name  string
	check func(context.Context) error
}

// readyReport is the JSON body of /readyz.
type readyReport struct {
	Ready        bool          `json:"ready"`
	ShuttingDown bool          `json:"shutting_down,omitempty"`
	Error        string        `json:"error,omitempty"`
	CheckedAt    time.Time     `json:"checked_at"`
	Checks       []checkResult `json:"checks"`
}

type checkResult struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Duration string `json:"duration"`
}

func newReadiness(logger *slog.Logger) *readiness {
	base, cancel := context.WithCancel(context.Background())
	return &readiness{
		logger:       logger,
		checkTimeout: defaultCheckTimeout,
		cacheTTL:     defaultCacheTTL,
		minPoll:      defaultMinPoll,
		maxPoll:      defaultMaxPoll,
		readyPoll:    defaultReadyPoll,
		started:      time.Now(),
		base:         base,
		cancelBase:   cancel,
	}
}

func (r *readiness) add(name string, check func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, namedCheck{name, check})
	r.last = nil // a new check invalidates the cached answer
}

// shutdown makes the service report not ready from now on and stops running
// checks.
func (r *readiness) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shuttingDown = true
	r.cancelBase()
}

// report returns an evaluation no older than maxAge, running the checks if
// needed. Concurrent callers share one run.
func (r *readiness) report(ctx context.Context, maxAge time.Duration) readyReport {
	for {
		r.mu.Lock()
		if r.shuttingDown {
			r.mu.Unlock()
			return readyReport{ShuttingDown: true, CheckedAt: time.Now(), Checks: []checkResult{}}
		}
		if r.last != nil && time.Since(r.last.CheckedAt) < maxAge {
			rep := *r.last
			r.mu.Unlock()
			return rep
		}
		if wait := r.inflight; wait != nil {
			r.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return readyReport{Error: fmt.Sprintf("readiness: %v", ctx.Err()), CheckedAt: time.Now(), Checks: []checkResult{}}
			}
		}
		done := make(chan struct{})
		r.inflight = done
		checks := append([]namedCheck(nil), r.checks...)
		r.mu.Unlock()

		rep := r.run(checks)

		r.mu.Lock()
		r.inflight = nil
		close(done)
		if !r.shuttingDown {
			r.last = &rep
			r.logChange(rep)
		}
		r.mu.Unlock()
		return rep
	}
}

// run runs every check concurrently, each within checkTimeout.
func (r *readiness) run(checks []namedCheck) readyReport {
	results := make([]checkResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.runOne(c)
		}()
	}
	wg.Wait()
	rep := readyReport{Ready: true, CheckedAt: time.Now(), Checks: results}
	for _, res := range results {
		rep.Ready = rep.Ready && res.OK
	}
	return rep
}

func (r *readiness) runOne(c namedCheck) checkResult {
	ctx, cancel := context.WithTimeout(r.base, r.checkTimeout)
	defer cancel()
	start := time.Now()
	// The check runs in its own goroutine so that one that ignores its
	// context cannot hold up the answer; it ends when the check returns.
	done := make(chan error, 1)
	go func() { done <- c.check(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %v: %w", r.checkTimeout, ctx.Err())
	}
	res := checkResult{Name: c.name, OK: err == nil, Duration: time.Since(start).Round(time.Microsecond).String()}
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// logChange logs a line when the state differs from the last one logged.
// Called with r.mu held.
func (r *readiness) logChange(rep readyReport) {
	if r.known != nil && *r.known == rep.Ready {
		return
	}
	r.known = &rep.Ready
	if rep.Ready {
		r.logger.Info("ready", "checks", len(rep.Checks), "since_start", time.Since(r.started).Round(time.Millisecond).String())
		return
	}
	failing := map[string]string{}
	for _, c := range rep.Checks {
		if !c.OK {
			failing[c.Name] = c.Error
		}
	}
	r.logger.Warn("not ready", "failing", failing)
}

// watch re-evaluates readiness in the background so that changes are logged
// even when nobody probes: quickly while not ready, slowly once ready.
//
// The first evaluation waits minPoll, so that the connections and setups
// starting beside it have had a moment and the first line logged says
// "ready" in the usual case.
func (r *readiness) watch(ctx context.Context) error {
	delay := r.minPoll
	timer := time.NewTimer(r.minPoll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if r.report(ctx, 0).Ready {
			delay = r.minPoll
			timer.Reset(r.readyPoll)
			continue
		}
		timer.Reset(delay)
		delay = min(2*delay, r.maxPoll)
	}
}

// ServeHTTP answers /readyz: 200 when ready, 503 otherwise, with the result
// of every check as JSON.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rep := r.report(req.Context(), r.cacheTTL)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Ready {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep) // the client may be gone; nothing to do about it
}
