package learn

// Predictor scores rows with a trained model. Every built-in learner's model
// implements it, and so do the loaders of other libraries' formats, so the
// trainer's evaluation, serving and batch scoring share one code path.
type Predictor interface {
	// Outputs is the number of values Predict writes: 1 for binary
	// (P(y=1)) and regression, the number of classes for multiclass
	// (the probability of each class).
	Outputs() int
	// Predict scores one row (its features in the model's order, NaN for
	// a missing value) into out, which has Outputs() elements.
	Predict(row, out []float64)
}
