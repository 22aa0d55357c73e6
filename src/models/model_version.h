// One loaded, validated and warmed-up model version: its config, its backend and (when
// configured) its dynamic batcher. Callers hold a std::shared_ptr<const ModelVersion> for the
// length of a request, so a version unloaded or replaced meanwhile finishes that request and
// is freed (backend memory, batcher thread) when its last request ends.
//
// Thread-safety: every const method is safe for concurrent use.
// Cost: Infer validates shapes (O(inputs)), then the backend's cost plus, with dynamic
// batching, one queue hand-off; without it the backend runs on the calling thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/backend.h"
#include "models/dynamic_batcher.h"
#include "models/model_config.h"
#include "models/model_metrics.h"
#include "models/tensor.h"

namespace shelfwatch::models {

class EmbeddingModel;

class ModelVersion {
 public:
  // Reads config.yaml and the artifact in `dir`, validates them and runs the configured
  // warmup requests. On failure `*reason` gets the load-failure label (backend.h, or
  // warmup_failed) and the Status says what is wrong.
  static Result<std::shared_ptr<ModelVersion>> Load(const std::string& name, int64_t version,
                                                    const std::string& dir, ModelMetrics& metrics,
                                                    std::string* reason);
  ~ModelVersion();
  ModelVersion(const ModelVersion&) = delete;
  ModelVersion& operator=(const ModelVersion&) = delete;

  const std::string& name() const { return name_; }
  int64_t version() const { return version_; }
  const std::string& version_label() const { return version_label_; }
  const ModelConfig& config() const { return config_; }
  // The version directory it was loaded from (its extra files: features.txt, training.yaml).
  const std::string& dir() const { return dir_; }

  // Runs one request. `inputs` are matched to the config's inputs by name (any order); each
  // shape must be [rows] + dims when max_batch_size > 0 (1 <= rows <= max_batch_size), else
  // exactly dims (-1: any size). Returns one tensor per config output, in config order, named.
  // kInvalidArgument for a request that does not fit the config; kInternal when the backend fails.
  Result<std::vector<Tensor>> Infer(std::vector<Tensor> inputs) const;
  // Per-feature contributions of each row (xgboost only): [rows, features + 1].
  Result<Tensor> Explain(const Tensor& input) const;
  // The embedding model behind an `embedding` version (nullptr for other kinds), for callers
  // that search it directly (the vector retrieval stage).
  const EmbeddingModel* embedding() const;

  // Ready gauge: set by the repository when the version starts / stops serving.
  void SetServing(bool serving) const;

 private:
  ModelVersion(std::string name, int64_t version, ModelConfig config, std::unique_ptr<Backend> backend,
               ModelMetrics& metrics);
  Status CheckInputs(std::vector<Tensor>& inputs, int64_t* rows) const;
  Status Warmup() const;

  const std::string name_;
  const int64_t version_;
  const std::string version_label_;
  const ModelConfig config_;
  std::string dir_;
  std::unique_ptr<Backend> backend_;
  mutable VersionSeries series_;
  std::unique_ptr<DynamicBatcher> batcher_;  // null: no dynamic batching
};

}  // namespace shelfwatch::models
