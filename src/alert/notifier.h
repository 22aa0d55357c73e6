// Notifiers: deliver alerts that need sending to a webhook (Alertmanager's webhook payload,
// version "4") or to Alertmanager itself (POST /api/v2/alerts), off the evaluation path.
//
// Each destination (a webhook URL, or one Alertmanager URL) has its own bounded queue and its
// own thread, so a slow or dead receiver delays only itself and evaluation never blocks:
// Send() renders the payload and enqueues it; when a queue is full its oldest payload is
// dropped (as Prometheus' notifier does). A failed delivery (connection error, timeout, non-2xx
// answer) is retried with exponential backoff (initial_backoff_ms doubling up to
// max_backoff_ms) up to max_attempts, then given up.
//
// Metrics (registered on the Registry given):
//   shelfwatch_alert_notifications_total{notifier,result}  result: success | retry (a failed
//       attempt that will be retried) | failed (gave up after max_attempts) | dropped (queue full)
//   shelfwatch_alert_notification_queue_length{notifier}
//
// Payloads (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config and
// Alertmanager's OpenAPI v2 postableAlerts):
//   webhook: {"receiver","status","alerts":[{"status","labels","annotations","startsAt",
//     "endsAt","generatorURL","fingerprint"}],"groupLabels","commonLabels","commonAnnotations",
//     "externalURL","version":"4","groupKey","truncatedAlerts"}; one payload per rule and send,
//     grouped by alertname as Alertmanager's default route does.
//   alertmanager: [{"labels","annotations","startsAt","endsAt","generatorURL"}]
//
// Thread-safety: all methods are safe to call concurrently.
// Cost: Send is O(alerts x labels) to render, plus one copy per destination.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "monitor/history/labels.h"
#include "monitor/metrics.h"

namespace shelfwatch::alert {

struct NotifierConfig {
  enum class Kind { kWebhook, kAlertmanager };
  Kind kind = Kind::kWebhook;
  std::string name;               // the "notifier" metric label and the webhook "receiver"
  std::vector<std::string> urls;  // webhook: the URL(s) to POST to; alertmanager: base URLs
  int64_t timeout_ms = 10'000;
  int max_attempts = 5;
  int64_t initial_backoff_ms = 500;
  int64_t max_backoff_ms = 30'000;
  size_t queue_capacity = 1'000;
  size_t max_alerts = 0;  // webhook: alerts per payload, 0 = all (the rest count in truncatedAlerts)

  friend bool operator==(const NotifierConfig&, const NotifierConfig&) = default;
};

// One alert as sent: labels include the external labels; endsAt in the past means resolved.
struct OutgoingAlert {
  monitor::LabelSet labels;
  std::vector<std::pair<std::string, std::string>> annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string generator_url;
};

// Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint:
// FNV-1a 64 over sorted names and values, each followed by 0xff), as 16 hex digits.
std::string Fingerprint(const monitor::LabelSet& labels);

// The payloads, exposed for tests.
std::string RenderWebhookPayload(const NotifierConfig& config, std::string_view external_url,
                                 const std::vector<OutgoingAlert>& alerts, int64_t now_ms);
std::string RenderAlertmanagerPayload(const std::vector<OutgoingAlert>& alerts);

class NotificationDispatcher {
 public:
  explicit NotificationDispatcher(monitor::Registry& registry);
  ~NotificationDispatcher();  // Stop()
  NotificationDispatcher(const NotificationDispatcher&) = delete;
  NotificationDispatcher& operator=(const NotificationDispatcher&) = delete;

  // Replaces the destinations. Destinations whose config is unchanged keep their queue and
  // thread; the others are stopped (their queued payloads are dropped, an in-flight request
  // finishes within its timeout). InvalidArgument for a bad URL, kind, name or limit; then
  // nothing changes.
  Status Configure(std::vector<NotifierConfig> configs);
  // Renders and enqueues `alerts` (of one rule, already filtered: silenced ones left out).
  void Send(const std::vector<OutgoingAlert>& alerts, std::string_view external_url, int64_t now_ms);
  // Stops every destination thread. Idempotent.
  void Stop();
  // Payloads waiting (all destinations), for tests and /metrics.
  size_t queued() const;

 private:
  class Destination;
  monitor::Registry& registry_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Destination>> destinations_;
};

}  // namespace shelfwatch::alert
