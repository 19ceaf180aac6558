package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/streamspec"
)

type featuresOptions struct {
	nats    natsx.Config
	url     string
	output  string
	bucket  string
	schemas string
	timeout time.Duration
	action  string
	args    []string
}

const featuresUsage = `Usage: tributary features apply FILE...       check feature definitions (YAML) and store their views in the KV bucket
       tributary features list                 list the applied feature views and their versions
       tributary features get VIEW ENTITY...   read the online features of entities (features service)

A definition file (schemas/features/, services/features/README.md) declares
entities, sources and feature views. Each view is stored under view.<name>,
versioned by the sha256 of its canonical form; a view whose version did not
change is left alone. The features service picks changes up without a
restart. get reads GET /v1/features/VIEW/ENTITY on -features.url: each
feature's value now and the time of the newest event it includes (null for
an unknown or expired entity). Flags go before or after the action (before
the files; "--" ends them); each can also be set with its TRIBUTARY_*
environment variable.
`

func parseFeaturesFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (featuresOptions, error) {
	var o featuresOptions
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, featuresUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.nats.RegisterFlags(fs)
	fs.StringVar(&o.bucket, "bucket", natsx.BucketFeatures, "KV bucket of the feature definitions.")
	fs.StringVar(&o.schemas, "schemas-bucket", natsx.BucketSchemas, "KV bucket of the stream definitions each source is checked against (entity key, event time, field names and types).")
	registerServiceURL(fs, &o.url, "features")
	fs.StringVar(&o.output, "o", "table", "list, get: output, table or json.")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "Give up after this long.")
	action, rest, err := parseActionFlags(fs, args, lookupEnv)
	if err != nil {
		return featuresOptions{}, err
	}
	if o.url, err = checkServiceURL("features", o.url); err != nil {
		return featuresOptions{}, err
	}
	if o.output != "table" && o.output != "json" {
		return featuresOptions{}, fmt.Errorf("-o %q: want table or json", o.output)
	}
	if err := o.nats.Validate(); err != nil {
		return featuresOptions{}, err
	}
	if action == "" {
		fs.Usage()
		return featuresOptions{}, errors.New("missing action: apply, list or get")
	}
	o.action, o.args = action, rest
	switch o.action {
	case "apply":
		if len(o.args) == 0 {
			return featuresOptions{}, errors.New("apply: missing FILE")
		}
	case "list":
		if len(o.args) > 0 {
			return featuresOptions{}, fmt.Errorf("list: unexpected arguments %q", o.args)
		}
	case "get":
		if len(o.args) < 2 {
			return featuresOptions{}, errors.New("get: want VIEW and at least one ENTITY")
		}
	default:
		return featuresOptions{}, fmt.Errorf("unknown action %q: apply, list or get", o.action)
	}
	if o.timeout <= 0 {
		return featuresOptions{}, errors.New("-timeout: must be positive")
	}
	return o, nil
}

// parseActionFlags parses "[FLAGS] ACTION [FLAGS] [ARGS]": the flags before
// the action (with their environment fallbacks), the action, then the flags
// that follow it, so that "apply -h" prints the help (flag.ErrHelp) instead
// of taking "-h" for a file name. The arguments start at the first one that
// is not a flag, or after "--" (a file whose name starts with "-").
func parseActionFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) (action string, rest []string, err error) {
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return "", nil, err
	}
	if fs.NArg() == 0 {
		return "", nil, nil
	}
	action = fs.Arg(0)
	// Flags given after the action are on the command line: they win over
	// the environment, as those before it do.
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", nil, err
	}
	return action, fs.Args(), nil
}

// readFeatureFiles parses every file before anything is stored: all or
// nothing; a view defined in two files is an error.
func readFeatureFiles(paths []string) ([]featurespec.View, error) {
	var views []featurespec.View
	seen := map[string]string{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		vs, err := featurespec.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, v := range vs {
			if prev, dup := seen[v.Name]; dup {
				return nil, fmt.Errorf("%s: view %s is also defined in %s", path, v.Name, prev)
			}
			seen[v.Name] = path
		}
		views = append(views, vs...)
	}
	return views, nil
}

