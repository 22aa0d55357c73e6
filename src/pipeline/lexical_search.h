// Lexical search over a catalog snapshot: analyze the query text, retrieve the top k with
// BM25, with the time of each stage measured for the per-stage latency histogram.
// Thread-safety: safe from any thread; each thread keeps its own analyzer and searcher.
// Cost: analysis O(query length) + retrieval O(postings of the query terms), allocation-free
// after warm-up apart from the result vectors.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pipeline/catalog_registry.h"
#include "retrieval/index.h"

namespace shelfwatch::pipeline {

struct SearchParams {
  std::string query;  // UTF-8 query text
  uint32_t k = 10;
  uint32_t offset = 0;
  uint32_t min_should_match = 1;
  bool exact_total_hits = false;
};

struct SearchOutcome {
  retrieval::SearchResult result;
  size_t query_terms = 0;     // analysed terms
  // The analysed terms themselves: a view of this thread's buffer, valid until the thread's
  // next search (what the drift monitor needs without a copy).
  std::span<const std::string> terms;
  int64_t analyze_ns = 0;
  int64_t retrieve_ns = 0;
};

SearchOutcome RunLexicalSearch(const CatalogSnapshot& snapshot, const SearchParams& params);

}  // namespace shelfwatch::pipeline
