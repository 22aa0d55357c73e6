// XGBoost 1.7 backend over the C API (xgboost/c_api.h).
//
// Scores come from XGBoosterPredictFromDense (in-place prediction: no DMatrix, documented as
// thread-safe since 1.4); contributions from XGBoosterPredictFromDMatrix with type 2
// (pred_contribs, TreeSHAP), which needs a DMatrix and is serialised by a mutex because the
// C API keeps its prediction buffer per booster and thread, and we keep it simple.
#include <xgboost/c_api.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "common/log.h"
#include "models/backend.h"
#include "models/tree_ensemble.h"

namespace shelfwatch::models {
namespace {

namespace fs = std::filesystem;

// XGBoost's message without the stack trace it appends ("Stack trace:" and backtrace lines).
std::string LastError() {
  std::string e = XGBGetLastError();
  const size_t trace = e.find("Stack trace:");
  if (trace != std::string::npos) e.resize(trace);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

// XGBoost's own in-place prediction of `rows` rows of `x`.
Result<std::vector<Tensor>> PredictWithXgboost(BoosterHandle booster, const Tensor& x, int64_t rows, int64_t features) {
  // __array_interface__ (NumPy's protocol, version 3), which XGBoost's in-place predict reads.
  char interface[160];
  std::snprintf(interface, sizeof interface,
                "{\"data\":[%llu,true],\"shape\":[%lld,%lld],\"typestr\":\"<f4\",\"version\":3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(x.fp32.data())),
                static_cast<long long>(rows), static_cast<long long>(features));
  static constexpr char kConfig[] =
      "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
      "\"strict_shape\":false,\"missing\":NaN,\"cache_id\":0}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(booster, interface, kConfig, nullptr, &shape, &dim, &result) != 0) {
    return Internal("xgboost predict: " + LastError());
  }
  bst_ulong n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  if (static_cast<int64_t>(n) != rows) {
    return Internal("xgboost returned " + std::to_string(n) + " scores for " +
                    std::to_string(rows) + " rows (multi-output models are not served)");
  }
  std::vector<Tensor> out(1);
  out[0].shape = {rows, 1};
  out[0].fp32.assign(result, result + n);
  return out;
}

class XgboostBackend final : public Backend {
 public:
  XgboostBackend(BoosterHandle booster, int64_t features, std::optional<TreeEnsemble> compiled)
      : booster_(booster), features_(features), compiled_(std::move(compiled)) {}
  ~XgboostBackend() override { XGBoosterFree(booster_); }

  Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) const override {
    const Tensor& x = inputs[0];
    const int64_t rows = static_cast<int64_t>(x.fp32.size()) / features_;
    if (compiled_) {
      std::vector<Tensor> out(1);
      out[0].shape = {rows, 1};
      out[0].fp32.resize(static_cast<size_t>(rows));
      compiled_->Predict(x.fp32.data(), static_cast<size_t>(rows), out[0].fp32.data());
      return out;
    }
    return RunXgboost(x, rows);
  }

  Result<std::vector<Tensor>> RunXgboost(const Tensor& x, int64_t rows) const {
    return PredictWithXgboost(booster_, x, rows, features_);
  }

  Result<Tensor> Explain(const Tensor& x) const override {
    const int64_t rows = static_cast<int64_t>(x.fp32.size()) / features_;
    std::lock_guard<std::mutex> lock(explain_mu_);
    DMatrixHandle dm = nullptr;
    if (XGDMatrixCreateFromMat(x.fp32.data(), static_cast<bst_ulong>(rows),
                               static_cast<bst_ulong>(features_), std::nanf(""), &dm) != 0) {
      return Internal("xgboost DMatrix: " + LastError());
    }
    static constexpr char kConfig[] =
        "{\"type\":2,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
        "\"strict_shape\":false}";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    const int rc = XGBoosterPredictFromDMatrix(booster_, dm, kConfig, &shape, &dim, &result);
    Tensor t;
    if (rc == 0) {
      t.name = "contributions";
      t.shape = {rows, features_ + 1};
      t.fp32.assign(result, result + rows * (features_ + 1));
    }
    const std::string error = rc == 0 ? "" : LastError();
    XGDMatrixFree(dm);
    if (rc != 0) return Internal("xgboost pred_contribs: " + error);
    return t;
  }

