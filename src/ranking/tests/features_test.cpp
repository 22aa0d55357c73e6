// Feature values on hand-made products, computed by hand from the definitions in features.h.
#include "ranking/features.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "retrieval/index.h"
#include "text/analyzer.h"

namespace shelfwatch::ranking {
namespace {

class FeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<std::pair<std::string, std::string>> products = {
        {"DEWALT 20V MAX Cordless Drill Kit", "DEWALT"},           // 0
        {"Drill Bit Set for Cordless Tools", ""},                   // 1
        {"3/4 in. x 10 ft. Copper Pipe", ""},                       // 2
        {"1/2 in. x 10 ft. Copper Pipe", ""},                       // 3
        {"Copper Pipe Strap 3/4 ft", ""},                           // 4
        {"Toilet Seat", ""},                                        // 5
        {"Bath Seat", ""},                                          // 6
        {"Oak Hardwood Flooring", ""},                              // 7
    };
    for (size_t i = 0; i < products.size(); ++i) {
      catalog::Product p;
      p.id = "p";
      p.id += std::to_string(i);
      p.title = products[i].first;
      p.brand = products[i].second;
      ASSERT_TRUE(catalog_.Add(std::move(p)).ok());
    }
    retrieval::IndexOptions options;
    options.progress = false;
    auto index = retrieval::InvertedIndex::Build(catalog_, options);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = *index;
    auto terms = ProductTerms::Build(catalog_, options.analyzer);
    ASSERT_TRUE(terms.ok()) << terms.status().ToString();
    terms_ = *terms;
    extractor_ = std::make_unique<FeatureExtractor>(*terms, options.bm25);
  }

  // Feature rows for `docs` (in that order, scores from the index when it found them).
  std::vector<std::vector<float>> Rows(const std::string& query, const std::vector<uint32_t>& docs) {
    std::vector<Candidate> cands;
    for (uint32_t d : docs) cands.push_back({d, 1.0f, static_cast<uint32_t>(cands.size())});
    std::vector<float> x(docs.size() * kNumFeatures, -1.0f);
    extractor_->Extract(query, cands, {}, x.data());
    std::vector<std::vector<float>> rows;
    for (size_t i = 0; i < docs.size(); ++i) rows.emplace_back(x.begin() + i * kNumFeatures, x.begin() + (i + 1) * kNumFeatures);
    return rows;
  }

  catalog::Catalog catalog_{"tiny"};
  std::shared_ptr<const retrieval::InvertedIndex> index_;
  std::shared_ptr<const ProductTerms> terms_;
  std::unique_ptr<FeatureExtractor> extractor_;
};

TEST_F(FeaturesTest, NamesAreUniqueAndOnePerColumn) {
  const auto names = FeatureNames();
  ASSERT_EQ(names.size(), static_cast<size_t>(kNumFeatures));
  std::set<std::string_view> distinct(names.begin(), names.end());
  EXPECT_EQ(distinct.size(), names.size());
  EXPECT_EQ(names[kPhraseMatch], "phrase_match");
  EXPECT_EQ(names[kPopularity], "popularity");
}

TEST_F(FeaturesTest, CoveragePhraseAndProximity) {
  const auto rows = Rows("cordless drill", {0, 1, 7});
  // "dewalt 20 v max cordless drill kit": both terms, adjacent and in order.
  EXPECT_FLOAT_EQ(rows[0][kCoverage], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kAllTerms], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kPhraseMatch], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kBigramMatch], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kProximity], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kLastTermMatch], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kFirstWordMatch], 0.0f);
  // "drill bit set for cordless tool": both terms, reversed and four apart: window of 5.
  EXPECT_FLOAT_EQ(rows[1][kCoverage], 1.0f);
  EXPECT_FLOAT_EQ(rows[1][kPhraseMatch], 0.0f);
  EXPECT_FLOAT_EQ(rows[1][kBigramMatch], 0.0f);
  EXPECT_FLOAT_EQ(rows[1][kLongestRun], 0.5f);
  EXPECT_FLOAT_EQ(rows[1][kProximity], 2.0f / 5.0f);
  EXPECT_FLOAT_EQ(rows[1][kFirstWordMatch], 1.0f);
  EXPECT_FLOAT_EQ(rows[1][kFirstMatchPosition], 0.0f);
  EXPECT_FLOAT_EQ(rows[1][kTitleMatchShare], 2.0f / 6.0f);
  // Nothing in common.
  EXPECT_FLOAT_EQ(rows[2][kCoverage], 0.0f);
  EXPECT_FLOAT_EQ(rows[2][kProximity], 0.0f);
  EXPECT_FLOAT_EQ(rows[2][kFirstMatchPosition], 1.0f);
  EXPECT_FLOAT_EQ(rows[2][kBm25Title], 0.0f);
  EXPECT_FLOAT_EQ(rows[2][kCoverageVsBest], -1.0f);
  EXPECT_FLOAT_EQ(rows[1][kCoverageVsBest], 0.0f);
  // In order (cordless before drill) only in the first title.
  EXPECT_FLOAT_EQ(rows[0][kOrderedPairs], 1.0f);
  EXPECT_FLOAT_EQ(rows[1][kOrderedPairs], 0.0f);
  for (const auto& r : rows) EXPECT_FLOAT_EQ(r[kQueryTerms], 2.0f);
  EXPECT_FLOAT_EQ(rows[1][kLexicalRank], 1.0f);
}

