package learn

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

type metricVectors struct {
	Binary []struct {
		Name      string    `json:"name"`
		YTrue     []float64 `json:"y_true"`
		YScore    []float64 `json:"y_score"`
		ROCAUC    float64   `json:"roc_auc"`
		LogLoss   float64   `json:"log_loss"`
		Accuracy  float64   `json:"accuracy"`
		Precision float64   `json:"precision"`
		Recall    float64   `json:"recall"`
		F1        float64   `json:"f1"`
	} `json:"binary"`
	Regression []struct {
		Name  string    `json:"name"`
		YTrue []float64 `json:"y_true"`
		YPred []float64 `json:"y_pred"`
		R2    float64   `json:"r2"`
		MAE   float64   `json:"mae"`
		RMSE  float64   `json:"rmse"`
	} `json:"regression"`
	Multiclass []struct {
		Name     string    `json:"name"`
		Classes  int       `json:"classes"`
		YTrue    []float64 `json:"y_true"`
		YProba   []float64 `json:"y_proba"`
		AUC      float64   `json:"roc_auc_ovr_macro"`
		LogLoss  float64   `json:"log_loss"`
		Accuracy float64   `json:"accuracy"`
	} `json:"multiclass"`
}

func loadVectors(t *testing.T) metricVectors {
	t.Helper()
	raw, err := os.ReadFile("testdata/metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var v metricVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Binary) == 0 || len(v.Regression) == 0 || len(v.Multiclass) == 0 {
		t.Fatal("metrics.json has no vectors")
	}
	return v
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.17g, scikit-learn %.17g", what, got, want)
	}
}

// must returns a function that stops t on an error and returns the value.
func must(t *testing.T) func(float64, error) float64 {
	return func(v float64, err error) float64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestMetricsMatchScikitLearn compares every metric with scikit-learn's
// value on the exported vectors (many tied scores among them).
func TestMetricsMatchScikitLearn(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Binary {
		t.Run(c.Name, func(t *testing.T) {
			near(t, "AUC", must(t)(AUC(c.YTrue, c.YScore)), c.ROCAUC)
			near(t, "log loss", must(t)(LogLoss(c.YTrue, c.YScore)), c.LogLoss)
			conf, err := Confuse(c.YTrue, c.YScore, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "accuracy", conf.Accuracy(), c.Accuracy)
			near(t, "precision", conf.Precision(), c.Precision)
			near(t, "recall", conf.Recall(), c.Recall)
			near(t, "F1", conf.F1(), c.F1)
		})
	}
	for _, c := range v.Regression {
		t.Run(c.Name, func(t *testing.T) {
			near(t, "R2", must(t)(R2(c.YTrue, c.YPred)), c.R2)
			near(t, "MAE", must(t)(MAE(c.YTrue, c.YPred)), c.MAE)
			near(t, "RMSE", must(t)(RMSE(c.YTrue, c.YPred)), c.RMSE)
		})
	}
	for _, c := range v.Multiclass {
		t.Run(c.Name, func(t *testing.T) {
			near(t, "macro AUC", must(t)(MacroAUC(c.YTrue, c.YProba, c.Classes)), c.AUC)
			near(t, "log loss", must(t)(MulticlassLogLoss(c.YTrue, c.YProba, c.Classes)), c.LogLoss)
			near(t, "accuracy", must(t)(MulticlassAccuracy(c.YTrue, c.YProba, c.Classes)), c.Accuracy)
		})
	}
}

func TestMetricsSmallCases(t *testing.T) {
	cases := []struct {
		name      string
		y, s      []float64
		want      float64
		wantError error
	}{
		{"perfect", []float64{0, 0, 1, 1}, []float64{.1, .2, .8, .9}, 1, nil},
		{"reversed", []float64{0, 0, 1, 1}, []float64{.9, .8, .2, .1}, 0, nil},
		{"one tie across classes", []float64{0, 1}, []float64{.5, .5}, .5, nil},
		{"tie counts half", []float64{0, 0, 1}, []float64{.1, .5, .5}, .75, nil},
		{"single class", []float64{1, 1}, []float64{.1, .2}, 0, ErrSingleClass},
		{"empty", nil, nil, 0, ErrEmpty},
		{"lengths", []float64{0, 1}, []float64{.1}, 0, ErrShape},
		{"bad label", []float64{0, 2}, []float64{.1, .2}, 0, ErrBadLabel},
		{"NaN score", []float64{0, 1}, []float64{math.NaN(), .2}, 0, ErrBadPrediction},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AUC(tc.y, tc.s)
			if !errors.Is(err, tc.wantError) {
				t.Fatalf("error %v, want %v", err, tc.wantError)
			}
			if err == nil && got != tc.want {
				t.Fatalf("AUC %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := LogLoss([]float64{0, 1}, []float64{0.5, 1.5}); !errors.Is(err, ErrBadPrediction) {
		t.Errorf("log loss of p=1.5: %v, want %v", err, ErrBadPrediction)
	}
	// Clipping keeps a certain wrong prediction finite, as scikit-learn.
	if l := must(t)(LogLoss([]float64{1}, []float64{0})); l != -math.Log(probEps) {
		t.Errorf("log loss of p=0 for y=1: %v, want -log(eps)", l)
	}
	if r := must(t)(R2([]float64{2, 2}, []float64{2, 2})); r != 1 {
		t.Errorf("R² of constant labels predicted exactly: %v, want 1", r)
	}
	if r := must(t)(R2([]float64{2, 2}, []float64{2, 3})); r != 0 {
		t.Errorf("R² of constant labels predicted wrongly: %v, want 0", r)
	}
}
