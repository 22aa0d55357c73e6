// CompareFeature: method choice by reference size (Evidently's defaults), each kind's scores
// on shifted and unshifted data, statuses, thresholds and histograms.
#include "monitor/drift/feature_drift.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shelfwatch::monitor::drift {
namespace {

// "prefix" + number, built by appending: GCC 12 at -O3 reports a false -Wrestrict for
// short literal + std::string (a known GCC 12 false positive).
std::string Numbered(std::string prefix, size_t i) {
  prefix += std::to_string(i);
  return prefix;
}

FeatureProfile NumericOf(const std::vector<double>& values) {
  auto list = std::make_shared<const std::vector<FeatureSpec>>(std::vector<FeatureSpec>{FeatureSpec::Numeric("x")});
  Profile p(list, {});
  for (double v : values) p.AddValue(0, FeatureValue::Number(v), nullptr);
  return p.feature(0);
}

std::vector<double> Normal(size_t n, double mean, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(mean, sd);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

FeatureProfile CategoricalOf(const std::vector<std::pair<std::string, int>>& counts) {
  auto list = std::make_shared<const std::vector<FeatureSpec>>(std::vector<FeatureSpec>{FeatureSpec::Categorical("c")});
  Profile p(list, {});
  // Interleave so the order looks like a stream.
  bool more = true;
  for (int i = 0; more; ++i) {
    more = false;
    for (const auto& [value, n] : counts) {
      if (i < n) {
        p.AddValue(0, FeatureValue::Category(value), nullptr);
        more = true;
      }
    }
  }
  return p.feature(0);
}

TEST(JudgeScoreTest, DistancesDriftAtOrAboveAndPValuesBelowTheThreshold) {
  DriftThresholds t;
  EXPECT_TRUE(JudgeScore(DriftMethod::kWassersteinNormed, 0.1, t).drifted);
  EXPECT_FALSE(JudgeScore(DriftMethod::kWassersteinNormed, 0.0999, t).drifted);
  EXPECT_TRUE(JudgeScore(DriftMethod::kKolmogorovSmirnov, 0.049, t).drifted);
  EXPECT_FALSE(JudgeScore(DriftMethod::kKolmogorovSmirnov, 0.05, t).drifted);
  EXPECT_EQ(JudgeScore(DriftMethod::kPsi, 0.05, t).status, DriftStatus::kOk);
  EXPECT_EQ(JudgeScore(DriftMethod::kPsi, 0.1, t).status, DriftStatus::kWarn);
  EXPECT_EQ(JudgeScore(DriftMethod::kPsi, 0.25, t).status, DriftStatus::kAlert);
  EXPECT_TRUE(JudgeScore(DriftMethod::kPsi, 0.25, t).drifted);
  const MethodResult nan = JudgeScore(DriftMethod::kCosineDistance, std::nan(""), t);
  EXPECT_FALSE(nan.drifted);
  EXPECT_EQ(nan.status, DriftStatus::kOk);
}

TEST(CompareNumericTest, LargeReferenceUsesNormedWassersteinWhichReadsAsShiftInStdDevs) {
  const FeatureSpec spec = FeatureSpec::Numeric("price");
  const FeatureProfile ref = NumericOf(Normal(20000, 100, 10, 1));
  const FeatureDrift same = CompareFeature(spec, ref, NumericOf(Normal(3000, 100, 10, 2)));
  ASSERT_TRUE(same.evaluated) << same.note;
  EXPECT_EQ(same.decision_method, DriftMethod::kWassersteinNormed);
  EXPECT_EQ(same.methods.front().method, DriftMethod::kWassersteinNormed);
  EXPECT_FALSE(same.drifted);
  EXPECT_LT(same.methods.front().score, 0.05);
  EXPECT_EQ(same.status, DriftStatus::kOk);
  EXPECT_LT(same.Find(DriftMethod::kPsi)->score, 0.02);

  // A shift of half a standard deviation moves every unit of mass 5: W1 / sd = 0.5.
  const FeatureDrift shifted = CompareFeature(spec, ref, NumericOf(Normal(3000, 105, 10, 3)));
  EXPECT_TRUE(shifted.drifted);
  EXPECT_NEAR(shifted.methods.front().score, 0.5, 0.06);
  EXPECT_EQ(shifted.status, DriftStatus::kAlert);
  EXPECT_LT(shifted.Find(DriftMethod::kKolmogorovSmirnov)->score, 1e-10);
  EXPECT_GT(shifted.Find(DriftMethod::kKolmogorovSmirnov)->statistic, 0.15);
  EXPECT_EQ(shifted.reference_count, 20000u);
  EXPECT_EQ(shifted.current_count, 3000u);
}

TEST(CompareNumericTest, SmallReferenceUsesKolmogorovSmirnov) {
  const FeatureSpec spec = FeatureSpec::Numeric("latency");
  const FeatureProfile ref = NumericOf(Normal(800, 0, 1, 4));
  const FeatureDrift same = CompareFeature(spec, ref, NumericOf(Normal(400, 0, 1, 5)));
  EXPECT_EQ(same.decision_method, DriftMethod::kKolmogorovSmirnov);
  EXPECT_FALSE(same.drifted) << "p = " << same.methods.front().score;
  const FeatureDrift shifted = CompareFeature(spec, ref, NumericOf(Normal(400, 0.5, 1, 6)));
  EXPECT_TRUE(shifted.drifted);
  EXPECT_LT(shifted.methods.front().score, 0.05);
}

TEST(CompareNumericTest, HistogramCoversBothSidesWithReferenceQuantileBins) {
  const FeatureProfile ref = NumericOf(Normal(10000, 0, 1, 7));
  const FeatureDrift d = CompareFeature(FeatureSpec::Numeric("x"), ref, NumericOf(Normal(1000, 2, 1, 8)));
  const NumericHistogram& h = d.histogram;
  ASSERT_EQ(h.edges.size(), 11u) << "10 reference-decile bins";
  ASSERT_EQ(h.reference.size(), 10u);
  ASSERT_EQ(h.current.size(), 10u);
  uint64_t ref_sum = 0, cur_sum = 0;
  for (size_t i = 0; i < 10; ++i) {
    ref_sum += h.reference[i];
    cur_sum += h.current[i];
    EXPECT_NEAR(static_cast<double>(h.reference[i]), 1000, 150) << "deciles hold a tenth each";
    EXPECT_LE(h.edges[i], h.edges[i + 1]);
  }
  EXPECT_EQ(ref_sum, 10000u);
  EXPECT_EQ(cur_sum, 1000u);
  // A +2 sd shift: the top bin (above the reference's 90th percentile, 1.2816) now holds
  // P(Z > 1.2816 - 2) = 76.4% of the current values instead of 10%.
  EXPECT_NEAR(static_cast<double>(h.current[9]), 764, 45);
  EXPECT_GE(h.edges.back(), 2.0);
}

TEST(CompareNumericTest, ThresholdsAndMethodAreConfigurablePerFeature) {
  const FeatureProfile ref = NumericOf(Normal(5000, 0, 1, 9));
  const FeatureProfile cur = NumericOf(Normal(2000, 0.6, 1, 10));
  FeatureSpec lenient = FeatureSpec::Numeric("x");
  lenient.thresholds.wasserstein_normed = 10;  // nothing drifts by this method
  const FeatureDrift d = CompareFeature(lenient, ref, cur);
  EXPECT_FALSE(d.drifted);
  EXPECT_EQ(d.Find(DriftMethod::kPsi)->status, DriftStatus::kAlert);
  EXPECT_EQ(d.status, DriftStatus::kWarn) << "PSI raises a quiet feature to warn";

  FeatureSpec by_psi = FeatureSpec::Numeric("x");
  by_psi.method = DriftMethod::kPsi;
  const FeatureDrift p = CompareFeature(by_psi, ref, cur);
  EXPECT_EQ(p.decision_method, DriftMethod::kPsi);
  EXPECT_EQ(p.methods.front().method, DriftMethod::kPsi);
  EXPECT_TRUE(p.drifted);

  FeatureSpec coarse = FeatureSpec::Numeric("x");
  coarse.psi_bins = 4;
  EXPECT_EQ(CompareFeature(coarse, ref, cur).histogram.reference.size(), 4u);
}

TEST(CompareNumericTest, TooFewCurrentValuesOrNoReferenceValuesAreNotEvaluated) {
  const FeatureProfile ref = NumericOf(Normal(5000, 0, 1, 11));
  const FeatureDrift few = CompareFeature(FeatureSpec::Numeric("x"), ref, NumericOf(Normal(29, 5, 1, 12)));
  EXPECT_FALSE(few.evaluated);
  EXPECT_FALSE(few.drifted);
  EXPECT_TRUE(few.methods.empty());
  EXPECT_NE(few.note.find("29 values"), std::string::npos) << few.note;
  CompareOptions o;
  o.min_current_count = 10;
  EXPECT_TRUE(CompareFeature(FeatureSpec::Numeric("x"), ref, NumericOf(Normal(29, 5, 1, 12)), o).drifted);
  const FeatureDrift empty_ref = CompareFeature(FeatureSpec::Numeric("x"), NumericOf({}), ref);
  EXPECT_FALSE(empty_ref.evaluated);
}

TEST(CompareCategoricalTest, JensenShannonForLargeReferencesAndItsValue) {
  const FeatureSpec spec = FeatureSpec::Categorical("brand");
  const FeatureProfile ref = CategoricalOf({{"acme", 2500}, {"bolt", 1500}, {"cord", 1000}});
  const FeatureDrift same = CompareFeature(spec, ref, CategoricalOf({{"acme", 500}, {"bolt", 300}, {"cord", 200}}));
  EXPECT_EQ(same.decision_method, DriftMethod::kJensenShannon);
  EXPECT_NEAR(same.methods.front().score, 0, 1e-12);
  EXPECT_FALSE(same.drifted);

  const FeatureDrift one = CompareFeature(spec, ref, CategoricalOf({{"acme", 1000}}));
  EXPECT_TRUE(one.drifted);
  // P = (.5, .3, .2), Q = (1, 0, 0): M = (.75, .15, .1).
  const double jsd = 0.5 * (0.5 * std::log2(0.5 / 0.75) + 0.3 * std::log2(0.3 / 0.15) + 0.2 * std::log2(0.2 / 0.1)) +
                     0.5 * std::log2(1 / 0.75);
  EXPECT_NEAR(one.methods.front().score, std::sqrt(jsd), 1e-12);
  ASSERT_EQ(one.categories.size(), 3u);
  EXPECT_EQ(one.categories[0].value, "acme");
  EXPECT_DOUBLE_EQ(one.categories[0].reference_share, 0.5);
  EXPECT_DOUBLE_EQ(one.categories[0].current_share, 1);
  EXPECT_LT(one.Find(DriftMethod::kChiSquared)->score, 1e-10);
}

TEST(CompareCategoricalTest, SmallReferenceUsesChiSquaredAndNewCategoriesShowUp) {
  const FeatureSpec spec = FeatureSpec::Categorical("brand");
  const FeatureProfile ref = CategoricalOf({{"acme", 300}, {"bolt", 200}, {"cord", 100}});
  const FeatureDrift same = CompareFeature(spec, ref, CategoricalOf({{"acme", 150}, {"bolt", 100}, {"cord", 50}}));
  EXPECT_EQ(same.decision_method, DriftMethod::kChiSquared);
  EXPECT_NEAR(same.methods.front().score, 1, 1e-9);
  EXPECT_FALSE(same.drifted);
  const FeatureDrift newcomer =
      CompareFeature(spec, ref, CategoricalOf({{"acme", 100}, {"bolt", 70}, {"cord", 30}, {"zeta", 100}}));
  EXPECT_TRUE(newcomer.drifted);
  bool listed = false;
  for (const CategoryShare& c : newcomer.categories) {
    if (c.value == "zeta") {
      listed = true;
      EXPECT_EQ(c.reference_share, 0);
      EXPECT_NEAR(c.current_share, 1.0 / 3, 1e-12);
    }
  }
  EXPECT_TRUE(listed);
}

TEST(CompareCategoricalTest, TheTailIsPooledIntoOther) {
  std::vector<std::pair<std::string, int>> ref_counts, cur_counts;
  for (int i = 0; i < 100; ++i) {
    ref_counts.emplace_back(Numbered("c", i), 100 - i);
    cur_counts.emplace_back(Numbered("c", i), (100 - i) / 2);
  }
  const FeatureDrift d = CompareFeature(FeatureSpec::Categorical("c"), CategoricalOf(ref_counts), CategoricalOf(cur_counts));
  ASSERT_EQ(d.categories.size(), 21u) << "the top 20 and __other__";
  EXPECT_EQ(d.categories.back().value, kOtherCategory);
  EXPECT_EQ(d.categories.front().value, "c0");
  EXPECT_FALSE(d.drifted);
}

TEST(CompareVectorTest, ShareOfDriftedDimensionsDecides) {
  auto list = std::make_shared<const std::vector<FeatureSpec>>(std::vector<FeatureSpec>{FeatureSpec::Vector("e", 16)});
  const auto make = [&](size_t n, float shift, size_t shifted_dims, uint64_t seed) {
    Profile p(list, {});
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0, 1);
    std::vector<float> v(16);
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < 16; ++k) v[k] = d(rng) + (k < shifted_dims ? shift : 0.0f) + 3.0f;
      p.AddValue(0, FeatureValue::Vector(v), nullptr);
    }
    return p.feature(0);
  };
  const FeatureSpec spec = FeatureSpec::Vector("e", 16);
  const FeatureProfile ref = make(5000, 0, 0, 1);
  const FeatureDrift same = CompareFeature(spec, ref, make(2000, 0, 0, 2));
  EXPECT_EQ(same.decision_method, DriftMethod::kShareDriftedDims);
  EXPECT_FALSE(same.drifted);
  EXPECT_EQ(same.methods.front().score, 0);
  EXPECT_LT(same.Find(DriftMethod::kEuclideanDistance)->score, 0.2);

  const FeatureDrift shifted = CompareFeature(spec, ref, make(2000, 1.0f, 8, 3));
  EXPECT_TRUE(shifted.drifted);
  EXPECT_DOUBLE_EQ(shifted.methods.front().score, 0.5);
  EXPECT_EQ(shifted.methods.front().statistic, 8);
  EXPECT_NEAR(shifted.Find(DriftMethod::kEuclideanDistance)->score, std::sqrt(8.0), 0.15);
  // Centroids (3,...,3) and (4 x 8, 3 x 8): 1 - 168 / (12 sqrt 200) = 0.0101.
  EXPECT_NEAR(shifted.Find(DriftMethod::kCosineDistance)->score, 0.0101, 0.002);
  EXPECT_NEAR(shifted.reference_centroid_norm, 12, 0.2) << "16 dims at 3";
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
