// Reranker: a LambdaMART model (XGBoost 1.7, C API) that re-orders lexical candidates by the
// features of features.h, and explains each score by per-feature contributions.
//
// A model lives in a model repository version directory (src/models/model_config.h):
//   DIR/<version>/model.json     XGBoost JSON model
//   DIR/<version>/config.yaml    kind: xgboost, inputs [{features, FP32, [-1, F]}] ...
//   DIR/<version>/features.txt   the feature names, one per line, in column order
//   DIR/<version>/training.yaml  how it was trained (candidates, objective, trees, BM25 k1/b)
//   DIR/<version>/priors.csv     optional: product_id,prior for the popularity feature
// Loading refuses a model whose features.txt differs from FeatureNames() (a model trained on
// another feature set would read the wrong columns) or whose feature count differs.
//
// Thread-safety: Score and Rerank are safe for concurrent use (XGBoost's in-place prediction
// is documented thread-safe since 1.4); Contributions is serialised by a mutex (it needs a
// DMatrix and the booster's prediction cache).
// Cost: XGBoost walks every tree per row (about 4 us per row for 300 depth-6 trees on one
// thread) plus feature extraction (features.h): Home Depot TEST, 100 candidates, 225 trees:
// 490 us p50 per query on the loaded 2-core machine. Memory: the trees (a few MB).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "ranking/features.h"

namespace shelfwatch::ranking {

class Reranker {
 public:
  // `dir` is a version directory (holding model.json) or a model directory, whose highest
  // numbered version is taken. Errors: kNotFound (no model), kDataLoss (unreadable model),
  // kFailedPrecondition (feature set differs).
  static Result<std::shared_ptr<const Reranker>> Load(const std::string& dir);
  // A model from XGBoost JSON text, with no repository files (no feature-name check beyond
  // the count). Used by training to score its validation split.
  static Result<std::shared_ptr<const Reranker>> FromJson(std::string_view model_json);
  ~Reranker();
  Reranker(const Reranker&) = delete;
  Reranker& operator=(const Reranker&) = delete;

  // Scores `features` (rows x kNumFeatures, row-major) into `scores`, one per row.
  // `trees`: use only the first `trees` trees (0: all), for choosing a model size.
  Status Score(std::span<const float> features, std::vector<float>* scores, int trees = 0) const;
  // Per-feature contributions (TreeSHAP, XGBoost pred_contribs): rows x (kNumFeatures + 1),
  // the bias last; each row sums to the row's score.
  Status Contributions(std::span<const float> features, std::vector<float>* out) const;

  // Extracts features for `candidates` (BM25 order), scores them and re-orders `candidates`
  // best first; ties keep BM25 order. `scores` (optional) receives the model scores in the
  // new order.
  // `popularity`: empty, or one prior per candidate (in the order given).
  Status Rerank(const FeatureExtractor& extractor, std::span<const std::string> query_terms,
                std::vector<Candidate>* candidates, std::vector<float>* scores = nullptr,
                std::span<const float> popularity = {}) const;

  // The popularity prior per catalog doc from priors.csv (0 for products it does not list);
  // empty when the model has no priors.
  std::vector<float> PriorsFor(const catalog::Catalog& catalog) const;
  bool has_priors() const { return !priors_.empty(); }

  int64_t version() const { return version_; }        // 0 when not from a repository
  const std::string& path() const { return path_; }    // the version directory
  // Candidates per query the model was trained on (training.yaml); 100 when unknown.
  uint32_t candidates() const { return candidates_; }

 private:
  Reranker() = default;
  void* booster_ = nullptr;  // BoosterHandle (kept out of this header with xgboost's)
  int64_t version_ = 0;
  std::string path_;
  uint32_t candidates_ = 100;
  std::vector<std::pair<std::string, float>> priors_;
  mutable std::mutex contributions_mu_;
};

// A ranker version's priors.csv (product_id,prior; written by train ranker --prior judgments).
// kInvalidArgument for a malformed file; IoError when it cannot be read.
Result<std::vector<std::pair<std::string, float>>> LoadPriors(const std::string& path);

// The numbered versions under a model directory, ascending (names that are not positive
// integers are ignored).
std::vector<int64_t> ListVersions(const std::string& model_dir);

// Writes `files` (name, bytes) as the next numbered version under `model_dir` (created if
// missing): into a hidden directory first, renamed into place, so a repository poller never
// sees half a version. Returns the version directory.
Result<std::string> WriteNextVersion(const std::string& model_dir,
                                     const std::vector<std::pair<std::string, std::string_view>>& files);

}  // namespace shelfwatch::ranking
