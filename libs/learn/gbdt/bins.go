package gbdt

import (
	"math"
	"math/rand/v2"
	"slices"
)

const (
	// maxBins is the most bins a feature's non-missing values get; bin
	// codes are uint8, and code missingBin is reserved for NaN.
	maxBins    = 255
	missingBin = 255
	// binSubsample is how many rows the bin edges are computed from
	// (scikit-learn's default subsample).
	binSubsample = 200_000
)

// binner holds each feature's bin edges: a value x falls into bin b, the
// number of edges below x, so bin b holds edges[b-1] < x <= edges[b].
type binner struct {
	edges [][]float64 // per feature, sorted, distinct, finite
}

// nBins is the number of non-missing bins of feature f.
func (bn *binner) nBins(f int) int { return len(bn.edges[f]) + 1 }

// fitBinner computes up to nb quantile bins per feature from the rows of x
// (row-major, cols features) listed in rows, on a seeded subsample of at
// most binSubsample rows.
func fitBinner(x []float64, cols int, rows []int32, nb int, seed uint64, workers int) *binner {
	sample := rows
	if len(rows) > binSubsample {
		rng := rand.New(rand.NewPCG(seed, 0x62696e73)) // "bins"
		perm := rng.Perm(len(rows))[:binSubsample]
		slices.Sort(perm)
		sample = make([]int32, binSubsample)
		for i, p := range perm {
			sample[i] = rows[p]
		}
	}
	bn := &binner{edges: make([][]float64, cols)}
	forEach(workers, cols, func(f int) {
		vals := make([]float64, 0, len(sample))
		for _, r := range sample {
			if v := x[int(r)*cols+f]; !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		bn.edges[f] = quantileEdges(vals, nb)
	})
	return bn
}

// quantileEdges sorts vals (finite, non-missing) and returns at most nb-1
// distinct bin edges: the midpoints between distinct values when there are
// at most nb of them, else the quantiles at 1/nb, 2/nb, ... (numpy's
// "midpoint" percentile, like scikit-learn).
func quantileEdges(vals []float64, nb int) []float64 {
	slices.Sort(vals)
	distinct := slices.Compact(slices.Clone(vals))
	if len(distinct) <= nb {
		edges := make([]float64, 0, max(len(distinct)-1, 0))
		for i := 0; i+1 < len(distinct); i++ {
			edges = append(edges, distinct[i]+(distinct[i+1]-distinct[i])/2)
		}
		return edges
	}
	n := len(vals)
	edges := make([]float64, 0, nb-1)
	for k := 1; k < nb; k++ {
		pos := float64(n-1) * float64(k) / float64(nb)
		lo := int(math.Floor(pos))
		v := vals[lo]
		if pos != float64(lo) && lo+1 < n {
			v = vals[lo] + 0.5*(vals[lo+1]-vals[lo])
		}
		if len(edges) == 0 || v > edges[len(edges)-1] {
			edges = append(edges, v)
		}
	}
	return edges
}

// binOf returns the bin of a non-NaN value: the number of edges below v.
func binOf(edges []float64, v float64) uint8 {
	lo, n := 0, len(edges)
	for n > 0 {
		half := n >> 1
		if edges[lo+half] < v {
			lo += half + 1
			n -= half + 1
		} else {
			n = half
		}
	}
	return uint8(lo)
}

// transform bins the rows of x listed in rows into column-major codes:
// codes[f][j] is the bin of row rows[j], feature f.
func (bn *binner) transform(x []float64, cols int, rows []int32, workers int) [][]uint8 {
	codes := make([][]uint8, cols)
	for f := range codes {
		codes[f] = make([]uint8, len(rows))
	}
	forRange(workers, len(rows), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			row := x[int(rows[j])*cols : int(rows[j])*cols+cols]
			for f, v := range row {
				if v != v { // NaN
					codes[f][j] = missingBin
				} else {
					codes[f][j] = binOf(bn.edges[f], v)
				}
			}
		}
	})
	return codes
}
