// JSONL half of LoadCatalog: one JSON object per line, parsed with simdjson's DOM API
// (error codes only, so no simdjson exception leaves this file).
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <unordered_set>
#include <vector>

#include "catalog/loaders.h"
#include "catalog/value_parsing.h"
#include "common/utf8.h"

namespace shelfwatch::catalog {

namespace {

namespace dom = simdjson::dom;

// Keys whose object value is flattened into attributes.
constexpr std::string_view kNestedAttributeKeys[] = {"attributes", "attrs"};
// Distinct keys remembered for "keys seen" in error messages, from the first objects.
constexpr size_t kMaxKeysRemembered = 200;
constexpr uint64_t kObjectsForKeysSeen = 1000;

std::string_view TypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: return "a number";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

bool IsScalar(dom::element el) {
  auto t = el.type();
  return t != dom::element_type::ARRAY && t != dom::element_type::OBJECT;
}

bool IsStringOrNumber(dom::element el) {
  auto t = el.type();
  return t == dom::element_type::STRING || t == dom::element_type::INT64 ||
         t == dom::element_type::UINT64 || t == dom::element_type::DOUBLE;
}

void AppendNumber(int64_t value, std::string& out) { out += std::to_string(value); }
void AppendNumber(uint64_t value, std::string& out) { out += std::to_string(value); }
// Shortest round-trip digits in plain decimal (1e20 -> "100000000000000000000"), so a
// numeric id or price reads as people write it; DBL_MAX needs 309 digits.
void AppendNumber(double value, std::string& out) {
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  if (ec == std::errc()) out.append(buf, end);
}

// A scalar's text: strings as they are, numbers in decimal ("id": 100001 -> "100001"),
// booleans as true/false, null as nothing.
void AppendScalar(dom::element el, std::string& out) {
  switch (el.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      if (el.get_string().get(s) == simdjson::SUCCESS) out += s;
      break;
    }
    case dom::element_type::INT64: {
      int64_t v = 0;
      if (el.get_int64().get(v) == simdjson::SUCCESS) AppendNumber(v, out);
      break;
    }
    case dom::element_type::UINT64: {
      uint64_t v = 0;
      if (el.get_uint64().get(v) == simdjson::SUCCESS) AppendNumber(v, out);
      break;
    }
    case dom::element_type::DOUBLE: {
      double v = 0;
      if (el.get_double().get(v) == simdjson::SUCCESS) AppendNumber(v, out);
      break;
    }
    case dom::element_type::BOOL: {
      bool v = false;
      if (el.get_bool().get(v) == simdjson::SUCCESS) out += v ? "true" : "false";
      break;
    }
    default:
      break;
  }
}

// Any value as text: scalars as above; an array of scalars joined by `joiner`
// (["red", "blue"] -> "red, blue"); anything deeper as minified JSON.
void AppendText(dom::element el, std::string_view joiner, std::string& out) {
  if (IsScalar(el)) return AppendScalar(el, out);
  dom::array array;
  bool scalars = el.get_array().get(array) == simdjson::SUCCESS;
  if (scalars) {
    for (dom::element item : array) scalars = scalars && IsScalar(item);
  }
  if (scalars) {
    bool first = true;
    for (dom::element item : array) {
      if (!first) out += joiner;
      first = false;
      AppendScalar(item, out);
    }
    return;
  }
  out += simdjson::minify(el);
}

// A category given as an array: ["Tools", "Drills"], or several paths [["Tools", ...], ...]
// of which the first is used.
std::vector<std::string> CategoryFromArray(dom::array array) {
  std::vector<std::string> path;
  for (dom::element item : array) {
    dom::array inner;
    if (item.get_array().get(inner) == simdjson::SUCCESS) {
      if (path.empty()) return CategoryFromArray(inner);
      continue;
    }
    std::string part;
    AppendScalar(item, part);
    std::string_view trimmed = TrimAscii(part);
    if (!trimmed.empty()) path.emplace_back(trimmed);
  }
  return path;
}

bool IsNestedAttributeKey(std::string_view key) {
  return std::any_of(std::begin(kNestedAttributeKeys), std::end(kNestedAttributeKeys),
                     [&](std::string_view k) { return EqualsIgnoreAsciiCase(key, k); });
}

// The keys each field reads, resolved like a CSV header but from the first object that has
// a candidate key, plus what the mapping named that no object has had yet.
class KeyPlan {
 public:
  explicit KeyPlan(const FieldMapping& mapping)
      : mapping_(mapping), attribute_seen_(mapping.attributes.size(), false) {
    for (ProductField field : kAllProductFields) {
      sources_[static_cast<size_t>(field)] = MappedName(mapping, field);
    }
  }

