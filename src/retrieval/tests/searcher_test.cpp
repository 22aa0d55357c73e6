// Searcher semantics: OR with min_should_match, paging, tie-break, total_hits, degenerate
// queries, and Search == SearchExhaustive on random catalogs built to produce many ties.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "retrieval/index.h"
#include "retrieval/tests/test_catalogs.h"

namespace shelfwatch::retrieval {
namespace {

using testing::BuildOrDie;
using testing::Docs;
using testing::MakeCatalog;
using testing::MakeProduct;
using testing::MakeQuery;
using testing::PlainOptions;
using testing::SameHits;

class SearcherTest : public ::testing::Test {
 protected:
  SearcherTest() {
    index_ = BuildOrDie(MakeCatalog({
                            "red desk lamp",         // 0: red desk lamp
                            "blue desk",             // 1: desk
                            "red chair",             // 2: red
                            "oak desk with drawer",  // 3: desk
                            "red lamp shade",        // 4: red lamp
                            "lamp",                  // 5: lamp
                        }),
                        PlainOptions());
    searcher_ = std::make_unique<Searcher>(index_);
  }
  SearchResult Search(std::string_view text, uint32_t k = 10, uint32_t offset = 0,
                      uint32_t msm = 1, bool exact_total_hits = false) {
    Query q = MakeQuery(*index_, text, k, offset, msm);
    q.exact_total_hits = exact_total_hits;
    SearchResult fast = searcher_->Search(q);
    SearchResult slow = searcher_->SearchExhaustive(q);
    EXPECT_TRUE(SameHits(fast, slow)) << text;
    EXPECT_EQ(slow.total_hits, fast.total_hits_exact ? fast.total_hits : slow.total_hits);
    return fast;
  }
  std::shared_ptr<const InvertedIndex> index_;
  std::unique_ptr<Searcher> searcher_;
};

std::set<uint32_t> DocSet(const SearchResult& r) {
  auto docs = Docs(r);
  return {docs.begin(), docs.end()};
}

TEST_F(SearcherTest, OrSemanticsMatchesAnyTerm) {
  SearchResult r = Search("red lamp");
  EXPECT_EQ(DocSet(r), (std::set<uint32_t>{0, 2, 4, 5}));
  EXPECT_EQ(r.total_hits, 4u);
  EXPECT_TRUE(r.total_hits_exact);
}

TEST_F(SearcherTest, MinShouldMatchCountsDistinctQueryTerms) {
  EXPECT_EQ(DocSet(Search("red lamp", 10, 0, 2)), (std::set<uint32_t>{0, 4}));
  EXPECT_EQ(Search("red lamp", 10, 0, 2).total_hits, 2u);
  EXPECT_EQ(DocSet(Search("red desk lamp", 10, 0, 3)), (std::set<uint32_t>{0}));
  EXPECT_EQ(DocSet(Search("red desk lamp", 10, 0, 2)), (std::set<uint32_t>{0, 4}));
  // A repeated term is one distinct term: "red red" cannot match two.
  EXPECT_TRUE(Search("red red", 10, 0, 2).hits.empty());
  // Unknown terms never match, so they cannot help reach min_should_match.
  EXPECT_TRUE(Search("red zebra", 10, 0, 2).hits.empty());
  EXPECT_EQ(DocSet(Search("red zebra lamp", 10, 0, 2)), (std::set<uint32_t>{0, 4}));
  // More required terms than the query has: nothing.
  EXPECT_EQ(Search("red lamp", 10, 0, 3).total_hits, 0u);
  // 0 means 1: a document must match something.
  EXPECT_EQ(Search("red lamp", 10, 0, 0).total_hits, 4u);
}

TEST_F(SearcherTest, MinShouldMatchDoesNotChangeScores) {
  SearchResult all = Search("red lamp");
  SearchResult both = Search("red lamp", 10, 0, 2);
  for (const ScoredDoc& h : both.hits) {
    auto it = std::find_if(all.hits.begin(), all.hits.end(),
                           [&](const ScoredDoc& a) { return a.doc == h.doc; });
    ASSERT_NE(it, all.hits.end());
    EXPECT_EQ(it->score, h.score);
  }
}

TEST_F(SearcherTest, OffsetPagesThroughTheSameRanking) {
  SearchResult full = Search("red desk lamp drawer", 10);
  ASSERT_EQ(full.hits.size(), 6u);
  std::vector<ScoredDoc> paged;
  for (uint32_t offset = 0; offset < 6; offset += 2) {
    SearchResult page = Search("red desk lamp drawer", 2, offset, 1, /*exact_total_hits=*/true);
    EXPECT_EQ(page.hits.size(), 2u);
    EXPECT_EQ(page.total_hits, 6u);
    paged.insert(paged.end(), page.hits.begin(), page.hits.end());
  }
  SearchResult joined;
  joined.hits = paged;
  EXPECT_TRUE(SameHits(joined, full));
  EXPECT_TRUE(Search("red desk lamp drawer", 2, 6).hits.empty());
  EXPECT_EQ(Search("red desk lamp drawer", 10, 5).hits.size(), 1u);
  // Offsets past the catalog size do not overflow.
  EXPECT_TRUE(Search("red", UINT32_MAX, UINT32_MAX).hits.empty());
}

TEST_F(SearcherTest, EmptyAndUnknownQueriesFindNothing) {
  for (const char* text : {"", "   ", "zebra", "zebra unicorn", "!!!"}) {
    SearchResult r = Search(text);
    EXPECT_TRUE(r.hits.empty()) << text;
    EXPECT_EQ(r.total_hits, 0u) << text;
    EXPECT_TRUE(r.total_hits_exact) << text;
  }
  Query none;
  EXPECT_TRUE(searcher_->Search(none).hits.empty());
  EXPECT_EQ(searcher_->SearchExhaustive(none).total_hits, 0u);
}

TEST_F(SearcherTest, ZeroResultsWantedStillCounts) {
  Query q = MakeQuery(*index_, "red", 0);
  SearchResult r = searcher_->Search(q);
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(r.total_hits, 3u);  // one list: its length is exact
  EXPECT_TRUE(r.total_hits_exact);
  q = MakeQuery(*index_, "red lamp", 0);
  q.exact_total_hits = true;
  r = searcher_->Search(q);
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(r.total_hits, 4u);
  EXPECT_TRUE(r.total_hits_exact);
  q.exact_total_hits = false;
  r = searcher_->Search(q);
  EXPECT_LE(r.total_hits, 4u);
  EXPECT_GE(r.total_hits, 3u);  // the longest list is a lower bound
}

TEST(SearcherTieBreakTest, EqualScoresRankByCatalogOrder) {
  // Ten identical titles and two decoys: all ten score exactly the same.
  std::vector<std::string> titles(10, "steel hammer");
  titles.insert(titles.begin() + 3, "steel wool pad");
  titles.push_back("rubber mallet");
  auto index = BuildOrDie(MakeCatalog(titles), PlainOptions());
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  std::vector<uint32_t> expected = {0, 1, 2, 4, 5, 6, 7, 8, 9, 10};
  for (uint32_t k = 1; k <= 10; ++k) {
    Query q = MakeQuery(*index, "hammer", k);
    SearchResult r = searcher.Search(q);
    EXPECT_EQ(Docs(r), std::vector<uint32_t>(expected.begin(), expected.begin() + k));
    EXPECT_TRUE(SameHits(r, searcher.SearchExhaustive(q)));
    // Paging across a run of ties hands out each doc once.
    Query page = MakeQuery(*index, "steel hammer", 3, k - 1);
    EXPECT_TRUE(SameHits(searcher.Search(page), searcher.SearchExhaustive(page))) << k;
  }
}

TEST(SearcherTotalHitsTest, LowerBoundWhenPrunedExactWhenAsked) {
  // 2,000 weak matches of each term and a few strong matches of both: the top 1 is settled
  // early and most weak docs are skipped, so the pruned count is only a lower bound.
  std::vector<std::string> titles;
  for (int i = 0; i < 4000; ++i) {
    if (i % 500 == 0) titles.push_back("alpha beta");
    titles.push_back(i % 2 == 0 ? "alpha filler words here" : "beta filler words here");
  }
  auto index = BuildOrDie(MakeCatalog(titles), PlainOptions());
  ASSERT_NE(index, nullptr);
  Searcher searcher(index);
  Query q = MakeQuery(*index, "alpha beta", 1);
  const uint64_t truth = searcher.SearchExhaustive(q).total_hits;
  EXPECT_EQ(truth, titles.size());

  SearchResult pruned = searcher.Search(q);
  EXPECT_FALSE(pruned.total_hits_exact);
  EXPECT_LE(pruned.total_hits, truth);
  EXPECT_GE(pruned.total_hits, 2008u);  // at least the longer list
  EXPECT_LT(pruned.docs_scored, truth / 4);

  q.exact_total_hits = true;
  SearchResult exact = searcher.Search(q);
  EXPECT_TRUE(exact.total_hits_exact);
  EXPECT_EQ(exact.total_hits, truth);
  EXPECT_TRUE(SameHits(exact, pruned));

  // A single-list query knows its count without scanning: the list length.
  Query single = MakeQuery(*index, "alpha", 1);
  SearchResult r = searcher.Search(single);
  EXPECT_TRUE(r.total_hits_exact);
  EXPECT_EQ(r.total_hits, 2008u);
}

// Random catalogs over a small Zipf-like vocabulary, three weighted fields and many
// duplicate products, so ties and long lists are common; every option combination must give
// exactly the exhaustive answer.
TEST(SearcherEquivalenceTest, PrunedSearchEqualsExhaustiveOnRandomCatalogs) {
  std::mt19937 rng(20240611);
  std::vector<std::string> vocab;
  for (int i = 0; i < 40; ++i) {
    vocab.emplace_back("w");
    vocab.back() += std::to_string(i);
  }
  auto word = [&] {
    // P(word i) ~ 1 / (i + 1)
    std::uniform_real_distribution<double> u(0, std::log(41.0));
    return vocab[std::min<size_t>(39, static_cast<size_t>(std::exp(u(rng)) - 1))];
  };
  auto text = [&](int max_len) {
    std::string s;
    int n = std::uniform_int_distribution<int>(0, max_len)(rng);
    for (int i = 0; i < n; ++i) s += word() + " ";
    return s;
  };
  for (int round = 0; round < 4; ++round) {
    catalog::Catalog catalog("random");
    std::vector<catalog::Product> made;
    for (size_t d = 0; d < 3000; ++d) {
      catalog::Product p = MakeProduct(d, text(8), text(2), text(20));
      if (!made.empty() && rng() % 4 == 0) {  // duplicate an earlier product's text
        const catalog::Product& src = made[rng() % made.size()];
        p.title = src.title;
        p.brand = src.brand;
        p.description = src.description;
      }
      made.push_back(p);
      ASSERT_TRUE(catalog.Add(std::move(p)).ok());
    }
    IndexOptions options = PlainOptions({{"title", 1.0f}, {"brand", 2.5f}, {"description", 0.3f}});
    options.bm25 = {round * 0.6f, round * 0.3f};
    auto index = BuildOrDie(catalog, options);
    ASSERT_NE(index, nullptr);
    Searcher searcher(index);
    for (int i = 0; i < 400; ++i) {
      Query q;
      int n = std::uniform_int_distribution<int>(1, 7)(rng);
      for (int t = 0; t < n; ++t) q.terms.push_back(rng() % 10 == 0 ? "unknown" : word());
      q.k = std::uniform_int_distribution<uint32_t>(0, 50)(rng);
      q.offset = rng() % 3 == 0 ? std::uniform_int_distribution<uint32_t>(0, 40)(rng) : 0;
      q.min_should_match = std::uniform_int_distribution<uint32_t>(0, 3)(rng);
      q.exact_total_hits = rng() % 5 == 0;
      SearchResult slow = searcher.SearchExhaustive(q);
      SearchResult fast = searcher.Search(q);
      ASSERT_TRUE(SameHits(fast, slow)) << "round " << round << " query " << i;
      if (fast.total_hits_exact) {
        ASSERT_EQ(fast.total_hits, slow.total_hits);
      } else {
        ASSERT_LE(fast.total_hits, slow.total_hits);
      }
      if (q.exact_total_hits) {
        ASSERT_TRUE(fast.total_hits_exact);
      }
    }
  }
}

}  // namespace
}  // namespace shelfwatch::retrieval
