#include "alert/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/clock.h"
#include "common/log.h"

namespace shelfwatch::alert {
namespace {

// Go's url.QueryEscape, for generatorURL links to the expression.
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// The samples of an instant query's result: a vector's series, or a scalar as one sample
// without labels (Prometheus' EngineQueryFunc does the same for rules).
std::vector<std::pair<monitor::LabelSet, double>> SamplesOf(const monitor::QueryResult& result) {
  std::vector<std::pair<monitor::LabelSet, double>> out;
  if (result.type == monitor::ValueType::kScalar) {
    out.emplace_back(monitor::LabelSet(), result.scalar.v);
    return out;
  }
  for (const auto& s : result.series) {
    if (s.samples.empty()) continue;
    out.emplace_back(s.labels ? *s.labels : monitor::LabelSet(), s.samples.back().v);
  }
  return out;
}

// The owner of a rule's ALERTS series in the recorded series.
std::string AlertsOwner(const std::string& rule_key) { return "ALERTS|" + rule_key; }

}  // namespace

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kInactive: return "inactive";
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
  }
  return "inactive";
}

RuleEvaluator::RuleEvaluator(const monitor::SeriesStore& store, monitor::Registry& registry,
                             EvaluatorOptions options, NotificationDispatcher* dispatcher, SilenceStore* silences,
                             TransitionLog* transitions)
    : base_(store),
      registry_(registry),
      options_(std::move(options)),
      dispatcher_(dispatcher),
      silences_(silences),
      transitions_(transitions),
      recorded_(options_.recorded_retention_ms),
      layered_(base_, recorded_) {
  auto& alerts = registry_.AddGauge("shelfwatch_alerts", "Alerts by state (pending or firing).", {"state"});
  pending_gauge_ = &alerts.WithLabels({"pending"});
  firing_gauge_ = &alerts.WithLabels({"firing"});
}

RuleEvaluator::~RuleEvaluator() { Stop(); }

std::string RuleEvaluator::RuleKey(const std::string& group, const Rule& rule) {
  std::string key = group + '\0' + rule.name;
  for (const auto& [k, v] : rule.labels) key += '\0' + k + '=' + v.text();
  return key;
}

void RuleEvaluator::Reload(RuleSet rules) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<GroupState> next;
  std::set<std::string> kept_keys;
  for (RuleGroup& group : rules.groups) {
    GroupState g;
    auto old_group = std::find_if(groups_.begin(), groups_.end(), [&](const GroupState& o) { return o.group.name == group.name; });
    if (old_group != groups_.end()) {
      g.last_evaluation_ms = old_group->last_evaluation_ms;
      g.evaluation_seconds = old_group->evaluation_seconds;
      g.next_due_ms = old_group->group.interval_ms == group.interval_ms ? old_group->next_due_ms : 0;
    }
    for (Rule& rule : group.rules) {
      RuleState r;
      const std::string key = RuleKey(group.name, rule);
      if (old_group != groups_.end()) {
        for (RuleState& o : old_group->rules) {
          if (o.rule.kind == rule.kind && RuleKey(group.name, o.rule) == key && !kept_keys.count(key)) {
            r.alerts = std::move(o.alerts);
            r.health = o.health;
            r.last_error = o.last_error;
            r.last_evaluation_ms = o.last_evaluation_ms;
            r.evaluation_seconds = o.evaluation_seconds;
            kept_keys.insert(key);
            break;
          }
        }
      }
      r.rule = std::move(rule);
      g.rules.push_back(std::move(r));
    }
    group.rules.clear();
    g.group = std::move(group);
    auto& failures = registry_.AddCounter("shelfwatch_rule_evaluation_failures_total",
                                          "Rule evaluations that failed (query errors, duplicate label sets).",
                                          {"group"});
    g.failures = &failures.WithLabels({g.group.name});
    auto& duration = registry_.AddHistogram("shelfwatch_rule_evaluation_duration_seconds",
                                            "Time to evaluate one rule group.", {"group"}, monitor::LatencyBuckets());
    g.duration = &duration.WithLabels({g.group.name});
    next.push_back(std::move(g));
  }
  // Series written by rules that are gone end now (stale), as Prometheus does for removed rules.
  for (const GroupState& old : groups_) {
    for (const RuleState& o : old.rules) {
      const std::string key = RuleKey(old.group.name, o.rule);
      if (kept_keys.count(key)) continue;
      const int64_t t = std::max<int64_t>(old.last_evaluation_ms + 1, 1);
      recorded_.Forget(key, t);
      recorded_.Forget(AlertsOwner(key), t);
    }
  }
  groups_ = std::move(next);
  PublishCounts();
}

void RuleEvaluator::EvaluateAt(int64_t t_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (GroupState& g : groups_) {
    EvaluateGroup(g, t_ms);
    g.next_due_ms = t_ms + g.group.interval_ms;
  }
  PublishCounts();
}

