// Silences: validation as Alertmanager's API does it, matching, expiry, and their effect on
// notifications (a silenced alert is listed but not sent).
#include "alert/silences.h"

#include <gtest/gtest.h>

#include "alert/evaluator.h"
#include "common/clock.h"
#include "loopback.h"
#include "monitor/history/metric_history.h"

namespace shelfwatch::alert {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kHour = 3'600'000;

Silence Make(std::vector<SilenceMatcher> matchers, int64_t start = kNow, int64_t end = kNow + kHour) {
  Silence s;
  s.matchers = std::move(matchers);
  s.starts_at_ms = start;
  s.ends_at_ms = end;
  s.created_by = "oncall";
  s.comment = "deploying";
  return s;
}

TEST(SilencesTest, MatchersUseAllFourOperators) {
  SilenceStore store;
  ASSERT_TRUE(store.Add(Make({{"alertname", "HighLatency", false, true}, {"route", "/v1/.*", true, true},
                              {"severity", "info", false, false}, {"catalog", "test.*", true, false}}),
                        kNow)
                  .ok());
  auto labels = [](std::string route, std::string severity, std::string catalog) {
    return monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "HighLatency"}, {"route", route}, {"severity", severity}, {"catalog", catalog}});
  };
  EXPECT_TRUE(store.IsSilenced(labels("/v1/events", "page", "homedepot"), kNow));
  EXPECT_FALSE(store.IsSilenced(labels("/metrics", "page", "homedepot"), kNow));     // =~ anchored
  EXPECT_FALSE(store.IsSilenced(labels("/v1/events", "info", "homedepot"), kNow));   // !=
  EXPECT_FALSE(store.IsSilenced(labels("/v1/events", "page", "testshop"), kNow));    // !~
  EXPECT_FALSE(store.IsSilenced(monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "Other"}}), kNow));
}

TEST(SilencesTest, StatesFollowTheTimeWindowAndExpireEndsIt) {
  SilenceStore store;
  auto id = store.Add(Make({{"alertname", "A", false, true}}, kNow + kHour, kNow + 2 * kHour), kNow);
  ASSERT_TRUE(id.ok());
  const monitor::LabelSet a(std::vector<monitor::Label>{{"alertname", "A"}});
  EXPECT_EQ(StateAt(store.List(kNow)[0], kNow), SilenceState::kPending);
  EXPECT_FALSE(store.IsSilenced(a, kNow));
  EXPECT_TRUE(store.IsSilenced(a, kNow + kHour));
  ASSERT_TRUE(store.Expire(*id, kNow + kHour + 1).ok());
  EXPECT_FALSE(store.IsSilenced(a, kNow + kHour + 2));
  EXPECT_EQ(StateAt(store.List(kNow + kHour + 2)[0], kNow + kHour + 2), SilenceState::kExpired);
  EXPECT_EQ(store.Expire(*id, kNow + kHour + 3).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store.Expire("no-such-id", kNow).code(), ErrorCode::kNotFound);
}

TEST(SilencesTest, InvalidSilencesAreRefused) {
  SilenceStore store;
  EXPECT_FALSE(store.Add(Make({}), kNow).ok());
  EXPECT_FALSE(store.Add(Make({{"route", "(", true, true}}), kNow).ok());
  EXPECT_FALSE(store.Add(Make({{"bad-name", "x", false, true}}), kNow).ok());
  EXPECT_FALSE(store.Add(Make({{"a", "x", false, true}}, kNow, kNow - 1), kNow).ok());
  EXPECT_FALSE(store.Add(Make({{"a", "x", false, true}}, kNow - 2 * kHour, kNow - kHour), kNow).ok());
  // Every matcher matching the empty string would silence everything.
  auto all = store.Add(Make({{"a", ".*", true, true}}), kNow);
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("empty string"), std::string::npos);
  EXPECT_TRUE(store.List(kNow).empty());
}

TEST(SilencesTest, AnUpdateReplacesTheSilenceWithTheSameId) {
  SilenceStore store;
  auto id = store.Add(Make({{"alertname", "A", false, true}}), kNow);
  ASSERT_TRUE(id.ok());
  Silence changed = Make({{"alertname", "B", false, true}});
  changed.id = *id;
  ASSERT_TRUE(store.Add(changed, kNow + 1).ok());
  ASSERT_EQ(store.List(kNow).size(), 1u);
  EXPECT_TRUE(store.IsSilenced(monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "B"}}), kNow + 2));
  EXPECT_FALSE(store.IsSilenced(monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "A"}}), kNow + 2));
}

TEST(SilencesTest, SilencedAlertIsListedButNotNotifiedUntilTheSilenceEnds) {
  testing::Receiver receiver;
  monitor::Registry app, own;
  monitor::MetricHistory history(app);
  auto& depth = app.AddGauge("shelfwatch_test_queue_depth", "Queue depth.", {"queue"}).WithLabels({"orders"});
  NotificationDispatcher dispatcher(own);
  NotifierConfig c;
  c.name = "hook";
  c.urls = {receiver.url()};
  ASSERT_TRUE(dispatcher.Configure({c}).ok());
  SilenceStore silences;
  RuleEvaluator evaluator(history, own, {}, &dispatcher, &silences);
  auto rules = ParseRules("groups:\n- name: g\n  rules:\n  - alert: QueueDeep\n    expr: shelfwatch_test_queue_depth > 10\n", "s.yml");
  ASSERT_TRUE(rules.ok());
  evaluator.Reload(std::move(rules).value());

  const int64_t t0 = UnixMillis();
  auto id = silences.Add(Make({{"queue", "orders", false, true}}, t0, t0 + 30'000), t0);
  ASSERT_TRUE(id.ok());
  depth.Set(99);
  history.SampleNow(t0);
  evaluator.EvaluateAt(t0);
  auto alerts = evaluator.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].silenced);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  history.SampleNow(t0 + 15'000);
  evaluator.EvaluateAt(t0 + 15'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(receiver.requests(), 0);

  // Expired: the next evaluation sends it.
  ASSERT_TRUE(silences.Expire(*id, t0 + 20'000).ok());
  history.SampleNow(t0 + 30'000);
  evaluator.EvaluateAt(t0 + 30'000);
  EXPECT_FALSE(evaluator.ActiveAlerts()[0].silenced);
  EXPECT_TRUE(testing::WaitFor([&] { return receiver.bodies().size() == 1; }, 5000));
}

}  // namespace
}  // namespace shelfwatch::alert
