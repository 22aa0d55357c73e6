// PopularityModel: the fallback that never returns an empty list -- global popularity,
// popularity within a category, and trending (popularity in the last window of the log).
// Scores are behaviour-weighted event counts (a purchase counts more than a view).
//
// Thread-safety: immutable after Train/Load; all reads safe from any thread.
// Cost: Train O(events); Score O(k); memory O(items).
#pragma once

#include <memory>

#include "recommend/model.h"

namespace shelfwatch::recommend {

struct PopularityParams {
  EventWeighting weighting{{1.0f, 2.0f, 3.0f, 4.0f}, 0.0};  // no decay: all-time counts
  int64_t trending_window_seconds = 86400;
  uint32_t list_length = 200;  // items kept per list (global, trending, each category)
};

class PopularityModel final : public CandidateModel {
 public:
  static std::unique_ptr<PopularityModel> Train(const InteractionLog& log, const PopularityParams& params = {});
  static Result<std::unique_ptr<PopularityModel>> Load(const std::string& version_dir);

  std::string_view kind() const override { return "popularity"; }
  const std::vector<std::string>& item_ids() const override { return items_; }
  // Popular in the category of the anchor (else the latest history item), then trending,
  // then global.
  void Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const override;
  Status Save(const std::string& version_dir) const override;
  std::vector<std::pair<std::string, double>> Params() const override;

  std::span<const Candidate> Global() const { return global_; }
  std::span<const Candidate> Trending() const { return trending_; }
  std::span<const Candidate> InCategory(uint32_t category) const;
  uint32_t CategoryOf(uint32_t item) const { return item < item_category_.size() ? item_category_[item] : kNoItem; }
  const std::vector<std::string>& category_ids() const { return categories_; }
  // Interaction weight of an item (0 for unknown).
  float Count(uint32_t item) const { return item < counts_.size() ? counts_[item] : 0.0f; }

 private:
  PopularityParams params_;
  std::vector<std::string> items_;
  std::vector<std::string> categories_;
  std::vector<uint32_t> item_category_;
  std::vector<float> counts_;
  std::vector<Candidate> global_, trending_;
  std::vector<uint32_t> category_begin_;  // CSR over category_lists_
  std::vector<Candidate> category_lists_;
};

}  // namespace shelfwatch::recommend