TEST_F(FeaturesTest, NumbersAndUnitsMatchOnlyWithTheSameSize) {
  // The analyzer reads "3/4 inch" and "3/4 in." alike (3/4, inch).
  const auto rows = Rows("3/4 inch copper pipe", {2, 3, 4});
  EXPECT_FLOAT_EQ(rows[0][kQueryNumbers], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kNumberMatch], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kNumberUnitMatch], 1.0f);
  EXPECT_FLOAT_EQ(rows[1][kNumberMatch], 0.0f);      // 1/2 in.
  EXPECT_FLOAT_EQ(rows[1][kNumberUnitMatch], 0.0f);
  EXPECT_FLOAT_EQ(rows[2][kNumberMatch], 1.0f);      // 3/4 ft: the number, not the unit
  EXPECT_FLOAT_EQ(rows[2][kNumberUnitMatch], 0.0f);
  EXPECT_FLOAT_EQ(rows[0][kCoverage], 1.0f);
  EXPECT_FLOAT_EQ(rows[1][kCoverage], 3.0f / 4.0f);
  EXPECT_FLOAT_EQ(rows[0][kTitleLastTermMatch], 1.0f);  // ... copper pipe
  EXPECT_FLOAT_EQ(rows[2][kTitleLastTermMatch], 0.0f);  // ... 3/4 ft
}

TEST_F(FeaturesTest, TrigramsForgiveTypos) {
  // "toliet" is not a catalog term; its trigrams ^to tol oli lie iet et$ share ^to and et$
  // with "toilet". Query trigrams: 6 + 4 (^se sea eat at$) = 10.
  const auto rows = Rows("toliet seat", {5, 6});
  EXPECT_FLOAT_EQ(rows[0][kUnknownTerms], 1.0f);
  EXPECT_FLOAT_EQ(rows[0][kCoverage], 0.5f);
  EXPECT_FLOAT_EQ(rows[1][kCoverage], 0.5f);
  EXPECT_FLOAT_EQ(rows[0][kTrigramCoverage], 6.0f / 10.0f);
  EXPECT_FLOAT_EQ(rows[1][kTrigramCoverage], 4.0f / 10.0f);
  // Dice: title "toilet seat" has 6 + 4 trigrams, "bath seat" 4 + 4.
  EXPECT_FLOAT_EQ(rows[0][kTrigramDice], 2.0f * 6 / (10 + 10));
  EXPECT_FLOAT_EQ(rows[1][kTrigramDice], 2.0f * 4 / (10 + 8));
  EXPECT_FLOAT_EQ(rows[1][kTrigramVsBest], 4.0f / 10.0f - 6.0f / 10.0f);
  // "toliet" is closest to "toilet": Jaccard 2 / (6 + 6 - 2); "bath" shares nothing with it.
  EXPECT_FLOAT_EQ(rows[0][kFuzzyCoverage], (1.0f + 0.2f) / 2.0f);
  EXPECT_FLOAT_EQ(rows[1][kFuzzyCoverage], 0.5f);
}

TEST_F(FeaturesTest, BrandMatchNeedsTheWholeBrandInTheQuery) {
  EXPECT_FLOAT_EQ(Rows("dewalt drill", {0})[0][kBrandMatch], 1.0f);
  EXPECT_FLOAT_EQ(Rows("cordless drill", {0})[0][kBrandMatch], 0.0f);
  EXPECT_FLOAT_EQ(Rows("cordless drill", {1})[0][kBrandMatch], 0.0f);  // no brand
  EXPECT_GT(Rows("dewalt drill", {0})[0][kBm25Brand], 0.0f);
}

