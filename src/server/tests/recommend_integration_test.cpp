// /recommend through the real binary on the real Taobao events: every kind of request gets a
// useful answer, bad input a clear 4xx, a click posted to /v1/events changes the next answer,
// and recommendations are monitored like searches.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/shared_set_up.h"
#include "support/test_server.h"

namespace shelfwatch {
namespace {

using json = nlohmann::json;
using testing::Get;
using testing::HttpClient;
using testing::TestServer;

class TaobaoRecommendations : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_set_up_.Run(&SetUpShared)) << "the suite's shared set-up failed (in the first test run)";
  }
  static inline ::shelfwatch::testing::SharedSetUp shared_set_up_;
  // Run once per process by the first test's SetUp (support/shared_set_up.h).
  static void SetUpShared() {
    dir_ = new std::string(testing::MakeTempDir("sw-rec"));
    std::string events = testing::DataPath("taobao/user_behavior.csv");
    server_ = new TestServer({"--catalog", "taobao=" + events + ",format=events", "--recommender",
                              "taobao=" + events + ",tune=false", "--data-dir", *dir_});
    ASSERT_TRUE(server_->started()) << server_->Log();
    // Generous: an AddressSanitizer build under a full parallel ctest trains the recommender for over a minute.
    ASSERT_TRUE(server_->WaitReady(240000)) << server_->Log();
  }
  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static json Recommend(const std::string& params, int expect = 200) {
    auto r = Get(server_->port(), "/v1/catalogs/taobao/recommend?" + params);
    EXPECT_EQ(r.status, expect) << params << " -> " << r.body;
    return r.body.empty() ? json() : json::parse(r.body);
  }
  static std::set<std::string> Ids(const json& j) {
    std::set<std::string> out;
    for (const auto& r : j["results"]) out.insert(r["id"].get<std::string>());
    return out;
  }
  static TestServer* server_;
  static std::string* dir_;
};
TestServer* TaobaoRecommendations::server_ = nullptr;
std::string* TaobaoRecommendations::dir_ = nullptr;

TEST_F(TaobaoRecommendations, EveryKindOfRequestGetsAFullListWithReasons) {
  // The catalog is the events file's distinct items.
  json cat = json::parse(Get(server_->port(), "/v1/catalogs/taobao").body);
  EXPECT_EQ(cat["products"], 55233);

  json user = Recommend("user=1&k=10");
  EXPECT_TRUE(user["personalised"]);
  EXPECT_EQ(user["results"].size(), 10u);
  EXPECT_EQ(user["request_id"].get<std::string>().size(), 36u);
  json cold = Recommend("k=10");
  EXPECT_FALSE(cold["personalised"]);
  EXPECT_EQ(cold["results"].size(), 10u);  // never empty while the catalog is not
  json item = Recommend("item=2268318&k=5");
  EXPECT_EQ(item["results"].size(), 5u);
  for (const auto& r : item["results"]) {
    EXPECT_NE(r["id"], "2268318");  // never the item being looked at
    EXPECT_FALSE(r["reason"].get<std::string>().empty());
    EXPECT_FALSE(r["category"].get<std::string>().empty());
  }
  json unknown = Recommend("user=no-such-user&k=5");
  EXPECT_TRUE(unknown["unknown_user"]);
  EXPECT_EQ(unknown["results"].size(), 5u);
  json session = Recommend("items=2268318,2333346&k=5");
  EXPECT_EQ(session["results"].size(), 5u);

  // Excluding what the user has seen removes their history from the answer.
  json all = Recommend("user=1&k=50");
  json unseen = Recommend("user=1&k=50&exclude=seen");
  std::set<std::string> history;
  for (const auto& r : all["results"]) {
    if (r["reason"] == "your_history") history.insert(r["id"].get<std::string>());
  }
  ASSERT_FALSE(history.empty());
  for (const auto& id : Ids(unseen)) EXPECT_EQ(history.count(id), 0u) << id;
}

TEST_F(TaobaoRecommendations, BadInputIsAClearClientError) {
  EXPECT_EQ(Recommend("k=0", 400)["error"]["code"], "invalid_argument");
  Recommend("k=100000", 400);
  Recommend("k=abc", 400);
  Recommend("exclude=everything", 400);
  Recommend("item=" + std::string(300, 'x'), 400);
  auto r = Get(server_->port(), "/v1/catalogs/nope/recommend?k=3");
  EXPECT_EQ(r.status, 404);
}

