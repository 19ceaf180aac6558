package xgboost

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// FuzzParse: any input either parses into a model that predicts (and ends)
// on any row, or fails with an error wrapping ErrFormat or ErrUnsupported;
// it never panics. Seeds: the committed models, whole and truncated.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"binary.json", "multiclass.json", "poisson.json", "dart.json", "v2_binary.json"} {
		b := readModelFile(f, name)
		f.Add(b[:len(b)/2]) // truncated
		f.Add(firstTrees(f, b, 4))
	}
	f.Add([]byte(`{"learner":{"gradient_booster":{"name":"gbtree","model":{"trees":[{"left_children":[1,-1,-1],` +
		`"right_children":[2,-1,-1],"split_indices":[0,0,0],"split_conditions":[NaN,1,2],"default_left":[1,0,0],` +
		`"split_type":[1,0,0],"categories":[3,40],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[2]}],` +
		`"tree_info":[0]}},"learner_model_param":{"base_score":"[5E-1]","num_class":"0","num_feature":"1"},` +
		`"objective":{"name":"binary:logistic"}},"version":[3,1,0]}`))
	rows := [][]float64{
		nil,
		{math.NaN(), math.NaN(), math.NaN()},
		{0, -1, 3, 40, math.Inf(1), math.Inf(-1), 1e300, -0.5, 2.5},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBytes(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := make([]float64, m.Outputs())
		for _, row := range rows {
			m.Predict(row, out)
		}
	})
}

// firstTrees keeps a model's first n trees, so that the fuzzer runs fast.
func firstTrees(f *testing.F, b []byte, n int) []byte {
	var doc map[string]any
	if err := json.Unmarshal(quoteNonFinite(b), &doc); err != nil {
		f.Fatal(err)
	}
	gb := doc["learner"].(map[string]any)["gradient_booster"].(map[string]any)
	model := gb["model"].(map[string]any)
	model["trees"] = model["trees"].([]any)[:n]
	model["tree_info"] = model["tree_info"].([]any)[:n]
	if w, ok := model["weight_drop"].([]any); ok {
		model["weight_drop"] = w[:n]
	}
	out, err := json.Marshal(doc)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := ParseBytes(out); err != nil {
		f.Fatalf("seed: %v", err)
	}
	return out
}
