// Package app is the monitor service: its configuration, its connections to
// Kafka, NATS (with JetStream), ClickHouse, and its work: the consumer of
// tributary.predictions that writes the prediction log, computes drift and
// data quality per window against each version's reference distribution
// from the registry, and publishes drift alerts; and the consumer of
// tributary.labels that measures performance and fairness on delayed
// labels, publishes their alerts and applies the rollback policy.
package app

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/services/monitor/internal/alerts"
	"github.com/tributary-ml/tributary/services/monitor/internal/aliaspolicy"
	"github.com/tributary-ml/tributary/services/monitor/internal/consume"
	"github.com/tributary-ml/tributary/services/monitor/internal/labels"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
	"github.com/tributary-ml/tributary/services/monitor/internal/refs"
	"github.com/tributary-ml/tributary/services/monitor/internal/reports"
	"github.com/tributary-ml/tributary/services/monitor/internal/state"
	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

// Config is the monitor service's configuration.
type Config struct {
	Kafka       kafkax.Config
	Topics      kafkax.TopicsConfig
	NATS        natsx.Config
	JetStream   natsx.BootstrapConfig
	ClickHouse  chx.Config
	Consumer    consume.Config
	Windows     windows.Config
	Labels      labels.Config
	Performance performance.Config

	// Prefix is prepended to Kafka topics (tests share the servers with
	// the platform); not a flag. NATS subjects take JetStream.Prefix.
	Prefix string
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream, ClickHouse: &c.ClickHouse}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
	c.Consumer.RegisterFlags(fs)
	c.Windows.RegisterFlags(fs)
	c.Labels.RegisterFlags(fs)
	c.Performance.RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	if err := c.deps().Validate(); err != nil {
		return err
	}
	if err := c.Consumer.Validate(); err != nil {
		return err
	}
	if err := c.Labels.Validate(); err != nil {
		return err
	}
	if err := c.Performance.Validate(); err != nil {
		return err
	}
	return c.Windows.Validate()
}

// App is the running monitor service.
type App struct {
	cfg     Config
	logger  *slog.Logger
	clients *deps.Clients
}

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the readiness checks, closers and the consumer on rt.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: rt.Logger, clients: clients}

	kcfg := cfg.Kafka
	kcfg.ClientID = rt.Name + "-consumer"
	ccfg := cfg.Consumer
	ccfg.TopicPrefix = cfg.Prefix
	kc, err := kafkax.NewClient(kcfg, rt.Registerer, "tributary_"+rt.Name+"_consumer_kafka", ccfg.ConsumeOpts()...)
	if err != nil {
		return nil, err
	}
	rt.AddCloser("consumer-kafka", func(context.Context) error { kc.Close(); return nil })

	js := func(ctx context.Context) (jetstream.JetStream, error) {
		_, js, err := clients.NATS(ctx)
		return js, err
	}
	registry := func(ctx context.Context) (*model.Client, error) {
		nc, js, err := clients.NATS(ctx)
		if err != nil {
			return nil, err
		}
		return model.NewClient(nc, js, model.WithPrefix(cfg.JetStream.Prefix)), nil
	}
	bucket := state.BucketConfig(cfg.JetStream.Prefix, cfg.JetStream.Replicas, cfg.JetStream.Storage == "memory")
	var kv atomic.Pointer[jetstream.KeyValue]
	snapshots := state.NewStore(func(ctx context.Context) (jetstream.KeyValue, error) {
		if p := kv.Load(); p != nil {
			return *p, nil
		}
		_, js, err := clients.NATS(ctx)
		if err != nil {
			return nil, err
		}
		b, err := js.CreateOrUpdateKeyValue(ctx, bucket)
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", bucket.Bucket, err)
		}
		kv.Store(&b)
		return b, nil
	}, ccfg.Group)
	c := consume.New(ccfg, cfg.Windows, rt.Logger, rt.Registerer, kc,
		predlog.NewWriter(clients.ClickHouse, cfg.ClickHouse.Database),
		reports.NewWriter(clients.ClickHouse, cfg.ClickHouse.Database),
		alerts.NewPublisher(js, cfg.JetStream.Prefix),
		refs.NewCache(registry), snapshots)
	rt.AddActor("consumer", func(ctx context.Context) error {
		// The tables exist once the bootstrap has migrated ClickHouse.
		if err := clients.Bootstrapped(ctx); err != nil {
			return nil
		}
		return c.Run(ctx)
	})

	lcfg := cfg.Labels
	lcfg.TopicPrefix = cfg.Prefix
	lcfg.Backoff = cfg.Consumer.Backoff
	kcfg.ClientID = rt.Name + "-labels"
	lk, err := kafkax.NewClient(kcfg, rt.Registerer, "tributary_"+rt.Name+"_labels_kafka", lcfg.ConsumeOpts()...)
	if err != nil {
		return nil, err
	}
	rt.AddCloser("labels-kafka", func(context.Context) error { lk.Close(); return nil })
	perf := cfg.Performance
	store := performance.NewStore(clients.ClickHouse, cfg.ClickHouse.Database)
	policy := aliaspolicy.New(&perf, func(ctx context.Context) (aliaspolicy.Registry, error) { return registry(ctx) }, store, rt.Logger)
	lc := labels.New(lcfg, &perf, rt.Logger, rt.Registerer, lk, store, alerts.NewPublisher(js, cfg.JetStream.Prefix), policy)
	rt.AddActor("labels", func(ctx context.Context) error {
		if err := clients.Bootstrapped(ctx); err != nil {
			return nil
		}
		return lc.Run(ctx)
	})
	return a, nil
}

// Run does the service's work until ctx ends; the consumer runs as an
// actor.
func (a *App) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
