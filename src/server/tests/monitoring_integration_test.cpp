// Monitoring through the real binary: feedback events (validation, durability across SIGKILL),
// online business metrics, drift on real Home Depot queries, metric history queries and the
// training-data export.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/request_id.h"
#include "eval/relevance.h"
#include "feedback/event_store.h"
#include "support/test_server.h"

namespace shelfwatch {
namespace {

using json = nlohmann::json;
using testing::Get;
using testing::HttpClient;
using testing::TestServer;

// Concatenation without operator+ on temporaries (GCC 12 reports a false -Wrestrict there).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p);
  return out;
}

std::string Catalog() { return "homedepot=" + testing::DataPath("homedepot/products.csv") + ",k1=0.2,b=0.85"; }

std::string UrlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

json Search(HttpClient& c, const std::string& q, int k = 10) {
  auto r = c.Request("GET", "/v1/catalogs/homedepot/search?k=" + std::to_string(k) + "&q=" + UrlEncode(q));
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? json::parse(r.body) : json();
}

json Event(const std::string& type, const std::string& request_id, const std::string& item, const std::string& user) {
  return json{{"type", type}, {"request_id", request_id}, {"item_id", item}, {"user_id", user}};
}

// The value of one sample line of the Prometheus exposition ("name{labels} value"), or -1.
double MetricValue(int port, const std::string& series) {
  auto r = Get(port, "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// Polls `fn` until it returns true or `timeout_ms` passes.
template <typename Fn>
bool Eventually(Fn fn, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fn();
}

TEST(FeedbackEvents, BatchWithInvalidEventsStoresTheValidOnesAndNamesTheRejected) {
  std::string dir = testing::MakeTempDir("sw-events");
  TestServer server({"--catalog", Catalog(), "--data-dir", dir});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  json s = Search(c, "cordless drill");
  std::string rid = s["request_id"], item = s["results"][1]["id"];

  json batch = json::array({Event("click", rid, item, "u1"), Event("click", NewRequestId(), "100001", "u2"),
                            json{{"type", "click"}, {"request_id", rid}, {"item_id", item}},  // no user_id
                            json{{"type", "purchase"}, {"request_id", rid}, {"item_id", item}, {"user_id", "u1"},
                                 {"value", 129.0}, {"currency", "usd"}}});  // currency not ISO 4217
  auto r = c.Request("POST", "/v1/events", batch.dump(), {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.body;
  json a = json::parse(r.body);
  EXPECT_EQ(a["accepted"], 2);
  EXPECT_EQ(a["attributed"], 1);
  EXPECT_EQ(a["unattributed"], 1);
  ASSERT_EQ(a["rejected"].size(), 2u);
  EXPECT_EQ(a["rejected"][0]["index"], 2);
  EXPECT_EQ(a["rejected"][0]["reason"], "missing_field");
  EXPECT_EQ(a["rejected"][0]["field"], "user_id");
  EXPECT_EQ(a["rejected"][1]["index"], 3);
  EXPECT_EQ(a["rejected"][1]["reason"], "bad_currency");

  // The attributed click counts for its catalog and variant, at the rank the item was served.
  EXPECT_EQ(MetricValue(server.port(),
                        R"(shelfwatch_feedback_events_total{catalog="homedepot",endpoint="search",variant="default",type="click"})"),
            1);
  EXPECT_EQ(MetricValue(server.port(), R"(shelfwatch_feedback_unattributed_total{type="click"})"), 1);
  EXPECT_EQ(MetricValue(server.port(), R"(shelfwatch_feedback_rejected_total{reason="missing_field"})"), 1);
  EXPECT_EQ(MetricValue(server.port(),
                        R"(shelfwatch_first_click_reciprocal_rank_sum{catalog="homedepot",endpoint="search",variant="default"})"),
            0.5);

  // NDJSON is accepted too.
  std::string nd = Event("impression", rid, item, "u3").dump() + "\n" + Event("add_to_cart", rid, item, "u3").dump() + "\n";
  r = c.Request("POST", "/v1/events", nd, {"Content-Type: application/x-ndjson"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["attributed"], 2);

  // Nothing valid: 400 with the reasons; too many events: 413; wrong method: 405.
  r = c.Request("POST", "/v1/events", R"([{"type":"like","request_id":"x","item_id":"1","user_id":"u"}])");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["rejected"][0]["reason"], "unknown_event_type");
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back(Event("impression", rid, item, "u"));
  r = c.Request("POST", "/v1/events", many.dump());
  EXPECT_EQ(r.status, 413) << r.body;
  r = c.Request("POST", "/v1/events", "this is not json");
  EXPECT_EQ(r.status, 400) << r.body;
  r = c.Request("GET", "/v1/events");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(MetricValue(server.port(), R"(shelfwatch_feedback_ingest_failures_total{reason="too_large"})"), 1);

  // Every accepted event is in the store, attributed ones with their catalog and variant.
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  auto store = feedback::EventStore::Open({.path = dir + "/events.db"});
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto counts = (*store)->Count();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->total, 4u);
  EXPECT_EQ(counts->attributed, 3u);
  std::filesystem::remove_all(dir);
}

TEST(FeedbackEvents, RefusedWithoutADataDirBecauseTheyCouldNotBeDurable) {
  TestServer server({"--catalog", Catalog()});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  auto r = c.Request("POST", "/v1/events", "[]");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("--data-dir"), std::string::npos) << r.body;
}

// Several clients post batches while the server is killed with SIGKILL: every event whose
// batch was acknowledged with 200 is in the store afterwards.
TEST(FeedbackEvents, AcknowledgedEventsSurviveSigkill) {
  std::string dir = testing::MakeTempDir("sw-kill");
  auto server = std::make_unique<TestServer>(std::vector<std::string>{"--catalog", Catalog(), "--data-dir", dir});
  ASSERT_TRUE(server->WaitReady()) << server->Log();
  std::string rid;
  {
    HttpClient c(server->port());
    rid = Search(c, "deck stain")["request_id"];
  }
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> batches{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t, port = server->port()] {
      HttpClient c(port);
      for (int b = 0; !stop && c.connected(); ++b) {
        json batch = json::array();
        std::vector<std::string> users;
        for (int i = 0; i < 100; ++i) {
          users.push_back(Cat({"t", std::to_string(t), "-b", std::to_string(b), "-e", std::to_string(i)}));
          batch.push_back(Event(i % 3 ? "impression" : "click", rid, std::to_string(100001 + i), users.back()));
        }
        auto r = c.Request("POST", "/v1/events", batch.dump());
        if (r.status != 200) break;  // killed mid-request: not acknowledged
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.insert(users.begin(), users.end());
        ++batches;
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return batches.load() >= 30; }, 20000));
  ::kill(server->pid(), SIGKILL);
  stop = true;
  for (auto& c : clients) c.join();
  server.reset();
  ASSERT_GE(acknowledged.size(), 3000u);

  // The store recovers its WAL on open; nothing acknowledged is missing.
  auto store = feedback::EventStore::Open({.path = dir + "/events.db"});
  ASSERT_TRUE(store.ok()) << store.status().message();
  std::set<std::string> stored;
  ASSERT_TRUE((*store)
                  ->ForEach({}, [&](const feedback::StoredEvent& e) {
                    stored.insert(e.event.user_id);
                    return true;
                  })
                  .ok());
  store->reset();
  size_t missing = 0;
  for (const auto& u : acknowledged) missing += !stored.count(u);
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged events";

  // And the server starts again on the same data dir.
  TestServer again({"--catalog", Catalog(), "--data-dir", dir});
  EXPECT_TRUE(again.WaitReady()) << again.Log();
  std::filesystem::remove_all(dir);
}

// Searches, clicks and purchases become CTR, conversion, MRR and revenue per search in
// /v1/monitor/business, history queries see them, and the export labels each served item.
TEST(BusinessMetrics, EventsBecomeRatesQueriesAndTrainingData) {
  std::string dir = testing::MakeTempDir("sw-business");
  TestServer server({"--catalog", Catalog(), "--data-dir", dir, "--history-interval", "500ms"});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  json events = json::array();
  std::string clicked_query_item;
  for (int i = 0; i < 20; ++i) {
    json s = Search(c, i % 4 == 3 ? "zzqxv nonexistent" : "cordless drill");
    std::string rid = s["request_id"];
    if (s["results"].size() < 2) continue;
    std::string item = s["results"][1]["id"];
    std::string user = Cat({"u", std::to_string(i)});
    events.push_back(Event("impression", rid, item, user));
    if (i % 2 == 0) events.push_back(Event("click", rid, item, user));
    if (i % 4 == 0) {
      json p = Event("purchase", rid, item, user);
      p["value"] = 10.0;
      p["currency"] = "USD";
      events.push_back(p);
    }
  }
  auto r = c.Request("POST", "/v1/events", events.dump());
  ASSERT_EQ(r.status, 200) << r.body;

  json row;
  ASSERT_TRUE(Eventually([&] {
    auto b = Get(server.port(), "/v1/monitor/business?window=1h&catalog=homedepot");
    if (b.status != 200) return false;
    json j = json::parse(b.body);
    if (j["series"].empty()) return false;
    row = j["series"][0];
    return row["searches"].get<double>() == 20 && row["purchases"].get<double>() == 5;
  })) << row.dump();
  EXPECT_EQ(row["variant"], "default");
  EXPECT_EQ(row["zero_result_searches"], 5);
  EXPECT_DOUBLE_EQ(row["zero_result_rate"].get<double>(), 0.25);
  EXPECT_EQ(row["clicks"], 10);  // searches 0, 2, ..., 18 (the zero-result ones are the odd 3, 7, ...)
  EXPECT_DOUBLE_EQ(row["click_through_rate"].get<double>(), 10.0 / 20);
  EXPECT_DOUBLE_EQ(row["conversion_rate"].get<double>(), 5.0 / 20);
  EXPECT_DOUBLE_EQ(row["mean_reciprocal_rank"].get<double>(), 0.5);  // every click at rank 2
  EXPECT_DOUBLE_EQ(row["revenue"]["USD"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(row["revenue_per_search"]["USD"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(row["item_click_rate"].get<double>(), 10.0 / 15);

  // Top queries and top zero-result queries from the heavy-hitter sketches.
  json top = json::parse(Get(server.port(), "/v1/monitor/queries?catalog=homedepot&kind=top&n=5").body);
  ASSERT_GE(top["queries"].size(), 2u);
  EXPECT_EQ(top["queries"][0]["query"], "cordless drill");
  EXPECT_EQ(top["queries"][0]["count"], 15);
  json zero = json::parse(Get(server.port(), "/v1/monitor/queries?catalog=homedepot&kind=zero_result").body);
  ASSERT_EQ(zero["queries"].size(), 1u);
  EXPECT_EQ(zero["queries"][0]["query"], "zzqxv nonexistent");

  // The metric history answers PromQL like Prometheus' API, also at /api/v1 for its clients.
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto q = Get(server.port(), "/v1/monitor/query_range?query=" +
                                  UrlEncode("sum by (type) (shelfwatch_feedback_events_total)") + "&start=" +
                                  std::to_string(now - 60) + "&end=" + std::to_string(now + 1) + "&step=1");
  ASSERT_EQ(q.status, 200) << q.body;
  json qr = json::parse(q.body);
  EXPECT_EQ(qr["status"], "success");
  EXPECT_EQ(qr["data"]["resultType"], "matrix");
  std::map<std::string, double> last;
  for (const auto& s : qr["data"]["result"]) last[s["metric"]["type"]] = std::stod(s["values"].back()[1].get<std::string>());
  EXPECT_EQ(last["click"], 10);
  EXPECT_EQ(last["purchase"], 5);
  auto form = c.Request("POST", "/api/v1/query", "query=" + UrlEncode("sum(shelfwatch_served_requests_total)"),
                        {"Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(json::parse(form.body)["data"]["result"][0]["value"][1], "20");
  auto bad = Get(server.port(), "/v1/monitor/query?query=" + UrlEncode("sum(("));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["errorType"], "bad_data");

  // Training data: every served item labelled with its strongest event.
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  std::string out;
  ASSERT_EQ(testing::RunCommand({SHELFWATCH_BINARY, "export", "training-data", "--data-dir", dir, "--labelled-only"}, &out),
            0);
  std::istringstream lines(out);
  std::string line;
  std::map<std::string, int> labels_at_rank2;
  int requests = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    ++requests;
    EXPECT_EQ(j["model_versions"], "bm25(k1=0.2,b=0.85)");
    for (const auto& it : j["items"]) {
      if (it["rank"] == 2) labels_at_rank2[it["label"]]++;
      if (it["rank"] != 2) {
        EXPECT_EQ(it["label"], "none");
      }
    }
  }
  EXPECT_EQ(requests, 15);
  EXPECT_EQ(labels_at_rank2["purchase"], 5);
  EXPECT_EQ(labels_at_rank2["click"], 5);  // clicked, not bought
  EXPECT_EQ(labels_at_rank2["impression"], 5);
  std::filesystem::remove_all(dir);
}

// Drift on real traffic: the reference is the TRAIN queries run through the catalog; a random
// sample of TEST queries (same distribution) raises no drift, a query mix switched to one
// product family (paint) does, on the inputs that changed.
class DriftThroughServer : public ::testing::Test {
 protected:
  static std::vector<std::string> Queries(eval::Split split) {
    auto q = eval::LoadQueries(testing::DataPath("homedepot/queries.csv"), split);
    EXPECT_TRUE(q.ok());
    std::vector<std::string> out;
    for (const auto& x : *q) out.push_back(x.text);
    return out;
  }
  static json Evaluate(int port) {
    auto r = Get(port, "/v1/monitor/drift?evaluate=true");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }
  static const json& Feature(const json& report, const std::string& model, const std::string& feature) {
    for (const auto& m : report["monitors"]) {
      if (m["model"] != model) continue;
      for (const auto& f : m["features"]) {
        if (f["name"] == feature) return f;
      }
    }
    static json none;
    ADD_FAILURE() << "no feature " << model << " " << feature;
    return none;
  }
  std::vector<std::string> Args(const std::string& dir, bool with_reference) {
    std::vector<std::string> a = {"--catalog", Catalog(), "--data-dir", dir, "--drift-interval", "0"};
    if (with_reference) {
      a.push_back("--drift-reference");
      a.push_back("homedepot=" + testing::DataPath("homedepot/queries.csv") + ",split=train");
    }
    return a;
  }
};

TEST_F(DriftThroughServer, UnshiftedTrafficIsQuietAndTheReferenceSurvivesARestart) {
  std::string dir = testing::MakeTempDir("sw-drift");
  auto test = Queries(eval::Split::kTest);
  std::mt19937 rng(7);
  std::shuffle(test.begin(), test.end(), rng);
  test.resize(1500);
  {
    TestServer server(Args(dir, true));
    ASSERT_TRUE(server.WaitReady()) << server.Log();
    HttpClient c(server.port());
    for (const auto& q : test) Search(c, q);
    json report = Evaluate(server.port());
    ASSERT_EQ(report["monitors"].size(), 2u);
    for (const auto& m : report["monitors"]) {
      EXPECT_TRUE(m["reference"]["available"]);
      EXPECT_FALSE(m["dataset_drift"]) << m.dump();
      EXPECT_EQ(m["drifted_features"], 0) << m.dump();
    }
    EXPECT_EQ(Feature(report, "homedepot/search", "query_chars")["reference_count"], 9436);
    EXPECT_EQ(Feature(report, "homedepot/search", "query_chars")["current_count"], 1500);
    EXPECT_EQ(MetricValue(server.port(), R"(shelfwatch_drift_detected{model="homedepot/query_terms",feature="query_term"})"), 0);
    EXPECT_EQ(server.Stop(SIGTERM), 0);
  }
  // Restarted without the queries file: the reference kept in the data dir is used.
  TestServer server(Args(dir, false));
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  json report = Evaluate(server.port());
  for (const auto& m : report["monitors"]) {
    EXPECT_TRUE(m["reference"]["available"]) << m.dump();
    EXPECT_EQ(m["reference"]["source"], "rows");  // where it came from survives the restart
  }
  EXPECT_EQ(Feature(report, "homedepot/search", "query_chars")["reference_count"], 9436);
  std::filesystem::remove_all(dir);
}

TEST_F(DriftThroughServer, QueryMixSwitchedToOneProductFamilyIsFlagged) {
  std::string dir = testing::MakeTempDir("sw-drift-shift");
  std::vector<std::string> paint;
  for (const auto& q : Queries(eval::Split::kTest)) {
    std::string lower = q;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.find("paint") != std::string::npos) paint.push_back(q);
  }
  ASSERT_GE(paint.size(), 40u);
  TestServer server(Args(dir, true));
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  for (int i = 0; i < 1500; ++i) Search(c, paint[i % paint.size()]);
  json report = Evaluate(server.port());
  const json& term = Feature(report, "homedepot/query_terms", "query_term");
  EXPECT_TRUE(term["drifted"]) << term.dump();
  EXPECT_EQ(term["status"], "alert");
  EXPECT_TRUE(Feature(report, "homedepot/search", "total_hits")["drifted"]);
  EXPECT_EQ(MetricValue(server.port(), R"(shelfwatch_drift_detected{model="homedepot/query_terms",feature="query_term"})"), 1);
  EXPECT_EQ(MetricValue(server.port(), R"(shelfwatch_drift_status{model="homedepot/query_terms",feature="query_term"})"), 2);
  std::filesystem::remove_all(dir);
}

// A reference chosen as a time range of live traffic ("last week was normal") instead of the
// training queries: what came after it is compared against it.
TEST_F(DriftThroughServer, ReferenceFromAChosenTimeRangeOfTraffic) {
  std::string dir = testing::MakeTempDir("sw-drift-window");
  TestServer server({"--catalog", Catalog(), "--data-dir", dir, "--drift-interval", "0", "--drift-bucket", "1s",
                     "--drift-reference-rows", "0"});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  auto test = Queries(eval::Split::kTest);
  auto now_s = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  double start = std::floor(now_s());
  for (size_t i = 0; i < 800; ++i) Search(c, test[i * 2]);
  // Whole buckets: wait for the next second so the range ends where the next traffic begins.
  double end = std::floor(now_s()) + 1;
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::milliseconds(static_cast<int64_t>(end * 1000) + 50)));
  char params[160];
  std::snprintf(params, sizeof params, "?model=homedepot/query_terms&start=%.0f&end=%.0f", start, end);
  auto r = c.Request("POST", std::string("/v1/monitor/drift/reference") + params);
  ASSERT_EQ(r.status, 200) << r.body;
  json set = json::parse(r.body);
  EXPECT_EQ(set["monitors"][0]["reference"]["source"], "window");
  EXPECT_GE(set["monitors"][0]["reference"]["rows"].get<int>(), 800);

  for (int i = 0; i < 600; ++i) Search(c, i % 2 ? "interior paint" : "exterior paint primer");
  json report = Evaluate(server.port());
  const json& term = Feature(report, "homedepot/query_terms", "query_term");
  EXPECT_TRUE(term["drifted"]) << term.dump();
  EXPECT_EQ(c.Request("POST", "/v1/monitor/drift/reference?model=nope&start=1&end=2").status, 404);
  EXPECT_EQ(c.Request("POST", "/v1/monitor/drift/reference?model=homedepot/search").status, 400);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch
