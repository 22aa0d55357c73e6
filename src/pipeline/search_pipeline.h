// The search pipeline: the ordered stages a search request runs through, drawing its models
// from the model repository.
//
//   analyze -> retrieve (BM25 top N) -> encode + ann (embedding model, HNSW top N)
//           -> fuse (reciprocal rank fusion, ranking/candidates.h)
//           -> features (ranking/features.h: the code path training uses)
//           -> rank (the ranker model, XGBoost LambdaMART, through models::ModelVersion) -> page
//
// A catalog's stages follow the models it names (CatalogSnapshot::embedding_model /
// ranker_model) that the repository has ready: none -> plain BM25 (paging over every match);
// embedding only -> hybrid RRF order; ranker only -> BM25 top N re-ranked; both -> the full
// pipeline. Model versions are resolved once per request and held to its end, so a version
// swapped mid-request finishes the request it started (the repository's reference counting).
// Pages beyond the ranked window continue in BM25 order with the ranked products left out.
// When a model fails (load refused, features that do not match, an inference error) the request
// is answered by the stages that work and the fallback is counted
// (shelfwatch_search_fallbacks_total{catalog,reason}); a search never fails because of a model.
//
// A ranker version may carry training.yaml (train ranker writes it) with lexical_candidates,
// vector_candidates and candidates: the pipeline retrieves exactly the lists the model was
// trained on, so its rank features mean what they meant in training.
//
// Thread-safety: Run is safe from any thread; per-catalog state (ProductTerms, candidate
// generators bound to an embedding version) is built once and shared. Cost: see the stages;
// Home Depot on the 2-core machine: bench/RESULTS.md "full pipeline".
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/catalog_registry.h"
#include "pipeline/lexical_search.h"
#include "ranking/candidates.h"
#include "ranking/features.h"

namespace shelfwatch::models {
class ModelRepository;
class ModelVersion;
}  // namespace shelfwatch::models
namespace shelfwatch::monitor {
class Registry;
class Counter;
template <typename T>
class Family;
}  // namespace shelfwatch::monitor

namespace shelfwatch::pipeline {

struct SearchPipelineOptions {
  // Candidate lists when the ranker does not say (training.yaml) or there is no ranker.
  ranking::CandidateOptions candidates;
};

struct PipelineHit {
  uint32_t doc = 0;
  float score = 0;            // ranker score, fused score, or BM25 (whichever ordered it)
  ranking::Candidate candidate;  // what retrieval knew (ranks, BM25, similarity)
};

struct PipelineTimings {
  int64_t analyze_ns = 0, retrieve_ns = 0, encode_ns = 0, ann_ns = 0, fuse_ns = 0, features_ns = 0, rank_ns = 0;
};

struct PipelineResult {
  std::vector<PipelineHit> hits;  // the page, best first
  uint64_t total_hits = 0;
  bool total_hits_exact = true;
  std::span<const std::string> terms;  // analysed query terms (this thread's buffer)
  // "bm25(k1=0.2,b=0.85)" plus " homedepot-embedding:2 homedepot-ranker:3" for the models used.
  std::string model_versions;
  std::string stages;  // "bm25", "bm25+vector+rrf", "bm25+vector+rrf+ranker", ...
  std::string fallback;  // why a configured model was not used ("" when none)
  // With explain: per page hit kNumFeatures feature values (zeros for hits past the ranked
  // window), and with a ranker kNumFeatures + 1 contributions (TreeSHAP, the bias last) for the
  // page's hits inside the ranked window, row-major.
  std::vector<float> features;
  std::vector<float> contributions;
  PipelineTimings timings;

  // What the models saw and said, for monitoring (the spans point into this thread's buffers:
  // valid until its next Run). Null / empty when the stage did not run.
  std::shared_ptr<const models::ModelVersion> ranker_version;     // the ranker that ordered the page
  std::shared_ptr<const models::ModelVersion> embedding_version;  // the encoder of the vector list
  std::span<const float> ranked_features;  // every scored candidate: rows x kNumFeatures, row-major
  std::span<const float> ranked_scores;    // the ranker's score of each of those rows
  std::vector<uint32_t> page_rows;         // per page hit, its row there (kNotRanked: BM25 tail)
  std::span<const float> query_embedding;  // the encoder's vector for the query
  static constexpr uint32_t kNotRanked = UINT32_MAX;
};

// A model repository validator (RepositoryOptions::validate) for the pipeline's models: a
// version that ships features.txt must name exactly ranking::FeatureNames(), else it is refused
// (kFailedPrecondition, label wrong_shape) and the version already serving keeps serving.
Status ValidateRankingFeatures(const models::ModelVersion& version);

class SearchPipeline {
 public:
  // `models` may be null (BM25 only). `metrics` may be null.
  SearchPipeline(models::ModelRepository* models, monitor::Registry* metrics, SearchPipelineOptions options = {});
  ~SearchPipeline();
  SearchPipeline(const SearchPipeline&) = delete;
  SearchPipeline& operator=(const SearchPipeline&) = delete;

  // Builds the per-catalog state now (ProductTerms for the features: ~1 s for Home Depot) so
  // the first request does not pay for it. Optional.
  void Prepare(const CatalogSnapshot& snapshot);

  // Runs the stages for one request into `out`.
  void Run(const CatalogSnapshot& snapshot, const SearchParams& params, bool explain, PipelineResult* out);

 private:
  struct CatalogState;
  struct RankerCheck;
  std::shared_ptr<CatalogState> StateFor(const CatalogSnapshot& snapshot);
  void BuildTerms(CatalogState& state, const CatalogSnapshot& snapshot);
  std::shared_ptr<const ranking::CandidateGenerator> GeneratorFor(
      CatalogState& state, const CatalogSnapshot& snapshot,
      const std::shared_ptr<const models::ModelVersion>& embedding, const ranking::CandidateOptions& options);
  // The ranker's candidate lists and whether its feature set matches (cached per version).
  std::shared_ptr<const RankerCheck> CheckRanker(const std::shared_ptr<const models::ModelVersion>& ranker);
  void CountFallback(const std::string& catalog, const std::string& reason);
  // The popularity feature of `cands`: the ranker's priors.csv (train ranker --prior
  // judgments) by product, or empty (0) when it has none. Valid until this thread's next call.
  std::span<const float> PopularityOf(CatalogState& state, const CatalogSnapshot& snapshot,
                                      const std::shared_ptr<const RankerCheck>& check,
                                      std::span<const ranking::Candidate> cands);

  models::ModelRepository* models_;
  monitor::Registry* metrics_;
  monitor::Family<monitor::Counter>* fallbacks_ = nullptr;  // in metrics_; null without it
  SearchPipelineOptions options_;
  std::mutex mu_;  // guards the caches below (taken briefly per request)
  std::vector<std::shared_ptr<CatalogState>> catalogs_;
  // Weak: a cache entry never keeps an unloaded version's memory alive.
  std::vector<std::pair<std::weak_ptr<const models::ModelVersion>, std::shared_ptr<const RankerCheck>>> ranker_checks_;
};

}  // namespace shelfwatch::pipeline
