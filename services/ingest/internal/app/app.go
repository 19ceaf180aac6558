// Package app is the ingest service: its configuration, its connections to
// Kafka and NATS (with JetStream), and the wiring of its components.
//
// The front door for producers. Events arrive over HTTP as CloudEvents
// (httpapi), or straight into raw Kafka topics in the CloudEvents Kafka
// binding (rawconsume); intake checks each against its stream (streams:
// files plus the NATS KV bucket tributary_schemas, watched) and writes it to
// tributary.events.<stream> keyed by its entity, or, rejected, to the
// dead-letter topic tributary.dlq with the reason. It owns no state.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/auth"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/httpapi"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
	"github.com/tributary-ml/tributary/services/ingest/internal/rawconsume"
	"github.com/tributary-ml/tributary/services/ingest/internal/streams"
)

// Config is the ingest service's configuration.
type Config struct {
	Kafka     kafkax.Config
	Topics    kafkax.TopicsConfig
	NATS      natsx.Config
	JetStream natsx.BootstrapConfig
	HTTP      httpapi.Config
	Auth      auth.Config
	Intake    intake.Config
	Producer  ProducerConfig
	Dedup     DedupConfig
	Raw       RawConfig
	// StreamsDir holds stream definition files (*.json); empty: none.
	StreamsDir string
}

// ProducerConfig bounds the producer's memory.
type ProducerConfig struct {
	MaxBufferedRecords int
	MaxBufferedBytes   int
	DeliveryTimeout    time.Duration
	Linger             time.Duration
}

// DedupConfig is the duplicate window.
type DedupConfig struct {
	Window     time.Duration
	MaxEntries int
}

// RawConfig is the raw Kafka path.
type RawConfig struct {
	Enabled bool
	Group   string
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{Kafka: &c.Kafka, Topics: &c.Topics, NATS: &c.NATS, JetStream: &c.JetStream}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
	c.HTTP.RegisterFlags(fs)
	c.Auth.RegisterFlags(fs)
	fs.StringVar(&c.StreamsDir, "streams.dir", "", "Directory of stream definition files (*.json, see schemas/streams/README.md); empty: only the built-in label stream and the KV bucket "+natsx.BucketSchemas+".")
	fs.IntVar(&c.Intake.MaxEventBytes, "events.max-event-bytes", 512<<10, "Largest event accepted (bytes: the JSON event in structured mode, the body in binary mode); larger: event_too_large.")
	fs.DurationVar(&c.Intake.MaxFuture, "events.max-future", 5*time.Minute, "Latest event time accepted, after now; later: event_time_future.")
	fs.DurationVar(&c.Intake.MaxPast, "events.max-past", 7*24*time.Hour, "Earliest event time accepted, before now; earlier: event_time_past.")
	fs.DurationVar(&c.Intake.ProduceTimeout, "produce.timeout", 10*time.Second, "How long a request waits for Kafka to acknowledge its records before answering 503.")
	fs.DurationVar(&c.Intake.OutageTimeout, "produce.outage-timeout", 500*time.Millisecond, "How long a request waits for Kafka instead of produce.timeout while Kafka is known down (a failed connection, or a request that got no acknowledgement in time, until the next acknowledgement); 0: answer 503 at once.")
	fs.IntVar(&c.Producer.MaxBufferedRecords, "produce.max-buffered-records", 20000, "Records the producer buffers towards Kafka at most; when full: 503.")
	fs.IntVar(&c.Producer.MaxBufferedBytes, "produce.max-buffered-bytes", 128<<20, "Bytes the producer buffers towards Kafka at most; when full: 503.")
	fs.DurationVar(&c.Producer.DeliveryTimeout, "produce.delivery-timeout", time.Minute, "How long a record may wait in the buffer for Kafka before it fails (enforced when safe for the idempotent producer).")
	fs.DurationVar(&c.Producer.Linger, "produce.linger", 0, "How long the producer waits to fill a batch (0: send at once; batches still form while requests are in flight).")
	fs.DurationVar(&c.Dedup.Window, "dedup.window", 10*time.Minute, "How long a written event's (source, id) is remembered, so that a duplicate is accepted but not written again (0: off). Per replica, in memory.")
	fs.IntVar(&c.Dedup.MaxEntries, "dedup.max-entries", 500000, "Most (source, id) pairs remembered; beyond, the oldest are forgotten early.")
	fs.BoolVar(&c.Raw.Enabled, "raw.enabled", true, "Consume the raw topics "+event.TopicIngestPrefix+"<stream> and route their events.")
	fs.StringVar(&c.Raw.Group, "raw.group", "tributary-ingest", "Consumer group of the raw topics.")
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	errs := []error{c.deps().Validate(), c.HTTP.Validate(), c.Auth.Validate(), c.Intake.Validate()}
	if c.Producer.MaxBufferedRecords <= 0 {
		errs = append(errs, errors.New("produce.max-buffered-records: must be positive"))
	}
	if c.Producer.MaxBufferedBytes < c.Intake.MaxEventBytes {
		errs = append(errs, errors.New("produce.max-buffered-bytes: must hold at least one event of events.max-event-bytes"))
	}
	if c.Producer.DeliveryTimeout <= 0 {
		errs = append(errs, errors.New("produce.delivery-timeout: must be positive"))
	}
	if c.Dedup.Window < 0 || (c.Dedup.Window > 0 && c.Dedup.MaxEntries <= 0) {
		errs = append(errs, errors.New("dedup.window, dedup.max-entries: the window must not be negative, the entries positive"))
	}
	if c.Raw.Enabled && c.Raw.Group == "" {
		errs = append(errs, errors.New("raw.group: required when raw.enabled"))
	}
	if c.StreamsDir != "" {
		if fi, err := os.Stat(c.StreamsDir); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("streams.dir: %q is not a directory", c.StreamsDir))
		} else if _, err := streamspec.LoadDir(os.DirFS(c.StreamsDir)); err != nil {
			errs = append(errs, fmt.Errorf("streams.dir: %w", err))
		}
	}
	return errors.Join(errs...)
}

