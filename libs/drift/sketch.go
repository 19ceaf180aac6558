package drift

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/tributary-ml/tributary/libs/model"
)

// DefaultMaxUnseen is how many distinct unseen categories a categorical
// sketch names by default; values of further ones are still counted.
const DefaultMaxUnseen = 32

// Errors of sketches.
var (
	// ErrKind is returned when a value does not fit the sketch's kind (a
	// number for a categorical feature or the reverse).
	ErrKind = errors.New("value of the wrong kind")
	// ErrMismatch is returned when two sketches, or a sketch and a
	// reference, are not built on the same bins or categories.
	ErrMismatch = errors.New("not built on the same reference")
	// ErrCorrupt is returned when a snapshot does not decode to a
	// consistent sketch.
	ErrCorrupt = errors.New("corrupt snapshot")
)

// Sketch summarises the values of one feature (or of the prediction) in one
// window, on the bins or categories of the feature's reference
// distribution. Its memory is bounded by the reference: one counter per
// bin or reference category, plus at most MaxUnseen named unseen
// categories. Sketches built on the same reference merge by adding
// counters, so a long window is the merge of short ones and the result
// does not depend on the order. A Sketch is not safe for concurrent use.
type Sketch struct {
	kind    model.Kind
	count   int64 // values that are not missing
	missing int64

	// Numeric.
	edges          []float64
	counts         []int64
	min, max       float64 // of the values seen; 0 when count is 0
	sum, sumSq     float64
	refMin, refMax float64 // the reference's range
	below, above   int64   // values outside [refMin, refMax]

	// Categorical.
	categories []string // the reference's, sorted
	catCounts  []int64
	index      map[string]int
	unseen     int64            // values of categories not in categories
	unseenTop  map[string]int64 // at most maxUnseen of them, by name
	maxUnseen  int
}

// SketchOption configures a sketch.
type SketchOption func(*Sketch)

// WithMaxUnseen caps how many distinct unseen categories a categorical
// sketch names (DefaultMaxUnseen by default; 0 names none). Values of the
// others are counted in the unseen total only.
func WithMaxUnseen(n int) SketchOption {
	return func(s *Sketch) { s.maxUnseen = max(n, 0) }
}

// NewSketch returns an empty sketch of a window for a feature whose
// reference distribution is ref: numeric values are counted on ref's
// edges, categorical ones on ref's categories.
func NewSketch(ref model.Distribution, opts ...SketchOption) (*Sketch, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("new sketch: reference: %w", err)
	}
	s := &Sketch{kind: ref.Kind, maxUnseen: DefaultMaxUnseen}
	for _, o := range opts {
		o(s)
	}
	switch ref.Kind {
	case model.KindNumeric:
		s.edges = slices.Clone(ref.Edges)
		s.counts = make([]int64, len(ref.Edges)-1)
		s.refMin, s.refMax = ref.Edges[0], ref.Edges[len(ref.Edges)-1]
		if ref.Count > 0 {
			s.refMin, s.refMax = ref.Min, ref.Max
		}
	case model.KindCategorical:
		s.categories = ref.CategoryNames()
		s.catCounts = make([]int64, len(s.categories))
		s.buildIndex()
	}
	return s, nil
}

func (s *Sketch) buildIndex() {
	s.index = make(map[string]int, len(s.categories))
	for i, c := range s.categories {
		s.index[c] = i
	}
}

// Kind is the kind of the feature.
func (s *Sketch) Kind() model.Kind { return s.kind }

// Count is the number of values added that are not missing.
func (s *Sketch) Count() int64 { return s.count }

// Missing is the number of missing values added.
func (s *Sketch) Missing() int64 { return s.missing }

// AddFloat adds a value of a numeric feature; NaN and ±Inf count as
// missing, as in model.NumericWindow.
func (s *Sketch) AddFloat(v float64) error {
	if s.kind != model.KindNumeric {
		return fmt.Errorf("add %v to a %s sketch: %w", v, s.kind, ErrKind)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		s.missing++
		return nil
	}
	if s.count == 0 {
		s.min, s.max = v, v
	} else if v < s.min {
		s.min = v
	} else if v > s.max {
		s.max = v
	}
	s.count++
	s.sum += v
	s.sumSq += v * v
	if v < s.refMin {
		s.below++
	} else if v > s.refMax {
		s.above++
	}
	s.counts[s.bin(v)]++
	return nil
}

