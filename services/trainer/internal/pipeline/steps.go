package pipeline

import (
	"context"
	"errors"
	"fmt"
	"github.com/tributary-ml/tributary/services/trainer/internal/mlflowapi"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/libs/learn/lightgbm"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/learn/xgboost"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/policy"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/tabular"
)

// DatasetRequestID is the id of the dataset request of a job: the same on
// every attempt and after a restart, so the features service answers a
// repeated request with the set it built the first time.
func DatasetRequestID(jobID string) string { return "job-" + jobID }

// dataset builds the training set of the labels in the spec's window.
func (j *job) dataset(ctx context.Context) error {
	rec := j.record()
	if rec.LabelsTo.IsZero() {
		// The window ends when the job was asked for, not when an attempt
		// starts: a job that waited (a follow-up, a replica's crash, a
		// retry) trains on the labels its trigger saw, and every attempt
		// asks for the same set.
		to := rec.CreatedAt.Truncate(time.Millisecond)
		if to.IsZero() {
			to = j.p.store.Now().Truncate(time.Millisecond)
		}
		from := to.Add(-time.Duration(j.spec.Window))
		if err := j.update(ctx, func(r *jobs.Job) { r.LabelsFrom, r.LabelsTo = from, to }); err != nil {
			return err
		}
		rec = j.record()
	}
	ready, err := j.p.datasets.Build(ctx, event.DatasetRequested{
		RequestID: DatasetRequestID(j.id), Features: j.spec.Features, LabelStream: j.spec.Labels,
		Start: rec.LabelsFrom, End: rec.LabelsTo, JobID: j.id,
	})
	if err != nil {
		return err
	}
	if ready.RowCount == 0 {
		return fmt.Errorf("%w: empty training set: no labels of stream %q from %s to %s", ErrBadInput, j.spec.Labels, rec.LabelsFrom.Format(time.RFC3339), rec.LabelsTo.Format(time.RFC3339))
	}
	if ready.RowCount < 2 {
		return fmt.Errorf("%w: training set of %d row: a holdout needs at least 2", ErrBadInput, ready.RowCount)
	}
	for _, f := range j.spec.Features {
		if !slices.Contains(ready.Features, f) {
			return fmt.Errorf("%w: the training set has no column %q (it has %v)", ErrBadInput, f, ready.Features)
		}
	}
	j.logf("training set %s: %d rows", ready.DatasetID, ready.RowCount)
	return j.update(ctx, func(r *jobs.Job) { r.Dataset = &ready })
}

