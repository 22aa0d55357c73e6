#include "recommend/lambdamart.h"

#include <simdjson.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace shelfwatch::recommend {

namespace {

// XGBoost's message without the stack trace it appends.
std::string XgbError() {
  std::string e = XGBGetLastError();
  size_t trace = e.find("Stack trace:");
  if (trace != std::string::npos) e.resize(trace);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

struct MatrixHandle {
  DMatrixHandle h = nullptr;
  ~MatrixHandle() {
    if (h != nullptr) XGDMatrixFree(h);
  }
};

struct BoosterOwner {
  BoosterHandle h = nullptr;
  ~BoosterOwner() {
    if (h != nullptr) XGBoosterFree(h);
  }
  BoosterHandle release() {
    BoosterHandle out = h;
    h = nullptr;
    return out;
  }
};

}  // namespace

LambdaMart::~LambdaMart() { XGBoosterFree(booster_); }

Result<std::unique_ptr<LambdaMart>> LambdaMart::Train(const RankingData& data, const LambdaMartParams& params) {
  size_t rows = data.row_count();
  if (data.features == 0 || rows == 0 || data.rows.size() != rows * data.features) {
    return InvalidArgument("ranking data: " + std::to_string(rows) + " labels for " + std::to_string(data.rows.size()) +
                           " values of " + std::to_string(data.features) + " features");
  }
  size_t grouped = 0;
  for (uint32_t g : data.group_sizes) grouped += g;
  if (grouped != rows) return InvalidArgument("ranking data: groups cover " + std::to_string(grouped) + " of " + std::to_string(rows) + " rows");
  bool positive = false;
  for (float l : data.labels) positive = positive || l > 0;
  if (!positive) return InvalidArgument("ranking data has no relevant row to learn from");
  if (params.trees == 0 || params.max_depth == 0 || params.max_depth > kMaxDepth || !(params.eta > 0)) {
    return InvalidArgument("lambdamart: trees and max_depth (<= " + std::to_string(kMaxDepth) + ") must be positive, eta > 0");
  }

  MatrixHandle m;
  if (XGDMatrixCreateFromMat(data.rows.data(), rows, data.features, NAN, &m.h) != 0) return Internal("xgboost matrix: " + XgbError());
  if (XGDMatrixSetFloatInfo(m.h, "label", data.labels.data(), rows) != 0) return Internal("xgboost labels: " + XgbError());
  if (XGDMatrixSetUIntInfo(m.h, "group", data.group_sizes.data(), data.group_sizes.size()) != 0) {
    return Internal("xgboost groups: " + XgbError());
  }
  BoosterOwner b;
  if (XGBoosterCreate(&m.h, 1, &b.h) != 0) return Internal("xgboost booster: " + XgbError());
  auto fmt = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return std::string(buf);
  };
  const std::pair<const char*, std::string> settings[] = {
      {"objective", params.objective},
      {"tree_method", "hist"},  // deterministic for a given seed and data
      {"eta", fmt(params.eta)},
      {"max_depth", std::to_string(params.max_depth)},
      {"min_child_weight", fmt(params.min_child_weight)},
      {"subsample", fmt(params.subsample)},
      {"seed", std::to_string(params.seed)},
      {"nthread", std::to_string(std::max<uint32_t>(1, params.train_threads))},
      {"verbosity", "0"},
  };
  for (const auto& [key, value] : settings) {
    if (XGBoosterSetParam(b.h, key, value.c_str()) != 0) return InvalidArgument(std::string("xgboost ") + key + ": " + XgbError());
  }
  for (uint32_t t = 0; t < params.trees; ++t) {
    if (XGBoosterUpdateOneIter(b.h, static_cast<int>(t), m.h) != 0) return Internal("xgboost training: " + XgbError());
  }
  // Serving runs one request per thread: XGBoost's own thread pool would only add overhead.
  if (XGBoosterSetParam(b.h, "nthread", "1") != 0) return Internal("xgboost nthread: " + XgbError());
  std::unique_ptr<LambdaMart> model(new LambdaMart(b.release(), data.features));
  SW_RETURN_IF_ERROR(model->LoadTrees());
  return model;
}

