package drift

import (
	"fmt"
	"math"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
)

// Method names a drift statistic; the names are stable (they go into
// tables and alerts).
type Method string

// Methods.
const (
	MethodPSI           Method = "psi"
	MethodKS            Method = "ks"
	MethodWasserstein   Method = "wasserstein"
	MethodChiSquare     Method = "chi_squared"
	MethodJensenShannon Method = "jensen_shannon"
)

// Skip reasons: why a feature's drift was not judged. Stable ids.
const (
	SkipFewValues      = "few_values"      // fewer than Config.MinCount values in the window
	SkipEmptyReference = "empty_reference" // the reference has no values
)

// wassersteinNormMin is the smallest standard deviation the Wasserstein
// distance is divided by, as in Evidently: a constant reference would
// otherwise divide by 0.
const wassersteinNormMin = 1e-3

// Metric is one statistic of a feature in a window.
type Metric struct {
	Method Method `json:"method"`
	// Value is the statistic: PSI, the KS statistic D, the Wasserstein
	// distance over the reference's standard deviation, χ², or the
	// Jensen–Shannon distance.
	Value float64 `json:"value"`
	// PValue of the tests (KS, chi-squared); nil for the distances.
	PValue *float64 `json:"p_value,omitempty"`
	// Threshold is the PValue below which, or the Value above which, the
	// feature has drifted.
	Threshold float64 `json:"threshold"`
	// Bound is what the binning can hide. KS: the largest statistic raw
	// samples with these bin counts can have (Value ≤ raw KS ≤ Bound).
	// Wasserstein: the largest difference between Value and the raw
	// samples' normalised distance. 0 for the others (exact on the bins).
	Bound   float64 `json:"bound,omitempty"`
	Drifted bool    `json:"drifted"`
}

// FeatureReport is the drift and data quality of one feature (or of the
// prediction) in one window.
type FeatureReport struct {
	Name    string     `json:"name"`
	Kind    model.Kind `json:"kind"`
	Count   int64      `json:"count"`
	Quality Quality    `json:"quality"`
	Metrics []Metric   `json:"metrics,omitempty"`
	// Skipped says why no drift was judged (SkipFewValues,
	// SkipEmptyReference); Metrics are then computed if they can be, but
	// none is Drifted.
	Skipped string `json:"skipped,omitempty"`
	// Drifted is true when any metric has drifted.
	Drifted bool `json:"drifted"`
}

// Report is the drift of a window: per feature in name order, and of the
// prediction.
type Report struct {
	Start      time.Time       `json:"start"`
	End        time.Time       `json:"end"`
	Features   []FeatureReport `json:"features"`
	Prediction FeatureReport   `json:"prediction"`
	// Drifted is true when a feature or the prediction has drifted.
	Drifted bool `json:"drifted"`
}

// CompareWindow compares every sketch of w with its reference in ref (the
// reference w was built from).
func CompareWindow(ref model.Reference, w *Window, cfg Config) (Report, error) {
	r := Report{Start: w.start, End: w.end}
	if len(ref.Features) != len(w.names) {
		return Report{}, fmt.Errorf("compare window: %d reference features, %d in the window: %w", len(ref.Features), len(w.names), ErrMismatch)
	}
	for i, name := range w.names {
		d, ok := ref.Features[name]
		if !ok {
			return Report{}, fmt.Errorf("compare window: feature %q has no reference: %w", name, ErrMismatch)
		}
		fr, err := Compare(name, d, w.features[i], cfg)
		if err != nil {
			return Report{}, fmt.Errorf("compare window: %w", err)
		}
		r.Features = append(r.Features, fr)
		r.Drifted = r.Drifted || fr.Drifted
	}
	p, err := Compare("prediction", ref.Prediction, w.prediction, cfg)
	if err != nil {
		return Report{}, fmt.Errorf("compare window: %w", err)
	}
	r.Prediction = p
	r.Drifted = r.Drifted || p.Drifted
	return r, nil
}

