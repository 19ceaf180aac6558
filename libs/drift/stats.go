package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// ErrEmpty is returned when a statistic needs values and got none.
var ErrEmpty = errors.New("empty sample")

// Test is the result of a two-sample test: the statistic and its p-value.
type Test struct {
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"p_value"`
}

// KSStatistic is the two-sided two-sample Kolmogorov–Smirnov statistic of
// samples a and b, sup_x |F_a(x) − F_b(x)| over their empirical CDFs, as
// scipy.stats.ks_2samp computes it (ties included). The samples are not
// modified.
func KSStatistic(a, b []float64) (float64, error) {
	if len(a) == 0 || len(b) == 0 {
		return 0, fmt.Errorf("ks statistic: %w", ErrEmpty)
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	n, m := float64(len(x)), float64(len(y))
	var i, j int
	var d float64
	for i < len(x) && j < len(y) {
		v := min(x[i], y[j])
		for i < len(x) && x[i] == v {
			i++
		}
		for j < len(y) && y[j] == v {
			j++
		}
		d = max(d, math.Abs(float64(i)/n-float64(j)/m))
	}
	// Past the end of one sample the difference only shrinks.
	return d, nil
}

// KolmogorovSmirnov is the two-sided two-sample KS test of samples a and
// b: KSStatistic with the p-value of KSPValue (asymptotic mode; see there).
func KolmogorovSmirnov(a, b []float64) (Test, error) {
	d, err := KSStatistic(a, b)
	if err != nil {
		return Test{}, err
	}
	return Test{Statistic: d, PValue: KSPValue(d, int64(len(a)), int64(len(b)))}, nil
}

// KSBinned is the KS statistic of two samples known only by their counts
// on the same bins: the largest difference of their cumulative shares at
// the bin edges. It equals ks_2samp of the samples with every value
// replaced by its bin's lower edge, and it is a lower bound of the KS
// statistic of the raw samples (see KSBinnedUpper). The p-value uses the
// two totals as the sample sizes.
func KSBinned(a, b []int64) (Test, error) {
	if len(a) != len(b) {
		return Test{}, fmt.Errorf("ks binned: %d bins against %d", len(a), len(b))
	}
	na, nb := sum(a), sum(b)
	if na == 0 || nb == 0 {
		return Test{}, fmt.Errorf("ks binned: %w", ErrEmpty)
	}
	var ca, cb int64
	var d float64
	for i := range a {
		ca += a[i]
		cb += b[i]
		d = max(d, math.Abs(float64(ca)/float64(na)-float64(cb)/float64(nb)))
	}
	return Test{Statistic: d, PValue: KSPValue(d, na, nb)}, nil
}

// KSBinnedUpper is the largest KS statistic that two raw samples with these
// bin counts can have: inside bin i, F_a − F_b lies between
// A(i) − B(i+1) and A(i+1) − B(i), where A and B are the cumulative shares
// at the bin's edges. KSBinned ≤ KS(raw) ≤ KSBinnedUpper ≤ KSBinned +
// max_i max(a_i, b_i) (shares).
func KSBinnedUpper(a, b []int64) float64 {
	na, nb := sum(a), sum(b)
	if na == 0 || nb == 0 || len(a) != len(b) {
		return 0
	}
	var ca, cb int64
	var d float64
	for i := range a {
		lo := float64(ca)/float64(na) - float64(cb+b[i])/float64(nb)
		hi := float64(ca+a[i])/float64(na) - float64(cb)/float64(nb)
		d = max(d, math.Abs(lo), math.Abs(hi))
		ca += a[i]
		cb += b[i]
	}
	return min(d, 1)
}

// KSPValue is the two-sided p-value of a two-sample KS statistic d with
// sample sizes n and m, as scipy.stats.ks_2samp(method="asymp") computes
// it: the survival function of the one-sample Kolmogorov distribution
// D_N (scipy.stats.kstwo) at N = round(n·m/(n+m)).
//
// Approximation: where scipy evaluates kstwo.sf with the exact Durbin
// matrix, Pomeranz or Smirnov methods, this uses the Pelz–Good asymptotic
// series (Pelz and Good, 1976), and the exact
// closed forms at the two ends (N·d ≤ 1 and N·d ≥ N−1). Against
// ks_2samp(method="asymp") the absolute difference of the p-value is below
// 3e-2 for N < 10, 2e-3 for N ≥ 10, 3e-5 for N ≥ 50, 7e-6 for N ≥ 100 and
// 2e-7 for N ≥ 500 (measured on a grid of d for each N against scipy
// 1.18.1; the tests check it on the cases of testdata/reference.py). scipy's
// method="auto" is exact for samples of at most 10000 values; that mode is
// not implemented: a window against a reference of the registry has
// thousands of values on each side, where the asymptotic mode applies.
func KSPValue(d float64, n, m int64) float64 {
	if n <= 0 || m <= 0 || math.IsNaN(d) {
		return math.NaN()
	}
	en := float64(n) * float64(m) / (float64(n) + float64(m))
	return kstwoSF(d, math.RoundToEven(en))
}

// kstwoSF is P(D_n > x), the survival function of the one-sample
// Kolmogorov statistic D_n: exact at the two ends (Ruben and Gambino, 1982),
// the Pelz–Good asymptotic series in between.
func kstwoSF(x, n float64) float64 {
	t := n * x // D_n lies in [1/(2n), 1]
	switch {
	case x >= 1:
		return 0
	case t <= 0.5:
		return 1
	case t <= 1:
		// For 1/(2n) <= x <= 1/n: P(D_n <= x) = n! (2x - 1/n)^n.
		lg, _ := math.Lgamma(n + 1)
		return clip01(1 - math.Exp(lg+n*math.Log((2*t-1)/n)))
	case t >= n-1:
		// For 1 - 1/n <= x < 1: P(D_n > x) = 2 (1-x)^n.
		return clip01(2 * math.Pow(1-x, n))
	}
	return clip01(pelzGoodSF(n, x))
}

// pelzGoodSF is 1 - P(D_n <= x) with P(D_n <= x) from the asymptotic
// expansion of Pelz and Good (1976), as written out by Simard and L'Ecuyer
// ("Computing the two-sided Kolmogorov–Smirnov distribution", J. Stat.
// Softw. 39(11), 2011, section 2.3): with z = x·sqrt(n),
//
//	P(D_n <= x) ≈ K0(z) + K1(z)/n^½ + K2(z)/n + K3(z)/n^{3/2}
//
// where every K is a theta-like series in exp(-π²(k-½)²/(2z²)) (K2 and K3
// also in exp(-π²k²/(2z²))). The series are summed until their terms
// vanish in float64.
func pelzGoodSF(n, x float64) float64 {
	z := math.Sqrt(n) * x
	z2 := z * z
	if math.Pi*math.Pi/(8*z2) > 708 { // every term underflows: P(D_n <= x) = 0
		return 1
	}
	const pi2 = math.Pi * math.Pi
	var s0, s1, s2, s3 float64 // the sums over k of the (k-½) terms
	for k := 1.0; ; k++ {
		h2 := (k - 0.5) * (k - 0.5) * pi2 // π²(k-½)²
		e := math.Exp(-h2 / (2 * z2))
		if e < 1e-40 {
			break
		}
		s0 += e
		s1 += (h2 - z2) * e
		s2 += (6*z2*z2*z2 + 2*z2*z2 + (2*z2*z2-5*z2)*h2 + (1-2*z2)*h2*h2) * e
		s3 += (-30*z2*z2*z2 - 90*z2*z2*z2*z2 + (135*z2*z2-96*z2*z2*z2)*h2 +
			(212*z2*z2-60*z2)*h2*h2 + (5-30*z2)*h2*h2*h2) * e
	}
	var r2, r3 float64 // the sums over k of the k terms
	for k := 1.0; ; k++ {
		k2 := k * k * pi2 // π²k²
		e := math.Exp(-k2 / (2 * z2))
		if e < 1e-40 {
			break
		}
		r2 += k2 * e
		r3 += (3*z2 - k2) * k2 * e
	}
	sq := math.Sqrt(2 * math.Pi)
	z3, z4 := z2*z, z2*z2
	z6 := z4 * z2
	k0 := sq / z * s0
	k1 := sq / (6 * z4) * s1
	k2 := sq/(72*z6*z)*s2 - sq/(36*z3)*r2
	k3 := sq/(6480*z6*z4)*s3 + sq/(216*z6)*r3
	rn := math.Sqrt(n)
	return 1 - (k0 + k1/rn + k2/n + k3/(n*rn))
}

// ChiSquare is the chi-squared test of homogeneity of two samples given by
// their counts on the same categories, as scipy.stats.chi2_contingency
// computes it on the 2×k table [a; b] with its default correction=True
// (Yates' continuity correction when the table has one degree of freedom).
// Categories empty in both samples are dropped first (scipy refuses a zero
// expected frequency); with fewer than two categories left the statistic
// is 0 and the p-value 1. The p-value is the regularized upper incomplete
// gamma Q(dof/2, χ²/2).
func ChiSquare(a, b []int64) (Test, int, error) {
	if len(a) != len(b) {
		return Test{}, 0, fmt.Errorf("chi-squared: %d categories against %d", len(a), len(b))
	}
	na, nb := float64(sum(a)), float64(sum(b))
	if na == 0 || nb == 0 {
		return Test{}, 0, fmt.Errorf("chi-squared: %w", ErrEmpty)
	}
	total := na + nb
	var cols int
	for i := range a {
		if a[i]+b[i] > 0 {
			cols++
		}
	}
	dof := cols - 1
	if dof <= 0 {
		return Test{Statistic: 0, PValue: 1}, 0, nil
	}
	var stat float64
	for i := range a {
		col := float64(a[i] + b[i])
		if col == 0 {
			continue
		}
		for _, o := range [2][2]float64{{float64(a[i]), na}, {float64(b[i]), nb}} {
			obs, exp := o[0], o[1]*col/total
			if dof == 1 {
				diff := exp - obs
				obs += min(0.5, math.Abs(diff)) * sign(diff)
			}
			stat += (obs - exp) * (obs - exp) / exp
		}
	}
	return Test{Statistic: stat, PValue: ChiSquareSF(stat, dof)}, dof, nil
}

// ChiSquareGoodness is the chi-squared goodness-of-fit test of observed
// counts against expected ones, as scipy.stats.chisquare(obs, exp) with
// ddof=0: k−1 degrees of freedom. Expected counts must be positive and sum
// to the observed total (within 1e-8 relative, like scipy).
func ChiSquareGoodness(obs, exp []float64) (Test, error) {
	if len(obs) != len(exp) || len(obs) < 2 {
		return Test{}, fmt.Errorf("chi-squared goodness of fit: %d observed and %d expected counts, want at least two of each", len(obs), len(exp))
	}
	var so, se, stat float64
	for i := range obs {
		if exp[i] <= 0 {
			return Test{}, fmt.Errorf("chi-squared goodness of fit: expected count %d is %v, want > 0", i, exp[i])
		}
		so += obs[i]
		se += exp[i]
		stat += (obs[i] - exp[i]) * (obs[i] - exp[i]) / exp[i]
	}
	if math.Abs(so-se) > 1e-8*math.Max(so, se) {
		return Test{}, fmt.Errorf("chi-squared goodness of fit: observed counts sum to %v, expected to %v", so, se)
	}
	return Test{Statistic: stat, PValue: ChiSquareSF(stat, len(obs)-1)}, nil
}

// ChiSquareSF is the survival function of the chi-squared distribution
// with dof degrees of freedom (scipy.stats.chi2.sf).
func ChiSquareSF(x float64, dof int) float64 {
	if x <= 0 {
		return 1
	}
	return mathext.GammaIncRegComp(float64(dof)/2, x/2)
}

// JensenShannon is the Jensen–Shannon distance of two distributions given by
// weights on the same categories or bins, as
// scipy.spatial.distance.jensenshannon(p, q) computes it: each vector is
// normalised to sum to 1, m = (p+q)/2, and the distance is
// sqrt((KL(p‖m) + KL(q‖m))/2) with the natural logarithm, between 0 and
// sqrt(ln 2) ≈ 0.8326.
func JensenShannon(p, q []float64) (float64, error) {
	if len(p) != len(q) {
		return 0, fmt.Errorf("jensen-shannon: %d weights against %d", len(p), len(q))
	}
	var sp, sq float64
	for i := range p {
		if p[i] < 0 || q[i] < 0 {
			return 0, fmt.Errorf("jensen-shannon: negative weight at %d", i)
		}
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return 0, fmt.Errorf("jensen-shannon: %w", ErrEmpty)
	}
	var left, right float64
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		m := (pi + qi) / 2
		left += relEntr(pi, m)
		right += relEntr(qi, m)
	}
	return math.Sqrt(math.Max(0, left+right) / 2), nil
}

// relEntr is scipy.special.rel_entr for x, y ≥ 0.
func relEntr(x, y float64) float64 {
	switch {
	case x == 0:
		return 0
	case y == 0:
		return math.Inf(1)
	default:
		return x * math.Log(x/y)
	}
}

// DefaultPSIEpsilon replaces an empty bin's share in PSI, as Evidently does:
// a share of 0 would make ln(a/e) infinite.
const DefaultPSIEpsilon = 1e-4

// PSI is the population stability index of the actual shares a against the
// expected (reference) shares e on the same bins:
// Σ (a_i − e_i)·ln(a_i/e_i), where a share of 0 is replaced by eps
// (DefaultPSIEpsilon when eps ≤ 0). Shares are not renormalised after the
// replacement.
func PSI(e, a []float64, eps float64) (float64, error) {
	if len(e) != len(a) {
		return 0, fmt.Errorf("psi: %d expected shares against %d actual", len(e), len(a))
	}
	if eps <= 0 {
		eps = DefaultPSIEpsilon
	}
	var s float64
	for i := range e {
		ei, ai := e[i], a[i]
		if ei < 0 || ai < 0 {
			return 0, fmt.Errorf("psi: negative share at %d", i)
		}
		if ei == 0 {
			ei = eps
		}
		if ai == 0 {
			ai = eps
		}
		s += (ai - ei) * math.Log(ai/ei)
	}
	return s, nil
}

// Wasserstein is the first Wasserstein (earth mover's) distance between
// samples u and v, ∫|U(x) − V(x)| dx over their empirical CDFs, as
// scipy.stats.wasserstein_distance(u, v) computes it.
func Wasserstein(u, v []float64) (float64, error) {
	return WassersteinWeighted(u, v, nil, nil)
}

// WassersteinWeighted is Wasserstein with a weight per value
// (scipy.stats.wasserstein_distance(u, v, uw, vw)); nil weights mean 1
// each. Weights must be non-negative with a positive sum.
func WassersteinWeighted(u, v, uw, vw []float64) (float64, error) {
	if len(u) == 0 || len(v) == 0 {
		return 0, fmt.Errorf("wasserstein: %w", ErrEmpty)
	}
	pu, err := weighted(u, uw)
	if err != nil {
		return 0, fmt.Errorf("wasserstein: first sample: %w", err)
	}
	pv, err := weighted(v, vw)
	if err != nil {
		return 0, fmt.Errorf("wasserstein: second sample: %w", err)
	}
	// Sweep the merged values; between consecutive values both CDFs are
	// constant.
	var i, j int
	var cu, cv, dist float64
	prev := math.Min(pu.x[0], pv.x[0])
	for i < len(pu.x) || j < len(pv.x) {
		x := math.Inf(1)
		if i < len(pu.x) {
			x = pu.x[i]
		}
		if j < len(pv.x) {
			x = math.Min(x, pv.x[j])
		}
		dist += math.Abs(cu/pu.total-cv/pv.total) * (x - prev)
		for i < len(pu.x) && pu.x[i] == x {
			cu += pu.w[i]
			i++
		}
		for j < len(pv.x) && pv.x[j] == x {
			cv += pv.w[j]
			j++
		}
		prev = x
	}
	return dist, nil
}

type weightedSample struct {
	x, w  []float64
	total float64
}

func weighted(x, w []float64) (weightedSample, error) {
	if w != nil && len(w) != len(x) {
		return weightedSample{}, fmt.Errorf("%d weights for %d values", len(w), len(x))
	}
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) {
			return weightedSample{}, fmt.Errorf("value %d is %v", i, x[i])
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	s := weightedSample{x: make([]float64, len(x)), w: make([]float64, len(x))}
	for k, i := range idx {
		s.x[k] = x[i]
		s.w[k] = 1
		if w != nil {
			if w[i] < 0 || math.IsNaN(w[i]) {
				return weightedSample{}, fmt.Errorf("weight %d is %v", i, w[i])
			}
			s.w[k] = w[i]
		}
		s.total += s.w[k]
	}
	if s.total <= 0 {
		return weightedSample{}, errors.New("weights sum to 0")
	}
	return s, nil
}

func sum(c []int64) int64 {
	var s int64
	for _, v := range c {
		s += v
	}
	return s
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func clip01(p float64) float64 { return math.Min(1, math.Max(0, p)) }
