// Feedback events: what a client posts to POST /v1/events, and the parser that validates a
// body of them.
//
// One event says that a user saw, clicked, put in the cart or bought an item that a search or
// recommend response returned; its `request_id` (the response's attribution token) ties it to
// that response. The ingest path is
//   ParseEvents -> Attribute (attribution.h) -> EventStore::Append (event_store.h)
// and the HTTP layer answers 2xx only from Append's durable callback.
//
// Wire format, one JSON object per event (unknown keys are ignored; null means "not sent"):
//   type        required  "impression" | "click" | "add_to_cart" | "purchase"
//   request_id  required  string, the request_id of the response the item came from
//   item_id     required  string or integer (100001 is read as "100001", as the catalog does)
//   user_id     required  string or integer (anonymous shoppers: the client's cookie id)
//   session_id  optional  string or integer
//   position    optional  integer, 1-based rank of the item in the response (first result = 1),
//                         as clients show it; 0 and negatives are rejected
//   timestamp   optional  RFC 3339 string ("2026-11-29T11:14:06.123Z", any offset) or a number
//                         of Unix seconds (below 1e11, fractions allowed) or milliseconds;
//                         missing: the time the body was received
//   value       purchase: required, add_to_cart and others: optional; a number >= 0, the
//                         amount paid in `currency` for the whole line (price x quantity)
//   currency    required with value; ISO 4217 code, three upper-case letters ("EUR")
//   quantity    optional  integer >= 1
// A body is a JSON array of such objects, or NDJSON (one object per line; blank lines skipped).
//
// Thread-safety: ParseEvents is safe to call from any number of threads (each thread keeps its
// own simdjson parser, which grows to the largest body it has seen). Cost: O(body bytes),
// ~0.2-0.35 us of CPU per event of ~180 bytes (events_bench); allocation is the returned events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace shelfwatch::feedback {

enum class EventType : uint8_t { kImpression = 0, kClick = 1, kAddToCart = 2, kPurchase = 3 };
inline constexpr int kEventTypeCount = 4;

// "impression" | "click" | "add_to_cart" | "purchase".
std::string_view EventTypeName(EventType type);
// Exact, case-sensitive wire names; nullopt for anything else.
std::optional<EventType> ParseEventType(std::string_view name);

struct Event {
  EventType type = EventType::kImpression;
  std::string request_id;
  std::string item_id;
  std::string user_id;
  std::string session_id;    // empty: not sent
  int32_t position = 0;      // 1-based rank in the response; 0: not sent (and not attributed)
  int64_t timestamp_ms = 0;  // Unix milliseconds, when the user acted
  int64_t received_ms = 0;   // Unix milliseconds, when the server parsed the body
  std::optional<double> value;
  std::string currency;  // empty unless value or currency was sent
  int32_t quantity = 0;  // 0: not sent

  // Filled by Attribute() (attribution.h) before the event is stored; empty when unattributed.
  bool attributed = false;  // request_id was found in the served-request log
  std::string catalog;      // of the served request
  std::string endpoint;     // "search" | "recommend"
  std::string variant;      // deployment variant that served the request
};

// Why an event was rejected: stable snake_case codes for API bodies and metric labels.
namespace reasons {
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kBadType = "bad_type";
inline constexpr std::string_view kUnknownEventType = "unknown_event_type";
inline constexpr std::string_view kBadTimestamp = "bad_timestamp";
inline constexpr std::string_view kBadValue = "bad_value";
inline constexpr std::string_view kBadCurrency = "bad_currency";
inline constexpr std::string_view kTooLong = "too_long";
inline constexpr std::string_view kInvalidUtf8 = "invalid_utf8";  // NDJSON line only
inline constexpr std::string_view kBadJson = "bad_json";          // NDJSON line only
inline constexpr std::string_view kNotAnObject = "not_an_object";
}  // namespace reasons

struct Rejection {
  size_t index = 0;         // 0-based: array element, or non-blank NDJSON line
  std::string_view reason;  // one of `reasons` (static storage)
  std::string field;        // the offending key; empty for whole-event problems
  std::string message;      // names the field and, where useful, the value
};

struct ParsedBatch {
  std::vector<Event> events;          // the valid events, in body order
  std::vector<Rejection> rejections;  // in body order
  size_t total() const { return events.size() + rejections.size(); }
};

enum class EventFormat { kAuto, kJsonArray, kNdjson };

// kNdjson for application/x-ndjson, application/jsonl(ines) and application/x-jsonlines;
// kAuto otherwise (kAuto reads '[' as an array, '{' as NDJSON -- a single object is one line).
EventFormat FormatFromContentType(std::string_view content_type);

struct EventLimits {
  size_t max_events = 1000;          // per body; more is kPayloadTooLarge
  size_t max_body_bytes = 8u << 20;  // more is kPayloadTooLarge
  size_t max_id_bytes = 256;         // request_id, item_id, user_id, session_id
  int32_t max_position = 100000;
  int32_t max_quantity = 1000000;
  double max_value = 1e12;
  int64_t min_timestamp_ms = 946684800000;   // 2000-01-01T00:00:00Z
  int64_t max_future_ms = 24 * 3600 * 1000;  // timestamps may run ahead of receive time by this
};

// Parses and validates a body of events received at `received_ms`.
// Returns the valid events and one Rejection per invalid event (the first problem found), so
// one bad event never costs the batch. Errors concern the whole body:
//   kPayloadTooLarge  more than limits.max_events events or limits.max_body_bytes bytes;
//   kInvalidArgument  empty body, not JSON (or invalid UTF-8 inside an array), not an array
//                     when kJsonArray was asked, no line of an NDJSON body is JSON.
// Never throws; any byte sequence is safe input.
Result<ParsedBatch> ParseEvents(std::string_view body, EventFormat format, const EventLimits& limits,
                                int64_t received_ms = UnixMillis());

}  // namespace shelfwatch::feedback
