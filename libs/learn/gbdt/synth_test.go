package gbdt

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tributary-ml/tributary/libs/learn"
)

// synth returns a seeded synthetic set of n rows and cols features: a
// nonlinear score of the first features, with label noise; for binary
// the label is a Bernoulli draw, for multiclass the argmax of three noisy
// scores, for regression the score plus noise. A fraction missing of the
// values of feature 0 is NaN.
func synth(task learn.Task, n, cols int, seed uint64, missing float64) *learn.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	ds := &learn.Dataset{X: make([]float64, n*cols), Y: make([]float64, n), Rows: n, Cols: cols}
	for i := range n {
		x := ds.X[i*cols : (i+1)*cols]
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		s := 1.5*x[0] - x[1] + 0.8*x[2]*x[3] + math.Sin(2*x[4])
		if cols > 6 {
			s += 0.5 * math.Abs(x[5]) * x[6]
		}
		switch task {
		case learn.TaskBinary:
			if rng.Float64() < 1/(1+math.Exp(-2*s)) {
				ds.Y[i] = 1
			}
		case learn.TaskMulticlass:
			sc := []float64{s + rng.NormFloat64()*0.5, x[1] + x[2] + rng.NormFloat64()*0.5, -s + x[3] + rng.NormFloat64()*0.5}
			ds.Y[i] = float64(slices.Index(sc, slices.Max(sc)))
			ds.Classes = 3
		default:
			ds.Y[i] = s + rng.NormFloat64()*0.3
		}
		if missing > 0 && rng.Float64() < missing {
			x[0] = math.NaN()
		}
	}
	return ds
}

// subset returns rows [lo, hi) of ds.
func subset(ds *learn.Dataset, lo, hi int) *learn.Dataset {
	return &learn.Dataset{
		X: ds.X[lo*ds.Cols : hi*ds.Cols], Y: ds.Y[lo:hi], Rows: hi - lo, Cols: ds.Cols,
		Features: ds.Features, Classes: ds.Classes,
	}
}