func runFeatures(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFeaturesFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	if o.action == "get" {
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		return getFeatures(ctx, serviceHTTP{name: "features", base: o.url, hc: http.DefaultClient}, o, stdout)
	}
	var views []featurespec.View
	if o.action == "apply" {
		if views, err = readFeatureFiles(o.args); err != nil {
			return err
		}
	}
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
	kv, err := js.KeyValue(ctx, o.bucket)
	if err != nil {
		return fmt.Errorf("kv bucket %s (run tributary bootstrap first): %w", o.bucket, err)
	}
	if o.action == "list" {
		return listFeatures(ctx, kv, o.output, stdout)
	}
	if err := checkStreams(ctx, js, o.schemas, views, stderr); err != nil {
		return err
	}
	applied, err := featurespec.Apply(ctx, kv, views, time.Now())
	for _, a := range applied {
		fmt.Fprintf(stdout, "view %s %s (version %s)\n", a.View, a.Action, a.Version[:12])
	}
	return err
}

// featureViewRow is one applied view, as list prints it.
type featureViewRow struct {
	View     string `json:"view"`
	Version  string `json:"version,omitempty"`
	Stream   string `json:"stream,omitempty"`
	Features int    `json:"features"`
	Error    string `json:"error,omitempty"` // a definition that does not parse
}

func listFeatures(ctx context.Context, kv jetstream.KeyValue, output string, stdout io.Writer) error {
	lister, err := kv.ListKeys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("list views: %w", err)
	}
	var keys []string
	if lister != nil {
		for k := range lister.Keys() {
			if featurespec.IsViewKey(k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	rows := []featureViewRow{}
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", k, err)
		}
		v, err := featurespec.FromEntry(k, e.Value())
		if err != nil {
			rows = append(rows, featureViewRow{View: strings.TrimPrefix(k, featurespec.KeyPrefix), Error: err.Error()})
			continue
		}
		rows = append(rows, featureViewRow{View: v.Name, Version: v.Version, Stream: v.Source.Stream, Features: len(v.Features)})
	}
	return render(stdout, output, rows, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "VIEW\tVERSION\tSTREAM\tFEATURES\tSTATUS")
		for _, r := range rows {
			if r.Error != "" {
				fmt.Fprintf(tw, "%s\t\t\t\tinvalid: %s\n", r.View, r.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\tok\n", r.View, short(r.Version), r.Stream, r.Features)
		}
	})
}

// checkStreams checks each view's source against its stream's definition in
// the schemas bucket; a stream not there (defined by files only) is
// reported and not checked.
func checkStreams(ctx context.Context, js jetstream.JetStream, bucket string, views []featurespec.View, stderr io.Writer) error {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		fmt.Fprintf(stderr, "warning: stream definitions not checked: kv bucket %s: %v\n", bucket, err)
		return nil
	}
	for _, v := range views {
		e, err := kv.Get(ctx, v.Source.Stream)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			fmt.Fprintf(stderr, "warning: view %s: stream %s is not in bucket %s: its fields are not checked\n", v.Name, v.Source.Stream, bucket)
			continue
		}
		if err != nil {
			return fmt.Errorf("read stream %s: %w", v.Source.Stream, err)
		}
		s, err := streamspec.Parse(e.Value())
		if err != nil {
			return fmt.Errorf("stream %s in bucket %s: %w", v.Source.Stream, bucket, err)
		}
		if err := featurespec.CheckStream(v, featurespec.StreamInfo{Name: s.Name, EntityKey: s.EntityKey, EventTime: s.EventTime, Schema: s.Schema}); err != nil {
			return err
		}
	}
	return nil
}

// onlineRead is the features service's answer to GET
// /v1/features/{view}/{entity}.
type onlineRead struct {
	View    string    `json:"view"`
	Version string    `json:"version"`
	Entity  string    `json:"entity"`
	AsOf    time.Time `json:"as_of"`
	Values  map[string]struct {
		Value     any        `json:"value"`
		EventTime *time.Time `json:"event_time"`
	} `json:"values"`
}

// getFeatures reads the view's online features of each entity.
func getFeatures(ctx context.Context, c serviceHTTP, o featuresOptions, stdout io.Writer) error {
	view, entities := o.args[0], o.args[1:]
	reads := make([]onlineRead, 0, len(entities))
	for _, e := range entities {
		var r onlineRead
		if _, err := c.call(ctx, http.MethodGet, "/v1/features/"+url.PathEscape(view)+"/"+url.PathEscape(e), nil, &r); err != nil {
			return err
		}
		reads = append(reads, r)
	}
	return render(stdout, o.output, reads, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ENTITY\tFEATURE\tVALUE\tNEWEST EVENT")
		for _, r := range reads {
			names := make([]string, 0, len(r.Values))
			for k := range r.Values {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				v := r.Values[k]
				value, at := "null", "-"
				if v.Value != nil {
					value = fmt.Sprint(v.Value)
				}
				if v.EventTime != nil {
					at = v.EventTime.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(w, "%s\t%s:%s\t%s\t%s\n", r.Entity, r.View, k, value, at)
			}
		}
	})
}
