// Package gbdt is Tributary's built-in gradient-boosted decision trees:
// histogram-based, leaf-wise boosting in the manner of LightGBM and
// scikit-learn's HistGradientBoosting, for binary classification (log
// loss), multiclass classification (softmax, one tree per class and
// iteration) and regression (squared error).
//
// Train bins every feature into at most 255 quantile bins (uint8 codes,
// column-major, one more code for missing values), then grows each tree
// best-first up to MaxLeaves leaves from gradient/hessian histograms,
// building the smaller child's histograms and deriving its sibling's by
// subtraction. Every split learns where missing values (NaN) go. Early
// stopping holds out a seeded validation split. Histograms are built on
// all cores, one feature per goroutine at a time, so the model is the same
// bit for bit for a seed whatever the number of cores.
//
// The Model predicts from raw feature values with flat trees (a split
// stores the upper edge of its bin as a float64 threshold), allocates
// nothing, and implements learn.Model; it is saved and loaded as kind
// "gbdt" of the shared model file (libs/learn/modelfile). README.md
// documents the parameters, the model object and the performance.
package gbdt
