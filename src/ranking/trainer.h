// Training a LambdaMART re-ranker (XGBoost 1.7 rank:ndcg / rank:pairwise; Burges, "From
// RankNet to LambdaRank to LambdaMART: An Overview", MSR-TR-2010-82) on judged queries, with
// the serving feature code (features.h), and writing it as a model repository version.
//
// Candidates are the BM25 top N of each query, exactly as serving retrieves them; labels are
// the judged gains (relevance - 1, unjudged 0, eval/relevance.h). Groups with no positive
// label teach a ranker nothing and are dropped. A validation share of the given queries
// (chosen by a hash of the query id, so it is stable across runs) picks the objective and the
// number of trees by NDCG@10 against the full judgments; the final model is then refitted on
// every given query. Callers pass TRAIN queries only (query_id % 5 != 0): TEST stays unseen.
//
// Thread-safety: TrainRanker may run concurrently with readers of the index and catalog.
// Cost: O(queries x candidates) feature rows (kNumFeatures floats each) in memory, plus
// XGBoost's training, O(trees x rows x features) with the hist method. Home Depot TRAIN, 100
// candidates (894k rows), 300 trees of depth 6, two threads: 3-4 minutes per objective,
// about 600 MB peak.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "eval/relevance.h"
#include "ranking/candidates.h"
#include "ranking/features.h"
#include "retrieval/index.h"

namespace shelfwatch::ranking {

struct RankerTrainingOptions {
  uint32_t candidates = 100;  // BM25 top N per query, the list the model re-ranks
  // When set, candidates come from it (BM25 + vector top N, fused), exactly as the serving
  // pipeline generates them, and `candidates` is ignored.
  std::shared_ptr<const CandidateGenerator> generator;
  // Cross-fitting: when set (one generator per fold, each bound to an embedding trained
  // without that fold's queries), a query of fold CrossFitFold(id, n) takes its candidates and
  // vector features from fold_generators[fold]. Without it, the embedding has seen the very
  // queries the ranker learns from, and the ranker learns to trust vector similarity more than
  // it deserves on unseen queries (stacking leakage; Wolpert 1992, "Stacked generalization").
  std::vector<std::shared_ptr<const CandidateGenerator>> fold_generators;
  int trees = 300;
  int depth = 6;
  double eta = 0.1;
  // Tried in order; the best by validation NDCG@10 wins (ties keep the earlier).
  std::vector<std::string> objectives = {"rank:ndcg", "rank:pairwise"};
  double validation_share = 0.2;  // 0: no validation; first objective, all trees
  int checkpoint = 25;            // trees between validation measurements
  int nthread = 0;                // XGBoost training threads; 0: all cores
  // Fill the popularity feature with a judgment prior: how many of the given queries judged
  // the product (any relevance), i.e. how often the shop's engine of the time exposed it to
  // raters. Each query sees the count without its own judgments (leave-one-out), which is
  // what an unseen query sees at serving time. The counts ship with the model (priors.csv).
  bool judgment_prior = false;
  std::function<void(std::string_view)> log;  // progress lines; may be empty
};

struct TrainedRanker {
  std::string trained_on = "judged queries";  // or where the feedback came from
  std::string model_json;   // XGBoost JSON model
  std::string objective;
  int trees = 0;
  int depth = 0;
  double eta = 0;
  uint32_t candidates = 0;
  // The candidate lists it was trained on (equal to `candidates` and 0 without a generator)
  // and the embedding model version behind the vector list ("" without one).
  uint32_t lexical_candidates = 0;
  uint32_t vector_candidates = 0;
  std::string embedding_model;
  double validation_ndcg = 0;       // NDCG@10 of the re-ranked candidates (validation queries)
  double validation_bm25_ndcg = 0;  // NDCG@10 of BM25 on the same queries (of the served order
                                    // for feedback lists)
  size_t train_queries = 0;         // queries with a positive candidate used for fitting
  size_t validation_queries = 0;    // queries with a positive gain that were measured
  size_t rows = 0;
  double seconds = 0;
  std::vector<std::pair<std::string, float>> priors;  // product id -> prior (judgment_prior)
  // The drift reference (model_drift.h): the validation queries' candidate rows
  // (rows x kNumFeatures) and their scores by the chosen model fitted without those queries;
  // without validation, every row scored by the final model.
  std::vector<float> reference_features;
  std::vector<float> reference_scores;
};

// Whether a query belongs to the validation share (a hash of its id).
bool InValidation(int64_t query_id, double share);
// The cross-fitting fold of a query, 0 .. folds-1 (another hash of its id than InValidation's,
// so folds and the validation share are independent).
uint32_t CrossFitFold(int64_t query_id, uint32_t folds);

// The BM25 top `n` for analysed query terms, as serving retrieves them.
std::vector<Candidate> LexicalCandidates(retrieval::Searcher& searcher, std::span<const std::string> terms, uint32_t n);

// Errors: kInvalidArgument for bad options or when no query has a positive candidate;
// kInternal when XGBoost fails.
Result<TrainedRanker> TrainRanker(std::shared_ptr<const retrieval::InvertedIndex> index, const catalog::Catalog& catalog,
                                  const FeatureExtractor& extractor, const std::vector<eval::JudgedQuery>& queries,
                                  const RankerTrainingOptions& options);

// Writes `ranker` as the next version under `model_dir` (created if missing): model.json,
// config.yaml (model_config.h format), features.txt, training.yaml and, with priors,
// priors.csv (product_id,prior), written to a hidden
// directory first and renamed into place, so a repository poller never sees half a version.
// Returns the version directory.
// One request's list from `shelfwatch export training-data`: the ranker features the served
// log kept for the items it returned (rank order) and the feedback each received.
struct FeedbackList {
  std::string request_id;
  std::vector<float> features;  // items x kNumFeatures, row-major
  std::vector<float> gains;     // per item: 0 no event or only an impression, 1 click,
                                // 2 add to cart, 3 purchase
};

// Learning from feedback instead of judgments: the same LambdaMART fitting, validation (a
// stable hash of the request id picks validation_share of the lists; NDCG@10 with gains
// 2^g - 1 against the order the lists were served in) and drift reference as TrainRanker.
// Lists without a positive gain teach the fit nothing and are left out of it (they stay in the
// drift reference: they are traffic too). The candidate settings of `out` (which lists the
// model re-ranks when served) are the caller's to set. Errors: kInvalidArgument for bad
// options, rows that are not kNumFeatures wide, or no list with a positive gain.
Result<TrainedRanker> TrainRankerOnFeedback(const std::vector<FeedbackList>& lists, const RankerTrainingOptions& options);

// Writes drift_reference.bin (model_drift.h) beside the model when the ranker has reference rows.
Result<std::string> WriteRankerVersion(const std::string& model_dir, const TrainedRanker& ranker,
                                       const retrieval::IndexOptions& index_options);

}  // namespace shelfwatch::ranking
