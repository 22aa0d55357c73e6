// Recommenders: the recommendation services of a server, one per catalog that answers
// GET /v1/catalogs/{catalog}/recommend. Declared from flags before the server starts, opened
// (loaded from a model repository, or trained from an events file) in the background.
// A recommender served from a model repository (models=DIR) picks up new versions that
// `shelfwatch train recommender` writes there: StartPolling checks every interval and swaps
// them in without a failed request (RecommendService::Reload); a version that fails to load
// is logged and counted, and the old models keep serving.
// Thread-safety: Declare before any other call and before threads share the object; then
// Open (one thread), StartPolling/StopPolling (the owner) and Get/Ready/Poll (any thread) may
// run concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "monitor/metrics.h"
#include "recommend/recommend_service.h"

namespace shelfwatch::server {

// "CATALOG=EVENTS.csv[,models=DIR][,tune=false]" as given to --recommender (tune: fit the blend
// weights on a validation split when training at start; off starts faster).
struct RecommenderSpec {
  std::string catalog;
  recommend::ServiceOptions options;
};
Result<RecommenderSpec> ParseRecommenderSpec(std::string_view text);

class Recommenders {
 public:
  void Declare(RecommenderSpec spec);
  // Opens every declared recommender; returns the first error (the others still open).
  Status OpenAll();
  // The ready service of `catalog`, or null (not declared, still opening, or failed).
  recommend::RecommendService* Get(std::string_view catalog) const;
  bool Declared(std::string_view catalog) const;
  bool AllReady() const;
  std::vector<std::string> Catalogs() const;

  // Checks every ready recommender with a model repository for new versions now; returns how
  // many swapped. Counted in shelfwatch_recommender_reloads_total{catalog,outcome} (swapped,
  // failed) when polling was started with a registry.
  size_t Poll();
  // Polls every `interval_s` seconds (0: never) on a thread of its own until StopPolling.
  // `registry` (may be null) must outlive this object.
  void StartPolling(double interval_s, monitor::Registry* registry);
  void StopPolling();
  ~Recommenders();

 private:
  struct Entry {
    RecommenderSpec spec;
    std::unique_ptr<recommend::RecommendService> service;
    std::atomic<recommend::RecommendService*> ready{nullptr};
  };
  std::vector<std::unique_ptr<Entry>> entries_;
  std::mutex poll_mu_;  // one Poll at a time (Reload calls must not overlap)
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread poller_;
  monitor::Family<monitor::Counter>* reloads_ = nullptr;
};

}  // namespace shelfwatch::server
