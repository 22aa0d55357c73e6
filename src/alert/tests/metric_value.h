// Reads one series' value from a Registry's scrape snapshot, for asserting on the alert
// module's own metrics.
#pragma once

#include <string>

#include "monitor/metrics.h"

namespace shelfwatch::alert::testing {

// The value of the counter/gauge series `name` with exactly `labels`, or -1 when absent; for
// a histogram, its observation count.
inline double MetricValue(const monitor::Registry& registry, const std::string& name,
                          const monitor::LabelPairs& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& s : family.series) {
      if (s.labels != labels) continue;
      return family.type == monitor::MetricType::kHistogram ? static_cast<double>(s.histogram.count) : s.value;
    }
  }
  return -1;
}

}  // namespace shelfwatch::alert::testing
