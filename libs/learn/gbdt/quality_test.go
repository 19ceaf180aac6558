package gbdt

import (
	"context"
	"math"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// TestMatchesScikitLearn trains on the committed fixtures with the
// parameters scikit-learn's HistGradientBoosting* reference used and
// checks the holdout AUC (classification; macro one-vs-rest for
// multiclass) or R² (regression) is within
// 0.01 of scikit-learn's on the same split.
func TestMatchesScikitLearn(t *testing.T) {
	for _, name := range []string{learntest.BreastCancer, learntest.Classification, learntest.Multiclass, learntest.Regression} {
		t.Run(name, func(t *testing.T) {
			fx := learntest.MustLoad(t, name)
			ref := learntest.MustReference(t, name, learntest.HistGradientBoosting)
			p := DefaultParams(fx.Task)
			p.EarlyStopping = EarlyStoppingOff // as the reference
			m, err := Train(context.Background(), fx.Train, p)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := learn.Evaluate(m, fx.Holdout, fx.Task)
			if err != nil {
				t.Fatal(err)
			}
			got, want := ev.AUC, ref.HoldoutAUC
			metric := "AUC"
			if fx.Task == learn.TaskRegression {
				got, want, metric = ev.R2, ref.HoldoutR2, "R²"
			}
			t.Logf("holdout %s %.5f, scikit-learn %.5f", metric, got, want)
			if math.IsNaN(got) || got < want-0.01 {
				t.Errorf("holdout %s %.5f, more than 0.01 below scikit-learn's %.5f", metric, got, want)
			}
		})
	}
}