// bin is model.Distribution.Bin without the closure of sort.Search: the
// number of edges ≤ v, minus one, clamped to the bins.
func (s *Sketch) bin(v float64) int {
	lo, hi := 0, len(s.edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.edges[m] <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return min(max(lo-1, 0), len(s.counts)-1)
}

// AddString adds a value of a categorical feature. A category that the
// reference does not keep is unseen: counted, and named while fewer than
// MaxUnseen unseen categories are named.
func (s *Sketch) AddString(v string) error {
	if s.kind != model.KindCategorical {
		return fmt.Errorf("add %q to a %s sketch: %w", v, s.kind, ErrKind)
	}
	s.count++
	if i, ok := s.index[v]; ok {
		s.catCounts[i]++
		return nil
	}
	s.unseen++
	if _, ok := s.unseenTop[v]; ok || len(s.unseenTop) < s.maxUnseen {
		if s.unseenTop == nil {
			s.unseenTop = make(map[string]int64)
		}
		s.unseenTop[v]++
	}
	return nil
}

// AddMissing adds a missing value (null, absent) of either kind.
func (s *Sketch) AddMissing() { s.missing++ }

// Merge adds the values of o, a sketch of the same reference, to s. The
// named unseen categories of the merge are the MaxUnseen most frequent of
// both (ties by name); the unseen total stays exact.
func (s *Sketch) Merge(o *Sketch) error {
	if err := s.sameReference(o); err != nil {
		return fmt.Errorf("merge sketches: %w", err)
	}
	if o.count > 0 {
		if s.count == 0 {
			s.min, s.max = o.min, o.max
		} else {
			s.min, s.max = math.Min(s.min, o.min), math.Max(s.max, o.max)
		}
	}
	s.count += o.count
	s.missing += o.missing
	s.sum += o.sum
	s.sumSq += o.sumSq
	s.below += o.below
	s.above += o.above
	for i := range o.counts {
		s.counts[i] += o.counts[i]
	}
	for i := range o.catCounts {
		s.catCounts[i] += o.catCounts[i]
	}
	s.unseen += o.unseen
	if len(o.unseenTop) > 0 {
		if s.unseenTop == nil {
			s.unseenTop = make(map[string]int64, len(o.unseenTop))
		}
		for c, n := range o.unseenTop {
			s.unseenTop[c] += n
		}
		s.unseenTop = topCategories(s.unseenTop, s.maxUnseen)
	}
	return nil
}

func (s *Sketch) sameReference(o *Sketch) error {
	switch {
	case s.kind != o.kind:
		return fmt.Errorf("%s and %s: %w", s.kind, o.kind, ErrMismatch)
	case !slices.Equal(s.edges, o.edges):
		return fmt.Errorf("bin edges differ: %w", ErrMismatch)
	case s.refMin != o.refMin || s.refMax != o.refMax:
		return fmt.Errorf("reference ranges differ: %w", ErrMismatch)
	case !slices.Equal(s.categories, o.categories):
		return fmt.Errorf("categories differ: %w", ErrMismatch)
	}
	return nil
}

// fits reports whether s was built on ref.
func (s *Sketch) fits(ref model.Distribution) error {
	if s.kind != ref.Kind {
		return fmt.Errorf("%s sketch against a %s reference: %w", s.kind, ref.Kind, ErrMismatch)
	}
	switch s.kind {
	case model.KindNumeric:
		if !slices.Equal(s.edges, ref.Edges) {
			return fmt.Errorf("bin edges differ from the reference's: %w", ErrMismatch)
		}
	case model.KindCategorical:
		if !slices.Equal(s.categories, ref.CategoryNames()) {
			return fmt.Errorf("categories differ from the reference's: %w", ErrMismatch)
		}
	}
	return nil
}

func topCategories(m map[string]int64, k int) map[string]int64 {
	if len(m) <= k {
		return m
	}
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	top := make(map[string]int64, k)
	for _, c := range names[:k] {
		top[c] = m[c]
	}
	return top
}

// Clone returns a deep copy of s.
func (s *Sketch) Clone() *Sketch {
	c := *s
	c.edges = slices.Clone(s.edges)
	c.counts = slices.Clone(s.counts)
	c.categories = slices.Clone(s.categories)
	c.catCounts = slices.Clone(s.catCounts)
	c.unseenTop = maps.Clone(s.unseenTop)
	if s.kind == model.KindCategorical {
		c.buildIndex()
	}
	return &c
}

// Distribution returns the window as a model.Distribution on the
// reference's bins (numeric, like model.NumericWindow) or categories
// (categorical, unseen values in Other, like model.CategoricalWindow).
func (s *Sketch) Distribution() model.Distribution {
	d := model.Distribution{Kind: s.kind, Count: s.count, Missing: s.missing}
	switch s.kind {
	case model.KindNumeric:
		d.Edges = slices.Clone(s.edges)
		d.Counts = slices.Clone(s.counts)
		if s.count > 0 {
			d.Min, d.Max = s.min, s.max
			d.Mean = s.sum / float64(s.count)
			d.StdDev = math.Sqrt(math.Max(0, s.sumSq/float64(s.count)-d.Mean*d.Mean))
		}
	case model.KindCategorical:
		d.Categories = make(map[string]int64, len(s.categories))
		for i, c := range s.categories {
			d.Categories[c] = s.catCounts[i]
		}
		d.Other = s.unseen
	}
	return d
}

// Quality is the data quality of a feature in a window.
type Quality struct {
	// Total is the number of values, missing ones included.
	Total int64 `json:"total"`
	// Missing values and their share of Total.
	Missing      int64   `json:"missing"`
	MissingShare float64 `json:"missing_share"`
	// Numeric: values below the reference's minimum or above its maximum,
	// and their share of the values that are not missing.
	Below           int64   `json:"below_range,omitempty"`
	Above           int64   `json:"above_range,omitempty"`
	OutOfRangeShare float64 `json:"out_of_range_share,omitempty"`
	// Categorical: values of categories the reference does not keep, their
	// share of the values that are not missing, and the most frequent of
	// those categories with their counts (at most MaxUnseen; after a merge
	// a count can be lower than the truth when the category was not named
	// in every merged window).
	Unseen      int64            `json:"unseen,omitempty"`
	UnseenShare float64          `json:"unseen_share,omitempty"`
	UnseenTop   map[string]int64 `json:"unseen_top,omitempty"`
}

// Quality returns the data quality of the window.
func (s *Sketch) Quality() Quality {
	q := Quality{Total: s.count + s.missing, Missing: s.missing, Below: s.below, Above: s.above, Unseen: s.unseen, UnseenTop: maps.Clone(s.unseenTop)}
	if q.Total > 0 {
		q.MissingShare = float64(s.missing) / float64(q.Total)
	}
	if s.count > 0 {
		q.OutOfRangeShare = float64(s.below+s.above) / float64(s.count)
		q.UnseenShare = float64(s.unseen) / float64(s.count)
	}
	return q
}
