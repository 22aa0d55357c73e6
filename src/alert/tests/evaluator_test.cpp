// The alert state machine, driven through a real MetricHistory fed from a real Registry with
// SampleNow at controlled times: `for`, keep_firing_for, resolution, query errors, recording
// rules, reload, and the transition history (also across a restart, in SQLite).
#include "alert/evaluator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "metric_value.h"
#include "monitor/history/metric_history.h"
#include "support/test_server.h"

namespace shelfwatch::alert {
namespace {

using testing::MetricValue;

constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15, on a 15 s boundary
constexpr int64_t kS = 1000;

RuleSet Rules(const std::string& yaml) {
  auto set = ParseRules(yaml, "test.yml");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return set.ok() ? std::move(set).value() : RuleSet{};
}

class EvaluatorTest : public ::testing::Test {
 protected:
  EvaluatorTest()
      : history_(app_metrics_),
        depth_(app_metrics_.AddGauge("shelfwatch_test_queue_depth", "Queue depth.", {"queue"})),
        evaluator_(history_, own_metrics_, {}, nullptr, nullptr, &log_) {}

  // One sampling of the app's metrics and one evaluation at `t`, as the server does.
  void Step(int64_t t) {
    history_.SampleNow(t);
    evaluator_.EvaluateAt(t);
  }
  std::vector<Alert> Alerts() const { return evaluator_.ActiveAlerts(); }
  // Every alert the rules hold, resolved ones included.
  std::vector<Alert> AllAlerts() const {
    std::vector<Alert> out;
    for (const auto& g : evaluator_.Groups()) {
      for (const auto& r : g.rules) out.insert(out.end(), r.alerts.begin(), r.alerts.end());
    }
    return out;
  }
  std::vector<std::string> TransitionNames() const {
    std::vector<std::string> out;
    for (const auto& t : log_.Recent(100)) out.push_back(t.from + "->" + t.to);
    return out;
  }

  monitor::Registry app_metrics_;
  monitor::Registry own_metrics_;
  monitor::MetricHistory history_;
  monitor::Family<monitor::Gauge>& depth_;
  TransitionLog log_{100};
  RuleEvaluator evaluator_;
};

constexpr const char* kQueueRule = R"(groups:
- name: queues
  interval: 15s
  rules:
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 10
    for: 1m
    keep_firing_for: 2m
    labels: {severity: warning, queue_kind: "{{ $labels.queue }}-q"}
    annotations:
      summary: "Queue {{ $labels.queue }} holds {{ $value }}"
)";

TEST_F(EvaluatorTest, PendingThenFiringAfterForThenKeptFiringThenResolved) {
  evaluator_.Reload(Rules(kQueueRule));
  auto& orders = depth_.WithLabels({"orders"});
  orders.Set(5);
  Step(kT0);
  EXPECT_TRUE(Alerts().empty());

  orders.Set(20);
  Step(kT0 + 15 * kS);
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].active_at_ms, kT0 + 15 * kS);
  EXPECT_EQ(alerts[0].value, 20);
  // Series labels without the metric name, plus the rule's (templated) labels and alertname.
  EXPECT_EQ(alerts[0].labels.ToString(),
            "{alertname=\"QueueDeep\", queue=\"orders\", queue_kind=\"orders-q\", severity=\"warning\"}");
  ASSERT_EQ(alerts[0].annotations.size(), 1u);
  EXPECT_EQ(alerts[0].annotations[0].second, "Queue orders holds 20");

  // Still pending 45 s after activeAt; firing once active for the full minute.
  Step(kT0 + 30 * kS);
  Step(kT0 + 60 * kS);
  EXPECT_EQ(Alerts()[0].state, AlertState::kPending);
  orders.Set(25);
  Step(kT0 + 75 * kS);
  alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].fired_at_ms, kT0 + 75 * kS);
  EXPECT_EQ(alerts[0].active_at_ms, kT0 + 15 * kS);  // unchanged while active
  EXPECT_EQ(alerts[0].annotations[0].second, "Queue orders holds 25");  // refreshed each evaluation

  // The condition clears: keep_firing_for keeps it firing for 2 more minutes.
  orders.Set(3);
  Step(kT0 + 90 * kS);
  alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].keep_firing_since_ms, kT0 + 90 * kS);
  Step(kT0 + 195 * kS);
  EXPECT_EQ(Alerts().size(), 1u);
  Step(kT0 + 210 * kS);  // 120 s after keepFiringSince
  EXPECT_TRUE(Alerts().empty());
  auto all = AllAlerts();
  ASSERT_EQ(all.size(), 1u);  // kept, resolved, so notifiers hear it
  EXPECT_EQ(all[0].resolved_at_ms, kT0 + 210 * kS);

  EXPECT_EQ(TransitionNames(), (std::vector<std::string>{"firing->resolved", "pending->firing", "inactive->pending"}));
  const auto newest = log_.Recent(1);
  EXPECT_EQ(newest[0].time_ms, kT0 + 210 * kS);
  EXPECT_EQ(newest[0].alertname, "QueueDeep");
  EXPECT_EQ(newest[0].group, "queues");
}

