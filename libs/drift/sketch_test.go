package drift

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/model"
)

func normals(r *rand.Rand, n int, mean, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = mean + sd*r.NormFloat64()
	}
	return v
}

func numericSketch(t testing.TB, ref model.Distribution, values []float64) *Sketch {
	t.Helper()
	s, err := NewSketch(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := s.AddFloat(v); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSketchBinsLikeModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ref := model.NewNumeric(normals(r, 1000, 0, 1), 10)
	values := append(normals(r, 5000, 0.3, 2), ref.Edges...)
	values = append(values, math.NaN(), math.Inf(1), math.Inf(-1), -100, 100)
	s := numericSketch(t, ref, values)
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if got, want := s.bin(v), ref.Bin(v); got != want {
			t.Fatalf("bin(%v) = %d, model says %d", v, got, want)
		}
	}
	got, want := s.Distribution(), model.NumericWindow(ref.Edges, values)
	if !slices.Equal(got.Counts, want.Counts) || got.Count != want.Count || got.Missing != want.Missing || got.Min != want.Min || got.Max != want.Max {
		t.Errorf("sketch %+v, model.NumericWindow %+v", got, want)
	}
	near(t, "mean", got.Mean, want.Mean, 1e-12)
	near(t, "stddev", got.StdDev, want.StdDev, 1e-12)
	if err := got.Validate(); err != nil {
		t.Errorf("sketch distribution: %v", err)
	}
}

func TestSketchQuality(t *testing.T) {
	ref := model.NewNumeric([]float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5)
	s := numericSketch(t, ref, []float64{-1, 0, 5, 10, 10.5, 11, math.NaN()})
	s.AddMissing()
	q := s.Quality()
	want := Quality{Total: 8, Missing: 2, MissingShare: 0.25, Below: 1, Above: 2, OutOfRangeShare: 0.5}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("quality %+v, want %+v", q, want)
	}

	cref := model.NewCategorical([]string{"a", "a", "b", "c"}, 0)
	c, err := NewSketch(cref, WithMaxUnseen(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range strings.Split("a,b,x,y,z,x,z,c,x", ",") {
		if err := c.AddString(v); err != nil {
			t.Fatal(err)
		}
	}
	c.AddMissing()
	q = c.Quality()
	want = Quality{Total: 10, Missing: 1, MissingShare: 0.1, Unseen: 6, UnseenShare: 6.0 / 9, UnseenTop: map[string]int64{"x": 3, "y": 1}}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("quality %+v, want %+v", q, want)
	}
	d := c.Distribution()
	if d.Other != 6 || d.Categories["a"] != 1 || d.Count != 9 || d.Validate() != nil {
		t.Errorf("distribution %+v", d)
	}
	if err := c.AddFloat(1); !errors.Is(err, ErrKind) {
		t.Errorf("AddFloat on categorical: %v, want ErrKind", err)
	}
	if err := s.AddString("a"); !errors.Is(err, ErrKind) {
		t.Errorf("AddString on numeric: %v, want ErrKind", err)
	}
}

