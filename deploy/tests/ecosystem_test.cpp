// The shipped deploy/ files against the real servers, end to end on loopback:
//   shelfwatch -> Prometheus (deploy/prometheus/prometheus.yml + rules/shelfwatch.yml)
//              -> Alertmanager (deploy/alertmanager/alertmanager.yml) -> a webhook in this test;
//   every query of deploy/grafana/shelfwatch.json executed against that Prometheus;
//   shelfwatch's own rule evaluator -> webhook, with the same rule file.
//
// What the test changes in the shipped files, and why (everything else runs as shipped):
//   prometheus.yml    scrape/evaluation interval 1s (15s shipped), the shelfwatch job scrapes
//                     only the test server, other jobs dropped, alerts go to the test
//                     Alertmanager, rule_files point at the shortened copy below;
//   shelfwatch.yml    the `for:` of the one alert under test (the 5xx error-ratio alert) is
//                     rewritten to 1s and every group's `interval:` to 1s, so the alert fires
//                     within seconds instead of minutes; every expression is untouched;
//   alertmanager.yml  group_wait 0s, group_interval 1s, repeat_interval 1m on every route,
//                     webhook URLs -> http://127.0.0.1:<test port>/hook/<receiver name>.
// The detection delay (first 5xx answered -> webhook received) is printed and written to
// <build>/deploy/ecosystem_alert_delay_*.txt.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "ecosystem_support.h"
#include "support/test_server.h"

