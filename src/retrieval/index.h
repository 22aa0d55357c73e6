// Lexical retrieval: an in-memory inverted index with BM25 scoring and top-k search with
// dynamic pruning.
//
// Scoring (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond",
// 2009), summed over indexed fields f with weights w_f and over distinct query terms t with
// query-term frequency qtf:
//   score(d) = sum_t qtf_t * sum_f w_f * idf_f(t) * tf*(k1+1) / (tf + k1*(1 - b + b*len_fd/avglen_f))
//   idf_f(t) = ln(1 + (N - df_f(t) + 0.5) / (df_f(t) + 0.5))          (Lucene's non-negative idf)
// N and avglen are per field, over the docs whose field is non-empty. k1 and b are fixed when
// the index is built (each posting stores its saturated tf). A document's score is the float
// sum of its (term, field) contributions in one canonical order (distinct query terms by term
// id, then fields in IndexOptions order), so scores do not depend on query-term order.
// Ties are broken by internal doc number ascending (catalog load order), so results are
// deterministic. Search() prunes with block-max bounds over fixed doc-id ranges (see
// index_impl.h) and returns exactly what SearchExhaustive() returns, which scores every
// posting: same docs, bit-identical scores; tests hold the two equal.
//
// Thread-safety: an InvertedIndex is immutable after Build and safe for concurrent reads.
// A Searcher holds per-thread scratch space: one per thread, not thread-safe.
// Cost: Build is O(total tokens). Search is O(postings of the query terms + docs / 32) worst
// case, typically a small fraction of that, and allocation-free after warm-up apart from the
// returned hits. Memory: about 8 bytes per posting plus per-range bounds of long lists.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "text/analyzer.h"

namespace shelfwatch::retrieval {

struct FieldSpec {
  std::string name;  // title | description | brand | category | attributes
  float weight = 1.0f;
};

struct Bm25Params {
  float k1 = 1.2f;  // >= 0: tf saturation (0 = binary)
  float b = 0.75f;  // [0, 1]: length normalisation
};

struct IndexOptions {
  std::vector<FieldSpec> fields = {{"title", 1.0f}};
  Bm25Params bm25;
  text::AnalyzerOptions analyzer;
  bool progress = true;  // progress bar on a TTY for builds over a second
};

struct IndexStats {
  uint32_t docs = 0;
  uint64_t terms = 0;      // distinct (field, term) posting lists
  uint64_t postings = 0;
  uint64_t memory_bytes = 0;  // postings, skip data, range bounds, dictionary (capacities)
  double build_seconds = 0;
};

class InvertedIndex {
 public:
  // Analyses every product's indexed fields with `options.analyzer` and builds the postings.
  // Fields: title, description, brand, category (each path level), attributes (values only).
  // Errors: kInvalidArgument for an unknown or repeated field, a negative or non-finite
  // weight, k1 < 0, b outside [0, 1], an unknown stemming language, or a catalog too large.
  static Result<std::shared_ptr<const InvertedIndex>> Build(const catalog::Catalog& catalog,
                                                            const IndexOptions& options);
  ~InvertedIndex();

  const IndexOptions& options() const;
  const IndexStats& stats() const;
  uint32_t num_docs() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit InvertedIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Query {
  std::vector<std::string> terms;  // analysed terms, as text::Analyzer produces them
  uint32_t k = 10;                 // results wanted after `offset`
  uint32_t offset = 0;
  // A document must contain at least this many distinct query terms (in any field); 0 counts
  // as 1. A repeated term counts once (it weighs qtf times in the score). Terms absent from
  // the index never match, so they cannot help reach the count.
  uint32_t min_should_match = 1;
  // Count every matching document exactly (disables pruning); otherwise total_hits is exact
  // when it costs nothing (one posting list, or nothing skipped) and a lower bound otherwise.
  bool exact_total_hits = false;
};

struct ScoredDoc {
  uint32_t doc;
  float score;
};

struct SearchResult {
  std::vector<ScoredDoc> hits;  // ranks [offset, offset + k), best first
  uint64_t total_hits = 0;
  bool total_hits_exact = true;  // false: total_hits is a lower bound
  uint64_t docs_scored = 0;      // matching docs fully scored (pruning effectiveness)
};

class Searcher {
 public:
  explicit Searcher(std::shared_ptr<const InvertedIndex> index);
  ~Searcher();
  Searcher(const Searcher&) = delete;
  Searcher& operator=(const Searcher&) = delete;

  // Top-k with dynamic pruning. Empty or all-unknown queries return no hits, total 0.
  SearchResult Search(const Query& query);
  // Reference implementation: scores every posting of every query term.
  SearchResult SearchExhaustive(const Query& query);

  const InvertedIndex& index() const { return *index_; }

 private:
  struct Scratch;
  std::shared_ptr<const InvertedIndex> index_;
  std::unique_ptr<Scratch> scratch_;
};

// This thread's searcher for `index`, created on first use (searchers hold per-thread
// scratch). Searchers of indexes nobody else holds any more are dropped on the next creation.
Searcher& ThreadSearcher(const std::shared_ptr<const InvertedIndex>& index);

}  // namespace shelfwatch::retrieval