// TestSketchMergeEqualsWhole: the merge of the sketches of parts is the
// sketch of the whole, in any order.
func TestSketchMergeEqualsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ref := model.NewNumeric(normals(r, 2000, 10, 3), 20)
	values := normals(r, 3000, 11, 4)
	values[7] = math.NaN()
	whole := numericSketch(t, ref, values)
	parts := []*Sketch{numericSketch(t, ref, values[:1000]), numericSketch(t, ref, values[1000:1001]), numericSketch(t, ref, nil), numericSketch(t, ref, values[1001:])}
	merged := numericSketch(t, ref, nil)
	for _, i := range []int{2, 3, 0, 1} {
		if err := merged.Merge(parts[i]); err != nil {
			t.Fatal(err)
		}
	}
	w, m := whole.Distribution(), merged.Distribution()
	if !slices.Equal(w.Counts, m.Counts) || w.Count != m.Count || w.Missing != m.Missing || w.Min != m.Min || w.Max != m.Max || !reflect.DeepEqual(whole.Quality(), merged.Quality()) {
		t.Errorf("merged %+v, whole %+v", m, w)
	}
	near(t, "merged mean", m.Mean, w.Mean, 1e-12)

	cref := model.NewCategorical(strings.Split("a,b,c,a", ","), 0)
	cat := func(vals string) *Sketch {
		s, err := NewSketch(cref, WithMaxUnseen(2))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range strings.Split(vals, ",") {
			if err := s.AddString(v); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	a, b := cat("a,x,x,y"), cat("b,z,z,z,y,c")
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	q := a.Quality()
	if q.Unseen != 7 || !reflect.DeepEqual(q.UnseenTop, map[string]int64{"z": 3, "x": 2}) {
		t.Errorf("merged unseen %d %v, want 7 and the two most frequent", q.Unseen, q.UnseenTop)
	}
	if err := a.Merge(whole); !errors.Is(err, ErrMismatch) {
		t.Errorf("merge of a numeric into a categorical sketch: %v, want ErrMismatch", err)
	}
	other := numericSketch(t, model.NewNumeric(normals(r, 100, 0, 1), 5), nil)
	if err := whole.Merge(other); !errors.Is(err, ErrMismatch) {
		t.Errorf("merge across references: %v, want ErrMismatch", err)
	}
}

func TestSketchSnapshotRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ref := model.NewNumeric(normals(r, 500, 0, 1), 10)
	num := numericSketch(t, ref, append(normals(r, 300, 0.1, 1.1), math.NaN(), -9))
	cat, err := NewSketch(model.NewCategorical(strings.Split("red,green,blue,red", ","), 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range strings.Split("red,teal,blue,teal,red", ",") {
		if err := cat.AddString(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Sketch{num, cat, numericSketch(t, ref, nil)} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got Sketch
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if !reflect.DeepEqual(&got, s) {
			t.Errorf("round trip of %s: got %+v, want %+v", b, &got, s)
		}
		// The decoded sketch keeps counting where the original stopped.
		if s.kind == model.KindCategorical {
			_ = got.AddString("red")
			_ = s.AddString("red")
		} else {
			_ = got.AddFloat(0.5)
			_ = s.AddFloat(0.5)
		}
		if !reflect.DeepEqual(&got, s) {
			t.Errorf("after an add: got %+v, want %+v", &got, s)
		}
	}
}

func TestSketchSnapshotRejectsCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	num := numericSketch(t, model.NewNumeric(normals(r, 100, 0, 1), 4), normals(r, 50, 0, 1))
	good, err := json.Marshal(num)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := map[string]string{
		"unknown kind":    edit(func(m map[string]any) { m["kind"] = "text" }),
		"count mismatch":  edit(func(m map[string]any) { m["count"] = 49 }),
		"counts length":   edit(func(m map[string]any) { m["counts"] = []int{50} }),
		"edges unordered": edit(func(m map[string]any) { m["edges"] = []float64{3, 2, 1, 0, -1} }),
		"too far out":     edit(func(m map[string]any) { m["below"] = 40; m["above"] = 40 }),
		"categories in numeric": edit(func(m map[string]any) {
			m["categories"] = []string{"a"}
			m["category_counts"] = []int{0}
		}),
		"categorical sums": `{"kind":"categorical","count":3,"categories":["a","b"],"category_counts":[1,1],"max_unseen":2}`,
		"unsorted":         `{"kind":"categorical","count":2,"categories":["b","a"],"category_counts":[1,1],"max_unseen":2}`,
		"unseen known":     `{"kind":"categorical","count":2,"categories":["a"],"category_counts":[1],"unseen":1,"unseen_top":{"a":1},"max_unseen":2}`,
		"unseen over cap":  `{"kind":"categorical","count":3,"categories":["a"],"category_counts":[1],"unseen":2,"unseen_top":{"x":1,"y":1},"max_unseen":1}`,
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			var s Sketch
			if err := json.Unmarshal([]byte(b), &s); !errors.Is(err, ErrCorrupt) {
				t.Errorf("unmarshal %s: %v, want ErrCorrupt", b, err)
			}
		})
	}
}

