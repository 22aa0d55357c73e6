// PromQL evaluation on hand-made series with hand-computed answers: lookback and staleness,
// rate/increase extrapolation (Prometheus' extrapolatedRate), counter resets,
// histogram_quantile, aggregations, vector matching and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "monitor/history/promql.h"

namespace shelfwatch::monitor {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // ms
constexpr int64_t kS = 1000;

LabelSet L(std::vector<Label> labels) { return LabelSet(std::move(labels)); }

class PromqlEngineTest : public ::testing::Test {
 protected:
  // Adds samples at kT0 + seconds.
  void Add(const LabelSet& labels, std::vector<std::pair<double, double>> seconds_values) {
    for (const auto& [sec, v] : seconds_values) {
      ASSERT_TRUE(store_.Add(labels, kT0 + static_cast<int64_t>(sec * 1000), v).ok());
    }
  }

  QueryResult Instant(std::string_view q, double at_seconds) {
    auto r = EvalInstant(store_, q, kT0 + static_cast<int64_t>(at_seconds * 1000));
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
    return r.ok() ? *r : QueryResult{};
  }

  // The single value of an instant vector query (NaN-checked by the caller).
  double One(std::string_view q, double at_seconds) {
    QueryResult r = Instant(q, at_seconds);
    if (r.type == ValueType::kScalar) return r.scalar.v;
    EXPECT_EQ(r.series.size(), 1u) << q;
    return r.series.empty() ? std::nan("") : r.series[0].samples[0].v;
  }

  // "labels=value" for every series of an instant query.
  std::vector<std::string> Rows(std::string_view q, double at_seconds) {
    std::vector<std::string> rows;
    for (const auto& s : Instant(q, at_seconds).series) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.10g", s.samples[0].v);
      rows.push_back(s.labels->ToString() + "=" + buf);
    }
    return rows;
  }

  Status ErrorOf(std::string_view q, double at_seconds) {
    auto r = EvalInstant(store_, q, kT0 + static_cast<int64_t>(at_seconds * 1000));
    return r.ok() ? Status::Ok() : r.status();
  }

  InMemorySeriesStore store_;
};

TEST_F(PromqlEngineTest, InstantSelectorLooksBackFiveMinutesInclusive) {
  Add(L({{"__name__", "g"}}), {{0, 7}});
  EXPECT_EQ(One("g", 0), 7);
  EXPECT_EQ(One("g", 300), 7);  // exactly 5 m later: still seen
  EXPECT_TRUE(Instant("g", 300.001).series.empty());
  EXPECT_TRUE(Instant("g", -0.001).series.empty());  // nothing before the first sample
}

TEST_F(PromqlEngineTest, StaleMarkerEndsASeries) {
  const LabelSet g = L({{"__name__", "g"}});
  Add(g, {{0, 1}, {15, 2}});
  ASSERT_TRUE(store_.MarkStale(g, kT0 + 30 * kS).ok());
  EXPECT_EQ(One("g", 29), 2);
  EXPECT_TRUE(Instant("g", 30).series.empty());
  EXPECT_TRUE(Instant("g", 100).series.empty());
  // Range selectors skip the marker itself.
  EXPECT_EQ(One("count_over_time(g[1m])", 40), 2);
  EXPECT_EQ(One("g offset 20s", 40), 2);
}

TEST_F(PromqlEngineTest, RateWithoutExtrapolationWhenSamplesSitOnTheBoundaries) {
  Add(L({{"__name__", "c_total"}}), {{0, 0}, {15, 10}, {30, 20}, {45, 30}, {60, 40}});
  // The window [0 s, 60 s] is closed: 5 samples, increase 40 over exactly 60 s.
  EXPECT_DOUBLE_EQ(One("rate(c_total[1m])", 60), 40.0 / 60);
  EXPECT_DOUBLE_EQ(One("increase(c_total[1m])", 60), 40);
  EXPECT_DOUBLE_EQ(One("irate(c_total[1m])", 60), 10.0 / 15);
  EXPECT_DOUBLE_EQ(One("idelta(c_total[1m])", 60), 10);
  EXPECT_DOUBLE_EQ(One("delta(c_total[1m])", 60), 40);
}

