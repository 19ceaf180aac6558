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
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"kafka.brokers", []string{"-kafka.brokers=nocolon"}, "kafka.brokers"},
		{"nats.url", []string{"-nats.url="}, "nats.url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %s, got %v", tc.want, err)
			}
		})
	}
}
