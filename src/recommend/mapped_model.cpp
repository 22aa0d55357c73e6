#include "recommend/mapped_model.h"

namespace shelfwatch::recommend {

MappedModel::MappedModel(std::shared_ptr<const CandidateModel> model, const Vocabulary& target)
    : model_(std::move(model)), target_(&target) {
  const auto& ids = model_->item_ids();
  from_model_.resize(ids.size());
  to_model_.assign(target.size(), kNoItem);
  for (uint32_t i = 0; i < ids.size(); ++i) {
    from_model_[i] = target.Find(ids[i]);
    if (from_model_[i] != kNoItem) to_model_[from_model_[i]] = i;
  }
}

void MappedModel::Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const {
  thread_local std::vector<ContextEvent> history;
  history.clear();
  for (const auto& e : context.history) history.push_back({ToModel(e.item), e.behavior, e.timestamp});
  ScoringContext mapped{history, ToModel(context.anchor), context.now};
  size_t start = out->size();
  model_->Score(mapped, n, out);
  size_t keep = start;
  for (size_t i = start; i < out->size(); ++i) {
    uint32_t item = from_model_[(*out)[i].item];
    if (item != kNoItem) (*out)[keep++] = {item, (*out)[i].score};
  }
  out->resize(keep);
}

}  // namespace shelfwatch::recommend
