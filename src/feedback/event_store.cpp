#include "feedback/event_store.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "common/clock.h"
#include "common/log.h"
#include "feedback/batch_writer.h"
#include "feedback/sqlite_db.h"

namespace shelfwatch::feedback {

namespace {

constexpr int kSchemaVersion = 1;
constexpr int64_t kRetentionChunk = 5000;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  received_ms INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  request_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  session_id TEXT,
  position INTEGER,
  value REAL,
  currency TEXT,
  quantity INTEGER,
  attributed INTEGER NOT NULL,
  catalog TEXT,
  endpoint TEXT,
  variant TEXT
);
-- No index on request_id: events name random recent requests, so such an index dirties a page
-- per event and cost ingest ~3x its throughput; the training export indexes what it joins.
DROP INDEX IF EXISTS events_request_id;
CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ms);
)sql";

constexpr std::string_view kInsert =
    "INSERT INTO events (received_ms, ts_ms, type, request_id, item_id, user_id, session_id, position, value, "
    "currency, quantity, attributed, catalog, endpoint, variant) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
    "?11, ?12, ?13, ?14, ?15)";

constexpr std::string_view kDeleteOld =
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_ms < ?1 LIMIT ?2)";

constexpr std::string_view kCount =
    "SELECT type, attributed, count(*) FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2 AND (?3 IS NULL OR type = ?3) "
    "GROUP BY type, attributed";

constexpr std::string_view kSelect =
    "SELECT id, received_ms, ts_ms, type, request_id, item_id, user_id, session_id, position, value, currency, "
    "quantity, attributed, catalog, endpoint, variant FROM events "
    "WHERE ts_ms >= ?1 AND ts_ms < ?2 AND (?3 IS NULL OR type = ?3) ORDER BY ts_ms, id";

void BindFilter(sql::Statement& stmt, const EventFilter& filter) {
  stmt.BindInt(1, filter.since_ms);
  stmt.BindInt(2, filter.until_ms);
  if (filter.type) {
    stmt.BindText(3, EventTypeName(*filter.type));
  } else {
    stmt.BindNull(3);
  }
}

}  // namespace

class EventStore::Impl {
 public:
  explicit Impl(EventStoreOptions options) : options_(std::move(options)) {
    if (!options_.now_ms) options_.now_ms = [] { return UnixMillis(); };
  }

  Status Init() {
    // FULL: the WAL is synced at every commit, so a commit that returned is on disk.
    auto db = sql::OpenWalForWriting(
        options_.path,
        {.what = "event store", .synchronous = "FULL", .schema = kSchema, .schema_version = kSchemaVersion});
    if (!db.ok()) return db.status();
    write_db_ = std::move(db).value();
    // Keep the WAL file from staying at its high-water mark after checkpoints.
    SW_RETURN_IF_ERROR(write_db_.Exec("PRAGMA journal_size_limit = 67108864"));
    auto insert = sql::Statement::Prepare(write_db_, kInsert);
    if (!insert.ok()) return insert.status();
    insert_ = std::move(insert).value();
    auto del = sql::Statement::Prepare(write_db_, kDeleteOld);
    if (!del.ok()) return del.status();
    delete_old_ = std::move(del).value();

    auto read = sql::OpenForReading(options_.path);
    if (!read.ok()) return read.status();
    read_db_ = std::move(read).value();
    auto count = sql::Statement::Prepare(read_db_, kCount);
    if (!count.ok()) return count.status();
    count_ = std::move(count).value();

    writer_ = std::make_unique<BatchWriter<Pending>>(
        BatchWriter<Pending>::Hooks{[this](std::vector<Pending>& work) { CommitGroup(work); },
                                    [this] { return DeleteOld(); }},
        options_.max_age_ms > 0 ? std::max<int64_t>(options_.retention_interval_ms, 1) : 0);
    return Status::Ok();
  }

  // The writer goes first: it commits what is queued while the connections still exist.
  ~Impl() { writer_.reset(); }

