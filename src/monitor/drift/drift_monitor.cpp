#include "monitor/drift/drift_monitor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "common/clock.h"

namespace shelfwatch::monitor::drift {

namespace {

constexpr int64_t kNoBucket = std::numeric_limits<int64_t>::min();
// Timestamps beyond +-1e15 s (30 million years) are refused: bucket indexes stay far from
// int64 overflow, and NaN / infinity fail the same test.
constexpr double kMaxSeconds = 1e15;
constexpr uint32_t kReferenceMagic = 0x31465244;  // "DRF1"
constexpr std::array<const char*, 4> kQualityKinds = {"missing", "nan", "out_of_range", "unseen_category"};
constexpr std::array<DriftMethod, 8> kAllMethods = {
    DriftMethod::kWassersteinNormed, DriftMethod::kJensenShannon,    DriftMethod::kKolmogorovSmirnov,
    DriftMethod::kChiSquared,        DriftMethod::kPsi,              DriftMethod::kShareDriftedDims,
    DriftMethod::kCosineDistance,    DriftMethod::kEuclideanDistance};

// A process-wide slot per thread, assigned round-robin on first use: threads of one pool get
// distinct shards as long as there are at least as many shards as threads.
size_t ThreadSlot() {
  static std::atomic<size_t> next{0};
  thread_local const size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

int64_t BucketOf(double unix_seconds, double bucket_seconds) {
  return static_cast<int64_t>(std::floor(unix_seconds / bucket_seconds));
}

int64_t CeilBuckets(double seconds, double bucket_seconds) {
  return static_cast<int64_t>(std::ceil(seconds / bucket_seconds - 1e-9));
}

}  // namespace

// One feature's values in a batch, row-aligned through `present`.
struct DriftMonitor::Column {
  std::vector<uint8_t> present;
  std::vector<double> numbers;  // numeric: one per row (0 when absent)
  std::vector<uint32_t> ends;   // categorical: end offset in `bytes`, one per row
  std::string bytes;
  std::vector<float> floats;    // vector: dim floats per present row only

  void Clear() {
    present.clear();
    numbers.clear();
    ends.clear();
    bytes.clear();
    floats.clear();
  }
};

struct DriftMonitor::Batch {
  int64_t bucket = kNoBucket;
  size_t rows = 0;
  std::vector<Column> columns;

