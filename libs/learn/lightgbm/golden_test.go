package lightgbm

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// Predictions must equal LightGBM's own to relTol relative, or absTol
// absolute for values near zero.
const (
	relTol = 1e-6
	absTol = 1e-12
)

// readModelFile returns a testdata model's bytes, gunzipped when the file is
// NAME.gz.
func readModelFile(t testing.TB, name string) []byte {
	t.Helper()
	return learntest.ReadFile(t, "testdata", name)
}

func readModelIn(t testing.TB, dir, name string) []byte {
	t.Helper()
	return learntest.ReadFile(t, dir, name)
}

// readCSV reads rows of numbers ("nan" for NaN), skipping header lines.
func readCSV(t testing.TB, name string, header int) [][]float64 {
	t.Helper()
	return learntest.ReadCSV(t, "testdata", name, header)
}

func readCSVIn(t testing.TB, dir, name string, header int) [][]float64 {
	t.Helper()
	return learntest.ReadCSV(t, dir, name, header)
}

func inputHeader(t testing.TB, dir string) []string {
	t.Helper()
	return learntest.CSVHeader(t, dir, "inputs.csv")
}

func near(got, want float64) bool {
	d := math.Abs(got - want)
	return d <= relTol*math.Abs(want) || d <= absTol
}

type golden struct {
	name      string
	version   string
	task      learn.Task
	outputs   int
	trees     int
	objective string
}

var goldens = []golden{
	{"binary", "v4", learn.TaskBinary, 1, 60, "binary"},
	{"multiclass", "v4", learn.TaskMulticlass, 4, 160, "multiclass"},
	{"regression", "v4", learn.TaskRegression, 1, 60, "regression"},
	{"poisson", "v4", learn.TaskRegression, 1, 40, "poisson"},
	{"large", "v4", learn.TaskBinary, 1, 500, "binary"},
	{"v3_binary", "v3", learn.TaskBinary, 1, 60, "binary"},
	{"v3_multiclass", "v3", learn.TaskMulticlass, 4, 160, "multiclass"},
	{"ova", "v4", learn.TaskMulticlass, 4, 60, "multiclassova"},
	{"forest", "v4", learn.TaskBinary, 1, 20, "binary"}, // boosting=rf: average_output
	{"v2_binary", "v2", learn.TaskBinary, 1, 60, "binary"},
	{"v2_multiclass", "v2", learn.TaskMulticlass, 4, 160, "multiclass"},
}

// TestGolden compares Predict with LightGBM's Booster.predict on the
// committed models and inputs (testdata/treemodels.py made them; v3_ and
// v2_ are from lightgbm 3.3.5 and 2.1.2).
func TestGolden(t *testing.T) {
	for _, tt := range goldens {
		t.Run(tt.name, func(t *testing.T) { checkGolden(t, "testdata", tt) })
	}
}

