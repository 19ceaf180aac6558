package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/model"
)

// Follower follows the registry's KV bucket (a JetStream ordered consumer
// of the bucket's stream, which delivers the current value of every key
// first and then each change) and keeps the served Snapshot in step.
type Follower struct {
	kv       func(ctx context.Context) (jetstream.KeyValue, error)
	store    artifactOpener
	logger   *slog.Logger
	now      func() time.Time
	cur      atomic.Pointer[Snapshot]
	ready    chan struct{}
	initDone bool

	mu       sync.Mutex
	aliases  map[string]map[string]model.Alias // model -> alias -> record
	versions map[string]map[int]model.Version  // model -> version -> record
	routes   map[string]map[string]*Route      // what is served
	loaded   map[string]map[int]*Loaded
	loading  map[string]map[int]bool
	failures map[string]map[int]Failure
	wg       sync.WaitGroup
	sem      chan struct{}
	pending  int // loads started before the initial state was read, still running

	loads    *prometheus.CounterVec
	loadTime prometheus.Histogram
	swaps    *prometheus.CounterVec
	served   prometheus.Gauge
}

// NewFollower returns a follower that reads the bucket kv returns and the
// artifacts from store.
func NewFollower(kv func(ctx context.Context) (jetstream.KeyValue, error), store artifactOpener, logger *slog.Logger, reg prometheus.Registerer) *Follower {
	f := &Follower{
		kv: kv, store: store, logger: logger, now: time.Now, ready: make(chan struct{}),
		aliases: map[string]map[string]model.Alias{}, versions: map[string]map[int]model.Version{},
		routes: map[string]map[string]*Route{}, loaded: map[string]map[int]*Loaded{},
		loading: map[string]map[int]bool{}, failures: map[string]map[int]Failure{},
		sem: make(chan struct{}, 2),
	}
	auto := promauto.With(reg)
	f.loads = auto.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_serving_model_loads_total",
		Help: "Model version loads, by outcome (ok, or why it failed: artifact_unavailable, artifact_corrupt, unknown_format, bad_model, feature_mismatch).",
	}, []string{"outcome"})
	f.loadTime = auto.NewHistogram(prometheus.HistogramOpts{
		Name: "tributary_serving_model_load_duration_seconds", Help: "Time to fetch, verify, parse and warm a model version.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	f.swaps = auto.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_serving_alias_swaps_total", Help: "Aliases that started serving another version (or were added or removed), by alias.",
	}, []string{"alias"})
	f.served = auto.NewGauge(prometheus.GaugeOpts{Name: "tributary_serving_versions_loaded", Help: "Model versions loaded in memory."})
	f.publish()
	return f
}

// Snapshot returns the current served set.
func (f *Follower) Snapshot() *Snapshot { return f.cur.Load() }

// Ready is closed once the current aliases have been read and every
// version they point at has loaded or failed.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Run follows the bucket until ctx ends, watching again after an error,
// and waits for the loads it started.
func (f *Follower) Run(ctx context.Context) error {
	defer f.wg.Wait()
	for {
		err := f.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		f.logger.Warn("model registry watch stopped", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (f *Follower) watch(ctx context.Context) error {
	kv, err := f.kv(ctx)
	if err != nil {
		return err
	}
	w, err := kv.WatchFiltered(ctx, []string{"model.*.alias.*", "model.*.v.*"})
	if err != nil {
		return fmt.Errorf("watch models: %w", err)
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
				f.mu.Lock()
				f.initDone = true
				f.checkReady()
				f.mu.Unlock()
				continue
			}
			f.apply(ctx, kv, e)
		}
	}
}

// parseKey splits model.<name>.alias.<a> and model.<name>.v.<n>.
func parseKey(key string) (name, kind, rest string, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 4 || parts[0] != "model" {
		return "", "", "", false
	}
	return parts[1], parts[2], parts[3], true
}

func (f *Follower) apply(ctx context.Context, kv jetstream.KeyValue, e jetstream.KeyValueEntry) {
	name, kind, rest, ok := parseKey(e.Key())
	if !ok {
		return
	}
	deleted := e.Operation() != jetstream.KeyValuePut
	f.mu.Lock()
	defer f.mu.Unlock()
	switch kind {
	case "alias":
		if deleted {
			delete(f.aliases[name], rest)
			if _, ok := f.routes[name][rest]; ok {
				delete(f.routes[name], rest)
				f.swaps.WithLabelValues(rest).Inc()
				f.logger.Info("alias removed", "model", name, "alias", rest)
			}
			f.collect(name)
			f.publish()
			return
		}
		var a model.Alias
		if err := json.Unmarshal(e.Value(), &a); err != nil || a.Version < 1 {
			f.logger.Error("alias record ignored", "key", e.Key(), "error", err)
			return
		}
		a.Revision = e.Revision()
		sub(f.aliases, name)[rest] = a
		f.ensure(ctx, kv, name, rest)
	case "v":
		n, err := strconv.Atoi(rest)
		if err != nil {
			return
		}
		var v model.Version
		if !deleted {
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				f.logger.Error("version record ignored", "key", e.Key(), "error", err)
				return
			}
		}
		if deleted || v.Status == model.StatusArchived {
			f.drop(name, n)
			if !deleted {
				sub(f.versions, name)[n] = v
			}
			f.publish()
			return
		}
		sub(f.versions, name)[n] = v
		f.publish()
	}
}

