// shelfwatch eval-rec: offline evaluation of the recommenders on a time split of an
// interaction log (../shared/data/README.md, Taobao): both protocols, every model and the
// baselines, as a table; the last line is the best model's main-protocol figures.
// --cv FOLDS instead cross-validates the reranker on TRAIN alone (reranker.h) and never reads
// the TEST events: the figure its settings are chosen by.
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "recommend/mapped_model.h"
#include "recommend/trainer.h"

namespace shelfwatch::cli {
namespace {

using namespace shelfwatch::recommend;

struct Row {
  std::string protocol, model;
  bool baseline = false;
  RankingMetrics m;
  double seconds = 0;
};

void PrintRow(const Row& r) {
  std::printf("%-10s %-26s %9.4f %8.4f %7.4f %9.4f %8.3f %6zu %7.2f\n", r.protocol.c_str(), r.model.c_str(),
              r.m.recall, r.m.ndcg10, r.m.hit_rate, r.m.coverage, r.m.popularity_percentile, r.m.users, r.seconds);
}

}  // namespace

int RunEvalRec(int argc, char** argv) {
  Flags flags("eval-rec",
              "Offline evaluation of recommenders on a time split (Recall@20, NDCG@10, HitRate@20, coverage,\n"
              "popularity bias) for both protocols of the data README, models and baselines.",
              {{"events", "FILE", "user_id,item_id,category_id,behavior_type,timestamp CSV (required)"},
               {"cutoff", "UNIX_SECONDS", "events before it are TRAIN, later ones TEST", "1512259200"},
               {"models", "DIR", "evaluate the latest versions in this model repository instead of training"},
               {"k", "N", "list length for Recall/HitRate", "20"},
               {"no-tune", "", "use the default blend weights instead of tuning them on a validation split"},
               {"no-rerank", "", "leave the learned reranker out (trained here, or loaded with --models)"},
               {"cv", "FOLDS", "only cross-validate the reranker on TRAIN (its last FOLDS days, each scored by a model "
                               "trained on the days before it); TEST is not evaluated"}});
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  if (!flags.Has("events")) {
    std::fprintf(stderr, "eval-rec: --events is required\n\n%s", flags.Help().c_str());
    return 2;
  }
  auto cutoff = flags.GetInt("cutoff", 0, 32503680000LL);
  auto k_flag = flags.GetInt("k", 1, 1000);
  if (!cutoff.ok() || !k_flag.ok()) {
    std::fprintf(stderr, "eval-rec: %s\n", (!cutoff.ok() ? cutoff.status() : k_flag.status()).ToString().c_str());
    return 2;
  }
  size_t k = static_cast<size_t>(*k_flag);
  LoadStats stats;
  auto log = LoadInteractions(flags.Get("events"), &stats);
  if (!log.ok()) {
    std::fprintf(stderr, "eval-rec: %s\n", log.status().ToString().c_str());
    return 1;
  }
  if (stats.rejected > 0) {
    std::fprintf(stderr, "eval-rec: skipped %llu malformed rows (first: %s)\n",
                 static_cast<unsigned long long>(stats.rejected), stats.first_error.c_str());
  }
  InteractionLog train = log->Before(*cutoff);
  if (train.events.empty()) {
    std::fprintf(stderr, "eval-rec: no events before the cutoff %lld\n", *cutoff);
    return 1;
  }

  if (flags.Has("cv")) {
    auto folds = flags.GetInt("cv", 1, 30);
    if (!folds.ok()) {
      std::fprintf(stderr, "eval-rec: %s\n", folds.status().ToString().c_str());
      return 2;
    }
    int64_t start = MonotonicNanos();
    auto cv = CrossValidateReranker(train, TrainOptions{}, static_cast<size_t>(*folds));
    if (!cv.ok()) {
      std::fprintf(stderr, "eval-rec: %s\n", cv.status().ToString().c_str());
      return 1;
    }
    std::printf("%-8s %9s %8s %16s %14s %6s\n", "fold", "recall@20", "ndcg@10", "recency_recall@20", "recency_ndcg@10",
                "users");
    auto print = [](const std::string& name, const RerankValidation& v) {
      std::printf("%-8s %9.4f %8.4f %16.4f %14.4f %6zu\n", name.c_str(), v.recall, v.ndcg10, v.recency_recall,
                  v.recency_ndcg10, v.users);
    };
    for (size_t k = 0; k < cv->folds.size(); ++k) print("day-" + std::to_string(k + 1), cv->folds[k]);
    print("mean", cv->mean);
    std::fprintf(stderr, "eval-rec: cross-validated on %zu TRAIN events in %.1f s\n", train.events.size(),
                 static_cast<double>(MonotonicNanos() - start) / 1e9);
    return 0;
  }

  // The models under test: trained here on TRAIN, or loaded from a repository and mapped onto
  // this log's item ids.
  std::shared_ptr<const CandidateModel> popularity, covisit, sknn, ease;
  std::shared_ptr<const RerankerModel> reranker;
  BlendConfig blend_config;
  int64_t t0 = MonotonicNanos();
  if (flags.Has("models")) {
    auto loaded = LoadLatestModels(flags.Get("models"));
    if (!loaded.ok()) {
      std::fprintf(stderr, "eval-rec: %s\n", loaded.status().ToString().c_str());
      return 1;
    }
    auto map = [&](std::shared_ptr<const CandidateModel> m) -> std::shared_ptr<const CandidateModel> {
      return m ? std::make_shared<MappedModel>(std::move(m), train.items) : nullptr;
    };
    popularity = map(loaded->popularity);
    covisit = map(loaded->covisit);
    sknn = map(loaded->sknn);
    ease = map(loaded->ease);
    if (loaded->blend) blend_config = *loaded->blend;
    if (!flags.GetBool("no-rerank")) reranker = loaded->reranker;
    for (const auto& v : loaded->versions) std::fprintf(stderr, "eval-rec: loaded %s\n", v.dir.c_str());
  } else {
    TrainOptions options;
    options.tune_blend = !flags.GetBool("no-tune");
    options.train_reranker = !flags.GetBool("no-rerank");
    auto trained = TrainModels(train, options, "all");
    if (!trained.ok()) {
      std::fprintf(stderr, "eval-rec: %s\n", trained.status().ToString().c_str());
      return 1;
    }
    popularity = std::move(trained->popularity);
    covisit = std::move(trained->covisit);
    sknn = std::move(trained->sknn);
    ease = std::move(trained->ease);
    if (trained->blend) blend_config = *trained->blend;
    reranker = std::move(trained->reranker);
    const RerankValidation& v = trained->reranker_validation;
    if (v.users > 0) {
      std::fprintf(stderr,
                   "eval-rec: reranker validation (trained without the last TRAIN day, scored on it): recall@20=%.4f "
                   "ndcg@10=%.4f, recency score on the same candidates %.4f/%.4f, %zu users\n",
                   v.recall, v.ndcg10, v.recency_recall, v.recency_ndcg10, v.users);
    }
    if (!trained->reranker_note.empty()) std::fprintf(stderr, "eval-rec: %s\n", trained->reranker_note.c_str());
    std::fprintf(stderr,
                 "eval-rec: trained on %zu TRAIN events in %.1f s; blend weights history=%.2f covisit=%.2f "
                 "ease=%.2f sknn=%.2f (validation recall@20=%.4f over %zu users)\n",
                 train.events.size(), static_cast<double>(MonotonicNanos() - t0) / 1e9, blend_config.weights[0],
                 blend_config.weights[1], blend_config.weights[2], blend_config.weights[3],
                 trained->blend_validation.recall, trained->blend_validation.users);
  }
  // A PopularityModel for padding: the typed one when available.
  const PopularityModel* pad = nullptr;
  auto popularity_typed = PopularityModel::Train(train);
  pad = popularity_typed.get();

  // Baselines, as the README's peers describe them.
  auto item_knn = CoVisitationModel::Train(train, PlainItemKnnParams());
  BlendConfig own_history;  // recency-weighted own history alone
  own_history.weights = {1.0f, 0.0f, 0.0f, 0.0f};
  BlendRecommender own_history_rec(own_history, nullptr, nullptr, nullptr);
  BlendRecommender linear_blend(blend_config, covisit.get(), ease.get(), sknn.get());
  // The best model: the linear blend with the learned reranker for users with a history.
  BlendRecommender blend(blend_config, covisit.get(), ease.get(), sknn.get());
  std::vector<ItemStat> reranker_stats;
  if (reranker) {
    reranker_stats = reranker->StatsFor(train.items);
    blend.set_reranker(reranker.get(), &reranker_stats);
  }

  struct Entry {
    std::string name;
    bool baseline;
    OfflineRecommender rec;
  };
  std::vector<Entry> entries;
  entries.push_back({"popularity (baseline)", true, [&](std::span<const ContextEvent> h, int64_t now, bool ex, size_t n, std::vector<uint32_t>* out) {
                       std::unordered_set<uint32_t> seen;
                       if (ex) for (const auto& e : h) seen.insert(e.item);
                       for (const auto& c : popularity_typed->Global()) {
                         if (out->size() < n && !seen.count(c.item)) out->push_back(c.item);
                       }
                       (void)now;
                     }});
  entries.push_back({"item-knn (baseline)", true, OfflineModel(*item_knn, nullptr)});
  entries.push_back({"own-history (baseline)", true, OfflineBlend(own_history_rec, nullptr)});
  if (covisit) entries.push_back({"covisit", false, OfflineModel(*covisit, pad)});
  if (sknn) entries.push_back({"sknn", false, OfflineModel(*sknn, pad)});
  if (ease) entries.push_back({"ease", false, OfflineModel(*ease, pad)});
  if (reranker) entries.push_back({"blend (linear, no rerank)", false, OfflineBlend(linear_blend, pad)});
  entries.push_back({reranker ? "blend+rerank" : "blend", false, OfflineBlend(blend, pad)});

  std::printf("%-10s %-26s %9s %8s %7s %9s %8s %6s %7s\n", "protocol", "model", "recall@20", "ndcg@10", "hit@20",
              "coverage", "pop_pct", "users", "seconds");
  const Row* best = nullptr;
  std::vector<Row> rows;
  rows.reserve(2 * entries.size());
  for (Protocol p : {Protocol::kMain, Protocol::kDiscovery}) {
    auto cases = BuildCases(*log, *cutoff, p);
    for (const auto& e : entries) {
      int64_t start = MonotonicNanos();
      Row r{std::string(ProtocolName(p)), e.name, e.baseline, Evaluate(train, cases, p, *cutoff, k, e.rec), 0};
      r.seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
      rows.push_back(r);
      PrintRow(rows.back());
    }
  }
  for (const auto& r : rows) {
    if (r.protocol == "main" && !r.baseline && (best == nullptr || r.m.recall > best->m.recall)) best = &r;
  }
  if (best == nullptr) return 1;
  std::printf("best model on the main protocol: %s\n", best->model.c_str());
  std::printf("recall@20=%.4f ndcg@10=%.4f\n", best->m.recall, best->m.ndcg10);
  return 0;
}

}  // namespace shelfwatch::cli
