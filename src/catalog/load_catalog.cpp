// LoadCatalog: opens the file, picks the format and hands the text to the CSV or JSONL loader.
#include <new>

#include "catalog/catalog_builder.h"
#include "catalog/csv_reader.h"
#include "catalog/field_mapping.h"
#include "catalog/loaders.h"
#include "catalog/mapped_file.h"
#include "common/clock.h"
#include "common/progress.h"

namespace shelfwatch::catalog {

namespace {

Format DetectFormat(const std::string& path, std::string_view text) {
  size_t dot = path.rfind('.');
  std::string_view extension = dot == std::string::npos ? "" : std::string_view(path).substr(dot);
  if (EqualsIgnoreAsciiCase(extension, ".jsonl") || EqualsIgnoreAsciiCase(extension, ".ndjson")) {
    return Format::kJsonl;
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  text = TrimAscii(text.substr(0, 4096));
  return !text.empty() && text[0] == '{' ? Format::kJsonl : Format::kCsv;
}

Result<Catalog> Load(const std::string& name, const std::string& path, const LoadOptions& options,
                     LoadReport& report) {
  SW_RETURN_IF_ERROR(ValidateCsvOptions(CsvOptions{options.csv_delimiter, options.csv_max_record_lines}));
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  std::string_view text = file->text();
  Format format = options.format == Format::kAuto ? DetectFormat(path, text) : options.format;

  ProgressBar progress("loading " + path, text.size(), options.progress);
  CatalogBuilder builder(name, path, format == Format::kJsonl ? "key" : "column", options);
  Status status = format == Format::kCsv      ? LoadCsvRows(text, path, options, builder, progress)
                  : format == Format::kEvents ? LoadEventRows(text, path, options, builder, progress)
                                              : LoadJsonlRows(text, path, options, builder, progress);
  progress.Finish();
  report = std::move(builder.report());
  if (!status.ok()) return status;
  return builder.TakeCatalog();
}

}  // namespace

Result<Catalog> LoadCatalog(const std::string& name, const std::string& path,
                            const LoadOptions& options, LoadReport* report) {
  int64_t start = MonotonicNanos();
  LoadReport local;
  local.file = path;
  Result<Catalog> result = Status(ErrorCode::kInternal, "not loaded");
  try {
    result = Load(name, path, options, local);
  } catch (const std::bad_alloc&) {
    result = Status(ErrorCode::kResourceExhausted, path + ": out of memory while loading");
  } catch (const std::exception& e) {
    // Exceptions stop at the module border (a library may throw despite error codes).
    result = Internal(path + ": " + e.what());
  }
  local.seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
  if (report != nullptr) *report = std::move(local);
  return result;
}

}  // namespace shelfwatch::catalog
