#include "models/backend.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace shelfwatch::models {
namespace {

constexpr char kTorchscriptEntryPoint[] = "shelfwatch_open_torchscript";
using TorchscriptOpen = Backend* (*)(const ModelConfig*, const std::string*, Status*);

// Candidate paths of the plugin: $SHELFWATCH_TORCHSCRIPT_PLUGIN, beside the executable, then
// where this build put it.
std::vector<std::string> PluginCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("SHELFWATCH_TORCHSCRIPT_PLUGIN"); env && *env) out.emplace_back(env);
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    out.push_back((std::filesystem::path(exe).parent_path() / "libshelfwatch_torchscript.so").string());
  }
#ifdef SHELFWATCH_TORCHSCRIPT_PLUGIN
  out.emplace_back(SHELFWATCH_TORCHSCRIPT_PLUGIN);
#endif
  return out;
}

// dlopens the plugin once per process (never closed: its code runs the backends' destructors).
TorchscriptOpen TorchscriptPlugin(std::string* error) {
  static std::once_flag once;
  static TorchscriptOpen open = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    for (const std::string& path : PluginCandidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) continue;
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        failure = std::string("cannot load the torchscript plugin: ") + dlerror();
        return;
      }
      open = reinterpret_cast<TorchscriptOpen>(dlsym(handle, kTorchscriptEntryPoint));
      if (!open) failure = "the torchscript plugin " + path + " lacks " + kTorchscriptEntryPoint;
      return;
    }
    failure = "torchscript support is not installed (libshelfwatch_torchscript.so not found; set "
              "SHELFWATCH_TORCHSCRIPT_PLUGIN)";
  });
  *error = failure;
  return open;
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenTorchscriptBackend(const ModelConfig& config, const std::string& dir) {
  std::string error;
  TorchscriptOpen open = TorchscriptPlugin(&error);
  if (!open) return Unavailable(error);
  Status status;
  Backend* backend = open(&config, &dir, &status);
  if (!backend) return status;
  return std::unique_ptr<Backend>(backend);
}

Result<std::unique_ptr<Backend>> OpenBackend(const ModelConfig& config, const std::string& version_dir) {
  switch (config.kind) {
    case ModelKind::kXgboost:
      return OpenXgboostBackend(config, version_dir);
    case ModelKind::kTorchscript:
      return OpenTorchscriptBackend(config, version_dir);
    case ModelKind::kEmbedding:
      return OpenEmbeddingBackend(config, version_dir);
  }
  return InvalidArgument("unknown model kind");
}

std::string_view LoadFailureReason(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kNotFound:
      return "missing_file";
    case ErrorCode::kDataLoss:
      return "corrupt_artifact";
    case ErrorCode::kFailedPrecondition:
      return "wrong_shape";
    case ErrorCode::kInvalidArgument:
      return "bad_config";
    default:
      return "load_error";
  }
}

}  // namespace shelfwatch::models
