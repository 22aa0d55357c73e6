// Profile: per-kind sketching, data-quality judgement, merge, serialization and its checks.
#include "monitor/drift/profile.h"

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

FeatureList Features() {
  return std::make_shared<const std::vector<FeatureSpec>>(std::vector<FeatureSpec>{
      FeatureSpec::Numeric("price"), FeatureSpec::Categorical("brand"), FeatureSpec::Vector("emb", 3)});
}

void AddRandomRows(Profile& p, int n, uint64_t seed, const ReferenceChecks* checks = nullptr) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(20, 4);
  const char* brands[] = {"acme", "bolt", "cord"};
  for (int i = 0; i < n; ++i) {
    const float e[3] = {static_cast<float>(d(rng)), 1.0f, -static_cast<float>(i % 5)};
    const FeatureValue row[] = {FeatureValue::Number(d(rng)), FeatureValue::Category(brands[i % 3]),
                                FeatureValue::Vector(e)};
    ASSERT_TRUE(p.AddRow(row, checks).ok());
  }
}

TEST(RunningMomentsTest, MergeEqualsOnePass) {
  RunningMoments all, left, right;
  for (int i = 0; i < 1000; ++i) {
    const double x = std::sin(i) * 10 + i * 0.01;
    all.Add(x);
    (i < 300 ? left : right).Add(x);
  }
  left.Merge(right);
  EXPECT_EQ(left.n, all.n);
  EXPECT_NEAR(left.mean, all.mean, 1e-12);
  EXPECT_NEAR(left.Variance(), all.Variance(), 1e-9);
  RunningMoments two;
  two.Add(1);
  two.Add(3);
  EXPECT_DOUBLE_EQ(two.Variance(), 1) << "population variance, ddof = 0";
}

