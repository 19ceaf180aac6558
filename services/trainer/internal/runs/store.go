package runs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/natsx"
)

// maxCASAttempts bounds the retries of one compare-and-set under
// contention (a few hundred writers on one key).
const maxCASAttempts = 200

// payloadHeadroom is kept free below the server's max payload for the
// message's headers and subject.
const payloadHeadroom = 8 << 10

// Key prefixes in the bucket.
const (
	runPrefix        = "runs."
	metricPrefix     = "metrics."
	experimentPrefix = "experiments."
	namePrefix       = "experiment-names."
)

// Store keeps runs and experiments in the KV bucket tributary_jobs.
type Store struct {
	kv        jetstream.KeyValue
	limits    Limits
	now       func() time.Time
	reg       prometheus.Registerer
	conflicts prometheus.Counter
}

// Option configures a Store.
type Option func(*Store)

// WithLimits sets the store's limits (zero fields keep their defaults).
func WithLimits(l Limits) Option { return func(s *Store) { s.limits = l.withDefaults() } }

// WithRegisterer registers the store's metrics on reg (default: none); one
// store per registerer.
func WithRegisterer(reg prometheus.Registerer) Option { return func(s *Store) { s.reg = reg } }

// WithClock sets the store's clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens the bucket tributary_jobs (its name prefixed with prefix, for
// tests); it must exist (natsx.Bootstrap creates it). The record bound is
// lowered to fit the connected server's max payload.
func Open(ctx context.Context, js jetstream.JetStream, prefix string, opts ...Option) (*Store, error) {
	bucket := prefix + natsx.BucketJobs
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", bucket, err)
	}
	s := &Store{kv: kv, limits: DefaultLimits, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry() // metrics kept, not exported
	}
	s.conflicts = promauto.With(s.reg).NewCounter(prometheus.CounterOpts{
		Name: "tributary_trainer_runs_cas_conflicts_total",
		Help: "Compare-and-set writes of run records that lost to another writer and were retried.",
	})
	if nc := js.Conn(); nc != nil {
		if mp := int(nc.MaxPayload()) - payloadHeadroom; mp > 0 && mp < s.limits.RecordBytes {
			s.limits.RecordBytes = mp
		}
	}
	return s, nil
}

// Limits returns the store's limits.
func (s *Store) Limits() Limits { return s.limits }

func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

func runKey(id string) string { return runPrefix + id }

func metricKey(runID, key string) string {
	return metricPrefix + runID + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

func nameKey(name string) string {
	return namePrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// NewRunID returns a new random run id: 32 hex digits, like MLflow's.
func NewRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func newExperimentID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// A positive decimal like MLflow's, never "0".
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1|1<<61, 10)
}

func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (T, uint64, error) {
	var v T
	e, err := kv.Get(ctx, key)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, e.Revision(), nil
}

// backoff waits a little, with jitter, after a lost compare-and-set.
func backoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(mrand.IntN(1+min(attempt, 20))) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// casUpdate reads key, applies change and writes it back by compare-and-set
// on the revision read, retrying from the read when another writer won.
// change sees the zero T and found false when the key does not exist; it
// returns the value to write, or an error that stops the update.
func casUpdate[T any](ctx context.Context, kv jetstream.KeyValue, key string, conflicts prometheus.Counter, change func(cur T, found bool) (T, []byte, error)) (T, error) {
	var zero T
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		cur, rev, err := getJSON[T](ctx, kv, key)
		found := true
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			found, err = false, nil
		}
		if err != nil {
			return zero, fmt.Errorf("read %s: %w", key, err)
		}
		next, b, err := change(cur, found)
		if err != nil {
			return zero, err
		}
		if found {
			_, err = kv.Update(ctx, key, b, rev)
		} else {
			_, err = kv.Create(ctx, key, b)
		}
		if err == nil {
			return next, nil
		}
		if !isConflict(err) {
			return zero, fmt.Errorf("write %s: %w", key, err)
		}
		conflicts.Inc()
		if err := backoff(ctx, attempt); err != nil {
			return zero, fmt.Errorf("write %s: %w", key, err)
		}
	}
	return zero, errorf(CodeConflict, "%s: compare-and-set contended for %d attempts", key, maxCASAttempts)
}

