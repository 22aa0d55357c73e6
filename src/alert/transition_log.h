// TransitionLog: the history of alert state changes (inactive -> pending -> firing ->
// resolved), newest first, for GET /v1/alerts/history and for post-incident reading.
//
// Kept in a bounded in-memory ring (`capacity` newest transitions). Optionally persisted in an
// SQLite file (WAL, synchronous=NORMAL: a crash may lose the last transitions, never corrupt
// the file), trimmed to the same capacity, and read back by Open() so history survives
// restarts. The SQLite helpers are the feedback module's (feedback/sqlite_db.h), reused rather
// than copied.
//
// Thread-safety: all methods are safe to call concurrently (one mutex).
// Cost: Record is O(1) in memory plus one small SQLite insert when persisted (transitions are
// rare: a few per alert incident); Recent is O(limit).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "monitor/history/labels.h"

namespace shelfwatch::alert {

struct Transition {
  int64_t time_ms = 0;
  std::string group;
  std::string alertname;
  monitor::LabelSet labels;  // the alert's labels (alertname included)
  std::string from;          // "inactive" | "pending" | "firing"
  std::string to;            // "pending" | "firing" | "resolved" | "inactive"
  double value = 0;
};

class TransitionLog {
 public:
  explicit TransitionLog(size_t capacity = 1000);
  ~TransitionLog();
  TransitionLog(const TransitionLog&) = delete;
  TransitionLog& operator=(const TransitionLog&) = delete;

  // Opens (creating) the SQLite file and loads its newest `capacity` transitions into memory.
  // IoError / DataLoss for a file that cannot be used.
  Status Open(const std::string& path);

  // Keeps `t`; with a file, also writes it (an error is returned, the ring is still updated).
  Status Record(const Transition& t);
  // Newest first, at most `limit`.
  std::vector<Transition> Recent(size_t limit) const;
  size_t capacity() const { return capacity_; }

 private:
  struct Db;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Transition> ring_;  // oldest first
  std::unique_ptr<Db> db_;
  int64_t writes_since_trim_ = 0;
};

}  // namespace shelfwatch::alert
