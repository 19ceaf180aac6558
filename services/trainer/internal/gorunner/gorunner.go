// Package gorunner is the built-in runner: it fits Tributary's Go learners
// (libs/learn/linear's logistic and ridge regression, libs/learn/gbdt's
// gradient-boosted trees) in the trainer's process and writes a
// libs/learn/modelfile model.
package gorunner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/libs/learn/gbdt"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/tabular"
)

// ModelFile is the name of the model file in Request.OutDir.
const ModelFile = "model.json"

// Runner runs the built-in learners. The zero value is ready to use.
type Runner struct{}

var _ runner.Runner = Runner{}

// Trainers lists the trainer names the runner knows.
func Trainers() []string { return []string{gbdt.Kind, linear.KindLogistic, linear.KindRidge} }

// Run reads the training file, fits the trainer and saves the model. A
// string feature becomes categorical: its vocabulary is learned on the
// training rows (the max_categories most frequent, default 64, the rest
// under an other code), one-hot for logistic and ridge, ordinal codes for
// gbdt, and saved in the model file (modelfile version 2). Bad
// parameters and data the learner refuses are errors wrapping
// runner.ErrBadInput (and the *learn.DataError).
func (Runner) Run(ctx context.Context, req runner.Request) (runner.Result, error) {
	frame, err := tabular.ReadFile(req.TrainPath, req.Features)
	if err != nil {
		if errors.Is(err, tabular.ErrBadColumn) {
			return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, err)
		}
		return runner.Result{}, err
	}
	p := &paramReader{p: req.Params}
	maxCats := p.int("max_categories")
	if p.err != nil {
		return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, p.err)
	}
	// String features: a vocabulary learned on the training rows, one-hot
	// columns for the linear learners, ordinal codes for the trees.
	enc := categorical.OneHot
	if req.Trainer == gbdt.Kind {
		enc = categorical.Ordinal
	}
	vocabs := tabular.Vocabularies{}
	var cats []categorical.Feature
	for j, name := range frame.Features {
		if !frame.IsText(j) {
			continue
		}
		vals, _, _ := frame.TextColumn(name)
		voc := categorical.Learn(vals, maxCats)
		vocabs[name] = voc
		cats = append(cats, categorical.Feature{Feature: name, Encoding: enc, Vocabulary: *voc})
	}
	d, err := frame.Dataset(req.Classes, vocabs)
	if err != nil {
		return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, err)
	}
	if err := learn.CheckTraining(d, req.Task); err != nil {
		return runner.Result{}, fmt.Errorf("%w: training set: %w", runner.ErrBadInput, err)
	}
	var layout *categorical.Layout
	inputs := d
	if len(cats) > 0 {
		if layout, err = categorical.NewLayout(d.Features, cats); err != nil {
			return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, err)
		}
		inputs = layout.Encode(d)
	}
	var m learn.Model
	switch req.Trainer {
	case linear.KindLogistic:
		cfg := linear.LogisticConfig{C: p.float("c"), MaxIter: p.int("max_iter"), Tol: p.float("tol")}
		if p.err != nil {
			return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, p.err)
		}
		m, err = linear.TrainLogistic(ctx, inputs, req.Task, cfg)
	case gbdt.Kind:
		cfg := gbdt.DefaultParams(req.Task)
		setInt(&cfg.MaxIter, p, "max_iter")
		setFloat(&cfg.LearningRate, p, "learning_rate")
		setInt(&cfg.MaxLeaves, p, "max_leaves")
		setInt(&cfg.MaxDepth, p, "max_depth")
		setInt(&cfg.MinSamplesLeaf, p, "min_samples_leaf")
		setFloat(&cfg.L2, p, "l2")
		setInt(&cfg.MaxBins, p, "max_bins")
		setFloat(&cfg.ValidationFraction, p, "validation_fraction")
		setInt(&cfg.NIterNoChange, p, "n_iter_no_change")
		setFloat(&cfg.Tol, p, "tol")
		if v, ok := req.Params["early_stopping"]; ok {
			cfg.EarlyStopping = gbdt.EarlyStopping(v)
		}
		cfg.Seed = uint64(req.Seed)
		if p.err != nil {
			return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, p.err)
		}
		m, err = gbdt.Train(ctx, inputs, cfg)
	case linear.KindRidge:
		if req.Task != learn.TaskRegression {
			return runner.Result{}, fmt.Errorf("%w: ridge learns regression, not %s", runner.ErrBadInput, req.Task)
		}
		cfg := linear.RidgeConfig{Alpha: p.float("alpha")}
		if p.err != nil {
			return runner.Result{}, fmt.Errorf("%w: %v", runner.ErrBadInput, p.err)
		}
		m, err = linear.TrainRidge(ctx, inputs, cfg)
	default:
		return runner.Result{}, fmt.Errorf("%w: the go runner has no trainer %q (it has %v)", runner.ErrBadInput, req.Trainer, Trainers())
	}
	if err != nil {
		var de *learn.DataError
		if errors.As(err, &de) {
			return runner.Result{}, fmt.Errorf("%w: train %s: %w", runner.ErrBadInput, req.Trainer, err)
		}
		return runner.Result{}, fmt.Errorf("train %s: %w", req.Trainer, err)
	}
	if layout != nil {
		if m, err = categorical.Wrap(layout, m); err != nil {
			return runner.Result{}, fmt.Errorf("train %s: %w", req.Trainer, err)
		}
		if req.Log != nil {
			for _, c := range cats {
				fmt.Fprintf(req.Log, "categorical feature %s: %d categories (other code: %v), %s\n", c.Feature, len(c.Categories), c.Other, c.Encoding)
			}
		}
	}
	if req.Log != nil {
		fmt.Fprintf(req.Log, "trained %s on %d rows of %d features\n", req.Trainer, d.Rows, d.Cols)
	}
	path := filepath.Join(req.OutDir, ModelFile)
	fh, err := os.Create(path)
	if err != nil {
		return runner.Result{}, fmt.Errorf("create model file: %w", err)
	}
	if err := modelfile.Save(fh, m); err != nil {
		_ = fh.Close()
		return runner.Result{}, err
	}
	if err := fh.Close(); err != nil {
		return runner.Result{}, fmt.Errorf("close model file: %w", err)
	}
	metrics := map[string]float64{"train_rows": float64(d.Rows)}
	if ev, err := learn.Evaluate(m, d, req.Task); err == nil {
		for k, v := range evaluationMetrics(ev) {
			metrics["train_"+k] = v
		}
	}
	return runner.Result{ModelPath: path, Format: runner.FormatTributary, Metrics: metrics}, nil
}

