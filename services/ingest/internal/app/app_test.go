package app

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func parse(t *testing.T, args ...string) (*Config, error) {
	t.Helper()
	var cfg Config
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &cfg, cfg.Validate()
}

func TestConfigFlags(t *testing.T) {
	var cfg Config
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	for _, name := range []string{
		"kafka.brokers",
		"nats.url",
	} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag -%s not registered", name)
		}
	}
	for _, name := range []string{
		"redis.addr",
		"clickhouse.addr",
	} {
		if fs.Lookup(name) != nil {
			t.Errorf("flag -%s registered, but ingest does not use it", name)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := parse(t); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	if _, err := parse(t, "-streams.dir=../../../../schemas/streams", "-auth.disabled"); err != nil {
		t.Fatalf("the repository's streams: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"kafka.brokers", []string{"-kafka.brokers=nocolon"}, "kafka.brokers"},
		{"nats.url", []string{"-nats.url="}, "nats.url"},
		{"http.max-batch", []string{"-http.max-batch=0"}, "http.max-batch"},
		{"http.max-in-flight", []string{"-http.max-in-flight=0"}, "http.max-in-flight"},
		{"events.max-event-bytes", []string{"-events.max-event-bytes=0"}, "events.max-event-bytes"},
		{"events.max-future", []string{"-events.max-future=0s"}, "events.max-future"},
		{"produce.timeout", []string{"-produce.timeout=0s"}, "produce.timeout"},
		{"produce.max-buffered-bytes", []string{"-produce.max-buffered-bytes=1000"}, "produce.max-buffered-bytes"},
		{"dedup.window", []string{"-dedup.window=-1s"}, "dedup.window"},
		{"raw.group", []string{"-raw.group="}, "raw.group"},
		{"auth.keys", []string{"-auth.keys=nope"}, "auth.keys"},
		{"streams.dir missing", []string{"-streams.dir=/nonexistent"}, "streams.dir"},
		{"streams.dir invalid", []string{"-streams.dir=testdata/badstreams"}, "bad.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %s, got %v", tc.want, err)
			}
		})
	}
}
