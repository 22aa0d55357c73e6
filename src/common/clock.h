// Time sources. Thread-safe; allocation-free.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace shelfwatch {

using SteadyClock = std::chrono::steady_clock;

// Monotonic nanoseconds, for durations.
inline int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

// Wall-clock time since the Unix epoch.
inline int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline double UnixSeconds() { return static_cast<double>(UnixMillis()) / 1000.0; }

// RFC 3339 UTC timestamp with milliseconds: 2026-11-29T11:14:06.123Z
std::string FormatRfc3339Millis(int64_t unix_millis);

// Parses durations written as "10s", "250ms", "1m", "2h", "30d", "1.5s" or plain seconds ("10").
// Returns a negative value when the text is not a duration.
double ParseDurationSeconds(const std::string& text);

}  // namespace shelfwatch
