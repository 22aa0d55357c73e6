#include "models/model_repository.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "common/clock.h"
#include "common/log.h"

namespace shelfwatch::models {
namespace {

namespace fs = std::filesystem;

// A version directory name: a positive decimal integer without sign or leading zeros issues.
bool ParseVersionDir(const std::string& name, int64_t* version) {
  if (name.empty() || name.size() > 18) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  *version = std::stoll(name);
  return *version > 0;
}

// Names, sizes and modification times of a version's files: a failed version is retried when
// this changes (someone fixed or finished copying it).
std::string Signature(const fs::path& dir) {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code ec2;
    const auto size = e.is_regular_file(ec2) ? e.file_size(ec2) : 0;
    const auto mtime = e.last_write_time(ec2).time_since_epoch().count();
    parts.push_back(e.path().filename().string() + ":" + std::to_string(size) + ":" + std::to_string(mtime));
  }
  std::sort(parts.begin(), parts.end());
  std::string s;
  for (const auto& p : parts) s += p + ";";
  return s;
}

std::map<int64_t, std::string> VersionsOnDisk(const fs::path& model_dir) {
  std::map<int64_t, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(model_dir, ec)) {
    int64_t v = 0;
    std::error_code ec2;
    if (e.is_directory(ec2) && ParseVersionDir(e.path().filename().string(), &v)) {
      out[v] = Signature(e.path());
    }
  }
  return out;
}

}  // namespace

std::string_view VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kLoading:
      return "loading";
    case VersionState::kReady:
      return "ready";
    case VersionState::kFailed:
      return "failed";
    case VersionState::kUnloaded:
      return "unloaded";
  }
  return "unknown";
}

ModelRepository::ModelRepository(RepositoryOptions options)
    : options_(std::move(options)),
      own_registry_(options_.registry ? nullptr : std::make_unique<monitor::Registry>()),
      registry_(options_.registry ? options_.registry : own_registry_.get()),
      metrics_(*registry_) {}

ModelRepository::~ModelRepository() { Stop(); }

Status ModelRepository::Start() {
  std::error_code ec;
  if (!fs::is_directory(options_.root, ec)) {
    return NotFound("model repository " + options_.root + " is not a directory");
  }
  SW_RETURN_IF_ERROR(Poll());
  started_.store(true, std::memory_order_release);
  if (options_.poll_interval_s > 0 && !poller_.joinable()) {
    poller_ = std::thread([this] { PollLoop(); });
  }
  return Status::Ok();
}

void ModelRepository::Stop() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stop_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void ModelRepository::PollLoop() {
  const auto interval = std::chrono::duration<double>(options_.poll_interval_s);
  std::unique_lock<std::mutex> lock(poll_mu_);
  while (!poll_cv_.wait_for(lock, interval, [&] { return stop_; })) {
    lock.unlock();
    if (Status s = Poll(); !s.ok()) log::Warn("model repository poll failed", {{"error", s.ToString()}});
    lock.lock();
  }
}

Status ModelRepository::Poll() {
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::error_code ec;
  std::set<std::string> on_disk;
  for (const auto& e : fs::directory_iterator(options_.root, ec)) {
    std::error_code ec2;
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec2) || name.empty() || name[0] == '.') continue;
    on_disk.insert(name);
  }
  if (ec) return IoError("cannot list model repository " + options_.root + ": " + ec.message());
  for (const std::string& name : on_disk) {
    bool skip = false;
    {
      std::shared_lock lock(mu_);
      auto it = models_.find(name);
      skip = it != models_.end() && it->second.administratively_unloaded;
    }
    if (!skip) (void)ApplyPolicy(name, /*retry_failed=*/false);
  }
  // Models removed from disk: unload what they serve and forget them.
  std::vector<std::string> gone;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, entry] : models_) {
      if (!on_disk.count(name)) gone.push_back(name);
    }
  }
  for (const std::string& name : gone) {
    std::vector<int64_t> versions;
    {
      std::shared_lock lock(mu_);
      for (const auto& [v, e] : models_.at(name).versions) versions.push_back(v);
    }
    for (int64_t v : versions) UnloadVersion(name, v);
    std::unique_lock lock(mu_);
    models_.erase(name);
    log::Info("model removed from the repository", {{"model", name}});
  }
  return Status::Ok();
}

Status ModelRepository::Load(const std::string& name) {
  std::lock_guard<std::mutex> apply(apply_mu_);
  {
    std::unique_lock lock(mu_);
    auto it = models_.find(name);
    if (it != models_.end()) it->second.administratively_unloaded = false;
  }
  return ApplyPolicy(name, /*retry_failed=*/true);
}

Status ModelRepository::Unload(const std::string& name) {
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::vector<int64_t> versions;
  {
    std::unique_lock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return NotFound("model '" + name + "' is not in the repository");
    it->second.administratively_unloaded = true;
    for (const auto& [v, e] : it->second.versions) {
      if (e.state == VersionState::kReady) versions.push_back(v);
    }
  }
  for (int64_t v : versions) UnloadVersion(name, v);
  log::Info("model unloaded", {{"model", name}});
  return Status::Ok();
}

void ModelRepository::SetState(const std::string& name, int64_t version, VersionState state,
                               std::string reason, std::string signature,
                               std::shared_ptr<const ModelVersion> live) {
  std::unique_lock lock(mu_);
  VersionEntry& e = models_[name].versions[version];
  e.state = state;
  e.reason = std::move(reason);
  e.signature = std::move(signature);
  e.live = std::move(live);
}

void ModelRepository::UnloadVersion(const std::string& name, int64_t version) {
  std::shared_ptr<const ModelVersion> released;
  {
    std::unique_lock lock(mu_);
    auto m = models_.find(name);
    if (m == models_.end()) return;
    auto v = m->second.versions.find(version);
    if (v == m->second.versions.end() || v->second.state != VersionState::kReady) return;
    released = std::move(v->second.live);
    v->second.state = VersionState::kUnloaded;
    v->second.reason.clear();
  }
  if (released) released->SetServing(false);
  log::Info("model version unloaded", {{"model", name}, {"version", std::to_string(version)}});
  // `released` drops here, outside the lock: the version is freed now, or when the last
  // in-flight request holding it ends.
}

