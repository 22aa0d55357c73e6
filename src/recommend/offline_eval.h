// Offline evaluation of recommenders with the time split of ../shared/data/README.md.
//
// Events before the cutoff are TRAIN; each user with events at or after it (and before
// `end`) is a test case whose recommendations come from the TRAIN history only.
// - main protocol: ground truth = every distinct item the user touches in TEST, repeats of
//   TRAIN items included; recommendations may contain seen items.
// - discovery protocol: ground truth = TEST items the user never touched in TRAIN; seen
//   items are excluded from the recommendations.
// Metrics, averaged over cases with a non-empty ground truth:
//   Recall@K = hits in top K / min(K, |truth|)  (the capped recall of Liang et al. 2018,
//     "Variational Autoencoders for Collaborative Filtering"; this definition reproduces the
//     README's peer figures, e.g. own-history recency 0.155);
//   NDCG@10 with binary gains, ideal DCG over min(10, |truth|) hits; HitRate@K;
//   coverage = distinct recommended items / items in TRAIN;
//   popularity bias = mean popularity percentile (by TRAIN interaction count, 1.0 = the most
//   popular item) of the recommended items.
// Thread-safety: pure functions over immutable inputs. Cost: O(cases x recommender cost).
#pragma once

#include <functional>
#include <string>

#include "recommend/model.h"

namespace shelfwatch::recommend {

enum class Protocol { kMain, kDiscovery };
std::string_view ProtocolName(Protocol p);

struct EvalCase {
  uint32_t user = 0;
  std::vector<uint32_t> truth;  // distinct items
};

// `log` holds every event; cases are users with ground truth in [cutoff, end).
std::vector<EvalCase> BuildCases(const InteractionLog& log, int64_t cutoff, Protocol protocol,
                                 int64_t end = INT64_MAX);

struct RankingMetrics {
  double recall = 0;  // @k
  double ndcg10 = 0;
  double hit_rate = 0;  // @k
  double coverage = 0;
  double popularity_percentile = 0;
  size_t users = 0;
};

// Produces up to k item indices (log space) for a user's TRAIN history at time `now`;
// `exclude_seen` asks to leave out items of the history.
using OfflineRecommender =
    std::function<void(std::span<const ContextEvent> history, int64_t now, bool exclude_seen, size_t k,
                       std::vector<uint32_t>* out)>;

// `train` is the log before the cutoff (same dictionaries as the cases' log).
RankingMetrics Evaluate(const InteractionLog& train, const std::vector<EvalCase>& cases, Protocol protocol,
                        int64_t cutoff, size_t k, const OfflineRecommender& recommender);

// The metric arithmetic for one ranked list (exposed for tests).
struct CaseScore {
  double recall = 0, ndcg10 = 0, hit = 0;
};
CaseScore ScoreRanking(std::span<const uint32_t> ranked, std::span<const uint32_t> truth, size_t k);

}  // namespace shelfwatch::recommend
