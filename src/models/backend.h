// A backend runs one kind of model artifact (xgboost, torchscript, embedding) on whole
// batches. The repository opens one per model version; the dynamic batcher calls Run.
//
// Opening validates the artifact and returns a Status whose code says why it was refused,
// which becomes the `reason` label of shelfwatch_model_load_failures_total:
//   kNotFound -> missing_file, kDataLoss -> corrupt_artifact, kFailedPrecondition ->
//   wrong_shape, kInvalidArgument -> bad_config, anything else -> load_error.
// Thread-safety: Run and Explain are safe to call concurrently on one backend (XGBoost in-place
// prediction and TorchScript forward are thread-safe; the embedding index takes a shared lock).
// Cost: a backend's own inference cost; Run copies outputs once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/model_config.h"
#include "models/tensor.h"

namespace shelfwatch::models {

class Backend {
 public:
  virtual ~Backend() = default;
  // `inputs`: one tensor per config input, in config order, shapes already checked against the
  // config (batch dimension first when max_batch_size > 0). Returns one tensor per config
  // output, in config order; batched outputs have the inputs' row count as first dimension.
  virtual Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) const = 0;
  // Per-feature contributions of each row's score ([rows, features + 1], last column the bias;
  // a row sums to the untransformed score). Only tree models have them.
  virtual Result<Tensor> Explain(const Tensor& input) const {
    (void)input;
    return FailedPrecondition("this model kind has no per-feature contributions");
  }
};

// Opens the artifact in `version_dir` for `config` and validates it (parse, shapes).
Result<std::unique_ptr<Backend>> OpenBackend(const ModelConfig& config, const std::string& version_dir);

// The load-failure reason label for a Status returned by OpenBackend (table above).
std::string_view LoadFailureReason(const Status& status);

// Backends, one translation unit each (torch and hnswlib headers stay inside theirs). The
// torchscript one lives in the plugin libshelfwatch_torchscript.so, dlopened on first use
// (found via $SHELFWATCH_TORCHSCRIPT_PLUGIN, beside the executable, or in the build tree);
// without it torchscript versions are refused with reason load_error.
Result<std::unique_ptr<Backend>> OpenXgboostBackend(const ModelConfig& config, const std::string& dir);
Result<std::unique_ptr<Backend>> OpenTorchscriptBackend(const ModelConfig& config, const std::string& dir);
Result<std::unique_ptr<Backend>> OpenEmbeddingBackend(const ModelConfig& config, const std::string& dir);

}  // namespace shelfwatch::models
