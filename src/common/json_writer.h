// A small, fast JSON writer appending to a std::string. Used on the request path, so it
// formats numbers without locale and never allocates beyond growing the output string.
// Not thread-safe: one writer per response.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shelfwatch {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Shortest representation that round-trips; NaN and infinities are written as null.
  JsonWriter& Double(double value);
  // Shortest representation that round-trips as a float (scores are floats).
  JsonWriter& Float(float value);
  // Fixed number of decimals (e.g. took_ms with 3 decimals).
  JsonWriter& Fixed(double value, int decimals);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialised JSON as a value.
  JsonWriter& Raw(std::string_view json);

 private:
  void Separate();
  std::string* out_;
  // One bit per nesting level: has the current container written a value yet?
  uint64_t has_value_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

// Appends `s` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace shelfwatch
