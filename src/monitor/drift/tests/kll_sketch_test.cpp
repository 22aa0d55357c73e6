// KllSketch: rank error against exact ranks on large random data, merging, serialization.
#include "monitor/drift/kll_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace shelfwatch::monitor::drift {
namespace {

// Largest |estimated rank - exact rank| over every 7th value of `sorted` (exact ranks of
// values with ties are the fraction <= value).
double MaxRankError(const KllSortedView& view, const std::vector<double>& sorted) {
  double worst = 0;
  for (size_t i = 0; i < sorted.size(); i += 7) {
    const double x = sorted[i];
    const double exact = static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin()) /
                         static_cast<double>(sorted.size());
    worst = std::max(worst, std::abs(view.Rank(x) - exact));
  }
  return worst;
}

std::vector<double> Draw(int distribution, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(n);
  std::normal_distribution<double> normal(10, 3);
  std::lognormal_distribution<double> lognormal(0, 1.5);
  std::uniform_int_distribution<int> small_ints(1, 12);  // heavy ties, like word counts
  for (double& x : v) {
    switch (distribution) {
      case 0: x = normal(rng); break;
      case 1: x = lognormal(rng); break;
      default: x = small_ints(rng); break;
    }
  }
  return v;
}

TEST(KllSketchTest, ExactUntilTheFirstCompaction) {
  KllSketch s(200);
  for (int i = 100; i >= 1; --i) s.Update(i);
  EXPECT_EQ(s.count(), 100u);
  EXPECT_EQ(s.min(), 1);
  EXPECT_EQ(s.max(), 100);
  EXPECT_DOUBLE_EQ(s.Rank(0.5), 0);
  EXPECT_DOUBLE_EQ(s.Rank(37), 0.37);
  EXPECT_DOUBLE_EQ(s.Rank(100), 1);
  EXPECT_EQ(s.Quantile(0.5), 50);
  EXPECT_EQ(s.Quantile(0), 1);
  EXPECT_EQ(s.Quantile(1), 100);
  EXPECT_EQ(s.Quantile(0.371), 38);
  EXPECT_TRUE(s.is_exact());
  EXPECT_EQ(s.RankErrorBound(), 0);
  for (int i = 0; i < 200; ++i) s.Update(i);
  EXPECT_FALSE(s.is_exact()) << "300 values > k = 200 compacted";
  // One compaction of level 0: any rank moved by at most one value of 300.
  EXPECT_DOUBLE_EQ(s.RankErrorBound(), 1.0 / 300);
}

TEST(KllSketchTest, RankErrorBoundHoldsForWindowSizedSketches) {
  // Windows of a few hundred to a few thousand values, where KS tests run: the deterministic
  // compaction bound is tight and must never be exceeded.
  for (size_t n : {250u, 500u, 1000u, 3000u}) {
    std::vector<double> data = Draw(0, n, n);
    KllSketch s(200, n);
    for (double x : data) s.Update(x);
    std::sort(data.begin(), data.end());
    double worst = 0;
    const KllSortedView view = s.View();
    for (double x : data) {
      const double exact = static_cast<double>(std::upper_bound(data.begin(), data.end(), x) - data.begin()) / n;
      worst = std::max(worst, std::abs(view.Rank(x) - exact));
    }
    EXPECT_LE(worst, s.RankErrorBound() + 1e-12) << n;
    if (n <= 1000) {
      EXPECT_LT(s.RankErrorBound(), KllSketch::NormalizedRankError(200)) << n;
    }
  }
}

TEST(KllSketchTest, EmptySketchAndNaN) {
  KllSketch s;
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(std::isnan(s.min()));
  EXPECT_TRUE(std::isnan(s.Quantile(0.5)));
  EXPECT_EQ(s.Rank(1), 0);
  s.Update(std::nan(""));
  EXPECT_TRUE(s.empty()) << "NaN must not enter the sketch";
}

TEST(KllSketchTest, RankErrorStaysWithinTheStatedBoundOnLargeRandomData) {
  const double bound = KllSketch::NormalizedRankError(200);
  EXPECT_NEAR(bound, 0.0133, 0.0005);
  for (int distribution = 0; distribution < 3; ++distribution) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      std::vector<double> data = Draw(distribution, 300000, seed);
      KllSketch s(200, seed);
      for (double x : data) s.Update(x);
      std::sort(data.begin(), data.end());
      const double err = MaxRankError(s.View(), data);
      EXPECT_LE(err, bound) << "distribution " << distribution << " seed " << seed;
      EXPECT_EQ(s.count(), data.size());
      EXPECT_EQ(s.min(), data.front());
      EXPECT_EQ(s.max(), data.back());
      // Quantile is the inverse: the exact rank of Quantile(q) is within the bound of q.
      const KllSortedView view = s.View();
      for (double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}) {
        const double v = view.Quantile(q);
        const double below = static_cast<double>(std::lower_bound(data.begin(), data.end(), v) - data.begin()) / data.size();
        const double upto = static_cast<double>(std::upper_bound(data.begin(), data.end(), v) - data.begin()) / data.size();
        EXPECT_GE(q, below - bound) << "q=" << q;
        EXPECT_LE(q, upto + bound) << "q=" << q;
      }
    }
  }
}

TEST(KllSketchTest, SmallerKMeansLargerButBoundedError) {
  std::vector<double> data = Draw(0, 200000, 7);
  KllSketch s(64, 7);
  for (double x : data) s.Update(x);
  std::sort(data.begin(), data.end());
  EXPECT_LE(MaxRankError(s.View(), data), KllSketch::NormalizedRankError(64));
  EXPECT_LT(s.retained(), 3 * 64 + 8 * s.num_levels());
}

