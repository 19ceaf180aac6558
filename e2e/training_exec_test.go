package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/learn/lightgbm"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// trainingPython is the tests' Python environment (make pyenv), which has
// lightgbm and mlflow-skinny; the test fails, rather than skips, without it.
func trainingPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("TRIBUTARY_PYTHON")
	if py == "" {
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` and `make test`, or export TRIBUTARY_PYTHON=$(deploy/local/pyenv.sh path)")
	}
	return py
}

// TestTrainingExec trains examples/lightgbm/train.py through the trainer's
// exec runner, from the same events as TestTraining: the job's version is a
// LightGBM text model with its lineage, evaluated by the trainer on the
// holdout, and the metrics the script logged to the job's MLflow run are in
// that run. A second spec whose command exits non-zero fails the job at the
// train step with bad_input, keeps the command's output in the log and
// registers nothing.
func TestTrainingExec(t *testing.T) {
	py := trainingPython(t)
	root, err := testkit.WorkspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The runner resolves only the command's path (-exec.dir); an argument
	// is the command's own business and it runs in its output directory,
	// so the script is given by its absolute path.
	script := filepath.Join(root, "examples", "lightgbm", "train.py")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	trainer := stack.platform.Service("trainer").BaseURL
	f := newTrainingFixture(t, ctx)
	const users = fixtureUsers
	modelName := "e2e-" + f.name + "-lgb"
	spec := f.applySpec(t, ctx, fmt.Sprintf(`
model: %s
features: [%s:last_amount, %s:n_1h]
labels: %s
task: binary
trainer:
  runner: exec
  name: lightgbm
  command: [%q, %q]
  params: {num_iterations: "20", num_leaves: "4", min_data_in_leaf: "5", learning_rate: "0.3"}
seed: 7
window: 1d
holdout: 0.25
metric: auc
reference: {bins: 8}
policy: {kind: auto, margin: 0.01}
`, modelName, f.view, f.view, f.labelStream, py, script))

	var started struct {
		Outcome string     `json:"outcome"`
		Job     trainerJob `json:"job"`
	}
	trainerCall(t, ctx, "POST", trainer+"/v1/models/"+modelName+"/train", `{"reason":"e2e exec"}`, http.StatusAccepted, &started)
	job := waitJob(t, ctx, trainer, started.Job.JobID)
	if job.Status != "succeeded" {
		t.Fatalf("job %s %s at %s: %s\n%s", job.JobID, job.Status, job.FailedStep, job.Error, job.Log)
	}
	if job.Dataset == nil || job.Dataset.RowCount != 4*users {
		t.Fatalf("job %s trained on %+v", job.JobID, job.Dataset)
	}
	var steps []string
	for _, s := range job.Steps {
		steps = append(steps, s.Name)
		if s.Status != "done" || s.Attempts != 1 || s.Ended.Before(s.Started) {
			t.Errorf("step %+v", s)
		}
	}
	if want := []string{"dataset", "train", "evaluate", "register", "promote"}; !slices.Equal(steps, want) {
		t.Errorf("steps %v, want %v", steps, want)
	}
	// The script's own output is in the job's log.
	for _, want := range []string{"[exec] start " + py + " " + script, "training lightgbm 4.", "on 120 rows x 2 features, 20 rounds", "wrote model.txt and metrics.json", "logged "} {
		if !strings.Contains(job.Log, want) {
			t.Errorf("log has no %q:\n%s", want, job.Log)
		}
	}
	// The trainer evaluated the LightGBM model itself, on the 40 holdout
	// rows: last_amount separates the classes.
	ev := job.Evaluation
	if ev == nil || ev.HoldoutRows != users || ev.TrainRows != 3*users || !(ev.Metrics["auc"] > 0.9) || !(ev.Metrics["auc"] <= 1) {
		t.Fatalf("evaluation %+v\n%s", ev, job.Log)
	}
	t.Logf("holdout metrics of the LightGBM model: %v", ev.Metrics)
	if ll, ok := ev.Metrics["log_loss"]; ok && !(ll > 0 && ll < 0.693) {
		t.Errorf("holdout log_loss %v, want better than a coin", ll)
	}

	reg := model.NewClient(f.nc, f.js)
	v, err := reg.Version(ctx, modelName, model.VersionRef(fmt.Sprint(job.Version)))
	if err != nil {
		t.Fatalf("version %d of %s: %v\n%s", job.Version, modelName, err, job.Log)
	}
	l := v.Lineage
	switch {
	case v.Format != "lightgbm":
		t.Errorf("format %q, want lightgbm", v.Format)
	case l.JobID != job.JobID || l.TrainingSetID != job.Dataset.DatasetID || l.TrainingSetSHA256 != job.Dataset.SHA256:
		t.Errorf("lineage job %s set %s %s, job %s dataset %+v", l.JobID, l.TrainingSetID, l.TrainingSetSHA256, job.JobID, job.Dataset)
	case !slices.Equal(l.Features, spec.Features) || l.FeatureDefinitions[f.view] != f.viewVersion:
		t.Errorf("lineage features %v %v", l.Features, l.FeatureDefinitions)
	case l.Trainer != "lightgbm" || l.Params["runner"] != "exec" || l.Params["seed"] != "7" || l.Params["num_iterations"] != "20" || l.Params["num_leaves"] != "4":
		t.Errorf("lineage trainer %q params %v", l.Trainer, l.Params)
	case l.Metrics["auc"] != ev.Metrics["auc"]:
		t.Errorf("lineage metrics %v, evaluation %v", l.Metrics, ev.Metrics)
	}
	// The artifact is LightGBM's text model of 2 features and 20 trees.
	rc, err := reg.OpenArtifact(ctx, v.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(text), "tree\n") {
		t.Errorf("artifact starts %q, want LightGBM's text model", text[:min(len(text), 40)])
	}
	m, err := lightgbm.ParseBytes(text)
	if err != nil {
		t.Fatalf("parse the artifact: %v", err)
	}
	if m.NumFeatures() != len(spec.Features) || m.Trees() != 20 || m.Objective() == "" {
		t.Errorf("model: %d features %v, %d trees, objective %q", m.NumFeatures(), m.Features(), m.Trees(), m.Objective())
	}
	// A high spender scores above a low one.
	lo, hi := make([]float64, 1), make([]float64, 1)
	m.Predict([]float64{2, 3}, lo)
	m.Predict([]float64{37, 3}, hi)
	if !(hi[0] > 0.5 && lo[0] < 0.5) {
		t.Errorf("predictions: last_amount 2 -> %v, 37 -> %v", lo[0], hi[0])
	}

	// What the script logged to MLflow is in the job's tracked run.
	var run struct {
		Status  string            `json:"status"`
		Params  map[string]string `json:"params"`
		Metrics map[string]struct {
			Value   float64 `json:"value"`
			Dataset string  `json:"dataset"`
		} `json:"metrics"`
	}
	// A CI run read the run FINISHED without its auc once: poll for it.
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		trainerCall(t, ctx, "GET", trainer+"/v1/runs/"+job.JobID, "", http.StatusOK, &run)
		if run.Status != "FINISHED" || run.Metrics["auc"].Value != ev.Metrics["auc"] {
			return fmt.Errorf("run %s, auc %+v, want %v", run.Status, run.Metrics["auc"], ev.Metrics["auc"])
		}
		return nil
	})
	if got := run.Metrics["num_trees"].Value; got != 20 {
		t.Errorf("run metric num_trees %v, want 20 (metrics %v)", got, run.Metrics)
	}
	if got := run.Metrics["train_rows"].Value; got != 3*users {
		t.Errorf("run metric train_rows %v, want %d", got, 3*users)
	}
	if got := run.Metrics["train_auc"].Value; !(got > 0.9 && got <= 1) {
		t.Errorf("run metric train_auc %v", got)
	}
	if run.Params["lightgbm.num_leaves"] != "4" || run.Params["lightgbm.seed"] != "7" {
		t.Errorf("run params %v", run.Params)
	}

	// A command that exits non-zero: the job fails at train, bad input,
	// with the command's output kept, and nothing is registered.
	failName := "e2e-" + f.name + "-fail"
	f.applySpec(t, ctx, fmt.Sprintf(`
model: %s
features: [%s:last_amount, %s:n_1h]
labels: %s
task: binary
trainer:
  runner: exec
  name: broken
  command: [%q, "-c", "import sys; print('e2e script ran'); print('e2e script fails', file=sys.stderr); sys.exit(3)"]
window: 1d
holdout: 0.25
metric: auc
policy: {kind: auto}
`, failName, f.view, f.view, f.labelStream, py))
	trainerCall(t, ctx, "POST", trainer+"/v1/models/"+failName+"/train", `{"reason":"e2e exec fails"}`, http.StatusAccepted, &started)
	failed := waitJob(t, ctx, trainer, started.Job.JobID)
	if failed.Status != "failed" || failed.FailedStep != "train" || failed.Failure != "bad_input" || failed.Version != 0 ||
		!strings.Contains(failed.Error, "exit_status") || !strings.Contains(failed.Error, "e2e script fails") {
		t.Errorf("failed job: %s at %s (%s): %s, version %d", failed.Status, failed.FailedStep, failed.Failure, failed.Error, failed.Version)
	}
	for _, want := range []string{"e2e script ran", "e2e script fails"} {
		if !strings.Contains(failed.Log, want) {
			t.Errorf("failed job's log has no %q:\n%s", want, failed.Log)
		}
	}
	if vs, err := reg.Versions(ctx, failName); err == nil && len(vs) > 0 {
		t.Errorf("%s has versions %+v", failName, vs)
	} else if err != nil && !errors.Is(err, model.ErrModelNotFound) && !errors.Is(err, model.ErrNotFound) {
		t.Errorf("versions of %s: %v", failName, err)
	}
}
