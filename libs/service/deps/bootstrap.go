package deps

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/schemas"
)

// Bootstrapped waits until the platform bootstrap (see Connect) has
// succeeded, or ctx ends. Work that needs the platform's topics, stream,
// buckets or tables starts after it.
func (c *Clients) Bootstrapped(ctx context.Context) error {
	return c.bootstrap.Wait(ctx)
}

// runBootstrap creates, idempotently, the platform's resources in the
// dependencies the service uses: the platform topics (kafkax.PlatformTopics)
// when cfg.Topics is set, the JetStream stream, key-value buckets and object
// store (natsx.Bootstrap) when cfg.JetStream is set, and with ClickHouse the
// tables (schemas/clickhouse, chx.Migrate). Every service does it, so that any one
// of them, started first on an empty cluster, finds what it needs; each step
// is safe to repeat and to run concurrently, and runBootstrap is retried
// until it succeeds.
func (c *Clients) runBootstrap(ctx context.Context, cfg Config) error {
	if c.Kafka != nil && cfg.Topics != nil {
		res, err := kafkax.EnsureTopics(ctx, kadm.NewClient(c.Kafka), kafkax.PlatformTopics(*cfg.Topics)...)
		if err != nil {
			return fmt.Errorf("bootstrap kafka topics: %w", err)
		}
		for _, r := range res {
			if r.Created {
				c.logger.Info("kafka topic created", "topic", r.Name, "partitions", r.Partitions)
			}
			if r.Warning != "" {
				c.logger.Warn("kafka topic differs from its configuration", "topic", r.Name, "detail", r.Warning)
			}
		}
	}
	if c.natsSetup != nil && cfg.JetStream != nil {
		_, js, err := c.NATS(ctx)
		if err != nil {
			return err
		}
		res, err := natsx.Bootstrap(ctx, js, *cfg.JetStream)
		if err != nil {
			return fmt.Errorf("bootstrap jetstream: %w", err)
		}
		for _, r := range res {
			if r.Action != natsx.Unchanged {
				c.logger.Info("jetstream resource ensured", "action", r.Action, "kind", r.Kind, "name", r.Name, "changed", r.Changed)
			}
		}
	}
	if c.ClickHouse != nil {
		// chx.Migrate logs each migration it applies.
		if _, err := chx.Migrate(ctx, c.ClickHouse, cfg.ClickHouse.Database, schemas.ClickHouseMigrations(), c.logger); err != nil {
			return fmt.Errorf("bootstrap clickhouse tables: %w", err)
		}
	}
	return nil
}
