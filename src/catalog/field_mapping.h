// Which column or key feeds each Product field: the names detection looks for, and the
// matching rules shared by the CSV and JSONL loaders. Internal to the catalog module.
// Thread-safety: pure functions over immutable tables.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"

namespace shelfwatch::catalog {

enum class ProductField { kId, kTitle, kDescription, kBrand, kCategory, kPrice, kRating };
inline constexpr size_t kProductFieldCount = 7;
inline constexpr std::array<ProductField, kProductFieldCount> kAllProductFields = {
    ProductField::kId,       ProductField::kTitle, ProductField::kDescription,
    ProductField::kBrand,    ProductField::kCategory, ProductField::kPrice,
    ProductField::kRating};

// "id", "title", ... as in Product.
std::string_view ProductFieldName(ProductField field);
// Names detection tries, in order of preference (see FieldMapping).
std::span<const std::string_view> DetectionCandidates(ProductField field);
// The name FieldMapping gives the field explicitly; empty means detect.
const std::string& MappedName(const FieldMapping& mapping, ProductField field);

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b);
std::string_view TrimAscii(std::string_view s);

// Index in `names` of the column/key for `field`: the explicit name (exact match) when the
// mapping gives one, else the first detection candidate present (ASCII case-insensitive,
// surrounding spaces ignored) among names not `taken` by another field.
std::optional<size_t> ResolveField(const FieldMapping& mapping, ProductField field,
                                   std::span<const std::string_view> names,
                                   const std::vector<bool>& taken);

// "a, b, c" for error messages; at most `limit` names, then ", ... (N in all)".
std::string JoinNames(std::span<const std::string_view> names, size_t limit = 40);

}  // namespace shelfwatch::catalog
