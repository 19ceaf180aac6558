package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/streamspec"
)

// EnsureFunc creates the topics of a stream; it must be idempotent.
type EnsureFunc func(ctx context.Context, s *streamspec.Stream) error

// Registry is the live set of streams. Lookups are lock-free.
type Registry struct {
	logger  *slog.Logger
	ensure  EnsureFunc
	updates *prometheus.CounterVec
	onLive  func(*streamspec.Stream)

	mu     sync.Mutex // serialises changes
	labels *streamspec.Stream
	files  map[string]*streamspec.Stream
	kv     map[string]*streamspec.Stream
	cur    atomic.Pointer[snapshot]
	synced atomic.Bool
	// loaded is closed once Synced turns true (it stays true).
	loaded   chan struct{}
	loadOnce sync.Once
}

type snapshot struct {
	byType map[string]*streamspec.Stream
	byName map[string]*streamspec.Stream
}

// New returns a registry holding labels and the file streams. Their topics
// are not ensured yet: call Ensure before serving. onLive, when not nil, is
// called after a stream went live or changed.
func New(logger *slog.Logger, reg prometheus.Registerer, labels *streamspec.Stream, files []*streamspec.Stream, ensure EnsureFunc, onLive func(*streamspec.Stream)) (*Registry, error) {
	r := &Registry{
		logger: logger, ensure: ensure, onLive: onLive, labels: labels,
		files: map[string]*streamspec.Stream{}, kv: map[string]*streamspec.Stream{},
		loaded: make(chan struct{}),
		updates: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_ingest_stream_updates_total",
			Help: "Stream definitions read from the KV bucket, by outcome (applied, deleted, invalid, conflict).",
		}, []string{"outcome"}),
	}
	for _, s := range files {
		r.files[s.Name] = s
	}
	if _, err := r.build(r.files, r.kv); err != nil {
		return nil, err
	}
	promauto.With(reg).NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_ingest_streams",
		Help: "Streams live, the built-in label stream included.",
	}, func() float64 {
		if s := r.cur.Load(); s != nil {
			return float64(len(s.byName))
		}
		return 0
	})
	return r, nil
}