Result<std::unique_ptr<LambdaMart>> LambdaMart::FromBytes(std::string_view bytes, uint32_t features) {
  BoosterOwner b;
  if (XGBoosterCreate(nullptr, 0, &b.h) != 0) return Internal("xgboost booster: " + XgbError());
  if (bytes.empty() || XGBoosterLoadModelFromBuffer(b.h, bytes.data(), bytes.size()) != 0) {
    return Status(ErrorCode::kDataLoss, "ranking trees: " + (bytes.empty() ? std::string("empty model") : XgbError()));
  }
  bst_ulong n = 0;
  if (XGBoosterGetNumFeature(b.h, &n) != 0 || n != features) {
    return Status(ErrorCode::kDataLoss, "ranking trees expect " + std::to_string(n) + " features, not " + std::to_string(features));
  }
  if (XGBoosterSetParam(b.h, "nthread", "1") != 0) return Internal("xgboost nthread: " + XgbError());
  std::unique_ptr<LambdaMart> model(new LambdaMart(b.release(), features));
  SW_RETURN_IF_ERROR(model->LoadTrees());
  return model;
}

Status LambdaMart::LoadTrees() {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_, "{\"format\":\"json\"}", &len, &buf) != 0) {
    return Status(ErrorCode::kDataLoss, "ranking trees: " + XgbError());
  }
  auto bad = [](const std::string& why) { return Status(ErrorCode::kDataLoss, "ranking trees: " + why); };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(buf, len).get(doc) != simdjson::SUCCESS) return bad("model JSON does not parse");
  simdjson::dom::element learner = doc["learner"];
  std::string_view base_score;
  if (learner["learner_model_param"]["base_score"].get(base_score) != simdjson::SUCCESS) return bad("no base_score");
  base_score_ = std::strtof(std::string(base_score).c_str(), nullptr);
  std::string_view booster;
  if (learner["gradient_booster"]["name"].get(booster) != simdjson::SUCCESS || booster != "gbtree") {
    return bad("not a gbtree model");
  }
  simdjson::dom::array trees;
  if (learner["gradient_booster"]["model"]["trees"].get(trees) != simdjson::SUCCESS) return bad("no trees");

  // Each tree's nodes placed in heap order (children of slot i at 2i+1 and 2i+2).
  struct Placed {
    uint32_t slot = 0;
    bool leaf = true;
    Node node;
  };
  std::vector<std::vector<Placed>> placed_trees;
  depth_ = 0;
  for (simdjson::dom::element tree : trees) {
    simdjson::dom::array split, cond, left, right, default_left;
    if (tree["split_indices"].get(split) || tree["split_conditions"].get(cond) || tree["left_children"].get(left) ||
        tree["right_children"].get(right) || tree["default_left"].get(default_left)) {
      return bad("a tree lacks its node arrays");
    }
    size_t n = split.size();
    if (n == 0 || cond.size() != n || left.size() != n || right.size() != n || default_left.size() != n) {
      return bad("a tree's node arrays differ in length");
    }
    std::vector<int64_t> l(n), r(n), f(n), d(n);
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) {
      if (left.at(i).get(l[i]) || right.at(i).get(r[i]) || split.at(i).get(f[i]) || cond.at(i).get(v[i]) ||
          default_left.at(i).get(d[i])) {
        return bad("a tree node is malformed");
      }
    }
    struct Pending {
      int64_t id;
      uint32_t slot, depth;
    };
    std::vector<Pending> stack{{0, 0, 0}};
    std::vector<Placed> placed;
    while (!stack.empty()) {
      Pending p = stack.back();
      stack.pop_back();
      if (p.id < 0 || static_cast<size_t>(p.id) >= n || placed.size() >= n || p.depth > kMaxDepth) {
        return bad("a tree is malformed or deeper than " + std::to_string(kMaxDepth));
      }
      Placed x;
      x.slot = p.slot;
      x.node.value = static_cast<float>(v[p.id]);
      if (l[p.id] != -1) {
        if (f[p.id] < 0 || f[p.id] >= features_ || p.depth == kMaxDepth) {
          return bad("a split uses feature " + std::to_string(f[p.id]) + " at depth " + std::to_string(p.depth));
        }
        x.leaf = false;
        x.node.feature = static_cast<uint32_t>(f[p.id]);
        x.node.default_left = d[p.id] != 0 ? 1u : 0u;
        depth_ = std::max(depth_, p.depth + 1);
        stack.push_back({l[p.id], 2 * p.slot + 1, p.depth + 1});
        stack.push_back({r[p.id], 2 * p.slot + 2, p.depth + 1});
      }
      placed.push_back(x);
    }
    placed_trees.push_back(std::move(placed));
  }
  // Complete every tree to depth_: a leaf above the last level is repeated in both children,
  // so every walk takes depth_ steps and lands on the last level.
  size_t per_tree = (size_t{2} << depth_) - 1;
  nodes_.assign(per_tree * placed_trees.size(), Node{});
  tree_roots_.clear();
  for (size_t t = 0; t < placed_trees.size(); ++t) {
    Node* tree = nodes_.data() + t * per_tree;
    tree_roots_.push_back(static_cast<uint32_t>(t * per_tree));
    std::vector<uint8_t> state(per_tree, 0);  // 0 unset, 1 split, 2 leaf
    for (const auto& p : placed_trees[t]) {
      tree[p.slot] = p.node;
      state[p.slot] = p.leaf ? 2 : 1;
    }
    for (size_t i = 0; 2 * i + 2 < per_tree; ++i) {
      if (state[i] != 2) continue;
      tree[i].feature = 0;
      tree[2 * i + 1] = tree[2 * i + 2] = tree[i];
      state[2 * i + 1] = state[2 * i + 2] = 2;
    }
  }
  return Status::Ok();
}

