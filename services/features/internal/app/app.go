// Package app is the features service: its configuration, its connections to
// Kafka, NATS (with JetStream), Redis, ClickHouse, and its work.
//
// Turns event streams into features. It keeps windowed aggregates per entity
// (count, sum, mean, min, max, last, stddev over sliding windows, from tiles) in
// Redis for online reads, appends the same history to ClickHouse, and builds
// point-in-time-correct training sets (Parquet, in the NATS object store) with
// the same Go aggregation code, so that online and offline values are equal.
// Feature definitions live in the NATS KV bucket tributary_features.
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
	"github.com/tributary-ml/tributary/libs/redisx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
)

// Config is the features service's configuration.
type Config struct {
	Kafka      kafkax.Config
	Topics     kafkax.TopicsConfig
	NATS       natsx.Config
	JetStream  natsx.BootstrapConfig
	Redis      redisx.Config
	ClickHouse chx.Config
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream, Redis: &c.Redis, ClickHouse: &c.ClickHouse}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	return c.deps().Validate()
}

// App is the running features service.
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
