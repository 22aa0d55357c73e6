#include "recommend/reranker.h"

#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "recommend/artifact.h"

namespace shelfwatch::recommend {

namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr size_t kSources = 3;  // covisit, ease, sknn
constexpr Source kSourceOf[kSources] = {Source::kCoVisit, Source::kEase, Source::kSessionKnn};

constexpr std::string_view kFeatureNames[] = {
    "hours_since_last_touch", "hours_since_first_touch", "views", "favs", "carts", "buys", "active_days", "sessions",
    "sessions_since_last_touch", "recency_score", "touches_1h", "touches_6h", "touches_24h", "recency_rank",
    "recency_score_rank", "category_events", "hours_since_category_touch", "category_recency_rank", "category_share",
    "item_events", "item_users", "item_recent_events", "user_events", "user_items", "hours_since_user_event",
    "user_span_hours", "covisit_score", "covisit_rank", "ease_score", "ease_rank", "sknn_score", "sknn_rank"};
constexpr size_t kFeatures = std::size(kFeatureNames);
constexpr size_t kFirstSourceFeature = 26;

// A user's touches of one item, over the context events read.
struct ItemTouches {
  uint32_t item = kNoItem;
  uint32_t category = kNoItem;
  std::array<float, kBehaviorCount> counts{};
  int64_t first = 0, last = 0;
  uint64_t days = 0;  // bit d: touched d days before now (d capped at 63)
  uint32_t sessions = 0, last_session = UINT32_MAX;
  float score = 0;
  float within_1h = 0, within_6h = 0, within_24h = 0;
  uint32_t recency_rank = 0, score_rank = 0;
};

struct CategoryInterest {
  float events = 0;
  int64_t last = 0;
  uint32_t recency_rank = 0;
};

struct RerankCandidate {
  uint32_t item = kNoItem;
  int32_t touches = -1;  // index into the history aggregates; -1 when not in the history
  std::array<float, kSources> source_score{kMissing, kMissing, kMissing};
  std::array<float, kSources> source_rank{kMissing, kMissing, kMissing};
};

float Hours(int64_t seconds) { return static_cast<float>(seconds) / 3600.0f; }

const ItemStat& StatOf(std::span<const ItemStat> stats, uint32_t item) {
  static const ItemStat kUnknown;
  return item < stats.size() ? stats[item] : kUnknown;
}

// Feature rows for one context: the candidates (history first, then each source's), their
// rows appended to `rows`. The single definition shared by training and serving.
class FeatureBuilder {
 public:
  void Build(const ScoringContext& ctx, const RerankSourceLists& sources, std::span<const ItemStat> stats,
             const RerankerParams& p, std::vector<RerankCandidate>* candidates, std::vector<float>* rows) {
    Aggregate(ctx, stats, p);
    candidates->clear();
    index_.clear();
    // Own history, best recency score first.
    order_.resize(touches_.size());
    for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) { return touches_[a].score_rank < touches_[b].score_rank; });
    for (uint32_t i = 0; i < order_.size() && i < p.history_candidates; ++i) {
      RerankCandidate c;
      c.item = touches_[order_[i]].item;
      c.touches = static_cast<int32_t>(order_[i]);
      index_.emplace(c.item, static_cast<uint32_t>(candidates->size()));
      candidates->push_back(c);
    }
    for (size_t s = 0; s < kSources; ++s) {
      const auto& list = sources[s];
      float top = 0;
      for (const auto& c : list) top = std::max(top, c.score);
      size_t take = std::min<size_t>(list.size(), p.source_candidates);
      for (size_t r = 0; r < take; ++r) {
        uint32_t item = list[r].item;
        if (item == kNoItem) continue;
        auto [it, added] = index_.emplace(item, static_cast<uint32_t>(candidates->size()));
        if (added) {
          RerankCandidate c;
          c.item = item;
          auto t = touch_index_.find(item);
          if (t != touch_index_.end()) c.touches = static_cast<int32_t>(t->second);
          candidates->push_back(c);
        }
        RerankCandidate& c = (*candidates)[it->second];
        c.source_score[s] = top > 0 ? list[r].score / top : 0.0f;
        c.source_rank[s] = static_cast<float>(r);
      }
    }
    // User-level features.
    float user_events = static_cast<float>(events_read_);
    float user_items = static_cast<float>(touches_.size());
    float since_user = touches_.empty() ? kMissing : Hours(ctx.now - last_event_);
    float span = touches_.empty() ? kMissing : Hours(last_event_ - first_event_);
    size_t start = rows->size();
    rows->resize(start + candidates->size() * kFeatures, kMissing);
    float* row = rows->data() + start;
    for (const auto& c : *candidates) {
      const ItemStat& st = StatOf(stats, c.item);
      if (c.touches >= 0) {
        const ItemTouches& t = touches_[static_cast<size_t>(c.touches)];
        row[0] = Hours(ctx.now - t.last);
        row[1] = Hours(ctx.now - t.first);
        for (int b = 0; b < kBehaviorCount; ++b) row[2 + b] = t.counts[b];
        row[6] = static_cast<float>(std::popcount(t.days));
        row[7] = static_cast<float>(t.sessions);
        row[8] = static_cast<float>(session_count_ - 1 - t.last_session);
        row[9] = t.score;
        row[10] = t.within_1h;
        row[11] = t.within_6h;
        row[12] = t.within_24h;
        row[13] = static_cast<float>(t.recency_rank);
        row[14] = static_cast<float>(t.score_rank);
      } else {
        for (int b = 0; b < kBehaviorCount; ++b) row[2 + b] = 0;
        row[6] = row[7] = row[10] = row[11] = row[12] = 0;
      }
      auto cat = st.category == kNoItem ? categories_.end() : categories_.find(st.category);
      if (cat != categories_.end()) {
        row[15] = cat->second.events;
        row[16] = Hours(ctx.now - cat->second.last);
        row[17] = static_cast<float>(cat->second.recency_rank);
        row[18] = events_read_ > 0 ? cat->second.events / user_events : 0.0f;
      } else {
        row[15] = 0;
        row[18] = 0;
      }
      row[19] = st.events;
      row[20] = st.users;
      row[21] = st.recent_events;
      row[22] = user_events;
      row[23] = user_items;
      row[24] = since_user;
      row[25] = span;
      for (size_t s = 0; s < kSources; ++s) {
        row[kFirstSourceFeature + 2 * s] = c.source_score[s];
        row[kFirstSourceFeature + 2 * s + 1] = c.source_rank[s];
      }
      row += kFeatures;
    }
  }

  const ItemTouches* TouchesOf(const RerankCandidate& c) const {
    return c.touches >= 0 ? &touches_[static_cast<size_t>(c.touches)] : nullptr;
  }

  static FeatureBuilder& ForThread() {
    thread_local FeatureBuilder builder;
    return builder;
  }

 private:
  void Aggregate(const ScoringContext& ctx, std::span<const ItemStat> stats, const RerankerParams& p) {
    touches_.clear();
    touch_index_.clear();
    categories_.clear();
    events_read_ = 0;
    session_count_ = 0;
    // The last max_context_events known events, oldest first.
    size_t begin = ctx.history.size();
    for (size_t seen = 0; begin > 0 && seen < p.max_context_events; --begin) {
      if (ctx.history[begin - 1].item != kNoItem) ++seen;
    }
    int64_t previous = 0;
    for (size_t i = begin; i < ctx.history.size(); ++i) {
      const ContextEvent& e = ctx.history[i];
      if (e.item == kNoItem) continue;
      if (events_read_ == 0) first_event_ = e.timestamp;
      if (events_read_ == 0 || e.timestamp - previous > p.session_gap_seconds) ++session_count_;
      previous = e.timestamp;
      last_event_ = e.timestamp;
      ++events_read_;
      uint32_t session = session_count_ - 1;
      auto [it, added] = touch_index_.emplace(e.item, static_cast<uint32_t>(touches_.size()));
      if (added) {
        ItemTouches t;
        t.item = e.item;
        t.category = StatOf(stats, e.item).category;
        t.first = e.timestamp;
        touches_.push_back(t);
      }
      ItemTouches& t = touches_[it->second];
      int64_t age = std::max<int64_t>(0, ctx.now - e.timestamp);
      t.counts[static_cast<int>(e.behavior)] += 1;
      t.last = e.timestamp;
      t.days |= uint64_t{1} << std::min<int64_t>(63, age / 86400);
      if (t.last_session != session) {
        ++t.sessions;
        t.last_session = session;
      }
      t.score += p.weighting.Weight(e.behavior, age);
      t.within_1h += age < 3600 ? 1.0f : 0.0f;
      t.within_6h += age < 6 * 3600 ? 1.0f : 0.0f;
      t.within_24h += age < 86400 ? 1.0f : 0.0f;
      if (t.category != kNoItem) {
        CategoryInterest& c = categories_[t.category];
        c.events += 1;
        c.last = e.timestamp;
      }
    }
    // Ranks (ties: lower item index first, deterministic).
    order_.resize(touches_.size());
    for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
      const auto &x = touches_[a], &y = touches_[b];
      return x.last != y.last ? x.last > y.last : x.item < y.item;
    });
    for (uint32_t r = 0; r < order_.size(); ++r) touches_[order_[r]].recency_rank = r;
    std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
      const auto &x = touches_[a], &y = touches_[b];
      return x.score != y.score ? x.score > y.score : x.item < y.item;
    });
    for (uint32_t r = 0; r < order_.size(); ++r) touches_[order_[r]].score_rank = r;
    category_order_.clear();
    for (const auto& [category, interest] : categories_) category_order_.push_back({category, interest.last});
    std::sort(category_order_.begin(), category_order_.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    for (uint32_t r = 0; r < category_order_.size(); ++r) categories_[category_order_[r].first].recency_rank = r;
  }

  std::vector<ItemTouches> touches_;
  std::unordered_map<uint32_t, uint32_t> touch_index_, index_;
  std::unordered_map<uint32_t, CategoryInterest> categories_;
  std::vector<std::pair<uint32_t, int64_t>> category_order_;
  std::vector<uint32_t> order_;
  size_t events_read_ = 0;
  uint32_t session_count_ = 0;
  int64_t first_event_ = 0, last_event_ = 0;
};