// encodeRun checks a run against the limits and encodes it.
func (s *Store) encodeRun(r *Run) ([]byte, error) {
	l := s.limits
	switch {
	case len(r.Params) > l.Params:
		return nil, errorf(CodeLimitExceeded, "run %s: %d params, the limit is %d", r.ID, len(r.Params), l.Params)
	case len(r.Tags) > l.Tags:
		return nil, errorf(CodeLimitExceeded, "run %s: %d tags, the limit is %d", r.ID, len(r.Tags), l.Tags)
	case len(r.Metrics) > l.MetricKeys:
		return nil, errorf(CodeLimitExceeded, "run %s: %d metric keys, the limit is %d", r.ID, len(r.Metrics), l.MetricKeys)
	case len(r.Artifacts) > l.Artifacts:
		return nil, errorf(CodeLimitExceeded, "run %s: %d artifacts, the limit is %d", r.ID, len(r.Artifacts), l.Artifacts)
	}
	r.UpdatedAt = s.nowMillis()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode run %s: %w", r.ID, err)
	}
	if len(b) > l.RecordBytes {
		return nil, errorf(CodeLimitExceeded, "run %s: the record would be %d bytes, the limit is %d (params, tags and metric keys count)", r.ID, len(b), l.RecordBytes)
	}
	return b, nil
}

// Experiment returns an experiment; the default one always exists.
func (s *Store) Experiment(ctx context.Context, id string) (Experiment, error) {
	if id == DefaultExperimentID {
		return defaultExperiment(), nil
	}
	if err := ValidID("experiment", id); err != nil {
		return Experiment{}, err
	}
	e, _, err := getJSON[Experiment](ctx, s.kv, experimentPrefix+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Experiment{}, errorf(CodeNotFound, "no experiment with id %s", id)
	}
	if err != nil {
		return Experiment{}, fmt.Errorf("read experiment %s: %w", id, err)
	}
	return e, nil
}

func defaultExperiment() Experiment {
	return Experiment{ID: DefaultExperimentID, Name: DefaultExperimentName, LifecycleStage: LifecycleActive}
}

// ExperimentByName returns the experiment with a name.
func (s *Store) ExperimentByName(ctx context.Context, name string) (Experiment, error) {
	if name == DefaultExperimentName {
		return defaultExperiment(), nil
	}
	if err := validName("experiment", name); err != nil {
		return Experiment{}, err
	}
	e, err := s.kv.Get(ctx, nameKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Experiment{}, errorf(CodeNotFound, "no experiment named %q", name)
	}
	if err != nil {
		return Experiment{}, fmt.Errorf("read experiment name %q: %w", name, err)
	}
	return s.Experiment(ctx, string(e.Value()))
}

func validName(what, name string) error {
	if strings.TrimSpace(name) == "" {
		return errorf(CodeInvalid, "%s name: empty", what)
	}
	if len(name) > MaxNameBytes {
		return errorf(CodeInvalid, "%s name: %d bytes, the limit is %d", what, len(name), MaxNameBytes)
	}
	return validValue(what, "name", name, MaxNameBytes)
}

