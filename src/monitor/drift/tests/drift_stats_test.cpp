// Drift statistics against closed forms, published tables and hand-computed values.
#include "monitor/drift/drift_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>

namespace shelfwatch::monitor::drift {
namespace {

// Exact for these sizes: nothing compacts below k values.
KllSortedView ViewOf(const std::vector<double>& values) {
  KllSketch s(8192);
  for (double v : values) s.Update(v);
  return s.View();
}

TEST(SpecialFunctionsTest, LogGammaMatchesKnownValues) {
  EXPECT_NEAR(LogGamma(1), 0, 1e-14);
  EXPECT_NEAR(LogGamma(2), 0, 1e-14);
  EXPECT_NEAR(LogGamma(0.5), 0.5 * std::log(std::numbers::pi), 1e-14);
  EXPECT_NEAR(LogGamma(10), std::log(362880.0), 1e-12);
  EXPECT_NEAR(LogGamma(0.1), std::log(9.513507698668731836), 1e-12);
  for (double x : {0.01, 0.3, 1.7, 4.5, 25.0, 170.5, 1e4}) {
    EXPECT_NEAR(LogGamma(x), std::lgamma(x), 1e-12 * std::max(1.0, std::abs(std::lgamma(x)))) << x;
  }
  EXPECT_TRUE(std::isnan(LogGamma(0)));
  EXPECT_TRUE(std::isnan(LogGamma(-1)));
}

TEST(SpecialFunctionsTest, IncompleteGammaMatchesClosedForms) {
  // P(1, x) = 1 - e^-x; P(1/2, x) = erf(sqrt x); P(3, x) = 1 - e^-x (1 + x + x^2 / 2).
  // The x values cover both the series (x < a + 1) and the continued fraction.
  for (double x : {0.01, 0.5, 1.9, 2.0, 4.0, 10.0, 30.0}) {
    EXPECT_NEAR(RegularizedGammaP(1, x), 1 - std::exp(-x), 1e-13) << x;
    EXPECT_NEAR(RegularizedGammaP(0.5, x), std::erf(std::sqrt(x)), 1e-13) << x;
    EXPECT_NEAR(RegularizedGammaP(3, x), 1 - std::exp(-x) * (1 + x + x * x / 2), 1e-13) << x;
    EXPECT_NEAR(RegularizedGammaP(3, x) + RegularizedGammaQ(3, x), 1, 1e-14) << x;
  }
  // Deep tail, where 1 - P would lose every digit: Q(1, 50) = e^-50.
  EXPECT_NEAR(RegularizedGammaQ(1, 50) / std::exp(-50), 1, 1e-10);
  EXPECT_NEAR(RegularizedGammaP(0.5, 0.3), 0.5614219739190001, 1e-13);
  EXPECT_EQ(RegularizedGammaP(2, 0), 0);
  EXPECT_EQ(RegularizedGammaQ(2, 0), 1);
  EXPECT_TRUE(std::isnan(RegularizedGammaP(0, 1)));
  EXPECT_TRUE(std::isnan(RegularizedGammaQ(1, -1)));
}

TEST(SpecialFunctionsTest, ChiSquaredSurvivalMatchesTables) {
  // Textbook critical values.
  EXPECT_NEAR(ChiSquaredSurvival(3.841459, 1), 0.05, 1e-6);
  EXPECT_NEAR(ChiSquaredSurvival(6.634897, 1), 0.01, 1e-6);
  EXPECT_NEAR(ChiSquaredSurvival(5.991465, 2), 0.05, 1e-6);
  EXPECT_NEAR(ChiSquaredSurvival(18.307038, 10), 0.05, 1e-6);
  EXPECT_NEAR(ChiSquaredSurvival(124.342113, 100), 0.05, 1e-6);
  // Closed forms: dof 2 -> e^(-x/2); dof 1 -> erfc(sqrt(x/2)).
  EXPECT_NEAR(ChiSquaredSurvival(7.3, 2), std::exp(-3.65), 1e-14);
  EXPECT_NEAR(ChiSquaredSurvival(0.7, 1), std::erfc(std::sqrt(0.35)), 1e-13);
  EXPECT_EQ(ChiSquaredSurvival(0, 3), 1);
}

TEST(SpecialFunctionsTest, KolmogorovDistributionMatchesTables) {
  // The classic one-sample critical values: 1.2238 (10%), 1.3581 (5%), 1.6276 (1%).
  EXPECT_NEAR(KolmogorovSurvival(1.2238), 0.10, 1e-4);
  EXPECT_NEAR(KolmogorovSurvival(1.3581), 0.05, 1e-5);
  EXPECT_NEAR(KolmogorovSurvival(1.6276), 0.01, 1e-5);
  EXPECT_NEAR(KolmogorovSurvival(0.5), 0.9639452436648751, 1e-12);
  EXPECT_NEAR(KolmogorovSurvival(1.0), 0.26999967167735456, 1e-12);
  // The two series meet continuously at the switch-over.
  EXPECT_NEAR(KolmogorovSurvival(1.18 - 1e-9), KolmogorovSurvival(1.18), 1e-8);
  EXPECT_EQ(KolmogorovSurvival(0), 1);
  EXPECT_LT(KolmogorovSurvival(5), 1e-20);
}

TEST(TwoSampleTest, KolmogorovSmirnovKnownCases) {
  const TestResult same = KolmogorovSmirnov(ViewOf({1, 2, 3, 4, 5}), ViewOf({5, 4, 3, 2, 1}));
  EXPECT_EQ(same.statistic, 0);
  EXPECT_EQ(same.p_value, 1);

  const TestResult disjoint = KolmogorovSmirnov(ViewOf({1, 2, 3}), ViewOf({10, 11, 12, 13}));
  EXPECT_EQ(disjoint.statistic, 1);

  // {1,2,3,4} vs {3,4,5,6}: D = 0.5 (at x = 2 and x = 4). Ne = 2, so
  // lambda = (sqrt 2 + 0.12 + 0.11 / sqrt 2) * 0.5 = 0.80600 and Q_KS = 0.534416.
  const TestResult half = KolmogorovSmirnov(ViewOf({1, 2, 3, 4}), ViewOf({3, 4, 5, 6}));
  EXPECT_DOUBLE_EQ(half.statistic, 0.5);
  EXPECT_NEAR(half.p_value, 0.5344157, 1e-6);

  // Large disjoint samples: p essentially 0.
  std::vector<double> a, b;
  for (int i = 0; i < 2000; ++i) {
    a.push_back(i);
    b.push_back(5000 + i);
  }
  const TestResult far = KolmogorovSmirnov(ViewOf(a), ViewOf(b));
  EXPECT_EQ(far.statistic, 1);
  EXPECT_LT(far.p_value, 1e-12);
  // An empty side has nothing to test.
  EXPECT_EQ(KolmogorovSmirnov(ViewOf({}), ViewOf({1})).p_value, 1);
}

TEST(TwoSampleTest, KolmogorovSmirnovAllowsForTheSketchesRankError) {
  std::vector<double> a, b;
  for (int i = 0; i < 300; ++i) {
    a.push_back(i);
    b.push_back(i + 30);  // D = 0.1
  }
  const TestResult exact = KolmogorovSmirnov(ViewOf(a), ViewOf(b));
  const TestResult allowed = KolmogorovSmirnov(ViewOf(a), ViewOf(b), 0.02, 0.03);
  EXPECT_NEAR(exact.statistic, 0.1, 1e-12);
  EXPECT_EQ(allowed.statistic, exact.statistic) << "the reported D is the raw one";
  EXPECT_NEAR(allowed.p_value, KolmogorovSmirnovPValue(0.05, 300, 300), 1e-12);
  EXPECT_GT(allowed.p_value, exact.p_value);
  EXPECT_EQ(KolmogorovSmirnov(ViewOf(a), ViewOf(b), 0.06, 0.06).p_value, 1);
}

TEST(TwoSampleTest, KolmogorovSmirnovPValueIsCalibratedUnderTheNull) {
  // Same distribution, 400 repetitions of 500 vs 500 values: about 5% of p-values < 0.05.
  std::mt19937_64 rng(17);
  std::normal_distribution<double> d;
  int rejections = 0;
  for (int rep = 0; rep < 400; ++rep) {
    KllSketch a, b;
    for (int i = 0; i < 500; ++i) {
      a.Update(d(rng));
      b.Update(d(rng));
    }
    rejections += KolmogorovSmirnov(a.View(), b.View(), a.RankErrorBound(), b.RankErrorBound()).p_value < 0.05;
  }
  // Binomial(400, 0.05) would be 20 +- 4.4; allowing for the sketches' rank error makes the
  // test conservative, so fewer -- but never more than ~5% + 3 sd.
  std::printf("[ks] rejections at 0.05 under the null: %d / 400\n", rejections);
  EXPECT_LE(rejections, 33);
}

TEST(TwoSampleTest, ChiSquaredHomogeneityKnownTables) {
  // 2 x 2 with all expected counts 25: X^2 = 4 * (5^2 / 25) = 4, dof 1, p = erfc(sqrt 2).
  const TestResult t22 = ChiSquaredHomogeneity({{20, 30}, {30, 20}});
  EXPECT_DOUBLE_EQ(t22.statistic, 4);
  EXPECT_EQ(t22.dof, 1);
  EXPECT_NEAR(t22.p_value, std::erfc(std::sqrt(2.0)), 1e-12);
  EXPECT_NEAR(t22.p_value, 0.0455, 1e-4);
  // 2 x 3 by hand: row totals 60/60, column totals 30/40/50, expected 15/20/25 per row.
  // X^2 = 2 * (25/15 + 0/20 + 25/25) = 16/3; dof 2 so p = e^(-8/3).
  const TestResult t23 = ChiSquaredHomogeneity({{10, 20, 30}, {20, 20, 20}});
  EXPECT_NEAR(t23.statistic, 16.0 / 3.0, 1e-12);
  EXPECT_EQ(t23.dof, 2);
  EXPECT_NEAR(t23.p_value, std::exp(-8.0 / 3.0), 1e-12);
  // A column empty on both sides carries no degree of freedom.
  const TestResult padded = ChiSquaredHomogeneity({{10, 20, 0, 30}, {20, 20, 0, 20}});
  EXPECT_NEAR(padded.statistic, t23.statistic, 1e-12);
  EXPECT_EQ(padded.dof, 2);
  // Identical proportions: X^2 = 0, p = 1.
  const TestResult same = ChiSquaredHomogeneity({{10, 20, 30}, {20, 40, 60}});
  EXPECT_NEAR(same.statistic, 0, 1e-12);
  EXPECT_NEAR(same.p_value, 1, 1e-12);
  EXPECT_EQ(ChiSquaredHomogeneity({{5, 5}}).p_value, 1) << "one row: nothing to compare";
}

TEST(DistanceTest, WassersteinKnownValues) {
  // scipy.stats.wasserstein_distance documentation examples.
  EXPECT_NEAR(WassersteinDistance(ViewOf({0, 1, 3}), ViewOf({5, 6, 8})), 5.0, 1e-12);
  EXPECT_NEAR(WassersteinDistance(ViewOf({3.4, 3.9, 7.5, 7.8}), ViewOf({4.5, 1.4})), 2.7, 1e-12);
  EXPECT_EQ(WassersteinDistance(ViewOf({1, 2, 3}), ViewOf({3, 2, 1})), 0);
  // A shift by c moves every unit of mass by c.
  std::vector<double> a, b;
  for (int i = 0; i < 100; ++i) {
    a.push_back(i * 0.37);
    b.push_back(i * 0.37 + 2.5);
  }
  EXPECT_NEAR(WassersteinDistance(ViewOf(a), ViewOf(b)), 2.5, 1e-9);
  EXPECT_TRUE(std::isnan(WassersteinDistance(ViewOf({}), ViewOf({1}))));
}

TEST(DistanceTest, PsiKnownValues) {
  const std::vector<double> deciles(10, 0.1);
  EXPECT_EQ(Psi(deciles, deciles), 0);
  // (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 ln 3.
  EXPECT_NEAR(Psi({0.5, 0.5}, {0.25, 0.75}), 0.25 * std::log(3.0), 1e-12);
  // Counts are normalized first.
  EXPECT_NEAR(Psi({50, 50}, {1, 3}), 0.25 * std::log(3.0), 1e-12);
  // An empty reference bin is lifted to epsilon = 1e-4: a large but finite term.
  const double empty_bin = Psi({1, 0}, {0.5, 0.5});
  EXPECT_NEAR(empty_bin, -0.5 * std::log(0.5) + (0.5 - 1e-4) * std::log(0.5 / 1e-4), 1e-12);
  EXPECT_TRUE(std::isfinite(empty_bin));
}

TEST(DistanceTest, JensenShannonKnownValues) {
  EXPECT_EQ(JensenShannonDistance({0.2, 0.3, 0.5}, {2, 3, 5}), 0);
  EXPECT_DOUBLE_EQ(JensenShannonDistance({1, 0}, {0, 1}), 1) << "disjoint supports: the maximum in base 2";
  // P = (1, 0), Q = (1/2, 1/2): M = (3/4, 1/4); JSD = (log2(4/3) + (1/2 log2(2/3) + 1/2 log2 2)) / 2.
  const double jsd = (std::log2(4.0 / 3.0) + 0.5 * std::log2(2.0 / 3.0) + 0.5) / 2;
  EXPECT_NEAR(JensenShannonDistance({1, 0}, {0.5, 0.5}), std::sqrt(jsd), 1e-12);
  EXPECT_NEAR(JensenShannonDistance({1, 0}, {0.5, 0.5}), 0.5579230, 1e-6);  // scipy, base=2
  EXPECT_TRUE(std::isnan(JensenShannonDistance({0, 0}, {1, 1})));
}

TEST(BinningTest, QuantileEdgesAndFractions) {
  std::vector<double> uniform;
  for (int i = 1; i <= 1000; ++i) uniform.push_back(i);
  const KllSortedView view = ViewOf(uniform);
  const std::vector<double> edges = QuantileBinEdges(view, 10);
  ASSERT_EQ(edges.size(), 9u);
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(edges[i], 100.0 * static_cast<double>(i + 1));
  const std::vector<double> f = BinFractions(view, edges);
  ASSERT_EQ(f.size(), 10u);
  for (double x : f) EXPECT_NEAR(x, 0.1, 1e-12);
  // Discrete values: tied quantiles collapse into fewer, wider bins.
  const KllSortedView words = ViewOf({1, 2, 2, 2, 2, 3, 3, 3, 4, 5});
  EXPECT_EQ(QuantileBinEdges(words, 10), (std::vector<double>{1, 2, 3, 4}));
  const std::vector<double> wf = BinFractions(words, {1, 2, 3, 4});
  EXPECT_NEAR(wf[0], 0.1, 1e-12);
  EXPECT_NEAR(wf[1], 0.4, 1e-12);
  EXPECT_NEAR(wf[4], 0.1, 1e-12) << "(4, +inf) holds the 5";
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
