#include "feedback/served_log.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "common/clock.h"
#include "common/log.h"
#include "feedback/batch_writer.h"
#include "feedback/served_codec.h"
#include "feedback/sqlite_db.h"

namespace shelfwatch::feedback {

int32_t ServedRequestInfo::RankOf(std::string_view item_id) const {
  for (size_t i = 0; i < item_ids.size(); ++i) {
    if (item_ids[i] == item_id) return static_cast<int32_t>(i + 1);
  }
  return 0;
}

namespace {

constexpr int kSchemaVersion = 1;
constexpr size_t kShards = 16;
constexpr int64_t kAgeChunk = 5000;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS served (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL UNIQUE,
  time_ms INTEGER NOT NULL,
  catalog TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  query TEXT NOT NULL,
  variant TEXT NOT NULL,
  model_versions TEXT NOT NULL,
  total_hits INTEGER NOT NULL,
  items BLOB NOT NULL,
  scores BLOB NOT NULL,
  features BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS served_time ON served(time_ms);
)sql";

constexpr std::string_view kInsert =
    "INSERT OR REPLACE INTO served (request_id, time_ms, catalog, endpoint, query, variant, model_versions, "
    "total_hits, items, scores, features) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr std::string_view kLookup =
    "SELECT request_id, time_ms, catalog, endpoint, variant, items FROM served WHERE request_id = ?1";
constexpr std::string_view kDeleteOlder =
    "DELETE FROM served WHERE id IN (SELECT id FROM served WHERE time_ms < ?1 LIMIT ?2)";
constexpr std::string_view kDeleteOldest =
    "DELETE FROM served WHERE id IN (SELECT id FROM served ORDER BY id LIMIT ?1)";

// The part of a record that only the writer needs; the attribution facts stay shared with
// the index.
struct PendingRow {
  std::shared_ptr<const ServedRequestInfo> info;
  std::string query;
  std::string model_versions;
  std::vector<float> scores;
  std::vector<std::vector<float>> features;
  uint64_t total_hits = 0;
};

struct alignas(64) IndexShard {
  std::mutex mu;
  // Keys view the entry's own request_id, which lives as long as the mapped pointer.
  std::unordered_map<std::string_view, std::shared_ptr<const ServedRequestInfo>> map;
  std::deque<std::shared_ptr<const ServedRequestInfo>> fifo;
  // Newest UUIDv7 time among entries this shard has evicted (or that predate this process):
  // a newer UUIDv7 that misses was never recorded.
  int64_t evicted_up_to_ms = 0;
  bool evicted_other_ids = false;  // evicted an id that is not a UUIDv7: misses are not final
};

}  // namespace

class ServedRequestLog::Impl {
 public:
  explicit Impl(ServedLogOptions options) : options_(std::move(options)) {
    if (!options_.now_ms) options_.now_ms = [] { return UnixMillis(); };
    shard_capacity_ = std::max<size_t>(1, (options_.index_capacity + kShards - 1) / kShards);
  }