// Item order of a group by descending score (ties: candidate order).
std::vector<uint32_t> RankedItems(const std::vector<uint32_t>& items, std::span<const float> scores) {
  std::vector<uint32_t> order(items.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  std::vector<uint32_t> out;
  out.reserve(order.size());
  for (uint32_t i : order) out.push_back(items[i]);
  return out;
}

}  // namespace

std::span<const std::string_view> RerankFeatureNames() { return kFeatureNames; }

std::vector<ItemStat> ComputeItemStats(const InteractionLog& log, int64_t now, int64_t recent_seconds) {
  std::vector<ItemStat> stats(log.items.size());
  std::vector<uint32_t> last_user(log.items.size(), UINT32_MAX);
  for (uint32_t i = 0; i < stats.size(); ++i) {
    stats[i].category = i < log.item_category.size() ? log.item_category[i] : kNoItem;
  }
  for (const auto& e : log.events) {
    ItemStat& s = stats[e.item];
    s.events += 1;
    if (last_user[e.item] != e.user) {  // events are grouped by user
      s.users += 1;
      last_user[e.item] = e.user;
    }
    if (e.timestamp >= now - recent_seconds && e.timestamp < now) s.recent_events += 1;
  }
  return stats;
}

Result<RerankTrainingSet> BuildRerankTrainingSet(const InteractionLog& log, const RerankerParams& params,
                                                 const SourceTrainer& train_sources) {
  if (params.window_seconds <= 0 || params.windows == 0) return InvalidArgument("reranker needs at least one label window");
  RerankTrainingSet set;
  int64_t end = log.MaxTimestamp() + 1;
  FeatureBuilder builder;
  std::vector<RerankCandidate> candidates;
  set.window_seconds = params.window_seconds;
  int64_t step = params.window_step_seconds > 0 ? params.window_step_seconds : params.window_seconds;
  for (uint32_t w = 0; w < params.windows; ++w) {
    int64_t cutoff = end - params.window_seconds - static_cast<int64_t>(w) * step;
    InteractionLog before = log.Before(cutoff);
    if (before.events.empty()) break;
    auto cases = BuildCases(log, cutoff, Protocol::kMain, cutoff + params.window_seconds);
    if (cases.empty()) continue;
    std::vector<ItemStat> stats = ComputeItemStats(before, cutoff, params.recent_seconds);
    OwnedSources sources = train_sources ? train_sources(before) : OwnedSources{};
    RerankWindow window;
    window.cutoff = cutoff;
    window.data.features = kFeatures;
    for (const auto& c : cases) {
      auto history = HistoryOf(before, c.user);
      ScoringContext ctx{history, kNoItem, cutoff};
      RerankSourceLists lists;
      for (size_t s = 0; s < kSources; ++s) {
        if (sources.models[s] != nullptr) sources.models[s]->Score(ctx, params.source_candidates, &lists[s]);
      }
      builder.Build(ctx, lists, stats, params, &candidates, &window.data.rows);
      std::unordered_set<uint32_t> truth(c.truth.begin(), c.truth.end());
      std::vector<uint32_t> items;
      items.reserve(candidates.size());
      for (const auto& x : candidates) {
        items.push_back(x.item);
        window.data.labels.push_back(truth.count(x.item) ? 1.0f : 0.0f);
      }
      window.data.group_sizes.push_back(static_cast<uint32_t>(candidates.size()));
      window.candidates.push_back(std::move(items));
      window.truth.push_back(c.truth);
    }
    set.windows.push_back(std::move(window));
  }
  bool any = false;
  for (const auto& w : set.windows) {
    for (float l : w.data.labels) any = any || l > 0;
  }
  if (!any) return FailedPrecondition("reranker: no label window has a relevant candidate (the log is too short or too sparse)");
  return set;
}

