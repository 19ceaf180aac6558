// Package catalog keeps the feature views applied in the KV bucket
// tributary_features, compiled for applying and reading, and follows the
// bucket so that an applied, changed or deleted view takes effect without a
// restart.
package catalog

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
)

// Snapshot is an immutable set of views.
type Snapshot struct {
	byName   map[string]*tiles.Plan
	byStream map[string][]*tiles.Plan
}

// View returns the plan of a view.
func (s *Snapshot) View(name string) (*tiles.Plan, bool) {
	p, ok := s.byName[name]
	return p, ok
}

// ForStream returns the plans of the views over a stream.
func (s *Snapshot) ForStream(stream string) []*tiles.Plan { return s.byStream[stream] }

// All returns every plan, by view name.
func (s *Snapshot) All() []*tiles.Plan {
	out := make([]*tiles.Plan, 0, len(s.byName))
	for _, name := range slices.Sorted(maps.Keys(s.byName)) {
		out = append(out, s.byName[name])
	}
	return out
}

// Len is the number of views.
func (s *Snapshot) Len() int { return len(s.byName) }

// Catalog holds the current Snapshot.
type Catalog struct {
	cur     atomic.Pointer[Snapshot]
	logger  *slog.Logger
	mu      sync.Mutex
	views   map[string]featurespec.View
	changes *prometheus.CounterVec
	ready   chan struct{}
	once    sync.Once
}

// New returns an empty catalog.
func New(logger *slog.Logger, reg prometheus.Registerer) *Catalog {
	c := &Catalog{logger: logger, views: map[string]featurespec.View{}, ready: make(chan struct{})}
	c.changes = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_features_definition_changes_total",
		Help: "Feature view definitions read from the KV bucket, by outcome (applied, deleted, invalid).",
	}, []string{"outcome"})
	c.publish()
	return c
}

// Snapshot returns the current views.
func (c *Catalog) Snapshot() *Snapshot { return c.cur.Load() }

// Ready is closed once the catalog has read every view in the bucket.
func (c *Catalog) Ready() <-chan struct{} { return c.ready }

// Set replaces or adds a view (for tests and the watch).
func (c *Catalog) Set(v featurespec.View) {
	c.mu.Lock()
	c.views[v.Name] = v
	c.mu.Unlock()
	c.publish()
}

func (c *Catalog) remove(name string) {
	c.mu.Lock()
	delete(c.views, name)
	c.mu.Unlock()
	c.publish()
}

func (c *Catalog) publish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &Snapshot{byName: map[string]*tiles.Plan{}, byStream: map[string][]*tiles.Plan{}}
	for name, v := range c.views {
		p := tiles.Compile(v)
		s.byName[name] = p
		s.byStream[v.Source.Stream] = append(s.byStream[v.Source.Stream], p)
	}
	c.cur.Store(s)
}

// Watch follows the bucket until ctx ends, re-watching after an error.
func (c *Catalog) Watch(ctx context.Context, kv func(context.Context) (jetstream.KeyValue, error)) error {
	return featurespec.Watch(ctx, c.logger, kv, catalogWatcher{c})
}

// catalogWatcher applies the bucket's changes to the catalog.
type catalogWatcher struct{ c *Catalog }

func (w catalogWatcher) CaughtUp() { w.c.once.Do(func() { close(w.c.ready) }) }

func (w catalogWatcher) Delete(name string) {
	w.c.remove(name)
	w.c.changes.WithLabelValues("deleted").Inc()
	w.c.logger.Info("feature view removed", "view", name)
}

func (w catalogWatcher) Invalid(key string, revision uint64, err error) {
	w.c.changes.WithLabelValues("invalid").Inc()
	w.c.logger.Error("feature view ignored", "key", key, "revision", revision, "error", err)
}

func (w catalogWatcher) Put(v featurespec.View) {
	w.c.Set(v)
	w.c.changes.WithLabelValues("applied").Inc()
	w.c.logger.Info("feature view applied", "view", v.Name, "version", v.Version, "features", len(v.Features))
}
