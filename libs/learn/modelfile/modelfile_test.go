package modelfile

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/gbdt"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
	"github.com/tributary-ml/tributary/libs/learn/linear"
)

var update = flag.Bool("update", false, "rewrite the golden model files in testdata")

// trained returns one model of each kind and task, trained on the fixtures.
func trained(t *testing.T) map[string]Model {
	t.Helper()
	ctx := context.Background()
	bc := learntest.MustLoad(t, learntest.BreastCancer)
	mc := learntest.MustLoad(t, learntest.Multiclass)
	rg := learntest.MustLoad(t, learntest.Regression)
	small := *rg.Train
	small.Rows = 2000
	small.X, small.Y = small.X[:2000*small.Cols], small.Y[:2000]
	binary, err := linear.TrainLogistic(ctx, bc.Train, learn.TaskBinary, linear.LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	multi, err := linear.TrainLogistic(ctx, mc.Train, learn.TaskMulticlass, linear.LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ridge, err := linear.TrainRidge(ctx, &small, linear.RidgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]Model{"logistic_binary": binary, "logistic_multiclass": multi, "ridge": ridge}
	// small GBDT models (3 iterations), so the golden files stay readable
	for name, d := range map[string]*learn.Dataset{"gbdt_binary": bc.Train, "gbdt_multiclass": mc.Train, "gbdt_regression": &small} {
		task := learn.TaskBinary
		switch name {
		case "gbdt_multiclass":
			task = learn.TaskMulticlass
		case "gbdt_regression":
			task = learn.TaskRegression
		}
		p := gbdt.DefaultParams(task)
		p.MaxIter, p.MaxLeaves = 3, 4
		m, err := gbdt.Train(ctx, d, p)
		if err != nil {
			t.Fatal(err)
		}
		models[name] = m
	}
	return models
}

// TestRoundTrip saves and loads each model and wants the same predictions
// bit for bit on the holdout rows.
func TestRoundTrip(t *testing.T) {
	holdout := map[string]*learn.Dataset{
		"logistic_binary":     learntest.MustLoad(t, learntest.BreastCancer).Holdout,
		"logistic_multiclass": learntest.MustLoad(t, learntest.Multiclass).Holdout,
		"ridge":               learntest.MustLoad(t, learntest.Regression).Holdout,
	}
	holdout["gbdt_binary"] = holdout["logistic_binary"]
	holdout["gbdt_multiclass"] = holdout["logistic_multiclass"]
	holdout["gbdt_regression"] = holdout["ridge"]
	for name, m := range trained(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Save(&buf, m); err != nil {
				t.Fatal(err)
			}
			p, h, err := Load(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			info := m.Info()
			if h.Format != Format || h.Version != Version || h.Kind != info.Kind || h.Task != info.Task || h.Classes != info.Classes || len(h.Features) != len(info.Features) {
				t.Fatalf("header %+v for a model %+v", h, info)
			}
			want := learn.PredictAll(m, holdout[name])
			got := learn.PredictAll(p, holdout[name])
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("prediction %d: %v after loading, %v before", i, got[i], want[i])
				}
			}
		})
	}
}

// TestGolden keeps one committed file per kind and task: they show what a
// model file looks like (the README points here), and every later version
// of Load must still read them. Loading and saving a golden file gives it
// back byte for byte, and it predicts what a model trained now predicts.
func TestGolden(t *testing.T) {
	holdout := learntest.MustLoad(t, learntest.BreastCancer).Holdout
	for name, m := range trained(t) {
		t.Run(name, func(t *testing.T) {
			path := "testdata/" + name + ".v1.json"
			if *update {
				var buf bytes.Buffer
				if err := Save(&buf, m); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			loaded, _, err := Decode(golden)
			if err != nil {
				t.Fatalf("load %s: %v", path, err)
			}
			var again bytes.Buffer
			if err := Save(&again, loaded.(Model)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), golden) {
				t.Errorf("loading and saving %s changed it:\n%s", path, again.String())
			}
			// Same predictions as the model trained now (on rows of the
			// right width for each model).
			cols := len(m.Info().Features)
			row := make([]float64, cols)
			a, b := make([]float64, m.Outputs()), make([]float64, m.Outputs())
			for i := range 20 {
				for j := range row {
					row[j] = holdout.X[(i*cols+j)%len(holdout.X)]
				}
				m.Predict(row, a)
				loaded.Predict(row, b)
				for k := range a {
					if math.Abs(a[k]-b[k]) > 1e-9*math.Max(1, math.Abs(a[k])) {
						t.Fatalf("row %d output %d: golden model %v, trained now %v (training changed? go test -update rewrites the files)", i, k, b[k], a[k])
					}
				}
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	golden, err := os.ReadFile("testdata/logistic_binary.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	g := string(golden)
	edit := func(old, new string) string {
		if !strings.Contains(g, old) {
			t.Fatalf("golden file has no %q", old)
		}
		return strings.Replace(g, old, new, 1)
	}
	cases := []struct {
		name string
		file string
		want error
	}{
		{"not JSON", "PK\x03\x04 a zip", ErrNotModelFile},
		{"empty", "", ErrNotModelFile},
		{"another format", `{"format":"onnx","version":1}`, ErrNotModelFile},
		{"trailing data", g + "{}", ErrNotModelFile},
		{"stray brace after", g + "}", ErrNotModelFile},
		{"stray bracket after", g + "]", ErrNotModelFile},
		{"garbage after", g + " x", ErrNotModelFile},
		{"version 3", edit(`"version":1`, `"version":3`), ErrUnsupportedVersion},
		{"categorical in version 1", edit(`"classes":2`, `"classes":2,"categorical":[{"feature":"mean_radius","encoding":"ordinal","categories":["a"]}]`), ErrCorrupt},
		{"unknown kind", edit(`"kind":"logistic"`, `"kind":"svm"`), ErrUnknownKind},
		{"wrong task for the kind", edit(`"task":"binary"`, `"task":"regression"`), ErrCorrupt},
		{"classes for binary", edit(`"classes":2`, `"classes":3`), ErrCorrupt},
		{"no model", edit(`"model":{`, `"nomodel":{`), ErrCorrupt},
		{"repeated feature", edit(`"mean_radius","mean_texture"`, `"mean_radius","mean_radius"`), ErrCorrupt},
		{"fewer features than coefficients", edit(`"mean_radius","mean_texture",`, `"mean_radius",`), ErrCorrupt},
		{"zero scale", edit(`"scale":[`, `"scale":[0,`), ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(strings.NewReader(tc.file))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, want %v", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Detail == "" {
				t.Fatalf("error %v has no detail", err)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	got := strings.Join(Kinds(), ",")
	for _, k := range []string{linear.KindLogistic, linear.KindRidge, gbdt.Kind} {
		if !strings.Contains(got, k) {
			t.Errorf("Kinds() = %s, lacks %s", got, k)
		}
	}
}
