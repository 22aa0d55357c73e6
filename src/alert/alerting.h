// Alerting: the alert module assembled for `shelfwatch serve`: the rule evaluator over the
// metric history, the notifiers, silences and the transition history, with one Reload and one
// entry point for the /v1/alerts endpoints.
//
// Wiring (the server):
//   alert::Alerting alerting(history, registry, options);
//   SW_RETURN_IF_ERROR(alerting.Open());                 // state file, if any
//   SW_RETURN_IF_ERROR(alerting.Reload(config));         // rule files + notifiers
//   alerting.Start();                                    // evaluation thread
//   ... route GET/POST/DELETE /v1/alerts* to alerting.Handle(...)
//   ... on SIGHUP: alerting.Reload(config) (a refused config keeps the old one running)
//   alerting.Stop();
// Query API: give alerting.evaluator().store() to the PromQL endpoints so recording rules and
// ALERTS are queryable alongside the history.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alert/api.h"
#include "alert/evaluator.h"
#include "alert/notifier.h"
#include "alert/rules.h"
#include "alert/silences.h"
#include "alert/transition_log.h"

namespace shelfwatch::alert {

struct AlertingConfig {
  std::vector<std::string> rule_files;
  std::vector<NotifierConfig> notifiers;
  RuleLoadOptions load;  // default group interval
};

struct AlertingOptions {
  EvaluatorOptions evaluator;
  size_t history_capacity = 1'000;  // transitions kept in memory (and in the file)
  // SQLite file for the transition history and the silences, so both survive restarts;
  // empty: memory only. Start() restores pending and firing alerts from that history
  // (RuleEvaluator::RestoreState).
  std::string state_path;
};

class Alerting {
 public:
  // `store` (the metric history) and `registry` must outlive this.
  Alerting(const monitor::SeriesStore& store, monitor::Registry& registry, AlertingOptions options);
  ~Alerting();  // Stop()

  // Opens the state file (transition history and silences) when configured.
  Status Open();
  // Loads the rule files and configures the notifiers; on any error (every problem listed)
  // nothing changes and the previous rules keep running.
  Status Reload(const AlertingConfig& config);
  Status Reload(RuleSet rules, std::vector<NotifierConfig> notifiers);

  void Start();
  void Stop();

  // Routes one request under /v1/alerts (see api.h); NotFound / MethodNotAllowed replies for
  // anything else. `query` is the text after '?'.
  ApiReply Handle(std::string_view method, std::string_view path, std::string_view query, std::string_view body,
                  int64_t now_ms);

  RuleEvaluator& evaluator() { return *evaluator_; }
  SilenceStore& silences() { return silences_; }
  TransitionLog& history() { return history_; }
  NotificationDispatcher& dispatcher() { return dispatcher_; }

 private:
  const AlertingOptions options_;
  SilenceStore silences_;
  TransitionLog history_;
  NotificationDispatcher dispatcher_;
  std::unique_ptr<RuleEvaluator> evaluator_;
  bool restored_ = false;  // RestoreState runs on the first Start only
};

}  // namespace shelfwatch::alert
