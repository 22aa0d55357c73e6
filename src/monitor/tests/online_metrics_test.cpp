#include "monitor/online_metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace shelfwatch::monitor {
namespace {

double Value(const Registry& r, const std::string& family, const LabelPairs& labels, bool histogram_sum = false) {
  for (const auto& f : r.Collect()) {
    if (f.name != family) continue;
    for (const auto& s : f.series) {
      if (s.labels != labels) continue;
      if (f.type == MetricType::kHistogram) {
        return histogram_sum ? s.histogram.sum : static_cast<double>(s.histogram.count);
      }
      return s.value;
    }
  }
  return -1;
}

TEST(OnlineMetricsTest, CountsServedRequestsAndEventsPerVariant) {
  Registry r;
  OnlineMetrics m(&r);
  m.RecordServed("hd", "search", "control", "drill", 10, false);
  m.RecordServed("hd", "search", "control", "zzqx", 0, true);
  m.RecordServed("hd", "search", "treatment", "drill", 10, false);
  m.RecordEvent("hd", "search", "control", FeedbackType::kImpression, "r1", 1, 0, "");
  m.RecordEvent("hd", "search", "control", FeedbackType::kClick, "r1", 4, 0, "");
  m.RecordEvent("hd", "search", "control", FeedbackType::kClick, "r1", 1, 0, "");  // second click
  m.RecordEvent("hd", "search", "control", FeedbackType::kPurchase, "r1", 1, 19.5, "USD");
  m.RecordEvent("hd", "search", "control", FeedbackType::kPurchase, "r1", 1, 5.25, "USD");
  m.RecordUnattributed(FeedbackType::kClick);

  const LabelPairs control = {{"catalog", "hd"}, {"endpoint", "search"}, {"variant", "control"}};
  const LabelPairs treatment = {{"catalog", "hd"}, {"endpoint", "search"}, {"variant", "treatment"}};
  EXPECT_EQ(Value(r, "shelfwatch_served_requests_total", control), 2);
  EXPECT_EQ(Value(r, "shelfwatch_served_requests_total", treatment), 1);
  EXPECT_EQ(Value(r, "shelfwatch_zero_result_requests_total", control), 1);
  auto with_type = [&](const char* t) {
    LabelPairs l = control;
    l.emplace_back("type", t);
    return Value(r, "shelfwatch_feedback_events_total", l);
  };
  EXPECT_EQ(with_type("click"), 2);
  EXPECT_EQ(with_type("impression"), 1);
  EXPECT_EQ(with_type("purchase"), 2);
  // Only the first click of a request counts for MRR: rank 4 -> 0.25.
  EXPECT_EQ(Value(r, "shelfwatch_first_click_reciprocal_rank", control), 1);
  EXPECT_DOUBLE_EQ(Value(r, "shelfwatch_first_click_reciprocal_rank", control, true), 0.25);
  EXPECT_EQ(Value(r, "shelfwatch_click_rank", control), 2);
  LabelPairs usd = control;
  usd.emplace_back("currency", "USD");
  EXPECT_DOUBLE_EQ(Value(r, "shelfwatch_purchase_value", usd, true), 24.75);
  EXPECT_EQ(Value(r, "shelfwatch_feedback_unattributed_total", {{"type", "click"}}), 1);
}

TEST(OnlineMetricsTest, TopQueriesMergeAcrossThreadsAndSeparateZeroResults) {
  Registry r;
  OnlineMetrics m(&r);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) {
        m.RecordServed("hd", "search", "v", "Paint", 10, false);
        if (i % 2 == 0) m.RecordServed("hd", "search", "v", "deck stain", 10, false);
        if (i % 10 == 0) m.RecordServed("hd", "search", "v", "zzqx " + std::to_string(t), 0, true);
        m.RecordServed("hd", "search", "v", "rare " + std::to_string(t * 1000 + i), 10, false);
      }
    });
  }
  for (auto& t : threads) t.join();
  auto top = m.TopQueries("hd", false, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].query, "paint");  // case-folded
  EXPECT_GE(top[0].count, 4000u);
  EXPECT_LE(top[0].count - 4000u, top[0].max_error);
  EXPECT_EQ(top[1].query, "deck stain");
  auto zero = m.TopQueries("hd", true, 10);
  ASSERT_EQ(zero.size(), 4u);
  for (const auto& q : zero) {
    EXPECT_EQ(q.query.rfind("zzqx", 0), 0u);
    EXPECT_EQ(q.count, 100u);
  }
  EXPECT_TRUE(m.TopQueries("other", false, 5).empty());
}

}  // namespace
}  // namespace shelfwatch::monitor