// ensure routes alias a of model name to the version it points at: at once
// when that version is loaded, otherwise after a background load. A
// version that failed keeps the alias on what it served before. Called
// with f.mu held.
func (f *Follower) ensure(ctx context.Context, kv jetstream.KeyValue, name, alias string) {
	a := f.aliases[name][alias]
	if l, ok := f.loaded[name][a.Version]; ok {
		f.route(name, alias, l)
		f.publish()
		return
	}
	if f.loading[name][a.Version] {
		f.publish()
		return
	}
	sub(f.loading, name)[a.Version] = true
	delete(f.failures[name], a.Version) // a new move retries a failed version
	if !f.initDone {
		f.pending++
	}
	initial := !f.initDone
	f.publish()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.load(ctx, kv, name, a.Version, initial)
	}()
}

func (f *Follower) load(ctx context.Context, kv jetstream.KeyValue, name string, n int, initial bool) {
	select {
	case f.sem <- struct{}{}:
		defer func() { <-f.sem }()
	case <-ctx.Done():
		return
	}
	f.mu.Lock()
	v, ok := f.versions[name][n]
	f.mu.Unlock()
	var l *Loaded
	var err error
	if !ok {
		v, err = getVersion(ctx, kv, name, n)
	}
	if err == nil {
		l, err = Load(ctx, f.store, v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.loading[name], n)
	if initial {
		f.pending--
	}
	defer f.checkReady()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		reason := FailArtifact
		var le *LoadError
		if errors.As(err, &le) {
			reason = le.Reason
		}
		sub(f.failures, name)[n] = Failure{Version: n, Reason: reason, Error: err.Error(), At: f.now()}
		f.loads.WithLabelValues(reason).Inc()
		f.logger.Error("model version failed to load", "model", name, "version", n, "format", v.Format, "reason", reason, "error", err)
		f.publish()
		if reason == FailArtifact { // transient: the object store or KV did not answer
			f.retryLater(ctx, kv, name, n)
		}
		return
	}
	if st, ok := f.versions[name][n]; ok && st.Status == model.StatusArchived {
		f.publish()
		return // archived while it loaded
	}
	f.loads.WithLabelValues("ok").Inc()
	f.loadTime.Observe(l.LoadDuration.Seconds())
	sub(f.loaded, name)[n] = l
	f.logger.Info("model version loaded", "model", name, "version", n, "format", l.Format, "features", len(l.Features), "duration", l.LoadDuration)
	for alias, a := range f.aliases[name] {
		if a.Version == n {
			f.route(name, alias, l)
		}
	}
	f.collect(name)
	f.publish()
}

// RetryDelay is how long a load that failed for a transient reason
// (artifact_unavailable) waits before it is tried again, while an alias
// still points at the version.
var RetryDelay = 5 * time.Second

