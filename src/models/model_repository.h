// The model repository: a directory `<root>/<name>/<version>/` (version = a positive integer)
// holding config.yaml and the artifact (model_config.h), with an optional
// `<root>/<name>/config.yaml` version policy (latest N | specific | all; default latest 1, as
// TF Serving and Triton).
//
// Poll() (every poll_interval once Start()ed, or called directly) and Load(name) bring each
// model to its policy: versions to serve are loaded, validated and warmed up *before* they
// become visible, then versions the policy no longer selects are unloaded (availability first,
// like TF Serving's availability-preserving policy). A version that fails to load is marked
// failed with its reason (log, List(), shelfwatch_model_load_failures_total{model,reason}) and
// the policy is applied to the remaining versions, so with `latest: 1` a broken version 3
// leaves version 2 serving. A failed version is retried when its files change, or on Load().
// Versions are immutable once written: a ready version is not reloaded when its files change.
// Unload(name) unloads every version and keeps polling off the model until Load(name).
//
// Thread-safety: every method is safe for concurrent use; Poll/Load/Unload are serialised among
// themselves, Get never waits for a load (it takes a shared lock for a map lookup).
// Cost: Get O(log models + versions); Poll O(files in the repository) plus the loads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "models/model_metrics.h"
#include "models/model_version.h"
#include "monitor/metrics.h"

namespace shelfwatch::models {

enum class VersionState { kLoading, kReady, kFailed, kUnloaded };
// "loading" | "ready" | "failed" | "unloaded"
std::string_view VersionStateName(VersionState state);

struct VersionStatus {
  int64_t version = 0;
  VersionState state = VersionState::kUnloaded;
  std::string reason;  // failed: "<label>: <message>"; empty otherwise
};

struct ModelStatus {
  std::string name;
  std::vector<VersionStatus> versions;  // ascending
};

struct RepositoryOptions {
  RepositoryOptions() = default;
  RepositoryOptions(std::string root_dir, double poll_interval_seconds = 0, monitor::Registry* metrics = nullptr)
      : root(std::move(root_dir)), poll_interval_s(poll_interval_seconds), registry(metrics) {}

  std::string root;
  double poll_interval_s = 0;              // 0: no polling thread (Poll/Load by hand)
  monitor::Registry* registry = nullptr;   // metrics go here; null: a private registry
  // Optional: runs on every loaded version before it becomes ready; an error refuses it like a
  // failed load (the reason label from LoadFailureReason, e.g. kFailedPrecondition ->
  // wrong_shape), so the version already serving keeps serving.
  std::function<Status(const ModelVersion&)> validate;
};

class ModelRepository {
 public:
  explicit ModelRepository(RepositoryOptions options);
  // Stops polling. Versions still held by callers stay valid while the metrics registry lives.
  ~ModelRepository();
  ModelRepository(const ModelRepository&) = delete;
  ModelRepository& operator=(const ModelRepository&) = delete;

  // Polls once (kNotFound when the root is not a directory), then starts the polling thread
  // when poll_interval_s > 0. Per-model load failures do not fail Start.
  Status Start();
  void Stop();
  // True once the first poll has completed.
  bool started() const { return started_.load(std::memory_order_acquire); }

  // Scans the root and applies every model's policy (models gone from disk are unloaded).
  Status Poll();
  // Applies one model's policy now, retrying failed versions; kNotFound when <root>/<name> does
  // not exist; kFailedPrecondition (with the reasons) when no version of it is ready after.
  Status Load(const std::string& name);
  // Unloads every version of the model; kNotFound when it is not known.
  Status Unload(const std::string& name);

  // The version to run a request on: `version` 0 means the highest ready version.
  // kNotFound (unknown model / version) or kUnavailable (known but not ready).
  Result<std::shared_ptr<const ModelVersion>> Get(std::string_view name, int64_t version = 0) const;
  std::vector<ModelStatus> List() const;

  monitor::Registry& registry() { return *registry_; }

 private:
  struct VersionEntry {
    VersionState state = VersionState::kUnloaded;
    std::string reason;
    std::string signature;  // of the files when it failed: retried when it changes
    std::shared_ptr<const ModelVersion> live;
  };
  struct ModelEntry {
    std::map<int64_t, VersionEntry> versions;
    bool administratively_unloaded = false;
  };

  Status ApplyPolicy(const std::string& name, bool retry_failed);
  void SetState(const std::string& name, int64_t version, VersionState state, std::string reason,
                std::string signature, std::shared_ptr<const ModelVersion> live);
  void UnloadVersion(const std::string& name, int64_t version);
  void PollLoop();

  const RepositoryOptions options_;
  std::unique_ptr<monitor::Registry> own_registry_;
  monitor::Registry* registry_;
  ModelMetrics metrics_;

  std::mutex apply_mu_;              // serialises Poll / Load / Unload
  mutable std::shared_mutex mu_;     // guards models_
  std::map<std::string, ModelEntry, std::less<>> models_;

  std::atomic<bool> started_{false};
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_ = false;
  std::thread poller_;
};

}  // namespace shelfwatch::models
