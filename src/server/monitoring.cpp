#include "server/monitoring.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>

#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "pipeline/lexical_search.h"
#include "ranking/features.h"
#include "ranking/model_drift.h"

namespace shelfwatch::server {

namespace drift = monitor::drift;

namespace {

// Features of the per-search monitor, in row order. The category feature is added only for
// catalogs whose products carry categories (a feature that is always missing would only
// inflate the data-quality counters).
enum SearchFeature { kQueryChars, kQueryTerms, kTotalHits, kResults, kTopScore, kLastScore, kTopCategory };

std::vector<drift::FeatureSpec> WithThresholds(std::vector<drift::FeatureSpec> features,
                                               const drift::DriftThresholds& t) {
  for (auto& f : features) f.thresholds = t;
  return features;
}

std::vector<drift::FeatureSpec> SearchFeatures(bool with_category) {
  std::vector<drift::FeatureSpec> f = {
      drift::FeatureSpec::Numeric("query_chars"), drift::FeatureSpec::Numeric("query_terms"),
      drift::FeatureSpec::Numeric("total_hits"),  drift::FeatureSpec::Numeric("results"),
      drift::FeatureSpec::Numeric("top_score"),   drift::FeatureSpec::Numeric("last_score"),
  };
  if (with_category) f.push_back(drift::FeatureSpec::Categorical("top_category"));
  return f;
}

// Fills `row` for one search; returns the number of values used.
size_t SearchRow(size_t query_chars, size_t terms, uint64_t total_hits, std::span<const float> scores,
                 std::string_view top_category, bool with_category, drift::FeatureValue* row) {
  row[kQueryChars] = drift::FeatureValue::Number(static_cast<double>(query_chars));
  row[kQueryTerms] = drift::FeatureValue::Number(static_cast<double>(terms));
  row[kTotalHits] = drift::FeatureValue::Number(static_cast<double>(total_hits));
  row[kResults] = drift::FeatureValue::Number(static_cast<double>(scores.size()));
  // No results: the scores are missing (and counted so), not zero.
  row[kTopScore] = scores.empty() ? drift::FeatureValue::Missing() : drift::FeatureValue::Number(scores.front());
  row[kLastScore] = scores.empty() ? drift::FeatureValue::Missing() : drift::FeatureValue::Number(scores.back());
  if (!with_category) return kTopCategory;
  row[kTopCategory] = top_category.empty() ? drift::FeatureValue::Missing() : drift::FeatureValue::Category(top_category);
  return kTopCategory + 1;
}

std::string_view TopCategory(const catalog::Product& p) {
  return p.category_path.empty() ? std::string_view() : std::string_view(p.category_path.back());
}

// A per-thread xorshift64 stream (Marsaglia 2003): sampling decisions share no state.
uint64_t ThreadRandom() {
  thread_local uint64_t x = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(&x);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

bool Sampled(double rate) {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return static_cast<double>(ThreadRandom() >> 11) * 0x1.0p-53 < rate;
}

// Installs the reference kept at `path` (SerializeReference bytes); false when there is no
// such file or it cannot be used (logged: the monitor then gets its reference another way).
bool LoadReferenceFile(drift::DriftMonitor& monitor, const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return false;
  auto bytes = ReadWholeFile(path);
  if (Status st = bytes.ok() ? monitor.LoadReference(*bytes) : bytes.status(); !st.ok()) {
    log::Warn("drift reference not loaded", {{"path", path}, {"error", st.message()}});
    return false;
  }
  log::Info("drift reference loaded", {{"model", monitor.model()}, {"path", path}});
  return true;
}

// Model names contain '/', which a file name cannot.
std::string FileSafe(const std::string& model) {
  std::string out = model;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  return out;
}

}  // namespace

Result<drift::DriftThresholds> ParseDriftThresholds(std::string_view text, drift::DriftThresholds t) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key(item.substr(0, eq));
    double v = eq == std::string_view::npos ? -1 : std::strtod(std::string(item.substr(eq + 1)).c_str(), nullptr);
    if (!(v > 0 && v < 1e6)) return InvalidArgument("--drift-thresholds: '" + std::string(item) + "' needs a positive value");
    if (key == "wasserstein_normed") {
      t.wasserstein_normed = v;
    } else if (key == "jensen_shannon") {
      t.jensen_shannon = v;
    } else if (key == "ks_p_value") {
      t.ks_p_value = v;
    } else if (key == "chi_squared_p_value") {
      t.chi_squared_p_value = v;
    } else if (key == "psi_warn") {
      t.psi_warn = v;
    } else if (key == "psi_alert") {
      t.psi_alert = v;
    } else if (key == "share_drifted_dims") {
      t.share_drifted_dims = v;
    } else {
      return InvalidArgument("--drift-thresholds: unknown key '" + key +
                             "' (known: wasserstein_normed, jensen_shannon, ks_p_value, chi_squared_p_value, "
                             "psi_warn, psi_alert, share_drifted_dims)");
    }
  }
  return t;
}

