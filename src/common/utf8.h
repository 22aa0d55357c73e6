// UTF-8 validation. Thread-safe; allocation-free; O(n).
#pragma once

#include <cstddef>
#include <string_view>

namespace shelfwatch {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Byte offset of the first ill-formed sequence, or s.size() when `s` is valid.
size_t FirstInvalidUtf8(std::string_view s);

}  // namespace shelfwatch
