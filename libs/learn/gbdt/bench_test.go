package gbdt

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// BenchmarkTrainGBDT1M trains on the 1M x 20 benchmark rows that
// libs/learn/bench/sklearn_bench.py gives scikit-learn (the same bits), with
// the parameters of its "hgb" model (scikit-learn's defaults, early
// stopping off), and reports the AUC on the 200k rows after them beside the
// time and the CPU time of all threads:
//
//	go test -run '^$' -bench TrainGBDT1M -benchtime 3x ./learn/gbdt/
//	python libs/learn/bench/sklearn_bench.py --model hgb
func BenchmarkTrainGBDT1M(b *testing.B) {
	benchTrain(b, 1_000_000)
}

// BenchmarkTrainGBDT200k is BenchmarkTrainGBDT1M on fewer rows, for
// comparing changes quickly.
func BenchmarkTrainGBDT200k(b *testing.B) {
	benchTrain(b, 200_000)
}

func benchTrain(b *testing.B, rows int) {
	train := learntest.Synthetic(rows, 20, learntest.SyntheticSeed, 0)
	holdout := learntest.Synthetic(200_000, 20, learntest.SyntheticSeed, rows)
	p := DefaultParams(learn.TaskBinary)
	p.EarlyStopping = EarlyStoppingOff
	b.ResetTimer()
	cpu0 := cpuTime(b)
	var m *Model
	for range b.N {
		var err error
		if m, err = Train(context.Background(), train, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	ev, err := learn.Evaluate(m, holdout, learn.TaskBinary)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ev.AUC, "holdout_auc")
	b.ReportMetric(float64(m.Iterations()), "iterations")
	b.ReportMetric(cpu/float64(b.N), "cpu_s/op")
}

// benchReport is what TestBenchVsScikitLearn measures.
type benchReport struct {
	TrainRows    int     `json:"train_rows"`
	HoldoutRows  int     `json:"holdout_rows"`
	Cols         int     `json:"cols"`
	Go           timings `json:"go"`
	GoAUC        float64 `json:"go_auc"`
	GoIterations int     `json:"go_iterations"`
	// Sklearn holds one entry per OpenMP wait policy scikit-learn ran with.
	Sklearn     map[string]*timings `json:"sklearn"`
	SklearnAUC  float64             `json:"sklearn_auc"`
	SklearnIter int                 `json:"sklearn_iterations"`
	SklearnBest string              `json:"sklearn_best"` // the policy with the lowest median
	Ratio       float64             `json:"ratio"`        // Go median / the best scikit-learn median
}

// timings are the wall and CPU seconds of the runs, and their medians.
type timings struct {
	Seconds    []float64 `json:"seconds"`
	CPUSeconds []float64 `json:"cpu_seconds"` // all threads
	Median     float64   `json:"median_seconds"`
	CPUMedian  float64   `json:"cpu_median_seconds"`
}

func (tm *timings) add(wall, cpu float64) {
	tm.Seconds, tm.CPUSeconds = append(tm.Seconds, wall), append(tm.CPUSeconds, cpu)
	tm.Median, tm.CPUMedian = median(tm.Seconds), median(tm.CPUSeconds)
}

// TestBenchVsScikitLearn is the training benchmark of `make bench`: it
// generates make_classification data (TRIBUTARY_GBDT_BENCH_ROWS training
// rows, default 1,000,000, plus a quarter more as holdout; 20 features),
// then trains scikit-learn's HistGradientBoostingClassifier and this
// package's model, both with their defaults, alternately
// TRIBUTARY_GBDT_BENCH_RUNS times (default 3), and reports the median
// training times, their ratio and both holdout AUCs. It fails when the AUC
// is more than 0.01 below scikit-learn's.
//
// scikit-learn runs once per OpenMP wait policy in
// TRIBUTARY_GBDT_BENCH_OMP (default "default,passive": libgomp's default,
// which spins, and OMP_WAIT_POLICY=PASSIVE); on a loaded machine spinning
// threads can make scikit-learn many times slower, so the ratio is taken
// against the faster policy.
//
// It runs only when TRIBUTARY_GBDT_BENCH=1, with TRIBUTARY_PYTHON a Python
// that has scikit-learn; TRIBUTARY_GBDT_BENCH_OUT names a file for the
// JSON report.
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
	policies := strings.Split(cmp.Or(os.Getenv("TRIBUTARY_GBDT_BENCH_OMP"), "default,passive"), ",")
	for _, p := range policies {
		if p != "default" && p != "passive" {
			t.Fatalf("TRIBUTARY_GBDT_BENCH_OMP: policy %q, want default or passive", p)
		}
	}
	const cols = 20
	rows := train + train/4
	dir := t.TempDir()
	script := filepath.Join("testdata", "bench_sklearn.py")
	sh := func(policy string, args ...string) []byte {
		cmd := exec.Command(py, append([]string{script}, args...)...)
		cmd.Env = os.Environ()
		if policy == "passive" {
			cmd.Env = append(cmd.Env, "OMP_WAIT_POLICY=PASSIVE")
		}
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", script, args, err)
		}
		return out
	}
	sh("default", "gen", dir, strconv.Itoa(rows), strconv.Itoa(cols), "20261201")
	x, y := readF64(t, filepath.Join(dir, "x.f64")), readF64(t, filepath.Join(dir, "y.f64"))
	ds := &learn.Dataset{X: x, Y: y, Rows: rows, Cols: cols}
	trainSet, holdout := subset(ds, 0, train), subset(ds, train, rows)

	rep := benchReport{TrainRows: train, HoldoutRows: rows - train, Cols: cols, Sklearn: map[string]*timings{}}
	for r := range runs {
		for _, policy := range policies {
			var sk struct {
				Seconds float64 `json:"seconds"`
				CPU     float64 `json:"cpu_seconds"`
				AUC     float64 `json:"auc"`
				NIter   int     `json:"n_iter"`
			}
			out := sh(policy, "fit", dir, strconv.Itoa(rows), strconv.Itoa(cols), strconv.Itoa(train))
			if err := json.Unmarshal(out, &sk); err != nil {
				t.Fatalf("decode %q: %v", out, err)
			}
			if rep.Sklearn[policy] == nil {
				rep.Sklearn[policy] = &timings{}
			}
			rep.Sklearn[policy].add(sk.Seconds, sk.CPU)
			rep.SklearnAUC, rep.SklearnIter = sk.AUC, sk.NIter
			t.Logf("run %d: scikit-learn (OpenMP wait policy %s) %.2fs, CPU %.2fs (AUC %.5f, %d iterations)",
				r+1, policy, sk.Seconds, sk.CPU, sk.AUC, sk.NIter)
		}

		start, cpu := time.Now(), cpuTime(t)
		m, err := Train(context.Background(), trainSet, DefaultParams(learn.TaskBinary))
		if err != nil {
			t.Fatal(err)
		}
		rep.Go.add(time.Since(start).Seconds(), cpuTime(t)-cpu)
		ev, err := learn.Evaluate(m, holdout, learn.TaskBinary)
		if err != nil {
			t.Fatal(err)
		}
		rep.GoAUC, rep.GoIterations = ev.AUC, m.Iterations()
		t.Logf("run %d: Go %.2fs, CPU %.2fs (AUC %.5f, %d iterations)",
			r+1, rep.Go.Seconds[r], rep.Go.CPUSeconds[r], ev.AUC, m.Iterations())
	}
	for _, p := range policies {
		if rep.SklearnBest == "" || rep.Sklearn[p].Median < rep.Sklearn[rep.SklearnBest].Median {
			rep.SklearnBest = p
		}
	}
	best := rep.Sklearn[rep.SklearnBest]
	rep.Ratio = rep.Go.Median / best.Median
	t.Logf("GBDT training on %d x %d, medians of %d runs: Go %.2fs (CPU %.2fs), scikit-learn %.2fs (CPU %.2fs, wait policy %s): ratio %.2f (goal <= 2); holdout AUC %.5f vs %.5f",
		train, cols, runs, rep.Go.Median, rep.Go.CPUMedian, best.Median, best.CPUMedian, rep.SklearnBest, rep.Ratio, rep.GoAUC, rep.SklearnAUC)
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

// cpuTime is the CPU time (user and system) of this process so far.
func cpuTime(t testing.TB) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
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