Result<std::pair<std::string, DriftReferenceQueries>> ParseDriftReferenceSpec(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return InvalidArgument("--drift-reference wants NAME=QUERIES.csv[,split=train|test|all], got '" +
                           std::string(text) + "'");
  }
  std::string name(text.substr(0, eq));
  std::string_view rest = text.substr(eq + 1);
  DriftReferenceQueries ref;
  size_t comma = rest.find(',');
  ref.path = std::string(rest.substr(0, comma));
  while (comma != std::string_view::npos) {
    rest = rest.substr(comma + 1);
    comma = rest.find(',');
    std::string_view opt = rest.substr(0, comma);
    if (opt.substr(0, 6) == "split=") {
      auto split = eval::ParseSplit(opt.substr(6));
      if (!split.ok()) return split.status();
      ref.split = *split;
    } else {
      return InvalidArgument("--drift-reference: unknown option '" + std::string(opt) + "' (known: split)");
    }
  }
  return std::make_pair(std::move(name), std::move(ref));
}

struct Monitoring::ModelMonitor {
  std::string name;  // the repository's model name
  int64_t version = 0;
  std::unique_ptr<drift::DriftMonitor> monitor;
  bool saved = false;  // its reference is on disk (the version's own, or written to the data dir)
};

struct Monitoring::CatalogMonitors {
  std::string name;
  bool with_category = false;
  std::unique_ptr<drift::DriftMonitor> search;
  std::unique_ptr<drift::DriftMonitor> terms;
  std::unique_ptr<drift::DriftMonitor> recommend;  // null unless the catalog recommends
  // Coverage: one bit per catalog doc, set when the doc is first recommended.
  std::unique_ptr<std::atomic<uint64_t>[]> covered;
  size_t docs = 0;
  std::atomic<uint64_t> covered_count{0};
  monitor::Histogram* diversity = nullptr;
  // References written to the data dir (by the evaluator thread, then by Stop after it ended).
  bool search_saved = false;
  bool terms_saved = false;
  bool recommend_saved = false;
  // The reference queries and how they are searched, kept so that the reference can be rebuilt
  // when the serving models change (FollowModelSwaps; the evaluator thread only after setup).
  std::vector<std::string> reference_queries;
  pipeline::CatalogSnapshot snapshot;
  pipeline::SearchPipeline* serving = nullptr;
  std::string reference_versions;  // model_versions of the searches behind the reference

  std::vector<std::pair<drift::DriftMonitor*, bool*>> Monitors() {
    std::vector<std::pair<drift::DriftMonitor*, bool*>> m = {{search.get(), &search_saved}, {terms.get(), &terms_saved}};
    if (recommend) m.emplace_back(recommend.get(), &recommend_saved);
    return m;
  }
};

Monitoring::Monitoring(MonitoringOptions options, monitor::Registry* registry)
    : options_(std::move(options)), registry_(registry) {
  catalogs_.reserve(kMaxCatalogs);
}

