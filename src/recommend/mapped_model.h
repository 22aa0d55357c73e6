// MappedModel: runs a model trained with its own item vocabulary inside another item space
// (the serving facade's, or an evaluation log's), translating context items in and
// candidates out. Items the model never saw are ignored; candidates the target space lacks
// are dropped.
// Thread-safety: immutable; Score safe from any thread. Cost: O(history + n) on top of the
// model; memory 8 bytes per item of the two spaces.
#pragma once

#include <memory>

#include "recommend/model.h"

namespace shelfwatch::recommend {

class MappedModel final : public CandidateModel {
 public:
  // `target` must outlive this object when item_ids() is used.
  MappedModel(std::shared_ptr<const CandidateModel> model, const Vocabulary& target);
  std::string_view kind() const override { return model_->kind(); }
  const std::vector<std::string>& item_ids() const override { return target_->names(); }
  // `context` in target indices (items >= the target size at construction are unknown).
  void Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const override;
  Status Save(const std::string& version_dir) const override { return model_->Save(version_dir); }
  std::vector<std::pair<std::string, double>> Params() const override { return model_->Params(); }
  const CandidateModel& model() const { return *model_; }
  std::shared_ptr<const CandidateModel> shared() const { return model_; }
  uint32_t ToModel(uint32_t target_item) const {
    return target_item < to_model_.size() ? to_model_[target_item] : kNoItem;
  }

 private:
  std::shared_ptr<const CandidateModel> model_;
  const Vocabulary* target_;
  std::vector<uint32_t> to_model_, from_model_;
};

}  // namespace shelfwatch::recommend
