#include "text/char_filter.h"

#include <cstdint>

namespace shelfwatch::text {
namespace {

// Bytes that can start something FilterChars changes: '&' and the UTF-8 lead bytes of the
// mapped characters (U+00BC..U+00BE and U+00D7 start with C2/C3, U+2010..U+215E with E2).
bool MayStartFiltered(uint8_t c) { return c == '&' || c == 0xC2 || c == 0xC3 || c == 0xE2; }

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the entity starting at text[0] == '&'. Returns its length (0 if not an entity we
// know) and the code point.
size_t DecodeEntity(std::string_view text, char32_t* cp) {
  size_t semi = text.find(';', 1);
  if (semi == std::string_view::npos || semi > 10) return 0;
  std::string_view name = text.substr(1, semi - 1);
  if (name.size() >= 2 && name[0] == '#') {
    char32_t v = 0;
    bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (hex && c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (hex && c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return 0;
      }
      v = v * (hex ? 16 : 10) + d;
      if (v > 0x10FFFF) return 0;
    }
    // Unicode scalar values only: no NUL, no surrogates.
    if (v == 0 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return semi + 1;
  }
  static constexpr struct {
    std::string_view name;
    char32_t cp;
  } kNamed[] = {{"amp", '&'}, {"quot", '"'}, {"apos", '\''}, {"lt", '<'}, {"gt", '>'},
                {"nbsp", ' '}};
  for (const auto& e : kNamed) {
    if (name == e.name) {
      *cp = e.cp;
      return semi + 1;
    }
  }
  return 0;
}

// The replacement for the mapped character starting at text[0], or empty; *len gets its
// length in bytes.
std::string_view MappedChar(std::string_view text, size_t* len) {
  auto b = [&](size_t i) { return i < text.size() ? static_cast<uint8_t>(text[i]) : 0; };
  uint8_t c0 = b(0), c1 = b(1);
  if (c0 == 0xC2 || c0 == 0xC3) {
    *len = 2;
    if (c0 == 0xC2 && c1 == 0xBC) return "1/4";
    if (c0 == 0xC2 && c1 == 0xBD) return "1/2";
    if (c0 == 0xC2 && c1 == 0xBE) return "3/4";
    if (c0 == 0xC3 && c1 == 0x97) return " x ";
    return {};
  }
  if (c0 != 0xE2) return {};
  *len = 3;
  uint8_t c2 = b(2);
  if (c1 == 0x80) {
    if (c2 >= 0x90 && c2 <= 0x93) return "-";      // U+2010..U+2013 hyphens, figure/en dash
    if (c2 == 0x99 || c2 == 0xB2) return "'";      // U+2019 right single quote, U+2032 prime
    if (c2 == 0xB3) return "\"";                   // U+2033 double prime
    return {};
  }
  if (c1 == 0x84 && (c2 == 0xA0 || c2 == 0xA2)) return " ";  // U+2120 ℠, U+2122 ™
  if (c1 == 0x85) {
    switch (c2) {
      case 0x93: return "1/3";
      case 0x94: return "2/3";
      case 0x9B: return "1/8";
      case 0x9C: return "3/8";
      case 0x9D: return "5/8";
      case 0x9E: return "7/8";
      default: return {};
    }
  }
  return {};
}

}  // namespace

bool FilterChars(std::string_view text, std::string* out) {
  size_t first = 0;
  while (first < text.size() && !MayStartFiltered(static_cast<uint8_t>(text[first]))) ++first;
  if (first == text.size()) return false;

  out->clear();
  out->append(text.data(), first);
  bool changed = false;
  size_t i = first;
  while (i < text.size()) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (!MayStartFiltered(c)) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '&') {
      char32_t cp;
      size_t n = DecodeEntity(text.substr(i), &cp);
      if (n > 0) {
        AppendUtf8(cp, out);
        i += n;
        changed = true;
        continue;
      }
      out->push_back('&');
      ++i;
      continue;
    }
    size_t n = 0;
    std::string_view mapped = MappedChar(text.substr(i), &n);
    if (mapped.empty()) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // A vulgar fraction right after a digit is a mixed number: "1½" -> "1 1/2".
    if (mapped.size() == 3 && mapped[1] == '/' && !out->empty() && out->back() >= '0' &&
        out->back() <= '9') {
      out->push_back(' ');
    }
    out->append(mapped);
    i += n;
    changed = true;
  }
  return changed;
}

}  // namespace shelfwatch::text
