// Integration tests: the real binary, the real Home Depot catalog, a random loopback port.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/shared_set_up.h"
#include "support/test_server.h"

namespace shelfwatch {
namespace {

using json = nlohmann::json;
using testing::Get;
using testing::HttpClient;
using testing::TestServer;

class HomeDepotServer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_set_up_.Run(&SetUpShared)) << "the suite's shared set-up failed (in the first test run)";
  }
  static inline ::shelfwatch::testing::SharedSetUp shared_set_up_;
  // Run once per process by the first test's SetUp (support/shared_set_up.h).
  static void SetUpShared() {
    server_ = new TestServer({"--catalog", "homedepot=" + testing::DataPath("homedepot/products.csv"),
                              "--threads", "2", "--enable-test-hooks"});
    ASSERT_TRUE(server_->started()) << server_->Log();
    ASSERT_TRUE(server_->WaitReady()) << server_->Log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static int port() { return server_->port(); }
  static TestServer* server_;
};
TestServer* HomeDepotServer::server_ = nullptr;

TEST_F(HomeDepotServer, SearchReturnsRelevantProductsAsJson) {
  auto r = Get(port(), "/v1/catalogs/homedepot/search?q=angle+bracket&k=10");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  auto j = json::parse(r.body);
  EXPECT_EQ(j["catalog"], "homedepot");
  EXPECT_EQ(j["query"], "angle bracket");
  EXPECT_EQ(j["request_id"].get<std::string>().size(), 36u);
  EXPECT_EQ(r.headers["x-request-id"], j["request_id"]);
  EXPECT_GT(j["total_hits"].get<int>(), 10);
  EXPECT_GE(j["took_ms"].get<double>(), 0.0);
  ASSERT_EQ(j["results"].size(), 10u);
  double prev = 1e9;
  bool has_angle = false;
  for (const auto& hit : j["results"]) {
    double score = hit["score"];
    EXPECT_LE(score, prev);
    prev = score;
    std::string title = hit["title"];
    for (auto& c : title) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    has_angle |= title.find("angle") != std::string::npos && title.find("bracket") != std::string::npos;
    EXPECT_FALSE(hit["id"].get<std::string>().empty());
  }
  EXPECT_TRUE(has_angle) << r.body;
}

TEST_F(HomeDepotServer, PagingWithOffsetContinuesTheRanking) {
  auto all = json::parse(Get(port(), "/v1/catalogs/homedepot/search?q=deck+stain&k=20").body);
  auto page2 = json::parse(Get(port(), "/v1/catalogs/homedepot/search?q=deck+stain&k=10&offset=10").body);
  ASSERT_EQ(all["results"].size(), 20u);
  ASSERT_EQ(page2["results"].size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all["results"][10 + i]["id"], page2["results"][i]["id"]);
}

TEST_F(HomeDepotServer, ChineseAndUnitQueriesAreAnswered) {
  auto r = Get(port(), "/v1/catalogs/homedepot/search?q=%E6%97%A0%E7%BA%BF%E9%BC%A0%E6%A0%87");
  EXPECT_EQ(r.status, 200);
  auto u = json::parse(Get(port(), "/v1/catalogs/homedepot/search?q=3%2F4+inch+pvc+elbow").body);
  ASSERT_FALSE(u["results"].empty());
}

