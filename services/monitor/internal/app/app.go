// Package app is the monitor service: its configuration, its connections to
// Kafka, NATS (with JetStream), ClickHouse, and its work.
//
// Writes the prediction log to ClickHouse, computes drift per feature and for
// the prediction (PSI, KS, Jensen-Shannon, chi-squared) per window against the
// reference distributions from the registry, joins late labels for performance
// metrics, and raises alerts that trigger retraining or rollback.
//
// Today it connects and reports ready; the issues named in the README fill
// it in.
package app

import (
	"context"
	"flag"
	"log/slog"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
)

// Config is the monitor service's configuration.
type Config struct {
	Kafka      kafkax.Config
	Topics     kafkax.TopicsConfig
	NATS       natsx.Config
	JetStream  natsx.BootstrapConfig
	ClickHouse chx.Config
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream, ClickHouse: &c.ClickHouse}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	return c.deps().Validate()
}

// App is the running monitor service.
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
