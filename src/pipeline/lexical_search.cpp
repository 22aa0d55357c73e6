#include "pipeline/lexical_search.h"

#include "common/clock.h"
#include "text/analyzer.h"

namespace shelfwatch::pipeline {
namespace {

// One searcher per thread and index: searchers hold per-thread scratch space.
retrieval::Searcher& ThreadSearcher(const std::shared_ptr<const retrieval::InvertedIndex>& index) {
  struct Entry {
    std::shared_ptr<const retrieval::InvertedIndex> index;
    std::unique_ptr<retrieval::Searcher> searcher;
  };
  thread_local std::vector<Entry> entries;
  for (auto& e : entries) {
    if (e.index == index) return *e.searcher;
  }
  // Drop searchers of indexes nobody else holds any more (replaced snapshots): only this entry
  // and its searcher keep such an index alive.
  std::erase_if(entries, [](const Entry& e) { return e.index.use_count() <= 2; });
  entries.push_back(Entry{index, std::make_unique<retrieval::Searcher>(index)});
  return *entries.back().searcher;
}

}  // namespace

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
  out.result = ThreadSearcher(snapshot.index).Search(query);
  int64_t t2 = MonotonicNanos();
  out.analyze_ns = t1 - t0;
  out.retrieve_ns = t2 - t1;
  return out;
}

}  // namespace shelfwatch::pipeline
