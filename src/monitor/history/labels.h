// Label sets and label matchers as PromQL sees them.
//
// A LabelSet is the identity of one series: (name, value) pairs sorted by name, names unique,
// no empty values (Prometheus treats an empty value as an absent label). The metric name is
// the label "__name__". A LabelSet is immutable and carries its hash, so the query engine can
// key maps by it cheaply.
//
// Thread-safety: LabelSet and LabelMatcher are immutable values; safe to share between threads.
// Cost: Get() is a linear scan (series have a handful of labels); matching a regex costs what
// std::regex costs (literal and ".*"-style patterns skip it).
#pragma once

#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace shelfwatch::monitor {

inline constexpr std::string_view kMetricNameLabel = "__name__";

using Label = std::pair<std::string, std::string>;

class LabelSet {
 public:
  LabelSet() : hash_(HashOf({})) {}
  // Sorts by name; drops empty values; for a repeated name the last value wins.
  explicit LabelSet(std::vector<Label> labels);

  const std::vector<Label>& labels() const { return labels_; }
  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  // The value of `name`, "" when absent.
  std::string_view Get(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  uint64_t hash() const { return hash_; }

  // Copies with changes; `names` need not be sorted.
  LabelSet WithoutMetricName() const;
  LabelSet Without(const std::vector<std::string>& names, bool also_metric_name) const;
  LabelSet Keep(const std::vector<std::string>& names) const;
  LabelSet With(std::string_view name, std::string_view value) const;

  // Prometheus notation: name{a="b", c="d"}, or {a="b"} without a name, {} when empty.
  std::string ToString() const;

  friend bool operator==(const LabelSet& a, const LabelSet& b) {
    return a.hash_ == b.hash_ && a.labels_ == b.labels_;
  }
  friend bool operator<(const LabelSet& a, const LabelSet& b) { return a.labels_ < b.labels_; }

 private:
  struct Sorted {};
  LabelSet(Sorted, std::vector<Label> labels) : labels_(std::move(labels)), hash_(HashOf(labels_)) {}
  static uint64_t HashOf(const std::vector<Label>& labels);

  std::vector<Label> labels_;
  uint64_t hash_ = 0;
};

struct LabelSetHash {
  size_t operator()(const LabelSet& l) const { return static_cast<size_t>(l.hash()); }
};

// Shared, immutable label sets: the engine passes these by pointer between evaluation steps.
using LabelsPtr = std::shared_ptr<const LabelSet>;

// A series key for matching ("signature"): the listed labels (on) or all but the listed ones
// and the metric name (ignoring / default), encoded unambiguously. `names` must be sorted.
std::string MatchingSignature(const LabelSet& labels, const std::vector<std::string>& names, bool on);

enum class MatchOp { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };
// "=", "!=", "=~", "!~"
std::string_view MatchOpText(MatchOp op);

// One label matcher of a selector: {name op "value"}. Regexes are fully anchored like
// Prometheus' (^(?:re)$), in ECMAScript syntax (RE2's common subset: classes, groups,
// alternation, repetition, \d \w \s); a leading (?i) makes the match case-insensitive.
class LabelMatcher {
 public:
  // Fails with InvalidArgument when a regex does not compile.
  static Result<LabelMatcher> Make(MatchOp op, std::string name, std::string value);

  MatchOp op() const { return op_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // Whether a series whose label `name` has value `v` ("" when absent) is selected.
  bool Matches(std::string_view v) const;
  // Whether the matcher selects series lacking the label (e.g. a="" or a!="x").
  bool MatchesEmpty() const { return Matches(""); }
  std::string ToString() const;

 private:
  enum class RegexKind { kNone, kLiteral, kAny, kNonEmpty, kGeneral };
  bool RegexMatches(std::string_view v) const;

  MatchOp op_ = MatchOp::kEqual;
  std::string name_, value_;
  RegexKind kind_ = RegexKind::kNone;
  std::string literal_;  // kLiteral: the regex is this plain string
  std::shared_ptr<const std::regex> re_;
};

// Whether the labels satisfy every matcher.
bool MatchesAll(const LabelSet& labels, const std::vector<LabelMatcher>& matchers);

}  // namespace shelfwatch::monitor
