// Package app is the trainer service: its configuration, its connections to
// NATS (with JetStream), and its work.
//
// Runs a training job when asked, on a schedule, when enough new labels have
// arrived, or when drift is detected; one job per model at a time. Runners: the
// built-in Go trainers, an exec runner (any command that reads the Parquet
// training set and writes a model file and metrics) and a Kubernetes Job runner.
// A candidate is compared with the production model on a holdout, and the
// policy decides whether it is promoted. Job records live in the NATS KV bucket
// tributary_jobs.
//
// It serves the tracked runs (runs) over the MLflow tracking API
// (mlflowapi) and the runs API for people (runsapi); the job loop of later
// issues fills them in.
package app

import (
	"context"
	"flag"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/services/trainer/internal/mlflowapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runsapi"
)

// Config is the trainer service's configuration.
type Config struct {
	NATS      natsx.Config
	JetStream natsx.BootstrapConfig
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{NATS: &c.NATS, JetStream: &c.JetStream}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	return c.deps().Validate()
}

// App is the running trainer service.
type App struct {
	cfg        Config
	logger     *slog.Logger
	clients    *deps.Clients
	registerer prometheus.Registerer
	store      atomic.Pointer[runs.Store] // nil until the bucket is open
}

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the readiness checks, closers and background work on rt. The HTTP routes
// of the MLflow tracking API and of the runs API answer 503 until the run
// store is open.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: rt.Logger, clients: clients, registerer: rt.Registerer}
	for pattern, h := range mlflowapi.New(a.store.Load, rt.Logger).Routes() {
		rt.Handle(pattern, h)
	}
	for pattern, h := range runsapi.New(a.store.Load, rt.Logger).Routes() {
		rt.Handle(pattern, h)
	}
	return a, nil
}

// openRetry is how long Run waits before opening the run store again.
const openRetry = time.Second

// Run waits for NATS and the JetStream bootstrap (which creates the bucket
// tributary_jobs when it is missing), opens the run store, and then waits
// until ctx ends. The job loops of later issues start here and return when
// ctx is cancelled, after the HTTP server has drained.
func (a *App) Run(ctx context.Context) error {
	if err := a.clients.Bootstrapped(ctx); err != nil {
		return nil // ctx ended
	}
	_, js, err := a.clients.NATS(ctx)
	if err != nil {
		return nil // ctx ended
	}
	bucket := a.cfg.JetStream.Prefix + natsx.BucketJobs
	for {
		st, err := runs.Open(ctx, js, a.cfg.JetStream.Prefix, runs.WithRegisterer(a.registerer))
		if err == nil {
			a.store.Store(st)
			a.logger.Info("run store open", "bucket", bucket, "record_bytes", st.Limits().RecordBytes)
			break
		}
		a.logger.Warn("open run store", "bucket", bucket, "err", err)
		t := time.NewTimer(openRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	<-ctx.Done()
	return nil
}
