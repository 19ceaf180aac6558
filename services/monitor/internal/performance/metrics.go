package performance

import (
	"math"
	"slices"
)

// Task is what a model predicts: a binary class (a score compared with a
// decision threshold) or a number.
type Task string

// Tasks.
const (
	Classification Task = "classification"
	Regression     Task = "regression"
)

// Pair is one labelled prediction: the model's output and the label.
type Pair struct {
	Prediction float64
	Label      float64
}

// Metrics are the performance figures of a set of labelled predictions; a
// nil figure is undefined for the set (precision without a predicted
// positive, AUC with one class) or does not apply to the task.
type Metrics struct {
	Labelled  int
	Positives int
	Accuracy  *float64
	Precision *float64
	Recall    *float64
	F1        *float64
	AUC       *float64
	LogLoss   *float64
	MAE       *float64
	RMSE      *float64
}

// Names of the metrics, as in thresholds, the table's columns and alerts.
const (
	MetricAccuracy  = "accuracy"
	MetricPrecision = "precision"
	MetricRecall    = "recall"
	MetricF1        = "f1"
	MetricAUC       = "auc"
	MetricLogLoss   = "log_loss"
	MetricMAE       = "mae"
	MetricRMSE      = "rmse"
)

// MetricNames lists every metric.
var MetricNames = []string{MetricAccuracy, MetricPrecision, MetricRecall, MetricF1, MetricAUC, MetricLogLoss, MetricMAE, MetricRMSE}

// HigherIsBetter reports whether a larger value of the metric is better
// (false for log_loss, mae and rmse).
func HigherIsBetter(metric string) bool {
	switch metric {
	case MetricLogLoss, MetricMAE, MetricRMSE:
		return false
	}
	return true
}

// Get returns the named metric, if it is defined.
func (m Metrics) Get(name string) (float64, bool) {
	var p *float64
	switch name {
	case MetricAccuracy:
		p = m.Accuracy
	case MetricPrecision:
		p = m.Precision
	case MetricRecall:
		p = m.Recall
	case MetricF1:
		p = m.F1
	case MetricAUC:
		p = m.AUC
	case MetricLogLoss:
		p = m.LogLoss
	case MetricMAE:
		p = m.MAE
	case MetricRMSE:
		p = m.RMSE
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// logLossEps clips the scores of log loss to [eps, 1-eps]: the float64
// machine epsilon, what scikit-learn's log_loss clips to.
const logLossEps = 2.220446049250313e-16

func ptr(v float64) *float64 { return &v }

// Compute returns the metrics of pairs for task; for classification a label
// is positive when it is 1 and a prediction when it is at or above cut.
func Compute(task Task, cut float64, pairs []Pair) Metrics {
	m := Metrics{Labelled: len(pairs)}
	if len(pairs) == 0 {
		return m
	}
	if task == Regression {
		var abs, sq float64
		for _, p := range pairs {
			d := p.Prediction - p.Label
			abs += math.Abs(d)
			sq += d * d
		}
		n := float64(len(pairs))
		m.MAE, m.RMSE = ptr(abs/n), ptr(math.Sqrt(sq/n))
		return m
	}
	c := Confusion(cut, pairs)
	m.Positives = c.TP + c.FN
	n := float64(len(pairs))
	m.Accuracy = ptr(float64(c.TP+c.TN) / n)
	if c.TP+c.FP > 0 {
		m.Precision = ptr(float64(c.TP) / float64(c.TP+c.FP))
	}
	if c.TP+c.FN > 0 {
		m.Recall = ptr(float64(c.TP) / float64(c.TP+c.FN))
	}
	if m.Precision != nil && m.Recall != nil {
		if *m.Precision+*m.Recall == 0 {
			m.F1 = ptr(0)
		} else {
			m.F1 = ptr(2 * *m.Precision * *m.Recall / (*m.Precision + *m.Recall))
		}
	}
	m.AUC = auc(pairs)
	var ll float64
	for _, p := range pairs {
		s := min(max(p.Prediction, logLossEps), 1-logLossEps)
		if p.Label == 1 {
			ll -= math.Log(s)
		} else {
			ll -= math.Log(1 - s)
		}
	}
	m.LogLoss = ptr(ll / n)
	return m
}

// ConfusionMatrix counts the classifications of labelled predictions.
type ConfusionMatrix struct{ TP, FP, TN, FN int }

// Confusion classifies pairs: a label is positive when it is 1, a
// prediction when it is at or above cut.
func Confusion(cut float64, pairs []Pair) ConfusionMatrix {
	var c ConfusionMatrix
	for _, p := range pairs {
		pos, predPos := p.Label == 1, p.Prediction >= cut
		switch {
		case pos && predPos:
			c.TP++
		case pos:
			c.FN++
		case predPos:
			c.FP++
		default:
			c.TN++
		}
	}
	return c
}

// auc is the area under the ROC curve: the probability that a positive
// scores above a negative, ties counting one half (the Mann-Whitney U
// statistic over n⁺·n⁻, what scikit-learn's roc_auc_score computes); nil
// with one class only.
func auc(pairs []Pair) *float64 {
	s := slices.Clone(pairs)
	slices.SortFunc(s, func(a, b Pair) int {
		switch {
		case a.Prediction < b.Prediction:
			return -1
		case a.Prediction > b.Prediction:
			return 1
		}
		return 0
	})
	var pos, neg int
	var rankSum float64 // sum of the (mid-)ranks of the positives, from 1
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].Prediction == s[i].Prediction {
			j++
		}
		mid := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			if s[k].Label == 1 {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return nil
	}
	u := rankSum - float64(pos)*float64(pos+1)/2
	return ptr(u / (float64(pos) * float64(neg)))
}
