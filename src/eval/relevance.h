// Offline relevance evaluation: judged queries, the project's train/test split, and the
// ranking metrics every search issue reports (NDCG@k, MRR@k, Recall@k, zero-result rate).
//
// Convention (../shared/data/README.md): gain = relevance - 1 (0..2 on Home Depot's 1..3
// scale); unjudged products have gain 0; the ideal DCG comes from the judged products of the
// query; NDCG is averaged over queries with at least one positive gain. A query is TEST when
// query_id % 5 == 0. DCG uses linear gains and log2(rank + 1) discounts (Järvelin &
// Kekäläinen, "Cumulated gain-based evaluation of IR techniques", TOIS 2002).
// MRR and Recall use binary relevance: a product is relevant when its gain is at least
// `relevant_gain` (default 1.0, i.e. human relevance >= 2 of 3).
// Thread-safety: functions are pure; a RelevanceAccumulator is not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace shelfwatch::eval {

enum class Split { kTrain, kTest, kAll };

// "train" | "test" | "all".
Result<Split> ParseSplit(std::string_view text);
// The Home Depot convention: TEST when query_id % 5 == 0.
bool InSplit(int64_t query_id, Split split);

struct JudgedQuery {
  int64_t id = 0;
  std::string text;
  std::unordered_map<std::string, double> gains;  // product id -> gain (relevance - 1)
};

// Reads queries.csv (query_id,query; the column may also be called search_term) and keeps the
// queries of `split`, in file order, with no judgments.
Result<std::vector<JudgedQuery>> LoadQueries(const std::string& queries_path, Split split);
// Reads queries.csv (query_id,query) and qrels.csv (query_id,product_id,relevance) and keeps
// the queries of `split`, in file order. Queries without judgments are kept (gains empty).
Result<std::vector<JudgedQuery>> LoadJudgedQueries(const std::string& queries_path,
                                                   const std::string& qrels_path, Split split);

double DcgAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k);
// NDCG@k; 0 when the query has no positive gain.
double NdcgAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k);
double ReciprocalRankAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k,
                        double relevant_gain = 1.0);
// Fraction of the query's relevant products found in the top k; 0 when it has none.
double RecallAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k,
                double relevant_gain = 1.0);

struct RelevanceSummary {
  size_t queries = 0;            // evaluated queries
  size_t queries_with_gain = 0;  // queries with >= 1 positive gain (NDCG denominator)
  size_t queries_with_relevant = 0;  // queries with >= 1 relevant product (MRR/Recall denominator)
  double ndcg_at_10 = 0;
  double mrr_at_10 = 0;
  double recall_at_100 = 0;
  double zero_result_rate = 0;   // over all evaluated queries

  // "ndcg@10=0.4123 mrr@10=0.3456 recall@100=0.7890 zero_result_rate=0.0042"
  std::string ToLine() const;
};

class RelevanceAccumulator {
 public:
  // `ranked_ids`: the system's ranking (at least the top 100 when available).
  void Add(const JudgedQuery& q, const std::vector<std::string>& ranked_ids, uint64_t total_hits);
  RelevanceSummary Summary() const;

 private:
  RelevanceSummary sums_;
};

}  // namespace shelfwatch::eval