Result<std::unique_ptr<Monitoring>> Monitoring::Open(MonitoringOptions options, monitor::Registry* registry) {
  if (!(options.served_sample_rate >= 0 && options.served_sample_rate <= 1)) {
    return InvalidArgument("the served-request sample rate must be between 0 and 1");
  }
  if (!(options.drift_window_s > 0 && options.drift_bucket_s > 0 && options.drift_bucket_s <= options.drift_window_s)) {
    return InvalidArgument("drift window and bucket must be positive, the bucket no longer than the window");
  }
  if (options.history_interval_ms < 100) return InvalidArgument("the history interval must be at least 100ms");
  if (!(options.served_features_sample_rate >= 0 && options.served_features_sample_rate <= 1)) {
    return InvalidArgument("the served-request feature sample rate must be between 0 and 1");
  }
  if (options.ranker_drift_rows > 1000) return InvalidArgument("at most 1000 ranker drift rows per search");
  if (options.drift_sample_every == 0) return InvalidArgument("the drift sample period must be at least 1");
  std::unique_ptr<Monitoring> m(new Monitoring(std::move(options), registry));
  const MonitoringOptions& o = m->options_;
  const std::string& dir = o.data_dir;
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir + "/drift", ec);
    if (ec) return IoError("cannot create " + dir + "/drift: " + ec.message());
  }

  m->online_ = std::make_unique<monitor::OnlineMetrics>(registry);
  m->ingest_failures_ = &registry->AddCounter(
      "shelfwatch_feedback_ingest_failures_total",
      "Feedback events that could not be ingested, by reason (store_error, queue_full, too_large, bad_body).",
      {"reason"});

  feedback::ServedLogOptions served;
  served.path = dir.empty() ? "" : dir + "/served";
  if (!dir.empty() && std::filesystem::exists(dir + "/served.db")) {
    // The served log was an SQLite file before it became a directory of segments.
    log::Warn("served.db (an earlier version's served-request log) is no longer read or written",
              {{"path", dir + "/served.db"}});
  }
  served.sample_rate = o.served_sample_rate;
  served.max_age_ms = o.served_max_age_ms;
  served.max_bytes = o.served_max_bytes;
  auto log = feedback::ServedRequestLog::Open(served);
  if (!log.ok()) return log.status();
  m->served_ = std::move(log).value();

  if (!dir.empty()) {
    feedback::EventStoreOptions events;
    events.path = dir + "/events.db";
    events.max_age_ms = o.events_max_age_ms;
    auto store = feedback::EventStore::Open(events);
    if (!store.ok()) return store.status();
    m->events_ = std::move(store).value();
  }

  monitor::MetricHistoryOptions history;
  history.interval_ms = o.history_interval_ms;
  history.retention_ms = o.history_retention_ms;
  history.max_bytes = o.history_max_bytes;
  if (!dir.empty()) history.snapshot_path = dir + "/history.snapshot";
  m->history_ = std::make_unique<monitor::MetricHistory>(*registry, history);
  if (Status st = m->history_->LoadSnapshot(); !st.ok()) {
    // A damaged snapshot costs the old history, not the server.
    log::Warn("metric history snapshot not loaded", {{"error", st.message()}});
  }
  m->history_->RegisterMetrics(*registry);

  m->diversity_ = &registry->AddHistogram(
      "shelfwatch_recommendation_category_diversity",
      "Distinct categories among a recommendation's results divided by their number (intra-list diversity).",
      {"catalog"}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0});

  // The log's and the store's own counters, read at scrape time.
  Monitoring* self = m.get();
  registry->AddCollector([self](monitor::SnapshotWriter& w) {
    auto s = self->served_->stats();
    w.Header("shelfwatch_served_log_records_total", "Served requests recorded, by outcome (written, sampled_out, dropped, write_failed).",
             monitor::MetricType::kCounter);
    w.Sample({{"outcome", "written"}}, static_cast<double>(s.written));
    w.Sample({{"outcome", "sampled_out"}}, static_cast<double>(s.sampled_out));
    w.Sample({{"outcome", "dropped"}}, static_cast<double>(s.dropped));
    w.Sample({{"outcome", "write_failed"}}, static_cast<double>(s.write_failures));
    size_t n = self->catalog_count_.load(std::memory_order_acquire);
    bool header = false;
    for (size_t i = 0; i < n; ++i) {
      const CatalogMonitors& cm = *self->catalogs_[i];
      if (!cm.recommend || cm.docs == 0) continue;
      if (!header) {
        w.Header("shelfwatch_recommendation_catalog_coverage",
                 "Share of the catalog recommended at least once since the server started.", monitor::MetricType::kGauge);
        header = true;
      }
      w.Sample({{"catalog", cm.name}},
               static_cast<double>(cm.covered_count.load(std::memory_order_relaxed)) / static_cast<double>(cm.docs));
    }
    w.Header("shelfwatch_served_log_index_entries", "Recent served requests held in memory for attribution.",
             monitor::MetricType::kGauge);
    w.Sample({}, static_cast<double>(s.index_size));
    w.Header("shelfwatch_served_log_index_bytes", "Memory those entries take in the attribution index's rings.",
             monitor::MetricType::kGauge);
    w.Sample({}, static_cast<double>(s.index_bytes));
    w.Header("shelfwatch_served_log_disk_bytes", "Bytes of the served-request log's segment files.",
             monitor::MetricType::kGauge);
    w.Sample({}, static_cast<double>(s.disk_bytes));
    if (self->events_) {
      auto e = self->events_->stats();
      w.Header("shelfwatch_event_store_events_total", "Feedback events by store outcome (durable, failed).",
               monitor::MetricType::kCounter);
      w.Sample({{"outcome", "durable"}}, static_cast<double>(e.durable_events));
      w.Sample({{"outcome", "failed"}}, static_cast<double>(e.failed_events));
      w.Header("shelfwatch_event_store_transactions_total", "Event store commits (one fsync each).",
               monitor::MetricType::kCounter);
      w.Sample({}, static_cast<double>(e.transactions));
      w.Header("shelfwatch_event_store_queued_events", "Events accepted and waiting for their commit.",
               monitor::MetricType::kGauge);
      w.Sample({}, static_cast<double>(e.queued_events));
    }
  });
  return m;
}

