#include "alert/silences.h"

#include <simdjson.h>

#include <algorithm>
#include <random>

#include "common/json_writer.h"
#include "feedback/sqlite_db.h"
#include "monitor/metrics.h"

namespace shelfwatch::alert {
namespace {

// A random UUID (version 4), like Alertmanager's silence ids.
std::string NewId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

monitor::MatchOp OpOf(const SilenceMatcher& m) {
  if (m.is_regex) return m.is_equal ? monitor::MatchOp::kRegexMatch : monitor::MatchOp::kRegexNoMatch;
  return m.is_equal ? monitor::MatchOp::kEqual : monitor::MatchOp::kNotEqual;
}

namespace sql = feedback::sql;

constexpr sql::WalFile kFile = {
    "silence store", "FULL",
    "CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL,"
    " starts_at_ms INTEGER NOT NULL, ends_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,"
    " created_by TEXT NOT NULL, comment TEXT NOT NULL);",
    1};

std::string MatchersJson(const std::vector<SilenceMatcher>& matchers) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const auto& m : matchers) {
    w.BeginObject().Key("name").String(m.name).Key("value").String(m.value);
    w.Key("isRegex").Bool(m.is_regex).Key("isEqual").Bool(m.is_equal).EndObject();
  }
  w.EndArray();
  return out;
}

bool ParseMatchersJson(std::string_view text, std::vector<SilenceMatcher>* out) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(text.data(), text.size()).get_array().get(arr) != simdjson::SUCCESS) return false;
  for (auto e : arr) {
    SilenceMatcher m;
    std::string_view name, value;
    if (e["name"].get_string().get(name) != simdjson::SUCCESS || e["value"].get_string().get(value) != simdjson::SUCCESS ||
        e["isRegex"].get_bool().get(m.is_regex) != simdjson::SUCCESS ||
        e["isEqual"].get_bool().get(m.is_equal) != simdjson::SUCCESS) {
      return false;
    }
    m.name = std::string(name);
    m.value = std::string(value);
    out->push_back(std::move(m));
  }
  return true;
}

Result<std::vector<monitor::LabelMatcher>> Compile(const std::vector<SilenceMatcher>& matchers) {
  std::vector<monitor::LabelMatcher> compiled;
  for (const SilenceMatcher& m : matchers) {
    if (!monitor::IsValidLabelName(m.name) && m.name != "__name__") {
      return InvalidArgument("invalid label name \"" + m.name + "\" in silence matcher");
    }
    auto lm = monitor::LabelMatcher::Make(OpOf(m), m.name, m.value);
    if (!lm.ok()) return InvalidArgument("silence matcher " + m.name + ": " + lm.status().message());
    compiled.push_back(std::move(lm).value());
  }
  return compiled;
}

}  // namespace

struct SilenceStore::Db {
  sql::Database db;
};

SilenceStore::SilenceStore(int64_t retention_ms, size_t max_silences)
    : retention_ms_(retention_ms), max_silences_(max_silences) {}
SilenceStore::~SilenceStore() = default;

Status SilenceStore::Open(const std::string& path) {
  auto opened = sql::OpenWalForWriting(path, kFile);
  if (!opened.ok()) return opened.status();
  auto db = std::make_unique<Db>();
  db->db = std::move(opened).value();
  auto select = sql::Statement::Prepare(
      db->db, "SELECT id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, comment FROM silences"
              " ORDER BY updated_at_ms");
  if (!select.ok()) return select.status();
  std::vector<Entry> loaded;
  int rc;
  while ((rc = select->Step()) == SQLITE_ROW) {
    Entry e;
    e.silence.id = std::string(select->ColumnText(0));
    if (!ParseMatchersJson(select->ColumnText(1), &e.silence.matchers)) {
      return Status(ErrorCode::kDataLoss, "silence store " + path + ": silence " + e.silence.id + " has unreadable matchers");
    }
    e.silence.starts_at_ms = select->ColumnInt(2);
    e.silence.ends_at_ms = select->ColumnInt(3);
    e.silence.updated_at_ms = select->ColumnInt(4);
    e.silence.created_by = std::string(select->ColumnText(5));
    e.silence.comment = std::string(select->ColumnText(6));
    auto compiled = Compile(e.silence.matchers);
    if (!compiled.ok()) return Status(ErrorCode::kDataLoss, "silence store " + path + ": " + compiled.status().message());
    e.compiled = std::move(compiled).value();
    loaded.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return db->db.Error(rc, "reading silences");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& e : entries_) loaded.push_back(std::move(e));
  entries_ = std::move(loaded);
  db_ = std::move(db);
  for (const auto& e : entries_) SW_RETURN_IF_ERROR(Persist(e.silence));
  return Status::Ok();
}

Status SilenceStore::Persist(const Silence& s) {
  if (!db_) return Status::Ok();
  auto stmt = sql::Statement::Prepare(
      db_->db, "INSERT OR REPLACE INTO silences (id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by,"
               " comment) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  const std::string matchers = MatchersJson(s.matchers);
  stmt->BindText(1, s.id);
  stmt->BindText(2, matchers);
  stmt->BindInt(3, s.starts_at_ms);
  stmt->BindInt(4, s.ends_at_ms);
  stmt->BindInt(5, s.updated_at_ms);
  stmt->BindText(6, s.created_by);
  stmt->BindText(7, s.comment);
  const int rc = stmt->Step();
  if (rc != SQLITE_DONE) return db_->db.Error(rc, "writing a silence");
  return Status::Ok();
}

std::string_view SilenceStateName(SilenceState state) {
  switch (state) {
    case SilenceState::kPending: return "pending";
    case SilenceState::kActive: return "active";
    case SilenceState::kExpired: return "expired";
  }
  return "expired";
}

SilenceState StateAt(const Silence& s, int64_t now_ms) {
  if (now_ms >= s.ends_at_ms) return SilenceState::kExpired;
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  return SilenceState::kActive;
}

void SilenceStore::DropOld(int64_t now_ms) {
  std::erase_if(entries_, [&](const Entry& e) { return e.silence.ends_at_ms + retention_ms_ < now_ms; });
  if (db_) {
    // Best effort: a row left behind is dropped again at the next load.
    (void)db_->db.Exec("DELETE FROM silences WHERE ends_at_ms + " + std::to_string(retention_ms_) + " < " +
                       std::to_string(now_ms));
  }
}

Result<std::string> SilenceStore::Add(Silence silence, int64_t now_ms) {
  if (silence.matchers.empty()) return InvalidArgument("a silence needs at least one matcher");
  auto compiled = Compile(silence.matchers);
  if (!compiled.ok()) return compiled.status();
  if (std::all_of(compiled->begin(), compiled->end(), [](const auto& m) { return m.MatchesEmpty(); })) {
    return InvalidArgument("at least one matcher must not match the empty string");
  }
  if (silence.ends_at_ms <= silence.starts_at_ms) return InvalidArgument("endsAt must be after startsAt");
  if (silence.ends_at_ms <= now_ms) return InvalidArgument("endsAt is in the past");
  silence.updated_at_ms = now_ms;

  std::lock_guard<std::mutex> lock(mu_);
  DropOld(now_ms);
  if (!silence.id.empty()) {
    for (Entry& e : entries_) {
      if (e.silence.id != silence.id) continue;
      if (StateAt(e.silence, now_ms) == SilenceState::kExpired) {
        return FailedPrecondition("silence " + silence.id + " is expired and cannot be updated");
      }
      SW_RETURN_IF_ERROR(Persist(silence));
      e.silence = std::move(silence);
      e.compiled = std::move(compiled).value();
      return e.silence.id;
    }
    return NotFound("no silence with id " + silence.id);
  }
  if (entries_.size() >= max_silences_) {
    return Status(ErrorCode::kResourceExhausted, "too many silences (" + std::to_string(max_silences_) + ")");
  }
  silence.id = NewId();
  SW_RETURN_IF_ERROR(Persist(silence));
  entries_.push_back({std::move(silence), std::move(compiled).value()});
  return entries_.back().silence.id;
}

Status SilenceStore::Expire(std::string_view id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Entry& e : entries_) {
    if (e.silence.id != id) continue;
    if (StateAt(e.silence, now_ms) == SilenceState::kExpired) {
      return FailedPrecondition("silence " + std::string(id) + " is already expired");
    }
    // A pending silence ends before it starts, like Alertmanager's expire of a pending one.
    Silence ended = e.silence;
    if (ended.starts_at_ms > now_ms) ended.starts_at_ms = now_ms;
    ended.ends_at_ms = now_ms;
    ended.updated_at_ms = now_ms;
    SW_RETURN_IF_ERROR(Persist(ended));
    e.silence = std::move(ended);
    return Status::Ok();
  }
  return NotFound("no silence with id " + std::string(id));
}

std::vector<Silence> SilenceStore::List(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  DropOld(now_ms);
  std::vector<Silence> out;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) out.push_back(it->silence);
  return out;
}

bool SilenceStore::IsSilenced(const monitor::LabelSet& labels, int64_t t_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (StateAt(e.silence, t_ms) != SilenceState::kActive) continue;
    if (monitor::MatchesAll(labels, e.compiled)) return true;
  }
  return false;
}

}  // namespace shelfwatch::alert