int64_t RuleEvaluator::EvaluateDue(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t next = now_ms + 60'000;
  for (GroupState& g : groups_) {
    if (g.next_due_ms <= now_ms) {
      EvaluateGroup(g, now_ms);
      // Keep the cadence; after a long stall start afresh rather than catching up.
      g.next_due_ms = g.next_due_ms == 0 || g.next_due_ms + g.group.interval_ms <= now_ms
                          ? now_ms + g.group.interval_ms
                          : g.next_due_ms + g.group.interval_ms;
    }
    next = std::min(next, g.next_due_ms);
  }
  PublishCounts();
  return next;
}

void RuleEvaluator::EvaluateGroup(GroupState& g, int64_t t_ms) {
  const int64_t group_start = MonotonicNanos();
  for (RuleState& r : g.rules) {
    const int64_t start = MonotonicNanos();
    r.last_evaluation_ms = t_ms;
    auto result = r.rule.expr ? monitor::EvalInstant(layered_, *r.rule.expr, t_ms, options_.query)
                              : Result<monitor::QueryResult>(InvalidArgument("rule has no parsed expression"));
    if (!result.ok()) {
      // Prometheus keeps the alerts as they were when a query fails.
      r.health = "err";
      r.last_error = result.status().message();
      g.failures->Inc();
      log::Warn("rule evaluation failed", {{"group", g.group.name}, {"rule", r.rule.name}, {"err", r.last_error}});
      r.evaluation_seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
      continue;  // nothing is sent or written for a failed rule (rules/group.go returns early)
    } else if (r.rule.kind == RuleKind::kRecording) {
      EvaluateRecording(g, r, *result, t_ms);
    } else {
      EvaluateAlerting(g, r, *result, t_ms);
    }
    r.evaluation_seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
    if (r.rule.kind == RuleKind::kAlerting && r.health == "ok") {
      SendAlerts(g, r, t_ms);
      WriteAlertsSeries(g, r, t_ms);
    }
  }
  g.last_evaluation_ms = t_ms;
  g.evaluation_seconds = static_cast<double>(MonotonicNanos() - group_start) / 1e9;
  g.duration->Observe(g.evaluation_seconds);
}

void RuleEvaluator::EvaluateRecording(GroupState& g, RuleState& r, const monitor::QueryResult& result, int64_t t_ms) {
  std::vector<std::pair<monitor::LabelSet, double>> out;
  std::set<monitor::LabelSet> seen;
  for (auto& [labels, v] : SamplesOf(result)) {
    monitor::LabelSet l = labels.With(monitor::kMetricNameLabel, r.rule.name);
    for (const auto& [k, tmpl] : r.rule.labels) l = l.With(k, tmpl.text());
    if (!seen.insert(l).second) {
      r.health = "err";
      r.last_error = "vector contains metrics with the same labelset after applying rule labels";
      g.failures->Inc();
      return;
    }
    out.emplace_back(std::move(l), v);
  }
  recorded_.Write(RuleKey(g.group.name, r.rule), t_ms, out);
  r.health = "ok";
  r.last_error.clear();
}

void RuleEvaluator::EvaluateAlerting(GroupState& g, RuleState& r, const monitor::QueryResult& result, int64_t t_ms) {
  const Rule& rule = r.rule;
  // The alerts this result asks for.
  std::map<monitor::LabelSet, Alert> fresh;
  for (auto& [series, v] : SamplesOf(result)) {
    const monitor::LabelSet series_labels = series.WithoutMetricName();
    TemplateData data{&series_labels, v, &options_.external_labels, options_.external_url};
    std::vector<monitor::Label> labels = series_labels.labels();
    for (const auto& [k, tmpl] : rule.labels) {
      std::erase_if(labels, [&](const monitor::Label& l) { return l.first == k; });
      labels.emplace_back(k, tmpl.Expand(data));  // an empty value removes the label
    }
    std::erase_if(labels, [](const monitor::Label& l) { return l.first == "alertname"; });
    labels.emplace_back("alertname", rule.name);
    Alert a;
    a.labels = monitor::LabelSet(std::move(labels));
    for (const auto& [k, tmpl] : rule.annotations) a.annotations.emplace_back(k, tmpl.Expand(data));
    a.state = AlertState::kPending;
    a.value = v;
    a.active_at_ms = t_ms;
    const monitor::LabelSet key = a.labels;
    if (!fresh.emplace(key, std::move(a)).second) {
      r.health = "err";
      r.last_error = "vector contains metrics with the same labelset after applying alert labels";
      g.failures->Inc();
      return;
    }
  }

  std::map<monitor::LabelSet, std::pair<AlertState, double>> before;
  for (const auto& [k, a] : r.alerts) before[k] = {a.state, a.value};

  for (auto& [k, a] : fresh) {
    auto it = r.alerts.find(k);
    if (it != r.alerts.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = std::move(a.annotations);
      continue;
    }
    r.alerts[k] = std::move(a);
  }

  for (auto it = r.alerts.begin(); it != r.alerts.end();) {
    Alert& a = it->second;
    bool erase = false;
    if (!fresh.count(it->first)) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && rule.keep_firing_for_ms > 0) {
        if (a.keep_firing_since_ms == 0) a.keep_firing_since_ms = t_ms;
        keep_firing = t_ms - a.keep_firing_since_ms < rule.keep_firing_for_ms;
      }
      // A resolved alert is kept a while so it is sent as resolved; a pending one just goes.
      if (a.state == AlertState::kPending ||
          (a.resolved_at_ms != 0 && t_ms - a.resolved_at_ms > options_.resolved_retention_ms)) {
        erase = true;
      }
      if (a.state != AlertState::kInactive && !keep_firing) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = t_ms;
      }
      if (!keep_firing) {
        if (erase) {
          it = r.alerts.erase(it);
        } else {
          ++it;
        }
        continue;
      }
    } else {
      a.keep_firing_since_ms = 0;
    }
    if (a.state == AlertState::kPending && t_ms - a.active_at_ms >= rule.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = t_ms;
    }
    ++it;
  }

  // Transitions, one per alert whose state changed in this evaluation.
  std::set<monitor::LabelSet> keys;
  for (const auto& [k, _] : before) keys.insert(k);
  for (const auto& [k, _] : r.alerts) keys.insert(k);
  for (const auto& k : keys) {
    const auto b = before.find(k);
    const AlertState from = b == before.end() ? AlertState::kInactive : b->second.first;
    const auto now = r.alerts.find(k);
    const AlertState to = now == r.alerts.end() ? AlertState::kInactive : now->second.state;
    if (from == to) continue;
    Alert gone;
    const Alert* a = nullptr;
    if (now != r.alerts.end()) {
      a = &now->second;
    } else {
      gone.labels = k;
      gone.value = b != before.end() ? b->second.second : std::nan("");  // the last value seen
      a = &gone;
    }
    const std::string_view to_name =
        from == AlertState::kFiring && to == AlertState::kInactive ? "resolved" : AlertStateName(to);
    NoteTransition(g, *a, from, to_name, t_ms);
  }
  r.health = "ok";
  r.last_error.clear();
}

void RuleEvaluator::NoteTransition(const GroupState& g, const Alert& a, AlertState from, std::string_view to,
                                   int64_t t_ms) {
  log::Info("alert state changed", {{"group", g.group.name},
                                    {"alert", a.labels.ToString()},
                                    {"from", std::string(AlertStateName(from))},
                                    {"to", std::string(to)}});
  if (transitions_ == nullptr) return;
  Transition t;
  t.time_ms = t_ms;
  t.group = g.group.name;
  t.alertname = std::string(a.labels.Get("alertname"));
  t.labels = a.labels;
  t.from = std::string(AlertStateName(from));
  t.to = std::string(to);
  t.value = a.value;
  const Status s = transitions_->Record(t);
  if (!s.ok()) log::Error("alert history write failed", {{"err", s.ToString()}});
}

void RuleEvaluator::SendAlerts(const GroupState& g, RuleState& r, int64_t t_ms) {
  std::vector<OutgoingAlert> out;
  const int64_t delta = std::max(options_.resend_delay_ms, g.group.interval_ms);
  for (auto& [k, a] : r.alerts) {
    a.silenced = silences_ != nullptr && silences_->IsSilenced(a.labels, t_ms);
    if (a.state == AlertState::kPending) continue;
    // rules/alerting.go needsSending: resolved since the last send, or not sent for resend_delay.
    const bool needs = (a.resolved_at_ms != 0 && a.resolved_at_ms > a.last_sent_ms) ||
                       a.last_sent_ms + options_.resend_delay_ms < t_ms;
    if (!needs || a.silenced) continue;
    a.last_sent_ms = t_ms;
    a.valid_until_ms = t_ms + 4 * delta;  // "allow for two Eval or Alertmanager send failures"
    OutgoingAlert o;
    std::vector<monitor::Label> labels = a.labels.labels();
    for (const auto& [ek, ev] : options_.external_labels.labels()) {
      if (a.labels.Get(ek).empty()) labels.emplace_back(ek, ev);
    }
    o.labels = monitor::LabelSet(std::move(labels));
    o.annotations = a.annotations;
    o.starts_at_ms = a.fired_at_ms;
    o.ends_at_ms = a.resolved_at_ms != 0 ? a.resolved_at_ms : a.valid_until_ms;
    o.generator_url = options_.external_url + "/graph?g0.expr=" + QueryEscape(r.rule.expr_text) + "&g0.tab=1";
    out.push_back(std::move(o));
  }
  if (dispatcher_ != nullptr && !out.empty()) dispatcher_->Send(out, options_.external_url, t_ms);
}

