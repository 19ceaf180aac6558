package labels_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/aliaspolicy"
	"github.com/tributary-ml/tributary/services/monitor/internal/labels"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
)

// recorder is a publisher that keeps what it was given.
type recorder struct {
	mu     sync.Mutex
	ids    []string
	events []any
}

func (r *recorder) PublishEvent(_ context.Context, typ, id, _ string, _ time.Time, data any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, typ+" "+id)
	r.events = append(r.events, data)
	return nil
}

func (r *recorder) snapshot() ([]string, []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids), slices.Clone(r.events)
}

// flakyStore is the real store behind a switch that makes ClickHouse
// "down" for the label inserts.
type flakyStore struct {
	*performance.Store
	down     atomic.Bool
	failures atomic.Int64
}

func (f *flakyStore) InsertLabels(ctx context.Context, ls []performance.Label) error {
	if f.down.Load() {
		f.failures.Add(1)
		return errors.New("clickhouse down (test)")
	}
	return f.Store.InsertLabels(ctx, ls)
}

// roller records the rows the rollback policy is given.
type roller struct {
	mu   sync.Mutex
	rows []performance.Row
}

func (r *roller) Apply(_ context.Context, rows []performance.Row) ([]aliaspolicy.Action, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, rows...)
	return nil, nil
}

func (r *roller) maxLabelled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, row := range r.rows {
		if row.Model == "churn" && row.Version == 1 && row.Route == "production" {
			n = max(n, row.Labelled)
		}
	}
	return n
}

type harness struct {
	t       *testing.T
	cluster *kfake.Cluster
	conn    driver.Conn
	db      string
	prefix  string
	topic   string
}

