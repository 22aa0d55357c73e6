// Monitoring: the monitoring services one `shelfwatch serve` process runs beside its catalogs,
// created from its flags and stopped together:
//   - the served-request log (feedback/served_log.h): every search is recorded after it is
//     answered, so that feedback events can be attributed to it;
//   - the durable feedback event store (feedback/event_store.h), when there is a data dir;
//   - online business metrics (monitor/online_metrics.h) per catalog, endpoint and variant;
//   - drift and data-quality monitors per catalog (monitor/drift/drift_monitor.h): one over
//     each search's query and results ("<catalog>/search": query length in characters and
//     terms, matches, results returned, top and last score, top result's category when the
//     catalog has categories) and one over the analysed query terms ("<catalog>/query_terms");
//     the reference comes from a queries file run through the catalog (its training queries),
//     or is frozen from the first N searches or first H seconds, and is kept in the data dir
//     so that a restart compares against the same reference;
//   - drift monitors per model version the search pipeline uses ("homedepot-ranker:3": every
//     ranker input feature and its score over a sample of the scored candidates;
//     "homedepot-embedding:2": the query embedding), created when a version first serves,
//     compared with the reference the training command wrote into the version
//     (ranking/model_drift.h), else one kept in the data dir, else frozen from live traffic;
//     the two newest versions of each model are kept;
//   - the embedded metric history (monitor/history/metric_history.h) that the dashboard and
//     the alert evaluator query, snapshotted into the data dir.
// Without a data dir nothing is written to disk: the served-request log keeps its in-memory
// index (attribution works), history and drift references live as long as the process, and
// event ingestion is refused (an acknowledged event must be durable).
//
// Thread-safety: RecordSearch, the accessors and DriftReports are safe from any thread once
// Open returned; Start/Stop are called once each by the owner. Cost of RecordSearch, the
// request-path part: a served-log record (~1 us, no allocation: the log copies the views
// into its ring and pending buffer), a counter and histogram update and a
// per-thread heavy-hitter update (~100 ns), one drift row per search plus one per query term
// (~200 ns each; beyond each thread's first 5,000 searches a minute, for one search in 8:
// see drift_full_rows_per_minute); everything else happens on the services' own threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "eval/relevance.h"
#include "feedback/event_store.h"
#include "feedback/events.h"
#include "feedback/served_log.h"
#include "monitor/drift/drift_monitor.h"
#include "monitor/history/metric_history.h"
#include "monitor/metrics.h"
#include "monitor/online_metrics.h"
#include "pipeline/catalog_registry.h"
#include "pipeline/search_pipeline.h"

namespace shelfwatch::server {

// A queries file whose queries, run through a catalog, make that catalog's drift reference.
struct DriftReferenceQueries {
  std::string path;  // CSV with query_id,query columns
  eval::Split split = eval::Split::kTrain;
};

// "wasserstein_normed=0.1,psi_alert=0.25,..." as given to --drift-thresholds, over `base`.
// Keys: wasserstein_normed, jensen_shannon, ks_p_value, chi_squared_p_value, psi_warn,
// psi_alert, share_drifted_dims.
Result<monitor::drift::DriftThresholds> ParseDriftThresholds(std::string_view text,
                                                             monitor::drift::DriftThresholds base = {});

// "NAME=PATH[,split=train|test|all]" as given to --drift-reference.
Result<std::pair<std::string, DriftReferenceQueries>> ParseDriftReferenceSpec(std::string_view text);

struct MonitoringOptions {
  std::string data_dir;  // empty: nothing on disk, no event ingestion
  // Served-request log.
  double served_sample_rate = 1.0;                      // share of requests kept on disk
  int64_t served_max_age_ms = 30LL * 24 * 3600 * 1000;  // retention of the log file
  uint64_t served_max_bytes = 1ull << 30;
  // Feedback events.
  feedback::EventLimits event_limits;
  int64_t events_max_age_ms = 90LL * 24 * 3600 * 1000;
  // Metric history.
  int64_t history_interval_ms = 5000;
  int64_t history_retention_ms = 6LL * 3600 * 1000;
  size_t history_max_bytes = 64u << 20;
  // Drift.
  double drift_window_s = 3600;
  double drift_bucket_s = 60;
  double drift_interval_s = 60;           // evaluation period; 0: only on request
  double drift_retention_s = 7200;        // history kept for references from a time range (>= window)
  monitor::drift::DriftThresholds drift_thresholds;  // for every monitored feature
  // Each request thread gives the drift monitors every search (and recommendation) of its first
  // drift_full_rows_per_minute in each minute, then one in drift_sample_every, at random (1:
  // every one). Drift compares distributions, which a random sample of thousands of rows a
  // minute estimates as well as all of them (and the sample-size-dependent p-values of KS and
  // chi-squared stop flagging negligible differences at high traffic); the data-quality
  // counters then count the sample. At 12,000 searches/s on two threads this keeps ~14% of
  // the rows and cuts drift's share of the CPU from ~4% to ~0.6%.
  uint64_t drift_full_rows_per_minute = 5000;
  uint32_t drift_sample_every = 8;
  // Of each drift-sampled search the ranker ordered, this many of its scored candidates
  // (systematic sample, random start) go to the ranker version's drift monitor.
  uint32_t ranker_drift_rows = 8;
  // Share of searches whose ranker feature vectors (per returned item) the served log keeps,
  // for export training-data; about 1.5 KB a search of 10 results.
  double served_features_sample_rate = 0.1;
  uint64_t drift_reference_rows = 10000;  // auto reference from the first N searches (0: off)
  double drift_reference_seconds = 0;     // or from the first H seconds (0: off)
  std::map<std::string, DriftReferenceQueries> drift_references;  // by catalog
  std::set<std::string> recommend_catalogs;  // catalogs that answer /recommend
};

// What the search route hands over after answering (views into its buffers).
struct SearchObservation {
  std::string_view catalog;
  std::string_view endpoint = "search";
  std::string_view variant = "default";
  std::string_view model_versions;
  std::string request_id;
  std::string_view query;
  std::span<const std::string> terms;     // analysed query terms
  std::span<const std::string> item_ids;  // returned, rank order
  std::span<const float> scores;          // same length
  std::string_view top_category;       // category of the first result; empty: none
  uint64_t total_hits = 0;

