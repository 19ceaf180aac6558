package runs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newRun(t *testing.T, st *runs.Store, r runs.Run) runs.Run {
	t.Helper()
	out, err := st.CreateRun(ctxT(t), r)
	if err != nil {
		t.Fatalf("create run: %v", err)
	}
	return out
}

func TestCreateAndGetRun(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	ctx := ctxT(t)
	seed := int64(42)
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r := newRun(t, st, runs.Run{
		Model: "fraud", JobID: "job-1", Trigger: "manual", Seed: &seed, Trainer: "logistic", CodeVersion: "abc123",
		TrainingSet:        &runs.TrainingSet{ID: "ds-1", SHA256: strings.Repeat("ab", 32), LabelsFrom: from, LabelsTo: from.Add(24 * time.Hour), Rows: 1000},
		FeatureDefinitions: map[string]string{"txn": "v3"},
		Params:             map[string]string{"l2": "0.1"},
	})
	if len(r.ID) != 32 || r.ExperimentID != runs.DefaultExperimentID || r.Status != runs.StatusRunning || r.StartTime == 0 || r.Name != "run-"+r.ID[:8] {
		t.Fatalf("defaults not filled in: %+v", r)
	}
	got, err := st.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "fraud" || *got.Seed != 42 || got.TrainingSet.SHA256 != r.TrainingSet.SHA256 || !got.TrainingSet.LabelsTo.Equal(from.Add(24*time.Hour)) ||
		got.FeatureDefinitions["txn"] != "v3" || got.Params["l2"] != "0.1" || got.CodeVersion != "abc123" {
		t.Fatalf("read back %+v", got)
	}
	if _, err := st.CreateRun(ctx, runs.Run{ID: r.ID}); !errors.Is(err, runs.ErrAlreadyExists) {
		t.Fatalf("second create with the same id: %v, want ErrAlreadyExists", err)
	}
	if _, err := st.Run(ctx, "nope"); !errors.Is(err, runs.ErrNotFound) {
		t.Fatalf("missing run: %v, want ErrNotFound", err)
	}
	if _, err := st.Run(ctx, "bad.id"); !errors.Is(err, runs.ErrInvalid) {
		t.Fatalf("bad id: %v, want ErrInvalid", err)
	}
	if _, err := st.CreateRun(ctx, runs.Run{ExperimentID: "12345"}); !errors.Is(err, runs.ErrNotFound) {
		t.Fatalf("run in a missing experiment: %v, want ErrNotFound", err)
	}
}

