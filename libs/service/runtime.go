package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Runtime is what a service's app is built on: the logger, metrics registry
// and tracer provider to use, and the places where the app registers its HTTP
// handlers, its long-running actors, the readiness checks of its
// dependencies and what must be closed at exit. Main builds one and hands it
// to Program.New; the app registers everything there, before the runtime
// starts the actors.
type Runtime struct {
	// Name is the service's name, such as "ingest".
	Name string
	// Logger writes JSON to stderr and adds the "service" attribute.
	Logger *slog.Logger
	// Registerer is the service's own Prometheus registry, served on
	// /metrics. Name metrics tributary_<service>_<what>_<unit>.
	Registerer prometheus.Registerer
	// TracerProvider is the service's tracer provider: OTLP when configured,
	// a no-op otherwise. The OpenTelemetry globals are not set; pass this on.
	TracerProvider trace.TracerProvider
	// Propagator carries trace context and baggage in HTTP and event
	// headers (traceparent, tracestate, baggage).
	Propagator propagation.TextMapPropagator
	// HTTPAddr is the address the HTTP server listens on, with the port
	// the system picked when -http.addr has port 0 ("[::]:8082",
	// "127.0.0.1:40123").
	HTTPAddr string

	mux     *http.ServeMux
	ready   *readiness
	closers closers

	mu      sync.Mutex
	group   Group
	started bool
}

func newRuntime(name string, logger *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) *Runtime {
	return &Runtime{
		Name:           name,
		Logger:         logger,
		Registerer:     reg,
		TracerProvider: tp,
		Propagator:     NewPropagator(),
		mux:            http.NewServeMux(),
		ready:          newReadiness(logger),
	}
}

// Handle registers an API handler on the service's HTTP server, with a
// net/http ServeMux pattern such as "POST /v1/events". /metrics, /healthz
// and /readyz are taken. Every request is counted and timed by pattern.
func (r *Runtime) Handle(pattern string, h http.Handler) {
	r.mux.Handle(pattern, h)
}

// AddActor adds a long-running function to the service's run group. run
// must return when its context is cancelled; if it returns earlier, with an
// error or not, the whole service shuts down and exits non-zero. Call it
// from Program.New: actors added after the start are not run.
func (r *Runtime) AddActor(name string, run func(ctx context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		r.Logger.Error("actor added after start, not run", "name", name)
		return
	}
	r.group.Add(name, run)
}

// AddCheck adds a readiness check: /readyz answers 200 only while every
// check returns nil. Checks run concurrently, each with a timeout, and their
// results are cached briefly. name (such as "kafka") appears in /readyz and
// in the logs, so keep it unique.
func (r *Runtime) AddCheck(name string, check func(ctx context.Context) error) {
	r.ready.add(name, check)
}

// AddCloser adds something to release at exit. Closers run after the HTTP
// server and the actors have stopped, in reverse order of registration, with
// a context that ends at the shutdown deadline; their errors are logged and
// make the exit code non-zero.
func (r *Runtime) AddCloser(name string, close func(ctx context.Context) error) {
	r.closers.add(name, close)
}

// AddSetup runs fn in the background once the service starts, again and
// again with a growing pause (up to 5s) until it returns nil: for work that
// needs a dependency which may not be up yet, such as connecting or creating
// topics. The service starts at once either way. Use the returned Setup to
// wait for it, or as a readiness check.
func (r *Runtime) AddSetup(name string, fn func(ctx context.Context) error) *Setup {
	s := &Setup{name: name, fn: fn, logger: r.Logger, done: make(chan struct{}), err: errors.New("not attempted yet")}
	r.AddActor("setup "+name, s.run)
	return s
}

// start marks the runtime started and returns its run group.
func (r *Runtime) start() *Group {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = true
	return &r.group
}

// Setup is a task that the runtime retries until it succeeds; see
// Runtime.AddSetup.
type Setup struct {
	name   string
	fn     func(context.Context) error
	logger *slog.Logger
	done   chan struct{}

	mu  sync.Mutex
	err error // the last attempt's error; nil once done
}

// Setup's pause between attempts grows from setupMinBackoff to
// setupMaxBackoff.
const (
	setupMinBackoff = 100 * time.Millisecond
	setupMaxBackoff = 5 * time.Second
)

// Done is closed when the setup has succeeded.
func (s *Setup) Done() <-chan struct{} { return s.done }

// Wait waits until the setup has succeeded or ctx ends.
func (s *Setup) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w (last attempt: %w)", s.name, ctx.Err(), s.Check(ctx))
	}
}

// Check is a readiness check: nil once the setup has succeeded, otherwise
// the error of the last attempt.
func (s *Setup) Check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("setup %s not done: %w", s.name, s.err)
	}
	return nil
}

func (s *Setup) run(ctx context.Context) error {
	start := time.Now()
	pause := setupMinBackoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		err := s.fn(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			s.mu.Lock()
			s.err = nil
			s.mu.Unlock()
			close(s.done)
			s.logger.Info("setup done", "name", s.name, "attempts", attempt, "took", time.Since(start).Round(time.Millisecond).String())
			<-ctx.Done()
			return nil
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		s.logger.Warn("setup failed, will retry", "name", s.name, "attempt", attempt, "retry_in", pause.String(), "err", err)
		timer.Reset(pause)
		pause = min(2*pause, setupMaxBackoff)
	}
}
