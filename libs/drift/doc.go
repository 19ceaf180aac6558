// Package drift computes data drift of served values against a model
// version's reference distribution (model.Distribution from the registry),
// per feature and for the prediction, per tumbling window, from bounded,
// mergeable window sketches kept in the stream.
//
// A Window holds one Sketch per feature and one of the prediction for one
// model version and one window [Start, End). A numeric sketch counts the
// values on the reference's bin edges (plus count, missing, min, max, sum,
// sum of squares and the values below/above the reference's range); a
// categorical one counts the reference's categories and the unseen values,
// naming at most MaxUnseen unseen categories. Memory is bounded by the
// reference, not by the number of values. Sketches merge by adding
// counters (twelve 5 min windows make one hour) and encode to JSON for
// snapshots (DecodeWindow restores one), so a restarted monitor resumes
// without re-reading the prediction log.
//
// CompareWindow (Compare for one sketch) computes, against the reference:
//
//   - numeric: PSI, Kolmogorov–Smirnov statistic and p-value, and the
//     Wasserstein-1 distance divided by the reference's standard deviation;
//   - categorical: chi-squared statistic and p-value (2×k homogeneity test)
//     and the Jensen–Shannon distance;
//
// each with its threshold from Config and a drifted flag, and the data
// quality of the window (missing, out-of-range and unseen shares).
//
// The reference is known only by its bins, so every statistic is computed
// on those bins. PSI, chi-squared and Jensen–Shannon are exact on them. KS
// is evaluated at the bin edges: a lower bound of the raw samples' KS, with
// the upper bound reported in Metric.Bound. The Wasserstein distance puts
// each bin's values at one point; Metric.Bound bounds its difference from
// the raw samples' distance. The functions on raw samples and counts
// (KolmogorovSmirnov, KSBinned, KSPValue, ChiSquare, ChiSquareGoodness,
// JensenShannon, PSI, Wasserstein, WassersteinWeighted) match scipy; see
// README.md for the formulas, the approximations and their bounds, and
// testdata/reference.py for the test vectors.
package drift
