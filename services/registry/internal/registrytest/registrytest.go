// Package registrytest holds the fixtures of the registry's tests: JetStream
// on the real nats-server (TRIBUTARY_NATS_URL) with resources isolated by a
// prefix, an embedded nats-server that can be restarted on its store
// directory, a registry built on either, and valid registration requests.
package registrytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/registry/internal/lifecycle"
	"github.com/tributary-ml/tributary/services/registry/internal/registry"
	"github.com/tributary-ml/tributary/services/registry/internal/store"
)

// RandomID returns 12 random hex digits.
func RandomID(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// ModelName returns a model name unique to this test run.
func ModelName(t testing.TB) string {
	return "test-" + RandomID(t)
}

// Connect connects to url and returns the connection and JetStream.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to nats at %s (set TRIBUTARY_NATS_URL): %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// RealNATSURL is the URL of the real nats-server (testkit.NATSURL: skipped
// under -short, failing when TRIBUTARY_NATS_URL is unset or unreachable).
func RealNATSURL(t testing.TB) string {
	t.Helper()
	return testkit.NATSURL(t)
}

// Isolated bootstraps the platform's JetStream resources under a fresh
// prefix on js and deletes them at the end of the test. It returns the
// prefix.
func Isolated(t testing.TB, js jetstream.JetStream) string {
	t.Helper()
	prefix := "t" + RandomID(t) + "_"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream is not available (set TRIBUTARY_NATS_URL): %v", err)
	}
	cfg := natsx.BootstrapConfig{Replicas: 1, Storage: "file", KVHistory: 8, Prefix: prefix}
	if _, err := natsx.Bootstrap(ctx, js, cfg); err != nil {
		t.Fatalf("bootstrap with prefix %s: %v", prefix, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range []string{
			prefix + natsx.StreamName,
			"KV_" + prefix + natsx.BucketModels, "KV_" + prefix + natsx.BucketFeatures,
			"KV_" + prefix + natsx.BucketJobs, "KV_" + prefix + natsx.BucketSchemas,
			"OBJ_" + prefix + natsx.ObjectStoreArtifacts,
		} {
			if err := js.DeleteStream(ctx, s); err != nil && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "connection closed") {
				t.Logf("delete stream %s: %v", s, err)
			}
		}
	})
	return prefix
}

// Embedded is an embedded nats-server with JetStream on a store directory
// that survives Restart, on the same port, so that clients reconnect.
type Embedded struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// StartEmbedded starts an embedded nats-server with JetStream in a
// temporary directory; it is shut down at the end of the test.
func StartEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e := &Embedded{t: t, dir: t.TempDir(), port: server.RANDOM_PORT}
	e.start()
	e.port = e.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(e.Shutdown)
	return e
}

func (e *Embedded) start() {
	e.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir,
		SyncAlways: true, NoLog: true, NoSigs: true,
	})
	if err != nil {
		e.t.Fatalf("new embedded nats-server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		e.t.Fatal("embedded nats-server not ready after 10s")
	}
	e.srv = srv
}

// URL is the server's client URL.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server (idempotent).
func (e *Embedded) Shutdown() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.srv = nil
	}
}

// Restart stops the server and starts it again on the same directory and
// port.
func (e *Embedded) Restart() {
	e.t.Helper()
	e.Shutdown()
	e.start()
}

// NewRegistry opens the store under prefix on js and builds a registry with
// a publisher on it.
func NewRegistry(t testing.TB, js jetstream.JetStream, prefix string) (*registry.Registry, *store.Store) {
	t.Helper()
	return NewRegistryWith(t, js, prefix, prometheus.NewRegistry())
}

// NewRegistryWith is NewRegistry with the registry's metrics on reg.
func NewRegistryWith(t testing.TB, js jetstream.JetStream, prefix string, reg *prometheus.Registry) (*registry.Registry, *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, js, prefix)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub := lifecycle.NewPublisher(js, prefix, nil, logger, reg)
	return registry.New(st, pub, logger, reg), st
}

// Numeric is a small valid numeric distribution.
func Numeric() model.Distribution {
	return model.NewNumeric([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4)
}

// Request returns a valid registration of artifact a for modelName, whose
// feature view "txn" is at definition defVersion ("" for a model without
// feature definitions).
func Request(modelName string, a model.Artifact, defVersion string) model.RegisterRequest {
	l := model.Lineage{
		TrainingSetID:     "ds-1",
		TrainingSetSHA256: strings.Repeat("ab", 32),
		Features:          []string{"txn:amount_sum_1h", "txn:count_1h"},
		Trainer:           "go-logistic",
		CodeVersion:       "abc123",
		Params:            map[string]string{"l2": "0.1"},
		Metrics:           map[string]float64{"auc": 0.91},
		Reference: model.Reference{
			Features: map[string]model.Distribution{
				"txn:amount_sum_1h": Numeric(),
				"txn:count_1h":      Numeric(),
			},
			Prediction: Numeric(),
		},
		Trigger: event.TriggerManual,
	}
	if defVersion != "" {
		l.FeatureDefinitions = map[string]string{"txn": defVersion}
	}
	return model.RegisterRequest{Model: modelName, Format: "linear", Artifact: a, Lineage: l, Actor: "test"}
}

// PutBytes stores data as an artifact.
func PutBytes(t testing.TB, st *store.Store, data []byte) model.Artifact {
	t.Helper()
	a, err := st.PutArtifact(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("put artifact: %v", err)
	}
	return a
}

// Register stores an artifact with the given content and registers it.
func Register(t testing.TB, reg *registry.Registry, st *store.Store, modelName, content string) model.Version {
	t.Helper()
	a := PutBytes(t, st, []byte(content))
	v, err := reg.Register(context.Background(), Request(modelName, a, ""))
	if err != nil {
		t.Fatalf("register %s: %v", modelName, err)
	}
	return v
}

// Events returns the events on the prefixed stream whose CloudEvents
// subject is modelName, in stream order.
func Events(t testing.TB, js jetstream.JetStream, prefix, modelName string, want int) []EventOf {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, prefix+natsx.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + "tributary.model.>"},
	})
	if err != nil {
		t.Fatalf("consumer on %s: %v", prefix+natsx.StreamName, err)
	}
	var out []EventOf
	for len(out) < want {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			e, err := event.FromJetStreamMsg(m)
			if err != nil {
				t.Fatalf("decode event on %s: %v", m.Subject(), err)
			}
			if e.Subject() == modelName {
				out = append(out, EventOf{Subject: m.Subject(), Type: e.Type(), ID: e.ID(), Data: e.Data()})
			}
		}
		if n == 0 && ctx.Err() != nil {
			break
		}
		if n == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	return out
}

// EventOf is an event read back from the stream.
type EventOf struct {
	Subject, Type, ID string
	Data              []byte
}

// String is for failure messages.
func (e EventOf) String() string { return fmt.Sprintf("%s %s %s", e.Type, e.ID, e.Data) }
