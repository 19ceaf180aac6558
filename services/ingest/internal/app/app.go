// Package app is the ingest service: its configuration, its connections to
// Kafka, NATS (with JetStream), and its work.
//
// The front door for producers. Events arrive over HTTP as CloudEvents, or
// straight into raw Kafka topics in the CloudEvents Kafka binding; each is
// validated against its stream's JSON Schema and written to
// tributary.events.<stream> keyed by its entity. Invalid events go to the
// dead-letter topic tributary.dlq with the reason, and the producer gets a clear
// 4xx. It owns no state: stream definitions are files plus the NATS KV bucket
// tributary_schemas.
//
// Today it connects and reports ready; the issues named in the README fill
// it in.
package app

import (
	"context"
	"flag"
	"log/slog"

	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
)

// Config is the ingest service's configuration.
type Config struct {
	Kafka     kafkax.Config
	Topics    kafkax.TopicsConfig
	NATS      natsx.Config
	JetStream natsx.BootstrapConfig
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	return c.deps().Validate()
}

// App is the running ingest service.
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
