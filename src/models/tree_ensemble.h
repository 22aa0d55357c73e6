// TreeEnsemble: a compiled copy of an XGBoost gbtree model for fast scoring of small batches
// (a search request's 100 candidates), read from the model's JSON dump.
//
// XGBoost's JSON (1.7): learner.gradient_booster.model.trees[], each with left_children,
// right_children (-1 at a leaf), split_indices, split_conditions (the threshold; at a leaf, the
// leaf value), default_left (where a missing value goes); a row goes left when
// x[split_index] < split_condition. The margin is base_score + the sum of the leaves reached.
//
// Scoring is branch-free: a leaf points to itself, so every row takes exactly the tree's depth
// steps, and rows are walked in blocks of 8 so their independent chains of loads overlap
// instead of each waiting on the last (the idea behind QuickScorer and XGBoost's own row
// blocks; Lucchese et al., SIGIR 2015). The backend checks it against XGBoost on random rows at
// load and falls back to XGBoost when they differ.
//
// Supported: gbtree, one target, numerical splits, objectives whose prediction is the margin
// (rank:*, reg:squarederror, reg:absoluteerror, reg:pseudohubererror) or its logistic
// (binary:logistic, reg:logistic). Anything else is refused (kFailedPrecondition) and left to
// XGBoost.
// Thread-safety: immutable after construction; Predict is safe from any thread.
// Cost: O(rows x trees x depth); about 16 bytes per node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::models {

class TreeEnsemble {
 public:
  // Compiles the JSON model (XGBoosterSaveModelToBuffer with format json) for `features` columns.
  static Result<TreeEnsemble> FromXgboostJson(std::string_view json, int64_t features);

  // out[r] = the model's prediction for row r of `x` (rows x features, row-major).
  void Predict(const float* x, size_t rows, float* out) const;

  size_t trees() const { return trees_.size(); }
  int64_t features() const { return features_; }

 private:
  // 16 bytes, so a tree of depth 6 (127 nodes) takes 2 KB and stays in L1 while every row of
  // the request walks it. A leaf points to itself and keeps its value in `threshold`.
  struct Node {
    uint32_t feature;  // the column; bit 31: a missing value goes left
    float threshold;
    uint32_t left;  // absolute node index
    uint32_t right;
  };
  struct Tree {
    uint32_t root;
    uint32_t depth;
  };
  std::vector<Node> nodes_;
  std::vector<Tree> trees_;
  int64_t features_ = 0;
  float base_margin_ = 0;
  bool logistic_ = false;
};

}  // namespace shelfwatch::models
