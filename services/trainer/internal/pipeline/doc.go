// Package pipeline runs a training job as its steps: build the training set
// (the features service), train (a runner), evaluate (the candidate and the
// production model on the same time-based holdout, and the reference
// distributions), register (the version with its lineage) and promote (the
// spec's policy). Each step records its status, attempts, start and end in
// the job record; a transient error is retried with backoff, bad input is
// not; the whole job has a deadline. A step's output is in the job record
// before the next step starts, so a job resumed by another replica (or
// after a restart) starts at the first step that had not finished, and the
// registration is idempotent (its request id is the job id): no version is
// registered twice and none half.
package pipeline
