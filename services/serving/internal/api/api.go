// Package api is serving's HTTP API: the Open Inference Protocol v2 REST
// API (/v2/...) for callers that send the features, POST
// /v1/predict/{model} for callers that send entity keys, and GET
// /v1/models. Every error is libs/httperror's envelope, whose "error"
// field is the protocol's.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
)

// The aliases with a traffic role.
const (
	AliasProduction = "production"
	AliasCanary     = "canary"
	AliasShadow     = "shadow"
)

// Headers a caller routes with.
const (
	// HeaderRoute names the alias (or version number) that answers.
	HeaderRoute = "X-Tributary-Route"
	// HeaderArms lists the aliases of an A/B test (comma-separated); each
	// entity key sticks to one of them.
	HeaderArms = "X-Tributary-Arms"
)

// Limits.
const (
	MaxEntities = 1000
	maxBody     = 4 << 20
)

// PredictionLogger takes prediction log records; Log must not block (the
// Kafka producer buffers, and drops or spills when full).
type PredictionLogger interface {
	Log(rec event.PredictionLogged)
}

// Fetcher builds model rows from online features (online.Fetcher).
type Fetcher interface {
	Fetch(ctx context.Context, refs []string, entities []online.Entity, asOf int64) ([]online.Row, error)
}

var _ Fetcher = (*online.Fetcher)(nil)

// Config tunes the API.
type Config struct {
	// MaxInFlight bounds the prediction requests (predict and infer) in
	// progress; beyond it a request is shed with 503 and Retry-After.
	MaxInFlight int
	// MaxShadow bounds the shadow predictions in progress; beyond it a
	// shadow copy is dropped (and counted).
	MaxShadow int
}

// API serves the routes.
type API struct {
	cfg      Config
	snapshot func() *models.Snapshot
	ready    func() bool
	fetch    Fetcher // nil: no online store
	log      PredictionLogger
	logger   *slog.Logger
	now      func() time.Time
	inflight chan struct{}
	shadowCh chan struct{}
	shadowWG sync.WaitGroup

	predictions *prometheus.CounterVec
	shed        prometheus.Counter
	shadows     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

// New returns the API. fetch may be nil (no Redis: /v1/predict answers 503
// online_store_disabled).
func New(cfg Config, snapshot func() *models.Snapshot, ready func() bool, fetch Fetcher, log PredictionLogger, logger *slog.Logger, reg prometheus.Registerer) *API {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.MaxShadow <= 0 {
		cfg.MaxShadow = 64
	}
	a := &API{cfg: cfg, snapshot: snapshot, ready: ready, fetch: fetch, log: log, logger: logger, now: time.Now,
		inflight: make(chan struct{}, cfg.MaxInFlight), shadowCh: make(chan struct{}, cfg.MaxShadow)}
	auto := promauto.With(reg)
	a.predictions = auto.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_serving_predictions_total",
		Help: "Predictions (one per entity or OIP row batch), by api (predict, infer), route (the alias, or version for a version asked for by number) and outcome (ok or the error reason).",
	}, []string{"api", "route", "outcome"})
	a.shed = auto.NewCounter(prometheus.CounterOpts{
		Name: "tributary_serving_requests_shed_total", Help: "Prediction requests refused with 503 overloaded because too many were in flight.",
	})
	a.shadows = auto.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_serving_shadow_predictions_total", Help: "Shadow copies of requests, by outcome (ok, dropped when too many were in flight, failed).",
	}, []string{"outcome"})
	a.latency = auto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tributary_serving_prediction_duration_seconds", Help: "Time to answer a prediction request, features included, by api.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	}, []string{"api"})
	return a
}

// Register adds the routes.
func (a *API) Register(handle func(pattern string, h http.Handler)) {
	handle("GET /v2", http.HandlerFunc(a.server))
	handle("GET /v2/health/live", http.HandlerFunc(a.live))
	handle("GET /v2/health/ready", http.HandlerFunc(a.serverReady))
	handle("GET /v2/models/{model}", http.HandlerFunc(a.metadata))
	handle("GET /v2/models/{model}/versions/{version}", http.HandlerFunc(a.metadata))
	handle("GET /v2/models/{model}/ready", http.HandlerFunc(a.modelReady))
	handle("GET /v2/models/{model}/versions/{version}/ready", http.HandlerFunc(a.modelReady))
	handle("POST /v2/models/{model}/infer", a.limit(http.HandlerFunc(a.infer)))
	handle("POST /v2/models/{model}/versions/{version}/infer", a.limit(http.HandlerFunc(a.infer)))
	handle("POST /v1/predict/{model}", a.limit(http.HandlerFunc(a.predict)))
	handle("GET /v1/models", http.HandlerFunc(a.listModels))
}

// Wait waits for the shadow predictions in progress (at shutdown, after the
// HTTP server has drained and before the prediction log closes).
func (a *API) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.shadowWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for shadow predictions: %w", ctx.Err())
	}
}

// limit sheds a request when MaxInFlight are in progress, rather than
// queueing without bound.
func (a *API) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.inflight <- struct{}{}:
			defer func() { <-a.inflight }()
			h.ServeHTTP(w, r)
		default:
			a.shed.Inc()
			w.Header().Set("Retry-After", "1")
			httperror.Write(w, http.StatusServiceUnavailable, reason.Overloaded, fmt.Sprintf("%d prediction requests in flight: retry later", a.cfg.MaxInFlight))
		}
	})
}

