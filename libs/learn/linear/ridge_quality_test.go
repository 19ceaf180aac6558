package linear

import (
	"context"
	"math"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// TestRidgeMatchesScikitLearn trains on the committed regression fixture
// and checks the holdout R², MAE and RMSE against scikit-learn's Ridge with
// the same alpha. scikit-learn penalizes raw coefficients and we penalize
// standardized ones; with unit-variance features and 80k rows that changes
// the figures by far less than the bounds.
func TestRidgeMatchesScikitLearn(t *testing.T) {
	f := learntest.MustLoad(t, learntest.Regression)
	ref := learntest.MustReference(t, learntest.Regression, learntest.Ridge)
	m, err := TrainRidge(context.Background(), f.Train, RidgeConfig{Alpha: ref.Params["alpha"].(float64)})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := learn.Evaluate(m, f.Holdout, learn.TaskRegression)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holdout R² %.6f (scikit-learn %.6f), MAE %.4f (%.4f), RMSE %.4f (%.4f)", ev.R2, ref.HoldoutR2, ev.MAE, ref.HoldoutMAE, ev.RMSE, ref.HoldoutRMSE)
	if math.Abs(ev.R2-ref.HoldoutR2) > 1e-3 {
		t.Errorf("holdout R² %v, scikit-learn %v", ev.R2, ref.HoldoutR2)
	}
	if math.Abs(ev.RMSE-ref.HoldoutRMSE) > 1e-3*ref.HoldoutRMSE || math.Abs(ev.MAE-ref.HoldoutMAE) > 1e-3*ref.HoldoutMAE {
		t.Errorf("holdout RMSE %v MAE %v, scikit-learn %v %v", ev.RMSE, ev.MAE, ref.HoldoutRMSE, ref.HoldoutMAE)
	}
	// On raw inputs, the coefficients are w/scale: compare with scikit-learn's.
	coef, _ := m.Coef()
	worst := 0.0
	for j := range coef {
		worst = max(worst, math.Abs(coef[j]/m.body.Scale[j]-ref.Coef[j]))
	}
	t.Logf("largest raw coefficient difference %.2g", worst)
	if worst > 1e-2 {
		t.Errorf("raw coefficients differ from scikit-learn's by up to %v", worst)
	}
}
