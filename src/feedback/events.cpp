// ParseEvents with simdjson's DOM API, error codes only, so no simdjson exception leaves this
// file. The DOM parser validates UTF-8 and nesting for us (simdjson.org, "Basics").
#include "feedback/events.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/utf8.h"
#include "feedback/timestamp.h"

namespace shelfwatch::feedback {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kImpression: return "impression";
    case EventType::kClick: return "click";
    case EventType::kAddToCart: return "add_to_cart";
    case EventType::kPurchase: return "purchase";
  }
  return "impression";
}

std::optional<EventType> ParseEventType(std::string_view name) {
  if (name == "impression") return EventType::kImpression;
  if (name == "click") return EventType::kClick;
  if (name == "add_to_cart") return EventType::kAddToCart;
  if (name == "purchase") return EventType::kPurchase;
  return std::nullopt;
}

EventFormat FormatFromContentType(std::string_view content_type) {
  const size_t semi = content_type.find(';');
  std::string mime(content_type.substr(0, semi));
  while (!mime.empty() && (mime.back() == ' ' || mime.back() == '\t')) mime.pop_back();
  size_t start = 0;
  while (start < mime.size() && (mime[start] == ' ' || mime[start] == '\t')) ++start;
  mime.erase(0, start);
  std::transform(mime.begin(), mime.end(), mime.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  if (mime == "application/x-ndjson" || mime == "application/ndjson" || mime == "application/jsonl" ||
      mime == "application/jsonlines" || mime == "application/x-jsonlines") {
    return EventFormat::kNdjson;
  }
  return EventFormat::kAuto;
}

namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxQuotedBytes = 64;

// 'value' for messages: at most kMaxQuotedBytes, cut at a character boundary.
std::string Quote(std::string_view value) {
  std::string out = "'";
  if (value.size() <= kMaxQuotedBytes) {
    out += value;
  } else {
    size_t cut = kMaxQuotedBytes;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
    out += value.substr(0, cut);
    out += "...";
  }
  out += "'";
  return out;
}

// The offending value as JSON text, quoted and cut short: "got '[\"i\"]'" tells a client more
// than the value's type would.
std::string Got(dom::element el) { return Quote(simdjson::minify(el)); }

bool IsNumber(dom::element el) {
  const auto t = el.type();
  return t == dom::element_type::INT64 || t == dom::element_type::UINT64 || t == dom::element_type::DOUBLE;
}

double NumberOf(dom::element el) {
  // The caller has checked IsNumber, so these conversions cannot fail.
  switch (el.type()) {
    case dom::element_type::INT64: {
      int64_t v = 0;
      return el.get_int64().get(v) == simdjson::SUCCESS ? static_cast<double>(v) : 0.0;
    }
    case dom::element_type::UINT64: {
      uint64_t v = 0;
      return el.get_uint64().get(v) == simdjson::SUCCESS ? static_cast<double>(v) : 0.0;
    }
    default: {
      double v = 0;
      return el.get_double().get(v) == simdjson::SUCCESS ? v : 0.0;
    }
  }
}

// An integer-valued number (7, 7.0) within int64; nullopt for 7.5 or huge values.
std::optional<int64_t> IntegerOf(dom::element el) {
  int64_t v = 0;
  if (el.type() == dom::element_type::INT64 && el.get_int64().get(v) == simdjson::SUCCESS) return v;
  const double d = NumberOf(el);
  if (std::floor(d) != d || d >= 9.2e18 || d <= -9.2e18) return std::nullopt;
  return static_cast<int64_t>(d);
}

// The keys an event understands, gathered in one pass over the object (a repeated key: the
// last one counts, as in most JSON readers). Absent keys and null values stay empty.
struct EventFields {
  std::optional<dom::element> type, request_id, item_id, user_id, session_id, position, timestamp, value, currency,
      quantity;

  void Collect(dom::object object) {
    for (dom::key_value_pair field : object) {
      std::optional<dom::element>* slot = Slot(field.key);
      if (!slot) continue;  // unknown keys are ignored
      if (field.value.is_null()) {
        slot->reset();
      } else {
        *slot = field.value;
      }
    }
  }

 private:
  std::optional<dom::element>* Slot(std::string_view key) {
    switch (key.size()) {
      case 4: return key == "type" ? &type : nullptr;
      case 5: return key == "value" ? &value : nullptr;
      case 7:
        if (key == "item_id") return &item_id;
        if (key == "user_id") return &user_id;
        return nullptr;
      case 8:
        if (key == "position") return &position;
        if (key == "currency") return &currency;
        if (key == "quantity") return &quantity;
        return nullptr;
      case 9: return key == "timestamp" ? &timestamp : nullptr;
      case 10:
        if (key == "request_id") return &request_id;
        if (key == "session_id") return &session_id;
        return nullptr;
      default: return nullptr;
    }
  }
};

class EventValidator {
 public:
  EventValidator(const EventLimits& limits, int64_t received_ms) : limits_(limits), received_ms_(received_ms) {}

  // Fills *event, or *rejection (reason, field, message) and returns false.
  bool Read(dom::element element, Event* event, Rejection* rejection) {
    rejection_ = rejection;
    dom::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) {
      return Reject(reasons::kNotAnObject, "", "an event must be a JSON object, got " + Got(element));
    }
    EventFields f;
    f.Collect(object);

    if (!ReadType(f.type, &event->type)) return false;
    if (!ReadId(f.request_id, "request_id", /*required=*/true, /*numbers=*/false, &event->request_id)) return false;
    if (!ReadId(f.item_id, "item_id", true, true, &event->item_id)) return false;
    if (!ReadId(f.user_id, "user_id", true, true, &event->user_id)) return false;
    if (!ReadId(f.session_id, "session_id", false, true, &event->session_id)) return false;
    if (!ReadBoundedInt(f.position, "position", limits_.max_position, "a 1-based rank (first result = 1)",
                        &event->position)) {
      return false;
    }
    if (!ReadTimestamp(f.timestamp, &event->timestamp_ms)) return false;
    if (!ReadMoney(f.value, f.currency, event)) return false;
    if (!ReadBoundedInt(f.quantity, "quantity", limits_.max_quantity, "a count of items", &event->quantity)) {
      return false;
    }
    event->received_ms = received_ms_;
    return true;
  }

 private:
  bool Reject(std::string_view reason, std::string_view field, std::string message) {
    rejection_->reason = reason;
    rejection_->field = std::string(field);
    rejection_->message = std::move(message);
    return false;
  }

  bool Missing(std::string_view field) {
    return Reject(reasons::kMissingField, field, "field '" + std::string(field) + "' is required");
  }

  bool WrongType(std::string_view field, std::string_view expected, dom::element got) {
    return Reject(reasons::kBadType, field,
                  "field '" + std::string(field) + "' must be " + std::string(expected) + ", got " + Got(got));
  }

  bool ReadType(const std::optional<dom::element>& el, EventType* out) {
    if (!el) return Missing("type");
    std::string_view name;
    if (el->get_string().get(name) != simdjson::SUCCESS) return WrongType("type", "a string", *el);
    const auto type = ParseEventType(name);
    if (!type) {
      return Reject(reasons::kUnknownEventType, "type",
                    "unknown event type " + Quote(name) + "; expected impression, click, add_to_cart or purchase");
    }
    *out = *type;
    return true;
  }

  bool ReadId(const std::optional<dom::element>& el, std::string_view field, bool required, bool numbers,
              std::string* out) {
    if (!el) return required ? Missing(field) : true;
    std::string_view text;
    char digits[24];
    if (el->get_string().get(text) == simdjson::SUCCESS) {
      // simdjson has validated the body's UTF-8.
    } else if (numbers && (el->type() == dom::element_type::INT64 || el->type() == dom::element_type::UINT64)) {
      const auto n = IntegerOf(*el);
      if (n) {
        text = std::string_view(
            digits, static_cast<size_t>(std::snprintf(digits, sizeof digits, "%lld", static_cast<long long>(*n))));
      } else {
        uint64_t u = 0;
        if (el->get_uint64().get(u) != simdjson::SUCCESS) u = 0;
        text = std::string_view(digits, static_cast<size_t>(std::snprintf(digits, sizeof digits, "%llu",
                                                                          static_cast<unsigned long long>(u))));
      }
    } else {
      return WrongType(field, numbers ? "a string or an integer" : "a string", *el);
    }
    if (text.empty()) {
      if (!required) return true;
      return Reject(reasons::kMissingField, field, "field '" + std::string(field) + "' is empty");
    }
    if (text.size() > limits_.max_id_bytes) {
      return Reject(reasons::kTooLong, field,
                    "field '" + std::string(field) + "' is " + std::to_string(text.size()) + " bytes; the limit is " +
                        std::to_string(limits_.max_id_bytes));
    }
    out->assign(text);
    return true;
  }

  bool ReadBoundedInt(const std::optional<dom::element>& el, std::string_view field, int32_t max,
                      std::string_view meaning, int32_t* out) {
    if (!el) return true;
    if (!IsNumber(*el)) return WrongType(field, "an integer", *el);
    const auto n = IntegerOf(*el);
    if (!n || *n < 1 || *n > max) {
      return Reject(reasons::kBadValue, field,
                    "field '" + std::string(field) + "' must be an integer from 1 to " + std::to_string(max) + " (" +
                        std::string(meaning) + ")");
    }
    *out = static_cast<int32_t>(*n);
    return true;
  }

  bool ReadTimestamp(const std::optional<dom::element>& el, int64_t* out) {
    if (!el) {
      *out = received_ms_;
      return true;
    }
    std::optional<int64_t> ms;
    std::string_view text;
    if (el->get_string().get(text) == simdjson::SUCCESS) {
      ms = ParseRfc3339Millis(text);
      if (!ms) {
        return Reject(reasons::kBadTimestamp, "timestamp",
                      "timestamp " + Quote(text) + " is not an RFC 3339 date-time such as 2026-11-29T11:14:06.123Z");
      }
    } else if (IsNumber(*el)) {
      ms = EpochNumberToMillis(NumberOf(*el));
      if (!ms) return Reject(reasons::kBadTimestamp, "timestamp", "timestamp is out of range");
    } else {
      return WrongType("timestamp", "an RFC 3339 string or Unix seconds/milliseconds", *el);
    }
    if (*ms < limits_.min_timestamp_ms) {
      return Reject(reasons::kBadTimestamp, "timestamp",
                    "timestamp is before 2000-01-01 (Unix ms " + std::to_string(*ms) + ")");
    }
    if (*ms > received_ms_ + limits_.max_future_ms) {
      return Reject(reasons::kBadTimestamp, "timestamp",
                    "timestamp is in the future (Unix ms " + std::to_string(*ms) + ", received at " +
                        std::to_string(received_ms_) + ")");
    }
    *out = *ms;
    return true;
  }

  bool ReadMoney(const std::optional<dom::element>& value, const std::optional<dom::element>& currency, Event* event) {
    if (value) {
      if (!IsNumber(*value)) return WrongType("value", "a number", *value);
      const double v = NumberOf(*value);
      if (!(v >= 0.0) || v > limits_.max_value) {
        return Reject(
            reasons::kBadValue, "value",
            "field 'value' must be a number from 0 to " + std::to_string(static_cast<long long>(limits_.max_value)));
      }
      event->value = v;
    } else if (event->type == EventType::kPurchase) {
      return Reject(reasons::kMissingField, "value", "a purchase needs 'value' (the amount paid) and 'currency'");
    }
    if (currency) {
      std::string_view code;
      if (currency->get_string().get(code) != simdjson::SUCCESS) return WrongType("currency", "a string", *currency);
      const bool iso =
          code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (!iso) {
        return Reject(reasons::kBadCurrency, "currency",
                      "currency " + Quote(code) + " is not an ISO 4217 code of three upper-case letters (EUR, USD)");
      }
      event->currency.assign(code);
    } else if (value) {
      return Reject(reasons::kMissingField, "currency", "field 'currency' is required with 'value'");
    }
    return true;
  }

  const EventLimits& limits_;
  const int64_t received_ms_;
  Rejection* rejection_ = nullptr;
};

