package modelfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/libs/learn/gbdt"
	"github.com/tributary-ml/tributary/libs/learn/linear"
)

// categoricalSet is a small binary set: amount (numeric) and merchant
// (codes of the vocabulary a, b, c, other), the label driven by both.
func categoricalSet() (*learn.Dataset, categorical.Vocabulary) {
	voc := categorical.Vocabulary{Categories: []string{"grocery", "travel", "games"}, Other: true}
	const rows = 400
	d := &learn.Dataset{Rows: rows, Cols: 2, Features: []string{"txn:amount", "txn:merchant"}, X: make([]float64, 2*rows), Y: make([]float64, rows)}
	for i := range rows {
		code := float64((i * 7) % 4)
		amount := float64((i*37)%100) / 10
		d.X[2*i], d.X[2*i+1] = amount, code
		if (code == 1 && amount > 3) || (code == 3 && amount > 8) || i%17 == 0 {
			d.Y[i] = 1
		}
	}
	d.X[1] = math.NaN() // a missing merchant
	return d, voc
}

func trainCategorical(t *testing.T, kind string) learn.Model {
	t.Helper()
	d, voc := categoricalSet()
	enc := categorical.OneHot
	if kind == gbdt.Kind {
		enc = categorical.Ordinal
	}
	layout, err := categorical.NewLayout(d.Features, []categorical.Feature{{Feature: "txn:merchant", Encoding: enc, Vocabulary: voc}})
	if err != nil {
		t.Fatal(err)
	}
	var inner learn.Model
	if kind == gbdt.Kind {
		p := gbdt.DefaultParams(learn.TaskBinary)
		p.MaxIter, p.MaxLeaves = 3, 4
		inner, err = gbdt.Train(context.Background(), layout.Encode(d), p)
	} else {
		inner, err = linear.TrainLogistic(context.Background(), layout.Encode(d), learn.TaskBinary, linear.LogisticConfig{})
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := categorical.Wrap(layout, inner)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCategoricalGolden reads the committed version 2 files (a logistic
// model with a one-hot merchant, a gbdt model with an ordinal one) and
// wants the predictions of a model trained now; -update rewrites them.
func TestCategoricalGolden(t *testing.T) {
	d, _ := categoricalSet()
	for _, kind := range []string{linear.KindLogistic, gbdt.Kind} {
		t.Run(kind, func(t *testing.T) {
			m := trainCategorical(t, kind)
			path := "testdata/" + kind + "_categorical.v2.json"
			if *update {
				var buf bytes.Buffer
				if err := Save(&buf, m); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			loaded, h, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != VersionCategorical || len(h.Categorical) != 1 || h.Categorical[0].Feature != "txn:merchant" {
				t.Fatalf("header %+v", h)
			}
			if c, known := h.Categorical[0].Code("travel"); c != 1 || !known {
				t.Errorf("code of travel %v %v", c, known)
			}
			a, b := make([]float64, 1), make([]float64, 1)
			for i := range d.Rows {
				m.Predict(d.Row(i), a)
				loaded.Predict(d.Row(i), b)
				if math.Abs(a[0]-b[0]) > 1e-9 {
					t.Fatalf("row %d: golden %v, trained now %v (go test -update rewrites the files)", i, b[0], a[0])
				}
			}
		})
	}
}

func TestCategoricalLoadRefuses(t *testing.T) {
	golden, err := os.ReadFile("testdata/logistic_categorical.v2.json")
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
	for _, tc := range []struct{ name, file string }{
		{"a category less than the coefficients", edit(`"categories":["grocery","travel","games"]`, `"categories":["grocery","travel"]`)},
		{"repeated category", edit(`"categories":["grocery","travel","games"]`, `"categories":["grocery","travel","travel"]`)},
		{"unknown encoding", edit(`"encoding":"onehot"`, `"encoding":"hash"`)},
		{"not a feature", edit(`"feature":"txn:merchant"`, `"feature":"txn:country"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tc.file))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode = %v, want %v", err, ErrCorrupt)
			}
		})
	}
}

// TestVersion1Unchanged: a model without categorical features is still
// written as version 1, which older readers read.
func TestVersion1Unchanged(t *testing.T) {
	d, _ := categoricalSet()
	m, err := linear.TrainLogistic(context.Background(), d, learn.TaskBinary, linear.LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, `"version":1,`) || strings.Contains(s, "categorical") {
		t.Errorf("file %s", fmt.Sprint(s[:80]))
	}
}
