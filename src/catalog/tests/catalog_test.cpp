#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace shelfwatch::catalog {
namespace {

Product MakeProduct(std::string id, std::string title = "") {
  Product p;
  p.id = std::move(id);
  p.title = std::move(title);
  return p;
}

TEST(CatalogTest, FindsProductsByIdInLoadOrder) {
  Catalog catalog("tools");
  ASSERT_TRUE(catalog.Add(MakeProduct("100001", "Simpson Strong-Tie 12-Gauge Angle")).ok());
  ASSERT_TRUE(catalog.Add(MakeProduct("100002", "BEHR Premium Textured DeckOver")).ok());
  EXPECT_EQ(catalog.name(), "tools");
  EXPECT_EQ(catalog.size(), 2u);
  EXPECT_EQ(catalog.Find("100001"), 0u);
  EXPECT_EQ(catalog.Find("100002"), 1u);
  EXPECT_EQ(catalog.product(*catalog.Find("100002")).title, "BEHR Premium Textured DeckOver");
  EXPECT_FALSE(catalog.Find("100003").has_value());
  EXPECT_FALSE(catalog.Find("").has_value());
}

TEST(CatalogTest, EmptyCatalogFindsNothing) {
  Catalog catalog;
  EXPECT_EQ(catalog.size(), 0u);
  EXPECT_FALSE(catalog.Find("anything").has_value());
}

TEST(CatalogTest, RejectsDuplicateAndEmptyIdsWithoutChangingTheCatalog) {
  Catalog catalog("c");
  ASSERT_TRUE(catalog.Add(MakeProduct("sku-1", "first")).ok());
  Status dup = catalog.Add(MakeProduct("sku-1", "second"));
  EXPECT_EQ(dup.code(), ErrorCode::kConflict);
  EXPECT_NE(dup.message().find("sku-1"), std::string::npos) << dup.message();
  EXPECT_EQ(catalog.Add(MakeProduct("")).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(catalog.size(), 1u);
  EXPECT_EQ(catalog.product(0).title, "first");
}

// "p<i>"; built with append (GCC 12 warns falsely on NumberedId(i): PR105329).
std::string NumberedId(uint32_t i) {
  std::string id = "p";
  id += std::to_string(i);
  return id;
}

TEST(CatalogTest, IndexStaysCorrectAcrossGrowth) {
  Catalog catalog;
  constexpr uint32_t kCount = 100'000;
  for (uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(catalog.Add(MakeProduct(NumberedId(i))).ok());
  catalog.ShrinkToFit();
  for (uint32_t i = 0; i < kCount; i += 7) ASSERT_EQ(catalog.Find(NumberedId(i)), i);
  EXPECT_FALSE(catalog.Find(NumberedId(kCount)).has_value());
}

TEST(CatalogTest, MemoryBytesCountsTextAndIndex) {
  Catalog catalog;
  size_t empty = catalog.MemoryBytes();
  Product p = MakeProduct("id-1", std::string(1000, 't'));
  p.description = std::string(500, 'd');
  p.attributes.emplace_back("material", std::string(200, 'm'));
  ASSERT_TRUE(catalog.Add(std::move(p)).ok());
  size_t one = catalog.MemoryBytes();
  EXPECT_GE(one - empty, 1700u);      // the text it keeps
  EXPECT_LT(one - empty, 1700u + 4096u);  // plus modest bookkeeping
}

TEST(CatalogTest, ConcurrentReadersSeeTheSameProducts) {
  Catalog catalog;
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(catalog.Add(MakeProduct(std::to_string(i), "t")).ok());
  const Catalog& shared = catalog;
  std::vector<std::thread> readers;
  std::vector<int> found(4, 0);
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) found[t] += shared.Find(std::to_string(i)).has_value();
    });
  }
  for (auto& r : readers) r.join();
  for (int n : found) EXPECT_EQ(n, 5000);
}

TEST(RowErrorTest, ToStringIsFileLineReasonMessage) {
  RowError e{"products.csv", 17, "duplicate_id", "id '100001' first seen on line 2"};
  EXPECT_EQ(e.ToString(), "products.csv:17: duplicate_id: id '100001' first seen on line 2");
}

}  // namespace
}  // namespace shelfwatch::catalog