namespace shelfwatch::ecosystem {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";
constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kAmtool = "/usr/bin/amtool";

std::string Deploy(const std::string& relative) { return std::string(SHELFWATCH_SOURCE_DIR) + "/deploy/" + relative; }
// The shipped rule file; ECOSYSTEM_RULES_FILE runs the same checks against a candidate one.
std::string RulesFile() {
  const char* candidate = std::getenv("ECOSYSTEM_RULES_FILE");
  return candidate && *candidate ? candidate : Deploy("prometheus/rules/shelfwatch.yml");
}
bool Executable(const char* path) { return ::access(path, X_OK) == 0; }

// A JSON string or bool member, or "" / false when absent or of another type.
std::string JsonText(simdjson::simdjson_result<simdjson::dom::element> e) {
  std::string_view s;
  return e.get(s) == simdjson::SUCCESS ? std::string(s) : std::string();
}
bool JsonBool(simdjson::simdjson_result<simdjson::dom::element> e) {
  bool b = false;
  return e.get(b) == simdjson::SUCCESS && b;
}

std::vector<std::string> ServeArgs(const std::string& data_dir) {
  return {"--catalog", "homedepot=" + testing::DataPath("homedepot/products.csv"), "--enable-test-hooks", "--data-dir",
          data_dir, "--threads", "2"};
}

// Drift monitoring against the TRAIN queries, evaluated every second over a short window, so
// that the drift and data-quality series exist within the test (the test's few repeated
// queries do drift from the real query mix, which is what the panels should show).
std::vector<std::string> DriftArgs() {
  return {"--drift-reference", "homedepot=" + testing::DataPath("homedepot/queries.csv") + ",split=train",
          "--drift-interval", "1s", "--drift-bucket", "1s", "--drift-window", "30s"};
}

void RecordDelay(const std::string& file, const std::string& line) {
  std::ofstream f(std::string(ECOSYSTEM_RESULTS_DIR) + "/" + file);
  f << line << "\n";
  std::printf("%s\n", line.c_str());
}

// True when the webhook delivery carries `alert` firing.
bool Fires(const WebhookReceiver::Delivery& d, const std::string& alert) {
  std::string error;
  auto payload = ParseWebhookPayload(d.body, &error);
  if (!payload) return false;
  for (const auto& a : payload->alerts) {
    auto it = a.labels.find("alertname");
    if (it != a.labels.end() && it->second == alert && a.status == "firing") return true;
  }
  return false;
}

// What an induced incident produced: the webhook delivery that carried the alert, and the
// detection delay from the first 5xx answered to that delivery.
struct Detection {
  WebhookReceiver::Delivery delivery;
  double delay_s = 0;
};

// The incident: searches start failing with 500 (test hook). Waits up to `timeout` for
// `alert` to arrive firing at the webhook; gives up after 5 s when the failing searches do not
// fail (a server without the _test_status hook), since then nothing can fire. On failure,
// `problem` says what was seen.
std::optional<Detection> InduceErrorBurst(WebhookReceiver& webhook, ShopperTraffic& shoppers, const std::string& alert,
                                          seconds timeout, std::string* problem) {
  shoppers.SetFailing(true);
  auto start = SteadyClock::now();
  std::optional<WebhookReceiver::Delivery> delivery;
  while (!delivery && SteadyClock::now() - start < timeout) {
    delivery = webhook.WaitFor([&](const auto& d) { return Fires(d, alert); }, milliseconds(250));
    if (!shoppers.FirstFailureAnswered() && SteadyClock::now() - start > seconds(5)) break;
  }
  auto first_failure = shoppers.FirstFailureAnswered();
  std::ostringstream what;
  if (!first_failure) {
    what << "no search answered 5xx with _test_status=500 (" << shoppers.searches() << " searches): "
         << shoppers.last_problem();
  } else if (!delivery) {
    what << alert << " did not reach the webhook within " << timeout.count() << " s after "
         << shoppers.failed_searches() << " failed searches; " << webhook.All().size() << " other deliveries";
  } else {
    return Detection{*delivery, std::chrono::duration<double>(delivery->at - *first_failure).count()};
  }
  *problem = what.str();
  return std::nullopt;
}

// Whether a --help text lists `flag` (as a whole word: "--rules" is not "--rules-dir").
bool ListsFlag(const std::string& help, const std::string& flag) {
  for (size_t pos = help.find(flag); pos != std::string::npos; pos = help.find(flag, pos + 1)) {
    size_t end = pos + flag.size();
    if (end == help.size() || !(std::isalnum(static_cast<unsigned char>(help[end])) || help[end] == '-')) return true;
  }
  return false;
}

// The receiver the shipped route tree picks for a label set, as Alertmanager's own tool says.
std::string RoutedReceiver(const std::vector<std::string>& labels) {
  std::vector<std::string> argv = {kAmtool, "config", "routes", "test", "--config.file=" + Deploy("alertmanager/alertmanager.yml")};
  argv.insert(argv.end(), labels.begin(), labels.end());
  std::string out;
  testing::RunCommand(argv, &out);
  out.erase(std::remove(out.begin(), out.end(), '\n'), out.end());
  return out;
}

// ------------------------------------------------------------------ static checks

TEST(EcosystemFiles, PromtoolAcceptsShippedPrometheusConfigAndRules) {
  if (!Executable(kPromtool)) GTEST_SKIP() << kPromtool << " is not installed (apt install prometheus)";
  std::string out;
  // `check config` also loads every file that rule_files names (rules/*.yml).
  int rc = testing::RunCommand({kPromtool, "check", "config", Deploy("prometheus/prometheus.yml")}, &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

TEST(EcosystemFiles, AlertmanagerRoutesCriticalToPagerAndTheRestToTickets) {
  if (!Executable(kAmtool)) GTEST_SKIP() << kAmtool << " is not installed (apt install prometheus-alertmanager)";
  std::string out;
  EXPECT_EQ(testing::RunCommand({kAmtool, "check-config", Deploy("alertmanager/alertmanager.yml")}, &out), 0) << out;
  std::string page = RoutedReceiver({"severity=critical", "alertname=X"});
  std::string ticket = RoutedReceiver({"severity=warning", "alertname=X"});
  EXPECT_FALSE(page.empty());
  EXPECT_NE(page, ticket) << "critical alerts and warnings must reach different receivers";
  EXPECT_EQ(RoutedReceiver({"severity=info", "alertname=X"}), ticket);
  // An alert without a severity is never dropped: it becomes a ticket.
  EXPECT_EQ(RoutedReceiver({"alertname=Unlabelled"}), ticket);
  // Every shipped alert has a severity the route tree knows.
  std::string error;
  auto alerts = ListAlerts(RulesFile(), &error);
  ASSERT_TRUE(alerts) << error;
  ASSERT_FALSE(alerts->empty());
  for (const auto& a : *alerts) {
    EXPECT_TRUE(a.severity == "critical" || a.severity == "warning" || a.severity == "info")
        << a.name << " has severity '" << a.severity << "', which no route of alertmanager.yml names";
  }
}

// The inhibit rules name alerts of the shipped rule file; checked on the real Alertmanager
// with alerts posted to its API as Prometheus would post them: the symptom of the same
// instance/route is suppressed, the same alert elsewhere stays active.
TEST(EcosystemFiles, InhibitRulesSilenceSymptomsOfTheSameInstanceOrRoute) {
  if (!Executable(kAlertmanager)) GTEST_SKIP() << kAlertmanager << " is not installed (apt install prometheus-alertmanager)";
  std::string error;
  auto alerts = ListAlerts(RulesFile(), &error);
  ASSERT_TRUE(alerts) << error;
  std::map<std::string, std::string> severity;
  for (const auto& a : *alerts) severity[a.name] = a.severity;
  for (const char* name : {"ShelfwatchNotReady", "ShelfwatchCatalogNotReady", "ShelfwatchHighErrorRatio",
                           "ShelfwatchHighLatencyP99"}) {
    ASSERT_TRUE(severity.count(name)) << "alertmanager.yml inhibits on " << name << ", which the rules no longer define";
  }

  std::string dir = testing::MakeTempDir("ecosystem-inhibit");
  ASSERT_TRUE(WriteTestAlertmanagerConfig(Deploy("alertmanager/alertmanager.yml"), FreePort(), dir + "/am.yml", &error))
      << error;
  int am_port = FreePort();
  ChildProcess am({kAlertmanager, "--config.file=" + dir + "/am.yml", "--storage.path=" + dir + "/am",
                   "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address=",
                   "--log.level=warn"},
                  dir + "/am.log");
  ASSERT_TRUE(WaitFor200(am_port, "/-/ready", seconds(20))) << am.Log();

  // Labels as Prometheus sends them: per-instance alerts carry instance/job, the aggregated
  // HTTP alerts only route.
  auto alert = [&](const std::string& name, const std::string& labels) {
    return R"({"labels":{"alertname":")" + name + R"(","severity":")" + severity[name] + R"(",)" + labels + "}}";
  };
  const std::string search = R"("route":"/v1/catalogs/{catalog}/search")";
  const std::string product = R"("route":"/v1/catalogs/{catalog}/products/{id}")";
  std::string body = "[" + alert("ShelfwatchNotReady", R"("instance":"replica-a:8080","job":"shelfwatch")") + "," +
                     alert("ShelfwatchCatalogNotReady", R"("instance":"replica-a:8080","job":"shelfwatch","catalog":"homedepot")") + "," +
                     alert("ShelfwatchCatalogNotReady", R"("instance":"replica-b:8080","job":"shelfwatch","catalog":"homedepot")") + "," +
                     alert("ShelfwatchHighErrorRatio", search) + "," + alert("ShelfwatchHighLatencyP99", search) + "," +
                     alert("ShelfwatchHighLatencyP99", product) + "]";
  FetchReply posted = Fetch(am_port, "POST", "/api/v2/alerts", body, "application/json");
  ASSERT_EQ(posted.status, 200) << posted.body;

  FetchReply listed = Fetch(am_port, "GET", "/api/v2/alerts");
  ASSERT_EQ(listed.status, 200) << listed.body;
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  ASSERT_EQ(parser.parse(listed.body).get(list), simdjson::SUCCESS) << listed.body;
  std::map<std::string, std::string> state;  // "alertname@instance-or-route" -> active | suppressed
  for (auto a : list) {
    std::string where = JsonText(a["labels"]["instance"]) + JsonText(a["labels"]["route"]);
    state[JsonText(a["labels"]["alertname"]) + "@" + where] = JsonText(a["status"]["state"]);
  }
  EXPECT_EQ(state["ShelfwatchCatalogNotReady@replica-a:8080"], "suppressed") << listed.body;
  EXPECT_EQ(state["ShelfwatchCatalogNotReady@replica-b:8080"], "active") << listed.body;
  EXPECT_EQ(state["ShelfwatchNotReady@replica-a:8080"], "active") << listed.body;
  EXPECT_EQ(state["ShelfwatchHighLatencyP99@/v1/catalogs/{catalog}/search"], "suppressed") << listed.body;
  EXPECT_EQ(state["ShelfwatchHighLatencyP99@/v1/catalogs/{catalog}/products/{id}"], "active") << listed.body;
  EXPECT_EQ(state["ShelfwatchHighErrorRatio@/v1/catalogs/{catalog}/search"], "active") << listed.body;
  fs::remove_all(dir);
}

// ------------------------------------------------------------------ Grafana dashboard

struct DashboardTarget {
  std::string panel;
  std::string expr;
};

struct Variable {
  std::string name;
  std::string type;        // datasource | query | custom
  std::string definition;  // label_values(...) for query variables
  std::string current;     // custom variables
  bool regex_format = false;  // multi or includeAll: Grafana formats values as a regex
};

void CollectTargets(simdjson::dom::array panels, std::vector<DashboardTarget>* out, std::vector<std::string>* problems) {
  for (auto panel : panels) {
    std::string type = JsonText(panel["type"]);
    std::string title = JsonText(panel["title"]);
    simdjson::dom::array nested;
    if (type == "row") {
      if (panel["panels"].get(nested) == simdjson::SUCCESS) CollectTargets(nested, out, problems);
      continue;
    }
    std::string_view ds_uid;
    if (panel["datasource"]["uid"].get(ds_uid) != simdjson::SUCCESS || ds_uid != "${DS_PROMETHEUS}") {
      problems->push_back("panel '" + std::string(title) + "' does not use the ${DS_PROMETHEUS} data source");
    }
    simdjson::dom::array targets;
    if (panel["targets"].get(targets) != simdjson::SUCCESS || targets.size() == 0) {
      problems->push_back("panel '" + std::string(title) + "' has no query");
      continue;
    }
    for (auto t : targets) {
      std::string_view expr, uid;
      if (t["expr"].get(expr) != simdjson::SUCCESS || expr.empty()) {
        problems->push_back("panel '" + std::string(title) + "' has a target without expr");
        continue;
      }
      if (t["datasource"]["uid"].get(uid) != simdjson::SUCCESS || uid != "${DS_PROMETHEUS}") {
        problems->push_back("a target of panel '" + std::string(title) + "' does not use ${DS_PROMETHEUS}");
      }
      out->push_back({std::string(title), std::string(expr)});
    }
  }
}

// Grafana's Prometheus data source escapes regex metacharacters of multi-value variables
// with two backslashes (one for the PromQL string, one for RE2) and joins values as (a|b).
std::string GrafanaRegexValue(const std::vector<std::string>& values) {
  std::vector<std::string> escaped;
  for (const auto& v : values) {
    std::string e;
    for (char c : v) {
      if (c == '\\') {
        e += "\\\\\\\\";
      } else if (std::string_view("$^*{}[]'+?.()|").find(c) != std::string_view::npos) {
        e += "\\\\";
        e += c;
      } else {
        e += c;
      }
    }
    escaped.push_back(e);
  }
  if (escaped.size() == 1) return escaped[0];
  std::string joined = "(";
  for (size_t i = 0; i < escaped.size(); ++i) joined += (i ? "|" : "") + escaped[i];
  return joined + ")";
}

std::string Substitute(std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [name, value] : values) {
    for (const std::string& token : {"${" + name + "}", "$" + name}) {
      for (size_t pos; (pos = text.find(token)) != std::string::npos;) text.replace(pos, token.size(), value);
    }
  }
  return text;
}

struct QueryResult {
  bool ok = false;
  size_t series = 0;
  std::string error;
};

QueryResult PromInstant(int prom_port, const std::string& expr) {
  QueryResult r;
  FetchReply reply = Fetch(prom_port, "GET", "/api/v1/query?query=" + UrlEncode(expr));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply.body).get(doc) != simdjson::SUCCESS) {
    r.error = "HTTP " + std::to_string(reply.status) + ": " + reply.body;
    return r;
  }
  if (JsonText(doc["status"]) != "success") {
    r.error = JsonText(doc["error"]);
    return r;
  }
  r.ok = true;
  simdjson::dom::array result;
  if (doc["data"]["result"].get(result) == simdjson::SUCCESS) {
    r.series = result.size();
  } else if (JsonText(doc["data"]["resultType"]) == "scalar") {
    r.series = 1;
  }
  return r;
}