Status ModelRepository::ApplyPolicy(const std::string& name, bool retry_failed) {
  const fs::path dir = fs::path(options_.root) / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("model '" + name + "' is not in " + options_.root);
  Result<VersionPolicy> policy = LoadVersionPolicy((dir / "config.yaml").string());
  if (!policy.ok()) {
    log::Warn("model version policy refused", {{"model", name}, {"error", policy.status().message()}});
    metrics_.load_failures.WithLabels({name, "bad_config"}).Inc();
    return policy.status();
  }
  const std::map<int64_t, std::string> on_disk = VersionsOnDisk(dir);
  {
    std::unique_lock lock(mu_);
    ModelEntry& entry = models_[name];
    // Forget versions that are gone and not serving.
    for (auto it = entry.versions.begin(); it != entry.versions.end();) {
      if (!on_disk.count(it->first) && it->second.state != VersionState::kReady) {
        it = entry.versions.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::set<int64_t> failed_now;
  std::vector<int64_t> desired;
  while (true) {
    std::vector<int64_t> candidates;
    {
      std::shared_lock lock(mu_);
      const ModelEntry& entry = models_.at(name);
      for (const auto& [v, sig] : on_disk) {
        if (failed_now.count(v)) continue;
        auto e = entry.versions.find(v);
        const bool known_bad = e != entry.versions.end() && e->second.state == VersionState::kFailed &&
                               e->second.signature == sig && !retry_failed;
        if (!known_bad) candidates.push_back(v);
      }
    }
    desired = policy->Select(candidates);
    bool failed = false;
    for (auto it = desired.rbegin(); it != desired.rend(); ++it) {
      const int64_t v = *it;
      {
        std::shared_lock lock(mu_);
        const ModelEntry& entry = models_.at(name);
        auto e = entry.versions.find(v);
        if (e != entry.versions.end() && e->second.state == VersionState::kReady) continue;
      }
      const std::string sig = on_disk.at(v);
      SetState(name, v, VersionState::kLoading, "", "", nullptr);
      const int64_t start = MonotonicNanos();
      std::string reason;
      Result<std::shared_ptr<ModelVersion>> loaded =
          ModelVersion::Load(name, v, (dir / std::to_string(v)).string(), metrics_, &reason);
      if (loaded.ok() && options_.validate) {
        // The caller's own checks (e.g. a ranker's feature set), before the version serves.
        if (Status st = options_.validate(**loaded); !st.ok()) {
          reason = std::string(LoadFailureReason(st));
          loaded = st;
        }
      }
      if (loaded.ok()) {
        (*loaded)->SetServing(true);
        SetState(name, v, VersionState::kReady, "", sig, *loaded);
        log::Info("model version ready",
                  {{"model", name},
                   {"version", std::to_string(v)},
                   {"kind", std::string(ModelKindName((*loaded)->config().kind))},
                   {"load_ms", std::to_string((MonotonicNanos() - start) / 1000000)}});
      } else {
        metrics_.load_failures.WithLabels({name, reason}).Inc();
        log::Warn("model version refused", {{"model", name},
                                            {"version", std::to_string(v)},
                                            {"reason", reason},
                                            {"error", loaded.status().message()}});
        SetState(name, v, VersionState::kFailed, reason + ": " + loaded.status().message(), sig, nullptr);
        failed_now.insert(v);
        failed = true;
      }
    }
    if (!failed) break;  // else re-select without the versions that just failed
  }

  // Only now that the new versions serve, unload what the policy no longer selects.
  std::vector<int64_t> to_unload;
  {
    std::shared_lock lock(mu_);
    for (const auto& [v, e] : models_.at(name).versions) {
      if (e.state == VersionState::kReady && std::find(desired.begin(), desired.end(), v) == desired.end()) {
        to_unload.push_back(v);
      }
    }
  }
  for (int64_t v : to_unload) UnloadVersion(name, v);

  std::shared_lock lock(mu_);
  std::string reasons;
  for (const auto& [v, e] : models_.at(name).versions) {
    if (e.state == VersionState::kReady) return Status::Ok();
    if (e.state == VersionState::kFailed) reasons += (reasons.empty() ? "" : "; ") + ("version " + std::to_string(v) + ": " + e.reason);
  }
  return FailedPrecondition("model '" + name + "' has no ready version" + (reasons.empty() ? "" : ": " + reasons));
}

Result<std::shared_ptr<const ModelVersion>> ModelRepository::Get(std::string_view name, int64_t version) const {
  std::shared_lock lock(mu_);
  auto m = models_.find(name);
  if (m == models_.end()) return NotFound("model '" + std::string(name) + "' is not in the repository");
  const auto& versions = m->second.versions;
  if (version == 0) {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (it->second.state == VersionState::kReady) return it->second.live;
    }
    return Unavailable("model '" + std::string(name) + "' has no ready version");
  }
  auto v = versions.find(version);
  if (v == versions.end()) {
    return NotFound("model '" + std::string(name) + "' has no version " + std::to_string(version));
  }
  if (v->second.state != VersionState::kReady) {
    return Unavailable("version " + std::to_string(version) + " of model '" + std::string(name) + "' is " +
                       std::string(VersionStateName(v->second.state)) +
                       (v->second.reason.empty() ? "" : " (" + v->second.reason + ")"));
  }
  return v->second.live;
}

std::vector<ModelStatus> ModelRepository::List() const {
  std::shared_lock lock(mu_);
  std::vector<ModelStatus> out;
  for (const auto& [name, entry] : models_) {
    ModelStatus m;
    m.name = name;
    for (const auto& [v, e] : entry.versions) m.versions.push_back({v, e.state, e.reason});
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace shelfwatch::models