// frame downloads (once per claim) and reads the training set, split into
// training rows and the holdout.
func (j *job) frame(ctx context.Context) (train, hold *tabular.Frame, err error) {
	rec := j.record()
	if rec.Dataset == nil {
		return nil, nil, errors.New("no training set recorded")
	}
	path := filepath.Join(j.dir, "dataset-"+rec.Dataset.SHA256+".parquet")
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		if err := j.p.datasets.Download(ctx, *rec.Dataset, tmp); err != nil {
			return nil, nil, fmt.Errorf("download training set %s: %w", rec.Dataset.DatasetID, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, nil, fmt.Errorf("download training set: %w", err)
		}
	}
	f, err := tabular.ReadFile(path, j.spec.Features)
	if err != nil {
		if errors.Is(err, tabular.ErrBadColumn) {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		return nil, nil, err
	}
	train, hold = f.SplitByTime(j.spec.Holdout)
	return train, hold, nil
}

func (j *job) task() learn.Task { return learn.Task(j.spec.Task) }

func (j *job) params() map[string]string {
	p := maps.Clone(j.spec.Trainer.Params)
	if p == nil {
		p = map[string]string{}
	}
	maps.Copy(p, j.record().Params)
	return p
}

// train fits the model on a runner and stores the model file in the object
// store.
func (j *job) train(ctx context.Context) error {
	train, hold, err := j.frame(ctx)
	if err != nil {
		return err
	}
	trainPath := filepath.Join(j.dir, "train.parquet")
	holdPath := filepath.Join(j.dir, "holdout.parquet")
	if err := train.WriteFile(trainPath); err != nil {
		return err
	}
	if err := hold.WriteFile(holdPath); err != nil {
		return err
	}
	rec := j.record()
	out := filepath.Join(j.dir, "out-"+strconv.Itoa(rec.Step(jobs.StepTrain).Attempts))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("runner output dir: %w", err)
	}
	name := runnerName(rec, j.spec)
	r, ok := j.p.runners[name]
	if !ok {
		return fmt.Errorf("%w: no runner %q in this trainer (it has %v)", ErrBadInput, name, slices.Sorted(maps.Keys(j.p.runners)))
	}
	res, err := r.Run(ctx, runner.Request{
		JobID: j.id, RunID: j.p.runID(j.id), Model: rec.Model,
		TrainPath: trainPath, HoldoutPath: holdPath, Features: j.spec.Features, Label: tabular.ColLabel,
		Task: j.task(), Classes: j.spec.Classes,
		Trainer: j.spec.Trainer.Name, Command: j.spec.Trainer.Command, Image: j.spec.Trainer.Image,
		Params: j.params(), Seed: j.spec.Seed,
		OutDir: out, Env: j.p.trackingEnv(j.id), Log: j,
	})
	if err != nil {
		return fmt.Errorf("runner %s: %w", name, err)
	}
	fh, err := os.Open(res.ModelPath)
	if err != nil {
		return fmt.Errorf("%w: runner %s wrote no model file: %v", ErrBadInput, name, err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil || st.Size() == 0 {
		return fmt.Errorf("%w: runner %s wrote an empty model file", ErrBadInput, name)
	}
	if _, _, err := loadModel(res.Format, fh); err != nil {
		return fmt.Errorf("%w: runner %s wrote a model that does not load: %v", ErrBadInput, name, err)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return err
	}
	art, err := j.p.registry.PutArtifact(ctx, fh)
	if err != nil {
		return fmt.Errorf("store model file: %w", err)
	}
	j.logf("model %s (%d bytes, %s)", art.SHA256, art.Size, res.Format)
	return j.update(ctx, func(r *jobs.Job) {
		r.Artifact, r.Format, r.TrainMetrics = &art, string(res.Format), res.Metrics
	})
}

// ErrUnsupportedFormat reports a model file format the trainer cannot load
// to evaluate.
var ErrUnsupportedFormat = errors.New("model format not supported for evaluation")

// loadModel loads a model file, with the vocabularies of its categorical
// features (tributary models; LightGBM and XGBoost models read numbers).
func loadModel(format runner.Format, r io.Reader) (learn.Predictor, tabular.Vocabularies, error) {
	switch format {
	case runner.FormatTributary:
		p, h, err := modelfile.Load(r)
		if err != nil {
			return nil, nil, err
		}
		vocabs := tabular.Vocabularies{}
		for i := range h.Categorical {
			vocabs[h.Categorical[i].Feature] = &h.Categorical[i].Vocabulary
		}
		return p, vocabs, nil
	case runner.FormatLightGBM:
		p, err := lightgbm.Parse(r)
		return p, nil, err
	case runner.FormatXGBoost, "xgboost-json":
		p, err := xgboost.Parse(r)
		return p, nil, err
	}
	return nil, nil, fmt.Errorf("%w: %q (the trainer evaluates tributary, lightgbm and xgboost models)", ErrUnsupportedFormat, format)
}

func (j *job) openModel(ctx context.Context, format string, a model.Artifact) (learn.Predictor, tabular.Vocabularies, error) {
	rc, err := j.p.registry.OpenArtifact(ctx, a)
	if err != nil {
		return nil, nil, fmt.Errorf("open artifact %s: %w", a.SHA256, err)
	}
	defer rc.Close()
	return loadModel(runner.Format(format), rc)
}

// Metrics returns the figures of an evaluation by metric name.
func Metrics(ev learn.Evaluation) map[string]float64 {
	switch ev.Task {
	case learn.TaskBinary:
		return map[string]float64{"auc": ev.AUC, "log_loss": ev.LogLoss, "accuracy": ev.Accuracy, "f1": ev.F1, "precision": ev.Precision, "recall": ev.Recall}
	case learn.TaskMulticlass:
		return map[string]float64{"auc": ev.AUC, "log_loss": ev.LogLoss, "accuracy": ev.Accuracy}
	}
	return map[string]float64{"r2": ev.R2, "mae": ev.MAE, "rmse": ev.RMSE}
}

// evaluate scores the candidate and the production model on the same
// holdout and computes the reference distributions.
func (j *job) evaluate(ctx context.Context) error {
	train, hold, err := j.frame(ctx)
	if err != nil {
		return err
	}
	rec := j.record()
	cand, vocabs, err := j.openModel(ctx, rec.Format, *rec.Artifact)
	if err != nil {
		return err
	}
	hd, err := hold.Dataset(j.spec.Classes, vocabs)
	if err != nil {
		return fmt.Errorf("%w: the candidate's holdout: %v", ErrBadInput, err)
	}
	ev, err := learn.Evaluate(cand, hd, j.task())
	if err != nil {
		return fmt.Errorf("%w: evaluate the candidate on the holdout of %d rows: %w", ErrBadInput, hd.Rows, err)
	}
	out := &jobs.Evaluation{HoldoutRows: hd.Rows, TrainRows: train.Rows(), Metrics: Metrics(ev)}
	out.ProductionVersion, out.ProductionMetrics, out.ProductionNote, err = j.evaluateProduction(ctx, hold)
	if err != nil {
		return err
	}
	if out.Reference, err = j.reference(train, cand, vocabs); err != nil {
		return fmt.Errorf("%w: reference distributions: %v", ErrBadInput, err)
	}
	for f, v := range vocabs {
		if out.Categorical == nil {
			out.Categorical = map[string]model.Vocabulary{}
		}
		out.Categorical[f] = model.Vocabulary{Categories: v.Categories, Other: v.Other}
	}
	j.logf("holdout %s %.6g (production version %d: %v %s)", j.spec.Metric, out.Metrics[j.spec.Metric], out.ProductionVersion, out.ProductionMetrics[j.spec.Metric], out.ProductionNote)
	return j.update(ctx, func(r *jobs.Job) { r.Evaluation = out })
}

func (j *job) evaluateProduction(ctx context.Context, hold *tabular.Frame) (int, map[string]float64, string, error) {
	rec := j.record()
	v, err := j.p.registry.Version(ctx, rec.Model, model.AliasProduction)
	switch {
	case errors.Is(err, model.ErrAliasNotFound), errors.Is(err, model.ErrModelNotFound), errors.Is(err, model.ErrVersionNotFound):
		return 0, nil, "", nil
	case err != nil:
		return 0, nil, "", fmt.Errorf("read the production version: %w", err)
	}
	// Columns of the holdout in the production model's order.
	sub, lacks, ok := hold.Sub(v.Lineage.Features)
	if !ok {
		return v.Version, nil, fmt.Sprintf("it reads %q, which the holdout lacks", lacks), nil
	}
	p, vocabs, err := j.openModel(ctx, v.Format, v.Artifact)
	if errors.Is(err, ErrUnsupportedFormat) {
		return v.Version, nil, err.Error(), nil
	}
	if err != nil {
		return 0, nil, "", fmt.Errorf("load production version %d: %w", v.Version, err)
	}
	d, err := sub.Dataset(j.spec.Classes, vocabs)
	if err != nil {
		return v.Version, nil, err.Error(), nil
	}
	ev, err := learn.Evaluate(p, d, j.task())
	if err != nil {
		return v.Version, nil, "evaluate: " + err.Error(), nil
	}
	return v.Version, Metrics(ev), "", nil
}

// reference computes the reference distributions on the training rows: one
// per feature and one of the candidate's prediction (the probability of
// the positive class, the regression value, or the class for multiclass).
// A string feature's is categorical: the categories of the model's
// vocabulary (all the training rows' when it has no other code), the rest
// in Other, nulls as missing.
func (j *job) reference(train *tabular.Frame, cand learn.Predictor, vocabs tabular.Vocabularies) (model.Reference, error) {
	bins := j.spec.Bins()
	ref := model.Reference{Features: map[string]model.Distribution{}}
	for _, f := range j.spec.Features {
		vals, missing, text := train.TextColumn(f)
		if !text {
			ref.Features[f] = model.NewNumeric(train.Column(f), bins)
			continue
		}
		keep := categorical.DefaultMaxCategories
		if voc := vocabs[f]; voc != nil {
			keep = len(voc.Categories)
			if !voc.Other {
				keep = 0 // all
			}
		}
		dist := model.NewCategorical(vals, keep)
		dist.Missing = missing
		ref.Features[f] = dist
	}
	d, err := train.Dataset(j.spec.Classes, vocabs)
	if err != nil {
		return ref, err
	}
	pred := learn.PredictAll(cand, d)
	if k := cand.Outputs(); k > 1 {
		classes := make([]string, d.Rows)
		for i := range d.Rows {
			row := pred[i*k : (i+1)*k]
			best := 0
			for c := range row {
				if row[c] > row[best] {
					best = c
				}
			}
			classes[i] = strconv.Itoa(best)
		}
		ref.Prediction = model.NewCategorical(classes, 0)
	} else {
		ref.Prediction = model.NewNumeric(pred, bins)
	}
	return ref, nil
}

// register registers the candidate with its lineage; the request id is the
// job id, so a retry or a resumed job gets the same version.
func (j *job) register(ctx context.Context) error {
	rec := j.record()
	ds := rec.Dataset
	defs := maps.Clone(ds.FeatureDefinitions)
	params := j.params()
	params["seed"] = strconv.FormatInt(j.spec.Seed, 10)
	params["runner"] = runnerName(rec, j.spec)
	params["spec_version"] = rec.SpecVersion
	v, err := j.p.registry.Register(ctx, model.RegisterRequest{
		Model: rec.Model, Format: rec.Format, Artifact: *rec.Artifact, Actor: j.p.cfg.Actor, RequestID: j.id,
		Lineage: model.Lineage{
			TrainingSetID: ds.DatasetID, TrainingSetSHA256: ds.SHA256, FeatureDefinitions: defs,
			Features: j.spec.Features, Categorical: rec.Evaluation.Categorical, Trainer: j.spec.Trainer.Name, CodeVersion: j.p.cfg.CodeVersion,
			Params: params, Metrics: rec.Evaluation.Metrics, Reference: rec.Evaluation.Reference,
			Trigger: rec.Trigger, JobID: j.id,
		},
	})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	j.logf("registered %s version %d", v.Model, v.Version)
	return j.update(ctx, func(r *jobs.Job) { r.Version = v.Version })
}

// promote applies the spec's policy and records the decision.
func (j *job) promote(ctx context.Context) error {
	rec := j.record()
	d := rec.Decision
	if d == nil {
		ev := rec.Evaluation
		dec := policy.Decide(policy.Input{
			Policy: j.spec.Policy, Metric: j.spec.Metric, Candidate: ev.Metrics,
			ProductionVersion: ev.ProductionVersion, Production: ev.ProductionMetrics, ProductionNote: ev.ProductionNote,
			At: j.p.store.Now(),
		})
		if err := j.update(ctx, func(r *jobs.Job) { r.Decision = &dec }); err != nil {
			return err
		}
		d = &dec
		j.logf("policy %s: %s: %s", d.Policy, d.Action, d.Reason)
	}
	if d.Action == policy.ActionNone || d.Moved {
		return nil
	}
	if cur, err := j.p.registry.Version(ctx, rec.Model, model.VersionRef(d.Alias)); err == nil && cur.Version == rec.Version {
		// Moved by an attempt whose answer was lost.
	} else if _, err := j.p.registry.MoveAlias(ctx, model.MoveAliasRequest{
		Model: rec.Model, Alias: d.Alias, Version: rec.Version, Weight: d.Weight, Actor: j.p.cfg.Actor,
		Reason: truncate(fmt.Sprintf("job %s (%s): %s", j.id, rec.Trigger, d.Reason), 1024),
	}); err != nil {
		return fmt.Errorf("move %s to version %d: %w", d.Alias, rec.Version, err)
	}
	j.logf("moved %s to version %d", d.Alias, rec.Version)
	return j.update(ctx, func(r *jobs.Job) { r.Decision.Moved = true })
}

// trackingEnv is the MLflow environment of a job's training code: its own
// tracked run on the trainer's tracking API.
func (p *Pipeline) trackingEnv(jobID string) []string {
	if p.cfg.TrackingURI == "" || p.tracker == nil {
		return nil
	}
	return mlflowapi.TrackingEnv(p.cfg.TrackingURI, p.runID(jobID))
}
