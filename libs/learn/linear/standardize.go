package linear

import (
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// standardizer maps a raw feature value x of column j to (x-Mean[j])/Scale[j],
// and a missing one to 0.
type standardizer struct {
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
}

// fitStandardizer measures the mean and population standard deviation of
// each column over its present values, in two passes (exact enough for
// features whose mean is large against their spread).
func fitStandardizer(d *learn.Dataset) standardizer {
	mean := make([]float64, d.Cols)
	count := make([]float64, d.Cols)
	for i := range d.Rows {
		for j, x := range d.Row(i) {
			if !math.IsNaN(x) {
				mean[j] += x
				count[j]++
			}
		}
	}
	for j := range mean {
		if count[j] > 0 {
			mean[j] /= count[j]
		}
	}
	scale := make([]float64, d.Cols)
	for i := range d.Rows {
		for j, x := range d.Row(i) {
			if !math.IsNaN(x) {
				dx := x - mean[j]
				scale[j] += dx * dx
			}
		}
	}
	for j := range scale {
		if count[j] > 0 {
			scale[j] = math.Sqrt(scale[j] / count[j])
		}
		if scale[j] == 0 || math.IsNaN(scale[j]) || math.IsInf(scale[j], 0) {
			scale[j] = 1
		}
	}
	return standardizer{Mean: mean, Scale: scale}
}

// apply writes the standardized row into z.
func (s *standardizer) apply(row, z []float64) {
	for j, x := range row {
		if math.IsNaN(x) {
			z[j] = 0
		} else {
			z[j] = (x - s.Mean[j]) / s.Scale[j]
		}
	}
}

// matrix standardizes every row of d into a new row-major matrix, on up
// to workers goroutines.
func (s *standardizer) matrix(d *learn.Dataset, workers int) []float64 {
	z := make([]float64, len(d.X))
	blockSums(d.Rows, 0, workers, nil, func(lo, hi int, _ []float64) {
		for i := lo; i < hi; i++ {
			s.apply(d.Row(i), z[i*d.Cols:(i+1)*d.Cols])
		}
	})
	return z
}

func (s *standardizer) check(cols int) error {
	if len(s.Mean) != cols || len(s.Scale) != cols {
		return learn.NewDataError(learn.ReasonShape, "model has %d means and %d scales for %d features", len(s.Mean), len(s.Scale), cols)
	}
	for j := range cols {
		if !finite(s.Mean[j]) || !finite(s.Scale[j]) || s.Scale[j] <= 0 {
			return learn.NewDataError(learn.ReasonShape, "feature %d has mean %v and scale %v", j, s.Mean[j], s.Scale[j])
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func allFinite(v []float64) bool {
	for _, x := range v {
		if !finite(x) {
			return false
		}
	}
	return true
}
