// Package catalog keeps the feature views applied in the KV bucket
// tributary_features, compiled for applying and reading, and follows the
// bucket so that an applied, changed or deleted view takes effect without a
// restart.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	for {
		err := c.watch(ctx, kv)
		if ctx.Err() != nil {
			return nil
		}
		c.logger.Warn("feature definitions watch stopped", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (c *Catalog) watch(ctx context.Context, kvf func(context.Context) (jetstream.KeyValue, error)) error {
	kv, err := kvf(ctx)
	if err != nil {
		return err
	}
	w, err := kv.Watch(ctx, featurespec.KeyPrefix+">")
	if err != nil {
		return fmt.Errorf("watch feature definitions: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil {
				c.once.Do(func() { close(c.ready) })
				continue
			}
			c.apply(e)
		}
	}
}

func (c *Catalog) apply(e jetstream.KeyValueEntry) {
	name := e.Key()[len(featurespec.KeyPrefix):]
	if e.Operation() != jetstream.KeyValuePut {
		c.remove(name)
		c.changes.WithLabelValues("deleted").Inc()
		c.logger.Info("feature view removed", "view", name)
		return
	}
	v, err := featurespec.FromEntry(e.Key(), e.Value())
	if err != nil {
		c.changes.WithLabelValues("invalid").Inc()
		c.logger.Error("feature view ignored", "key", e.Key(), "revision", e.Revision(), "error", err)
		return
	}
	c.Set(v)
	c.changes.WithLabelValues("applied").Inc()
	c.logger.Info("feature view applied", "view", v.Name, "version", v.Version, "features", len(v.Features))
}
