#include "catalog/csv_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "catalog/tests/fixtures.h"

namespace shelfwatch::catalog {
namespace {

using Outcome = CsvReader::Outcome;
using Row = std::vector<std::string>;

struct ReadResult {
  std::vector<Row> rows;
  std::vector<uint64_t> lines;      // start line of each row
  std::vector<uint64_t> bad_lines;  // start line of each bad-quoting record
};

ReadResult ReadAll(std::string_view text, CsvOptions options = {}) {
  CsvReader reader(text, "t.csv", options);
  ReadResult out;
  while (true) {
    Outcome o = reader.Read();
    if (o == Outcome::kEnd) break;
    if (o == Outcome::kBadQuoting) {
      out.bad_lines.push_back(reader.row_line());
      continue;
    }
    out.rows.emplace_back(reader.fields().begin(), reader.fields().end());
    out.lines.push_back(reader.row_line());
  }
  return out;
}

TEST(CsvReaderTest, QuotedFieldsHoldDelimitersQuotesAndNewlines) {
  auto r = ReadAll(
      "id,title\n"
      "1,\"Cloverleaf Aluminum Sheet, Silver\"\n"
      "2,\"Pipe 3/4\"\" x 10 ft.\"\n"
      "3,\"line one\nline two\"\n"
      "4,\"\"\n");
  ASSERT_EQ(r.rows.size(), 5u);
  EXPECT_EQ(r.rows[1], (Row{"1", "Cloverleaf Aluminum Sheet, Silver"}));
  EXPECT_EQ(r.rows[2], (Row{"2", "Pipe 3/4\" x 10 ft."}));
  EXPECT_EQ(r.rows[3], (Row{"3", "line one\nline two"}));
  EXPECT_EQ(r.rows[4], (Row{"4", ""}));
  // The row after a two-line field starts on line 6.
  EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 2, 3, 4, 6}));
}

TEST(CsvReaderTest, HandlesCrlfBomBlankLinesAndMissingFinalNewline) {
  auto r = ReadAll("\xEF\xBB\xBFid,title\r\n\r\n1,\"a\r\nb\"\r\n\n2,last");
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0], (Row{"id", "title"}));  // BOM not part of the first name
  EXPECT_EQ(r.rows[1], (Row{"1", "a\r\nb"}));   // line breaks inside quotes are data
  EXPECT_EQ(r.rows[2], (Row{"2", "last"}));
  EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 3, 6}));
}

TEST(CsvReaderTest, KeepsEmptyFieldsAndTrailingDelimiter) {
  auto r = ReadAll("a,,c,\n,\n");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (Row{"a", "", "c", ""}));
  EXPECT_EQ(r.rows[1], (Row{"", ""}));
}

TEST(CsvReaderTest, ConfigurableDelimiter) {
  CsvOptions semicolon{';', 1000};
  auto r = ReadAll("id;title\n1;\"a;b\";\n", semicolon);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1], (Row{"1", "a;b", ""}));
  CsvOptions tab{'\t', 1000};
  EXPECT_EQ(ReadAll("1\ta,b\n", tab).rows[0], (Row{"1", "a,b"}));
  EXPECT_FALSE(ValidateCsvOptions(CsvOptions{'"', 1}).ok());
  EXPECT_FALSE(ValidateCsvOptions(CsvOptions{'\n', 1}).ok());
}

TEST(CsvReaderTest, QuoteInsideUnquotedFieldIsLiteral) {
  auto r = ReadAll("1,12\" pipe,x\n");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0], (Row{"1", "12\" pipe", "x"}));
}

TEST(CsvReaderTest, TextAfterClosingQuoteIsBadAndReadingResumesNextLine) {
  CsvReader reader("1,\"He said \"hi\" there\",5\n2,ok,3\n", "t.csv");
  ASSERT_EQ(reader.Read(), Outcome::kBadQuoting);
  EXPECT_EQ(reader.row_line(), 1u);
  EXPECT_EQ(reader.problem_field(), 1u);
  EXPECT_NE(reader.problem().find("after the closing quote"), std::string::npos);
  ASSERT_EQ(reader.Read(), Outcome::kRecord);
  EXPECT_EQ(reader.row_line(), 2u);
  EXPECT_EQ(reader.fields()[1], "ok");
  EXPECT_EQ(reader.Read(), Outcome::kEnd);
}

TEST(CsvReaderTest, UnterminatedQuoteAtEndOfFileCostsOnlyItsOwnRow) {
  auto r = ReadAll("1,a\n2,\"never closed\n3,b\n4,c\n");
  EXPECT_EQ(r.bad_lines, (std::vector<uint64_t>{2}));
  ASSERT_EQ(r.rows.size(), 3u);  // rows 3 and 4 are not swallowed
  EXPECT_EQ(r.rows[1], (Row{"3", "b"}));
  EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 3, 4}));
}

TEST(CsvReaderTest, QuoteOpenForTooManyLinesIsBad) {
  std::string text = "1,\"stray quote\n";
  for (int i = 2; i <= 20; ++i) text += std::to_string(i) + ",row\n";
  text += "21,\"ok\"\n";
  auto r = ReadAll(text, CsvOptions{',', 5});
  // The stray quote pairs with the one on line 21 (20 lines later), past the limit of 5.
  EXPECT_EQ(r.bad_lines, (std::vector<uint64_t>{1}));
  ASSERT_EQ(r.rows.size(), 20u);
  EXPECT_EQ(r.rows.front(), (Row{"2", "row"}));
  EXPECT_EQ(r.rows.back(), (Row{"21", "ok"}));
  EXPECT_EQ(r.lines.back(), 21u);
}

TEST(CsvReaderTest, NextStopsAtFirstBadQuotingWithLocatedError) {
  CsvReader reader("a,b\n1,\"x\"y\n2,z\n", "items.csv");
  std::vector<std::string> row;
  ASSERT_TRUE(reader.Next(&row));
  EXPECT_EQ(row, (Row{"a", "b"}));
  EXPECT_FALSE(reader.Next(&row));
  EXPECT_EQ(reader.error().rfind("items.csv:2: bad_quoting: field 2:", 0), 0u) << reader.error();
  EXPECT_FALSE(reader.Next(&row));  // stays stopped
}

TEST(CsvReaderTest, OpensFilesAndReportsMissingOnes) {
  TempDir dir;
  auto reader = CsvReader::Open(dir.Write("q.csv", "query_id,query\n1,angle bracket\n"));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::string> row;
  ASSERT_TRUE((*reader)->Next(&row));
  ASSERT_TRUE((*reader)->Next(&row));
  EXPECT_EQ(row, (Row{"1", "angle bracket"}));
  EXPECT_EQ((*reader)->row_line(), 2u);
  EXPECT_FALSE((*reader)->Next(&row));
  EXPECT_TRUE((*reader)->error().empty());

  EXPECT_EQ(CsvReader::Open(dir.path() + "/missing.csv").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(CsvReader::Open(dir.Write("e.csv", "")).ok(), true);
}

TEST(CsvReaderTest, ReadsFromAPipe) {
  TempDir dir;
  std::thread writer;
  std::string path = dir.Pipe("small.csv", "id\n7\n", &writer);  // short enough to move inline
  auto reader = CsvReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::string> row;
  EXPECT_TRUE((*reader)->Next(&row));
  EXPECT_TRUE((*reader)->Next(&row));
  EXPECT_EQ(row, (Row{"7"}));
  EXPECT_FALSE((*reader)->Next(&row));
  writer.join();
}

}  // namespace
}  // namespace shelfwatch::catalog
