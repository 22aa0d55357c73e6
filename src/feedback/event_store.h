// EventStore: the durable store of feedback events, one SQLite file in WAL mode.
//
// Durable before acknowledged: Append() only queues; one writer thread takes everything queued,
// writes it in one transaction and commits with synchronous=FULL, under which SQLite syncs
// the WAL at every commit (sqlite.org/pragma.html#pragma_synchronous), and only then calls the
// batches' on_durable callbacks. The HTTP layer answers 2xx from that callback, so an
// acknowledged event survives a crash of the process (and of the machine, as far as fsync
// reaches the disk). Group commit: concurrent appends share one commit and one fsync, which is
// what lets the store keep up with many small batches.
//
// Reopening after a crash needs nothing special: Open() runs SQLite's WAL recovery.
// One EventStore per file; other processes may read the file (WAL readers never block the
// writer), e.g. `sqlite3 events.db 'select type, count(*) from events group by type'`.
//
// Table `events`: id INTEGER PRIMARY KEY (insertion order), received_ms, ts_ms, type (wire
// name), request_id, item_id, user_id, session_id, position, value, currency, quantity
// (NULL when not sent), attributed (0/1), catalog, endpoint, variant (NULL when unattributed);
// an index on ts_ms (none on request_id: see event_store.cpp).
//
// Retention: the writer deletes events whose ts_ms is older than max_age at open and every
// retention_interval, in chunks that let appends through between them.
//
// Thread-safety: every method is safe to call from any thread. Callbacks run on the writer
// thread: keep them short (hand the response to the I/O thread); they may call Append(), but
// not Flush(), EnforceRetention() or the destructor, which wait for that thread.
// Cost: Append is O(1) (one short lock; the vector is moved); the writer spends what SQLite
// spends on the same inserts, ~2.7 us of CPU per event (events_bench, quiet 2-core VM), and
// one fsync per group. Latency to the callback is bounded by max_queued_events / the writer's
// rate (~0.3 s at the default). Count() shares one read connection under a mutex; ForEach() opens its own
// connection, so a long export blocks neither Count() nor the writer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "feedback/events.h"

namespace shelfwatch::feedback {

struct EventStoreOptions {
  std::string path = {};                         // the SQLite file; created with its tables if missing
  size_t max_queued_events = 100000;             // Append answers kResourceExhausted beyond this
  int64_t max_age_ms = 90LL * 24 * 3600 * 1000;  // retention by event time; 0 keeps everything
  int64_t retention_interval_ms = 60 * 1000;
  std::function<int64_t()> now_ms = nullptr;  // clock for retention; default UnixMillis
};

struct EventFilter {
  int64_t since_ms = INT64_MIN;  // ts_ms >= since_ms
  int64_t until_ms = INT64_MAX;  // ts_ms <  until_ms
  std::optional<EventType> type = std::nullopt;
};

struct EventCounts {
  uint64_t total = 0;
  uint64_t by_type[kEventTypeCount] = {};  // indexed by EventType
  uint64_t attributed = 0;
  uint64_t unattributed() const { return total - attributed; }
};

struct StoredEvent {
  int64_t id = 0;  // insertion order
  Event event;
};

class EventStore {
 public:
  // Called once per accepted batch, from the writer thread: OK when the batch is durable, or the
  // error that made its transaction fail (kIoError for a full disk; nothing of it was stored).
  using DurableCallback = std::function<void(Status)>;

  struct Stats {
    uint64_t appended_events = 0;   // accepted by Append
    uint64_t durable_events = 0;    // committed
    uint64_t failed_events = 0;     // in transactions that failed
    uint64_t transactions = 0;      // commits attempted (one per group of batches)
    uint64_t rejected_batches = 0;  // kResourceExhausted answers
    uint64_t retention_deleted = 0;
    uint64_t queued_events = 0;  // waiting for the writer now
  };

  // Opens or creates the store and starts its writer. kIoError when the file cannot be opened
  // or created, kDataLoss when it is not an SQLite database, kFailedPrecondition when it was
  // written by a newer schema or WAL mode is unavailable (e.g. a network filesystem).
  static Result<std::unique_ptr<EventStore>> Open(EventStoreOptions options);

  // Commits everything already accepted (their callbacks run), then closes.
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Queues `batch` (moved from on success) and returns at once. OK: on_durable will be called
  // exactly once. kResourceExhausted when the queue holds max_queued_events (answer 429, retry
  // later); kUnavailable after close began. On an error `batch` is left as it was and
  // on_durable is not called. An empty batch is acknowledged on the writer's next pass.
  Status Append(std::vector<Event>&& batch, DurableCallback on_durable);

  // Waits until everything appended before the call is committed (or failed).
  void Flush();

  // Deletes events older than max_age now, on the writer thread; returns how many went.
  Result<uint64_t> EnforceRetention();

  // Committed events only. O(matching rows) via the ts_ms index.
  Result<EventCounts> Count(const EventFilter& filter = {}) const;
  // Calls fn for each committed event in (ts_ms, id) order until fn returns false.
  Status ForEach(const EventFilter& filter, const std::function<bool(const StoredEvent&)>& fn) const;

  Stats stats() const;
  const std::string& path() const;

 private:
  class Impl;
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shelfwatch::feedback
