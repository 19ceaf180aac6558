package learn

import (
	"errors"
	"fmt"
)

// Task is what a model predicts.
type Task string

// Tasks.
const (
	TaskBinary     Task = "binary"     // two classes; labels 0 and 1, the prediction is P(y=1)
	TaskMulticlass Task = "multiclass" // K classes; labels 0..K-1, the prediction is K probabilities
	TaskRegression Task = "regression" // real-valued labels
)

// Dataset is a dense training or evaluation set: Rows rows of Cols features,
// stored row-major in X (row i is X[i*Cols:(i+1)*Cols]). A missing value is
// NaN. Y holds one label per row: 0/1 for binary, 0..Classes-1 for
// multiclass, any finite number for regression.
type Dataset struct {
	X        []float64
	Y        []float64
	Rows     int
	Cols     int
	Features []string // the feature names, in column order (len Cols)
	Classes  int      // number of classes for multiclass (0 otherwise)
}

// Row returns row i's features, sharing X's memory.
func (d *Dataset) Row(i int) []float64 { return d.X[i*d.Cols : (i+1)*d.Cols] }

// Validate checks the shape of the dataset.
func (d *Dataset) Validate() error {
	switch {
	case d.Rows <= 0:
		return errors.New("dataset has no rows")
	case d.Cols <= 0:
		return errors.New("dataset has no features")
	case len(d.X) != d.Rows*d.Cols:
		return fmt.Errorf("dataset has %d values for %d rows of %d features", len(d.X), d.Rows, d.Cols)
	case len(d.Y) != d.Rows:
		return fmt.Errorf("dataset has %d labels for %d rows", len(d.Y), d.Rows)
	case len(d.Features) != 0 && len(d.Features) != d.Cols:
		return fmt.Errorf("dataset names %d features for %d columns", len(d.Features), d.Cols)
	}
	return nil
}
