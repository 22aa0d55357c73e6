// Lexical retrieval: an in-memory inverted index with BM25 scoring and top-k search with
// dynamic pruning.
//
// Scoring (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond",
// 2009), summed over indexed fields f with weights w_f and over distinct query terms t with
// query-term frequency qtf:
//   score(d) = sum_t qtf_t * sum_f w_f * idf_f(t) * tf*(k1+1) / (tf + k1*(1 - b + b*len_fd/avglen_f))
//   idf_f(t) = ln(1 + (N - df_f(t) + 0.5) / (df_f(t) + 0.5))          (Lucene's non-negative idf)
// Ties are broken by internal doc number ascending (catalog load order), so results are
// deterministic. Search() prunes (MaxScore with block-max bounds) and returns exactly what
// SearchExhaustive() returns, which scores every posting; tests hold the two equal.
//
// Thread-safety: an InvertedIndex is immutable after Build and safe for concurrent reads.
// A Searcher holds per-thread scratch space: one per thread, not thread-safe.
// Cost: Build is O(total tokens); Search is O(postings of the query terms) worst case and
// allocation-free after warm-up.
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
  float k1 = 1.2f;
  float b = 0.75f;
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
  uint64_t memory_bytes = 0;  // postings, block bounds, dictionary, doc lengths
  double build_seconds = 0;
};

class InvertedIndex {
 public:
  // Analyses every product's indexed fields with `options.analyzer` and builds the postings.
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
  // A document must contain at least this many distinct query terms (in any field).
  uint32_t min_should_match = 1;
  // Count every matching document exactly; otherwise total_hits may be a lower bound.
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
  uint64_t docs_scored = 0;      // fully scored candidates (pruning effectiveness)
};

class Searcher {
 public:
  explicit Searcher(std::shared_ptr<const InvertedIndex> index);
  ~Searcher();
  Searcher(const Searcher&) = delete;
  Searcher& operator=(const Searcher&) = delete;

  // Top-k with dynamic pruning.
  SearchResult Search(const Query& query);
  // Reference implementation: scores every posting of every query term.
  SearchResult SearchExhaustive(const Query& query);

  const InvertedIndex& index() const { return *index_; }

 private:
  struct Scratch;
  std::shared_ptr<const InvertedIndex> index_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace shelfwatch::retrieval
