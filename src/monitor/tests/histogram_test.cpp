// Histogram: inclusive upper bounds (v <= le), cumulative counts, sum, and a count that always
// equals the +Inf bucket even while observations are being recorded.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

TEST(HistogramTest, ValueOnABoundCountsInThatBucket) {
  Histogram h({1, 2, 5});
  h.Observe(1);
  h.Observe(2);
  h.Observe(5);
  HistogramSnapshot s = h.Collect();
  EXPECT_EQ(s.bounds, (std::vector<double>{1, 2, 5}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 2, 3, 3}));

  // Just above a bound goes to the next bucket.
  h.Observe(std::nextafter(1.0, 2.0));
  h.Observe(std::nextafter(5.0, 6.0));
  s = h.Collect();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 3, 4, 5}));
  EXPECT_EQ(s.count, 5u);
}

TEST(HistogramTest, CumulativeCountsSumAndCount) {
  Histogram h({0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 0.7, 3.0, -1.0}) h.Observe(v);
  const HistogramSnapshot s = h.Collect();
  // <=0.01: 0.005, 0.01, -1   <=0.1: +0.05   <=1: +0.5, 0.7   +Inf: +3
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 4, 6, 7}));
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 0.005 + 0.01 + 0.05 + 0.5 + 0.7 + 3.0 - 1.0);
}

TEST(HistogramTest, InfinitiesLandInEdgeBucketsAndNaNIsIgnored) {
  Histogram h({1, 2});
  h.Observe(-INFINITY);
  h.Observe(INFINITY);
  h.Observe(NAN);
  const HistogramSnapshot s = h.Collect();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 1, 2}));
  EXPECT_EQ(s.count, 2u);
  EXPECT_TRUE(std::isnan(s.sum));  // -Inf + +Inf, as Prometheus' own clients would report
}

TEST(HistogramTest, NoFiniteBoundsCountsEverythingInInf) {
  Histogram h({});
  h.Observe(3);
  h.Observe(-3);
  const HistogramSnapshot s = h.Collect();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2}));
  EXPECT_EQ(s.sum, 0);
}

TEST(HistogramTest, TrailingInfBoundIsImplicit) {
  Histogram h({1, INFINITY});
  EXPECT_EQ(h.bounds(), (std::vector<double>{1}));
}

TEST(HistogramTest, PlacementMatchesALinearScanForManyBuckets) {
  // The branch-free search must agree with the definition (first bound >= v) everywhere,
  // bounds and their neighbours included.
  for (size_t n : {1u, 2u, 3u, 7u, 17u, 64u}) {
    std::vector<double> bounds = ExponentialBuckets(0.001, 1.7, static_cast<int>(n));
    Histogram h(bounds);
    std::vector<double> values;
    for (double b : bounds) {
      values.insert(values.end(), {b, std::nextafter(b, 0.0), std::nextafter(b, INFINITY)});
    }
    std::mt19937_64 rng(n);
    std::uniform_real_distribution<double> u(-0.01, bounds.back() * 2);
    for (int i = 0; i < 1000; ++i) values.push_back(u(rng));

    std::vector<uint64_t> expected(n + 1, 0);
    for (double v : values) {
      size_t i = 0;
      while (i < n && v > bounds[i]) ++i;
      for (size_t j = i; j <= n; ++j) ++expected[j];  // cumulative
      h.Observe(v);
    }
    EXPECT_EQ(h.Collect().cumulative, expected) << n << " buckets";
  }
}

TEST(HistogramTest, ConcurrentScrapesSeeConsistentCountsAndFinalTotalsAreExact) {
  Histogram h(LatencyBuckets());
  constexpr int kThreads = 4, kPerThread = 200'000;
  std::atomic<bool> done{false};
  std::atomic<int> inconsistent{0};
  std::thread scraper([&] {
    while (!done.load()) {
      const HistogramSnapshot s = h.Collect();
      bool ok = s.count == s.cumulative.back();
      for (size_t i = 1; i < s.cumulative.size(); ++i) ok = ok && s.cumulative[i - 1] <= s.cumulative[i];
      if (!ok) inconsistent.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      // 2^-10 s (just under 1 ms) and 2 s alternate: binary fractions, so the sum is exact.
      for (int i = 0; i < kPerThread; ++i) h.Observe(i % 2 == 0 ? 0x1p-10 : 2.0);
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  scraper.join();

  const HistogramSnapshot s = h.Collect();
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPerThread);
  const size_t le_1ms = 4, le_2_5s = 14;  // LatencyBuckets()[4] == 0.001, [14] == 2.5
  ASSERT_EQ(s.bounds[le_1ms], 0.001);
  ASSERT_EQ(s.bounds[le_2_5s], 2.5);
  EXPECT_EQ(s.cumulative[le_1ms], s.count / 2);
  EXPECT_EQ(s.cumulative[le_2_5s - 1], s.count / 2);
  EXPECT_EQ(s.cumulative[le_2_5s], s.count);
  EXPECT_EQ(s.sum, kThreads * (kPerThread / 2) * (0x1p-10 + 2.0));
}

TEST(HistogramTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(LinearBuckets(0, 5, 3), (std::vector<double>{0, 5, 10}));
  // Without float noise, so le labels read "0.0009", not "0.0009000000000000001".
  EXPECT_EQ(ExponentialBuckets(0.0001, 3, 3), (std::vector<double>{0.0001, 0.0003, 0.0009}));
  EXPECT_EQ(LinearBuckets(0.1, 0.1, 3), (std::vector<double>{0.1, 0.2, 0.3}));
  const std::vector<double> latency = LatencyBuckets();
  EXPECT_EQ(latency.front(), 0.00005);
  EXPECT_EQ(latency.back(), 10);
  EXPECT_TRUE(std::is_sorted(latency.begin(), latency.end()));
}

TEST(HistogramDeathTest, RejectsBoundsThatAreNotStrictlyIncreasingAndFinite) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(Histogram({2, 1}), "strictly increasing");
  EXPECT_DEATH(Histogram({1, 1}), "strictly increasing");
  EXPECT_DEATH(Histogram({NAN, 1}), "not finite");
  EXPECT_DEATH(Histogram({-INFINITY, 1}), "not finite");
  EXPECT_DEATH(ExponentialBuckets(0, 2, 3), "start > 0");
}

}  // namespace
}  // namespace shelfwatch::monitor
