#include "recommend/trainer.h"

#include <cstdio>
#include <filesystem>
#include <unordered_set>

#include "common/clock.h"
#include "common/log.h"
#include "recommend/artifact.h"

namespace shelfwatch::recommend {

namespace {

void PadWithPopular(const PopularityModel* popularity, std::span<const ContextEvent> history, int64_t now,
                    const std::unordered_set<uint32_t>& banned, size_t k, std::vector<uint32_t>* out) {
  if (popularity == nullptr || out->size() >= k) return;
  std::vector<Candidate> pop;
  ScoringContext ctx{history, kNoItem, now};
  popularity->Score(ctx, k + banned.size() + out->size(), &pop);
  for (const auto& c : pop) {
    if (out->size() >= k) break;
    if (banned.count(c.item) || std::find(out->begin(), out->end(), c.item) != out->end()) continue;
    out->push_back(c.item);
  }
}

std::unordered_set<uint32_t> SeenItems(std::span<const ContextEvent> history, bool exclude) {
  std::unordered_set<uint32_t> seen;
  if (exclude) {
    for (const auto& e : history) seen.insert(e.item);
  }
  return seen;
}

}  // namespace

OfflineRecommender OfflineBlend(const BlendRecommender& blend, const PopularityModel* popularity) {
  return [&blend, popularity](std::span<const ContextEvent> history, int64_t now, bool exclude_seen, size_t k,
                              std::vector<uint32_t>* out) {
    auto seen = SeenItems(history, exclude_seen);
    std::vector<SourcedCandidate> c;
    blend.Recommend(ScoringContext{history, kNoItem, now}, k + seen.size(), &c);
    for (const auto& x : c) {
      if (out->size() < k && !seen.count(x.item)) out->push_back(x.item);
    }
    PadWithPopular(popularity, history, now, seen, k, out);
  };
}

OfflineRecommender OfflineModel(const CandidateModel& model, const PopularityModel* popularity) {
  return [&model, popularity](std::span<const ContextEvent> history, int64_t now, bool exclude_seen, size_t k,
                              std::vector<uint32_t>* out) {
    auto seen = SeenItems(history, exclude_seen);
    std::vector<Candidate> c;
    model.Score(ScoringContext{history, kNoItem, now}, k + seen.size(), &c);
    for (const auto& x : c) {
      if (out->size() < k && !seen.count(x.item)) out->push_back(x.item);
    }
    PadWithPopular(popularity, history, now, seen, k, out);
  };
}

Result<TuningReport> TuneBlend(const InteractionLog& log, const TrainOptions& options) {
  int64_t end = log.MaxTimestamp() + 1;
  int64_t cutoff = end - options.validation_seconds;
  InteractionLog train = log.Before(cutoff);
  auto cases = BuildCases(log, cutoff, Protocol::kMain);
  if (train.events.empty() || cases.empty()) {
    return FailedPrecondition("blend tuning needs events before and inside the validation window");
  }
  auto covisit = CoVisitationModel::Train(train, options.covisit);
  auto sknn = SessionKnnModel::Train(train, options.sknn);
  auto ease = EaseModel::Train(train, options.ease);
  auto popularity = PopularityModel::Train(train, options.popularity);
  TuningReport report;
  report.validation_users = cases.size();
  BlendRecommender blend(options.blend, covisit.get(), ease.ok() ? ease->get() : nullptr, sknn.get());
  auto recommender = OfflineBlend(blend, popularity.get());
  static constexpr float kCovisit[] = {0.0f, 0.1f, 0.25f};
  static constexpr float kEase[] = {0.0f, 0.05f, 0.1f, 0.2f, 0.35f};
  static constexpr float kSknn[] = {0.0f, 0.1f};
  bool first = true;
  for (float c : kCovisit) {
    for (float e : kEase) {
      if (!ease.ok() && e > 0) continue;
      for (float s : kSknn) {
        BlendConfig config = options.blend;
        config.weights = {1.0f, c, e, s};
        blend.set_config(config);
        RankingMetrics m = Evaluate(train, cases, Protocol::kMain, cutoff, 20, recommender);
        ++report.combinations;
        if (first || m.recall > report.validation.recall + 1e-9 ||
            (m.recall > report.validation.recall - 1e-9 && m.ndcg10 > report.validation.ndcg10)) {
          report.best = config;
          report.validation = m;
          first = false;
        }
      }
    }
  }
  return report;
}

SourceTrainer RerankSourceTrainer(const TrainOptions& options) {
  return [options](const InteractionLog& before) {
    OwnedSources o;
    if (options.reranker_sources[0]) {
      std::shared_ptr<const CandidateModel> m = CoVisitationModel::Train(before, options.covisit);
      o.models[0] = m.get();
      o.owned.push_back(std::move(m));
    }
    if (options.reranker_sources[1]) {
      auto ease = EaseModel::Train(before, options.ease);
      if (ease.ok()) {
        std::shared_ptr<const CandidateModel> m = std::move(*ease);
        o.models[1] = m.get();
        o.owned.push_back(std::move(m));
      }
    }
    if (options.reranker_sources[2]) {
      std::shared_ptr<const CandidateModel> m = SessionKnnModel::Train(before, options.sknn);
      o.models[2] = m.get();
      o.owned.push_back(std::move(m));
    }
    return o;
  };
}

Result<RerankCrossValidation> CrossValidateReranker(const InteractionLog& log, const TrainOptions& options, size_t folds) {
  auto set = BuildRerankTrainingSet(log, options.reranker, RerankSourceTrainer(options));
  if (!set.ok()) return set.status();
  return CrossValidateReranker(log, *set, options.reranker, folds);
}

namespace {

// Trains the reranker on label windows of `log`; first without the latest window (and the
// windows overlapping it), to check on it that the reranker beats `baseline_recall` (the tuned
// blend's, or the recency score's when the blend was not tuned), then on every window.
void TrainReranker(const InteractionLog& log, const TrainOptions& options, double baseline_recall, TrainedModels* out) {
  auto set = BuildRerankTrainingSet(log, options.reranker, RerankSourceTrainer(options));
  if (!set.ok()) {
    out->reranker_note = set.status().message();
    return;
  }
  size_t before_latest = set->FirstWindowBefore(0);
  if (before_latest >= set->windows.size()) {
    out->reranker_note = "reranker: no label window ends before the latest one, nothing left to validate on";
    return;
  }
  auto holdout = RerankerModel::Train(log, *set, options.reranker, before_latest);
  if (!holdout.ok()) {
    out->reranker_note = holdout.status().message();
    return;
  }
  auto validation = (*holdout)->Validate(set->windows[0]);
  if (!validation.ok()) {
    out->reranker_note = validation.status().message();
    return;
  }
  out->reranker_validation = *validation;
  double baseline = baseline_recall > 0 ? baseline_recall : validation->recency_recall;
  if (validation->recall <= baseline) {
    char note[160];
    std::snprintf(note, sizeof note, "reranker: validation recall@20 %.4f does not beat %.4f", validation->recall, baseline);
    out->reranker_note = note;
    return;
  }
  auto final_model = RerankerModel::Train(log, *set, options.reranker, 0);
  if (!final_model.ok()) {
    out->reranker_note = final_model.status().message();
    return;
  }
  out->reranker = std::move(*final_model);
}

}  // namespace

Result<TrainedModels> TrainModels(const InteractionLog& log, const TrainOptions& options, std::string_view which) {
  bool all = which == "all";
  if (!all && which != "popularity" && which != "covisit" && which != "sknn" && which != "ease" && which != "blend" &&
      which != "rerank") {
    return InvalidArgument("unknown model '" + std::string(which) + "' (all|popularity|covisit|sknn|ease|blend|rerank)");
  }
  bool blend = all || which == "blend" || which == "rerank";
  TrainedModels out;
  // Popularity always comes along: it is every other model's fallback.
  out.popularity = PopularityModel::Train(log, options.popularity);
  if (all || blend || which == "covisit") out.covisit = CoVisitationModel::Train(log, options.covisit);
  if (all || blend || which == "sknn") out.sknn = SessionKnnModel::Train(log, options.sknn);
  if (all || blend || which == "ease") {
    auto ease = EaseModel::Train(log, options.ease);
    if (!ease.ok() && which == "ease") return ease.status();
    if (ease.ok()) out.ease = std::move(*ease);
  }
  if (blend) {
    out.blend = options.blend;
    if (options.tune_blend) {
      auto tuned = TuneBlend(log, options);
      if (tuned.ok()) {
        out.blend = tuned->best;
        out.blend_validation = tuned->validation;
      }
    }
    if (options.train_reranker) TrainReranker(log, options, out.blend_validation.recall, &out);
  }
  return out;
}

Result<std::vector<SavedVersion>> SaveModels(const TrainedModels& models, const std::string& repo_dir,
                                             const std::string& trained_on) {
  std::vector<SavedVersion> saved;
  // A serving recommender must not pick up half of a set of versions: it waits while this
  // marker exists (RecommendService::Reload).
  std::error_code ec;
  std::filesystem::create_directories(repo_dir, ec);
  const std::string marker = repo_dir + "/" + std::string(kWritingMarker);
  SW_RETURN_IF_ERROR(WriteFileAtomically(marker, "shelfwatch train recommender\n"));
  // Removed only when every version is written: after a failure the half-written set stays
  // invisible to serving until a later run succeeds.
  bool complete = false;
  struct RemoveMarker {
    std::string path;
    const bool* complete;
    ~RemoveMarker() {
      std::error_code ignored;
      if (*complete) std::filesystem::remove(path, ignored);
    }
  } remove_marker{marker, &complete};
  auto save = [&](const std::string& name, auto&& write, std::vector<std::pair<std::string, double>> params,
                  std::vector<std::pair<std::string, double>> metrics) -> Status {
    auto dir = CreateNextVersionDir(repo_dir, name);
    if (!dir.ok()) return dir.status();
    // config.json first: a version counts once model.bin (written last, atomically) exists.
    ArtifactConfig config{name, trained_on, UnixMillis(), std::move(params), std::move(metrics), ""};
    SW_RETURN_IF_ERROR(WriteConfig(*dir, config));
    SW_RETURN_IF_ERROR(write(*dir));
    saved.push_back({name, *dir});
    return Status::Ok();
  };
  auto model_writer = [](const CandidateModel& m) { return [&m](const std::string& d) { return m.Save(d); }; };
  if (models.popularity) SW_RETURN_IF_ERROR(save("popularity", model_writer(*models.popularity), models.popularity->Params(), {}));
  if (models.covisit) SW_RETURN_IF_ERROR(save("covisit", model_writer(*models.covisit), models.covisit->Params(), {}));
  if (models.sknn) SW_RETURN_IF_ERROR(save("sknn", model_writer(*models.sknn), models.sknn->Params(), {}));
  if (models.ease) SW_RETURN_IF_ERROR(save("ease", model_writer(*models.ease), models.ease->Params(), {}));
  if (models.blend) {
    const BlendConfig& b = *models.blend;
    SW_RETURN_IF_ERROR(save("blend", [&b](const std::string& d) { return b.Save(d); },
                            {{"w_history", b.weights[0]}, {"w_covisit", b.weights[1]}, {"w_ease", b.weights[2]},
                             {"w_sknn", b.weights[3]}, {"history_decay_seconds", b.history.decay_seconds}},
                            {{"validation_recall@20", models.blend_validation.recall},
                             {"validation_ndcg@10", models.blend_validation.ndcg10},
                             {"validation_users", static_cast<double>(models.blend_validation.users)}}));
  }
  if (models.reranker) {
    const RerankerModel& r = *models.reranker;
    const RerankValidation& v = models.reranker_validation;
    SW_RETURN_IF_ERROR(save("rerank", [&r](const std::string& d) { return r.Save(d); }, r.Params(),
                            {{"validation_recall@20", v.recall},
                             {"validation_ndcg@10", v.ndcg10},
                             {"validation_recency_recall@20", v.recency_recall},
                             {"validation_users", static_cast<double>(v.users)}}));
  }
  complete = true;
  return saved;
}

}  // namespace shelfwatch::recommend

