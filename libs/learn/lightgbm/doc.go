// Package lightgbm reads LightGBM text model files (what Booster.save_model
// and model_to_string write: format v4 from LightGBM 4.x, v3 from 3.x and
// 2.3, v2 from 2.1) into a Model that predicts what LightGBM's own
// Booster.predict does.
//
// A row holds the model's features in the order of Model.Features (the
// file's feature_names, Column_0... when it has none), NaN for a missing
// value, and for a categorical feature the category's integer code. Values
// decide as in LightGBM's NumericalDecision and CategoricalDecision: a value
// within 1e-35 of zero is zero; a node of missing type NaN sends NaN its
// default way, one of type Zero sends zero and NaN its default way, one of
// type None treats NaN as zero; x goes left when x <= threshold; a
// categorical node sends left the categories of its bitset (the value
// truncated toward zero) and everything else, NaN and negatives included,
// right.
//
// Predict writes Outputs values: P(y=1) for binary and cross_entropy, one
// probability per class for multiclass (softmax) and multiclassova (a
// sigmoid each), class k at index k; the prediction for regression
// objectives (identity for regression, regression_l1, huber, fair, quantile,
// mape; squared with the sqrt option; exp for poisson, gamma, tweedie).
// Random forests (average_output) average their trees.
//
// Parse never panics on bad input: a truncated, corrupt or inconsistent file
// is an error wrapping ErrFormat, and a well-formed model this package cannot
// score the way LightGBM would (linear trees, ranking, custom or unknown
// objectives) is an error wrapping ErrUnsupported.
//
// The golden vectors in testdata come from testdata/treemodels.py (see its
// docstring), which also writes those of package xgboost.
package lightgbm
