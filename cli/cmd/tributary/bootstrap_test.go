package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
)

func TestParseBootstrapFlags(t *testing.T) {
	env := map[string]string{
		"TRIBUTARY_KAFKA_BROKERS":          "k1:9092,k2:9092",
		"TRIBUTARY_KAFKA_TOPIC_PARTITIONS": "7",
		"TRIBUTARY_NATS_KV_HISTORY":        "12",
		"TRIBUTARY_NATS_REPLICAS":          "5", // the flag wins
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o, err := parseBootstrapFlags([]string{"-nats.replicas=3", "-kafka.dlq.retention=24h", "-nats.stream.max-age=1h"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := bootstrapOptions{
		topics:    kafkax.TopicsConfig{Partitions: 7, ReplicationFactor: -1, Retention: 168 * time.Hour, DLQRetention: 24 * time.Hour},
		jetstream: natsx.BootstrapConfig{Replicas: 3, StreamMaxAge: time.Hour, Storage: "file", KVHistory: 12},
	}
	if o.topics != want.topics || o.jetstream != want.jetstream {
		t.Errorf("parsed topics %+v, jetstream %+v; want %+v, %+v", o.topics, o.jetstream, want.topics, want.jetstream)
	}
	if o.kafka.Brokers != "k1:9092,k2:9092" || o.kafka.ClientID != bootstrapClientName || o.nats.URL != "nats://127.0.0.1:4222" {
		t.Errorf("parsed kafka %+v, nats %+v", o.kafka, o.nats)
	}
}

func TestBootstrapCommandErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad replicas", []string{"bootstrap", "-nats.replicas=0"}, 1, "nats.replicas"},
		{"bad partitions", []string{"bootstrap", "-kafka.topic.partitions=0"}, 1, "kafka.topic.partitions"},
		{"bad storage", []string{"bootstrap", "-nats.storage=disk"}, 1, "nats.storage"},
		{"bad brokers", []string{"bootstrap", "-kafka.brokers=nohost"}, 1, "kafka.brokers"},
		{"extra argument", []string{"bootstrap", "now"}, 1, "unexpected arguments"},
		{"help", []string{"bootstrap", "-h"}, 0, "Usage: tributary bootstrap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestBootstrapCommand bootstraps the real Kafka and nats-server with
// prefixed names, so as not to touch the platform's own topics and streams,
// and checks what the command prints on the first and the second run.
func TestBootstrapCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real Kafka and nats-server; skipped with -short")
	}
	o, err := parseBootstrapFlags(nil, os.LookupEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("test_cli_%d_", time.Now().UnixNano())
	o.topics.NamePrefix = prefix
	o.jetstream.Prefix = prefix
	cleanupBootstrap(t, o, prefix)
	logger := slog.New(slog.DiscardHandler)
	ctx := context.Background()

	var out bytes.Buffer
	start := time.Now()
	if err := bootstrap(ctx, o, &out, logger); err != nil {
		t.Fatalf("first bootstrap (kafka %s, nats %s; set TRIBUTARY_KAFKA_BROKERS and TRIBUTARY_NATS_URL): %v\n%s", o.kafka.Brokers, o.nats.URL, err, out.String())
	}
	t.Logf("first bootstrap: %v", time.Since(start))
	assertLines(t, "first bootstrap", out.String(), []string{
		"kafka topic " + prefix + "tributary.labels created (3 partitions)",
		"kafka topic " + prefix + "tributary.predictions created (3 partitions)",
		"kafka topic " + prefix + "tributary.dlq created (3 partitions)",
		"nats stream " + prefix + "TRIBUTARY created",
		"nats kv " + prefix + "tributary_models created",
		"nats kv " + prefix + "tributary_features created",
		"nats kv " + prefix + "tributary_jobs created",
		"nats kv " + prefix + "tributary_schemas created",
		"nats object store " + prefix + "tributary_artifacts created",
		"bootstrap done in",
	})

	out.Reset()
	start = time.Now()
	if err := bootstrap(ctx, o, &out, logger); err != nil {
		t.Fatalf("second bootstrap: %v\n%s", err, out.String())
	}
	t.Logf("second bootstrap: %v", time.Since(start))
	assertLines(t, "second bootstrap", out.String(), []string{
		"kafka topic " + prefix + "tributary.labels exists (3 partitions)",
		"kafka topic " + prefix + "tributary.predictions exists (3 partitions)",
		"kafka topic " + prefix + "tributary.dlq exists (3 partitions)",
		"nats stream " + prefix + "TRIBUTARY unchanged",
		"nats kv " + prefix + "tributary_models unchanged",
		"nats kv " + prefix + "tributary_features unchanged",
		"nats kv " + prefix + "tributary_jobs unchanged",
		"nats kv " + prefix + "tributary_schemas unchanged",
		"nats object store " + prefix + "tributary_artifacts unchanged",
		"bootstrap done in",
	})

	// Other settings: topics are left alone with a warning, JetStream is
	// updated.
	o.topics.Partitions = 5
	o.jetstream.KVHistory = 20
	out.Reset()
	if err := bootstrap(ctx, o, &out, logger); err != nil {
		t.Fatalf("third bootstrap: %v\n%s", err, out.String())
	}
	assertLines(t, "bootstrap with other settings", out.String(), []string{
		"kafka topic " + prefix + "tributary.labels exists (3 partitions)",
		"warning: topic " + prefix + "tributary.labels has 3 partitions, not the 5 configured; left unchanged",
		"kafka topic " + prefix + "tributary.predictions exists (3 partitions)",
		"warning: topic " + prefix + "tributary.predictions has 3 partitions, not the 5 configured; left unchanged",
		"kafka topic " + prefix + "tributary.dlq exists (3 partitions)",
		"warning: topic " + prefix + "tributary.dlq has 3 partitions, not the 5 configured; left unchanged",
		"nats stream " + prefix + "TRIBUTARY unchanged",
		"nats kv " + prefix + "tributary_models updated (history)",
		"nats kv " + prefix + "tributary_features updated (history)",
		"nats kv " + prefix + "tributary_jobs updated (history)",
		"nats kv " + prefix + "tributary_schemas updated (history)",
		"nats object store " + prefix + "tributary_artifacts unchanged",
		"bootstrap done in",
	})
}

// assertLines compares the printed lines, with runs of blanks squeezed, to
// the wanted prefixes.
func assertLines(t *testing.T, what, out string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%s printed %d lines, want %d:\n%s", what, len(lines), len(want), out)
	}
	for i, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); !strings.HasPrefix(l, want[i]) {
			t.Errorf("%s line %d = %q, want %q", what, i+1, l, want[i])
		}
	}
}

// cleanupBootstrap deletes the prefixed topics and streams at the end.
func cleanupBootstrap(t *testing.T, o bootstrapOptions, prefix string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if cl, err := kafkax.NewClient(o.kafka, nil, ""); err == nil {
			adm := kadm.NewClient(cl)
			var topics []string
			for _, s := range kafkax.PlatformTopics(o.topics) {
				topics = append(topics, s.Name)
			}
			if _, err := adm.DeleteTopics(ctx, topics...); err != nil {
				t.Errorf("delete test topics: %v", err)
			}
			cl.Close()
		}
		nc, err := nats.Connect(o.nats.URL)
		if err != nil {
			return // the test failed on it already
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Error(err)
			return
		}
		for _, name := range []string{prefix + natsx.StreamName, "KV_" + prefix + natsx.BucketModels,
			"KV_" + prefix + natsx.BucketFeatures, "KV_" + prefix + natsx.BucketJobs,
			"KV_" + prefix + natsx.BucketSchemas, "OBJ_" + prefix + natsx.ObjectStoreArtifacts} {
			if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete test stream %s: %v", name, err)
			}
		}
	})
}