Result<std::unique_ptr<RerankerModel>> RerankerModel::Train(const InteractionLog& log, const RerankTrainingSet& set,
                                                            const RerankerParams& params, size_t first_window) {
  RankingData data;
  data.features = kFeatures;
  for (size_t w = first_window; w < set.windows.size(); ++w) {
    const RankingData& d = set.windows[w].data;
    size_t row = 0;
    for (uint32_t size : d.group_sizes) {
      bool positive = false;
      for (size_t r = row; r < row + size; ++r) positive = positive || d.labels[r] > 0;
      // A group without a relevant candidate carries no pair to learn from.
      if (positive) {
        data.rows.insert(data.rows.end(), d.rows.begin() + static_cast<std::ptrdiff_t>(row * kFeatures),
                         d.rows.begin() + static_cast<std::ptrdiff_t>((row + size) * kFeatures));
        data.labels.insert(data.labels.end(), d.labels.begin() + static_cast<std::ptrdiff_t>(row),
                           d.labels.begin() + static_cast<std::ptrdiff_t>(row + size));
        data.group_sizes.push_back(size);
      }
      row += size;
    }
  }
  if (data.group_sizes.empty()) return InvalidArgument("reranker: the training windows hold no relevant candidate");
  auto trees = LambdaMart::Train(data, params.trees);
  if (!trees.ok()) return trees.status();
  std::unique_ptr<RerankerModel> model(new RerankerModel());
  model->params_ = params;
  model->items_ = log.items.names();
  model->stats_ = ComputeItemStats(log, log.MaxTimestamp() + 1, params.recent_seconds);
  model->trees_ = std::move(*trees);
  return model;
}

