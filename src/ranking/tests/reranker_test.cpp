// Model repository round trip: what training writes is what serving loads, a model trained on
// another feature set is refused, contributions explain the score.
#include "ranking/reranker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ranking/tests/synthetic.h"
#include "ranking/trainer.h"
#include "support/shared_set_up.h"
#include "support/test_server.h"

namespace shelfwatch::ranking {
namespace {

namespace fs = std::filesystem;

class RerankerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_set_up_.Run(&SetUpShared)) << "the suite's shared set-up failed (in the first test run)";
  }
  static inline ::shelfwatch::testing::SharedSetUp shared_set_up_;
  // Run once per process by the first test's SetUp (support/shared_set_up.h).
  static void SetUpShared() {
    task_ = synthetic::MakeSyntheticTask(40).release();
    RankerTrainingOptions options;
    options.candidates = 10;
    options.trees = 10;
    options.depth = 3;
    options.validation_share = 0;
    options.objectives = {"rank:ndcg"};
    options.nthread = 1;
    auto trained = TrainRanker(task_->index, task_->catalog, *task_->extractor, task_->queries, options);
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    trained_ = new TrainedRanker(*trained);
  }
  static void TearDownTestSuite() {
    delete task_;
    delete trained_;
  }
  // Feature rows of the first query's candidates.
  static std::vector<float> SomeRows() {
    std::vector<Candidate> cands = {{0, 3.0f, 0}, {1, 2.0f, 1}, {2, 1.0f, 2}};
    std::vector<float> x(cands.size() * kNumFeatures);
    task_->extractor->Extract(task_->queries[0].text, cands, {}, x.data());
    return x;
  }
  static synthetic::SyntheticTask* task_;
  static TrainedRanker* trained_;
};
synthetic::SyntheticTask* RerankerTest::task_ = nullptr;
TrainedRanker* RerankerTest::trained_ = nullptr;

TEST_F(RerankerTest, WrittenVersionLoadsWithTheSameScoresAndConfig) {
  const std::string dir = shelfwatch::testing::MakeTempDir("ranker") + "/rank";
  auto v1 = WriteRankerVersion(dir, *trained_, task_->index->options());
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  auto v2 = WriteRankerVersion(dir, *trained_, task_->index->options());
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(fs::path(*v1).filename(), "1");
  EXPECT_EQ(fs::path(*v2).filename(), "2");
  EXPECT_EQ(ListVersions(dir), (std::vector<int64_t>{1, 2}));
  for (const char* f : {"model.json", "config.yaml", "features.txt", "training.yaml"}) {
    EXPECT_TRUE(fs::exists(fs::path(*v2) / f)) << f;
  }
  std::ifstream config(fs::path(*v2) / "config.yaml");
  std::string text((std::istreambuf_iterator<char>(config)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("kind: xgboost"), std::string::npos);
  EXPECT_NE(text.find("dims: [-1, " + std::to_string(static_cast<int>(kNumFeatures)) + "]"), std::string::npos) << text;

  auto latest = Reranker::Load(dir);  // the model directory: its highest version
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ((*latest)->version(), 2);
  EXPECT_EQ((*latest)->candidates(), 10u);
  auto in_memory = Reranker::FromJson(trained_->model_json);
  ASSERT_TRUE(in_memory.ok());
  const std::vector<float> x = SomeRows();
  std::vector<float> a, b;
  ASSERT_TRUE((*latest)->Score(x, &a).ok());
  ASSERT_TRUE((*in_memory)->Score(x, &b).ok());
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a, b);
  fs::remove_all(fs::path(dir).parent_path());
}

TEST_F(RerankerTest, RefusesAModelTrainedOnOtherFeatures) {
  const std::string dir = shelfwatch::testing::MakeTempDir("ranker");
  auto v = WriteRankerVersion(dir, *trained_, task_->index->options());
  ASSERT_TRUE(v.ok());
  {
    std::ofstream names(fs::path(*v) / "features.txt", std::ios::trunc);
    for (std::string_view n : FeatureNames()) names << (n == "phrase_match" ? "exact_match" : n) << "\n";
  }
  auto renamed = Reranker::Load(*v);
  EXPECT_EQ(renamed.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(renamed.status().message().find("exact_match"), std::string::npos) << renamed.status().message();
  {
    std::ofstream names(fs::path(*v) / "features.txt", std::ios::trunc);
    for (size_t i = 0; i + 1 < FeatureNames().size(); ++i) names << FeatureNames()[i] << "\n";
  }
  EXPECT_EQ(Reranker::Load(*v).status().code(), ErrorCode::kFailedPrecondition);
  fs::remove(fs::path(*v) / "features.txt");
  EXPECT_EQ(Reranker::Load(*v).status().code(), ErrorCode::kNotFound);
  {
    // Restore the names, then break the model file.
    std::ofstream names(fs::path(*v) / "features.txt");
    for (std::string_view n : FeatureNames()) names << n << "\n";
    std::ofstream model(fs::path(*v) / "model.json", std::ios::trunc);
    model << "{\"learner\": 1";
  }
  EXPECT_EQ(Reranker::Load(*v).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(Reranker::Load(dir + "/nothing").status().code(), ErrorCode::kNotFound);
  fs::remove_all(dir);
}

TEST_F(RerankerTest, PopularityPriorsTravelWithTheModel) {
  TrainedRanker with_priors = *trained_;
  with_priors.priors = {{"rel0", 3.0f}, {"short1", 1.0f}, {"gone,\"quoted\"", 5.0f}};
  const std::string dir = shelfwatch::testing::MakeTempDir("ranker");
  auto v = WriteRankerVersion(dir, with_priors, task_->index->options());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto model = Reranker::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE((*model)->has_priors());
  const std::vector<float> priors = (*model)->PriorsFor(task_->catalog);
  ASSERT_EQ(priors.size(), task_->catalog.size());
  float total = 0;
  for (float p : priors) total += p;
  EXPECT_FLOAT_EQ(total, 4.0f);  // the product missing from the catalog is skipped
  EXPECT_FLOAT_EQ(priors[*task_->catalog.Find("rel0")], 3.0f);
  EXPECT_FLOAT_EQ(priors[*task_->catalog.Find("short1")], 1.0f);
  auto plain = Reranker::FromJson(trained_->model_json);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->has_priors());
  EXPECT_TRUE((*plain)->PriorsFor(task_->catalog).empty());
  fs::remove_all(dir);
}

TEST_F(RerankerTest, ContributionsSumToTheScore) {
  auto model = Reranker::FromJson(trained_->model_json);
  ASSERT_TRUE(model.ok());
  const std::vector<float> x = SomeRows();
  std::vector<float> scores, contribs;
  ASSERT_TRUE((*model)->Score(x, &scores).ok());
  ASSERT_TRUE((*model)->Contributions(x, &contribs).ok());
  ASSERT_EQ(contribs.size(), 3u * (kNumFeatures + 1));
  for (size_t r = 0; r < 3; ++r) {
    float sum = 0;
    for (size_t f = 0; f <= kNumFeatures; ++f) sum += contribs[r * (kNumFeatures + 1) + f];
    EXPECT_NEAR(sum, scores[r], 1e-4f) << r;
  }
  std::vector<float> partial;
  EXPECT_EQ((*model)->Score(std::span<const float>(x.data(), 5), &partial).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace shelfwatch::ranking