// evaluationMetrics returns the figures of an evaluation by metric name.
func evaluationMetrics(ev learn.Evaluation) map[string]float64 {
	switch ev.Task {
	case learn.TaskBinary:
		return map[string]float64{"auc": ev.AUC, "log_loss": ev.LogLoss, "accuracy": ev.Accuracy, "f1": ev.F1}
	case learn.TaskMulticlass:
		return map[string]float64{"auc": ev.AUC, "log_loss": ev.LogLoss, "accuracy": ev.Accuracy}
	}
	return map[string]float64{"r2": ev.R2, "mae": ev.MAE, "rmse": ev.RMSE}
}

// paramReader reads a trainer's string parameters, keeping the first error.
type paramReader struct {
	p   map[string]string
	err error
}

func (r *paramReader) float(k string) float64 {
	s, ok := r.p[k]
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("param %s: %q is not a number", k, s)
	}
	return v
}

func (r *paramReader) int(k string) int {
	s, ok := r.p[k]
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("param %s: %q is not an integer", k, s)
	}
	return v
}

// setInt and setFloat override a config field with a parameter, when set.
func setInt(dst *int, p *paramReader, k string) {
	if _, ok := p.p[k]; ok {
		*dst = p.int(k)
	}
}

func setFloat(dst *float64, p *paramReader, k string) {
	if _, ok := p.p[k]; ok {
		*dst = p.float(k)
	}
}
