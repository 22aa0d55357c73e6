#include "feedback/training_export.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "feedback/events.h"
#include "feedback/served_codec.h"
#include "feedback/sqlite_db.h"

namespace shelfwatch::feedback {

std::string_view LabelName(Label label) {
  switch (label) {
    case Label::kNone: return "none";
    case Label::kImpression: return "impression";
    case Label::kClick: return "click";
    case Label::kAddToCart: return "add_to_cart";
    case Label::kPurchase: return "purchase";
  }
  return "none";
}

namespace {

Label LabelOf(EventType type) {
  switch (type) {
    case EventType::kImpression: return Label::kImpression;
    case EventType::kClick: return Label::kClick;
    case EventType::kAddToCart: return Label::kAddToCart;
    case EventType::kPurchase: return Label::kPurchase;
  }
  return Label::kNone;
}

// LEFT JOIN: a request without events still yields one row (with NULL event columns). The
// outer loop walks served_time, which orders (time_ms, id) with no sort step.
constexpr std::string_view kJoin =
    "SELECT s.id, s.request_id, s.time_ms, s.catalog, s.endpoint, s.query, s.variant, s.model_versions, "
    "s.total_hits, s.items, s.scores, s.features, e.item_id, e.type "
    "FROM served AS s LEFT JOIN temp.request_events AS e ON e.request_id = s.request_id "
    "WHERE s.time_ms >= ?1 AND s.time_ms < ?2 ORDER BY s.time_ms, s.id";

Status StartRequest(const sql::Statement& row, LabeledRequest* out) {
  out->request_id.assign(row.ColumnText(1));
  out->time_ms = row.ColumnInt(2);
  out->catalog.assign(row.ColumnText(3));
  out->endpoint.assign(row.ColumnText(4));
  out->query.assign(row.ColumnText(5));
  out->variant.assign(row.ColumnText(6));
  out->model_versions.assign(row.ColumnText(7));
  out->total_hits = static_cast<uint64_t>(row.ColumnInt(8));
  out->events = 0;
  out->other_item_events = 0;
  std::vector<std::string> ids;
  std::vector<float> scores;
  std::vector<std::vector<float>> features;
  if (!codec::DecodeStrings(row.ColumnBlob(9), &ids) || !codec::DecodeFloats(row.ColumnBlob(10), &scores) ||
      !codec::DecodeFloatRows(row.ColumnBlob(11), &features)) {
    return Status(ErrorCode::kDataLoss,
                  "served request " + out->request_id + " has a damaged items/scores/features blob");
  }
  out->items.clear();
  out->items.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    LabeledItem& item = out->items[i];
    item.item_id = std::move(ids[i]);
    item.rank = static_cast<int32_t>(i + 1);
    item.score = i < scores.size() ? scores[i] : std::numeric_limits<float>::quiet_NaN();
    if (i < features.size()) item.features = std::move(features[i]);
  }
  return Status::Ok();
}

void AddEvent(const sql::Statement& row, LabeledRequest* out) {
  if (row.IsNull(12)) return;  // the LEFT JOIN's row for a request without events
  ++out->events;
  const auto type = ParseEventType(row.ColumnText(13));
  const std::string_view item_id = row.ColumnText(12);
  auto it = std::find_if(out->items.begin(), out->items.end(),
                         [&](const LabeledItem& item) { return item.item_id == item_id; });
  if (it == out->items.end() || !type) {
    ++out->other_item_events;
    return;
  }
  it->label = std::max(it->label, LabelOf(*type));
}

}  // namespace

Status ForEachLabeledRequest(const std::string& served_log_path, const std::string& event_store_path,
                             const ExportRange& range, const std::function<bool(const LabeledRequest&)>& fn) {
  auto db = sql::Database::Open(sql::FileUri(served_log_path, "mode=ro"),
                                SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  SW_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout = 5000"));
  {
    auto attach = sql::Statement::Prepare(*db, "ATTACH DATABASE ?1 AS ev");
    if (!attach.ok()) return attach.status();
    const std::string uri = sql::FileUri(event_store_path, "mode=ro");
    attach->BindText(1, uri);
    const int rc = attach->Step();
    if (rc != SQLITE_DONE) return db->Error(rc, "cannot attach event store " + event_store_path);
  }
  // The event store keeps no request_id index (it would cost ingest most of its speed: random
  // ids dirty a page per event), so the join gets its own: the events of the exported requests,
  // copied in one scan into a temporary table (the temp database is writable even on this
  // read-only connection) and indexed there.
  {
    auto copy = sql::Statement::Prepare(
        *db,
        "CREATE TEMP TABLE request_events AS SELECT request_id, item_id, type FROM ev.events "
        "WHERE request_id IN (SELECT request_id FROM served WHERE time_ms >= ?1 AND time_ms < ?2)");
    if (!copy.ok()) return copy.status();
    copy->BindInt(1, range.since_ms);
    copy->BindInt(2, range.until_ms);
    if (int rc = copy->Step(); rc != SQLITE_DONE) return db->Error(rc, "cannot read the event store");
    SW_RETURN_IF_ERROR(db->Exec("CREATE INDEX temp.request_events_id ON request_events(request_id)"));
  }
  auto stmt = sql::Statement::Prepare(*db, kJoin);
  if (!stmt.ok()) return stmt.status();
  stmt->BindInt(1, range.since_ms);
  stmt->BindInt(2, range.until_ms);

  LabeledRequest current;
  int64_t current_id = 0;
  bool have = false;
  int rc;
  while ((rc = stmt->Step()) == SQLITE_ROW) {
    const int64_t id = stmt->ColumnInt(0);
    if (!have || id != current_id) {
      if (have && !fn(current)) return Status::Ok();
      SW_RETURN_IF_ERROR(StartRequest(*stmt, &current));
      current_id = id;
      have = true;
    }
    AddEvent(*stmt, &current);
  }
  if (rc != SQLITE_DONE) return db->Error(rc, "cannot read served requests");
  if (have) fn(current);
  return Status::Ok();
}

}  // namespace shelfwatch::feedback
