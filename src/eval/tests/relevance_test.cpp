#include "eval/relevance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "support/test_server.h"

namespace shelfwatch::eval {
namespace {

JudgedQuery Judged() {
  JudgedQuery q;
  q.id = 5;
  q.gains = {{"a", 2.0}, {"b", 1.0}, {"c", 0.5}, {"d", 0.0}};
  return q;
}

TEST(RelevanceTest, NdcgMatchesHandComputation) {
  JudgedQuery q = Judged();
  // Ideal: a(2), b(1), c(0.5) -> 2/log2(2) + 1/log2(3) + 0.5/log2(4)
  double idcg = 2.0 + 1.0 / std::log2(3.0) + 0.5 / 2.0;
  // Ranking: x (unjudged), c, a -> 0 + 0.5/log2(3) + 2/log2(4)
  double dcg = 0.5 / std::log2(3.0) + 2.0 / 2.0;
  EXPECT_NEAR(NdcgAt({"x", "c", "a"}, q, 10), dcg / idcg, 1e-12);
  EXPECT_NEAR(NdcgAt({"a", "b", "c"}, q, 10), 1.0, 1e-12);
  EXPECT_NEAR(NdcgAt({"x", "a"}, q, 1), 0.0, 1e-12);  // cut at k
}

TEST(RelevanceTest, MrrAndRecallUseRelevanceAtLeastTwo) {
  JudgedQuery q = Judged();  // relevant (gain >= 1): a, b
  EXPECT_DOUBLE_EQ(ReciprocalRankAt({"c", "x", "b"}, q, 10), 1.0 / 3);
  EXPECT_DOUBLE_EQ(ReciprocalRankAt({"c", "d"}, q, 10), 0.0);
  EXPECT_DOUBLE_EQ(RecallAt({"b", "c"}, q, 100), 0.5);
  EXPECT_DOUBLE_EQ(RecallAt({"b", "a"}, q, 1), 0.5);
}

TEST(RelevanceTest, SummaryAveragesOverQueriesWithGainOnly) {
  RelevanceAccumulator acc;
  JudgedQuery judged = Judged();
  JudgedQuery unjudged;
  unjudged.id = 10;
  acc.Add(judged, {"a", "b", "c"}, 3);
  acc.Add(unjudged, {}, 0);
  RelevanceSummary s = acc.Summary();
  EXPECT_EQ(s.queries, 2u);
  EXPECT_EQ(s.queries_with_gain, 1u);
  EXPECT_DOUBLE_EQ(s.ndcg_at_10, 1.0);
  EXPECT_DOUBLE_EQ(s.zero_result_rate, 0.5);
  EXPECT_EQ(s.ToLine(), "ndcg@10=1.0000 mrr@10=1.0000 recall@100=1.0000 zero_result_rate=0.5000");
}

TEST(RelevanceTest, HomeDepotSplitFollowsTheConvention) {
  auto test = LoadJudgedQueries(testing::DataPath("homedepot/queries.csv"), testing::DataPath("homedepot/qrels.csv"),
                                Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  EXPECT_EQ(test->size(), 2359u);
  for (const auto& q : *test) EXPECT_EQ(q.id % 5, 0);
  auto train = LoadJudgedQueries(testing::DataPath("homedepot/queries.csv"), testing::DataPath("homedepot/qrels.csv"),
                                 Split::kTrain);
  ASSERT_TRUE(train.ok());
  EXPECT_EQ(train->size() + test->size(), 11795u);
  // Query 1 "angle bracket" judged product 100001 with relevance 3 -> gain 2.
  EXPECT_EQ((*train)[0].text, "angle bracket");
  EXPECT_DOUBLE_EQ((*train)[0].gains.at("100001"), 2.0);
}

TEST(RelevanceTest, MalformedQrelsAreRejectedWithLine) {
  std::string dir = testing::MakeTempDir("shelfwatch-eval");
  std::ofstream(dir + "/q.csv") << "query_id,query\n5,drill\n";
  std::ofstream(dir + "/r.csv") << "query_id,product_id,relevance\n5,1,high\n";
  auto r = LoadJudgedQueries(dir + "/q.csv", dir + "/r.csv", Split::kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("r.csv:2"), std::string::npos) << r.status().message();
  EXPECT_FALSE(ParseSplit("validation").ok());
}

}  // namespace
}  // namespace shelfwatch::eval
