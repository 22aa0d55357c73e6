// The /v1/alerts endpoints through Alerting::Handle: Prometheus-shaped alerts and rules,
// history with a limit, silences in Alertmanager's shape, errors and reload.
#include "alert/alerting.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "monitor/history/metric_history.h"
#include "support/test_server.h"

namespace shelfwatch::alert {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : history_(app_), alerting_(history_, own_, Options()) {
    dir_ = shelfwatch::testing::MakeTempDir("alert-api");
    rules_path_ = dir_ + "/rules.yml";
    std::ofstream(rules_path_) << R"(groups:
- name: queues
  interval: 15s
  rules:
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 10
    for: 30s
    keep_firing_for: 1m
    labels: {severity: warning}
    annotations: {summary: "{{ $labels.queue }}: {{ $value }}"}
  - record: queue:depth:max
    expr: max(shelfwatch_test_queue_depth)
)";
  }
  ~ApiTest() override { std::filesystem::remove_all(dir_); }
  AlertingOptions Options() {
    AlertingOptions o;
    o.history_capacity = 10;
    return o;
  }
  ApiReply Get(const std::string& path, const std::string& query = "") {
    return alerting_.Handle("GET", path, query, "", kT0);
  }
  void Step(int64_t t) {
    history_.SampleNow(t);
    alerting_.evaluator().EvaluateAt(t);
  }

  monitor::Registry app_, own_;
  monitor::MetricHistory history_;
  monitor::Gauge& depth_ = app_.AddGauge("shelfwatch_test_queue_depth", "Queue depth.", {"queue"}).WithLabels({"q1"});
  Alerting alerting_;
  std::string dir_, rules_path_;
  simdjson::dom::parser parser_;
};

