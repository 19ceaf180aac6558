package drift

import (
	"errors"
	"flag"
	"fmt"
)

// Config holds the thresholds that turn a statistic into a drifted flag.
// The defaults follow common practice; see DefaultConfig.
type Config struct {
	// PSI above which a numeric feature has drifted.
	PSI float64
	// PSIEpsilon replaces an empty bin's share in PSI.
	PSIEpsilon float64
	// KSPValue: a numeric feature has drifted when the KS p-value is below
	// it.
	KSPValue float64
	// Wasserstein: a numeric feature has drifted when the Wasserstein-1
	// distance divided by the reference's standard deviation is above it.
	Wasserstein float64
	// ChiSquarePValue: a categorical feature has drifted when the
	// chi-squared p-value is below it.
	ChiSquarePValue float64
	// JensenShannon: a categorical feature has drifted when the
	// Jensen–Shannon distance (natural log) is above it.
	JensenShannon float64
	// MinCount is the number of values (not missing) a window needs before
	// any drift is declared; below it the statistics are computed but no
	// flag is raised.
	MinCount int64
}

// DefaultConfig returns the thresholds of common practice:
//
//   - PSI 0.2: the credit-scoring rule of thumb (below 0.1 no significant
//     change, 0.1–0.2 a moderate shift, above 0.2 a significant one; some
//     texts use 0.25). Evidently's default is 0.1, which alerts on
//     moderate shifts too.
//   - KS and chi-squared p-value 0.05: the conventional significance level,
//     Evidently's default for both tests.
//   - Jensen–Shannon distance 0.1: Evidently's default (its jensenshannon
//     test uses scipy's distance with the natural log, as here).
//   - Normalised Wasserstein 0.1: Evidently's default (a shift of a tenth
//     of the reference's standard deviation).
//   - MinCount 100: with fewer values the p-values' asymptotic
//     approximations and the PSI of a 10-bin histogram are too noisy to
//     alert on (see KSPValue for the p-value's accuracy by size).
func DefaultConfig() Config {
	return Config{
		PSI:             0.2,
		PSIEpsilon:      DefaultPSIEpsilon,
		KSPValue:        0.05,
		Wasserstein:     0.1,
		ChiSquarePValue: 0.05,
		JensenShannon:   0.1,
		MinCount:        100,
	}
}

// RegisterFlags registers the thresholds on fs under prefix (for example
// "drift."), with the defaults of DefaultConfig.
func (c *Config) RegisterFlags(fs *flag.FlagSet, prefix string) {
	d := DefaultConfig()
	fs.Float64Var(&c.PSI, prefix+"psi-threshold", d.PSI, "PSI above which a numeric feature has drifted")
	fs.Float64Var(&c.PSIEpsilon, prefix+"psi-epsilon", d.PSIEpsilon, "share that replaces an empty bin's in PSI")
	fs.Float64Var(&c.KSPValue, prefix+"ks-p-value", d.KSPValue, "Kolmogorov-Smirnov p-value below which a numeric feature has drifted")
	fs.Float64Var(&c.Wasserstein, prefix+"wasserstein-threshold", d.Wasserstein, "Wasserstein distance over the reference's standard deviation above which a numeric feature has drifted")
	fs.Float64Var(&c.ChiSquarePValue, prefix+"chi-squared-p-value", d.ChiSquarePValue, "chi-squared p-value below which a categorical feature has drifted")
	fs.Float64Var(&c.JensenShannon, prefix+"jensen-shannon-threshold", d.JensenShannon, "Jensen-Shannon distance above which a categorical feature has drifted")
	fs.Int64Var(&c.MinCount, prefix+"min-count", d.MinCount, "values a window needs before drift is declared")
}

// Validate checks the thresholds.
func (c Config) Validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    float64
	}{{"ks p-value", c.KSPValue}, {"chi-squared p-value", c.ChiSquarePValue}} {
		if !(p.v > 0 && p.v < 1) {
			errs = append(errs, fmt.Errorf("%s threshold %v: want 0 < p < 1", p.name, p.v))
		}
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"psi", c.PSI}, {"wasserstein", c.Wasserstein}, {"jensen-shannon", c.JensenShannon}, {"psi epsilon", c.PSIEpsilon}} {
		if !(p.v > 0) {
			errs = append(errs, fmt.Errorf("%s threshold %v: want > 0", p.name, p.v))
		}
	}
	if c.MinCount < 1 {
		errs = append(errs, fmt.Errorf("min count %d: want >= 1", c.MinCount))
	}
	return errors.Join(errs...)
}
