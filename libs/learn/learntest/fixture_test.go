package learntest

import (
	"math"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// TestFixturesDecode checks every fixture against what scikit-learn saw: the
// shape, the split, and the per-column train means and standard deviations
// that StandardScaler measured on the dequantized values.
func TestFixturesDecode(t *testing.T) {
	refs, err := LoadReferences()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		task       learn.Task
		rows, cols int
	}{
		{BreastCancer, learn.TaskBinary, 569, 30},
		{Classification, learn.TaskBinary, 100_000, 20},
		{Regression, learn.TaskRegression, 100_000, 20},
		{Multiclass, learn.TaskMulticlass, 5000, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := MustLoad(t, tc.name)
			if f.Task != tc.task || f.Train.Rows+f.Holdout.Rows != tc.rows || f.Train.Cols != tc.cols {
				t.Fatalf("got task %s, %d+%d rows, %d cols", f.Task, f.Train.Rows, f.Holdout.Rows, f.Train.Cols)
			}
			if want := tc.rows - tc.rows/5; math.Abs(float64(f.Train.Rows-want)) > 1 {
				t.Errorf("train has %d rows, want about %d (80%%)", f.Train.Rows, want)
			}
			for _, d := range []*learn.Dataset{f.Train, f.Holdout} {
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.task == learn.TaskMulticlass && (f.Train.Classes != 4 || f.Holdout.Classes != 4) {
				t.Fatalf("multiclass fixture has %d classes", f.Train.Classes)
			}
			if tc.task != learn.TaskRegression {
				ref := refs.Datasets[tc.name][LogisticRegression]
				mean, std := colStats(f.Train)
				for j := range mean {
					if !close(mean[j], ref.TrainMean[j]) || !close(std[j], ref.TrainStd[j]) {
						t.Fatalf("column %d: mean %v std %v, scikit-learn saw %v %v", j, mean[j], std[j], ref.TrainMean[j], ref.TrainStd[j])
					}
				}
			}
			if tc.task == learn.TaskBinary {
				pos := 0
				for _, y := range f.Train.Y {
					if y != 0 && y != 1 {
						t.Fatalf("binary label %v", y)
					}
					pos += int(y)
				}
				if pos == 0 || pos == f.Train.Rows {
					t.Fatalf("train labels are one class")
				}
			}
			if tc.task == learn.TaskRegression {
				// Ridge's raw coefficients predict the holdout with the R² it reported.
				ref := refs.Datasets[tc.name][Ridge]
				var ss, st, my float64
				for _, y := range f.Holdout.Y {
					my += y
				}
				my /= float64(f.Holdout.Rows)
				for i := range f.Holdout.Rows {
					p := ref.Intercept
					for j, x := range f.Holdout.Row(i) {
						p += ref.Coef[j] * x
					}
					y := f.Holdout.Y[i]
					ss += (y - p) * (y - p)
					st += (y - my) * (y - my)
				}
				if r2 := 1 - ss/st; !close(r2, ref.HoldoutR2) {
					t.Fatalf("ridge R² from the exported coefficients %v, scikit-learn %v", r2, ref.HoldoutR2)
				}
			}
		})
	}
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func colStats(d *learn.Dataset) (mean, std []float64) {
	mean = make([]float64, d.Cols)
	std = make([]float64, d.Cols)
	for i := range d.Rows {
		for j, x := range d.Row(i) {
			mean[j] += x
		}
	}
	for j := range mean {
		mean[j] /= float64(d.Rows)
	}
	for i := range d.Rows {
		for j, x := range d.Row(i) {
			std[j] += (x - mean[j]) * (x - mean[j])
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(d.Rows))
	}
	return mean, std
}
