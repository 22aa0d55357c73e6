#include "ecosystem_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <simdjson.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "server/http_server.h"
#include "support/test_server.h"

namespace shelfwatch::ecosystem {

int FreePort() { return testing::FreeLoopbackPort(); }

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ---------------------------------------------------------------- ChildProcess

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) : log_path_(log_path) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    std::vector<std::string> copy = argv;
    std::vector<char*> cargv;
    for (auto& a : copy) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() { Stop(); }

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = SteadyClock::now() + std::chrono::seconds(5);
  int status;
  while (SteadyClock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ChildProcess::Log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  return text.size() > 4096 ? text.substr(text.size() - 4096) : text;
}

// ---------------------------------------------------------------- Fetch

FetchReply Fetch(int port, const std::string& method, const std::string& target, const std::string& body,
                 const std::string& content_type) {
  testing::HttpReply r = testing::Http10(port, method, target, body, content_type, 10);
  return FetchReply{r.status, std::move(r.body)};
}

bool WaitFor200(int port, const std::string& target, std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (Fetch(port, "GET", target).status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// ---------------------------------------------------------------- webhook payload

namespace {

void ReadStringMap(simdjson::dom::element parent, const char* key, std::map<std::string, std::string>* out) {
  simdjson::dom::object obj;
  if (parent[key].get(obj) != simdjson::SUCCESS) return;
  for (auto field : obj) {
    std::string_view value;
    if (field.value.get(value) == simdjson::SUCCESS) (*out)[std::string(field.key)] = std::string(value);
  }
}

std::string ReadString(simdjson::dom::element parent, const char* key) {
  std::string_view value;
  if (parent[key].get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

}  // namespace

std::optional<WebhookPayload> ParseWebhookPayload(const std::string& body, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(body).get(doc); err != simdjson::SUCCESS) {
    *error = std::string("not JSON: ") + simdjson::error_message(err);
    return std::nullopt;
  }
  WebhookPayload p;
  p.version = ReadString(doc, "version");
  p.status = ReadString(doc, "status");
  p.receiver = ReadString(doc, "receiver");
  p.group_key = ReadString(doc, "groupKey");
  ReadStringMap(doc, "groupLabels", &p.group_labels);
  ReadStringMap(doc, "commonLabels", &p.common_labels);
  simdjson::dom::array alerts;
  if (doc["alerts"].get(alerts) != simdjson::SUCCESS) {
    *error = "no alerts array";
    return std::nullopt;
  }
  for (auto a : alerts) {
    WebhookAlert alert;
    alert.status = ReadString(a, "status");
    ReadStringMap(a, "labels", &alert.labels);
    ReadStringMap(a, "annotations", &alert.annotations);
    p.alerts.push_back(std::move(alert));
  }
  return p;
}

// ---------------------------------------------------------------- WebhookReceiver

WebhookReceiver::WebhookReceiver() {
  server::HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  options.drain_timeout_s = 1;
  server_ = std::make_unique<server::HttpServer>(options, [this](const server::HttpRequest& request,
                                                                 server::HttpResponse& response) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      deliveries_.push_back({std::string(request.path), std::string(request.body), SteadyClock::now()});
    }
    cv_.notify_all();
    response.status = 200;
    response.body = "{}";
  });
  if (server_->Start().ok()) {
    port_ = server_->port();
    thread_ = std::thread([this] { server_->Run(); });
  }
}

WebhookReceiver::~WebhookReceiver() {
  if (thread_.joinable()) {
    server_->Shutdown();
    thread_.join();
  }
}

std::optional<WebhookReceiver::Delivery> WebhookReceiver::WaitFor(const std::function<bool(const Delivery&)>& match,
                                                                  std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = SteadyClock::now() + timeout;
  size_t seen = 0;
  while (true) {
    for (; seen < deliveries_.size(); ++seen) {
      if (match(deliveries_[seen])) return deliveries_[seen];
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && seen == deliveries_.size()) return std::nullopt;
  }
}

std::vector<WebhookReceiver::Delivery> WebhookReceiver::All() {
  std::lock_guard<std::mutex> lock(mu_);
  return deliveries_;
}

// ---------------------------------------------------------------- ShopperTraffic

ShopperTraffic::ShopperTraffic(int port, std::string catalog) : port_(port), catalog_(std::move(catalog)) {
  thread_ = std::thread([this] { Run(); });
}

ShopperTraffic::~ShopperTraffic() {
  stop_ = true;
  thread_.join();
}

std::optional<SteadyClock::time_point> ShopperTraffic::FirstFailureAnswered() {
  std::lock_guard<std::mutex> lock(mu_);
  return first_failure_;
}

std::string ShopperTraffic::last_problem() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_problem_;
}