  void Reset(size_t features, int64_t new_bucket) {
    bucket = new_bucket;
    rows = 0;
    columns.resize(features);
    for (Column& c : columns) c.Clear();
  }
  // Sizes a new batch's buffers once, so appending a row never reallocates.
  void Reserve(const std::vector<FeatureSpec>& specs, size_t batch_rows) {
    for (size_t i = 0; i < specs.size(); ++i) {
      Column& c = columns[i];
      if (c.present.capacity() >= batch_rows) continue;
      c.present.reserve(batch_rows);
      switch (specs[i].kind) {
        case FeatureKind::kNumeric: c.numbers.reserve(batch_rows); break;
        case FeatureKind::kCategorical:
          c.ends.reserve(batch_rows);
          c.bytes.reserve(batch_rows * 16);
          break;
        case FeatureKind::kVector: c.floats.reserve(batch_rows * specs[i].dim); break;
      }
    }
  }
};

struct alignas(64) DriftMonitor::Shard {
  std::mutex mu;
  Batch batch;
  Batch spare;  // a drained batch whose buffers are reused
};

struct DriftMonitor::Reference {
  Reference(Profile p, std::string src, double s, double e, int64_t first_current)
      : profile(std::move(p)), checks(profile), source(std::move(src)), start(s), end(e),
        first_current_bucket(first_current) {}
  Profile profile;
  ReferenceChecks checks;  // points into `profile`; a Reference never moves (shared_ptr)
  std::string source;
  double start, end;
  int64_t first_current_bucket;  // the current window starts here (no overlap)
};

Result<std::unique_ptr<DriftMonitor>> DriftMonitor::Create(std::string model, std::vector<FeatureSpec> features,
                                                           DriftMonitorOptions options, Registry* registry) {
  if (model.empty()) return InvalidArgument("a drift monitor needs a model name");
  SW_RETURN_IF_ERROR(ValidateFeatures(features));
  const std::string where = "drift monitor '" + model + "': ";
  if (!(options.bucket_seconds > 0) || !std::isfinite(options.bucket_seconds)) {
    return InvalidArgument(where + "bucket_seconds must be positive");
  }
  if (!(options.window_seconds > 0) || !std::isfinite(options.window_seconds)) {
    return InvalidArgument(where + "window_seconds must be positive");
  }
  if (options.retention_seconds == 0) options.retention_seconds = options.window_seconds;
  if (!(options.retention_seconds >= options.window_seconds)) {
    return InvalidArgument(where + "retention_seconds must be at least window_seconds");
  }
  if (options.retention_seconds / options.bucket_seconds > 100000) {
    return InvalidArgument(where + "retention_seconds / bucket_seconds exceeds 100000 buckets");
  }
  if (options.batch_rows == 0 || options.batch_rows > 65536) {
    return InvalidArgument(where + "batch_rows must be in [1, 65536]");
  }
  if (options.shards > 1024) return InvalidArgument(where + "shards must be at most 1024");
  if (options.max_queued_batches == 0) return InvalidArgument(where + "max_queued_batches must be at least 1");
  if (!(options.drift_share >= 0 && options.drift_share <= 1)) {
    return InvalidArgument(where + "drift_share must be in [0, 1]");
  }
  if (options.auto_reference.first_seconds < 0 || std::isnan(options.auto_reference.first_seconds)) {
    return InvalidArgument(where + "auto_reference.first_seconds must be >= 0");
  }
  auto list = std::make_shared<const std::vector<FeatureSpec>>(std::move(features));
  return std::unique_ptr<DriftMonitor>(new DriftMonitor(std::move(model), std::move(list), options, registry));
}

DriftMonitor::DriftMonitor(std::string model, FeatureList features, DriftMonitorOptions options, Registry* registry)
    : model_(std::move(model)),
      features_(std::move(features)),
      options_(options),
      window_buckets_(std::max<int64_t>(1, CeilBuckets(options.window_seconds, options.bucket_seconds))),
      retention_buckets_(std::max<int64_t>(window_buckets_, CeilBuckets(options.retention_seconds, options.bucket_seconds))),
      auto_buckets_(options.auto_reference.first_seconds > 0
                        ? std::max<int64_t>(1, CeilBuckets(options.auto_reference.first_seconds, options.bucket_seconds))
                        : 0),
      newest_bucket_(kNoBucket),
      building_first_bucket_(kNoBucket),
      registry_(registry) {
  num_shards_ = options_.shards;
  if (num_shards_ == 0) {
    num_shards_ = std::clamp<size_t>(2 * static_cast<size_t>(std::thread::hardware_concurrency()), 4, 64);
  }
  shards_ = std::make_unique<Shard[]>(num_shards_);
  for (size_t i = 0; i < num_shards_; ++i) shards_[i].batch.Reset(features_->size(), kNoBucket);
  if (options_.auto_reference.first_rows > 0 || auto_buckets_ > 0) {
    building_ = std::make_unique<Profile>(features_, options_.sketches);
  }
  if (registry_ != nullptr) {
    score_family_ = &registry_->AddGauge(
        "shelfwatch_drift_score",
        "Drift score of a monitored feature at the last evaluation, by method (p-value for ks and chi_squared).",
        {"model", "feature", "method"});
    detected_family_ = &registry_->AddGauge(
        "shelfwatch_drift_detected", "1 when the feature's decision method found drift at the last evaluation.",
        {"model", "feature"});
    status_family_ = &registry_->AddGauge("shelfwatch_drift_status",
                                          "Drift status of the feature at the last evaluation: 0 ok, 1 warn, 2 alert.",
                                          {"model", "feature"});
    quality_family_ = &registry_->AddCounter(
        "shelfwatch_data_quality_violations_total",
        "Recorded values that were missing, NaN, outside the reference range, or of a category the reference never saw.",
        {"model", "feature", "kind"});
    for (const FeatureSpec& f : *features_) {
      std::array<Counter*, 4> row{};
      for (size_t k = 0; k < kQualityKinds.size(); ++k) {
        row[k] = &quality_family_->WithLabels({model_, f.name, kQualityKinds[k]});
      }
      quality_counters_.push_back(row);
    }
    dropped_family_ = &registry_->AddCounter("shelfwatch_drift_dropped_rows_total",
                                             "Rows a drift monitor could not use: wrong length, bad timestamp, too old.",
                                             {"model"});
    dropped_counter_ = &dropped_family_->WithLabels({model_});
  }
  worker_ = std::thread([this] { Work(); });
}

DriftMonitor::~DriftMonitor() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  worker_.join();
}

void DriftMonitor::RetireMetrics() {
  std::lock_guard<std::mutex> lock(evaluate_mu_);  // no evaluation exports them meanwhile
  if (registry_ == nullptr || metrics_retired_) return;
  metrics_retired_ = true;
  for (const FeatureSpec& f : *features_) {
    detected_family_->Remove({model_, f.name});
    status_family_->Remove({model_, f.name});
    for (DriftMethod m : kAllMethods) score_family_->Remove({model_, f.name, std::string(DriftMethodName(m))});
    for (std::string_view kind : kQualityKinds) quality_family_->Remove({model_, f.name, std::string(kind)});
  }
  dropped_family_->Remove({model_});
}

int DriftMonitor::FeatureIndex(std::string_view name) const {
  for (size_t i = 0; i < features_->size(); ++i) {
    if ((*features_)[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

DriftMonitor::Shard& DriftMonitor::ThisThreadShard() { return shards_[ThreadSlot() % num_shards_]; }

void DriftMonitor::CountDropped(uint64_t rows) {
  if (dropped_counter_ != nullptr) dropped_counter_->Inc(rows);
}

void DriftMonitor::Append(Batch& batch, std::span<const FeatureValue> row) {
  for (size_t i = 0; i < row.size(); ++i) {
    const FeatureSpec& spec = (*features_)[i];
    const FeatureValue& v = row[i];
    Column& c = batch.columns[i];
    switch (spec.kind) {
      case FeatureKind::kNumeric: {
        const bool ok = v.type() == FeatureValue::Type::kNumber;
        c.present.push_back(ok);
        c.numbers.push_back(ok ? v.number() : 0);
        break;
      }
      case FeatureKind::kCategorical: {
        const bool ok = v.type() == FeatureValue::Type::kCategory;
        c.present.push_back(ok);
        if (ok) c.bytes.append(FrequentItemsSketch::Truncate(v.category()));
        c.ends.push_back(static_cast<uint32_t>(c.bytes.size()));
        break;
      }
      case FeatureKind::kVector: {
        const bool ok = v.type() == FeatureValue::Type::kVector && v.vector().size() == spec.dim;
        c.present.push_back(ok);
        if (ok) c.floats.insert(c.floats.end(), v.vector().begin(), v.vector().end());
        break;
      }
    }
  }
  ++batch.rows;
}

void DriftMonitor::Record(std::span<const FeatureValue> row) { Record(row, UnixSeconds()); }

void DriftMonitor::Record(std::span<const FeatureValue> row, double unix_seconds) {
  if (row.size() != features_->size() || !(std::abs(unix_seconds) < kMaxSeconds)) {
    rejected_rows_.fetch_add(1, std::memory_order_relaxed);
    CountDropped(1);
    return;
  }
  const int64_t bucket = BucketOf(unix_seconds, options_.bucket_seconds);
  Shard& shard = ThisThreadShard();
  Batch full[2];
  int n_full = 0;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    // A batch holds one bucket: a row of another bucket sends the batch on first.
    if (shard.batch.rows > 0 && shard.batch.bucket != bucket) {
      full[n_full++] = std::move(shard.batch);
      shard.batch = std::move(shard.spare);
      shard.batch.Reset(features_->size(), kNoBucket);
    }
    if (shard.batch.rows == 0) {
      shard.batch.bucket = bucket;
      shard.batch.Reserve(*features_, options_.batch_rows);
    }
    Append(shard.batch, row);
    if (shard.batch.rows >= options_.batch_rows) {
      full[n_full++] = std::move(shard.batch);
      shard.batch = std::move(shard.spare);
      shard.batch.Reset(features_->size(), kNoBucket);
    }
  }
  if (n_full == 0) return;
  // Once per batch: hand it to the worker and take back a drained one for reuse.
  Batch recycled;
  for (int i = 0; i < n_full; ++i) Enqueue(std::move(full[i]), /*force=*/false, &recycled);
  if (recycled.columns.empty()) return;
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.spare.columns.empty()) shard.spare = std::move(recycled);
}

void DriftMonitor::Enqueue(Batch&& batch, bool force, Batch* recycled) {
  uint64_t overflow = 0;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!force && queue_.size() >= options_.max_queued_batches) {
      // The worker is behind: drop the batch rather than make a request wait on monitoring.
      overflow = batch.rows;
      batch.Reset(features_->size(), kNoBucket);
      *recycled = std::move(batch);
    } else {
      queue_.push_back(std::move(batch));
      ++enqueued_seq_;
      if (!free_batches_.empty() && recycled->columns.empty()) {
        *recycled = std::move(free_batches_.back());
        free_batches_.pop_back();
      }
    }
  }
  if (overflow > 0) {
    overflow_rows_.fetch_add(overflow, std::memory_order_relaxed);
    CountDropped(overflow);
  } else {
    queue_cv_.notify_one();
  }
}

void DriftMonitor::Work() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Publish(batch);
    batch.Reset(features_->size(), kNoBucket);
    lock.lock();
    ++published_seq_;
    if (free_batches_.size() < num_shards_) free_batches_.push_back(std::move(batch));
    drained_cv_.notify_all();
  }
}

