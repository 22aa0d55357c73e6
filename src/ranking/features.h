// Ranking features: a fixed, named vector of floats per (query, candidate product), computed by
// one code path for training (train ranker) and serving (re-ranking), so a model never sees
// features at serving time that were computed differently when it learned (no train/serve
// skew). The feature set is versioned by its names: a model directory carries features.txt
// and the re-ranker refuses a model whose names differ from FeatureNames().
//
// Inputs: the analysed query terms (the analyzer of the catalog's index), and the lexical
// candidates in their BM25 order (doc, BM25 score). Everything else comes from ProductTerms.
// Per-field BM25 follows retrieval/index.h (Robertson & Zaragoza 2009, Lucene's idf) with
// the index's k1 and b, over each field on its own.
//
// Thread-safety: a FeatureExtractor is immutable and safe for concurrent use; each thread
// keeps its own scratch space (thread_local), so Extract allocates nothing after warm-up.
// Cost: O(query terms x field terms) per candidate, about 1 us per Home Depot candidate:
// 100 candidates took 97-175 us p50 on the shared 2-core test machine (ranking_test prints
// it), inside the 200 us serving budget.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ranking/product_terms.h"
#include "retrieval/index.h"

namespace shelfwatch::ranking {

// Feature columns, in the order of the vector. Appending or reordering changes the names,
// so models trained on the old set are refused rather than misread.
enum Feature : uint32_t {
  kBm25 = 0,           // the retrieval score (all indexed fields)
  kBm25Ratio,          // BM25 / the best BM25 among the candidates (query-normalised)
  kLexicalRank,        // 0-based rank in the BM25 candidate list
  kBm25Title,          // BM25 of the title alone
  kBm25Brand,
  kBm25Description,
  kBm25Category,
  kQueryTerms,         // analysed query terms
  kTitleTerms,         // analysed title terms
  kCoverage,           // share of distinct query terms found in the title
  kCoverageVsBest,     // coverage minus the best coverage among the candidates (<= 0)
  kFuzzyCoverage,      // coverage counting a missed query term by its closest title term's
                       // trigram Jaccard similarity ("toliet" ~ "toilet" 0.2, "vanitys" ~ "vaniti")
  kIdfCoverage,        // the same, each term weighed by its title idf
  kAllTerms,           // 1 when every query term is in the title
  kBigramMatch,        // share of adjacent query-term pairs found adjacent, in order, in the title
  kPhraseMatch,        // 1 when the whole query appears as a phrase in the title
  kLongestRun,         // longest run of query terms found in order and adjacent / query terms
  kOrderedPairs,       // share of adjacent query-term pairs found in order, adjacent or not
  kProximity,          // matched distinct terms / the shortest title window holding them all
  kFirstMatchPosition, // position of the first query term in the title / title length (1: none)
  kTitleMatchShare,    // share of title terms that are query terms (how "on topic" the title is)
  kQueryNumbers,       // number terms in the query ("2", "3/4", "1.5")
  kNumberMatch,        // share of the query's numbers found in the title
  kNumberUnitMatch,    // share of the query's number+next-term pairs ("3/4 inch") found adjacent
  kBrandMatch,         // every term of the product's brand is in the query (0 without a brand)
  kFirstWordMatch,     // the title's first term (usually the brand) is a query term
  kLastTermMatch,      // the query's last term (usually the product type) is in the title
  kTitleLastTermMatch, // the title's last term (often the product type) is a query term
  kUnknownTerms,       // query terms the catalog never uses (typos, foreign words)
  kTrigramCoverage,    // share of the query's character trigrams found in the title's terms
  kTrigramDice,        // 2|Q n T| / (|Q| + |T|) over character trigrams
  kTrigramVsBest,      // trigram coverage minus the best among the candidates (<= 0)
  kPopularity,         // popularity prior from feedback; 0 until feedback exists
  // Vector retrieval and fusion (ranking/candidates.h); all 0 / the absent rank when the
  // pipeline has no embedding model.
  kVectorSimilarity,   // cosine of the query and product embeddings (0: product not embedded)
  kVectorSimVsBest,    // that minus the best among the candidates (<= 0)
  kVectorRank,         // 0-based rank in the ANN list; the ANN list length when absent
  kFusedScore,         // reciprocal rank fusion score of the lexical and vector ranks
  kLexicalRetrieved,   // 1 when BM25 retrieval returned it (0: found by vectors only)
  kNumFeatures
};

// The names of the columns, in order ("bm25", "bm25_ratio", ...): explanations and
// features.txt.
std::span<const std::string_view> FeatureNames();
// Checks a model's features.txt (one name per line) against FeatureNames(): kNotFound when the
// file is missing, kFailedPrecondition naming the first column that differs ("trained on
// another feature set; retrain it"), so a model never reads the wrong columns.
Status CheckFeatureNames(const std::string& path);

inline constexpr uint32_t kNotRetrieved = UINT32_MAX;

// One product to rank and what retrieval knows of it.
struct Candidate {
  uint32_t doc = 0;
  float score = 0;                        // BM25; recomputed from the fields when not lexical
  uint32_t lexical_rank = kNotRetrieved;  // 0-based rank in the BM25 list
  uint32_t vector_rank = kNotRetrieved;   // 0-based rank in the ANN list
  float vector_similarity = 0;            // cosine, 0 without an embedding
  float fused = 0;                        // reciprocal rank fusion score
};

// Where each list ends: an absent rank is reported as the list's length ("not in the top N").
struct CandidateDepths {
  uint32_t lexical = 100;
  uint32_t vector = 0;  // 0: no vector list
};

// The weight of each ProductTerms field in the index's BM25 (0 for fields it does not index),
// so a candidate found by vectors alone gets the BM25 the index would have given it.
std::array<float, kNumFields> FieldWeights(const retrieval::IndexOptions& options);

class FeatureExtractor {
 public:
  // `field_weights`: FieldWeights(index options); by default the title alone, weight 1.
  FeatureExtractor(std::shared_ptr<const ProductTerms> terms, retrieval::Bm25Params bm25,
                   std::array<float, kNumFields> field_weights = {1.0f, 0.0f, 0.0f, 0.0f},
                   CandidateDepths depths = {});

  // Analyses `query` with the catalog's analyzer, then as below.
  void Extract(std::string_view query, std::span<const Candidate> candidates, std::span<const float> popularity,
               float* out) const;
  // Writes candidates.size() rows of kNumFeatures floats to `out` (row-major). A candidate
  // whose lexical_rank is kNotRetrieved gets its BM25 from the per-field scores (found by
  // vectors alone). `popularity` is empty (priors 0) or holds one prior per candidate.
  void ExtractTerms(std::span<const std::string> query_terms, std::span<const Candidate> candidates,
                    std::span<const float> popularity, float* out) const;

  const ProductTerms& terms() const { return *terms_; }
  const retrieval::Bm25Params& bm25() const { return bm25_; }

 private:
  struct Scratch;
  std::shared_ptr<const ProductTerms> terms_;
  retrieval::Bm25Params bm25_;
  std::array<float, kNumFields> field_weights_;
  CandidateDepths depths_;
};

}  // namespace shelfwatch::ranking
