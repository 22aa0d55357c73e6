// KServe v2 REST handlers and the admin listing, as JSON a generic client sees.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "models/inference_api.h"
#include "models_fixtures.h"

namespace shelfwatch::models {
namespace {

using namespace testing;  // NOLINT
namespace dom = simdjson::dom;

class InferenceApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TempRepository();
    WriteXgboostVersion(root_, "rank", 1);
    WriteTorchVersion(root_, "mlp", 3);
    WriteText(root_ + "/rank/2/config.yaml", XgboostConfig());  // model.json missing: fails
    RepositoryOptions options;
    options.root = root_;
    options.registry = &registry_;
    repo_ = std::make_unique<ModelRepository>(options);
    ASSERT_TRUE(repo_->Start().ok());
  }
  dom::element Parse(const ApiReply& r) {
    auto result = parser_.parse(r.body);
    EXPECT_EQ(result.error(), simdjson::SUCCESS) << r.body;
    return result.value_unsafe();
  }
  std::string InferBody(const std::vector<std::vector<float>>& rows, bool nested, const std::string& extra = "") {
    std::string data;
    for (const auto& row : rows) {
      std::string joined;
      for (float v : row) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g", v);  // round-trips a float exactly
        if (!joined.empty()) joined += ',';
        joined += buf;
      }
      if (!data.empty()) data += ",";
      if (nested) data += '[';
      data += joined;
      if (nested) data += ']';
    }
    return "{\"id\":\"req-7\",\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[" +
           std::to_string(rows.size()) + ",8],\"data\":[" + data + "]}]" + extra + "}";
  }

  std::string root_;
  monitor::Registry registry_;
  std::unique_ptr<ModelRepository> repo_;
  dom::parser parser_;
};

TEST_F(InferenceApiTest, HealthAndReadiness) {
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/health/live", "").status, 200);
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/health/ready", "").status, 200);
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/models/rank/ready", "").status, 200);
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/models/rank/versions/1/ready", "").status, 200);
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/models/rank/versions/2/ready", "").status, 400);  // failed
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/models/nope/ready", "").status, 404);
  ModelRepository unstarted({root_, 0, nullptr});
  EXPECT_EQ(HandleInferenceRequest(unstarted, "GET", "/health/ready", "").status, 400);
}

TEST_F(InferenceApiTest, ModelMetadata) {
  ApiReply r = HandleInferenceRequest(*repo_, "GET", "/models/mlp", "");
  ASSERT_EQ(r.status, 200) << r.body;
  dom::element doc = Parse(r);
  EXPECT_EQ(std::string_view(doc["name"]), "mlp");
  EXPECT_EQ(std::string_view(doc["platform"]), "pytorch_torchscript");
  EXPECT_EQ(std::string_view(doc["versions"].at(0)), "3");
  EXPECT_EQ(std::string_view(doc["inputs"].at(0)["datatype"]), "FP32");
  EXPECT_EQ(int64_t(doc["inputs"].at(0)["shape"].at(0)), -1);  // the batch dimension
  EXPECT_EQ(int64_t(doc["inputs"].at(0)["shape"].at(1)), 8);
  EXPECT_EQ(std::string_view(doc["outputs"].at(0)["name"]), "y");
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/models/mlp/versions/3", "").status, 200);
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "", "").status, 200);
}

TEST_F(InferenceApiTest, InferReturnsTheModelsPredictionsAsJsonTensors) {
  const Expected e = LoadExpected("xgb_expected.json");
  const std::vector<std::vector<float>> rows(e.x.begin(), e.x.begin() + 3);
  for (bool nested : {false, true}) {
    ApiReply r = HandleInferenceRequest(*repo_, "POST", "/models/rank/infer", InferBody(rows, nested));
    ASSERT_EQ(r.status, 200) << r.body;
    dom::element doc = Parse(r);
    EXPECT_EQ(std::string_view(doc["model_name"]), "rank");
    EXPECT_EQ(std::string_view(doc["model_version"]), "1");
    EXPECT_EQ(std::string_view(doc["id"]), "req-7");
    dom::element out = doc["outputs"].at(0);
    EXPECT_EQ(std::string_view(out["name"]), "score");
    EXPECT_EQ(std::string_view(out["datatype"]), "FP32");
    EXPECT_EQ(int64_t(out["shape"].at(0)), 3);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(double(out["data"].at(i)), e.y[i], 1e-5);
  }
}

