package consume_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/drift"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/alerts"
	"github.com/tributary-ml/tributary/services/monitor/internal/consume"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
	"github.com/tributary-ml/tributary/services/monitor/internal/reports"
	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

// flakyLog is the real writer behind a switch that makes ClickHouse "down".
type flakyLog struct {
	w        *predlog.Writer
	down     atomic.Bool
	failures atomic.Int64
}

func (f *flakyLog) Insert(ctx context.Context, rows []predlog.Row) error {
	if f.down.Load() {
		f.failures.Add(1)
		return errors.New("clickhouse down (test)")
	}
	return f.w.Insert(ctx, rows)
}

type recordedAlerts struct {
	mu      sync.Mutex
	ids     []string
	all     []event.DriftDetected
	quality []event.DataQualityBreached
}

func (r *recordedAlerts) Publish(_ context.Context, a []event.DriftDetected, q []event.DataQualityBreached) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range a {
		r.ids = append(r.ids, alerts.ID(d))
		r.all = append(r.all, d)
	}
	for _, d := range q {
		r.ids = append(r.ids, alerts.QualityID(d))
		r.quality = append(r.quality, d)
	}
	return nil
}

func (r *recordedAlerts) snapshot() ([]string, []event.DriftDetected) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids), slices.Clone(r.all)
}

// memState is a snapshot store in memory.
type memState struct {
	mu   sync.Mutex
	snap []byte
	fail atomic.Bool
}

func (m *memState) Load(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.snap), nil
}

func (m *memState) Save(_ context.Context, b []byte) error {
	if m.fail.Load() {
		return errors.New("nats down (test)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snap = slices.Clone(b)
	return nil
}

type fixedRefs map[int]model.Reference

func (f fixedRefs) Reference(_ context.Context, _ string, version int) (model.Reference, bool, error) {
	r, ok := f[version]
	return r, ok, nil
}

func reference() model.Reference {
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(i) / 1000
	}
	return model.Reference{Features: map[string]model.Distribution{"v:x": model.NewNumeric(xs, 10), "v:y": model.NewNumeric(xs, 10)}, Prediction: model.NewNumeric(xs, 10)}
}

func prediction(t *testing.T, topic, id string, version int, at time.Time, x float64) *kgo.Record {
	t.Helper()
	e := ce.New()
	e.SetID("ev-" + id)
	e.SetSource("tributary/serving")
	e.SetType(event.TypePredictionLogged)
	e.SetTime(at)
	if err := e.SetData(ce.ApplicationJSON, map[string]any{
		"prediction_id": id, "model": "churn", "version": version, "alias": "production", "entity_key": "c1",
		"features": map[string]any{"v:x": x, "v:y": nil}, "prediction": min(x, 0.999), "event_time": at,
		"latency_seconds": 0.002, "feature_ages_seconds": map[string]float64{"v:x": 12.5},
		"categorical_features": map[string]any{"v:segment": "gold", "v:region": nil},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, topic)
	if err != nil {
		t.Fatal(err)
	}
	r.Key = []byte("c1")
	return r
}

type harness struct {
	t       testing.TB
	cluster *kfake.Cluster
	conn    driver.Conn
	db      string
	prefix  string
	topic   string
}

func newHarness(t *testing.T) *harness { return newHarnessB(t) }

func newHarnessB(t testing.TB) *harness {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	n := time.Now().UnixNano()
	h := &harness{t: t, prefix: fmt.Sprintf("mon%d_", n)}
	h.topic = h.prefix + event.TopicPredictions
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, h.topic, h.prefix+deadletter.Topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	h.cluster = cluster
	h.conn, h.db = chxtest.Migrated(t, "montest_")
	return h
}

func (h *harness) client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(h.cluster.ListenAddrs()...)}, opts...)...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(cl.Close)
	return cl
}

