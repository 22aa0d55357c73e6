// The configuration file: check-config points at each mistake, serve --config reads it, a
// reload applies new alert rules, refuses broken ones (the running ones stay) and the
// effective settings are readable with their secrets redacted.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/test_server.h"

namespace shelfwatch {
namespace {

using json = nlohmann::json;
using testing::DataPath;
using testing::Get;
using testing::HttpClient;
using testing::RunCommand;
using testing::TestServer;

void Write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

const char* kRules = R"(groups:
  - name: search
    rules:
      - alert: SearchErrors
        expr: sum(rate(shelfwatch_http_requests_total{code=~"5.."}[1m])) > 0
        labels: {severity: warning}
        annotations: {summary: "5xx at {{ $value }}/s"}
)";

TEST(ConfigFile, CheckConfigPointsAtEachMistake) {
  std::string dir = testing::MakeTempDir("sw-config");
  Write(dir + "/rules.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(rate(x[1m]) >\n");
  Write(dir + "/bad.yaml", "catalog: homedepot=" + DataPath("homedepot/products.csv") +
                               "\nport: 99999\ndrift-windw: 1h\nhistory-interval: soon\nrules: [" + dir + "/rules.yml]\n");
  std::string out;
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "check-config", dir + "/bad.yaml"}, &out), 1);
  EXPECT_NE(out.find("bad.yaml:2:7: must be an integer between 0 and 65535"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.yaml:3:1: unknown setting 'drift-windw'"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.yaml:4:19: must be a duration"), std::string::npos) << out;
  EXPECT_NE(out.find("rules.yml:5:"), std::string::npos) << out;  // the rule file's own mistake
  EXPECT_NE(out.find("4 mistakes"), std::string::npos) << out;

  Write(dir + "/rules.yml", kRules);
  Write(dir + "/good.yaml", "catalog:\n  - name: homedepot\n    path: " + DataPath("homedepot/products.csv") +
                                "\n    k1: 0.2\nrules: [" + dir + "/rules.yml]\ndrift_window: 10m\n");
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "check-config", dir + "/good.yaml"}, &out), 0) << out;
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "serve", "--config", dir + "/bad.yaml"}, &out), 2);
  std::filesystem::remove_all(dir);
}

TEST(ConfigFile, ReloadAppliesNewRulesAndRefusesBrokenOnes) {
  std::string dir = testing::MakeTempDir("sw-reload");
  Write(dir + "/rules.yml", kRules);
  auto config = [&](const std::string& psi_alert) {
    Write(dir + "/shelfwatch.yaml", "catalog:\n  - name: homedepot\n    path: " + DataPath("homedepot/products.csv") +
                                        "\nrules: [" + dir + "/rules.yml]\nrule-eval-interval: 1s\n"
                                        "alert-webhook: [\"http://127.0.0.1:9/hook?token=s3cret\"]\n"
                                        "drift-reference-rows: 40\ndrift-bucket: 1s\ndrift-interval: 0\n"
                                        "drift-thresholds: psi_alert=" + psi_alert + "\n");
  };
  config("0.25");
  TestServer server({"--config", dir + "/shelfwatch.yaml", "--data-dir", dir + "/data"});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  auto groups = [&] {
    json j = json::parse(c.Request("GET", "/v1/alerts/rules").body);
    std::vector<std::string> names;
    for (const auto& g : j["data"]["groups"]) names.push_back(g["name"]);
    return names;
  };
  EXPECT_EQ(groups(), std::vector<std::string>{"search"});

  // The effective settings, with where each came from; no secret leaks.
  auto cfg = c.Request("GET", "/v1/admin/config");
  ASSERT_EQ(cfg.status, 200);
  EXPECT_EQ(cfg.body.find("s3cret"), std::string::npos) << cfg.body;
  json settings = json::parse(cfg.body)["settings"];
  EXPECT_NE(settings["rule-eval-interval"]["source"].get<std::string>().find("shelfwatch.yaml:"), std::string::npos);
  EXPECT_EQ(settings["data-dir"]["source"], "command line");

  // A broken rule file is refused; the running rules stay.
  Write(dir + "/rules.yml", "groups:\n  - name: search\n    rules:\n      - alert: X\n        expr: rate(\n");
  auto r = c.Request("POST", "/v1/admin/reload");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("rules.yml:5:"), std::string::npos) << r.body;
  EXPECT_EQ(groups(), std::vector<std::string>{"search"});

  // A good one is applied, by the API or by SIGHUP.
  Write(dir + "/rules.yml", std::string(kRules) + R"(  - name: readiness
    rules:
      - alert: NotReady
        expr: shelfwatch_ready == 0
)");
  r = c.Request("POST", "/v1/admin/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(groups(), (std::vector<std::string>{"search", "readiness"}));
  // Drift thresholds change live too: the next evaluation judges PSI against the new one.
  auto searches = [&](int n) {
    for (int i = 0; i < n; ++i) c.Request("GET", "/v1/catalogs/homedepot/search?q=" + std::string(i % 2 ? "drill" : "paint"));
  };
  searches(60);  // the reference: frozen from the first 40 searches (whole batches)
  c.Request("GET", "/v1/monitor/drift?evaluate=true");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the current window starts after it
  searches(100);
  auto psi_threshold = [&] {
    json d = json::parse(c.Request("GET", "/v1/monitor/drift?evaluate=true&model=homedepot/search").body);
    for (const auto& f : d["monitors"][0]["features"]) {
      for (const auto& m : f["methods"]) {
        if (m["method"] == "psi") return m["threshold"].get<double>();
      }
    }
    return -1.0;
  };
  EXPECT_DOUBLE_EQ(psi_threshold(), 0.25);
  config("0.9");
  ASSERT_EQ(c.Request("POST", "/v1/admin/reload").status, 200);
  EXPECT_DOUBLE_EQ(psi_threshold(), 0.9);

  Write(dir + "/rules.yml", kRules);
  ::kill(server.pid(), SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (groups().size() != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(groups(), std::vector<std::string>{"search"});
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch
