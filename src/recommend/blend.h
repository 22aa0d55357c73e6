// Blending: own-history recency plus the trained models' candidates into one ranked list,
// each result carrying the reason a user could be shown ("your_history", "also_viewed", ...).
//
// Each source's candidate list is normalised by its best score, multiplied by the source's
// weight and summed per item; the reason is the source with the largest weighted share.
// Weights are tuned on a validation split carved from TRAIN (trainer.h), never on TEST.
// Thread-safety: functions are pure; BlendConfig is a value.
// Cost: O(total candidates) per request.
#pragma once

#include <array>
#include <memory>

#include "recommend/model.h"

namespace shelfwatch::recommend {

enum class Source : uint8_t { kHistory = 0, kCoVisit, kEase, kSessionKnn, kLive, kPopularInCategory, kTrending, kPopular };
inline constexpr size_t kBlendedSources = 4;  // history, covisit, ease, sknn carry weights
// "your_history" | "also_viewed" | "users_like_you" | "similar_sessions" | "viewed_together_now" |
// "popular_in_category" | "trending" | "popular"
std::string_view ReasonName(Source s);

struct SourcedCandidate {
  uint32_t item = kNoItem;
  float score = 0;
  Source source = Source::kPopular;
};

// The user's own items scored by EventWeighting (behaviour x recency), summed per item: the
// README's strongest simple baseline.
void ScoreOwnHistory(const ScoringContext& context, const EventWeighting& weighting, size_t n,
                     std::vector<Candidate>* out);

struct BlendConfig {
  std::array<float, kBlendedSources> weights{1.0f, 0.3f, 0.3f, 0.0f};  // by Source
  // Online co-visitation: fresher than the trained counts, so it outweighs them at equal
  // strength (a pattern shoppers show right now beats one from last week).
  float live_weight = 0.5f;
  EventWeighting history;
  uint32_t candidates_per_source = 100;

  Status Save(const std::string& version_dir) const;
  static Result<BlendConfig> Load(const std::string& version_dir);
};

// lists[s] holds the candidates of Source s (any may be empty). Appends the best n blended.
void Blend(const std::array<std::vector<Candidate>, kBlendedSources + 1>& lists, const BlendConfig& config,
           size_t n, std::vector<SourcedCandidate>* out);

// Adds online co-visitation candidates (Source::kLive) to a list already ranked with scores in
// (0, 1] (the reranker's): each gains live_weight x score / best live score, and its reason
// becomes viewed_together_now where that share outweighs what it had. Re-sorts, keeps n.
void MergeLive(std::span<const Candidate> live, float live_weight, size_t n, std::vector<SourcedCandidate>* ranked);

class RerankerModel;
struct ItemStat;

// Scores a context with the trained components (any may be null) and blends: the offline
// path used by evaluation and tuning (same item space for all components).
// With a reranker set, personal requests (a known history and no anchor item) are ranked by
// it over the own history and the components' candidates instead of the linear blend.
class BlendRecommender {
 public:
  BlendRecommender(BlendConfig config, const CandidateModel* covisit, const CandidateModel* ease,
                   const CandidateModel* sknn)
      : config_(config), models_{covisit, ease, sknn} {}
  void Recommend(const ScoringContext& context, size_t n, std::vector<SourcedCandidate>* out) const;
  const BlendConfig& config() const { return config_; }
  void set_config(const BlendConfig& c) { config_ = c; }
  // `stats`: the reranker's item statistics in this item space (RerankerModel::StatsFor);
  // both must outlive this object. nullptr switches the reranker off.
  void set_reranker(const RerankerModel* reranker, const std::vector<ItemStat>* stats) {
    reranker_ = reranker;
    stats_ = stats;
  }

 private:
  BlendConfig config_;
  std::array<const CandidateModel*, 3> models_;
  const RerankerModel* reranker_ = nullptr;
  const std::vector<ItemStat>* stats_ = nullptr;
};

// True when a reranker should rank this context: some known history and no anchor item (an
// item page is "also viewed", which the blend and online co-visitation answer).
bool IsPersonalContext(const ScoringContext& context);

}  // namespace shelfwatch::recommend
