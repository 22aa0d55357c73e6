// Parameter handling and error wording follow Prometheus 2.42's web/api/v1/api.go (query,
// queryRange, parseTime, parseDuration) and util/jsonutil's timestamp format.
#include "monitor/history/query_api.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

#include "common/clock.h"
#include "common/json_writer.h"

namespace shelfwatch::monitor {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Go strconv.ParseFloat-style: an optional sign and a decimal float, fully consumed.
bool ParseFloatText(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string_view body = s;
  bool neg = false;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty() || !(IsDigit(body[0]) || body[0] == '.')) return false;
  double v = 0;
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || p != body.data() + body.size()) return false;
  *out = neg ? -v : v;
  return true;
}

int ParseDigits(std::string_view s, size_t pos, size_t n, bool* ok) {
  int v = 0;
  if (pos + n > s.size()) {
    *ok = false;
    return 0;
  }
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) {
      *ok = false;
      return 0;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// RFC 3339 with optional fractional seconds (Go's time.RFC3339Nano layout when parsing).
bool ParseRfc3339(std::string_view s, int64_t* ms) {
  bool ok = true;
  const int year = ParseDigits(s, 0, 4, &ok);
  if (!ok || s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return false;
  }
  const int month = ParseDigits(s, 5, 2, &ok), day = ParseDigits(s, 8, 2, &ok);
  const int hour = ParseDigits(s, 11, 2, &ok), minute = ParseDigits(s, 14, 2, &ok), sec = ParseDigits(s, 17, 2, &ok);
  if (!ok || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59) return false;
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start || i - start > 9) return false;
    // Go keeps nanoseconds and Prometheus truncates to milliseconds: the first three digits.
    for (size_t k = start; k < start + 3; ++k) frac_ms = frac_ms * 10 + (k < i ? s[k] - '0' : 0);
  }
  int offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i] == '-' ? -1 : 1;
    const int oh = ParseDigits(s, i + 1, 2, &ok), om = ParseDigits(s, i + 4, 2, &ok);
    if (!ok || i + 3 >= s.size() || s[i + 3] != ':' || oh > 23 || om > 59) return false;
    offset_min = sign * (oh * 60 + om);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  // Days from civil (Howard Hinnant's algorithm, http://howardhinnant.github.io/date_algorithms.html).
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + sec - offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return true;
}

HttpAnswer ErrorAnswer(int status, std::string_view type, std::string_view message) {
  HttpAnswer a;
  a.status = status;
  a.body = RenderQueryError(type, message);
  return a;
}

HttpAnswer BadData(std::string_view message) { return ErrorAnswer(400, "bad_data", message); }

// An evaluation error as Prometheus' API reports it.
HttpAnswer EvalError(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kInvalidArgument: return BadData(s.message());
    case ErrorCode::kDeadlineExceeded: return ErrorAnswer(503, "timeout", s.message());
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kResourceExhausted: return ErrorAnswer(422, "execution", s.message());
    default: return ErrorAnswer(500, "internal", s.message());
  }
}

// 11000 -> "11,000", as in Prometheus' message.
std::string WithThousands(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

std::string Param(const QueryParams& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Result<QueryOptions> WithTimeout(const QueryParams& params, const QueryOptions& base) {
  QueryOptions q = base;
  const std::string t = Param(params, "timeout");
  if (t.empty()) return q;
  auto d = ParseApiDuration(t);
  if (!d.ok()) return InvalidArgument("invalid parameter \"timeout\": " + d.status().message());
  if (*d > 0 && *d < q.timeout_ms) q.timeout_ms = *d;
  return q;
}

}  // namespace

Result<int64_t> ParseApiTime(std::string_view text) {
  double secs = 0;
  if (ParseFloatText(text, &secs)) {
    // api.go parseTime: whole seconds plus the fraction rounded to milliseconds.
    double whole = 0;
    double frac = std::modf(secs, &whole);
    frac = std::round(frac * 1000) / 1000;
    if (!std::isfinite(whole) || std::fabs(whole) > 9.2e15) {
      return InvalidArgument("cannot parse \"" + std::string(text) + "\" to a valid timestamp");
    }
    return static_cast<int64_t>(whole) * 1000 + static_cast<int64_t>(std::llround(frac * 1000));
  }
  int64_t ms = 0;
  if (ParseRfc3339(text, &ms)) return ms;
  return InvalidArgument("cannot parse \"" + std::string(text) + "\" to a valid timestamp");
}

Result<int64_t> ParseApiDuration(std::string_view text) {
  double secs = 0;
  if (ParseFloatText(text, &secs)) {
    const double ns = secs * 1e9;
    if (ns >= 9.223372036854775807e18 || ns <= -9.223372036854775807e18) {
      return InvalidArgument("cannot parse \"" + std::string(text) + "\" to a valid duration. It overflows int64");
    }
    // time.Duration in ns, then milliseconds truncated (engine durationMilliseconds).
    return static_cast<int64_t>(ns) / 1000000;
  }
  auto d = ParsePromqlDuration(text);
  if (d.ok()) return *d;
  return InvalidArgument("cannot parse \"" + std::string(text) + "\" to a valid duration");
}

std::string FormatApiValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits laid out without exponent, as Go's 'f' with precision -1
  // (std::to_chars' fixed form would print every digit of large values instead).
  char buf[64];
  const char* end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific).ptr;
  const std::string_view sci(buf, static_cast<size_t>(end - buf));
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out += '-';
    i = 1;
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e; ++k) {
    if (sci[k] != '.') digits += sci[k];
  }
  int exponent = 0;
  const char* exp_begin = sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0);
  std::from_chars(exp_begin, sci.data() + sci.size(), exponent);
  const int point = exponent + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out += digits;
  } else if (point >= n) {
    out += digits;
    out.append(static_cast<size_t>(point - n), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(point));
    out += '.';
    out += digits.substr(static_cast<size_t>(point));
  }
  return out;
}

