// Catalog: the products a search or recommendation serves, loaded from CSV or JSONL.
//
// A FieldMapping names which column (CSV header) or key (JSONL object) holds each product
// field; columns not mapped to a field can be kept as attributes. Bad rows are reported with
// file and line and skipped, or fail the load in strict mode. Loading never crashes on bad
// input.
// Thread-safety: a loaded Catalog is immutable and safe for concurrent reads.
// Cost: loading is O(file size), one pass, streaming; memory ~ the text it keeps.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace shelfwatch::catalog {

struct Product {
  std::string id;
  std::string title;
  std::string description;
  std::string brand;
  std::vector<std::string> category_path;  // root first: {"Tools", "Power Tools", "Drills"}
  std::optional<double> price;
  std::optional<double> rating;
  std::vector<std::pair<std::string, std::string>> attributes;  // (name, value), file order
};

enum class Format { kAuto, kCsv, kJsonl };

struct FieldMapping {
  // Column/key names. Empty id/title mean "detect": id from {id, product_id, item_id,
  // product_uid, sku}, title from {title, name, product_title}. Empty optional fields are
  // detected from their usual names too (description, brand, category, price, rating).
  std::string id;
  std::string title;
  std::string description;
  std::string brand;
  std::string category;  // a path "A > B > C" (separators '>' or '/' or '|') or a JSON array
  std::string price;     // "19.99", "$1,299.00"
  std::string rating;
  // Columns kept as attributes; empty = every column not mapped to a field above.
  std::vector<std::string> attributes;
  bool keep_unmapped_as_attributes = true;
};

struct LoadOptions {
  Format format = Format::kAuto;  // kAuto: by extension (.jsonl/.ndjson -> JSONL, else CSV)
  char csv_delimiter = ',';
  FieldMapping mapping;
  bool strict = false;   // first bad row fails the load
  bool progress = true;  // progress bar on a TTY when the load takes over a second
  size_t max_reported_errors = 100;  // row errors kept with details; all are counted
};

struct RowError {
  std::string file;
  uint64_t line = 0;     // 1-based line where the row starts
  std::string reason;    // missing_id | duplicate_id | bad_quoting | invalid_utf8 | bad_price |
                         // bad_rating | bad_json | missing_title | wrong_column_count
  std::string message;   // human readable, names the offending value where useful
  std::string ToString() const;  // "products.csv:17: duplicate_id: id '100001' first seen on line 2"
};

struct LoadReport {
  std::string file;
  uint64_t rows_read = 0;
  uint64_t rows_loaded = 0;
  uint64_t rows_rejected = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
  std::vector<RowError> errors;  // first max_reported_errors
  double seconds = 0;
};

class Catalog {
 public:
  Catalog() = default;
  explicit Catalog(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  size_t size() const { return products_.size(); }
  const Product& product(uint32_t doc) const { return products_[doc]; }
  const std::vector<Product>& products() const { return products_; }
  // Internal doc number of an external id.
  std::optional<uint32_t> Find(std::string_view id) const;

  // Appends a product; fails with kConflict on a duplicate id.
  Status Add(Product product);
  // Approximate heap bytes held by the products and the id map.
  size_t MemoryBytes() const;

 private:
  std::string name_;
  std::vector<Product> products_;
  std::unordered_map<std::string, uint32_t> by_id_;
};

// Loads a catalog file. On success `report` (if given) says what was read and skipped.
// Errors: kNotFound / kIoError for the file, kInvalidArgument for an unusable header or
// mapping (e.g. no id column), kInvalidArgument for the first bad row in strict mode.
Result<Catalog> LoadCatalog(const std::string& name, const std::string& path,
                            const LoadOptions& options, LoadReport* report = nullptr);

}  // namespace shelfwatch::catalog