void DriftMonitor::Fold(const Batch& batch, size_t begin, size_t end, Profile& into,
                        const ReferenceChecks* checks) const {
  for (size_t i = 0; i < batch.columns.size(); ++i) {
    const FeatureSpec& spec = (*features_)[i];
    const Column& c = batch.columns[i];
    size_t float_pos = 0;
    for (size_t r = 0; r < end; ++r) {
      const bool present = c.present[r] != 0;
      FeatureValue v;
      switch (spec.kind) {
        case FeatureKind::kNumeric:
          if (present) v = FeatureValue::Number(c.numbers[r]);
          break;
        case FeatureKind::kCategorical:
          if (present) {
            const uint32_t from = r == 0 ? 0 : c.ends[r - 1];
            v = FeatureValue::Category(std::string_view(c.bytes).substr(from, c.ends[r] - from));
          }
          break;
        case FeatureKind::kVector:
          if (present) {
            v = FeatureValue::Vector(std::span<const float>(c.floats.data() + float_pos, spec.dim));
            float_pos += spec.dim;
          }
          break;
      }
      if (r >= begin) into.AddValue(i, v, checks);
    }
  }
  into.AddRows(end - begin);
}

void DriftMonitor::Publish(const Batch& batch) {
  if (batch.rows == 0) return;
  std::shared_ptr<const Reference> reference;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    reference = reference_;
  }
  // Runs on the worker thread. Sketch outside the store lock (Evaluate may be merging the
  // window meanwhile). The partial's sketches hold a whole batch without compacting
  // (k >= batch_rows), so every value is compacted once, in its bucket; merging takes the
  // bucket's smaller k.
  SketchOptions batch_sketches = options_.sketches;
  const auto batch_k = static_cast<uint32_t>(std::min<size_t>(options_.batch_rows, KllSketch::kMaxK));
  batch_sketches.kll_k = std::max(batch_sketches.kll_k, batch_k);
  batch_sketches.vector_kll_k = std::max(batch_sketches.vector_kll_k, batch_k);
  Profile partial(features_, batch_sketches);
  Fold(batch, 0, batch.rows, partial, reference ? &reference->checks : nullptr);
  std::vector<DataQualityCounts> quality;
  for (size_t i = 0; i < quality_counters_.size(); ++i) quality.push_back(partial.feature(i).quality);

  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    if (building_ != nullptr && reference_ == nullptr) {
      if (building_first_bucket_ == kNoBucket) building_first_bucket_ = batch.bucket;
      const AutoReference& a = options_.auto_reference;
      bool frozen = false;
      if (auto_buckets_ > 0 && batch.bucket >= building_first_bucket_ + auto_buckets_) {
        FreezeAutoReferenceLocked(building_first_bucket_ + auto_buckets_);
        frozen = true;
      }
      if (!frozen && batch.bucket >= building_first_bucket_) {
        size_t take = batch.rows;
        if (a.first_rows > 0) take = static_cast<size_t>(std::min<uint64_t>(take, a.first_rows - building_->rows()));
        Fold(batch, 0, take, *building_, nullptr);
        if (a.first_rows > 0 && building_->rows() >= a.first_rows) FreezeAutoReferenceLocked(batch.bucket + 1);
      }
    }
    newest_bucket_ = std::max(newest_bucket_, batch.bucket);
    if (batch.bucket <= newest_bucket_ - retention_buckets_) {
      dropped_rows_ += batch.rows;
      dropped = batch.rows;
    } else {
      auto it = buckets_.find(batch.bucket);
      if (it == buckets_.end()) it = buckets_.emplace(batch.bucket, Profile(features_, options_.sketches)).first;
      (void)it->second.Merge(partial);  // same features and Bloom shape: cannot fail
    }
    ExpireLocked(newest_bucket_);
  }
  if (dropped > 0) {
    CountDropped(dropped);
    return;
  }
  for (size_t i = 0; i < quality_counters_.size(); ++i) {
    const DataQualityCounts& q = quality[i];
    const uint64_t counts[4] = {q.missing, q.nan, q.out_of_range, q.unseen_category};
    for (size_t k = 0; k < 4; ++k) {
      if (counts[k] > 0) quality_counters_[i][k]->Inc(counts[k]);
    }
  }
}

