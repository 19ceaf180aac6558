package learn

import (
	"cmp"
	"math"
	"slices"
)

// The metrics follow scikit-learn's definitions (sklearn.metrics), and the
// tests check them against its values on vectors with ties
// (testdata/metrics.json). Each returns a *DataError for inputs of
// different lengths or none (ReasonShape, ReasonEmpty), labels that are not
// classes (ReasonBadLabel) and NaN predictions (ReasonBadPrediction).

// AUC is the area under the ROC curve of scores for binary labels (0 or 1),
// with tied scores counted as scikit-learn's roc_auc_score counts them (the
// trapezoid over each group of ties, i.e. half a pair each). It needs both
// classes (ReasonSingleClass otherwise).
func AUC(y, score []float64) (float64, error) {
	if err := checkPair(y, score); err != nil {
		return 0, err
	}
	idx := make([]int32, len(y))
	for i := range idx {
		idx[i] = int32(i)
		if y[i] != 0 && y[i] != 1 {
			return 0, dataErr(ReasonBadLabel, "label %d is %v, want 0 or 1", i, y[i])
		}
		if math.IsNaN(score[i]) {
			return 0, dataErr(ReasonBadPrediction, "score %d is NaN", i)
		}
	}
	slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(score[b], score[a]) })
	var tp, fp, area float64
	for i := 0; i < len(idx); {
		s := score[idx[i]]
		tp0, fp0 := tp, fp
		for ; i < len(idx) && score[idx[i]] == s; i++ {
			if y[idx[i]] == 1 {
				tp++
			} else {
				fp++
			}
		}
		area += (fp - fp0) * (tp + tp0) / 2
	}
	if tp == 0 || fp == 0 {
		return 0, dataErr(ReasonSingleClass, "AUC needs both classes; all %d labels are %v", len(y), y[0])
	}
	return area / (tp * fp), nil
}

// MacroAUC is the one-vs-rest AUC averaged over the classes (scikit-learn's
// roc_auc_score with multi_class="ovr", average="macro"): proba holds
// len(y) rows of classes probabilities, row-major. Every class must be
// present in y.
func MacroAUC(y, proba []float64, classes int) (float64, error) {
	if err := checkProba(y, proba, classes); err != nil {
		return 0, err
	}
	bin := make([]float64, len(y))
	col := make([]float64, len(y))
	var sum float64
	for c := range classes {
		for i := range y {
			bin[i] = 0
			if int(y[i]) == c {
				bin[i] = 1
			}
			col[i] = proba[i*classes+c]
		}
		a, err := AUC(bin, col)
		if err != nil {
			return 0, err
		}
		sum += a
	}
	return sum / float64(classes), nil
}

// LogLoss is the mean negative log-likelihood of binary labels under
// p = P(y=1), with p clipped to [ε, 1-ε] for the float64 machine epsilon ε,
// as scikit-learn's log_loss.
func LogLoss(y, p []float64) (float64, error) {
	if err := checkPair(y, p); err != nil {
		return 0, err
	}
	var sum float64
	for i := range y {
		if err := checkProbability(i, p[i]); err != nil {
			return 0, err
		}
		switch y[i] {
		case 1:
			sum -= math.Log(clipProb(p[i]))
		case 0:
			sum -= math.Log(clipProb(1 - p[i]))
		default:
			return 0, dataErr(ReasonBadLabel, "label %d is %v, want 0 or 1", i, y[i])
		}
	}
	return sum / float64(len(y)), nil
}

// MulticlassLogLoss is LogLoss for class labels 0..classes-1 and proba
// holding len(y) rows of classes probabilities, row-major.
func MulticlassLogLoss(y, proba []float64, classes int) (float64, error) {
	if err := checkProba(y, proba, classes); err != nil {
		return 0, err
	}
	var sum float64
	for i := range y {
		for c := range classes {
			if err := checkProbability(i, proba[i*classes+c]); err != nil {
				return 0, err
			}
		}
		sum -= math.Log(clipProb(proba[i*classes+int(y[i])]))
	}
	return sum / float64(len(y)), nil
}

// MulticlassAccuracy is the share of rows whose most probable class (the
// first on ties, as numpy's argmax) is the label.
func MulticlassAccuracy(y, proba []float64, classes int) (float64, error) {
	if err := checkProba(y, proba, classes); err != nil {
		return 0, err
	}
	right := 0
	for i := range y {
		row := proba[i*classes : (i+1)*classes]
		best := 0
		for c, v := range row {
			if math.IsNaN(v) {
				return 0, dataErr(ReasonBadPrediction, "probability %d of row %d is NaN", c, i)
			}
			if v > row[best] {
				best = c
			}
		}
		if best == int(y[i]) {
			right++
		}
	}
	return float64(right) / float64(len(y)), nil
}

