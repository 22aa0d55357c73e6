// RuleEvaluator: evaluates rule groups against a SeriesStore (the embedded MetricHistory)
// with our PromQL engine, keeps each alert's state, records state transitions, writes
// recording-rule results, and hands alerts that need sending to the notifiers.
//
// Semantics are Prometheus 2.42's (rules/alerting.go AlertingRule.Eval and sendAlerts):
// - each sample of the result is one alert, identified by its labels: the series' labels
//   without __name__, plus the rule's (templated) labels, plus alertname;
// - a new alert is pending from activeAt; it fires once it has been active for `for` (with
//   for: 0 it fires in the evaluation that creates it);
// - when its sample disappears a pending alert is dropped (inactive), a firing one resolves:
//   it is kept (state inactive, resolvedAt set) for 15 minutes so notifiers hear it resolved;
//   with keep_firing_for, a firing alert keeps firing (keepFiringSince set) until the
//   condition has been false for that long;
// - a query error leaves every alert as it was and marks the rule's health "err";
// - an alert is sent when firing and not sent for resend_delay, or when it resolved since its
//   last send; endsAt is resolvedAt, or for a firing alert 4 x max(resend_delay, interval)
//   ahead (validUntil), so a receiver resolves it on its own if shelfwatch goes away.
// Silenced alerts (silences.h) are kept and listed but not sent.
// The series ALERTS{alertname, alertstate, ...} = 1 is written for pending and firing alerts,
// like Prometheus, into the recorded series (queryable through store()).
//
// Alert state lives in memory, and RestoreState brings it back after a restart from the
// persisted transition history (transition_log.h), as Prometheus restores `for` state from
// ALERTS_FOR_STATE. Reload() keeps the state of rules whose group name, rule name and labels
// are unchanged (Prometheus' Group.CopyState matches rules that way).
//
// Thread-safety: all methods are safe to call concurrently; evaluation and reads serialise on
// one mutex (an evaluation holds it for its queries, typically milliseconds).
// Cost: one evaluation is one PromQL instant query per rule plus O(alerts) bookkeeping.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alert/notifier.h"
#include "alert/recorded_series.h"
#include "alert/rules.h"
#include "alert/silences.h"
#include "alert/transition_log.h"
#include "common/status.h"
#include "monitor/history/promql.h"
#include "monitor/metrics.h"

namespace shelfwatch::alert {

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState state);  // "inactive" | "pending" | "firing"

struct Alert {
  monitor::LabelSet labels;  // alertname + series labels + rule labels
  std::vector<std::pair<std::string, std::string>> annotations;
  AlertState state = AlertState::kInactive;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;       // 0 unless resolved
  int64_t last_sent_ms = 0;         // 0 until first sent
  int64_t valid_until_ms = 0;
  int64_t keep_firing_since_ms = 0; // 0 unless kept firing by keep_firing_for
  bool silenced = false;            // at the last evaluation
};

// What the API renders about one rule.
struct RuleStatus {
  Rule rule;
  std::string health = "unknown";  // "unknown" until evaluated, then "ok" | "err"
  std::string last_error;
  int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  std::vector<Alert> alerts;  // alerting rules: pending, firing and recently resolved
};

struct GroupStatus {
  std::string name;
  std::string file;
  int64_t interval_ms = 0;
  int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  std::vector<RuleStatus> rules;
};

struct EvaluatorOptions {
  monitor::LabelSet external_labels;  // added to sent alerts (not overriding theirs)
  std::string external_url;           // generatorURL base and webhook externalURL
  int64_t resend_delay_ms = 60'000;   // Prometheus' --rules.alert.resend-delay
  int64_t resolved_retention_ms = 15 * 60 * 1000;  // Prometheus' resolvedRetention
  monitor::QueryOptions query;
  int64_t recorded_retention_ms = 6LL * 3600 * 1000;
};

