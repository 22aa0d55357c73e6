// Attribution: ties each feedback event to the served request named by its request_id.
//
// For every event whose request_id the ServedRequestLog knows, Attribute() sets attributed,
// catalog, endpoint and variant, and -- when the event lacks `position` and the item was among the
// returned results -- fills position with the item's 1-based rank (for clicks this is the rank
// the canary and position-bias analyses need; other types get it too, since the rank is a
// fact of the response). A client-sent position is kept as sent. An event whose request_id is
// unknown (expired, from another replica, or invented) is left unattributed, not rejected:
// it is still stored, with attributed = 0, and counted.
//
// Thread-safety: safe to call concurrently (ServedRequestLog::Lookup is). Cost: one Lookup per
// distinct request_id among consecutive events (a batch from one page view shares one), plus
// an O(results) rank scan per event without position.
#pragma once

#include <cstddef>
#include <span>

#include "feedback/events.h"
#include "feedback/served_log.h"

namespace shelfwatch::feedback {

struct AttributionCounts {
  size_t attributed = 0;
  size_t unattributed = 0;
  size_t positions_filled = 0;
};

AttributionCounts Attribute(const ServedRequestLog& log, std::span<Event> events);

}  // namespace shelfwatch::feedback