// CreateExperiment creates an experiment with a name no other has (the name
// is claimed by compare-and-set: of two creations with one name, one gets
// ErrAlreadyExists).
func (s *Store) CreateExperiment(ctx context.Context, name, artifactLocation string, tags map[string]string) (Experiment, error) {
	if err := validName("experiment", name); err != nil {
		return Experiment{}, err
	}
	if name == DefaultExperimentName {
		return Experiment{}, errorf(CodeAlreadyExists, "experiment %q already exists", name)
	}
	for k, v := range tags {
		if err := errors.Join(validKey("experiment tag", k), validValue("experiment tag", k, v, MaxTagValueBytes)); err != nil {
			return Experiment{}, err
		}
	}
	now := s.nowMillis()
	e := Experiment{
		ID: newExperimentID(), Name: name, ArtifactLocation: artifactLocation,
		LifecycleStage: LifecycleActive, CreationTime: now, LastUpdateTime: now, Tags: tags,
	}
	b, err := json.Marshal(e)
	if err != nil {
		return Experiment{}, fmt.Errorf("encode experiment: %w", err)
	}
	if len(b) > s.limits.RecordBytes {
		return Experiment{}, errorf(CodeLimitExceeded, "experiment %q: %d bytes, the limit is %d", name, len(b), s.limits.RecordBytes)
	}
	// The record first, then the name: a crash in between leaves an
	// unnamed record, never a name pointing nowhere.
	if _, err := s.kv.Create(ctx, experimentPrefix+e.ID, b); err != nil {
		return Experiment{}, fmt.Errorf("write experiment %s: %w", e.ID, err)
	}
	if _, err := s.kv.Create(ctx, nameKey(name), []byte(e.ID)); err != nil {
		_ = s.kv.Delete(ctx, experimentPrefix+e.ID)
		if isConflict(err) {
			return Experiment{}, errorf(CodeAlreadyExists, "experiment %q already exists", name)
		}
		return Experiment{}, fmt.Errorf("write experiment name %q: %w", name, err)
	}
	return e, nil
}

// CreateRun stores a new run. An empty ID gets NewRunID, an empty
// ExperimentID the default experiment, an empty Name one made from the id,
// an empty Status RUNNING and a zero StartTime now. The experiment must
// exist; the params and tags are checked as by LogBatch.
func (s *Store) CreateRun(ctx context.Context, r Run) (Run, error) {
	if r.ID == "" {
		r.ID = NewRunID()
	}
	if err := ValidID("run", r.ID); err != nil {
		return Run{}, err
	}
	if r.ExperimentID == "" {
		r.ExperimentID = DefaultExperimentID
	}
	if _, err := s.Experiment(ctx, r.ExperimentID); err != nil {
		return Run{}, err
	}
	if r.Status == "" {
		r.Status = StatusRunning
	}
	if !r.Status.Valid() {
		return Run{}, errorf(CodeInvalid, "run status %q: want RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", r.Status)
	}
	if r.StartTime == 0 {
		r.StartTime = s.nowMillis()
	}
	if r.Name == "" {
		r.Name = "run-" + r.ID[:min(8, len(r.ID))]
	}
	if err := validValue("run", "name", r.Name, MaxNameBytes); err != nil {
		return Run{}, err
	}
	r.LifecycleStage = LifecycleActive
	for k, v := range r.Params {
		if err := validParam(k, v); err != nil {
			return Run{}, err
		}
	}
	for k, v := range r.Tags {
		if err := validTag(k, v); err != nil {
			return Run{}, err
		}
	}
	r.Metrics, r.Series = nil, nil // logged with LogBatch, which keeps the history
	b, err := s.encodeRun(&r)
	if err != nil {
		return Run{}, err
	}
	if _, err := s.kv.Create(ctx, runKey(r.ID), b); err != nil {
		if isConflict(err) {
			return Run{}, errorf(CodeAlreadyExists, "run %s already exists", r.ID)
		}
		return Run{}, fmt.Errorf("write run %s: %w", r.ID, err)
	}
	return r, nil
}

