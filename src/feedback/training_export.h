// Training data: served requests joined with the feedback events they received, one labelled
// list per request -- the input of `shelfwatch export training-data` and of learning-to-rank.
//
// Each returned item gets the highest grade among the events naming it under the request's
// request_id: purchase > add_to_cart > click > impression > none (no event at all). Events
// for items the response did not return (e.g. a purchase found elsewhere) are counted per
// request, not labelled.
//
// Reads the served-request log's segment directory (served_segment.h) and the event store
// (SQLite, read-only), so it can run beside a live server: it sees the records and events
// written when it reads them and never blocks the writers. Only what is already on disk is seen
// (ServedRequestLog::Flush / EventStore::Flush first when exporting from the same process).
//
// Thread-safety: independent calls may run concurrently. Cost: two passes over the segments
// (the first collects the request ids in range, so that one scan of the events copies theirs
// into an indexed temporary table), one index probe into those events per request; memory is
// the segments whose time ranges overlap (usually one, at most segment_bytes each) plus 24 B
// per record in range of them, for the sort by time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::feedback {

enum class Label : uint8_t { kNone = 0, kImpression = 1, kClick = 2, kAddToCart = 3, kPurchase = 4 };
// "none" | "impression" | "click" | "add_to_cart" | "purchase".
std::string_view LabelName(Label label);

struct LabeledItem {
  std::string item_id;
  int32_t rank = 0;             // 1-based
  float score = 0.0f;           // NaN when the response recorded no scores
  std::vector<float> features;  // empty when none were recorded
  Label label = Label::kNone;
};

struct LabeledRequest {
  std::string request_id;
  int64_t time_ms = 0;
  std::string catalog;
  std::string endpoint;
  std::string query;
  std::string variant;
  std::string model_versions;
  uint64_t total_hits = 0;
  std::vector<LabeledItem> items;  // rank order
  uint64_t events = 0;             // events joined to this request
  uint64_t other_item_events = 0;  // of which name items the response did not return
};

struct ExportRange {
  int64_t since_ms = INT64_MIN;  // served time_ms >= since_ms
  int64_t until_ms = INT64_MAX;  // served time_ms <  until_ms
};

// Calls fn per served request in the range, in (time_ms, written) order, until fn returns
// false. `served_log_dir` is the log's directory (ServedLogOptions::path). Errors: kIoError
// when the directory or the event store cannot be opened, kDataLoss for a damaged record.
Status ForEachLabeledRequest(const std::string& served_log_dir, const std::string& event_store_path,
                             const ExportRange& range, const std::function<bool(const LabeledRequest&)>& fn);

}  // namespace shelfwatch::feedback
