package drift

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// vectors are the scipy/numpy results of testdata/reference.py.
type vectors struct {
	Scipy string `json:"scipy"`
	KS    []struct {
		Name      string    `json:"name"`
		A         []float64 `json:"a"`
		B         []float64 `json:"b"`
		Statistic float64   `json:"statistic"`
		PAsymp    float64   `json:"p_asymp"`
		PAuto     float64   `json:"p_auto"`
		N         float64   `json:"n"`
	} `json:"ks"`
	KSBinned []struct {
		A           []int64   `json:"a"`
		B           []int64   `json:"b"`
		Statistic   float64   `json:"statistic"`
		PAsymp      float64   `json:"p_asymp"`
		Mids        []float64 `json:"mids"`
		Wasserstein float64   `json:"wasserstein"`
	} `json:"ks_binned"`
	PelzGood []struct {
		N, X       float64
		PelzGoodSF float64 `json:"pelz_good_sf"`
		KSTwoSF    float64 `json:"kstwo_sf"`
	} `json:"pelz_good"`
	Chi2 []struct {
		A, B      []int64
		Statistic float64 `json:"statistic"`
		PValue    float64 `json:"p_value"`
		DoF       int     `json:"dof"`
	} `json:"chi2"`
	ChiSquare []struct {
		Obs, Exp  []float64
		Statistic float64 `json:"statistic"`
		PValue    float64 `json:"p_value"`
	} `json:"chisquare"`
	JS []struct {
		P, Q     []float64
		Distance float64 `json:"distance"`
	} `json:"jensenshannon"`
	PSI []struct {
		Expected, Actual []float64
		Epsilon          float64 `json:"epsilon"`
		PSI              float64 `json:"psi"`
	} `json:"psi"`
	Wasserstein []struct {
		U, V     []float64
		UW       []float64 `json:"u_weights"`
		VW       []float64 `json:"v_weights"`
		Distance float64   `json:"distance"`
	} `json:"wasserstein"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	if v.Scipy != "1.18.1" || len(v.KS) == 0 {
		t.Fatalf("vectors of scipy %q with %d ks cases", v.Scipy, len(v.KS))
	}
	return v
}

const exact = 1e-9

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.17g, want %.17g (±%g)", what, got, want, tol)
	}
}

// ksPValueBound is the documented accuracy of KSPValue against
// ks_2samp(method="asymp") by N = round(n·m/(n+m)).
func ksPValueBound(n float64) float64 {
	switch {
	case n >= 500:
		return 2e-7
	case n >= 100:
		return 7e-6
	case n >= 50:
		return 3e-5
	case n >= 10:
		return 2e-3
	default:
		return 3e-2
	}
}

func TestKolmogorovSmirnovMatchesScipy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.KS {
		t.Run(c.Name, func(t *testing.T) {
			got, err := KolmogorovSmirnov(c.A, c.B)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "statistic", got.Statistic, c.Statistic, exact)
			if d := math.Abs(got.PValue - c.PAsymp); d > ksPValueBound(c.N) {
				t.Errorf("p-value %.17g, scipy asymp %.17g: off by %g, bound %g for N=%v", got.PValue, c.PAsymp, d, ksPValueBound(c.N), c.N)
			}
			t.Logf("N=%v p=%.6g asymp=%.6g auto(exact below 10000)=%.6g", c.N, got.PValue, c.PAsymp, c.PAuto)
		})
	}
}

func TestPelzGoodMatchesScipy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.PelzGood {
		near(t, "pelz-good sf", pelzGoodSF(c.N, c.X), c.PelzGoodSF, exact)
		if d := math.Abs(kstwoSF(c.X, c.N) - c.KSTwoSF); d > ksPValueBound(c.N) {
			t.Errorf("kstwo.sf(%v, %v) = %v, scipy %v: off by %g", c.X, c.N, kstwoSF(c.X, c.N), c.KSTwoSF, d)
		}
	}
}

func TestKSBinnedMatchesScipy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.KSBinned {
		got, err := KSBinned(c.A, c.B)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "binned statistic", got.Statistic, c.Statistic, exact)
		n, m := float64(sum(c.A)), float64(sum(c.B))
		en := math.RoundToEven(n * m / (n + m))
		if d := math.Abs(got.PValue - c.PAsymp); d > ksPValueBound(en) {
			t.Errorf("binned p-value %v, scipy %v", got.PValue, c.PAsymp)
		}
		w, err := WassersteinWeighted(c.Mids, c.Mids, int64s(c.A), int64s(c.B))
		if err != nil {
			t.Fatal(err)
		}
		near(t, "binned wasserstein", w, c.Wasserstein, exact)
	}
}

func TestChiSquareMatchesScipy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Chi2 {
		got, dof, err := ChiSquare(c.A, c.B)
		if err != nil {
			t.Fatal(err)
		}
		if dof != c.DoF {
			t.Errorf("%v %v: dof %d, want %d", c.A, c.B, dof, c.DoF)
		}
		near(t, "chi2 statistic", got.Statistic, c.Statistic, exact)
		near(t, "chi2 p-value", got.PValue, c.PValue, exact)
	}
	for _, c := range v.ChiSquare {
		got, err := ChiSquareGoodness(c.Obs, c.Exp)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "chisquare statistic", got.Statistic, c.Statistic, exact)
		near(t, "chisquare p-value", got.PValue, c.PValue, exact)
	}
}

func TestJensenShannonMatchesScipy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.JS {
		got, err := JensenShannon(c.P, c.Q)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "js distance", got, c.Distance, exact)
	}
}

func TestPSIMatchesNumpy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.PSI {
		got, err := PSI(c.Expected, c.Actual, c.Epsilon)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "psi", got, c.PSI, exact)
	}
}

func TestWassersteinMatchesScipy(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Wasserstein {
		got, err := WassersteinWeighted(c.U, c.V, c.UW, c.VW)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "wasserstein", got, c.Distance, exact)
	}
}

func TestStatisticsRejectBadInput(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
	}{
		{"ks empty", func() error { _, err := KSStatistic(nil, []float64{1}); return err }},
		{"ks binned lengths", func() error { _, err := KSBinned([]int64{1}, []int64{1, 2}); return err }},
		{"ks binned empty", func() error { _, err := KSBinned([]int64{0, 0}, []int64{1, 2}); return err }},
		{"chi2 lengths", func() error { _, _, err := ChiSquare([]int64{1}, []int64{1, 2}); return err }},
		{"chi2 empty", func() error { _, _, err := ChiSquare([]int64{0, 0}, []int64{1, 2}); return err }},
		{"goodness zero expected", func() error { _, err := ChiSquareGoodness([]float64{1, 2}, []float64{3, 0}); return err }},
		{"goodness sums differ", func() error { _, err := ChiSquareGoodness([]float64{1, 2}, []float64{1, 1}); return err }},
		{"js negative", func() error { _, err := JensenShannon([]float64{-1, 2}, []float64{1, 1}); return err }},
		{"js empty", func() error { _, err := JensenShannon([]float64{0, 0}, []float64{1, 1}); return err }},
		{"psi lengths", func() error { _, err := PSI([]float64{1}, []float64{0.5, 0.5}, 0); return err }},
		{"wasserstein nan", func() error { _, err := Wasserstein([]float64{math.NaN()}, []float64{1}); return err }},
		{"wasserstein zero weights", func() error {
			_, err := WassersteinWeighted([]float64{1}, []float64{1}, []float64{0}, nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err() == nil {
				t.Error("no error")
			}
		})
	}
}