Monitoring::~Monitoring() { Stop(); }

void Monitoring::Start() {
  std::lock_guard<std::mutex> lock(evaluate_mu_);
  if (started_) return;
  started_ = true;
  history_->Start();
  if (options_.drift_interval_s > 0) evaluator_ = std::thread([this] { EvaluateLoop(); });
}

void Monitoring::Stop() {
  {
    std::lock_guard<std::mutex> lock(evaluate_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  evaluate_cv_.notify_all();
  if (evaluator_.joinable()) evaluator_.join();
  // Open may fail half way (a store that cannot be opened): what it did not create is null.
  if (history_) history_->Stop();
  SaveReferences(/*only_unsaved=*/false);
  if (served_) served_->Flush();
  if (events_) events_->Flush();
}

void Monitoring::EvaluateLoop() {
  auto period = std::chrono::duration<double>(options_.drift_interval_s);
  std::unique_lock<std::mutex> lock(evaluate_mu_);
  while (!evaluate_cv_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    FollowModelSwaps();
    DriftReports(true);
    // A reference frozen from live traffic is kept at once: a crash must not lose it.
    SaveReferences(/*only_unsaved=*/true);
    lock.lock();
  }
}

std::string Monitoring::ReferencePath(const std::string& model) const {
  if (options_.data_dir.empty()) return "";
  return options_.data_dir + "/drift/" + FileSafe(model) + ".reference";
}

void Monitoring::SaveReferences(bool only_unsaved) {
  if (options_.data_dir.empty()) return;
  ForEachMonitor([&](drift::DriftMonitor& m, bool* saved) {
    if (only_unsaved && *saved) return;
    std::string bytes = m.SerializeReference();
    if (bytes.empty()) return;
    if (Status st = WriteFileAtomically(ReferencePath(m.model()), bytes); !st.ok()) {
      log::Warn("cannot write drift reference", {{"error", st.message()}});
      return;
    }
    *saved = true;
  });
}

void Monitoring::ForEachMonitor(const std::function<void(drift::DriftMonitor&, bool* saved)>& f) {
  size_t n = catalog_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    for (auto [m, saved] : catalogs_[i]->Monitors()) f(*m, saved);
  }
  std::vector<std::shared_ptr<ModelMonitor>> models;
  {
    std::shared_lock lock(models_mu_);
    models = model_monitors_;
  }
  for (const auto& mm : models) f(*mm->monitor, &mm->saved);
}

Monitoring::CatalogMonitors* Monitoring::MonitorsFor(std::string_view catalog) const {
  size_t n = catalog_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    if (catalogs_[i]->name == catalog) return catalogs_[i].get();
  }
  return nullptr;
}