func (h *harness) count(query string) uint64 {
	h.t.Helper()
	var n uint64
	if err := h.conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// committed is the group's committed offset of partition 0 (-1: none).
func (h *harness) committed(group string) int64 {
	adm := kadm.NewClient(h.client())
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		return -1
	}
	o, ok := offs.Lookup(h.topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

// run starts a consumer in group and returns a stop function.
func (h *harness) run(group string, log *flakyLog, al *recordedAlerts, reg prometheus.Registerer, st *memState) func() {
	wcfg := windows.Config{Sizes: []time.Duration{time.Minute}, Lateness: 0, Drift: drift.DefaultConfig(), MissingShare: 0.1, OutOfRangeShare: 0.05, UnseenShare: 0.05}
	wcfg.Drift.MinCount = 50
	cfg := consume.Config{Group: group, MaxRecords: 100, Backoff: 20 * time.Millisecond, TopicPrefix: h.prefix}
	cl := h.client(cfg.ConsumeOpts()...)
	c := consume.New(cfg, wcfg, slog.New(slog.DiscardHandler), reg, cl, log, reports.NewWriter(h.conn, h.db), al, fixedRefs{1: reference()}, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("consumer: %v", err)
		}
	}
}

// TestConsumer drives the whole consumer against kfake and the tests'
// ClickHouse: ClickHouse down at first (nothing committed, retried), then
// up (every prediction logged, bad records dead-lettered, drift of the
// closed windows written and alerted), then a replay of the whole topic by
// a second group, which analysts do not see (FINAL) and which raises the
// same alert ids.
func TestConsumer(t *testing.T) {
	h := newHarness(t)
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	id := 0
	next := func() string { id++; return fmt.Sprintf("p-%d", id) }
	// Minute 0: the reference's distribution. Minute 1: shifted past its
	// range. Version 2 has no reference. Minute 3 closes minutes 0 and 1.
	for i := range 200 {
		recs = append(recs, prediction(t, h.topic, next(), 1, base.Add(time.Duration(i)*250*time.Millisecond), float64((i*5)%1000)/1000))
	}
	for i := range 200 {
		recs = append(recs, prediction(t, h.topic, next(), 1, base.Add(time.Minute+time.Duration(i)*250*time.Millisecond), 5+float64(i)/1000))
	}
	for i := range 10 {
		recs = append(recs, prediction(t, h.topic, next(), 2, base.Add(time.Duration(i)*time.Second), 0.5))
	}
	recs = append(recs, prediction(t, h.topic, next(), 1, base.Add(3*time.Minute), 0.5))
	valid := len(recs)
	bad := prediction(t, h.topic, "", 1, base, 0.5) // no prediction_id
	recs = append(recs, &kgo.Record{Topic: h.topic, Value: []byte("not a cloudevent")}, bad)
	if err := h.client().ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	end := int64(len(recs))

	log := &flakyLog{w: predlog.NewWriter(h.conn, h.db)}
	log.down.Store(true)
	al := &recordedAlerts{}
	reg := prometheus.NewRegistry()
	stop := h.run(h.prefix+"g1", log, al, reg, &memState{})
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := log.failures.Load(); n < 3 {
			return fmt.Errorf("%d failed inserts", n)
		}
		return nil
	})
	if c := h.committed(h.prefix + "g1"); c >= 0 {
		t.Fatalf("committed offset %d while ClickHouse was down", c)
	}
	if ids, _ := al.snapshot(); len(ids) != 0 {
		t.Fatalf("alerts published while ClickHouse was down: %v", ids)
	}
	log.down.Store(false)
	testkit.Eventually(t, 20*time.Second, func() error {
		if c := h.committed(h.prefix + "g1"); c != end {
			return fmt.Errorf("committed %d, want %d", c, end)
		}
		return nil
	})
	stop()

	if n := h.count("SELECT count() FROM " + h.db + ".prediction_log FINAL"); n != uint64(valid) {
		t.Errorf("prediction_log has %d predictions, want %d", n, valid)
	}
	var names []string
	var ages []float64
	var route string
	if err := h.conn.QueryRow(context.Background(), "SELECT feature_names, feature_age_seconds, route FROM "+h.db+".prediction_log FINAL WHERE prediction_id = 'p-1'").Scan(&names, &ages, &route); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"v:x", "v:y"}) || !slices.Equal(ages, []float64{12.5}) || route != "production" {
		t.Errorf("p-1: features %v, ages %v, route %q", names, ages, route)
	}
	var catNames []string
	var catValues []*string
	if err := h.conn.QueryRow(context.Background(), "SELECT categorical_feature_names, categorical_feature_values FROM "+h.db+".prediction_log FINAL WHERE prediction_id = 'p-1'").Scan(&catNames, &catValues); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(catNames, []string{"v:region", "v:segment"}) || len(catValues) != 2 || catValues[0] != nil || catValues[1] == nil || *catValues[1] != "gold" {
		t.Errorf("p-1: categorical features %v %v, want [v:region v:segment] [NULL gold]", catNames, catValues)
	}
	// Dead letters.
	dl := h.client(kgo.ConsumeTopics(h.prefix+deadletter.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var reasons []string
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		fs := dl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			l, err := deadletter.Decode(r)
			if err != nil {
				t.Errorf("dead letter: %v", err)
				return
			}
			reasons = append(reasons, string(l.Reason)+"@"+l.Origin.String())
		})
		if len(reasons) < 2 {
			return fmt.Errorf("dead letters %v", reasons)
		}
		return nil
	})
	sort.Strings(reasons)
	want := []string{fmt.Sprintf("bad_prediction@kafka:%s/0/%d", h.topic, valid+1), fmt.Sprintf("undecodable_event@kafka:%s/0/%d", h.topic, valid)}
	if !slices.Equal(reasons, want) {
		t.Errorf("dead letters %v, want %v", reasons, want)
	}
	for outcome, n := range map[string]float64{"logged": float64(valid), "no_reference": 10, "undecodable_event": 1, "bad_prediction": 1} {
		if got := testutil.ToFloat64(counter(t, reg, outcome)); got != n {
			t.Errorf("outcome %s: %v, want %v", outcome, got, n)
		}
	}

	// Drift: minute 0 not drifted, minute 1 drifted (PSI), out of range.
	drifted := func(minute int, method string) uint64 {
		return h.count(fmt.Sprintf("SELECT toUInt64(max(drifted)) FROM %s.drift_metrics FINAL WHERE feature = 'v:x' AND method = '%s' AND window_start = toDateTime(%d, 'UTC')", h.db, method, base.Add(time.Duration(minute)*time.Minute).Unix()))
	}
	if drifted(0, "psi") != 0 || drifted(1, "psi") != 1 || drifted(1, "ks") != 1 {
		t.Errorf("psi drifted minute 0: %d, minute 1: %d; ks minute 1: %d", drifted(0, "psi"), drifted(1, "psi"), drifted(1, "ks"))
	}
	if n := h.count(fmt.Sprintf("SELECT count() FROM %s.data_quality FINAL WHERE feature = 'v:x' AND has(breaches, 'out_of_range_share') AND window_start = toDateTime(%d, 'UTC')", h.db, base.Add(time.Minute).Unix())); n != 1 {
		t.Errorf("out-of-range breach rows of minute 1: %d, want 1", n)
	}
	// v:y is always missing: a missing_share breach in both windows.
	if n := h.count("SELECT count() FROM " + h.db + ".data_quality FINAL WHERE feature = 'v:y' AND has(breaches, 'missing_share')"); n != 2 {
		t.Errorf("missing breach rows of v:y: %d, want 2", n)
	}
	ids, all := al.snapshot()
	if len(all) == 0 {
		t.Fatal("no drift alert")
	}
	// Quality: v:y missing in minutes 0 and 1, v:x out of range in minute 1.
	var checks []string
	for _, q := range al.quality {
		checks = append(checks, fmt.Sprintf("%s %s %d", q.Feature, q.Check, q.WindowStart.Sub(base)/time.Minute))
	}
	sort.Strings(checks)
	if want := []string{"v:x out_of_range_share 1", "v:y missing_share 0", "v:y missing_share 1"}; !slices.Equal(checks, want) {
		t.Errorf("quality alerts %v, want %v", checks, want)
	}
	for _, a := range all {
		if !a.WindowStart.Equal(base.Add(time.Minute)) || a.SampleSize != 200 || a.Model != "churn" || a.Version != 1 {
			t.Errorf("alert %+v: want minute 1, 200 values", a)
		}
	}
	metrics := h.count("SELECT count() FROM " + h.db + ".drift_metrics FINAL")

	// A replay of the whole topic (a second group) adds no prediction and
	// no metric analysts see, and raises the very same alert ids.
	al2 := &recordedAlerts{}
	reg2 := prometheus.NewRegistry()
	stop = h.run(h.prefix+"g2", &flakyLog{w: predlog.NewWriter(h.conn, h.db)}, al2, reg2, &memState{})
	testkit.Eventually(t, 20*time.Second, func() error {
		if c := h.committed(h.prefix + "g2"); c != end {
			return fmt.Errorf("committed %d, want %d", c, end)
		}
		return nil
	})
	stop()
	// The replay wrote every row again (ClickHouse may have merged some
	// copies away already, so the raw count is not asserted).
	if got := testutil.ToFloat64(counter(t, reg2, "logged")); got != float64(valid) {
		t.Errorf("replay logged %v, want %d", got, valid)
	}
	if n := h.count("SELECT count() FROM " + h.db + ".prediction_log FINAL"); n != uint64(valid) {
		t.Errorf("predictions after the replay: %d, want %d", n, valid)
	}
	if n := h.count("SELECT count() FROM (SELECT prediction_id FROM " + h.db + ".prediction_log LIMIT 1 BY prediction_id)"); n != uint64(valid) {
		t.Errorf("predictions (LIMIT 1 BY) after the replay: %d, want %d", n, valid)
	}
	if n := h.count("SELECT count() FROM " + h.db + ".drift_metrics FINAL"); n != metrics {
		t.Errorf("drift_metrics after the replay: %d, want %d", n, metrics)
	}
	ids2, _ := al2.snapshot()
	if !slices.Equal(ids, ids2) {
		t.Errorf("replay alert ids %v, want %v", ids2, ids)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, outcome string) prometheus.Collector {
	t.Helper()
	return metric(t, reg, "tributary_monitor_predictions_total", "outcome", outcome)
}