TEST_F(PromqlEngineTest, RateExtrapolatesToTheWindowBoundaries) {
  // Samples 5 s after the window start and 10 s before its end; average interval 15 s, so
  // both gaps are below the 1.1 x 15 s threshold and extrapolated fully:
  // increase = 30 * (45 + 5 + 10) / 45 = 40.
  Add(L({{"__name__", "c_total"}}), {{5, 10}, {20, 20}, {35, 30}, {50, 40}});
  EXPECT_DOUBLE_EQ(One("increase(c_total[1m])", 60), 40);
  EXPECT_DOUBLE_EQ(One("rate(c_total[1m])", 60), 40.0 / 60);
}

TEST_F(PromqlEngineTest, CounterIsNotExtrapolatedBelowZero) {
  // Same shape starting at 1: zero would be reached 45 * (1 / 30) = 1.5 s before the first
  // sample, earlier than the 5 s to the boundary: increase = 30 * (45 + 1.5 + 10) / 45.
  Add(L({{"__name__", "c_total"}}), {{5, 1}, {20, 11}, {35, 21}, {50, 31}});
  EXPECT_DOUBLE_EQ(One("increase(c_total[1m])", 60), 30 * 56.5 / 45);
  // delta() is not a counter function: it extrapolates the full 5 s.
  EXPECT_DOUBLE_EQ(One("delta(c_total[1m])", 60), 30 * 60.0 / 45);
}

TEST_F(PromqlEngineTest, GapBeyondThresholdExtrapolatesHalfAnInterval) {
  // First sample 30 s after the window start: 30 >= 1.1 x 15, so only 7.5 s are added.
  Add(L({{"__name__", "g"}}), {{30, 5}, {45, 10}, {60, 15}});
  EXPECT_DOUBLE_EQ(One("delta(g[1m])", 60), 10 * 37.5 / 30);
  // As a counter, zero is 30 * 5 / 10 = 15 s back, inside the threshold: 10 * 45 / 30.
  Add(L({{"__name__", "c_total"}}), {{30, 5}, {45, 10}, {60, 15}});
  EXPECT_DOUBLE_EQ(One("increase(c_total[1m])", 60), 15);
}

TEST_F(PromqlEngineTest, CounterResetsAddTheValueBeforeTheReset) {
  Add(L({{"__name__", "c_total"}}), {{0, 10}, {15, 20}, {30, 5}, {45, 15}, {60, 25}});
  // (25 - 10) + 20 = 35 over the full window.
  EXPECT_DOUBLE_EQ(One("increase(c_total[1m])", 60), 35);
  EXPECT_DOUBLE_EQ(One("rate(c_total[1m])", 60), 35.0 / 60);
  EXPECT_DOUBLE_EQ(One("irate(c_total[1m])", 30), 5.0 / 15);  // reset: the new value is the increase
  // delta() does not know about resets.
  EXPECT_DOUBLE_EQ(One("delta(c_total[1m])", 60), 15);
}

TEST_F(PromqlEngineTest, RateNeedsTwoSamples) {
  Add(L({{"__name__", "c_total"}}), {{0, 1}, {120, 5}});
  EXPECT_TRUE(Instant("rate(c_total[1m])", 60).series.empty());
  EXPECT_TRUE(Instant("irate(c_total[1m])", 130).series.empty());
  EXPECT_EQ(Instant("rate(c_total[5m])", 130).series.size(), 1u);
}

TEST_F(PromqlEngineTest, OverTimeFunctions) {
  Add(L({{"__name__", "g"}, {"a", "1"}}), {{0, 4}, {10, -2}, {20, 7}, {30, 1}});
  EXPECT_DOUBLE_EQ(One("avg_over_time(g[30s])", 30), 2.5);
  EXPECT_DOUBLE_EQ(One("sum_over_time(g[30s])", 30), 10);
  EXPECT_DOUBLE_EQ(One("min_over_time(g[30s])", 30), -2);
  EXPECT_DOUBLE_EQ(One("max_over_time(g[30s])", 30), 7);
  EXPECT_DOUBLE_EQ(One("count_over_time(g[30s])", 30), 4);
  EXPECT_DOUBLE_EQ(One("count_over_time(g[29s])", 30), 3);
  EXPECT_DOUBLE_EQ(One("last_over_time(g[30s])", 30), 1);
  // Functions drop the metric name, except last_over_time.
  EXPECT_EQ(Rows("max_over_time(g[1m])", 30), std::vector<std::string>{"{a=\"1\"}=7"});
  EXPECT_EQ(Rows("last_over_time(g[1m])", 30), std::vector<std::string>{"g{a=\"1\"}=1"});
}

