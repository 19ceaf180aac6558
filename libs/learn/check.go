package learn

import (
	"math"
	"strconv"
)

// CheckTraining checks that d can train a model for task, and returns a
// *DataError saying why not: no rows (ReasonEmpty), a shape that does not
// add up (ReasonShape), a NaN or infinite label or a class label that is not
// an integer in range (ReasonBadLabel), a single class (ReasonSingleClass),
// or an infinite feature value (ReasonBadFeature). NaN features are allowed:
// they are missing values, which each learner handles as it documents.
// For TaskMulticlass, d.Classes must be at least 2.
func CheckTraining(d *Dataset, task Task) error {
	if d == nil || d.Rows == 0 {
		return dataErr(ReasonEmpty, "training set has no rows")
	}
	if d.Cols <= 0 {
		return dataErr(ReasonEmpty, "training set has no features")
	}
	if err := d.Validate(); err != nil {
		return dataErr(ReasonShape, "%v", err)
	}
	classes := 0
	switch task {
	case TaskBinary:
		classes = 2
	case TaskMulticlass:
		if d.Classes < 2 {
			return dataErr(ReasonShape, "multiclass training set declares %d classes, want at least 2", d.Classes)
		}
		classes = d.Classes
	case TaskRegression:
	default:
		return dataErr(ReasonBadTask, "unknown task %q", task)
	}
	var seen []int
	if classes > 0 {
		seen = make([]int, classes)
	}
	for i, y := range d.Y {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return dataErr(ReasonBadLabel, "label of row %d is %v", i, y)
		}
		if classes > 0 {
			c := int(y)
			if float64(c) != y || c < 0 || c >= classes {
				return dataErr(ReasonBadLabel, "label of row %d is %v, want a class in 0..%d", i, y, classes-1)
			}
			seen[c]++
		}
	}
	if classes > 0 {
		present := 0
		for _, n := range seen {
			if n > 0 {
				present++
			}
		}
		if present < 2 {
			return dataErr(ReasonSingleClass, "all %d labels are class %s", d.Rows, strconv.Itoa(int(d.Y[0])))
		}
	}
	for k, x := range d.X {
		if math.IsInf(x, 0) {
			return dataErr(ReasonBadFeature, "row %d feature %s is %v", k/d.Cols, d.featureName(k%d.Cols), x)
		}
	}
	return nil
}

func (d *Dataset) featureName(j int) string {
	if j < len(d.Features) && d.Features[j] != "" {
		return strconv.Quote(d.Features[j])
	}
	return strconv.Itoa(j)
}
