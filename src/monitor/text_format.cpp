// Prometheus text exposition format 0.0.4, as specified in
// https://prometheus.io/docs/instrumenting/exposition_formats/ (line format, escaping rules,
// histogram _bucket/_sum/_count series with a cumulative le label ending in "+Inf").
// Everything is appended in place into one string reserved up front.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/utf8.h"
#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

// Appends `s` (valid UTF-8) escaping backslash and newline, and double quote when `quote`.
void AppendEscapedValid(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// The scraper rejects label values that are not UTF-8, which would fail the whole scrape:
// each byte that starts an ill-formed sequence becomes U+FFFD.
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  bool plain = true;  // ASCII with nothing to escape: the common case, copied as is
  for (const char c : s) {
    plain = plain && static_cast<unsigned char>(c) < 0x80 && c != '\\' && c != '\n' && c != '"';
  }
  if (plain) {
    out += s;
    return;
  }
  for (;;) {
    const size_t bad = FirstInvalidUtf8(s);
    AppendEscapedValid(out, s.substr(0, bad), quote);
    if (bad >= s.size()) break;
    out += "\xEF\xBF\xBD";
    s.remove_prefix(bad + 1);
  }
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[128];
  // Counts are the common case: integers print as plain digits.
  if (v == std::trunc(v) && std::fabs(v) < 9.2e18) {
    out.append(buf, std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v)).ptr);
    return;
  }
  // Shortest digits that read back to the same double, laid out like Go's
  // strconv.FormatFloat(v, 'g', -1, 64), which Prometheus' own clients use: plain digits when
  // the decimal exponent is in [-4, 21), so bucket bounds like 0.0001 carry no exponent and
  // `le` labels match what PromQL users type.
  const char* end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific).ptr;
  const std::string_view sci(buf, static_cast<size_t>(end - buf));
  int exponent = 0;
  const size_t e = sci.find('e');
  const char* exp_begin = sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0);
  std::from_chars(exp_begin, end, exponent);
  if (exponent < -4 || exponent >= 21) {
    out += sci;
    return;
  }
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed).ptr);
}

void AppendCount(std::string& out, uint64_t n) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

// name="value",name="value" (no braces).
void AppendLabelList(std::string& out, const LabelPairs& labels) {
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscaped(out, value, /*quote=*/true);
    out += '"';
  }
}

// name{labels} or name when there are no labels.
void AppendSeriesName(std::string& out, std::string_view name, std::string_view suffix,
                      const LabelPairs& labels) {
  out += name;
  out += suffix;
  if (labels.empty()) return;
  out += '{';
  AppendLabelList(out, labels);
  out += '}';
}

void AppendHistogram(std::string& out, const std::string& name, const SeriesSnapshot& s,
                     const std::vector<std::string>& le_text) {
  const HistogramSnapshot& h = s.histogram;
  // name_bucket{labels, — shared by every bucket line of the series.
  std::string prefix = name + "_bucket{";
  AppendLabelList(prefix, s.labels);
  if (!s.labels.empty()) prefix += ',';
  prefix += "le=\"";
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    out += prefix;
    out += i < le_text.size() ? std::string_view(le_text[i]) : std::string_view("+Inf");
    out += "\"} ";
    AppendCount(out, h.cumulative[i]);
    out += '\n';
  }
  AppendSeriesName(out, name, "_sum", s.labels);
  out += ' ';
  AppendValue(out, h.sum);
  out += '\n';
  AppendSeriesName(out, name, "_count", s.labels);
  out += ' ';
  AppendCount(out, h.count);
  out += '\n';
}

}  // namespace

std::string FormatValue(double v) {
  std::string out;
  AppendValue(out, v);
  return out;
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  AppendEscaped(out, v, /*quote=*/true);
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  AppendEscaped(out, help, /*quote=*/false);
  return out;
}

// An upper estimate of the rendered size: growing a 100 KiB+ string step by step costs more
// in page faults than the formatting itself.
size_t EstimatedSize(const std::vector<MetricFamilySnapshot>& families) {
  size_t bytes = 0;
  for (const MetricFamilySnapshot& fam : families) {
    bytes += 2 * fam.name.size() + fam.help.size() + 32;
    for (const SeriesSnapshot& s : fam.series) {
      size_t line = fam.name.size() + 48;  // suffix, braces, le label, value
      for (const auto& [n, v] : s.labels) line += n.size() + v.size() + 4;
      bytes += line * (fam.type == MetricType::kHistogram ? s.histogram.cumulative.size() + 2 : 1);
    }
  }
  return bytes;
}

std::string RenderTextFormat(const std::vector<MetricFamilySnapshot>& families) {
  std::string out;
  out.reserve(EstimatedSize(families));
  std::vector<double> le_bounds;  // bounds whose text is in le_text (series usually share them)
  std::vector<std::string> le_text;
  for (const MetricFamilySnapshot& fam : families) {
    if (fam.series.empty()) continue;
    out += "# HELP ";
    out += fam.name;
    out += ' ';
    AppendEscaped(out, fam.help, /*quote=*/false);
    out += "\n# TYPE ";
    out += fam.name;
    out += ' ';
    out += MetricTypeName(fam.type);
    out += '\n';
    for (const SeriesSnapshot& s : fam.series) {
      if (fam.type == MetricType::kHistogram) {
        if (s.histogram.bounds != le_bounds) {
          le_bounds = s.histogram.bounds;
          le_text.clear();
          for (double b : le_bounds) le_text.push_back(FormatValue(b));
        }
        AppendHistogram(out, fam.name, s, le_text);
        continue;
      }
      AppendSeriesName(out, fam.name, "", s.labels);
      out += ' ';
      AppendValue(out, s.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace shelfwatch::monitor