  Status Init() {
    if (options_.path.empty()) return Status::Ok();
    // NORMAL: consistent after any crash; a power cut may lose the last batches, which a log of
    // served requests can afford (events, which cannot, use FULL).
    auto db = sql::OpenWalForWriting(
        options_.path,
        {.what = "served-request log", .synchronous = "NORMAL", .schema = kSchema, .schema_version = kSchemaVersion});
    if (!db.ok()) return db.status();
    write_db_ = std::move(db).value();
    auto page_size = write_db_.QueryInt("PRAGMA page_size");
    if (!page_size.ok()) return page_size.status();
    page_size_ = std::max<int64_t>(*page_size, 512);
    const int64_t wal_pages = std::max<int64_t>(16, static_cast<int64_t>(options_.wal_bytes) / page_size_);
    SW_RETURN_IF_ERROR(write_db_.Exec("PRAGMA wal_autocheckpoint = " + std::to_string(wal_pages)));
    SW_RETURN_IF_ERROR(write_db_.Exec("PRAGMA journal_size_limit = " + std::to_string(options_.wal_bytes)));
    for (auto [stmt, text] : {std::pair{&insert_, kInsert}, std::pair{&delete_older_, kDeleteOlder},
                              std::pair{&delete_oldest_, kDeleteOldest}}) {
      auto prepared = sql::Statement::Prepare(write_db_, text);
      if (!prepared.ok()) return prepared.status();
      *stmt = std::move(prepared).value();
    }
    auto rows = write_db_.QueryInt("SELECT count(*) FROM served");
    if (!rows.ok()) return rows.status();
    row_count_ = *rows;
    SW_RETURN_IF_ERROR(NoteEarlierRecords());

    auto read = sql::OpenForReading(options_.path);
    if (!read.ok()) return read.status();
    read_db_ = std::move(read).value();
    auto lookup = sql::Statement::Prepare(read_db_, kLookup);
    if (!lookup.ok()) return lookup.status();
    lookup_ = std::move(lookup).value();

    writer_ = std::make_unique<BatchWriter<PendingRow>>(
        BatchWriter<PendingRow>::Hooks{[this](std::vector<PendingRow>& work) { WriteBatch(work); },
                                       [this] { return Retain(); }},
        options_.max_age_ms > 0 ? std::max<int64_t>(options_.retention_interval_ms, 1) : 0,
        // Attribution reads the in-memory index, so rows may reach the file a little later:
        // lingering 100 ms turns thousands of tiny commits a second into ten large ones.
        /*linger_ms=*/100);
    return Status::Ok();
  }

  // The writer goes first: it writes what is queued while the connections still exist.
  ~Impl() { writer_.reset(); }

  bool Sampled(uint64_t hash) const {
    if (options_.sample_rate >= 1.0) return true;
    if (options_.sample_rate <= 0.0) return false;
    // The top 53 bits as a fraction in [0, 1); the shard uses the low bits.
    return static_cast<double>(hash >> 11) * 0x1p-53 < options_.sample_rate;
  }

