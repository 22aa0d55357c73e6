// Training on a tiny synthetic task: the model must learn what BM25 gets wrong.
#include "ranking/trainer.h"

#include <gtest/gtest.h>

#include <map>

#include "ranking/reranker.h"
#include "ranking/tests/synthetic.h"
#include "text/analyzer.h"

namespace shelfwatch::ranking {
namespace {

TEST(TrainerTest, LearnsToPutTheRelevantProductFirst) {
  auto task = synthetic::MakeSyntheticTask(120);
  // Train on the first 80 queries, check on the 40 it never saw.
  std::vector<eval::JudgedQuery> train(task->queries.begin(), task->queries.begin() + 80);
  RankerTrainingOptions options;
  options.candidates = 10;
  options.trees = 20;
  options.depth = 3;
  options.eta = 0.3;
  options.checkpoint = 10;
  options.validation_share = 0.25;
  options.nthread = 1;
  auto trained = TrainRanker(task->index, task->catalog, *task->extractor, train, options);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  EXPECT_GT(trained->validation_ndcg, trained->validation_bm25_ndcg);
  EXPECT_GT(trained->validation_queries, 0u);
  EXPECT_LT(trained->validation_queries, 80u);
  auto model = Reranker::FromJson(trained->model_json);
  ASSERT_TRUE(model.ok()) << model.status().ToString();

  retrieval::Searcher searcher(task->index);
  int bm25_first = 0, ltr_first = 0;
  for (size_t i = 80; i < task->queries.size(); ++i) {
    std::vector<std::string> terms;
    text::ThreadLocalAnalyzer().Analyze(task->queries[i].text, &terms);
    std::vector<Candidate> cands = LexicalCandidates(searcher, terms, 10);
    ASSERT_GE(cands.size(), 2u);
    std::string relevant = "rel";
    relevant += std::to_string(i);
    if (task->catalog.product(cands[0].doc).id == relevant) ++bm25_first;
    ASSERT_TRUE((*model)->Rerank(*task->extractor, terms, &cands).ok());
    if (task->catalog.product(cands[0].doc).id == relevant) ++ltr_first;
  }
  EXPECT_EQ(bm25_first, 0);  // the task is built so that BM25 fails
  EXPECT_EQ(ltr_first, 40);
}

TEST(TrainerTest, RefusesBadOptionsAndUselessData) {
  auto task = synthetic::MakeSyntheticTask(4);
  RankerTrainingOptions options;
  options.trees = 0;
  auto bad = TrainRanker(task->index, task->catalog, *task->extractor, task->queries, options);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  options.trees = 5;
  options.objectives = {"reg:squarederror"};
  bad = TrainRanker(task->index, task->catalog, *task->extractor, task->queries, options);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  // Judgments that match no candidate: nothing to learn from.
  options.objectives = {"rank:ndcg"};
  options.validation_share = 0;
  std::vector<eval::JudgedQuery> unjudged = task->queries;
  for (auto& q : unjudged) q.gains = {{"nonexistent", 2.0}};
  bad = TrainRanker(task->index, task->catalog, *task->extractor, unjudged, options);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("relevant"), std::string::npos) << bad.status().message();
}

TEST(TrainerTest, JudgmentPriorCountsTheJudgmentsOfTheGivenQueries) {
  auto task = synthetic::MakeSyntheticTask(20);
  for (size_t i = 1; i < 5; ++i) task->queries[i].gains["rel0"] = 0.0;  // judged, irrelevant
  RankerTrainingOptions options;
  options.candidates = 10;
  options.trees = 3;
  options.validation_share = 0;
  options.objectives = {"rank:ndcg"};
  options.nthread = 1;
  auto plain = TrainRanker(task->index, task->catalog, *task->extractor, task->queries, options);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_TRUE(plain->priors.empty());
  options.judgment_prior = true;
  auto trained = TrainRanker(task->index, task->catalog, *task->extractor, task->queries, options);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  std::map<std::string, float> priors(trained->priors.begin(), trained->priors.end());
  EXPECT_EQ(priors.size(), 20u);  // rel0 .. rel19
  EXPECT_FLOAT_EQ(priors["rel0"], 5.0f);
  EXPECT_FLOAT_EQ(priors["rel7"], 1.0f);
}

TEST(TrainerTest, ValidationShareIsStableAndNearItsShare) {
  size_t in = 0;
  for (int64_t id = 1; id <= 10000; ++id) in += InValidation(id, 0.2) ? 1 : 0;
  EXPECT_GT(in, 1800u);
  EXPECT_LT(in, 2200u);
  EXPECT_EQ(InValidation(12345, 0.2), InValidation(12345, 0.2));
  EXPECT_FALSE(InValidation(12345, 0.0));
}

}  // namespace
}  // namespace shelfwatch::ranking