Status Monitoring::OnCatalogReady(const pipeline::CatalogSnapshot& snapshot, pipeline::SearchPipeline* serving) {
  std::lock_guard<std::mutex> lock(mu_);
  if (MonitorsFor(snapshot.name)) return Status::Ok();
  if (catalogs_.size() >= kMaxCatalogs) return Status(ErrorCode::kResourceExhausted, "too many catalogs to monitor");

  auto cm = std::make_unique<CatalogMonitors>();
  cm->name = snapshot.name;
  const catalog::Catalog& cat = *snapshot.catalog;
  for (uint32_t d = 0; d < cat.size() && !cm->with_category; ++d) cm->with_category = !cat.product(d).category_path.empty();

  drift::DriftMonitorOptions dopt;
  dopt.window_seconds = options_.drift_window_s;
  dopt.retention_seconds = std::max(options_.drift_retention_s, options_.drift_window_s);
  dopt.bucket_seconds = options_.drift_bucket_s;
  dopt.auto_reference.first_rows = options_.drift_reference_rows;
  dopt.auto_reference.first_seconds = options_.drift_reference_seconds;
  const drift::DriftThresholds& th = options_.drift_thresholds;
  auto search = drift::DriftMonitor::Create(snapshot.name + "/search",
                                            WithThresholds(SearchFeatures(cm->with_category), th), dopt, registry_);
  if (!search.ok()) return search.status();
  // The term monitor sees several rows per search: its automatic reference waits for
  // proportionally more of them.
  drift::DriftMonitorOptions topt = dopt;
  topt.auto_reference.first_rows = options_.drift_reference_rows * 3;
  auto terms = drift::DriftMonitor::Create(snapshot.name + "/query_terms",
                                           WithThresholds({drift::FeatureSpec::Categorical("query_term")}, th), topt,
                                           registry_);
  if (!terms.ok()) return terms.status();
  cm->search = std::move(search).value();
  cm->terms = std::move(terms).value();
  if (options_.recommend_catalogs.count(snapshot.name)) {
    auto rec = drift::DriftMonitor::Create(
        snapshot.name + "/recommend",
        WithThresholds({drift::FeatureSpec::Numeric("results"), drift::FeatureSpec::Numeric("top_score"),
                        drift::FeatureSpec::Numeric("mean_score"), drift::FeatureSpec::Categorical("top_reason"),
                        drift::FeatureSpec::Categorical("personalised")},
                       th),
        dopt, registry_);
    if (!rec.ok()) return rec.status();
    cm->recommend = std::move(rec).value();
    cm->docs = cat.size();
    size_t words = (cm->docs + 63) / 64;
    cm->covered = std::make_unique<std::atomic<uint64_t>[]>(words);
    for (size_t w = 0; w < words; ++w) cm->covered[w].store(0, std::memory_order_relaxed);
    cm->diversity = &diversity_->WithLabels({snapshot.name});
  }

  // The reference: the catalog's training queries when given, else one kept from an earlier
  // run, else the automatic one (first N searches / first H seconds).
  auto ref = options_.drift_references.find(snapshot.name);
  if (ref != options_.drift_references.end()) {
    auto queries = eval::LoadQueries(ref->second.path, ref->second.split);
    if (!queries.ok()) return queries.status();
    for (const auto& q : *queries) cm->reference_queries.push_back(q.text);
    cm->snapshot = snapshot;
    cm->serving = serving;
    SW_RETURN_IF_ERROR(BuildSearchReference(*cm, std::numeric_limits<double>::quiet_NaN()));
    log::Info("drift reference built", {{"catalog", snapshot.name}, {"queries", std::to_string(queries->size())},
                                         {"path", ref->second.path}, {"models", cm->reference_versions}});
  } else {
    for (auto [m, saved] : cm->Monitors()) LoadReferenceFile(*m, ReferencePath(m->model()));
  }
  catalogs_.push_back(std::move(cm));
  catalog_count_.store(catalogs_.size(), std::memory_order_release);
  return Status::Ok();
}

Status Monitoring::BuildSearchReference(CatalogMonitors& cm, double window_from) {
  const pipeline::CatalogSnapshot& snapshot = cm.snapshot;
  const catalog::Catalog& cat = *snapshot.catalog;
  drift::ReferenceBuilder search_ref = cm.search->NewReferenceBuilder();
  drift::ReferenceBuilder terms_ref = cm.terms->NewReferenceBuilder();
  std::vector<float> scores;
  drift::FeatureValue row[kTopCategory + 1];
  std::string versions = "bm25";
  for (const std::string& text : cm.reference_queries) {
    pipeline::SearchParams sp;
    sp.query = text;
    scores.clear();
    std::string_view top;
    size_t n = 0;
    if (cm.serving) {
      // As searches are served: the same stages and models, so the scores mean the same.
      pipeline::PipelineResult out;
      cm.serving->Run(snapshot, sp, /*explain=*/false, &out);
      for (const auto& h : out.hits) scores.push_back(h.score);
      if (!out.hits.empty()) top = TopCategory(cat.product(out.hits[0].doc));
      n = SearchRow(text.size(), out.terms.size(), out.total_hits, scores, top, cm.with_category, row);
      for (const auto& t : out.terms) (void)terms_ref.Add({drift::FeatureValue::Category(t)});
      versions = out.model_versions;
    } else {
      pipeline::SearchOutcome out = pipeline::RunLexicalSearch(snapshot, sp);
      for (const auto& h : out.result.hits) scores.push_back(h.score);
      if (!out.result.hits.empty()) top = TopCategory(cat.product(out.result.hits[0].doc));
      n = SearchRow(text.size(), out.query_terms, out.result.total_hits, scores, top, cm.with_category, row);
      for (const auto& t : out.terms) (void)terms_ref.Add({drift::FeatureValue::Category(t)});
    }
    (void)search_ref.Add(std::span<const drift::FeatureValue>(row, n));
  }
  SW_RETURN_IF_ERROR(cm.search->SetReference(std::move(search_ref).Finish(), window_from));
  SW_RETURN_IF_ERROR(cm.terms->SetReference(std::move(terms_ref).Finish(), window_from));
  cm.reference_versions = versions;
  return Status::Ok();
}