// Run returns a run.
func (s *Store) Run(ctx context.Context, id string) (Run, error) {
	if err := ValidID("run", id); err != nil {
		return Run{}, err
	}
	r, _, err := getJSON[Run](ctx, s.kv, runKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Run{}, errorf(CodeNotFound, "no run with id %s", id)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return r, nil
}

// Update changes a run by compare-and-set: change gets the current record
// and edits it; when another writer changed the run meanwhile, change runs
// again on the new record. An error from change stops the update and is
// returned as is.
func (s *Store) Update(ctx context.Context, id string, change func(*Run) error) (Run, error) {
	if err := ValidID("run", id); err != nil {
		return Run{}, err
	}
	return casUpdate(ctx, s.kv, runKey(id), s.conflicts, func(r Run, found bool) (Run, []byte, error) {
		if !found {
			return Run{}, nil, errorf(CodeNotFound, "no run with id %s", id)
		}
		if err := change(&r); err != nil {
			return Run{}, nil, err
		}
		b, err := s.encodeRun(&r)
		return r, b, err
	})
}

// SetStatus changes a run's status (and its end time when endTime is not
// 0, its name when name is not ""). MLflow allows any transition, a
// finished run resumed to RUNNING included; so does this.
func (s *Store) SetStatus(ctx context.Context, id string, status Status, endTime int64, name string) (Run, error) {
	if status != "" && !status.Valid() {
		return Run{}, errorf(CodeInvalid, "run status %q: want RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", status)
	}
	if err := validValue("run", "name", name, MaxNameBytes); err != nil {
		return Run{}, err
	}
	return s.Update(ctx, id, func(r *Run) error {
		if status != "" {
			r.Status = status
		}
		if endTime != 0 {
			r.EndTime = endTime
		}
		if name != "" {
			r.Name = name
			if r.Tags == nil {
				r.Tags = map[string]string{}
			}
			r.Tags[TagRunName] = name
		}
		return nil
	})
}

// TagRunName is the tag MLflow keeps equal to the run's name.
const TagRunName = "mlflow.runName"

func validParam(k, v string) error {
	return errors.Join(validKey("param", k), validValue("param", k, v, MaxParamValueBytes))
}

func validTag(k, v string) error {
	return errors.Join(validKey("tag", k), validValue("tag", k, v, MaxTagValueBytes))
}

// Batch is what one LogBatch call logs.
type Batch struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// LogBatch logs metrics, params and tags on a run. Params are immutable:
// logging a param again with the same value changes nothing, with another
// value it fails with ErrInvalid and nothing of the batch is written.
//
// Each metric point is first written as a KV entry of its own, keyed by its
// content (step, timestamp, value, dataset), so writing it again — a
// client's retry, a replayed call — changes nothing. Then the run record
// (params, tags, the latest value and the point count of each key) is
// written in one compare-and-set. A call that fails between the two may
// leave points in the history that the run's latest values do not show
// yet; its retry completes it.
func (s *Store) LogBatch(ctx context.Context, id string, b Batch) (Run, error) {
	for _, p := range b.Params {
		if err := validParam(p.Key, p.Value); err != nil {
			return Run{}, err
		}
	}
	for _, t := range b.Tags {
		if err := validTag(t.Key, t.Value); err != nil {
			return Run{}, err
		}
	}
	for i, m := range b.Metrics {
		if err := validKey("metric", m.Key); err != nil {
			return Run{}, err
		}
		if err := validValue("metric", m.Key, m.Dataset, MaxKeyBytes); err != nil {
			return Run{}, err
		}
		if b.Metrics[i].Timestamp == 0 {
			b.Metrics[i].Timestamp = s.nowMillis()
		}
	}
	seen := map[string]string{}
	for _, p := range b.Params {
		if v, ok := seen[p.Key]; ok && v != p.Value {
			return Run{}, errorf(CodeInvalid, "param %q is logged twice in the batch with different values (%q, %q)", p.Key, v, p.Value)
		}
		seen[p.Key] = p.Value
	}
	checkParams := func(r *Run) error {
		for _, p := range b.Params {
			if old, ok := r.Params[p.Key]; ok && old != p.Value {
				return errorf(CodeInvalid, "param %q of run %s was already logged with value %q: params cannot change (new value %q)", p.Key, id, old, p.Value)
			}
		}
		return nil
	}
	// What became of each point: written, already there (a retry), or
	// dropped because its key's history is full.
	const (
		written = iota + 1
		duplicate
		dropped
	)
	fate := make([]int, len(b.Metrics))
	if len(b.Metrics) > 0 {
		cur, err := s.Run(ctx, id)
		if err != nil {
			return Run{}, err
		}
		if err := checkParams(&cur); err != nil {
			return Run{}, err
		}
		room := map[string]int64{}
		newKeys := 0
		for _, m := range b.Metrics {
			if _, ok := room[m.Key]; ok {
				continue
			}
			room[m.Key] = int64(s.limits.HistoryPoints) - cur.Series[m.Key].Points
			if _, ok := cur.Metrics[m.Key]; !ok {
				newKeys++
			}
		}
		if n := len(cur.Metrics) + newKeys; n > s.limits.MetricKeys {
			return Run{}, errorf(CodeLimitExceeded, "run %s: %d metric keys, the limit is %d", id, n, s.limits.MetricKeys)
		}
		for i, m := range b.Metrics {
			if room[m.Key] <= 0 {
				fate[i] = dropped
				continue
			}
			created, err := s.putPoint(ctx, id, m)
			if err != nil {
				return Run{}, err
			}
			fate[i] = duplicate
			if created {
				fate[i] = written
				room[m.Key]--
			}
		}
	}
	return s.Update(ctx, id, func(r *Run) error {
		if err := checkParams(r); err != nil {
			return err
		}
		if len(b.Params) > 0 && r.Params == nil {
			r.Params = map[string]string{}
		}
		for _, p := range b.Params {
			r.Params[p.Key] = p.Value
		}
		if len(b.Tags) > 0 && r.Tags == nil {
			r.Tags = map[string]string{}
		}
		for _, t := range b.Tags {
			r.Tags[t.Key] = t.Value
			if t.Key == TagRunName && t.Value != "" {
				r.Name = t.Value
			}
		}
		if len(b.Metrics) > 0 && r.Metrics == nil {
			r.Metrics = map[string]Metric{}
		}
		if len(b.Metrics) > 0 && r.Series == nil {
			r.Series = map[string]Series{}
		}
		for i, m := range b.Metrics {
			if cur, ok := r.Metrics[m.Key]; !ok || m.newer(cur) {
				r.Metrics[m.Key] = m
			}
			sr := r.Series[m.Key]
			switch fate[i] {
			case written:
				sr.Points++
			case dropped:
				sr.Dropped++
			}
			r.Series[m.Key] = sr
		}
		return nil
	})
}

// pointKey is the KV key of one metric point: its content, so that writing
// the same point twice writes one entry.
func pointKey(runID string, m Metric) string {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(m.Value)))
	h.Write(b[:])
	h.Write([]byte(m.Dataset))
	return metricKey(runID, m.Key) + "." + strconv.FormatInt(m.Timestamp, 10) + "_" + strconv.FormatInt(m.Step, 10) + "_" + strconv.FormatUint(h.Sum64(), 16)
}