// TestBinnedBounds checks the approximation the sketch makes against the
// exact sample statistics: the KS statistic on the reference's bins is a
// lower bound of the raw samples' and Metric.Bound an upper one; the
// binned Wasserstein distance is within Metric.Bound of the raw one.
func TestBinnedBounds(t *testing.T) {
	type gen func(r *rand.Rand, n int) []float64
	normal := func(mean, sd float64) gen {
		return func(r *rand.Rand, n int) []float64 { return normals(r, n, mean, sd) }
	}
	expo := func(rate float64) gen {
		return func(r *rand.Rand, n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = r.ExpFloat64() / rate
			}
			return v
		}
	}
	ints := func(k int) gen {
		return func(r *rand.Rand, n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(r.IntN(k))
			}
			return v
		}
	}
	tests := []struct {
		name     string
		ref, win gen
		bins     int
	}{
		{"normal same 10 bins", normal(0, 1), normal(0, 1), 10},
		{"normal shifted 10 bins", normal(0, 1), normal(0.5, 1), 10},
		{"normal wider 20 bins", normal(0, 1), normal(0, 2), 20},
		{"normal far outside 5 bins", normal(0, 1), normal(4, 1), 5},
		{"exponential 10 bins", expo(1), expo(0.7), 10},
		{"integers with ties", ints(6), ints(8), 10},
	}
	cfg := DefaultConfig()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 99))
			refSample, winSample := tt.ref(r, 4000), tt.win(r, 1500)
			ref := model.NewNumeric(refSample, tt.bins)
			fr, err := Compare("x", ref, numericSketch(t, ref, winSample), cfg)
			if err != nil {
				t.Fatal(err)
			}
			ks, err := KSStatistic(refSample, winSample)
			if err != nil {
				t.Fatal(err)
			}
			w, err := Wasserstein(refSample, winSample)
			if err != nil {
				t.Fatal(err)
			}
			w /= math.Max(ref.StdDev, wassersteinNormMin)
			m := metrics(fr)
			const slack = 1e-12
			if k := m[MethodKS]; k.Value > ks+slack || ks > k.Bound+slack {
				t.Errorf("binned KS %v, bound %v; raw KS %v not between", k.Value, k.Bound, ks)
			}
			if ww := m[MethodWasserstein]; math.Abs(ww.Value-w) > ww.Bound+slack {
				t.Errorf("binned wasserstein %v, raw %v: off by %v, bound %v", ww.Value, w, math.Abs(ww.Value-w), ww.Bound)
			}
			t.Logf("ks raw %.4f binned %.4f bound %.4f; wasserstein raw %.4f binned %.4f ±%.4f", ks, m[MethodKS].Value, m[MethodKS].Bound, w, m[MethodWasserstein].Value, m[MethodWasserstein].Bound)
		})
	}
}

func metrics(fr FeatureReport) map[Method]Metric {
	m := make(map[Method]Metric)
	for _, x := range fr.Metrics {
		m[x.Method] = x
	}
	return m
}

func TestCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ref := model.NewNumeric(normals(r, 20000, 0, 1), 10)
	cats := func(n int, p []float64) []string {
		v := make([]string, n)
		for i := range v {
			u, c := r.Float64(), 0
			for c < len(p)-1 && u > p[c] {
				u -= p[c]
				c++
			}
			v[i] = fmt.Sprintf("c%d", c)
		}
		return v
	}
	cref := model.NewCategorical(cats(20000, []float64{0.5, 0.3, 0.2}), 0)
	catSketch := func(values []string) *Sketch {
		s, err := NewSketch(cref)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			_ = s.AddString(v)
		}
		return s
	}
	tests := []struct {
		name    string
		ref     model.Distribution
		sketch  *Sketch
		drifted map[Method]bool
		skipped string
	}{
		{"numeric stable", ref, numericSketch(t, ref, normals(r, 5000, 0, 1)), map[Method]bool{}, ""},
		{"numeric shifted", ref, numericSketch(t, ref, normals(r, 5000, 0.5, 1)), map[Method]bool{MethodPSI: true, MethodKS: true, MethodWasserstein: true}, ""},
		{"numeric small shift", ref, numericSketch(t, ref, normals(r, 5000, 0.15, 1)), map[Method]bool{MethodKS: true, MethodWasserstein: true}, ""},
		{"numeric few values", ref, numericSketch(t, ref, normals(r, 50, 3, 1)), map[Method]bool{}, SkipFewValues},
		{"numeric no values", ref, numericSketch(t, ref, []float64{math.NaN()}), map[Method]bool{}, SkipFewValues},
		{"categorical stable", cref, catSketch(cats(5000, []float64{0.5, 0.3, 0.2})), map[Method]bool{}, ""},
		{"categorical shifted", cref, catSketch(cats(5000, []float64{0.3, 0.3, 0.4})), map[Method]bool{MethodChiSquare: true, MethodJensenShannon: true}, ""},
		{"categorical new category", cref, catSketch(cats(5000, []float64{0.45, 0.27, 0.18, 0.1})), map[Method]bool{MethodChiSquare: true, MethodJensenShannon: true}, ""},
		{"categorical rare new category", cref, catSketch(cats(5000, []float64{0.495, 0.297, 0.198, 0.01})), map[Method]bool{MethodChiSquare: true}, ""},
	}
	cfg := DefaultConfig()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr, err := Compare("f", tt.ref, tt.sketch, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if fr.Skipped != tt.skipped {
				t.Errorf("skipped %q, want %q", fr.Skipped, tt.skipped)
			}
			for _, m := range fr.Metrics {
				if m.Drifted != tt.drifted[m.Method] {
					t.Errorf("%s = %v (p %v): drifted %v, want %v", m.Method, m.Value, m.PValue, m.Drifted, tt.drifted[m.Method])
				}
			}
			if want := len(tt.drifted) > 0; fr.Drifted != want {
				t.Errorf("drifted %v, want %v", fr.Drifted, want)
			}
		})
	}

	// The metrics are the statistics of the package on the bins.
	s := numericSketch(t, ref, normals(r, 3000, 0.2, 1.2))
	fr, err := Compare("f", ref, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics(fr)
	psi, _ := PSI(ref.Proportions(), s.Distribution().Proportions(), cfg.PSIEpsilon)
	ks, _ := KSBinned(ref.Counts, s.counts)
	if m[MethodPSI].Value != psi || m[MethodKS].Value != ks.Statistic || *m[MethodKS].PValue != ks.PValue {
		t.Errorf("metrics %+v, want psi %v ks %+v", fr.Metrics, psi, ks)
	}

	if _, err := Compare("f", cref, s, cfg); !errors.Is(err, ErrMismatch) {
		t.Errorf("numeric sketch against a categorical reference: %v, want ErrMismatch", err)
	}
	empty := model.NewNumeric(nil, 10)
	fr, err = Compare("f", empty, numericSketch(t, empty, []float64{1, 2}), cfg)
	if err != nil || fr.Skipped != SkipEmptyReference {
		t.Errorf("empty reference: %+v %v", fr, err)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	var c Config
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	c.RegisterFlags(fs, "drift.")
	if c != DefaultConfig() {
		t.Errorf("flag defaults %+v, want %+v", c, DefaultConfig())
	}
	if err := fs.Parse([]string{"-drift.psi-threshold=0.25", "-drift.min-count=500", "-drift.ks-p-value=0.01"}); err != nil {
		t.Fatal(err)
	}
	if c.PSI != 0.25 || c.MinCount != 500 || c.KSPValue != 0.01 || c.JensenShannon != 0.1 {
		t.Errorf("parsed %+v", c)
	}
	bad := DefaultConfig()
	bad.KSPValue, bad.PSI, bad.MinCount = 1, 0, 0
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "ks p-value") || !strings.Contains(err.Error(), "psi") || !strings.Contains(err.Error(), "min count") {
		t.Errorf("bad config: %v", err)
	}
}
