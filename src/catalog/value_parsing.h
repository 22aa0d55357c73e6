// Parsing of product field values written by people: prices, ratings, category paths, and
// quoting of offending values for error messages. The accepted forms are documented in
// catalog.h. Thread-safety: pure functions. Cost: O(length of the value).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::catalog {

// "19.99", "$1,299.00", "1299", "USD 5" -> the amount; "" -> nullopt; anything else
// (negative, NaN, a decimal comma, words) -> kInvalidArgument naming the value.
Result<std::optional<double>> ParsePrice(std::string_view text);
// A plain number from 0 to 10; "" -> nullopt.
Result<std::optional<double>> ParseRating(std::string_view text);
inline constexpr double kMaxRating = 10.0;

// "Tools > Power Tools > Drills" -> {"Tools", "Power Tools", "Drills"}. Splits on '>' if
// present, else '|', else '/'; parts are trimmed; empty parts are dropped.
std::vector<std::string> SplitCategoryPath(std::string_view text);

// 'value' for a message: invalid UTF-8 bytes and control characters escaped (\xNN, \n),
// cut to about `max_bytes` with "..." so one huge field cannot flood a log.
std::string QuoteForMessage(std::string_view value, size_t max_bytes = 80);

}  // namespace shelfwatch::catalog