func newHarness(t *testing.T) *harness {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	n := time.Now().UnixNano()
	h := &harness{t: t, prefix: fmt.Sprintf("monlab%d_", n)}
	h.topic = h.prefix + event.TopicLabels
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, h.topic, h.prefix+deadletter.Topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	h.cluster = cluster
	h.conn, h.db = chxtest.Migrated(t, "monlab_")
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

func (h *harness) committed(group string) int64 {
	offs, err := kadm.NewClient(h.client()).FetchOffsets(context.Background(), group)
	if err != nil {
		return -1
	}
	o, ok := offs.Lookup(h.topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

func (h *harness) run(group string, perf *performance.Config, st labels.Store, pub *recorder, rb *roller, reg prometheus.Registerer) func() {
	cfg := labels.Config{Group: group, MaxRecords: 50, SweepInterval: 100 * time.Millisecond, PendingMaxAge: 24 * time.Hour, Backoff: 20 * time.Millisecond, TopicPrefix: h.prefix}
	c := labels.New(cfg, perf, slog.New(slog.DiscardHandler), reg, h.client(cfg.ConsumeOpts()...), st, pub, rb)
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

func (h *harness) labelRecord(id string, data map[string]any) *kgo.Record {
	h.t.Helper()
	e := ce.New()
	e.SetID(id)
	e.SetSource("crm")
	e.SetType(event.TypeLabelRecorded)
	e.SetTime(time.Now())
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		h.t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, h.topic)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func f64(v float64) *float64 { return &v }

// prediction is a prediction_log row: model churn, version 1 on production.
func prediction(id, entity string, at time.Time, score, group float64) predlog.Row {
	return predlog.Row{
		PredictionID: id, EventTime: at, Model: "churn", Version: 1, Route: "production", EntityKey: entity,
		FeatureNames: []string{"req:group", "v:x"}, FeatureValues: []*float64{f64(group), f64(score)},
		Prediction: score, Probabilities: []float64{}, AgeNames: []string{}, AgeSeconds: []float64{}, LoggedTime: at,
	}
}

func (h *harness) query(q string, dest ...any) {
	h.t.Helper()
	if err := h.conn.QueryRow(context.Background(), q).Scan(dest...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

// TestConsumer drives the label consumer against kfake and the tests'
// ClickHouse. Labels by prediction id and by entity are joined with the
// logged predictions; labels of predictions not logged yet are counted,
// kept and joined by the sweep once the predictions arrive (a late label
// updates its window); records that are no label are dead-lettered;
// ClickHouse down stops the commit; a replay of the whole topic by another
// group changes no figure and raises no alert again.
func TestConsumer(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	perf := &performance.Config{Sizes: []time.Duration{time.Hour}, MinLabels: 50, DecisionThreshold: 0.5, Horizon: time.Hour, Models: map[string]performance.ModelConfig{
		"churn": {Task: performance.Classification, LabelStream: "churned", Horizon: performance.Duration(30 * time.Minute),
			Min:      map[string]float64{performance.MetricAUC: 0.99, performance.MetricAccuracy: 0.1},
			Fairness: &performance.FairnessConfig{Attribute: "req:group"}},
	}}

	// 200 logged predictions in the hour from base: p-i for entity e-i,
	// score i/200, group i%2.
	var rows []predlog.Row
	var want []performance.Pair // what the window should hold in the end
	for i := range 200 {
		rows = append(rows, prediction(fmt.Sprintf("p-%d", i), fmt.Sprintf("e-%d", i), base.Add(time.Duration(i)*10*time.Second), float64(i)/200, float64(i%2)))
	}
	// An older prediction of e-150 outside the 30 min horizon of its label,
	// and one of another model: neither may be joined.
	rows = append(rows, prediction("p-old", "e-150", base.Add(-time.Hour), 0.9, 0))
	other := prediction("q-150", "e-150", base.Add(25*time.Minute), 0.9, 0)
	other.Model = "fraud"
	rows = append(rows, other)
	w := predlog.NewWriter(h.conn, h.db)
	if err := w.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	label := func(i int) float64 { // label 1 for 3 of 4 of the high scores, for 1 of 4 of the low ones
		if (i >= 100) == (i%4 != 0) {
			return 1
		}
		return 0
	}
	var recs []*kgo.Record
	// p-0 .. p-119 by prediction id.
	for i := range 120 {
		recs = append(recs, h.labelRecord(fmt.Sprintf("l-%d", i), map[string]any{"stream": "churned", "entity_key": fmt.Sprintf("e-%d", i), "value": label(i), "event_time": base.Add(2 * time.Hour), "prediction_id": fmt.Sprintf("p-%d", i)}))
		want = append(want, performance.Pair{Prediction: float64(i) / 200, Label: label(i)})
	}
	// e-150 .. e-179 by entity: 5 min after the prediction.
	for i := 150; i < 180; i++ {
		recs = append(recs, h.labelRecord(fmt.Sprintf("l-%d", i), map[string]any{"stream": "churned", "entity_key": fmt.Sprintf("e-%d", i), "value": label(i), "event_time": base.Add(time.Duration(i)*10*time.Second + 5*time.Minute)}))
		want = append(want, performance.Pair{Prediction: float64(i) / 200, Label: label(i)})
	}
	// Labels of predictions not logged yet (z-0 .. z-9), a label of a
	// stream no model reads, and the same label as l-0 again (a producer's
	// retry).
	for i := range 10 {
		recs = append(recs, h.labelRecord(fmt.Sprintf("lz-%d", i), map[string]any{"stream": "churned", "entity_key": "ez", "value": 1.0, "event_time": base.Add(2 * time.Hour), "prediction_id": fmt.Sprintf("z-%d", i)}))
	}
	recs = append(recs, h.labelRecord("l-x", map[string]any{"stream": "returns", "entity_key": "e-1", "value": 1.0, "event_time": base.Add(time.Hour)}))
	recs = append(recs, h.labelRecord("l-0", map[string]any{"stream": "churned", "entity_key": "e-0", "value": label(0), "event_time": base.Add(2 * time.Hour), "prediction_id": "p-0"}))
	good := len(recs)
	recs = append(recs, &kgo.Record{Topic: h.topic, Value: []byte("not a cloudevent")},
		h.labelRecord("l-bad", map[string]any{"stream": "churned", "entity_key": "e-1", "value": 1.0, "event_time": base, "colour": "red"}))
	if err := h.client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	end := int64(len(recs))

	st := &flakyStore{Store: performance.NewStore(h.conn, h.db)}
	st.down.Store(true)
	pub := &recorder{}
	reg := prometheus.NewRegistry()
	rb := &roller{}
	stop := h.run(h.prefix+"g1", perf, st, pub, rb, reg)
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := st.failures.Load(); n < 3 {
			return fmt.Errorf("%d failed inserts", n)
		}
		return nil
	})
	if c := h.committed(h.prefix + "g1"); c >= 0 {
		t.Fatalf("committed offset %d while ClickHouse was down", c)
	}
	st.down.Store(false)
	testkit.Eventually(t, 20*time.Second, func() error {
		if c := h.committed(h.prefix + "g1"); c != end {
			return fmt.Errorf("committed %d, want %d", c, end)
		}
		return nil
	})
	perfQuery := fmt.Sprintf("SELECT predictions, labelled, unlabelled, accuracy, auc, breaches FROM %s.model_performance FINAL WHERE model = 'churn' AND version = 1 AND route = 'production' AND window_start = toDateTime(%d, 'UTC') AND window_size_seconds = 3600", h.db, base.Unix())
	type perfRow struct {
		predictions, labelled, unlabelled uint64
		accuracy, auc                     *float64
		breaches                          []string
	}
	read := func() (perfRow, error) {
		var r perfRow
		err := h.conn.QueryRow(ctx, perfQuery).Scan(&r.predictions, &r.labelled, &r.unlabelled, &r.accuracy, &r.auc, &r.breaches)
		return r, err
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		r, err := read()
		if err != nil {
			return err
		}
		if r.labelled != 150 {
			return fmt.Errorf("labelled %d, want 150", r.labelled)
		}
		return nil
	})
	check := func(r perfRow, pairs []performance.Pair, predictions uint64) {
		t.Helper()
		m := performance.Compute(performance.Classification, 0.5, pairs)
		if r.predictions != predictions || r.labelled != uint64(len(pairs)) || r.unlabelled != predictions-uint64(len(pairs)) {
			t.Errorf("counts %d/%d/%d, want %d/%d/%d", r.predictions, r.labelled, r.unlabelled, predictions, len(pairs), predictions-uint64(len(pairs)))
		}
		if r.accuracy == nil || math.Abs(*r.accuracy-*m.Accuracy) > 1e-12 || r.auc == nil || math.Abs(*r.auc-*m.AUC) > 1e-12 {
			t.Errorf("accuracy %v, auc %v; want %v, %v", r.accuracy, r.auc, *m.Accuracy, *m.AUC)
		}
		if !slices.Equal(r.breaches, []string{"auc"}) {
			t.Errorf("breaches %v, want [auc]", r.breaches)
		}
	}
	r, _ := read()
	check(r, want, 200)
	var byEntity uint64
	h.query("SELECT count() FROM "+h.db+".prediction_labels FINAL WHERE joined_by = 'entity'", &byEntity)
	if byEntity != 30 {
		t.Errorf("%d labels joined by entity, want 30 (not p-old, not the other model's)", byEntity)
	}
	for outcome, n := range map[string]float64{"joined": 151, "unknown_prediction": 11, "bad_label": 2} {
		if got := testutil.ToFloat64(counter(t, reg, "tributary_monitor_labels_total", outcome)); got != n {
			t.Errorf("outcome %s: %v, want %v", outcome, got, n)
		}
	}

	// The predictions of the waiting labels arrive: the sweep joins them and
	// the window is recomputed, without a second alert.
	var late []predlog.Row
	for i := range 10 {
		late = append(late, prediction(fmt.Sprintf("z-%d", i), "ez", base.Add(50*time.Minute), 0.2, 1))
		want = append(want, performance.Pair{Prediction: 0.2, Label: 1})
	}
	if err := w.Insert(ctx, late); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		r, err := read()
		if err != nil {
			return err
		}
		if r.labelled != 160 {
			return fmt.Errorf("labelled %d, want 160", r.labelled)
		}
		return nil
	})
	r, _ = read()
	check(r, want, 210)
	testkit.Eventually(t, 5*time.Second, func() error {
		if got := testutil.ToFloat64(counter(t, reg, "tributary_monitor_labels_total", "joined_late")); got != 10 {
			return fmt.Errorf("joined_late %v, want 10", got)
		}
		if got := testutil.ToFloat64(gauge(t, reg, "tributary_monitor_labels_pending")); got != 1 {
			return fmt.Errorf("pending %v, want 1 (the label of a stream no model reads)", got)
		}
		return nil
	})
	stop()
	// The rollback policy saw every recomputed row, the last with all the
	// labels.
	if n := rb.maxLabelled(); n != 160 {
		t.Errorf("the rollback policy saw rows of up to %d labels, want 160", n)
	}

	// One alert per breach and window: auc under its floor, and the
	// equalized-odds difference of req:group over the default 0.1 (the
	// demographic-parity difference, 0.045, is under it).
	// Group 0 has the even scores i/200 (i even) and none of the z-*: 50
	// of 100 at or above 0.5; group 1 the odd ones (50 of 100) and the ten
	// z-* at 0.2: 50 of 110. Every row of the window has the difference.
	// (fairness_metrics is written just after model_performance: poll.)
	wantDP := 50.0/100 - 50.0/110
	testkit.Eventually(t, 5*time.Second, func() error {
		var groups []string
		var dps []float64
		h.query(fmt.Sprintf("SELECT groupArray(group_value), groupArray(demographic_parity_difference) FROM (SELECT group_value, demographic_parity_difference FROM %s.fairness_metrics FINAL WHERE model = 'churn' AND window_start = toDateTime(%d, 'UTC') ORDER BY group_value)", h.db, base.Unix()), &groups, &dps)
		if !slices.Equal(groups, []string{"0", "1"}) {
			return fmt.Errorf("fairness groups %v", groups)
		}
		for _, dp := range dps {
			if math.Abs(dp-wantDP) > 1e-12 {
				return fmt.Errorf("demographic parity differences %v, want %v", dps, wantDP)
			}
		}
		return nil
	})
	ids, events := pub.snapshot()
	if len(ids) != 2 {
		t.Fatalf("alerts %v, want two (auc, equalized odds)", ids)
	}
	for _, e := range events {
		switch e := e.(type) {
		case event.PerformanceDegraded:
			if e.Model != "churn" || e.Version != 1 || e.Route != "production" || e.Metric != "auc" || e.Baseline != 0.99 || e.Threshold == nil || *e.Threshold != 0.99 ||
				!e.WindowStart.Equal(base) || !e.WindowEnd.Equal(base.Add(time.Hour)) || e.SampleSize < 50 || e.SampleSize > 150 {
				t.Errorf("alert %+v", e)
			}
		case event.FairnessBreached:
			if e.Model != "churn" || e.Metric != event.FairnessEqualizedOdds || e.Attribute != "req:group" || e.Threshold != 0.1 || e.Value <= 0.1 ||
				!slices.Equal(e.Groups, []string{"0", "1"}) || !e.WindowStart.Equal(base) || e.SampleSize < 50 || e.SampleSize > 150 {
				t.Errorf("fairness alert %+v", e)
			}
		default:
			t.Errorf("alert %T", e)
		}
	}

	// Dead letters.
	dl := h.client(kgo.ConsumeTopics(h.prefix+deadletter.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var reasons []string
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		dl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
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
	if want := []string{fmt.Sprintf("bad_label@kafka:%s/0/%d", h.topic, good), fmt.Sprintf("bad_label@kafka:%s/0/%d", h.topic, good+1)}; !slices.Equal(reasons, want) {
		t.Errorf("dead letters %v, want %v", reasons, want)
	}

	// A replay of the whole topic by another group: the same figures, no
	// alert.
	pub2 := &recorder{}
	stop = h.run(h.prefix+"g2", perf, performance.NewStore(h.conn, h.db), pub2, &roller{}, prometheus.NewRegistry())
	testkit.Eventually(t, 20*time.Second, func() error {
		if c := h.committed(h.prefix + "g2"); c != end {
			return fmt.Errorf("committed %d, want %d", c, end)
		}
		return nil
	})
	stop()
	r, _ = read()
	check(r, want, 210)
	if ids, _ := pub2.snapshot(); len(ids) != 0 {
		t.Errorf("the replay raised %v", ids)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name, outcome string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					c.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return c
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				g.Set(m.GetGauge().GetValue())
			}
		}
	}
	return g
}