// putPoint writes a metric point; created is false when it was there
// already.
func (s *Store) putPoint(ctx context.Context, runID string, m Metric) (created bool, err error) {
	b, err := json.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("encode metric %q: %w", m.Key, err)
	}
	if _, err := s.kv.Create(ctx, pointKey(runID, m), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return false, fmt.Errorf("log metric %q of run %s: %w", m.Key, runID, err)
	}
	return true, nil
}

// History returns the logged values of a metric of a run, by timestamp
// then step (ErrNotFound when the run does not exist; no points when the
// metric was never logged).
func (s *Store) History(ctx context.Context, runID, key string) (History, error) {
	if err := errors.Join(ValidID("run", runID), validKey("metric", key)); err != nil {
		return History{}, err
	}
	r, err := s.Run(ctx, runID)
	if err != nil {
		return History{}, err
	}
	h := History{RunID: runID, Key: key, Points: []Metric{}, Dropped: r.Series[key].Dropped}
	filter := metricKey(runID, key) + ".*"
	w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return History{}, fmt.Errorf("read metric %q of run %s: %w", key, runID, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return History{}, fmt.Errorf("read metric %q of run %s: %w", key, runID, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return History{}, fmt.Errorf("read metric %q of run %s: watcher closed", key, runID)
			}
			if e == nil { // every current entry has been sent
				sort.Slice(h.Points, func(i, j int) bool {
					a, b := h.Points[i], h.Points[j]
					if a.Timestamp != b.Timestamp {
						return a.Timestamp < b.Timestamp
					}
					return a.Step < b.Step
				})
				return h, nil
			}
			var m Metric
			if err := json.Unmarshal(e.Value(), &m); err != nil {
				return History{}, fmt.Errorf("decode %s: %w", e.Key(), err)
			}
			h.Points = append(h.Points, m)
		}
	}
}

