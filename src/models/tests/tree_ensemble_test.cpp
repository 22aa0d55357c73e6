// The compiled tree evaluator against python's XGBoost predictions and against XGBoost's own
// predictor on rows with missing values.
#include "models/tree_ensemble.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "models/model_version.h"
#include "models_fixtures.h"

namespace shelfwatch::models {
namespace {

using namespace testing;  // NOLINT

TEST(TreeEnsembleTest, PredictionsEqualPythonXgboost) {
  const std::string json = ReadText(FixturePath("xgb_rank/model.json"));
  auto ensemble = TreeEnsemble::FromXgboostJson(json, 8);
  ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
  EXPECT_EQ(ensemble->trees(), 40u);
  const Expected e = LoadExpected("xgb_expected.json");
  std::vector<float> x;
  for (const auto& row : e.x) x.insert(x.end(), row.begin(), row.end());
  std::vector<float> out(e.x.size());
  ensemble->Predict(x.data(), e.x.size(), out.data());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], e.y[i], 1e-5) << i;
}

TEST(TreeEnsembleTest, AgreesWithXgboostOnMissingValuesAndAnyRowCount) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  WriteXgboostVersion(root, "compiled", 1);
  WriteXgboostVersion(root, "reference", 1, XgboostConfig(8, "xgboost: {nthread: 1, evaluator: xgboost}\n"));
  std::string reason;
  auto compiled = ModelVersion::Load("compiled", 1, root + "/compiled/1", metrics, &reason);
  auto reference = ModelVersion::Load("reference", 1, root + "/reference/1", metrics, &reason);
  ASSERT_TRUE(compiled.ok() && reference.ok()) << reason;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0, 1.5f);
  for (size_t rows : {1u, 7u, 8u, 9u, 100u}) {
    std::vector<std::vector<float>> x(rows, std::vector<float>(8));
    for (auto& row : x) {
      for (float& v : row) v = rng() % 5 == 0 ? std::nanf("") : normal(rng);
    }
    auto a = (*compiled)->Infer({Matrix("features", x)});
    auto b = (*reference)->Infer({Matrix("features", x)});
    ASSERT_TRUE(a.ok() && b.ok());
    for (size_t i = 0; i < rows; ++i) EXPECT_NEAR((*a)[0].fp32[i], (*b)[0].fp32[i], 1e-5) << rows << " rows, row " << i;
  }
}

TEST(TreeEnsembleTest, RefusesWhatItDoesNotEvaluate) {
  std::string json = ReadText(FixturePath("xgb_rank/model.json"));
  // Another objective's transform: left to XGBoost.
  const size_t at = json.find("\"rank:ndcg\"");
  ASSERT_NE(at, std::string::npos);
  std::string softmax = json;
  softmax.replace(at, 11, "\"multi:softprob\"");
  EXPECT_FALSE(TreeEnsemble::FromXgboostJson(softmax, 8).ok());
  // A split on a column the model's input does not have.
  EXPECT_EQ(TreeEnsemble::FromXgboostJson(json, 3).status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(TreeEnsemble::FromXgboostJson("{not json", 8).ok());
}

}  // namespace
}  // namespace shelfwatch::models
