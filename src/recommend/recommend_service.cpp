#include "recommend/recommend_service.h"

#include <array>
#include <filesystem>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "recommend/artifact.h"
#include "recommend/trainer.h"

namespace shelfwatch::recommend {

Result<Exclude> ParseExclude(std::string_view text) {
  if (text.empty() || text == "none") return Exclude::kNone;
  if (text == "seen") return Exclude::kSeen;
  if (text == "purchased") return Exclude::kPurchased;
  return InvalidArgument("exclude must be seen, purchased or none (got '" + std::string(text.substr(0, 64)) + "')");
}

namespace {

bool IsValidId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == ',') return false;
  }
  return true;
}

// Bounded, sharded map of id -> recent events (users or sessions).
class HistoryTable {
 public:
  HistoryTable(size_t max_keys, size_t max_events) : max_per_shard_(std::max<size_t>(1, max_keys / kShards)), max_events_(max_events) {}

  void Append(std::string_view key, const ContextEvent& e) {
    Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      // Full: evict one entry. Any will do for a bound; the map's first bucket is cheap.
      if (s.map.size() >= max_per_shard_) s.map.erase(s.map.begin());
      it = s.map.emplace(std::string(key), std::vector<ContextEvent>()).first;
    }
    auto& v = it->second;
    if (v.size() >= max_events_) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - max_events_ + 1));
    // Keep chronological order even when events arrive slightly out of order.
    auto pos = v.end();
    while (pos != v.begin() && (pos - 1)->timestamp > e.timestamp) --pos;
    v.insert(pos, e);
  }
  // Copies the events of `key` onto `out`; false when unknown.
  bool CopyTo(std::string_view key, std::vector<ContextEvent>* out) const {
    const Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    out->insert(out->end(), it->second.begin(), it->second.end());
    return true;
  }

 private:
  static constexpr size_t kShards = 32;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::vector<ContextEvent>, Hash, std::equal_to<>> map;
  };
  Shard& ShardOf(std::string_view key) { return shards_[std::hash<std::string_view>()(key) % kShards]; }
  const Shard& ShardOf(std::string_view key) const { return shards_[std::hash<std::string_view>()(key) % kShards]; }
  size_t max_per_shard_, max_events_;
  std::array<Shard, kShards> shards_;
};

}  // namespace

struct RecommendService::Histories {
  Histories(const ServiceOptions& o)
      : users(o.max_users, o.max_history_per_user), sessions(o.max_sessions, o.max_history_per_user) {}
  HistoryTable users, sessions;
};

struct RecommendService::Models {
  std::shared_ptr<const std::string> versions;
  std::shared_ptr<const PopularityModel> popularity;
  std::unique_ptr<MappedModel> popularity_mapped, covisit, ease, sknn;
  std::vector<uint32_t> from_popularity;  // popularity item -> service item
  BlendConfig blend;
  std::shared_ptr<const RerankerModel> reranker;
  std::vector<ItemStat> reranker_stats;  // by service item (items added later: unknown)
};

namespace {

// "popularity/3,covisit/2,...": the latest version of each slot, without loading anything.
std::string LatestKey(const std::string& repo_dir) {
  std::string key;
  for (const char* slot : {"popularity", "covisit", "sknn", "ease", "blend", "rerank"}) {
    key += std::string(slot) + "/" + std::to_string(LatestVersion(repo_dir, slot)) + ",";
  }
  return key;
}

}  // namespace

RecommendService::~RecommendService() = default;

std::string RecommendService::model_versions() const { return *models_.load()->versions; }

std::shared_ptr<const RecommendService::Models> RecommendService::BuildModels(
    std::shared_ptr<const PopularityModel> popularity, std::shared_ptr<const CandidateModel> covisit,
    std::shared_ptr<const CandidateModel> ease, std::shared_ptr<const CandidateModel> sknn,
    std::optional<BlendConfig> blend, std::shared_ptr<const RerankerModel> reranker, std::string versions) {
  auto m = std::make_shared<Models>();
  m->versions = std::make_shared<const std::string>(std::move(versions));
  m->popularity = std::move(popularity);
  if (blend) m->blend = *blend;
  m->reranker = std::move(reranker);
  {
    // The service's item space: popularity's items first (it knows every trained item and its
    // category), then any other model's. It only grows, so older models' indices stay valid.
    std::unique_lock lock(items_mu_);
    for (const auto& id : m->popularity->item_ids()) items_.Intern(id);
    for (const auto& model : {covisit, ease, sknn}) {
      if (model) for (const auto& id : model->item_ids()) items_.Intern(id);
    }
  }
  std::shared_lock lock(items_mu_);
  m->popularity_mapped = std::make_unique<MappedModel>(m->popularity, items_);
  if (covisit) m->covisit = std::make_unique<MappedModel>(covisit, items_);
  if (ease) m->ease = std::make_unique<MappedModel>(ease, items_);
  if (sknn) m->sknn = std::make_unique<MappedModel>(sknn, items_);
  if (m->reranker) m->reranker_stats = m->reranker->StatsFor(items_);
  m->from_popularity.resize(m->popularity->item_ids().size());
  for (uint32_t i = 0; i < m->from_popularity.size(); ++i) m->from_popularity[i] = items_.Find(m->popularity->item_ids()[i]);
  return m;
}

Result<bool> RecommendService::Reload() {
  if (options_.model_dir.empty()) return false;
  // A training run is writing a set of versions (or failed half way): wait for a complete one.
  const std::string marker = options_.model_dir + "/" + std::string(kWritingMarker);
  std::error_code ec;
  if (std::filesystem::exists(marker, ec)) return false;
  const std::string key = LatestKey(options_.model_dir);
  if (key == latest_key_ || key == failed_key_) return false;
  auto loaded = LoadLatestModels(options_.model_dir);
  // A run that began while this one loaded may have mixed old and new slots: try again later.
  if (std::filesystem::exists(marker, ec) || LatestKey(options_.model_dir) != key) return false;
  if (!loaded.ok()) {
    failed_key_ = key;  // not retried until the repository changes again
    return loaded.status();
  }
  if (!loaded->popularity) return FailedPrecondition(options_.model_dir + ": no popularity model (the fallback is required)");
  std::string versions;
  for (const auto& v : loaded->versions) {
    if (!versions.empty()) versions += ",";
    versions += v.model + "/" + v.dir.substr(v.dir.rfind('/') + 1);
  }
  try {
    models_.store(BuildModels(loaded->popularity, loaded->covisit, loaded->ease, loaded->sknn, loaded->blend,
                              options_.rerank ? loaded->reranker : nullptr, std::move(versions)));
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kResourceExhausted, "out of memory while loading new recommender models");
  }
  latest_key_ = key;
  return true;
}

Result<std::unique_ptr<RecommendService>> RecommendService::Open(const ServiceOptions& options) {
  if (options.model_dir.empty() && options.events_path.empty()) {
    return InvalidArgument("recommender needs a model directory or an events file");
  }
  if (options.max_k == 0 || options.max_history_per_user == 0) return InvalidArgument("max_k and max_history_per_user must be positive");
  std::unique_ptr<RecommendService> service(new RecommendService());
  try {
    SW_RETURN_IF_ERROR(service->Init(options));
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kResourceExhausted, "out of memory while opening the recommender");
  } catch (const std::exception& e) {
    return Internal(std::string("recommender: ") + e.what());
  }
  return service;
}

Status RecommendService::Init(const ServiceOptions& options) {
  options_ = options;
  histories_ = std::make_unique<Histories>(options);
  live_ = std::make_unique<LiveCoVisitation>();
  std::optional<InteractionLog> log;
  if (!options.events_path.empty()) {
    auto loaded = LoadInteractions(options.events_path);
    if (!loaded.ok()) return loaded.status();
    log = std::move(*loaded);
  }
  std::shared_ptr<const PopularityModel> popularity;
  std::shared_ptr<const CandidateModel> covisit, ease, sknn;
  std::optional<BlendConfig> blend;
  std::shared_ptr<const RerankerModel> reranker;
  std::string versions;
  if (!options.model_dir.empty()) {
    latest_key_ = LatestKey(options.model_dir);
    auto loaded = LoadLatestModels(options.model_dir);
    if (!loaded.ok()) return loaded.status();
    popularity = loaded->popularity;
    covisit = loaded->covisit;
    ease = loaded->ease;
    sknn = loaded->sknn;
    blend = loaded->blend;
    if (options.rerank) reranker = loaded->reranker;
    for (const auto& v : loaded->versions) {
      if (!versions.empty()) versions += ",";
      versions += v.model + "/" + v.dir.substr(v.dir.rfind('/') + 1);
    }
  } else {
    TrainOptions train;
    train.tune_blend = options.tune_blend;
    train.train_reranker = options.rerank;
    auto trained = TrainModels(*log, train, "all");
    if (!trained.ok()) return trained.status();
    popularity = std::move(trained->popularity);
    covisit = std::move(trained->covisit);
    ease = std::move(trained->ease);
    sknn = std::move(trained->sknn);
    blend = trained->blend;
    reranker = std::move(trained->reranker);
    versions = "trained:" + options.events_path;
  }
  if (log && !popularity) popularity = PopularityModel::Train(*log);
  if (!popularity) return FailedPrecondition(options.model_dir + ": no popularity model (the fallback is required)");
  models_.store(BuildModels(std::move(popularity), std::move(covisit), std::move(ease), std::move(sknn), blend,
                            std::move(reranker), std::move(versions)));
  if (log) {
    std::unique_lock lock(items_mu_);
    for (const auto& id : log->items.names()) items_.Intern(id);
  }

  if (log) {
    // Seed histories: the last max_history_per_user events of each user.
    for (uint32_t u = 0; u < log->users.size(); ++u) {
      auto events = log->EventsOf(u);
      size_t start = events.size() > options.max_history_per_user ? events.size() - options.max_history_per_user : 0;
      for (size_t i = start; i < events.size(); ++i) {
        histories_->users.Append(log->users.Name(u), {items_.Find(log->items.Name(events[i].item)), events[i].behavior, events[i].timestamp});
      }
    }
    clock_.store(log->MaxTimestamp(), std::memory_order_relaxed);
  }
  if (items_.size() == 0) return FailedPrecondition("recommender has no items");
  return Status::Ok();
}

size_t RecommendService::item_count() const {
  std::shared_lock lock(items_mu_);
  return items_.size();
}

std::vector<ContextEvent> RecommendService::ContextOf(const RecommendRequest& r, Recommendations* flags) const {
  std::vector<ContextEvent> context;
  if (!r.user_id.empty() && !histories_->users.CopyTo(r.user_id, &context)) flags->unknown_user = true;
  std::vector<ContextEvent> session;
  if (!r.session_id.empty()) histories_->sessions.CopyTo(r.session_id, &session);
  // A session's events may also be in the user's history (OnEvent records both): add only
  // those not already there.
  for (const auto& e : session) {
    bool dup = false;
    for (const auto& c : context) dup = dup || (c.item == e.item && c.timestamp == e.timestamp);
    if (!dup) context.push_back(e);
  }
  std::stable_sort(context.begin(), context.end(), [](const ContextEvent& a, const ContextEvent& b) { return a.timestamp < b.timestamp; });
  // Items named in the request are being viewed now: the data's clock, not before the
  // latest known event.
  int64_t now = std::max(context.empty() ? 0 : context.back().timestamp, clock_.load(std::memory_order_relaxed));
  if (!r.session_items.empty()) {
    std::shared_lock lock(items_mu_);
    for (const auto& id : r.session_items) context.push_back({items_.Find(id), Behavior::kView, now});
  }
  return context;
}

Result<Recommendations> RecommendService::Recommend(const RecommendRequest& r) const {
  if (r.k < 1 || r.k > options_.max_k) {
    return InvalidArgument("k must be between 1 and " + std::to_string(options_.max_k) + " (got " + std::to_string(r.k) + ")");
  }
  if (!r.user_id.empty() && !IsValidId(r.user_id)) return InvalidArgument("malformed user id");
  if (!r.session_id.empty() && !IsValidId(r.session_id)) return InvalidArgument("malformed session id");
  if (!r.item_id.empty() && !IsValidId(r.item_id)) return InvalidArgument("malformed item id");
  if (r.session_items.size() > options_.max_history_per_user) {
    return InvalidArgument("at most " + std::to_string(options_.max_history_per_user) + " session items");
  }
  for (const auto& id : r.session_items) {
    if (!IsValidId(id)) return InvalidArgument("malformed session item id");
  }
  Recommendations out;
  const std::shared_ptr<const Models> m = models_.load();  // held to the end of the request
  out.model_versions = m->versions;
  const BlendConfig& blend = m->blend;
  const RerankerModel* reranker = m->reranker.get();
  std::vector<ContextEvent> context = ContextOf(r, &out);
  uint32_t anchor = kNoItem;
  if (!r.item_id.empty()) {
    std::shared_lock lock(items_mu_);
    anchor = items_.Find(r.item_id);
    out.unknown_item = anchor == kNoItem;
  }
  int64_t now = 0;
  for (const auto& e : context) now = std::max(now, e.timestamp);
  ScoringContext ctx{context, anchor, now};

  std::unordered_set<uint32_t> banned;
  if (anchor != kNoItem) banned.insert(anchor);
  for (const auto& e : context) {
    if (r.exclude == Exclude::kSeen || (r.exclude == Exclude::kPurchased && e.behavior == Behavior::kBuy)) banned.insert(e.item);
  }
  size_t want = r.k + banned.size();
  size_t per = std::max<size_t>(blend.candidates_per_source, want);
  std::array<std::vector<Candidate>, kBlendedSources + 1> lists;
  std::vector<SourcedCandidate> blended;
  bool known = false;
  for (const auto& e : context) known = known || e.item != kNoItem;
  if (known || anchor != kNoItem) {
    const MappedModel* models[] = {m->covisit.get(), m->ease.get(), m->sknn.get()};
    bool rerank = reranker && IsPersonalContext(ctx);
    if (rerank) {
      // The reranker reads every model's candidates, whatever the blend weights.
      for (size_t m = 0; m < 3; ++m) {
        if (models[m]) models[m]->Score(ctx, reranker->params().source_candidates, &lists[m + 1]);
      }
    } else {
      if (blend.weights[0] > 0) ScoreOwnHistory(ctx, blend.history, per, &lists[0]);
      for (size_t m = 0; m < 3; ++m) {
        if (models[m] && blend.weights[m + 1] > 0) models[m]->Score(ctx, per, &lists[m + 1]);
      }
    }
    // Online co-visitation over the service's item space.
    auto query = QueryItems(ctx, blend.history, 40);
    auto& acc = ScoreAccumulator::ForThread();
    {
      std::shared_lock lock(items_mu_);
      acc.Reset(items_.size());
    }
    live_->Score(query, acc);
    acc.Drain(&lists[kBlendedSources]);
    KeepTop(&lists[kBlendedSources], per);
    if (rerank) {
      RerankSourceLists sources{std::move(lists[1]), std::move(lists[2]), std::move(lists[3])};
      // Time features from the data's clock, as in training (ages at the end of the log).
      ScoringContext at_clock{ctx.history, ctx.anchor, std::max(ctx.now, clock_.load(std::memory_order_relaxed))};
      reranker->Rank(at_clock, sources, m->reranker_stats, want, &blended);
      MergeLive(lists[kBlendedSources], blend.live_weight, want, &blended);
    }
  }
  if (blended.empty()) Blend(lists, blend, want, &blended);
  std::unordered_set<uint32_t> taken;
  std::vector<std::pair<uint32_t, SourcedCandidate>> picked;
  for (const auto& c : blended) {
    if (picked.size() >= r.k) break;
    if (banned.count(c.item) || !taken.insert(c.item).second) continue;
    picked.push_back({c.item, c});
  }
  out.personalised = !picked.empty();
  // Popularity padding: in the category of the anchor or the latest known item, trending, global.
  if (picked.size() < r.k) {
    uint32_t basis = anchor;
    for (size_t i = context.size(); basis == kNoItem && i > 0; --i) basis = context[i - 1].item;
    uint32_t category = m->popularity->CategoryOf(m->popularity_mapped->ToModel(basis));
    float floor_score = picked.empty() ? 1.0f : picked.back().second.score;
    auto pad = [&](std::span<const Candidate> list, Source source) {
      float top = list.empty() ? 1.0f : std::max(list.front().score, 1e-9f);
      for (const auto& c : list) {
        if (picked.size() >= r.k) return;
        uint32_t item = m->from_popularity[c.item];
        if (item == kNoItem || banned.count(item) || !taken.insert(item).second) continue;
        // Below every personalised result, ordered by popularity.
        picked.push_back({item, {item, floor_score * 0.5f * c.score / top, source}});
      }
    };
    pad(m->popularity->InCategory(category), Source::kPopularInCategory);
    pad(m->popularity->Trending(), Source::kTrending);
    pad(m->popularity->Global(), Source::kPopular);
  }
  std::shared_lock lock(items_mu_);
  out.results.reserve(picked.size());
  for (const auto& [item, c] : picked) out.results.push_back({items_.Name(item), c.score, ReasonName(c.source)});
  return out;
}

Status RecommendService::OnEvent(std::string_view user_id, std::string_view session_id, std::string_view item_id,
                                 Behavior type, int64_t timestamp) {
  if (!IsValidId(user_id)) return InvalidArgument("malformed user id");
  if (!session_id.empty() && !IsValidId(session_id)) return InvalidArgument("malformed session id");
  if (!IsValidId(item_id)) return InvalidArgument("malformed item id");
  uint32_t item;
  {
    std::shared_lock lock(items_mu_);
    item = items_.Find(item_id);
  }
  if (item == kNoItem) {
    std::unique_lock lock(items_mu_);
    item = items_.Intern(item_id);
  }
  // Pair the item with the user's recent items of the same session (time gap) online.
  std::vector<ContextEvent> recent;
  histories_->users.CopyTo(user_id, &recent);
  float w = models_.load()->blend.history.behavior[static_cast<int>(type)];
  size_t paired = 0;
  for (size_t i = recent.size(); i > 0 && paired < 10; --i) {
    const auto& e = recent[i - 1];
    if (timestamp - e.timestamp > options_.session_gap_seconds) break;
    if (e.item == kNoItem || e.item == item) continue;
    live_->AddPair(e.item, item, w);
    ++paired;
  }
  ContextEvent event{item, type, timestamp};
  int64_t seen = clock_.load(std::memory_order_relaxed);
  while (timestamp > seen && !clock_.compare_exchange_weak(seen, timestamp, std::memory_order_relaxed)) {
  }
  histories_->users.Append(user_id, event);
  if (!session_id.empty()) histories_->sessions.Append(session_id, event);
  return Status::Ok();
}

}  // namespace shelfwatch::recommend
