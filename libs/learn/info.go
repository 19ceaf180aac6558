package learn

import "strconv"

// ModelInfo is what every trained model says about itself, and what the
// header of its model file holds (libs/learn/modelfile).
type ModelInfo struct {
	Kind     string   `json:"kind"`              // the learner: "logistic", "ridge", "gbdt", ...
	Task     Task     `json:"task"`              // what it predicts
	Features []string `json:"features"`          // the feature names, in the order Predict reads them
	Classes  int      `json:"classes,omitempty"` // 2 for binary, K for multiclass, 0 for regression
}

// Model is a trained built-in model: a Predictor that describes itself.
type Model interface {
	Predictor
	Info() ModelInfo
}

// FeatureNames returns d's feature names, or f0, f1, ... when d has none.
func (d *Dataset) FeatureNames() []string {
	if len(d.Features) == d.Cols {
		return append([]string(nil), d.Features...)
	}
	names := make([]string, d.Cols)
	for j := range names {
		names[j] = "f" + strconv.Itoa(j)
	}
	return names
}
