// BM25 scores of InvertedIndex + Searcher against the formula in index.h, computed by hand
// (in double) from exact document lengths.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "retrieval/index.h"
#include "retrieval/tests/test_catalogs.h"

namespace shelfwatch::retrieval {
namespace {

using testing::BuildOrDie;
using testing::MakeCatalog;
using testing::MakeProduct;
using testing::MakeQuery;
using testing::PlainOptions;

double Idf(double n, double df) { return std::log(1.0 + (n - df + 0.5) / (df + 0.5)); }

// One field's BM25 term weight: idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen)).
double Bm25(double tf, double len, double avglen, double n, double df, double k1 = 1.2,
            double b = 0.75) {
  return Idf(n, df) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen));
}

std::map<uint32_t, float> ScoresByDoc(const SearchResult& r) {
  std::map<uint32_t, float> m;
  for (const ScoredDoc& h : r.hits) m[h.doc] = h.score;
  return m;
}

void ExpectScore(float actual, double expected) {
  EXPECT_NEAR(actual, expected, 2e-6 * expected) << "expected " << expected;
}

class Bm25ScoringTest : public ::testing::Test {
 protected:
  // Lengths 2, 4, 2, 5 tokens: avglen = 13 / 4 = 3.25; N = 4.
  Bm25ScoringTest()
      : catalog_(MakeCatalog({"red lamp", "red red desk lamp", "blue desk",
                              "green chair with red cushion"})) {}
  catalog::Catalog catalog_;
};

TEST_F(Bm25ScoringTest, SingleTermScoresFollowTheFormula) {
  auto index = BuildOrDie(catalog_, PlainOptions());
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->num_docs(), 4u);
  Searcher searcher(index);
  SearchResult r = searcher.Search(MakeQuery(*index, "red"));
  ASSERT_EQ(r.hits.size(), 3u);
  EXPECT_EQ(r.total_hits, 3u);
  EXPECT_TRUE(r.total_hits_exact);
  const double avg = 3.25;
  const double doc0 = Bm25(1, 2, avg, 4, 3);
  const double doc1 = Bm25(2, 4, avg, 4, 3);
  const double doc3 = Bm25(1, 5, avg, 4, 3);
  // tf 2 in a long title beats tf 1 in a short one, which beats tf 1 in the longest.
  ASSERT_GT(doc1, doc0);
  ASSERT_GT(doc0, doc3);
  EXPECT_EQ(testing::Docs(r), (std::vector<uint32_t>{1, 0, 3}));
  auto scores = ScoresByDoc(r);
  ExpectScore(scores[0], doc0);
  ExpectScore(scores[1], doc1);
  ExpectScore(scores[3], doc3);
}

TEST_F(Bm25ScoringTest, MultiTermScoreIsTheSumOverTerms) {
  auto index = BuildOrDie(catalog_, PlainOptions());
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  SearchResult r = searcher.Search(MakeQuery(*index, "desk red"));
  auto scores = ScoresByDoc(r);
  ASSERT_EQ(scores.size(), 4u);  // OR: every doc has red or desk
  const double avg = 3.25;
  ExpectScore(scores[1], Bm25(2, 4, avg, 4, 3) + Bm25(1, 4, avg, 4, 2));
  ExpectScore(scores[2], Bm25(1, 2, avg, 4, 2));
  ExpectScore(scores[0], Bm25(1, 2, avg, 4, 3));
  EXPECT_EQ(r.hits[0].doc, 1u);
}

TEST_F(Bm25ScoringTest, RepeatedQueryTermMultipliesItsWeight) {
  auto index = BuildOrDie(catalog_, PlainOptions());
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  auto once = ScoresByDoc(searcher.Search(MakeQuery(*index, "lamp desk")));
  auto twice = ScoresByDoc(searcher.Search(MakeQuery(*index, "lamp desk lamp")));
  const double avg = 3.25;
  ExpectScore(twice[0], 2 * Bm25(1, 2, avg, 4, 2));
  ExpectScore(twice[2], Bm25(1, 2, avg, 4, 2));  // desk only: unchanged
  EXPECT_EQ(twice[2], once[2]);
  ExpectScore(twice[1], 2 * Bm25(1, 4, avg, 4, 2) + Bm25(1, 4, avg, 4, 2));
}

TEST_F(Bm25ScoringTest, QueryTermOrderDoesNotChangeScores) {
  auto index = BuildOrDie(catalog_, PlainOptions());
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  SearchResult a = searcher.Search(MakeQuery(*index, "red desk lamp cushion"));
  SearchResult b = searcher.Search(MakeQuery(*index, "cushion lamp desk red"));
  EXPECT_TRUE(testing::SameHits(a, b));
}

TEST_F(Bm25ScoringTest, K1AndBChangeSaturationAndLengthNormalisation) {
  IndexOptions options = PlainOptions();
  options.bm25 = {2.0f, 0.3f};
  auto index = BuildOrDie(catalog_, options);
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  auto scores = ScoresByDoc(searcher.Search(MakeQuery(*index, "red")));
  ExpectScore(scores[0], Bm25(1, 2, 3.25, 4, 3, 2.0, 0.3));
  ExpectScore(scores[1], Bm25(2, 4, 3.25, 4, 3, 2.0, 0.3));
  ExpectScore(scores[3], Bm25(1, 5, 3.25, 4, 3, 2.0, 0.3));

  // b = 0: no length normalisation, so tf 1 scores the same in a short and a long title.
  options.bm25 = {1.2f, 0.0f};
  index = BuildOrDie(catalog_, options);
  ASSERT_NE(index, nullptr);
  Searcher plain(index);
  SearchResult r = plain.Search(MakeQuery(*index, "red"));
  auto flat = ScoresByDoc(r);
  EXPECT_EQ(flat[0], flat[3]);
  ExpectScore(flat[0], Idf(4, 3));  // tf (k1 + 1) / (tf + k1) = 1 at tf = 1
  // Equal scores rank by catalog order.
  EXPECT_EQ(testing::Docs(r), (std::vector<uint32_t>{1, 0, 3}));
}