TEST_F(ApiTest, AlertsRulesAndHistoryHavePrometheusShapes) {
  ASSERT_TRUE(alerting_.Reload({{rules_path_}, {}, {}}).ok());
  depth_.Set(12.5);
  Step(kT0);
  Step(kT0 + 15'000);

  auto alerts = Get("/v1/alerts");
  ASSERT_EQ(alerts.status, 200);
  simdjson::dom::element doc = parser_.parse(alerts.body);
  EXPECT_EQ(std::string_view(doc["status"]), "success");
  simdjson::dom::array list = doc["data"]["alerts"];
  ASSERT_EQ(list.size(), 1u) << alerts.body;
  simdjson::dom::element a = list.at(0);
  EXPECT_EQ(std::string_view(a["state"]), "pending");
  EXPECT_EQ(std::string_view(a["labels"]["alertname"]), "QueueDeep");
  EXPECT_EQ(std::string_view(a["annotations"]["summary"]), "q1: 12.5");
  EXPECT_EQ(std::string_view(a["activeAt"]), FormatRfc3339Millis(kT0));
  EXPECT_EQ(std::string_view(a["value"]), "1.25e+01");
  EXPECT_FALSE(bool(a["silenced"]));
  EXPECT_EQ(a["keepFiringSince"].error(), simdjson::NO_SUCH_FIELD);

  Step(kT0 + 30'000);
  depth_.Set(1);
  Step(kT0 + 45'000);  // kept firing by keep_firing_for
  doc = parser_.parse(Get("/v1/alerts").body);
  a = simdjson::dom::array(doc["data"]["alerts"]).at(0);
  EXPECT_EQ(std::string_view(a["state"]), "firing");
  EXPECT_EQ(std::string_view(a["keepFiringSince"]), FormatRfc3339Millis(kT0 + 45'000));

  auto rules = Get("/v1/alerts/rules");
  ASSERT_EQ(rules.status, 200);
  doc = parser_.parse(rules.body);
  simdjson::dom::element group = simdjson::dom::array(doc["data"]["groups"]).at(0);
  EXPECT_EQ(std::string_view(group["name"]), "queues");
  EXPECT_EQ(std::string_view(group["file"]), rules_path_);
  EXPECT_EQ(double(group["interval"]), 15);
  EXPECT_EQ(std::string_view(group["lastEvaluation"]), FormatRfc3339Millis(kT0 + 45'000));
  simdjson::dom::array rule_list = group["rules"];
  ASSERT_EQ(rule_list.size(), 2u);
  simdjson::dom::element alerting_rule = rule_list.at(0);
  EXPECT_EQ(std::string_view(alerting_rule["type"]), "alerting");
  EXPECT_EQ(std::string_view(alerting_rule["state"]), "firing");
  EXPECT_EQ(std::string_view(alerting_rule["health"]), "ok");
  EXPECT_EQ(std::string_view(alerting_rule["query"]), "shelfwatch_test_queue_depth > 10");
  EXPECT_EQ(double(alerting_rule["duration"]), 30);
  EXPECT_EQ(double(alerting_rule["keepFiringFor"]), 60);
  EXPECT_EQ(std::string_view(alerting_rule["annotations"]["summary"]), "{{ $labels.queue }}: {{ $value }}");
  EXPECT_EQ(simdjson::dom::array(alerting_rule["alerts"]).size(), 1u);
  EXPECT_EQ(std::string_view(rule_list.at(1)["type"]), "recording");
  EXPECT_EQ(std::string_view(rule_list.at(1)["name"]), "queue:depth:max");

  auto hist = Get("/v1/alerts/history", "limit=1");
  ASSERT_EQ(hist.status, 200);
  doc = parser_.parse(hist.body);
  simdjson::dom::array transitions = doc["transitions"];
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(std::string_view(transitions.at(0)["from"]), "pending");
  EXPECT_EQ(std::string_view(transitions.at(0)["to"]), "firing");
  EXPECT_EQ(std::string_view(transitions.at(0)["time"]), FormatRfc3339Millis(kT0 + 30'000));
  EXPECT_EQ(std::string_view(transitions.at(0)["labels"]["severity"]), "warning");
  EXPECT_EQ(double(transitions.at(0)["value"]), 12.5);
  doc = parser_.parse(Get("/v1/alerts/history").body);
  EXPECT_EQ(simdjson::dom::array(doc["transitions"]).size(), 2u);
  EXPECT_EQ(Get("/v1/alerts/history", "limit=abc").status, 400);
  EXPECT_EQ(Get("/v1/alerts/history", "limit=0").status, 400);
}

TEST_F(ApiTest, SilencesCanBeCreatedListedAndExpired) {
  const std::string body = R"({"matchers":[{"name":"alertname","value":"QueueDeep","isRegex":false,"isEqual":true}],
    "startsAt":"2027-01-15T08:00:00Z","endsAt":"2027-01-15T09:00:00.000Z","createdBy":"oncall","comment":"maintenance"})";
  auto created = alerting_.Handle("POST", "/v1/alerts/silences", "", body, kT0);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id(std::string_view(parser_.parse(created.body)["silenceID"]));
  EXPECT_EQ(id.size(), 36u);

  auto listed = Get("/v1/alerts/silences");
  simdjson::dom::element doc = parser_.parse(listed.body);
  simdjson::dom::element s = simdjson::dom::array(doc).at(0);
  EXPECT_EQ(std::string_view(s["id"]), id);
  EXPECT_EQ(std::string_view(s["status"]["state"]), "active");  // kT0 is 2027-01-15T08:00:00Z
  EXPECT_EQ(std::string_view(s["matchers"].at(0)["value"]), "QueueDeep");
  EXPECT_EQ(std::string_view(s["endsAt"]), "2027-01-15T09:00:00.000Z");
  EXPECT_EQ(std::string_view(s["comment"]), "maintenance");

  auto expired = alerting_.Handle("DELETE", "/v1/alerts/silences/" + id, "", "", kT0 + 1000);
  EXPECT_EQ(expired.status, 200) << expired.body;
  doc = parser_.parse(alerting_.Handle("GET", "/v1/alerts/silences", "", "", kT0 + 2000).body);
  EXPECT_EQ(std::string_view(simdjson::dom::array(doc).at(0)["status"]["state"]), "expired");
  EXPECT_EQ(alerting_.Handle("DELETE", "/v1/alerts/silences/" + id, "", "", kT0 + 3000).status, 412);
  EXPECT_EQ(alerting_.Handle("DELETE", "/v1/alerts/silences/nope", "", "", kT0).status, 404);

  auto bad = alerting_.Handle("POST", "/v1/alerts/silences", "", R"({"matchers":[],"endsAt":"2027-01-15T09:00:00Z"})", kT0);
  EXPECT_EQ(bad.status, 400);
  doc = parser_.parse(bad.body);
  EXPECT_EQ(std::string_view(doc["error"]["code"]), "invalid_argument");
  EXPECT_EQ(alerting_.Handle("POST", "/v1/alerts/silences", "", "not json", kT0).status, 400);
  EXPECT_EQ(alerting_.Handle("POST", "/v1/alerts/silences", "", R"({"matchers":[{"name":"a","value":"b"}]})", kT0).status, 400);
  EXPECT_EQ(alerting_.Handle("POST", "/v1/alerts/silences", "",
                             R"({"matchers":[{"name":"a","value":"b"}],"endsAt":"2027-01-15T09:00:00Z","extra":1})", kT0)
                .status,
            400);
}

TEST_F(ApiTest, UnknownPathsAndMethodsAreRefused) {
  EXPECT_EQ(Get("/v1/alerts/nope").status, 404);
  EXPECT_EQ(alerting_.Handle("POST", "/v1/alerts", "", "", kT0).status, 405);
  EXPECT_EQ(alerting_.Handle("PUT", "/v1/alerts/silences", "", "", kT0).status, 405);
}

TEST_F(ApiTest, ARefusedReloadKeepsTheRunningRules) {
  ASSERT_TRUE(alerting_.Reload({{rules_path_}, {}, {}}).ok());
  depth_.Set(50);
  Step(kT0);
  ASSERT_EQ(alerting_.evaluator().ActiveAlerts().size(), 1u);
  const std::string broken = dir_ + "/broken.yml";
  std::ofstream(broken) << "groups:\n- name: x\n  rules:\n  - alert: Bad\n    expr: rate(\n";
  Status s = alerting_.Reload({{broken}, {}, {}});
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("broken.yml:5:11"), std::string::npos) << s.message();
  NotifierConfig bad;
  bad.name = "hook";
  bad.urls = {"ftp://nowhere"};
  EXPECT_FALSE(alerting_.Reload({{rules_path_}, {bad}, {}}).ok());
  // Still the old rules, and the alert kept its state.
  auto groups = alerting_.evaluator().Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].name, "queues");
  ASSERT_EQ(alerting_.evaluator().ActiveAlerts().size(), 1u);
  EXPECT_EQ(alerting_.evaluator().ActiveAlerts()[0].active_at_ms, kT0);
}

TEST_F(ApiTest, HistoryAndSilencesPersistAcrossRestartsWithAFile) {
  AlertingOptions o;
  o.state_path = dir_ + "/alerts.db";
  std::string kept, expired;
  {
    monitor::Registry own;
    Alerting a(history_, own, o);
    ASSERT_TRUE(a.Open().ok());
    ASSERT_TRUE(a.Reload({{rules_path_}, {}, {}}).ok());
    depth_.Set(50);
    history_.SampleNow(kT0);
    a.evaluator().EvaluateAt(kT0);
    const std::string body = R"({"matchers":[{"name":"queue","value":"q.*","isRegex":true}],
        "endsAt":"2027-01-15T09:00:00Z","createdBy":"oncall","comment":"reindexing"})";
    kept = std::string(std::string_view(parser_.parse(a.Handle("POST", "/v1/alerts/silences", "", body, kT0).body)["silenceID"]));
    expired = std::string(std::string_view(parser_.parse(a.Handle("POST", "/v1/alerts/silences", "", body, kT0).body)["silenceID"]));
    ASSERT_EQ(a.Handle("DELETE", "/v1/alerts/silences/" + expired, "", "", kT0 + 1).status, 200);
  }
  monitor::Registry own;
  Alerting again(history_, own, o);
  ASSERT_TRUE(again.Open().ok());
  auto reply = again.Handle("GET", "/v1/alerts/history", "", "", kT0);
  simdjson::dom::element doc = parser_.parse(reply.body);
  simdjson::dom::array transitions = doc["transitions"];
  ASSERT_EQ(transitions.size(), 1u) << reply.body;
  EXPECT_EQ(std::string_view(transitions.at(0)["to"]), "pending");
  EXPECT_EQ(std::string_view(transitions.at(0)["alertname"]), "QueueDeep");

  // The silences came back, matching as before, the expired one still expired.
  EXPECT_TRUE(again.silences().IsSilenced(monitor::LabelSet(std::vector<monitor::Label>{{"queue", "q1"}}), kT0 + 10));
  auto list = again.silences().List(kT0 + 10);
  ASSERT_EQ(list.size(), 2u);
  for (const Silence& s : list) {
    EXPECT_EQ(s.comment, "reindexing");
    ASSERT_EQ(s.matchers.size(), 1u);
    EXPECT_TRUE(s.matchers[0].is_regex);
    EXPECT_EQ(StateAt(s, kT0 + 10), s.id == kept ? SilenceState::kActive : SilenceState::kExpired);
  }
}

}  // namespace
}  // namespace shelfwatch::alert