// apiError is an error answer.
type apiError struct {
	status int
	id     reason.ID
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, id reason.ID, format string, args ...any) *apiError {
	return &apiError{status: status, id: id, msg: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: http.StatusInternalServerError, id: reason.Internal, msg: err.Error()}
	}
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	httperror.Write(w, e.status, e.id, e.msg)
}

func writeJSON(w http.ResponseWriter, v any) {
	var b []byte
	var err error
	if p, ok := v.(*PredictResponse); ok {
		b, err = encodePredict(p)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		httperror.Write(w, http.StatusInternalServerError, reason.Internal, "encode answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	_, _ = w.Write(append(b, '\n'))
}

// writeAnswer writes a prediction answer and sends it at once: what the
// handler does next (the prediction log, the shadow copy) is off the
// response's path. net/http would otherwise hold the answer in its buffer
// until the handler returns.
func writeAnswer(w http.ResponseWriter, v any) {
	writeJSON(w, v)
	_ = http.NewResponseController(w).Flush()
}

// lookup finds a model in the snapshot.
func lookup(s *models.Snapshot, name string) (*models.Model, error) {
	m, ok := s.Model(name)
	if !ok || (len(m.Known) == 0 && len(m.Wanted) == 0 && len(m.Loaded) == 0) {
		return nil, errorf(http.StatusNotFound, reason.UnknownModel, "model %q is not served", name)
	}
	return m, nil
}

// resolve finds what answers ref (a version number or an alias) of m;
// route is the alias, or "v<n>" for a version asked for by number.
func resolve(m *models.Model, ref string) (*models.Loaded, string, error) {
	// Only what starts with a digit can be a number (Atoi's error for an
	// alias name is an allocation per request).
	if ref != "" && ref[0] >= '0' && ref[0] <= '9' {
		if n, err := strconv.Atoi(ref); err == nil && strconv.Itoa(n) == ref {
			if l, ok := m.Loaded[n]; ok {
				return l, "", nil
			}
			return nil, "", notLoaded(m, n, "version "+ref)
		}
	}
	if r, ok := m.Routes[ref]; ok {
		return r.Model, ref, nil
	}
	if n, ok := m.Wanted[ref]; ok {
		return nil, "", notLoaded(m, n, "alias "+ref)
	}
	return nil, "", errorf(http.StatusNotFound, reason.UnknownVersion, "model %s has no alias %q", m.Name, ref)
}

func notLoaded(m *models.Model, n int, what string) error {
	if f, ok := m.Failures[n]; ok {
		return errorf(http.StatusServiceUnavailable, reason.VersionNotLoaded, "model %s %s: version %d failed to load (%s): %s", m.Name, what, n, f.Reason, f.Error)
	}
	if m.Loading[n] {
		return errorf(http.StatusServiceUnavailable, reason.VersionNotLoaded, "model %s %s: version %d is loading", m.Name, what, n)
	}
	if st, ok := m.Known[n]; ok {
		if st == "archived" {
			return errorf(http.StatusServiceUnavailable, reason.VersionNotLoaded, "model %s %s: version %d is archived", m.Name, what, n)
		}
		return errorf(http.StatusServiceUnavailable, reason.VersionNotLoaded, "model %s %s: version %d is not loaded: no alias points at it", m.Name, what, n)
	}
	return errorf(http.StatusNotFound, reason.UnknownVersion, "model %s has no version %d", m.Name, n)
}

// keyPoint maps a model and an entity key to a point in [0, 1), the same
// for the same key: the sticky traffic split.
func keyPoint(salt, key string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(salt))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	// FNV's low bits mix poorly for short keys: finalize (splitmix64).
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// choose picks the route of one entity: the alias named by HeaderRoute;
// else one of the HeaderArms by key; else canary for its weight's share of
// keys and production for the rest.
func choose(m *models.Model, key, header string, arms []string) (*models.Loaded, string, error) {
	if header != "" {
		return resolve(m, header)
	}
	if len(arms) > 0 {
		i := min(int(keyPoint(m.Name+"/ab", key)*float64(len(arms))), len(arms)-1)
		return resolve(m, arms[i])
	}
	if c, ok := m.Routes[AliasCanary]; ok && c.Weight != nil && *c.Weight > 0 {
		if keyPoint(m.Name, key) < *c.Weight {
			return c.Model, AliasCanary, nil
		}
	}
	return resolve(m, AliasProduction)
}

func arms(r *http.Request) []string {
	h := r.Header.Get(HeaderArms)
	if h == "" {
		return nil
	}
	var out []string
	for _, a := range strings.Split(h, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// outputs turns a model's raw output into the prediction and the class
// probabilities.
func outputs(l *models.Loaded, out []float64) (float64, []float64) {
	switch l.Task {
	case learn.TaskBinary:
		return out[0], []float64{1 - out[0], out[0]}
	case learn.TaskMulticlass:
		best := 0
		for k := range out {
			if out[k] > out[best] {
				best = k
			}
		}
		return float64(best), append([]float64(nil), out...)
	default:
		return out[0], nil
	}
}

func predictionID() string {
	return strconv.FormatUint(rand.Uint64(), 36) + strconv.FormatUint(rand.Uint64(), 36)
}
