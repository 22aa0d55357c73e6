// Search == SearchExhaustive (ids and bit-identical scores) over every Home Depot query, for
// the result windows and options a shop uses: top 10, top 100, page 3, and two-term matching.
#include <gtest/gtest.h>

#include <string>

#include "catalog/catalog.h"
#include "catalog/csv_reader.h"
#include "retrieval/index.h"
#include "retrieval/tests/test_catalogs.h"
#include "text/analyzer.h"
#include "support/shared_set_up.h"

namespace shelfwatch::retrieval {
namespace {

const std::string kDataDir = SHELFWATCH_DATA_DIR;

class HomeDepotSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_set_up_.Run(&SetUpShared)) << "the suite's shared set-up failed (in the first test run)";
  }
  static inline ::shelfwatch::testing::SharedSetUp shared_set_up_;
  // Run once per process by the first test's SetUp (support/shared_set_up.h).
  static void SetUpShared() {
    catalog::LoadOptions load;
    load.progress = false;
    auto catalog = catalog::LoadCatalog("homedepot", kDataDir + "/homedepot/products.csv", load);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = new catalog::Catalog(std::move(*catalog));
    IndexOptions options;
    options.progress = false;
    auto index = InvertedIndex::Build(*catalog_, options);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = new std::shared_ptr<const InvertedIndex>(*index);
    options.bm25 = {0.2f, 0.85f};  // the parameters tuned for this catalog (bench/lexical_bench)
    auto tuned = InvertedIndex::Build(*catalog_, options);
    ASSERT_TRUE(tuned.ok()) << tuned.status().ToString();
    tuned_index_ = new std::shared_ptr<const InvertedIndex>(*tuned);
    auto reader = catalog::CsvReader::Open(kDataDir + "/homedepot/queries.csv");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    queries_ = new std::vector<QueryRow>();
    std::vector<std::string> row;
    ASSERT_TRUE((*reader)->Next(&row));  // header: query_id,query
    while ((*reader)->Next(&row)) {
      ASSERT_EQ(row.size(), 2u);
      queries_->push_back({row[0], row[1]});
    }
    ASSERT_TRUE((*reader)->error().empty()) << (*reader)->error();
  }
  static void TearDownTestSuite() {
    delete queries_;
    delete index_;
    delete tuned_index_;
    delete catalog_;
  }

  struct QueryRow {
    std::string id, text;
  };
  struct Window {
    uint32_t k, offset, msm;
  };
  // Runs every query through both paths; returns (docs scored pruned, docs scored exhaustive).
  static std::pair<uint64_t, uint64_t> CheckAllQueries(
      Window w, const std::shared_ptr<const InvertedIndex>& index = *index_) {
    EXPECT_EQ(queries_->size(), 11795u);
    Searcher searcher(index);
    text::Analyzer& analyzer = text::ThreadLocalAnalyzer(index->options().analyzer);
    Query q;
    q.k = w.k;
    q.offset = w.offset;
    q.min_should_match = w.msm;
    uint64_t fast_scored = 0, slow_scored = 0;
    size_t failures = 0;
    for (const QueryRow& jq : *queries_) {
      q.terms.clear();
      analyzer.Analyze(jq.text, &q.terms);
      q.exact_total_hits = false;
      SearchResult fast = searcher.Search(q);
      SearchResult slow = searcher.SearchExhaustive(q);
      fast_scored += fast.docs_scored;
      slow_scored += slow.docs_scored;
      auto same = testing::SameHits(fast, slow);
      bool ok = same && (fast.total_hits_exact ? fast.total_hits == slow.total_hits
                                               : fast.total_hits <= slow.total_hits);
      q.exact_total_hits = true;
      SearchResult exact = searcher.Search(q);
      ok = ok && exact.total_hits_exact && exact.total_hits == slow.total_hits &&
           testing::SameHits(exact, slow);
      if (!ok && ++failures <= 5) {
        ADD_FAILURE() << "query " << jq.id << " '" << jq.text << "': " << same.message()
                      << " total " << fast.total_hits << (fast.total_hits_exact ? "" : "+")
                      << " exact-mode " << exact.total_hits << " exhaustive " << slow.total_hits;
      }
    }
    EXPECT_EQ(failures, 0u);
    return {fast_scored, slow_scored};
  }

  static catalog::Catalog* catalog_;
  static std::shared_ptr<const InvertedIndex>* index_;
  static std::shared_ptr<const InvertedIndex>* tuned_index_;
  static std::vector<QueryRow>* queries_;
};

catalog::Catalog* HomeDepotSearchTest::catalog_ = nullptr;
std::shared_ptr<const InvertedIndex>* HomeDepotSearchTest::index_ = nullptr;
std::shared_ptr<const InvertedIndex>* HomeDepotSearchTest::tuned_index_ = nullptr;
std::vector<HomeDepotSearchTest::QueryRow>* HomeDepotSearchTest::queries_ = nullptr;

TEST_F(HomeDepotSearchTest, Top10) {
  auto [fast, slow] = CheckAllQueries({10, 0, 1});
  // Pruning is the point of Search: it must fully score far fewer documents.
  EXPECT_LT(fast * 4, slow);
}

TEST_F(HomeDepotSearchTest, Top100) { CheckAllQueries({100, 0, 1}); }

TEST_F(HomeDepotSearchTest, ThirdPageOfTen) { CheckAllQueries({10, 20, 1}); }

TEST_F(HomeDepotSearchTest, TwoTermsMustMatch) { CheckAllQueries({10, 0, 2}); }

TEST_F(HomeDepotSearchTest, Top10WithTunedBm25) {
  auto [fast, slow] = CheckAllQueries({10, 0, 1}, *tuned_index_);
  EXPECT_LT(fast * 4, slow);
}

}  // namespace
}  // namespace shelfwatch::retrieval
