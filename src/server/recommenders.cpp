#include "server/recommenders.h"

#include "common/clock.h"
#include "common/log.h"

namespace shelfwatch::server {

Result<RecommenderSpec> ParseRecommenderSpec(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return InvalidArgument("--recommender wants CATALOG=EVENTS.csv[,models=DIR][,tune=false], got '" + std::string(text) + "'");
  }
  RecommenderSpec spec;
  spec.catalog = std::string(text.substr(0, eq));
  std::string_view rest = text.substr(eq + 1);
  size_t comma = rest.find(',');
  spec.options.events_path = std::string(rest.substr(0, comma));
  while (comma != std::string_view::npos) {
    rest = rest.substr(comma + 1);
    comma = rest.find(',');
    std::string_view opt = rest.substr(0, comma);
    if (opt.substr(0, 7) == "models=") {
      spec.options.model_dir = std::string(opt.substr(7));
    } else if (opt == "tune=false" || opt == "tune=true") {
      spec.options.tune_blend = opt == "tune=true";
    } else {
      return InvalidArgument("--recommender: unknown option '" + std::string(opt) + "' (known: models, tune)");
    }
  }
  return spec;
}

void Recommenders::Declare(RecommenderSpec spec) {
  auto e = std::make_unique<Entry>();
  e->spec = std::move(spec);
  entries_.push_back(std::move(e));
}

Status Recommenders::OpenAll() {
  Status first = Status::Ok();
  for (auto& e : entries_) {
    int64_t t0 = MonotonicNanos();
    auto opened = recommend::RecommendService::Open(e->spec.options);
    if (!opened.ok()) {
      log::Error("recommender not available", {{"catalog", e->spec.catalog}, {"error", opened.status().message()}});
      if (first.ok()) first = opened.status();
      continue;
    }
    e->service = std::move(opened).value();
    e->ready.store(e->service.get(), std::memory_order_release);
    log::Info("recommender ready", {{"catalog", e->spec.catalog},
                                    {"models", e->service->model_versions()},
                                    {"items", std::to_string(e->service->item_count())},
                                    {"seconds", std::to_string(static_cast<double>(MonotonicNanos() - t0) / 1e9)}});
  }
  return first;
}

recommend::RecommendService* Recommenders::Get(std::string_view catalog) const {
  for (const auto& e : entries_) {
    if (e->spec.catalog == catalog) return e->ready.load(std::memory_order_acquire);
  }
  return nullptr;
}

bool Recommenders::Declared(std::string_view catalog) const {
  for (const auto& e : entries_) {
    if (e->spec.catalog == catalog) return true;
  }
  return false;
}

bool Recommenders::AllReady() const {
  for (const auto& e : entries_) {
    if (!e->ready.load(std::memory_order_acquire)) return false;
  }
  return true;
}

Recommenders::~Recommenders() { StopPolling(); }

size_t Recommenders::Poll() {
  std::lock_guard<std::mutex> lock(poll_mu_);
  size_t swapped = 0;
  for (const auto& e : entries_) {
    recommend::RecommendService* service = e->ready.load(std::memory_order_acquire);
    if (!service || e->spec.options.model_dir.empty()) continue;
    const int64_t t0 = MonotonicNanos();
    auto reloaded = service->Reload();
    if (!reloaded.ok()) {
      // Typically a version still being written: the next poll tries again.
      log::Warn("recommender models not reloaded; the serving ones stay",
                {{"catalog", e->spec.catalog}, {"error", reloaded.status().message()}});
      if (reloads_) reloads_->WithLabels({e->spec.catalog, "failed"}).Inc();
      continue;
    }
    if (!*reloaded) continue;
    ++swapped;
    if (reloads_) reloads_->WithLabels({e->spec.catalog, "swapped"}).Inc();
    log::Info("recommender models swapped", {{"catalog", e->spec.catalog},
                                              {"models", service->model_versions()},
                                              {"seconds", std::to_string(static_cast<double>(MonotonicNanos() - t0) / 1e9)}});
  }
  return swapped;
}

void Recommenders::StartPolling(double interval_s, monitor::Registry* registry) {
  if (registry) {
    reloads_ = &registry->AddCounter("shelfwatch_recommender_reloads_total",
                                     "New recommender model versions picked up from the repository, by outcome "
                                     "(swapped, failed: the serving ones stay).",
                                     {"catalog", "outcome"});
  }
  std::lock_guard<std::mutex> guard(stop_mu_);  // against a StopPolling at the same time
  if (stopping_ || !(interval_s > 0) || poller_.joinable()) return;
  poller_ = std::thread([this, interval_s] {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::duration<double>(interval_s), [this] { return stopping_; })) {
      lock.unlock();
      Poll();
      lock.lock();
    }
  });
}

void Recommenders::StopPolling() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::vector<std::string> Recommenders::Catalogs() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e->spec.catalog);
  return out;
}

}  // namespace shelfwatch::server
