// Package app is the registry service: its configuration, its connections to
// NATS (with JetStream), and its work.
//
// The source of truth for models. It stores versions with their lineage
// (training-set hash, feature definition versions, code version, parameters,
// metrics, reference distributions for drift) in the NATS KV bucket
// tributary_models, artifacts in the object store tributary_artifacts, and
// moves aliases (production, canary, shadow) with compare-and-set and an
// audit trail.
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

// Config is the registry service's configuration.
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

// App is the running registry service.
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
