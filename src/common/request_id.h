// Request ids: UUID version 7 (RFC 9562), time-ordered so that stores indexed by request id
// append in order, and unique across replicas and restarts (74 random bits per id).
// Thread-safe: each thread draws from its own generator; no locks, no allocation beyond the
// returned string's small-string buffer.
#pragma once

#include <string>

namespace shelfwatch {

// "0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e"
std::string NewRequestId();

}  // namespace shelfwatch
