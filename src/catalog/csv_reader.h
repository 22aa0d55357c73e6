// CsvReader: splits RFC 4180 text into records, one pass, no header semantics.
//
// Quoted fields may hold the delimiter, "" (an escaped quote) and line breaks; records end at
// LF or CRLF; a leading UTF-8 byte order mark is skipped; blank lines are skipped. A quote
// inside an unquoted field is an ordinary character (12" pipe), as hand-made files have it.
// Broken quoting -- a quoted field that reaches the end of the input, stays open for more
// than max_record_lines lines, or is followed by anything but a delimiter or line end -- is
// reported for the record's first line, and reading resumes at the line after it: one stray
// quote costs one record, never the rest of the file.
//
// Thread-safety: not thread-safe; one reader per thread. Cost: O(bytes), fields are views into
// the input (a field with "" escapes is unescaped into a reused buffer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/mapped_file.h"
#include "common/status.h"

namespace shelfwatch::catalog {

struct CsvOptions {
  char delimiter = ',';  // not '"', '\r' or '\n'
  size_t max_record_lines = 1000;
};

// kInvalidArgument for a delimiter that cannot work.
Status ValidateCsvOptions(const CsvOptions& options);

class CsvReader {
 public:
  enum class Outcome { kRecord, kBadQuoting, kEnd };

  // Maps the file at `path`; kNotFound / kIoError / kInvalidArgument (options).
  static Result<std::unique_ptr<CsvReader>> Open(const std::string& path, CsvOptions options = {});

  // Reads `text`, which must outlive the reader; `name` prefixes error() messages.
  // `options` must pass ValidateCsvOptions.
  CsvReader(std::string_view text, std::string name, CsvOptions options = {});

  // The next non-blank record. kRecord: fields() holds it until the next call.
  // kBadQuoting: problem() says what broke in field problem_field() (0-based); the reader has
  // already moved to the line after row_line().
  Outcome Read();
  const std::vector<std::string_view>& fields() const { return fields_; }
  uint64_t row_line() const { return row_line_; }  // 1-based line where the record starts
  const std::string& problem() const { return problem_; }
  size_t problem_field() const { return problem_field_; }
  uint64_t bytes_consumed() const { return pos_; }
  uint64_t total_bytes() const { return text_.size(); }

  // Convenience for simple tables: copies the next record into *row. Returns false at the
  // end of input or at the first bad quoting, after which error() is non-empty and reads
  // "name:line: bad_quoting: ...".
  bool Next(std::vector<std::string>* row);
  const std::string& error() const { return error_; }

 private:
  struct Span {
    bool in_scratch;
    size_t offset;
    size_t length;
  };
  void SetText(std::string_view text);
  Outcome Fail(size_t record_start, size_t field, std::string problem);
  void FinishRecord();

  std::optional<MappedFile> file_;
  std::string_view text_;
  std::string name_;
  CsvOptions options_;
  size_t pos_ = 0;
  uint64_t line_ = 1;
  uint64_t row_line_ = 0;
  std::vector<Span> spans_;
  std::string scratch_;
  std::vector<std::string_view> fields_;
  std::string problem_;
  size_t problem_field_ = 0;
  std::string error_;
};

}  // namespace shelfwatch::catalog
