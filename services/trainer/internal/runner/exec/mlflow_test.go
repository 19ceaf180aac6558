package exec_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/trainer/internal/mlflowapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

// TestLightGBMExampleLogsToMLflow: with the environment the trainer gives
// (mlflowapi.TrackingEnv), the example logs its parameters and metrics
// into the job's tracked run through the trainer's MLflow tracking API,
// and leaves the run's status to the trainer.
func TestLightGBMExampleLogsToMLflow(t *testing.T) {
	command := pythonExample(t)
	st := runstest.Store(t, runstest.JetStream(t, 0))
	mux := http.NewServeMux()
	for pattern, h := range mlflowapi.New(func() *runs.Store { return st }, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes() {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := st.CreateRun(ctx, runs.Run{Name: "fraud-job-1", Status: runs.StatusRunning, StartTime: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	req := runner.Request{
		JobID: "job-1", RunID: run.ID, Model: "fraud",
		TrainPath: filepath.Join(dir, "train.parquet"), Features: lgbFeatures, Label: "label",
		Task: learn.TaskBinary, Classes: 2, Trainer: "lightgbm", Seed: 1,
		Params: map[string]string{"num_iterations": "20", "num_leaves": "7"}, Command: command, OutDir: t.TempDir(),
		Env: mlflowapi.TrackingEnv(srv.URL, run.ID),
	}
	writeParquet(t, req.TrainPath, synthetic(learn.TaskBinary, 500, 4), lgbFeatures)
	var log testkit.Buffer
	req.Log = &log
	res, err := exec.New(exec.Config{}).Run(ctx, req)
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	got, err := st.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != runs.StatusRunning {
		t.Errorf("run status %s: the script changed it", got.Status)
	}
	if got.Params["lightgbm.num_leaves"] != "7" || got.Params["lightgbm.num_iterations"] != "20" || got.Params["lightgbm.seed"] != "1" {
		t.Errorf("params %v", got.Params)
	}
	for _, k := range []string{"train_auc", "train_binary_logloss", "num_trees"} {
		m, ok := got.Metrics[k]
		if !ok || float64(m.Value) != res.Metrics[k] {
			t.Errorf("metric %s: logged %+v, metrics.json %v", k, m, res.Metrics[k])
		}
	}
}
