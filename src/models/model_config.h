// The configuration of a model version (`<root>/<name>/<version>/config.yaml`) and of a model's
// version policy (`<root>/<name>/config.yaml`), parsed with yaml-cpp. The format follows
// Triton's model configuration (kind, inputs/outputs with dims that exclude the batch
// dimension when max_batch_size > 0, dynamic_batching, warmup) and TF Serving's version policy.
//
//   # <root>/<name>/<version>/config.yaml
//   kind: xgboost                 # xgboost | torchscript | embedding
//   max_batch_size: 64            # 0: requests are passed through unbatched, shapes are whole
//   inputs:  [{name: features, dtype: FP32, dims: [20]}]   # -1: any size (torchscript only)
//   outputs: [{name: score, dtype: FP32, dims: [1]}]
//   dynamic_batching: {max_queue_delay_us: 200, preferred_batch_size: 16}   # absent: no batcher
//   warmup: {requests: 4}         # synthetic requests of the declared shapes before "ready"
//   xgboost: {nthread: 1, evaluator: compiled}   # booster threads per prediction call;
//                                 # compiled (tree_ensemble.h, default) or xgboost scores rows
//   torchscript: {intra_op_threads: 1}   # at::set_num_threads, process-wide in libtorch
//   embedding:                    # kind embedding only; inputs/outputs default to
//     dim: 64                     #   query BYTES [1] -> scores FP32 [top_k], item_ids BYTES [top_k]
//     buckets: 262144             # rows of encoder.f32 (see embedding_encoder.h)
//     word_ngrams: 2
//     char_ngrams: [3, 5]
//     top_k: 10
//     hnsw: {m: 16, ef_construction: 200, ef_search: 64}
//
//   # <root>/<name>/config.yaml (optional; default latest: 1)
//   version_policy: {latest: 2} | {specific: [3, 5]} | all
//
// Artifacts: xgboost model.json or model.ubj; torchscript model.pt; embedding items.f32
// (n x dim float32, little-endian, row-major), items.txt (n ids, one per line, row order) and
// encoder.f32 (buckets x dim float32).
// Thread-safety: plain values; the parsers are pure. Cost: one small file read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/embedding_encoder.h"
#include "models/tensor.h"

namespace shelfwatch::models {

enum class ModelKind { kXgboost, kTorchscript, kEmbedding };
std::string_view ModelKindName(ModelKind kind);

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFp32;
  std::vector<int64_t> dims;  // without the batch dimension when max_batch_size > 0
};

struct ModelConfig {
  ModelKind kind = ModelKind::kXgboost;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  int max_batch_size = 0;
  bool dynamic_batching = false;
  int64_t max_queue_delay_us = 0;
  int preferred_batch_size = 0;  // 0: max_batch_size
  int warmup_requests = 0;
  int xgboost_nthread = 1;
  // Score with the compiled tree evaluator (tree_ensemble.h; checked against XGBoost at load)
  // or with XGBoost's own predictor.
  bool xgboost_compiled = true;
  int torch_intra_op_threads = 1;
  // kind embedding
  EncoderSpec encoder;
  int top_k = 10;
  int hnsw_m = 16;
  int hnsw_ef_construction = 200;
  int hnsw_ef_search = 64;
};

// Parses a version's config.yaml. kInvalidArgument names the field that is wrong;
// kNotFound when the file is missing.
Result<ModelConfig> ParseModelConfig(const std::string& yaml_text);
Result<ModelConfig> LoadModelConfig(const std::string& path);

struct VersionPolicy {
  enum class Kind { kLatest, kSpecific, kAll };
  Kind kind = Kind::kLatest;
  int latest = 1;
  std::vector<int64_t> specific;

  // The versions to serve out of `available` (any order); result sorted ascending.
  std::vector<int64_t> Select(std::vector<int64_t> available) const;
};

// Parses a model-level config.yaml; a missing file means the default (latest 1).
Result<VersionPolicy> ParseVersionPolicy(const std::string& yaml_text);
Result<VersionPolicy> LoadVersionPolicy(const std::string& path);

}  // namespace shelfwatch::models
