// Package performance measures served models on delayed labels: it joins
// labels with the prediction log (by prediction id, or by entity and time
// within a model's horizon), keeps the joined pairs in prediction_labels,
// and recomputes, per tumbling window of prediction time that a label
// touches, the window's metrics per version and route (model_performance)
// and the fairness per group of the model's sensitive attribute
// (fairness_metrics), from ClickHouse with FINAL, so that a replayed or late
// label counts once. A breach not recorded in the window's earlier row is
// an alert.
package performance