size_t Monitoring::FollowModelSwaps() {
  std::lock_guard<std::mutex> follow(follow_mu_);
  size_t rebuilt = 0;
  size_t n = catalog_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    CatalogMonitors& cm = *catalogs_[i];
    if (!cm.serving || cm.reference_queries.empty()) continue;
    // One probe search says which models answer now.
    pipeline::SearchParams probe;
    probe.query = cm.reference_queries.front();
    pipeline::PipelineResult out;
    cm.serving->Run(cm.snapshot, probe, /*explain=*/false, &out);
    if (out.model_versions == cm.reference_versions) continue;
    const std::string before = cm.reference_versions;
    const double now = static_cast<double>(UnixMillis()) / 1000.0;
    if (Status st = BuildSearchReference(cm, now); !st.ok()) {
      log::Warn("drift reference not rebuilt for new models", {{"catalog", cm.name}, {"error", st.message()}});
      continue;
    }
    cm.search_saved = cm.terms_saved = false;  // the evaluator writes the new ones
    ++rebuilt;
    log::Info("drift reference rebuilt for new models; the current window restarts",
              {{"catalog", cm.name}, {"from", before}, {"to", cm.reference_versions}});
  }
  return rebuilt;
}

void Monitoring::RecordSearch(SearchObservation&& o) {
  bool zero = o.item_ids.empty();
  online_->RecordServed(o.catalog, o.endpoint, o.variant, o.query, o.item_ids.size(), zero);

  const int64_t now_ms = UnixMillis();
  CatalogMonitors* cm = MonitorsFor(o.catalog);
  if (DriftSampled(now_ms)) {
    const double now = static_cast<double>(now_ms) / 1000.0;
    if (cm) {
      drift::FeatureValue row[kTopCategory + 1];
      size_t n = SearchRow(o.query.size(), o.terms.size(), o.total_hits, o.scores, o.top_category, cm->with_category, row);
      cm->search->Record(std::span<const drift::FeatureValue>(row, n), now);
      for (const auto& t : o.terms) cm->terms->Record({drift::FeatureValue::Category(t)}, now);
    }
    RecordModels(o, now);
  }

  // The ranker's feature vectors of the returned items, for a sample of the searches.
  thread_local std::vector<std::vector<float>> item_features;
  std::span<const std::vector<float>> features;
  constexpr size_t kWidth = ranking::kNumFeatures;
  const size_t scored = o.ranked_scores.size();
  if (scored > 0 && o.ranked_features.size() == scored * kWidth && o.page_rows.size() == o.item_ids.size() &&
      Sampled(options_.served_features_sample_rate)) {
    item_features.resize(o.page_rows.size());
    for (size_t i = 0; i < o.page_rows.size(); ++i) {
      const uint32_t r = o.page_rows[i];
      if (r < scored) {
        item_features[i].assign(o.ranked_features.begin() + static_cast<std::ptrdiff_t>(r * kWidth),
                                o.ranked_features.begin() + static_cast<std::ptrdiff_t>((r + 1) * kWidth));
      } else {
        item_features[i].clear();  // past the ranked window: the ranker never saw it
      }
    }
    features = item_features;
  }

  // The log copies what it keeps: nothing is allocated for it here.
  served_->Record(feedback::ServedRequestView{.request_id = o.request_id,
                   .time_ms = now_ms,
                   .catalog = o.catalog,
                   .endpoint = o.endpoint,
                   .query = o.query,
                   .variant = o.variant,
                   .model_versions = o.model_versions,
                   .item_ids = o.item_ids,
                   .scores = o.scores,
                   .features = features,
                   .total_hits = o.total_hits});
}

bool Monitoring::DriftSampled(int64_t now_ms) {
  if (options_.drift_sample_every <= 1) return true;
  // Per thread, so that the request path shares no counter.
  struct Quota {
    const Monitoring* owner = nullptr;
    int64_t minute = -1;
    uint64_t rows = 0;
  };
  thread_local Quota q;
  const int64_t minute = now_ms / 60000;
  if (q.owner != this || q.minute != minute) {
    q.owner = this;
    q.minute = minute;
    q.rows = 0;
  }
  if (q.rows < options_.drift_full_rows_per_minute) {
    ++q.rows;
    return true;
  }
  return ThreadRandom() % options_.drift_sample_every == 0;
}

