// Package fairness computes the monitor's group-fairness figures for a
// sensitive attribute: per group the positive rate of the predictions and,
// on the labelled ones, accuracy and the true and false positive rates; per
// window the demographic-parity difference (largest minus smallest positive
// rate) and the equalized-odds difference (the larger of the spreads of the
// true and of the false positive rates), as fairlearn defines them
// (demographic_parity_difference, equalized_odds_difference with
// agg="worst_case").
package fairness

import (
	"slices"
)

// Group is what the window holds of one group of the attribute.
type Group struct {
	Value string
	// Predictions and PredictedPositive count every prediction of the
	// group (labelled or not); the rest counts the labelled ones.
	Predictions       int
	PredictedPositive int
	TP, FP, TN, FN    int
}

// Labelled is the group's number of labelled predictions.
func (g Group) Labelled() int { return g.TP + g.FP + g.TN + g.FN }

// PositiveRate is the share of the group's predictions that are positive.
func (g Group) PositiveRate() float64 {
	if g.Predictions == 0 {
		return 0
	}
	return float64(g.PredictedPositive) / float64(g.Predictions)
}

// Accuracy is the share of the labelled predictions classified right; nil
// without any.
func (g Group) Accuracy() *float64 {
	if g.Labelled() == 0 {
		return nil
	}
	v := float64(g.TP+g.TN) / float64(g.Labelled())
	return &v
}

// TPR is the recall of the group; nil when no label is positive.
func (g Group) TPR() *float64 {
	if g.TP+g.FN == 0 {
		return nil
	}
	v := float64(g.TP) / float64(g.TP+g.FN)
	return &v
}

// FPR is the share of the negatives predicted positive; nil when no label
// is negative.
func (g Group) FPR() *float64 {
	if g.FP+g.TN == 0 {
		return nil
	}
	v := float64(g.FP) / float64(g.FP+g.TN)
	return &v
}

// Result is the window's verdict over its groups.
type Result struct {
	// DemographicParity is max minus min positive rate over the groups
	// with predictions (0 with fewer than two).
	DemographicParity float64
	// EqualizedOdds is the larger of the spreads of TPR and FPR over the
	// groups where each is defined; nil when neither is defined in two
	// groups.
	EqualizedOdds *float64
	// Predictions and Labelled are the window's totals.
	Predictions, Labelled int
}

// Compute returns the differences between groups.
func Compute(groups []Group) Result {
	var r Result
	var rates, tprs, fprs []float64
	for _, g := range groups {
		r.Predictions += g.Predictions
		r.Labelled += g.Labelled()
		if g.Predictions > 0 {
			rates = append(rates, g.PositiveRate())
		}
		if v := g.TPR(); v != nil {
			tprs = append(tprs, *v)
		}
		if v := g.FPR(); v != nil {
			fprs = append(fprs, *v)
		}
	}
	r.DemographicParity = spread(rates)
	if len(tprs) >= 2 || len(fprs) >= 2 {
		v := max(spread(tprs), spread(fprs))
		r.EqualizedOdds = &v
	}
	return r
}

func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	return slices.Max(xs) - slices.Min(xs)
}