// AppendLog adds output of a runner to the run's log, keeping the last
// Limits.LogBytes bytes of each stream.
func (s *Store) AppendLog(ctx context.Context, id string, stream Stream, data []byte) (Run, error) {
	if stream != Stdout && stream != Stderr {
		return Run{}, errorf(CodeInvalid, "log stream %q: want stdout or stderr", stream)
	}
	return s.Update(ctx, id, func(r *Run) error {
		t := &r.Log.Stdout
		if stream == Stderr {
			t = &r.Log.Stderr
		}
		appendTail(t, data, s.limits.LogBytes)
		return nil
	})
}

// appendTail appends data to t and cuts it to its last limit bytes, on a
// UTF-8 boundary; invalid UTF-8 is replaced so that the JSON stays the
// bytes it holds.
func appendTail(t *LogTail, data []byte, limit int) {
	all := t.Data + strings.ToValidUTF8(string(data), "\uFFFD")
	if over := len(all) - limit; over > 0 {
		cut := over
		for cut < len(all) && all[cut]&0xC0 == 0x80 { // a continuation byte
			cut++
		}
		t.Dropped += int64(cut)
		all = all[cut:]
	}
	t.Data = all
}

// AddArtifact records an artifact of a run; one with the same name is
// replaced.
func (s *Store) AddArtifact(ctx context.Context, id string, a Artifact) (Run, error) {
	if a.Name == "" {
		return Run{}, errorf(CodeInvalid, "artifact name: empty")
	}
	return s.Update(ctx, id, func(r *Run) error {
		r.Artifacts = slices.DeleteFunc(r.Artifacts, func(x Artifact) bool { return x.Name == a.Name })
		r.Artifacts = append(r.Artifacts, a)
		return nil
	})
}

// Filter selects runs; an empty field matches every run.
type Filter struct {
	Model        string
	ExperimentID string
	Status       Status
}

func (f Filter) match(r Run) bool {
	return (f.Model == "" || r.Model == f.Model) &&
		(f.ExperimentID == "" || r.ExperimentID == f.ExperimentID) &&
		(f.Status == "" || r.Status == f.Status)
}

// List returns the runs matching f, the most recently started first. It
// reads every run record of the bucket.
func (s *Store) List(ctx context.Context, f Filter) ([]Run, error) {
	l, err := s.kv.ListKeysFiltered(ctx, runPrefix+"*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return []Run{}, nil
		}
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := []Run{}
	for _, k := range keys {
		r, _, err := getJSON[Run](ctx, s.kv, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		if f.match(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StartTime != out[j].StartTime {
			return out[i].StartTime > out[j].StartTime
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ParamKeys returns the sorted param keys of runs, and MetricKeys their
// metric keys: the columns of a comparison.
func ParamKeys(runs []Run) []string {
	set := map[string]bool{}
	for _, r := range runs {
		for k := range r.Params {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// MetricKeys returns the sorted metric keys of runs.
func MetricKeys(runs []Run) []string {
	set := map[string]bool{}
	for _, r := range runs {
		for k := range r.Metrics {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
