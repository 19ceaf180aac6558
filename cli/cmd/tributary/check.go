package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/redisx"
	"github.com/tributary-ml/tributary/libs/service"
)

const (
	// healthcheckTopic receives one record per Kafka check. It is created on
	// first use with one partition and the broker's default replication.
	healthcheckTopic = "tributary.healthcheck"
	// checkInterval is the pause between two failed attempts.
	checkInterval = 100 * time.Millisecond
	// attemptTimeout bounds one attempt, so that a server that accepts
	// connections but never answers is retried rather than waited on forever.
	attemptTimeout = 10 * time.Second
	// checkClientName identifies the check's connections on the servers.
	checkClientName = "tributary-check"
)

// checkOptions is the configuration of the check command.
type checkOptions struct {
	kafka, nats, redis, clickhouse bool
	wait                           time.Duration

	kafkaCfg      kafkax.Config
	natsCfg       natsx.Config
	redisCfg      redisx.Config
	clickhouseCfg chx.Config
}

func (o *checkOptions) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.kafka, "kafka", false, "Check Kafka: produce a record to "+healthcheckTopic+" and fetch it back.")
	fs.BoolVar(&o.nats, "nats", false, "Check NATS: connect and ask JetStream for the account info.")
	fs.BoolVar(&o.redis, "redis", false, "Check Redis: PING.")
	fs.BoolVar(&o.clickhouse, "clickhouse", false, "Check ClickHouse: SELECT 1.")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "How long to retry each check before giving up.")
	o.kafkaCfg.RegisterFlags(fs)
	o.natsCfg.RegisterFlags(fs)
	o.redisCfg.RegisterFlags(fs)
	o.clickhouseCfg.RegisterFlags(fs)
}

// parseCheckFlags parses the command line of the check command; without a
// selector flag every dependency is checked.
func parseCheckFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (checkOptions, error) {
	var o checkOptions
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintln(output, "Usage: tributary check [-kafka] [-nats] [-redis] [-clickhouse] [-wait 60s] [client flags]")
		fmt.Fprintln(output)
		fmt.Fprintln(output, "Waits until each selected dependency (all four when none is selected) answers a")
		fmt.Fprintln(output, "real request and prints how long that took. Every flag can also be set with")
		fmt.Fprintln(output, "its TRIBUTARY_* environment variable (kafka.brokers: TRIBUTARY_KAFKA_BROKERS).")
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.registerFlags(fs)
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return checkOptions{}, err
	}
	if fs.NArg() > 0 {
		return checkOptions{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !o.kafka && !o.nats && !o.redis && !o.clickhouse {
		o.kafka, o.nats, o.redis, o.clickhouse = true, true, true, true
	}
	if o.wait <= 0 {
		return checkOptions{}, errors.New("-wait: must be positive")
	}
	return o, nil
}

// dependencies validates the configuration of the selected dependencies and
// returns them in a fixed order. Nothing is dialled yet.
func (o checkOptions) dependencies() ([]dependency, error) {
	var deps []dependency
	if o.kafka {
		if err := o.kafkaCfg.Validate(); err != nil {
			return nil, err
		}
		cfg := o.kafkaCfg
		if cfg.ClientID == "" {
			cfg.ClientID = checkClientName
		}
		deps = append(deps, dependency{name: "kafka", addr: cfg.Brokers, probe: &kafkaProbe{cfg: cfg, topic: healthcheckTopic}})
	}
	if o.nats {
		if err := o.natsCfg.Validate(); err != nil {
			return nil, err
		}
		deps = append(deps, dependency{name: "nats", addr: o.natsCfg.URL, probe: &natsProbe{cfg: o.natsCfg}})
	}
	if o.redis {
		if err := o.redisCfg.Validate(); err != nil {
			return nil, err
		}
		cl, err := redisx.NewClient(o.redisCfg)
		if err != nil {
			return nil, err
		}
		deps = append(deps, dependency{name: "redis", addr: o.redisCfg.Addr, probe: &redisProbe{cl: cl}})
	}
	if o.clickhouse {
		if err := o.clickhouseCfg.Validate(); err != nil {
			return nil, err
		}
		conn, err := chx.Open(o.clickhouseCfg)
		if err != nil {
			return nil, err
		}
		deps = append(deps, dependency{name: "clickhouse", addr: o.clickhouseCfg.Addr, probe: &clickhouseProbe{conn: conn}})
	}
	return deps, nil
}

// runCheck is the check command: it waits until the selected dependencies
// answer real requests and prints one line per dependency.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseCheckFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	// go-redis logs every failed dial through a package-level logger (it
	// has no per-client one); the check reports the error itself, once.
	redis.SetLogger(discardRedisLog{})
	deps, err := opts.dependencies()
	if err != nil {
		return err
	}
	return checkAll(ctx, deps, opts.wait, checkInterval, stdout)
}

// dependency is one server that the check command waits for.
type dependency struct {
	name  string // kafka, nats, redis or clickhouse
	addr  string // where it is expected, as shown to the user
	probe prober
}

// prober makes one readiness attempt per call of Probe; Close releases the
// connections the attempts opened.
type prober interface {
	Probe(ctx context.Context) error
	Close() error
}