  // Resolves fields still without a key from this object's keys.
  void Resolve(const std::vector<std::string_view>& keys) {
    if (objects_++ < kObjectsForKeysSeen) {
      for (std::string_view key : keys) {
        if (keys_seen_.size() < kMaxKeysRemembered && keys_seen_set_.emplace(key).second) {
          keys_seen_.emplace_back(key);
        }
      }
    }
    if (std::none_of(sources_.begin(), sources_.end(), [](const std::string& s) { return s.empty(); })) {
      return;
    }
    std::vector<bool> taken(keys.size(), false);
    for (size_t i = 0; i < keys.size(); ++i) {
      taken[i] = std::find(sources_.begin(), sources_.end(), keys[i]) != sources_.end() ||
                 IsNestedAttributeKey(keys[i]);
    }
    for (ProductField field : kAllProductFields) {
      std::string& source = sources_[static_cast<size_t>(field)];
      if (!source.empty()) continue;
      if (auto i = ResolveField(mapping_, field, keys, taken)) {
        source = std::string(keys[*i]);
        taken[*i] = true;
      }
    }
  }

  const FieldSources& sources() const { return sources_; }
  void MarkSeen(ProductField field) { field_seen_[static_cast<size_t>(field)] = true; }

  // Whether an attribute named `name` is kept; `top_level` keys only when the mapping keeps
  // unmapped keys (or lists them).
  bool KeepAttribute(std::string_view name, bool top_level) {
    if (mapping_.attributes.empty()) return !top_level || mapping_.keep_unmapped_as_attributes;
    for (size_t i = 0; i < mapping_.attributes.size(); ++i) {
      if (mapping_.attributes[i] == name) {
        attribute_seen_[i] = true;
        return true;
      }
    }
    return false;
  }

  // After the last line: a mapping that names keys no object had is a mistake worth failing.
  Status CheckAfterLoad(const std::string& path) const {
    std::vector<std::string_view> seen(keys_seen_.begin(), keys_seen_.end());
    std::string available = "keys seen: " + JoinNames(seen);
    if (sources_[static_cast<size_t>(ProductField::kId)].empty()) {
      return InvalidArgument(path + ": no id key: looked for " +
                             JoinNames(DetectionCandidates(ProductField::kId)) + "; " + available +
                             " (name one with the id mapping)");
    }
    for (ProductField field : kAllProductFields) {
      const std::string& wanted = MappedName(mapping_, field);
      if (!wanted.empty() && !field_seen_[static_cast<size_t>(field)]) {
        return InvalidArgument(path + ": mapping names key '" + wanted + "' for " +
                               std::string(ProductFieldName(field)) + ", but no object has it; " +
                               available);
      }
    }
    for (size_t i = 0; i < mapping_.attributes.size(); ++i) {
      if (!attribute_seen_[i]) {
        return InvalidArgument(path + ": mapping names attribute key '" + mapping_.attributes[i] +
                               "', but no object has it; " + available);
      }
    }
    return Status::Ok();
  }

