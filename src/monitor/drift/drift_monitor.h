// DriftMonitor: data and prediction drift plus data quality for one monitored model
// ("homedepot/bm25", "ranker:v3"), in the manner of Evidently / NannyML / whylogs, computed
// from mergeable sketches (profile.h) so memory stays bounded however much traffic arrives.
//
// Usage:
//   auto monitor = DriftMonitor::Create("ranker:v3",
//       {FeatureSpec::Numeric("price"), FeatureSpec::Categorical("category"),
//        FeatureSpec::Vector("query_embedding", 64)}, {}, &registry);
//   ReferenceBuilder ref = (*monitor)->NewReferenceBuilder();          // (a) training rows
//   for (...) ref.Add({FeatureValue::Number(p), FeatureValue::Category(c), FeatureValue::Vector(e)});
//   (*monitor)->SetReference(std::move(ref).Finish());
//   (*monitor)->Record({FeatureValue::Number(p), ...});                // request path, any thread
//   DriftReport report = (*monitor)->Evaluate();                        // e.g. every minute
//
// The reference is (a) built from rows given in code (SetReference), (b) a time range of the
// recorded history (SetReferenceFromWindow), (c) frozen automatically from the first N rows or
// first H seconds recorded (DriftMonitorOptions::auto_reference), or (d) loaded from bytes
// written by SerializeReference (kept next to a model version).
//
// Recording. Each thread is mapped to one of `shards` shards (round-robin on its first call;
// a thread pool of up to `shards` threads never shares one). Record takes that shard's mutex
// -- uncontended unless more threads than shards record at once -- and copies the row into
// the shard's batch: no monitor-wide lock, no allocation once the batch buffers are sized.
// Every `batch_rows` rows (or when the time bucket changes) the full batch is handed to the
// monitor's worker thread under the queue mutex -- once per batch -- and the worker sketches
// it into a private partial profile and merges that into its time bucket. If the worker falls
// more than max_queued_batches behind, whole batches are dropped and counted (requests never
// wait on monitoring). Measured (Release, this project's 2-core VM under other builds' load,
// CPU time so preemption does not count; a row = a numeric, a categorical, a numeric and an
// 8-float vector): the request path costs ~150-220 ns CPU per row, i.e. ~37-55 ns per value;
// the worker sketches ~280-450 ns CPU per row, ~2-3.5 M rows/s per monitor
// (DriftMonitorTest.ConcurrentRecordingLosesNothingAndItsCostIsMeasured prints both).
//
// Windows. Observations land in time buckets (bucket_seconds, default 60 s, by the timestamp
// given to Record). Evaluate(now) merges the buckets of the last window_seconds (default 1 h;
// the bucket holding `now` and the ones before it) into the current profile and compares
// it with the reference. Buckets older than retention_seconds (default = window) behind the
// newest one are dropped; observations that old are counted as dropped. When the reference
// was taken from recorded history, the current window starts after it, so the two never
// overlap.
//
// Metrics (when a Registry is given; labels model, feature, method / kind):
//   shelfwatch_drift_score{model,feature,method}        gauge, each method's score at the
//                                                       last evaluation (p-value for ks and
//                                                       chi_squared); series of features not
//                                                       evaluated are removed
//   shelfwatch_drift_detected{model,feature}            gauge 0/1
//   shelfwatch_drift_status{model,feature}              gauge 0 ok, 1 warn, 2 alert
//   shelfwatch_data_quality_violations_total{model,feature,kind}
//                                                       counter, kind in missing, nan,
//                                                       out_of_range, unseen_category; counted
//                                                       as batches are sketched (judged against
//                                                       the reference in force then)
//   shelfwatch_drift_dropped_rows_total{model}          counter, rows of the wrong length,
//                                                       with a bad timestamp, too old to keep,
//                                                       or dropped while the worker was behind
// Two monitors with the same model name in one registry would share series: keep names unique.
//
// Memory: retention / bucket_seconds bucket profiles (profile.h states a profile's bound;
// ~60 x (7.8 KiB per numeric, ~56 KiB per categorical, ~5 KiB per vector dimension) at the
// defaults, less for buckets holding few values) + (shards x 2 + max_queued_batches) batches
// of batch_rows copied rows + one reference profile; independent of traffic.
//
// Thread-safety: every method is safe to call concurrently; Evaluate calls are serialized.
// One worker thread per monitor, joined by the destructor (rows not yet evaluated are lost).
// Cost: Record O(features + vector dims), see above; Evaluate waits for the batches recorded
// before it to be sketched, then O(window buckets x profile size) to merge the window (under
// the store mutex, which delays only the worker's merges, never Record) plus O(sketch sizes)
// per feature to compare.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "monitor/drift/drift_report.h"
#include "monitor/drift/feature.h"
#include "monitor/drift/feature_drift.h"
#include "monitor/drift/profile.h"
#include "monitor/metrics.h"