TEST_F(EvaluatorTest, KeepFiringResetsWhenTheConditionReturns) {
  evaluator_.Reload(Rules(kQueueRule));
  auto& orders = depth_.WithLabels({"orders"});
  orders.Set(20);
  for (int64_t s = 0; s <= 60; s += 15) Step(kT0 + s * kS);
  ASSERT_EQ(Alerts()[0].state, AlertState::kFiring);
  orders.Set(1);
  Step(kT0 + 75 * kS);
  EXPECT_EQ(Alerts()[0].keep_firing_since_ms, kT0 + 75 * kS);
  orders.Set(30);
  Step(kT0 + 90 * kS);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].keep_firing_since_ms, 0);
  EXPECT_EQ(Alerts()[0].state, AlertState::kFiring);
}

TEST_F(EvaluatorTest, PendingAlertThatClearsIsDroppedAndStartsAfreshLater) {
  evaluator_.Reload(Rules(kQueueRule));
  auto& orders = depth_.WithLabels({"orders"});
  orders.Set(20);
  Step(kT0);
  Step(kT0 + 15 * kS);
  orders.Set(0);
  Step(kT0 + 30 * kS);
  EXPECT_TRUE(AllAlerts().empty());
  orders.Set(50);
  Step(kT0 + 45 * kS);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].active_at_ms, kT0 + 45 * kS);
  EXPECT_EQ(TransitionNames(), (std::vector<std::string>{"inactive->pending", "pending->inactive", "inactive->pending"}));
}

TEST_F(EvaluatorTest, ForZeroFiresAtOnceAndResolvedAlertsAreForgottenAfter15Minutes) {
  evaluator_.Reload(Rules("groups:\n- name: g\n  rules:\n  - alert: Deep\n    expr: shelfwatch_test_queue_depth > 10\n"));
  auto& orders = depth_.WithLabels({"orders"});
  orders.Set(11);
  Step(kT0);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].state, AlertState::kFiring);
  orders.Set(1);
  Step(kT0 + 15 * kS);
  EXPECT_TRUE(Alerts().empty());
  ASSERT_EQ(AllAlerts().size(), 1u);
  Step(kT0 + 15 * kS + 15 * 60 * kS);  // exactly 15 min after resolving: still kept
  EXPECT_EQ(AllAlerts().size(), 1u);
  Step(kT0 + 30 * kS + 15 * 60 * kS);
  EXPECT_TRUE(AllAlerts().empty());
  EXPECT_EQ(TransitionNames(), (std::vector<std::string>{"firing->resolved", "inactive->firing"}));
}

TEST_F(EvaluatorTest, EachSeriesIsItsOwnAlertAndStateGaugesCountThem) {
  evaluator_.Reload(Rules("groups:\n- name: g\n  rules:\n  - alert: Deep\n    expr: shelfwatch_test_queue_depth > 10\n    for: 30s\n"));
  depth_.WithLabels({"a"}).Set(20);
  depth_.WithLabels({"b"}).Set(5);
  Step(kT0);
  depth_.WithLabels({"b"}).Set(50);
  Step(kT0 + 15 * kS);
  Step(kT0 + 30 * kS);
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].labels.Get("queue"), "a");
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[1].state, AlertState::kPending);
  EXPECT_EQ(MetricValue(own_metrics_, "shelfwatch_alerts", {{"state", "firing"}}), 1);
  EXPECT_EQ(MetricValue(own_metrics_, "shelfwatch_alerts", {{"state", "pending"}}), 1);
  EXPECT_EQ(MetricValue(own_metrics_, "shelfwatch_rule_evaluation_duration_seconds", {{"group", "g"}}), 3);
}

