#include "feedback/attribution.h"

namespace shelfwatch::feedback {

AttributionCounts Attribute(const ServedRequestLog& log, std::span<Event> events) {
  AttributionCounts counts;
  std::shared_ptr<const ServedRequestInfo> info;
  const std::string* looked_up = nullptr;  // request_id that `info` answers
  for (Event& e : events) {
    if (!looked_up || *looked_up != e.request_id) {
      info = log.Lookup(e.request_id);
      looked_up = &e.request_id;
    }
    if (!info) {
      e.attributed = false;
      e.catalog.clear();
      e.endpoint.clear();
      e.variant.clear();
      ++counts.unattributed;
      continue;
    }
    e.attributed = true;
    e.catalog = info->catalog;
    e.endpoint = info->endpoint;
    e.variant = info->variant;
    ++counts.attributed;
    if (e.position == 0) {
      e.position = info->RankOf(e.item_id);
      if (e.position > 0) ++counts.positions_filled;
    }
  }
  return counts;
}

}  // namespace shelfwatch::feedback