TEST_F(FeaturesTest, TitleBm25AgreesWithTheIndex) {
  // Two implementations of the same formula: the index's block-max search and the feature.
  retrieval::Searcher searcher(index_);
  retrieval::Query q;
  text::ThreadLocalAnalyzer(index_->options().analyzer).Analyze("copper pipe 3/4", &q.terms);
  q.k = 10;
  const auto result = searcher.Search(q);
  ASSERT_GE(result.hits.size(), 3u);
  std::vector<Candidate> cands;
  for (const auto& h : result.hits) cands.push_back({h.doc, h.score, static_cast<uint32_t>(cands.size())});
  std::vector<float> x(cands.size() * kNumFeatures);
  extractor_->ExtractTerms(q.terms, cands, {}, x.data());
  for (size_t i = 0; i < cands.size(); ++i) {
    EXPECT_NEAR(x[i * kNumFeatures + kBm25Title], cands[i].score, 1e-4f * cands[i].score) << i;
    EXPECT_FLOAT_EQ(x[i * kNumFeatures + kBm25], cands[i].score);
    EXPECT_FLOAT_EQ(x[i * kNumFeatures + kBm25Ratio], cands[i].score / cands[0].score);
  }
}

TEST_F(FeaturesTest, AProductFoundByVectorsAloneGetsTheBm25TheIndexWouldGiveIt) {
  retrieval::Searcher searcher(index_);
  retrieval::Query q;
  text::ThreadLocalAnalyzer(index_->options().analyzer).Analyze("copper pipe 3/4", &q.terms);
  q.k = 10;
  const auto result = searcher.Search(q);
  ASSERT_GE(result.hits.size(), 2u);
  // The second BM25 hit, as if only the vector list had found it (rank 0 there).
  Candidate lexical{result.hits[0].doc, result.hits[0].score, 0};
  Candidate vector_only;
  vector_only.doc = result.hits[1].doc;
  vector_only.vector_rank = 0;
  vector_only.vector_similarity = 0.8f;
  vector_only.fused = 1.0f / 61;
  const std::vector<Candidate> cands = {lexical, vector_only};
  FeatureExtractor extractor(terms_, index_->options().bm25,
                             FieldWeights(index_->options()), CandidateDepths{100, 50});
  std::vector<float> x(2 * kNumFeatures);
  extractor.ExtractTerms(q.terms, cands, {}, x.data());
  const float* v = x.data() + kNumFeatures;
  EXPECT_NEAR(v[kBm25], result.hits[1].score, 1e-3f * result.hits[1].score);
  EXPECT_FLOAT_EQ(v[kLexicalRetrieved], 0.0f);
  EXPECT_FLOAT_EQ(v[kLexicalRank], 100.0f);  // absent: the list's length
  EXPECT_FLOAT_EQ(v[kVectorRank], 0.0f);
  EXPECT_FLOAT_EQ(x[kVectorRank], 50.0f);
  EXPECT_FLOAT_EQ(v[kVectorSimilarity], 0.8f);
  EXPECT_FLOAT_EQ(v[kVectorSimVsBest], 0.0f);
  EXPECT_FLOAT_EQ(x[kVectorSimVsBest], -0.8f);
  EXPECT_FLOAT_EQ(x[kLexicalRetrieved], 1.0f);
}

TEST_F(FeaturesTest, PopularityPriorIsPassedThroughAndZeroWithoutFeedback) {
  std::vector<Candidate> cands = {{0, 1.0f, 0}, {1, 0.5f, 1}};
  std::vector<float> x(2 * kNumFeatures);
  extractor_->Extract("drill", cands, {}, x.data());
  EXPECT_FLOAT_EQ(x[kPopularity], 0.0f);
  const std::vector<float> prior = {0.25f, 0.75f};
  extractor_->Extract("drill", cands, prior, x.data());
  EXPECT_FLOAT_EQ(x[kPopularity], 0.25f);
  EXPECT_FLOAT_EQ(x[kNumFeatures + kPopularity], 0.75f);
}

TEST_F(FeaturesTest, EmptyQueryGivesZeroMatchFeatures) {
  const auto rows = Rows("", {0});
  EXPECT_FLOAT_EQ(rows[0][kQueryTerms], 0.0f);
  EXPECT_FLOAT_EQ(rows[0][kCoverage], 0.0f);
  EXPECT_FLOAT_EQ(rows[0][kPhraseMatch], 0.0f);
  EXPECT_FLOAT_EQ(rows[0][kTrigramCoverage], 0.0f);
}

}  // namespace
}  // namespace shelfwatch::ranking