TEST_F(EvaluatorTest, AQueryErrorKeepsAlertsAsTheyWereAndCountsAFailure) {
  // Matching on() with one series per side works; a second queue makes it many-to-one,
  // which PromQL refuses without group_left: an execution error on this data.
  auto& threshold = app_metrics_.AddGauge("shelfwatch_test_threshold", "Threshold.").WithLabels({});
  threshold.Set(10);
  evaluator_.Reload(Rules(
      "groups:\n- name: g\n  rules:\n  - alert: Deep\n    expr: shelfwatch_test_queue_depth > on() shelfwatch_test_threshold\n"));
  depth_.WithLabels({"a"}).Set(20);
  Step(kT0);
  ASSERT_EQ(Alerts().size(), 1u);
  depth_.WithLabels({"b"}).Set(30);
  Step(kT0 + 15 * kS);
  auto groups = evaluator_.Groups();
  ASSERT_EQ(groups[0].rules[0].health, "err");
  EXPECT_NE(groups[0].rules[0].last_error.find("many-to-one"), std::string::npos) << groups[0].rules[0].last_error;
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(MetricValue(own_metrics_, "shelfwatch_rule_evaluation_failures_total", {{"group", "g"}}), 1);
}

TEST_F(EvaluatorTest, RuleLabelsThatMergeSeriesAreAnError) {
  evaluator_.Reload(Rules(
      "groups:\n- name: g\n  rules:\n  - alert: Deep\n    expr: shelfwatch_test_queue_depth > 0\n    labels: {queue: all}\n"));
  depth_.WithLabels({"a"}).Set(1);
  depth_.WithLabels({"b"}).Set(2);
  Step(kT0);
  auto groups = evaluator_.Groups();
  EXPECT_EQ(groups[0].rules[0].health, "err");
  EXPECT_NE(groups[0].rules[0].last_error.find("same labelset"), std::string::npos);
  EXPECT_TRUE(Alerts().empty());
}

TEST_F(EvaluatorTest, RecordingRulesAreQueryableAndFeedLaterRules) {
  evaluator_.Reload(Rules(R"(groups:
- name: g
  rules:
  - record: queue:depth:doubled
    expr: shelfwatch_test_queue_depth * 2
    labels: {source: rule}
  - alert: DoubledDeep
    expr: queue:depth:doubled > 30
)"));
  depth_.WithLabels({"a"}).Set(20);
  Step(kT0);
  auto recorded = monitor::EvalInstant(evaluator_.store(), "queue:depth:doubled", kT0);
  ASSERT_TRUE(recorded.ok()) << recorded.status().message();
  ASSERT_EQ(recorded->series.size(), 1u);
  EXPECT_EQ(recorded->series[0].labels->ToString(), "queue:depth:doubled{queue=\"a\", source=\"rule\"}");
  EXPECT_EQ(recorded->series[0].samples[0].v, 40);
  // The alert in the same group saw the value recorded just before it.
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].value, 40);
  // ALERTS, as Prometheus writes it.
  auto alerts_series = monitor::EvalInstant(evaluator_.store(), "ALERTS{alertstate=\"firing\"}", kT0);
  ASSERT_TRUE(alerts_series.ok());
  ASSERT_EQ(alerts_series->series.size(), 1u);
  EXPECT_EQ(alerts_series->series[0].labels->Get("alertname"), "DoubledDeep");

  // A removed recording rule's series end (stale) instead of lingering for 5 minutes.
  evaluator_.Reload(Rules("groups:\n- name: g\n  rules: []\n"));
  auto after = monitor::EvalInstant(evaluator_.store(), "queue:depth:doubled", kT0 + 15 * kS);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->series.empty());
}

