package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/streamspec"
)

// streamsOptions is the configuration of the streams command.
type streamsOptions struct {
	nats    natsx.Config
	output  string
	bucket  string
	timeout time.Duration
	action  string
	args    []string
}

const streamsUsage = `Usage: tributary streams apply FILE...   check stream definitions and put them into the KV bucket
       tributary streams list             list the stream definitions in the KV bucket
       tributary streams delete NAME...   delete stream definitions from the KV bucket

A stream definition (schemas/streams/README.md) maps a CloudEvents type to the
topic tributary.events.<name>, the JSON Schema of its data and its entity-key
and event-time fields. The ingest service watches the bucket: an applied
stream is live within a second, without a restart. Flags go before or after
the action (before the files; "--" ends them); each can also be set with its
TRIBUTARY_* environment variable.
`

func parseStreamsFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (streamsOptions, error) {
	var o streamsOptions
	fs := flag.NewFlagSet("streams", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, streamsUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.nats.RegisterFlags(fs)
	fs.StringVar(&o.bucket, "bucket", natsx.BucketSchemas, "KV bucket of the stream definitions.")
	fs.StringVar(&o.output, "o", "table", "list: output, table or json.")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "Give up after this long.")
	action, rest, err := parseActionFlags(fs, args, lookupEnv)
	if err != nil {
		return streamsOptions{}, err
	}
	if o.output != "table" && o.output != "json" {
		return streamsOptions{}, fmt.Errorf("-o %q: want table or json", o.output)
	}
	if err := o.nats.Validate(); err != nil {
		return streamsOptions{}, err
	}
	if action == "" {
		fs.Usage()
		return streamsOptions{}, errors.New("missing action: apply, list or delete")
	}
	o.action, o.args = action, rest
	switch o.action {
	case "apply", "delete":
		if len(o.args) == 0 {
			return streamsOptions{}, fmt.Errorf("%s: missing argument", o.action)
		}
	case "list":
		if len(o.args) > 0 {
			return streamsOptions{}, fmt.Errorf("list: unexpected arguments %q", o.args)
		}
	default:
		return streamsOptions{}, fmt.Errorf("unknown action %q: apply, list or delete", o.action)
	}
	if o.timeout <= 0 {
		return streamsOptions{}, errors.New("-timeout: must be positive")
	}
	return o, nil
}

// runStreams is the streams command.
func runStreams(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseStreamsFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	// Check every file before touching the bucket: all or nothing.
	var defs []*streamspec.Stream
	var raws [][]byte
	if o.action == "apply" {
		for _, path := range o.args {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s, err := streamspec.Parse(b)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			defs, raws = append(defs, s), append(raws, b)
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
	switch o.action {
	case "apply":
		if err := checkConflicts(ctx, kv, defs); err != nil {
			return err
		}
		for i, s := range defs {
			rev, err := kv.Put(ctx, s.Name, raws[i])
			if err != nil {
				return fmt.Errorf("put stream %s: %w", s.Name, err)
			}
			fmt.Fprintf(stdout, "stream %s applied (type %s, topic %s, revision %d)\n", s.Name, s.Type, s.Topic, rev)
		}
	case "delete":
		for _, name := range o.args {
			if _, err := kv.Get(ctx, name); err != nil {
				return fmt.Errorf("stream %s: %w", name, err)
			}
			if err := kv.Delete(ctx, name); err != nil {
				return fmt.Errorf("delete stream %s: %w", name, err)
			}
			fmt.Fprintf(stdout, "stream %s deleted\n", name)
		}
	case "list":
		return listStreams(ctx, kv, o.output, stdout)
	}
	return nil
}

// checkConflicts refuses definitions whose name or type clashes with each
// other or whose type is the type of another stream in the bucket: the
// ingest service would refuse them (one stream per type), and the user
// is better told here. A race with another apply is still possible; the
// service refuses the loser then, with an error log.
func checkConflicts(ctx context.Context, kv jetstream.KeyValue, defs []*streamspec.Stream) error {
	owner := map[string]string{} // type: stream name
	names := map[string]bool{}
	for _, s := range defs {
		if names[s.Name] {
			return fmt.Errorf("stream %s is given twice", s.Name)
		}
		names[s.Name] = true
		if other, ok := owner[s.Type]; ok {
			return fmt.Errorf("streams %s and %s have the same type %s", other, s.Name, s.Type)
		}
		owner[s.Type] = s.Name
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	for key := range lister.Keys() {
		if names[key] {
			continue // replaced by this apply
		}
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue // deleted meanwhile
		}
		existing, err := streamspec.Parse(e.Value())
		if err != nil {
			continue // not live either
		}
		if name, ok := owner[existing.Type]; ok {
			return fmt.Errorf("stream %s: type %s is already the type of stream %s (delete it first, or give %s a new type)", name, existing.Type, key, name)
		}
	}
	return nil
}

// streamRow is one stream definition, as list prints it.
type streamRow struct {
	Name     string `json:"name"`
	Type     string `json:"type,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Revision uint64 `json:"revision"`
	Error    string `json:"error,omitempty"` // a definition that does not parse
}

func listStreams(ctx context.Context, kv jetstream.KeyValue, output string, stdout io.Writer) error {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	sort.Strings(names)
	rows := []streamRow{}
	for _, name := range names {
		e, err := kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("get stream %s: %w", name, err)
		}
		s, err := streamspec.Parse(e.Value())
		if err != nil {
			rows = append(rows, streamRow{Name: name, Revision: e.Revision(), Error: err.Error()})
			continue
		}
		rows = append(rows, streamRow{Name: name, Type: s.Type, Topic: s.Topic, Revision: e.Revision()})
	}
	return render(stdout, output, rows, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "NAME\tTYPE\tTOPIC\tREVISION\tSTATUS")
		for _, r := range rows {
			if r.Error != "" {
				fmt.Fprintf(tw, "%s\t\t\t%d\tinvalid: %s\n", r.Name, r.Revision, r.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\tok\n", r.Name, r.Type, r.Topic, r.Revision)
		}
	})
}