 private:
  const FieldMapping& mapping_;
  FieldSources sources_;
  std::array<bool, kProductFieldCount> field_seen_{};
  std::vector<bool> attribute_seen_;
  uint64_t objects_ = 0;
  std::vector<std::string> keys_seen_;
  std::unordered_set<std::string> keys_seen_set_;
};

using Members = std::vector<std::pair<std::string_view, dom::element>>;
using Rejection = std::pair<std::string_view, std::string>;  // (reason, message)

// Fills row.text / row.category_path from the members the plan maps to fields, marking them
// used. A field holding a value of the wrong kind (an object as id or price) rejects the row.
std::optional<Rejection> ReadFields(const Members& members, KeyPlan& plan, RowFields& row,
                                    std::array<std::string, kProductFieldCount>& values,
                                    std::vector<bool>& used) {
  const FieldSources& sources = plan.sources();
  row.category_path.clear();
  for (ProductField field : kAllProductFields) {
    size_t f = static_cast<size_t>(field);
    values[f].clear();
    row.text[f] = {};
    if (sources[f].empty()) continue;
    // The first member with the key wins, as with a duplicated CSV column.
    size_t m = 0;
    while (m < members.size() && members[m].first != sources[f]) ++m;
    if (m == members.size()) continue;
    used[m] = true;
    plan.MarkSeen(field);
    dom::element value = members[m].second;
    if (value.is_null()) continue;
    bool needs_scalar = field == ProductField::kId || field == ProductField::kPrice ||
                        field == ProductField::kRating;
    if (needs_scalar && !IsStringOrNumber(value)) {
      std::string_view reason = field == ProductField::kId      ? reasons::kMissingId
                                : field == ProductField::kPrice ? reasons::kBadPrice
                                                                : reasons::kBadRating;
      return Rejection(reason, std::string(ProductFieldName(field)) + " key '" + sources[f] +
                                   "' holds " + std::string(TypeName(value.type())) +
                                   ", not a string or number");
    }
    dom::array array;
    if (field == ProductField::kCategory && value.get_array().get(array) == simdjson::SUCCESS) {
      row.category_path = CategoryFromArray(array);
      continue;
    }
    AppendText(value, field == ProductField::kDescription ? "\n" : " ", values[f]);
    row.text[f] = values[f];
  }
  return std::nullopt;
}

void AddAttribute(std::string_view name, dom::element value, RowFields& row) {
  std::string text;
  AppendText(value, ", ", text);
  std::string_view trimmed = TrimAscii(text);
  if (!trimmed.empty()) row.attributes.emplace_back(name, trimmed);
}

// Members no field used become attributes as the plan says; a nested "attributes" object
// contributes its entries.
void ReadAttributes(const Members& members, const std::vector<bool>& used, KeyPlan& plan,
                    RowFields& row) {
  row.attributes.clear();
  for (size_t m = 0; m < members.size(); ++m) {
    if (used[m]) continue;
    auto [key, value] = members[m];
    dom::object nested;
    if (IsNestedAttributeKey(key) && value.get_object().get(nested) == simdjson::SUCCESS) {
      for (dom::key_value_pair attribute : nested) {
        if (plan.KeepAttribute(attribute.key, false)) AddAttribute(attribute.key, attribute.value, row);
      }
    } else if (plan.KeepAttribute(key, true)) {
      AddAttribute(key, value, row);
    }
  }
}

// Why a line did not parse, naming the place.
Rejection DescribeParseError(simdjson::error_code error, std::string_view line) {
  if (error == simdjson::UTF8_ERROR) {
    size_t bad = FirstInvalidUtf8(line);
    size_t from = bad > 20 ? bad - 20 : 0;
    return {reasons::kInvalidUtf8, "line is not valid UTF-8 at byte " + std::to_string(bad + 1) +
                                       ": " + QuoteForMessage(line.substr(from, 60))};
  }
  return {reasons::kBadJson, std::string("not valid JSON (") + simdjson::error_message(error) +
                                 "): " + QuoteForMessage(line)};
}

}  // namespace

Status LoadJsonlRows(std::string_view text, const std::string& path, const LoadOptions& options,
                     CatalogBuilder& builder, ProgressBar& progress) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  dom::parser parser;
  std::string padded;  // the line plus the zeroed padding simdjson reads past the end
  KeyPlan plan(options.mapping);
  uint64_t objects = 0;
  RowFields row;
  std::array<std::string, kProductFieldCount> values;
  std::vector<std::string_view> keys;
  Members members;
  std::vector<bool> used;  // members read by a field

  uint64_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (TrimAscii(line).empty()) continue;
    if (line.back() == '\r') line.remove_suffix(1);
    progress.Update(std::min(pos, text.size()));
    builder.CountRow();
    builder.NoteBytesRead(std::min(pos, text.size()), text.size());

    padded.assign(line);
    padded.append(simdjson::SIMDJSON_PADDING, '\0');
    dom::element doc;
    simdjson::error_code error = parser.parse(padded.data(), line.size(), false).get(doc);
    if (error != simdjson::SUCCESS) {
      auto [reason, message] = DescribeParseError(error, line);
      SW_RETURN_IF_ERROR(builder.Reject(line_number, reason, std::move(message)));
      continue;
    }
    dom::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) {
      SW_RETURN_IF_ERROR(builder.Reject(line_number, reasons::kBadJson,
                                        std::string("expected one JSON object per line, got ") +
                                            std::string(TypeName(doc.type()))));
      continue;
    }
    ++objects;

    keys.clear();
    members.clear();
    for (dom::key_value_pair member : object) {
      keys.push_back(member.key);
      members.emplace_back(member.key, member.value);
    }
    plan.Resolve(keys);

    row.line = line_number;
    used.assign(members.size(), false);
    if (auto rejection = ReadFields(members, plan, row, values, used)) {
      SW_RETURN_IF_ERROR(builder.Reject(line_number, rejection->first, std::move(rejection->second)));
      continue;
    }
    ReadAttributes(members, used, plan, row);
    SW_RETURN_IF_ERROR(builder.AddRow(row, plan.sources()));
  }
  if (objects == 0) return Status::Ok();
  return plan.CheckAfterLoad(path);
}

}  // namespace shelfwatch::catalog