namespace shelfwatch::recommend {

Result<LoadedModels> LoadLatestModels(const std::string& repo_dir) {
  LoadedModels out;
  auto dir_of = [&](const std::string& name) -> std::string {
    uint32_t v = LatestVersion(repo_dir, name);
    if (v == 0) return "";
    std::string dir = repo_dir + "/" + name + "/" + std::to_string(v);
    out.versions.push_back({name, dir});
    return dir;
  };
  if (auto d = dir_of("popularity"); !d.empty()) {
    auto m = PopularityModel::Load(d);
    if (!m.ok()) return m.status();
    out.popularity = std::move(*m);
  }
  if (auto d = dir_of("covisit"); !d.empty()) {
    auto m = CoVisitationModel::Load(d);
    if (!m.ok()) return m.status();
    out.covisit = std::move(*m);
  }
  if (auto d = dir_of("sknn"); !d.empty()) {
    auto m = SessionKnnModel::Load(d);
    if (!m.ok()) return m.status();
    out.sknn = std::move(*m);
  }
  if (auto d = dir_of("ease"); !d.empty()) {
    auto m = EaseModel::Load(d);
    if (!m.ok()) return m.status();
    out.ease = std::move(*m);
  }
  if (auto d = dir_of("blend"); !d.empty()) {
    auto b = BlendConfig::Load(d);
    if (!b.ok()) return b.status();
    out.blend = *b;
  }
  // A reranker older than the latest blend belongs to an earlier training: the one that wrote
  // that blend found no reranker worth keeping, so none is served.
  uint32_t rerank_version = LatestVersion(repo_dir, "rerank");
  if (rerank_version > 0) {
    std::string d = repo_dir + "/rerank/" + std::to_string(rerank_version);
    auto rerank_config = ReadConfig(d);
    if (!rerank_config.ok()) return rerank_config.status();
    std::string blend_at;
    if (uint32_t b = LatestVersion(repo_dir, "blend"); b > 0) {
      auto blend_config = ReadConfig(repo_dir + "/blend/" + std::to_string(b));
      if (blend_config.ok()) blend_at = blend_config->trained_at;
    }
    if (rerank_config->trained_at >= blend_at) {
      auto m = RerankerModel::Load(d);
      if (m.ok()) {
        out.reranker = std::move(*m);
        out.versions.push_back({"rerank", d});
      } else {
        // The reranker is optional: without it personal requests use the blend. (A reranker
        // saved before the 12-hourly windows has another layout and is refused as data loss.)
        log::Warn("recommendation reranker not loaded; serving the blend", {{"dir", d}, {"error", m.status().message()}});
      }
    }
  }
  if (out.versions.empty()) return NotFound(repo_dir + ": no recommender model versions (popularity|covisit|sknn|ease|blend|rerank)");
  return out;
}

}  // namespace shelfwatch::recommend
