// Rule files: what loads, and how every problem is reported with its position.
#include "alert/rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_server.h"

namespace shelfwatch::alert {
namespace {

TEST(RulesTest, LoadsGroupsAlertsAndRecordingRules) {
  const char* text = R"(groups:
  - name: http
    interval: 30s
    rules:
      - record: route:errors:rate5m
        expr: sum by (route) (rate(shelfwatch_http_requests_total{code=~"5.."}[5m]))
        labels:
          team: search
      - alert: HighErrorRate
        expr: route:errors:rate5m > 1
        for: 5m
        keep_firing_for: 10m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.route }} fails {{ $value | humanize }}/s"
  - name: default-interval
    rules:
      - alert: Always
        expr: vector(1)
)";
  auto set = ParseRules(text, "shelfwatch.yml", {20'000});
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->groups.size(), 2u);
  const RuleGroup& http = set->groups[0];
  EXPECT_EQ(http.name, "http");
  EXPECT_EQ(http.interval_ms, 30'000);
  ASSERT_EQ(http.rules.size(), 2u);
  EXPECT_EQ(http.rules[0].kind, RuleKind::kRecording);
  EXPECT_EQ(http.rules[0].name, "route:errors:rate5m");
  ASSERT_EQ(http.rules[0].labels.size(), 1u);
  EXPECT_EQ(http.rules[0].labels[0].second.text(), "search");
  const Rule& alert = http.rules[1];
  EXPECT_EQ(alert.kind, RuleKind::kAlerting);
  EXPECT_EQ(alert.for_ms, 300'000);
  EXPECT_EQ(alert.keep_firing_for_ms, 600'000);
  EXPECT_EQ(alert.line, 9);
  ASSERT_NE(alert.expr, nullptr);
  EXPECT_EQ(monitor::FormatExpr(*alert.expr), "(route:errors:rate5m > 1)");
  ASSERT_EQ(alert.annotations.size(), 1u);
  EXPECT_EQ(alert.annotations[0].first, "summary");
  EXPECT_EQ(set->groups[1].interval_ms, 20'000);  // the configured default
}

TEST(RulesTest, AnEmptyFileHasNoGroups) {
  auto set = ParseRules("", "empty.yml");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->groups.empty());
}

// Each problem names file:line:column of the offending node, and all are reported at once.
TEST(RulesTest, EveryProblemIsReportedWithItsPosition) {
  const char* text = R"(groups:
  - name: g
    rules:
      - alert: BadExpr
        expr: sum(rate(x[5m]) by
      - alert: UnknownField
        expr: up == 0
        anotations:
          summary: typo
      - alert: BadDuration
        expr: up == 0
        for: 5 minutes
      - record: has_annotations
        expr: up
        annotations:
          a: b
      - alert: Both
        record: both
        expr: up
      - alert: NoExpr
      - alert: BadTemplate
        expr: up == 0
        annotations:
          summary: "{{ $value | toUpper }}"
      - alert: RangeVector
        expr: up[5m]
      - record: "not a metric name"
        expr: up
  - name: g
    rules: []
)";
  auto set = ParseRules(text, "bad.yml");
  ASSERT_FALSE(set.ok());
  const std::string& m = set.status().message();
  EXPECT_EQ(set.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(m.find("bad.yml:5:15: rule BadExpr: expr: "), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:8:9: field \"anotations\" not allowed in a rule"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:12:14: \"for\": not a valid duration string: \"5 minutes\""), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:15:9: invalid field \"annotations\" in recording rule"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:17:9: only one of \"record\" and \"alert\" may be set"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:20:9: field \"expr\" must be set in rule NoExpr"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:24:20: annotations.summary: template: 1:13: function \"toUpper\" not defined"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("bad.yml:26:15: rule RangeVector: expr must give an instant vector"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:27:17: invalid recording rule name"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yml:29:11: group name \"g\" is repeated in the same file"), std::string::npos) << m;
  EXPECT_NE(m.find("(10 problems)"), std::string::npos) << m;
}

TEST(RulesTest, YamlSyntaxErrorsCarryTheirPosition) {
  auto set = ParseRules("groups:\n  - name: g\n    rules: [\n", "broken.yml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("broken.yml:"), std::string::npos) << set.status().message();

  auto not_map = ParseRules("- just\n- a list\n", "list.yml");
  ASSERT_FALSE(not_map.ok());
  EXPECT_NE(not_map.status().message().find("list.yml:1:1: a rule file must be a map"), std::string::npos)
      << not_map.status().message();
}

TEST(RulesTest, UnsupportedPromqlIsRefusedAtLoad) {
  auto set = ParseRules("groups:\n- name: g\n  rules:\n  - alert: Top\n    expr: topk(3, up)\n", "top.yml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("top.yml:5:11: rule Top: expr:"), std::string::npos)
      << set.status().message();
}

TEST(RulesTest, AlertnameMayNotBeOverriddenByLabels) {
  auto set = ParseRules("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: {alertname: B}\n", "a.yml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("alertname"), std::string::npos);
}

TEST(RulesTest, LoadRuleFilesRefusesMissingFilesAndRepeatedGroups) {
  const std::string dir = testing::MakeTempDir("alert-rules");
  const std::string a = dir + "/a.yml", b = dir + "/b.yml";
  std::ofstream(a) << "groups:\n- name: same\n  rules:\n  - alert: A\n    expr: up == 0\n";
  std::ofstream(b) << "groups:\n- name: same\n  rules:\n  - alert: B\n    expr: up == 0\n";
  auto one = LoadRuleFiles({a});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->groups[0].file, a);
  auto both = LoadRuleFiles({a, b});
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("\"same\" is already used"), std::string::npos);
  auto missing = LoadRuleFiles({dir + "/nope.yml"});
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(RulesTest, DurationsFollowPrometheus) {
  EXPECT_EQ(*ParseRuleDuration("0"), 0);
  EXPECT_EQ(*ParseRuleDuration("1h30m"), 5'400'000);
  EXPECT_EQ(*ParseRuleDuration("250ms"), 250);
  EXPECT_FALSE(ParseRuleDuration("-5m").ok());
  EXPECT_FALSE(ParseRuleDuration("5").ok());
}

}  // namespace
}  // namespace shelfwatch::alert