// TestUpdateRetriesConflict makes another writer change the run between
// Update's read and its write: the write loses the compare-and-set, Update
// reads again and applies the change on top, and both changes are kept.
func TestUpdateRetriesConflict(t *testing.T) {
	js := runstest.JetStream(t, 0)
	reg := prometheus.NewRegistry()
	st, other := runstest.Store(t, js, runs.WithRegisterer(reg)), runstest.Store(t, js)
	ctx := ctxT(t)
	r := newRun(t, st, runs.Run{})
	calls := 0
	got, err := st.Update(ctx, r.ID, func(run *runs.Run) error {
		calls++
		if calls == 1 {
			if _, err := other.LogBatch(ctx, r.ID, runs.Batch{Params: []runs.Param{{Key: "from_other", Value: "1"}}}); err != nil {
				return err
			}
		}
		run.Model = "fraud"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("change ran %d times, want 2 (one lost compare-and-set, one retry)", calls)
	}
	want := `# HELP tributary_trainer_runs_cas_conflicts_total Compare-and-set writes of run records that lost to another writer and were retried.
# TYPE tributary_trainer_runs_cas_conflicts_total counter
tributary_trainer_runs_cas_conflicts_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_trainer_runs_cas_conflicts_total"); err != nil {
		t.Error(err)
	}
	stored, err := st.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []runs.Run{got, stored} {
		if run.Model != "fraud" || run.Params["from_other"] != "1" {
			t.Errorf("a write was lost: model %q, params %v", run.Model, run.Params)
		}
	}
}

// TestConcurrentLogging logs from 8 goroutines at once, on one run and one
// metric key: nothing is lost.
func TestConcurrentLogging(t *testing.T) {
	js := runstest.JetStream(t, 0)
	st := runstest.Store(t, js)
	ctx := ctxT(t)
	r := newRun(t, st, runs.Run{})
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for g := range writers {
		w := runstest.Store(t, js) // each writer a replica of its own
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				step := int64(g*each + i)
				_, err := w.LogBatch(ctx, r.ID, runs.Batch{
					Metrics: []runs.Metric{{Key: "loss", Value: runs.Float(float64(step) / 10), Step: step, Timestamp: 1000 + step}},
					Params:  []runs.Param{{Key: fmt.Sprintf("p%d_%d", g, i), Value: fmt.Sprint(step)}},
					Tags:    []runs.Tag{{Key: fmt.Sprintf("writer%d", g), Value: fmt.Sprint(i)}},
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := st.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Params) != writers*each {
		t.Errorf("%d params, want %d", len(got.Params), writers*each)
	}
	for g := range writers {
		if got.Tags[fmt.Sprintf("writer%d", g)] != fmt.Sprint(each-1) {
			t.Errorf("tag writer%d = %q, want %d", g, got.Tags[fmt.Sprintf("writer%d", g)], each-1)
		}
	}
	last := int64(writers*each - 1)
	if m := got.Metrics["loss"]; m.Step != last || float64(m.Value) != float64(last)/10 {
		t.Errorf("latest loss %+v, want step %d", m, last)
	}
	h, err := st.History(ctx, r.ID, "loss")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, p := range h.Points {
		seen[p.Step] = true
	}
	if len(h.Points) != writers*each || len(seen) != writers*each {
		t.Errorf("history has %d points (%d distinct steps), want %d", len(h.Points), len(seen), writers*each)
	}
}

func TestParamsAreImmutable(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	ctx := ctxT(t)
	r := newRun(t, st, runs.Run{})
	if _, err := st.LogBatch(ctx, r.ID, runs.Batch{Params: []runs.Param{{Key: "lr", Value: "0.1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LogBatch(ctx, r.ID, runs.Batch{Params: []runs.Param{{Key: "lr", Value: "0.1"}}}); err != nil {
		t.Fatalf("the same value again: %v", err)
	}
	_, err := st.LogBatch(ctx, r.ID, runs.Batch{
		Params:  []runs.Param{{Key: "lr", Value: "0.2"}},
		Tags:    []runs.Tag{{Key: "t", Value: "x"}},
		Metrics: []runs.Metric{{Key: "m", Value: 1}},
	})
	if !errors.Is(err, runs.ErrInvalid) || !strings.Contains(err.Error(), `"lr"`) {
		t.Fatalf("changed param: %v, want ErrInvalid naming it", err)
	}
	got, _ := st.Run(ctx, r.ID)
	h, _ := st.History(ctx, r.ID, "m")
	if got.Params["lr"] != "0.1" || got.Tags["t"] != "" || len(got.Metrics) != 0 || len(h.Points) != 0 {
		t.Fatalf("a refused batch wrote something: %+v, history %+v", got, h)
	}
	if _, err := st.LogBatch(ctx, r.ID, runs.Batch{Params: []runs.Param{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}); !errors.Is(err, runs.ErrInvalid) {
		t.Fatalf("one key twice in a batch: %v, want ErrInvalid", err)
	}
}

func TestLimits(t *testing.T) {
	ctx := ctxT(t)
	js := runstest.JetStream(t, 0)

	t.Run("record bytes", func(t *testing.T) {
		st := runstest.Store(t, js, runs.WithLimits(runs.Limits{RecordBytes: 8 << 10}))
		r := newRun(t, st, runs.Run{})
		var err error
		n := 0
		for ; n < 100 && err == nil; n++ {
			_, err = st.LogBatch(ctx, r.ID, runs.Batch{Params: []runs.Param{{Key: fmt.Sprintf("p%d", n), Value: strings.Repeat("x", 1000)}}})
		}
		if !errors.Is(err, runs.ErrLimitExceeded) {
			t.Fatalf("after %d params of 1000 bytes: %v, want ErrLimitExceeded", n, err)
		}
		got, err := st.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Params) != n-1 {
			t.Errorf("%d params kept, want the %d logged before the limit", len(got.Params), n-1)
		}
	})

	t.Run("history points", func(t *testing.T) {
		st := runstest.Store(t, js, runs.WithLimits(runs.Limits{HistoryPoints: 100}))
		r := newRun(t, st, runs.Run{})
		for i := range 5 {
			var b runs.Batch
			for j := range 30 {
				step := int64(i*30 + j)
				b.Metrics = append(b.Metrics, runs.Metric{Key: "loss", Value: runs.Float(step), Step: step, Timestamp: 1 + step})
			}
			if _, err := st.LogBatch(ctx, r.ID, b); err != nil {
				t.Fatal(err)
			}
		}
		h, err := st.History(ctx, r.ID, "loss")
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Points) != 100 || h.Dropped != 50 || h.Points[0].Step != 0 || h.Points[99].Step != 99 {
			t.Fatalf("history: %d points from step %d, dropped %d; want the first 100, dropped 50", len(h.Points), h.Points[0].Step, h.Dropped)
		}
		got, _ := st.Run(ctx, r.ID)
		if got.Metrics["loss"].Step != 149 || got.Series["loss"] != (runs.Series{Points: 100, Dropped: 50}) {
			t.Fatalf("the latest value must follow the dropped points: %+v %+v", got.Metrics["loss"], got.Series["loss"])
		}
	})

	t.Run("metric keys", func(t *testing.T) {
		st := runstest.Store(t, js, runs.WithLimits(runs.Limits{MetricKeys: 3}))
		r := newRun(t, st, runs.Run{})
		var b runs.Batch
		for i := range 4 {
			b.Metrics = append(b.Metrics, runs.Metric{Key: fmt.Sprint("m", i), Value: 1})
		}
		if _, err := st.LogBatch(ctx, r.ID, b); !errors.Is(err, runs.ErrLimitExceeded) {
			t.Fatalf("4 metric keys with a limit of 3: %v", err)
		}
		if h, err := st.History(ctx, r.ID, "m0"); err != nil || len(h.Points) != 0 {
			t.Fatalf("a refused batch wrote points: %+v, %v", h, err)
		}
	})

	t.Run("log tail", func(t *testing.T) {
		st := runstest.Store(t, js, runs.WithLimits(runs.Limits{LogBytes: 10}))
		r := newRun(t, st, runs.Run{})
		if _, err := st.AppendLog(ctx, r.ID, runs.Stdout, []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		got, err := st.AppendLog(ctx, r.ID, runs.Stdout, []byte("abcdé")) // é is two bytes
		if err != nil {
			t.Fatal(err)
		}
		if got.Log.Stdout.Data != "6789abcdé" || got.Log.Stdout.Dropped != 6 {
			t.Fatalf("tail %q dropped %d, want \"6789abcdé\" dropped 6", got.Log.Stdout.Data, got.Log.Stdout.Dropped)
		}
		got, err = st.AppendLog(ctx, r.ID, runs.Stderr, []byte("éééééx")) // 11 bytes: the cut falls inside the first é
		if err != nil {
			t.Fatal(err)
		}
		if got.Log.Stderr.Data != "ééééx" || got.Log.Stderr.Dropped != 2 {
			t.Fatalf("tail %q dropped %d, want \"ééééx\" dropped 2", got.Log.Stderr.Data, got.Log.Stderr.Dropped)
		}
		if _, err := st.AppendLog(ctx, r.ID, "stdin", nil); !errors.Is(err, runs.ErrInvalid) {
			t.Fatalf("bad stream: %v", err)
		}
	})
}

// TestRecordBoundFollowsServer opens the store on a server whose max
// payload is below the default record bound: the bound follows it, and a
// write that would not fit is refused with ErrLimitExceeded, not sent.
func TestRecordBoundFollowsServer(t *testing.T) {
	const maxPayload = 64 << 10
	st := runstest.Store(t, runstest.JetStream(t, maxPayload))
	if got := st.Limits().RecordBytes; got >= maxPayload {
		t.Fatalf("record bound %d, want below the server's max payload %d", got, maxPayload)
	}
	ctx := ctxT(t)
	r := newRun(t, st, runs.Run{})
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = st.LogBatch(ctx, r.ID, runs.Batch{Params: []runs.Param{{Key: fmt.Sprint("p", i), Value: strings.Repeat("x", 6000)}}})
	}
	if !errors.Is(err, runs.ErrLimitExceeded) {
		t.Fatalf("params past the server's max payload: %v, want ErrLimitExceeded", err)
	}
}

func TestMetricsLatestAndHistory(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	ctx := ctxT(t)
	r := newRun(t, st, runs.Run{})
	batch := runs.Batch{Metrics: []runs.Metric{
		{Key: "auc", Value: 0.7, Step: 2, Timestamp: 10},
		{Key: "auc", Value: 0.9, Step: 1, Timestamp: 20}, // an older step, logged later
		{Key: "loss", Value: runs.Float(math.NaN()), Step: 0, Timestamp: 5},
		{Key: "holdout_auc", Value: 0.8, Timestamp: 7, Dataset: "holdout"},
	}}
	if _, err := st.LogBatch(ctx, r.ID, batch); err != nil {
		t.Fatal(err)
	}
	// A retried request adds nothing.
	got, err := st.LogBatch(ctx, r.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	if m := got.Metrics["auc"]; m.Step != 2 || m.Value != 0.7 {
		t.Errorf("latest auc %+v, want the one of step 2", m)
	}
	if m := got.Metrics["holdout_auc"]; m.Dataset != "holdout" {
		t.Errorf("holdout metric %+v lost its dataset", m)
	}
	if !math.IsNaN(float64(got.Metrics["loss"].Value)) {
		t.Errorf("NaN loss read back as %v", got.Metrics["loss"].Value)
	}
	h, err := st.History(ctx, r.ID, "auc")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Points) != 2 || h.Points[0].Value != 0.7 || h.Points[1].Value != 0.9 {
		t.Errorf("auc history %+v, want both points once, by timestamp", h.Points)
	}
	if s := got.Series["auc"]; s.Points != 2 || s.Dropped != 0 {
		t.Errorf("auc series %+v after a retried batch, want 2 points", s)
	}
	if h, err := st.History(ctx, r.ID, "never"); err != nil || len(h.Points) != 0 {
		t.Errorf("history of an unlogged metric: %+v, %v", h, err)
	}
	if _, err := st.History(ctx, "missing", "auc"); !errors.Is(err, runs.ErrNotFound) {
		t.Errorf("history of a missing run: %v", err)
	}
}

func TestExperiments(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	ctx := ctxT(t)
	def, err := st.ExperimentByName(ctx, runs.DefaultExperimentName)
	if err != nil || def.ID != runs.DefaultExperimentID {
		t.Fatalf("default experiment: %+v, %v", def, err)
	}
	e, err := st.CreateExperiment(ctx, "fraud tuning", "", map[string]string{"team": "risk"})
	if err != nil {
		t.Fatal(err)
	}
	byName, err := st.ExperimentByName(ctx, "fraud tuning")
	if err != nil || byName.ID != e.ID || byName.Tags["team"] != "risk" {
		t.Fatalf("by name: %+v, %v", byName, err)
	}
	if _, err := st.CreateExperiment(ctx, "fraud tuning", "", nil); !errors.Is(err, runs.ErrAlreadyExists) {
		t.Fatalf("second experiment with the name: %v, want ErrAlreadyExists", err)
	}
	if _, err := st.ExperimentByName(ctx, "nope"); !errors.Is(err, runs.ErrNotFound) {
		t.Fatalf("missing name: %v", err)
	}
	// Concurrent creations of one name: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, exists := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.CreateExperiment(ctx, "race", "", nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, runs.ErrAlreadyExists):
				exists++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || exists != 7 {
		t.Fatalf("8 creations of one name: %d won, %d already existed", wins, exists)
	}
}

func TestListAndCompareColumns(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	ctx := ctxT(t)
	if none, err := st.List(ctx, runs.Filter{}); err != nil || len(none) != 0 {
		t.Fatalf("list of an empty bucket: %v, %v", none, err)
	}
	a := newRun(t, st, runs.Run{Model: "fraud", StartTime: 1000, Params: map[string]string{"lr": "0.1"}})
	b := newRun(t, st, runs.Run{Model: "fraud", StartTime: 2000, Params: map[string]string{"depth": "3"}})
	newRun(t, st, runs.Run{Model: "churn", StartTime: 3000})
	if _, err := st.LogBatch(ctx, a.ID, runs.Batch{Metrics: []runs.Metric{{Key: "auc", Value: 0.8}}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.List(ctx, runs.Filter{Model: "fraud"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != b.ID || got[1].ID != a.ID {
		t.Fatalf("list model=fraud: %d runs, want b then a", len(got))
	}
	if p := runs.ParamKeys(got); strings.Join(p, ",") != "depth,lr" {
		t.Errorf("param columns %v", p)
	}
	if m := runs.MetricKeys(got); strings.Join(m, ",") != "auc" {
		t.Errorf("metric columns %v", m)
	}
	all, err := st.List(ctx, runs.Filter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("list all: %d, %v", len(all), err)
	}
}

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{`1.5`, 1.5}, {`"NaN"`, math.NaN()}, {`"Infinity"`, math.Inf(1)}, {`"-Infinity"`, math.Inf(-1)}, {`"2.5"`, 2.5}, {`-3e2`, -300},
	} {
		var f runs.Float
		if err := json.Unmarshal([]byte(tc.in), &f); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if float64(f) != tc.want && !(math.IsNaN(tc.want) && math.IsNaN(float64(f))) {
			t.Errorf("%s decoded as %v", tc.in, f)
		}
		b, _ := json.Marshal(f)
		var back runs.Float
		if err := json.Unmarshal(b, &back); err != nil || (float64(back) != float64(f) && !math.IsNaN(float64(f))) {
			t.Errorf("%s: round trip through %s gave %v (%v)", tc.in, b, back, err)
		}
	}
	var f runs.Float
	if err := json.Unmarshal([]byte(`"abc"`), &f); err == nil {
		t.Error(`"abc" decoded as a number`)
	}
}
