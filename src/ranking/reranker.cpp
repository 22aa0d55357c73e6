#include "ranking/reranker.h"

#include <unistd.h>
#include <xgboost/c_api.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include "catalog/csv_reader.h"
#include "ranking/xgboost_error.h"

namespace shelfwatch::ranking {
namespace {

namespace fs = std::filesystem;

Status CheckFeatureCount(BoosterHandle booster, const std::string& what) {
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0) {
    return Status(ErrorCode::kDataLoss, "cannot read the feature count of " + what + ": " + XgboostError());
  }
  if (features != kNumFeatures) {
    return FailedPrecondition(what + " has " + std::to_string(features) + " features; this build computes " +
                              std::to_string(static_cast<int>(kNumFeatures)));
  }
  return Status::Ok();
}

}  // namespace

std::vector<int64_t> ListVersions(const std::string& model_dir) {
  std::vector<int64_t> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 18 || !entry.is_directory(ec)) continue;
    if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const int64_t v = std::stoll(name);
    if (v > 0) versions.push_back(v);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

Reranker::~Reranker() {
  if (booster_) XGBoosterFree(static_cast<BoosterHandle>(booster_));
}

Result<std::shared_ptr<const Reranker>> Reranker::FromJson(std::string_view model_json) {
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return Internal("xgboost: " + XgboostError());
  auto r = std::shared_ptr<Reranker>(new Reranker());
  r->booster_ = booster;
  if (XGBoosterLoadModelFromBuffer(booster, model_json.data(), model_json.size()) != 0) {
    return Status(ErrorCode::kDataLoss, "cannot parse the model: " + XgboostError());
  }
  // One thread per prediction: serving parallelism comes from concurrent requests.
  XGBoosterSetParam(booster, "nthread", "1");
  SW_RETURN_IF_ERROR(CheckFeatureCount(booster, "the model"));
  return std::shared_ptr<const Reranker>(std::move(r));
}

Result<std::shared_ptr<const Reranker>> Reranker::Load(const std::string& dir) {
  fs::path version_dir = dir;
  int64_t version = 0;
  std::error_code ec;
  if (!fs::exists(version_dir / "model.json", ec)) {
    const std::vector<int64_t> versions = ListVersions(dir);
    if (versions.empty()) return NotFound("no model.json in " + dir + " nor in a numbered version under it");
    version = versions.back();
    version_dir /= std::to_string(version);
  } else {
    const std::string name = version_dir.filename().string();
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      version = std::stoll(name.substr(0, 18));
    }
  }
  const std::string model_path = (version_dir / "model.json").string();
  if (!fs::exists(model_path, ec)) return NotFound("missing " + model_path);
  SW_RETURN_IF_ERROR(CheckFeatureNames((version_dir / "features.txt").string()));

  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return Internal("xgboost: " + XgboostError());
  auto r = std::shared_ptr<Reranker>(new Reranker());
  r->booster_ = booster;
  r->version_ = version;
  r->path_ = version_dir.string();
  if (XGBoosterLoadModel(booster, model_path.c_str()) != 0) {
    return Status(ErrorCode::kDataLoss, "cannot parse " + model_path + ": " + XgboostError());
  }
  XGBoosterSetParam(booster, "nthread", "1");
  SW_RETURN_IF_ERROR(CheckFeatureCount(booster, model_path));

  const fs::path priors = version_dir / "priors.csv";
  if (fs::exists(priors, ec)) {
    auto loaded = LoadPriors(priors.string());
    if (!loaded.ok()) return loaded.status();
    r->priors_ = std::move(*loaded);
  }
  const fs::path training = version_dir / "training.yaml";
  if (fs::exists(training, ec)) {
    try {
      const YAML::Node t = YAML::LoadFile(training.string());
      if (t["candidates"]) r->candidates_ = t["candidates"].as<uint32_t>();
    } catch (const YAML::Exception& e) {
      return InvalidArgument(training.string() + ": " + e.what());
    }
  }
  return std::shared_ptr<const Reranker>(std::move(r));
}

Status Reranker::Score(std::span<const float> features, std::vector<float>* scores, int trees) const {
  const size_t rows = features.size() / kNumFeatures;
  scores->clear();
  if (features.size() % kNumFeatures != 0) return InvalidArgument("features are not whole rows");
  if (rows == 0) return Status::Ok();
  // NumPy's __array_interface__ (version 3), the form XGBoost's in-place prediction reads.
  char array[192];
  std::snprintf(array, sizeof array, "{\"data\":[%llu,true],\"shape\":[%zu,%d],\"typestr\":\"<f4\",\"version\":3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(features.data())), rows,
                static_cast<int>(kNumFeatures));
  char config[192];
  std::snprintf(config, sizeof config,
                "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":%d,"
                "\"strict_shape\":false,\"missing\":NaN,\"cache_id\":0}",
                std::max(trees, 0));
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(static_cast<BoosterHandle>(booster_), array, config, nullptr, &shape, &dim,
                                &result) != 0) {
    return Internal("xgboost predict: " + XgboostError());
  }
  bst_ulong n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  if (n != rows) return Internal("xgboost returned " + std::to_string(n) + " scores for " + std::to_string(rows) + " rows");
  scores->assign(result, result + rows);
  return Status::Ok();
}

Status Reranker::Contributions(std::span<const float> features, std::vector<float>* out) const {
  const size_t rows = features.size() / kNumFeatures;
  out->clear();
  if (features.size() % kNumFeatures != 0) return InvalidArgument("features are not whole rows");
  if (rows == 0) return Status::Ok();
  std::lock_guard<std::mutex> lock(contributions_mu_);
  DMatrixHandle m = nullptr;
  if (XGDMatrixCreateFromMat(features.data(), rows, kNumFeatures, std::numeric_limits<float>::quiet_NaN(), &m) != 0) {
    return Internal("xgboost DMatrix: " + XgboostError());
  }
  static constexpr char kConfig[] =
      "{\"type\":2,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  const int rc = XGBoosterPredictFromDMatrix(static_cast<BoosterHandle>(booster_), m, kConfig, &shape, &dim, &result);
  Status st = Status::Ok();
  if (rc != 0) {
    st = Internal("xgboost pred_contribs: " + XgboostError());
  } else {
    bst_ulong n = 1;
    for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
    if (n != rows * (kNumFeatures + 1)) {
      st = Internal("xgboost returned " + std::to_string(n) + " contributions for " + std::to_string(rows) + " rows");
    } else {
      out->assign(result, result + n);
    }
  }
  XGDMatrixFree(m);
  return st;
}

Status Reranker::Rerank(const FeatureExtractor& extractor, std::span<const std::string> query_terms,
                        std::vector<Candidate>* candidates, std::vector<float>* scores,
                        std::span<const float> popularity) const {
  thread_local std::vector<float> features, model_scores;
  thread_local std::vector<uint32_t> order;
  thread_local std::vector<Candidate> reordered;
  const size_t n = candidates->size();
  features.resize(n * kNumFeatures);
  if (!popularity.empty() && popularity.size() != n) return InvalidArgument("one popularity prior per candidate");
  extractor.ExtractTerms(query_terms, *candidates, popularity, features.data());
  SW_RETURN_IF_ERROR(Score(features, &model_scores));
  order.resize(n);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return model_scores[a] > model_scores[b]; });
  reordered.clear();
  for (uint32_t i : order) reordered.push_back((*candidates)[i]);
  candidates->swap(reordered);
  if (scores) {
    scores->clear();
    for (uint32_t i : order) scores->push_back(model_scores[i]);
  }
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, float>>> LoadPriors(const std::string& path) {
  auto reader = catalog::CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<std::pair<std::string, float>> priors;
  std::vector<std::string> row;
  (*reader)->Next(&row);  // header
  while ((*reader)->Next(&row)) {
    if (row.size() != 2) return InvalidArgument(path + ": rows are product_id,prior");
    char* end = nullptr;
    const float p = std::strtof(row[1].c_str(), &end);
    if (end == row[1].c_str() || !std::isfinite(p)) return InvalidArgument(path + ": bad prior '" + row[1] + "'");
    priors.emplace_back(row[0], p);
  }
  if (!(*reader)->error().empty()) return InvalidArgument(path + ": " + (*reader)->error());
  return priors;
}

std::vector<float> Reranker::PriorsFor(const catalog::Catalog& catalog) const {
  if (priors_.empty()) return {};
  std::vector<float> out(catalog.size(), 0.0f);
  for (const auto& [id, p] : priors_) {
    if (auto doc = catalog.Find(id)) out[*doc] = p;
  }
  return out;
}

Result<std::string> WriteNextVersion(const std::string& model_dir,
                                     const std::vector<std::pair<std::string, std::string_view>>& files) {
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) return IoError("cannot create " + model_dir + ": " + ec.message());
  const std::vector<int64_t> versions = ListVersions(model_dir);
  const int64_t version = versions.empty() ? 1 : versions.back() + 1;
  const fs::path tmp = fs::path(model_dir) / (".tmp-" + std::to_string(version) + "-" + std::to_string(getpid()));
  const fs::path final_dir = fs::path(model_dir) / std::to_string(version);
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) return IoError("cannot create " + tmp.string() + ": " + ec.message());
  for (const auto& [name, data] : files) {
    std::ofstream out(tmp / name, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) {
      fs::remove_all(tmp, ec);
      return IoError("cannot write " + (tmp / name).string());
    }
  }
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return IoError("cannot move the new version into " + final_dir.string() + ": " + ec.message());
  }
  return final_dir.string();
}


}  // namespace shelfwatch::ranking