TEST_F(EvaluatorTest, ReloadKeepsTheStateOfUnchangedRulesOnly) {
  evaluator_.Reload(Rules(kQueueRule));
  depth_.WithLabels({"orders"}).Set(20);
  for (int64_t s = 0; s <= 60; s += 15) Step(kT0 + s * kS);
  ASSERT_EQ(Alerts()[0].state, AlertState::kFiring);

  // Same group, rule name and labels (a new rule beside it): the alert keeps firing.
  std::string with_extra = std::string(kQueueRule) + "  - alert: Other\n    expr: vector(0) > 1\n";
  evaluator_.Reload(Rules(with_extra));
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].active_at_ms, kT0);
  Step(kT0 + 75 * kS);
  EXPECT_EQ(Alerts()[0].state, AlertState::kFiring);

  // Changed labels make it another rule: its alerts start afresh (pending again).
  std::string relabelled = kQueueRule;
  relabelled.replace(relabelled.find("severity: warning"), 17, "severity: critical");
  evaluator_.Reload(Rules(relabelled));
  EXPECT_TRUE(Alerts().empty());
  Step(kT0 + 90 * kS);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].state, AlertState::kPending);
}

TEST_F(EvaluatorTest, GroupsRunOnTheirOwnInterval) {
  evaluator_.Reload(Rules(R"(groups:
- name: fast
  interval: 15s
  rules: [{alert: A, expr: vector(1)}]
- name: slow
  interval: 1m
  rules: [{alert: B, expr: vector(1)}]
)"));
  EXPECT_EQ(evaluator_.EvaluateDue(kT0), kT0 + 15 * kS);
  EXPECT_EQ(evaluator_.EvaluateDue(kT0 + 15 * kS), kT0 + 30 * kS);
  auto groups = evaluator_.Groups();
  EXPECT_EQ(groups[0].last_evaluation_ms, kT0 + 15 * kS);
  EXPECT_EQ(groups[1].last_evaluation_ms, kT0);
  evaluator_.EvaluateDue(kT0 + 60 * kS);
  EXPECT_EQ(evaluator_.Groups()[1].last_evaluation_ms, kT0 + 60 * kS);
}

TEST_F(EvaluatorTest, ARestartRestoresFiringAndPendingAlertsFromTheTransitionHistory) {
  const std::string dir = shelfwatch::testing::MakeTempDir("alert-restore");
  const std::string path = dir + "/alerts.db";
  constexpr const char* kRules = R"(groups:
- name: queues
  interval: 15s
  rules:
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 10
    for: 1m
    labels: {severity: warning}
)";
  {
    // Before the restart: "orders" fires, "billing" is pending.
    TransitionLog persisted(100);
    ASSERT_TRUE(persisted.Open(path).ok());
    RuleEvaluator before(history_, own_metrics_, {}, nullptr, nullptr, &persisted);
    before.Reload(Rules(kRules));
    depth_.WithLabels({"orders"}).Set(20);
    history_.SampleNow(kT0);
    before.EvaluateAt(kT0);
    history_.SampleNow(kT0 + 60 * kS);
    before.EvaluateAt(kT0 + 60 * kS);  // orders fires
    depth_.WithLabels({"billing"}).Set(30);
    history_.SampleNow(kT0 + 75 * kS);
    before.EvaluateAt(kT0 + 75 * kS);  // billing pending since 75 s
  }
  // The process restarts: a new evaluator, the history read back from SQLite.
  TransitionLog reopened(100);
  ASSERT_TRUE(reopened.Open(path).ok());
  monitor::Registry restarted_metrics;
  RuleEvaluator after(history_, restarted_metrics, {}, nullptr, nullptr, &reopened);
  after.Reload(Rules(kRules));
  EXPECT_EQ(after.RestoreState(reopened.Recent(100), kT0 + 100 * kS), 2u);
  auto alerts = after.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].labels.Get("queue"), "billing");
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].active_at_ms, kT0 + 75 * kS);
  EXPECT_EQ(alerts[1].labels.Get("queue"), "orders");
  EXPECT_EQ(alerts[1].state, AlertState::kFiring);
  EXPECT_EQ(alerts[1].active_at_ms, kT0);
  EXPECT_EQ(alerts[1].fired_at_ms, kT0 + 60 * kS);

  // The first evaluation after the restart: orders keeps firing (no second pending -> firing),
  // billing fires once a minute after its original activeAt, not a minute after the restart.
  history_.SampleNow(kT0 + 105 * kS);
  after.EvaluateAt(kT0 + 105 * kS);
  history_.SampleNow(kT0 + 135 * kS);
  after.EvaluateAt(kT0 + 135 * kS);
  alerts = after.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].fired_at_ms, kT0 + 135 * kS);
  EXPECT_EQ(alerts[1].fired_at_ms, kT0 + 60 * kS);
  std::vector<std::string> since_restart;
  for (const auto& t : reopened.Recent(100)) {
    if (t.time_ms > kT0 + 100 * kS) since_restart.push_back(std::string(t.labels.Get("queue")) + ":" + t.from + "->" + t.to);
  }
  EXPECT_EQ(since_restart, std::vector<std::string>{"billing:pending->firing"});

  // A condition that cleared during the outage resolves at the first evaluation.
  depth_.WithLabels({"orders"}).Set(1);
  history_.SampleNow(kT0 + 150 * kS);
  after.EvaluateAt(kT0 + 150 * kS);
  EXPECT_EQ(reopened.Recent(1)[0].to, "resolved");

  // A pending alert from long ago is not restored: its condition was not watched meanwhile.
  RuleEvaluator much_later(history_, restarted_metrics, {}, nullptr, nullptr, nullptr);
  much_later.Reload(Rules(kRules));
  std::vector<Transition> old_pending = {reopened.Recent(100).back()};  // orders went pending at kT0
  ASSERT_EQ(old_pending[0].to, "pending");
  EXPECT_EQ(much_later.RestoreState(old_pending, kT0 + 3 * 3600 * kS), 0u);
  std::filesystem::remove_all(dir);
}

