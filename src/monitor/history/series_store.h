// What the PromQL engine reads: series (a label set and timestamped samples) selected by label
// matchers over a time window. MetricHistory implements it over its compressed ring of
// samples; InMemorySeriesStore is a plain implementation for tests and tools.
//
// Staleness follows Prometheus: a series that ends gets a "stale marker" sample, a NaN with a
// reserved bit pattern, at the first sampling it is missing from; an instant selector sees no
// value after it, range selectors skip it (https://prometheus.io/docs/prometheus/latest/querying/basics/#staleness).
//
// Thread-safety: SeriesStore::Select must be safe to call concurrently with itself (and, for
// MetricHistory, with sampling). InMemorySeriesStore: Add() needs external synchronisation
// with everything else; concurrent Select() calls are safe.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "common/status.h"
#include "monitor/history/labels.h"

namespace shelfwatch::monitor {

// Timestamps are milliseconds since the Unix epoch, as in Prometheus.
struct Sample {
  int64_t t = 0;
  double v = 0;
};

// Prometheus' stale marker (model/value.StaleNaN): a signalling-NaN payload that arithmetic
// never produces. Compare bits, never values.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }
// Any NaN stored as a value becomes the ordinary quiet NaN, so it can never read as stale.
inline double NormalizeValue(double v) { return std::isnan(v) ? std::nan("") : v; }

struct StoredSeries {
  LabelsPtr labels;
  std::vector<Sample> samples;  // increasing t; may contain stale markers
};

class SeriesStore {
 public:
  virtual ~SeriesStore() = default;
  // Appends to `out` every series whose labels satisfy all matchers, with its samples in
  // [mint, maxt] (stale markers included), in increasing time. A series with no sample in the
  // window may be left out.
  virtual Status Select(const std::vector<LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                        std::vector<StoredSeries>* out) const = 0;
};

// Series held in plain vectors, for tests, tools and comparisons.
class InMemorySeriesStore : public SeriesStore {
 public:
  // Appends a sample; samples of one series must come in increasing time (an older or equal
  // timestamp is refused, as Prometheus refuses out-of-order samples).
  Status Add(const LabelSet& labels, int64_t t, double v);
  // Appends a stale marker: the series ends at t.
  Status MarkStale(const LabelSet& labels, int64_t t) { return AddRaw(labels, t, StaleNaN()); }

  Status Select(const std::vector<LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                std::vector<StoredSeries>* out) const override;
  size_t num_series() const { return series_.size(); }

 private:
  Status AddRaw(const LabelSet& labels, int64_t t, double v);
  std::map<LabelSet, std::vector<Sample>> series_;
};

// Samples of `all` within [mint, maxt] (a binary search; `all` sorted by t).
std::vector<Sample> SamplesBetween(const std::vector<Sample>& all, int64_t mint, int64_t maxt);

}  // namespace shelfwatch::monitor
