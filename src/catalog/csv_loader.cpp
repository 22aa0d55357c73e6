// CSV half of LoadCatalog: the header names the columns; each record is one product.
#include <optional>
#include <vector>

#include "catalog/csv_reader.h"
#include "catalog/loaders.h"
#include "catalog/value_parsing.h"
#include "common/utf8.h"

namespace shelfwatch::catalog {

namespace {

// Which header column feeds each field and which columns become attributes.
struct ColumnPlan {
  std::vector<std::string> header;
  std::array<std::optional<size_t>, kProductFieldCount> field_column{};
  FieldSources sources;
  std::vector<size_t> attribute_columns;
};

Result<ColumnPlan> PlanColumns(std::vector<std::string> header, const std::string& path,
                               const FieldMapping& mapping) {
  ColumnPlan plan;
  plan.header = std::move(header);
  for (size_t i = 0; i < plan.header.size(); ++i) {
    plan.header[i] = std::string(TrimAscii(plan.header[i]));
    if (plan.header[i].empty()) plan.header[i] = "column_" + std::to_string(i + 1);
  }
  std::vector<std::string_view> names(plan.header.begin(), plan.header.end());
  std::string available = path + " has columns: " + JoinNames(names);
  std::vector<bool> taken(names.size(), false);

  // Fields the mapping names first, so detection never takes a column named explicitly.
  for (bool explicit_pass : {true, false}) {
    for (ProductField field : kAllProductFields) {
      if (MappedName(mapping, field).empty() == explicit_pass) continue;
      auto column = ResolveField(mapping, field, names, taken);
      if (!column && explicit_pass) {
        return InvalidArgument("mapping names column '" + MappedName(mapping, field) + "' for " +
                               std::string(ProductFieldName(field)) + ", but " + available);
      }
      if (!column) continue;
      plan.field_column[static_cast<size_t>(field)] = column;
      plan.sources[static_cast<size_t>(field)] = plan.header[*column];
      taken[*column] = true;
    }
  }
  if (!plan.field_column[static_cast<size_t>(ProductField::kId)]) {
    return InvalidArgument("no id column: looked for " +
                           JoinNames(DetectionCandidates(ProductField::kId)) + "; " + available +
                           " (name one with the id mapping)");
  }

  if (!mapping.attributes.empty()) {
    for (const std::string& wanted : mapping.attributes) {
      size_t column = 0;
      while (column < names.size() && names[column] != wanted) ++column;
      if (column == names.size()) {
        return InvalidArgument("mapping names attribute column '" + wanted + "', but " + available);
      }
      plan.attribute_columns.push_back(column);
    }
  } else if (mapping.keep_unmapped_as_attributes) {
    for (size_t column = 0; column < names.size(); ++column) {
      if (!taken[column]) plan.attribute_columns.push_back(column);
    }
  }
  return plan;
}

// Name of field `index` of a record for messages: its header column when there is one.
std::string ColumnLabel(const ColumnPlan& plan, size_t index) {
  if (index < plan.header.size()) return "column '" + plan.header[index] + "'";
  return "field " + std::to_string(index + 1);
}

}  // namespace

Status LoadCsvRows(std::string_view text, const std::string& path, const LoadOptions& options,
                   CatalogBuilder& builder, ProgressBar& progress) {
  CsvReader reader(text, path, CsvOptions{options.csv_delimiter, options.csv_max_record_lines});

  CsvReader::Outcome outcome = reader.Read();
  if (outcome == CsvReader::Outcome::kEnd) {
    return InvalidArgument(path + ": empty file; expected a header row naming the columns");
  }
  if (outcome == CsvReader::Outcome::kBadQuoting) {
    return InvalidArgument(path + ":" + std::to_string(reader.row_line()) +
                           ": header row has broken quoting: " + reader.problem());
  }
  std::vector<std::string> header;
  for (std::string_view name : reader.fields()) {
    if (!IsValidUtf8(name)) {
      return InvalidArgument(path + ":" + std::to_string(reader.row_line()) +
                             ": header is not valid UTF-8: " + QuoteForMessage(name));
    }
    header.emplace_back(name);
  }
  auto planned = PlanColumns(std::move(header), path, options.mapping);
  if (!planned.ok()) return planned.status();
  const ColumnPlan& plan = *planned;

  RowFields row;
  while (true) {
    outcome = reader.Read();
    if (outcome == CsvReader::Outcome::kEnd) break;
    progress.Update(reader.bytes_consumed());
    builder.CountRow();
    builder.NoteBytesRead(reader.bytes_consumed(), text.size());
    uint64_t line = reader.row_line();
    if (outcome == CsvReader::Outcome::kBadQuoting) {
      SW_RETURN_IF_ERROR(builder.Reject(line, reasons::kBadQuoting,
                                        ColumnLabel(plan, reader.problem_field()) + ": " +
                                            reader.problem() + "; resumed at line " +
                                            std::to_string(line + 1)));
      continue;
    }
    const std::vector<std::string_view>& fields = reader.fields();
    if (fields.size() != plan.header.size()) {
      SW_RETURN_IF_ERROR(builder.Reject(
          line, reasons::kWrongColumnCount,
          "expected " + std::to_string(plan.header.size()) + " fields as in the header, got " +
              std::to_string(fields.size()) + " (first field " + QuoteForMessage(fields[0]) + ")"));
      continue;
    }
    size_t bad_column = fields.size();
    for (size_t i = 0; i < fields.size() && bad_column == fields.size(); ++i) {
      if (!IsValidUtf8(fields[i])) bad_column = i;
    }
    if (bad_column < fields.size()) {
      SW_RETURN_IF_ERROR(builder.Reject(line, reasons::kInvalidUtf8,
                                        ColumnLabel(plan, bad_column) + " is not valid UTF-8: " +
                                            QuoteForMessage(fields[bad_column])));
      continue;
    }

    row.line = line;
    for (size_t f = 0; f < kProductFieldCount; ++f) {
      row.text[f] = plan.field_column[f] ? fields[*plan.field_column[f]] : std::string_view();
    }
    row.category_path.clear();
    row.attributes.clear();
    for (size_t column : plan.attribute_columns) {
      std::string_view value = TrimAscii(fields[column]);
      if (!value.empty()) row.attributes.emplace_back(plan.header[column], value);
    }
    SW_RETURN_IF_ERROR(builder.AddRow(row, plan.sources));
  }
  return Status::Ok();
}

}  // namespace shelfwatch::catalog
