#include "alert/go_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace shelfwatch::alert {
namespace {

// Go writes infinities with a sign and NaN as "NaN"; C's printf would write "inf" and "nan".
bool NonFinite(double v, std::string* out) {
  if (std::isnan(v)) {
    *out = "NaN";
    return true;
  }
  if (std::isinf(v)) {
    *out = v > 0 ? "+Inf" : "-Inf";
    return true;
  }
  return false;
}

// The shortest round-trip digits of |v| and its decimal exponent (v = d.ddd x 10^exp).
void ShortestDigits(double v, std::string* digits, int* exp) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  std::string s(buf, r.ptr);
  const size_t e = s.find('e');
  *exp = std::atoi(s.c_str() + e + 1);
  digits->clear();
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits->push_back(s[i]);
  }
}

std::string ExponentSuffix(int exp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return buf;
}

}  // namespace

std::string GoFormatShortest(double v) {
  std::string out;
  if (NonFinite(v, &out)) return out;
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  std::string digits;
  int exp = 0;
  ShortestDigits(v, &digits, &exp);
  if (v < 0) out.push_back('-');
  // fmt's %v is strconv 'g' with the shortest precision, which switches to %e when
  // exp < -4 || exp >= 6 (strconv/ftoa.go: "if precision was the shortest possible, use
  // precision 6 for this decision"). Prometheus' {{ $value }} prints with %v.
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    out += ExponentSuffix(exp);
    return out;
  }
  if (exp < 0) {
    out.append("0.").append(static_cast<size_t>(-exp - 1), '0').append(digits);
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0');
  } else {
    out.append(digits, 0, static_cast<size_t>(exp) + 1).append(".").append(digits, static_cast<size_t>(exp) + 1);
  }
  return out;
}

std::string GoFormatExponent(double v) {
  std::string out;
  if (NonFinite(v, &out)) return out;
  std::string digits;
  int exp = 0;
  if (v == 0) {
    return std::signbit(v) ? "-0e+00" : "0e+00";
  }
  ShortestDigits(v, &digits, &exp);
  if (v < 0) out.push_back('-');
  out += digits.substr(0, 1);
  if (digits.size() > 1) out.append(".").append(digits, 1);
  return out + ExponentSuffix(exp);
}

std::string GoFormatG4(double v) {
  std::string out;
  if (NonFinite(v, &out)) return out;
  // For finite values C's %.4g and Go's agree: 4 significant digits, trailing zeros removed,
  // %e form when the exponent is < -4 or >= 4, exponent with at least two digits.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace shelfwatch::alert
