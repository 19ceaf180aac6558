// Package learn holds Tributary's built-in learners and the code that
// predicts with them: the trainer fits models with it and serving and batch
// scoring predict with the very same code, so a model scores identically
// wherever it runs.
//
// The learners live in sub-packages (linear, gbdt); this package holds what
// they share: the dense Dataset they train on, the Task, and the evaluation
// metrics.
package learn