Result<RerankValidation> RerankerModel::Validate(const RerankWindow& window) const {
  RerankValidation v;
  std::vector<float> scores;
  size_t row = 0;
  constexpr size_t kRecencyScore = 9;
  for (size_t g = 0; g < window.data.group_sizes.size(); ++g) {
    size_t size = window.data.group_sizes[g];
    std::span<const float> rows(window.data.rows.data() + row * kFeatures, size * kFeatures);
    SW_RETURN_IF_ERROR(trees_->Predict(rows, &scores));
    CaseScore s = ScoreRanking(RankedItems(window.candidates[g], scores), window.truth[g], 20);
    // The recency baseline on the same candidates: history items by their score, others last.
    std::vector<float> recency(size);
    for (size_t r = 0; r < size; ++r) {
      float x = rows[r * kFeatures + kRecencyScore];
      recency[r] = std::isnan(x) ? -1.0f : x;
    }
    CaseScore b = ScoreRanking(RankedItems(window.candidates[g], recency), window.truth[g], 20);
    v.recall += s.recall;
    v.ndcg10 += s.ndcg10;
    v.recency_recall += b.recall;
    v.recency_ndcg10 += b.ndcg10;
    row += size;
  }
  v.users = window.data.group_sizes.size();
  if (v.users > 0) {
    double n = static_cast<double>(v.users);
    v.recall /= n;
    v.ndcg10 /= n;
    v.recency_recall /= n;
    v.recency_ndcg10 /= n;
  }
  return v;
}