TEST_F(PromqlEngineTest, MaxAndMinOverTimeSkipNaNLikePrometheus) {
  Add(L({{"__name__", "g"}}), {{0, std::nan("")}, {10, 1}, {20, 3}});
  EXPECT_EQ(One("max_over_time(g[1m])", 20), 3);
  EXPECT_EQ(One("min_over_time(g[1m])", 20), 1);
  EXPECT_TRUE(std::isnan(One("sum_over_time(g[1m])", 20)));
}

class HistogramQuantileTest : public PromqlEngineTest {
 protected:
  void SetUp() override {
    // Cumulative buckets: 10 <= 0.1, 30 <= 0.5, 40 <= 1, 50 in all.
    for (auto [le, count] : std::vector<std::pair<const char*, double>>{{"0.1", 10}, {"0.5", 30}, {"1", 40}, {"+Inf", 50}}) {
      Add(L({{"__name__", "h_bucket"}, {"le", le}, {"job", "a"}}), {{0, count}});
    }
  }
};

TEST_F(HistogramQuantileTest, InterpolatesLinearlyWithinTheBucket) {
  // rank 25 falls in (0.1, 0.5] holding 20: 0.1 + 0.4 * (25 - 10) / 20.
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.5, h_bucket)", 0), 0.4);
  // rank 5 in the first bucket, which starts at 0.
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.1, h_bucket)", 0), 0.05);
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0, h_bucket)", 0), 0);
  // rank 45 is in the +Inf bucket: the highest finite bound.
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.9, h_bucket)", 0), 1);
  EXPECT_EQ(One("histogram_quantile(1.5, h_bucket)", 0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(One("histogram_quantile(-1, h_bucket)", 0), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(One("histogram_quantile(NaN, h_bucket)", 0)));
  // The output keeps the group's labels without le and the metric name.
  EXPECT_EQ(Rows("histogram_quantile(0.5, h_bucket)", 0), std::vector<std::string>{"{job=\"a\"}=0.4"});
}

TEST_F(HistogramQuantileTest, EdgeCases) {
  // Without the +Inf bucket there is no answer.
  EXPECT_TRUE(std::isnan(One("histogram_quantile(0.5, h_bucket{le!=\"+Inf\"})", 0)));
  // A single bucket is not enough.
  EXPECT_TRUE(std::isnan(One("histogram_quantile(0.5, h_bucket{le=\"+Inf\"})", 0)));
  // No observations.
  Add(L({{"__name__", "z_bucket"}, {"le", "1"}}), {{0, 0}});
  Add(L({{"__name__", "z_bucket"}, {"le", "+Inf"}}), {{0, 0}});
  EXPECT_TRUE(std::isnan(One("histogram_quantile(0.5, z_bucket)", 0)));
  // Buckets whose counts decrease (a racing scrape) are made monotonic: 10, 8->10, 20.
  Add(L({{"__name__", "m_bucket"}, {"le", "1"}}), {{0, 10}});
  Add(L({{"__name__", "m_bucket"}, {"le", "2"}}), {{0, 8}});
  Add(L({{"__name__", "m_bucket"}, {"le", "+Inf"}}), {{0, 20}});
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.25, m_bucket)", 0), 0.5);
  // A first bucket with a bound <= 0 answers its bound.
  Add(L({{"__name__", "n_bucket"}, {"le", "-1"}}), {{0, 5}});
  Add(L({{"__name__", "n_bucket"}, {"le", "+Inf"}}), {{0, 10}});
  EXPECT_EQ(One("histogram_quantile(0.2, n_bucket)", 0), -1);
  // A series without a parseable le is ignored.
  Add(L({{"__name__", "b_bucket"}, {"le", "x"}}), {{0, 5}});
  Add(L({{"__name__", "b_bucket"}, {"le", "1e0"}}), {{0, 5}});
  Add(L({{"__name__", "b_bucket"}, {"le", "+inf"}}), {{0, 10}});
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.75, b_bucket)", 0), 1);
}