TEST_F(TaobaoRecommendations, AClickPostedAsAnEventChangesTheNextAnswer) {
  // A new shopper looks at one item; then clicks another recommended beside it.
  json before = Recommend("item=2268318&k=10");
  std::string rid = before["request_id"];
  std::string clicked = before["results"][3]["id"];
  json fresh = Recommend("user=fresh-shopper&k=10");
  EXPECT_FALSE(fresh["personalised"]);
  json events = json::array({{{"type", "click"}, {"request_id", rid}, {"item_id", clicked},
                              {"user_id", "fresh-shopper"}, {"session_id", "s-fresh"}}});
  HttpClient c(server_->port());
  auto ack = c.Request("POST", "/v1/events", events.dump());
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(json::parse(ack.body)["attributed"], 1);
  // Within a second the shopper is known: the answer is personalised around the click.
  json after = Recommend("user=fresh-shopper&k=10");
  EXPECT_TRUE(after["personalised"]) << after.dump();
  EXPECT_NE(Ids(after), Ids(fresh));

  // Recommendations are monitored like searches: per endpoint, with coverage.
  auto metrics = Get(server_->port(), "/metrics").body;
  EXPECT_NE(metrics.find(R"(shelfwatch_served_requests_total{catalog="taobao",endpoint="recommend",variant="default"})"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(shelfwatch_feedback_events_total{catalog="taobao",endpoint="recommend",variant="default",type="click"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(shelfwatch_recommendation_catalog_coverage{catalog="taobao"})"), std::string::npos);
  json drift = json::parse(Get(server_->port(), "/v1/monitor/drift?evaluate=true&model=taobao/recommend").body);
  ASSERT_EQ(drift["monitors"].size(), 1u);
  EXPECT_EQ(drift["monitors"][0]["features"].size(), 5u);
  EXPECT_GT(drift["monitors"][0]["current_rows"].get<int>() + drift["monitors"][0]["reference"]["rows"].get<int>(), 0);
}

// Deploying recommender models: `train recommender` writes a new set of versions into the
// repository a server reads; the server swaps them in under load without a failed request, the
// answers name the new versions, and what users did before the swap still counts.
TEST(RecommenderDeploy, ANewTrainingRunIsSwappedInUnderLoadAndHistoriesCarryOver) {
  const std::string dir = testing::MakeTempDir("sw-rec-deploy");
  const std::string events = testing::DataPath("taobao/user_behavior.csv");
  const std::string repo = dir + "/models";
  std::string printed;
  ASSERT_EQ(testing::RunCommand({SHELFWATCH_BINARY, "train", "recommender", "--events", events, "--out", repo, "--no-tune"},
                                &printed),
            0)
      << printed;
  TestServer server({"--catalog", "taobao=" + events + ",format=events", "--recommender",
                     "taobao=" + events + ",models=" + repo, "--model-poll-interval", "200ms", "--data-dir",
                     dir + "/data"});
  ASSERT_TRUE(server.WaitReady(60000)) << server.Log();
  auto recommend = [&](const std::string& params) {
    auto r = Get(server.port(), "/v1/catalogs/taobao/recommend?" + params);
    return std::make_pair(r.status, r.body);
  };
  auto [status, body] = recommend("user=1&k=10");
  ASSERT_EQ(status, 200) << body;
  EXPECT_NE(json::parse(body)["model_versions"].get<std::string>().find("popularity/1"), std::string::npos) << body;

  // A shopper the models never saw, known only from a click posted before the swap.
  auto [s0, b0] = recommend("item=2268318&k=10");
  ASSERT_EQ(s0, 200);
  const json page = json::parse(b0);
  json click = json::array({{{"type", "click"}, {"request_id", page["request_id"]}, {"item_id", page["results"][2]["id"]},
                             {"user_id", "deploy-shopper"}}});
  HttpClient c(server.port());
  ASSERT_EQ(c.Request("POST", "/v1/events", click.dump()).status, 200);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread load([&] {
    while (!stop.load()) {
      auto r = Get(server.port(), "/v1/catalogs/taobao/recommend?user=1&k=20");
      (r.status == 200 ? ok : failed).fetch_add(1);
    }
  });
  ASSERT_EQ(testing::RunCommand({SHELFWATCH_BINARY, "train", "recommender", "--events", events, "--out", repo, "--no-tune"},
                                &printed),
            0)
      << printed;
  std::string versions;
  // Under a loaded machine (the whole suite in parallel) the load and swap take seconds.
  for (int i = 0; i < 600 && versions.find("popularity/2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto [s2, b2] = recommend("user=1&k=10");
    if (s2 == 200) versions = json::parse(b2)["model_versions"].get<std::string>();
  }
  stop = true;
  load.join();
  EXPECT_NE(versions.find("popularity/2"), std::string::npos) << versions << "\n" << server.Log();
  EXPECT_NE(versions.find("covisit/2"), std::string::npos) << versions;  // the whole set, not half of it
  EXPECT_EQ(failed.load(), 0) << server.Log();
  EXPECT_GT(ok.load(), 0);
  const auto metrics = Get(server.port(), "/metrics").body;
  EXPECT_NE(metrics.find(R"(shelfwatch_recommender_reloads_total{catalog="taobao",outcome="swapped"} 1)"),
            std::string::npos)
      << server.Log();
  // The shopper's click outlived the swap: the new models personalise around it.
  auto [s3, b3] = recommend("user=deploy-shopper&k=10");
  ASSERT_EQ(s3, 200);
  EXPECT_TRUE(json::parse(b3)["personalised"]) << b3;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch
