#include "alert/transition_log.h"

#include <simdjson.h>

#include <cmath>

#include "common/json_writer.h"
#include "feedback/sqlite_db.h"

namespace shelfwatch::alert {
namespace sql = feedback::sql;

namespace {

constexpr sql::WalFile kFile = {
    "alert history", "NORMAL",
    "CREATE TABLE IF NOT EXISTS transitions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, grp TEXT NOT NULL,"
    " alertname TEXT NOT NULL, labels TEXT NOT NULL, from_state TEXT NOT NULL,"
    " to_state TEXT NOT NULL, value REAL);",
    1};

std::string LabelsJson(const monitor::LabelSet& labels) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  for (const auto& [k, v] : labels.labels()) w.Key(k).String(v);
  w.EndObject();
  return out;
}

bool ParseLabelsJson(std::string_view text, monitor::LabelSet* labels) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(text.data(), text.size()).get_object().get(obj) != simdjson::SUCCESS) return false;
  std::vector<monitor::Label> out;
  for (auto field : obj) {
    std::string_view v;
    if (field.value.get_string().get(v) != simdjson::SUCCESS) return false;
    out.emplace_back(std::string(field.key), std::string(v));
  }
  *labels = monitor::LabelSet(std::move(out));
  return true;
}

}  // namespace

struct TransitionLog::Db {
  sql::Database db;
  sql::Statement insert;
};

TransitionLog::TransitionLog(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
TransitionLog::~TransitionLog() = default;

Status TransitionLog::Open(const std::string& path) {
  auto db = sql::OpenWalForWriting(path, kFile);
  if (!db.ok()) return db.status();
  auto d = std::make_unique<Db>();
  d->db = std::move(db).value();
  auto insert = sql::Statement::Prepare(
      d->db, "INSERT INTO transitions (time_ms, grp, alertname, labels, from_state, to_state, value)"
             " VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  d->insert = std::move(insert).value();

  auto select = sql::Statement::Prepare(
      d->db, "SELECT time_ms, grp, alertname, labels, from_state, to_state, value FROM transitions"
             " ORDER BY id DESC LIMIT " + std::to_string(capacity_));
  if (!select.ok()) return select.status();
  std::deque<Transition> loaded;
  int rc;
  while ((rc = select->Step()) == SQLITE_ROW) {
    Transition t;
    t.time_ms = select->ColumnInt(0);
    t.group = std::string(select->ColumnText(1));
    t.alertname = std::string(select->ColumnText(2));
    if (!ParseLabelsJson(select->ColumnText(3), &t.labels)) {
      return Status(ErrorCode::kDataLoss, "alert history " + path + ": a row's labels are not a JSON object");
    }
    t.from = std::string(select->ColumnText(4));
    t.to = std::string(select->ColumnText(5));
    t.value = select->IsNull(6) ? std::nan("") : select->ColumnDouble(6);
    loaded.push_front(std::move(t));
  }
  if (rc != SQLITE_DONE) return d->db.Error(rc, "reading alert history");
  std::lock_guard<std::mutex> lock(mu_);
  // Rows already in memory (recorded before Open) stay, newer than the loaded ones.
  for (auto& t : ring_) loaded.push_back(std::move(t));
  while (loaded.size() > capacity_) loaded.pop_front();
  ring_ = std::move(loaded);
  db_ = std::move(d);
  return Status::Ok();
}

Status TransitionLog::Record(const Transition& t) {
  std::lock_guard<std::mutex> lock(mu_);
  ring_.push_back(t);
  if (ring_.size() > capacity_) ring_.pop_front();
  if (!db_) return Status::Ok();
  const std::string labels = LabelsJson(t.labels);
  sql::Statement& s = db_->insert;
  s.Reset();
  s.BindInt(1, t.time_ms);
  s.BindText(2, t.group);
  s.BindText(3, t.alertname);
  s.BindText(4, labels);
  s.BindText(5, t.from);
  s.BindText(6, t.to);
  if (std::isnan(t.value)) {
    s.BindNull(7);
  } else {
    s.BindDouble(7, t.value);
  }
  const int rc = s.Step();
  s.Reset();
  if (rc != SQLITE_DONE) return db_->db.Error(rc, "writing alert history");
  // Trim to the capacity now and then, not on every insert.
  if (++writes_since_trim_ >= 64) {
    writes_since_trim_ = 0;
    SW_RETURN_IF_ERROR(db_->db.Exec("DELETE FROM transitions WHERE id <= (SELECT max(id) FROM transitions) - " +
                                    std::to_string(capacity_)));
  }
  return Status::Ok();
}

std::vector<Transition> TransitionLog::Recent(size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Transition> out;
  for (auto it = ring_.rbegin(); it != ring_.rend() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

}  // namespace shelfwatch::alert
