// Package trainertest holds the fixtures of the trainer's tests: an
// embedded nats-server with JetStream (restartable on its store directory),
// the platform's resources bootstrapped on it, an in-memory registry with
// fault injection, and a dataset source of synthetic training sets.
package trainertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/trainer/internal/tabular"
)

// Embedded is an embedded nats-server with JetStream.
type Embedded struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// StartEmbedded starts an embedded nats-server in a temporary directory
// and bootstraps the platform's resources on it.
func StartEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e := &Embedded{t: t, dir: t.TempDir(), port: server.RANDOM_PORT}
	e.start()
	e.port = e.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(e.Shutdown)
	_, js := e.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := natsx.Bootstrap(ctx, js, natsx.BootstrapConfig{Replicas: 1, Storage: "file", KVHistory: 8}); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return e
}

func (e *Embedded) start() {
	e.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir, NoLog: true, NoSigs: true})
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

// Restart stops the server and starts it again on the same directory and
// port.
func (e *Embedded) Restart() {
	e.t.Helper()
	e.Shutdown()
	e.start()
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

// Connect returns a new connection and its JetStream, closed at the end of
// the test.
func (e *Embedded) Connect() (*nats.Conn, jetstream.JetStream) {
	e.t.Helper()
	nc, err := nats.Connect(e.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return nc, js
}

// Jobs opens the bucket tributary_jobs.
func (e *Embedded) Jobs(js jetstream.JetStream) jetstream.KeyValue {
	e.t.Helper()
	kv, err := js.KeyValue(context.Background(), natsx.BucketJobs)
	if err != nil {
		e.t.Fatal(err)
	}
	return kv
}

// Registry is an in-memory registry with the libs/model client's methods.
type Registry struct {
	mu        sync.Mutex
	artifacts map[string][]byte
	versions  map[string][]model.Version
	aliases   map[string]map[string]int
	byRequest map[string]model.Version
	// FailRegister makes the next n Register calls fail as unavailable.
	FailRegister int
	// Registers counts Register calls (also failed ones).
	Registers int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{artifacts: map[string][]byte{}, versions: map[string][]model.Version{}, aliases: map[string]map[string]int{}, byRequest: map[string]model.Version{}}
}

// PutArtifact stores an artifact.
func (r *Registry) PutArtifact(_ context.Context, rd io.ReadSeeker) (model.Artifact, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return model.Artifact{}, err
	}
	h := sha256.Sum256(b)
	a := model.Artifact{SHA256: hex.EncodeToString(h[:]), Size: int64(len(b))}
	r.mu.Lock()
	r.artifacts[a.SHA256] = b
	r.mu.Unlock()
	return a, nil
}

// OpenArtifact opens an artifact.
func (r *Registry) OpenArtifact(_ context.Context, a model.Artifact) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.artifacts[a.SHA256]
	if !ok {
		return nil, model.Errorf(model.CodeArtifactNotFound, "no artifact %s", a.SHA256)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Register registers a version (idempotent by request id), checking the
// request as the registry does.
func (r *Registry) Register(_ context.Context, req model.RegisterRequest) (model.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Registers++
	if r.FailRegister > 0 {
		r.FailRegister--
		return model.Version{}, model.Errorf(model.CodeUnavailable, "registry store unavailable")
	}
	if err := req.Validate(); err != nil {
		return model.Version{}, err
	}
	if v, ok := r.byRequest[req.RequestID]; ok && req.RequestID != "" {
		return v, nil
	}
	if _, ok := r.artifacts[req.Artifact.SHA256]; !ok {
		return model.Version{}, model.Errorf(model.CodeArtifactNotFound, "no artifact %s", req.Artifact.SHA256)
	}
	v := model.Version{Model: req.Model, Version: len(r.versions[req.Model]) + 1, Format: req.Format, Artifact: req.Artifact, Lineage: req.Lineage, Status: model.StatusActive, RegisteredAt: time.Now().UTC(), RegisteredBy: req.Actor, RequestID: req.RequestID}
	r.versions[req.Model] = append(r.versions[req.Model], v)
	r.byRequest[req.RequestID] = v
	return v, nil
}

// Version resolves a number or an alias.
func (r *Registry) Version(_ context.Context, name string, ref model.VersionRef) (model.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs, ok := r.versions[name]
	if !ok {
		return model.Version{}, model.Errorf(model.CodeModelNotFound, "no model %s", name)
	}
	n, isNum := ref.Number()
	if !isNum {
		n, ok = r.aliases[name][string(ref)]
		if !ok {
			return model.Version{}, model.Errorf(model.CodeAliasNotFound, "model %s has no alias %s", name, ref)
		}
	}
	if n < 1 || n > len(vs) {
		return model.Version{}, model.Errorf(model.CodeVersionNotFound, "no version %d", n)
	}
	return vs[n-1], nil
}

// MoveAlias moves an alias.
func (r *Registry) MoveAlias(_ context.Context, req model.MoveAliasRequest) (model.AuditEntry, error) {
	if err := req.Validate(); err != nil {
		return model.AuditEntry{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Version > len(r.versions[req.Model]) {
		return model.AuditEntry{}, model.Errorf(model.CodeVersionNotFound, "no version %d", req.Version)
	}
	if r.aliases[req.Model] == nil {
		r.aliases[req.Model] = map[string]int{}
	}
	from := r.aliases[req.Model][req.Alias]
	r.aliases[req.Model][req.Alias] = req.Version
	return model.AuditEntry{Model: req.Model, Alias: req.Alias, FromVersion: from, ToVersion: req.Version, Weight: req.Weight, Actor: req.Actor, Reason: req.Reason}, nil
}

// Alias returns the version an alias points at (0: none).
func (r *Registry) Alias(name, alias string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aliases[name][alias]
}

// Versions returns a model's versions.
func (r *Registry) Versions(name string) []model.Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Version(nil), r.versions[name]...)
}

// Datasets serves synthetic training sets: Frame builds the set of a
// request (nil: the Synthetic one).
type Datasets struct {
	mu    sync.Mutex
	Frame func(req event.DatasetRequested) *tabular.Frame
	// Block, when set, makes Build wait until the context ends.
	Block bool
	// Requests records the requests.
	Requests []event.DatasetRequested
	files    map[string][]byte
}

// Build writes the set and answers it.
func (d *Datasets) Build(ctx context.Context, req event.DatasetRequested) (event.DatasetReady, error) {
	d.mu.Lock()
	d.Requests = append(d.Requests, req)
	block := d.Block
	frame := d.Frame
	d.mu.Unlock()
	if block {
		<-ctx.Done()
		return event.DatasetReady{}, ctx.Err()
	}
	if frame == nil {
		frame = func(req event.DatasetRequested) *tabular.Frame { return Synthetic(req.Features, 600, 1) }
	}
	f := frame(req)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return event.DatasetReady{}, err
	}
	h := sha256.Sum256(buf.Bytes())
	sha := hex.EncodeToString(h[:])
	d.mu.Lock()
	if d.files == nil {
		d.files = map[string][]byte{}
	}
	d.files[sha] = buf.Bytes()
	d.mu.Unlock()
	defs := map[string]string{}
	for _, ref := range req.Features {
		view := ref[:bytes.IndexByte([]byte(ref), ':')]
		defs[view] = "def-" + view
	}
	return event.DatasetReady{RequestID: req.RequestID, DatasetID: sha, Bucket: "mem", ObjectName: "datasets/" + sha + ".parquet", SHA256: sha, RowCount: int64(f.Rows()), Features: req.Features, FeatureDefinitions: defs, LabelStream: req.LabelStream, Start: req.Start, End: req.End}, nil
}

// Download writes a set built before.
func (d *Datasets) Download(_ context.Context, ready event.DatasetReady, path string) error {
	d.mu.Lock()
	b, ok := d.files[ready.SHA256]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("no set %s", ready.SHA256)
	}
	return os.WriteFile(path, b, 0o644)
}

// Synthetic is a binary training set whose label follows a logistic model
// of the features (signal scales the weights), a row a minute.
func Synthetic(features []string, rows int, signal float64) *tabular.Frame {
	r := rand.New(rand.NewPCG(1, 2))
	f := &tabular.Frame{Features: features, X: make([][]float64, len(features))}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range rows {
		eta := 0.0
		for j := range features {
			x := r.NormFloat64()
			f.X[j] = append(f.X[j], x)
			eta += signal * float64(j+1) * x
		}
		y := 0.0
		if r.Float64() < 1/(1+math.Exp(-eta)) {
			y = 1
		}
		f.Entity = append(f.Entity, "e"+strconv.Itoa(i%50))
		f.TimeMs = append(f.TimeMs, start+int64(i)*60_000)
		f.Label = append(f.Label, y)
	}
	return f
}
