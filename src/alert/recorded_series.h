// RecordedSeries: where recording rules (and the ALERTS series) write their results, so that
// PromQL queries see them next to the metric history, as they would in Prometheus' TSDB.
//
// Each writer ("owner": one rule) replaces its whole output at a time t; a series the owner
// wrote before and not now gets a stale marker at t (Prometheus marks series that a rule stops
// producing stale, rules/group.go). Samples older than `retention_ms` are dropped; at most
// `max_series` series are kept (new ones beyond are dropped and counted).
//
// Thread-safety: all methods are safe to call concurrently (one mutex).
// Cost: Write is O(series written x log series); Select is O(series x samples in window).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "monitor/history/series_store.h"

namespace shelfwatch::alert {

class RecordedSeries final : public monitor::SeriesStore {
 public:
  explicit RecordedSeries(int64_t retention_ms = 6LL * 3600 * 1000, size_t max_series = 20'000)
      : retention_ms_(retention_ms), max_series_(max_series) {}

  // Replaces `owner`'s output at time t with `samples`.
  void Write(const std::string& owner, int64_t t, const std::vector<std::pair<monitor::LabelSet, double>>& samples);
  // Marks everything `owner` wrote stale at t and forgets the owner (a removed rule).
  void Forget(const std::string& owner, int64_t t);
  // Owners that have written something.
  std::vector<std::string> Owners() const;
  uint64_t series_dropped() const;

  Status Select(const std::vector<monitor::LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                std::vector<monitor::StoredSeries>* out) const override;

 private:
  void Append(const monitor::LabelSet& labels, int64_t t, double v);

  const int64_t retention_ms_;
  const size_t max_series_;
  mutable std::mutex mu_;
  std::map<monitor::LabelSet, std::deque<monitor::Sample>> series_;
  std::map<std::string, std::set<monitor::LabelSet>> owned_;
  uint64_t dropped_ = 0;
};

// A SeriesStore that answers from two stores (the metric history and the recorded series).
class LayeredSeriesStore final : public monitor::SeriesStore {
 public:
  LayeredSeriesStore(const monitor::SeriesStore& first, const monitor::SeriesStore& second)
      : first_(first), second_(second) {}
  Status Select(const std::vector<monitor::LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                std::vector<monitor::StoredSeries>* out) const override {
    SW_RETURN_IF_ERROR(first_.Select(matchers, mint, maxt, out));
    return second_.Select(matchers, mint, maxt, out);
  }

 private:
  const monitor::SeriesStore& first_;
  const monitor::SeriesStore& second_;
};

}  // namespace shelfwatch::alert
