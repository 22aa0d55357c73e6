// The shipped rule set deploy/prometheus/rules/shelfwatch.yml: promtool accepts it, the
// embedded evaluator loads it, and on one 40-minute scenario (errors, latency, zero results,
// a worse canary, drift, data-quality violations, a failed model load, refused events, lost
// readiness) our evaluator and Prometheus' own rule engine (`promtool test rules`, fed the
// very samples our history holds) fire the same alerts with the same labels and annotations.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "alert/evaluator.h"
#include "common/yaml_scalar.h"
#include "monitor/history/metric_history.h"
#include "support/test_server.h"

namespace shelfwatch::alert {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";
const std::string kRules = std::string(SHELFWATCH_SOURCE_DIR) + "/deploy/prometheus/rules/shelfwatch.yml";
constexpr int64_t kStep = 15'000;
constexpr int kSteps = 160;  // 40 minutes
// Any start works (PromQL is shift-invariant here); promtool's series start at 0.
constexpr int64_t kBase = 1'800'000'000'000;

int RunShell(const std::string& command, std::string* out) {
  return shelfwatch::testing::RunCommand({"/bin/sh", "-c", command + " 2>&1"}, out);
}

TEST(ShippedRulesTest, PromtoolAcceptsThem) {
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << kPromtool << " is not installed (apt install prometheus)";
  std::string out;
  EXPECT_EQ(RunShell(std::string(kPromtool) + " check rules " + kRules, &out), 0) << out;
}

TEST(ShippedRulesTest, TheEmbeddedEvaluatorLoadsThemAndEachAlertIsDocumented) {
  auto set = LoadRuleFiles({kRules});
  ASSERT_TRUE(set.ok()) << set.status().message();
  std::set<std::string> alerts;
  for (const RuleGroup& g : set->groups) {
    for (const Rule& r : g.rules) {
      if (r.kind != RuleKind::kAlerting) continue;
      alerts.insert(r.name);
      std::set<std::string> annotations, labels;
      for (const auto& [k, v] : r.annotations) annotations.insert(k);
      for (const auto& [k, v] : r.labels) labels.insert(k + "=" + v.text());
      EXPECT_TRUE(annotations.count("summary") && annotations.count("description")) << r.name;
      EXPECT_TRUE(labels.count("severity=critical") || labels.count("severity=warning") || labels.count("severity=info"))
          << r.name;
    }
  }
  for (const char* name : {"ShelfwatchHighErrorRatio", "ShelfwatchHighLatencyP99", "ShelfwatchSearchStageSlow",
                           "ShelfwatchZeroResultRateHigh", "ShelfwatchCtrDropVsYesterday", "ShelfwatchCtrBelowStable",
                           "ShelfwatchConversionDropVsYesterday", "ShelfwatchFeatureDrift", "ShelfwatchDriftScoreHigh",
                           "ShelfwatchDataQualityViolations", "ShelfwatchModelLoadFailures",
                           "ShelfwatchEventIngestFailures", "ShelfwatchNotReady", "ShelfwatchCatalogNotReady",
                           "ShelfwatchTargetDown"}) {
    EXPECT_TRUE(alerts.count(name)) << name;
  }
}

// The server's metrics, driven through a scenario one 15 s step at a time.
struct Scenario {
  monitor::Registry r;
  const std::string search = "/v1/catalogs/{catalog}/search";
  monitor::Family<monitor::Counter>& http = r.AddCounter("shelfwatch_http_requests_total", "h", {"route", "code"});
  monitor::Family<monitor::Histogram>& latency =
      r.AddHistogram("shelfwatch_http_request_duration_seconds", "h", {"route"}, {0.01, 0.1, 0.25, 0.5, 1, 2.5});
  monitor::Family<monitor::Histogram>& stage = r.AddHistogram("shelfwatch_search_stage_duration_seconds", "h",
                                                               {"catalog", "stage"}, {0.001, 0.01, 0.1, 0.25, 1});
  monitor::Family<monitor::Counter>& served =
      r.AddCounter("shelfwatch_served_requests_total", "h", {"catalog", "endpoint", "variant"});
  monitor::Family<monitor::Counter>& zero =
      r.AddCounter("shelfwatch_zero_result_requests_total", "h", {"catalog", "endpoint", "variant"});
  monitor::Family<monitor::Counter>& events =
      r.AddCounter("shelfwatch_feedback_events_total", "h", {"catalog", "endpoint", "variant", "type"});
  monitor::Family<monitor::Gauge>& drift_status = r.AddGauge("shelfwatch_drift_status", "h", {"model", "feature"});
  monitor::Family<monitor::Gauge>& drift_score = r.AddGauge("shelfwatch_drift_score", "h", {"model", "feature", "method"});
  monitor::Family<monitor::Counter>& quality =
      r.AddCounter("shelfwatch_data_quality_violations_total", "h", {"model", "feature", "kind"});
  monitor::Family<monitor::Counter>& load_failures =
      r.AddCounter("shelfwatch_model_load_failures_total", "h", {"model", "reason"});
  monitor::Family<monitor::Counter>& ingest = r.AddCounter("shelfwatch_feedback_ingest_failures_total", "h", {"reason"});
  monitor::Gauge& ready = r.AddGauge("shelfwatch_ready", "h").WithLabels({});
  monitor::Family<monitor::Gauge>& catalog_ready = r.AddGauge("shelfwatch_catalog_ready", "h", {"catalog"});

