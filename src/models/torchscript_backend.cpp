// TorchScript backend over libtorch 1.13 (Debian's libtorch-dev). The only translation unit
// that includes torch headers: they are heavy, and their exceptions (c10::Error) stop here.
// It is built as a plugin (libshelfwatch_torchscript.so) that backend.cpp dlopens on the first
// torchscript model: libtorch's static initialisers cost ~1.3 s per process start here, which
// every test binary and server start would otherwise pay.
//
// Threads: libtorch's intra-op pool size is set per calling thread (at::set_num_threads sets
// the OpenMP ICV of the calling thread in Debian's OpenMP build) to the configured
// intra_op_threads, once per thread and value, so serving threads do not oversubscribe the
// CPUs with one OpenMP team each. Inference runs under NoGradGuard (no autograd graph).
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <filesystem>

#include "models/backend.h"

namespace shelfwatch::models {
namespace {

namespace fs = std::filesystem;

void SetThreadsForThisThread(int threads) {
  thread_local int current = 0;
  if (current != threads) {
    at::set_num_threads(threads);
    current = threads;
  }
}

bool DimsMatch(c10::IntArrayRef got, size_t skip, const std::vector<int64_t>& want) {
  if (got.size() != want.size() + skip) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != -1 && got[i + skip] != want[i]) return false;
  }
  return true;
}

class TorchscriptBackend final : public Backend {
 public:
  TorchscriptBackend(torch::jit::Module module, const ModelConfig& config)
      : module_(std::move(module)), config_(config) {}

  Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) const override {
    try {
      return RunOrThrow(inputs);
    } catch (const std::exception& e) {
      return Internal(std::string("torchscript forward: ") + FirstLine(e.what()));
    }
  }

  static std::string FirstLine(const char* what) {
    std::string s(what);
    const size_t nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
  }

 private:
  Result<std::vector<Tensor>> RunOrThrow(const std::vector<Tensor>& inputs) const {
    SetThreadsForThisThread(config_.torch_intra_op_threads);
    torch::NoGradGuard no_grad;
    std::vector<torch::jit::IValue> args;
    args.reserve(inputs.size());
    for (const Tensor& t : inputs) {
      // from_blob borrows the request's buffer: no copy; forward does not write its inputs.
      args.emplace_back(torch::from_blob(const_cast<float*>(t.fp32.data()), t.shape, torch::kFloat32));
    }
    // Module::forward is not const but TorchScript execution is thread-safe (the interpreter
    // keeps per-call frames), as serving libtorch from many threads requires.
    torch::jit::IValue result = const_cast<torch::jit::Module&>(module_).forward(std::move(args));
    std::vector<at::Tensor> tensors;
    if (result.isTensor()) {
      tensors.push_back(result.toTensor());
    } else if (result.isTuple()) {
      for (const auto& v : result.toTuple()->elements()) tensors.push_back(v.toTensor());
    } else if (result.isTensorList()) {
      for (const at::Tensor& v : result.toTensorVector()) tensors.push_back(v);
    } else {
      return Internal("torchscript forward returned neither a tensor nor a tuple of tensors");
    }
    if (tensors.size() != config_.outputs.size()) {
      return FailedPrecondition("model returned " + std::to_string(tensors.size()) +
                                " outputs, config.yaml declares " +
                                std::to_string(config_.outputs.size()));
    }
    const bool batched = config_.max_batch_size > 0;
    const int64_t rows = batched ? inputs[0].shape[0] : 0;
    std::vector<Tensor> out(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      at::Tensor t = tensors[i].to(torch::kFloat32).contiguous();
      const auto sizes = t.sizes();
      if (batched && (sizes.empty() || sizes[0] != rows)) {
        return FailedPrecondition("output " + config_.outputs[i].name + " has no batch dimension of " +
                                  std::to_string(rows) + " rows");
      }
      if (!DimsMatch(sizes, batched ? 1 : 0, config_.outputs[i].dims)) {
        return FailedPrecondition("output " + config_.outputs[i].name + " has shape " +
                                  ShapeString(std::vector<int64_t>(sizes.begin(), sizes.end())) +
                                  ", config.yaml declares dims " +
                                  ShapeString(config_.outputs[i].dims));
      }
      out[i].shape.assign(sizes.begin(), sizes.end());
      const float* p = t.data_ptr<float>();
      out[i].fp32.assign(p, p + t.numel());
    }
    return out;
  }

  torch::jit::Module module_;
  const ModelConfig config_;
};

}  // namespace

namespace {

Result<std::unique_ptr<Backend>> Open(const ModelConfig& config, const std::string& dir) {
  for (const TensorSpec& s : config.inputs) {
    if (s.dtype != DataType::kFp32) return InvalidArgument("torchscript inputs must be FP32");
  }
  const fs::path path = fs::path(dir) / "model.pt";
  if (!fs::exists(path)) return NotFound("no model.pt in " + dir);
  std::unique_ptr<TorchscriptBackend> backend;
  try {
    torch::jit::Module module = torch::jit::load(path.string());
    module.eval();
    backend = std::make_unique<TorchscriptBackend>(std::move(module), config);
  } catch (const std::exception& e) {
    return Status(ErrorCode::kDataLoss,
                  "cannot load " + path.string() + ": " + TorchscriptBackend::FirstLine(e.what()));
  }
  // Validate the shapes by running one synthetic batch of the declared shapes (a model that
  // expects other inputs throws; one that answers other outputs is caught by Run's checks).
  std::vector<Tensor> probe(config.inputs.size());
  for (size_t i = 0; i < config.inputs.size(); ++i) {
    if (config.max_batch_size > 0) probe[i].shape.push_back(1);
    for (int64_t d : config.inputs[i].dims) probe[i].shape.push_back(d == -1 ? 1 : d);
    probe[i].fp32.assign(static_cast<size_t>(ShapeElements(probe[i].shape)), 0.5f);
  }
  Result<std::vector<Tensor>> r = backend->Run(probe);
  if (!r.ok()) {
    return FailedPrecondition("inputs/outputs in config.yaml do not fit " + path.string() + ": " +
                              r.status().message());
  }
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace
}  // namespace shelfwatch::models

// The plugin's entry point (see kTorchscriptEntryPoint in backend.cpp): a backend, or null with
// *status set. Same compiler and standard library on both sides, so C++ types may cross.
extern "C" __attribute__((visibility("default"))) shelfwatch::models::Backend* shelfwatch_open_torchscript(
    const shelfwatch::models::ModelConfig* config, const std::string* dir, shelfwatch::Status* status) {
  auto r = shelfwatch::models::Open(*config, *dir);
  if (!r.ok()) {
    *status = r.status();
    return nullptr;
  }
  return std::move(r).value().release();
}