func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
}

// TestRestartFromSnapshot stops a consumer with a window open, then lets
// another read the whole topic again (its offsets lost) from the first
// one's snapshot: the records the snapshot includes are logged again but
// not counted in drift twice, so the window has each prediction once. A
// snapshot that cannot be written holds the commit back.
func TestRestartFromSnapshot(t *testing.T) {
	h := newHarness(t)
	base := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	id := 0
	batch := func(minute, from, to int, shift float64) []*kgo.Record {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			id++
			recs = append(recs, prediction(t, h.topic, fmt.Sprintf("q-%d", id), 1, base.Add(time.Duration(minute)*time.Minute+time.Duration(i)*250*time.Millisecond), shift+float64((i*5)%1000)/1000))
		}
		return recs
	}
	first := append(batch(0, 0, 200, 0), batch(1, 0, 100, 5)...)
	if err := h.client().ProduceSync(context.Background(), first...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	st := &memState{}
	st.fail.Store(true)
	reg := prometheus.NewRegistry()
	stop := h.run(h.prefix+"g1", &flakyLog{w: predlog.NewWriter(h.conn, h.db)}, &recordedAlerts{}, reg, st)
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := testutil.ToFloat64(metric(t, reg, "tributary_monitor_write_failures_total", "step", "snapshot")); n < 2 {
			return fmt.Errorf("%v failed snapshots", n)
		}
		return nil
	})
	if c := h.committed(h.prefix + "g1"); c >= 0 {
		t.Fatalf("committed %d without a snapshot", c)
	}
	st.fail.Store(false)
	testkit.Eventually(t, 20*time.Second, func() error {
		if c := h.committed(h.prefix + "g1"); c != int64(len(first)) {
			return fmt.Errorf("committed %d, want %d", c, len(first))
		}
		return nil
	})
	stop()

	rest := append(batch(1, 100, 200, 5), batch(3, 0, 1, 0)...)
	if err := h.client().ProduceSync(context.Background(), rest...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	end := int64(len(first) + len(rest))
	reg2 := prometheus.NewRegistry()
	stop = h.run(h.prefix+"g2", &flakyLog{w: predlog.NewWriter(h.conn, h.db)}, &recordedAlerts{}, reg2, st)
	testkit.Eventually(t, 20*time.Second, func() error {
		if c := h.committed(h.prefix + "g2"); c != end {
			return fmt.Errorf("committed %d, want %d", c, end)
		}
		return nil
	})
	stop()
	if got := testutil.ToFloat64(counter(t, reg2, "replayed")); got != float64(len(first)) {
		t.Errorf("replayed %v, want %d", got, len(first))
	}
	for minute := range 2 {
		n := h.count(fmt.Sprintf("SELECT toUInt64(max(sample_size)) FROM %s.drift_metrics FINAL WHERE feature = 'v:x' AND window_start = toDateTime(%d, 'UTC')", h.db, base.Add(time.Duration(minute)*time.Minute).Unix()))
		if n != 200 {
			t.Errorf("minute %d: sample size %d, want 200", minute, n)
		}
	}
	if n := h.count("SELECT count() FROM " + h.db + ".prediction_log FINAL"); n != uint64(end) {
		t.Errorf("prediction_log: %d, want %d", n, end)
	}
}
