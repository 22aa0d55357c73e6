// What the ecosystem test needs to run the shipped deploy/ files against the real servers:
// child processes (Prometheus, Alertmanager), an HTTP/1.0 fetch read to EOF, a loopback
// webhook receiver, shopper traffic against shelfwatch, and the rewrites that turn the shipped
// configuration into a fast test configuration.
// Thread-safety: WebhookReceiver and ShopperTraffic are safe to use from the test thread while
// their own threads run; everything else is single-threaded. Cost: test code, not measured.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace shelfwatch::server {
class HttpServer;
}

namespace shelfwatch::ecosystem {

using SteadyClock = std::chrono::steady_clock;

// A loopback port that was free a moment ago (bind to port 0, read it, close).
int FreePort();

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(const std::string& text);

// A server started by the test; SIGTERM then SIGKILL when destroyed.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool Running();
  void Stop();
  std::string Log() const;  // the last 4 KB of its stdout+stderr

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

struct FetchReply {
  int status = 0;  // 0: no answer
  std::string body;
};
// One HTTP/1.0 request on a fresh connection to 127.0.0.1:port; reads the answer to EOF.
FetchReply Fetch(int port, const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& content_type = "");
// Polls GET target until it answers 200 or the deadline passes.
bool WaitFor200(int port, const std::string& target, std::chrono::milliseconds timeout);

// The parts of an Alertmanager webhook payload (version 4) the test checks.
// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
struct WebhookAlert {
  std::string status;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};
struct WebhookPayload {
  std::string version;
  std::string status;
  std::string receiver;
  std::string group_key;
  std::map<std::string, std::string> group_labels;
  std::map<std::string, std::string> common_labels;
  std::vector<WebhookAlert> alerts;
};
std::optional<WebhookPayload> ParseWebhookPayload(const std::string& body, std::string* error);

// A loopback HTTP server that records every POST it receives.
class WebhookReceiver {
 public:
  struct Delivery {
    std::string path;
    std::string body;
    SteadyClock::time_point at;
  };
  WebhookReceiver();
  ~WebhookReceiver();
  int port() const { return port_; }
  // Waits until a delivery satisfies `match`; returns the first one that does.
  std::optional<Delivery> WaitFor(const std::function<bool(const Delivery&)>& match, std::chrono::milliseconds timeout);
  std::vector<Delivery> All();

 private:
  std::unique_ptr<server::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
};

// Shoppers against one shelfwatch catalog, on a thread of its own: searches, then feedback
// events on the returned items (impressions, clicks, add-to-cart, purchases), plus a few bad
// events (unattributed, rejected, unparseable) so that every ingest series exists. While
// `failing` is set, each round also sends searches with the test hook _test_status=500.
class ShopperTraffic {
 public:
  ShopperTraffic(int port, std::string catalog);
  ~ShopperTraffic();
  void SetFailing(bool failing) { failing_ = failing; }
  // First time a failing search was answered 5xx (empty until then).
  std::optional<SteadyClock::time_point> FirstFailureAnswered();
  uint64_t searches() const { return searches_; }
  uint64_t failed_searches() const { return failed_searches_; }
  uint64_t event_batches_accepted() const { return event_batches_accepted_; }
  std::string last_problem();

 private:
  void Run();
  int port_;
  std::string catalog_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failing_{false};
  std::atomic<uint64_t> searches_{0}, failed_searches_{0}, event_batches_accepted_{0};
  std::mutex mu_;
  std::optional<SteadyClock::time_point> first_failure_;
  std::string last_problem_;
  std::thread thread_;
};

// --- configuration rewrites (yaml-cpp stays inside these functions) ---

// The alerting rule the end-to-end test induces: the shipped alert on the ratio of 5xx
// answers (directly on shelfwatch_http_requests_total{code=~"5.."} or through a recording
// rule over it). A severity="page" one is preferred when several match.
struct AlertRule {
  std::string name;
  std::string severity;
  std::string for_duration;  // as shipped ("" when none)
};
std::optional<AlertRule> FindErrorRatioAlert(const std::string& rules_path, std::string* error);
// Every alerting rule of the file, in file order; nullopt (and `error`) when unreadable.
std::optional<std::vector<AlertRule>> ListAlerts(const std::string& rules_path, std::string* error);

// Writes a copy of the rule file with `for:` of `alert` set to `for_duration` and every
// group's evaluation `interval:` set to 1s (the shipped groups evaluate every 30s-1m); every
// expression and every other rule is kept as shipped.
bool WriteShortenedRules(const std::string& rules_path, const std::string& alert, const std::string& for_duration,
                         const std::string& out_path, std::string* error);

// The shipped prometheus.yml, made fast and local: scrape and evaluation intervals 1s, the
// shelfwatch job scraping only 127.0.0.1:shelfwatch_port (other jobs dropped), rule_files =
// `rules_glob`, alerts sent to 127.0.0.1:alertmanager_port. Returns the external labels.
bool WriteTestPrometheusConfig(const std::string& shipped, int shelfwatch_port, int alertmanager_port,
                               const std::string& rules_glob, const std::string& out_path,
                               std::map<std::string, std::string>* external_labels, std::string* error);

// The shipped alertmanager.yml with every route's group_wait 0s, group_interval 1s,
// repeat_interval 1m, and every webhook URL pointing at
// http://127.0.0.1:webhook_port/hook/<receiver name>. Routes, matchers and inhibit rules are kept.
bool WriteTestAlertmanagerConfig(const std::string& shipped, int webhook_port, const std::string& out_path,
                                 std::string* error);

}  // namespace shelfwatch::ecosystem
