package performance_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
)

func testStore(t *testing.T) (*performance.Store, *predlog.Writer) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	conn, db := chxtest.Migrated(t, "monperf_")
	return performance.NewStore(conn, db), predlog.NewWriter(conn, db)
}

// TestStore runs the store's reads on the tests' ClickHouse (18.16 in CI):
// the join's reads at their time bounds, a prediction logged twice read
// once, the counts per group (a prediction without the attribute in the
// group ""), the pending labels, the breaches recorded and the recent
// figures of a version.
func TestStore(t *testing.T) {
	st, w := testStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	one := 1.0
	row := func(id, entity string, at time.Time, score float64, names []string, values []*float64) predlog.Row {
		return predlog.Row{PredictionID: id, EventTime: at, Model: "churn", Version: 2, Route: "canary", EntityKey: entity, FeatureNames: names, FeatureValues: values,
			Prediction: score, Probabilities: []float64{}, AgeNames: []string{}, AgeSeconds: []float64{}, LoggedTime: at}
	}
	rows := []predlog.Row{
		row("p1", "e1", t0.Add(-time.Hour), 0.9, []string{"r:g"}, []*float64{&one}),
		row("p2", "e1", t0, 0.2, []string{"r:g"}, []*float64{nil}),
		row("p3", "e1", t0.Add(time.Second), 0.7, []string{"v:x"}, []*float64{&one}),
	}
	if err := w.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Insert(ctx, rows[:1]); err != nil { // a replay
		t.Fatal(err)
	}
	ps, err := st.ByID(ctx, []string{"p1", "nope"})
	if err != nil || len(ps) != 1 || ps[0].ID != "p1" || ps[0].Feature("r:g") != "1" || !ps[0].Time.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("ByID = %+v, %v", ps, err)
	}
	ps, err = st.ByEntity(ctx, []string{"churn"}, []string{"e1"}, t0.Add(-time.Hour), t0)
	if err != nil || len(ps) != 2 {
		t.Fatalf("ByEntity = %+v, %v; want p1 and p2 (p3 is after the bound)", ps, err)
	}
	counts, err := st.Counts(ctx, "churn", t0.Add(-time.Hour), t0.Add(time.Hour), "r:g", 0.5)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]uint64{}
	for _, c := range counts[performance.Key{Version: 2, Route: "canary"}] {
		got[c.Group] = [2]uint64{c.Predictions, c.PredictedPositive}
	}
	if len(got) != 2 || got["1"] != [2]uint64{1, 1} || got[""] != [2]uint64{2, 1} {
		t.Errorf("counts per group %v, want 1: 1 of 1 positive, \"\": 1 of 2 (null and absent)", got)
	}

	labels := []performance.Label{
		{ID: "s/1", Stream: "churned", EntityKey: "e1", EventTime: t0, Value: 1, PredictionID: "p1", IngestTime: t0.Add(2 * time.Hour)},
		{ID: "s/2", Stream: "churned", EntityKey: "e9", EventTime: t0, Value: 0, IngestTime: t0.Add(2*time.Hour + 1500*time.Millisecond)},
		{ID: "s/3", Stream: "churned", EntityKey: "e9", EventTime: t0, Value: 0, IngestTime: t0.Add(-time.Hour)}, // too old to wait
	}
	if err := st.InsertLabels(ctx, append(labels, labels[0])); err != nil {
		t.Fatal(err)
	}
	joined, _, err := performance.Join(ctx, &performance.Config{Horizon: time.Hour, DecisionThreshold: 0.5}, st, labels[:1])
	if err != nil || len(joined) != 1 {
		t.Fatalf("Join = %v, %v", joined, err)
	}
	if err := st.InsertJoined(ctx, joined); err != nil {
		t.Fatal(err)
	}
	pending, err := st.Pending(ctx, t0, 10)
	if err != nil || len(pending) != 1 || pending[0].ID != "s/2" || !pending[0].IngestTime.Equal(labels[1].IngestTime) || !pending[0].EventTime.Equal(t0) {
		t.Fatalf("Pending = %+v, %v; want s/2 only", pending, err)
	}

	win := performance.Window{Model: "churn", Start: t0.Add(-time.Hour), Size: time.Hour}
	auc := 0.7
	r := performance.Row{Window: win, Key: performance.Key{Version: 2, Route: "canary"}, Task: performance.Classification, Metrics: performance.Metrics{Labelled: 300, AUC: &auc}, Breaches: []string{"auc"}, ComputedMs: 1}
	older := r
	older.Window.Start = t0.Add(-2 * time.Hour)
	auc2 := 0.9
	older.AUC = &auc2
	older.Labelled = 100
	older.Breaches = nil
	if err := st.InsertResults(ctx, []performance.Row{r, older}, nil); err != nil {
		t.Fatal(err)
	}
	perf, fair, err := st.Breaches(ctx, "churn", win.Start, win.Size)
	if err != nil || len(perf[r.Key]) != 1 || perf[r.Key][0] != "auc" || len(fair) != 0 {
		t.Fatalf("Breaches = %v, %v, %v", perf, fair, err)
	}
	v, n, err := st.Recent(ctx, "churn", 2, "auc", time.Hour, t0.Add(-2*time.Hour))
	if err != nil || n != 400 || math.Abs(v-(0.7*300+0.9*100)/400) > 1e-12 {
		t.Fatalf("Recent = %v, %d, %v; want the mean weighted by labels over both windows", v, n, err)
	}
	v, n, err = st.Recent(ctx, "churn", 2, "auc", time.Hour, t0.Add(-time.Hour))
	if err != nil || n != 300 || v != 0.7 {
		t.Fatalf("Recent since the last window = %v, %d, %v", v, n, err)
	}
	if _, n, err := st.Recent(ctx, "churn", 9, "auc", time.Hour, t0.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("Recent of a version without rows = %d, %v", n, err)
	}
	if _, _, err := st.Recent(ctx, "churn", 2, "auc; DROP TABLE x", time.Hour, t0); err == nil {
		t.Fatal("Recent of an unknown metric: no error")
	}
}
