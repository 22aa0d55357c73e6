#include "pipeline/catalog_registry.h"

#include <gtest/gtest.h>

#include <fstream>

#include "monitor/metrics.h"
#include "pipeline/lexical_search.h"
#include "support/test_server.h"

namespace shelfwatch::pipeline {
namespace {

TEST(CatalogSpecTest, ParsesNamePathAndOptions) {
  auto s = ParseCatalogSpec("shop=/data/items.jsonl,format=jsonl,id=sku,title=name,fields=title:2,brand:0.5,k1=0.9,b=0.4");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->name, "shop");
  EXPECT_EQ(s->path, "/data/items.jsonl");
  EXPECT_EQ(s->load.format, catalog::Format::kJsonl);
  EXPECT_EQ(s->load.mapping.id, "sku");
  EXPECT_EQ(s->load.mapping.title, "name");
  ASSERT_EQ(s->index.fields.size(), 2u);
  EXPECT_EQ(s->index.fields[1].name, "brand");
  EXPECT_FLOAT_EQ(s->index.fields[1].weight, 0.5f);
  EXPECT_FLOAT_EQ(s->index.bm25.k1, 0.9f);
  EXPECT_FLOAT_EQ(s->index.bm25.b, 0.4f);
}

TEST(CatalogSpecTest, RejectsBadSpecsWithReasons) {
  EXPECT_FALSE(ParseCatalogSpec("no-equals-sign").ok());
  EXPECT_FALSE(ParseCatalogSpec("Upper=x.csv").ok());
  EXPECT_FALSE(ParseCatalogSpec("a=").ok());
  EXPECT_FALSE(ParseCatalogSpec("a=x.csv,format=xml").ok());
  EXPECT_FALSE(ParseCatalogSpec("a=x.csv,fields=colour:1").ok());
  EXPECT_FALSE(ParseCatalogSpec("a=x.csv,b=2").ok());
  auto unknown = ParseCatalogSpec("a=x.csv,shards=4");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("shards"), std::string::npos);
}

TEST(CatalogRegistryTest, LoadsServesAndReportsState) {
  std::string dir = testing::MakeTempDir("shelfwatch-reg");
  std::ofstream(dir + "/a.csv") << "id,title\n1,red cordless drill\n2,blue hammer\n3,drill bit set\n";
  monitor::Registry metrics;
  CatalogRegistry reg(&metrics);
  ASSERT_TRUE(reg.Declare(*ParseCatalogSpec("a=" + dir + "/a.csv")).ok());
  ASSERT_TRUE(reg.Declare(*ParseCatalogSpec("missing=" + dir + "/none.csv")).ok());
  EXPECT_EQ(reg.Declare(*ParseCatalogSpec("a=" + dir + "/a.csv")).code(), ErrorCode::kConflict);
  EXPECT_EQ(reg.Get("a").status().code(), ErrorCode::kUnavailable);  // still loading
  EXPECT_FALSE(reg.LoadAll().ok());
  EXPECT_FALSE(reg.AllReady());
  auto a = reg.Get("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->catalog->size(), 3u);
  EXPECT_EQ(reg.Get("missing").status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(reg.Get("other").status().code(), ErrorCode::kNotFound);

  SearchParams p;
  p.query = "Drills";
  auto out = RunLexicalSearch(**a, p);
  ASSERT_EQ(out.result.hits.size(), 2u);
  EXPECT_EQ(out.query_terms, 1u);
  std::string exposed = metrics.Expose();
  EXPECT_NE(exposed.find("shelfwatch_catalog_products{catalog=\"a\"} 3"), std::string::npos) << exposed;
  EXPECT_NE(exposed.find("shelfwatch_catalog_ready{catalog=\"missing\"} 0"), std::string::npos);
}

TEST(CatalogRegistryTest, ReaderKeepsItsSnapshotAcrossReload) {
  std::string dir = testing::MakeTempDir("shelfwatch-reg");
  std::ofstream(dir + "/a.csv") << "id,title\n1,drill\n";
  CatalogRegistry reg;
  ASSERT_TRUE(reg.Declare(*ParseCatalogSpec("a=" + dir + "/a.csv")).ok());
  ASSERT_TRUE(reg.Load("a").ok());
  auto before = *reg.Get("a");
  std::ofstream(dir + "/a.csv") << "id,title\n1,drill\n2,hammer drill\n";
  ASSERT_TRUE(reg.Load("a").ok());
  auto after = *reg.Get("a");
  EXPECT_EQ(before->catalog->size(), 1u);  // the old snapshot is intact for its readers
  EXPECT_EQ(after->catalog->size(), 2u);
  // A failed reload keeps the serving snapshot.
  std::remove((dir + "/a.csv").c_str());
  EXPECT_FALSE(reg.Load("a").ok());
  auto still = reg.Get("a");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ((*still)->catalog->size(), 2u);
}

}  // namespace
}  // namespace shelfwatch::pipeline