void DriftMonitor::FreezeAutoReferenceLocked(int64_t end_bucket) {
  if (building_ == nullptr) return;
  std::unique_ptr<Profile> profile = std::move(building_);
  const double b = options_.bucket_seconds;
  const std::string source = options_.auto_reference.first_rows > 0 &&
                                     profile->rows() >= options_.auto_reference.first_rows
                                 ? "first_rows"
                                 : "first_seconds";
  InstallLocked(std::make_shared<const Reference>(std::move(*profile), source,
                                                  static_cast<double>(building_first_bucket_) * b,
                                                  static_cast<double>(end_bucket) * b, end_bucket));
}

void DriftMonitor::ExpireLocked(int64_t newest_bucket) {
  if (newest_bucket == kNoBucket) return;
  const int64_t oldest_kept = newest_bucket - retention_buckets_ + 1;
  buckets_.erase(buckets_.begin(), buckets_.lower_bound(oldest_kept));
}

void DriftMonitor::InstallLocked(std::shared_ptr<const Reference> reference) {
  reference_ = std::move(reference);
  building_.reset();
}

void DriftMonitor::FlushAll() {
  for (size_t i = 0; i < num_shards_; ++i) {
    Shard& shard = shards_[i];
    Batch taken;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      if (shard.batch.rows == 0) continue;
      taken = std::move(shard.batch);
      shard.batch = std::move(shard.spare);
      shard.batch.Reset(features_->size(), kNoBucket);
    }
    Batch recycled;
    Enqueue(std::move(taken), /*force=*/true, &recycled);
  }
  // Wait for what is queued now, not for rows recorded meanwhile (that could be forever).
  std::unique_lock<std::mutex> lock(queue_mu_);
  const uint64_t target = enqueued_seq_;
  drained_cv_.wait(lock, [&] { return published_seq_ >= target; });
}

