#include "catalog/value_parsing.h"

#include <charconv>
#include <cmath>

#include "catalog/field_mapping.h"
#include "common/utf8.h"

namespace shelfwatch::catalog {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

// Removes one currency marker: a sign ($ € £ ¥) or a three-letter ISO 4217 code such as
// "USD", before or after the amount.
std::string_view StripCurrency(std::string_view s) {
  static constexpr std::string_view kSigns[] = {"$", "\xE2\x82\xAC", "\xC2\xA3", "\xC2\xA5"};
  for (std::string_view sign : kSigns) {
    if (s.starts_with(sign)) return TrimAscii(s.substr(sign.size()));
    if (s.ends_with(sign)) return TrimAscii(s.substr(0, s.size() - sign.size()));
  }
  if (s.size() > 3 && IsUpper(s[0]) && IsUpper(s[1]) && IsUpper(s[2])) {
    return TrimAscii(s.substr(3));
  }
  size_t n = s.size();
  if (n > 3 && IsUpper(s[n - 1]) && IsUpper(s[n - 2]) && IsUpper(s[n - 3])) {
    return TrimAscii(s.substr(0, n - 3));
  }
  return s;
}

Status BadPrice(std::string_view text, std::string_view why) {
  return InvalidArgument("price " + QuoteForMessage(text) + " " + std::string(why));
}

// True when `digits` (no '.') is d{1,3}(,ddd)+: a well-formed thousands grouping.
bool IsThousandsGrouping(std::string_view digits) {
  size_t first_comma = digits.find(',');
  if (first_comma == 0 || first_comma > 3) return false;
  for (size_t i = first_comma; i < digits.size(); i += 4) {
    if (digits[i] != ',' || i + 4 > digits.size()) return false;
    for (size_t k = 1; k <= 3; ++k) {
      if (!IsDigit(digits[i + k])) return false;
    }
  }
  return true;
}

}  // namespace

Result<std::optional<double>> ParsePrice(std::string_view text) {
  std::string_view s = TrimAscii(text);
  if (s.empty()) return std::optional<double>();
  s = StripCurrency(s);
  if (!s.empty() && s[0] == '-') return BadPrice(text, "is negative");
  size_t dot = s.find('.');
  size_t last_comma = s.rfind(',');
  bool any_digit = false;
  for (char c : s) {
    if (IsDigit(c)) {
      any_digit = true;
    } else if (c != '.' && c != ',') {
      return BadPrice(text, "is not a number");
    }
  }
  if (!any_digit) return BadPrice(text, "is not a number");
  if (dot != std::string_view::npos && s.find('.', dot + 1) != std::string_view::npos) {
    return BadPrice(text, "has more than one '.' (a decimal comma is not accepted: ambiguous)");
  }
  std::string_view whole = s.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (last_comma != std::string_view::npos) {
    if (dot != std::string_view::npos && last_comma > dot) {
      return BadPrice(text, "uses a decimal comma; write it with '.' (ambiguous, not guessed)");
    }
    if (!IsThousandsGrouping(whole)) {
      return BadPrice(text,
                      "has a ',' that is not a thousands separator; a decimal comma is not "
                      "accepted (ambiguous, not guessed)");
    }
  }
  std::string plain;
  plain.reserve(s.size());
  for (char c : whole) {
    if (c != ',') plain += c;
  }
  if (plain.empty()) plain.push_back('0');  // ".99"
  if (!fraction.empty()) {
    plain += '.';
    plain += fraction;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(plain.data(), plain.data() + plain.size(), value);
  if (ec != std::errc() || end != plain.data() + plain.size() || !std::isfinite(value)) {
    return BadPrice(text, "is out of range");
  }
  return std::optional<double>(value);
}

Result<std::optional<double>> ParseRating(std::string_view text) {
  std::string_view s = TrimAscii(text);
  if (s.empty()) return std::optional<double>();
  // Only [0-9.]: from_chars alone would also take "nan", "inf", "1e3" and "-1".
  bool any_digit = false;
  for (char c : s) {
    if (IsDigit(c)) {
      any_digit = true;
    } else if (c != '.') {
      return InvalidArgument("rating " + QuoteForMessage(text) + " is not a number from 0 to 10");
    }
  }
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (!any_digit || ec != std::errc() || end != s.data() + s.size()) {
    return InvalidArgument("rating " + QuoteForMessage(text) + " is not a number from 0 to 10");
  }
  if (!(value >= 0 && value <= kMaxRating)) {
    return InvalidArgument("rating " + QuoteForMessage(text) + " is outside 0 to 10");
  }
  return std::optional<double>(value);
}

std::vector<std::string> SplitCategoryPath(std::string_view text) {
  char separator = 0;
  for (char c : {'>', '|', '/'}) {
    if (text.find(c) != std::string_view::npos) {
      separator = c;
      break;
    }
  }
  std::vector<std::string> path;
  while (true) {
    size_t cut = separator ? text.find(separator) : std::string_view::npos;
    std::string_view part = TrimAscii(text.substr(0, cut));
    if (!part.empty()) path.emplace_back(part);
    if (cut == std::string_view::npos) break;
    text.remove_prefix(cut + 1);
  }
  return path;
}

std::string QuoteForMessage(std::string_view value, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto escape = [](std::string& out, unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  std::string out = "'";
  size_t i = 0;
  bool cut = false;
  while (i < value.size()) {
    // Validate only what can still be shown, so a huge field costs O(max_bytes).
    size_t valid = FirstInvalidUtf8(value.substr(i, max_bytes + 4));
    if (valid == 0) {
      escape(out, static_cast<unsigned char>(value[i++]));
    }
    for (size_t end = i + valid; i < end; ++i) {
      if (out.size() > max_bytes) break;
      auto c = static_cast<unsigned char>(value[i]);
      if (c == '\n') {
        out += "\\n";
      } else if (c < 0x20 || c == 0x7F) {
        escape(out, c);
      } else {
        out += static_cast<char>(c);
      }
    }
    if (out.size() > max_bytes && i < value.size()) {
      cut = true;
      break;
    }
  }
  if (cut) {
    // Do not end inside a UTF-8 sequence: drop a trailing partial character.
    while (out.size() > 1 && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (out.size() > 1 && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  out += "'";
  return out;
}

}  // namespace shelfwatch::catalog
