#include "alert/notifier.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <thread>

#include "alert/http_post.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"

namespace shelfwatch::alert {
namespace {

// Go's zero time.Time, which Alertmanager writes as endsAt of alerts still firing.
constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

void WriteLabels(JsonWriter& w, const monitor::LabelSet& labels) {
  w.BeginObject();
  for (const auto& [k, v] : labels.labels()) w.Key(k).String(v);
  w.EndObject();
}

void WritePairs(JsonWriter& w, const std::vector<std::pair<std::string, std::string>>& pairs) {
  w.BeginObject();
  for (const auto& [k, v] : pairs) w.Key(k).String(v);
  w.EndObject();
}

// Pairs present with equal values in every list (commonLabels / commonAnnotations).
std::vector<std::pair<std::string, std::string>> Common(
    const std::vector<std::vector<std::pair<std::string, std::string>>>& lists) {
  if (lists.empty()) return {};
  std::vector<std::pair<std::string, std::string>> common = lists.front();
  for (size_t i = 1; i < lists.size(); ++i) {
    std::erase_if(common, [&](const auto& kv) {
      return std::find(lists[i].begin(), lists[i].end(), kv) == lists[i].end();
    });
  }
  std::sort(common.begin(), common.end());
  return common;
}

}  // namespace

std::string Fingerprint(const monitor::LabelSet& labels) {
  // FNV-1a 64 (prometheus/common model/fnv.go), labels already sorted by name.
  uint64_t h = 14695981039346656037ULL;
  auto add = [&](std::string_view s) {
    for (const unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  auto add_byte = [&](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : labels.labels()) {
    add(k);
    add_byte(0xff);
    add(v);
    add_byte(0xff);
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string RenderWebhookPayload(const NotifierConfig& config, std::string_view external_url,
                                 const std::vector<OutgoingAlert>& alerts, int64_t now_ms) {
  bool any_firing = false;
  for (const auto& a : alerts) any_firing |= a.ends_at_ms > now_ms;
  const size_t shown = config.max_alerts > 0 ? std::min(config.max_alerts, alerts.size()) : alerts.size();
  std::vector<std::vector<std::pair<std::string, std::string>>> label_lists, annotation_lists;
  for (const auto& a : alerts) {
    label_lists.push_back(a.labels.labels());
    annotation_lists.push_back(a.annotations);
  }
  const std::string alertname = alerts.empty() ? "" : std::string(alerts.front().labels.Get("alertname"));

  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("receiver").String(config.name);
  w.Key("status").String(any_firing ? "firing" : "resolved");
  w.Key("alerts").BeginArray();
  for (size_t i = 0; i < shown; ++i) {
    const OutgoingAlert& a = alerts[i];
    const bool resolved = a.ends_at_ms <= now_ms;
    w.BeginObject();
    w.Key("status").String(resolved ? "resolved" : "firing");
    w.Key("labels");
    WriteLabels(w, a.labels);
    w.Key("annotations");
    WritePairs(w, a.annotations);
    w.Key("startsAt").String(FormatRfc3339Millis(a.starts_at_ms));
    w.Key("endsAt").String(resolved ? FormatRfc3339Millis(a.ends_at_ms) : std::string(kZeroTime));
    w.Key("generatorURL").String(a.generator_url);
    w.Key("fingerprint").String(Fingerprint(a.labels));
    w.EndObject();
  }
  w.EndArray();
  w.Key("groupLabels").BeginObject();
  if (!alertname.empty()) w.Key("alertname").String(alertname);
  w.EndObject();
  w.Key("commonLabels");
  WritePairs(w, Common(label_lists));
  w.Key("commonAnnotations");
  WritePairs(w, Common(annotation_lists));
  w.Key("externalURL").String(external_url);
  w.Key("version").String("4");
  // Alertmanager's group key: the route's matchers ("{}" for the root route) and group labels.
  std::string key = "{}:{";
  if (!alertname.empty()) {
    key += "alertname=";
    AppendJsonString(&key, alertname);
  }
  key += "}";
  w.Key("groupKey").String(key);
  w.Key("truncatedAlerts").Uint(alerts.size() - shown);
  w.EndObject();
  return out;
}

std::string RenderAlertmanagerPayload(const std::vector<OutgoingAlert>& alerts) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const OutgoingAlert& a : alerts) {
    w.BeginObject();
    w.Key("labels");
    WriteLabels(w, a.labels);
    w.Key("annotations");
    WritePairs(w, a.annotations);
    w.Key("startsAt").String(FormatRfc3339Millis(a.starts_at_ms));
    w.Key("endsAt").String(FormatRfc3339Millis(a.ends_at_ms));
    w.Key("generatorURL").String(a.generator_url);
    w.EndObject();
  }
  w.EndArray();
  return out;
}

// One URL of one notifier: a bounded queue of rendered payloads and the thread that posts them.
class NotificationDispatcher::Destination {
 public:
  Destination(const NotifierConfig& config, HttpUrl url, std::string url_text, monitor::Registry& registry)
      : config_(config), url_(std::move(url)), url_text_(std::move(url_text)) {
    auto& total = registry.AddCounter("shelfwatch_alert_notifications_total",
                                      "Alert notification deliveries by notifier and result (success, retry, "
                                      "failed after the last attempt, dropped from a full queue).",
                                      {"notifier", "result"});
    success_ = &total.WithLabels({config.name, "success"});
    retry_ = &total.WithLabels({config.name, "retry"});
    failed_ = &total.WithLabels({config.name, "failed"});
    dropped_ = &total.WithLabels({config.name, "dropped"});
    queue_gauge_ = &registry
                        .AddGauge("shelfwatch_alert_notification_queue_length",
                                  "Alert notification payloads waiting to be delivered.", {"notifier"})
                        .WithLabels({config.name});
    thread_ = std::thread([this] { Run(); });
  }
  ~Destination() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      queue_gauge_->Add(-static_cast<double>(queue_.size()));
      queue_.clear();
    }
    cv_.notify_all();
    thread_.join();
  }

  const NotifierConfig& config() const { return config_; }
  const std::string& url_text() const { return url_text_; }

  void Enqueue(std::string body) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (queue_.size() >= std::max<size_t>(1, config_.queue_capacity)) {
        queue_.pop_front();  // the oldest goes, as in Prometheus' notifier
        dropped_->Inc();
        queue_gauge_->Dec();
      }
      queue_.push_back(std::move(body));
      queue_gauge_->Inc();
    }
    cv_.notify_all();
  }

  size_t queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  void Run() {
    for (;;) {
      std::string body;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        body = std::move(queue_.front());
        queue_.pop_front();
        queue_gauge_->Dec();
      }
      int64_t backoff = std::max<int64_t>(1, config_.initial_backoff_ms);
      for (int attempt = 1;; ++attempt) {
        auto reply = HttpPost(url_, body, config_.timeout_ms);
        if (reply.ok() && reply->status / 100 == 2) {
          success_->Inc();
          break;
        }
        const std::string why = reply.ok() ? "HTTP " + std::to_string(reply->status) + ": " +
                                                 reply->body.substr(0, 200)
                                           : reply.status().message();
        if (attempt >= std::max(1, config_.max_attempts)) {
          failed_->Inc();
          log::Error("alert notification failed", {{"notifier", config_.name}, {"url", url_text_},
                                                   {"attempts", std::to_string(attempt)}, {"err", why}});
          break;
        }
        retry_->Inc();
        log::Warn("alert notification retry", {{"notifier", config_.name}, {"url", url_text_},
                                               {"attempt", std::to_string(attempt)},
                                               {"backoff_ms", std::to_string(backoff)}, {"err", why}});
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stopping_; })) return;
        backoff = std::min(backoff * 2, std::max(config_.max_backoff_ms, config_.initial_backoff_ms));
      }
    }
  }

  const NotifierConfig config_;
  const HttpUrl url_;
  const std::string url_text_;
  monitor::Counter *success_, *retry_, *failed_, *dropped_;
  monitor::Gauge* queue_gauge_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