// retryLater loads n again after RetryDelay if an alias still wants it and
// it is neither loaded nor loading (f.mu held).
func (f *Follower) retryLater(ctx context.Context, kv jetstream.KeyValue, name string, n int) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-time.After(RetryDelay):
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, failed := f.failures[name][n]; !failed {
			return
		}
		for alias, a := range f.aliases[name] {
			if a.Version == n {
				f.ensure(ctx, kv, name, alias)
				return
			}
		}
	}()
}

func getVersion(ctx context.Context, kv jetstream.KeyValue, name string, n int) (model.Version, error) {
	e, err := kv.Get(ctx, model.VersionKey(name, n))
	if err != nil {
		return model.Version{}, &LoadError{Reason: FailArtifact, Err: fmt.Errorf("read version %s v%d: %w", name, n, err)}
	}
	var v model.Version
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return model.Version{}, &LoadError{Reason: FailBadModel, Err: fmt.Errorf("decode version %s v%d: %w", name, n, err)}
	}
	return v, nil
}

// route points alias at l (f.mu held).
func (f *Follower) route(name, alias string, l *Loaded) {
	a := f.aliases[name][alias]
	old := f.routes[name][alias]
	r := &Route{Alias: alias, Weight: a.Weight, Since: f.now(), Model: l}
	if old != nil && old.Model == l {
		r.Since = old.Since
	} else {
		f.swaps.WithLabelValues(alias).Inc()
		from := 0
		if old != nil {
			from = old.Model.Version
		}
		f.logger.Info("alias swapped", "model", name, "alias", alias, "from_version", from, "version", l.Version)
	}
	sub(f.routes, name)[alias] = r
}

// drop forgets a version that was archived or deleted (f.mu held).
func (f *Follower) drop(name string, n int) {
	for alias, r := range f.routes[name] {
		if r.Model.Version == n {
			delete(f.routes[name], alias)
			f.swaps.WithLabelValues(alias).Inc()
		}
	}
	if _, ok := f.loaded[name][n]; ok {
		delete(f.loaded[name], n)
		f.logger.Info("archived model version dropped", "model", name, "version", n)
	}
	delete(f.failures[name], n)
}

// collect unloads the versions of a model that no served or wanted alias
// points at any more (f.mu held). Requests holding one finish on it.
func (f *Follower) collect(name string) {
	keep := map[int]bool{}
	for _, r := range f.routes[name] {
		keep[r.Model.Version] = true
	}
	for _, a := range f.aliases[name] {
		keep[a.Version] = true
	}
	for n := range f.loaded[name] {
		if !keep[n] {
			delete(f.loaded[name], n)
		}
	}
}

func (f *Follower) checkReady() {
	if f.initDone && f.pending == 0 {
		select {
		case <-f.ready:
		default:
			close(f.ready)
		}
	}
}

// publish builds and stores a new snapshot (f.mu held, or before Run).
func (f *Follower) publish() {
	s := &Snapshot{Models: map[string]*Model{}}
	get := func(name string) *Model {
		m, ok := s.Models[name]
		if !ok {
			m = &Model{Name: name, Routes: map[string]*Route{}, Loaded: map[int]*Loaded{}, Known: map[int]model.Status{},
				Wanted: map[string]int{}, Loading: map[int]bool{}, Failures: map[int]Failure{}}
			s.Models[name] = m
		}
		return m
	}
	total := 0
	for name, vs := range f.versions {
		for n, v := range vs {
			get(name).Known[n] = v.Status
		}
	}
	for name, as := range f.aliases {
		for alias, a := range as {
			get(name).Wanted[alias] = a.Version
		}
	}
	for name, rs := range f.routes {
		for alias, r := range rs {
			get(name).Routes[alias] = r
		}
	}
	for name, ls := range f.loaded {
		for n, l := range ls {
			get(name).Loaded[n] = l
			total++
		}
	}
	for name, ls := range f.loading {
		for n := range ls {
			get(name).Loading[n] = true
		}
	}
	for name, fs := range f.failures {
		for n, fl := range fs {
			get(name).Failures[n] = fl
		}
	}
	f.served.Set(float64(total))
	f.cur.Store(s)
}

func sub[K comparable, V any](m map[string]map[K]V, name string) map[K]V {
	s, ok := m[name]
	if !ok {
		s = map[K]V{}
		m[name] = s
	}
	return s
}
