#include "catalog/field_mapping.h"

namespace shelfwatch::catalog {

namespace {

constexpr std::string_view kIdNames[] = {"id", "product_id", "item_id", "product_uid", "sku"};
constexpr std::string_view kTitleNames[] = {"title", "name", "product_title"};
constexpr std::string_view kDescriptionNames[] = {"description", "product_description"};
constexpr std::string_view kBrandNames[] = {"brand", "manufacturer"};
constexpr std::string_view kCategoryNames[] = {"category", "categories", "category_path",
                                               "category_id"};
constexpr std::string_view kPriceNames[] = {"price", "sale_price", "list_price"};
constexpr std::string_view kRatingNames[] = {"rating", "average_rating", "avg_rating", "stars"};

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string_view ProductFieldName(ProductField field) {
  switch (field) {
    case ProductField::kId: return "id";
    case ProductField::kTitle: return "title";
    case ProductField::kDescription: return "description";
    case ProductField::kBrand: return "brand";
    case ProductField::kCategory: return "category";
    case ProductField::kPrice: return "price";
    case ProductField::kRating: return "rating";
  }
  return "?";
}

std::span<const std::string_view> DetectionCandidates(ProductField field) {
  switch (field) {
    case ProductField::kId: return kIdNames;
    case ProductField::kTitle: return kTitleNames;
    case ProductField::kDescription: return kDescriptionNames;
    case ProductField::kBrand: return kBrandNames;
    case ProductField::kCategory: return kCategoryNames;
    case ProductField::kPrice: return kPriceNames;
    case ProductField::kRating: return kRatingNames;
  }
  return {};
}

const std::string& MappedName(const FieldMapping& mapping, ProductField field) {
  switch (field) {
    case ProductField::kId: return mapping.id;
    case ProductField::kTitle: return mapping.title;
    case ProductField::kDescription: return mapping.description;
    case ProductField::kBrand: return mapping.brand;
    case ProductField::kCategory: return mapping.category;
    case ProductField::kPrice: return mapping.price;
    case ProductField::kRating: return mapping.rating;
  }
  return mapping.id;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view TrimAscii(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<size_t> ResolveField(const FieldMapping& mapping, ProductField field,
                                   std::span<const std::string_view> names,
                                   const std::vector<bool>& taken) {
  const std::string& wanted = MappedName(mapping, field);
  if (!wanted.empty()) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == wanted) return i;
    }
    return std::nullopt;
  }
  for (std::string_view candidate : DetectionCandidates(field)) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (i < taken.size() && taken[i]) continue;
      if (EqualsIgnoreAsciiCase(TrimAscii(names[i]), candidate)) return i;
    }
  }
  return std::nullopt;
}

std::string JoinNames(std::span<const std::string_view> names, size_t limit) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size()) + " in all)";
  if (names.empty()) out = "(none)";
  return out;
}

}  // namespace shelfwatch::catalog