// Confusion counts binary outcomes at a threshold.
type Confusion struct {
	TP, FP, TN, FN int
}

// Confuse counts the outcomes of predicting class 1 where score >=
// threshold, for binary labels.
func Confuse(y, score []float64, threshold float64) (Confusion, error) {
	var c Confusion
	if err := checkPair(y, score); err != nil {
		return c, err
	}
	for i := range y {
		if math.IsNaN(score[i]) {
			return c, dataErr(ReasonBadPrediction, "score %d is NaN", i)
		}
		pos := score[i] >= threshold
		switch {
		case y[i] == 1 && pos:
			c.TP++
		case y[i] == 1:
			c.FN++
		case y[i] == 0 && pos:
			c.FP++
		case y[i] == 0:
			c.TN++
		default:
			return c, dataErr(ReasonBadLabel, "label %d is %v, want 0 or 1", i, y[i])
		}
	}
	return c, nil
}

// Accuracy is the share of right predictions.
func (c Confusion) Accuracy() float64 {
	return ratio(c.TP+c.TN, c.TP+c.TN+c.FP+c.FN)
}

// Precision is TP / (TP + FP), 0 when nothing was predicted positive (as
// scikit-learn with zero_division=0).
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN), 0 when there are no positives.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall, 2TP / (2TP + FP + FN),
// 0 when that is 0/0.
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// R2 is the coefficient of determination, 1 - SS_res / SS_tot, as
// scikit-learn's r2_score: for constant labels it is 1 for a perfect
// prediction and 0 otherwise.
func R2(y, pred []float64) (float64, error) {
	if err := checkRegression(y, pred); err != nil {
		return 0, err
	}
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	var res, tot float64
	for i := range y {
		d := y[i] - pred[i]
		res += d * d
		t := y[i] - mean
		tot += t * t
	}
	if tot == 0 {
		if res == 0 {
			return 1, nil
		}
		return 0, nil
	}
	return 1 - res/tot, nil
}

// MAE is the mean absolute error.
func MAE(y, pred []float64) (float64, error) {
	if err := checkRegression(y, pred); err != nil {
		return 0, err
	}
	var sum float64
	for i := range y {
		sum += math.Abs(y[i] - pred[i])
	}
	return sum / float64(len(y)), nil
}

// RMSE is the root mean squared error.
func RMSE(y, pred []float64) (float64, error) {
	if err := checkRegression(y, pred); err != nil {
		return 0, err
	}
	var sum float64
	for i := range y {
		d := y[i] - pred[i]
		sum += d * d
	}
	return math.Sqrt(sum / float64(len(y))), nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

var probEps = math.Nextafter(1, 2) - 1 // numpy's finfo(float64).eps

func clipProb(p float64) float64 { return min(max(p, probEps), 1-probEps) }

func checkProbability(i int, p float64) error {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return dataErr(ReasonBadPrediction, "probability of row %d is %v, want one in [0, 1]", i, p)
	}
	return nil
}

func checkPair(y, p []float64) error {
	switch {
	case len(y) == 0:
		return dataErr(ReasonEmpty, "no labels to score")
	case len(y) != len(p):
		return dataErr(ReasonShape, "%d labels and %d predictions", len(y), len(p))
	}
	return nil
}

func checkProba(y, proba []float64, classes int) error {
	switch {
	case classes < 2:
		return dataErr(ReasonShape, "%d classes, want at least 2", classes)
	case len(y) == 0:
		return dataErr(ReasonEmpty, "no labels to score")
	case len(proba) != len(y)*classes:
		return dataErr(ReasonShape, "%d probabilities for %d labels of %d classes", len(proba), len(y), classes)
	}
	for i, v := range y {
		if c := int(v); float64(c) != v || c < 0 || c >= classes {
			return dataErr(ReasonBadLabel, "label %d is %v, want a class in 0..%d", i, v, classes-1)
		}
	}
	return nil
}

func checkRegression(y, pred []float64) error {
	if err := checkPair(y, pred); err != nil {
		return err
	}
	for i := range y {
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return dataErr(ReasonBadLabel, "label %d is %v", i, y[i])
		}
		if math.IsNaN(pred[i]) {
			return dataErr(ReasonBadPrediction, "prediction %d is NaN", i)
		}
	}
	return nil
}
