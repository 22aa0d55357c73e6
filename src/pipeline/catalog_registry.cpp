#include "pipeline/catalog_registry.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/metrics.h"

namespace shelfwatch::pipeline {

std::string_view CatalogStateName(CatalogState state) {
  switch (state) {
    case CatalogState::kLoading: return "loading";
    case CatalogState::kReady: return "ready";
    case CatalogState::kFailed: return "failed";
  }
  return "unknown";
}

bool IsValidCatalogName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

Result<float> ParsePositiveFloat(std::string_view key, std::string_view v) {
  std::string s(v);
  char* end = nullptr;
  float f = std::strtof(s.c_str(), &end);
  if (s.empty() || *end != 0 || !(f >= 0)) {
    return InvalidArgument("catalog option " + std::string(key) + "=" + s + " is not a non-negative number");
  }
  return f;
}

Result<bool> ParseBool(std::string_view key, std::string_view v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return InvalidArgument("catalog option " + std::string(key) + " must be true or false");
}

}  // namespace

Result<CatalogSpec> ParseCatalogSpec(std::string_view text) {
  CatalogSpec spec;
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgument("catalog must be NAME=PATH[,key=value...] (got '" + std::string(text) + "')");
  }
  spec.name = std::string(text.substr(0, eq));
  if (!IsValidCatalogName(spec.name)) {
    return InvalidArgument("catalog name '" + spec.name +
                           "' must be 1-64 characters of a-z, 0-9, '_' or '-'");
  }
  std::string_view rest = text.substr(eq + 1);
  size_t comma = rest.find(',');
  spec.path = std::string(rest.substr(0, comma));
  if (spec.path.empty()) return InvalidArgument("catalog '" + spec.name + "' has no path");
  std::string_view opts = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  bool fields_set = false;
  while (!opts.empty()) {
    // "fields=title:1,brand:0.5" contains commas: a key=value runs until the next ",key=".
    size_t next = std::string_view::npos;
    for (size_t i = opts.find(','); i != std::string_view::npos; i = opts.find(',', i + 1)) {
      std::string_view after = opts.substr(i + 1);
      size_t e = after.find('=');
      size_t c = after.find(',');
      if (e != std::string_view::npos && (c == std::string_view::npos || e < c)) {
        next = i;
        break;
      }
    }
    std::string_view kv = opts.substr(0, next);
    opts = next == std::string_view::npos ? std::string_view() : opts.substr(next + 1);
    size_t e = kv.find('=');
    if (e == std::string_view::npos) {
      return InvalidArgument("catalog option '" + std::string(kv) + "' must be key=value");
    }
    std::string_view key = kv.substr(0, e);
    std::string value(kv.substr(e + 1));
    auto& m = spec.load.mapping;
    if (key == "format") {
      if (value == "csv") {
        spec.load.format = catalog::Format::kCsv;
      } else if (value == "jsonl" || value == "ndjson") {
        spec.load.format = catalog::Format::kJsonl;
      } else if (value == "events") {
        spec.load.format = catalog::Format::kEvents;
      } else {
        return InvalidArgument("catalog format must be csv, jsonl or events (got '" + value + "')");
      }
    } else if (key == "delimiter") {
      if (value == "tab" || value == "\\t") {
        spec.load.csv_delimiter = '\t';
      } else if (value.size() == 1) {
        spec.load.csv_delimiter = value[0];
      } else {
        return InvalidArgument("catalog delimiter must be one character or 'tab'");
      }
    } else if (key == "id") {
      m.id = value;
    } else if (key == "title") {
      m.title = value;
    } else if (key == "description") {
      m.description = value;
    } else if (key == "brand") {
      m.brand = value;
    } else if (key == "category") {
      m.category = value;
    } else if (key == "price") {
      m.price = value;
    } else if (key == "rating") {
      m.rating = value;
    } else if (key == "strict") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      spec.load.strict = *b;
    } else if (key == "k1") {
      auto f = ParsePositiveFloat(key, value);
      if (!f.ok()) return f.status();
      spec.index.bm25.k1 = *f;
    } else if (key == "b") {
      auto f = ParsePositiveFloat(key, value);
      if (!f.ok()) return f.status();
      if (*f > 1) return InvalidArgument("catalog option b must be between 0 and 1");
      spec.index.bm25.b = *f;
    } else if (key == "embedding" || key == "ranker") {
      // Model repository names (models/<name>/<version>/); "none" turns the stage off.
      bool valid = !value.empty() && value.size() <= 128;
      for (char c : value) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
      if (!valid) return InvalidArgument("catalog option " + std::string(key) + " must be a model name ([A-Za-z0-9._-]) or none");
      (key == "embedding" ? spec.embedding_model : spec.ranker_model) = value;
    } else if (key == "fields") {
      spec.index.fields.clear();
      fields_set = true;
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t c = value.find(',', pos);
        if (c == std::string::npos) c = value.size();
        std::string item = value.substr(pos, c - pos);
        pos = c + 1;
        if (item.empty()) continue;
        retrieval::FieldSpec f;
        size_t colon = item.find(':');
        f.name = item.substr(0, colon);
        if (colon != std::string::npos) {
          auto w = ParsePositiveFloat("fields", item.substr(colon + 1));
          if (!w.ok()) return w.status();
          f.weight = *w;
        }
        static const char* kFields[] = {"title", "description", "brand", "category", "attributes"};
        bool known = false;
        for (const char* k : kFields) known |= f.name == k;
        if (!known) {
          return InvalidArgument("unknown indexed field '" + f.name +
                                 "' (title, description, brand, category, attributes)");
        }
        spec.index.fields.push_back(f);
      }
      if (spec.index.fields.empty()) return InvalidArgument("catalog option fields is empty");
    } else {
      return InvalidArgument("unknown catalog option '" + std::string(key) + "'");
    }
  }
  (void)fields_set;
  return spec;
}