void RuleEvaluator::WriteAlertsSeries(const GroupState& g, const RuleState& r, int64_t t_ms) {
  std::vector<std::pair<monitor::LabelSet, double>> series;
  for (const auto& [k, a] : r.alerts) {
    if (a.state == AlertState::kInactive) continue;
    series.emplace_back(
        a.labels.With(monitor::kMetricNameLabel, "ALERTS").With("alertstate", AlertStateName(a.state)), 1.0);
  }
  recorded_.Write(AlertsOwner(RuleKey(g.group.name, r.rule)), t_ms, series);
}

size_t RuleEvaluator::RestoreState(const std::vector<Transition>& history, int64_t now_ms, int64_t pending_tolerance_ms) {
  // Each alert's transitions, newest first.
  std::map<std::pair<std::string, monitor::LabelSet>, std::vector<const Transition*>> by_alert;
  for (const Transition& t : history) by_alert[{t.group, t.labels}].push_back(&t);
  std::lock_guard<std::mutex> lock(mu_);
  size_t restored = 0;
  for (const auto& [key, ts] : by_alert) {
    const Transition& newest = *ts.front();
    Alert a;
    a.labels = key.second;
    a.value = newest.value;
    if (newest.to == "firing") {
      a.state = AlertState::kFiring;
      a.fired_at_ms = newest.time_ms;
      a.active_at_ms = ts.size() > 1 && ts[1]->to == "pending" ? ts[1]->time_ms : newest.time_ms;
    } else if (newest.to == "pending" && now_ms - newest.time_ms <= pending_tolerance_ms) {
      a.state = AlertState::kPending;
      a.active_at_ms = newest.time_ms;
    } else {
      continue;
    }
    for (GroupState& g : groups_) {
      if (g.group.name != key.first) continue;
      auto rule = std::find_if(g.rules.begin(), g.rules.end(), [&](const RuleState& r) {
        if (r.rule.kind != RuleKind::kAlerting || r.rule.name != newest.alertname) return false;
        // Literal labels must match by value (rules that differ only by severity share a
        // name); templated ones can only be checked for presence.
        return std::all_of(r.rule.labels.begin(), r.rule.labels.end(), [&](const auto& label) {
          const std::string_view value = a.labels.Get(label.first);
          return label.second.literal() ? value == label.second.text() : !value.empty();
        });
      });
      if (rule == g.rules.end() || rule->alerts.count(a.labels)) continue;
      rule->alerts.emplace(a.labels, a);
      ++restored;
      break;
    }
  }
  PublishCounts();
  return restored;
}

void RuleEvaluator::PublishCounts() {
  int pending = 0, firing = 0;
  for (const GroupState& g : groups_) {
    for (const RuleState& r : g.rules) {
      for (const auto& [k, a] : r.alerts) {
        pending += a.state == AlertState::kPending;
        firing += a.state == AlertState::kFiring;
      }
    }
  }
  pending_gauge_->Set(pending);
  firing_gauge_->Set(firing);
}

std::vector<GroupStatus> RuleEvaluator::Groups() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<GroupStatus> out;
  for (const GroupState& g : groups_) {
    GroupStatus gs;
    gs.name = g.group.name;
    gs.file = g.group.file;
    gs.interval_ms = g.group.interval_ms;
    gs.last_evaluation_ms = g.last_evaluation_ms;
    gs.evaluation_seconds = g.evaluation_seconds;
    for (const RuleState& r : g.rules) {
      RuleStatus rs;
      rs.rule = r.rule;
      rs.health = r.health;
      rs.last_error = r.last_error;
      rs.last_evaluation_ms = r.last_evaluation_ms;
      rs.evaluation_seconds = r.evaluation_seconds;
      for (const auto& [k, a] : r.alerts) rs.alerts.push_back(a);
      gs.rules.push_back(std::move(rs));
    }
    out.push_back(std::move(gs));
  }
  return out;
}

std::vector<Alert> RuleEvaluator::ActiveAlerts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Alert> out;
  for (const GroupState& g : groups_) {
    for (const RuleState& r : g.rules) {
      for (const auto& [k, a] : r.alerts) {
        if (a.state != AlertState::kInactive) out.push_back(a);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) { return a.labels < b.labels; });
  return out;
}

void RuleEvaluator::Start() {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(run_mu_);
    while (!stopping_) {
      lock.unlock();
      const int64_t now = UnixMillis();
      const int64_t next = EvaluateDue(now);
      lock.lock();
      run_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(10, next - UnixMillis())),
                       [&] { return stopping_; });
    }
  });
}

void RuleEvaluator::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace shelfwatch::alert
