// Candidate generation for ranking: the lexical BM25 top N and the vector (ANN) top N of a
// query, merged by reciprocal rank fusion (Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion
// outperforms Condorcet and individual Rank Learning Methods", SIGIR 2009):
//   fused(d) = sum over lists L holding d of 1 / (rrf_k + rank_L(d)),  rank 1-based, rrf_k = 60.
// Every candidate also carries its cosine similarity to the query embedding (looked up for the
// lexical ones too), so the ranker sees both signals for every product. One code path serves
// requests and builds training data (train ranker), so what a model learns on is what it sees.
//
// The generator binds one catalog + index to one embedding model version: it maps catalog docs
// to embedding rows once (by product id; products missing from the embedding get similarity 0
// and are never found by vectors). Build a new one when either changes.
// Thread-safety: immutable after construction; Generate is safe from any thread (each thread
// keeps its own searcher and scratch). Cost: construction O(docs); Generate = BM25 search +
// query encoding + one HNSW search + O(candidates x dim) similarities + a sort.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "models/model_version.h"
#include "ranking/features.h"
#include "retrieval/index.h"

namespace shelfwatch::ranking {

struct CandidateOptions {
  uint32_t lexical = 100;  // BM25 top N (0: no lexical list)
  uint32_t vector = 100;   // ANN top N (0, or no embedding model: no vector list)
  uint32_t fused = 100;    // candidates kept after fusion, best fused score first
  float rrf_k = 60;
};

struct CandidateTimings {
  int64_t retrieve_ns = 0;  // BM25
  int64_t encode_ns = 0;    // query embedding
  int64_t ann_ns = 0;       // HNSW search
  int64_t fuse_ns = 0;      // similarities + fusion
  uint64_t total_hits = 0;  // BM25 matches (a lower bound when not exact)
};

class CandidateGenerator {
 public:
  // `embedding` may be null (lexical candidates only) or a version whose kind is embedding.
  CandidateGenerator(std::shared_ptr<const retrieval::InvertedIndex> index, std::shared_ptr<const catalog::Catalog> catalog,
                     std::shared_ptr<const models::ModelVersion> embedding, CandidateOptions options);

  // Candidates for a query, best fused score first. `terms`: the query analysed with the
  // index's analyzer; `text`: the raw query for the embedding encoder. `query_embedding`
  // (optional) receives the query's vector (cleared when no vector list ran).
  void Generate(std::string_view text, std::span<const std::string> terms, std::vector<Candidate>* out,
                CandidateTimings* timings = nullptr, std::vector<float>* query_embedding = nullptr) const;

  const CandidateOptions& options() const { return options_; }
  // What FeatureExtractor reports for an absent rank.
  CandidateDepths depths() const { return {options_.lexical, model_ ? options_.vector : 0}; }
  const models::ModelVersion* embedding() const { return embedding_.get(); }
  const std::shared_ptr<const retrieval::InvertedIndex>& index() const { return index_; }
  const std::shared_ptr<const catalog::Catalog>& catalog() const { return catalog_; }
  // Products of the catalog that have an embedding row.
  size_t embedded_docs() const { return embedded_docs_; }

 private:
  std::shared_ptr<const retrieval::InvertedIndex> index_;
  std::shared_ptr<const catalog::Catalog> catalog_;
  std::shared_ptr<const models::ModelVersion> embedding_;
  const models::EmbeddingModel* model_ = nullptr;  // embedding_'s model, or null
  CandidateOptions options_;
  std::vector<uint32_t> doc_row_;  // catalog doc -> embedding row, kNotRetrieved when absent
  std::vector<uint32_t> row_doc_;  // embedding row -> catalog doc, kNotRetrieved when absent
  size_t embedded_docs_ = 0;
};

}  // namespace shelfwatch::ranking