TEST_F(EvaluatorTest, RestoredAlertsGoBackToTheRuleWithTheirSeverity) {
  // Two rules share a name and differ by a literal label: a restored critical alert belongs to
  // the critical rule, not to the first rule with that name.
  constexpr const char* kRules = R"(groups:
- name: queues
  interval: 15s
  rules:
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 10
    labels: {severity: warning}
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 100
    labels: {severity: critical}
)";
  evaluator_.Reload(Rules(kRules));
  depth_.WithLabels({"orders"}).Set(150);
  Step(kT0);  // both fire (for: 0)
  ASSERT_EQ(Alerts().size(), 2u);
  RuleEvaluator after(history_, own_metrics_, {}, nullptr, nullptr, nullptr);
  after.Reload(Rules(kRules));
  EXPECT_EQ(after.RestoreState(log_.Recent(100), kT0 + 30 * kS), 2u);
  history_.SampleNow(kT0 + 45 * kS);
  after.EvaluateAt(kT0 + 45 * kS);
  const auto alerts = after.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  for (const auto& a : alerts) {
    EXPECT_EQ(a.state, AlertState::kFiring) << a.labels.ToString();
    EXPECT_EQ(a.fired_at_ms, kT0) << a.labels.ToString();  // kept, not fired again
  }
}

TEST(TransitionLogTest, HistoryIsBoundedAndSurvivesARestart) {
  const std::string dir = shelfwatch::testing::MakeTempDir("alert-history");
  const std::string path = dir + "/alerts.db";
  {
    TransitionLog log(3);
    ASSERT_TRUE(log.Open(path).ok());
    for (int i = 0; i < 5; ++i) {
      Transition t;
      t.time_ms = kT0 + i * kS;
      t.group = "g";
      t.alertname = "A";
      t.labels = monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "A"}, {"i", std::to_string(i)}});
      t.from = "pending";
      t.to = "firing";
      t.value = i * 1.5;
      ASSERT_TRUE(log.Record(t).ok());
    }
    auto recent = log.Recent(10);
    ASSERT_EQ(recent.size(), 3u);
    EXPECT_EQ(recent[0].labels.Get("i"), "4");
  }
  TransitionLog reopened(3);
  ASSERT_TRUE(reopened.Open(path).ok());
  auto recent = reopened.Recent(10);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].time_ms, kT0 + 4 * kS);
  EXPECT_EQ(recent[0].labels.Get("i"), "4");
  EXPECT_EQ(recent[0].value, 6);
  EXPECT_EQ(recent[2].labels.Get("i"), "2");
  EXPECT_EQ(reopened.Recent(1).size(), 1u);

  std::ofstream(dir + "/garbage.db") << "this is not a database, just text that is long enough to fail";
  TransitionLog bad(3);
  EXPECT_FALSE(bad.Open(dir + "/garbage.db").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::alert
