#include "monitor/history/labels.h"

#include <algorithm>

namespace shelfwatch::monitor {
namespace {

// FNV-1a 64 (http://www.isthe.com/chongo/tech/comp/fnv/): a few labels per series, so a simple
// byte-wise hash is fast enough and needs no dependency.
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void HashBytes(uint64_t& h, std::string_view s) {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
}

// Separators that cannot occur in valid UTF-8, so "a"+"bc" and "ab"+"c" differ.
constexpr char kSep = '\xff';
constexpr char kNameValueSep = '\xfe';

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void AppendQuoted(std::string& out, std::string_view v) {
  out += '"';
  for (const char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  out += '"';
}

}  // namespace

LabelSet::LabelSet(std::vector<Label> labels) {
  // stable: for a repeated name the later pair stays last, and the backward pass keeps it.
  std::stable_sort(labels.begin(), labels.end(),
                   [](const Label& a, const Label& b) { return a.first < b.first; });
  std::vector<Label> out;
  out.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i + 1 < labels.size() && labels[i + 1].first == labels[i].first) continue;
    if (labels[i].second.empty()) continue;
    out.push_back(std::move(labels[i]));
  }
  labels_ = std::move(out);
  hash_ = HashOf(labels_);
}

uint64_t LabelSet::HashOf(const std::vector<Label>& labels) {
  uint64_t h = kFnvOffset;
  for (const auto& [n, v] : labels) {
    HashBytes(h, n);
    HashBytes(h, std::string_view(&kNameValueSep, 1));
    HashBytes(h, v);
    HashBytes(h, std::string_view(&kSep, 1));
  }
  return h;
}

std::string_view LabelSet::Get(std::string_view name) const {
  for (const auto& [n, v] : labels_) {
    if (n == name) return v;
  }
  return {};
}

LabelSet LabelSet::WithoutMetricName() const {
  if (MetricName().empty()) return *this;
  std::vector<Label> out;
  out.reserve(labels_.size());
  for (const auto& l : labels_) {
    if (l.first != kMetricNameLabel) out.push_back(l);
  }
  return LabelSet(Sorted{}, std::move(out));
}

LabelSet LabelSet::Without(const std::vector<std::string>& names, bool also_metric_name) const {
  std::vector<Label> out;
  out.reserve(labels_.size());
  for (const auto& l : labels_) {
    if (also_metric_name && l.first == kMetricNameLabel) continue;
    if (!Contains(names, l.first)) out.push_back(l);
  }
  return LabelSet(Sorted{}, std::move(out));
}

LabelSet LabelSet::Keep(const std::vector<std::string>& names) const {
  std::vector<Label> out;
  for (const auto& l : labels_) {
    if (Contains(names, l.first)) out.push_back(l);
  }
  return LabelSet(Sorted{}, std::move(out));
}

LabelSet LabelSet::With(std::string_view name, std::string_view value) const {
  std::vector<Label> out;
  out.reserve(labels_.size() + 1);
  for (const auto& l : labels_) {
    if (l.first != name) out.push_back(l);
  }
  if (!value.empty()) {
    auto pos = std::lower_bound(out.begin(), out.end(), name,
                                [](const Label& l, std::string_view n) { return l.first < n; });
    out.insert(pos, Label(std::string(name), std::string(value)));
  }
  return LabelSet(Sorted{}, std::move(out));
}

std::string LabelSet::ToString() const {
  std::string out(MetricName());
  out += '{';
  bool first = true;
  for (const auto& [n, v] : labels_) {
    if (n == kMetricNameLabel) continue;
    if (!first) out += ", ";
    first = false;
    out += n;
    out += '=';
    AppendQuoted(out, v);
  }
  out += '}';
  return out;
}

std::string MatchingSignature(const LabelSet& labels, const std::vector<std::string>& names, bool on) {
  std::string sig;
  for (const auto& [n, v] : labels.labels()) {
    const bool listed = std::binary_search(names.begin(), names.end(), n);
    if (on ? !listed : (listed || n == kMetricNameLabel)) continue;
    sig += n;
    sig += kNameValueSep;
    sig += v;
    sig += kSep;
  }
  return sig;
}

std::string_view MatchOpText(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual: return "=";
    case MatchOp::kNotEqual: return "!=";
    case MatchOp::kRegexMatch: return "=~";
    case MatchOp::kRegexNoMatch: return "!~";
  }
  return "?";
}

Result<LabelMatcher> LabelMatcher::Make(MatchOp op, std::string name, std::string value) {
  LabelMatcher m;
  m.op_ = op;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (op != MatchOp::kRegexMatch && op != MatchOp::kRegexNoMatch) return m;

  std::string pattern = m.value_;
  auto flags = std::regex::ECMAScript;
  if (pattern.rfind("(?i)", 0) == 0) {
    pattern.erase(0, 4);
    flags |= std::regex::icase;
  }
  const bool icase = (flags & std::regex::icase) != 0;
  if (!icase && pattern == ".*") {
    m.kind_ = RegexKind::kAny;
  } else if (!icase && pattern == ".+") {
    m.kind_ = RegexKind::kNonEmpty;
  } else if (!icase && pattern.find_first_of(".^$|?*+()[]{}\\") == std::string::npos) {
    m.kind_ = RegexKind::kLiteral;
    m.literal_ = pattern;
  } else {
    m.kind_ = RegexKind::kGeneral;
  }
  // Compile in every case so that a bad pattern is refused the same way whatever its shape.
  try {
    m.re_ = std::make_shared<const std::regex>("^(?:" + pattern + ")$", flags | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return InvalidArgument("invalid regular expression \"" + m.value_ + "\": " + e.what());
  }
  return m;
}

bool LabelMatcher::RegexMatches(std::string_view v) const {
  // "." matches any character but a newline, as in RE2 without the s flag.
  switch (kind_) {
    case RegexKind::kAny: return v.find('\n') == std::string_view::npos;
    case RegexKind::kNonEmpty: return !v.empty() && v.find('\n') == std::string_view::npos;
    case RegexKind::kLiteral: return v == literal_;
    default: return std::regex_match(v.begin(), v.end(), *re_);
  }
}

bool LabelMatcher::Matches(std::string_view v) const {
  switch (op_) {
    case MatchOp::kEqual: return v == value_;
    case MatchOp::kNotEqual: return v != value_;
    case MatchOp::kRegexMatch: return RegexMatches(v);
    case MatchOp::kRegexNoMatch: return !RegexMatches(v);
  }
  return false;
}

std::string LabelMatcher::ToString() const {
  std::string out = name_;
  out += MatchOpText(op_);
  AppendQuoted(out, value_);
  return out;
}

bool MatchesAll(const LabelSet& labels, const std::vector<LabelMatcher>& matchers) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

}  // namespace shelfwatch::monitor
