// Timestamp text as clients send it, internal to the feedback module.
// Thread-safe; allocation-free; O(length).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace shelfwatch::feedback {

// RFC 3339 date-time (section 5.6): "2026-11-29T11:14:06Z", "2026-11-29t11:14:06.123456+05:30",
// "2026-11-29 11:14:06.5-08:00" (a space for T, as section 5.6's note permits). Fractions
// beyond milliseconds are truncated; a leap second (:60) counts as the next second's start.
// Returns Unix milliseconds, or nullopt when the text is not such a date-time or names an
// impossible date (2026-02-30).
std::optional<int64_t> ParseRfc3339Millis(std::string_view text);

// A number of Unix seconds or milliseconds, told apart by size: below 1e11 it is seconds
// (1e11 s is the year 5138, 1e11 ms is 1973). nullopt when not finite or out of int64 range.
std::optional<int64_t> EpochNumberToMillis(double number);

}  // namespace shelfwatch::feedback
