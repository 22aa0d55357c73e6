// LambdaMart: gradient-boosted ranking trees (XGBoost's LambdaMART, C API of libxgboost 1.7)
// trained on query groups of feature rows with graded labels, serialised to bytes (XGBoost's
// own model format), and evaluated on a dense row-major float matrix (NaN = missing feature).
//
// Evaluation walks the trees itself, from XGBoost's JSON model (learner.gradient_booster.model
// .trees[]: split_indices, split_conditions -- the leaf value on leaves --, left/right_children,
// default_left; a row goes left when its value < the split condition, missing values follow
// default_left; the score is base_score + the leaves' sum, as in XGBoost's predictor). Each
// tree is stored complete to the model's depth (shallow leaves repeated below themselves), so
// the walk is a fixed number of branch-free steps over an implicit heap layout; the tests check
// the scores against XGBoosterPredictFromDense, which costs several times more per request
// (array-interface parsing, adapter views, branchy walk).
//
// Objective: XGBoost "rank:pairwise" by default (Burges 2010, "From RankNet to LambdaRank to
// LambdaMART: An Overview"): on the Taobao sample it generalised better across days than
// "rank:ndcg", whose per-group normalisation gives the rare users with one relevant item as
// much weight as heavy users. The reranker (reranker.h) trains these trees with XGBoost's
// "binary:logistic" instead, which cross-validated better still; Predict then returns the
// margin plus the constant base_score, which keeps the order.
//
// Thread-safety: a trained or loaded model is immutable; Predict and PredictWithXgboost are
// safe from any number of threads (the latter is XGBoost's in-place prediction, thread-safe
// since 1.4, run with one OpenMP thread).
// Cost: Train O(trees x rows x features); Predict O(rows x trees x depth), allocation-free
// beyond `out`: ~20 us for 150 rows of 30 depth-4 trees; memory 12 x 2^(depth+1) bytes a tree.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::recommend {

// Defaults: cross-validated on Taobao's last three TRAIN days (reranker.h), where 30 trees at
// eta 0.15 ranked as well as 100 at 0.05 (Recall@20 0.1431 vs 0.1435) for a third of the cost.
struct LambdaMartParams {
  uint32_t trees = 30;
  uint32_t max_depth = 4;  // at most LambdaMart::kMaxDepth
  float eta = 0.15f;
  float min_child_weight = 20.0f;
  float subsample = 0.8f;
  uint32_t seed = 1;
  std::string objective = "rank:pairwise";
  // Training threads. One: OpenMP's spinning workers slow training ~10x when the cores are
  // shared with other work (measured: 100 trees on 160k rows 3 s with 1 thread, 30 s with 2
  // under load). Prediction always uses one thread.
  uint32_t train_threads = 1;
};

// Rows of query groups: group g owns the next group_sizes[g] rows.
struct RankingData {
  uint32_t features = 0;
  std::vector<float> rows;  // row-major, rows x features
  std::vector<float> labels;
  std::vector<uint32_t> group_sizes;
  size_t row_count() const { return labels.size(); }
};

class LambdaMart {
 public:
  static constexpr uint32_t kMaxDepth = 8;  // complete trees: 2^(depth+1) - 1 nodes each
  // kInvalidArgument for inconsistent data (sizes, empty, no positive label); kInternal when
  // XGBoost refuses (its message is quoted).
  static Result<std::unique_ptr<LambdaMart>> Train(const RankingData& data, const LambdaMartParams& params);
  // From ToBytes() output. kDataLoss when XGBoost cannot read it or its feature count differs.
  static Result<std::unique_ptr<LambdaMart>> FromBytes(std::string_view bytes, uint32_t features);
  ~LambdaMart();
  LambdaMart(const LambdaMart&) = delete;
  LambdaMart& operator=(const LambdaMart&) = delete;

  // XGBoost's universal binary JSON model (format stable across versions).
  Result<std::string> ToBytes() const;
  // Scores rows x features() values into `out` (resized to rows). kInvalidArgument when the
  // values are not whole rows.
  Status Predict(std::span<const float> rows, std::vector<float>* out) const;
  // The same through XGBoost's predictor (kInternal if it fails): the reference for Predict.
  Status PredictWithXgboost(std::span<const float> rows, std::vector<float>* out) const;
  uint32_t features() const { return features_; }
  size_t tree_count() const { return tree_roots_.size(); }

 private:
  struct Node {
    uint32_t feature = 0;
    float value = 0;  // split condition, or the leaf value on the last level
    uint32_t default_left = 0;
  };
  LambdaMart(void* booster, uint32_t features) : booster_(booster), features_(features) {}
  // Reads the trees out of the booster's JSON model. kDataLoss when it is not a tree model.
  Status LoadTrees();
  void* booster_;  // BoosterHandle
  uint32_t features_;
  float base_score_ = 0;
  uint32_t depth_ = 0;               // of the deepest tree; every tree is stored complete to it
  std::vector<Node> nodes_;          // tree t at t * (2^(depth+1) - 1), heap order
  std::vector<uint32_t> tree_roots_;
};

}  // namespace shelfwatch::recommend
