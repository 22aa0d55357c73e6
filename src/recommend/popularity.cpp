#include "recommend/popularity.h"

#include "recommend/artifact.h"

namespace shelfwatch::recommend {

std::unique_ptr<PopularityModel> PopularityModel::Train(const InteractionLog& log, const PopularityParams& params) {
  auto m = std::make_unique<PopularityModel>();
  m->params_ = params;
  m->items_ = log.items.names();
  m->categories_ = log.categories.names();
  m->item_category_ = log.item_category;
  m->item_category_.resize(m->items_.size(), kNoItem);
  m->counts_.assign(m->items_.size(), 0.0f);
  std::vector<float> recent(m->items_.size(), 0.0f);
  int64_t end = log.MaxTimestamp();
  for (const auto& e : log.events) {
    float w = params.weighting.Weight(e.behavior, 0);
    m->counts_[e.item] += w;
    if (e.timestamp > end - params.trending_window_seconds) recent[e.item] += w;
  }
  auto top = [&](const std::vector<float>& scores) {
    std::vector<Candidate> c;
    for (uint32_t i = 0; i < scores.size(); ++i) {
      if (scores[i] > 0) c.push_back({i, scores[i]});
    }
    KeepTop(&c, params.list_length);
    return c;
  };
  m->global_ = top(m->counts_);
  m->trending_ = top(recent);
  std::vector<std::vector<Candidate>> by_cat(m->categories_.size());
  for (uint32_t i = 0; i < m->items_.size(); ++i) {
    uint32_t c = m->item_category_[i];
    if (c != kNoItem && m->counts_[i] > 0) by_cat[c].push_back({i, m->counts_[i]});
  }
  m->category_begin_.push_back(0);
  for (auto& list : by_cat) {
    KeepTop(&list, params.list_length);
    m->category_lists_.insert(m->category_lists_.end(), list.begin(), list.end());
    m->category_begin_.push_back(static_cast<uint32_t>(m->category_lists_.size()));
  }
  return m;
}

std::span<const Candidate> PopularityModel::InCategory(uint32_t category) const {
  if (category == kNoItem || category + 1 >= category_begin_.size()) return {};
  return {category_lists_.data() + category_begin_[category], category_lists_.data() + category_begin_[category + 1]};
}

void PopularityModel::Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const {
  uint32_t item = context.anchor;
  for (size_t i = context.history.size(); item == kNoItem && i > 0; --i) item = context.history[i - 1].item;
  size_t start = out->size();
  auto append = [&](std::span<const Candidate> list) {
    for (const auto& c : list) {
      if (out->size() - start >= n) return;
      bool dup = false;
      for (size_t j = start; j < out->size() && !dup; ++j) dup = (*out)[j].item == c.item;
      if (!dup) out->push_back(c);
    }
  };
  append(InCategory(CategoryOf(item)));
  append(trending_);
  append(global_);
}

Status PopularityModel::Save(const std::string& dir) const {
  ArtifactWriter w(kind());
  w.Put(params_.trending_window_seconds);
  w.Put(params_.list_length);
  w.PutStrings(items_);
  w.PutStrings(categories_);
  w.PutVector(item_category_);
  w.PutVector(counts_);
  w.PutVector(global_);
  w.PutVector(trending_);
  w.PutVector(category_begin_);
  w.PutVector(category_lists_);
  return WriteFileAtomically(dir + "/model.bin", w.bytes());
}

Result<std::unique_ptr<PopularityModel>> PopularityModel::Load(const std::string& dir) {
  auto bytes = ReadWholeFile(dir + "/model.bin");
  if (!bytes.ok()) return bytes.status();
  auto r = ArtifactReader::Open(std::move(*bytes), "popularity");
  if (!r.ok()) return r.status();
  auto m = std::make_unique<PopularityModel>();
  SW_RETURN_IF_ERROR(r->Get(&m->params_.trending_window_seconds));
  SW_RETURN_IF_ERROR(r->Get(&m->params_.list_length));
  SW_RETURN_IF_ERROR(r->GetStrings(&m->items_));
  SW_RETURN_IF_ERROR(r->GetStrings(&m->categories_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->item_category_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->counts_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->global_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->trending_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->category_begin_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->category_lists_));
  // Cross-check sizes and indices so a corrupt file cannot make reads go out of bounds.
  size_t n = m->items_.size();
  bool ok = m->item_category_.size() == n && m->counts_.size() == n && !m->category_begin_.empty() &&
            m->category_begin_.size() == m->categories_.size() + 1 &&
            m->category_begin_.back() == m->category_lists_.size();
  for (size_t i = 1; ok && i < m->category_begin_.size(); ++i) ok = m->category_begin_[i - 1] <= m->category_begin_[i];
  for (uint32_t c : m->item_category_) ok = ok && (c == kNoItem || c < m->categories_.size());
  for (const auto* list : {&m->global_, &m->trending_, &m->category_lists_}) {
    for (const auto& c : *list) ok = ok && c.item < n;
  }
  if (!ok || !r->AtEnd()) return Status(ErrorCode::kDataLoss, dir + "/model.bin: inconsistent popularity artifact");
  return m;
}

std::vector<std::pair<std::string, double>> PopularityModel::Params() const {
  return {{"trending_window_seconds", static_cast<double>(params_.trending_window_seconds)},
          {"list_length", params_.list_length}};
}

}  // namespace shelfwatch::recommend