 private:
  BoosterHandle booster_;
  int64_t features_;
  std::optional<TreeEnsemble> compiled_;
  mutable std::mutex explain_mu_;
};

// The compiled evaluator of `booster`, when it supports the model and agrees with XGBoost on
// random rows (features drawn in a wide range, some missing); nullopt otherwise (logged).
std::optional<TreeEnsemble> Compile(BoosterHandle booster, int64_t features, const std::string& path) {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(booster, "{\"format\": \"json\"}", &len, &buf) != 0) {
    log::Warn("xgboost model kept on XGBoost's predictor", {{"model", path}, {"reason", LastError()}});
    return std::nullopt;
  }
  auto compiled = TreeEnsemble::FromXgboostJson(std::string_view(buf, len), features);
  if (!compiled.ok()) {
    log::Info("xgboost model kept on XGBoost's predictor", {{"model", path}, {"reason", compiled.status().message()}});
    return std::nullopt;
  }
  constexpr int64_t kRows = 256;
  Tensor x;
  x.fp32.resize(static_cast<size_t>(kRows * features));
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> uniform(-2.0f, 40.0f);
  for (float& v : x.fp32) v = (rng() % 16 == 0) ? std::nanf("") : (rng() % 4 == 0 ? 0.0f : uniform(rng));
  auto expected = PredictWithXgboost(booster, x, kRows, features);
  if (!expected.ok()) return std::nullopt;
  std::vector<float> got(static_cast<size_t>(kRows));
  compiled->Predict(x.fp32.data(), static_cast<size_t>(kRows), got.data());
  for (int64_t r = 0; r < kRows; ++r) {
    const float want = (*expected)[0].fp32[static_cast<size_t>(r)];
    if (!(std::fabs(got[static_cast<size_t>(r)] - want) <= 1e-4f * std::max(1.0f, std::fabs(want)))) {
      log::Warn("xgboost model kept on XGBoost's predictor: the compiled trees disagree",
                {{"model", path}, {"row", std::to_string(r)}, {"xgboost", std::to_string(want)},
                 {"compiled", std::to_string(got[static_cast<size_t>(r)])}});
      return std::nullopt;
    }
  }
  return std::move(compiled).value();
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenXgboostBackend(const ModelConfig& config, const std::string& dir) {
  if (config.inputs.size() != 1 || config.outputs.size() != 1 ||
      config.inputs[0].dtype != DataType::kFp32 || config.inputs[0].dims.empty()) {
    return InvalidArgument("xgboost models take one FP32 input [features] and give one output [1]");
  }
  const std::vector<int64_t>& out_dims = config.outputs[0].dims;
  if (!(out_dims == std::vector<int64_t>{1} || (config.max_batch_size == 0 && out_dims.size() == 2 &&
                                                out_dims[1] == 1))) {
    return FailedPrecondition("xgboost output dims must be [1] (one score per row)");
  }
  std::string path;
  for (const char* name : {"model.json", "model.ubj"}) {
    if (fs::exists(fs::path(dir) / name)) {
      path = (fs::path(dir) / name).string();
      break;
    }
  }
  if (path.empty()) return NotFound("no model.json or model.ubj in " + dir);

  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return Internal("xgboost: " + LastError());
  if (XGBoosterLoadModel(booster, path.c_str()) != 0) {
    const std::string error = LastError();
    XGBoosterFree(booster);
    return Status(ErrorCode::kDataLoss, "cannot parse " + path + ": " + error);
  }
  const std::string nthread = std::to_string(config.xgboost_nthread);
  XGBoosterSetParam(booster, "nthread", nthread.c_str());
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0) {
    const std::string error = LastError();
    XGBoosterFree(booster);
    return Status(ErrorCode::kDataLoss, "cannot read the feature count of " + path + ": " + error);
  }
  const int64_t declared = config.inputs[0].dims.back();
  if (static_cast<int64_t>(features) != declared) {
    XGBoosterFree(booster);
    return FailedPrecondition("model " + path + " has " + std::to_string(features) +
                              " features but config.yaml declares " + std::to_string(declared));
  }
  std::optional<TreeEnsemble> compiled;
  if (config.xgboost_compiled) compiled = Compile(booster, declared, path);
  return std::unique_ptr<Backend>(std::make_unique<XgboostBackend>(booster, declared, std::move(compiled)));
}

}  // namespace shelfwatch::models
