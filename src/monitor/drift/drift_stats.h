// Drift statistics computed from sketches: PSI, Jensen-Shannon distance, two-sample
// Kolmogorov-Smirnov, chi-squared test of homogeneity, normed Wasserstein distance, and the
// special functions their p-values need. Each function cites its source beside it.
//
// Thread-safety: pure functions. Cost: O(bins) for PSI / JS / chi-squared, O(retained) of the
// two sketches for KS and Wasserstein.
#pragma once

#include <cstdint>
#include <vector>

#include "monitor/drift/kll_sketch.h"

namespace shelfwatch::monitor::drift {

// ---- Special functions -----------------------------------------------------------------

// ln Gamma(x) for x > 0 by the Lanczos approximation (g = 7, 9 terms; Lanczos, SIAM J. Numer.
// Anal. B 1, 1964; coefficients as tabulated by Godfrey); relative error ~1e-15. Unlike
// std::lgamma it writes no global (signgam), so it is safe on any thread.
double LogGamma(double x);
// Regularized lower / upper incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x),
// a > 0, x >= 0: the series for x < a + 1 and the continued fraction (modified Lentz) beyond,
// as in Press et al., Numerical Recipes, 3rd ed., section 6.2 ("gammp"/"gammq"). Relative
// accuracy ~1e-14; NaN for arguments outside the domain.
double RegularizedGammaP(double a, double x);
double RegularizedGammaQ(double a, double x);
// P(X >= statistic) for X ~ chi-squared with `dof` degrees of freedom = Q(dof / 2, x / 2).
double ChiSquaredSurvival(double statistic, double dof);
// Kolmogorov's limiting distribution: Q_KS(lambda) = 2 sum_{j>=1} (-1)^(j-1) e^(-2 j^2 lambda^2)
// (Numerical Recipes 3rd ed. 6.14; for lambda < 1.18 the equivalent theta-function form
// 1 - sqrt(2 pi)/lambda sum_j e^(-(2j-1)^2 pi^2 / (8 lambda^2)), which converges fast there).
double KolmogorovSurvival(double lambda);

// ---- Two-sample tests ------------------------------------------------------------------

struct TestResult {
  double statistic = 0;  // KS: D in [0, 1]; chi-squared: Pearson's X^2
  double p_value = 1;
  double dof = 0;  // chi-squared only
};

// Two-sample Kolmogorov-Smirnov: D = sup_x |F_a(x) - F_b(x)| over both sketches' step CDFs,
// and the asymptotic p-value Q_KS((sqrt(Ne) + 0.12 + 0.11 / sqrt(Ne)) D), Ne = n m / (n + m)
// (Numerical Recipes 3rd ed. 14.3.3, after Stephens, JRSS B 32, 1970). A sketch's rank error
// can add up to its bound to D, which would turn a 5% test into a 10-15% one on windows of a
// few hundred values; so the p-value is computed for max(0, D - rank_error_a - rank_error_b)
// (pass KllSketch::RankErrorBound(), 0 for exact sketches): the test stays conservative.
// `statistic` is the raw D. p = 1 when a side is empty.
TestResult KolmogorovSmirnov(const KllSortedView& a, const KllSortedView& b, double rank_error_a = 0,
                             double rank_error_b = 0);
double KolmogorovSmirnovPValue(double d, uint64_t n, uint64_t m);

// Pearson's chi-squared test of homogeneity for an r x c table of counts (rows = samples,
// columns = categories): X^2 = sum (O - E)^2 / E, E = row total * column total / N, with
// (r' - 1)(c' - 1) degrees of freedom over the r' rows and c' columns that are not all zero
// (Pearson 1900; Numerical Recipes 3rd ed. 14.4). p = 1 when dof = 0.
TestResult ChiSquaredHomogeneity(const std::vector<std::vector<double>>& table);

// ---- Distances -------------------------------------------------------------------------

// Wasserstein-1 (earth mover's) distance between the sketched distributions:
// integral |F_a(x) - F_b(x)| dx over the union of both sketches' breakpoints (Vallender 1974:
// W1 equals the L1 distance between CDFs). NaN when a side is empty. Evidently's "wasserstein
// distance (normed)" divides this by the reference's standard deviation (see feature_drift.h).
double WassersteinDistance(const KllSortedView& a, const KllSortedView& b);

// Population Stability Index: sum_i (a_i - e_i) ln(a_i / e_i) over bin fractions, e = expected
// (reference), a = actual (current) (Siddiqi, "Credit Risk Scorecards", 2006; Yurdakul, "Statistical
// properties of the population stability index", 2018). Inputs are normalized to sum to 1 and
// empty bins are lifted to `epsilon` (Evidently uses 0.0001 too), so one empty bin adds a large
// but finite term. Rules of thumb: < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 major shift.
inline constexpr double kPsiEpsilon = 1e-4;
double Psi(const std::vector<double>& expected, const std::vector<double>& actual,
           double epsilon = kPsiEpsilon);

// Jensen-Shannon distance with base-2 logarithms: sqrt(JSD(P || Q)) in [0, 1], where
// JSD = (KL(P || M) + KL(Q || M)) / 2 and M = (P + Q) / 2 (Lin, IEEE Trans. Inf. Theory 37,
// 1991; Endres & Schindelin 2003 for the metric). Inputs are normalized; NaN when either sums
// to 0. Note: scipy's (and Evidently's) jensenshannon defaults to natural logarithms, whose
// range is [0, sqrt(ln 2)] = [0, 0.83]: base-2 scores are 1.2x those.
double JensenShannonDistance(const std::vector<double>& p, const std::vector<double>& q);

// ---- Binning numeric values ------------------------------------------------------------

// Interior bin edges at the reference's quantiles 1/bins, ..., (bins-1)/bins, duplicates
// removed (discrete features get fewer, wider bins). Bins are (-inf, e0], (e0, e1], ...,
// (e_last, +inf): edges.size() + 1 of them.
std::vector<double> QuantileBinEdges(const KllSortedView& reference, size_t bins);
// The fraction of `view`'s values in each of those bins (sums to 1; all 0 when empty).
std::vector<double> BinFractions(const KllSortedView& view, const std::vector<double>& edges);

}  // namespace shelfwatch::monitor::drift