TEST_F(HistogramQuantileTest, OverRatesGroupedByLe) {
  for (auto [le, c0, c1] : std::vector<std::tuple<const char*, double, double>>{
           {"0.1", 0, 60}, {"0.5", 0, 120}, {"+Inf", 0, 120}}) {
    Add(L({{"__name__", "r_bucket"}, {"le", le}, {"pod", "1"}}), {{0, c0}, {60, c1}});
    Add(L({{"__name__", "r_bucket"}, {"le", le}, {"pod", "2"}}), {{0, c0}, {60, c1}});
  }
  // Per second: 1 and 2 per bucket per pod, summed: 2, 4, 4. Median rank 2: exactly le 0.1.
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.5, sum by (le) (rate(r_bucket[1m])))", 60), 0.1);
  EXPECT_DOUBLE_EQ(One("histogram_quantile(0.75, sum by (le) (rate(r_bucket[1m])))", 60), 0.3);
  EXPECT_EQ(Instant("histogram_quantile(0.75, rate(r_bucket[1m]))", 60).series.size(), 2u);
}

class VectorTest : public PromqlEngineTest {
 protected:
  void SetUp() override {
    Add(L({{"__name__", "req_total"}, {"route", "/a"}, {"code", "200"}}), {{0, 10}});
    Add(L({{"__name__", "req_total"}, {"route", "/a"}, {"code", "500"}}), {{0, 2}});
    Add(L({{"__name__", "req_total"}, {"route", "/b"}, {"code", "200"}}), {{0, 6}});
    Add(L({{"__name__", "limit"}, {"route", "/a"}}), {{0, 8}});
    Add(L({{"__name__", "limit"}, {"route", "/b"}}), {{0, 4}});
  }
};

TEST_F(VectorTest, Aggregations) {
  EXPECT_EQ(Rows("sum(req_total)", 0), std::vector<std::string>{"{}=18"});
  EXPECT_EQ(Rows("sum by (route) (req_total)", 0),
            (std::vector<std::string>{"{route=\"/a\"}=12", "{route=\"/b\"}=6"}));
  EXPECT_EQ(Rows("sum without (code) (req_total)", 0),
            (std::vector<std::string>{"{route=\"/a\"}=12", "{route=\"/b\"}=6"}));
  EXPECT_EQ(Rows("avg by (code) (req_total)", 0),
            (std::vector<std::string>{"{code=\"200\"}=8", "{code=\"500\"}=2"}));
  EXPECT_EQ(Rows("max(req_total)", 0), std::vector<std::string>{"{}=10"});
  EXPECT_EQ(Rows("min(req_total)", 0), std::vector<std::string>{"{}=2"});
  EXPECT_EQ(Rows("count by (route) (req_total)", 0),
            (std::vector<std::string>{"{route=\"/a\"}=2", "{route=\"/b\"}=1"}));
  EXPECT_EQ(Rows("group by (code) (req_total)", 0),
            (std::vector<std::string>{"{code=\"200\"}=1", "{code=\"500\"}=1"}));
  // Population standard deviation of 10, 2, 6 = sqrt(32 / 3).
  EXPECT_DOUBLE_EQ(One("stddev(req_total)", 0), std::sqrt(32.0 / 3));
  EXPECT_DOUBLE_EQ(One("stdvar(req_total)", 0), 32.0 / 3);
  EXPECT_EQ(Rows("sum by (__name__) (req_total)", 0), std::vector<std::string>{"req_total{}=18"});
  EXPECT_TRUE(Instant("sum(nothing)", 0).series.empty());
}

