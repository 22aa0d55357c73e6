// Rule files in Prometheus' format (https://prometheus.io/docs/prometheus/latest/configuration/
// alerting_rules/ and recording_rules/), loaded with yaml-cpp and validated completely before
// anything runs:
//
//   groups:
//     - name: shelfwatch-http          # unique across the loaded files
//       interval: 30s                  # optional; default RuleLoadOptions::default_interval_ms
//       rules:
//         - alert: HighErrorRatio      # or  record: route:errors:ratio5m
//           expr: sum by (route) (rate(...[5m])) > 0.05
//           for: 5m                    # alerting only
//           keep_firing_for: 10m       # alerting only (Prometheus 2.42+)
//           labels: {severity: page}
//           annotations: {summary: "{{ $labels.route }} fails {{ $value | humanizePercentage }}"}
//
// Every expression is parsed with our PromQL subset (monitor/history/promql.h), so a rule that
// the embedded evaluator cannot run is refused at load, not skipped at run time. Every
// template is parsed (template.h). Problems are reported as "file:line:column: problem" (yaml
// positions, 1-based), all of them, and a file with any problem is refused as a whole.
// Recording rules are supported: their results are written to RecordedSeries
// (recorded_series.h), which RuleEvaluator::store() exposes to PromQL queries alongside the
// metric history.
//
// Thread-safety: loading is a pure function; a RuleSet is immutable once built.
// Cost: O(file size) plus one PromQL parse per rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alert/template.h"
#include "common/status.h"
#include "monitor/history/promql.h"

namespace shelfwatch::alert {

enum class RuleKind { kAlerting, kRecording };

struct Rule {
  RuleKind kind = RuleKind::kAlerting;
  std::string name;  // alert name or recorded metric name
  std::string expr_text;
  std::shared_ptr<const monitor::Expr> expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  // Sorted by name; templated (alerting rules) or literal (recording rules).
  std::vector<std::pair<std::string, Template>> labels;
  std::vector<std::pair<std::string, Template>> annotations;
  std::string file;
  int line = 0;  // 1-based line of the rule in its file
};

struct RuleGroup {
  std::string name;
  std::string file;
  int64_t interval_ms = 15'000;
  std::vector<Rule> rules;
};

struct RuleSet {
  std::vector<RuleGroup> groups;
};

struct RuleLoadOptions {
  int64_t default_interval_ms = 15'000;  // Prometheus' global evaluation_interval default
};

// Parses one file's text; `file` names it in error messages.
Result<RuleSet> ParseRules(std::string_view yaml_text, std::string_view file, const RuleLoadOptions& options = {});
// Reads and parses every file; group names must be unique across them. NotFound / IoError for
// unreadable files, InvalidArgument listing every problem otherwise.
Result<RuleSet> LoadRuleFiles(const std::vector<std::string>& paths, const RuleLoadOptions& options = {});

// Prometheus' duration text ("5m", "1h30m", "0") in milliseconds, for `for` and `interval`.
Result<int64_t> ParseRuleDuration(std::string_view text);

}  // namespace shelfwatch::alert