class RuleEvaluator {
 public:
  // `store`, `registry` and the optional collaborators must outlive the evaluator.
  RuleEvaluator(const monitor::SeriesStore& store, monitor::Registry& registry, EvaluatorOptions options,
                NotificationDispatcher* dispatcher = nullptr, SilenceStore* silences = nullptr,
                TransitionLog* transitions = nullptr);
  ~RuleEvaluator();  // Stop()
  RuleEvaluator(const RuleEvaluator&) = delete;
  RuleEvaluator& operator=(const RuleEvaluator&) = delete;

  // Replaces the rules, keeping the state of unchanged rules (see above); series recorded by
  // rules that are gone are marked stale.
  void Reload(RuleSet rules);

  // After a restart, before the first evaluation: alerts whose newest transition (history
  // newest first) says pending or firing come back in that state with their original activeAt
  // and firing time, so a firing alert keeps firing (no second pending -> firing; it is sent
  // again at the first evaluation, which Alertmanager deduplicates) and `for` keeps counting
  // from when it began. The next
  // evaluation keeps them (sample present) or resolves / drops them as usual. A pending alert
  // older than `pending_tolerance_ms` is not restored: its condition was not watched during
  // the outage (Prometheus' for_outage_tolerance plays the same part). Alerts are matched to
  // rules by group and alert name, and by the values of the rule's literal labels (templated
  // ones must be present).
  // Returns how many alerts were restored.
  size_t RestoreState(const std::vector<Transition>& history_newest_first, int64_t now_ms,
                      int64_t pending_tolerance_ms = 3'600'000);

  // Evaluates every group at t (tests and tools drive time this way).
  void EvaluateAt(int64_t t_ms);
  // Evaluates the groups due at `now_ms` (each group every interval); returns when the next
  // group is due.
  int64_t EvaluateDue(int64_t now_ms);

  // A thread that calls EvaluateDue on the wall clock. Idempotent.
  void Start();
  void Stop();

  // The store rules query: the metric history plus recorded series and ALERTS. Give it to the
  // query API so recording-rule results are visible there too.
  const monitor::SeriesStore& store() const { return layered_; }
  const RecordedSeries& recorded() const { return recorded_; }

  std::vector<GroupStatus> Groups() const;
  // Pending and firing alerts (and kept-firing ones), sorted by labels.
  std::vector<Alert> ActiveAlerts() const;

 private:
  struct RuleState {
    Rule rule;
    std::string health = "unknown";
    std::string last_error;
    int64_t last_evaluation_ms = 0;
    double evaluation_seconds = 0;
    std::map<monitor::LabelSet, Alert> alerts;  // keyed by the alert's labels
  };
  struct GroupState {
    RuleGroup group;  // rules moved into `rules`
    std::vector<RuleState> rules;
    int64_t last_evaluation_ms = 0;
    double evaluation_seconds = 0;
    int64_t next_due_ms = 0;
    monitor::Counter* failures = nullptr;
    monitor::Histogram* duration = nullptr;
  };

  void EvaluateGroup(GroupState& g, int64_t t_ms);
  void EvaluateRecording(GroupState& g, RuleState& r, const monitor::QueryResult& result, int64_t t_ms);
  void EvaluateAlerting(GroupState& g, RuleState& r, const monitor::QueryResult& result, int64_t t_ms);
  void NoteTransition(const GroupState& g, const Alert& a, AlertState from, std::string_view to, int64_t t_ms);
  void SendAlerts(const GroupState& g, RuleState& r, int64_t t_ms);
  void WriteAlertsSeries(const GroupState& g, const RuleState& r, int64_t t_ms);
  void PublishCounts();
  static std::string RuleKey(const std::string& group, const Rule& rule);

  const monitor::SeriesStore& base_;
  monitor::Registry& registry_;
  const EvaluatorOptions options_;
  NotificationDispatcher* dispatcher_;
  SilenceStore* silences_;
  TransitionLog* transitions_;
  RecordedSeries recorded_;
  LayeredSeriesStore layered_;
  monitor::Gauge* pending_gauge_;
  monitor::Gauge* firing_gauge_;

  mutable std::mutex mu_;
  std::vector<GroupState> groups_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace shelfwatch::alert
