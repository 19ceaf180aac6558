package gbdt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/learn"
)

// BenchmarkTrainBinary1M trains the default binary model (100 iterations
// at most, early stopping on) on 1M synthetic rows of 20 features.
func BenchmarkTrainBinary1M(b *testing.B) {
	ds := synth(learn.TaskBinary, 1_000_000, 20, 7, 0)
	b.ResetTimer()
	for range b.N {
		m, err := Train(context.Background(), ds, DefaultParams(learn.TaskBinary))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.Iterations()), "iterations")
	}
}

// benchReport is what TestBenchVsScikitLearn measures.
type benchReport struct {
	TrainRows      int       `json:"train_rows"`
	HoldoutRows    int       `json:"holdout_rows"`
	Cols           int       `json:"cols"`
	GoSeconds      []float64 `json:"go_seconds"`
	SklearnSeconds []float64 `json:"sklearn_seconds"`
	GoMedian       float64   `json:"go_median_seconds"`
	SklearnMedian  float64   `json:"sklearn_median_seconds"`
	Ratio          float64   `json:"ratio"` // Go median / scikit-learn median
	GoAUC          float64   `json:"go_auc"`
	SklearnAUC     float64   `json:"sklearn_auc"`
	GoIterations   int       `json:"go_iterations"`
	SklearnIter    int       `json:"sklearn_iterations"`
}

// TestBenchVsScikitLearn is the training benchmark of `make bench`: it
// generates make_classification data (TRIBUTARY_GBDT_BENCH_ROWS training
// rows, default 1,000,000, plus a quarter more as holdout; 20 features),
// then trains scikit-learn's HistGradientBoostingClassifier and this
// package's model, both with their defaults, alternately
// TRIBUTARY_GBDT_BENCH_RUNS times (default 3), and reports the median
// training times, their ratio and both holdout AUCs. It fails when the AUC
// is more than 0.01 below scikit-learn's. It runs only when
// TRIBUTARY_GBDT_BENCH=1, with TRIBUTARY_PYTHON a Python that has
// scikit-learn; TRIBUTARY_GBDT_BENCH_OUT names a file for the JSON report.
func TestBenchVsScikitLearn(t *testing.T) {
	if os.Getenv("TRIBUTARY_GBDT_BENCH") != "1" {
		t.Skip("set TRIBUTARY_GBDT_BENCH=1 (and TRIBUTARY_PYTHON) to run the training benchmark")
	}
	py := os.Getenv("TRIBUTARY_PYTHON")
	if py == "" {
		t.Fatal("TRIBUTARY_PYTHON is not set")
	}
	train := envInt(t, "TRIBUTARY_GBDT_BENCH_ROWS", 1_000_000)
	runs := envInt(t, "TRIBUTARY_GBDT_BENCH_RUNS", 3)
	const cols = 20
	rows := train + train/4
	dir := t.TempDir()
	script := filepath.Join("testdata", "bench_sklearn.py")
	sh := func(args ...string) []byte {
		cmd := exec.Command(py, append([]string{script}, args...)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", script, args, err)
		}
		return out
	}
	sh("gen", dir, strconv.Itoa(rows), strconv.Itoa(cols), "20261201")
	x, y := readF64(t, filepath.Join(dir, "x.f64")), readF64(t, filepath.Join(dir, "y.f64"))
	ds := &learn.Dataset{X: x, Y: y, Rows: rows, Cols: cols}
	trainSet, holdout := subset(ds, 0, train), subset(ds, train, rows)

	rep := benchReport{TrainRows: train, HoldoutRows: rows - train, Cols: cols}
	for r := range runs {
		var sk struct {
			Seconds float64 `json:"seconds"`
			AUC     float64 `json:"auc"`
			NIter   int     `json:"n_iter"`
		}
		out := sh("fit", dir, strconv.Itoa(rows), strconv.Itoa(cols), strconv.Itoa(train))
		if err := json.Unmarshal(out, &sk); err != nil {
			t.Fatalf("decode %q: %v", out, err)
		}
		rep.SklearnSeconds = append(rep.SklearnSeconds, sk.Seconds)
		rep.SklearnAUC, rep.SklearnIter = sk.AUC, sk.NIter

		start := time.Now()
		m, err := Train(context.Background(), trainSet, DefaultParams(learn.TaskBinary))
		if err != nil {
			t.Fatal(err)
		}
		rep.GoSeconds = append(rep.GoSeconds, time.Since(start).Seconds())
		ev, err := learn.Evaluate(m, holdout, learn.TaskBinary)
		if err != nil {
			t.Fatal(err)
		}
		rep.GoAUC, rep.GoIterations = ev.AUC, m.Iterations()
		t.Logf("run %d: scikit-learn %.2fs (AUC %.5f, %d iterations), Go %.2fs (AUC %.5f, %d iterations)",
			r+1, sk.Seconds, sk.AUC, sk.NIter, rep.GoSeconds[r], ev.AUC, m.Iterations())
	}
	rep.GoMedian, rep.SklearnMedian = median(rep.GoSeconds), median(rep.SklearnSeconds)
	rep.Ratio = rep.GoMedian / rep.SklearnMedian
	t.Logf("GBDT training on %d x %d: Go median %.2fs, scikit-learn median %.2fs, ratio %.2f (goal <= 2); AUC %.5f vs %.5f",
		train, cols, rep.GoMedian, rep.SklearnMedian, rep.Ratio, rep.GoAUC, rep.SklearnAUC)
	if path := os.Getenv("TRIBUTARY_GBDT_BENCH_OUT"); path != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rep.GoAUC < rep.SklearnAUC-0.01 {
		t.Errorf("holdout AUC %.5f, more than 0.01 below scikit-learn's %.5f", rep.GoAUC, rep.SklearnAUC)
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q, want a positive integer", name, s)
	}
	return n
}

func readF64(t *testing.T, path string) []float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:]))
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkTrainBinary300k is a shorter BenchmarkTrainBinary1M, for
// comparing changes.
func BenchmarkTrainBinary300k(b *testing.B) {
	ds := synth(learn.TaskBinary, 300_000, 20, 7, 0)
	p := DefaultParams(learn.TaskBinary)
	p.EarlyStopping = EarlyStoppingOff
	p.MaxIter = 50
	b.ResetTimer()
	for range b.N {
		if _, err := Train(context.Background(), ds, p); err != nil {
			b.Fatal(err)
		}
	}
}