Status DriftMonitor::SetReference(Profile reference, double window_from_unix_seconds) {
  const auto& theirs = reference.specs();
  if (theirs.size() != features_->size()) {
    return InvalidArgument("the reference profiles " + std::to_string(theirs.size()) + " features, monitor '" + model_ +
                           "' has " + std::to_string(features_->size()));
  }
  for (size_t i = 0; i < theirs.size(); ++i) {
    const FeatureSpec& mine = (*features_)[i];
    if (theirs[i].name != mine.name || theirs[i].kind != mine.kind || theirs[i].dim != mine.dim) {
      return InvalidArgument("reference feature " + std::to_string(i) + " is '" + theirs[i].name +
                             "', monitor '" + model_ + "' expects '" + mine.name + "' of the same kind and dim");
    }
  }
  const int64_t first_current = std::isfinite(window_from_unix_seconds)
                                    ? BucketOf(window_from_unix_seconds, options_.bucket_seconds) + 1
                                    : kNoBucket;
  auto ref = std::make_shared<const Reference>(std::move(reference), "rows", kNaN, kNaN, first_current);
  std::lock_guard<std::mutex> lock(store_mu_);
  InstallLocked(std::move(ref));
  return Status::Ok();
}

Status DriftMonitor::SetReferenceFromWindow(double start, double end) {
  if (!(std::abs(start) < kMaxSeconds) || !(std::abs(end) < kMaxSeconds) || !(end > start)) {
    return InvalidArgument("a reference window needs start < end, both Unix seconds");
  }
  FlushAll();
  const int64_t first = BucketOf(start, options_.bucket_seconds);
  const int64_t last = CeilBuckets(end, options_.bucket_seconds);  // exclusive
  std::lock_guard<std::mutex> lock(store_mu_);
  if (newest_bucket_ == kNoBucket) return FailedPrecondition("nothing has been recorded yet");
  const int64_t oldest_kept = newest_bucket_ - retention_buckets_ + 1;
  if (first < oldest_kept) {
    return FailedPrecondition("the reference window starts before the retained history (retention_seconds = " +
                              std::to_string(options_.retention_seconds) + "); raise retention_seconds");
  }
  Profile profile(features_, options_.sketches);
  for (auto it = buckets_.lower_bound(first); it != buckets_.end() && it->first < last; ++it) {
    (void)profile.Merge(it->second);
  }
  if (profile.rows() == 0) return FailedPrecondition("no observations were recorded in the reference window");
  const double b = options_.bucket_seconds;
  InstallLocked(std::make_shared<const Reference>(std::move(profile), "window", static_cast<double>(first) * b,
                                                  static_cast<double>(last) * b, last));
  return Status::Ok();
}

