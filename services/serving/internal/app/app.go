// Package app is the serving service: its configuration, its connections to
// Kafka, NATS (with JetStream), Redis, and its work.
//
// It follows the registry's aliases and hot-swaps models without failing a
// request (models), splits traffic (canary weight, shadow, A/B arms by
// header or sticky by key), fetches online features for entity keys from
// Redis with the features service's own read code (online), and answers
// the Open Inference Protocol and /v1/predict (api).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/redisx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/serving/internal/api"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
	"github.com/tributary-ml/tributary/services/serving/internal/predlog"
)

// Config is the serving service's configuration.
type Config struct {
	Kafka     kafkax.Config
	Topics    kafkax.TopicsConfig
	NATS      natsx.Config
	JetStream natsx.BootstrapConfig
	Redis     redisx.Config

	// OnlineFeatures: read online features from Redis for /v1/predict.
	// Off, the service needs no Redis and serves the Open Inference
	// Protocol only.
	OnlineFeatures bool
	API            api.Config

	// Prefix is prepended to Redis keys (tests share Redis with the
	// platform); not a flag. NATS resources take JetStream.Prefix.
	Prefix string
	// PredictionLog configures the prediction log on Kafka.
	PredictionLog predlog.Config
	// Logger, when set, receives the prediction log records instead of
	// the Kafka prediction log (tests); not a flag.
	Logger api.PredictionLogger
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	d := deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream, Redis: &c.Redis}
	return d
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
	fs.BoolVar(&c.OnlineFeatures, "serving.online-features", true, "Read online features from Redis for /v1/predict; false: no Redis is used and only the Open Inference Protocol (/v2) is served.")
	fs.IntVar(&c.API.MaxInFlight, "serving.max-inflight", 256, "Prediction requests (/v1/predict and /v2 infer) in progress at most; more are shed with 503 overloaded and Retry-After.")
	fs.IntVar(&c.API.MaxShadow, "serving.max-shadow", 64, "Shadow predictions in progress at most; beyond it shadow copies are dropped (and counted).")
	c.PredictionLog.RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	if c.API.MaxInFlight < 1 {
		return fmt.Errorf("serving.max-inflight: %d, want at least 1", c.API.MaxInFlight)
	}
	if c.API.MaxShadow < 1 {
		return fmt.Errorf("serving.max-shadow: %d, want at least 1", c.API.MaxShadow)
	}
	if err := c.PredictionLog.Validate(); err != nil {
		return err
	}
	return c.deps().Validate()
}

// App is the running serving service.
type App struct {
	cfg      Config
	logger   *slog.Logger
	clients  *deps.Clients
	Follower *models.Follower
	Views    *online.Views
	API      *api.API
}

// kafkaLog encodes prediction records for the Kafka prediction log.
type kafkaLog struct {
	log    *predlog.Log
	logger *slog.Logger
}

func (k kafkaLog) Log(rec event.PredictionLogged) {
	data, err := encodeRecord(make([]byte, 0, 1024), &rec)
	if err != nil { // a NaN or infinite output
		k.logger.Error("prediction record not encoded", "error", err)
		return
	}
	k.log.Log(predlog.Entry{ID: rec.PredictionID, Source: Source, Key: rec.EntityKey, Time: rec.EventTime, Data: data})
}

