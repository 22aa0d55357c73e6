#include "models/model_version.h"

#include <filesystem>

#include "common/clock.h"
#include "models/embedding_model.h"

namespace shelfwatch::models {

ModelVersion::ModelVersion(std::string name, int64_t version, ModelConfig config,
                           std::unique_ptr<Backend> backend, ModelMetrics& metrics)
    : name_(std::move(name)),
      version_(version),
      version_label_(std::to_string(version)),
      config_(std::move(config)),
      backend_(std::move(backend)),
      series_(metrics, name_, version_label_) {
  if (config_.dynamic_batching) {
    DynamicBatcher::Options o;
    o.max_batch_size = config_.max_batch_size;
    o.preferred_batch_size = config_.preferred_batch_size;
    o.max_queue_delay_us = config_.max_queue_delay_us;
    const Backend* b = backend_.get();
    batcher_ = std::make_unique<DynamicBatcher>(
        o, [b](const std::vector<Tensor>& in) { return b->Run(in); }, &series_);
  }
}

ModelVersion::~ModelVersion() {
  // Joins the worker before the backend it calls goes away. The ready gauge is the
  // repository's: a newer load of this version may be serving while this one drains.
  batcher_.reset();
}

Result<std::shared_ptr<ModelVersion>> ModelVersion::Load(const std::string& name, int64_t version,
                                                         const std::string& dir, ModelMetrics& metrics,
                                                         std::string* reason) {
  Result<ModelConfig> config = LoadModelConfig((std::filesystem::path(dir) / "config.yaml").string());
  if (!config.ok()) {
    *reason = config.status().code() == ErrorCode::kNotFound ? "missing_file" : "bad_config";
    return config.status();
  }
  Result<std::unique_ptr<Backend>> backend = OpenBackend(*config, dir);
  if (!backend.ok()) {
    *reason = std::string(LoadFailureReason(backend.status()));
    return backend.status();
  }
  std::shared_ptr<ModelVersion> v(
      new ModelVersion(name, version, std::move(config).value(), std::move(backend).value(), metrics));
  v->dir_ = dir;
  if (Status s = v->Warmup(); !s.ok()) {
    *reason = "warmup_failed";
    return s;
  }
  return v;
}

Status ModelVersion::Warmup() const {
  for (int i = 0; i < config_.warmup_requests; ++i) {
    // Alternate one row and a full batch so both shapes are specialised (TorchScript's
    // profiling executor optimises per shape seen).
    const int64_t rows = config_.max_batch_size > 0 ? (i % 2 == 0 ? 1 : config_.max_batch_size) : 0;
    std::vector<Tensor> inputs;
    for (const TensorSpec& spec : config_.inputs) {
      Tensor t;
      t.name = spec.name;
      t.dtype = spec.dtype;
      if (rows > 0) t.shape.push_back(rows);
      for (int64_t d : spec.dims) t.shape.push_back(d == -1 ? 1 : d);
      const size_t n = static_cast<size_t>(ShapeElements(t.shape));
      if (spec.dtype == DataType::kFp32) {
        t.fp32.resize(n);
        for (size_t k = 0; k < n; ++k) t.fp32[k] = static_cast<float>((k * 7 + static_cast<size_t>(i)) % 13) / 13.0f;
      } else {
        t.bytes.assign(n, "warmup query");
      }
      inputs.push_back(std::move(t));
    }
    // Warmup goes straight to the backend: it must not count as traffic.
    Result<std::vector<Tensor>> r = backend_->Run(inputs);
    if (!r.ok()) return Status(r.status().code(), "warmup request failed: " + r.status().message());
  }
  return Status::Ok();
}

Status ModelVersion::CheckInputs(std::vector<Tensor>& inputs, int64_t* rows) const {
  if (inputs.size() != config_.inputs.size()) {
    return InvalidArgument("model " + name_ + " takes " + std::to_string(config_.inputs.size()) +
                           " input(s), got " + std::to_string(inputs.size()));
  }
  // Put the inputs in config order.
  for (size_t i = 0; i < config_.inputs.size(); ++i) {
    const TensorSpec& spec = config_.inputs[i];
    size_t j = i;
    while (j < inputs.size() && inputs[j].name != spec.name) ++j;
    if (j == inputs.size()) return InvalidArgument("missing input '" + spec.name + "'");
    if (j != i) std::swap(inputs[i], inputs[j]);
    Tensor& t = inputs[i];
    if (t.dtype != spec.dtype) {
      return InvalidArgument("input '" + spec.name + "' must be " + std::string(DataTypeName(spec.dtype)));
    }
    const bool batched = config_.max_batch_size > 0;
    const size_t skip = batched ? 1 : 0;
    bool fits = t.shape.size() == spec.dims.size() + skip;
    for (size_t d = 0; fits && d < spec.dims.size(); ++d) {
      fits = spec.dims[d] == -1 ? t.shape[d + skip] >= 0 : t.shape[d + skip] == spec.dims[d];
    }
    if (fits && batched) {
      fits = t.shape[0] >= 1;
      if (fits && t.shape[0] > config_.max_batch_size) {
        return InvalidArgument("input '" + spec.name + "' has " + std::to_string(t.shape[0]) +
                               " rows, max_batch_size is " + std::to_string(config_.max_batch_size));
      }
    }
    if (!fits) {
      std::vector<int64_t> want = spec.dims;
      if (batched) want.insert(want.begin(), -1);
      return InvalidArgument("input '" + spec.name + "' has shape " + ShapeString(t.shape) +
                             ", model " + name_ + " expects " + ShapeString(want));
    }
    if (static_cast<int64_t>(t.StoredCount()) != t.ElementCount()) {
      return InvalidArgument("input '" + spec.name + "' has " + std::to_string(t.StoredCount()) +
                             " values for shape " + ShapeString(t.shape));
    }
    const int64_t r = batched ? t.shape[0] : 0;
    if (i == 0) {
      *rows = r;
    } else if (r != *rows) {
      return InvalidArgument("inputs disagree on the batch size");
    }
  }
  return Status::Ok();
}

Result<std::vector<Tensor>> ModelVersion::Infer(std::vector<Tensor> inputs) const {
  series_.requests.Inc();
  int64_t rows = 0;
  if (Status s = CheckInputs(inputs, &rows); !s.ok()) {
    series_.invalid_input.Inc();
    return s;
  }
  Result<std::vector<Tensor>> out = Status(ErrorCode::kInternal, "not run");
  if (batcher_) {
    out = batcher_->Submit(inputs, rows);
  } else {
    const int64_t start = MonotonicNanos();
    out = backend_->Run(inputs);
    series_.compute_duration.Observe(static_cast<double>(MonotonicNanos() - start) * 1e-9);
    series_.queue_duration.Observe(0);
    series_.batch_size.Observe(static_cast<double>(std::max<int64_t>(rows, 1)));
    series_.executions.Inc();
    series_.inferences.Inc(static_cast<uint64_t>(std::max<int64_t>(rows, 1)));
  }
  if (!out.ok()) {
    (out.status().code() == ErrorCode::kUnavailable ? series_.unavailable : series_.backend_error).Inc();
    return out;
  }
  for (size_t i = 0; i < out->size() && i < config_.outputs.size(); ++i) {
    (*out)[i].name = config_.outputs[i].name;
    (*out)[i].dtype = (*out)[i].dtype == DataType::kBytes ? DataType::kBytes : config_.outputs[i].dtype;
  }
  return out;
}

Result<Tensor> ModelVersion::Explain(const Tensor& input) const {
  std::vector<Tensor> inputs{input};
  if (!config_.inputs.empty()) inputs[0].name = config_.inputs[0].name;
  int64_t rows = 0;
  SW_RETURN_IF_ERROR(CheckInputs(inputs, &rows));
  return backend_->Explain(inputs[0]);
}

const EmbeddingModel* ModelVersion::embedding() const {
  return dynamic_cast<const EmbeddingModel*>(backend_.get());
}

void ModelVersion::SetServing(bool serving) const { series_.ready.Set(serving ? 1 : 0); }

}  // namespace shelfwatch::models
