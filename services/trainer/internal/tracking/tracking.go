// Package tracking mirrors each training job into its tracked run
// (internal/runs), so that `tributary runs show ID`, the runs API and MLflow
// clients see the job's steps while it runs, its lineage, holdout metrics,
// decision, model artifact and log. The job record stays the source of
// truth: the run is rewritten from it on every change, and a failure to
// write the run never fails the job.
package tracking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
)

// Tracker writes jobs into the run store.
type Tracker struct {
	store       *runs.Store
	codeVersion string
}

// New returns a tracker over a run store; codeVersion is the trainer's.
func New(store *runs.Store, codeVersion string) *Tracker {
	return &Tracker{store: store, codeVersion: codeVersion}
}

// RunID is the id of a job's run (see the package function RunID).
func (t *Tracker) RunID(jobID string) string { return RunID(jobID) }

// RunID is the id of a job's run: the job id when it is a valid run id,
// else 32 hex digits of its sha256.
func RunID(jobID string) string {
	if runs.ValidID("run", jobID) == nil {
		return jobID
	}
	h := sha256.Sum256([]byte(jobID))
	return hex.EncodeToString(h[:16])
}

// Tag keys the tracker writes.
const (
	TagStepPrefix = "tributary.step." // tributary.step.<name>: "done, 1 attempt"
	TagStatus     = "tributary.job.status"
	TagDecision   = "tributary.decision" // action and reason
	TagVersion    = "tributary.version"  // the registered version
	TagError      = "tributary.error"
)

// Track writes the job's state into its run, creating the run on first use.
func (t *Tracker) Track(ctx context.Context, j jobs.Job, spec trainspec.Spec) error {
	id := RunID(j.JobID)
	if _, err := t.store.Run(ctx, id); errors.Is(err, runs.ErrNotFound) {
		params := maps.Clone(spec.Trainer.Params)
		if params == nil {
			params = map[string]string{}
		}
		maps.Copy(params, j.Params)
		params["trainer"] = spec.Trainer.Name
		params["runner"] = spec.Trainer.Runner
		params["holdout"] = strconv.FormatFloat(spec.Holdout, 'g', -1, 64)
		params["window"] = spec.Window.String()
		params["metric"] = spec.Metric
		params["policy"] = string(spec.Policy.Kind)
		seed := spec.Seed
		_, err := t.store.CreateRun(ctx, runs.Run{
			ID: id, Name: j.Model + "-" + id[:min(8, len(id))], Model: j.Model, JobID: j.JobID,
			Trigger: string(j.Trigger), Seed: &seed, Trainer: spec.Trainer.Name, CodeVersion: t.codeVersion, Params: params,
			UserID: j.RequestedBy, Tags: map[string]string{"tributary.spec_version": j.SpecVersion},
		})
		if err != nil && !errors.Is(err, runs.ErrAlreadyExists) {
			return fmt.Errorf("create run of job %s: %w", j.JobID, err)
		}
	} else if err != nil {
		return fmt.Errorf("read run of job %s: %w", j.JobID, err)
	}
	if _, err := t.store.Update(ctx, id, func(r *runs.Run) error {
		apply(r, j, t.store.Limits().LogBytes)
		return nil
	}); err != nil {
		return fmt.Errorf("update run of job %s: %w", j.JobID, err)
	}
	if j.Status.Terminal() && j.Evaluation != nil {
		var ms []runs.Metric
		at := j.EndedAt.UnixMilli()
		for _, k := range slices.Sorted(maps.Keys(j.Evaluation.Metrics)) {
			ms = append(ms, runs.Metric{Key: k, Value: runs.Float(j.Evaluation.Metrics[k]), Timestamp: at, Dataset: "holdout"})
		}
		for _, k := range slices.Sorted(maps.Keys(j.TrainMetrics)) {
			ms = append(ms, runs.Metric{Key: k, Value: runs.Float(j.TrainMetrics[k]), Timestamp: at, Dataset: "training"})
		}
		if _, err := t.store.LogBatch(ctx, id, runs.Batch{Metrics: ms}); err != nil {
			return fmt.Errorf("log metrics of job %s: %w", j.JobID, err)
		}
	}
	return nil
}

// apply copies the job's state into the run.
func apply(r *runs.Run, j jobs.Job, logBytes int) {
	if r.Tags == nil {
		r.Tags = map[string]string{}
	}
	r.Tags[TagStatus] = string(j.Status)
	for _, s := range j.Steps {
		v := fmt.Sprintf("%s, %d attempt", s.Status, s.Attempts)
		if s.Attempts != 1 {
			v += "s"
		}
		if s.Error != "" {
			v += ": " + s.Error
		}
		r.Tags[TagStepPrefix+s.Name] = truncate(v, runs.MaxTagValueBytes)
	}
	if d := j.Dataset; d != nil {
		r.TrainingSet = &runs.TrainingSet{ID: d.DatasetID, SHA256: d.SHA256, LabelsFrom: d.Start, LabelsTo: d.End, Rows: d.RowCount}
		r.FeatureDefinitions = d.FeatureDefinitions
	}
	if a := j.Artifact; a != nil && len(r.Artifacts) == 0 {
		r.Artifacts = []runs.Artifact{{Name: "model", SHA256: a.SHA256, Size: a.Size, URI: "tributary_artifacts/" + a.SHA256}}
	}
	if j.Version > 0 {
		r.Tags[TagVersion] = strconv.Itoa(j.Version)
	}
	if d := j.Decision; d != nil {
		r.Tags[TagDecision] = truncate(d.Action+": "+d.Reason, runs.MaxTagValueBytes)
	}
	if j.Error != "" {
		r.Tags[TagError] = truncate(j.FailedStep+": "+j.Failure+": "+j.Error, runs.MaxTagValueBytes)
	}
	log := j.Log
	if len(log) > logBytes {
		r.Log.Stdout.Dropped += int64(len(log) - logBytes)
		log = log[len(log)-logBytes:]
	}
	r.Log.Stdout.Data = log
	switch j.Status {
	case jobs.StatusSucceeded:
		r.Status, r.EndTime = runs.StatusFinished, j.EndedAt.UnixMilli()
	case jobs.StatusFailed:
		r.Status, r.EndTime = runs.StatusFailed, j.EndedAt.UnixMilli()
	default:
		r.Status = runs.StatusRunning
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