struct CatalogRegistry::Slot {
  CatalogSpec spec;
  std::atomic<int> state{static_cast<int>(CatalogState::kLoading)};
  std::atomic<uint64_t> generation{0};
  mutable std::mutex mu;  // guards snapshot and error
  std::shared_ptr<const CatalogSnapshot> snapshot;
  std::string error;
};

CatalogRegistry::CatalogRegistry(monitor::Registry* metrics) : metrics_(metrics) {}
CatalogRegistry::~CatalogRegistry() = default;

Status CatalogRegistry::Declare(CatalogSpec spec) {
  if (Find(spec.name)) return Status(ErrorCode::kConflict, "catalog '" + spec.name + "' declared twice");
  auto slot = std::make_unique<Slot>();
  slot->spec = std::move(spec);
  if (metrics_) {
    metrics_->AddGauge("shelfwatch_catalog_ready", "1 when the catalog is loaded and indexed, else 0.",
                       {"catalog"})
        .WithLabels({slot->spec.name})
        .Set(0);
  }
  slots_.push_back(std::move(slot));
  return Status::Ok();
}

CatalogRegistry::Slot* CatalogRegistry::Find(std::string_view name) const {
  for (const auto& s : slots_) {
    if (s->spec.name == name) return s.get();
  }
  return nullptr;
}

void CatalogRegistry::Publish(Slot& slot, const std::shared_ptr<const CatalogSnapshot>& snap) {
  {
    std::lock_guard<std::mutex> lock(slot.mu);
    slot.snapshot = snap;
    slot.error.clear();
  }
  slot.generation.fetch_add(1, std::memory_order_release);
  slot.state.store(static_cast<int>(CatalogState::kReady), std::memory_order_release);
}

