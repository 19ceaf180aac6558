package lightgbm

import (
	"fmt"
	"math"
	"testing"
)

// stump is a regression model of one split on feature 0 (left leaf 1,
// right leaf 2), so Predict tells which way a value went.
func stump(t *testing.T, decisionType int, threshold string, cats string) *Model {
	t.Helper()
	numCat := 0
	if cats != "" {
		numCat = 1
	}
	text := fmt.Sprintf("tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\n"+
		"objective=regression\nfeature_names=a b\nfeature_infos=none none\ntree_sizes=1\n\n"+
		"Tree=0\nnum_leaves=2\nnum_cat=%d\nsplit_feature=0\nsplit_gain=1\nthreshold=%s\ndecision_type=%d\n"+
		"left_child=-1\nright_child=-2\nleaf_value=1 2\n%sshrinkage=1\n\n\nend of trees\n",
		numCat, threshold, decisionType, cats)
	m, err := ParseBytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDecisions pins LightGBM's NumericalDecision and CategoricalDecision
// (every case was checked against lightgbm 4.7.0's predict on the same
// model text).
func TestDecisions(t *testing.T) {
	const left, right = 1, 2
	nan := math.NaN()
	above := math.Nextafter(0.5, 1)
	type c struct {
		x    float64
		want float64
	}
	tests := []struct {
		name         string
		decisionType int
		threshold    string
		cats         string
		cases        []c
	}{
		{"none: NaN is 0", 0, "0.5", "", []c{{nan, left}, {0.5, left}, {above, right}, {1e-36, left}}},
		{"none: NaN is 0, below threshold", 2, "-0.5", "", []c{{nan, right}, {-0.5, left}, {0, right}}},
		{"zero, default left", 4 | 2, "-0.5", "", []c{{0, left}, {math.Copysign(0, -1), left}, {1e-36, left}, {-1e-35, left}, {nan, left}, {2e-35, right}, {-0.6, left}}},
		{"zero, default right", 4, "0.5", "", []c{{0, right}, {1e-36, right}, {nan, right}, {0.3, left}, {-1e-34, left}}},
		{"nan, default left", 8 | 2, "-0.5", "", []c{{nan, left}, {0, right}, {1e-36, right}, {-1, left}}},
		{"nan, default right", 8, "0.5", "", []c{{nan, right}, {0, left}, {0.5, left}, {above, right}, {math.Inf(1), right}, {math.Inf(-1), left}}},
		// Categories {0, 1, 33}: words 0b11 and 0b10.
		{"categorical", 1, "0", "cat_boundaries=0 2\ncat_threshold=3 2\n", []c{
			{0, left}, {1, left}, {1.7, left}, {33, left}, {33.9, left}, {-0.5, left}, // truncated toward zero, as C++ casts
			{2, right}, {32, right}, {34, right}, {64, right}, {1e10, right}, {-1, right}, {nan, right}, {math.Inf(1), right},
		}},
		{"categorical, default-left bit ignored", 1 | 2 | 8, "0", "cat_boundaries=0 1\ncat_threshold=2\n", []c{
			{1, left}, {0, right}, {nan, right}, {-1, right},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := stump(t, tt.decisionType, tt.threshold, tt.cats)
			out := make([]float64, 1)
			for _, c := range tt.cases {
				m.Predict([]float64{c.x, 0}, out)
				if out[0] != c.want {
					t.Errorf("x=%v went to leaf %v, want %v", c.x, out[0], c.want)
				}
			}
		})
	}
}

// TestTransforms checks each objective's output transform on a one-leaf
// model whose raw score is 0.5.
func TestTransforms(t *testing.T) {
	tests := []struct {
		objective string
		numClass  int
		want      []float64
	}{
		{"regression", 1, []float64{0.5}},
		{"regression sqrt", 1, []float64{0.25}},
		{"huber", 1, []float64{0.5}},
		{"poisson", 1, []float64{math.Exp(0.5)}},
		{"tweedie tweedie_variance_power:1.5", 1, []float64{math.Exp(0.5)}},
		{"binary sigmoid:2", 1, []float64{1 / (1 + math.Exp(-1))}},
		{"cross_entropy", 1, []float64{1 / (1 + math.Exp(-0.5))}},
		{"multiclass num_class:2", 2, []float64{0.5, 0.5}},
		{"multiclassova num_class:2 sigmoid:1", 2, []float64{1 / (1 + math.Exp(-0.5)), 1 / (1 + math.Exp(-0.5))}},
	}
	for _, tt := range tests {
		t.Run(tt.objective, func(t *testing.T) {
			text := fmt.Sprintf("tree\nversion=v4\nnum_class=%d\nnum_tree_per_iteration=%d\nmax_feature_idx=0\nobjective=%s\n\n",
				tt.numClass, tt.numClass, tt.objective)
			for i := 0; i < tt.numClass; i++ {
				text += fmt.Sprintf("Tree=%d\nnum_leaves=1\nnum_cat=0\nleaf_value=0.5\nshrinkage=1\n\n\n", i)
			}
			m, err := ParseBytes([]byte(text + "end of trees\n"))
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float64, m.Outputs())
			m.Predict([]float64{1}, out)
			for k := range tt.want {
				if math.Abs(out[k]-tt.want[k]) > 1e-15 {
					t.Errorf("output %d = %v, want %v", k, out[k], tt.want[k])
				}
			}
		})
	}
}
