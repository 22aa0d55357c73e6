// RecommendService: the serving facade behind GET /v1/catalogs/{catalog}/recommend.
//
// Opens the latest model versions of a repository (or trains them in-process from an events
// file), keeps user and session histories, and answers a request with a blend of own-history
// recency, co-visitation (trained + learned online), EASE and session kNN, padded with
// popularity (in the category of the anchor/latest item, trending, global) so that the list
// is never empty while the catalog is not. Each result says why it is there (reason).
// OnEvent feeds clicks, carts and purchases back: the user's and session's histories and the
// online co-visitation counts change at once, so the next request already reflects them.
// With a learned reranker (reranker.h; trained in-process or the repository's latest
// "rerank" version), personal requests (a user or session history, no item) are ranked by it
// over the history and the models' candidates, then online co-visitation is blended in; item
// pages keep the linear blend. Its time features are measured from the latest event the service
// has seen (the data's clock: a replayed log's end, or now for live traffic).
//
// The models are one immutable set, swapped whole by Reload when the repository holds a newer
// training run; a request reads the set once and finishes on it, and the histories, online
// counts and item space (which only grows) belong to the service, not the set.
//
// Thread-safety: Recommend and OnEvent are safe to call concurrently from any number of
// threads (sharded mutexes for histories and online counts, a shared mutex for the item
// dictionary, which only grows when an event names a new item).
// Cost: Recommend ~O(users^2 of the EASE model + history x neighbours + reranked candidates x
// trees); on Taobao in-process (RecommendBench): reranked user requests p50 0.12 ms, p99 0.3 ms;
// item pages (linear blend) p50 0.004 ms. A reranked list holds at most ~150 candidates
// (history_candidates + 3 x source_candidates); a larger k is padded with popularity.
// OnEvent O(session items), no allocation beyond the history entry. Memory: the models plus
// max_history_per_user events (16 bytes) per user and session, at most max_users users and
// max_sessions sessions (further ones evict others).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "recommend/blend.h"
#include "recommend/covisitation.h"
#include "recommend/interactions.h"
#include "recommend/mapped_model.h"
#include "recommend/popularity.h"
#include "recommend/reranker.h"

namespace shelfwatch::recommend {

enum class Exclude { kNone, kSeen, kPurchased };
// "none" | "seen" | "purchased" ("" = none); kInvalidArgument otherwise.
Result<Exclude> ParseExclude(std::string_view text);

struct RecommendRequest {
  std::string user_id;                     // optional: a known user's history is used
  std::string session_id;                  // optional: the session's events (from OnEvent)
  std::vector<std::string> session_items;  // optional: items viewed in this session, oldest first
  std::string item_id;                     // optional: the item being looked at
  size_t k = 10;
  Exclude exclude = Exclude::kNone;  // the anchor item itself is always excluded
};

struct Recommendation {
  std::string item_id;
  float score = 0;
  std::string_view reason;  // ReasonName(): "your_history", "also_viewed", ..., "popular"
};

struct Recommendations {
  std::vector<Recommendation> results;
  bool personalised = false;  // false: popularity only (cold request or nothing known)
  bool unknown_user = false;  // user_id given but no history for it
  bool unknown_item = false;  // item_id given but not in the catalog
  // The versions of the models that produced this answer (see model_versions()).
  std::shared_ptr<const std::string> model_versions;
};

struct ServiceOptions {
  std::string model_dir;    // latest versions of popularity|covisit|sknn|ease|blend are loaded
  std::string events_path;  // seeds user histories; trains all models when model_dir is empty
  size_t max_k = 500;
  size_t max_history_per_user = 200;
  size_t max_users = 1u << 20;
  size_t max_sessions = 1u << 20;
  int64_t session_gap_seconds = 1800;
  bool tune_blend = true;  // when training in-process
  bool rerank = true;      // train (in-process) or load the learned reranker
};

class RecommendService {
 public:
  // Errors: kInvalidArgument when neither model_dir nor events_path is given; the load or
  // training error otherwise (kNotFound, kDataLoss for a corrupt artifact, ...).
  static Result<std::unique_ptr<RecommendService>> Open(const ServiceOptions& options);
  ~RecommendService();

  // kInvalidArgument for k outside [1, max_k] or a malformed id (empty where given, over 128
  // bytes, control characters, quotes, commas); unknown users and items fall back (see flags).
  Result<Recommendations> Recommend(const RecommendRequest& request) const;

  // A user action: updates histories and online co-visitation. timestamp in Unix seconds.
  // kInvalidArgument for malformed ids (session_id may be empty).
  Status OnEvent(std::string_view user_id, std::string_view session_id, std::string_view item_id, Behavior type,
                 int64_t timestamp);

  size_t item_count() const;
  // "covisit/3,ease/3,sknn/3,blend/3,popularity/3" or "trained:<events file>": the models
  // answering now.
  std::string model_versions() const;

  // Loads the latest versions of the repository's slots when they differ from the ones
  // serving (a new `train recommender` run) and swaps them in: requests already running finish
  // on the old models, the next ones use the new; histories, online co-visitation and the
  // item space carry over. Returns whether it swapped. Errors (the old models keep serving):
  // the load's (kNotFound, kDataLoss for a corrupt version, ...), reported once per set of
  // versions. While a training run writes (or after one failed half way: the repository's
  // .writing marker) nothing is loaded. Without a model_dir, false. Safe beside
  // Recommend/OnEvent; calls must not overlap each other.
  Result<bool> Reload();

 private:
  struct Histories;
  struct Models;
  RecommendService() = default;
  Status Init(const ServiceOptions& options);
  // Builds the serving view of loaded or trained models (interns their items first).
  std::shared_ptr<const Models> BuildModels(std::shared_ptr<const PopularityModel> popularity,
                                            std::shared_ptr<const CandidateModel> covisit,
                                            std::shared_ptr<const CandidateModel> ease,
                                            std::shared_ptr<const CandidateModel> sknn, std::optional<BlendConfig> blend,
                                            std::shared_ptr<const RerankerModel> reranker, std::string versions);
  std::vector<ContextEvent> ContextOf(const RecommendRequest& request, Recommendations* flags) const;

  ServiceOptions options_;
  mutable std::shared_mutex items_mu_;
  Vocabulary items_;  // the service's item space; grows with OnEvent and new model versions
  // The models serving now: swapped whole by Reload, read once per request.
  std::atomic<std::shared_ptr<const Models>> models_;
  std::string latest_key_;  // the slot versions of models_ as LatestVersion saw them (Reload only)
  std::string failed_key_;  // slot versions whose load failed (Reload only; retried once they change)
  std::atomic<int64_t> clock_{0};             // latest event timestamp seen
  std::unique_ptr<LiveCoVisitation> live_;
  std::unique_ptr<Histories> histories_;
};

}  // namespace shelfwatch::recommend