  Status Append(std::vector<Event>&& batch, DurableCallback on_durable) {
    const size_t n = batch.size();
    Pending pending{std::move(batch), std::move(on_durable)};
    const auto pushed = writer_->Push(std::move(pending), n, options_.max_queued_events);
    if (pushed == BatchWriter<Pending>::PushResult::kQueued) {
      appended_events_.fetch_add(n, std::memory_order_relaxed);
      return Status::Ok();
    }
    batch = std::move(pending.events);  // refused: the caller keeps its events
    if (pushed == BatchWriter<Pending>::PushResult::kClosed) {
      return Unavailable("event store " + options_.path + " is closing");
    }
    rejected_batches_.fetch_add(1, std::memory_order_relaxed);
    return Status(ErrorCode::kResourceExhausted, "event store queue is full (" +
                                                     std::to_string(writer_->queued_weight()) +
                                                     " events waiting for disk); retry after a short pause");
  }

  void Flush() { writer_->Flush(); }
  Result<uint64_t> EnforceRetention() { return writer_->MaintainNow(); }

  Result<EventCounts> Count(const EventFilter& filter) const {
    std::lock_guard lk(read_mu_);
    count_.Reset();
    BindFilter(count_, filter);
    EventCounts counts;
    int rc;
    while ((rc = count_.Step()) == SQLITE_ROW) {
      const auto type = ParseEventType(count_.ColumnText(0));
      const auto n = static_cast<uint64_t>(count_.ColumnInt(2));
      counts.total += n;
      if (type) counts.by_type[static_cast<int>(*type)] += n;
      if (count_.ColumnInt(1) != 0) counts.attributed += n;
    }
    count_.Reset();
    if (rc != SQLITE_DONE) return read_db_.Error(rc, "cannot count events");
    return counts;
  }

  Status ForEach(const EventFilter& filter, const std::function<bool(const StoredEvent&)>& fn) const {
    // Its own connection: a long export neither blocks Count() nor may deadlock if fn reads.
    auto db = sql::OpenForReading(options_.path);
    if (!db.ok()) return db.status();
    auto stmt = sql::Statement::Prepare(*db, kSelect);
    if (!stmt.ok()) return stmt.status();
    BindFilter(*stmt, filter);
    StoredEvent row;
    int rc;
    while ((rc = stmt->Step()) == SQLITE_ROW) {
      Event& e = row.event;
      row.id = stmt->ColumnInt(0);
      e.received_ms = stmt->ColumnInt(1);
      e.timestamp_ms = stmt->ColumnInt(2);
      e.type = ParseEventType(stmt->ColumnText(3)).value_or(EventType::kImpression);
      e.request_id.assign(stmt->ColumnText(4));
      e.item_id.assign(stmt->ColumnText(5));
      e.user_id.assign(stmt->ColumnText(6));
      e.session_id.assign(stmt->ColumnText(7));
      e.position = static_cast<int32_t>(stmt->ColumnInt(8));
      e.value = stmt->IsNull(9) ? std::nullopt : std::optional<double>(stmt->ColumnDouble(9));
      e.currency.assign(stmt->ColumnText(10));
      e.quantity = static_cast<int32_t>(stmt->ColumnInt(11));
      e.attributed = stmt->ColumnInt(12) != 0;
      e.catalog.assign(stmt->ColumnText(13));
      e.endpoint.assign(stmt->ColumnText(14));
      e.variant.assign(stmt->ColumnText(15));
      if (!fn(row)) return Status::Ok();
    }
    if (rc != SQLITE_DONE) return db->Error(rc, "cannot read events");
    return Status::Ok();
  }

  Stats stats() const {
    Stats s;
    s.appended_events = appended_events_.load(std::memory_order_relaxed);
    s.durable_events = durable_events_.load(std::memory_order_relaxed);
    s.failed_events = failed_events_.load(std::memory_order_relaxed);
    s.transactions = transactions_.load(std::memory_order_relaxed);
    s.rejected_batches = rejected_batches_.load(std::memory_order_relaxed);
    s.retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
    s.queued_events = writer_->queued_weight();
    return s;
  }

  const std::string& path() const { return options_.path; }

 private:
  struct Pending {
    std::vector<Event> events;
    DurableCallback on_durable;
  };