// Source is the CloudEvents source of the prediction log records.
const Source = "/tributary/serving"

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the readiness checks, closers and background work on rt.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	dc := cfg.deps()
	if !cfg.OnlineFeatures {
		dc.Redis = nil
	}
	clients, err := deps.Connect(rt, dc)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: rt.Logger, clients: clients}
	bucket := func(name string) func(ctx context.Context) (jetstream.KeyValue, error) {
		return func(ctx context.Context) (jetstream.KeyValue, error) {
			_, js, err := clients.NATS(ctx)
			if err != nil {
				return nil, err
			}
			kv, err := js.KeyValue(ctx, cfg.JetStream.Prefix+name)
			if err != nil {
				return nil, fmt.Errorf("open bucket %s: %w", cfg.JetStream.Prefix+name, err)
			}
			return kv, nil
		}
	}
	a.Follower = models.NewFollower(bucket(natsx.BucketModels), &artifacts{clients: clients, prefix: cfg.JetStream.Prefix}, rt.Logger, rt.Registerer)
	rt.AddActor("models", a.Follower.Run)
	rt.AddCheck("models", func(context.Context) error {
		return ready(a.Follower.Ready(), "the current aliases are not loaded yet")
	})
	var fetch *online.Fetcher
	if cfg.OnlineFeatures {
		a.Views = online.NewViews(rt.Logger)
		rt.AddActor("definitions", func(ctx context.Context) error { return a.Views.Watch(ctx, bucket(natsx.BucketFeatures)) })
		rt.AddCheck("definitions", func(context.Context) error { return ready(a.Views.Ready(), "feature definitions not read yet") })
		fetch = online.NewFetcher(a.Views.View, tiles.NewStore(clients.Redis, cfg.Prefix))
	}
	plog := cfg.Logger
	var kafka *predlog.Log
	if plog == nil {
		cl, err := kafkax.NewClient(cfg.Kafka, rt.Registerer, "tributary_serving_prediction_log", predlog.ProducerOpts(cfg.PredictionLog.MaxRecordBytes)...)
		if err != nil {
			return nil, err
		}
		rt.AddCloser("prediction-log-kafka", func(context.Context) error { cl.Close(); return nil })
		pcfg := cfg.PredictionLog
		pcfg.Topic = cfg.Topics.NamePrefix + event.TopicPredictions
		if kafka, err = predlog.New(pcfg, cl, rt.Logger, rt.Registerer); err != nil {
			return nil, err
		}
		plog = kafkaLog{log: kafka, logger: rt.Logger}
	}
	isReady := func() bool { return ready(a.Follower.Ready(), "") == nil }
	a.API = api.New(cfg.API, a.Follower.Snapshot, isReady, fetcherOrNil(fetch), plog, rt.Logger, rt.Registerer)
	a.API.Register(rt.Handle)
	if kafka != nil {
		// The actors stop once the HTTP server has drained; the shadow
		// predictions still running are waited for (5s at most) before
		// the log drains, so that their records are not refused.
		rt.AddActor("prediction-log", func(ctx context.Context) error {
			inner, cancel := context.WithCancel(context.WithoutCancel(ctx))
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				<-ctx.Done()
				wctx, wcancel := context.WithTimeout(inner, 5*time.Second)
				if err := a.API.Wait(wctx); err != nil {
					rt.Logger.Warn("shadow predictions still running at shutdown", "error", err)
				}
				wcancel()
				cancel()
			}()
			err := kafka.Run(inner)
			cancel()
			<-stopped
			return err
		})
	} else {
		rt.AddCloser("shadow predictions", a.API.Wait)
	}
	return a, nil
}

func ready(ch <-chan struct{}, msg string) error {
	select {
	case <-ch:
		return nil
	default:
		return errors.New(msg)
	}
}

// artifacts opens artifacts with the registry client once NATS is up.
type artifacts struct {
	clients *deps.Clients
	prefix  string
}

func (s *artifacts) OpenArtifact(ctx context.Context, art model.Artifact) (io.ReadCloser, error) {
	nc, js, err := s.clients.NATS(ctx)
	if err != nil {
		return nil, err
	}
	return model.NewClient(nc, js, model.WithPrefix(s.prefix)).OpenArtifact(ctx, art)
}

// Run does the service's work until ctx ends; the actors added in New do
// it.
func (a *App) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// fetcherOrNil keeps a nil *online.Fetcher a nil interface.
func fetcherOrNil(f *online.Fetcher) api.Fetcher {
	if f == nil {
		return nil
	}
	return f
}
