package learn

import (
	"errors"
	"math"
	"testing"
)

func TestCheckTraining(t *testing.T) {
	ok := func() *Dataset {
		return &Dataset{X: []float64{1, 2, 3, 4, math.NaN(), 6}, Y: []float64{0, 1, 1}, Rows: 3, Cols: 2, Features: []string{"a", "b"}}
	}
	cases := []struct {
		name   string
		task   Task
		change func(d *Dataset)
		want   error
	}{
		{"valid with a missing value", TaskBinary, func(*Dataset) {}, nil},
		{"regression", TaskRegression, func(d *Dataset) { d.Y = []float64{-1.5, 2, 1e9} }, nil},
		{"multiclass", TaskMulticlass, func(d *Dataset) { d.Classes = 3; d.Y = []float64{0, 2, 2} }, nil},
		{"no rows", TaskBinary, func(d *Dataset) { *d = Dataset{Cols: 2} }, ErrEmpty},
		{"no features", TaskBinary, func(d *Dataset) { d.Cols = 0; d.X = nil }, ErrEmpty},
		{"short X", TaskBinary, func(d *Dataset) { d.X = d.X[:5] }, ErrShape},
		{"one class", TaskBinary, func(d *Dataset) { d.Y = []float64{1, 1, 1} }, ErrSingleClass},
		{"multiclass one class", TaskMulticlass, func(d *Dataset) { d.Classes = 3; d.Y = []float64{2, 2, 2} }, ErrSingleClass},
		{"multiclass without classes", TaskMulticlass, func(d *Dataset) {}, ErrShape},
		{"binary label 2", TaskBinary, func(d *Dataset) { d.Y[1] = 2 }, ErrBadLabel},
		{"fractional class", TaskBinary, func(d *Dataset) { d.Y[1] = 0.5 }, ErrBadLabel},
		{"NaN label", TaskRegression, func(d *Dataset) { d.Y[2] = math.NaN() }, ErrBadLabel},
		{"Inf label", TaskRegression, func(d *Dataset) { d.Y[0] = math.Inf(1) }, ErrBadLabel},
		{"Inf feature", TaskBinary, func(d *Dataset) { d.X[3] = math.Inf(-1) }, ErrBadFeature},
		{"unknown task", Task("ranking"), func(*Dataset) {}, ErrBadTask},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := ok()
			tc.change(d)
			err := CheckTraining(d, tc.task)
			if !errors.Is(err, tc.want) {
				t.Fatalf("CheckTraining = %v, want %v", err, tc.want)
			}
			var de *DataError
			if tc.want != nil && (!errors.As(err, &de) || de.Detail == "") {
				t.Fatalf("error %v has no detail", err)
			}
		})
	}
}

func TestCheckTrainingNamesTheFeature(t *testing.T) {
	d := &Dataset{X: []float64{1, math.Inf(1)}, Y: []float64{0}, Rows: 1, Cols: 2, Features: []string{"a", "amount"}}
	err := CheckTraining(d, TaskRegression)
	if err == nil || err.Error() != `non_finite_feature: row 0 feature "amount" is +Inf` {
		t.Fatalf("error %v", err)
	}
}