// checkGolden checks model tt.name in dir against its expected outputs.
func checkGolden(t *testing.T, dir string, tt golden) {
	t.Helper()
	inputs := readCSVIn(t, dir, "inputs.csv", 1)
	m, err := ParseBytes(readModelIn(t, dir, tt.name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != tt.version || m.Task() != tt.task || m.Outputs() != tt.outputs ||
		m.Trees() != tt.trees || m.Objective() != tt.objective {
		t.Fatalf("version %s task %s outputs %d trees %d objective %s, want %v",
			m.Version(), m.Task(), m.Outputs(), m.Trees(), m.Objective(), tt)
	}
	if got, want := strings.Join(m.Features(), ","), strings.Join(inputHeader(t, dir), ","); got != want {
		t.Fatalf("features %s, want %s", got, want)
	}
	if len(m.catBits) == 0 {
		t.Fatal("the model has no categorical split; the test would not cover them")
	}
	want := readCSVIn(t, dir, tt.name+".expected.csv", 0)
	if len(want) != len(inputs) {
		t.Fatalf("%d expected rows for %d inputs", len(want), len(inputs))
	}
	out := make([]float64, m.Outputs())
	bad, same, worst := 0, 0, 0.0
	for i, row := range inputs {
		m.Predict(row, out)
		for k := range out {
			if out[k] == want[i][k] {
				same++
			} else {
				worst = max(worst, math.Abs(out[k]-want[i][k])/math.Abs(want[i][k]))
			}
			if !near(out[k], want[i][k]) {
				if bad++; bad <= 5 {
					t.Errorf("row %d output %d: got %.17g, lightgbm %.17g", i, k, out[k], want[i][k])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values differ", bad, len(inputs)*m.Outputs())
	}
	t.Logf("%d of %d values bit-identical to %s's, the others within %.2g relative", same, len(inputs)*m.Outputs(), "lightgbm", worst)
}

// TestMissingTypes checks that the golden models exercise each missing type
// and the default-left flag, so TestGolden covers their decisions.
func TestMissingTypes(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{"binary", "regression", "large"} {
		m, err := ParseBytes(readModelFile(t, name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.nodes {
			if n.categorical {
				continue
			}
			seen["missing"+strconv.Itoa(int(n.missing))] = true
			if n.defaultLeft && n.missing != missingNone {
				seen["default-left"] = true
			}
			if !n.defaultLeft && n.missing != missingNone {
				seen["default-right"] = true
			}
		}
	}
	for _, k := range []string{"missing0", "missing1", "missing2", "default-left", "default-right"} {
		if !seen[k] {
			t.Errorf("no numerical split with %s", k)
		}
	}
}

func TestPredictShortRow(t *testing.T) {
	m, err := ParseBytes(readModelFile(t, "binary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	nan := make([]float64, m.NumFeatures())
	for i := range nan {
		nan[i] = math.NaN()
	}
	var want, got [1]float64
	m.Predict(nan, want[:])
	m.Predict(nil, got[:])
	if got != want {
		t.Fatalf("empty row %v, all-NaN row %v", got, want)
	}
}

func TestPredictAllocs(t *testing.T) {
	m, err := ParseBytes(readModelFile(t, "multiclass.txt"))
	if err != nil {
		t.Fatal(err)
	}
	row := readCSV(t, "inputs.csv", 1)[0]
	out := make([]float64, m.Outputs())
	if n := testing.AllocsPerRun(100, func() { m.Predict(row, out) }); n != 0 {
		t.Fatalf("Predict allocates %v times", n)
	}
}

func BenchmarkPredictLarge(b *testing.B) {
	m, err := ParseBytes(readModelFile(b, "large.txt"))
	if err != nil {
		b.Fatal(err)
	}
	rows := readCSV(b, "inputs.csv", 1)
	out := make([]float64, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Predict(rows[i%len(rows)], out)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	good := string(readModelFile(t, "binary.txt"))
	v2 := string(readModelFile(t, "v2_binary.txt"))
	tests := []struct {
		name  string
		model string
		want  error
	}{
		{"empty", "", ErrFormat},
		{"not a model", "hello\nworld\n", ErrFormat},
		{"truncated in header", good[:100], ErrFormat},
		{"truncated in a tree", good[:len(good)/2], ErrFormat},
		{"no end of trees", good[:strings.Index(good, "end of trees")], ErrFormat},
		{"bad version", strings.Replace(good, "version=v4", "version=v9", 1), ErrUnsupported},
		{"custom objective", strings.Replace(good, "objective=binary sigmoid:1", "objective=custom", 1), ErrUnsupported},
		{"ranking", strings.Replace(good, "objective=binary sigmoid:1", "objective=lambdarank", 1), ErrUnsupported},
		{"linear tree", strings.Replace(good, "is_linear=0", "is_linear=1", 1), ErrUnsupported},
		{"child out of range", strings.Replace(good, "left_child=1 ", "left_child=99 ", 1), ErrFormat},
		{"cycle", strings.Replace(good, "left_child=1 ", "left_child=0 ", 1), ErrFormat},
		{"feature out of range", strings.Replace(good, "split_feature=", "split_feature=8", 1), ErrFormat},
		{"short leaf values", strings.Replace(good, "leaf_value=", "leaf_value=1 ", 1), ErrFormat},
		{"bad number", strings.Replace(good, "threshold=", "threshold=x", 1), ErrFormat},
		{"tree out of order", strings.Replace(good, "Tree=1\n", "Tree=2\n", 1), ErrFormat},
		{"v2 truncated at a tree", v2[:strings.Index(v2, "Tree=3\n")], ErrFormat},
		{"v2 truncated at a tree, no tree_sizes", regexp.MustCompile(`(?m)^tree_sizes=.*\n`).ReplaceAllString(v2[:strings.Index(v2, "Tree=3\n")], ""), ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(tt.model))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}
