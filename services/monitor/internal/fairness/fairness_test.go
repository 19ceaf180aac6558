package fairness_test

import (
	"math"
	"testing"

	"github.com/tributary-ml/tributary/services/monitor/internal/fairness"
)

func TestCompute(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups []fairness.Group
		dp     float64
		eo     *float64
	}{
		{"one group: no spread", []fairness.Group{{Value: "a", Predictions: 10, PredictedPositive: 4, TP: 2, FN: 1}}, 0, nil},
		{"a group without predictions is left out", []fairness.Group{
			{Value: "a", Predictions: 10, PredictedPositive: 5, TP: 3, FN: 1},
			{Value: "b", Predictions: 10, PredictedPositive: 1, TP: 1, FN: 3},
			{Value: "c"},
		}, 0.4, ptr(0.5)},
		{"the larger of the TPR and FPR spreads", []fairness.Group{
			{Value: "a", Predictions: 4, PredictedPositive: 2, TP: 1, FN: 1, FP: 1, TN: 1}, // TPR 0.5, FPR 0.5
			{Value: "b", Predictions: 4, PredictedPositive: 2, TP: 2, TN: 2},               // TPR 1, FPR 0
		}, 0, ptr(0.5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fairness.Compute(tc.groups)
			if math.Abs(r.DemographicParity-tc.dp) > 1e-12 {
				t.Errorf("demographic parity %v, want %v", r.DemographicParity, tc.dp)
			}
			switch {
			case tc.eo == nil && r.EqualizedOdds != nil:
				t.Errorf("equalized odds %v, want undefined", *r.EqualizedOdds)
			case tc.eo != nil && (r.EqualizedOdds == nil || math.Abs(*r.EqualizedOdds-*tc.eo) > 1e-12):
				t.Errorf("equalized odds %v, want %v", r.EqualizedOdds, *tc.eo)
			}
		})
	}
}

func ptr(v float64) *float64 { return &v }
