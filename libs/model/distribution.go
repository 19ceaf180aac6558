package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Kind says whether a Distribution is of numbers or of categories.
type Kind string

// Kinds.
const (
	KindNumeric     Kind = "numeric"
	KindCategorical Kind = "categorical"
)

// Distribution is a reference distribution of a feature or of the prediction
// in a form that a window of served values can be compared against without
// the training data:
//
//   - numeric: fixed bin edges and the count per bin, plus summary
//     statistics. Bin i holds values in [Edges[i], Edges[i+1]); the first
//     bin also holds everything below Edges[0] and the last everything from
//     Edges[len-1] on, so every value falls in a bin. The monitor bins a
//     window with Bin (or NumericWindow) on the same edges and compares the
//     two Proportions (PSI, Jensen-Shannon, chi-squared), or the two
//     samples' CDFs at the edges (KS).
//   - categorical: the count of each category; categories beyond the kept
//     ones are counted in Other.
//
// Missing values (NaN, null) are counted apart and are not in Count.
type Distribution struct {
	Kind    Kind  `json:"kind"`
	Count   int64 `json:"count"`
	Missing int64 `json:"missing,omitempty"`

	Edges  []float64 `json:"edges,omitempty"`
	Counts []int64   `json:"counts,omitempty"`
	Min    float64   `json:"min,omitempty"`
	Max    float64   `json:"max,omitempty"`
	Mean   float64   `json:"mean,omitempty"`
	StdDev float64   `json:"stddev,omitempty"`

	Categories map[string]int64 `json:"categories,omitempty"`
	Other      int64            `json:"other,omitempty"`
}

// Validate checks that the distribution is well formed.
func (d Distribution) Validate() error {
	if d.Count < 0 || d.Missing < 0 {
		return errors.New("count and missing must not be negative")
	}
	switch d.Kind {
	case KindNumeric:
		if len(d.Edges) < 2 {
			return errors.New("numeric: at least two bin edges are required")
		}
		for i, e := range d.Edges {
			if math.IsNaN(e) || math.IsInf(e, 0) {
				return fmt.Errorf("numeric: edge %d is %v", i, e)
			}
			if i > 0 && e <= d.Edges[i-1] {
				return errors.New("numeric: edges must increase strictly")
			}
		}
		if len(d.Counts) != len(d.Edges)-1 {
			return fmt.Errorf("numeric: %d counts for %d edges, want %d", len(d.Counts), len(d.Edges), len(d.Edges)-1)
		}
		var sum int64
		for _, c := range d.Counts {
			if c < 0 {
				return errors.New("numeric: negative bin count")
			}
			sum += c
		}
		if sum != d.Count {
			return fmt.Errorf("numeric: bin counts sum to %d, count is %d", sum, d.Count)
		}
		if len(d.Categories) > 0 || d.Other != 0 {
			return errors.New("numeric: categories are for categorical distributions")
		}
	case KindCategorical:
		var sum int64
		for c, n := range d.Categories {
			if n < 0 {
				return fmt.Errorf("categorical: negative count of %q", c)
			}
			sum += n
		}
		if d.Other < 0 {
			return errors.New("categorical: negative other count")
		}
		if sum+d.Other != d.Count {
			return fmt.Errorf("categorical: category counts and other sum to %d, count is %d", sum+d.Other, d.Count)
		}
		if len(d.Edges) > 0 || len(d.Counts) > 0 {
			return errors.New("categorical: edges and counts are for numeric distributions")
		}
	default:
		return fmt.Errorf("kind %q: want %s or %s", d.Kind, KindNumeric, KindCategorical)
	}
	return nil
}

