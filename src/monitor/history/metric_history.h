// MetricHistory: the embedded metric history that lets the dashboard and the alert evaluator
// query PromQL without a Prometheus server.
//
// Every `interval` it takes Registry::Collect() and appends one sample per series, stored as
// the series a Prometheus scrape would store: counters and gauges under their name,
// histograms as name_bucket{le="..."} (cumulative), name_sum and name_count. A series missing
// from a sampling gets a stale marker there (it ends, as in Prometheus). Samples live in
// Gorilla-compressed chunks of 120 samples per series (xor_chunk.h); chunks whose newest
// sample is older than `retention` are dropped, and a series whose data is all gone is
// forgotten (freeing its place under max_series).
//
// Default interval 5 s: alert rules and dashboards use rate(x[1m]), which needs >= 2 samples
// per window and is smooth with ~12; it also bounds how late an alert can see a change. The
// cost is memory: at 5 s, 6 h is 4,320 samples per series; measured on latency histograms and
// counters with real jitter, 3.4 bytes per sample all included, so ~15 KiB per series.
//
// Memory bound: the chunk data, label sets and per-series bookkeeping together stay below
// `max_bytes` (default 64 MiB, ~4,400 busy series for the full 6 h): beyond it the oldest
// chunks are dropped first (counted in chunks_evicted), so more series mean a shorter history,
// and when only the newest chunks remain, new series are refused. At most `max_series` series
// (default 20,000) are kept, stale ones included until they age out; a new series beyond the
// cap is refused and counted in series_dropped. One sampling also holds the registry's
// snapshot (O(series)) transiently; a query holds its selected samples decoded (16 B each).
//
// Persistence (optional): every `snapshot_interval` and at Stop() the history is written to
// `snapshot_path` (binary, CRC-checked, written to a temporary file then renamed; its size is
// about the in-memory size, so bounded by max_bytes) and LoadSnapshot() reads it back.
//
// Thread-safety: all methods are safe to call concurrently. Sampling takes a write lock only
// to append (the registry is collected before); Select() holds a read lock while it copies the
// references of the full chunks and decodes the open ones, then decodes outside the lock.
// Cost: one sampling is O(series); Select is O(series matched x chunks in the window).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "monitor/history/series_store.h"
#include "monitor/history/xor_chunk.h"
#include "monitor/metrics.h"

namespace shelfwatch::monitor {

struct MetricHistoryOptions {
  int64_t interval_ms = 5'000;
  int64_t retention_ms = 6LL * 3600 * 1000;
  size_t max_series = 20'000;
  size_t max_bytes = 64u << 20;
  std::string snapshot_path;  // empty: no persistence
  int64_t snapshot_interval_ms = 5 * 60 * 1000;
};

struct MetricHistoryStats {
  size_t series = 0;            // series held (live and stale)
  size_t bytes = 0;             // accounted memory (chunks, labels, bookkeeping)
  uint64_t samplings = 0;       // samplings taken
  uint64_t samples_appended = 0;
  uint64_t series_dropped = 0;  // distinct new series refused (max_series or max_bytes)
  uint64_t chunks_evicted = 0;  // chunks dropped early to stay under max_bytes
  uint64_t samplings_out_of_order = 0;  // SampleNow at or before the previous time: ignored
  uint64_t snapshot_failures = 0;
  int64_t oldest_ms = 0;  // oldest sample held (0 when empty)
  int64_t newest_ms = 0;  // time of the last sampling
};

class MetricHistory final : public SeriesStore {
 public:
  // `registry` must outlive the history.
  explicit MetricHistory(const Registry& registry, MetricHistoryOptions options = {});
  ~MetricHistory() override;  // Stop()
  MetricHistory(const MetricHistory&) = delete;
  MetricHistory& operator=(const MetricHistory&) = delete;

  // Reads options.snapshot_path if it exists (a missing file is not an error). A corrupt or
  // foreign file is refused with DataLoss and nothing is loaded. Data older than the
  // retention is skipped. Call before Start().
  Status LoadSnapshot();
  // Starts the sampling thread: one sampling now, then one every interval. Idempotent.
  void Start();
  // Stops the thread and, with a snapshot path, writes a last snapshot. Idempotent.
  void Stop();

  // Takes one sampling at `timestamp_ms` (tests and tools; the thread uses the wall clock).
  // A time at or before the previous sampling's is ignored (counted).
  void SampleNow(int64_t timestamp_ms);
  // Writes the snapshot file now.
  Status SaveSnapshot() const;

  MetricHistoryStats stats() const;
  const MetricHistoryOptions& options() const { return options_; }

  // Exposes the history's own metrics (shelfwatch_metric_history_*) through a collector on
  // `registry`; they stay valid after the history is destroyed (they then stop changing).
  void RegisterMetrics(Registry& registry) const;

  Status Select(const std::vector<LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                std::vector<StoredSeries>* out) const override;

 private:
  struct Series {
    LabelsPtr labels;
    std::deque<std::shared_ptr<const XorChunk>> full;  // oldest first
    XorChunk open;
    int64_t first_t = 0, last_t = 0;
    uint64_t last_sampling = 0;
    bool stale = false;
    size_t bytes = 0;
  };
  struct SharedStats;

  void Run();
  // Appends under the write lock.
  void Append(Series& s, int64_t t, double v);
  Series* CreateSeries(const LabelSet& labels);
  void RemoveSeries(const LabelSet& labels);
  void DropExpired(int64_t cutoff);
  void EnforceMemoryBound();
  size_t SeriesOverhead(const LabelSet& labels) const;
  void PublishStats();
  void NoteDropped(uint64_t hash);

  const Registry& registry_;
  const MetricHistoryOptions options_;

  mutable std::shared_mutex mu_;
  std::unordered_map<LabelSet, std::unique_ptr<Series>, LabelSetHash> series_;
  std::unordered_map<std::string, std::vector<Series*>> by_name_;
  size_t bytes_ = 0;
  uint64_t sampling_ = 0;
  int64_t last_sampling_t_ = 0;
  std::unordered_set<uint64_t> refused_;  // hashes of refused series (bounded)
  MetricHistoryStats stats_;

  std::shared_ptr<SharedStats> shared_stats_;
  mutable std::mutex save_mu_;  // one snapshot write at a time

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace shelfwatch::monitor
