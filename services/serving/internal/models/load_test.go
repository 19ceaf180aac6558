package models

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/model"
)

func file(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func refs(view string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = view + ":" + n
	}
	return out
}

var treeFeatures = []string{"f0", "f1", "f2", "f3", "no_nan_in_train", "zeros", "cat10", "cat40"}

// TestParseFormats reads each format's golden files as serving would.
func TestParseFormats(t *testing.T) {
	const ld = "../../../../libs/learn/"
	tests := []struct {
		format, path string
		features     []string
		task         learn.Task
		outputs      int
	}{
		{"lightgbm", ld + "lightgbm/testdata/binary.txt", treeFeatures, learn.TaskBinary, 1},
		{"lightgbm", ld + "lightgbm/testdata/regression.txt", treeFeatures, learn.TaskRegression, 1},
		{"xgboost", ld + "xgboost/testdata/binary.json", treeFeatures, learn.TaskBinary, 1},
		{"xgboost-json", ld + "xgboost/testdata/multiclass.json.gz", treeFeatures, learn.TaskMulticlass, 0},
		{"tributary", ld + "modelfile/testdata/gbdt_multiclass.v1.json", []string{"f00", "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09"}, learn.TaskMulticlass, 4},
		{"tributary", ld + "modelfile/testdata/ridge.v1.json", nil, learn.TaskRegression, 1},
	}
	for _, tc := range tests {
		t.Run(tc.format+"/"+tc.path[strings.LastIndex(tc.path, "/")+1:], func(t *testing.T) {
			raw := file(t, tc.path)
			feats := tc.features
			if feats == nil { // read the names from the header
				var h struct{ Features []string }
				_ = jsonUnmarshal(raw, &h)
				feats = h.Features
			}
			v := model.Version{Model: "m", Version: 3, Format: tc.format, Lineage: model.Lineage{Features: refs("v", feats...)}}
			l, err := Parse(v, raw)
			if err != nil {
				t.Fatal(err)
			}
			if l.Task != tc.task || (tc.outputs > 0 && l.Outputs != tc.outputs) || len(l.Features) != len(feats) {
				t.Errorf("task %s outputs %d features %d", l.Task, l.Outputs, len(l.Features))
			}
			row, out := make([]float64, len(feats)), make([]float64, l.Outputs)
			for i := range row {
				row[i] = math.NaN()
			}
			l.Predict(row, out)
			for _, x := range out {
				if math.IsNaN(x) {
					t.Errorf("NaN prediction for a row of missing values: %v", out)
				}
			}
			// Another lineage order is refused.
			v.Lineage.Features[0], v.Lineage.Features[1] = v.Lineage.Features[1], v.Lineage.Features[0]
			var le *LoadError
			if _, err := Parse(v, raw); !errors.As(err, &le) || le.Reason != FailFeatureMismatch {
				t.Errorf("swapped lineage features: %v", err)
			}
		})
	}
	var le *LoadError
	if _, err := Parse(model.Version{Format: "onnx"}, []byte("x")); !errors.As(err, &le) || le.Reason != FailUnknownFormat {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := Parse(model.Version{Format: "lightgbm", Lineage: model.Lineage{Features: []string{"v:a"}}}, []byte("tree\nnot a model")); !errors.As(err, &le) || le.Reason != FailBadModel {
		t.Errorf("bad model: %v", err)
	}
}

func TestMatchFeatures(t *testing.T) {
	for _, c := range []struct {
		names, refs []string
		ok          bool
	}{
		{[]string{"txn:amount", "count"}, []string{"txn:amount", "txn:count"}, true},
		{[]string{"txn__amount", "txn_count", "txn.sum"}, []string{"txn:amount", "txn:count", "txn:sum"}, true},
		{[]string{"f0", "Column_1"}, []string{"a:x", "a:y"}, true},
		{[]string{"f1", "f0"}, []string{"a:x", "a:y"}, false},
		{[]string{"amount"}, []string{"txn:amount", "txn:count"}, false},
		{[]string{"count", "amount"}, []string{"txn:amount", "txn:count"}, false},
	} {
		if err := MatchFeatures(c.names, c.refs); (err == nil) != c.ok {
			t.Errorf("%v vs %v: %v", c.names, c.refs, err)
		}
	}
}

type store map[string][]byte

func (s store) OpenArtifact(_ context.Context, a model.Artifact) (io.ReadCloser, error) {
	b, ok := s[a.SHA256]
	if !ok {
		return nil, model.Errorf(model.CodeArtifactNotFound, "no artifact %s", a.SHA256)
	}
	if string(b) == "corrupt" {
		return io.NopCloser(io.MultiReader(strings.NewReader("x"), errReader{model.Errorf(model.CodeArtifactCorrupt, "digest")})), nil
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestLoadClassifiesArtifactErrors(t *testing.T) {
	s := store{"bad": []byte("corrupt")}
	var le *LoadError
	if _, err := Load(context.Background(), s, model.Version{Format: "lightgbm", Artifact: model.Artifact{SHA256: "bad"}}); !errors.As(err, &le) || le.Reason != FailCorrupt {
		t.Errorf("corrupt artifact: %v", err)
	}
	if _, err := Load(context.Background(), s, model.Version{Format: "lightgbm", Artifact: model.Artifact{SHA256: "none"}}); !errors.As(err, &le) || le.Reason != FailArtifact {
		t.Errorf("missing artifact: %v", err)
	}
}

// TestParseCategorical loads a model file with a categorical feature
// (modelfile version 2): the feature maps strings with the file's
// vocabulary; a LightGBM model's categorical splits keep numeric inputs.
func TestParseCategorical(t *testing.T) {
	const ld = "../../../../libs/learn/"
	for _, kind := range []string{"logistic", "gbdt"} {
		t.Run(kind, func(t *testing.T) {
			v := model.Version{Model: "m", Version: 1, Format: FormatTributary, Lineage: model.Lineage{Features: []string{"txn:amount", "txn:merchant"}}}
			l, err := Parse(v, file(t, ld+"modelfile/testdata/"+kind+"_categorical.v2.json"))
			if err != nil {
				t.Fatal(err)
			}
			if l.Categorical(0) || !l.Categorical(1) || l.Categorical(2) {
				t.Fatalf("categorical: %v %v", l.Categorical(0), l.Categorical(1))
			}
			// The vocabulary is grocery, travel, games and an other code (3).
			for s, want := range map[string]float64{"grocery": 0, "travel": 1, "games": 2, "never-seen": 3} {
				if got := l.Code(1, s); got != want {
					t.Errorf("Code(%q) = %v, want %v", s, got, want)
				}
			}
			if !math.IsNaN(l.Code(0, "x")) {
				t.Errorf("a numeric feature has a code")
			}
			a, b := make([]float64, 1), make([]float64, 1)
			l.Predict([]float64{5, l.Code(1, "travel")}, a)
			l.Predict([]float64{5, l.Code(1, "grocery")}, b)
			if a[0] == b[0] {
				t.Errorf("travel and grocery score the same (%v): the category does not reach the model", a[0])
			}
		})
	}
	v := model.Version{Model: "m", Version: 1, Format: FormatLightGBM, Lineage: model.Lineage{Features: refs("v", treeFeatures...)}}
	l, err := Parse(v, file(t, ld+"lightgbm/testdata/binary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for j := range l.Features {
		if l.Categorical(j) {
			t.Errorf("LightGBM feature %s is categorical: its categorical splits take integer codes", l.Features[j])
		}
	}
}
