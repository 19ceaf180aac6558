package learntest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The estimators whose holdout figures reference.json holds, per data set.
const (
	LogisticRegression   = "logistic_regression"    // StandardScaler + LogisticRegression (classification sets)
	HistGradientBoosting = "hist_gradient_boosting" // HistGradientBoostingClassifier or ...Regressor
	Ridge                = "ridge"                  // Ridge (regression set)
)

// References are scikit-learn's results on the fixtures (reference.json).
type References struct {
	Sklearn  string                          `json:"sklearn"`
	Numpy    string                          `json:"numpy"`
	Datasets map[string]map[string]Reference `json:"datasets"`
}

// Reference is one scikit-learn estimator fitted on a fixture's train rows
// and scored on its holdout rows.
type Reference struct {
	Estimator string         `json:"estimator"`
	Params    map[string]any `json:"params"`

	HoldoutAUC      float64 `json:"holdout_auc"`
	HoldoutLogLoss  float64 `json:"holdout_log_loss"`
	HoldoutAccuracy float64 `json:"holdout_accuracy"`
	HoldoutR2       float64 `json:"holdout_r2"`
	HoldoutMAE      float64 `json:"holdout_mae"`
	HoldoutRMSE     float64 `json:"holdout_rmse"`

	// Logistic regression: the scaler's statistics and the fitted model
	// on standardized inputs.
	TrainMean        []float64 `json:"train_mean"`
	TrainStd         []float64 `json:"train_std"`
	CoefStandardized []float64 `json:"coef_standardized"` // multiclass: class after class
	Intercepts       []float64 `json:"intercepts"`        // multiclass: one per class
	Iterations       int       `json:"iterations"`
	// Ridge: the coefficients on raw inputs.
	Coef      []float64 `json:"coef"`
	Intercept float64   `json:"intercept"`
}

// LoadReferences reads reference.json from Dir.
func LoadReferences() (*References, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		return nil, fmt.Errorf("read references: %w", err)
	}
	var r References
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode references: %w", err)
	}
	return &r, nil
}

// MustReference returns scikit-learn's reference for an estimator on a
// fixture, and stops the test when there is none.
func MustReference(tb testing.TB, dataset, estimator string) Reference {
	tb.Helper()
	r, err := LoadReferences()
	if err != nil {
		tb.Fatal(err)
	}
	ref, ok := r.Datasets[dataset][estimator]
	if !ok {
		tb.Fatalf("no reference for %s on %s", estimator, dataset)
	}
	return ref
}