void ShopperTraffic::Run() {
  // Real Home Depot search terms (homedepot/queries.csv) and one that matches nothing, so
  // that the zero-result series exists too.
  const std::vector<std::string> queries = {"cordless drill", "deck stain", "ceiling fan with light", "vinyl flooring",
                                            "garden hose", "toilet seat", "led bulbs", "qzxjvwk plonk"};
  testing::HttpClient* client = nullptr;
  std::unique_ptr<testing::HttpClient> owned;
  auto request = [&](const std::string& method, const std::string& target, const std::string& body,
                     const std::vector<std::string>& headers) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!client || !client->connected()) {
        owned = std::make_unique<testing::HttpClient>(port_);
        client = owned.get();
      }
      testing::HttpReply r = client->Request(method, target, body, headers);
      if (r.status != 0) {
        if (r.headers.count("connection") && r.headers["connection"] == "close") client = nullptr;
        return r;
      }
      client = nullptr;  // the server closed the keep-alive connection: reconnect once
    }
    return testing::HttpReply{};
  };
  auto problem = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    last_problem_ = std::move(what);
  };
  simdjson::dom::parser parser;
  const std::string search_base = "/v1/catalogs/" + catalog_ + "/search?k=10&q=";
  const std::vector<std::string> json = {"Content-Type: application/json"};
  for (uint64_t round = 0; !stop_; ++round) {
    const std::string& q = queries[round % queries.size()];
    testing::HttpReply r = request("GET", search_base + UrlEncode(q), "", {});
    ++searches_;
    if (r.status != 200) problem("search answered " + std::to_string(r.status) + ": " + r.body);
    simdjson::dom::element doc;
    std::string_view request_id;
    std::vector<std::string> ids;
    if (r.status == 200 && parser.parse(r.body).get(doc) == simdjson::SUCCESS &&
        doc["request_id"].get(request_id) == simdjson::SUCCESS) {
      simdjson::dom::array results;
      if (doc["results"].get(results) == simdjson::SUCCESS) {
        for (auto hit : results) {
          std::string_view id;
          if (hit["id"].get(id) == simdjson::SUCCESS) ids.emplace_back(id);
        }
      }
    }
    if (!ids.empty()) {
      // A shopper sees the first three results, clicks one (rank 1 or 2), sometimes puts it in
      // the cart and sometimes buys it.
      std::string user = "shopper-" + std::to_string(round % 7);
      std::string rid(request_id);
      std::string body = "[";
      auto event = [&](const std::string& type, size_t position, const std::string& extra) {
        if (body.size() > 1) body += ",";
        body += R"({"type":")" + type + R"(","request_id":")" + rid + R"(","item_id":")" + ids[position - 1] +
                R"(","user_id":")" + user + R"(","position":)" + std::to_string(position) + extra + "}";
      };
      for (size_t pos = 1; pos <= std::min<size_t>(3, ids.size()); ++pos) event("impression", pos, "");
      size_t clicked = (round % 3 == 0 || ids.size() < 2) ? 1 : 2;
      event("click", clicked, "");
      if (round % 2 == 0) event("add_to_cart", clicked, "");
      if (round % 3 == 0) event("purchase", clicked, R"(,"value":24.95,"currency":"USD")");
      body += "]";
      testing::HttpReply e = request("POST", "/v1/events", body, json);
      if (e.status / 100 == 2) {
        ++event_batches_accepted_;
      } else {
        problem("POST /v1/events answered " + std::to_string(e.status) + ": " + e.body);
      }
    }
    if (round % 5 == 0) {
      // A click on a response this server never served (unattributed), an unknown event type
      // (rejected), and a body that is not JSON (an ingest failure).
      request("POST", "/v1/events",
              R"([{"type":"click","request_id":"never-served-0000","item_id":"100001","user_id":"u1","position":1},)"
              R"({"type":"teleport","request_id":"x","item_id":"1","user_id":"u1"}])",
              json);
      request("POST", "/v1/events", "this is not json", json);
    }
    if (failing_) {
      for (int i = 0; i < 4; ++i) {
        testing::HttpReply f = request("GET", search_base + "drill&_test_status=500", "", {});
        ++searches_;
        if (f.status >= 500) {
          ++failed_searches_;
          std::lock_guard<std::mutex> lock(mu_);
          if (!first_failure_) first_failure_ = SteadyClock::now();
        } else {
          problem("search with _test_status=500 answered " + std::to_string(f.status));
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

// ---------------------------------------------------------------- configuration rewrites

namespace {

bool Mentions(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

std::string ScalarOr(const YAML::Node& node, const std::string& fallback) {
  return node && node.IsScalar() ? node.as<std::string>() : fallback;
}

// Every rule of a Prometheus rule file (groups[].rules[]).
std::vector<YAML::Node> AllRules(const YAML::Node& file) {
  std::vector<YAML::Node> rules;
  if (!file["groups"]) return rules;
  for (const auto& group : file["groups"]) {
    if (!group["rules"]) continue;
    for (const auto& rule : group["rules"]) rules.push_back(rule);
  }
  return rules;
}

// The first alert whose expression (or a recording rule it uses) satisfies `about`.
std::optional<AlertRule> FindAlert(const std::string& rules_path, const std::function<bool(const std::string&)>& about,
                                   std::string* error) {
  try {
    YAML::Node file = YAML::LoadFile(rules_path);
    std::vector<YAML::Node> rules = AllRules(file);
    std::set<std::string> records;
    for (const auto& r : rules) {
      if (r["record"] && about(ScalarOr(r["expr"], ""))) records.insert(r["record"].as<std::string>());
    }
    std::optional<AlertRule> found;
    for (const auto& r : rules) {
      if (!r["alert"]) continue;
      std::string expr = ScalarOr(r["expr"], "");
      bool match = about(expr);
      for (const auto& rec : records) match = match || Mentions(expr, rec);
      if (!match) continue;
      AlertRule rule{r["alert"].as<std::string>(), ScalarOr(r["labels"]["severity"], ""), ScalarOr(r["for"], "")};
      if (!found || (found->severity != "page" && rule.severity == "page")) found = rule;
    }
    if (!found) *error = "no matching alerting rule in " + rules_path;
    return found;
  } catch (const std::exception& e) {
    *error = rules_path + ": " + e.what();
    return std::nullopt;
  }
}

bool WriteYaml(const YAML::Node& node, const std::string& out_path, std::string* error) {
  YAML::Emitter out;
  out << node;
  if (!out.good()) {
    *error = "cannot emit YAML: " + out.GetLastError();
    return false;
  }
  std::ofstream f(out_path);
  f << out.c_str() << "\n";
  if (!f) {
    *error = "cannot write " + out_path;
    return false;
  }
  return true;
}

}  // namespace

std::optional<AlertRule> FindErrorRatioAlert(const std::string& rules_path, std::string* error) {
  return FindAlert(
      rules_path,
      [](const std::string& expr) {
        return Mentions(expr, "shelfwatch_http_requests_total") && Mentions(expr, "code=~\"5");
      },
      error);
}

std::optional<std::vector<AlertRule>> ListAlerts(const std::string& rules_path, std::string* error) {
  try {
    std::vector<AlertRule> alerts;
    for (const auto& r : AllRules(YAML::LoadFile(rules_path))) {
      if (r["alert"]) {
        alerts.push_back({r["alert"].as<std::string>(), ScalarOr(r["labels"]["severity"], ""), ScalarOr(r["for"], "")});
      }
    }
    return alerts;
  } catch (const std::exception& e) {
    *error = rules_path + ": " + e.what();
    return std::nullopt;
  }
}

bool WriteShortenedRules(const std::string& rules_path, const std::string& alert, const std::string& for_duration,
                         const std::string& out_path, std::string* error) {
  try {
    YAML::Node file = YAML::LoadFile(rules_path);
    for (auto group : file["groups"]) {
      if (group["interval"]) group["interval"] = "1s";
    }
    bool changed = false;
    for (auto rule : AllRules(file)) {
      if (rule["alert"] && rule["alert"].as<std::string>() == alert) {
        rule["for"] = for_duration;
        changed = true;
      }
    }
    if (!changed) {
      *error = "alert " + alert + " not found in " + rules_path;
      return false;
    }
    return WriteYaml(file, out_path, error);
  } catch (const std::exception& e) {
    *error = rules_path + ": " + e.what();
    return false;
  }
}

bool WriteTestPrometheusConfig(const std::string& shipped, int shelfwatch_port, int alertmanager_port,
                               const std::string& rules_glob, const std::string& out_path,
                               std::map<std::string, std::string>* external_labels, std::string* error) {
  try {
    YAML::Node cfg = YAML::LoadFile(shipped);
    YAML::Node global = cfg["global"];
    global["scrape_interval"] = "1s";
    global["evaluation_interval"] = "1s";
    global["scrape_timeout"] = "1s";
    if (global["external_labels"]) {
      for (const auto& kv : global["external_labels"]) {
        (*external_labels)[kv.first.as<std::string>()] = kv.second.as<std::string>();
      }
    }
    YAML::Node rule_files(YAML::NodeType::Sequence);
    rule_files.push_back(rules_glob);
    cfg["rule_files"] = rule_files;

    YAML::Node ams = cfg["alerting"]["alertmanagers"];
    if (!ams || !ams.IsSequence() || ams.size() == 0) {
      *error = shipped + ": no alerting.alertmanagers";
      return false;
    }
    YAML::Node am_targets(YAML::NodeType::Sequence);
    am_targets.push_back("127.0.0.1:" + std::to_string(alertmanager_port));
    YAML::Node am_static(YAML::NodeType::Sequence);
    YAML::Node am_group;
    am_group["targets"] = am_targets;
    am_static.push_back(am_group);
    YAML::Node am = ams[0];
    am["static_configs"] = am_static;
    YAML::Node only_am(YAML::NodeType::Sequence);
    only_am.push_back(am);
    cfg["alerting"]["alertmanagers"] = only_am;

    YAML::Node jobs(YAML::NodeType::Sequence);
    for (auto job : cfg["scrape_configs"]) {
      if (ScalarOr(job["job_name"], "") != "shelfwatch") continue;
      if (job["scrape_timeout"]) job["scrape_timeout"] = "1s";
      if (job["scrape_interval"]) job["scrape_interval"] = "1s";
      YAML::Node group;
      YAML::Node targets(YAML::NodeType::Sequence);
      targets.push_back("127.0.0.1:" + std::to_string(shelfwatch_port));
      group["targets"] = targets;
      if (job["static_configs"] && job["static_configs"][0]["labels"]) group["labels"] = job["static_configs"][0]["labels"];
      YAML::Node groups(YAML::NodeType::Sequence);
      groups.push_back(group);
      job["static_configs"] = groups;
      jobs.push_back(job);
    }
    if (jobs.size() != 1) {
      *error = shipped + ": expected one scrape job named shelfwatch";
      return false;
    }
    cfg["scrape_configs"] = jobs;
    return WriteYaml(cfg, out_path, error);
  } catch (const std::exception& e) {
    *error = shipped + ": " + e.what();
    return false;
  }
}

namespace {

void ShortenRoute(YAML::Node route, bool root) {
  if (root || route["group_wait"]) route["group_wait"] = "0s";
  if (root || route["group_interval"]) route["group_interval"] = "1s";
  if (root || route["repeat_interval"]) route["repeat_interval"] = "1m";
  if (route["routes"]) {
    for (auto child : route["routes"]) ShortenRoute(child, false);
  }
}

}  // namespace

bool WriteTestAlertmanagerConfig(const std::string& shipped, int webhook_port, const std::string& out_path,
                                 std::string* error) {
  try {
    YAML::Node cfg = YAML::LoadFile(shipped);
    if (!cfg["route"]) {
      *error = shipped + ": no route";
      return false;
    }
    ShortenRoute(cfg["route"], true);
    int hooks = 0;
    for (auto receiver : cfg["receivers"]) {
      std::string name = receiver["name"].as<std::string>();
      if (!receiver["webhook_configs"]) continue;
      for (auto hook : receiver["webhook_configs"]) {
        hook["url"] = "http://127.0.0.1:" + std::to_string(webhook_port) + "/hook/" + name;
        ++hooks;
      }
    }
    if (hooks == 0) {
      *error = shipped + ": no webhook receiver";
      return false;
    }
    return WriteYaml(cfg, out_path, error);
  } catch (const std::exception& e) {
    *error = shipped + ": " + e.what();
    return false;
  }
}

}  // namespace shelfwatch::ecosystem
