package linear

import (
	"context"
	"math"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// TestLogisticMatchesScikitLearn trains on the committed fixtures with the
// parameters scikit-learn used and checks the holdout AUC against
// scikit-learn's (within 0.01, the bar; in practice far closer) and
// the fitted coefficients against its coefficients (the objective is the
// same, so the optimum is too).
func TestLogisticMatchesScikitLearn(t *testing.T) {
	for _, name := range []string{learntest.BreastCancer, learntest.Classification} {
		t.Run(name, func(t *testing.T) {
			f := learntest.MustLoad(t, name)
			ref := learntest.MustReference(t, name, learntest.LogisticRegression)
			cfg := LogisticConfig{C: ref.Params["C"].(float64), Tol: ref.Params["tol"].(float64), MaxIter: int(ref.Params["max_iter"].(float64))}
			m, err := TrainLogistic(context.Background(), f.Train, learn.TaskBinary, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := learn.Evaluate(m, f.Holdout, learn.TaskBinary)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("holdout AUC %.6f (scikit-learn %.6f), log loss %.6f (%.6f), fit %+v", ev.AUC, ref.HoldoutAUC, ev.LogLoss, ref.HoldoutLogLoss, m.Fit())
			if math.Abs(ev.AUC-ref.HoldoutAUC) > 0.01 {
				t.Errorf("holdout AUC %v, scikit-learn %v: more than 0.01 apart", ev.AUC, ref.HoldoutAUC)
			}
			if math.Abs(ev.LogLoss-ref.HoldoutLogLoss) > 0.005 {
				t.Errorf("holdout log loss %v, scikit-learn %v", ev.LogLoss, ref.HoldoutLogLoss)
			}
			coef, b := m.Coef(0)
			worst := math.Abs(b - ref.Intercept)
			for j := range coef {
				worst = max(worst, math.Abs(coef[j]-ref.CoefStandardized[j]))
			}
			t.Logf("largest coefficient difference %.2g", worst)
			if worst > 1e-3 {
				t.Errorf("coefficients differ from scikit-learn's by up to %v", worst)
			}
		})
	}
}

// TestMultinomialMatchesScikitLearn does the same for four classes:
// scikit-learn's multinomial LogisticRegression minimizes the same
// objective.
func TestMultinomialMatchesScikitLearn(t *testing.T) {
	f := learntest.MustLoad(t, learntest.Multiclass)
	ref := learntest.MustReference(t, learntest.Multiclass, learntest.LogisticRegression)
	cfg := LogisticConfig{C: ref.Params["C"].(float64), Tol: ref.Params["tol"].(float64), MaxIter: int(ref.Params["max_iter"].(float64))}
	m, err := TrainLogistic(context.Background(), f.Train, learn.TaskMulticlass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := learn.Evaluate(m, f.Holdout, learn.TaskMulticlass)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holdout macro AUC %.6f (scikit-learn %.6f), log loss %.6f (%.6f), accuracy %.4f (%.4f), fit %+v",
		ev.AUC, ref.HoldoutAUC, ev.LogLoss, ref.HoldoutLogLoss, ev.Accuracy, ref.HoldoutAccuracy, m.Fit())
	if math.Abs(ev.AUC-ref.HoldoutAUC) > 0.01 || math.Abs(ev.LogLoss-ref.HoldoutLogLoss) > 0.005 {
		t.Errorf("holdout macro AUC %v log loss %v, scikit-learn %v %v", ev.AUC, ev.LogLoss, ref.HoldoutAUC, ref.HoldoutLogLoss)
	}
	// The L2 penalty pins the coefficients; the unpenalized intercepts
	// are only defined up to a common shift, so compare them centered.
	var worst, mean, refMean float64
	for c := range 4 {
		coef, b := m.Coef(c)
		mean += b / 4
		refMean += ref.Intercepts[c] / 4
		for j := range coef {
			worst = max(worst, math.Abs(coef[j]-ref.CoefStandardized[c*f.Train.Cols+j]))
		}
	}
	for c := range 4 {
		_, b := m.Coef(c)
		worst = max(worst, math.Abs((b-mean)-(ref.Intercepts[c]-refMean)))
	}
	t.Logf("largest coefficient difference %.2g", worst)
	if worst > 1e-3 {
		t.Errorf("coefficients differ from scikit-learn's by up to %v", worst)
	}
}
