// The "events" catalog format: a catalog read from an interaction log (user_id, item_id,
// category_id, behavior_type, timestamp -- the Taobao UserBehavior layout), for shops whose
// recommendations need no product text: every distinct item becomes a product with its id
// and category, in order of first appearance.
#include <unordered_set>

#include "catalog/catalog_builder.h"
#include "catalog/csv_reader.h"
#include "catalog/loaders.h"

namespace shelfwatch::catalog {

Status LoadEventRows(std::string_view text, const std::string& path, const LoadOptions& options,
                     CatalogBuilder& builder, ProgressBar& progress) {
  CsvReader reader(text, path, CsvOptions{options.csv_delimiter, options.csv_max_record_lines});
  if (reader.Read() != CsvReader::Outcome::kRecord) return InvalidArgument(path + ": empty events file");
  // Columns by header name; a mapping may rename them (id=..., category=...).
  const FieldMapping& m = options.mapping;
  std::string id_name = m.id.empty() ? "item_id" : m.id;
  std::string category_name = m.category.empty() ? "category_id" : m.category;
  int id_col = -1, category_col = -1;
  for (size_t i = 0; i < reader.fields().size(); ++i) {
    if (reader.fields()[i] == id_name) id_col = static_cast<int>(i);
    if (reader.fields()[i] == category_name) category_col = static_cast<int>(i);
  }
  if (id_col < 0) return InvalidArgument(path + ": events need an item id column '" + id_name + "' in the header");
  FieldSources sources;
  sources[static_cast<size_t>(ProductField::kId)] = id_name;
  if (category_col >= 0) sources[static_cast<size_t>(ProductField::kCategory)] = category_name;

  std::unordered_set<std::string> seen;
  while (true) {
    CsvReader::Outcome outcome = reader.Read();
    if (outcome == CsvReader::Outcome::kEnd) break;
    builder.CountRow();
    builder.NoteBytesRead(reader.bytes_consumed(), reader.total_bytes());
    progress.Update(reader.bytes_consumed());
    if (outcome == CsvReader::Outcome::kBadQuoting) {
      SW_RETURN_IF_ERROR(builder.Reject(reader.row_line(), "bad_quoting", reader.problem()));
      continue;
    }
    const auto& f = reader.fields();
    if (static_cast<int>(f.size()) <= std::max(id_col, category_col)) {
      SW_RETURN_IF_ERROR(builder.Reject(reader.row_line(), "missing_column", "the row has fewer columns than the header"));
      continue;
    }
    // Repeated items are the normal case in an event log, not an error.
    if (!seen.emplace(f[id_col]).second) continue;
    RowFields row;
    row.line = reader.row_line();
    row.text[static_cast<size_t>(ProductField::kId)] = f[id_col];
    if (category_col >= 0) row.text[static_cast<size_t>(ProductField::kCategory)] = f[category_col];
    SW_RETURN_IF_ERROR(builder.AddRow(row, sources));
  }
  return Status::Ok();
}

}  // namespace shelfwatch::catalog