TEST_F(VectorTest, ScalarArithmeticAndComparisons) {
  EXPECT_EQ(Rows("req_total{route=\"/b\"} * 2", 0), std::vector<std::string>{"{code=\"200\", route=\"/b\"}=12"});
  EXPECT_EQ(Rows("2 - limit{route=\"/b\"}", 0), std::vector<std::string>{"{route=\"/b\"}=-2"});
  // A comparison filters and keeps the name and the vector's value, whichever side it is on.
  EXPECT_EQ(Rows("limit > 5", 0), std::vector<std::string>{"limit{route=\"/a\"}=8"});
  EXPECT_EQ(Rows("5 < limit", 0), std::vector<std::string>{"limit{route=\"/a\"}=8"});
  EXPECT_EQ(Rows("limit > bool 5", 0), (std::vector<std::string>{"{route=\"/a\"}=1", "{route=\"/b\"}=0"}));
  EXPECT_EQ(One("1 + 2 * 3 ^ 2", 0), 19);
  EXPECT_EQ(One("2 ^ 3 ^ 2", 0), 512);
  EXPECT_EQ(One("-2 ^ 2", 0), -4);
  EXPECT_EQ(One("7 % 4", 0), 3);
  EXPECT_EQ(One("-7 % 4", 0), -3);
  EXPECT_EQ(One("1 > bool 2", 0), 0);
  EXPECT_EQ(One("(1 + 1) == bool 2", 0), 1);
  EXPECT_EQ(One("1 / 0", 0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(Rows("-limit", 0), (std::vector<std::string>{"{route=\"/a\"}=-8", "{route=\"/b\"}=-4"}));
}

TEST_F(VectorTest, OneToOneMatching) {
  // Default: all labels but the name must match, so req_total (with code) matches nothing.
  EXPECT_TRUE(Instant("req_total / limit", 0).series.empty());
  EXPECT_EQ(Rows("sum by (route) (req_total) / limit", 0),
            (std::vector<std::string>{"{route=\"/a\"}=1.5", "{route=\"/b\"}=1.5"}));
  EXPECT_EQ(Rows("req_total{code=\"200\"} / ignoring(code) limit", 0),
            (std::vector<std::string>{"{route=\"/a\"}=1.25", "{route=\"/b\"}=1.5"}));
  // on() keeps only the listed labels.
  EXPECT_EQ(Rows("req_total{code=\"200\"} - on(route) limit", 0),
            (std::vector<std::string>{"{route=\"/a\"}=2", "{route=\"/b\"}=2"}));
  // Comparisons keep the lhs name and value.
  EXPECT_EQ(Rows("req_total{code=\"200\"} > ignoring(code) limit", 0),
            (std::vector<std::string>{"req_total{route=\"/a\"}=10", "req_total{route=\"/b\"}=6"}));
  EXPECT_EQ(Rows("req_total{code=\"200\"} < bool ignoring(code) limit", 0),
            (std::vector<std::string>{"{route=\"/a\"}=0", "{route=\"/b\"}=0"}));
}

TEST_F(VectorTest, ManyToOneMatching) {
  EXPECT_EQ(Rows("req_total / on(route) group_left limit", 0),
            (std::vector<std::string>{"{code=\"200\", route=\"/a\"}=1.25", "{code=\"200\", route=\"/b\"}=1.5",
                                      "{code=\"500\", route=\"/a\"}=0.25"}));
  EXPECT_EQ(Rows("limit * on(route) group_right req_total", 0),
            (std::vector<std::string>{"{code=\"200\", route=\"/a\"}=80", "{code=\"200\", route=\"/b\"}=24",
                                      "{code=\"500\", route=\"/a\"}=16"}));
  Add(L({{"__name__", "info"}, {"route", "/a"}, {"team", "search"}}), {{0, 1}});
  EXPECT_EQ(Rows("limit * on(route) group_left(team) info", 0),
            std::vector<std::string>{"{route=\"/a\", team=\"search\"}=8"});
}

TEST_F(VectorTest, MatchingErrors) {
  Status s = ErrorOf("limit / on(route) req_total", 0);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("found duplicate series for the match group {route=\"/a\"} on the right hand-side"),
            std::string::npos)
      << s.message();
  s = ErrorOf("req_total / on(route) limit", 0);
  EXPECT_NE(s.message().find("multiple matches for labels: many-to-one matching must be explicit"), std::string::npos)
      << s.message();
  s = ErrorOf("req_total / on(route) group_left limit * on() group_left vector(1)", 0);
  EXPECT_TRUE(s.ok()) << s.message();
  s = ErrorOf("{__name__=~\"req_total|limit\", code=\"\"} + 1 or req_total", 0);
  EXPECT_TRUE(s.ok()) << s.message();
  Add(L({{"__name__", "other"}, {"route", "/a"}}), {{0, 3}});
  s = ErrorOf("{route=\"/a\", code=\"\"} * 2", 0);
  EXPECT_EQ(s.message(), "vector cannot contain metrics with the same labelset");
  s = ErrorOf("rate({route=\"/a\", code=\"\"}[1m])", 0);
  EXPECT_TRUE(s.ok());  // one sample each: no output, so no clash
}

TEST_F(VectorTest, SetOperators) {
  EXPECT_EQ(Rows("limit and limit > 5", 0), std::vector<std::string>{"limit{route=\"/a\"}=8"});
  EXPECT_EQ(Rows("limit unless limit > 5", 0), std::vector<std::string>{"limit{route=\"/b\"}=4"});
  EXPECT_EQ(Rows("limit > 5 or limit", 0),
            (std::vector<std::string>{"limit{route=\"/a\"}=8", "limit{route=\"/b\"}=4"}));
  EXPECT_EQ(Rows("req_total and on(route) limit > 5", 0),
            (std::vector<std::string>{"req_total{code=\"200\", route=\"/a\"}=10",
                                      "req_total{code=\"500\", route=\"/a\"}=2"}));
  EXPECT_EQ(Rows("nothing or vector(0)", 0), std::vector<std::string>{"{}=0"});
}

TEST_F(VectorTest, ScalarFunctions) {
  EXPECT_EQ(One("time()", 12.5), kT0 / 1000.0 + 12.5);
  EXPECT_EQ(Rows("vector(3)", 0), std::vector<std::string>{"{}=3"});
  EXPECT_EQ(One("scalar(limit{route=\"/a\"})", 0), 8);
  EXPECT_TRUE(std::isnan(One("scalar(limit)", 0)));  // two elements
  EXPECT_EQ(Rows("abs(2 - limit)", 0), (std::vector<std::string>{"{route=\"/a\"}=6", "{route=\"/b\"}=2"}));
  EXPECT_EQ(Rows("clamp_min(limit, 5)", 0), (std::vector<std::string>{"{route=\"/a\"}=8", "{route=\"/b\"}=5"}));
  EXPECT_EQ(Rows("clamp_max(limit, 5)", 0), (std::vector<std::string>{"{route=\"/a\"}=5", "{route=\"/b\"}=4"}));
  EXPECT_EQ(Rows("clamp(limit, 5, 6)", 0), (std::vector<std::string>{"{route=\"/a\"}=6", "{route=\"/b\"}=5"}));
  EXPECT_TRUE(Instant("clamp(limit, 6, 5)", 0).series.empty());
  EXPECT_EQ(Rows("sqrt(limit{route=\"/b\"})", 0), std::vector<std::string>{"{route=\"/b\"}=2"});
  EXPECT_EQ(Rows("absent(nothing{job=\"x\", a=~\"y\"})", 0), std::vector<std::string>{"{job=\"x\"}=1"});
  EXPECT_TRUE(Instant("absent(limit)", 0).series.empty());
}

TEST_F(VectorTest, InstantQueryOfARangeSelectorReturnsRawSamples) {
  Add(L({{"__name__", "g"}}), {{10, 1}, {20, 2}, {30, 3}});
  QueryResult r = Instant("g[15s]", 30);
  EXPECT_EQ(r.type, ValueType::kMatrix);
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].labels->MetricName(), "g");
  ASSERT_EQ(r.series[0].samples.size(), 2u);
  EXPECT_EQ(r.series[0].samples[0].t, kT0 + 20 * kS);
}

