// Silences, as Alertmanager defines them (https://prometheus.io/docs/alerting/latest/alertmanager/#silences):
// label matchers (=, !=, =~, !~; regexes fully anchored), a time window, who and why. An alert
// matched by an active silence still shows in /v1/alerts (marked "silenced") but is not sent
// to any notifier.
//
// Validation follows Alertmanager's API v2: at least one matcher, valid label names, regexes
// that compile, endsAt after startsAt and not in the past, and not every matcher matching the
// empty string (a silence that would mute every alert). Expired silences are kept for
// `retention_ms` (Alertmanager's default 120 h) so they can be listed, then dropped; at most
// `max_silences` are held.
//
// Persistence (optional): Open(path) keeps silences in an SQLite file (table `silences`, WAL,
// synchronous=FULL: an acknowledged silence survives a crash) and loads them back, so a
// restart during maintenance does not page anyone.
//
// Thread-safety: all methods are safe to call concurrently (one mutex).
// Cost: IsSilenced is O(silences x matchers) (silences are few); Add/Expire write one row
// when persisted.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "monitor/history/labels.h"

namespace shelfwatch::alert {

struct SilenceMatcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;
};

struct Silence {
  std::string id;  // assigned by Add
  std::vector<SilenceMatcher> matchers;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;
};

enum class SilenceState { kPending, kActive, kExpired };
std::string_view SilenceStateName(SilenceState state);  // "pending" | "active" | "expired"
SilenceState StateAt(const Silence& s, int64_t now_ms);

class SilenceStore {
 public:
  explicit SilenceStore(int64_t retention_ms = 120LL * 3600 * 1000, size_t max_silences = 10'000);
  ~SilenceStore();
  SilenceStore(const SilenceStore&) = delete;
  SilenceStore& operator=(const SilenceStore&) = delete;

  // Opens (creating) the SQLite file and loads the silences it holds. IoError / DataLoss for
  // a file that cannot be used.
  Status Open(const std::string& path);

  // Validates and stores; returns the new id. A silence whose id names an existing,
  // unexpired silence replaces it (Alertmanager's update). InvalidArgument / NotFound /
  // ResourceExhausted otherwise.
  Result<std::string> Add(Silence silence, int64_t now_ms);
  // Ends the silence now. NotFound for an unknown id; FailedPrecondition if already expired.
  Status Expire(std::string_view id, int64_t now_ms);
  // Every silence held, newest first.
  std::vector<Silence> List(int64_t now_ms);
  // Whether an active silence matches `labels` at t.
  bool IsSilenced(const monitor::LabelSet& labels, int64_t t_ms) const;

 private:
  struct Entry {
    Silence silence;
    std::vector<monitor::LabelMatcher> compiled;
  };
  struct Db;
  void DropOld(int64_t now_ms);
  // Writes (or replaces) the silence's row when persisted.
  Status Persist(const Silence& s);

  const int64_t retention_ms_;
  const size_t max_silences_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // oldest first
  std::unique_ptr<Db> db_;
};

}  // namespace shelfwatch::alert
