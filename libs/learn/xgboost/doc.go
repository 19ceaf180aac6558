// Package xgboost reads XGBoost JSON models (what Booster.save_model("m.json")
// writes: XGBoost 1.x, 2.x and 3.x; gbtree and dart boosters) into a Model
// that predicts like XGBoost's own predict. Like XGBoost it works in float32:
// each feature value is rounded to float32, numerical splits send x left when
// x < split_condition, a missing value (NaN) follows default_left, and the
// trees' outputs are summed in float32 from base_score's margin.
//
// Categorical splits (split_type 1) send the categories the node lists right
// and every other value left, including negative, fractional-below-zero and
// unseen categories, as XGBoost does; the model expects the category codes
// it was trained on (for a model trained on pandas categoricals, the codes of
// the training categories).
//
// Parse never panics on bad input: a truncated, corrupt or inconsistent file
// is an error wrapping ErrFormat, and a well-formed model this package cannot
// score the way XGBoost would (gblinear, multi-target trees, ranking,
// survival or custom objectives, UBJSON) is an error wrapping ErrUnsupported.
//
// The golden vectors in testdata come from
// ../lightgbm/testdata/treemodels.py (see its docstring).
package xgboost
