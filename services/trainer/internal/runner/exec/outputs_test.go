package exec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
)

// golden is a model file of libs/learn's golden tests.
func golden(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "..", "libs", "learn", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadOutputsTreeModels reads LightGBM and XGBoost models (the golden
// files of their loaders: 8 features), telling XGBoost JSON from a
// Tributary model file by content, and refuses them for a job they do not
// fit.
func TestReadOutputsTreeModels(t *testing.T) {
	eight := []string{"a:f0", "a:f1", "a:f2", "a:f3", "a:f4", "a:f5", "a:f6", "a:f7"}
	tests := []struct {
		name     string
		file     string
		golden   string
		task     learn.Task
		features []string
		format   runner.Format
		refused  string // "" when accepted
	}{
		{name: "lightgbm binary", file: "model.txt", golden: "lightgbm/testdata/binary.txt", task: learn.TaskBinary, features: eight, format: runner.FormatLightGBM},
		{name: "lightgbm regression", file: "model.txt", golden: "lightgbm/testdata/regression.txt", task: learn.TaskRegression, features: eight, format: runner.FormatLightGBM},
		{name: "xgboost binary", file: "model.json", golden: "xgboost/testdata/binary.json", task: learn.TaskBinary, features: eight, format: runner.FormatXGBoost},
		{name: "lightgbm wrong task", file: "model.txt", golden: "lightgbm/testdata/regression.txt", task: learn.TaskBinary, features: eight, refused: "a regression model; the job trains a binary model"},
		{name: "lightgbm too few features", file: "model.txt", golden: "lightgbm/testdata/binary.txt", task: learn.TaskBinary, features: eight[:3], refused: "the model reads 8 features; the job has 3"},
		{name: "xgboost too many features", file: "model.json", golden: "xgboost/testdata/binary.json", task: learn.TaskBinary, features: append(eight, "a:f8"), refused: "the model reads 8 features; the job has 9"},
		{name: "lightgbm as json", file: "model.json", golden: "lightgbm/testdata/binary.txt", task: learn.TaskBinary, features: eight, refused: "neither a Tributary model file"},
		{name: "truncated lightgbm", file: "model.txt", golden: "lightgbm/testdata/binary.txt", task: learn.TaskBinary, features: eight, refused: "does not load as a lightgbm model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			raw := golden(t, tc.golden)
			if strings.HasPrefix(tc.name, "truncated") {
				raw = raw[:len(raw)/2]
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"train_auc": 0.9}`), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := exec.ReadOutputs(dir, runner.Request{Task: tc.task, Features: tc.features, Classes: 2})
			if tc.refused != "" {
				var e *exec.Error
				if !errors.As(err, &e) || e.Reason != exec.ReasonBadModel || e.File != tc.file || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("error %v, want bad_model of %s saying %q", err, tc.file, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format || res.ModelPath != filepath.Join(dir, tc.file) || res.Metrics["train_auc"] != 0.9 {
				t.Errorf("result %+v", res)
			}
		})
	}
}
