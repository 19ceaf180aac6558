// Package trainspec is the training spec of a model: one YAML document per
// model naming its features, label stream, task, trainer and parameters,
// seed, training window, time-based holdout, metric, reference
// distributions and promotion policy. A spec is versioned by the sha256 of
// its canonical JSON, like a feature view, and stored in the KV bucket
// tributary_jobs under SpecKey(model) by `tributary models apply FILE`; the
// trainer reads it from there at the start of each job.
//
// Parse checks a spec on its own (every error names the place: "spec
// fraud: features[1]: ..."); Check checks it against the feature views that
// are applied (every view:feature reference must exist).
package trainspec
