// Training the recommendation models from an interaction log, tuning the blend on a
// validation split carved from the training events, and writing versioned artifacts into a
// model repository (DIR/<model>/<version>/{model.bin,config.json}).
//
// Blend tuning: the last `validation_seconds` of the log become a validation window; the
// components are trained on the events before it, each weight combination of a small grid is
// scored by Recall@20 (ties: NDCG@10) on the main protocol over that window, and the winner's
// weights are kept. The test period of an offline evaluation is never seen.
// Thread-safety: functions are independent; not thread-safe on one output directory.
// The learned reranker (reranker.h) is trained the same way, on label windows carved from the
// end of the log, and kept only when it beats the tuned blend on the latest one.
// Cost: Taobao (74k events): covisit ~0.5 s, sknn ~0.1 s, ease ~1 s, tuning ~2-4 s, reranker
// ~7 s.
#pragma once

#include <memory>
#include <string>

#include "recommend/blend.h"
#include "recommend/covisitation.h"
#include "recommend/ease.h"
#include "recommend/offline_eval.h"
#include "recommend/popularity.h"
#include "recommend/reranker.h"
#include "recommend/session_knn.h"

namespace shelfwatch::recommend {

struct TrainOptions {
  PopularityParams popularity;
  CoVisitationParams covisit;
  SessionKnnParams sknn;
  EaseParams ease;
  BlendConfig blend;  // starting point; weights replaced by tuning
  bool tune_blend = true;
  int64_t validation_seconds = 86400;
  // The learned reranker (reranker.h): trained on label windows carved from the end of the log,
  // kept only when it beats the blend on the latest window while trained without it.
  bool train_reranker = true;
  RerankerParams reranker;
  // Candidate models retrained before each label window for the reranker's candidates and
  // source features (covisit, ease, sknn). Cross-validated over the last three TRAIN days of
  // Taobao, Recall@20: history only 0.1403, +ease 0.1416, all three 0.1430 (recency 0.1387).
  std::array<bool, 3> reranker_sources{true, true, true};
};

struct TrainedModels {
  std::unique_ptr<PopularityModel> popularity;
  std::unique_ptr<CoVisitationModel> covisit;
  std::unique_ptr<SessionKnnModel> sknn;
  std::unique_ptr<EaseModel> ease;
  std::optional<BlendConfig> blend;
  RankingMetrics blend_validation;  // of the tuned blend on the validation window
  std::unique_ptr<RerankerModel> reranker;
  // Of a reranker trained without the latest window, on that window; `reranker_note` says why
  // no reranker was kept when it is null.
  RerankValidation reranker_validation;
  std::string reranker_note;
};

// Which models: "all" | "popularity" | "covisit" | "sknn" | "ease" | "blend" | "rerank" (blend
// and rerank train the components too, to tune or rank on them; both also train the reranker
// when options.train_reranker). kInvalidArgument for other names.
Result<TrainedModels> TrainModels(const InteractionLog& log, const TrainOptions& options, std::string_view which);

// The reranker's candidate models (those options.reranker_sources names), trained on the
// events before a label window.
SourceTrainer RerankSourceTrainer(const TrainOptions& options);
// Builds the reranker's label windows of `log` and cross-validates options.reranker on them
// (reranker.h): the TRAIN-only figure settings are chosen by.
Result<RerankCrossValidation> CrossValidateReranker(const InteractionLog& log, const TrainOptions& options,
                                                    size_t folds = 3);

struct TuningReport {
  BlendConfig best;
  RankingMetrics validation;
  size_t combinations = 0;
  size_t validation_users = 0;
};
// Grid-searches the blend weights on the last options.validation_seconds of `log`.
Result<TuningReport> TuneBlend(const InteractionLog& log, const TrainOptions& options);

// An OfflineRecommender over a blend of the given components (log item space); results are
// padded with popular items when the blend has fewer than k.
OfflineRecommender OfflineBlend(const BlendRecommender& blend, const PopularityModel* popularity);
OfflineRecommender OfflineModel(const CandidateModel& model, const PopularityModel* popularity);

struct SavedVersion {
  std::string model;
  std::string dir;
};
// Present in a repository while SaveModels writes a set of versions, and left behind by a run
// that failed half way (serving then keeps its models until a later run completes).
inline constexpr std::string_view kWritingMarker = ".writing";
// Writes each trained model as the next version of its slot (kWritingMarker marks the
// repository meanwhile).
Result<std::vector<SavedVersion>> SaveModels(const TrainedModels& models, const std::string& repo_dir,
                                             const std::string& trained_on);

}  // namespace shelfwatch::recommend

namespace shelfwatch::recommend {

// The latest version of each model slot (popularity|covisit|sknn|ease|blend|rerank) found in a
// repository (slots without versions stay empty). Errors: kNotFound when the directory holds no
// model at all, kDataLoss for a corrupt artifact.
struct LoadedModels {
  std::shared_ptr<const PopularityModel> popularity;
  std::shared_ptr<const CoVisitationModel> covisit;
  std::shared_ptr<const SessionKnnModel> sknn;
  std::shared_ptr<const EaseModel> ease;
  std::optional<BlendConfig> blend;
  std::shared_ptr<const RerankerModel> reranker;
  std::vector<SavedVersion> versions;  // what was loaded
};
Result<LoadedModels> LoadLatestModels(const std::string& repo_dir);

}  // namespace shelfwatch::recommend
