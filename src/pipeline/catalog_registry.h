// CatalogRegistry: the named catalogs a server hosts, each with its search index.
//
// A catalog is declared by a CatalogSpec ("homedepot=path/products.csv,id=product_id") and
// moves loading -> ready (or failed). Readers take an immutable CatalogSnapshot (catalog +
// index + load report) by shared_ptr, so a future reload can swap snapshots while requests in
// flight finish on the one they started with.
// Thread-safety: Declare() before serving; Load()/LoadAll() from one loader thread; Get(),
// List() and AllReady() are lock-free reads safe from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "retrieval/index.h"

namespace shelfwatch::monitor {
class Registry;
}

namespace shelfwatch::pipeline {

struct CatalogSpec {
  std::string name;
  std::string path;
  catalog::LoadOptions load;
  retrieval::IndexOptions index;
  // The search pipeline's models in the model repository; empty: "<name>-embedding" and
  // "<name>-ranker" (used when the repository has them); "none": no such stage.
  std::string embedding_model;
  std::string ranker_model;
};

// Parses "NAME=PATH[,key=value...]". Keys: format=csv|jsonl, delimiter=<char>|tab,
// id|title|description|brand|category|price|rating=<column>, fields=title:1,brand:0.5 (indexed
// fields and weights), k1=<float>, b=<float>, strict=true|false, embedding=<model>|none,
// ranker=<model>|none (the search pipeline's models; default <NAME>-embedding, <NAME>-ranker).
// NAME: [a-z0-9_-]{1,64}, used in URLs and metric labels.
Result<CatalogSpec> ParseCatalogSpec(std::string_view text);
bool IsValidCatalogName(std::string_view name);

struct CatalogSnapshot {
  std::string name;
  std::shared_ptr<const catalog::Catalog> catalog;
  std::shared_ptr<const retrieval::InvertedIndex> index;
  catalog::LoadReport report;
  double load_seconds = 0;   // file parse
  double index_seconds = 0;  // index build
  int64_t loaded_at_ms = 0;  // Unix ms
  std::string model_versions;  // the models behind its responses, e.g. "bm25(k1=1.2,b=0.75)"
  std::string embedding_model;  // repository model names of the pipeline's stages; empty: none
  std::string ranker_model;
};

enum class CatalogState { kLoading, kReady, kFailed };
std::string_view CatalogStateName(CatalogState state);

struct CatalogInfo {
  std::string name;
  std::string path;
  CatalogState state = CatalogState::kLoading;
  std::string error;  // when failed
  std::shared_ptr<const CatalogSnapshot> snapshot;  // when ready
};

class CatalogRegistry {
 public:
  // `metrics` may be null; otherwise catalog gauges and load counters are registered there.
  explicit CatalogRegistry(monitor::Registry* metrics = nullptr);
  ~CatalogRegistry();

  // Declares a catalog (state loading). Fails with kConflict on a duplicate name.
  Status Declare(CatalogSpec spec);
  // Loads and indexes one declared catalog; on failure the catalog becomes failed and the
  // Status says why (file:line for strict-mode row errors).
  Status Load(std::string_view name);
  // Loads every declared catalog in order; returns the first failure (all are attempted).
  Status LoadAll();

  // The ready snapshot, or kNotFound (unknown name) / kUnavailable (loading or failed).
  Result<std::shared_ptr<const CatalogSnapshot>> Get(std::string_view name) const;
  std::vector<CatalogInfo> List() const;
  bool AllReady() const;
  size_t size() const { return slots_.size(); }

 private:
  struct Slot;
  Slot* Find(std::string_view name) const;
  void Publish(Slot& slot, const std::shared_ptr<const CatalogSnapshot>& snap);

  monitor::Registry* metrics_;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace shelfwatch::pipeline