std::vector<drift::DriftReport> Monitoring::DriftReports(bool evaluate) {
  {
    std::vector<std::shared_ptr<ModelMonitor>> retired;
    {
      std::unique_lock lock(models_mu_);
      retired.swap(retired_models_);
    }
  }  // destroyed here, outside the lock (or by the last request still holding one)
  std::vector<drift::DriftReport> out;
  ForEachMonitor([&](drift::DriftMonitor& m, bool*) { out.push_back(evaluate ? m.Evaluate() : m.LastReport()); });
  return out;
}

std::shared_ptr<Monitoring::ModelMonitor> Monitoring::ModelMonitorFor(const SearchObservation::ModelUse& use,
                                                                      uint32_t vector_dim) {
  {
    std::shared_lock lock(models_mu_);
    for (const auto& mm : model_monitors_) {
      if (mm->version == use.version && mm->name == use.name) return mm;
    }
  }
  // First sight of this version (once per deploy): create its monitor and find its reference
  // before taking the lock, so that drift-sampled searches do not wait for a file read.
  drift::DriftThresholds thresholds;
  {
    std::lock_guard<std::mutex> options_lock(mu_);  // SetDriftThresholds writes them under it
    thresholds = options_.drift_thresholds;
  }
  auto mm = std::make_shared<ModelMonitor>();
  mm->name = std::string(use.name);
  mm->version = use.version;
  const std::string model = mm->name + ":" + std::to_string(use.version);
  const bool ranker = vector_dim == 0;
  drift::DriftMonitorOptions dopt;
  dopt.window_seconds = options_.drift_window_s;
  // Coarser buckets than the catalogs' monitors: a ranker profile holds 39 sketches, and a
  // version's window needs no finer time resolution than a twelfth of it.
  dopt.bucket_seconds = std::max(options_.drift_bucket_s, options_.drift_window_s / 12);
  dopt.retention_seconds = std::max({options_.drift_retention_s, options_.drift_window_s, dopt.bucket_seconds});
  dopt.auto_reference.first_rows = options_.drift_reference_rows * (ranker ? std::max(1u, options_.ranker_drift_rows) : 1);
  dopt.auto_reference.first_seconds = options_.drift_reference_seconds;
  auto monitor = drift::DriftMonitor::Create(
      model,
      WithThresholds(ranker ? ranking::RankerDriftFeatures() : ranking::EmbeddingDriftFeatures(vector_dim),
                     thresholds),
      dopt, registry_);
  if (!monitor.ok()) {
    log::Warn("no drift monitor for a model version", {{"model", model}, {"error", monitor.status().message()}});
    return nullptr;
  }
  mm->monitor = std::move(monitor).value();
  // One an operator set for this version and the data dir kept, else the version's own (its
  // training data), else the automatic one. (The data dir holds none for a version that ships
  // its reference unless someone replaced it: a loaded reference is never re-frozen.)
  mm->saved = LoadReferenceFile(*mm->monitor, ReferencePath(model)) ||
              (!use.dir.empty() &&
               LoadReferenceFile(*mm->monitor, std::string(use.dir) + "/" + std::string(ranking::kDriftReferenceFile)));

  std::unique_lock lock(models_mu_);
  for (const auto& other : model_monitors_) {
    if (other->version == use.version && other->name == use.name) {
      // Created meanwhile by another request: ours (same series, left in place) is destroyed
      // on the evaluator thread like a retired one, not here.
      retired_models_.push_back(std::move(mm));
      return other;
    }
  }
  // Keep the newest kVersionsPerModel versions of each model.
  size_t same = 0;
  for (const auto& other : model_monitors_) same += other->name == mm->name;
  if (same >= kVersionsPerModel) {
    for (auto it = model_monitors_.begin(); it != model_monitors_.end(); ++it) {
      if ((*it)->name == mm->name) {
        // Its series go now; the object goes on the evaluator thread (its destructor joins a
        // worker thread, which a request thread should not wait for).
        (*it)->monitor->RetireMetrics();
        retired_models_.push_back(std::move(*it));
        model_monitors_.erase(it);
        break;
      }
    }
  }
  model_monitors_.push_back(mm);
  return mm;
}

