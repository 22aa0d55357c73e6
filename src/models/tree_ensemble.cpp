#include "models/tree_ensemble.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace shelfwatch::models {
namespace {

constexpr uint32_t kMissingLeft = 1u << 31;

// XGBoost writes its parameters as strings ("5E-1").
bool ParamFloat(simdjson::dom::element e, double* out) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) {
    std::string copy(s);
    char* end = nullptr;
    *out = std::strtod(copy.c_str(), &end);
    return end != copy.c_str();
  }
  return e.get(*out) == simdjson::SUCCESS;
}

}  // namespace

Result<TreeEnsemble> TreeEnsemble::FromXgboostJson(std::string_view json, int64_t features) {
  simdjson::dom::parser parser;
  simdjson::padded_string text(json);
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) return Status(ErrorCode::kDataLoss, "the model is not valid JSON");
  simdjson::dom::element learner;
  if (doc["learner"].get(learner) != simdjson::SUCCESS) return FailedPrecondition("no learner in the model JSON");

  TreeEnsemble e;
  e.features_ = features;
  std::string_view objective, booster;
  if (learner["objective"]["name"].get(objective) != simdjson::SUCCESS) return FailedPrecondition("no objective");
  if (learner["gradient_booster"]["name"].get(booster) != simdjson::SUCCESS || booster != "gbtree") {
    return FailedPrecondition("booster is not gbtree");
  }
  const bool margin = objective.starts_with("rank:") || objective == "reg:squarederror" ||
                      objective == "reg:absoluteerror" || objective == "reg:pseudohubererror";
  e.logistic_ = objective == "binary:logistic" || objective == "reg:logistic";
  if (!margin && !e.logistic_) return FailedPrecondition("objective " + std::string(objective) + " is left to XGBoost");
  simdjson::dom::element param = learner["learner_model_param"];
  double base = 0.5, targets = 1, classes = 0;
  if (!ParamFloat(param["base_score"], &base)) return FailedPrecondition("no base_score");
  if (simdjson::dom::element t; param["num_target"].get(t) == simdjson::SUCCESS) ParamFloat(t, &targets);
  if (simdjson::dom::element c; param["num_class"].get(c) == simdjson::SUCCESS) ParamFloat(c, &classes);
  if (targets != 1 || classes > 1) return FailedPrecondition("multi-output models are left to XGBoost");
  // A logistic objective keeps base_score as a probability; its margin is the logit.
  e.base_margin_ = static_cast<float>(e.logistic_ ? std::log(base / (1.0 - base)) : base);

  simdjson::dom::element model = learner["gradient_booster"]["model"];
  simdjson::dom::array trees;
  if (model["trees"].get(trees) != simdjson::SUCCESS) return FailedPrecondition("no trees");
  if (simdjson::dom::element p; model["gbtree_model_param"]["num_parallel_tree"].get(p) == simdjson::SUCCESS) {
    double parallel = 1;
    ParamFloat(p, &parallel);
    if (parallel != 1) return FailedPrecondition("random forests (num_parallel_tree > 1) are left to XGBoost");
  }
  for (simdjson::dom::element t : trees) {
    simdjson::dom::array left, right, index, cond, dleft, split_type;
    if (t["left_children"].get(left) != simdjson::SUCCESS || t["right_children"].get(right) != simdjson::SUCCESS ||
        t["split_indices"].get(index) != simdjson::SUCCESS || t["split_conditions"].get(cond) != simdjson::SUCCESS ||
        t["default_left"].get(dleft) != simdjson::SUCCESS) {
      return Status(ErrorCode::kDataLoss, "a tree lacks its node arrays");
    }
    const size_t n = left.size();
    if (right.size() != n || index.size() != n || cond.size() != n || dleft.size() != n || n == 0) {
      return Status(ErrorCode::kDataLoss, "a tree's node arrays differ in length");
    }
    if (t["split_type"].get(split_type) == simdjson::SUCCESS) {
      for (simdjson::dom::element s : split_type) {
        int64_t v = 0;
        if (s.get(v) == simdjson::SUCCESS && v != 0) return FailedPrecondition("categorical splits are left to XGBoost");
      }
    }
    const auto base_index = static_cast<uint32_t>(e.nodes_.size());
    std::vector<int64_t> l(n), r(n), f(n), d(n);
    std::vector<double> c(n);
    size_t i = 0;
    for (auto [a, b, x, y, z] = std::tuple{left.begin(), right.begin(), index.begin(), cond.begin(), dleft.begin()};
         i < n; ++i, ++a, ++b, ++x, ++y, ++z) {
      if ((*a).get(l[i]) != simdjson::SUCCESS || (*b).get(r[i]) != simdjson::SUCCESS || (*x).get(f[i]) != simdjson::SUCCESS ||
          (*y).get(c[i]) != simdjson::SUCCESS) {
        return Status(ErrorCode::kDataLoss, "a tree node is malformed");
      }
      bool bit = false;
      int64_t dv = 0;
      if ((*z).get(dv) == simdjson::SUCCESS) {
        bit = dv != 0;
      } else if ((*z).get(bit) != simdjson::SUCCESS) {
        return Status(ErrorCode::kDataLoss, "a tree node's default_left is malformed");
      }
      d[i] = bit;
    }
    // Depth by a walk from the root (children come after parents in XGBoost's numbering, but
    // do not rely on it).
    std::vector<uint32_t> depth(n, 0);
    std::vector<uint32_t> stack = {0};
    uint32_t max_depth = 0;
    size_t visited = 0;
    while (!stack.empty()) {
      const uint32_t k = stack.back();
      stack.pop_back();
      if (++visited > n) return Status(ErrorCode::kDataLoss, "a tree has a cycle");
      const bool leaf = l[k] < 0;
      if (!leaf) {
        if (l[k] >= static_cast<int64_t>(n) || r[k] < 0 || r[k] >= static_cast<int64_t>(n)) return Status(ErrorCode::kDataLoss, "a child index is out of range");
        if (f[k] < 0 || f[k] >= features) {
          return FailedPrecondition("a split reads feature " + std::to_string(f[k]) + " of " + std::to_string(features));
        }
        depth[static_cast<size_t>(l[k])] = depth[k] + 1;
        depth[static_cast<size_t>(r[k])] = depth[k] + 1;
        stack.push_back(static_cast<uint32_t>(l[k]));
        stack.push_back(static_cast<uint32_t>(r[k]));
      } else {
        max_depth = std::max(max_depth, depth[k]);
      }
    }
    for (size_t k = 0; k < n; ++k) {
      Node node{};
      const auto self = base_index + static_cast<uint32_t>(k);
      if (l[k] < 0) {
        node = {0, static_cast<float>(c[k]), self, self};
      } else {
        node = {static_cast<uint32_t>(f[k]) | (d[k] ? kMissingLeft : 0u), static_cast<float>(c[k]),
                base_index + static_cast<uint32_t>(l[k]), base_index + static_cast<uint32_t>(r[k])};
      }
      e.nodes_.push_back(node);
    }
    e.trees_.push_back({base_index, max_depth});
  }
  if (e.trees_.empty()) return FailedPrecondition("the model has no trees");
  return e;
}

