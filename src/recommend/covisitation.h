// CoVisitationModel: item-to-item "customers who viewed this also viewed/bought".
//
// Training walks each user's history (items collapsed to their total behaviour weight and
// last time); two items of one user co-occur with weight sqrt(w_a w_b) * exp(-|t_a - t_b| /
// pair_decay) * (1 + session_boost when both fall in one session, i.e. within the session
// gap). Each item's neighbours are normalised like cosine item-kNN, sim(a,b) = c(a,b) /
// (n_a n_b)^(1/2) (Sarwar et al. 2001, "Item-based collaborative filtering"), and the best
// max_neighbors are kept. With behaviour weights, decay and boost switched off this is the
// plain co-occurrence item-kNN baseline (PlainItemKnnParams()).
// A query scores b as sum_h q(h) sim(h, b) over the most relevant history items h, with q
// the EventWeighting (behaviour x recency) of h's events.
//
// LiveCoVisitation adds the pairs seen online (OnEvent) on top of a trained model, in bounded
// memory.
// Thread-safety: CoVisitationModel is immutable after Train/Load (reads from any thread);
// LiveCoVisitation is internally synchronised (sharded mutexes).
// Cost: Train O(sum over users of d_u * window); Score O(history x max_neighbors); memory
// O(items x max_neighbors).
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>

#include "recommend/model.h"

namespace shelfwatch::recommend {

struct CoVisitationParams {
  EventWeighting weighting;             // query side: behaviour x recency of history events
  bool behavior_weighted_pairs = true;  // pair weights use behaviour weights (else 1)
  double pair_decay_seconds = 86400;    // 0: no decay with the time between the two items
  int64_t session_gap_seconds = 1800;
  float session_boost = 1.0f;
  uint32_t window = 50;          // pair each item with its nearest `window` items in time
  uint32_t max_neighbors = 100;  // kept per item
  uint32_t max_history = 40;     // distinct history items used by a query
  // Neighbours seen by fewer users are dropped (2 helps discovery; 1 keeps a user's own rare
  // items as neighbours of each other, which the main protocol's repeats reward). Rare items
  // otherwise rank high under the cosine normalisation.
  uint32_t min_neighbor_users = 1;
};
// The README's "item-item co-occurrence kNN" peer: users-in-common counts, cosine, all of a
// user's items pair with each other, unweighted history.
CoVisitationParams PlainItemKnnParams();

struct Neighbor {
  uint32_t item = 0;
  float weight = 0;
};

class CoVisitationModel final : public CandidateModel {
 public:
  static std::unique_ptr<CoVisitationModel> Train(const InteractionLog& log, const CoVisitationParams& params = {});
  static Result<std::unique_ptr<CoVisitationModel>> Load(const std::string& version_dir);

  std::string_view kind() const override { return "covisit"; }
  const std::vector<std::string>& item_ids() const override { return items_; }
  void Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const override;
  Status Save(const std::string& version_dir) const override;
  std::vector<std::pair<std::string, double>> Params() const override;

  std::span<const Neighbor> NeighborsOf(uint32_t item) const;
  const CoVisitationParams& params() const { return params_; }

 private:
  CoVisitationParams params_;
  std::vector<std::string> items_;
  std::vector<uint32_t> begin_;  // CSR over neighbors_, by item
  std::vector<Neighbor> neighbors_;
};

// Weighted query items: distinct items of the context with their summed EventWeighting, the
// anchor counting as much as the strongest history item; at most `max` (the heaviest).
std::vector<Neighbor> QueryItems(const ScoringContext& context, const EventWeighting& weighting, size_t max);

// Co-visitation counts learned online, keyed by the service's item indices. Bounded: at most
// max_items source items (further new ones are dropped and counted) and max_neighbors per item
// (the weakest is replaced).
class LiveCoVisitation {
 public:
  LiveCoVisitation(size_t max_items = 1 << 20, size_t max_neighbors = 64);
  void AddPair(uint32_t a, uint32_t b, float weight);  // both directions
  // Adds weight(h) * live(h, b) into `acc` for each query item h.
  void Score(std::span<const Neighbor> query, ScoreAccumulator& acc) const;
  size_t dropped() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<uint32_t, std::vector<Neighbor>> items;
    size_t dropped = 0;
  };
  void AddOne(uint32_t a, uint32_t b, float weight);
  size_t max_items_per_shard_, max_neighbors_;
  std::array<Shard, kShards> shards_;
};

}  // namespace shelfwatch::recommend
