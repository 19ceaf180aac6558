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
// Today it connects and reports ready; the issues named in the README fill
// it in.
package app

import (
	"context"
	"flag"
	"log/slog"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
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
	cfg     Config
	logger  *slog.Logger
	clients *deps.Clients
}

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the readiness checks, closers and background work on rt.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: rt.Logger, clients: clients}
	return a, nil
}

// Run does the service's work until ctx ends. The consumers and other loops
// of later issues start here (or as actors added in New) and return when ctx
// is cancelled, after the HTTP server has drained.
func (a *App) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
