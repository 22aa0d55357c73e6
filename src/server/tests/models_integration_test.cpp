// Model serving through the real binary: a model repository made by Debian's python3-xgboost,
// KServe v2 health, metadata and inference, the admin listing, a broken version refused while
// the good one keeps serving, unload and load.
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
using testing::HttpClient;
using testing::RunCommand;
using testing::TestServer;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

const char* kConfig = R"(kind: xgboost
max_batch_size: 64
inputs: [{name: features, dtype: FP32, dims: [8]}]
outputs: [{name: score, dtype: FP32, dims: [1]}]
warmup: {requests: 2}
)";

TEST(ModelServing, KServeV2InferenceAndTheAdminListing) {
  std::string dir = testing::MakeTempDir("sw-models");
  std::string fixtures = dir + "/fixtures";
  std::string out;
  int rc = RunCommand({"/usr/bin/python3", std::string(SHELFWATCH_SOURCE_DIR) + "/src/models/tests/fixtures/make_fixtures.py",
                       fixtures},
                      &out);
  if (rc != 0) GTEST_SKIP() << "python3-xgboost/python3-torch are needed to make the model fixture";
  std::filesystem::create_directories(dir + "/repo/ranker/1");
  std::filesystem::copy_file(fixtures + "/xgb_rank/model.json", dir + "/repo/ranker/1/model.json");
  Write(dir + "/repo/ranker/1/config.yaml", kConfig);

  TestServer server({"--catalog", "homedepot=" + testing::DataPath("homedepot/products.csv"), "--models",
                     dir + "/repo", "--model-poll-interval", "200ms"});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  HttpClient c(server.port());
  EXPECT_EQ(c.Request("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(c.Request("GET", "/v2/health/ready").status, 200);
  auto meta = c.Request("GET", "/v2/models/ranker");
  ASSERT_EQ(meta.status, 200) << meta.body << c.Request("GET", "/v1/admin/models").body;
  EXPECT_EQ(json::parse(meta.body)["name"], "ranker");

  // Python's own prediction on the same rows is the reference.
  json expected;
  std::ifstream(fixtures + "/xgb_expected.json") >> expected;
  json input = {{"inputs", json::array({{{"name", "features"},
                                         {"shape", json::array({2, 8})},
                                         {"datatype", "FP32"},
                                         {"data", json::array({expected["x"][0], expected["x"][1]})}}})}};
  auto infer = c.Request("POST", "/v2/models/ranker/infer", input.dump());
  ASSERT_EQ(infer.status, 200) << infer.body;
  json result = json::parse(infer.body);
  EXPECT_EQ(result["model_version"], "1");
  ASSERT_EQ(result["outputs"][0]["data"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(result["outputs"][0]["data"][i].get<double>(), expected["pred"][i].get<double>(), 1e-4);
  }
  auto bad = c.Request("POST", "/v2/models/ranker/infer", R"({"inputs":[{"name":"features","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_TRUE(json::parse(bad.body).contains("error"));

  // A broken version 2 is refused with its reason; version 1 keeps serving.
  Write(dir + "/repo/ranker/2/config.yaml", kConfig);
  Write(dir + "/repo/ranker/2/model.json", "{ this is not a model");
  json listing;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    listing = json::parse(c.Request("GET", "/v1/admin/models").body);
    if (listing["models"][0]["versions"].size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(listing["models"][0]["versions"].size(), 2u) << listing.dump();
  EXPECT_EQ(listing["models"][0]["versions"][1]["state"], "failed");
  EXPECT_FALSE(listing["models"][0]["versions"][1]["reason"].get<std::string>().empty());
  infer = c.Request("POST", "/v2/models/ranker/infer", input.dump());
  EXPECT_EQ(infer.status, 200);
  EXPECT_EQ(json::parse(infer.body)["model_version"], "1");
  auto metrics = c.Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("shelfwatch_model_load_failures_total{model=\"ranker\""), std::string::npos);

  // Unload: the model answers no more; load brings it back.
  EXPECT_EQ(c.Request("POST", "/v1/admin/models/ranker/unload").status, 200);
  EXPECT_NE(c.Request("POST", "/v2/models/ranker/infer", input.dump()).status, 200);
  EXPECT_EQ(c.Request("POST", "/v1/admin/models/ranker/load").status, 200);
  EXPECT_EQ(c.Request("POST", "/v2/models/ranker/infer", input.dump()).status, 200);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch
