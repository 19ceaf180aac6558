package learntest

import (
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// SyntheticSeed is the seed of the benchmark data.
const SyntheticSeed = 20261201

// Synthetic returns rows rows of the benchmark data set (binary labels,
// cols features of different scales and offsets, a linear logit with one
// interaction and noise), starting at row firstRow, so that rows from 1M on
// make a holdout for a training set of the first 1M. It generates the very
// same bits as libs/learn/bench/sklearn_bench.py, whose docstring gives the
// recipe, so a Go benchmark and scikit-learn train on the same data.
func Synthetic(rows, cols int, seed uint64, firstRow int) *learn.Dataset {
	d := &learn.Dataset{
		X:    make([]float64, rows*cols),
		Y:    make([]float64, rows),
		Rows: rows,
		Cols: cols,
	}
	d.Features = d.FeatureNames()
	u := make([]float64, cols+2)
	for i := range rows {
		base := uint64(firstRow+i) * uint64(cols+2)
		for j := range u {
			u[j] = uniform(seed, base+uint64(j))
		}
		var logit float64
		for j := range cols {
			v := 2*u[j] - 1
			// The explicit conversions keep each product rounded on its
			// own (no fused multiply-add), as numpy computes it.
			d.X[i*cols+j] = float64(v*math.Ldexp(1, j%5-2)) + float64(j)
			logit += float64(float64(j%7-3) / 2 * v)
		}
		v0, v1 := 2*u[0]-1, 2*u[1]-1
		logit += float64(1.5 * float64(v0*v1))
		noise := float64(3 * ((u[cols] + u[cols+1]) - 1))
		if logit+noise > 0 {
			d.Y[i] = 1
		}
	}
	return d
}

// uniform is splitmix64 of seed + (k+1)·golden, its top 53 bits in [0, 1).
func uniform(seed, k uint64) float64 {
	z := seed + (k+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return float64(z>>11) * (1.0 / 9007199254740992.0)
}