TEST(Bm25FieldsTest, FieldWeightsScaleEachFieldAndFieldsAdd) {
  catalog::Catalog catalog("fields");
  ASSERT_TRUE(catalog.Add(MakeProduct(0, "acme cordless drill", "acme")).ok());
  ASSERT_TRUE(catalog.Add(MakeProduct(1, "cordless drill kit", "makita")).ok());
  ASSERT_TRUE(catalog.Add(MakeProduct(2, "hammer", "acme tools")).ok());
  ASSERT_TRUE(catalog.Add(MakeProduct(3, "saw blade", "")).ok());  // no brand: not in brand's N
  auto index = BuildOrDie(catalog, PlainOptions({{"title", 1.0f}, {"brand", 3.0f}}));
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  auto scores = ScoresByDoc(searcher.Search(MakeQuery(*index, "acme")));
  ASSERT_EQ(scores.size(), 2u);
  // title: N = 4, lengths 3, 3, 1, 2 -> avglen 9/4; "acme" df 1.
  // brand: N = 3 (doc 3 has none), lengths 1, 1, 2 -> avglen 4/3; "acme" df 2.
  const double title0 = Bm25(1, 3, 9.0 / 4, 4, 1);
  const double brand0 = Bm25(1, 1, 4.0 / 3, 3, 2);
  const double brand2 = Bm25(1, 2, 4.0 / 3, 3, 2);
  ExpectScore(scores[0], title0 + 3 * brand0);
  ExpectScore(scores[2], 3 * brand2);

  // Weight 0 keeps a field searchable but scoreless.
  auto unweighted = BuildOrDie(catalog, PlainOptions({{"title", 1.0f}, {"brand", 0.0f}}));
  ASSERT_NE(unweighted, nullptr);
  Searcher searcher0(unweighted);
  auto scores0 = ScoresByDoc(searcher0.Search(MakeQuery(*unweighted, "acme")));
  ASSERT_EQ(scores0.size(), 2u);
  ExpectScore(scores0[0], title0);
  EXPECT_EQ(scores0[2], 0.0f);
}

TEST(Bm25FieldsTest, CategoryAndAttributeValuesAreSearchable) {
  catalog::Catalog catalog("fields");
  catalog::Product drill = MakeProduct(0, "cordless drill");
  drill.category_path = {"Tools", "Power Tools"};
  drill.attributes = {{"color", "yellow"}};
  ASSERT_TRUE(catalog.Add(drill).ok());
  ASSERT_TRUE(catalog.Add(MakeProduct(1, "yellow paint")).ok());
  auto index = BuildOrDie(catalog, PlainOptions({{"title", 1.0f},
                                                 {"category", 1.0f},
                                                 {"attributes", 1.0f}}));
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  EXPECT_EQ(testing::Docs(searcher.Search(MakeQuery(*index, "power"))),
            (std::vector<uint32_t>{0}));
  EXPECT_EQ(searcher.Search(MakeQuery(*index, "yellow")).total_hits, 2u);
  // Attribute names are not indexed.
  EXPECT_EQ(searcher.Search(MakeQuery(*index, "color")).total_hits, 0u);
}

TEST(Bm25OptionsTest, RejectsUnusableOptions) {
  catalog::Catalog catalog = MakeCatalog({"red lamp"});
  EXPECT_EQ(InvertedIndex::Build(catalog, PlainOptions({{"colour", 1.0f}})).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InvertedIndex::Build(catalog, PlainOptions({})).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InvertedIndex::Build(catalog, PlainOptions({{"title", 1.0f}, {"title", 2.0f}}))
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InvertedIndex::Build(catalog, PlainOptions({{"title", -1.0f}})).status().code(),
            ErrorCode::kInvalidArgument);
  IndexOptions bad_b = PlainOptions();
  bad_b.bm25.b = 1.5f;
  EXPECT_EQ(InvertedIndex::Build(catalog, bad_b).status().code(), ErrorCode::kInvalidArgument);
  IndexOptions bad_language = PlainOptions();
  bad_language.analyzer.stem_language = "klingon";
  EXPECT_EQ(InvertedIndex::Build(catalog, bad_language).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(Bm25StatsTest, ReportsSizesOfTheIndex) {
  auto index = BuildOrDie(MakeCatalog({"red lamp", "red red desk lamp", "blue desk"}),
                          PlainOptions());
  ASSERT_NE(index, nullptr);
  const IndexStats& stats = index->stats();
  EXPECT_EQ(stats.docs, 3u);
  EXPECT_EQ(stats.terms, 4u);     // red, lamp, desk, blue
  EXPECT_EQ(stats.postings, 7u);  // red 2, lamp 2, desk 2, blue 1: a repeated term is one posting
  EXPECT_GE(stats.memory_bytes, 7u * 6);  // at least a doc id and a tf per posting
  EXPECT_GE(stats.build_seconds, 0.0);
}

}  // namespace
}  // namespace shelfwatch::retrieval
