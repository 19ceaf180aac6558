package categorical

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/tributary-ml/tributary/libs/learn"
)

// DefaultMaxCategories is how many categories a vocabulary keeps when the
// caller does not say.
const DefaultMaxCategories = 64

// Encoding is how a learner sees a categorical feature's code.
type Encoding string

// Encodings.
const (
	// OneHot gives the learner one 0/1 column per code (the kept
	// categories, then Other); a missing code is NaN in every column, so
	// the learner's missing-value rule applies. For linear models.
	OneHot Encoding = "onehot"
	// Ordinal gives the learner the code itself (0, 1, ... in order of
	// frequency), NaN when missing. For trees, which isolate any code with
	// at most two splits.
	Ordinal Encoding = "ordinal"
)

// OtherName is the column name suffix of the Other code in one-hot columns.
const OtherName = "<other>"

// Vocabulary maps the categories of a feature to codes: code i is
// Categories[i] (most frequent first in training, ties by name); when
// Other is set, code len(Categories) stands for every other category,
// those the training rows had beyond the cap and any new one. Without
// Other, a category the vocabulary does not hold has no code: it is a
// missing value.
type Vocabulary struct {
	Categories []string `json:"categories"`
	Other      bool     `json:"other,omitempty"`

	index map[string]int // built by Learn and Check
}