TEST_F(InferenceApiTest, PredContribsAddsAnOutputThatSumsToTheScore) {
  const Expected e = LoadExpected("xgb_expected.json");
  ApiReply r = HandleInferenceRequest(*repo_, "POST", "/models/rank/versions/1/infer",
                                      InferBody({e.x[0]}, false, ",\"parameters\":{\"pred_contribs\":true}"));
  ASSERT_EQ(r.status, 200) << r.body;
  dom::element doc = Parse(r);
  const double score = double(doc["outputs"].at(0)["data"].at(0));
  dom::element contribs = doc["outputs"].at(1);
  EXPECT_EQ(std::string_view(contribs["name"]), "contributions");
  EXPECT_EQ(int64_t(contribs["shape"].at(1)), 9);
  double sum = 0;
  for (dom::element v : contribs["data"].get_array()) sum += double(v);
  EXPECT_NEAR(sum, score, 1e-4);
  // Asking for one output by name leaves the others out.
  r = HandleInferenceRequest(*repo_, "POST", "/models/rank/infer",
                             InferBody({e.x[0]}, false, ",\"outputs\":[{\"name\":\"score\"}]"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r)["outputs"].get_array().size(), 1u);
}

TEST_F(InferenceApiTest, ErrorsAreJsonWithTheRightStatus) {
  struct Case {
    const char* method;
    const char* path;
    std::string body;
    int status;
    const char* mentions;
  } cases[] = {
      {"POST", "/models/nope/infer", "{}", 404, "nope"},
      {"POST", "/models/rank/versions/2/infer", "{}", 503, "missing_file"},
      {"POST", "/models/rank/versions/9/infer", "{}", 404, "version 9"},
      {"POST", "/models/rank/infer", "{not json", 400, "not valid JSON"},
      {"POST", "/models/rank/infer", "{\"inputs\":[]}", 400, "takes 1 input"},
      {"POST", "/models/rank/infer",
       "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}", 400,
       "expects [-1, 8]"},
      {"POST", "/models/rank/infer",
       "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[1,8],\"data\":[1,2]}]}", 400,
       "2 values for shape [1, 8]"},
      {"POST", "/models/rank/infer",
       "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[1,1],\"data\":[\"a\"]}]}", 400,
       "non-number"},
      {"POST", "/models/rank/infer",
       "{\"inputs\":[{\"name\":\"other\",\"datatype\":\"FP32\",\"shape\":[1,8],\"data\":[1,2,3,4,5,6,7,8]}]}", 400,
       "missing input 'features'"},
      {"GET", "/models/rank/infer", "", 405, "POST"},
      {"POST", "/models/rank", "", 405, "GET"},
      {"GET", "/models/rank/versions/x", "", 400, "positive integer"},
      {"GET", "/nothing", "", 404, "unknown endpoint"},
  };
  for (const Case& c : cases) {
    ApiReply r = HandleInferenceRequest(*repo_, c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << r.body;
    dom::element doc = Parse(r);
    std::string_view error;
    ASSERT_EQ(doc["error"].get_string().get(error), simdjson::SUCCESS) << r.body;
    EXPECT_NE(error.find(c.mentions), std::string_view::npos) << error;
  }
  // More rows than max_batch_size (64) are refused, not split.
  std::string data;
  for (int i = 0; i < 65 * 8; ++i) data += (i ? ",1" : "1");
  ApiReply r = HandleInferenceRequest(
      *repo_, "POST", "/models/mlp/infer",
      "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[65,8],\"data\":[" + data + "]}]}");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("max_batch_size is 64"), std::string::npos) << r.body;
}

TEST_F(InferenceApiTest, AdminListingLoadAndUnload) {
  ApiReply r = HandleModelAdminRequest(*repo_, "GET", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, ModelsListingJson(*repo_));
  dom::element doc = Parse(r);
  dom::element mlp = doc["models"].at(0);
  EXPECT_EQ(std::string_view(mlp["name"]), "mlp");
  EXPECT_EQ(std::string_view(mlp["versions"].at(0)["state"]), "ready");
  dom::element rank = doc["models"].at(1);
  EXPECT_EQ(int64_t(rank["versions"].at(1)["version"]), 2);
  EXPECT_EQ(std::string_view(rank["versions"].at(1)["state"]), "failed");
  EXPECT_NE(std::string_view(rank["versions"].at(1)["reason"]).find("missing_file"), std::string_view::npos);

  r = HandleModelAdminRequest(*repo_, "POST", "/mlp/unload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string_view(Parse(r)["versions"].at(0)["state"]), "unloaded");
  EXPECT_EQ(HandleInferenceRequest(*repo_, "GET", "/models/mlp/ready", "").status, 400);
  r = HandleModelAdminRequest(*repo_, "POST", "/mlp/load");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string_view(Parse(r)["versions"].at(0)["state"]), "ready");
  EXPECT_EQ(HandleModelAdminRequest(*repo_, "POST", "/nope/load").status, 404);
  EXPECT_EQ(HandleModelAdminRequest(*repo_, "GET", "/mlp/load").status, 405);
  EXPECT_EQ(HandleModelAdminRequest(*repo_, "POST", "/mlp/explode").status, 404);
}

}  // namespace
}  // namespace shelfwatch::models