void Monitoring::RecordModels(const SearchObservation& o, double now) {
  constexpr size_t kWidth = ranking::kNumFeatures;
  const size_t n = o.ranked_scores.size();
  if (!o.ranker.name.empty() && n > 0 && o.ranked_features.size() == n * kWidth && options_.ranker_drift_rows > 0) {
    if (auto mm = ModelMonitorFor(o.ranker, 0)) {
      // A systematic sample with a random start: every scored candidate is equally likely,
      // as every row of the reference is.
      const size_t take = std::min<size_t>(n, options_.ranker_drift_rows);
      const size_t start = ThreadRandom() % n;
      drift::FeatureValue row[kWidth + 1];
      for (size_t i = 0; i < take; ++i) {
        const size_t r = (start + i * n / take) % n;
        for (size_t f = 0; f < kWidth; ++f) row[f] = drift::FeatureValue::Number(o.ranked_features[r * kWidth + f]);
        row[kWidth] = drift::FeatureValue::Number(o.ranked_scores[r]);
        mm->monitor->Record(std::span<const drift::FeatureValue>(row, kWidth + 1), now);
      }
    }
  }
  if (!o.embedding.name.empty() && !o.query_embedding.empty()) {
    if (auto mm = ModelMonitorFor(o.embedding, static_cast<uint32_t>(o.query_embedding.size()))) {
      mm->monitor->Record({drift::FeatureValue::Vector(o.query_embedding)}, now);
    }
  }
}

void Monitoring::RecordRecommend(RecommendObservation&& o) {
  online_->RecordServed(o.catalog, "recommend", o.variant, "", o.item_ids.size(), o.item_ids.empty());
  CatalogMonitors* cm = MonitorsFor(o.catalog);
  const int64_t now_ms = UnixMillis();
  if (cm && cm->recommend) {
    double mean = 0;
    for (float s : o.scores) mean += s;
    if (!o.scores.empty()) mean /= static_cast<double>(o.scores.size());
    drift::FeatureValue row[5] = {
        drift::FeatureValue::Number(static_cast<double>(o.item_ids.size())),
        o.scores.empty() ? drift::FeatureValue::Missing() : drift::FeatureValue::Number(o.scores.front()),
        o.scores.empty() ? drift::FeatureValue::Missing() : drift::FeatureValue::Number(mean),
        o.top_reason.empty() ? drift::FeatureValue::Missing() : drift::FeatureValue::Category(o.top_reason),
        drift::FeatureValue::Category(o.personalised ? "true" : "false")};
    if (DriftSampled(now_ms)) cm->recommend->Record(std::span<const drift::FeatureValue>(row, 5), static_cast<double>(now_ms) / 1000.0);
    uint64_t newly = 0;
    for (uint32_t d : o.docs) {
      if (d >= cm->docs) continue;
      uint64_t bit = uint64_t{1} << (d % 64);
      // fetch_or only when the bit is not already set: most recommendations repeat items.
      if (cm->covered[d / 64].load(std::memory_order_relaxed) & bit) continue;
      if (!(cm->covered[d / 64].fetch_or(bit, std::memory_order_relaxed) & bit)) ++newly;
    }
    if (newly) cm->covered_count.fetch_add(newly, std::memory_order_relaxed);
    if (!o.item_ids.empty()) {
      cm->diversity->Observe(static_cast<double>(o.distinct_categories) / static_cast<double>(o.item_ids.size()));
    }
  }
  served_->Record(feedback::ServedRequestView{.request_id = o.request_id,
                   .time_ms = now_ms,
                   .catalog = o.catalog,
                   .endpoint = "recommend",
                   .query = o.context,
                   .variant = o.variant,
                   .model_versions = o.model_versions,
                   .item_ids = o.item_ids,
                   .scores = o.scores,
                   .total_hits = o.item_ids.size()});
}

Status Monitoring::SetReferenceFromWindow(std::string_view model, double start, double end) {
  std::optional<Status> result;
  ForEachMonitor([&](drift::DriftMonitor& m, bool* saved) {
    if (result || m.model() != model) return;
    result = m.SetReferenceFromWindow(start, end);
    if (result->ok()) *saved = false;  // the evaluator writes the new one
  });
  if (result) return *result;
  return NotFound("no drift monitor '" + std::string(model) + "'");
}

void Monitoring::SetDriftThresholds(const drift::DriftThresholds& thresholds) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.drift_thresholds = thresholds;  // monitors created later start with them
  ForEachMonitor([&](drift::DriftMonitor& m, bool*) { m.SetThresholds(thresholds); });
}

void Monitoring::CountIngestFailure(std::string_view reason, uint64_t events) {
  ingest_failures_->WithLabels({std::string(reason)}).Inc(events);
}

}  // namespace shelfwatch::server
