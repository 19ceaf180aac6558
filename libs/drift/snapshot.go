package drift

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/tributary-ml/tributary/libs/model"
)

// sketchJSON is the snapshot form of a Sketch. Floats round-trip exactly
// through encoding/json (shortest representation).
type sketchJSON struct {
	Kind    model.Kind `json:"kind"`
	Count   int64      `json:"count"`
	Missing int64      `json:"missing"`

	Edges  []float64 `json:"edges,omitempty"`
	Counts []int64   `json:"counts,omitempty"`
	Min    float64   `json:"min,omitempty"`
	Max    float64   `json:"max,omitempty"`
	Sum    float64   `json:"sum,omitempty"`
	SumSq  float64   `json:"sum_sq,omitempty"`
	RefMin float64   `json:"ref_min,omitempty"`
	RefMax float64   `json:"ref_max,omitempty"`
	Below  int64     `json:"below,omitempty"`
	Above  int64     `json:"above,omitempty"`

	Categories     []string         `json:"categories,omitempty"`
	CategoryCounts []int64          `json:"category_counts,omitempty"`
	Unseen         int64            `json:"unseen,omitempty"`
	UnseenTop      map[string]int64 `json:"unseen_top,omitempty"`
	MaxUnseen      int              `json:"max_unseen"`
}

// MarshalJSON encodes the sketch for a snapshot.
func (s *Sketch) MarshalJSON() ([]byte, error) {
	return json.Marshal(sketchJSON{
		Kind: s.kind, Count: s.count, Missing: s.missing,
		Edges: s.edges, Counts: s.counts, Min: s.min, Max: s.max, Sum: s.sum, SumSq: s.sumSq,
		RefMin: s.refMin, RefMax: s.refMax, Below: s.below, Above: s.above,
		Categories: s.categories, CategoryCounts: s.catCounts, Unseen: s.unseen, UnseenTop: s.unseenTop,
		MaxUnseen: s.maxUnseen,
	})
}

// UnmarshalJSON decodes a snapshot of a sketch and checks that it is
// consistent; an inconsistent one is an error wrapping ErrCorrupt.
func (s *Sketch) UnmarshalJSON(b []byte) error {
	var j sketchJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode sketch: %w: %w", ErrCorrupt, err)
	}
	if err := j.check(); err != nil {
		return fmt.Errorf("decode sketch: %w: %w", ErrCorrupt, err)
	}
	*s = Sketch{
		kind: j.Kind, count: j.Count, missing: j.Missing,
		edges: j.Edges, counts: j.Counts, min: j.Min, max: j.Max, sum: j.Sum, sumSq: j.SumSq,
		refMin: j.RefMin, refMax: j.RefMax, below: j.Below, above: j.Above,
		categories: j.Categories, catCounts: j.CategoryCounts, unseen: j.Unseen, unseenTop: j.UnseenTop,
		maxUnseen: j.MaxUnseen,
	}
	if s.kind == model.KindCategorical {
		s.buildIndex()
	}
	return nil
}

func (j sketchJSON) check() error {
	if j.Count < 0 || j.Missing < 0 {
		return fmt.Errorf("negative count")
	}
	for _, f := range []float64{j.Min, j.Max, j.Sum, j.SumSq, j.RefMin, j.RefMax} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("non-finite number")
		}
	}
	switch j.Kind {
	case model.KindNumeric:
		ref := model.Distribution{Kind: model.KindNumeric, Edges: j.Edges, Counts: j.Counts, Count: j.Count}
		if err := ref.Validate(); err != nil {
			return err
		}
		if j.Below < 0 || j.Above < 0 || j.Below+j.Above > j.Count {
			return fmt.Errorf("%d below and %d above the range of %d values", j.Below, j.Above, j.Count)
		}
		if j.Count > 0 && j.Min > j.Max || j.RefMin > j.RefMax || j.SumSq < 0 {
			return fmt.Errorf("inconsistent range")
		}
		if len(j.Categories)+len(j.CategoryCounts)+len(j.UnseenTop) > 0 || j.Unseen != 0 {
			return fmt.Errorf("categories in a numeric sketch")
		}
	case model.KindCategorical:
		if len(j.Categories) != len(j.CategoryCounts) {
			return fmt.Errorf("%d counts for %d categories", len(j.CategoryCounts), len(j.Categories))
		}
		if !slices.IsSorted(j.Categories) || len(slices.Compact(slices.Clone(j.Categories))) != len(j.Categories) {
			return fmt.Errorf("categories not sorted and unique")
		}
		total := j.Unseen
		for _, c := range j.CategoryCounts {
			if c < 0 {
				return fmt.Errorf("negative category count")
			}
			total += c
		}
		if j.Unseen < 0 || total != j.Count {
			return fmt.Errorf("category counts and unseen sum to %d, count is %d", total, j.Count)
		}
		if j.MaxUnseen < 0 || len(j.UnseenTop) > j.MaxUnseen {
			return fmt.Errorf("%d unseen categories named, at most %d", len(j.UnseenTop), j.MaxUnseen)
		}
		var named int64
		for c, n := range j.UnseenTop {
			if _, known := slices.BinarySearch(j.Categories, c); known || n <= 0 {
				return fmt.Errorf("unseen category %q", c)
			}
			named += n
		}
		if named > j.Unseen {
			return fmt.Errorf("named unseen categories count %d of %d", named, j.Unseen)
		}
		if len(j.Edges)+len(j.Counts) > 0 || j.Below+j.Above != 0 {
			return fmt.Errorf("bins in a categorical sketch")
		}
	default:
		return fmt.Errorf("kind %q", j.Kind)
	}
	return nil
}