std::string FormatApiTimestamp(int64_t t_ms) {
  std::string out;
  uint64_t abs = static_cast<uint64_t>(t_ms);
  if (t_ms < 0) {
    out += '-';
    abs = static_cast<uint64_t>(-(t_ms + 1)) + 1;
  }
  out += std::to_string(abs / 1000);
  const uint64_t frac = abs % 1000;
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03u", static_cast<unsigned>(frac));
    out += buf;
  }
  return out;
}

std::string RenderQueryError(std::string_view error_type, std::string_view message) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("error").Key("errorType").String(error_type).Key("error").String(message);
  w.EndObject();
  return out;
}

std::string RenderQueryResult(const QueryResult& result) {
  std::string out;
  size_t points = 0;
  for (const auto& s : result.series) points += s.samples.size();
  out.reserve(64 + result.series.size() * 96 + points * 32);
  JsonWriter w(&out);
  auto point = [&](const Sample& s) {
    w.BeginArray().Raw(FormatApiTimestamp(s.t)).String(FormatApiValue(s.v)).EndArray();
  };
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("resultType").String(ResultTypeName(result.type));
  w.Key("result");
  if (result.type == ValueType::kScalar) {
    point(result.scalar);
  } else {
    w.BeginArray();
    for (const auto& s : result.series) {
      w.BeginObject().Key("metric").BeginObject();
      for (const auto& [n, v] : s.labels->labels()) w.Key(n).String(v);
      w.EndObject();
      if (result.type == ValueType::kVector) {
        w.Key("value");
        point(s.samples.at(0));
      } else {
        w.Key("values").BeginArray();
        for (const auto& p : s.samples) point(p);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject().EndObject();
  return out;
}

HttpAnswer HandleQuery(const SeriesStore& store, const QueryParams& params, const QueryApiOptions& options) {
  int64_t t = options.now_ms != 0 ? options.now_ms : UnixMillis();
  const std::string time_text = Param(params, "time");
  if (!time_text.empty()) {
    auto parsed = ParseApiTime(time_text);
    if (!parsed.ok()) return BadData("invalid parameter \"time\": " + parsed.status().message());
    t = *parsed;
  }
  auto qopts = WithTimeout(params, options.query);
  if (!qopts.ok()) return BadData(qopts.status().message());
  auto expr = ParsePromql(Param(params, "query"));
  if (!expr.ok()) return BadData("invalid parameter \"query\": " + expr.status().message());
  auto result = EvalInstant(store, **expr, t, *qopts);
  if (!result.ok()) return EvalError(result.status());
  HttpAnswer a;
  a.body = RenderQueryResult(*result);
  return a;
}

HttpAnswer HandleQueryRange(const SeriesStore& store, const QueryParams& params, const QueryApiOptions& options) {
  auto start = ParseApiTime(Param(params, "start"));
  if (!start.ok()) return BadData("invalid parameter \"start\": " + start.status().message());
  auto end = ParseApiTime(Param(params, "end"));
  if (!end.ok()) return BadData("invalid parameter \"end\": " + end.status().message());
  if (*end < *start) return BadData("end timestamp must not be before start time");
  auto step = ParseApiDuration(Param(params, "step"));
  if (!step.ok()) return BadData("invalid parameter \"step\": " + step.status().message());
  if (*step <= 0) {
    return BadData("zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if ((*end - *start) / *step > options.max_points_per_series) {
    return BadData("exceeded maximum resolution of " + WithThousands(options.max_points_per_series) +
                   " points per timeseries. Try decreasing the query resolution (?step=XX)");
  }
  auto qopts = WithTimeout(params, options.query);
  if (!qopts.ok()) return BadData(qopts.status().message());
  auto expr = ParsePromql(Param(params, "query"));
  if (!expr.ok()) return BadData("invalid parameter \"query\": " + expr.status().message());
  auto result = EvalRange(store, **expr, *start, *end, *step, *qopts);
  if (!result.ok()) return EvalError(result.status());
  HttpAnswer a;
  a.body = RenderQueryResult(*result);
  return a;
}

}  // namespace shelfwatch::monitor
