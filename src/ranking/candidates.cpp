#include "ranking/candidates.h"

#include <algorithm>

#include "common/clock.h"
#include "models/embedding_model.h"

namespace shelfwatch::ranking {

CandidateGenerator::CandidateGenerator(std::shared_ptr<const retrieval::InvertedIndex> index,
                                       std::shared_ptr<const catalog::Catalog> catalog,
                                       std::shared_ptr<const models::ModelVersion> embedding, CandidateOptions options)
    : index_(std::move(index)),
      catalog_(std::move(catalog)),
      embedding_(std::move(embedding)),
      model_(embedding_ ? embedding_->embedding() : nullptr),
      options_(options) {
  if (!model_) return;
  doc_row_.assign(catalog_->size(), kNotRetrieved);
  row_doc_.assign(model_->size(), kNotRetrieved);
  for (uint32_t doc = 0; doc < catalog_->size(); ++doc) {
    if (auto row = model_->RowOf(catalog_->product(doc).id); row && *row < row_doc_.size()) {
      doc_row_[doc] = *row;
      row_doc_[*row] = doc;
      ++embedded_docs_;
    }
  }
}

void CandidateGenerator::Generate(std::string_view text, std::span<const std::string> terms, std::vector<Candidate>* out,
                                  CandidateTimings* timings, std::vector<float>* query_embedding) const {
  CandidateTimings t;
  out->clear();
  if (query_embedding) query_embedding->clear();
  int64_t t0 = MonotonicNanos();
  if (options_.lexical > 0) {
    thread_local retrieval::Query query;
    query.terms.assign(terms.begin(), terms.end());
    query.k = options_.lexical;
    const retrieval::SearchResult r = retrieval::ThreadSearcher(index_).Search(query);
    t.total_hits = r.total_hits;
    for (const auto& h : r.hits) {
      Candidate c;
      c.doc = h.doc;
      c.score = h.score;
      c.lexical_rank = static_cast<uint32_t>(out->size());
      c.fused = 1.0f / (options_.rrf_k + static_cast<float>(c.lexical_rank + 1));
      out->push_back(c);
    }
  }
  int64_t t1 = MonotonicNanos();
  t.retrieve_ns = t1 - t0;
  if (model_ && options_.vector > 0) {
    const std::vector<float> q = model_->Encode(text);
    if (query_embedding) query_embedding->assign(q.begin(), q.end());
    int64_t t2 = MonotonicNanos();
    t.encode_ns = t2 - t1;
    const std::vector<models::EmbeddingModel::Hit> hits = model_->Search(q, options_.vector);
    int64_t t3 = MonotonicNanos();
    t.ann_ns = t3 - t2;
    // Lexical candidates get their similarity from their embedding row (one lock for all).
    thread_local std::vector<uint32_t> rows, slots;
    thread_local std::vector<float> sims;
    rows.clear();
    slots.clear();
    for (size_t i = 0; i < out->size(); ++i) {
      const uint32_t row = doc_row_[(*out)[i].doc];
      if (row == kNotRetrieved) continue;
      rows.push_back(row);
      slots.push_back(static_cast<uint32_t>(i));
    }
    sims.resize(rows.size());
    model_->Similarities(q, rows, sims);
    for (size_t i = 0; i < rows.size(); ++i) (*out)[slots[i]].vector_similarity = sims[i];
    // Which lexical candidate holds a doc: a per-thread doc -> slot table, stamped per call so
    // it is never cleared (O(candidates) per query instead of O(docs)).
    thread_local std::vector<uint32_t> slot_of, stamp_of;
    thread_local uint32_t stamp = 0;
    if (slot_of.size() < catalog_->size()) {
      slot_of.assign(catalog_->size(), 0);
      stamp_of.assign(catalog_->size(), 0);
    }
    if (++stamp == 0) {
      std::fill(stamp_of.begin(), stamp_of.end(), 0u);
      stamp = 1;
    }
    for (size_t i = 0; i < out->size(); ++i) {
      slot_of[(*out)[i].doc] = static_cast<uint32_t>(i);
      stamp_of[(*out)[i].doc] = stamp;
    }
    for (size_t rank = 0; rank < hits.size(); ++rank) {
      const uint32_t row = hits[rank].row;
      const uint32_t doc = row < row_doc_.size() ? row_doc_[row] : kNotRetrieved;
      if (doc == kNotRetrieved) continue;  // an item of the model that the catalog lacks
      const float rrf = 1.0f / (options_.rrf_k + static_cast<float>(rank + 1));
      if (stamp_of[doc] != stamp) {
        Candidate c;
        c.doc = doc;
        c.score = 0;
        c.vector_similarity = hits[rank].score;
        slot_of[doc] = static_cast<uint32_t>(out->size());
        stamp_of[doc] = stamp;
        out->push_back(c);
      }
      Candidate& found = (*out)[slot_of[doc]];
      found.vector_rank = static_cast<uint32_t>(rank);
      found.fused += rrf;
    }
    // Fused order; ties by lexical rank then doc, so the order is deterministic.
    std::sort(out->begin(), out->end(), [](const Candidate& a, const Candidate& b) {
      if (a.fused != b.fused) return a.fused > b.fused;
      if (a.lexical_rank != b.lexical_rank) return a.lexical_rank < b.lexical_rank;
      return a.doc < b.doc;
    });
    t.fuse_ns = MonotonicNanos() - t3;
  }
  if (out->size() > options_.fused) out->resize(options_.fused);
  if (timings) *timings = t;
}

}  // namespace shelfwatch::ranking