bool DriftMonitor::has_reference() const {
  std::lock_guard<std::mutex> lock(store_mu_);
  return reference_ != nullptr;
}

std::string DriftMonitor::SerializeReference() const {
  std::shared_ptr<const Reference> ref;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    ref = reference_;
  }
  if (ref == nullptr) return {};
  std::string out;
  ByteWriter w(&out);
  w.U32(kReferenceMagic);
  w.Bytes(ref->source);
  w.F64(ref->start);
  w.F64(ref->end);
  w.Bytes(ref->profile.Serialize());
  return out;
}

Status DriftMonitor::LoadReference(std::string_view bytes) {
  ByteReader r(bytes);
  uint32_t magic = 0;
  std::string_view source, profile_bytes;
  double start = 0, end = 0;
  if (!r.U32(&magic) || magic != kReferenceMagic) {
    return Status(ErrorCode::kDataLoss, "not a drift reference (bad magic)");
  }
  if (!r.Bytes(&source) || !r.F64(&start) || !r.F64(&end) || !r.Bytes(&profile_bytes) || r.remaining() != 0) {
    return Status(ErrorCode::kDataLoss, "drift reference: truncated or trailing bytes");
  }
  auto profile = Profile::Deserialize(profile_bytes, features_);
  if (!profile.ok()) return profile.status();
  auto ref = std::make_shared<const Reference>(std::move(*profile), std::string(source.empty() ? "bytes" : source), start,
                                               end, kNoBucket);
  std::lock_guard<std::mutex> lock(store_mu_);
  InstallLocked(std::move(ref));
  return Status::Ok();
}

std::string SerializeReferenceProfile(const Profile& profile, std::string_view source) {
  std::string out;
  ByteWriter w(&out);
  w.U32(kReferenceMagic);
  w.Bytes(source);
  w.F64(std::numeric_limits<double>::quiet_NaN());  // not a time range of recorded traffic
  w.F64(std::numeric_limits<double>::quiet_NaN());
  w.Bytes(profile.Serialize());
  return out;
}

DriftReport DriftMonitor::Evaluate() { return Evaluate(UnixSeconds()); }

DriftReport DriftMonitor::LastReport() const {
  std::lock_guard<std::mutex> lock(last_mu_);
  if (last_report_ != nullptr) return *last_report_;
  DriftReport none;
  none.model = model_;
  none.drift_share = options_.drift_share;
  return none;
}

