package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
)

type datasetsOptions struct {
	nats      natsx.Config
	features  string
	labels    string
	start     string
	end       string
	requestID string
	out       string
	timeout   time.Duration
}

const datasetsUsage = `Usage: tributary datasets build -features view:f1,view:f2 -labels STREAM -start T -end T [-out FILE]

Asks the features service for a point-in-time-correct training set: the
labels of STREAM with event times in [start, end) (RFC 3339), each joined with
the features as they were at the label's time. It publishes
tributary.dataset.requested.v1 and waits for the answer: on
tributary.dataset.ready.v1 it prints it as JSON and, with -out, downloads the
Parquet file from the object store; on tributary.dataset.failed.v1 it prints
the reason and the message and exits with code 1.
Flags can also be set with their TRIBUTARY_* environment variables.
`

func parseDatasetsFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (datasetsOptions, error) {
	var o datasetsOptions
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(output, datasetsUsage)
		return o, flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprint(output, datasetsUsage)
		return o, errors.New("missing action: build")
	}
	fs := flag.NewFlagSet("datasets build", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, datasetsUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.nats.RegisterFlags(fs)
	fs.StringVar(&o.features, "features", "", "Comma-separated feature references view:feature, in column order.")
	fs.StringVar(&o.labels, "labels", "", "Label stream whose labels are the rows.")
	fs.StringVar(&o.start, "start", "", "Start of the label time range (RFC 3339, inclusive).")
	fs.StringVar(&o.end, "end", "", "End of the label time range (RFC 3339, exclusive).")
	fs.StringVar(&o.requestID, "request-id", "", "Request id (default: a new one); repeating one returns the same set.")
	fs.StringVar(&o.out, "out", "", "Write the Parquet file here.")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "Give up waiting after this long.")
	if err := service.ParseFlags(fs, args[1:], lookupEnv); err != nil {
		return o, err
	}
	if err := o.nats.Validate(); err != nil {
		return o, err
	}
	switch {
	case o.features == "":
		return o, errors.New("-features: missing")
	case o.labels == "":
		return o, errors.New("-labels: missing")
	case o.timeout <= 0:
		return o, errors.New("-timeout: must be positive")
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

func runDatasets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseDatasetsFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	start, err := time.Parse(time.RFC3339Nano, o.start)
	if err != nil {
		return fmt.Errorf("-start: %q is not RFC 3339", o.start)
	}
	end, err := time.Parse(time.RFC3339Nano, o.end)
	if err != nil {
		return fmt.Errorf("-end: %q is not RFC 3339", o.end)
	}
	if !end.After(start) {
		return errors.New("-end: must be after -start")
	}
	if o.requestID == "" {
		o.requestID = fmt.Sprintf("cli-%d", time.Now().UnixNano())
	}
	req := event.DatasetRequested{RequestID: o.requestID, Features: strings.Split(o.features, ","), LabelStream: o.labels, Start: start.UTC(), End: end.UTC()}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	nc, err := natsx.Connect(o.nats, "tributary-cli", slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	readySubject, _ := event.Subject(event.TypeDatasetReady)
	failedSubject, _ := event.Subject(event.TypeDatasetFailed)
	// One subscription for both answers, made before the request is sent.
	sub, err := nc.SubscribeSync("tributary.dataset.*")
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", readySubject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	e := ce.New()
	e.SetID(o.requestID)
	e.SetSource("/tributary/cli")
	e.SetType(event.TypeDatasetRequested)
	e.SetTime(time.Now().UTC())
	if err := e.SetData(ce.ApplicationJSON, req); err != nil {
		return err
	}
	subject, _ := event.Subject(event.TypeDatasetRequested)
	msg, err := event.ToNATSMsg(e, subject)
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish dataset request: %w", err)
	}
	fmt.Fprintf(stderr, "requested %s, waiting for the features service\n", o.requestID)
	ready, err := awaitDataset(ctx, sub, o.requestID, readySubject, failedSubject)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ready); err != nil {
		return err
	}
	if o.out == "" {
		return nil
	}
	obj, err := js.ObjectStore(ctx, ready.Bucket)
	if err != nil {
		return fmt.Errorf("object store %s: %w", ready.Bucket, err)
	}
	if err := obj.GetFile(ctx, ready.ObjectName, o.out); err != nil {
		return fmt.Errorf("download %s: %w", ready.ObjectName, err)
	}
	fmt.Fprintf(stderr, "wrote %s (%d rows)\n", o.out, ready.RowCount)
	return nil
}

// ErrDatasetFailed reports a tributary.dataset.failed.v1 answer.
var ErrDatasetFailed = errors.New("dataset failed")

// awaitDataset waits for the answer to requestID on sub: the DatasetReady,
// or an error wrapping ErrDatasetFailed with the reason and message of a
// DatasetFailed.
func awaitDataset(ctx context.Context, sub *nats.Subscription, requestID, readySubject, failedSubject string) (event.DatasetReady, error) {
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return event.DatasetReady{}, fmt.Errorf("wait for the answer to %s (is the features service running?): %w", requestID, err)
		}
		if m.Subject != readySubject && m.Subject != failedSubject {
			continue
		}
		re, err := event.FromNATSMsg(m)
		if err != nil {
			continue
		}
		switch re.Type() {
		case event.TypeDatasetReady:
			var ready event.DatasetReady
			if json.Unmarshal(re.Data(), &ready) == nil && ready.RequestID == requestID {
				return ready, nil
			}
		case event.TypeDatasetFailed:
			var failed event.DatasetFailed
			if json.Unmarshal(re.Data(), &failed) == nil && failed.RequestID == requestID {
				return event.DatasetReady{}, fmt.Errorf("%w: %s: %s: %s", ErrDatasetFailed, requestID, failed.Reason, failed.Message)
			}
		}
	}
}
