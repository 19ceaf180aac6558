package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
)

// bootstrapClientName identifies the bootstrap's connections on the servers.
const bootstrapClientName = "tributary-bootstrap"

// bootstrapOptions is the configuration of the bootstrap command.
type bootstrapOptions struct {
	kafka     kafkax.Config
	topics    kafkax.TopicsConfig
	nats      natsx.Config
	jetstream natsx.BootstrapConfig
	timeout   time.Duration
}

// parseBootstrapFlags parses the command line of the bootstrap command.
func parseBootstrapFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (bootstrapOptions, error) {
	var o bootstrapOptions
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintln(output, "Usage: tributary bootstrap [-timeout 2m] [kafka flags] [nats flags]")
		fmt.Fprintln(output)
		fmt.Fprintln(output, "Creates what the platform needs on Kafka and NATS, unless it exists: the topics")
		fmt.Fprintln(output, "tributary.labels, tributary.predictions and tributary.dlq; the JetStream stream")
		fmt.Fprintln(output, "TRIBUTARY, the KV buckets and the object store. Existing topics are never")
		fmt.Fprintln(output, "altered (a different partition count is reported); JetStream resources are")
		fmt.Fprintln(output, "updated to the flags. Safe to run again and from several places at once.")
		fmt.Fprintln(output, "Every flag can also be set with its TRIBUTARY_* environment variable")
		fmt.Fprintln(output, "(kafka.brokers: TRIBUTARY_KAFKA_BROKERS).")
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.kafka.RegisterFlags(fs)
	o.topics.RegisterFlags(fs)
	o.nats.RegisterFlags(fs)
	o.jetstream.RegisterFlags(fs)
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "Give up after this long.")
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return bootstrapOptions{}, err
	}
	if fs.NArg() > 0 {
		return bootstrapOptions{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.kafka.ClientID == "" {
		o.kafka.ClientID = bootstrapClientName
	}
	for _, v := range []interface{ Validate() error }{o.kafka, o.topics, o.nats, o.jetstream} {
		if err := v.Validate(); err != nil {
			return bootstrapOptions{}, err
		}
	}
	if o.timeout <= 0 {
		return bootstrapOptions{}, errors.New("-timeout: must be positive")
	}
	return o, nil
}

// runBootstrap is the bootstrap command.
func runBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseBootstrapFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return bootstrap(ctx, o, stdout, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// bootstrap ensures the Kafka topics, then the JetStream resources, and
// prints one line per resource.
func bootstrap(ctx context.Context, o bootstrapOptions, stdout io.Writer, logger *slog.Logger) error {
	start := time.Now()
	cl, err := kafkax.NewClient(o.kafka, nil, "")
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := kafkax.Check(cl)(ctx); err != nil {
		return fmt.Errorf("kafka at %s: %w", o.kafka.Brokers, err)
	}
	topics, err := kafkax.EnsureTopics(ctx, kadm.NewClient(cl), kafkax.PlatformTopics(o.topics)...)
	if err != nil {
		return fmt.Errorf("kafka topics at %s: %w", o.kafka.Brokers, err)
	}
	for _, t := range topics {
		what := "exists"
		if t.Created {
			what = "created"
		}
		fmt.Fprintf(stdout, "kafka topic %-24s %s (%d partitions)\n", t.Name, what, t.Partitions)
		if t.Warning != "" {
			fmt.Fprintf(stdout, "  warning: %s\n", t.Warning)
		}
	}

	nc, err := natsx.Connect(o.nats, bootstrapClientName, logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	resources, err := natsx.Bootstrap(ctx, js, o.jetstream)
	// Print what was done before the resource that failed, if one did.
	for _, r := range resources {
		line := fmt.Sprintf("nats %-12s %-24s %s", r.Kind, r.Name, r.Action)
		if r.Action == natsx.Updated {
			line += " (" + strings.Join(r.Changed, ", ") + ")"
		}
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		return fmt.Errorf("jetstream at %s: %w", o.nats.URL, err)
	}
	fmt.Fprintf(stdout, "bootstrap done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}
