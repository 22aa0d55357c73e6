// Test support: counts heap allocations made through operator new while a callable runs.
// Linking allocation_counter.cpp replaces the global operator new/delete of the test binary.
#pragma once

#include <cstddef>
#include <functional>

namespace shelfwatch::text::testing_support {

// Runs `fn` and returns how many times operator new was called meanwhile (any thread).
size_t CountAllocations(const std::function<void()>& fn);

}  // namespace shelfwatch::text::testing_support