// Compare compares the sketch s of a window with the reference ref it was
// built from. Numeric features get PSI, KS and Wasserstein on ref's bins;
// categorical ones chi-squared and Jensen–Shannon on ref's categories plus
// one column for the rest (ref.Other against the window's unseen values).
func Compare(name string, ref model.Distribution, s *Sketch, cfg Config) (FeatureReport, error) {
	if err := ref.Validate(); err != nil {
		return FeatureReport{}, fmt.Errorf("compare %q: reference: %w", name, err)
	}
	if err := s.fits(ref); err != nil {
		return FeatureReport{}, fmt.Errorf("compare %q: %w", name, err)
	}
	fr := FeatureReport{Name: name, Kind: s.kind, Count: s.count, Quality: s.Quality()}
	switch {
	case ref.Count == 0:
		fr.Skipped = SkipEmptyReference
		return fr, nil
	case s.count == 0:
		fr.Skipped = SkipFewValues
		return fr, nil
	case s.count < cfg.MinCount:
		fr.Skipped = SkipFewValues
	}
	var err error
	if s.kind == model.KindNumeric {
		fr.Metrics, err = compareNumeric(ref, s, cfg)
	} else {
		fr.Metrics, err = compareCategorical(ref, s, cfg)
	}
	if err != nil {
		return FeatureReport{}, fmt.Errorf("compare %q: %w", name, err)
	}
	for i := range fr.Metrics {
		if fr.Skipped != "" {
			fr.Metrics[i].Drifted = false
		}
		fr.Drifted = fr.Drifted || fr.Metrics[i].Drifted
	}
	return fr, nil
}

func compareNumeric(ref model.Distribution, s *Sketch, cfg Config) ([]Metric, error) {
	e, a := shares(ref.Counts), shares(s.counts)
	psi, err := PSI(e, a, cfg.PSIEpsilon)
	if err != nil {
		return nil, err
	}
	ks, err := KSBinned(ref.Counts, s.counts)
	if err != nil {
		return nil, err
	}
	w, bound, err := wassersteinBinned(ref, s)
	if err != nil {
		return nil, err
	}
	norm := math.Max(ref.StdDev, wassersteinNormMin)
	return []Metric{
		{Method: MethodPSI, Value: psi, Threshold: cfg.PSI, Drifted: psi > cfg.PSI},
		{Method: MethodKS, Value: ks.Statistic, PValue: &ks.PValue, Threshold: cfg.KSPValue, Bound: KSBinnedUpper(ref.Counts, s.counts), Drifted: ks.PValue < cfg.KSPValue},
		{Method: MethodWasserstein, Value: w / norm, Threshold: cfg.Wasserstein, Bound: bound / norm, Drifted: w/norm > cfg.Wasserstein},
	}, nil
}

// BinExtents returns where the values of each bin can lie: bin i of
// edges, narrowed to [lo, hi] (the smallest and largest value of the
// sample), where the first bin reaches down to lo and the last up to hi
// (they hold the values beyond the edges).
func BinExtents(edges []float64, lo, hi float64) (from, to []float64) {
	n := len(edges) - 1
	from, to = make([]float64, n), make([]float64, n)
	for i := range n {
		l, h := math.Inf(-1), math.Inf(1)
		if i > 0 {
			l = edges[i]
		}
		if i < n-1 {
			h = edges[i+1]
		}
		from[i], to[i] = math.Max(l, lo), math.Min(h, hi)
		if from[i] > to[i] { // no value can be in this bin
			from[i], to[i] = edges[i], edges[i+1]
		}
	}
	return from, to
}

