// Webhook delivery to a real loopback receiver (the project's HttpServer): payload shape,
// firing then resolved, retry with backoff, and evaluation never waiting on a receiver.
#include "alert/notifier.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "alert/evaluator.h"
#include "common/clock.h"
#include "loopback.h"
#include "metric_value.h"
#include "monitor/history/metric_history.h"

namespace shelfwatch::alert {
namespace {

using testing::MetricValue;
using testing::Receiver;
using testing::WaitFor;

constexpr int64_t kS = 1000;

RuleSet Rules(const std::string& yaml) {
  auto set = ParseRules(yaml, "test.yml");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return set.ok() ? std::move(set).value() : RuleSet{};
}

constexpr const char* kRule = R"(groups:
- name: g
  rules:
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 10
    labels: {severity: page}
    annotations: {summary: "{{ $labels.queue }} holds {{ $value }}"}
)";

NotifierConfig Webhook(const std::string& url) {
  NotifierConfig c;
  c.kind = NotifierConfig::Kind::kWebhook;
  c.name = "hook";
  c.urls = {url};
  c.timeout_ms = 2'000;
  c.initial_backoff_ms = 50;
  c.max_backoff_ms = 400;
  c.max_attempts = 4;
  return c;
}

// A registry's queue gauge fed to a history, and an evaluator that notifies.
struct Rig {
  Rig() : history(app), evaluator(history, own, Options(), &dispatcher) {}
  static EvaluatorOptions Options() {
    EvaluatorOptions o;
    o.external_url = "http://shelfwatch.test:8080";
    o.external_labels = monitor::LabelSet(std::vector<monitor::Label>{{"cluster", "eu-1"}});
    return o;
  }
  void Step(int64_t t) {
    history.SampleNow(t);
    evaluator.EvaluateAt(t);
  }
  monitor::Registry app, own;
  monitor::MetricHistory history;
  monitor::Gauge& depth = app.AddGauge("shelfwatch_test_queue_depth", "Queue depth.", {"queue"}).WithLabels({"orders"});
  NotificationDispatcher dispatcher{own};
  RuleEvaluator evaluator;
};

TEST(NotifierTest, WebhookReceivesFiringThenResolvedInAlertmanagerFormat) {
  Receiver receiver;
  ASSERT_TRUE(receiver.started());
  Rig s;
  ASSERT_TRUE(s.dispatcher.Configure({Webhook(receiver.url())}).ok());
  s.evaluator.Reload(Rules(kRule));
  const int64_t t0 = UnixMillis();
  s.depth.Set(42);
  s.Step(t0);
  ASSERT_TRUE(WaitFor([&] { return receiver.bodies().size() >= 1; }, 5000));

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string first = receiver.bodies()[0];
  ASSERT_EQ(parser.parse(first).get(doc), simdjson::SUCCESS) << first;
  EXPECT_EQ(std::string_view(doc["version"]), "4");
  EXPECT_EQ(std::string_view(doc["receiver"]), "hook");
  EXPECT_EQ(std::string_view(doc["status"]), "firing");
  EXPECT_EQ(std::string_view(doc["groupKey"]), "{}:{alertname=\"QueueDeep\"}");
  EXPECT_EQ(std::string_view(doc["groupLabels"]["alertname"]), "QueueDeep");
  EXPECT_EQ(std::string_view(doc["commonLabels"]["severity"]), "page");
  EXPECT_EQ(std::string_view(doc["commonAnnotations"]["summary"]), "orders holds 42");
  EXPECT_EQ(std::string_view(doc["externalURL"]), "http://shelfwatch.test:8080");
  EXPECT_EQ(int64_t(doc["truncatedAlerts"]), 0);
  simdjson::dom::array alerts = doc["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  simdjson::dom::element a = alerts.at(0);
  EXPECT_EQ(std::string_view(a["status"]), "firing");
  EXPECT_EQ(std::string_view(a["labels"]["alertname"]), "QueueDeep");
  EXPECT_EQ(std::string_view(a["labels"]["queue"]), "orders");
  EXPECT_EQ(std::string_view(a["labels"]["cluster"]), "eu-1");  // external label added
  EXPECT_EQ(std::string_view(a["startsAt"]), FormatRfc3339Millis(t0));
  EXPECT_EQ(std::string_view(a["endsAt"]), "0001-01-01T00:00:00Z");
  EXPECT_EQ(std::string_view(a["generatorURL"]),
            "http://shelfwatch.test:8080/graph?g0.expr=shelfwatch_test_queue_depth+%3E+10&g0.tab=1");
  const monitor::LabelSet sent(std::vector<monitor::Label>{{"alertname", "QueueDeep"}, {"cluster", "eu-1"}, {"queue", "orders"}, {"severity", "page"}});
  EXPECT_EQ(std::string_view(a["fingerprint"]), Fingerprint(sent));

  // Not sent again before resend_delay (1 min) ...
  s.Step(t0 + 15 * kS);
  // ... but resolved at once when the condition clears.
  s.depth.Set(1);
  s.Step(t0 + 30 * kS);
  ASSERT_TRUE(WaitFor([&] { return receiver.bodies().size() >= 2; }, 5000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(receiver.bodies().size(), 2u);
  std::string second = receiver.bodies()[1];
  ASSERT_EQ(parser.parse(second).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["status"]), "resolved");
  EXPECT_EQ(std::string_view(doc["alerts"].at(0)["status"]), "resolved");
  EXPECT_EQ(std::string_view(doc["alerts"].at(0)["endsAt"]), FormatRfc3339Millis(t0 + 30 * kS));
  EXPECT_EQ(MetricValue(s.own, "shelfwatch_alert_notifications_total", {{"notifier", "hook"}, {"result", "success"}}), 2);
}

TEST(NotifierTest, FiringAlertsAreResentEveryResendDelay) {
  Receiver receiver;
  Rig s;
  ASSERT_TRUE(s.dispatcher.Configure({Webhook(receiver.url())}).ok());
  s.evaluator.Reload(Rules(kRule));
  const int64_t t0 = UnixMillis();
  s.depth.Set(42);
  for (int64_t t = 0; t <= 120; t += 15) s.Step(t0 + t * kS);
  // Sent at 0, then at the first evaluation more than 60 s after the last send: 75 and later.
  ASSERT_TRUE(WaitFor([&] { return receiver.bodies().size() >= 2; }, 5000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(receiver.bodies().size(), 2u);
}

TEST(NotifierTest, FailedDeliveriesAreRetriedWithGrowingBackoff) {
  Receiver receiver(/*fail_first=*/3);
  Rig s;
  ASSERT_TRUE(s.dispatcher.Configure({Webhook(receiver.url())}).ok());
  s.evaluator.Reload(Rules(kRule));
  s.depth.Set(42);
  s.Step(UnixMillis());
  ASSERT_TRUE(WaitFor([&] { return receiver.bodies().size() >= 1; }, 5000));
  EXPECT_EQ(receiver.requests(), 4);
  const auto times = receiver.times();
  ASSERT_EQ(times.size(), 4u);
  auto gap = [&](int i) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(times[i + 1] - times[i]).count();
  };
  // Backoff 50, 100, 200 ms: each wait at least its delay, and growing.
  EXPECT_GE(gap(0), 50);
  EXPECT_GE(gap(1), 100);
  EXPECT_GE(gap(2), 200);
  EXPECT_EQ(MetricValue(s.own, "shelfwatch_alert_notifications_total", {{"notifier", "hook"}, {"result", "retry"}}), 3);
  EXPECT_EQ(MetricValue(s.own, "shelfwatch_alert_notifications_total", {{"notifier", "hook"}, {"result", "success"}}), 1);
}

TEST(NotifierTest, GivesUpAfterMaxAttemptsAndCountsTheFailure) {
  Receiver receiver(/*fail_first=*/100);
  Rig s;
  NotifierConfig c = Webhook(receiver.url());
  c.max_attempts = 2;
  c.initial_backoff_ms = 10;
  ASSERT_TRUE(s.dispatcher.Configure({c}).ok());
  s.evaluator.Reload(Rules(kRule));
  s.depth.Set(42);
  s.Step(UnixMillis());
  ASSERT_TRUE(WaitFor([&] {
    return MetricValue(s.own, "shelfwatch_alert_notifications_total", {{"notifier", "hook"}, {"result", "failed"}}) == 1;
  }, 5000));
  EXPECT_EQ(receiver.requests(), 2);
}

TEST(NotifierTest, ADeadReceiverNeverDelaysEvaluationAndAFullQueueDropsTheOldest) {
  Receiver slow(/*fail_first=*/0, /*delay_ms=*/500);
  Rig s;
  NotifierConfig c = Webhook(slow.url());
  c.queue_capacity = 2;
  ASSERT_TRUE(s.dispatcher.Configure({c}).ok());
  s.evaluator.Reload(Rules(kRule));
  const int64_t t0 = UnixMillis();
  const int64_t start = MonotonicNanos();
  // Flapping: every evaluation either fires (sent) or resolves (sent).
  for (int i = 0; i < 8; ++i) {
    s.depth.Set(i % 2 == 0 ? 42 : 1);
    s.Step(t0 + i * 15 * kS);
  }
  const double elapsed_ms = static_cast<double>(MonotonicNanos() - start) / 1e6;
  EXPECT_LT(elapsed_ms, 400) << "evaluation waited on the receiver";
  EXPECT_GE(MetricValue(s.own, "shelfwatch_alert_notifications_total", {{"notifier", "hook"}, {"result", "dropped"}}), 1);
  EXPECT_LE(MetricValue(s.own, "shelfwatch_alert_notification_queue_length", {{"notifier", "hook"}}), 2);
}

TEST(NotifierTest, ConfigureRefusesBadUrlsAndChangesNothing) {
  Receiver receiver;
  monitor::Registry own;
  NotificationDispatcher d(own);
  ASSERT_TRUE(d.Configure({Webhook(receiver.url())}).ok());
  NotifierConfig https = Webhook("https://example.com/hook");
  EXPECT_EQ(d.Configure({https}).code(), ErrorCode::kInvalidArgument);
  NotifierConfig bad_port = Webhook("http://127.0.0.1:99999/");
  EXPECT_FALSE(d.Configure({bad_port}).ok());
  NotifierConfig twice = Webhook(receiver.url());
  EXPECT_FALSE(d.Configure({twice, twice}).ok());
  // The first configuration still delivers.
  OutgoingAlert a;
  a.labels = monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "X"}});
  a.starts_at_ms = UnixMillis();
  a.ends_at_ms = a.starts_at_ms + 60'000;
  d.Send({a}, "", UnixMillis());
  EXPECT_TRUE(WaitFor([&] { return receiver.bodies().size() == 1; }, 5000));
}

TEST(NotifierTest, WebhookTruncatesToMaxAlerts) {
  NotifierConfig c = Webhook("http://127.0.0.1:1/");
  c.max_alerts = 1;
  std::vector<OutgoingAlert> alerts(3);
  for (int i = 0; i < 3; ++i) {
    alerts[i].labels = monitor::LabelSet(std::vector<monitor::Label>{{"alertname", "X"}, {"i", std::to_string(i)}});
    alerts[i].ends_at_ms = 2000;
  }
  const std::string body = RenderWebhookPayload(c, "", alerts, 1000);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  EXPECT_EQ(simdjson::dom::array(doc["alerts"]).size(), 1u);
  EXPECT_EQ(int64_t(doc["truncatedAlerts"]), 2);
  EXPECT_EQ(std::string_view(doc["commonLabels"]["alertname"]), "X");
  EXPECT_EQ(doc["commonLabels"]["i"].error(), simdjson::NO_SUCH_FIELD);
}

}  // namespace
}  // namespace shelfwatch::alert