Status CatalogRegistry::Load(std::string_view name) {
  Slot* slot = Find(name);
  if (!slot) return NotFound("unknown catalog '" + std::string(name) + "'");
  const CatalogSpec& spec = slot->spec;
  auto fail = [&](const Status& st) {
    {
      std::lock_guard<std::mutex> lock(slot->mu);
      slot->error = st.message();
    }
    // A catalog that already serves keeps serving its old snapshot.
    if (slot->state.load() != static_cast<int>(CatalogState::kReady)) {
      slot->state.store(static_cast<int>(CatalogState::kFailed), std::memory_order_release);
    }
    log::Error("catalog load failed", {{"catalog", spec.name}, {"path", spec.path}, {"error", st.message()}});
    return st;
  };

  log::Info("loading catalog", {{"catalog", spec.name}, {"path", spec.path}});
  auto snap = std::make_shared<CatalogSnapshot>();
  snap->name = spec.name;
  int64_t t0 = MonotonicNanos();
  auto loaded = catalog::LoadCatalog(spec.name, spec.path, spec.load, &snap->report);
  if (!loaded.ok()) return fail(loaded.status());
  snap->catalog = std::make_shared<const catalog::Catalog>(std::move(loaded).value());
  int64_t t1 = MonotonicNanos();
  auto index = retrieval::InvertedIndex::Build(*snap->catalog, spec.index);
  if (!index.ok()) return fail(index.status());
  snap->index = *index;
  int64_t t2 = MonotonicNanos();
  snap->load_seconds = static_cast<double>(t1 - t0) / 1e9;
  snap->index_seconds = static_cast<double>(t2 - t1) / 1e9;
  snap->loaded_at_ms = UnixMillis();
  {
    // What produced a response, as the served-request log and training exports record it.
    char buf[64];
    std::snprintf(buf, sizeof buf, "bm25(k1=%g,b=%g)", spec.index.bm25.k1, spec.index.bm25.b);
    snap->model_versions = buf;
  }
  snap->embedding_model = spec.embedding_model.empty() ? spec.name + "-embedding" : spec.embedding_model;
  snap->ranker_model = spec.ranker_model.empty() ? spec.name + "-ranker" : spec.ranker_model;
  if (snap->embedding_model == "none") snap->embedding_model.clear();
  if (snap->ranker_model == "none") snap->ranker_model.clear();

  for (const auto& e : snap->report.errors) {
    log::Warn("catalog row rejected", {{"catalog", spec.name}, {"error", e.ToString()}});
  }
  if (snap->report.rows_rejected > snap->report.errors.size()) {
    log::Warn("more catalog rows rejected",
              {{"catalog", spec.name},
               {"not_shown", std::to_string(snap->report.rows_rejected - snap->report.errors.size())}});
  }
  const auto& st = snap->index->stats();
  if (metrics_) {
    const std::vector<std::string> l{spec.name};
    metrics_->AddGauge("shelfwatch_catalog_products", "Products in the catalog's serving snapshot.", {"catalog"})
        .WithLabels(l)
        .Set(static_cast<double>(snap->catalog->size()));
    metrics_->AddGauge("shelfwatch_catalog_index_bytes", "Memory held by the catalog's search index.", {"catalog"})
        .WithLabels(l)
        .Set(static_cast<double>(st.memory_bytes));
    metrics_->AddGauge("shelfwatch_catalog_index_terms", "Distinct posting lists in the catalog's index.", {"catalog"})
        .WithLabels(l)
        .Set(static_cast<double>(st.terms));
    metrics_->AddGauge("shelfwatch_catalog_load_duration_seconds",
                       "Time the last successful load took (parse and index build).", {"catalog"})
        .WithLabels(l)
        .Set(snap->load_seconds + snap->index_seconds);
    metrics_->AddGauge("shelfwatch_catalog_last_load_timestamp_seconds",
                       "Unix time of the last successful load.", {"catalog"})
        .WithLabels(l)
        .Set(static_cast<double>(snap->loaded_at_ms) / 1000.0);
    auto& rejected = metrics_->AddCounter("shelfwatch_catalog_rows_rejected_total",
                                          "Catalog rows skipped at load, by reason.", {"catalog", "reason"});
    for (const auto& [reason, n] : snap->report.rejected_by_reason) rejected.WithLabels({spec.name, reason}).Inc(n);
    metrics_->AddGauge("shelfwatch_catalog_ready", "1 when the catalog is loaded and indexed, else 0.", {"catalog"})
        .WithLabels(l)
        .Set(1);
  }
  log::Info("catalog ready",
            {{"catalog", spec.name},
             {"products", std::to_string(snap->catalog->size())},
             {"rejected", std::to_string(snap->report.rows_rejected)},
             {"terms", std::to_string(st.terms)},
             {"postings", std::to_string(st.postings)},
             {"index_bytes", std::to_string(st.memory_bytes)},
             {"load_s", std::to_string(snap->load_seconds)},
             {"index_s", std::to_string(snap->index_seconds)}});
  Publish(*slot, snap);
  return Status::Ok();
}

Status CatalogRegistry::LoadAll() {
  Status first;
  for (const auto& s : slots_) {
    Status st = Load(s->spec.name);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Result<std::shared_ptr<const CatalogSnapshot>> CatalogRegistry::Get(std::string_view name) const {
  // Per-thread cache of the last snapshot seen per slot: the fast path is one atomic load.
  struct Cached {
    const Slot* slot;
    uint64_t generation;
    std::shared_ptr<const CatalogSnapshot> snap;
  };
  thread_local std::vector<Cached> cache;
  Slot* slot = Find(name);
  if (!slot) return NotFound("unknown catalog '" + std::string(name) + "'");
  auto state = static_cast<CatalogState>(slot->state.load(std::memory_order_acquire));
  if (state != CatalogState::kReady) {
    if (state == CatalogState::kLoading) return Unavailable("catalog '" + slot->spec.name + "' is still loading");
    std::lock_guard<std::mutex> lock(slot->mu);
    return Unavailable("catalog '" + slot->spec.name + "' failed to load: " + slot->error);
  }
  uint64_t gen = slot->generation.load(std::memory_order_acquire);
  for (auto& c : cache) {
    if (c.slot != slot) continue;
    if (c.generation != gen) {
      std::lock_guard<std::mutex> lock(slot->mu);
      c.snap = slot->snapshot;
      c.generation = gen;
    }
    return c.snap;
  }
  std::lock_guard<std::mutex> lock(slot->mu);
  cache.push_back(Cached{slot, gen, slot->snapshot});
  return cache.back().snap;
}

std::vector<CatalogInfo> CatalogRegistry::List() const {
  std::vector<CatalogInfo> out;
  for (const auto& s : slots_) {
    CatalogInfo info;
    info.name = s->spec.name;
    info.path = s->spec.path;
    info.state = static_cast<CatalogState>(s->state.load(std::memory_order_acquire));
    std::lock_guard<std::mutex> lock(s->mu);
    info.error = s->error;
    info.snapshot = s->snapshot;
    out.push_back(std::move(info));
  }
  return out;
}

bool CatalogRegistry::AllReady() const {
  for (const auto& s : slots_) {
    if (s->state.load(std::memory_order_acquire) != static_cast<int>(CatalogState::kReady)) return false;
  }
  return true;
}

}  // namespace shelfwatch::pipeline