// The first non-whitespace byte, or 0.
char FirstSignificant(std::string_view body) {
  for (char c : body) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c;
  }
  return 0;
}

// 'x' for printable ASCII, byte 0xNN otherwise (keeps messages valid UTF-8).
std::string DescribeByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b >= 0x20 && b < 0x7f) return std::string("'") + c + "'";
  char hex[16];
  std::snprintf(hex, sizeof hex, "byte 0x%02X", b);
  return hex;
}

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

Status TooManyEvents(const EventLimits& limits) {
  return Status(ErrorCode::kPayloadTooLarge,
                "more than " + std::to_string(limits.max_events) + " events in one body; send smaller batches");
}

dom::parser& ThreadParser() {
  thread_local dom::parser parser;
  return parser;
}

void Accept(ParsedBatch* batch, EventValidator& validator, dom::element element, size_t index) {
  Event event;
  Rejection rejection;
  if (validator.Read(element, &event, &rejection)) {
    batch->events.push_back(std::move(event));
  } else {
    rejection.index = index;
    batch->rejections.push_back(std::move(rejection));
  }
}

Result<ParsedBatch> ParseArray(std::string_view body, const EventLimits& limits, EventValidator& validator) {
  dom::element root;
  const auto error = ThreadParser().parse(body.data(), body.size()).get(root);
  if (error != simdjson::SUCCESS) {
    if (error == simdjson::UTF8_ERROR) return InvalidArgument("body is not valid UTF-8");
    return InvalidArgument(std::string("body is not valid JSON: ") + simdjson::error_message(error));
  }
  dom::array array;
  if (root.get_array().get(array) != simdjson::SUCCESS) {
    return InvalidArgument("body must be a JSON array of events, got " + Got(root));
  }
  ParsedBatch batch;
  size_t index = 0;
  for (dom::element element : array) {
    if (index == limits.max_events) return TooManyEvents(limits);
    if (index == 0) batch.events.reserve(std::min<size_t>(limits.max_events, body.size() / 64 + 1));
    Accept(&batch, validator, element, index);
    ++index;
  }
  return batch;
}

