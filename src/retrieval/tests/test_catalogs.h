// Helpers shared by the retrieval tests: tiny catalogs built in code and query construction.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "retrieval/index.h"
#include "text/analyzer.h"

namespace shelfwatch::retrieval::testing {

// A product with id "p<n>" and the given fields.
inline catalog::Product MakeProduct(size_t n, std::string title, std::string brand = "",
                                    std::string description = "") {
  catalog::Product p;
  p.id = "p";
  p.id += std::to_string(n);
  p.title = std::move(title);
  p.brand = std::move(brand);
  p.description = std::move(description);
  return p;
}

inline catalog::Catalog MakeCatalog(const std::vector<std::string>& titles) {
  catalog::Catalog catalog("tiny");
  for (size_t i = 0; i < titles.size(); ++i) {
    Status s = catalog.Add(MakeProduct(i, titles[i]));
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return catalog;
}

// Unstemmed, so the expected terms in a test are exactly the words written in it.
inline IndexOptions PlainOptions(std::vector<FieldSpec> fields = {{"title", 1.0f}}) {
  IndexOptions options;
  options.fields = std::move(fields);
  options.analyzer.stem_language = "none";
  options.progress = false;
  return options;
}

inline std::shared_ptr<const InvertedIndex> BuildOrDie(const catalog::Catalog& catalog,
                                                       const IndexOptions& options) {
  auto index = InvertedIndex::Build(catalog, options);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? *index : nullptr;
}

inline Query MakeQuery(const InvertedIndex& index, std::string_view text, uint32_t k = 10,
                       uint32_t offset = 0, uint32_t min_should_match = 1) {
  Query q;
  text::ThreadLocalAnalyzer(index.options().analyzer).Analyze(text, &q.terms);
  q.k = k;
  q.offset = offset;
  q.min_should_match = min_should_match;
  return q;
}

inline std::vector<uint32_t> Docs(const SearchResult& r) {
  std::vector<uint32_t> docs;
  for (const ScoredDoc& h : r.hits) docs.push_back(h.doc);
  return docs;
}

// Same docs in the same order with bit-identical scores.
inline ::testing::AssertionResult SameHits(const SearchResult& a, const SearchResult& b) {
  if (a.hits.size() != b.hits.size()) {
    return ::testing::AssertionFailure()
           << "hit counts differ: " << a.hits.size() << " vs " << b.hits.size();
  }
  for (size_t i = 0; i < a.hits.size(); ++i) {
    if (a.hits[i].doc != b.hits[i].doc ||
        std::bit_cast<uint32_t>(a.hits[i].score) != std::bit_cast<uint32_t>(b.hits[i].score)) {
      return ::testing::AssertionFailure()
             << "rank " << i << ": doc " << a.hits[i].doc << " score " << a.hits[i].score
             << " vs doc " << b.hits[i].doc << " score " << b.hits[i].score;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace shelfwatch::retrieval::testing
