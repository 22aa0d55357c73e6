// CatalogBuilder: the part of loading that does not depend on the file format. A loader
// hands it each row's field texts; it validates them (id, title, price, rating), rejects
// duplicates, counts and records bad rows, and applies strict mode. Internal to the module.
// Thread-safety: not thread-safe; one per load.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/field_mapping.h"

namespace shelfwatch::catalog {

// One row as a loader found it. Views must stay valid until AddRow returns.
struct RowFields {
  uint64_t line = 0;
  std::array<std::string_view, kProductFieldCount> text{};  // indexed by ProductField
  // Set by loaders that read a structured category (JSON array); else text[kCategory] is
  // split with SplitCategoryPath.
  std::vector<std::string> category_path;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// The column/key name feeding each field, "" when the field has none.
using FieldSources = std::array<std::string, kProductFieldCount>;

class CatalogBuilder {
 public:
  // `noun` is what the format calls a field source in messages: "column" or "key".
  CatalogBuilder(std::string catalog_name, std::string file, std::string_view noun,
                 const LoadOptions& options);

  void CountRow() { ++report_.rows_read; }
  // Tells the builder how far into the file (of `total` bytes) the loader is. Once enough
  // rows were read to judge their size, it reserves room for the rows the rest of the file
  // likely holds: one allocation instead of repeated doubling, whose copies page-fault.
  void NoteBytesRead(uint64_t done, uint64_t total);
  // Records a bad row. Returns the error that ends the load in strict mode, else OK.
  Status Reject(uint64_t line, std::string_view reason, std::string message);
  // Validates and adds one row; a bad one goes through Reject. Moves out of `row`.
  Status AddRow(RowFields& row, const FieldSources& sources);

  LoadReport& report() { return report_; }
  Catalog TakeCatalog();

 private:
  std::string Describe(const FieldSources& sources, ProductField field) const;

  Catalog catalog_;
  std::string file_;
  std::string noun_;
  const LoadOptions& options_;
  LoadReport report_;
  std::vector<uint64_t> first_line_;  // by doc: the line each product came from
  bool reserved_ = false;
};

}  // namespace shelfwatch::catalog
