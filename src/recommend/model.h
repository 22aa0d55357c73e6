// What every recommendation model shares: the scoring context it reads (a chronological
// history of item events, in the model's own item indices), the candidates it returns, the
// behaviour/recency weighting, and the interface the serving facade calls.
//
// Thread-safety: a trained or loaded model is immutable; Score() is safe from any number of
// threads (scratch space is per thread). Cost: stated by each model.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "recommend/interactions.h"

namespace shelfwatch::recommend {

inline constexpr uint32_t kNoItem = Vocabulary::kUnknown;

struct ContextEvent {
  uint32_t item = kNoItem;
  Behavior behavior = Behavior::kView;
  int64_t timestamp = 0;  // Unix seconds
};

struct ScoringContext {
  // Oldest first; the user's history followed by the current session's events. Items the
  // model does not know are kNoItem and ignored.
  std::span<const ContextEvent> history;
  // The item being looked at ("customers who viewed this also viewed"); kNoItem when none.
  uint32_t anchor = kNoItem;
  int64_t now = 0;  // Unix seconds; recency is measured from here
};

struct Candidate {
  uint32_t item = kNoItem;
  float score = 0;
};

// How much one event says about a user's interest: a behaviour weight (pv < fav < cart <
// buy) times an exponential recency decay exp(-age / decay_seconds). The defaults (1,2,3,4;
// 2 days) reproduce the README's "recency-weighted own history" peer (Recall@20 0.155).
struct EventWeighting {
  std::array<float, kBehaviorCount> behavior{1.0f, 2.0f, 3.0f, 4.0f};
  double decay_seconds = 2 * 86400.0;
  float Weight(Behavior b, int64_t age_seconds) const {
    double decay = decay_seconds > 0 ? std::exp(-static_cast<double>(std::max<int64_t>(age_seconds, 0)) / decay_seconds) : 1.0;
    return static_cast<float>(behavior[static_cast<int>(b)] * decay);
  }
};

// Keeps the n best candidates, best first (ties: lower item index first, so results are
// deterministic).
void KeepTop(std::vector<Candidate>* candidates, size_t n);

// Sparse score accumulation over a dense per-thread array: O(1) per Add, O(touched) to drain.
class ScoreAccumulator {
 public:
  void Reset(size_t item_count);
  void Add(uint32_t item, float score) {
    if (scores_[item] == 0) touched_.push_back(item);
    scores_[item] += score;
    if (scores_[item] == 0) scores_[item] = 1e-30f;  // keep it marked as touched
  }
  float Get(uint32_t item) const { return scores_[item]; }
  size_t size() const { return scores_.size(); }  // items it was Reset for
  // Moves the non-zero scores into `out` (appending) and clears the array.
  void Drain(std::vector<Candidate>* out);
  // Per-thread instance; callers must Drain before handing it to another model.
  static ScoreAccumulator& ForThread();

 private:
  std::vector<float> scores_;
  std::vector<uint32_t> touched_;
};

// A trained recommendation model over its own item vocabulary.
class CandidateModel {
 public:
  virtual ~CandidateModel() = default;
  virtual std::string_view kind() const = 0;
  // Item ids of the model's indices (the service maps them to its own).
  virtual const std::vector<std::string>& item_ids() const = 0;
  // Appends up to n scored candidates (best first) for the context.
  virtual void Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const = 0;
  // Writes model.bin into an existing version directory.
  virtual Status Save(const std::string& version_dir) const = 0;
  virtual std::vector<std::pair<std::string, double>> Params() const = 0;
};

// Chronological context events of a user from a log (all of them, or the last `max`).
std::vector<ContextEvent> HistoryOf(const InteractionLog& log, uint32_t user, size_t max = SIZE_MAX);

}  // namespace shelfwatch::recommend
