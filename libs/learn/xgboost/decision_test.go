package xgboost

import (
	"fmt"
	"math"
	"testing"
)

// stump is a reg:squarederror model with base_score 0 and one tree: root
// splits feature 0 into leaves 1 (left) and 2 (right), so Predict tells
// which way a value went.
func stump(t *testing.T, splitType int, cond string, defaultLeft int, cats string) *Model {
	t.Helper()
	catNodes, segs, sizes := "[]", "[]", "[]"
	if splitType == 1 {
		catNodes, segs, sizes = "[0]", "[0]", fmt.Sprintf("[%d]", len(splitList(cats)))
	}
	text := fmt.Sprintf(`{"learner":{"attributes":{},"feature_names":["a","b"],"feature_types":["q","q"],`+
		`"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1"},"iteration_indptr":[0,1],`+
		`"tree_info":[0],"trees":[{"base_weights":[0E0,1E0,2E0],"categories":[%s],"categories_nodes":%s,"categories_segments":%s,`+
		`"categories_sizes":%s,"default_left":[%d,0,0],"id":0,"left_children":[1,-1,-1],"loss_changes":[1E0,0E0,0E0],`+
		`"parents":[2147483647,0,0],"right_children":[2,-1,-1],"split_conditions":[%s,1E0,2E0],"split_indices":[0,0,0],`+
		`"split_type":[%d,0,0],"sum_hessian":[2E0,1E0,1E0],"tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":"3",`+
		`"size_leaf_vector":"1"}}]},"name":"gbtree"},"learner_model_param":{"base_score":"[0E0]","boost_from_average":"1",`+
		`"num_class":"0","num_feature":"2","num_target":"1"},"objective":{"name":"reg:squarederror",`+
		`"reg_loss_param":{"scale_pos_weight":"1"}}},"version":[3,4,1]}`,
		cats, catNodes, segs, sizes, defaultLeft, cond, splitType)
	m, err := ParseBytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	n := 1
	for _, c := range s {
		if c == ',' {
			n++
		}
	}
	return make([]string, n)
}

// TestDecisions pins XGBoost's decisions (every case was checked against
// xgboost 3.4.1's predict on the same model; XGBoost rejects infinite
// inputs, which Predict compares like any number).
func TestDecisions(t *testing.T) {
	const left, right = 1, 2
	nan := math.NaN()
	type c struct {
		x    float64
		want float64
	}
	tests := []struct {
		name        string
		splitType   int
		cond        string
		defaultLeft int
		cats        string
		cases       []c
	}{
		{"numerical, default right", 0, "5E-1", 0, "", []c{
			{nan, right}, {0.5, right}, {0.4999, left}, {math.Nextafter(0.5, 0), right}, // rounds to float32 0.5
		}},
		{"numerical, default left", 0, "-5E-1", 1, "", []c{{nan, left}, {0, right}, {-0.6, left}}},
		{"numerical, NaN condition", 0, "NaN", 1, "", []c{{0, right}, {-1e30, right}, {nan, left}}},
		{"numerical, Infinity condition", 0, "Infinity", 0, "", []c{{0, left}, {1e30, left}, {nan, right}}},
		{"categorical", 1, "NaN", 1, "0,3,40", []c{
			{0, right}, {3, right}, {3.9, right}, {40, right}, {40.5, right},
			{1, left}, {2, left}, {39, left}, {41, left}, {64, left}, {1e9, left}, {-0.5, left}, {-1, left},
			{nan, left},
		}},
		{"categorical, default right", 1, "1E-45", 0, "1", []c{{1, right}, {nan, right}, {0, left}, {-1, left}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := stump(t, tt.splitType, tt.cond, tt.defaultLeft, tt.cats)
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
