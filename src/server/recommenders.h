// Recommenders: the recommendation services of a server, one per catalog that answers
// GET /v1/catalogs/{catalog}/recommend. Declared from flags before the server starts, opened
// (loaded from a model repository, or trained from an events file) in the background.
// Thread-safety: Declare before any other call and before threads share the object; then
// Open (one thread) and Get/Ready (any thread) may run concurrently.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
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

 private:
  struct Entry {
    RecommenderSpec spec;
    std::unique_ptr<recommend::RecommendService> service;
    std::atomic<recommend::RecommendService*> ready{nullptr};
  };
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace shelfwatch::server
