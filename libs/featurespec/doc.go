// Package featurespec is the feature definition format of Tributary: entities,
// sources (a stream with its entity-key and event-time fields) and feature
// views of typed features, written in YAML by people and stored, one key per
// view, in the NATS KV bucket tributary_features (model.FeatureViewKey).
//
// Parse reads a file, checks it (unknown fields, bad windows, duplicate
// names, wrong types, each error naming the place) and resolves each view
// into a self-contained View: the view with its entity and source, its
// features expanded per window, and Version, the hex sha256 of its canonical
// JSON form. The features service and serving read Views back from the bucket
// with DecodeView.
//
// A feature is either the latest value of a field (agg: latest) or an
// aggregation of a field over one or more sliding windows: count, sum, mean,
// min, max, last, stddev, distinct (count of distinct values), with an
// optional filter on another field. A windowed feature named spend with
// windows [1h, 7d] yields the features spend_1h and spend_7d; a feature is
// referenced as "view:feature".
package featurespec
