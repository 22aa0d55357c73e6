// A synthetic ranking task for the ranking tests: for query "A B" the relevant product
// writes the phrase "A B" inside a long title, while a short title "B A" (the words reversed,
// irrelevant) wins on BM25 through length normalisation. A ranker that learns the phrase
// feature puts the relevant product first; BM25 never does.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "eval/relevance.h"
#include "ranking/features.h"
#include "ranking/product_terms.h"
#include "retrieval/index.h"

namespace shelfwatch::ranking::synthetic {

// Letters-only words, distinct per n ("qxb", "qxc", ...), so no digit splitting applies.
inline std::string Word(size_t n, char prefix) {
  std::string w = {prefix, 'x'};
  do {
    w.push_back(static_cast<char>('b' + n % 20));
    n /= 20;
  } while (n);
  w.push_back('k');  // a consonant ending keeps the Snowball stemmer from changing the word
  return w;
}

struct SyntheticTask {
  catalog::Catalog catalog{"synthetic"};
  std::shared_ptr<const retrieval::InvertedIndex> index;
  std::unique_ptr<FeatureExtractor> extractor;
  std::vector<eval::JudgedQuery> queries;  // query i: relevant product "rel<i>"
};

inline std::unique_ptr<SyntheticTask> MakeSyntheticTask(size_t num_queries) {
  auto task = std::make_unique<SyntheticTask>();
  for (size_t i = 0; i < num_queries; ++i) {
    const std::string a = Word(i, 'q'), b = Word(i, 'z');
    // Built with += (GCC 12 warns falsely on "literal" + std::to_string under -O3).
    auto id = [i](std::string prefix) {
      prefix += std::to_string(i);
      return prefix;
    };
    auto add = [&](const std::string& id, const std::string& title) {
      catalog::Product p;
      p.id = id;
      p.title = title;
      EXPECT_TRUE(task->catalog.Add(std::move(p)).ok());
    };
    add(id("short"), b + " " + a);
    add(id("rel"), "heavy duty " + a + " " + b + " set with case and extra parts");
    add(id("other"), a + " standard model");
    eval::JudgedQuery q;
    q.id = static_cast<int64_t>(i + 1);
    q.text = a + " " + b;
    q.gains[id("rel")] = 2.0;
    task->queries.push_back(std::move(q));
  }
  retrieval::IndexOptions options;
  options.progress = false;
  auto index = retrieval::InvertedIndex::Build(task->catalog, options);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  task->index = *index;
  auto terms = ProductTerms::Build(task->catalog, options.analyzer);
  EXPECT_TRUE(terms.ok()) << terms.status().ToString();
  task->extractor = std::make_unique<FeatureExtractor>(*terms, options.bm25);
  return task;
}

}  // namespace shelfwatch::ranking::synthetic