namespace shelfwatch::alert {
namespace {

TEST(AlertingThreadTest, StartEvaluatesEachGroupOnTheWallClockUntilStop) {
  const std::string dir = shelfwatch::testing::MakeTempDir("alert-thread");
  std::ofstream(dir + "/r.yml") << "groups:\n- name: fast\n  interval: 50ms\n  rules:\n  - alert: Always\n    expr: vector(1)\n";
  monitor::Registry app, own;
  monitor::MetricHistory history(app);
  Alerting alerting(history, own, {});
  ASSERT_TRUE(alerting.Reload({{dir + "/r.yml"}, {}, {}}).ok());
  const int64_t before = UnixMillis();
  alerting.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  alerting.Stop();
  const auto groups = alerting.evaluator().Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_GE(groups[0].last_evaluation_ms, before);
  // Several evaluations happened (about 8 in 400 ms), counted in the duration histogram.
  double evaluations = -1;
  for (const auto& f : own.Collect()) {
    if (f.name == "shelfwatch_rule_evaluation_duration_seconds") evaluations = static_cast<double>(f.series[0].histogram.count);
  }
  EXPECT_GE(evaluations, 3);
  ASSERT_EQ(alerting.evaluator().ActiveAlerts().size(), 1u);
  const int64_t stopped_at = alerting.evaluator().Groups()[0].last_evaluation_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(alerting.evaluator().Groups()[0].last_evaluation_ms, stopped_at);  // stopped
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::alert