DriftReport DriftMonitor::Evaluate(double now) {
  std::lock_guard<std::mutex> evaluate_lock(evaluate_mu_);
  if (!(std::abs(now) < kMaxSeconds)) now = UnixSeconds();
  FlushAll();
  const double b = options_.bucket_seconds;
  const int64_t now_bucket = BucketOf(now, b);
  DriftReport report;
  report.model = model_;
  report.evaluated_at = now;
  report.drift_share = options_.drift_share;
  Profile current(features_, options_.sketches);
  std::shared_ptr<const Reference> ref;
  int64_t first = now_bucket - window_buckets_ + 1;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    if (building_ != nullptr && reference_ == nullptr && auto_buckets_ > 0 && building_first_bucket_ != kNoBucket &&
        now_bucket >= building_first_bucket_ + auto_buckets_) {
      FreezeAutoReferenceLocked(building_first_bucket_ + auto_buckets_);
    }
    ref = reference_;
    if (ref != nullptr) first = std::max(first, ref->first_current_bucket);
    for (auto it = buckets_.lower_bound(first); it != buckets_.end() && it->first <= now_bucket; ++it) {
      (void)current.Merge(it->second);
    }
    report.dropped_rows = dropped_rows_ + rejected_rows_.load(std::memory_order_relaxed) +
                          overflow_rows_.load(std::memory_order_relaxed);
  }
  report.window_start = static_cast<double>(first) * b;
  report.window_end = now;
  report.current_rows = current.rows();
  report.has_reference = ref != nullptr;
  if (ref != nullptr) {
    report.reference_source = ref->source;
    report.reference_start = ref->start;
    report.reference_end = ref->end;
    report.reference_rows = ref->profile.rows();
  }
  size_t evaluated = 0;
  for (size_t i = 0; i < features_->size(); ++i) {
    const FeatureSpec& spec = (*features_)[i];
    if (ref != nullptr) {
      if (thresholds_) {
        // Thresholds set after creation (a configuration reload) replace the features' own.
        FeatureSpec adjusted = spec;
        adjusted.thresholds = *thresholds_;
        report.features.push_back(CompareFeature(adjusted, ref->profile.feature(i), current.feature(i), options_.compare));
      } else {
        report.features.push_back(CompareFeature(spec, ref->profile.feature(i), current.feature(i), options_.compare));
      }
    } else {
      FeatureDrift f;
      f.feature = spec.name;
      f.kind = spec.kind;
      f.dim = spec.dim;
      f.quality = current.feature(i).quality;
      f.current_count = current.feature(i).count();
      f.note = "no reference profile yet";
      report.features.push_back(std::move(f));
    }
    const FeatureDrift& f = report.features.back();
    evaluated += f.evaluated ? 1 : 0;
    report.drifted_features += f.drifted ? 1 : 0;
  }
  report.dataset_drift = evaluated > 0 && static_cast<double>(report.drifted_features) >=
                                              options_.drift_share * static_cast<double>(evaluated);
  ExportMetrics(report);
  auto last = std::make_shared<const DriftReport>(report);
  {
    std::lock_guard<std::mutex> lock(last_mu_);
    last_report_ = std::move(last);
  }
  return report;
}

void DriftMonitor::ExportMetrics(const DriftReport& report) {
  if (registry_ == nullptr || metrics_retired_) return;  // evaluate_mu_ is held
  for (const FeatureDrift& f : report.features) {
    detected_family_->WithLabels({model_, f.feature}).Set(f.drifted ? 1 : 0);
    status_family_->WithLabels({model_, f.feature}).Set(static_cast<double>(f.status));
    for (DriftMethod m : kAllMethods) {
      const MethodResult* r = f.Find(m);
      std::vector<std::string> labels = {model_, f.feature, std::string(DriftMethodName(m))};
      if (r != nullptr && !std::isnan(r->score)) {
        score_family_->WithLabels(labels).Set(r->score);
      } else {
        score_family_->Remove(labels);
      }
    }
  }
}

void DriftMonitor::SetThresholds(const DriftThresholds& thresholds) {
  std::lock_guard<std::mutex> lock(evaluate_mu_);
  thresholds_ = thresholds;
}

}  // namespace shelfwatch::monitor::drift
