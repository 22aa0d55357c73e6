// LoadCatalog over JSONL files: value types, nested attributes, category arrays, key
// resolution, bad lines and mapping errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/tests/fixtures.h"

namespace shelfwatch::catalog {
namespace {

using Attributes = std::vector<std::pair<std::string, std::string>>;
using Path = std::vector<std::string>;

TEST(LoadJsonlTest, ReadsNumbersArraysAndNestedAttributes) {
  TempDir dir;
  std::string path = dir.Write(
      "products.jsonl",
      R"({"id": 100001, "title": "Simpson Strong-Tie 12-Gauge Angle", "category": ["Building Materials", "Hardware"], "price": 4.97, "rating": 4, "attributes": {"material": "steel", "gauge": 12, "finish": null}})" "\n"
      R"({"id": "B-2", "title": "Drill", "description": ["Two speeds.", "Brushless."], "brand": "DeWalt", "category": "Tools > Power Tools", "price": "$1,299.00", "color": "yellow", "sizes": ["S", "M"], "in_stock": true, "dims": {"w": 2}})" "\n"
      R"({"id": 7.5, "title": "Float id", "category": [["Garden", "Hoses"], ["Sale"]]})" "\n");
  LoadReport report;
  Catalog catalog = MustLoad(path, QuietLoadOptions(), &report);
  ASSERT_EQ(catalog.size(), 3u);

  const Product& angle = catalog.product(*catalog.Find("100001"));  // number -> decimal text
  EXPECT_EQ(angle.title, "Simpson Strong-Tie 12-Gauge Angle");
  EXPECT_EQ(angle.category_path, (Path{"Building Materials", "Hardware"}));
  EXPECT_EQ(angle.price, 4.97);
  EXPECT_EQ(angle.rating, 4.0);
  EXPECT_EQ(angle.attributes, (Attributes{{"material", "steel"}, {"gauge", "12"}}));

  const Product& drill = catalog.product(*catalog.Find("B-2"));
  EXPECT_EQ(drill.description, "Two speeds.\nBrushless.");
  EXPECT_EQ(drill.brand, "DeWalt");
  EXPECT_EQ(drill.category_path, (Path{"Tools", "Power Tools"}));
  EXPECT_EQ(drill.price, 1299.0);
  EXPECT_FALSE(drill.rating.has_value());
  // Extra keys are attributes: arrays of scalars joined, objects as JSON.
  EXPECT_EQ(drill.attributes,
            (Attributes{{"color", "yellow"}, {"sizes", "S, M"}, {"in_stock", "true"}, {"dims", R"({"w":2})"}}));

  const Product& hose = catalog.product(*catalog.Find("7.5"));
  EXPECT_EQ(hose.category_path, (Path{"Garden", "Hoses"}));  // the first of several paths
}

TEST(LoadJsonlTest, BadLinesAreReportedWithLineNumbersAndSkipped) {
  TempDir dir;
  std::string path = dir.Write(
      "bad.ndjson",
      "{\"id\": \"1\", \"title\": \"ok\"}\n"        // 1
      "\n"                                          // 2 blank: not a row
      "{\"id\": \"2\", \"title\": \"cut off\"\n"    // 3 bad_json
      "[1, 2, 3]\n"                                 // 4 bad_json (not an object)
      "{\"id\": \"3\", \"title\": \"Caf\xE9\"}\n"   // 5 invalid_utf8
      "{\"title\": \"no id\"}\n"                    // 6 missing_id
      "{\"id\": {\"x\": 1}, \"title\": \"t\"}\n"    // 7 missing_id (object)
      "{\"id\": \"1\", \"title\": \"again\"}\n"     // 8 duplicate_id
      "{\"id\": \"4\", \"title\": \"p\", \"price\": -2}\n"       // 9 bad_price
      "{\"id\": \"5\", \"title\": \"p\", \"price\": {\"a\": 1}}\n"  // 10 bad_price
      "{\"id\": \"6\", \"title\": \"r\", \"rating\": 99}\n"      // 11 bad_rating
      "{\"id\": \"7\", \"title\": \"\"}\n"          // 12 missing_title
      "{\"id\": \"8\"}\r\n"                         // 13 missing_title (title key resolved)
      "{\"id\": \"9\", \"title\": \"last\"}");      // 14 ok, no final newline
  LoadReport report;
  Catalog catalog = MustLoad(path, QuietLoadOptions(), &report);
  EXPECT_EQ(report.rows_read, 13u);
  EXPECT_EQ(catalog.size(), 2u);
  EXPECT_EQ(catalog.product(*catalog.Find("1")).title, "ok");
  EXPECT_TRUE(catalog.Find("9").has_value());

  std::vector<std::pair<uint64_t, std::string>> got;
  for (const RowError& e : report.errors) got.emplace_back(e.line, e.reason);
  std::vector<std::pair<uint64_t, std::string>> want = {
      {3, "bad_json"},   {4, "bad_json"},    {5, "invalid_utf8"}, {6, "missing_id"},
      {7, "missing_id"}, {8, "duplicate_id"}, {9, "bad_price"},   {10, "bad_price"},
      {11, "bad_rating"}, {12, "missing_title"}, {13, "missing_title"}};
  EXPECT_EQ(got, want);
  EXPECT_NE(report.errors[2].message.find("Caf\\xE9"), std::string::npos) << report.errors[2].message;
  EXPECT_NE(report.errors[4].message.find("holds an object"), std::string::npos) << report.errors[4].message;
  EXPECT_NE(report.errors[5].message.find("first seen on line 1"), std::string::npos);
  EXPECT_NE(report.errors[6].message.find("'-2'"), std::string::npos) << report.errors[6].message;
}

TEST(LoadJsonlTest, StrictModeStopsAtFirstBadLine) {
  TempDir dir;
  std::string path = dir.Write("s.jsonl", "{\"id\": 1}\n{\"id\": 1}\n");
  LoadOptions options = QuietLoadOptions();
  options.strict = true;
  auto loaded = LoadCatalog("t", path, options);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(), path + ":2: duplicate_id: id '1' first seen on line 1");
}

TEST(LoadJsonlTest, MappingSelectsKeysAndAttributes) {
  TempDir dir;
  std::string path = dir.Write(
      "m.jsonl",
      R"({"asin": "B01", "product_name": "Mouse", "id": "row-1", "attrs": {"dpi": 1600, "color": "black"}, "weight": "80 g"})" "\n");
  LoadOptions options = QuietLoadOptions();
  options.mapping.id = "asin";
  options.mapping.title = "product_name";
  options.mapping.attributes = {"color", "weight"};
  LoadReport report;
  Catalog catalog = MustLoad(path, options, &report);
  ASSERT_EQ(catalog.size(), 1u);
  EXPECT_EQ(catalog.product(0).id, "B01");
  EXPECT_EQ(catalog.product(0).title, "Mouse");
  EXPECT_EQ(catalog.product(0).attributes, (Attributes{{"color", "black"}, {"weight", "80 g"}}));
}

TEST(LoadJsonlTest, MappingNamingAbsentKeysFailsWithTheKeysSeen) {
  TempDir dir;
  std::string path = dir.Write("k.jsonl", "{\"asin\": \"B01\", \"name\": \"Mouse\"}\n");
  LoadOptions options = QuietLoadOptions();
  options.mapping.id = "sku_id";
  auto typo = LoadCatalog("t", path, options);
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(typo.status().message().find("'sku_id'"), std::string::npos);
  EXPECT_NE(typo.status().message().find("keys seen: asin, name"), std::string::npos) << typo.status().message();

  auto no_id = LoadCatalog("t", path, QuietLoadOptions());
  ASSERT_FALSE(no_id.ok());
  EXPECT_NE(no_id.status().message().find("no id key"), std::string::npos) << no_id.status().message();
}

TEST(LoadJsonlTest, FormatIsChosenByExtensionOrContent) {
  TempDir dir;
  LoadReport report;
  // .txt starting with '{' is JSONL; a BOM is skipped.
  Catalog c = MustLoad(dir.Write("items.txt", "\xEF\xBB\xBF{\"item_id\": 42, \"category_id\": 7}\n"), QuietLoadOptions(), &report);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c.product(0).id, "42");
  EXPECT_EQ(c.product(0).category_path, (Path{"7"}));
  // Forcing CSV on the same text treats it as a (bad) CSV header.
  LoadOptions csv = QuietLoadOptions();
  csv.format = Format::kCsv;
  EXPECT_FALSE(LoadCatalog("t", dir.path() + "/items.txt", csv).ok());
  // An empty JSONL file is an empty catalog.
  Catalog empty = MustLoad(dir.Write("empty.jsonl", ""), QuietLoadOptions(), &report);
  EXPECT_EQ(empty.size(), 0u);
}

}  // namespace
}  // namespace shelfwatch::catalog
