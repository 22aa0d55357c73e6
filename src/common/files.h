// Whole files as bytes: read at once, and written so that a reader never sees half of one.
// Thread-safety: safe to call concurrently on different paths. Cost: O(file bytes).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace shelfwatch {

// Writes `bytes` to a temporary file beside `path` and renames it over `path` (rename is
// atomic on POSIX file systems): readers see the old file or the new one. kIoError on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);
// kNotFound when there is no regular file at `path`; kIoError when it cannot be read.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace shelfwatch
