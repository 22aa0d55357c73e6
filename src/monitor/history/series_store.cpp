#include "monitor/history/series_store.h"

#include <algorithm>
#include <memory>

namespace shelfwatch::monitor {

std::vector<Sample> SamplesBetween(const std::vector<Sample>& all, int64_t mint, int64_t maxt) {
  auto lo = std::lower_bound(all.begin(), all.end(), mint, [](const Sample& s, int64_t t) { return s.t < t; });
  auto hi = std::upper_bound(lo, all.end(), maxt, [](int64_t t, const Sample& s) { return t < s.t; });
  return std::vector<Sample>(lo, hi);
}

Status InMemorySeriesStore::Add(const LabelSet& labels, int64_t t, double v) {
  return AddRaw(labels, t, NormalizeValue(v));
}

Status InMemorySeriesStore::AddRaw(const LabelSet& labels, int64_t t, double v) {
  if (labels.MetricName().empty()) return InvalidArgument("series " + labels.ToString() + " has no metric name");
  auto& samples = series_[labels];
  if (!samples.empty() && samples.back().t >= t) {
    return InvalidArgument("out-of-order sample for " + labels.ToString() + " at " + std::to_string(t));
  }
  samples.push_back({t, v});
  return Status::Ok();
}

Status InMemorySeriesStore::Select(const std::vector<LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                                   std::vector<StoredSeries>* out) const {
  for (const auto& [labels, samples] : series_) {
    if (!MatchesAll(labels, matchers)) continue;
    StoredSeries s;
    s.samples = SamplesBetween(samples, mint, maxt);
    if (s.samples.empty()) continue;
    s.labels = std::make_shared<const LabelSet>(labels);
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace shelfwatch::monitor