  // The models behind the answer (pipeline::PipelineResult), for their drift monitors and the
  // served log's feature vectors. An empty name: the stage did not run.
  struct ModelUse {
    std::string_view name;
    int64_t version = 0;
    std::string_view dir;  // the version directory (its drift_reference.bin is the reference)
  };
  ModelUse ranker, embedding;
  std::span<const float> ranked_features;  // scored candidates x ranking::kNumFeatures
  std::span<const float> ranked_scores;    // one per scored candidate
  std::span<const uint32_t> page_rows;     // per returned item its row there, or UINT32_MAX
  std::span<const float> query_embedding;
};

// What the recommend route hands over after answering.
struct RecommendObservation {
  std::string_view catalog;
  std::string_view variant = "default";
  std::string_view model_versions;
  std::string request_id;
  std::string context;                   // "user=u1 item=i2": what the served log keeps as its query
  std::vector<std::string> item_ids;     // rank order
  std::vector<float> scores;             // same length
  std::string_view top_reason;           // why the first result is there; empty: no result
  bool personalised = false;             // false: popularity only
  std::span<const uint32_t> docs;        // catalog doc ids of the results (coverage)
  size_t distinct_categories = 0;        // among the results (intra-list diversity)
};

class Monitoring {
 public:
  // Opens the stores in options.data_dir (created) and registers every metric on `registry`
  // (which must outlive this object). Errors: the stores' (kIoError, kDataLoss, ...) and
  // kInvalidArgument for options that cannot work.
  static Result<std::unique_ptr<Monitoring>> Open(MonitoringOptions options, monitor::Registry* registry);
  ~Monitoring();  // Stop()
  Monitoring(const Monitoring&) = delete;
  Monitoring& operator=(const Monitoring&) = delete;

  // Starts the metric history sampler and the drift evaluator.
  void Start();
  // Stops the threads, writes the history snapshot and drift references, flushes the stores.
  void Stop();

  // Creates the drift monitors of a catalog that just became ready; with a reference queries
  // file, runs them through the catalog to build the reference -- through `serving` (the
  // server's search pipeline, with the models serving now) when given, so that the scores and
  // result counts of the reference are the ones searches will be compared on; plain BM25
  // otherwise. Safe to call again for a reloaded snapshot (monitors are kept).
  Status OnCatalogReady(const pipeline::CatalogSnapshot& snapshot, pipeline::SearchPipeline* serving = nullptr);

  // Whether every catalog's monitors are set up (after the last OnCatalogReady); /readyz
  // waits for it so that no search of a ready server goes unmonitored.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  void SetReady() { ready_.store(true, std::memory_order_release); }