NotificationDispatcher::NotificationDispatcher(monitor::Registry& registry) : registry_(registry) {}
NotificationDispatcher::~NotificationDispatcher() { Stop(); }

Status NotificationDispatcher::Configure(std::vector<NotifierConfig> configs) {
  // Validate everything first: a bad config changes nothing.
  std::vector<std::pair<NotifierConfig, std::pair<HttpUrl, std::string>>> wanted;
  std::map<std::string, int> names;
  for (NotifierConfig& c : configs) {
    if (c.name.empty() || !monitor::IsValidLabelName(c.name)) {
      return InvalidArgument("notifier name \"" + c.name + "\" must be a label-like name ([a-zA-Z_][a-zA-Z0-9_]*)");
    }
    if (names[c.name]++ > 0) return InvalidArgument("notifier name \"" + c.name + "\" is used twice");
    if (c.urls.empty()) return InvalidArgument("notifier " + c.name + " has no URL");
    if (c.timeout_ms <= 0 || c.max_attempts < 1 || c.initial_backoff_ms <= 0 || c.queue_capacity == 0) {
      return InvalidArgument("notifier " + c.name + ": timeout, attempts, backoff and queue capacity must be positive");
    }
    for (const std::string& u : c.urls) {
      std::string full = u;
      if (c.kind == NotifierConfig::Kind::kAlertmanager) {
        while (!full.empty() && full.back() == '/') full.pop_back();
        full += "/api/v2/alerts";
      }
      auto url = ParseHttpUrl(full);
      if (!url.ok()) return InvalidArgument("notifier " + c.name + ": " + url.status().message());
      wanted.push_back({c, {std::move(url).value(), full}});
    }
  }
  // Replaced destinations are stopped after the lock is released: joining a thread that is
  // inside a request can take its timeout, and Send (evaluation) must not wait for that.
  std::vector<std::unique_ptr<Destination>> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [config, url] : wanted) {
      auto same = std::find_if(destinations_.begin(), destinations_.end(), [&](const auto& d) {
        return d && d->config() == config && d->url_text() == url.second;
      });
      if (same != destinations_.end()) {
        next.push_back(std::move(*same));
      } else {
        next.push_back(std::make_unique<Destination>(config, url.first, url.second, registry_));
      }
    }
    destinations_.swap(next);
  }
  next.clear();
  return Status::Ok();
}

void NotificationDispatcher::Send(const std::vector<OutgoingAlert>& alerts, std::string_view external_url,
                                  int64_t now_ms) {
  if (alerts.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::string webhook_body, am_body;
  const NotifierConfig* rendered_for = nullptr;
  for (const auto& d : destinations_) {
    if (d->config().kind == NotifierConfig::Kind::kAlertmanager) {
      if (am_body.empty()) am_body = RenderAlertmanagerPayload(alerts);
      d->Enqueue(am_body);
    } else {
      if (rendered_for == nullptr || !(*rendered_for == d->config())) {
        webhook_body = RenderWebhookPayload(d->config(), external_url, alerts, now_ms);
        rendered_for = &d->config();
      }
      d->Enqueue(webhook_body);
    }
  }
}

void NotificationDispatcher::Stop() {
  std::vector<std::unique_ptr<Destination>> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(destinations_);
  }
  old.clear();
}

size_t NotificationDispatcher::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& d : destinations_) n += d->queued();
  return n;
}

}  // namespace shelfwatch::alert