void RerankerModel::Rank(const ScoringContext& context, const RerankSourceLists& sources, std::span<const ItemStat> stats,
                         size_t n, std::vector<SourcedCandidate>* out) const {
  thread_local std::vector<RerankCandidate> candidates;
  thread_local std::vector<float> rows, scores;
  rows.clear();
  FeatureBuilder& builder = FeatureBuilder::ForThread();
  builder.Build(context, sources, stats, params_, &candidates, &rows);
  if (candidates.empty()) return;
  if (!trees_->Predict(rows, &scores).ok()) {
    // Cannot happen with a validated model; fall back to candidate order rather than fail.
    scores.assign(candidates.size(), 0.0f);
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
  }
  std::vector<uint32_t> order(candidates.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  size_t keep = std::min(n, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), [&](uint32_t a, uint32_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
  });
  float top = keep > 0 ? scores[order[0]] : 0.0f;
  for (size_t r = 0; r < keep; ++r) {
    const RerankCandidate& c = candidates[order[r]];
    Source reason = Source::kHistory;
    if (c.touches < 0) {
      float best = -1;
      for (size_t s = 0; s < kSources; ++s) {
        if (!std::isnan(c.source_score[s]) && c.source_score[s] > best) {
          best = c.source_score[s];
          reason = kSourceOf[s];
        }
      }
    }
    out->push_back({c.item, std::exp(scores[order[r]] - top), reason});
  }
}

size_t RerankTrainingSet::FirstWindowBefore(size_t v) const {
  size_t first = v + 1;
  while (first < windows.size() && windows[first].cutoff + window_seconds > windows[v].cutoff) ++first;
  return first;
}

Result<RerankCrossValidation> CrossValidateReranker(const InteractionLog& log, const RerankTrainingSet& set,
                                                    const RerankerParams& params, size_t folds) {
  // Validation windows a whole window apart; overlapping windows lie between them.
  std::vector<size_t> validation;
  for (size_t w = 0; w < set.windows.size() && validation.size() < folds && set.window_seconds > 0; ++w) {
    if ((set.windows[0].cutoff - set.windows[w].cutoff) % set.window_seconds == 0) validation.push_back(w);
  }
  if (folds == 0 || validation.size() < folds || set.FirstWindowBefore(validation.back()) >= set.windows.size()) {
    return FailedPrecondition("reranker cross-validation: too few label windows for " + std::to_string(folds) + " folds");
  }
  RerankCrossValidation cv;
  double n = static_cast<double>(folds);
  for (size_t v : validation) {
    auto model = RerankerModel::Train(log, set, params, set.FirstWindowBefore(v));
    if (!model.ok()) return model.status();
    auto score = (*model)->Validate(set.windows[v]);
    if (!score.ok()) return score.status();
    cv.folds.push_back(*score);
    cv.mean.recall += score->recall / n;
    cv.mean.ndcg10 += score->ndcg10 / n;
    cv.mean.recency_recall += score->recency_recall / n;
    cv.mean.recency_ndcg10 += score->recency_ndcg10 / n;
    cv.mean.users += score->users;
  }
  return cv;
}

std::vector<ItemStat> RerankerModel::StatsFor(const Vocabulary& target) const {
  std::vector<ItemStat> out(target.size());
  for (uint32_t i = 0; i < items_.size(); ++i) {
    uint32_t t = target.Find(items_[i]);
    if (t != kNoItem) out[t] = stats_[i];
  }
  return out;
}