TEST(KllSketchTest, MemoryDoesNotGrowWithTheStream) {
  KllSketch s(200);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> d;
  for (int i = 0; i < 100000; ++i) s.Update(d(rng));
  const size_t at_100k = s.MemoryBytes();
  for (int i = 0; i < 2000000; ++i) s.Update(d(rng));
  EXPECT_LE(s.retained(), 3 * 200 + 8 * s.num_levels());
  EXPECT_LT(s.MemoryBytes(), 16 * 1024u) << "the header promises ~7.8 KiB at k=200";
  EXPECT_LT(s.MemoryBytes(), at_100k + 2048);
}

TEST(KllSketchTest, MergedPartsMatchTheSingleStreamWithinTheBound) {
  std::vector<double> data = Draw(1, 400000, 11);
  KllSketch single(200, 1);
  for (double x : data) single.Update(x);
  // 40 parts of uneven sizes, merged in a tree like time buckets into a window.
  std::vector<KllSketch> parts;
  size_t pos = 0;
  for (int p = 0; p < 40; ++p) {
    const size_t len = p == 39 ? data.size() - pos : 2000 + (p * 7919) % 15000;
    KllSketch part(200, 100 + p);
    for (size_t i = pos; i < pos + len; ++i) part.Update(data[i]);
    pos += len;
    parts.push_back(std::move(part));
  }
  while (parts.size() > 1) {
    std::vector<KllSketch> next;
    for (size_t i = 0; i + 1 < parts.size(); i += 2) {
      parts[i].Merge(parts[i + 1]);
      next.push_back(std::move(parts[i]));
    }
    if (parts.size() % 2) next.push_back(std::move(parts.back()));
    parts = std::move(next);
  }
  const KllSketch& merged = parts[0];
  std::sort(data.begin(), data.end());
  EXPECT_EQ(merged.count(), data.size());
  EXPECT_EQ(merged.min(), data.front());
  EXPECT_EQ(merged.max(), data.back());
  const double bound = KllSketch::NormalizedRankError(200);
  EXPECT_LE(MaxRankError(merged.View(), data), bound);
  // Merged and single-stream sketches agree with each other within twice the bound.
  const KllSortedView a = merged.View(), b = single.View();
  for (double q = 0.05; q < 1; q += 0.05) {
    const double x = data[static_cast<size_t>(q * data.size())];
    EXPECT_NEAR(a.Rank(x), b.Rank(x), 2 * bound) << "q=" << q;
  }
  EXPECT_LE(merged.retained(), 3 * 200 + 8 * merged.num_levels());
}

TEST(KllSketchTest, MergeWithEmptyAndOfDifferentK) {
  KllSketch a(200), empty(200), small(50);
  for (int i = 0; i < 1000; ++i) a.Update(i);
  const std::string before = a.Serialize();
  a.Merge(empty);
  EXPECT_EQ(a.Serialize(), before);
  for (int i = 1000; i < 2000; ++i) small.Update(i);
  a.Merge(small);
  EXPECT_EQ(a.k(), 50u);
  EXPECT_EQ(a.count(), 2000u);
  EXPECT_EQ(a.max(), 1999);
  EXPECT_NEAR(a.Rank(999), 0.5, KllSketch::NormalizedRankError(50));
}

TEST(KllSketchTest, SameSeedSameStreamGivesIdenticalBytes) {
  const std::vector<double> data = Draw(0, 50000, 5);
  KllSketch a(200, 42), b(200, 42), c(200, 43);
  for (double x : data) {
    a.Update(x);
    b.Update(x);
    c.Update(x);
  }
  EXPECT_EQ(a.Serialize(), b.Serialize());
  EXPECT_NE(a.Serialize(), c.Serialize()) << "the seed drives the compaction coin";
}

TEST(KllSketchTest, SerializationRoundTripAnswersTheSameAndContinuesTheSame) {
  const std::vector<double> data = Draw(1, 100000, 9);
  KllSketch s(120, 77);
  for (size_t i = 0; i < 60000; ++i) s.Update(data[i]);
  const std::string bytes = s.Serialize();
  auto back = KllSketch::Deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->count(), s.count());
  EXPECT_EQ(back->min(), s.min());
  EXPECT_EQ(back->max(), s.max());
  EXPECT_EQ(back->k(), 120u);
  for (double q = 0; q <= 1; q += 0.01) EXPECT_EQ(back->Quantile(q), s.Quantile(q));
  // The RNG state travels too: continuing both gives identical sketches.
  for (size_t i = 60000; i < data.size(); ++i) {
    s.Update(data[i]);
    back->Update(data[i]);
  }
  EXPECT_EQ(back->Serialize(), s.Serialize());
}

TEST(KllSketchTest, DamagedBytesAreRefused) {
  KllSketch s;
  for (int i = 0; i < 5000; ++i) s.Update(i);
  const std::string bytes = s.Serialize();
  auto truncated = KllSketch::Deserialize(std::string_view(bytes).substr(0, bytes.size() - 3));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), ErrorCode::kDataLoss);
  std::string bad_magic = bytes;
  bad_magic[0] ^= 0x55;
  EXPECT_EQ(KllSketch::Deserialize(bad_magic).status().code(), ErrorCode::kDataLoss);
  // Claim one more value than the levels hold.
  std::string bad_count = bytes;
  bad_count[16] = static_cast<char>(bad_count[16] + 1);
  auto inconsistent = KllSketch::Deserialize(bad_count);
  ASSERT_FALSE(inconsistent.ok());
  EXPECT_NE(inconsistent.status().message().find("weights"), std::string::npos) << inconsistent.status().message();
  EXPECT_FALSE(KllSketch::Deserialize(bytes + "x").ok());
  EXPECT_FALSE(KllSketch::Deserialize("").ok());
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
