#include "feedback/training_export.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "feedback/events.h"
#include "feedback/served_codec.h"
#include "feedback/served_segment.h"
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

// Where a record in range lies among the loaded segments of a group.
struct Locator {
  int64_t time_ms;
  uint32_t segment;  // index into the group
  uint32_t offset;   // of the payload
  uint32_t bytes;    // of the payload
};

Status StartRequest(const codec::ServedRecordView& v, LabeledRequest* out) {
  out->request_id.assign(v.request_id);
  out->time_ms = v.time_ms;
  out->catalog.assign(v.catalog);
  out->endpoint.assign(v.endpoint);
  out->query.assign(v.query);
  out->variant.assign(v.variant);
  out->model_versions.assign(v.model_versions);
  out->total_hits = v.total_hits;
  out->events = 0;
  out->other_item_events = 0;
  std::vector<std::string> ids;
  std::vector<float> scores;
  std::vector<std::vector<float>> features;
  if (!codec::DecodeStrings(v.items, &ids) || !codec::DecodeFloats(v.scores, &scores) ||
      !codec::DecodeFloatRows(v.features, &features)) {
    return Status(ErrorCode::kDataLoss,
                  "served request " + out->request_id + " has damaged items/scores/features");
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

void AddEvent(std::string_view item_id, std::string_view type_name, LabeledRequest* out) {
  ++out->events;
  const auto type = ParseEventType(type_name);
  auto it = std::find_if(out->items.begin(), out->items.end(),
                         [&](const LabeledItem& item) { return item.item_id == item_id; });
  if (it == out->items.end() || !type) {
    ++out->other_item_events;
    return;
  }
  it->label = std::max(it->label, LabelOf(*type));
}

// Calls fn with the bytes of each segment in turn; segments deleted meanwhile by retention are
// skipped.
Status ForEachSegment(const std::string& dir, const std::vector<uint64_t>& seqs,
                      const std::function<void(std::string&& bytes)>& fn) {
  for (uint64_t seq : seqs) {
    auto bytes = segment::ReadSegment(dir, seq);
    if (!bytes.ok() && bytes.status().code() == ErrorCode::kNotFound) continue;
    if (!bytes.ok()) return bytes.status();
    fn(std::move(bytes).value());
  }
  return Status::Ok();
}

int64_t TimeOf(std::string_view payload) {
  int64_t t;
  std::memcpy(&t, payload.data(), 8);  // ForEachFrame passes payloads of at least 16 bytes
  return t;
}

}  // namespace

Status ForEachLabeledRequest(const std::string& served_log_dir, const std::string& event_store_path,
                             const ExportRange& range, const std::function<bool(const LabeledRequest&)>& fn) {
  // `served.db` was the log's SQLite file before the log became the `served` directory: a
  // caller that still names the file reads the directory beside it.
  std::string dir = served_log_dir;
  if (dir.ends_with("/served.db") && !std::filesystem::is_directory(dir)) dir.resize(dir.size() - 3);
  auto seqs = segment::ListSegments(dir);
  if (!seqs.ok()) return seqs.status();
  auto in_range = [&](int64_t t) { return t >= range.since_ms && t < range.until_ms; };

  auto db = sql::Database::Open(sql::FileUri(event_store_path, "mode=ro"),
                                SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  SW_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout = 5000"));
  // The event store keeps no request_id index (it would cost ingest most of its speed: random
  // ids dirty a page per event), so the join gets its own: the ids in range go into a temporary
  // table (the temp database is writable even on this read-only connection), one scan of the
  // events copies theirs, and an index on the copy answers one probe per request.
  SW_RETURN_IF_ERROR(db->Exec("CREATE TEMP TABLE exported (request_id TEXT PRIMARY KEY) WITHOUT ROWID"));
  {
    auto insert = sql::Statement::Prepare(*db, "INSERT OR IGNORE INTO temp.exported VALUES (?1)");
    if (!insert.ok()) return insert.status();
    SW_RETURN_IF_ERROR(db->Exec("BEGIN"));
    int failed = SQLITE_OK;
    Status st = ForEachSegment(dir, *seqs, [&](std::string&& bytes) {
      segment::ForEachFrame(bytes, [&](size_t, std::string_view payload) {
        if (!in_range(TimeOf(payload))) return true;
        insert->BindText(1, codec::PayloadRequestId(payload));
        const int rc = insert->Step();
        insert->Reset();
        if (rc != SQLITE_DONE) failed = rc;
        return rc == SQLITE_DONE;
      });
    });
    if (st.ok() && failed != SQLITE_OK) st = db->Error(failed, "cannot collect the exported request ids");
    if (!st.ok()) {
      (void)db->Exec("ROLLBACK");
      return st;
    }
    SW_RETURN_IF_ERROR(db->Exec("COMMIT"));
  }
  if (Status st = db->Exec(
          "CREATE TEMP TABLE request_events AS SELECT request_id, item_id, type FROM main.events "
          "WHERE request_id IN (SELECT request_id FROM temp.exported)");
      !st.ok()) {
    return Status(st.code(), "cannot read the event store " + event_store_path + ": " + st.message());
  }
  SW_RETURN_IF_ERROR(db->Exec("CREATE INDEX temp.request_events_id ON request_events(request_id)"));
  auto events = sql::Statement::Prepare(*db, "SELECT item_id, type FROM temp.request_events WHERE request_id = ?1");
  if (!events.ok()) return events.status();

  // Records are in time order within a segment except for the few milliseconds one write batch
  // spans, and segments follow each other in time; a group is a run of segments whose time
  // ranges overlap, sorted as one.
  std::vector<std::string> group;
  std::vector<Locator> locators, next;
  int64_t group_max = INT64_MIN;
  bool stop = false;
  Status status = Status::Ok();
  LabeledRequest current;
  auto emit = [&]() {
    std::sort(locators.begin(), locators.end(), [](const Locator& a, const Locator& b) {
      return a.time_ms != b.time_ms ? a.time_ms < b.time_ms
                                    : a.segment != b.segment ? a.segment < b.segment : a.offset < b.offset;
    });
    for (const Locator& l : locators) {
      if (stop || !status.ok()) return;
      codec::ServedRecordView v;
      if (!codec::ParseServedPayload(std::string_view(group[l.segment]).substr(l.offset, l.bytes), &v)) {
        status = Status(ErrorCode::kDataLoss, "a damaged served-log record in " + dir);
        return;
      }
      status = StartRequest(v, &current);
      if (!status.ok()) return;
      events->BindText(1, v.request_id);
      int rc;
      while ((rc = events->Step()) == SQLITE_ROW) AddEvent(events->ColumnText(0), events->ColumnText(1), &current);
      events->Reset();
      if (rc != SQLITE_DONE) {
        status = db->Error(rc, "cannot read the events of a served request");
        return;
      }
      stop = !fn(current);
    }
  };
  Status st = ForEachSegment(dir, *seqs, [&](std::string&& bytes) {
    if (stop || !status.ok()) return;
    next.clear();
    int64_t seg_min = INT64_MAX, seg_max = INT64_MIN;
    segment::ForEachFrame(bytes, [&](size_t offset, std::string_view payload) {
      const int64_t t = TimeOf(payload);
      if (!in_range(t)) return true;
      seg_min = std::min(seg_min, t);
      seg_max = std::max(seg_max, t);
      next.push_back({t, 0, static_cast<uint32_t>(offset + codec::kFrameHeaderBytes),
                      static_cast<uint32_t>(payload.size())});
      return true;
    });
    if (next.empty()) return;
    if (!group.empty() && seg_min >= group_max) {
      emit();
      group.clear();
      locators.clear();
      group_max = INT64_MIN;
    }
    for (Locator& l : next) l.segment = static_cast<uint32_t>(group.size());
    locators.insert(locators.end(), next.begin(), next.end());
    group.push_back(std::move(bytes));
    group_max = std::max(group_max, seg_max);
  });
  if (!st.ok()) return st;
  if (!group.empty()) emit();
  return status;
}

}  // namespace shelfwatch::feedback
