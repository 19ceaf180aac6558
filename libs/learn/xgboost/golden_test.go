package xgboost

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// Predictions must equal XGBoost's own (float32) to relTol relative, or
// absTol absolute for values near zero.
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
	booster   string
	objective string
	task      learn.Task
	outputs   int
	trees     int
}

var goldens = []golden{
	{"binary", "3.4.1", "gbtree", "binary:logistic", learn.TaskBinary, 1, 60},
	{"multiclass", "3.4.1", "gbtree", "multi:softprob", learn.TaskMulticlass, 4, 120},
	{"regression", "3.4.1", "gbtree", "reg:squarederror", learn.TaskRegression, 1, 60},
	{"poisson", "3.4.1", "gbtree", "count:poisson", learn.TaskRegression, 1, 30},
	{"reglogistic", "3.4.1", "gbtree", "reg:logistic", learn.TaskRegression, 1, 20},
	{"dart", "3.4.1", "gbtree", "binary:logistic", learn.TaskBinary, 1, 30},
	{"large", "3.4.1", "gbtree", "binary:logistic", learn.TaskBinary, 1, 500},
	{"v2_binary", "2.1.4", "gbtree", "binary:logistic", learn.TaskBinary, 1, 60},
	{"v2_multiclass", "2.1.4", "gbtree", "multi:softprob", learn.TaskMulticlass, 4, 120},
	{"forest", "3.4.1", "gbtree", "binary:logistic", learn.TaskBinary, 1, 12}, // num_parallel_tree 4
	{"v2_dart", "2.1.4", "dart", "binary:logistic", learn.TaskBinary, 1, 30},
}

// TestGolden compares Predict with XGBoost's Booster.predict on the
// committed models and inputs (../lightgbm/testdata/treemodels.py made
// them).
func TestGolden(t *testing.T) {
	for _, tt := range goldens {
		t.Run(tt.name, func(t *testing.T) { checkGolden(t, "testdata", tt) })
	}
}

// checkGolden checks model tt.name in dir against its expected outputs.
func checkGolden(t *testing.T, dir string, tt golden) {
	t.Helper()
	m, err := ParseBytes(readModelIn(t, dir, tt.name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	check(t, m, tt, inputHeader(t, dir), readCSVIn(t, dir, "inputs.csv", 1), readCSVIn(t, dir, tt.name+".expected.csv", 0))
}

func check(t *testing.T, m *Model, tt golden, header []string, inputs, want [][]float64) {
	t.Helper()
	if m.Version() != tt.version || m.Booster() != tt.booster || m.Objective() != tt.objective ||
		m.Task() != tt.task || m.Outputs() != tt.outputs || m.Trees() != tt.trees {
		t.Fatalf("version %s booster %s objective %s task %s outputs %d trees %d, want %v",
			m.Version(), m.Booster(), m.Objective(), m.Task(), m.Outputs(), m.Trees(), tt)
	}
	if got := strings.Join(m.Features(), ","); got != strings.Join(header, ",") {
		t.Fatalf("features %s, want %s", got, strings.Join(header, ","))
	}
	if len(m.catBits) == 0 {
		t.Fatal("the model has no categorical split; the test would not cover them")
	}
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
					t.Errorf("row %d output %d: got %.9g, xgboost %.9g", i, k, out[k], want[i][k])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values differ", bad, len(inputs)*m.Outputs())
	}
	t.Logf("%d of %d values bit-identical to %s's, the others within %.2g relative", same, len(inputs)*m.Outputs(), "xgboost", worst)
}

// TestSoftmax: for multi:softmax XGBoost's predict returns the most probable
// class; Predict returns the probabilities, whose argmax must be it.
func TestSoftmax(t *testing.T) {
	m, err := ParseBytes(readModelFile(t, "softmax.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Task() != learn.TaskMulticlass || m.Outputs() != 4 {
		t.Fatalf("task %s outputs %d", m.Task(), m.Outputs())
	}
	want := readCSV(t, "softmax.expected.csv", 0)
	out := make([]float64, m.Outputs())
	for i, row := range readCSV(t, "inputs.csv", 1) {
		m.Predict(row, out)
		best, sum := 0, 0.0
		for k, v := range out {
			sum += v
			if v > out[best] {
				best = k
			}
		}
		if float64(best) != want[i][0] || math.Abs(sum-1) > 1e-6 {
			t.Fatalf("row %d: probabilities %v (argmax %d), xgboost class %v", i, out, best, want[i][0])
		}
	}
}

// TestLegacyFlags: XGBoost 1.x wrote default_left as booleans; the same
// model written so must predict the same.
func TestLegacyFlags(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(quoteNonFinite(readModelFile(t, "v2_binary.json")), &doc); err != nil {
		t.Fatal(err)
	}
	model := doc["learner"].(map[string]any)["gradient_booster"].(map[string]any)["model"].(map[string]any)
	for _, tree := range model["trees"].([]any) {
		tr := tree.(map[string]any)
		flags := tr["default_left"].([]any)
		for i, f := range flags {
			flags[i] = f.(float64) == 1
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"default_left":[false`) && !strings.Contains(string(b), `"default_left":[true`) {
		t.Fatal("conversion to booleans did not happen")
	}
	m, err := ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	check(t, m, goldens[7], inputHeader(t, "testdata"), readCSV(t, "inputs.csv", 1), readCSV(t, "v2_binary.expected.csv", 0))
}

func TestPredictShortRow(t *testing.T) {
	m, err := ParseBytes(readModelFile(t, "binary.json"))
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
	m, err := ParseBytes(readModelFile(t, "multiclass.json"))
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
	m, err := ParseBytes(readModelFile(b, "large.json"))
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
	good := string(readModelFile(t, "binary.json"))
	tests := []struct {
		name  string
		model string
		want  error
	}{
		{"empty", "", ErrFormat},
		{"not json", "binf\x00\x00", ErrFormat},
		{"truncated", good[:len(good)/2], ErrFormat},
		{"no learner", `{"version":[3,4,1]}`, ErrFormat},
		{"ubjson", "{L\x00\x00\x00\x00\x00\x00\x00\x07learner{L", ErrUnsupported},
		{"gblinear", strings.Replace(good, `"name":"gbtree"`, `"name":"gblinear"`, 1), ErrUnsupported},
		{"ranking", strings.Replace(good, `"binary:logistic"`, `"rank:ndcg"`, 1), ErrUnsupported},
		{"multi-target", strings.Replace(good, `"num_target":"1"`, `"num_target":"2"`, 1), ErrUnsupported},
		{"base score out of range", strings.Replace(good, `"base_score":"[5.27E-1]"`, `"base_score":"[1.5E0]"`, 1), ErrFormat},
		{"base score vector too long", strings.Replace(good, `"base_score":"[5.27E-1]"`, `"base_score":"[5E-1,5E-1]"`, 1), ErrFormat},
		{"child out of range", strings.Replace(good, `"left_children":[1,`, `"left_children":[99,`, 1), ErrFormat},
		{"cycle", strings.Replace(good, `"left_children":[1,`, `"left_children":[2,`, 1), ErrFormat},
		{"feature out of range", strings.Replace(good, `"split_indices":[`, `"split_indices":[9`, 1), ErrFormat},
		{"tree_info short", strings.Replace(good, `"tree_info":[0,`, `"tree_info":[`, 1), ErrFormat},
		{"default_left not a flag", strings.Replace(good, `"default_left":[0`, `"default_left":[7`, 1), ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.model == good {
				t.Fatal("the mutation did not apply")
			}
			_, err := ParseBytes([]byte(tt.model))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}