  void Record(ServedRequest&& r) {
    recorded_.fetch_add(1, std::memory_order_relaxed);
    const int64_t now = options_.now_ms();
    if (r.time_ms == 0) r.time_ms = now;
    auto info = std::make_shared<ServedRequestInfo>();
    info->request_id = std::move(r.request_id);
    info->time_ms = r.time_ms;
    info->catalog = std::move(r.catalog);
    info->endpoint = std::move(r.endpoint);
    info->variant = std::move(r.variant);
    info->item_ids = std::move(r.item_ids);
    const uint64_t hash = codec::StableHash(info->request_id);
    Insert(hash, info, now);

    if (!writer_) return;
    if (!Sampled(hash)) {
      sampled_out_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    PendingRow row{std::move(info),     std::move(r.query),    std::move(r.model_versions),
                   std::move(r.scores), std::move(r.features), r.total_hits};
    if (writer_->Push(std::move(row), 1, options_.max_queue) != BatchWriter<PendingRow>::PushResult::kQueued) {
      dropped_.fetch_add(1, std::memory_order_relaxed);  // `row` is freed after the queue's lock
    }
  }

  std::shared_ptr<const ServedRequestInfo> Lookup(std::string_view request_id) const {
    const uint64_t hash = codec::StableHash(request_id);
    IndexShard& shard = shards_[hash % kShards];
    int64_t evicted_up_to;
    bool evicted_other;
    {
      std::lock_guard lk(shard.mu);
      auto it = shard.map.find(request_id);
      if (it != shard.map.end()) {
        index_hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second;
      }
      evicted_up_to = shard.evicted_up_to_ms;
      evicted_other = shard.evicted_other_ids;
    }
    if (!writer_ || !Sampled(hash)) return Miss();
    const int64_t id_ms = codec::UuidV7Millis(request_id);
    if (id_ms > evicted_up_to && !evicted_other) return Miss();
    file_lookups_.fetch_add(1, std::memory_order_relaxed);
    auto found = LookupFile(request_id);
    if (!found) return Miss();
    file_hits_.fetch_add(1, std::memory_order_relaxed);
    return found;
  }

  void Flush() {
    if (writer_) writer_->Flush();
  }

  Result<uint64_t> EnforceRetention() {
    if (!writer_) return uint64_t{0};
    return writer_->MaintainNow();
  }

  Stats stats() const {
    Stats s;
    s.recorded = recorded_.load(std::memory_order_relaxed);
    s.sampled_out = sampled_out_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.written = written_.load(std::memory_order_relaxed);
    s.write_failures = write_failures_.load(std::memory_order_relaxed);
    s.retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
    s.index_hits = index_hits_.load(std::memory_order_relaxed);
    s.file_lookups = file_lookups_.load(std::memory_order_relaxed);
    s.file_hits = file_hits_.load(std::memory_order_relaxed);
    s.misses = misses_.load(std::memory_order_relaxed);
    for (auto& shard : shards_) {
      std::lock_guard lk(shard.mu);
      s.index_size += shard.map.size();
    }
    return s;
  }

  const std::string& path() const { return options_.path; }

 private:
  std::shared_ptr<const ServedRequestInfo> Miss() const {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }

  void Insert(uint64_t hash, const std::shared_ptr<const ServedRequestInfo>& info, int64_t now) {
    IndexShard& shard = shards_[hash % kShards];
    std::shared_ptr<const ServedRequestInfo> evicted;  // released after the lock
    std::lock_guard lk(shard.mu);
    auto [it, inserted] = shard.map.try_emplace(info->request_id, info);
    if (!inserted) {
      // The same id recorded again: the newer record wins; its key must view its own string.
      shard.map.erase(it);
      shard.map.emplace(info->request_id, info);
    }
    shard.fifo.push_back(info);
    const int64_t oldest_kept = now - options_.index_max_age_ms;
    while (!shard.fifo.empty() && (shard.fifo.size() > shard_capacity_ || shard.fifo.front()->time_ms < oldest_kept)) {
      const auto& old = shard.fifo.front();
      auto found = shard.map.find(old->request_id);
      if (found != shard.map.end() && found->second == old) shard.map.erase(found);
      const int64_t id_ms = codec::UuidV7Millis(old->request_id);
      if (id_ms < 0) {
        shard.evicted_other_ids = true;
      } else {
        shard.evicted_up_to_ms = std::max(shard.evicted_up_to_ms, id_ms);
      }
      shard.fifo.pop_front();
    }
  }

  std::shared_ptr<const ServedRequestInfo> LookupFile(std::string_view request_id) const {
    std::lock_guard lk(read_mu_);
    lookup_.BindText(1, request_id);
    std::shared_ptr<ServedRequestInfo> info;
    const int rc = lookup_.Step();
    if (rc == SQLITE_ROW) {
      info = std::make_shared<ServedRequestInfo>();
      info->request_id.assign(lookup_.ColumnText(0));
      info->time_ms = lookup_.ColumnInt(1);
      info->catalog.assign(lookup_.ColumnText(2));
      info->endpoint.assign(lookup_.ColumnText(3));
      info->variant.assign(lookup_.ColumnText(4));
      if (!codec::DecodeStrings(lookup_.ColumnBlob(5), &info->item_ids)) info->item_ids.clear();
    } else if (rc != SQLITE_DONE) {
      log::Warn("served-request lookup failed", {{"error", read_db_.Error(rc, "lookup").ToString()}});
    }
    lookup_.Reset();
    return info;
  }

  // Requests written by earlier processes are in the file but not in the index: count them as
  // evicted. Lower-case UUIDv7 text sorts by time, so the newest is the greatest id that starts
  // with a hex digit -- one probe of the request_id index.
  Status NoteEarlierRecords() {
    auto newest = write_db_.QueryText(
        "SELECT coalesce(max(request_id), '') FROM served WHERE request_id >= '0' AND request_id < 'g'");
    if (!newest.ok()) return newest.status();
    int64_t ms = codec::UuidV7Millis(*newest);
    if (ms < 0 && !newest->empty()) ms = UnixMillis();  // not a UUIDv7 after all: assume anything up to now
    for (auto& shard : shards_) shard.evicted_up_to_ms = std::max<int64_t>(ms, 0);
    return Status::Ok();
  }

  void WriteBatch(std::vector<PendingRow>& work) {
    std::string items, scores, features;
    Status s = sql::InTransaction(write_db_, [&] {
      for (const PendingRow& row : work) {
        const ServedRequestInfo& info = *row.info;
        codec::EncodeStrings(info.item_ids, &items);
        codec::EncodeFloats(row.scores, &scores);
        codec::EncodeFloatRows(row.features, &features);
        insert_.BindText(1, info.request_id);
        insert_.BindInt(2, info.time_ms);
        insert_.BindText(3, info.catalog);
        insert_.BindText(4, info.endpoint);
        insert_.BindText(5, row.query);
        insert_.BindText(6, info.variant);
        insert_.BindText(7, row.model_versions);
        insert_.BindInt(8, static_cast<int64_t>(std::min<uint64_t>(row.total_hits, INT64_MAX)));
        insert_.BindBlob(9, items);
        insert_.BindBlob(10, scores);
        insert_.BindBlob(11, features);
        const int rc = insert_.Step();
        insert_.Reset();
        if (rc != SQLITE_DONE) return write_db_.Error(rc, "cannot insert served request");
      }
      return Status::Ok();
    });
    if (s.ok()) {
      written_.fetch_add(work.size(), std::memory_order_relaxed);
      row_count_ += static_cast<int64_t>(work.size());
    } else {
      write_failures_.fetch_add(work.size(), std::memory_order_relaxed);
      log::Error("served-log write failed",
                 {{"path", options_.path}, {"rows", std::to_string(work.size())}, {"error", s.ToString()}});
    }
    uint64_t deleted = 0;
    s = EnforceSize(&deleted);
    if (!s.ok()) log::Warn("served-log size retention failed", {{"error", s.ToString()}});
  }

  // Age, then size: what the periodic pass and EnforceRetention() run.
  Result<uint64_t> Retain() {
    uint64_t deleted = 0;
    Status s = DeleteOlder(&deleted);
    if (s.ok()) s = EnforceSize(&deleted);
    if (!s.ok()) {
      log::Warn("served-log retention failed", {{"error", s.ToString()}});
      return s;
    }
    return deleted;
  }

  Status DeleteOlder(uint64_t* deleted) {
    if (options_.max_age_ms <= 0) return Status::Ok();
    const int64_t cutoff = options_.now_ms() - options_.max_age_ms;
    for (;;) {
      delete_older_.BindInt(1, cutoff);
      delete_older_.BindInt(2, kAgeChunk);
      const int rc = delete_older_.Step();
      delete_older_.Reset();
      if (rc != SQLITE_DONE) return write_db_.Error(rc, "cannot delete old served requests");
      const int64_t n = sqlite3_changes(write_db_.get());
      Deleted(n, deleted);
      if (n < kAgeChunk) return Status::Ok();
    }
  }

  Result<int64_t> UsedBytes() {
    auto pages = write_db_.QueryInt("PRAGMA page_count");
    if (!pages.ok()) return pages.status();
    auto free_pages = write_db_.QueryInt("PRAGMA freelist_count");
    if (!free_pages.ok()) return free_pages.status();
    return (*pages - *free_pages) * page_size_;
  }

  // Deletes the oldest rows while the pages in use exceed max_bytes, down to 90% of it, so a
  // log at its bound deletes once per ~10% of new data rather than on every batch.
  Status EnforceSize(uint64_t* deleted) {
    if (options_.max_bytes == 0) return Status::Ok();
    auto used = UsedBytes();
    if (!used.ok()) return used.status();
    const auto max = static_cast<int64_t>(options_.max_bytes);
    if (*used <= max) return Status::Ok();
    const int64_t target = max / 10 * 9;
    for (int round = 0; round < 64 && *used > target; ++round) {
      if (row_count_ <= 0) {
        auto rows = write_db_.QueryInt("SELECT count(*) FROM served");
        if (!rows.ok()) return rows.status();
        row_count_ = *rows;
        if (row_count_ == 0) break;
      }
      // Rows in proportion to the excess, assuming rows of average size.
      const double excess = static_cast<double>(*used - target) / static_cast<double>(*used);
      const auto k = std::max<int64_t>(1, static_cast<int64_t>(excess * static_cast<double>(row_count_)) + 1);
      delete_oldest_.BindInt(1, k);
      const int rc = delete_oldest_.Step();
      delete_oldest_.Reset();
      if (rc != SQLITE_DONE) return write_db_.Error(rc, "cannot delete oldest served requests");
      Deleted(sqlite3_changes(write_db_.get()), deleted);
      used = UsedBytes();
      if (!used.ok()) return used.status();
    }
    return Status::Ok();
  }

  void Deleted(int64_t n, uint64_t* total) {
    row_count_ -= n;
    retention_deleted_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    if (total) *total += static_cast<uint64_t>(n);
  }

  ServedLogOptions options_;
  size_t shard_capacity_ = 1;
  mutable std::array<IndexShard, kShards> shards_;

  sql::Database write_db_;
  sql::Statement insert_, delete_older_, delete_oldest_;
  int64_t page_size_ = 4096;
  int64_t row_count_ = 0;  // writer thread only

  mutable std::mutex read_mu_;
  sql::Database read_db_;
  mutable sql::Statement lookup_;

  std::atomic<uint64_t> recorded_{0}, sampled_out_{0}, dropped_{0}, written_{0}, write_failures_{0},
      retention_deleted_{0};
  mutable std::atomic<uint64_t> index_hits_{0}, file_lookups_{0}, file_hits_{0}, misses_{0};

  std::unique_ptr<BatchWriter<PendingRow>> writer_;  // null when the log has no file
};

Result<std::unique_ptr<ServedRequestLog>> ServedRequestLog::Open(ServedLogOptions options) {
  if (!(options.sample_rate >= 0.0 && options.sample_rate <= 1.0)) {
    return InvalidArgument("served-log sample_rate must be between 0 and 1");
  }
  if (options.max_queue == 0) return InvalidArgument("served-log max_queue must be at least 1");
  // A record evicted from the index before the writer stored it would be unfindable for a while.
  options.index_capacity = std::max(options.index_capacity, options.max_queue);
  auto impl = std::make_unique<Impl>(std::move(options));
  SW_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<ServedRequestLog>(new ServedRequestLog(std::move(impl)));
}

ServedRequestLog::ServedRequestLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServedRequestLog::~ServedRequestLog() = default;

void ServedRequestLog::Record(ServedRequest&& request) { impl_->Record(std::move(request)); }
std::shared_ptr<const ServedRequestInfo> ServedRequestLog::Lookup(std::string_view request_id) const {
  return impl_->Lookup(request_id);
}
bool ServedRequestLog::Sampled(std::string_view request_id) const {
  return impl_->Sampled(codec::StableHash(request_id));
}
void ServedRequestLog::Flush() { impl_->Flush(); }
Result<uint64_t> ServedRequestLog::EnforceRetention() { return impl_->EnforceRetention(); }
ServedRequestLog::Stats ServedRequestLog::stats() const { return impl_->stats(); }
const std::string& ServedRequestLog::path() const { return impl_->path(); }

}  // namespace shelfwatch::feedback
