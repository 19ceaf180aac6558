// Package app is the features service: its configuration, its connections to
// Kafka, NATS (with JetStream), Redis, ClickHouse, and its parts: the catalog
// of feature views (following the KV bucket tributary_features), the
// materializer (Kafka to ClickHouse and Redis tiles), the online read API and
// the training-set builder.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/redisx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/api"
	"github.com/tributary-ml/tributary/services/features/internal/catalog"
	"github.com/tributary-ml/tributary/services/features/internal/datasets"
	"github.com/tributary-ml/tributary/services/features/internal/materialize"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

// Config is the features service's configuration.
type Config struct {
	Kafka        kafkax.Config
	Topics       kafkax.TopicsConfig
	NATS         natsx.Config
	JetStream    natsx.BootstrapConfig
	Redis        redisx.Config
	ClickHouse   chx.Config
	Materializer materialize.Config
	// DatasetsConsumer is the durable JetStream consumer of dataset
	// requests; empty: the service builds no training sets.
	DatasetsConsumer string

	// Prefix is prepended to Kafka topics and Redis keys (tests share the
	// servers with the platform); not a flag. NATS resources take
	// JetStream.Prefix.
	Prefix string
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream, Redis: &c.Redis, ClickHouse: &c.ClickHouse}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
	c.Materializer.RegisterFlags(fs)
	fs.StringVar(&c.DatasetsConsumer, "datasets.consumer", "features-datasets", "Durable JetStream consumer of dataset requests (tributary.dataset.requested); empty: build no training sets.")
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	if err := c.deps().Validate(); err != nil {
		return err
	}
	if !offline.ValidIdentifier(c.ClickHouse.Database) {
		return fmt.Errorf("clickhouse.database: %q is not an identifier", c.ClickHouse.Database)
	}
	return c.Materializer.Validate()
}

// App is the running features service.
type App struct {
	cfg     Config
	logger  *slog.Logger
	clients *deps.Clients
	Catalog *catalog.Catalog
}

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the readiness checks, closers and background work on rt.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: rt.Logger, clients: clients, Catalog: catalog.New(rt.Logger, rt.Registerer)}
	views := a.Catalog.Snapshot

	kcfg := cfg.Kafka
	kcfg.ClientID = rt.Name + "-materializer"
	mcfg := cfg.Materializer
	mcfg.TopicPrefix = cfg.Prefix
	if mcfg.InstanceID == "" {
		id, err := materialize.DefaultInstanceID(os.Hostname, rt.HTTPAddr)
		if err != nil {
			return nil, err
		}
		mcfg.InstanceID = id
	}
	if mcfg.InstanceID != "-" {
		rt.Logger.Info("materializer static group membership", "instance_id", mcfg.InstanceID)
	}
	owned := materialize.NewOwnership()
	consumer, err := kafkax.NewClient(kcfg, rt.Registerer, "tributary_"+rt.Name+"_materializer_kafka", mcfg.ConsumeOpts(owned)...)
	if err != nil {
		return nil, err
	}
	rt.AddCloser("materializer-kafka", func(ctx context.Context) error {
		// A static member does not leave its group when it closes (so that
		// a restart gets its partitions back at once): leave explicitly on
		// a graceful stop, so that the others take them over at once too.
		err := materialize.Leave(ctx, consumer, mcfg)
		consumer.Close()
		return err
	})

	store := tiles.NewStore(clients.Redis, cfg.Prefix, tiles.Coalesce())
	off := offline.NewStore(clients.ClickHouse, cfg.ClickHouse.Database)
	filler := materialize.NewBackfiller(clients.Redis, cfg.Prefix, store, off)
	mat := materialize.New(mcfg, rt.Logger, rt.Registerer, consumer, owned, filler, views, store, off)
	rt.AddCheck("materializer", mat.Ready)
	api.New(views, store, rt.Logger).Register(rt.Handle)

	kv := func(ctx context.Context) (jetstream.KeyValue, error) {
		_, js, err := clients.NATS(ctx)
		if err != nil {
			return nil, err
		}
		kv, err := js.KeyValue(ctx, cfg.JetStream.Prefix+natsx.BucketFeatures)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", cfg.JetStream.Prefix+natsx.BucketFeatures, err)
		}
		return kv, nil
	}
	rt.AddActor("definitions", func(ctx context.Context) error { return a.Catalog.Watch(ctx, kv) })
	rt.AddCheck("definitions", func(context.Context) error {
		select {
		case <-a.Catalog.Ready():
			return nil
		default:
			return errors.New("feature definitions not read yet")
		}
	})
	rt.AddActor("materializer", func(ctx context.Context) error {
		// Events consumed before the views are known would be stored
		// without being applied.
		select {
		case <-ctx.Done():
			return nil
		case <-a.Catalog.Ready():
		}
		return mat.Run(ctx)
	})
	if cfg.DatasetsConsumer != "" {
		b := datasets.NewBuilder(off, views, rt.Logger, rt.Registerer, cfg.JetStream.Prefix)
		rt.AddActor("datasets", func(ctx context.Context) error {
			for {
				_, js, err := clients.NATS(ctx)
				if err == nil {
					err = b.Consume(ctx, js, cfg.DatasetsConsumer)
				}
				if ctx.Err() != nil {
					return nil
				}
				rt.Logger.Warn("dataset requests consumer stopped, restarting", "error", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		})
	}
	return a, nil
}

// Run does the service's work until ctx ends; the parts run as actors.
func (a *App) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
