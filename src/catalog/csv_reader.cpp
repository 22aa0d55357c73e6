#include "catalog/csv_reader.h"

#include <cstring>

namespace shelfwatch::catalog {

Status ValidateCsvOptions(const CsvOptions& options) {
  char d = options.delimiter;
  if (d == '"' || d == '\r' || d == '\n') {
    return InvalidArgument("CSV delimiter cannot be a quote or a line break");
  }
  return Status::Ok();
}

Result<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path, CsvOptions options) {
  SW_RETURN_IF_ERROR(ValidateCsvOptions(options));
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  auto reader = std::make_unique<CsvReader>(std::string_view(), path, options);
  // View the file only once it sits in the reader: moving a small read-in file moves its bytes.
  reader->file_.emplace(std::move(file).value());
  reader->SetText(reader->file_->text());
  return reader;
}

CsvReader::CsvReader(std::string_view text, std::string name, CsvOptions options)
    : name_(std::move(name)), options_(options) {
  SetText(text);
}

void CsvReader::SetText(std::string_view text) {
  text_ = text;
  pos_ = text_.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // skip a UTF-8 byte order mark
  line_ = 1;
}

CsvReader::Outcome CsvReader::Read() {
  const char* s = text_.data();
  const size_t n = text_.size();
  const char delim = options_.delimiter;
  fields_.clear();
  spans_.clear();
  scratch_.clear();

  // Skip blank lines.
  while (pos_ < n) {
    if (s[pos_] == '\n') {
      ++pos_;
    } else if (s[pos_] == '\r' && pos_ + 1 < n && s[pos_ + 1] == '\n') {
      pos_ += 2;
    } else {
      break;
    }
    ++line_;
  }
  if (pos_ >= n) return Outcome::kEnd;

  row_line_ = line_;
  const size_t record_start = pos_;
  uint64_t record_lines = 0;  // line breaks inside quoted fields of this record
  while (true) {
    size_t field = spans_.size();
    if (pos_ < n && s[pos_] == '"') {
      ++pos_;
      size_t segment = pos_;
      bool unescaped = false;  // true once the field's text lives in scratch_
      size_t scratch_start = scratch_.size();
      while (true) {
        while (pos_ < n && s[pos_] != '"') {
          if (s[pos_] == '\n') {
            ++line_;
            if (++record_lines > options_.max_record_lines) {
              return Fail(record_start, field,
                          "quoted field is still open after " +
                              std::to_string(options_.max_record_lines) +
                              " lines (unterminated quote?)");
            }
          }
          ++pos_;
        }
        if (pos_ >= n) {
          return Fail(record_start, field, "quoted field never closes (reaches end of file)");
        }
        if (pos_ + 1 < n && s[pos_ + 1] == '"') {  // "" is one literal quote
          scratch_.append(s + segment, pos_ + 1 - segment);
          unescaped = true;
          pos_ += 2;
          segment = pos_;
          continue;
        }
        break;  // the closing quote
      }
      if (unescaped) {
        scratch_.append(s + segment, pos_ - segment);
        spans_.push_back({true, scratch_start, scratch_.size() - scratch_start});
      } else {
        spans_.push_back({false, segment, pos_ - segment});
      }
      ++pos_;
      if (pos_ >= n || (s[pos_] == '\r' && pos_ + 1 == n)) {
        pos_ = n;
        break;
      }
      if (s[pos_] == delim) {
        ++pos_;
        continue;
      }
      if (s[pos_] == '\n') {
        ++pos_;
        ++line_;
        break;
      }
      if (s[pos_] == '\r' && pos_ + 1 < n && s[pos_ + 1] == '\n') {
        pos_ += 2;
        ++line_;
        break;
      }
      return Fail(record_start, field, "unexpected text after the closing quote");
    }

    size_t start = pos_;
    while (pos_ < n && s[pos_] != delim && s[pos_] != '\n') ++pos_;
    size_t end = pos_;
    if (end > start && s[end - 1] == '\r' && (pos_ >= n || s[pos_] == '\n')) --end;  // CRLF
    spans_.push_back({false, start, end - start});
    if (pos_ >= n) break;
    if (s[pos_] == delim) {
      ++pos_;
      continue;  // a delimiter at the end of input still opens one (empty) last field
    }
    ++pos_;  // '\n'
    ++line_;
    break;
  }
  FinishRecord();
  return Outcome::kRecord;
}

void CsvReader::FinishRecord() {
  fields_.reserve(spans_.size());
  for (const Span& span : spans_) {
    const char* base = span.in_scratch ? scratch_.data() : text_.data();
    fields_.emplace_back(base + span.offset, span.length);
  }
}

CsvReader::Outcome CsvReader::Fail(size_t record_start, size_t field, std::string problem) {
  problem_ = std::move(problem);
  problem_field_ = field;
  spans_.clear();
  scratch_.clear();
  // Resynchronise at the line after the record's first line.
  const void* nl = std::memchr(text_.data() + record_start, '\n', text_.size() - record_start);
  pos_ = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text_.data()) + 1 : text_.size();
  line_ = row_line_ + 1;
  return Outcome::kBadQuoting;
}

bool CsvReader::Next(std::vector<std::string>* row) {
  if (!error_.empty()) return false;
  Outcome outcome = Read();
  if (outcome == Outcome::kRecord) {
    row->resize(fields_.size());
    for (size_t i = 0; i < fields_.size(); ++i) (*row)[i].assign(fields_[i]);
    return true;
  }
  if (outcome == Outcome::kBadQuoting) {
    error_ = name_ + ":" + std::to_string(row_line_) + ": bad_quoting: field " +
             std::to_string(problem_field_ + 1) + ": " + problem_;
  }
  return false;
}

}  // namespace shelfwatch::catalog