TEST(ProfileTest, SketchesEachKindAndCountsBadValues) {
  Profile p(Features(), {});
  const float ok[3] = {1, 2, 3};
  const float nan_vec[3] = {1, NAN, 3};
  const float short_vec[2] = {1, 2};
  // A good row, then every kind of bad value.
  ASSERT_TRUE(p.AddRow(std::vector<FeatureValue>{FeatureValue::Number(5), FeatureValue::Category("acme"),
                                                 FeatureValue::Vector(ok)})
                  .ok());
  ASSERT_TRUE(p.AddRow(std::vector<FeatureValue>{FeatureValue::Number(NAN), FeatureValue::Missing(),
                                                 FeatureValue::Vector(nan_vec)})
                  .ok());
  ASSERT_TRUE(p.AddRow(std::vector<FeatureValue>{FeatureValue::Number(INFINITY), FeatureValue::Number(3),
                                                 FeatureValue::Vector(short_vec)})
                  .ok());
  ASSERT_TRUE(p.AddRow(std::vector<FeatureValue>{FeatureValue::Category("5"), FeatureValue::Category(""),
                                                 FeatureValue::Missing()})
                  .ok());
  EXPECT_EQ(p.rows(), 4u);
  EXPECT_EQ(p.feature(0).count(), 1u);
  EXPECT_EQ(p.feature(0).quality.nan, 2u) << "NaN and +Inf";
  EXPECT_EQ(p.feature(0).quality.missing, 1u) << "a category given for a numeric feature";
  EXPECT_EQ(p.feature(1).count(), 2u) << "the empty string is a category";
  EXPECT_EQ(p.feature(1).quality.missing, 2u);
  EXPECT_EQ(p.feature(2).count(), 1u);
  EXPECT_EQ(p.feature(2).quality.nan, 1u);
  EXPECT_EQ(p.feature(2).quality.missing, 2u) << "wrong length, absent";
  const auto& v = std::get<VectorProfile>(p.feature(2).data);
  EXPECT_EQ(v.moments[1].mean, 2);

  const FeatureValue short_row[] = {FeatureValue::Number(1)};
  EXPECT_EQ(p.AddRow(short_row).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(p.rows(), 4u);
}

TEST(ProfileTest, ReferenceChecksJudgeRangeAndCategories) {
  Profile ref(Features(), {});
  AddRandomRows(ref, 2000, 1);
  const ReferenceChecks checks(ref);
  const double lo = std::get<NumericProfile>(ref.feature(0).data).sketch.min();
  const double hi = std::get<NumericProfile>(ref.feature(0).data).sketch.max();
  EXPECT_FALSE(checks.OutOfRange(0, lo));
  EXPECT_FALSE(checks.OutOfRange(0, hi));
  EXPECT_TRUE(checks.OutOfRange(0, hi + 1e-9));
  EXPECT_TRUE(checks.OutOfRange(0, lo - 1));
  EXPECT_FALSE(checks.Unseen(1, "bolt"));
  EXPECT_TRUE(checks.Unseen(1, "zeta"));
  const float inside[3] = {20, 1, -2};
  const float outside[3] = {20, 1.5f, -2};  // dimension 1 was always exactly 1
  EXPECT_FALSE(checks.OutOfRange(2, inside));
  EXPECT_TRUE(checks.OutOfRange(2, outside));

  Profile current(Features(), {});
  const float e[3] = {20, 1, 0};
  for (int i = 0; i < 10; ++i) {
    const FeatureValue row[] = {FeatureValue::Number(i < 3 ? hi + 100 : 20), FeatureValue::Category(i < 4 ? "new" : "acme"),
                                FeatureValue::Vector(e)};
    ASSERT_TRUE(current.AddRow(row, &checks).ok());
  }
  EXPECT_EQ(current.feature(0).quality.out_of_range, 3u);
  EXPECT_EQ(current.feature(1).quality.unseen_category, 4u);
  EXPECT_EQ(current.feature(0).count(), 10u) << "out-of-range values are still sketched";
}

TEST(ProfileTest, UnseenCategoriesFallBackToTheBloomFilterBeyondTheSketchCapacity) {
  SketchOptions o;
  o.frequent_items_capacity = 16;  // far fewer than the 500 reference categories
  Profile ref(Features(), o);
  const float e[3] = {0, 0, 0};
  for (int i = 0; i < 500; ++i) {
    const std::string brand = Numbered("brand", i);
    const FeatureValue row[] = {FeatureValue::Number(i), FeatureValue::Category(brand), FeatureValue::Vector(e)};
    ASSERT_TRUE(ref.AddRow(row).ok());
  }
  ASSERT_FALSE(std::get<CategoricalProfile>(ref.feature(1).data).items.exact());
  const ReferenceChecks checks(ref);
  for (int i = 0; i < 500; ++i) EXPECT_FALSE(checks.Unseen(1, Numbered("brand", i))) << "no false unseen";
  int flagged = 0;
  for (int i = 0; i < 1000; ++i) flagged += checks.Unseen(1, Numbered("novel", i)) ? 1 : 0;
  EXPECT_GE(flagged, 995) << "Bloom false positives at 500 items are ~0.00002";
}

TEST(ProfileTest, MergeEqualsOneProfileOfAllRows) {
  Profile all(Features(), {}), first(Features(), {}), second(Features(), {});
  AddRandomRows(all, 1000, 6);
  AddRandomRows(all, 2000, 7);
  AddRandomRows(first, 1000, 6);
  AddRandomRows(second, 2000, 7);
  ASSERT_TRUE(first.Merge(second).ok());
  EXPECT_EQ(first.rows(), all.rows());
  EXPECT_EQ(first.feature(0).count(), 3000u);
  EXPECT_EQ(std::get<CategoricalProfile>(first.feature(1).data).items.Estimate("acme"),
            std::get<CategoricalProfile>(all.feature(1).data).items.Estimate("acme"));
  const auto& merged = std::get<NumericProfile>(first.feature(0).data);
  const auto& single = std::get<NumericProfile>(all.feature(0).data);
  EXPECT_NEAR(merged.moments.mean, single.moments.mean, 1e-9);
  EXPECT_NEAR(merged.moments.Variance(), single.moments.Variance(), 1e-6);
  EXPECT_EQ(merged.sketch.min(), single.sketch.min());
  for (double q : {0.1, 0.5, 0.9}) {
    EXPECT_NEAR(single.sketch.Rank(merged.sketch.Quantile(q)), q, 2 * KllSketch::NormalizedRankError(200));
  }
  const auto& mv = std::get<VectorProfile>(first.feature(2).data);
  const auto& sv = std::get<VectorProfile>(all.feature(2).data);
  EXPECT_EQ(mv.count, sv.count);
  EXPECT_NEAR(mv.moments[0].mean, sv.moments[0].mean, 1e-9);
  // Profiles of other features refuse to merge.
  auto other = std::make_shared<const std::vector<FeatureSpec>>(std::vector<FeatureSpec>{
      FeatureSpec::Numeric("price"), FeatureSpec::Categorical("brand"), FeatureSpec::Vector("emb", 4)});
  Profile wrong(other, {});
  EXPECT_EQ(first.Merge(wrong).code(), ErrorCode::kInvalidArgument);
}

TEST(ProfileTest, SerializationRoundTripAndRefusals) {
  Profile p(Features(), {});
  AddRandomRows(p, 5000, 9);
  const FeatureValue bad[] = {FeatureValue::Number(NAN), FeatureValue::Missing(), FeatureValue::Missing()};
  ASSERT_TRUE(p.AddRow(bad).ok());
  const std::string bytes = p.Serialize();
  auto back = Profile::Deserialize(bytes, Features());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rows(), p.rows());
  EXPECT_EQ(back->Serialize(), bytes);
  EXPECT_EQ(back->feature(0).quality.nan, 1u);
  EXPECT_EQ(back->feature(2).count(), 5000u);
  EXPECT_EQ(std::get<NumericProfile>(back->feature(0).data).sketch.Quantile(0.5),
            std::get<NumericProfile>(p.feature(0).data).sketch.Quantile(0.5));

  auto renamed = std::make_shared<const std::vector<FeatureSpec>>(std::vector<FeatureSpec>{
      FeatureSpec::Numeric("cost"), FeatureSpec::Categorical("brand"), FeatureSpec::Vector("emb", 3)});
  auto mismatch = Profile::Deserialize(bytes, renamed);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("price"), std::string::npos) << mismatch.status().message();
  for (size_t cut : {size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_EQ(Profile::Deserialize(bytes.substr(0, cut), Features()).status().code(), ErrorCode::kDataLoss) << cut;
  }
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
