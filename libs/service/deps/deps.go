package deps

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/redisx"
	"github.com/tributary-ml/tributary/libs/service"
)

// Config points at the client configurations of the dependencies a service
// uses; a nil field is one it does not use. The configurations themselves
// live in the app's Config:
//
//	type Config struct {
//		Kafka kafkax.Config
//		NATS  natsx.Config
//	}
//
//	func (c *Config) deps() deps.Config { return deps.Config{Kafka: &c.Kafka, NATS: &c.NATS} }
//
// Topics and JetStream, when set, make the service take part in the
// platform's bootstrap (see Connect): it creates the platform topics and the
// JetStream resources, tuned by their flags (kafka.topic.*, nats.replicas,
// ...). A service using ClickHouse applies the migrations.
type Config struct {
	Kafka      *kafkax.Config
	Topics     *kafkax.TopicsConfig
	NATS       *natsx.Config
	JetStream  *natsx.BootstrapConfig
	Redis      *redisx.Config
	ClickHouse *chx.Config
}

// RegisterFlags registers the flags of every dependency used (kafka.*,
// nats.*, redis.*, clickhouse.*).
func (c Config) RegisterFlags(fs *flag.FlagSet) {
	if c.Kafka != nil {
		c.Kafka.RegisterFlags(fs)
		if c.Topics != nil {
			c.Topics.RegisterFlags(fs)
		}
	}
	if c.NATS != nil {
		c.NATS.RegisterFlags(fs)
		if c.JetStream != nil {
			c.JetStream.RegisterFlags(fs)
		}
	}
	if c.Redis != nil {
		c.Redis.RegisterFlags(fs)
	}
	if c.ClickHouse != nil {
		c.ClickHouse.RegisterFlags(fs)
	}
}

// Validate validates every dependency used and joins their errors.
func (c Config) Validate() error {
	var errs []error
	if c.Kafka != nil {
		errs = append(errs, c.Kafka.Validate())
		if c.Topics != nil {
			errs = append(errs, c.Topics.Validate())
		}
	}
	if c.NATS != nil {
		errs = append(errs, c.NATS.Validate())
		if c.JetStream != nil {
			errs = append(errs, c.JetStream.Validate())
		}
	}
	if c.Redis != nil {
		errs = append(errs, c.Redis.Validate())
	}
	if c.ClickHouse != nil {
		errs = append(errs, c.ClickHouse.Validate())
	}
	return errors.Join(errs...)
}

// Clients are a service's connections to its dependencies. A field is nil
// when the service does not use that dependency. Kafka, Redis and ClickHouse
// are usable at once (they connect on first use and reconnect by
// themselves); NATS is reached through the NATS method, which waits for the
// background dial.
type Clients struct {
	Kafka      *kgo.Client
	Redis      *redis.Client
	ClickHouse driver.Conn

	logger    *slog.Logger
	natsSetup *service.Setup // nil when the service does not use NATS
	bootstrap *service.Setup
	natsMu    sync.Mutex
	nc        *nats.Conn
	js        jetstream.JetStream
}

