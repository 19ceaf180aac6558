package performance_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/tributary-ml/tributary/services/monitor/internal/fairness"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

type referenceCase struct {
	Name        string             `json:"name"`
	Task        performance.Task   `json:"task"`
	Cut         float64            `json:"cut"`
	Predictions []float64          `json:"predictions"`
	Labels      []float64          `json:"labels"`
	Groups      []string           `json:"groups"`
	Want        map[string]float64 `json:"want"`
	Fairness    map[string]float64 `json:"fairness"`
}

// TestMetricsMatchScikitLearn compares Compute and fairness.Compute with
// the figures scikit-learn (and fairlearn's definitions in numpy) give for
// the same cases (testdata/reference.py wrote testdata/reference.json): every
// metric the reference defines must match to 1e-12, and every metric it
// leaves undefined must be nil.
func TestMetricsMatchScikitLearn(t *testing.T) {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []referenceCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 5 {
		t.Fatalf("%d reference cases", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			pairs := make([]performance.Pair, len(c.Labels))
			for i := range pairs {
				pairs[i] = performance.Pair{Prediction: c.Predictions[i], Label: c.Labels[i]}
			}
			m := performance.Compute(c.Task, c.Cut, pairs)
			if m.Labelled != len(pairs) {
				t.Errorf("labelled %d, want %d", m.Labelled, len(pairs))
			}
			for _, name := range performance.MetricNames {
				got, ok := m.Get(name)
				want, defined := c.Want[name]
				switch {
				case defined && !ok:
					t.Errorf("%s undefined, scikit-learn %v", name, want)
				case !defined && ok:
					t.Errorf("%s = %v, scikit-learn leaves it undefined", name, got)
				case defined && math.Abs(got-want) > 1e-12:
					t.Errorf("%s = %.17g, scikit-learn %.17g", name, got, want)
				}
			}
			if c.Groups == nil {
				return
			}
			by := map[string]*fairness.Group{}
			var order []string
			for i, p := range pairs {
				g, ok := by[c.Groups[i]]
				if !ok {
					g = &fairness.Group{Value: c.Groups[i]}
					by[c.Groups[i]] = g
					order = append(order, c.Groups[i])
				}
				g.Predictions++
				pos, pred := p.Label == 1, p.Prediction >= c.Cut
				if pred {
					g.PredictedPositive++
				}
				switch {
				case pos && pred:
					g.TP++
				case pos:
					g.FN++
				case pred:
					g.FP++
				default:
					g.TN++
				}
			}
			var groups []fairness.Group
			for _, v := range order {
				groups = append(groups, *by[v])
			}
			r := fairness.Compute(groups)
			if want := c.Fairness["demographic_parity_difference"]; math.Abs(r.DemographicParity-want) > 1e-12 {
				t.Errorf("demographic parity difference %.17g, want %.17g", r.DemographicParity, want)
			}
			if want := c.Fairness["equalized_odds_difference"]; r.EqualizedOdds == nil || math.Abs(*r.EqualizedOdds-want) > 1e-12 {
				t.Errorf("equalized odds difference %v, want %.17g", r.EqualizedOdds, want)
			}
			if r.Predictions != len(pairs) || r.Labelled != len(pairs) {
				t.Errorf("totals %d, %d; want %d", r.Predictions, r.Labelled, len(pairs))
			}
		})
	}
}