void TreeEnsemble::Predict(const float* x, size_t rows, float* out) const {
  constexpr size_t kBlock = 8;
  const size_t f = static_cast<size_t>(features_);
  const Node* nodes = nodes_.data();
  thread_local std::vector<float> sum;
  sum.assign(rows, 0.0f);
  // Tree-major: a tree stays in L1 while every row walks it; the rows (100 x 38 floats) too.
  for (const Tree& t : trees_) {
    for (size_t begin = 0; begin < rows; begin += kBlock) {
      const size_t m = std::min(kBlock, rows - begin);
      uint32_t at[kBlock];
      const float* row[kBlock];
      for (size_t r = 0; r < kBlock; ++r) {
        at[r] = t.root;
        row[r] = x + (begin + std::min(r, m - 1)) * f;
      }
      for (uint32_t step = 0; step < t.depth; ++step) {
        // Eight independent chains of loads: the CPU overlaps them.
        for (size_t r = 0; r < kBlock; ++r) {
          const Node& n = nodes[at[r]];
          const float v = row[r][n.feature & ~kMissingLeft];
          // NaN compares false: it goes left only when the split says so. Integer masks rather
          // than branches: the direction is data-dependent and would mispredict half the time.
          const uint32_t left = static_cast<uint32_t>(v < n.threshold) |
                                (static_cast<uint32_t>(std::isnan(v)) & (n.feature >> 31));
          const uint32_t mask = 0u - left;
          at[r] = (n.left & mask) | (n.right & ~mask);
        }
      }
      for (size_t r = 0; r < m; ++r) sum[begin + r] += nodes[at[r]].threshold;
    }
  }
  for (size_t r = 0; r < rows; ++r) {
    const float margin = base_margin_ + sum[r];
    out[r] = logistic_ ? 1.0f / (1.0f + std::exp(-margin)) : margin;
  }
}

}  // namespace shelfwatch::models