Result<ParsedBatch> ParseNdjson(std::string_view body, const EventLimits& limits, EventValidator& validator) {
  const size_t lines = static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1;
  ParsedBatch batch;
  batch.events.reserve(std::min(lines, limits.max_events));
  dom::parser& parser = ThreadParser();
  size_t index = 0;
  size_t json_lines = 0;
  std::string first_error;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (IsBlank(line)) continue;
    if (index == limits.max_events) return TooManyEvents(limits);

    dom::element element;
    const auto error = parser.parse(line.data(), line.size()).get(element);
    if (error == simdjson::SUCCESS) {
      ++json_lines;
      Accept(&batch, validator, element, index);
    } else {
      Rejection r;
      r.index = index;
      if (error == simdjson::UTF8_ERROR || !IsValidUtf8(line)) {
        r.reason = reasons::kInvalidUtf8;
        r.message = "line is not valid UTF-8 (byte " + std::to_string(FirstInvalidUtf8(line)) + ")";
      } else {
        r.reason = reasons::kBadJson;
        r.message = std::string("line is not valid JSON: ") + simdjson::error_message(error);
      }
      if (first_error.empty()) first_error = r.message;
      batch.rejections.push_back(std::move(r));
    }
    ++index;
  }
  if (json_lines == 0 && index > 0) {
    // A single pretty-printed object spans lines; accept it as one event.
    if (index > 1) {
      dom::element element;
      if (parser.parse(body.data(), body.size()).get(element) == simdjson::SUCCESS && element.is_object()) {
        ParsedBatch single;
        Accept(&single, validator, element, 0);
        return single;
      }
    }
    return InvalidArgument("body is neither a JSON array nor NDJSON: first line: " + first_error);
  }
  return batch;
}

}  // namespace

Result<ParsedBatch> ParseEvents(std::string_view body, EventFormat format, const EventLimits& limits,
                                int64_t received_ms) {
  if (body.size() > limits.max_body_bytes) {
    return Status(ErrorCode::kPayloadTooLarge, "body of " + std::to_string(body.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_body_bytes));
  }
  const char first = FirstSignificant(body);
  if (first == 0) return InvalidArgument("empty body: expected a JSON array of events or NDJSON");
  EventValidator validator(limits, received_ms);
  switch (format) {
    case EventFormat::kJsonArray: return ParseArray(body, limits, validator);
    case EventFormat::kNdjson: return ParseNdjson(body, limits, validator);
    case EventFormat::kAuto:
      if (first == '[') return ParseArray(body, limits, validator);
      if (first == '{') return ParseNdjson(body, limits, validator);
      return InvalidArgument("body is neither a JSON array nor NDJSON: it starts with " + DescribeByte(first));
  }
  return InvalidArgument("unknown format");
}

}  // namespace shelfwatch::feedback