// App is the running ingest service.
type App struct {
	Streams *streams.Registry
}

// New builds the service on rt: clients, the stream registry with its KV
// watch, intake, the HTTP API on POST /v1/events and the raw consumer.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	logger := rt.Logger
	keys, err := auth.New(cfg.Auth)
	if err != nil {
		return nil, err
	}
	switch {
	case keys.Disabled():
		logger.Warn("api keys disabled: every request is accepted without a key (auth.disabled)")
	case keys.Len() == 0:
		logger.Warn("no api keys configured: every request is refused with 401 (set auth.keys, auth.keys-file or auth.disabled)")
	}

	kcfg := cfg.Kafka
	if kcfg.ClientID == "" {
		kcfg.ClientID = rt.Name
	}
	health := intake.NewHealth() // the producer's connections tell intake of outages
	producer, err := kafkax.NewClient(kcfg, rt.Registerer, "tributary_ingest_producer", append(ProducerOpts(cfg.Producer, cfg.Intake.MaxEventBytes), kgo.WithHooks(health))...)
	if err != nil {
		return nil, err
	}
	rt.AddCloser("producer", func(ctx context.Context) error {
		defer producer.Close()
		if err := producer.Flush(ctx); err != nil {
			return fmt.Errorf("flush producer: %w", err)
		}
		return nil
	})
	registerBufferMetrics(rt.Registerer, producer, cfg.Producer)

	var files []*streamspec.Stream
	if cfg.StreamsDir != "" {
		if files, err = streamspec.LoadDir(os.DirFS(cfg.StreamsDir)); err != nil {
			return nil, fmt.Errorf("streams.dir: %w", err)
		}
	}
	labels, err := streamspec.Labels()
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(clients.Kafka)
	var consumer *kgo.Client
	ensure := func(ctx context.Context, s *streamspec.Stream) error {
		specs := []kafkax.TopicSpec{cfg.Topics.Topic(event.IngestTopic(s.Name))}
		if s.Name != streamspec.LabelsName { // tributary.labels is a platform topic, bootstrapped with the others
			specs = append(specs, cfg.Topics.Topic(s.Topic))
		}
		_, err := kafkax.EnsureTopics(ctx, adm, specs...)
		return err
	}
	onLive := func(s *streamspec.Stream) {
		if consumer != nil {
			consumer.ForceMetadataRefresh() // find the new raw topic now
		}
	}
	reg, err := streams.New(logger, rt.Registerer, labels, files, ensure, onLive)
	if err != nil {
		return nil, fmt.Errorf("streams.dir: %w", err)
	}
	ready := rt.AddSetup("streams", reg.Ensure)
	rt.AddCheck("streams", func(ctx context.Context) error {
		if err := ready.Check(ctx); err != nil {
			return err
		}
		if !reg.Synced() {
			return errors.New("stream definitions not read from " + natsx.BucketSchemas + " yet")
		}
		return nil
	})
	rt.AddActor("streams-watch", func(ctx context.Context) error {
		return reg.Watch(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
			_, js, err := clients.NATS(ctx)
			if err != nil {
				return nil, err
			}
			return js.KeyValue(ctx, natsx.BucketSchemas)
		})
	})

	icfg := cfg.Intake
	icfg.Propagator = rt.Propagator
	icfg.Health = health
	icfg.DeadLetterMaxBytes = int(BatchMaxBytes(cfg.Intake.MaxEventBytes)) // a dead-letter record always fits a batch
	window := dedup.New(cfg.Dedup.Window, cfg.Dedup.MaxEntries)
	promauto.With(rt.Registerer).NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_ingest_dedup_entries",
		Help: "(source, id) pairs remembered by the dedup window (bounded by dedup.max-entries).",
	}, func() float64 { return float64(window.Len()) })
	in := intake.New(icfg, logger, rt.Registerer, reg, producer, window)
	rt.AddActor("rejections-log", func(ctx context.Context) error { return in.Run(ctx, 30*time.Second) })
	rt.Handle("POST /v1/events", httpapi.New(cfg.HTTP, logger, rt.Registerer, rt.TracerProvider, rt.Propagator, keys, in))
	rt.Handle("GET /v1/streams", httpapi.StreamsHandler(keys, reg))

	if cfg.Raw.Enabled {
		consumer, err = kafkax.NewClient(kcfg, nil, "", rawconsume.Opts(cfg.Raw.Group, "", 30*time.Second)...)
		if err != nil {
			return nil, err
		}
		rc := rawconsume.New(consumer, in, logger, "")
		rt.AddActor("raw-consumer", func(ctx context.Context) error {
			// Route only once the streams are live and the KV bucket's
			// definitions read: before, a record of a KV stream would be
			// dead-lettered as unknown_type or stream_mismatch and its
			// offset committed.
			if err := ready.Wait(ctx); err != nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-reg.Loaded():
			}
			return rc.Run(ctx)
		})
		rt.AddCloser("raw-consumer", func(context.Context) error { consumer.Close(); return nil })
	}
	return &App{Streams: reg}, nil
}