TEST_F(HomeDepotServer, BadRequestsGetStructuredErrors) {
  struct Case {
    std::string method, target;
    int status;
    std::string code;
  } cases[] = {
      {"GET", "/v1/catalogs/homedepot/search", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=+++", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=drill&k=0", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=drill&k=100000", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=drill&k=abc", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=drill&offset=-1", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=%ZZ", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/homedepot/search?q=%FF%FE", 400, "invalid_argument"},
      {"GET", "/v1/catalogs/nope/search?q=drill", 404, "not_found"},
      {"GET", "/v1/nothing", 404, "not_found"},
      {"POST", "/v1/catalogs/homedepot/search?q=drill", 405, "method_not_allowed"},
      {"DELETE", "/healthz", 405, "method_not_allowed"},
  };
  for (const auto& c : cases) {
    HttpClient client(port());
    auto r = client.Request(c.method, c.target);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " -> " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    EXPECT_EQ(j["error"]["code"], c.code) << c.target;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
  HttpClient client(port());
  auto r = client.Request("POST", "/v1/catalogs/homedepot/search?q=drill");
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");
}

TEST_F(HomeDepotServer, HugeUrlAndBodyAreRefused) {
  HttpClient a(port());
  EXPECT_EQ(a.Request("GET", "/v1/catalogs/homedepot/search?q=" + std::string(20000, 'a')).status, 414);
  HttpClient b(port());
  EXPECT_EQ(b.Request("POST", "/healthz", std::string(9 * 1024 * 1024, 'x')).status, 413);
  EXPECT_EQ(Get(port(), "/healthz").status, 200);  // still serving
}

TEST_F(HomeDepotServer, ProductAndCatalogEndpoints) {
  auto p = json::parse(Get(port(), "/v1/catalogs/homedepot/products/100001").body);
  EXPECT_EQ(p["title"], "Simpson Strong-Tie 12-Gauge Angle");
  auto c = json::parse(Get(port(), "/v1/catalogs/homedepot").body);
  EXPECT_EQ(c["state"], "ready");
  EXPECT_EQ(c["products"], 54667);
  EXPECT_GT(c["index"]["memory_bytes"].get<double>(), 0);
  EXPECT_EQ(Get(port(), "/v1/catalogs/homedepot/products/nope").status, 404);
}

TEST_F(HomeDepotServer, MetricsPassPromtoolAndCountRequests) {
  Get(port(), "/v1/catalogs/homedepot/search?q=drill");
  Get(port(), "/v1/catalogs/homedepot/search");
  auto r = Get(port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& m = r.body;
  for (const char* needle : {
           "shelfwatch_http_requests_total{route=\"/v1/catalogs/{catalog}/search\",code=\"200\"}",
           "shelfwatch_http_requests_total{route=\"/v1/catalogs/{catalog}/search\",code=\"400\"}",
           "shelfwatch_http_request_duration_seconds_bucket{route=\"/v1/catalogs/{catalog}/search\",le=\"+Inf\"}",
           "shelfwatch_search_stage_duration_seconds_count{catalog=\"homedepot\",stage=\"analyze\"}",
           "shelfwatch_search_stage_duration_seconds_count{catalog=\"homedepot\",stage=\"retrieve\"}",
           "shelfwatch_search_stage_duration_seconds_count{catalog=\"homedepot\",stage=\"serialize\"}",
           "shelfwatch_catalog_products{catalog=\"homedepot\"} 54667",
           "shelfwatch_catalog_index_bytes{catalog=\"homedepot\"}",
           "shelfwatch_build_info{",
           "process_cpu_seconds_total ",
           "process_resident_memory_bytes ",
           "process_threads ",
       }) {
    EXPECT_NE(m.find(needle), std::string::npos) << "missing " << needle;
  }
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool (Debian package prometheus) not installed";
  std::string out;
  int rc = testing::RunCommand({"/usr/bin/promtool", "check", "metrics"}, &out, m);
  EXPECT_EQ(rc, 0) << out;
}

TEST_F(HomeDepotServer, ConcurrentClientsAllSucceed) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(port());
      for (int i = 0; i < 50; ++i) {
        auto r = c.Request("GET", "/v1/catalogs/homedepot/search?q=drill+" + std::to_string(t * 100 + i));
        if (r.status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST(ServerLifecycleTest, NotReadyWhileACatalogFailsButHealthy) {
  TestServer s({"--catalog", "broken=/nonexistent/products.csv"});
  ASSERT_TRUE(s.started()) << s.Log();
  EXPECT_EQ(Get(s.port(), "/healthz").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = Get(s.port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"broken\":\"failed\""), std::string::npos) << r.body;
  auto q = Get(s.port(), "/v1/catalogs/broken/search?q=x");
  EXPECT_EQ(q.status, 503);
  EXPECT_EQ(s.Stop(SIGTERM), 0);
}

TEST(ServerLifecycleTest, SigtermFinishesInFlightRequestsAndExitsZero) {
  TestServer s({"--catalog", "homedepot=" + testing::DataPath("homedepot/products.csv"), "--enable-test-hooks",
                "--threads", "2"});
  ASSERT_TRUE(s.started()) << s.Log();
  ASSERT_TRUE(s.WaitReady()) << s.Log();
  HttpClient slow(s.port());
  testing::HttpReply reply;
  std::thread t([&] { reply = slow.Request("GET", "/v1/catalogs/homedepot/search?q=drill&_test_sleep_ms=700"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(s.pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // New connections are refused while draining.
  HttpClient late(s.port());
  EXPECT_FALSE(late.connected() && late.Request("GET", "/healthz").status == 200);
  t.join();
  EXPECT_EQ(reply.status, 200) << "in-flight request must complete";
  EXPECT_EQ(s.Stop(SIGTERM), 0) << s.Log();
}

TEST(ServerLifecycleTest, TwoCatalogsAndRejectedRowsAreReported) {
  std::string dir = testing::MakeTempDir("shelfwatch-cat");
  {
    std::ofstream f(dir + "/small.csv");
    f << "id,title,price\n1,Cordless Drill,99.00\n2,Hammer,abc\n,No Id,1\n1,Duplicate,2\n3,Claw Hammer,12.50\n";
  }
  TestServer s({"--catalog", "small=" + dir + "/small.csv", "--catalog",
                "homedepot=" + testing::DataPath("homedepot/products.csv"), "--data-dir", dir + "/state"});
  ASSERT_TRUE(s.started()) << s.Log();
  ASSERT_TRUE(s.WaitReady()) << s.Log();
  auto c = json::parse(Get(s.port(), "/v1/catalogs/small").body);
  EXPECT_EQ(c["products"], 2);
  EXPECT_EQ(c["rows_rejected"], 3);
  auto r = json::parse(Get(s.port(), "/v1/catalogs/small/search?q=hammer").body);
  ASSERT_EQ(r["results"].size(), 1u);
  EXPECT_EQ(r["results"][0]["id"], "3");
  // A second server may not share the data dir.
  TestServer second({"--catalog", "small=" + dir + "/small.csv", "--data-dir", dir + "/state"});
  EXPECT_FALSE(second.started());
  EXPECT_EQ(s.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace shelfwatch