// Label values as Grafana's label_values(selector, label) finds them (via /api/v1/series).
std::vector<std::string> LabelValues(int prom_port, const std::string& selector, const std::string& label) {
  FetchReply reply = Fetch(prom_port, "GET", "/api/v1/series?match[]=" + UrlEncode(selector));
  std::set<std::string> values;
  simdjson::dom::parser parser;
  simdjson::dom::array series;
  if (parser.parse(reply.body)["data"].get(series) == simdjson::SUCCESS) {
    for (auto s : series) {
      std::string_view v;
      if (s[label].get(v) == simdjson::SUCCESS) values.insert(std::string(v));
    }
  }
  return {values.begin(), values.end()};
}

// Model series exist only when the model fixture could be made (python3-xgboost); without
// it the queries on them must be valid but may return nothing.
bool g_models_served = false;
bool MayBeEmpty(const std::string& expr) {
  return !g_models_served && expr.find("shelfwatch_model_") != std::string::npos;
}

// DIR/ranker/1: a ranker on 8 features; DIR/ranker/2: a corrupt artifact (a load failure).
bool MakeModelRepository(const std::string& dir) {
  std::string out;
  std::string fixtures = dir + "-fixtures";
  if (testing::RunCommand({"/usr/bin/python3", std::string(SHELFWATCH_SOURCE_DIR) + "/src/models/tests/fixtures/make_fixtures.py",
                           fixtures},
                          &out) != 0) {
    return false;
  }
  const char* config =
      "kind: xgboost\nmax_batch_size: 64\ninputs: [{name: features, dtype: FP32, dims: [8]}]\n"
      "outputs: [{name: score, dtype: FP32, dims: [1]}]\n";
  for (int v : {1, 2}) {
    fs::create_directories(dir + "/ranker/" + std::to_string(v));
    std::ofstream(dir + "/ranker/" + std::to_string(v) + "/config.yaml") << config;
  }
  fs::copy_file(fixtures + "/xgb_rank/model.json", dir + "/ranker/1/model.json");
  std::ofstream(dir + "/ranker/2/model.json") << "{ not a model";
  // Serve both: the policy "all" tries version 2 and refuses it.
  std::ofstream(dir + "/ranker/config.yaml") << "version_policy: all\n";
  g_models_served = true;
  return true;
}

// Inference requests in the background, so that the model latency panels have rates.
class ModelTraffic {
 public:
  explicit ModelTraffic(int port) : port_(port) {
    if (port_ > 0) thread_ = std::thread([this] { Run(); });
  }
  ~ModelTraffic() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    const std::string body =
        R"({"inputs":[{"name":"features","shape":[2,8],"datatype":"FP32","data":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,)"
        R"(0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1]}]})";
    while (!stop_) {
      Fetch(port_, "POST", "/v2/models/ranker/versions/1/infer", body, "application/json");
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  int port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Executes every dashboard query against Prometheus with the variables resolved as Grafana
// would resolve them with "All" selected.
void CheckDashboardQueries(int prom_port) {
  std::ifstream f(Deploy("grafana/shelfwatch.json"));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  simdjson::dom::parser parser;
  simdjson::dom::element dash;
  ASSERT_EQ(parser.parse(text).get(dash), simdjson::SUCCESS) << "deploy/grafana/shelfwatch.json is not JSON";
  int64_t schema = 0;
  ASSERT_EQ(dash["schemaVersion"].get(schema), simdjson::SUCCESS);
  EXPECT_GE(schema, 36) << "a dashboard older than Grafana 9 would be migrated on import";

  std::vector<Variable> vars;
  simdjson::dom::array list;
  ASSERT_EQ(dash["templating"]["list"].get(list), simdjson::SUCCESS);
  for (auto v : list) {
    Variable var;
    var.name = JsonText(v["name"]);
    var.type = JsonText(v["type"]);
    var.definition = JsonText(v["definition"]);
    var.current = JsonText(v["current"]["value"]);
    var.regex_format = JsonBool(v["multi"]) || JsonBool(v["includeAll"]);
    vars.push_back(var);
  }
  std::set<std::string> names;
  for (const auto& v : vars) names.insert(v.name);
  for (const char* required : {"DS_PROMETHEUS", "catalog", "variant", "route"}) {
    EXPECT_TRUE(names.count(required)) << "dashboard variable $" << required << " is missing";
  }

  std::vector<std::pair<std::string, std::string>> values;  // longest names first at the end
  std::regex label_values(R"(^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
  for (const auto& v : vars) {
    if (v.type == "datasource") continue;
    if (v.type == "custom" || v.type == "interval" || v.type == "constant") {
      ASSERT_FALSE(v.current.empty()) << "variable $" << v.name << " has no current value";
      values.emplace_back(v.name, v.current);
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(v.definition, m, label_values)) << "variable $" << v.name << ": " << v.definition;
    std::string selector = Substitute(m[1].str(), values);
    std::vector<std::string> found = LabelValues(prom_port, selector, m[2].str());
    ASSERT_FALSE(found.empty()) << "variable $" << v.name << " (" << v.definition << ") finds no value in Prometheus";
    values.emplace_back(v.name, v.regex_format ? GrafanaRegexValue(found) : found[0]);
  }
  // Grafana's own macros; 1m holds several samples at the test's 1s scrape interval.
  values.emplace_back("__rate_interval", "1m");
  values.emplace_back("__interval", "15s");
  values.emplace_back("__range", "1h");
  std::sort(values.begin(), values.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });

  std::vector<DashboardTarget> targets;
  std::vector<std::string> problems;
  simdjson::dom::array panels;
  ASSERT_EQ(dash["panels"].get(panels), simdjson::SUCCESS);
  CollectTargets(panels, &targets, &problems);
  for (const auto& p : problems) ADD_FAILURE() << p;
  ASSERT_GE(targets.size(), 20u);

  std::vector<std::string> empty_allowed;
  for (const auto& t : targets) {
    std::string expr = Substitute(t.expr, values);
    EXPECT_EQ(expr.find('$'), std::string::npos) << "unresolved variable in '" << t.panel << "': " << expr;
    QueryResult r = PromInstant(prom_port, expr);
    EXPECT_TRUE(r.ok) << "panel '" << t.panel << "': Prometheus refuses " << expr << ": " << r.error;
    if (!r.ok) continue;
    if (r.series == 0 && MayBeEmpty(t.expr)) {
      empty_allowed.push_back(t.panel);
    } else {
      EXPECT_GT(r.series, 0u) << "panel '" << t.panel << "' shows no data: " << expr;
    }
  }
  std::printf("dashboard: %zu queries valid; empty (no model series on this server): %zu\n", targets.size(),
              empty_allowed.size());
  for (const auto& p : empty_allowed) std::printf("  empty: %s\n", p.c_str());
}

// ------------------------------------------------------------------ end to end

TEST(Ecosystem, ErrorBurstAlertsThroughPrometheusAndAlertmanagerAndDashboardQueriesAnswer) {
  for (const char* bin : {kPrometheus, kAlertmanager}) {
    if (!Executable(bin)) GTEST_SKIP() << bin << " is not installed (apt install prometheus prometheus-alertmanager)";
  }
  std::string error;
  auto rule = FindErrorRatioAlert(RulesFile(), &error);
  ASSERT_TRUE(rule) << "the shipped rules need an alert on the 5xx ratio: " << error;

  std::string dir = testing::MakeTempDir("ecosystem");
  fs::create_directories(dir + "/rules");
  ASSERT_TRUE(WriteShortenedRules(RulesFile(), rule->name, "1s", dir + "/rules/shelfwatch.yml", &error)) << error;

  WebhookReceiver webhook;
  ASSERT_GT(webhook.port(), 0);
  std::vector<std::string> args = ServeArgs(dir + "/data");
  for (const auto& a : DriftArgs()) args.push_back(a);
  // A model repository (an XGBoost ranker made by Debian's python3-xgboost, plus a broken
  // version that is refused) so that the dashboard's model panels have series too.
  bool with_models = MakeModelRepository(dir + "/models");
  if (with_models) {
    args.push_back("--models");
    args.push_back(dir + "/models");
  }
  testing::TestServer server(args);
  ASSERT_TRUE(server.started()) << server.Log();
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  ModelTraffic inferences(with_models ? server.port() : 0);

  int am_port = FreePort();
  ASSERT_TRUE(WriteTestAlertmanagerConfig(Deploy("alertmanager/alertmanager.yml"), webhook.port(), dir + "/am.yml", &error))
      << error;
  ChildProcess am({kAlertmanager, "--config.file=" + dir + "/am.yml", "--storage.path=" + dir + "/am",
                   "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address=",
                   "--log.level=warn"},
                  dir + "/am.log");

  int prom_port = FreePort();
  std::map<std::string, std::string> external_labels;
  ASSERT_TRUE(WriteTestPrometheusConfig(Deploy("prometheus/prometheus.yml"), server.port(), am_port,
                                        dir + "/rules/*.yml", dir + "/prometheus.yml", &external_labels, &error))
      << error;
  ChildProcess prom({kPrometheus, "--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/tsdb",
                     "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
                    dir + "/prometheus.log");
  ASSERT_TRUE(WaitFor200(am_port, "/-/ready", seconds(20))) << am.Log();
  ASSERT_TRUE(WaitFor200(prom_port, "/-/ready", seconds(20))) << prom.Log();

  // Normal shopping first, so that the request, business and ingest series have a history.
  ShopperTraffic shoppers(server.port(), "homedepot");
  auto deadline = SteadyClock::now() + seconds(20);
  while (PromInstant(prom_port, "up{job=\"shelfwatch\"} == 1").series == 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_EQ(PromInstant(prom_port, "up{job=\"shelfwatch\"} == 1").series, 1u) << "Prometheus does not scrape shelfwatch\n"
                                                                              << prom.Log();
  std::this_thread::sleep_for(seconds(3));
  ASSERT_GT(shoppers.event_batches_accepted(), 0u) << shoppers.last_problem();
  // Healthy traffic (bad event bodies included: they are the client's fault) raises no alarm.
  EXPECT_EQ(PromInstant(prom_port, "ALERTS{alertname=\"" + rule->name + "\"}").series, 0u)
      << rule->name << " is pending or firing before any search failed";
  EXPECT_FALSE(webhook.WaitFor([&](const auto& d) { return Fires(d, rule->name); }, milliseconds(0)));

  std::string problem;
  auto detection = InduceErrorBurst(webhook, shoppers, rule->name, seconds(45), &problem);
  ASSERT_TRUE(detection) << problem << "\nPrometheus alerts: " << Fetch(prom_port, "GET", "/api/v1/alerts").body
                         << "\nAlertmanager log:\n" << am.Log() << "\nPrometheus log:\n" << prom.Log();
  const WebhookReceiver::Delivery* delivery = &detection->delivery;
  double delay = detection->delay_s;

  auto payload = ParseWebhookPayload(delivery->body, &error);
  ASSERT_TRUE(payload) << error << "\n" << delivery->body;
  EXPECT_EQ(payload->version, "4");
  EXPECT_EQ(payload->status, "firing");
  const WebhookAlert* alert = nullptr;
  for (const auto& a : payload->alerts) {
    if (a.labels.count("alertname") && a.labels.at("alertname") == rule->name) alert = &a;
  }
  ASSERT_NE(alert, nullptr) << delivery->body;
  EXPECT_EQ(alert->labels.count("severity") ? alert->labels.at("severity") : "", rule->severity);
  // Prometheus attaches the shipped external labels to every alert it sends.
  for (const auto& [k, v] : external_labels) {
    EXPECT_EQ(alert->labels.count(k) ? alert->labels.at(k) : "", v) << "external label " << k << "\n" << delivery->body;
  }
  // Grouped by the shipped group_by: only alertname, catalog and route may appear.
  EXPECT_EQ(payload->group_labels["alertname"], rule->name) << delivery->body;
  for (const auto& [k, v] : payload->group_labels) {
    EXPECT_TRUE(k == "alertname" || k == "catalog" || k == "route") << "unexpected group label " << k;
  }
  // Delivered to the receiver the shipped route tree names for this severity.
  if (Executable(kAmtool)) {
    std::string expected = RoutedReceiver({"severity=" + rule->severity, "alertname=" + rule->name});
    EXPECT_EQ(payload->receiver, expected);
    EXPECT_EQ(delivery->path, "/hook/" + expected);
  }

  RecordDelay("ecosystem_alert_delay_prometheus.txt",
              "prometheus_alertmanager_webhook alert=" + rule->name + " detection_delay_s=" + std::to_string(delay) +
                  " scrape_interval=1s evaluation_interval=1s for=1s(shipped " + rule->for_duration +
                  ") group_wait=0s failed_searches=" + std::to_string(shoppers.failed_searches()));
  EXPECT_LT(delay, 30.0);

  CheckDashboardQueries(prom_port);
  fs::remove_all(dir);
}

TEST(Ecosystem, ShelfwatchEvaluatorSendsTheSameAlertToAWebhook) {
  std::string help;
  testing::RunCommand({SHELFWATCH_BINARY, "serve", "--help"}, &help);
  // The rule file flag is --rules (or --alert-rules, the name the rule file's header uses).
  std::string rules_flag = ListsFlag(help, "--rules") ? "--rules" : ListsFlag(help, "--alert-rules") ? "--alert-rules" : "";
  if (rules_flag.empty()) GTEST_SKIP() << "`shelfwatch serve --help` lists no --rules flag yet: the embedded evaluator is not wired";
  for (const char* flag : {"--rule-eval-interval", "--history-interval", "--alert-webhook"}) {
    if (!ListsFlag(help, flag)) {
      GTEST_SKIP() << "`shelfwatch serve --help` does not list " << flag << " yet: the embedded evaluator is not wired";
    }
  }
  std::string error;
  auto rule = FindErrorRatioAlert(RulesFile(), &error);
  ASSERT_TRUE(rule) << error;
  std::string dir = testing::MakeTempDir("ecosystem-own");
  ASSERT_TRUE(WriteShortenedRules(RulesFile(), rule->name, "1s", dir + "/rules.yml", &error)) << error;

  WebhookReceiver webhook;
  ASSERT_GT(webhook.port(), 0);
  std::vector<std::string> args = ServeArgs(dir + "/data");
  std::vector<std::string> evaluator = {rules_flag, dir + "/rules.yml", "--rule-eval-interval", "1s",
                                        "--history-interval", "1s", "--alert-webhook",
                                        "http://127.0.0.1:" + std::to_string(webhook.port()) + "/hook"};
  args.insert(args.end(), evaluator.begin(), evaluator.end());
  testing::TestServer server(args);
  ASSERT_TRUE(server.started()) << server.Log();
  ASSERT_TRUE(server.WaitReady()) << server.Log();

  ShopperTraffic shoppers(server.port(), "homedepot");
  std::this_thread::sleep_for(seconds(3));
  EXPECT_FALSE(webhook.WaitFor([&](const auto& d) { return Fires(d, rule->name); }, milliseconds(0)))
      << rule->name << " fired before any search failed";
  std::string problem;
  auto detection = InduceErrorBurst(webhook, shoppers, rule->name, seconds(45), &problem);
  ASSERT_TRUE(detection) << problem << "\n" << server.Log();
  const WebhookReceiver::Delivery* delivery = &detection->delivery;
  double delay = detection->delay_s;
  auto payload = ParseWebhookPayload(delivery->body, &error);
  ASSERT_TRUE(payload) << error;
  EXPECT_EQ(payload->version, "4") << delivery->body;
  EXPECT_EQ(payload->status, "firing") << delivery->body;
  EXPECT_EQ(delivery->path, "/hook");
  bool labelled = false;
  for (const auto& a : payload->alerts) {
    if (a.labels.count("alertname") && a.labels.at("alertname") == rule->name) {
      labelled = a.labels.count("severity") && a.labels.at("severity") == rule->severity;
    }
  }
  EXPECT_TRUE(labelled) << "alert lacks the rule's severity label: " << delivery->body;
  RecordDelay("ecosystem_alert_delay_shelfwatch.txt",
              "shelfwatch_evaluator_webhook alert=" + rule->name + " detection_delay_s=" + std::to_string(delay) +
                  " history_interval=1s rule_eval_interval=1s for=1s(shipped " + rule->for_duration + ")");
  EXPECT_LT(delay, 30.0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::ecosystem