std::vector<std::pair<std::string, double>> RerankerModel::Params() const {
  return {{"trees", params_.trees.trees},
          {"max_depth", params_.trees.max_depth},
          {"eta", params_.trees.eta},
          {"min_child_weight", params_.trees.min_child_weight},
          {"subsample", params_.trees.subsample},
          {"window_seconds", static_cast<double>(params_.window_seconds)},
          {"windows", params_.windows},
          {"window_step_seconds", static_cast<double>(params_.window_step_seconds)},
          {"history_candidates", params_.history_candidates},
          {"source_candidates", params_.source_candidates},
          {"max_context_events", params_.max_context_events},
          {"features", static_cast<double>(kFeatures)}};
}

Status RerankerModel::Save(const std::string& dir) const {
  auto trees = trees_->ToBytes();
  if (!trees.ok()) return trees.status();
  ArtifactWriter w("rerank");
  const RerankerParams& p = params_;
  w.Put<uint32_t>(static_cast<uint32_t>(kFeatures));
  w.Put(p.trees.trees);
  w.Put(p.trees.max_depth);
  w.Put(p.trees.eta);
  w.Put(p.trees.min_child_weight);
  w.Put(p.trees.subsample);
  w.Put(p.trees.seed);
  w.PutString(p.trees.objective);
  w.Put(p.window_seconds);
  w.Put(p.windows);
  w.Put(p.window_step_seconds);
  w.Put(p.history_candidates);
  w.Put(p.source_candidates);
  w.Put(p.max_context_events);
  w.Put(p.session_gap_seconds);
  w.Put(p.recent_seconds);
  w.Put(p.weighting);
  w.PutStrings(items_);
  w.PutVector(stats_);
  w.PutString(*trees);
  return WriteFileAtomically(dir + "/model.bin", w.bytes());
}

Result<std::unique_ptr<RerankerModel>> RerankerModel::Load(const std::string& dir) {
  auto bytes = ReadWholeFile(dir + "/model.bin");
  if (!bytes.ok()) return bytes.status();
  auto r = ArtifactReader::Open(std::move(*bytes), "rerank");
  if (!r.ok()) return r.status();
  std::unique_ptr<RerankerModel> m(new RerankerModel());
  RerankerParams& p = m->params_;
  uint32_t features = 0;
  std::string trees;
  SW_RETURN_IF_ERROR(r->Get(&features));
  SW_RETURN_IF_ERROR(r->Get(&p.trees.trees));
  SW_RETURN_IF_ERROR(r->Get(&p.trees.max_depth));
  SW_RETURN_IF_ERROR(r->Get(&p.trees.eta));
  SW_RETURN_IF_ERROR(r->Get(&p.trees.min_child_weight));
  SW_RETURN_IF_ERROR(r->Get(&p.trees.subsample));
  SW_RETURN_IF_ERROR(r->Get(&p.trees.seed));
  SW_RETURN_IF_ERROR(r->GetString(&p.trees.objective));
  SW_RETURN_IF_ERROR(r->Get(&p.window_seconds));
  SW_RETURN_IF_ERROR(r->Get(&p.windows));
  SW_RETURN_IF_ERROR(r->Get(&p.window_step_seconds));
  SW_RETURN_IF_ERROR(r->Get(&p.history_candidates));
  SW_RETURN_IF_ERROR(r->Get(&p.source_candidates));
  SW_RETURN_IF_ERROR(r->Get(&p.max_context_events));
  SW_RETURN_IF_ERROR(r->Get(&p.session_gap_seconds));
  SW_RETURN_IF_ERROR(r->Get(&p.recent_seconds));
  SW_RETURN_IF_ERROR(r->Get(&p.weighting));
  SW_RETURN_IF_ERROR(r->GetStrings(&m->items_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->stats_));
  SW_RETURN_IF_ERROR(r->GetString(&trees));
  if (!r->AtEnd() || features != kFeatures || m->stats_.size() != m->items_.size() || p.max_context_events == 0) {
    return Status(ErrorCode::kDataLoss, dir + "/model.bin: inconsistent reranker artifact");
  }
  auto lm = LambdaMart::FromBytes(trees, features);
  if (!lm.ok()) return Status(ErrorCode::kDataLoss, dir + "/model.bin: " + lm.status().message());
  m->trees_ = std::move(*lm);
  return m;
}

}  // namespace shelfwatch::recommend
