#include "recommend/blend.h"

#include <unordered_map>

#include "recommend/artifact.h"
#include "recommend/reranker.h"

namespace shelfwatch::recommend {

std::string_view ReasonName(Source s) {
  switch (s) {
    case Source::kHistory: return "your_history";
    case Source::kCoVisit: return "also_viewed";
    case Source::kEase: return "users_like_you";
    case Source::kSessionKnn: return "similar_sessions";
    case Source::kLive: return "viewed_together_now";
    case Source::kPopularInCategory: return "popular_in_category";
    case Source::kTrending: return "trending";
    case Source::kPopular: return "popular";
  }
  return "popular";
}

void ScoreOwnHistory(const ScoringContext& context, const EventWeighting& weighting, size_t n,
                     std::vector<Candidate>* out) {
  std::vector<Candidate> c;
  for (const auto& e : context.history) {
    if (e.item == kNoItem) continue;
    float w = weighting.Weight(e.behavior, context.now - e.timestamp);
    auto it = std::find_if(c.begin(), c.end(), [&](const Candidate& x) { return x.item == e.item; });
    if (it == c.end()) {
      c.push_back({e.item, w});
    } else {
      it->score += w;
    }
  }
  KeepTop(&c, n);
  out->insert(out->end(), c.begin(), c.end());
}

void Blend(const std::array<std::vector<Candidate>, kBlendedSources + 1>& lists, const BlendConfig& config,
           size_t n, std::vector<SourcedCandidate>* out) {
  struct Acc {
    float total = 0;
    float best_share = -1;
    Source source = Source::kPopular;
  };
  std::unordered_map<uint32_t, Acc> acc;
  for (size_t s = 0; s < lists.size(); ++s) {
    float weight = s < kBlendedSources ? config.weights[s] : config.live_weight;
    if (weight <= 0 || lists[s].empty()) continue;
    float top = 0;
    for (const auto& c : lists[s]) top = std::max(top, c.score);
    if (top <= 0) continue;
    for (const auto& c : lists[s]) {
      float share = weight * c.score / top;
      Acc& a = acc[c.item];
      a.total += share;
      if (share > a.best_share) {
        a.best_share = share;
        a.source = static_cast<Source>(s);
      }
    }
  }
  std::vector<Candidate> ranked;
  ranked.reserve(acc.size());
  for (const auto& [item, a] : acc) ranked.push_back({item, a.total});
  KeepTop(&ranked, n);
  for (const auto& c : ranked) out->push_back({c.item, c.score, acc[c.item].source});
}

void MergeLive(std::span<const Candidate> live, float live_weight, size_t n, std::vector<SourcedCandidate>* ranked) {
  float top = 0;
  for (const auto& c : live) top = std::max(top, c.score);
  if (live_weight <= 0 || top <= 0) return;
  std::unordered_map<uint32_t, size_t> at;
  for (size_t i = 0; i < ranked->size(); ++i) at.emplace((*ranked)[i].item, i);
  for (const auto& c : live) {
    float share = live_weight * c.score / top;
    auto it = at.find(c.item);
    if (it == at.end()) {
      at.emplace(c.item, ranked->size());
      ranked->push_back({c.item, share, Source::kLive});
      continue;
    }
    SourcedCandidate& r = (*ranked)[it->second];
    if (share > r.score) r.source = Source::kLive;
    r.score += share;
  }
  std::stable_sort(ranked->begin(), ranked->end(), [](const SourcedCandidate& a, const SourcedCandidate& b) { return a.score > b.score; });
  if (ranked->size() > n) ranked->resize(n);
}

bool IsPersonalContext(const ScoringContext& context) {
  if (context.anchor != kNoItem) return false;
  for (const auto& e : context.history) {
    if (e.item != kNoItem) return true;
  }
  return false;
}

void BlendRecommender::Recommend(const ScoringContext& context, size_t n, std::vector<SourcedCandidate>* out) const {
  if (reranker_ != nullptr && stats_ != nullptr && IsPersonalContext(context)) {
    RerankSourceLists sources;
    for (size_t m = 0; m < models_.size(); ++m) {
      if (models_[m] != nullptr) models_[m]->Score(context, reranker_->params().source_candidates, &sources[m]);
    }
    reranker_->Rank(context, sources, *stats_, n, out);
    return;
  }
  std::array<std::vector<Candidate>, kBlendedSources + 1> lists;
  size_t per = std::max<size_t>(config_.candidates_per_source, n);
  if (config_.weights[0] > 0) ScoreOwnHistory(context, config_.history, per, &lists[0]);
  for (size_t m = 0; m < models_.size(); ++m) {
    if (models_[m] != nullptr && config_.weights[m + 1] > 0) models_[m]->Score(context, per, &lists[m + 1]);
  }
  Blend(lists, config_, n, out);
}

Status BlendConfig::Save(const std::string& dir) const {
  ArtifactWriter w("blend");
  w.Put(weights);
  w.Put(live_weight);
  w.Put(history);
  w.Put(candidates_per_source);
  return WriteFileAtomically(dir + "/model.bin", w.bytes());
}

Result<BlendConfig> BlendConfig::Load(const std::string& dir) {
  auto bytes = ReadWholeFile(dir + "/model.bin");
  if (!bytes.ok()) return bytes.status();
  auto r = ArtifactReader::Open(std::move(*bytes), "blend");
  if (!r.ok()) return r.status();
  BlendConfig c;
  SW_RETURN_IF_ERROR(r->Get(&c.weights));
  SW_RETURN_IF_ERROR(r->Get(&c.live_weight));
  SW_RETURN_IF_ERROR(r->Get(&c.history));
  SW_RETURN_IF_ERROR(r->Get(&c.candidates_per_source));
  bool ok = r->AtEnd() && c.candidates_per_source > 0 && c.candidates_per_source <= 100000 && std::isfinite(c.live_weight);
  for (float w : c.weights) ok = ok && std::isfinite(w) && w >= 0;
  if (!ok) return Status(ErrorCode::kDataLoss, dir + "/model.bin: inconsistent blend artifact");
  return c;
}

}  // namespace shelfwatch::recommend