  // Request path: see the header comment for its cost.
  void RecordSearch(SearchObservation&& observation);
  // The same for a recommendation: online metrics, the served-request log, the drift monitor
  // "<catalog>/recommend" (results, top and mean score, top result's reason, personalised),
  // catalog coverage (distinct items ever recommended / catalog size) and intra-list category
  // diversity (distinct categories / results).
  void RecordRecommend(RecommendObservation&& observation);

  monitor::OnlineMetrics& online() { return *online_; }
  feedback::ServedRequestLog& served() { return *served_; }
  feedback::EventStore* events() { return events_.get(); }  // null without a data dir
  const monitor::MetricHistory& history() const { return *history_; }
  const feedback::EventLimits& event_limits() const { return options_.event_limits; }
  const MonitoringOptions& options() const { return options_; }

  // The latest report of every drift monitor (evaluated now when `evaluate`), by model name.
  std::vector<monitor::drift::DriftReport> DriftReports(bool evaluate);
  // Makes the observations of [start, end) the reference of monitor `model` ("<catalog>/search").
  // kNotFound for an unknown model; the monitor's errors otherwise (range outside the retained
  // history or empty).
  Status SetReferenceFromWindow(std::string_view model, double start_unix_s, double end_unix_s);
  // For catalogs whose reference came from queries run through the search pipeline: when the
  // models answering now differ from the ones behind the reference (a hot swap), rebuilds the
  // reference with them and restarts the current window, so that new-model scores are not
  // judged against old-model ones. The evaluator thread calls it before each evaluation (one
  // probe search per catalog; a rebuild runs every reference query once). Returns how many
  // references were rebuilt.
  size_t FollowModelSwaps();
  // New drift thresholds for every monitor, from the next evaluation on (config reload).
  void SetDriftThresholds(const monitor::drift::DriftThresholds& thresholds);
  // Names feedback ingestion failures (store_error, queue_full, too_large, bad_body).
  void CountIngestFailure(std::string_view reason, uint64_t events = 1);

 private:
  struct CatalogMonitors;
  Monitoring(MonitoringOptions options, monitor::Registry* registry);
  CatalogMonitors* MonitorsFor(std::string_view catalog) const;
  // The search and query-term references of `cm` from its reference queries; the current
  // window restarts after `window_from` when it is finite.
  Status BuildSearchReference(CatalogMonitors& cm, double window_from);
  struct ModelMonitor;
  // The drift monitor of a model version, created on first use (null when it cannot be).
  std::shared_ptr<ModelMonitor> ModelMonitorFor(const SearchObservation::ModelUse& use, uint32_t vector_dim);
  void RecordModels(const SearchObservation& o, double now);
  // Calls f for every drift monitor with its "reference saved" flag, catalogs' then models'
  // (a model monitor evicted meanwhile stays alive until f returns).
  void ForEachMonitor(const std::function<void(monitor::drift::DriftMonitor&, bool* saved)>& f);
  bool DriftSampled(int64_t now_ms);
  std::string ReferencePath(const std::string& model) const;
  void SaveReferences(bool only_unsaved);
  void EvaluateLoop();

  MonitoringOptions options_;
  monitor::Registry* registry_;
  std::unique_ptr<monitor::OnlineMetrics> online_;
  std::unique_ptr<feedback::ServedRequestLog> served_;
  std::unique_ptr<feedback::EventStore> events_;
  std::unique_ptr<monitor::MetricHistory> history_;
  monitor::Family<monitor::Counter>* ingest_failures_ = nullptr;
  monitor::Family<monitor::Histogram>* diversity_ = nullptr;

  // Catalogs get monitors once, when first ready; the request path reads this list without a
  // lock through the atomic count (entries are appended under mu_ and never removed).
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<CatalogMonitors>> catalogs_;
  std::atomic<size_t> catalog_count_{0};
  std::atomic<bool> ready_{false};
  static constexpr size_t kMaxCatalogs = 256;

  // Model-version monitors, oldest first; looked up under a shared lock (drift-sampled
  // searches only), created and evicted under the exclusive one.
  mutable std::shared_mutex models_mu_;
  std::vector<std::shared_ptr<ModelMonitor>> model_monitors_;
  std::vector<std::shared_ptr<ModelMonitor>> retired_models_;  // evicted, dropped by DriftReports
  static constexpr size_t kVersionsPerModel = 2;

  std::mutex follow_mu_;  // one FollowModelSwaps at a time
  std::mutex evaluate_mu_;
  std::condition_variable evaluate_cv_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread evaluator_;
};

}  // namespace shelfwatch::server