TEST_F(PromqlEngineTest, RangeQueryEvaluatesEveryStep) {
  Add(L({{"__name__", "c_total"}, {"a", "1"}}), {{0, 0}, {15, 15}, {30, 30}, {45, 45}, {60, 60}});
  auto r = EvalRange(store_, "rate(c_total[30s])", kT0 + 30 * kS, kT0 + 90 * kS, 15 * kS);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type, ValueType::kMatrix);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].labels->ToString(), "{a=\"1\"}");
  // Steps 30, 45, 60 have a full window; 75 has 2 samples (45, 60): 15 over 15 s, extrapolated
  // 15 s at the end (not beyond 1.1 x 15) and 0 at the start; 90 has only one sample.
  ASSERT_EQ(r->series[0].samples.size(), 4u);
  EXPECT_DOUBLE_EQ(r->series[0].samples[0].v, 1);
  EXPECT_DOUBLE_EQ(r->series[0].samples[3].v, 1);
  EXPECT_EQ(r->series[0].samples[3].t, kT0 + 75 * kS);

  auto s = EvalRange(store_, "time()", kT0, kT0 + 2 * kS, kS);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->series.size(), 1u);
  EXPECT_TRUE(s->series[0].labels->empty());
  EXPECT_EQ(s->series[0].samples.size(), 3u);

  auto bad = EvalRange(store_, "c_total[1m]", kT0, kT0, kS);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(PromqlEngineTest, LimitsAreEnforced) {
  for (int i = 0; i < 100; ++i) Add(L({{"__name__", "g"}, {"i", std::to_string(i)}}), {{0, 1}});
  QueryOptions small;
  small.max_samples = 50;
  auto r = EvalInstant(store_, "g", kT0, small);
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  QueryOptions hurried;
  hurried.timeout_ms = -1;
  auto t = EvalRange(store_, "g", kT0, kT0 + 1000 * kS, kS, hurried);
  EXPECT_EQ(t.status().code(), ErrorCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace shelfwatch::monitor
