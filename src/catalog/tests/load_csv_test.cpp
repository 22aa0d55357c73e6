// LoadCatalog over CSV files: the real Home Depot catalog, RFC 4180 details, every kind of
// bad row, strict mode, field mapping and header errors.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/tests/fixtures.h"

namespace shelfwatch::catalog {
namespace {

const std::string kDataDir = SHELFWATCH_DATA_DIR;

const RowError* ErrorOnLine(const LoadReport& report, uint64_t line) {
  for (const RowError& e : report.errors) {
    if (e.line == line) return &e;
  }
  return nullptr;
}

TEST(LoadCsvTest, LoadsTheHomeDepotCatalog) {
  LoadReport report;
  Catalog catalog = MustLoad(kDataDir + "/homedepot/products.csv", QuietLoadOptions(), &report);
  EXPECT_EQ(catalog.size(), 54'667u);
  EXPECT_EQ(report.rows_read, 54'667u);
  EXPECT_EQ(report.rows_rejected, 0u);
  auto doc = catalog.Find("100001");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(*doc, 0u);
  EXPECT_EQ(catalog.product(*doc).title, "Simpson Strong-Tie 12-Gauge Angle");
  // A quoted title with a comma inside.
  EXPECT_EQ(catalog.product(*catalog.Find("100017")).title,
            "MD Building Products 36 in. x 36 in. Cloverleaf Aluminum Sheet, Silver");
  EXPECT_TRUE(catalog.product(0).attributes.empty());  // only id and title columns
  EXPECT_GT(catalog.MemoryBytes(), 3'000'000u);
  std::printf("[ info     ] products.csv: %zu products in %.1f ms, %.1f MB held\n", catalog.size(),
              report.seconds * 1e3, static_cast<double>(catalog.MemoryBytes()) / 1e6);
}

TEST(LoadCsvTest, ReadsAllFieldsWithQuotingCrlfAndBom) {
  TempDir dir;
  std::string path = dir.Write(
      "full.csv",
      "\xEF\xBB\xBF" "sku,name,description,brand,category,price,rating,color,size\r\n"
      "A1,\"Drill, cordless\",\"Two\r\nlines, and \"\"quotes\"\"\",DeWalt,"
      "Tools > Power Tools > Drills,\"$1,299.00\",4.5,yellow,\r\n"
      "A2,Hammer,,Estwing,Tools|Hand Tools,19.99,,,16 oz\r\n");
  LoadReport report;
  Catalog catalog = MustLoad(path, QuietLoadOptions(), &report);
  ASSERT_EQ(catalog.size(), 2u);
  const Product& drill = catalog.product(*catalog.Find("A1"));
  EXPECT_EQ(drill.title, "Drill, cordless");
  EXPECT_EQ(drill.description, "Two\r\nlines, and \"quotes\"");
  EXPECT_EQ(drill.brand, "DeWalt");
  EXPECT_EQ(drill.category_path, (std::vector<std::string>{"Tools", "Power Tools", "Drills"}));
  EXPECT_EQ(drill.price, 1299.0);
  EXPECT_EQ(drill.rating, 4.5);
  // Unmapped columns become attributes in file order; empty values are dropped.
  EXPECT_EQ(drill.attributes, (std::vector<std::pair<std::string, std::string>>{{"color", "yellow"}}));
  const Product& hammer = catalog.product(*catalog.Find("A2"));
  EXPECT_EQ(hammer.category_path, (std::vector<std::string>{"Tools", "Hand Tools"}));
  EXPECT_EQ(hammer.price, 19.99);
  EXPECT_FALSE(hammer.rating.has_value());
  EXPECT_EQ(hammer.attributes, (std::vector<std::pair<std::string, std::string>>{{"size", "16 oz"}}));
}

// One file holding every kind of bad row, each followed by a good one.
constexpr std::string_view kBadRows =
    "id,title,price,rating\n"              // 1
    "1,Good one,1.00,4\n"                  // 2
    ",No id,1.00,4\n"                      // 3  missing_id
    "1,Duplicate of line 2,2.00,4\n"       // 4  duplicate_id
    "2,\"Broken \"quote\" here\",1.00,4\n" // 5  bad_quoting (text after closing quote)
    "3,Too,many,fields,here\n"             // 6  wrong_column_count
    "4,Caf\xE9 latin-1,1.00,4\n"           // 7  invalid_utf8
    "5,Price words,abc,4\n"                // 8  bad_price
    "6,Negative,-3.50,4\n"                 // 9  bad_price
    "7,Not a number,NaN,4\n"               // 10 bad_price
    "8,European,\"1.299,00\",4\n"          // 11 bad_price (ambiguous decimal comma)
    "9,Rating,1.00,11\n"                   // 12 bad_rating
    "10,,1.00,4\n"                         // 13 missing_title
    "11,\"Multi\nline title\",3.00,5\n"    // 14-15 good
    "12,Last good,3.00,5\n"                // 16
    "13,\"Unterminated at end,1.00,4\n";   // 17 bad_quoting (reaches end of file)

TEST(LoadCsvTest, ReportsEveryBadRowKindWithItsLineAndSkipsIt) {
  TempDir dir;
  std::string path = dir.Write("bad.csv", kBadRows);
  LoadReport report;
  Catalog catalog = MustLoad(path, QuietLoadOptions(), &report);

  EXPECT_EQ(report.rows_read, 15u);
  EXPECT_EQ(report.rows_loaded, 3u);
  EXPECT_EQ(report.rows_rejected, 12u);
  EXPECT_EQ(catalog.product(*catalog.Find("1")).title, "Good one");  // not the duplicate
  EXPECT_EQ(catalog.product(*catalog.Find("11")).title, "Multi\nline title");
  EXPECT_TRUE(catalog.Find("12").has_value());

  struct Expected {
    uint64_t line;
    std::string_view reason;
    std::string_view in_message;
  };
  const Expected expected[] = {
      {3, reasons::kMissingId, "'id'"},
      {4, reasons::kDuplicateId, "id '1' first seen on line 2"},
      {5, reasons::kBadQuoting, "column 'title'"},
      {6, reasons::kWrongColumnCount, "expected 4 fields"},
      {7, reasons::kInvalidUtf8, "'4,Caf"},  // placeholder replaced below
      {8, reasons::kBadPrice, "'abc'"},
      {9, reasons::kBadPrice, "'-3.50'"},
      {10, reasons::kBadPrice, "'NaN'"},
      {11, reasons::kBadPrice, "'1.299,00'"},
      {12, reasons::kBadRating, "'11'"},
      {13, reasons::kMissingTitle, "id '10'"},
      {17, reasons::kBadQuoting, "end of file"},
  };
  for (const Expected& e : expected) {
    const RowError* error = ErrorOnLine(report, e.line);
    ASSERT_NE(error, nullptr) << "no error reported for line " << e.line;
    EXPECT_EQ(error->reason, e.reason) << error->ToString();
    EXPECT_EQ(error->file, path);
    if (e.reason == reasons::kInvalidUtf8) {
      EXPECT_NE(error->message.find("column 'title'"), std::string::npos) << error->message;
      EXPECT_NE(error->message.find("'Caf\\xE9 latin-1'"), std::string::npos) << error->message;
    } else {
      EXPECT_NE(error->message.find(e.in_message), std::string::npos) << error->ToString();
    }
  }
  EXPECT_EQ(report.rejected_by_reason.at("bad_price"), 4u);
  EXPECT_EQ(report.rejected_by_reason.at("bad_quoting"), 2u);
  EXPECT_EQ(report.rejected_by_reason.at("missing_id"), 1u);
  EXPECT_EQ(report.rejected_by_reason.at("duplicate_id"), 1u);
  EXPECT_EQ(report.rejected_by_reason.at("wrong_column_count"), 1u);
  EXPECT_EQ(report.rejected_by_reason.at("invalid_utf8"), 1u);
  EXPECT_EQ(report.rejected_by_reason.at("bad_rating"), 1u);
  EXPECT_EQ(report.rejected_by_reason.at("missing_title"), 1u);
}

TEST(LoadCsvTest, StrictModeFailsOnTheFirstBadRowWithFileAndLine) {
  TempDir dir;
  std::string path = dir.Write("bad.csv", kBadRows);
  LoadOptions options = QuietLoadOptions();
  options.strict = true;
  LoadReport report;
  auto loaded = LoadCatalog("test", path, options, &report);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(loaded.status().message(), path + ":3: missing_id: id column 'id' has no value");
  EXPECT_EQ(report.rows_rejected, 1u);  // the report says how far it got
  EXPECT_EQ(report.rows_loaded, 1u);
}

TEST(LoadCsvTest, ErrorDetailsAreCappedButAllCounted) {
  TempDir dir;
  std::string text = "id,title\n";
  for (int i = 0; i < 50; ++i) text += ",no id\n";
  LoadOptions options = QuietLoadOptions();
  options.max_reported_errors = 5;
  LoadReport report;
  MustLoad(dir.Write("many.csv", text), options, &report);
  EXPECT_EQ(report.errors.size(), 5u);
  EXPECT_EQ(report.rows_rejected, 50u);
  EXPECT_EQ(report.rejected_by_reason["missing_id"], 50u);
  EXPECT_EQ(report.errors.back().line, 6u);
}

TEST(LoadCsvTest, StrayQuoteDoesNotSwallowTheRestOfTheFile) {
  TempDir dir;
  // A stray quote opening the title on line 2 would, read naively, eat every later line.
  std::string text = "id,title\n2,\"Pipe 3/4 in. x 10 ft.\n";
  for (int i = 3; i <= 3000; ++i) text += std::to_string(i) + ",Product " + std::to_string(i) + "\n";
  LoadReport report;
  Catalog catalog = MustLoad(dir.Write("stray.csv", text), QuietLoadOptions(), &report);
  EXPECT_EQ(report.rows_rejected, 1u);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].line, 2u);
  EXPECT_EQ(report.errors[0].reason, reasons::kBadQuoting);
  EXPECT_NE(report.errors[0].message.find("still open after 1000 lines"), std::string::npos)
      << report.errors[0].message;
  EXPECT_EQ(catalog.size(), 2998u);
  EXPECT_EQ(catalog.product(*catalog.Find("3000")).title, "Product 3000");
}

TEST(LoadCsvTest, ExplicitMappingOnJudgmentsShapedFile) {
  TempDir dir;
  std::string path = dir.Write(
      "judgments.csv",
      "\"id\",\"product_uid\",\"product_title\",\"search_term\",\"relevance\"\n"
      "2,100001,\"Simpson Strong-Tie 12-Gauge Angle\",\"angle bracket\",3\n"
      "3,100001,\"Simpson Strong-Tie 12-Gauge Angle\",\"l bracket\",2.5\n"
      "9,100002,\"BEHR Premium Textured DeckOver\",\"deck over\",3\n");
  LoadOptions options = QuietLoadOptions();
  options.mapping.id = "product_uid";
  options.mapping.title = "product_title";
  LoadReport report;
  Catalog catalog = MustLoad(path, options, &report);
  ASSERT_EQ(catalog.size(), 2u);
  const Product& angle = catalog.product(*catalog.Find("100001"));
  EXPECT_EQ(angle.title, "Simpson Strong-Tie 12-Gauge Angle");
  // The row id is no longer the product id; it and the other columns are attributes.
  EXPECT_EQ(angle.attributes, (std::vector<std::pair<std::string, std::string>>{
                                  {"id", "2"}, {"search_term", "angle bracket"}, {"relevance", "3"}}));
  ASSERT_EQ(report.errors.size(), 1u);  // the product repeats: expected duplicate
  EXPECT_EQ(report.errors[0].ToString(), path + ":3: duplicate_id: id '100001' first seen on line 2");

  options.mapping.attributes = {"search_term"};
  catalog = MustLoad(path, options, &report);
  EXPECT_EQ(catalog.product(0).attributes,
            (std::vector<std::pair<std::string, std::string>>{{"search_term", "angle bracket"}}));
  options.mapping.attributes.clear();
  options.mapping.keep_unmapped_as_attributes = false;
  catalog = MustLoad(path, options, &report);
  EXPECT_TRUE(catalog.product(0).attributes.empty());
}

TEST(LoadCsvTest, RealJudgmentsFileWithMappingYieldsEachProductOnce) {
  LoadOptions options = QuietLoadOptions();
  options.mapping.id = "product_uid";
  options.mapping.title = "product_title";
  options.mapping.keep_unmapped_as_attributes = false;
  LoadReport report;
  Catalog catalog = MustLoad(kDataDir + "/homedepot/judgments_raw.csv", options, &report);
  EXPECT_EQ(report.rows_read, 74'067u);
  EXPECT_EQ(catalog.size(), 54'667u);
  EXPECT_EQ(report.rejected_by_reason["duplicate_id"], 74'067u - 54'667u);
  EXPECT_EQ(report.rows_rejected, report.rejected_by_reason["duplicate_id"]);
  EXPECT_EQ(catalog.product(*catalog.Find("100001")).title, "Simpson Strong-Tie 12-Gauge Angle");
}

TEST(LoadCsvTest, UnusableHeaderOrMappingNamesTheColumnsAvailable) {
  TempDir dir;
  std::string path = dir.Write("h.csv", "uid,product_title,search_term\n1,a,b\n");
  auto no_id = LoadCatalog("t", path, QuietLoadOptions());
  ASSERT_FALSE(no_id.ok());
  EXPECT_EQ(no_id.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(no_id.status().message().find("no id column"), std::string::npos);
  EXPECT_NE(no_id.status().message().find("uid, product_title, search_term"), std::string::npos)
      << no_id.status().message();

  LoadOptions options = QuietLoadOptions();
  options.mapping.id = "uid";
  options.mapping.title = "title";  // not in the file
  auto bad_mapping = LoadCatalog("t", path, options);
  ASSERT_FALSE(bad_mapping.ok());
  EXPECT_EQ(bad_mapping.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_mapping.status().message().find("'title'"), std::string::npos);
  EXPECT_NE(bad_mapping.status().message().find("uid, product_title, search_term"), std::string::npos);

  options.mapping.title.clear();
  options.mapping.attributes = {"colour"};
  EXPECT_EQ(LoadCatalog("t", path, options).status().code(), ErrorCode::kInvalidArgument);

  EXPECT_EQ(LoadCatalog("t", dir.Write("empty.csv", ""), QuietLoadOptions()).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(LoadCatalog("t", dir.Write("q.csv", "id,\"title\n"), QuietLoadOptions()).status().code(),
            ErrorCode::kInvalidArgument);
  LoadOptions bad_delimiter = QuietLoadOptions();
  bad_delimiter.csv_delimiter = '"';
  EXPECT_EQ(LoadCatalog("t", path, bad_delimiter).status().code(), ErrorCode::kInvalidArgument);
}

TEST(LoadCsvTest, MissingFileIsNotFound) {
  TempDir dir;
  LoadReport report;
  auto loaded = LoadCatalog("t", dir.path() + "/nope.csv", QuietLoadOptions(), &report);
  EXPECT_EQ(loaded.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(loaded.status().message().find("nope.csv"), std::string::npos);
  EXPECT_EQ(LoadCatalog("t", dir.path(), QuietLoadOptions()).status().code(), ErrorCode::kIoError);
}

TEST(LoadCsvTest, LoadsFromAPipe) {
  TempDir dir;
  std::thread writer;
  std::string text = "id,title\n";
  for (int i = 0; i < 5000; ++i) text += std::to_string(i) + ",Product\n";
  std::string path = dir.Pipe("products.csv", text, &writer);
  LoadReport report;
  Catalog catalog = MustLoad(path, QuietLoadOptions(), &report);
  writer.join();
  EXPECT_EQ(catalog.size(), 5000u);
  EXPECT_TRUE(catalog.Find("4999").has_value());
}

TEST(LoadCsvTest, TitleIsOptionalForRecommendationCatalogs) {
  TempDir dir;
  LoadReport report;
  Catalog items = MustLoad(dir.Write("items.csv", "item_id,category_id\n2268318,2520377\n2333346,2520771\n"),
                           QuietLoadOptions(), &report);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items.product(0).title, "");
  EXPECT_EQ(items.product(0).category_path, (std::vector<std::string>{"2520377"}));
  EXPECT_EQ(report.rows_rejected, 0u);
}

TEST(LoadCsvTest, DetectionIgnoresCaseAndPrefersTheListOrder) {
  TempDir dir;
  LoadReport report;
  // "Product_ID" and "SKU" are both id candidates; product_id comes first in the list.
  Catalog c = MustLoad(dir.Write("c.csv", "SKU, Title ,Product_ID\ns-1,Angle,100001\n"), QuietLoadOptions(), &report);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c.product(0).id, "100001");
  EXPECT_EQ(c.product(0).title, "Angle");
  EXPECT_EQ(c.product(0).attributes, (std::vector<std::pair<std::string, std::string>>{{"SKU", "s-1"}}));
}

TEST(LoadCsvTest, OtherDelimitersAndBlankLines) {
  TempDir dir;
  LoadOptions options = QuietLoadOptions();
  options.csv_delimiter = ';';
  LoadReport report;
  Catalog c = MustLoad(dir.Write("semi.csv", "id;title;price\n\n1;\"a;b\";\"1,299.00\"\n\n2;c;\n"), options,
                       &report);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.product(0).title, "a;b");
  EXPECT_EQ(c.product(0).price, 1299.0);
  EXPECT_FALSE(c.product(1).price.has_value());
  EXPECT_EQ(report.rows_read, 2u);  // blank lines are not rows
}

}  // namespace
}  // namespace shelfwatch::catalog