// ProducerOpts are the producer's options: acks from all in-sync replicas
// and idempotence (franz-go's default, kept), bounded buffers, and no
// linger unless configured (franz-go's default of 10ms would add 10ms to
// every single-event request; batches form anyway while requests are in
// flight).
func ProducerOpts(cfg ProducerConfig, maxEventBytes int) []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.MaxBufferedBytes(cfg.MaxBufferedBytes),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(BatchMaxBytes(maxEventBytes)),
	}
}

// BatchMaxBytes is the producer's batch size: an event of maxEventBytes
// with its headers (limits.go in intake), and at least 1 MiB. Kafka's
// default max.message.bytes is 1 MiB and 12 bytes.
func BatchMaxBytes(maxEventBytes int) int32 {
	return max(1<<20, int32(maxEventBytes)+64<<10)
}

func registerBufferMetrics(reg prometheus.Registerer, cl *kgo.Client, cfg ProducerConfig) {
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_ingest_producer_buffered_records",
		Help: "Records buffered towards Kafka, not yet acknowledged.",
	}, func() float64 { return float64(cl.BufferedProduceRecords()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_ingest_producer_buffered_bytes",
		Help: "Bytes buffered towards Kafka, not yet acknowledged.",
	}, func() float64 { return float64(cl.BufferedProduceBytes()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_ingest_producer_buffer_fill_ratio",
		Help: "Fill of the producer buffer, 0 to 1: the larger of records/produce.max-buffered-records and bytes/produce.max-buffered-bytes. At 1 requests get 503.",
	}, func() float64 {
		return max(float64(cl.BufferedProduceRecords())/float64(cfg.MaxBufferedRecords), float64(cl.BufferedProduceBytes())/float64(cfg.MaxBufferedBytes))
	})
}

// Run waits for ctx; the work runs in the actors and the HTTP handler.
func (a *App) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
