// Package lightgbm reads LightGBM text model files (what
// Booster.save_model and model_to_string write; format versions v3 and v4)
// into a Model that predicts like LightGBM's own predict: the same decisions
// for missing values and categorical splits, and the same output transform
// (the probability for binary, one probability per class for multiclass,
// the prediction for regression).
//
// Parse reads a model; it never panics on bad input: a truncated, corrupt or
// inconsistent file is an error wrapping ErrFormat, and a well-formed model
// this package cannot score the way LightGBM would (linear trees, ranking or
// custom objectives) is an error wrapping ErrUnsupported.
//
// The golden vectors in testdata come from testdata/treemodels.py (see its
// docstring), which also writes those of package xgboost.
package lightgbm