// Learn builds the vocabulary of values (the present values of one
// feature on the training rows), keeping the maxCategories most frequent
// (DefaultMaxCategories when maxCategories < 1); the rest go to Other.
func Learn(values []string, maxCategories int) *Vocabulary {
	if maxCategories < 1 {
		maxCategories = DefaultMaxCategories
	}
	counts := map[string]int{}
	for _, v := range values {
		counts[v]++
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
	v := &Vocabulary{}
	if len(names) > maxCategories {
		names, v.Other = names[:maxCategories], true
	}
	v.Categories = names
	v.buildIndex()
	return v
}

// Size is the number of codes: the categories, plus one for Other.
func (v *Vocabulary) Size() int {
	if v.Other {
		return len(v.Categories) + 1
	}
	return len(v.Categories)
}

// Code returns the code of category s as a model input: its index, the
// Other code for a category the vocabulary does not hold when it has one,
// NaN (missing) otherwise. known is false when s is not one of the kept
// categories.
func (v *Vocabulary) Code(s string) (code float64, known bool) {
	if v.index != nil {
		if i, ok := v.index[s]; ok {
			return float64(i), true
		}
	} else if i := slices.Index(v.Categories, s); i >= 0 {
		return float64(i), true
	}
	if v.Other {
		return float64(len(v.Categories)), false
	}
	return math.NaN(), false
}

func (v *Vocabulary) buildIndex() {
	v.index = make(map[string]int, len(v.Categories))
	for i, c := range v.Categories {
		v.index[c] = i
	}
}

// check says whether the vocabulary holds together.
func (v *Vocabulary) check() error {
	seen := make(map[string]bool, len(v.Categories))
	for _, c := range v.Categories {
		if seen[c] {
			return fmt.Errorf("category %q is repeated", c)
		}
		seen[c] = true
	}
	v.buildIndex()
	return nil
}

// Feature is the encoding of one categorical feature, as the model file
// stores it.
type Feature struct {
	Feature  string   `json:"feature"`
	Encoding Encoding `json:"encoding"`
	Vocabulary
}

// Check says whether f holds together.
func (f *Feature) Check() error {
	if f.Encoding != OneHot && f.Encoding != Ordinal {
		return fmt.Errorf("categorical feature %q: encoding %q, want %s or %s", f.Feature, f.Encoding, OneHot, Ordinal)
	}
	if err := f.check(); err != nil {
		return fmt.Errorf("categorical feature %q: %w", f.Feature, err)
	}
	return nil
}

// Layout is how the rows of a model with categorical features become the
// inner learner's columns.
type Layout struct {
	features []string   // the outer features, in model order
	cats     []*Feature // per outer feature, nil for a numeric one
	columns  []string   // the inner columns
	offset   []int      // per outer feature, its first inner column
	onehot   bool       // whether any feature is one-hot (else inner == outer)
}

// NewLayout checks cats against features (each names one feature, once)
// and returns the layout. Inner column names are the feature's for a
// numeric or ordinal feature and feature=category (feature=<other>) for a
// one-hot one.
func NewLayout(features []string, cats []Feature) (*Layout, error) {
	l := &Layout{features: slices.Clone(features), cats: make([]*Feature, len(features)), offset: make([]int, len(features))}
	for i := range cats {
		c := &cats[i]
		if err := c.Check(); err != nil {
			return nil, err
		}
		j := slices.Index(features, c.Feature)
		if j < 0 {
			return nil, fmt.Errorf("categorical feature %q is not a feature of the model", c.Feature)
		}
		if l.cats[j] != nil {
			return nil, fmt.Errorf("categorical feature %q is listed twice", c.Feature)
		}
		l.cats[j] = c
	}
	seen := map[string]bool{}
	for j, f := range features {
		l.offset[j] = len(l.columns)
		c := l.cats[j]
		if c == nil || c.Encoding == Ordinal {
			l.columns = append(l.columns, f)
		} else {
			l.onehot = true
			for _, name := range c.Categories {
				l.columns = append(l.columns, f+"="+name)
			}
			if c.Other {
				l.columns = append(l.columns, f+"="+OtherName)
			}
		}
	}
	for _, c := range l.columns {
		if seen[c] {
			return nil, fmt.Errorf("encoded column %q is repeated", c)
		}
		seen[c] = true
	}
	return l, nil
}

// Columns are the inner learner's column names.
func (l *Layout) Columns() []string { return slices.Clone(l.columns) }

// Categorical returns the encoding of feature j, nil for a numeric one.
func (l *Layout) Categorical(j int) *Feature { return l.cats[j] }

// Features returns the encodings of the categorical features, in model
// order.
func (l *Layout) Features() []Feature {
	var out []Feature
	for _, c := range l.cats {
		if c != nil {
			f := Feature{Feature: c.Feature, Encoding: c.Encoding, Vocabulary: Vocabulary{Categories: slices.Clone(c.Categories), Other: c.Other}}
			f.buildIndex()
			out = append(out, f)
		}
	}
	return out
}

// Expand writes the inner columns of row (one value per outer feature, a
// code for a categorical one) into dst (len(Columns())). A code that is
// NaN, not an integer or out of range is missing.
func (l *Layout) Expand(row, dst []float64) {
	for j, x := range row[:len(l.features)] {
		o := l.offset[j]
		c := l.cats[j]
		switch {
		case c == nil:
			dst[o] = x
		case c.Encoding == Ordinal:
			dst[o] = codeOrNaN(x, c.Size())
		default:
			n := c.Size()
			k := codeOrNaN(x, n)
			for i := range n {
				switch {
				case math.IsNaN(k):
					dst[o+i] = math.NaN()
				case int(k) == i:
					dst[o+i] = 1
				default:
					dst[o+i] = 0
				}
			}
		}
	}
}

func codeOrNaN(x float64, size int) float64 {
	if x >= 0 && x < float64(size) && x == math.Trunc(x) {
		return x
	}
	return math.NaN()
}

// Encode returns d with its columns expanded (d itself when no feature is
// one-hot): the training set of the inner learner. d holds codes in the
// categorical columns.
func (l *Layout) Encode(d *learn.Dataset) *learn.Dataset {
	out := *d
	out.Features = l.Columns()
	out.Cols = len(l.columns)
	if !l.onehot {
		out.X = slices.Clone(d.X)
		for j, c := range l.cats {
			if c != nil {
				for i := range d.Rows {
					out.X[i*d.Cols+j] = codeOrNaN(out.X[i*d.Cols+j], c.Size())
				}
			}
		}
		return &out
	}
	out.X = make([]float64, d.Rows*out.Cols)
	for i := range d.Rows {
		l.Expand(d.Row(i), out.X[i*out.Cols:(i+1)*out.Cols])
	}
	return &out
}

// Model is a model of the outer features whose learner was trained on the
// layout's inner columns: Predict takes a row of codes and numbers.
type Model struct {
	info   learn.ModelInfo
	layout *Layout
	inner  learn.Model
	pool   sync.Pool
}

// Wrap returns the model of the layout's outer features over inner, a
// model of its inner columns.
func Wrap(layout *Layout, inner learn.Model) (*Model, error) {
	in := inner.Info()
	if !slices.Equal(in.Features, layout.columns) {
		return nil, fmt.Errorf("the inner model reads %d columns %v, the layout has %d", len(in.Features), in.Features, len(layout.columns))
	}
	info := in
	info.Features = slices.Clone(layout.features)
	m := &Model{info: info, layout: layout, inner: inner}
	width := len(layout.columns)
	m.pool.New = func() any { b := make([]float64, width); return &b }
	return m, nil
}

// Info describes the model by its outer features; Kind is the learner's.
func (m *Model) Info() learn.ModelInfo {
	info := m.info
	info.Features = slices.Clone(info.Features)
	return info
}

// Outputs is the inner model's.
func (m *Model) Outputs() int { return m.inner.Outputs() }

// Layout is the model's encoding of its features.
func (m *Model) Layout() *Layout { return m.layout }

// Inner is the learner's model of the inner columns.
func (m *Model) Inner() learn.Model { return m.inner }

// Predict scores a row of the outer features (codes for the categorical
// ones, NaN for missing). It is safe for concurrent use.
func (m *Model) Predict(row, out []float64) {
	if !m.layout.onehot {
		var buf [64]float64
		var x []float64
		if len(row) <= len(buf) {
			x = buf[:len(row)]
		} else {
			x = make([]float64, len(row))
		}
		copy(x, row)
		for j, c := range m.layout.cats {
			if c != nil {
				x[j] = codeOrNaN(x[j], c.Size())
			}
		}
		m.inner.Predict(x, out)
		return
	}
	bp := m.pool.Get().(*[]float64)
	m.layout.Expand(row, *bp)
	m.inner.Predict(*bp, out)
	m.pool.Put(bp)
}