  Scenario() {
    // Every series exists from the first sample (promtool input has no gaps).
    for (const char* code : {"200", "500"}) http.WithLabels({search, code});
    http.WithLabels({"/v1/events", "200"});
    for (const char* v : {"stable", "canary"}) {
      for (const char* t : {"impression", "click", "purchase"}) events.WithLabels({"homedepot", "search", v, t});
    }
    load_failures.WithLabels({"ranker", "bad_file"});
    ingest.WithLabels({"queue_full"});
    catalog_ready.WithLabels({"homedepot"}).Set(1);
    ready.Set(1);
  }

  // What happens during the 15 s before step i.
  void Advance(int i) {
    const bool degraded = i >= 40;  // from minute 10
    http.WithLabels({search, "200"}).Inc(120);
    if (degraded) http.WithLabels({search, "500"}).Inc(30);  // 20% errors
    http.WithLabels({"/v1/events", "200"}).Inc(150);
    for (int k = 0; k < 20; ++k) latency.WithLabels({search}).Observe(degraded ? 0.8 : 0.03);
    for (int k = 0; k < 20; ++k) latency.WithLabels({"/v1/events"}).Observe(0.002);
    for (int k = 0; k < 10; ++k) stage.WithLabels({"homedepot", "retrieve"}).Observe(0.004);
    served.WithLabels({"homedepot", "search", "stable"}).Inc(150);
    zero.WithLabels({"homedepot", "search", "stable"}).Inc(15);
    served.WithLabels({"homedepot", "search", "canary"}).Inc(150);
    zero.WithLabels({"homedepot", "search", "canary"}).Inc(60);  // 40% find nothing
    events.WithLabels({"homedepot", "search", "stable", "impression"}).Inc(150);
    events.WithLabels({"homedepot", "search", "stable", "click"}).Inc(30);  // CTR 20%
    events.WithLabels({"homedepot", "search", "canary", "impression"}).Inc(150);
    events.WithLabels({"homedepot", "search", "canary", "click"}).Inc(12);  // CTR 8%
    events.WithLabels({"homedepot", "search", "stable", "purchase"}).Inc(3);
    drift_status.WithLabels({"ranker", "price"}).Set(i >= 20 ? 2 : 0);
    drift_status.WithLabels({"ranker", "brand"}).Set(1);
    drift_score.WithLabels({"ranker", "price", "psi"}).Set(i >= 20 ? 0.4 : 0.02);
    drift_score.WithLabels({"ranker", "brand", "ks"}).Set(0.2);
    quality.WithLabels({"ranker", "price", "missing"}).Inc(3);  // 0.2/s
    if (i == 150) load_failures.WithLabels({"ranker", "bad_file"}).Inc();
    if (i >= 100) ingest.WithLabels({"queue_full"}).Inc();
    ready.Set(i >= 140 ? 0 : 1);
  }
};


TEST(ShippedRulesTest, EmbeddedEvaluatorAndPrometheusAgreeOnAScenario) {
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << kPromtool << " is not installed (apt install prometheus)";
  auto set = LoadRuleFiles({kRules});
  ASSERT_TRUE(set.ok()) << set.status().message();
  std::vector<std::string> alert_names;
  for (const RuleGroup& g : set->groups) {
    for (const Rule& r : g.rules) {
      if (r.kind == RuleKind::kAlerting) alert_names.push_back(r.name);
    }
  }

  Scenario s;
  monitor::Registry own;
  monitor::MetricHistory history(s.r);
  RuleEvaluator evaluator(history, own, {});
  evaluator.Reload(std::move(set).value());
  // Firing alerts every 5 minutes, so that promtool also checks when each one starts firing.
  std::map<int, std::map<std::string, std::vector<Alert>>> firing_at;
  for (int i = 0; i <= kSteps; ++i) {
    if (i > 0) s.Advance(i);
    history.SampleNow(kBase + i * kStep);
    // Every group at every step, as promtool's unit tests evaluate (evaluation_interval 15s).
    evaluator.EvaluateAt(kBase + i * kStep);
    if (i % 20 == 0) {
      auto& at = firing_at[i];
      for (const std::string& name : alert_names) at[name];
      for (const Alert& a : evaluator.ActiveAlerts()) {
        if (a.state == AlertState::kFiring) at[std::string(a.labels.Get("alertname"))].push_back(a);
      }
    }
  }
  for (const GroupStatus& g : evaluator.Groups()) {
    for (const RuleStatus& r : g.rules) EXPECT_EQ(r.health, "ok") << r.rule.name << ": " << r.last_error;
  }
  std::map<std::string, std::vector<Alert>>& firing = firing_at[kSteps];
  // What the scenario was built to trigger.
  for (const char* name : {"ShelfwatchHighErrorRatio", "ShelfwatchHighLatencyP99", "ShelfwatchZeroResultRateHigh",
                           "ShelfwatchCtrBelowStable", "ShelfwatchFeatureDrift", "ShelfwatchDriftScoreHigh",
                           "ShelfwatchDataQualityViolations", "ShelfwatchModelLoadFailures",
                           "ShelfwatchEventIngestFailures", "ShelfwatchNotReady"}) {
    EXPECT_EQ(firing[name].size(), 1u) << name;
  }
  // ... and what it must not.
  for (const char* name : {"ShelfwatchSearchStageSlow", "ShelfwatchCtrDropVsYesterday",
                           "ShelfwatchConversionDropVsYesterday", "ShelfwatchCatalogNotReady", "ShelfwatchTargetDown"}) {
    EXPECT_TRUE(firing[name].empty()) << name;
  }
  ASSERT_EQ(firing["ShelfwatchHighErrorRatio"].size(), 1u);
  EXPECT_EQ(firing["ShelfwatchHighErrorRatio"][0].labels.Get("route"), "/v1/catalogs/{catalog}/search");
  ASSERT_EQ(firing["ShelfwatchCtrBelowStable"].size(), 1u);
  EXPECT_EQ(firing["ShelfwatchCtrBelowStable"][0].labels.Get("variant"), "canary");

  // The same samples and expectations as a promtool unit test.
  const std::string dir = shelfwatch::testing::MakeTempDir("alert-promtool");
  std::ofstream test(dir + "/test.yml");
  test << "rule_files:\n  - " << kRules << "\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n";
  std::vector<monitor::StoredSeries> all;
  auto any = monitor::LabelMatcher::Make(monitor::MatchOp::kRegexMatch, "__name__", ".+");
  ASSERT_TRUE(any.ok());
  ASSERT_TRUE(history.Select({*any}, kBase, kBase + kSteps * kStep, &all).ok());
  ASSERT_GT(all.size(), 20u);
  for (const auto& series : all) {
    test << "      - series: '" << series.labels->ToString() << "'\n        values: '";
    size_t k = 0;
    for (int i = 0; i <= kSteps; ++i) {
      const int64_t t = kBase + i * kStep;
      if (i > 0) test << ' ';
      if (k < series.samples.size() && series.samples[k].t == t) {
        test << monitor::FormatValue(series.samples[k++].v);
      } else {
        test << '_';
      }
    }
    test << "'\n";
  }
  test << "    alert_rule_test:\n";
  size_t expected_alerts = 0;
  for (auto& [step, by_name] : firing_at) {
    for (auto& [name, alerts] : by_name) {
      expected_alerts += alerts.size();
      test << "      - eval_time: " << step * kStep / 1000 << "s\n        alertname: " << name << "\n        exp_alerts:";
      if (alerts.empty()) test << " []";
      test << "\n";
      for (const Alert& a : alerts) {
        test << "          - exp_labels:\n";
        for (const auto& [k, v] : a.labels.labels()) {
          if (k != "alertname") test << "              " << k << ": " << YamlDoubleQuoted(v) << "\n";
        }
        test << "            exp_annotations:\n";
        for (const auto& [k, v] : a.annotations) test << "              " << k << ": " << YamlDoubleQuoted(v) << "\n";
      }
    }
  }
  test.close();
  // Alerts start firing at different times across the 9 checkpoints.
  EXPECT_GT(expected_alerts, 20u);
  std::string out;
  EXPECT_EQ(RunShell(std::string(kPromtool) + " test rules " + dir + "/test.yml", &out), 0)
      << out << "\n(test file kept in " << dir << ")";
  if (!HasFailure() && !getenv("KEEP_PROMTOOL_TEST")) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::alert