namespace shelfwatch::monitor::drift {

struct AutoReference {
  // Freeze the reference from the first N rows sketched (batch order: with several recording
  // threads, "first" is the order batches are merged, not exact arrival order). 0 = off.
  uint64_t first_rows = 0;
  // Or from everything recorded in the first H seconds, counted from the bucket of the first
  // row and rounded up to whole buckets. 0 = off. When both are set, the first reached wins.
  double first_seconds = 0;
};

struct DriftMonitorOptions {
  double window_seconds = 3600;
  double bucket_seconds = 60;
  // History kept for SetReferenceFromWindow; 0 = window_seconds. Must be >= window_seconds.
  double retention_seconds = 0;
  SketchOptions sketches;
  CompareOptions compare;
  AutoReference auto_reference;
  // Rows buffered per shard before they are sketched.
  size_t batch_rows = 256;
  // 0 = twice the hardware threads, clamped to [4, 64].
  size_t shards = 0;
  // Full batches waiting for the monitor's worker thread; beyond this they are dropped (and
  // counted) instead of slowing the request path.
  size_t max_queued_batches = 64;
  // Evidently's dataset drift: at least this share of evaluated features drifted.
  double drift_share = 0.5;
};

// Builds a reference profile from rows given in code (training data). Not thread-safe.
class ReferenceBuilder {
 public:
  ReferenceBuilder(FeatureList features, const SketchOptions& options) : profile_(std::move(features), options) {}
  // kInvalidArgument when the row's length differs from the number of features.
  Status Add(std::span<const FeatureValue> row) { return profile_.AddRow(row); }
  Status Add(std::initializer_list<FeatureValue> row) { return Add(std::span<const FeatureValue>(row.begin(), row.size())); }
  uint64_t rows() const { return profile_.rows(); }
  const Profile& profile() const { return profile_; }
  Profile Finish() && { return std::move(profile_); }

 private:
  Profile profile_;
};

// A reference profile as the bytes DriftMonitor::LoadReference reads, for references made
// outside a monitor (a training command writes one next to the model version it trains).
// `source` says where it came from ("training data"); reports show it as reference_source.
std::string SerializeReferenceProfile(const Profile& profile, std::string_view source);

class DriftMonitor {
 public:
  // kInvalidArgument for bad features (ValidateFeatures), an empty model name, or options that
  // cannot work (bucket or window not positive, retention < window, more than 100,000
  // retained buckets, batch_rows 0 or above 65536, shards above 1024, drift_share outside
  // [0, 1]).
  // `registry` (may be null) must outlive the monitor.
  static Result<std::unique_ptr<DriftMonitor>> Create(std::string model, std::vector<FeatureSpec> features,
                                                      DriftMonitorOptions options = {},
                                                      Registry* registry = nullptr);
  ~DriftMonitor();
  DriftMonitor(const DriftMonitor&) = delete;
  DriftMonitor& operator=(const DriftMonitor&) = delete;

  const std::string& model() const { return model_; }
  const std::vector<FeatureSpec>& features() const { return *features_; }
  // Position of a feature in a row; -1 when there is none of that name.
  int FeatureIndex(std::string_view name) const;

  // Records one observation: one value per feature, in features() order, at `unix_seconds`.
  // A row of the wrong length or a timestamp that is not finite (or beyond +-1e15) is dropped
  // and counted. Hot path: see
  // the header comment for what it costs.
  void Record(std::span<const FeatureValue> row, double unix_seconds);
  void Record(std::initializer_list<FeatureValue> row, double unix_seconds) {
    Record(std::span<const FeatureValue>(row.begin(), row.size()), unix_seconds);
  }
  // At the current wall-clock time.
  void Record(std::span<const FeatureValue> row);
  void Record(std::initializer_list<FeatureValue> row) {
    Record(std::span<const FeatureValue>(row.begin(), row.size()));
  }

  ReferenceBuilder NewReferenceBuilder() const { return ReferenceBuilder(features_, options_.sketches); }
  // (a) Installs a reference built from rows; kInvalidArgument when it profiles other
  // features. Replaces any reference and stops an automatic one still being collected.
  // With a finite `window_from_unix_seconds`, the current window restarts after that moment
  // (from the next bucket): observations from before it are not compared with this reference
  // (a reference rebuilt for new models must not judge the old models' rows).
  Status SetReference(Profile reference, double window_from_unix_seconds = std::numeric_limits<double>::quiet_NaN());
  // (b) The recorded observations in [start, end) (whole buckets) become the reference.
  // kInvalidArgument when end <= start; kFailedPrecondition when the range begins before the
  // retained history or holds no observations.
  Status SetReferenceFromWindow(double start_unix_seconds, double end_unix_seconds);
  bool has_reference() const;
  // The reference as bytes to keep next to the model version; empty when there is none.
  std::string SerializeReference() const;
  // (d) kDataLoss for damaged bytes, kInvalidArgument for a reference of other features. The
  // report's reference_source is the one stored in the bytes.
  Status LoadReference(std::string_view bytes);

