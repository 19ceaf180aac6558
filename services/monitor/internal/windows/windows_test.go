package windows_test

import (
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/drift"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

func reference() model.Reference {
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(i) / 1000
	}
	return model.Reference{
		Features: map[string]model.Distribution{
			"v:x": model.NewNumeric(xs, 10),
			"v:c": model.NewCategorical([]string{"1", "2", "1", "2"}, 10),
		},
		Prediction: model.NewNumeric(xs, 10),
	}
}

func pred(at time.Time, x float64, c float64) predlog.Prediction {
	return predlog.Prediction{PredictionLogged: event.PredictionLogged{
		PredictionID: "p", Model: "m", Version: 1, EntityKey: "e", EventTime: at,
		Features: map[string]*float64{"v:x": &x, "v:c": &c}, Prediction: min(x, 0.99),
	}}
}

func config(minCount int64) windows.Config {
	c := windows.Config{Sizes: []time.Duration{time.Minute, 5 * time.Minute}, Lateness: 10 * time.Second, Drift: drift.DefaultConfig(), MissingShare: 0.1, OutOfRangeShare: 0.05, UnseenShare: 0.05}
	c.Drift.MinCount = minCount
	return c
}

func TestWatermarkAndLate(t *testing.T) {
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	tr := windows.NewTracker(config(1))
	ref := reference()
	add := func(at time.Time) windows.Outcome {
		t.Helper()
		o, err := tr.Add(pred(at, 0.5, 1), ref)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	add(base.Add(30 * time.Second))
	if got := tr.Close(); len(got) != 0 {
		t.Fatalf("closed %d windows before their end", len(got))
	}
	// 10:01:05 minus 10 s lateness: the watermark 10:00:55 closes nothing.
	add(base.Add(65 * time.Second))
	if got := tr.Close(); len(got) != 0 {
		t.Fatalf("closed %d windows within the lateness", len(got))
	}
	// Still counts in the first minute (not yet closed).
	if o := add(base.Add(50 * time.Second)); o != windows.Added {
		t.Fatalf("in-lateness prediction: %v", o)
	}
	add(base.Add(75 * time.Second)) // watermark 10:01:05 closes [10:00, 10:01)
	closed := tr.Close()
	if len(closed) != 1 || closed[0].Key.Size != time.Minute || !closed[0].Key.Start.Equal(base) {
		t.Fatalf("closed %+v, want the first minute", closed)
	}
	if n := closed[0].Window.Feature(1).Count(); n != 2 {
		t.Fatalf("first minute has %d values of v:x, want 2", n)
	}
	// Now a prediction of the first minute is late for its 1 min window
	// but still counts in its open 5 min window.
	if o := add(base.Add(10 * time.Second)); o != windows.Late {
		t.Fatalf("prediction of a closed window: %v, want Late", o)
	}
	add(base.Add(6 * time.Minute))
	var fives []windows.Closed
	for _, c := range tr.Close() {
		if c.Key.Size == 5*time.Minute {
			fives = append(fives, c)
		}
	}
	if len(fives) != 1 || fives[0].Window.Feature(1).Count() != 5 {
		t.Fatalf("5 min window: %+v", fives)
	}
}

func TestEvaluate(t *testing.T) {
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		n        int
		shift    float64
		minCount int64
		alerts   bool
		breach   bool
	}{
		{"no drift", 300, 0, 100, false, false},
		{"drift", 300, 3, 100, true, true},
		{"drift below the minimum sample size", 50, 3, 100, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(tc.minCount)
			cfg.Sizes = []time.Duration{time.Minute}
			tr := windows.NewTracker(cfg)
			for i := range tc.n {
				if _, err := tr.Add(pred(base.Add(time.Duration(i)*time.Second/10), tc.shift+float64(i%100)/100, float64(1+i%2)), reference()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tr.Add(pred(base.Add(2*time.Minute), 0.5, 1), reference()); err != nil {
				t.Fatal(err)
			}
			closed := tr.Close()
			if len(closed) != 1 {
				t.Fatalf("%d closed", len(closed))
			}
			res, err := windows.Evaluate(closed[0], cfg, base)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.Alerts) > 0; got != tc.alerts {
				t.Errorf("alerts %v, want %v: %+v", got, tc.alerts, res.Alerts)
			}
			for _, a := range res.Alerts {
				if a.Feature == "v:c" || a.SampleSize != int64(tc.n) {
					t.Errorf("alert %+v", a)
				}
			}
			// 3 numeric metrics each for v:x and the prediction, 2 for v:c.
			if len(res.Metrics) != 8 || len(res.Quality) != 3 {
				t.Errorf("%d metric rows, %d quality rows", len(res.Metrics), len(res.Quality))
			}
			breached := false
			for _, q := range res.Quality {
				for _, b := range q.Breaches {
					breached = breached || (q.Feature == "v:x" && b == windows.CheckOutOfRange)
				}
			}
			if breached != tc.breach {
				t.Errorf("out-of-range breach %v, want %v", breached, tc.breach)
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	cfg := config(1)
	a := windows.NewTracker(cfg)
	for i := range 100 {
		if _, err := a.Add(pred(base.Add(time.Duration(i)*time.Second), float64(i)/100, 2), reference()); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	snap, err := a.Snapshot(map[string]int64{"t/0": 99})
	if err != nil {
		t.Fatal(err)
	}
	b := windows.NewTracker(cfg)
	offsets, err := b.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if offsets["t/0"] != 99 || b.Open() != a.Open() || !b.Watermark().Equal(a.Watermark()) {
		t.Fatalf("restored offsets %v, %d windows (want %d), watermark %v (want %v)", offsets, b.Open(), a.Open(), b.Watermark(), a.Watermark())
	}
	// Both close the same windows with the same counts; the restored ones
	// have no reference until the caller reads it.
	end := base.Add(time.Hour)
	for _, tr := range []*windows.Tracker{a, b} {
		if _, err := tr.Add(pred(end, 0.5, 1), reference()); err != nil {
			t.Fatal(err)
		}
	}
	ca, cb := a.Close(), b.Close()
	if len(ca) != len(cb) || len(ca) == 0 {
		t.Fatalf("closed %d and %d", len(ca), len(cb))
	}
	for i := range ca {
		if ca[i].Key != cb[i].Key || ca[i].Window.Feature(1).Count() != cb[i].Window.Feature(1).Count() {
			t.Errorf("window %d: %+v vs %+v", i, ca[i].Key, cb[i].Key)
		}
	}
	if _, err := b.Restore([]byte(`{"version":2}`)); err == nil {
		t.Error("a snapshot of another version restored")
	}
	if _, err := b.Restore([]byte(`{"version":1,"windows":[{"model":"m","version":1,"size_ns":60000000000,"window":{"version":1}}]}`)); err == nil {
		t.Error("a corrupt window restored")
	}
}