Result<std::string> LambdaMart::ToBytes() const {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_, "{\"format\":\"ubj\"}", &len, &buf) != 0) return Internal("xgboost save: " + XgbError());
  return std::string(buf, len);
}

namespace {

// One step down a complete tree: right when not (x < split); a missing x (NaN compares false)
// goes right unless the node's default is left.
template <typename Node>
inline size_t Step(const Node& node, const float* row, size_t i) {
  float x = row[node.feature];
  size_t right = !(x < node.value);
  right &= ~static_cast<size_t>((x != x) & node.default_left);
  return 2 * i + 1 + right;
}

}  // namespace

Status LambdaMart::Predict(std::span<const float> rows, std::vector<float>* out) const {
  out->clear();
  if (rows.size() % features_ != 0) return InvalidArgument("feature rows do not match the model's feature count");
  size_t n = rows.size() / features_;
  out->assign(n, base_score_);  // then tree by tree, XGBoost's order of summation
  const float* data = rows.data();
  float* scores = out->data();
  for (uint32_t root : tree_roots_) {
    const Node* tree = nodes_.data() + root;
    size_t r = 0;
    // Four rows at a time: their walks are independent, so the loads overlap.
    for (; r + 4 <= n; r += 4) {
      const float* a = data + r * features_;
      const float* b = a + features_;
      const float* c = b + features_;
      const float* d = c + features_;
      size_t ia = 0, ib = 0, ic = 0, id = 0;
      for (uint32_t level = 0; level < depth_; ++level) {
        ia = Step(tree[ia], a, ia);
        ib = Step(tree[ib], b, ib);
        ic = Step(tree[ic], c, ic);
        id = Step(tree[id], d, id);
      }
      scores[r] += tree[ia].value;
      scores[r + 1] += tree[ib].value;
      scores[r + 2] += tree[ic].value;
      scores[r + 3] += tree[id].value;
    }
    for (; r < n; ++r) {
      const float* row = data + r * features_;
      size_t i = 0;
      for (uint32_t level = 0; level < depth_; ++level) i = Step(tree[i], row, i);
      scores[r] += tree[i].value;
    }
  }
  return Status::Ok();
}

Status LambdaMart::PredictWithXgboost(std::span<const float> rows, std::vector<float>* out) const {
  out->clear();
  if (rows.empty()) return Status::Ok();
  if (rows.size() % features_ != 0) return InvalidArgument("feature rows do not match the model's feature count");
  size_t n = rows.size() / features_;
  // NumPy's __array_interface__ (version 3), the format XGBoost's in-place prediction reads.
  char interface[192];
  std::snprintf(interface, sizeof interface, "{\"data\":[%llu,true],\"shape\":[%zu,%u],\"typestr\":\"<f4\",\"version\":3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows.data())), n, features_);
  static constexpr char kConfig[] =
      "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false,"
      "\"missing\":NaN,\"cache_id\":0}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(booster_, interface, kConfig, nullptr, &shape, &dim, &result) != 0) {
    return Internal("xgboost predict: " + XgbError());
  }
  bst_ulong total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
  if (total != n) return Internal("xgboost returned " + std::to_string(total) + " scores for " + std::to_string(n) + " rows");
  out->assign(result, result + n);
  return Status::Ok();
}

}  // namespace shelfwatch::recommend
