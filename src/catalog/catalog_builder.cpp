#include "catalog/catalog_builder.h"

#include "catalog/value_parsing.h"

namespace shelfwatch::catalog {

CatalogBuilder::CatalogBuilder(std::string catalog_name, std::string file, std::string_view noun,
                               const LoadOptions& options)
    : catalog_(std::move(catalog_name)), file_(std::move(file)), noun_(noun), options_(options) {
  report_.file = file_;
}

void CatalogBuilder::NoteBytesRead(uint64_t done, uint64_t total) {
  constexpr uint64_t kSampleRows = 1000;
  if (reserved_ || report_.rows_read < kSampleRows || done == 0) return;
  reserved_ = true;
  double rows_per_byte = static_cast<double>(report_.rows_read) / static_cast<double>(done);
  auto expected = static_cast<size_t>(rows_per_byte * static_cast<double>(total) * 1.05) + 64;
  catalog_.Reserve(expected);
  first_line_.reserve(expected);
}

Status CatalogBuilder::Reject(uint64_t line, std::string_view reason, std::string message) {
  ++report_.rows_rejected;
  ++report_.rejected_by_reason[std::string(reason)];
  RowError error{file_, line, std::string(reason), std::move(message)};
  if (options_.strict) return InvalidArgument(error.ToString());
  if (report_.errors.size() < options_.max_reported_errors) report_.errors.push_back(std::move(error));
  return Status::Ok();
}

std::string CatalogBuilder::Describe(const FieldSources& sources, ProductField field) const {
  return noun_ + " '" + sources[static_cast<size_t>(field)] + "'";
}

Status CatalogBuilder::AddRow(RowFields& row, const FieldSources& sources) {
  auto text = [&](ProductField f) { return TrimAscii(row.text[static_cast<size_t>(f)]); };
  auto has_source = [&](ProductField f) { return !sources[static_cast<size_t>(f)].empty(); };

  Product product;
  product.id = text(ProductField::kId);
  if (product.id.empty()) {
    std::string message = has_source(ProductField::kId)
                              ? "id " + Describe(sources, ProductField::kId) + " has no value"
                              : "no id " + noun_ + " (looked for " +
                                    JoinNames(DetectionCandidates(ProductField::kId)) + ")";
    return Reject(row.line, reasons::kMissingId, std::move(message));
  }
  auto quoted_id = [&] { return QuoteForMessage(product.id); };  // only for messages
  product.title = text(ProductField::kTitle);
  if (product.title.empty() && has_source(ProductField::kTitle)) {
    return Reject(row.line, reasons::kMissingTitle,
                  "title " + Describe(sources, ProductField::kTitle) + " has no value for id " + quoted_id());
  }
  product.description = text(ProductField::kDescription);
  product.brand = text(ProductField::kBrand);

  auto price = ParsePrice(text(ProductField::kPrice));
  if (!price.ok()) {
    return Reject(row.line, reasons::kBadPrice,
                  Describe(sources, ProductField::kPrice) + ": " + price.status().message() +
                      " (id " + quoted_id() + ")");
  }
  product.price = *price;
  auto rating = ParseRating(text(ProductField::kRating));
  if (!rating.ok()) {
    return Reject(row.line, reasons::kBadRating,
                  Describe(sources, ProductField::kRating) + ": " + rating.status().message() +
                      " (id " + quoted_id() + ")");
  }
  product.rating = *rating;

  if (row.category_path.empty()) {
    product.category_path = SplitCategoryPath(text(ProductField::kCategory));
  } else {
    product.category_path = std::move(row.category_path);
  }
  product.attributes = std::move(row.attributes);

  if (auto doc = catalog_.Find(product.id)) {
    return Reject(row.line, reasons::kDuplicateId,
                  "id " + quoted_id() + " first seen on line " + std::to_string(first_line_[*doc]));
  }
  Status added = catalog_.Add(std::move(product));
  if (!added.ok()) return added;  // capacity: not a row problem, ends the load
  first_line_.push_back(row.line);
  ++report_.rows_loaded;
  return Status::Ok();
}

Catalog CatalogBuilder::TakeCatalog() {
  catalog_.ShrinkToFit();
  return std::move(catalog_);
}

}  // namespace shelfwatch::catalog