// wassersteinBinned is the Wasserstein-1 distance between the reference and
// the window with the values of bin i put at one point c_i, the middle of
// the bin's extent in the reference (BinExtents with the reference's Min
// and Max), the same point on both sides so that two equal histograms are
// at distance 0. The window's values below the reference's Min and above
// its Max (counted by the sketch) go to two more points, the middles of
// [window Min, reference Min] and [reference Max, window Max], where the
// reference has no mass.
//
// It returns the bound of the difference from the raw samples' distance:
// moving a value to its point moves it by at most the distance from the
// point to the farther end of where the value can lie, so by the triangle
// inequality |W(raw) − W(binned)| ≤ Σ p_i·(h_i−l_i)/2 + Σ q_j·r_j, with p
// and q the shares, [l_i, h_i] the reference's extents and r_j the largest
// move of a window value of point j.
func wassersteinBinned(ref model.Distribution, s *Sketch) (dist, bound float64, err error) {
	n := len(ref.Edges) - 1
	rf, rt := BinExtents(ref.Edges, ref.Min, ref.Max)
	lo, hi := math.Min(ref.Min, s.min), math.Max(ref.Max, s.max)
	wf, wt := BinExtents(ref.Edges, lo, hi)
	points := make([]float64, 0, n+2)
	rw := make([]float64, 0, n+2)
	ww := make([]float64, 0, n+2)
	wc := int64s(s.counts)
	// The values outside the reference's range are in the outer bins when
	// the reference's range reaches into them (always for model.NewNumeric).
	split := ref.Bin(ref.Min) == 0 && ref.Bin(ref.Max) == n-1 && (s.below > 0 || s.above > 0)
	if split {
		wc[0] -= float64(s.below)
		wc[n-1] -= float64(s.above)
		if s.below > 0 {
			points = append(points, s.min+(ref.Min-s.min)/2)
			rw, ww = append(rw, 0), append(ww, float64(s.below))
			bound += float64(s.below) / float64(s.count) * (ref.Min - s.min) / 2
		}
		wf, wt = rf, rt
	}
	for i := range n {
		c := rf[i] + (rt[i]-rf[i])/2
		points = append(points, c)
		rw, ww = append(rw, float64(ref.Counts[i])), append(ww, wc[i])
		bound += float64(ref.Counts[i]) / float64(ref.Count) * (rt[i] - rf[i]) / 2
		if wc[i] > 0 {
			bound += wc[i] / float64(s.count) * math.Max(math.Abs(c-wf[i]), math.Abs(wt[i]-c))
		}
	}
	if split && s.above > 0 {
		points = append(points, ref.Max+(s.max-ref.Max)/2)
		rw, ww = append(rw, 0), append(ww, float64(s.above))
		bound += float64(s.above) / float64(s.count) * (s.max - ref.Max) / 2
	}
	dist, err = WassersteinWeighted(points, points, rw, ww)
	if err != nil {
		return 0, 0, err
	}
	return dist, bound, nil
}

func compareCategorical(ref model.Distribution, s *Sketch, cfg Config) ([]Metric, error) {
	rc := make([]int64, 0, len(s.categories)+1)
	for _, c := range s.categories {
		rc = append(rc, ref.Categories[c])
	}
	rc = append(rc, ref.Other)
	wc := append(append(make([]int64, 0, len(rc)), s.catCounts...), s.unseen)
	chi, _, err := ChiSquare(rc, wc)
	if err != nil {
		return nil, err
	}
	js, err := JensenShannon(int64s(rc), int64s(wc))
	if err != nil {
		return nil, err
	}
	return []Metric{
		{Method: MethodChiSquare, Value: chi.Statistic, PValue: &chi.PValue, Threshold: cfg.ChiSquarePValue, Drifted: chi.PValue < cfg.ChiSquarePValue},
		{Method: MethodJensenShannon, Value: js, Threshold: cfg.JensenShannon, Drifted: js > cfg.JensenShannon},
	}, nil
}

func shares(c []int64) []float64 {
	n := float64(sum(c))
	out := make([]float64, len(c))
	if n == 0 {
		return out
	}
	for i, v := range c {
		out[i] = float64(v) / n
	}
	return out
}

func int64s(c []int64) []float64 {
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = float64(v)
	}
	return out
}
