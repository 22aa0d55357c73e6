#include "pipeline/lexical_search.h"

#include "common/clock.h"
#include "text/analyzer.h"

namespace shelfwatch::pipeline {

SearchOutcome RunLexicalSearch(const CatalogSnapshot& snapshot, const SearchParams& params) {
  SearchOutcome out;
  thread_local retrieval::Query query;
  int64_t t0 = MonotonicNanos();
  query.terms.clear();
  text::ThreadLocalAnalyzer(snapshot.index->options().analyzer).Analyze(params.query, &query.terms);
  query.k = params.k;
  query.offset = params.offset;
  query.min_should_match = params.min_should_match;
  query.exact_total_hits = params.exact_total_hits;
  out.query_terms = query.terms.size();
  out.terms = query.terms;
  int64_t t1 = MonotonicNanos();
  out.result = retrieval::ThreadSearcher(snapshot.index).Search(query);
  int64_t t2 = MonotonicNanos();
  out.analyze_ns = t1 - t0;
  out.retrieve_ns = t2 - t1;
  return out;
}

}  // namespace shelfwatch::pipeline
