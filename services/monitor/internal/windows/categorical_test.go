package windows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/drift"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

// catPrediction is a prediction as serving logs a model with the
// categorical feature txn:merchant (nil: no value).
func catPrediction(t *testing.T, at time.Time, merchant *string) predlog.Prediction {
	t.Helper()
	x := 0.5
	ev := event.PredictionLogged{PredictionID: "p", Model: "m", Version: 1, EntityKey: "e", EventTime: at, Prediction: 0.5,
		Features: map[string]*float64{"txn:amount": &x}, CategoricalFeatures: map[string]*string{"txn:merchant": merchant}}
	// Through JSON, as the monitor decodes the record's data.
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var p predlog.Prediction
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCategoricalFeatureDrift: a categorical feature logged with its
// category, against a categorical reference, gets chi-squared and
// Jensen-Shannon rows and an unseen count; a new category injected in 30%
// of the window drifts and breaches the unseen share.
func TestCategoricalFeatureDrift(t *testing.T) {
	var train []string
	for i := range 1000 {
		train = append(train, []string{"grocery", "grocery", "grocery", "grocery", "grocery", "grocery", "travel", "travel", "travel", "fuel"}[i%10])
	}
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(i) / 1000
	}
	ref := model.Reference{
		Features:   map[string]model.Distribution{"txn:amount": model.NewNumeric(xs, 10), "txn:merchant": model.NewCategorical(train, 0)},
		Prediction: model.NewNumeric(xs, 10),
	}
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		newCat  int // of every 10 predictions, how many are the new category
		drifted bool
	}{
		{"same mix", 0, false},
		{"new merchant category", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(100)
			cfg.Sizes = []time.Duration{time.Minute}
			tr := windows.NewTracker(cfg)
			const n = 500
			for i := range n {
				var m *string
				switch {
				case i%50 == 49:
					// no value
				case i%10 < tc.newCat:
					s := "crypto"
					m = &s
				default:
					s := train[i%10]
					m = &s
				}
				if _, err := tr.Add(catPrediction(t, base.Add(time.Duration(i)*time.Second/10), m), ref); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tr.Add(catPrediction(t, base.Add(2*time.Minute), nil), ref); err != nil {
				t.Fatal(err)
			}
			closed := tr.Close()
			if len(closed) != 1 {
				t.Fatalf("%d windows closed", len(closed))
			}
			res, err := windows.Evaluate(closed[0], cfg, base)
			if err != nil {
				t.Fatal(err)
			}
			methods := map[string]windows.MetricRow{}
			for _, r := range res.Metrics {
				if r.Feature == "txn:merchant" {
					methods[r.Method] = r
				}
			}
			chi, okChi := methods[string(drift.MethodChiSquare)]
			js, okJS := methods[string(drift.MethodJensenShannon)]
			if !okChi || !okJS || len(methods) != 2 {
				t.Fatalf("metrics of txn:merchant %+v", methods)
			}
			if chi.Drifted != tc.drifted || js.Drifted != tc.drifted || chi.SampleSize != n-n/50 {
				t.Errorf("chi-squared %+v, Jensen-Shannon %+v: want drifted %v", chi, js, tc.drifted)
			}
			var q *windows.QualityRow
			for i := range res.Quality {
				if res.Quality[i].Feature == "txn:merchant" {
					q = &res.Quality[i]
				}
			}
			if q == nil {
				t.Fatal("no data-quality row of txn:merchant")
			}
			wantUnseen := int64(0)
			if tc.newCat > 0 {
				wantUnseen = int64(n / 10 * tc.newCat) // i%10 < newCat, less the missing ones (i%50 == 49 has i%10 == 9)
			}
			if q.Quality.Unseen != wantUnseen || q.Quality.Missing != n/50 {
				t.Errorf("quality %+v: want %d unseen, %d missing", q.Quality, wantUnseen, n/50)
			}
			unseenBreach := false
			for _, b := range q.Breaches {
				unseenBreach = unseenBreach || b == windows.CheckUnseen
			}
			if unseenBreach != tc.drifted {
				t.Errorf("unseen breach %v, want %v (%v)", unseenBreach, tc.drifted, q.Breaches)
			}
		})
	}
}
