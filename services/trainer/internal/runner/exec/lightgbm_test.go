package exec_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/lightgbm"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
)

// trainingSet is a synthetic set whose label depends on the features
// non-linearly (an interaction a linear model misses), with missing values.
type trainingSet struct {
	x [][]float64 // x[row][feature], NaN for null
	y []float64
}

var lgbFeatures = []string{"txn:amount_mean_1h", "txn:count_1d", "user:age_days"}

func synthetic(task learn.Task, rows int, seed uint64) trainingSet {
	rng := rand.New(rand.NewPCG(seed, 7))
	var s trainingSet
	for range rows {
		a, b, c := 4*rng.Float64()-2, 4*rng.Float64()-2, rng.NormFloat64()
		noise := 0.3 * rng.NormFloat64()
		var y float64
		switch task {
		case learn.TaskBinary:
			if a*b+0.5*a+noise > 0 {
				y = 1
			}
		case learn.TaskMulticlass:
			switch v := a*b + noise; {
			case v < -0.7:
				y = 0
			case v < 0.7:
				y = 1
			default:
				y = 2
			}
		case learn.TaskRegression:
			y = math.Sin(2*a) + b*b + noise
		}
		row := []float64{a, b, c}
		if rng.Float64() < 0.05 {
			row[2] = math.NaN()
		}
		s.x = append(s.x, row)
		s.y = append(s.y, y)
	}
	return s
}

// writeParquet writes s in the features service's training set layout
// (services/features/internal/offline: entity_key, event_time in ms, label,
// an optional double column per feature named view:feature).
func writeParquet(t *testing.T, path string, s trainingSet, features []string) {
	t.Helper()
	writeTypedParquet(t, path, s, features, nil)
}

