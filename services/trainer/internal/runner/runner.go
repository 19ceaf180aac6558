// Package runner defines how the trainer hands a training job to the code
// that fits the model: the built-in Go learners, any command (exec), or a
// Kubernetes Job. Every runner gets the same Request and returns the same
// Result, so the steps around training (building the set, evaluating,
// registering, promoting) do not depend on where the model was fitted.
package runner

import (
	"context"
	"errors"
	"io"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/model"
)

// Request is one training run's input.
type Request struct {
	JobID string // the job this run belongs to
	RunID string // the tracked run (also MLFLOW_RUN_ID for exec scripts)
	Model string // the model's name in the registry

	// TrainPath and HoldoutPath are Parquet files: one row per label, a
	// column per feature (named as in Features) and the label column.
	// The holdout is the newest labels, never used for fitting.
	TrainPath   string
	HoldoutPath string
	Features    []string // feature columns, in model order
	Label       string   // the label column
	Task        learn.Task
	Classes     int // for multiclass

	Trainer string            // the runner-specific trainer name ("logistic", "gbdt", "ridge", or the exec command's name)
	Params  map[string]string // the spec's trainer parameters, as strings
	Seed    int64
	// Command is the training command (argv) of the exec and kubernetes
	// runners and Image the kubernetes runner's container image (the
	// spec's trainer.command and trainer.image).
	Command []string
	Image   string

	// OutDir is an empty directory the runner writes the model and its
	// metrics into.
	OutDir string
	// Env is extra environment for runners that start processes (for
	// example MLFLOW_TRACKING_URI and MLFLOW_RUN_ID).
	Env []string
	// Log receives the runner's output (stdout and stderr of a command);
	// the trainer bounds what it keeps.
	Log io.Writer
}

// Format names how a model file is encoded.
type Format string

// Formats a runner may produce.
const (
	FormatTributary Format = "tributary" // libs/learn/modelfile JSON
	FormatLightGBM  Format = "lightgbm"  // LightGBM text model
	FormatXGBoost   Format = "xgboost"   // XGBoost JSON model
)

// Result is what a run produced.
type Result struct {
	ModelPath string // the model file, inside Request.OutDir
	Format    Format
	// Metrics the training code reported (for example training loss);
	// the trainer computes the holdout metrics itself.
	Metrics map[string]float64
	// References are reference distributions the code computed, by
	// feature name and "prediction"; optional: the trainer computes the
	// ones it lacks.
	References map[string]model.Distribution
}

// Runner fits a model for a Request. An error wrapping ErrBadInput (or a
// *learn.DataError) is not retried; any other error may be.
type Runner interface {
	Run(ctx context.Context, req Request) (Result, error)
}

// ErrBadInput marks a failure that retrying cannot fix: a bad parameter, a
// command that exits non-zero, a missing model file.
var ErrBadInput = errors.New("bad training input")