// Ensure creates the topics of the built-in and file streams and makes them
// live. It is the start-up step; call it until it succeeds.
func (r *Registry) Ensure(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range append([]*streamspec.Stream{r.labels}, mapsValues(r.files)...) {
		if err := r.ensure(ctx, s); err != nil {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
	}
	snap, err := r.build(r.files, r.kv)
	if err != nil {
		return err
	}
	r.cur.Store(snap)
	r.markLoaded()
	return nil
}

func mapsValues(m map[string]*streamspec.Stream) []*streamspec.Stream {
	out := make([]*streamspec.Stream, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	return out
}

// ByType returns the live stream of an event type.
func (r *Registry) ByType(eventType string) (*streamspec.Stream, bool) {
	snap := r.cur.Load()
	if snap == nil {
		return nil, false
	}
	s, ok := snap.byType[eventType]
	return s, ok
}

// ByName returns a live stream by name.
func (r *Registry) ByName(name string) (*streamspec.Stream, bool) {
	snap := r.cur.Load()
	if snap == nil {
		return nil, false
	}
	s, ok := snap.byName[name]
	return s, ok
}

// Synced reports whether the registry is live and has read every value
// the KV bucket held when the watch first started: until then a type it
// does not know may be one of a KV stream not read yet, and must not be
// refused. Once true it stays true (a watch re-opened after a break serves
// the definitions it had meanwhile).
func (r *Registry) Synced() bool { return r.synced.Load() && r.cur.Load() != nil }

// Loaded is closed once Synced is true.
func (r *Registry) Loaded() <-chan struct{} { return r.loaded }

// WithoutBucket says no KV bucket will be watched (a registry of files
// only: benchmarks, tests): the registry is Synced once Ensure ran.
func (r *Registry) WithoutBucket() {
	r.synced.Store(true)
	r.markLoaded()
}

func (r *Registry) markLoaded() {
	if r.Synced() {
		r.loadOnce.Do(func() { close(r.loaded) })
	}
}

// build merges the sources; kv overrides files by name.
func (r *Registry) build(files, kv map[string]*streamspec.Stream) (*snapshot, error) {
	snap := &snapshot{byType: map[string]*streamspec.Stream{}, byName: map[string]*streamspec.Stream{}}
	merged := maps.Clone(files)
	maps.Copy(merged, kv)
	merged[r.labels.Name] = r.labels
	for name, s := range merged {
		if other, ok := snap.byType[s.Type]; ok {
			return nil, &ConflictError{Name: name, Type: s.Type, Other: other.Name}
		}
		snap.byType[s.Type] = s
		snap.byName[name] = s
	}
	return snap, nil
}

// ConflictError reports two streams with one type.
type ConflictError struct{ Name, Type, Other string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s: type %q is already the type of stream %s", e.Name, e.Type, e.Other)
}

// Watch follows the KV bucket until ctx ends, re-opening the watch when it
// breaks. kv returns the bucket (it may fail while NATS is away).
func (r *Registry) Watch(ctx context.Context, bucket func(context.Context) (jetstream.KeyValue, error)) error {
	for {
		err := r.watchOnce(ctx, bucket)
		if ctx.Err() != nil {
			return nil
		}
		r.logger.Warn("stream definitions watch broke, retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (r *Registry) watchOnce(ctx context.Context, bucket func(context.Context) (jetstream.KeyValue, error)) error {
	kv, err := bucket(ctx)
	if err != nil {
		return fmt.Errorf("open bucket: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil { // every existing value has been delivered
				r.synced.Store(true)
				r.markLoaded()
				continue
			}
			r.apply(ctx, e)
		}
	}
}

// apply makes one KV change live, after ensuring the stream's topics.
func (r *Registry) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	name := e.Key()
	log := r.logger.With("stream", name, "revision", e.Revision())
	if e.Operation() != jetstream.KeyValuePut {
		r.mu.Lock()
		kv := maps.Clone(r.kv)
		delete(kv, name)
		snap, err := r.build(r.files, kv)
		if err == nil {
			r.kv = kv
			r.cur.Store(snap)
		}
		r.mu.Unlock()
		r.updates.WithLabelValues("deleted").Inc()
		log.Info("stream definition deleted")
		return
	}
	s, err := streamspec.Parse(e.Value())
	if err == nil && s.Name != name {
		err = fmt.Errorf("%w: name %q differs from its key %q", streamspec.ErrInvalidDefinition, s.Name, name)
	}
	if err != nil {
		r.updates.WithLabelValues("invalid").Inc()
		log.Error("stream definition refused", "error", err)
		return
	}
	s.Revision = fmt.Sprintf("kv:%d", e.Revision())
	r.mu.Lock()
	defer r.mu.Unlock()
	kv := maps.Clone(r.kv)
	kv[name] = s
	snap, err := r.build(r.files, kv)
	if err != nil {
		r.updates.WithLabelValues("conflict").Inc()
		log.Error("stream definition refused", "error", err)
		return
	}
	// The topics first: a stream is live only once they exist. Retried
	// while Kafka is away; the watch waits meanwhile.
	for {
		err := r.ensure(ctx, s)
		if err == nil {
			break
		}
		log.Warn("stream topics not created, retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	r.kv = kv
	if r.cur.Load() != nil { // before Ensure ran, Ensure publishes
		r.cur.Store(snap)
	}
	r.updates.WithLabelValues("applied").Inc()
	log.Info("stream definition applied", "type", s.Type, "topic", s.Topic)
	if r.onLive != nil {
		r.onLive(s)
	}
}

// List returns the live streams, sorted by name.
func (r *Registry) List() []*streamspec.Stream {
	snap := r.cur.Load()
	if snap == nil {
		return nil
	}
	out := mapsValues(snap.byName)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
