// Catalog: the products a search or recommendation serves, loaded from CSV or JSONL.
//
// A FieldMapping names which column (CSV header) or key (JSONL object) holds each product
// field; columns not mapped to a field can be kept as attributes. Bad rows are reported with
// file and line and skipped, or fail the load in strict mode. Loading never crashes on bad
// input.
//
// Decisions a loader user should know:
// - Title is optional: recommendation catalogs may be only id + category. When a title column
//   is mapped (named in FieldMapping or detected), a row with an empty title is rejected as
//   missing_title; when there is none, products load with an empty title.
// - Prices use '.' as the decimal point. ',' is accepted only as a thousands separator in
//   groups of three ("$1,299.00", "1,299"). A decimal comma ("19,99", "1.299,00") is rejected
//   as bad_price rather than guessed: in that convention "1.299" means 1299, so one value
//   cannot tell us which it is. An optional currency sign ($ € £ ¥) or ISO code ("USD 5") is
//   ignored. Negative, NaN, infinite and non-numeric prices are bad_price; empty is no price.
// - Ratings are plain numbers from 0 to 10 (5-star and 10-point scales); empty is no rating.
// - Category text is split on '>' if present, else '|', else '/' ("Tools > Power Tools");
//   in JSONL it may also be an array (an array of arrays uses its first path).
// - Every field value is trimmed of surrounding ASCII whitespace; empty attribute values are
//   not kept. Blank lines are skipped and not counted as rows.
// - CSV (RFC 4180): a quote inside an unquoted field is kept as a literal character
//   (12" pipe). A quoted field that never closes (end of file, or still open after
//   csv_max_record_lines lines) or has characters after its closing quote makes the row
//   bad_quoting; reading resumes at the line after the row's first line, so one stray quote
//   costs one row, never the rest of the file.
// - JSONL keys are resolved like a CSV header, from the first object that has a candidate
//   key for the field; afterwards that key is the field. Nested objects under "attributes"
//   or "attrs" are flattened into attributes. Numbers become their decimal text (id 100001
//   -> "100001"); integers beyond 64 bits are bad_json (simdjson's limit): quote such ids.
//
// Thread-safety: a loaded Catalog is immutable and safe for concurrent reads; Add, Reserve
// and ShrinkToFit need exclusive access.
// Cost: loading is O(file size), one pass over a memory-mapped file (pipes are read into
// memory); the Home Depot file (4.3 MB, 54,667 rows) loads in ~0.1 s. Memory per product ~
// sizeof(Product) (~210 bytes) + its text + 16-32 bytes of id index (17.7 MB for Home
// Depot). Find is O(1) expected.
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

// kEvents: an interaction log (user_id,item_id,category_id,...), one product per distinct item.
enum class Format { kAuto, kCsv, kJsonl, kEvents };

struct FieldMapping {
  // Column/key names. Empty id/title mean "detect": id from {id, product_id, item_id,
  // product_uid, sku}, title from {title, name, product_title}. Empty optional fields are
  // detected from their usual names too: description {description, product_description},
  // brand {brand, manufacturer}, category {category, categories, category_path,
  // category_id}, price {price, sale_price, list_price}, rating {rating, average_rating,
  // avg_rating, stars}. Detection ignores ASCII case and takes the first name of the list
  // that is present; explicit names must match exactly.
  std::string id;
  std::string title;
  std::string description;
  std::string brand;
  std::string category;  // a path "A > B > C" (separators '>' or '/' or '|') or a JSON array
  std::string price;     // "19.99", "$1,299.00"
  std::string rating;
  // Columns kept as attributes; empty = every column not mapped to a field above (when
  // keep_unmapped_as_attributes). A named column that does not exist fails the load.
  // Entries of a JSONL nested "attributes"/"attrs" object are attributes by declaration:
  // kept whatever keep_unmapped_as_attributes says, filtered by this list when it is given.
  std::vector<std::string> attributes;
  bool keep_unmapped_as_attributes = true;
};

struct LoadOptions {
  Format format = Format::kAuto;  // kAuto: .jsonl/.ndjson -> JSONL; a file starting with '{'
                                  // -> JSONL; else CSV
  char csv_delimiter = ',';       // not '"', '\r' or '\n'
  // A quoted CSV field may span lines; a row still open after this many lines is bad_quoting.
  size_t csv_max_record_lines = 1000;
  FieldMapping mapping;
  bool strict = false;   // first bad row fails the load
  bool progress = true;  // progress bar on a TTY when the load takes over a second
  size_t max_reported_errors = 100;  // row errors kept with details; all are counted
};

// RowError::reason values.
namespace reasons {
inline constexpr std::string_view kMissingId = "missing_id";
inline constexpr std::string_view kDuplicateId = "duplicate_id";
inline constexpr std::string_view kBadQuoting = "bad_quoting";
inline constexpr std::string_view kInvalidUtf8 = "invalid_utf8";
inline constexpr std::string_view kBadPrice = "bad_price";
inline constexpr std::string_view kBadRating = "bad_rating";
inline constexpr std::string_view kBadJson = "bad_json";
inline constexpr std::string_view kMissingTitle = "missing_title";
inline constexpr std::string_view kWrongColumnCount = "wrong_column_count";
}  // namespace reasons

struct RowError {
  std::string file;      // the path as given to LoadCatalog
  uint64_t line = 0;     // 1-based line where the row starts
  std::string reason;    // one of `reasons`
  std::string message;   // human readable, names the offending value where useful
  std::string ToString() const;  // "products.csv:17: duplicate_id: id '100001' first seen on line 2"
};

struct LoadReport {
  std::string file;
  uint64_t rows_read = 0;      // non-blank rows after the header (CSV) / lines (JSONL)
  uint64_t rows_loaded = 0;    // rows_loaded + rows_rejected == rows_read
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

  // Appends a product; fails with kConflict on a duplicate id, kInvalidArgument on an empty
  // one, kResourceExhausted past 2^32 - 2 products.
  Status Add(Product product);
  // Room for `count` products without reallocating (loading estimates it from the file).
  void Reserve(size_t count);
  // Releases spare capacity once loading is done, when over a quarter is spare (moving
  // every product to save less is not worth a pass over the catalog).
  void ShrinkToFit();
  // Approximate heap bytes held by the products and the id index.
  size_t MemoryBytes() const;

 private:
  std::string name_;
  std::vector<Product> products_;
  // Open-addressing hash index of products_ by id (linear probing, power-of-two size, load
  // <= 1/2). A slot holds (high 32 bits of the id's hash) << 32 | doc, so a probe touches a
  // product only when the hash bits match; doc kEmptyDoc marks a free slot. Ids are stored
  // once, in the products.
  static constexpr uint32_t kEmptyDoc = UINT32_MAX;
  std::vector<uint64_t> id_slots_;
  void RebuildIdIndex(size_t slots);
  void InsertSlot(uint32_t doc);
};

// Loads a catalog file. `report` (if given) says what was read and skipped; it is filled on
// failure too, as far as the load got.
// Errors: kNotFound / kIoError for the file, kInvalidArgument for an unusable header or
// mapping (e.g. no id column, or a mapped column/key that does not exist: the message lists
// the ones available), kInvalidArgument for the first bad row in strict mode (message =
// RowError::ToString()), kResourceExhausted when memory runs out.
Result<Catalog> LoadCatalog(const std::string& name, const std::string& path,
                            const LoadOptions& options, LoadReport* report = nullptr);

}  // namespace shelfwatch::catalog