// NewNumeric builds the numeric reference of values with at most bins bins
// whose edges are the values' quantiles (equal edges merge, so a feature
// with few distinct values gets fewer bins). NaNs count as missing. With no
// finite value, or a single distinct one, the edges are a unit interval
// around it.
func NewNumeric(values []float64, bins int) Distribution {
	if bins < 1 {
		bins = 1
	}
	finite := make([]float64, 0, len(values))
	var missing int64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			missing++
			continue
		}
		finite = append(finite, v)
	}
	slices.Sort(finite)
	var edges []float64
	if len(finite) > 0 {
		for i := 0; i <= bins; i++ {
			e := finite[min(len(finite)-1, i*(len(finite)-1)/bins)]
			if len(edges) == 0 || e > edges[len(edges)-1] {
				edges = append(edges, e)
			}
		}
	}
	switch len(edges) {
	case 0:
		edges = []float64{0, 1}
	case 1:
		edges = []float64{edges[0] - 0.5, edges[0] + 0.5}
	}
	d := NumericWindow(edges, finite)
	d.Missing = missing
	return d
}

// NumericWindow bins values on the given edges (a reference's Edges), with
// the summary statistics: the window to compare against that reference.
// NaNs count as missing.
func NumericWindow(edges []float64, values []float64) Distribution {
	d := Distribution{Kind: KindNumeric, Edges: slices.Clone(edges), Counts: make([]int64, max(len(edges)-1, 0))}
	var sum, sumSq float64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.Missing++
			continue
		}
		if d.Count == 0 || v < d.Min {
			d.Min = v
		}
		if d.Count == 0 || v > d.Max {
			d.Max = v
		}
		d.Count++
		sum += v
		sumSq += v * v
		if len(d.Counts) > 0 {
			d.Counts[d.Bin(v)]++
		}
	}
	if d.Count > 0 {
		d.Mean = sum / float64(d.Count)
		d.StdDev = math.Sqrt(math.Max(0, sumSq/float64(d.Count)-d.Mean*d.Mean))
	}
	return d
}

// Bin returns the index of the bin of a numeric distribution that holds x.
func (d Distribution) Bin(x float64) int {
	n := len(d.Edges) - 1
	if n < 1 {
		return 0
	}
	// The first edge greater than x closes x's bin.
	i := sort.SearchFloat64s(d.Edges, x)
	if i < len(d.Edges) && d.Edges[i] == x {
		i++
	}
	return min(max(i-1, 0), n-1)
}

// NewCategorical builds the categorical reference of values, keeping the
// maxCategories most frequent categories (all when maxCategories < 1) and
// counting the rest in Other. Ties keep the smaller name.
func NewCategorical(values []string, maxCategories int) Distribution {
	counts := make(map[string]int64)
	for _, v := range values {
		counts[v]++
	}
	d := Distribution{Kind: KindCategorical, Count: int64(len(values)), Categories: counts}
	if maxCategories < 1 || len(counts) <= maxCategories {
		return d
	}
	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	for _, c := range names[maxCategories:] {
		d.Other += counts[c]
		delete(counts, c)
	}
	return d
}

// CategoricalWindow counts values in the categories of a reference; values
// of other categories go to Other.
func CategoricalWindow(ref Distribution, values []string) Distribution {
	d := Distribution{Kind: KindCategorical, Count: int64(len(values)), Categories: make(map[string]int64, len(ref.Categories))}
	for c := range ref.Categories {
		d.Categories[c] = 0
	}
	for _, v := range values {
		if _, ok := d.Categories[v]; ok {
			d.Categories[v]++
		} else {
			d.Other++
		}
	}
	return d
}

// Proportions returns the share of Count in each bin (numeric) or in each
// category in sorted order followed by Other (categorical); all zeros when
// Count is 0. Two distributions built on the same edges or categories give
// vectors of the same length, in the same order.
func (d Distribution) Proportions() []float64 {
	var counts []int64
	if d.Kind == KindCategorical {
		for _, c := range d.CategoryNames() {
			counts = append(counts, d.Categories[c])
		}
		counts = append(counts, d.Other)
	} else {
		counts = d.Counts
	}
	p := make([]float64, len(counts))
	if d.Count == 0 {
		return p
	}
	for i, c := range counts {
		p[i] = float64(c) / float64(d.Count)
	}
	return p
}

// CategoryNames returns the categories in sorted order.
func (d Distribution) CategoryNames() []string {
	names := make([]string, 0, len(d.Categories))
	for c := range d.Categories {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}