// checkAll waits for all dependencies at once, so that the time printed for
// each is the time since the check started. A line is printed as soon as a
// dependency is ready or has run out of time.
func checkAll(ctx context.Context, deps []dependency, wait, interval time.Duration, stdout io.Writer) error {
	var (
		mu   sync.Mutex
		errs = make([]error, len(deps))
		wg   sync.WaitGroup
	)
	for i, d := range deps {
		wg.Go(func() {
			took, err := waitReady(ctx, d.probe.Probe, wait, interval)
			if cerr := d.probe.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close: %w", cerr)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[i] = fmt.Errorf("%s (%s) not ready after %s: %w", d.name, d.addr, roundDuration(took), err)
				fmt.Fprintf(stdout, "%-11s NOT ready after %s (%s)\n", d.name, roundDuration(took), d.addr)
				return
			}
			fmt.Fprintf(stdout, "%-11s ready in %s (%s)\n", d.name, roundDuration(took), d.addr)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitReady calls probe until it succeeds, wait has passed or ctx is done,
// pausing interval between attempts. It returns how long it waited and, on
// failure, the error of the last attempt.
func waitReady(ctx context.Context, probe func(context.Context) error, wait, interval time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var lastErr error
	for {
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, attemptTimeout)
		err := probe(attemptCtx)
		cancelAttempt()
		if err == nil {
			return time.Since(start), nil
		}
		// An attempt cut short by the end of the wait says less than the
		// one before it ("connection refused").
		cutShort := ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
		if lastErr == nil || !cutShort {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return time.Since(start), lastErr
		case <-time.After(interval):
		}
	}
}

// roundDuration shortens d for people: milliseconds below a second, tenths
// of a second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// kafkaProbe produces a record with a random value to its topic and fetches
// that very record back, which proves that the broker, its metadata and its
// log all work. The topic is created when missing.
type kafkaProbe struct {
	cfg        kafkax.Config
	topic      string
	cl         *kgo.Client // producer, created by the first attempt
	topicReady bool
}

var _ prober = (*kafkaProbe)(nil)

func (p *kafkaProbe) Probe(ctx context.Context) error {
	if p.cl == nil {
		cl, err := kafkax.NewClient(p.cfg, nil, "")
		if err != nil {
			return err
		}
		p.cl = cl
	}
	// A ping reports why a broker cannot be reached; a produce would only
	// report that its context expired.
	if err := kafkax.Check(p.cl)(ctx); err != nil {
		return err
	}
	if !p.topicReady {
		if err := ensureTopic(ctx, kadm.NewClient(p.cl), p.topic); err != nil {
			return err
		}
		p.topicReady = true
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return fmt.Errorf("random record value: %w", err)
	}
	rec := &kgo.Record{Topic: p.topic, Value: []byte(hex.EncodeToString(token))}
	if err := p.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", p.topic, err)
	}
	return fetchRecord(ctx, p.cfg, rec)
}

func (p *kafkaProbe) Close() error {
	if p.cl != nil {
		p.cl.Close()
	}
	return nil
}

// ensureTopic creates topic with one partition and the broker's default
// replication factor unless it exists.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	_, err := adm.CreateTopic(ctx, 1, -1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// fetchRecord reads the partition of the produced record from its offset and
// fails unless the record there has the same value.
func fetchRecord(ctx context.Context, cfg kafkax.Config, want *kgo.Record) error {
	cl, err := kafkax.NewClient(cfg, nil, "", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		want.Topic: {want.Partition: kgo.NewOffset().At(want.Offset)},
	}))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fetch %s/%d@%d: %w", want.Topic, want.Partition, want.Offset, err)
		}
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			fetchErr = fmt.Errorf("fetch %s/%d: %w", topic, partition, err)
		})
		if fetchErr != nil {
			return fetchErr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Offset != want.Offset {
				continue
			}
			if !bytes.Equal(r.Value, want.Value) {
				return fmt.Errorf("fetch %s/%d@%d: got value %q, produced %q", want.Topic, want.Partition, want.Offset, r.Value, want.Value)
			}
			return nil
		}
	}
}

// natsProbe connects on its first successful attempt and then asks
// JetStream for the account info.
type natsProbe struct {
	cfg natsx.Config
	nc  *nats.Conn
	js  jetstream.JetStream
}

var _ prober = (*natsProbe)(nil)

func (p *natsProbe) Probe(ctx context.Context) error {
	if p.nc == nil {
		nc, err := natsx.Connect(p.cfg, checkClientName, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return fmt.Errorf("jetstream: %w", err)
		}
		p.nc, p.js = nc, js
	}
	return natsx.Check(p.nc, p.js)(ctx)
}

func (p *natsProbe) Close() error {
	if p.nc != nil {
		p.nc.Close()
	}
	return nil
}

// redisProbe sends PING.
type redisProbe struct{ cl *redis.Client }

var _ prober = (*redisProbe)(nil)

func (p *redisProbe) Probe(ctx context.Context) error { return redisx.Check(p.cl)(ctx) }

func (p *redisProbe) Close() error {
	if err := p.cl.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}

// discardRedisLog drops go-redis's internal log lines.
type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// clickhouseProbe runs SELECT 1.
type clickhouseProbe struct{ conn driver.Conn }

var _ prober = (*clickhouseProbe)(nil)

func (p *clickhouseProbe) Probe(ctx context.Context) error { return chx.Check(p.conn)(ctx) }

func (p *clickhouseProbe) Close() error {
	if err := p.conn.Close(); err != nil {
		return fmt.Errorf("close clickhouse connection: %w", err)
	}
	return nil
}