// writeTypedParquet is writeParquet with some feature columns int64 or
// boolean (types by name: "int64", "bool"; double otherwise), as the
// features service writes int and bool features.
func writeTypedParquet(t *testing.T, path string, s trainingSet, features []string, types map[string]string) {
	t.Helper()
	g := parquet.Group{
		"entity_key": parquet.String(),
		"event_time": parquet.Timestamp(parquet.Millisecond),
		"label":      parquet.Leaf(parquet.DoubleType),
	}
	for _, f := range features {
		switch types[f] {
		case "int64":
			g[f] = parquet.Optional(parquet.Leaf(parquet.Int64Type))
		case "bool":
			g[f] = parquet.Optional(parquet.Leaf(parquet.BooleanType))
		default:
			g[f] = parquet.Optional(parquet.Leaf(parquet.DoubleType))
		}
	}
	schema := parquet.NewSchema("training_set", g)
	col := map[string]int{}
	for i, f := range schema.Fields() {
		col[f.Name()] = i
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[any](&buf, schema)
	row := make(parquet.Row, len(schema.Fields()))
	for i := range s.y {
		row[col["entity_key"]] = parquet.ByteArrayValue([]byte("user-"+string(rune('a'+i%26)))).Level(0, 0, col["entity_key"])
		row[col["event_time"]] = parquet.Int64Value(1_780_000_000_000+int64(i)*1000).Level(0, 0, col["event_time"])
		row[col["label"]] = parquet.DoubleValue(s.y[i]).Level(0, 0, col["label"])
		for j, f := range features {
			c := col[f]
			if v := s.x[i][j]; math.IsNaN(v) {
				row[c] = parquet.NullValue().Level(0, 0, c)
			} else {
				switch types[f] {
				case "int64":
					row[c] = parquet.Int64Value(int64(v)).Level(0, 1, c)
				case "bool":
					row[c] = parquet.BooleanValue(v != 0).Level(0, 1, c)
				default:
					row[c] = parquet.DoubleValue(v).Level(0, 1, c)
				}
			}
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pythonExample returns the command that runs examples/lightgbm/train.py
// with the tests' Python environment.
func pythonExample(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs LightGBM in Python (-short)")
	}
	py := os.Getenv("TRIBUTARY_PYTHON")
	if py == "" {
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` and export TRIBUTARY_PYTHON=$(deploy/local/pyenv.sh path) (make test does both)")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "..", "examples", "lightgbm", "train.py"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{py, script}
}

// TestLightGBMExample trains examples/lightgbm through the exec runner on
// a Parquet set in the features service's layout, loads the LightGBM text
// model it wrote with libs/learn/lightgbm and checks its holdout quality.
func TestLightGBMExample(t *testing.T) {
	command := pythonExample(t)
	tests := []struct {
		task    learn.Task
		classes int
		params  map[string]string
		trees   int
		metric  string  // a training metric train.py reports
		quality float64 // the holdout's AUC, accuracy or R² is above it
	}{
		{task: learn.TaskBinary, classes: 2, params: map[string]string{"num_iterations": "80", "num_leaves": "15", "learning_rate": "0.1"}, trees: 80, metric: "train_auc", quality: 0.9},
		{task: learn.TaskMulticlass, classes: 3, params: map[string]string{"num_iterations": "60"}, trees: 180, metric: "train_multi_logloss", quality: 0.75},
		{task: learn.TaskRegression, params: map[string]string{"num_iterations": "100", "min_data_in_leaf": "10"}, trees: 100, metric: "train_l2", quality: 0.8},
	}
	for _, tc := range tests {
		t.Run(string(tc.task), func(t *testing.T) {
			dir := t.TempDir()
			train, holdout := synthetic(tc.task, 2400, 1), synthetic(tc.task, 600, 2)
			req := runner.Request{
				JobID: "job-lgb", RunID: "00000000000000000000000000000001", Model: "lgb-" + string(tc.task),
				TrainPath: filepath.Join(dir, "train.parquet"), HoldoutPath: filepath.Join(dir, "holdout.parquet"),
				Features: lgbFeatures, Label: "label", Task: tc.task, Classes: tc.classes,
				Trainer: "lightgbm", Params: tc.params, Seed: 17, Command: command,
			}
			writeParquet(t, req.TrainPath, train, lgbFeatures)
			writeParquet(t, req.HoldoutPath, holdout, lgbFeatures)
			run := func() (runner.Result, string) {
				var log testkit.Buffer
				req.Log = &log
				req.OutDir = t.TempDir()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				res, err := exec.New(exec.Config{}).Run(ctx, req)
				if err != nil {
					t.Fatalf("run: %v\nlog:\n%s", err, log.String())
				}
				return res, log.String()
			}
			start := time.Now()
			res, log := run()
			t.Logf("trained in %s", time.Since(start).Round(time.Millisecond))
			if res.Format != runner.FormatLightGBM || filepath.Base(res.ModelPath) != "model.txt" {
				t.Fatalf("result %+v", res)
			}
			if !strings.Contains(log, "training lightgbm 4.7.0") {
				t.Errorf("log lacks the script's output:\n%s", log)
			}
			if res.Metrics["num_trees"] != float64(tc.trees) || res.Metrics["train_rows"] != 2400 {
				t.Errorf("metrics %v: want %d trees, 2400 rows", res.Metrics, tc.trees)
			}
			if _, ok := res.Metrics[tc.metric]; !ok {
				t.Errorf("metrics %v lack %s", res.Metrics, tc.metric)
			}
			raw, err := os.ReadFile(res.ModelPath)
			if err != nil {
				t.Fatal(err)
			}
			m, err := lightgbm.ParseBytes(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Version() != "v4" || m.Trees() != tc.trees || m.Task() != tc.task {
				t.Errorf("model %s, %d trees, %s: want v4, %d, %s", m.Version(), m.Trees(), m.Task(), tc.trees, tc.task)
			}
			quality := holdoutQuality(t, m, holdout, tc.task, tc.classes)
			t.Logf("%s holdout quality %.4f", tc.task, quality)
			if quality < tc.quality {
				t.Errorf("holdout quality %.4f, want above %.2f", quality, tc.quality)
			}
			if tc.task == learn.TaskBinary {
				// Seeded and deterministic: the same set and seed give the
				// same model.
				again, _ := run()
				raw2, err := os.ReadFile(again.ModelPath)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(raw, raw2) {
					t.Error("two runs with the same seed wrote different models")
				}
			}
		})
	}
}

func holdoutQuality(t *testing.T, m *lightgbm.Model, s trainingSet, task learn.Task, classes int) float64 {
	t.Helper()
	out := make([]float64, m.Outputs())
	var pred []float64
	for _, row := range s.x {
		m.Predict(row, out)
		pred = append(pred, out...)
	}
	var q float64
	var err error
	switch task {
	case learn.TaskBinary:
		q, err = learn.AUC(s.y, pred)
	case learn.TaskMulticlass:
		q, err = learn.MulticlassAccuracy(s.y, pred, classes)
	case learn.TaskRegression:
		q, err = learn.R2(s.y, pred)
	}
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestLightGBMExampleBadInput: the script refuses a set without a feature
// column with exit code 2 and a message the run's error quotes.
func TestLightGBMExampleBadInput(t *testing.T) {
	command := pythonExample(t)
	dir := t.TempDir()
	req := runner.Request{
		TrainPath: filepath.Join(dir, "train.parquet"), HoldoutPath: filepath.Join(dir, "holdout.parquet"),
		Features: append(lgbFeatures, "txn:missing"), Label: "label", Task: learn.TaskBinary,
		Trainer: "lightgbm", Command: command, OutDir: t.TempDir(),
	}
	writeParquet(t, req.TrainPath, synthetic(learn.TaskBinary, 100, 1), lgbFeatures)
	var log testkit.Buffer
	req.Log = &log
	_, err := exec.New(exec.Config{}).Run(context.Background(), req)
	var e *exec.Error
	if !errors.As(err, &e) || e.Reason != exec.ReasonExit || !strings.Contains(err.Error(), "exited with code 2") || !strings.Contains(err.Error(), "no column txn:missing") {
		t.Fatalf("error %v, want exit code 2 naming the column\nlog:\n%s", err, log.String())
	}
}

// TestLightGBMRunScript runs examples/lightgbm/run.sh, which makes its own
// virtual environment from PyPI the first time (about a minute; cached in
// ~/.cache/tributary/examples after), through the exec runner.
func TestLightGBMRunScript(t *testing.T) {
	if testing.Short() {
		t.Skip("installs LightGBM from PyPI the first time (-short)")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "..", "examples", "lightgbm", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	req := runner.Request{
		TrainPath: filepath.Join(dir, "train.parquet"), Features: lgbFeatures, Label: "label",
		Task: learn.TaskBinary, Classes: 2, Trainer: "lightgbm", Seed: 5,
		Params: map[string]string{"num_iterations": "30"}, Command: []string{script}, OutDir: t.TempDir(),
	}
	writeParquet(t, req.TrainPath, synthetic(learn.TaskBinary, 1000, 3), lgbFeatures)
	var log testkit.Buffer
	req.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := exec.New(exec.Config{}).Run(ctx, req)
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	if res.Format != runner.FormatLightGBM || res.Metrics["num_trees"] != 30 {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(log.String(), "training lightgbm 4.7.0") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestLightGBMExampleColumnTypes trains on int64 and boolean feature
// columns with nulls (the features service's int and bool features): the
// label is an exclusive or of the two, which the model must learn.
func TestLightGBMExampleColumnTypes(t *testing.T) {
	command := pythonExample(t)
	feats := []string{"txn:count_1d", "user:is_new"}
	types := map[string]string{"txn:count_1d": "int64", "user:is_new": "bool"}
	gen := func(rows int, seed uint64) trainingSet {
		rng := rand.New(rand.NewPCG(seed, 11))
		var s trainingSet
		for range rows {
			count, flag := float64(rng.IntN(10)), float64(rng.IntN(2))
			y := 0.0
			if (count >= 5) != (flag == 1) {
				y = 1
			}
			if rng.Float64() < 0.05 {
				y = 1 - y
			}
			row := []float64{count, flag}
			if rng.Float64() < 0.03 {
				row[0] = math.NaN()
			}
			s.x, s.y = append(s.x, row), append(s.y, y)
		}
		return s
	}
	dir := t.TempDir()
	req := runner.Request{
		TrainPath: filepath.Join(dir, "train.parquet"), Features: feats, Label: "label",
		Task: learn.TaskBinary, Classes: 2, Trainer: "lightgbm", Seed: 9,
		Params: map[string]string{"num_iterations": "40", "min_data_in_leaf": "5"}, Command: command, OutDir: t.TempDir(),
	}
	writeTypedParquet(t, req.TrainPath, gen(1500, 1), feats, types)
	var log testkit.Buffer
	req.Log = &log
	res, err := exec.New(exec.Config{}).Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	raw, err := os.ReadFile(res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lightgbm.ParseBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	auc := holdoutQuality(t, m, gen(500, 2), learn.TaskBinary, 2)
	t.Logf("holdout AUC %.4f", auc)
	if auc < 0.9 {
		t.Errorf("holdout AUC %.4f, want above 0.9", auc)
	}
}
