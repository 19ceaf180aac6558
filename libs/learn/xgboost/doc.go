// Package xgboost reads XGBoost JSON models (what Booster.save_model("m.json")
// writes; tested with files of XGBoost 2.1 and 3.4: default_left as
// integers, or as the booleans older writers used; base_score as a
// number or a vector string such as "[4.6E-1]"; the bare NaN and Infinity
// XGBoost writes) into a Model that predicts what XGBoost's own
// Booster.predict does, with all the trees.
//
// A row holds the model's features in the order of Model.Features (the
// model's feature_names, f0, f1, ... when it has none), NaN for a missing
// value, and for a categorical feature the category's code. Like XGBoost,
// Predict works in float32: each value is rounded to float32, a numerical
// split sends x left when x < split_condition, a missing value follows
// default_left, and the trees' outputs (times weight_drop for dart) are
// summed in float32 from base_score's margin (its logit for logistic
// objectives, its log for log-link ones). A categorical split sends the
// categories it lists right and every other value left, including negative
// and unseen ones; for a model trained on pandas categoricals, the codes are
// those of the training categories.
//
// Predict writes Outputs values: P(y=1) for binary:logistic, one
// probability per class (class k at index k) for multi:softprob and
// multi:softmax (where XGBoost's predict returns the most probable class
// instead), the prediction for reg:squarederror, reg:absoluteerror,
// reg:pseudohubererror, reg:quantileerror (one quantile),
// reg:squaredlogerror, reg:logistic, count:poisson, reg:gamma and
// reg:tweedie.
//
// Parse never panics on bad input: a truncated, corrupt or inconsistent file
// is an error wrapping ErrFormat, and a well-formed model this package cannot
// score the way XGBoost would (gblinear, multi-target trees, ranking,
// survival, hinge, logitraw or custom objectives; UBJSON) is an error
// wrapping ErrUnsupported.
//
// The golden vectors in testdata come from
// ../lightgbm/testdata/treemodels.py (see its docstring).
package xgboost