  // Sketches every buffered row, then compares the current window ending at `now` with the
  // reference and, with a registry, updates the drift gauges. A non-finite `now` means now.
  DriftReport Evaluate(double now_unix_seconds);
  DriftReport Evaluate();
  // Replaces every feature's thresholds from the next evaluation on (a configuration reload).
  void SetThresholds(const DriftThresholds& thresholds);

  // The report of the latest Evaluate (a copy; cheap enough for GET /v1/monitor/drift to
  // serve without re-evaluating); before the first one, a report with no features.
  DriftReport LastReport() const;

  // Removes this monitor's series from the registry and stops exporting them (a monitor being
  // retired, e.g. of a model version no longer served). Call before a monitor of the same
  // name is created: that one's series then start afresh. Waits for a running Evaluate.
  void RetireMetrics();

 private:
  struct Column;
  struct Batch;
  struct Shard;
  struct Reference;

  DriftMonitor(std::string model, FeatureList features, DriftMonitorOptions options, Registry* registry);
  Shard& ThisThreadShard();
  void Append(Batch& batch, std::span<const FeatureValue> row);
  // Sketches rows [0, end) of `batch` into `into` (rows [0, begin) only advance cursors).
  void Fold(const Batch& batch, size_t begin, size_t end, Profile& into, const ReferenceChecks* checks) const;
  void Publish(const Batch& batch);
  // Queues a full batch for the worker (force: even beyond max_queued_batches) and may hand
  // back a drained batch for reuse in *recycled.
  void Enqueue(Batch&& batch, bool force, Batch* recycled);
  // The worker thread: publishes queued batches in order.
  void Work();
  // Queues every shard's partial batch and waits until the worker has published them.
  void FlushAll();
  // Store-mutex helpers.
  void FreezeAutoReferenceLocked(int64_t end_bucket);
  void ExpireLocked(int64_t newest_bucket);
  void InstallLocked(std::shared_ptr<const Reference> reference);
  void ExportMetrics(const DriftReport& report);
  void CountDropped(uint64_t rows);

  const std::string model_;
  const FeatureList features_;
  const DriftMonitorOptions options_;
  const int64_t window_buckets_;
  const int64_t retention_buckets_;
  const int64_t auto_buckets_;  // auto_reference.first_seconds in buckets (0: off)

  std::unique_ptr<Shard[]> shards_;
  size_t num_shards_ = 0;

  mutable std::mutex store_mu_;
  std::map<int64_t, Profile> buckets_;  // by bucket index = floor(t / bucket_seconds)
  int64_t newest_bucket_;
  std::shared_ptr<const Reference> reference_;
  std::unique_ptr<Profile> building_;  // automatic reference being collected
  int64_t building_first_bucket_;
  uint64_t dropped_rows_ = 0;
  std::atomic<uint64_t> rejected_rows_{0};
  std::atomic<uint64_t> overflow_rows_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;    // work for the worker, or stop
  std::condition_variable drained_cv_;  // published_seq_ moved
  std::list<Batch> queue_;  // a list: Batch is incomplete here
  std::vector<Batch> free_batches_;  // drained batches whose buffers are reused
  uint64_t enqueued_seq_ = 0;
  uint64_t published_seq_ = 0;
  bool stop_ = false;
  std::thread worker_;  // started at the end of the constructor

  std::mutex evaluate_mu_;
  std::optional<DriftThresholds> thresholds_;  // guarded by evaluate_mu_
  bool metrics_retired_ = false;               // guarded by evaluate_mu_
  mutable std::mutex last_mu_;
  std::shared_ptr<const DriftReport> last_report_;

  // Metrics (null without a registry).
  Registry* registry_;
  Family<Gauge>* score_family_ = nullptr;
  Family<Gauge>* detected_family_ = nullptr;
  Family<Gauge>* status_family_ = nullptr;
  Family<Counter>* quality_family_ = nullptr;
  Family<Counter>* dropped_family_ = nullptr;
  Counter* dropped_counter_ = nullptr;
  std::vector<std::array<Counter*, 4>> quality_counters_;  // per feature: missing, nan, out_of_range, unseen
};

}  // namespace shelfwatch::monitor::drift
