// Package linear holds Tributary's built-in linear learners: logistic
// regression (binary, and multinomial for more classes) fitted by gonum's
// L-BFGS, and ridge regression solved in closed form.
//
// Both standardize their inputs inside the model: training measures each
// feature's mean and (population) standard deviation over the rows where it
// is present, and the model keeps them, so Predict applies the very same
// transformation to raw rows. A missing value (NaN) is imputed by the
// training mean, which is 0 after standardization; a feature that is
// constant, or missing in every training row, gets a scale of 1 (its
// standardized value is then always 0 and it does not move the prediction).
// The L2 penalty acts on the coefficients of the standardized features; the
// intercept is not penalized.
//
// Training is deterministic: the same data and configuration give the same
// model bit for bit, whatever the number of workers (the objective is summed
// over fixed blocks of rows in a fixed order). Models are immutable and
// safe for concurrent Predict calls.
package linear