// Connect builds the clients of the dependencies in cfg and registers, for
// each, a readiness check named after it ("kafka", "nats", "redis",
// "clickhouse") and a closer. It does not wait for any dependency to be up
// and fails only on a configuration that cannot be used (such as an
// unreadable TLS file). The Kafka client id defaults to the service's name,
// and franz-go's metrics are registered as tributary_<service>_kafka_*.
func Connect(rt *service.Runtime, cfg Config) (*Clients, error) {
	c := &Clients{logger: rt.Logger}
	if cfg.Kafka != nil {
		kcfg := *cfg.Kafka
		if kcfg.ClientID == "" {
			kcfg.ClientID = rt.Name
		}
		cl, err := kafkax.NewClient(kcfg, rt.Registerer, "tributary_"+rt.Name+"_kafka")
		if err != nil {
			return nil, err
		}
		c.Kafka = cl
		rt.AddCheck("kafka", kafkax.Check(cl))
		rt.AddCloser("kafka", func(context.Context) error { cl.Close(); return nil })
	}
	if cfg.NATS != nil {
		ncfg := *cfg.NATS
		c.natsSetup = rt.AddSetup("nats", func(context.Context) error { return c.dialNATS(rt, ncfg) })
		rt.AddCheck("nats", c.checkNATS)
		rt.AddCloser("nats", c.closeNATS)
	}
	if cfg.Redis != nil {
		// go-redis has one logger for the whole process and no per-client
		// option; route it through the service's logger so that its lines
		// are JSON with the service attribute like every other. (With
		// several services in one test process the last one wins, which is
		// harmless.)
		redis.SetLogger(redisLogger{rt.Logger})
		cl, err := redisx.NewClient(*cfg.Redis)
		if err != nil {
			return nil, err
		}
		c.Redis = cl
		rt.AddCheck("redis", redisx.Check(cl))
		rt.AddCloser("redis", func(context.Context) error { return cl.Close() })
	}
	if cfg.ClickHouse != nil {
		conn, err := chx.Open(*cfg.ClickHouse)
		if err != nil {
			return nil, err
		}
		c.ClickHouse = conn
		rt.AddCheck("clickhouse", chx.Check(conn))
		rt.AddCloser("clickhouse", func(context.Context) error { return conn.Close() })
	}
	c.bootstrap = rt.AddSetup("bootstrap", func(ctx context.Context) error { return c.runBootstrap(ctx, cfg) })
	rt.AddCheck("bootstrap", c.bootstrap.Check)
	return c, nil
}

// ErrNotUsed is returned for a dependency the service did not configure.
var ErrNotUsed = errors.New("dependency not configured for this service")

// NATS returns the NATS connection and its JetStream context, waiting until
// the first dial has succeeded or ctx ends. After that the connection
// reconnects by itself.
func (c *Clients) NATS(ctx context.Context) (*nats.Conn, jetstream.JetStream, error) {
	if c.natsSetup == nil {
		return nil, nil, fmt.Errorf("nats: %w", ErrNotUsed)
	}
	if err := c.natsSetup.Wait(ctx); err != nil {
		return nil, nil, err
	}
	nc, js := c.natsConn()
	return nc, js, nil
}

func (c *Clients) natsConn() (*nats.Conn, jetstream.JetStream) {
	c.natsMu.Lock()
	defer c.natsMu.Unlock()
	return c.nc, c.js
}

// dialNATS is one attempt to connect. The connection is kept even when the
// service is stopping at that moment, so that closeNATS closes it.
func (c *Clients) dialNATS(rt *service.Runtime, cfg natsx.Config) error {
	nc, err := natsx.Connect(cfg, "tributary-"+rt.Name, rt.Logger)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	c.natsMu.Lock()
	c.nc, c.js = nc, js
	c.natsMu.Unlock()
	rt.Logger.Info("nats connected", "url", nc.ConnectedUrlRedacted())
	return nil
}

func (c *Clients) checkNATS(ctx context.Context) error {
	nc, js := c.natsConn()
	if nc == nil {
		return c.natsSetup.Check(ctx)
	}
	return natsx.Check(nc, js)(ctx)
}

// closeNATS drains the connection: subscriptions stop, messages already
// received are handled, pending publishes are flushed; then it closes.
func (c *Clients) closeNATS(ctx context.Context) error {
	nc, _ := c.natsConn()
	if nc == nil {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		switch {
		case errors.Is(err, nats.ErrConnectionClosed):
			return nil
		case errors.Is(err, nats.ErrConnectionReconnecting):
			// Nothing can be flushed to a server that is away; work that
			// needed acknowledging (JetStream publishes) has failed already.
			c.logger.Warn("nats closed without draining: not connected")
			return nil
		}
		return fmt.Errorf("drain nats: %w", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain nats: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// redisLogger passes go-redis's messages to slog at debug level: they are
// mostly connection-pool dial failures, several per command while Redis is
// down, and the readiness check already reports those once, at warn.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