  // One transaction for every batch in `work`; then every batch's callback, in order.
  void CommitGroup(std::vector<Pending>& work) {
    size_t events = 0;
    for (const auto& p : work) events += p.events.size();
    Status s = sql::InTransaction(write_db_, [&] {
      for (const auto& p : work) {
        for (const auto& e : p.events) SW_RETURN_IF_ERROR(InsertOne(e));
      }
      return Status::Ok();
    });
    transactions_.fetch_add(1, std::memory_order_relaxed);
    if (s.ok()) {
      durable_events_.fetch_add(events, std::memory_order_relaxed);
    } else {
      failed_events_.fetch_add(events, std::memory_order_relaxed);
      log::Error("event commit failed",
                 {{"path", options_.path}, {"events", std::to_string(events)}, {"error", s.ToString()}});
    }
    for (auto& p : work) {
      if (p.on_durable) p.on_durable(s);
    }
  }

  Status InsertOne(const Event& e) {
    sql::Statement& st = insert_;
    st.BindInt(1, e.received_ms);
    st.BindInt(2, e.timestamp_ms);
    st.BindText(3, EventTypeName(e.type));
    st.BindText(4, e.request_id);
    st.BindText(5, e.item_id);
    st.BindText(6, e.user_id);
    st.BindTextOrNull(7, e.session_id);
    st.BindPositiveOrNull(8, e.position);
    st.BindDoubleOrNull(9, e.value);
    st.BindTextOrNull(10, e.currency);
    st.BindPositiveOrNull(11, e.quantity);
    st.BindInt(12, e.attributed ? 1 : 0);
    st.BindTextOrNull(13, e.catalog);
    st.BindTextOrNull(14, e.endpoint);
    st.BindTextOrNull(15, e.variant);
    const int rc = st.Step();
    st.Reset();
    if (rc != SQLITE_DONE) return write_db_.Error(rc, "cannot insert event");
    return Status::Ok();
  }

  // Deletes in chunks; commits waiting appends between chunks so ingest is not held up.
  Result<uint64_t> DeleteOld() {
    if (options_.max_age_ms <= 0) return uint64_t{0};
    const int64_t cutoff = options_.now_ms() - options_.max_age_ms;
    uint64_t deleted = 0;
    for (;;) {
      delete_old_.BindInt(1, cutoff);
      delete_old_.BindInt(2, kRetentionChunk);
      const int rc = delete_old_.Step();
      delete_old_.Reset();
      if (rc != SQLITE_DONE) {
        Status s = write_db_.Error(rc, "cannot delete old events");
        log::Warn("event retention failed", {{"error", s.ToString()}});
        return s;
      }
      const auto n = static_cast<uint64_t>(sqlite3_changes(write_db_.get()));
      deleted += n;
      retention_deleted_.fetch_add(n, std::memory_order_relaxed);
      if (n < static_cast<uint64_t>(kRetentionChunk)) return deleted;
      writer_->WriteQueued();
    }
  }

  EventStoreOptions options_;
  sql::Database write_db_;
  sql::Statement insert_;
  sql::Statement delete_old_;

  mutable std::mutex read_mu_;
  sql::Database read_db_;
  mutable sql::Statement count_;

  std::atomic<uint64_t> appended_events_{0};
  std::atomic<uint64_t> durable_events_{0};
  std::atomic<uint64_t> failed_events_{0};
  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> rejected_batches_{0};
  std::atomic<uint64_t> retention_deleted_{0};

  std::unique_ptr<BatchWriter<Pending>> writer_;
};

Result<std::unique_ptr<EventStore>> EventStore::Open(EventStoreOptions options) {
  if (options.path.empty()) return InvalidArgument("event store path is empty");
  auto impl = std::make_unique<Impl>(std::move(options));
  SW_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() = default;

Status EventStore::Append(std::vector<Event>&& batch, DurableCallback on_durable) {
  return impl_->Append(std::move(batch), std::move(on_durable));
}
void EventStore::Flush() { impl_->Flush(); }
Result<uint64_t> EventStore::EnforceRetention() { return impl_->EnforceRetention(); }
Result<EventCounts> EventStore::Count(const EventFilter& filter) const { return impl_->Count(filter); }
Status EventStore::ForEach(const EventFilter& filter, const std::function<bool(const StoredEvent&)>& fn) const {
  return impl_->ForEach(filter, fn);
}
EventStore::Stats EventStore::stats() const { return impl_->stats(); }
const std::string& EventStore::path() const { return impl_->path(); }

}  // namespace shelfwatch::feedback
