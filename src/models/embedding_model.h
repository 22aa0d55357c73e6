// An `embedding` model version: an item-embedding matrix, its ids, a hashed n-gram query
// encoder (embedding_encoder.h) and an HNSW index over the items (hnswlib 0.6.2, inner product
// on L2-normalised vectors, i.e. cosine similarity; Malkov & Yashunin 2018), built at load.
//
// As a Backend it answers the v2 tensors query BYTES [n, 1] -> scores FP32 [n, top_k],
// item_ids BYTES [n, top_k]; the search pipeline calls Encode/Search/RowOf directly.
// Thread-safety: every method is safe for concurrent use. hnswlib 0.6.2 allows concurrent
// searches but not a search concurrent with an insert, and `ef` is global to the index: searches
// hold a shared lock, AddItem an exclusive one, and ef is fixed at load. glibc's rwlock prefers
// readers, so AddItem waits for a gap in the searches: add items off-peak or in a new version.
// Cost: Search O(ef x log n x dim); Encode O(features x dim); load O(n log n x dim) to build.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/backend.h"

namespace shelfwatch::models {

// The HNSW graph of a version, built once by the training command and shipped as items.hnsw
// (hnswlib's own format) with items.hnsw.check beside it ("n= dim= m= ef_construction= bytes=
// fnv1a64="): Open loads it instead of building (seconds instead of ~10 s for 55k x 128) when
// the check matches the version's items and config and the file's checksum, and the loaded
// vectors equal the items; otherwise it builds as before (a bad cache never fails a load).
inline constexpr const char* kHnswIndexFile = "items.hnsw";
inline constexpr const char* kHnswCheckFile = "items.hnsw.check";
struct HnswIndexFiles {
  std::string index;  // items.hnsw
  std::string check;  // items.hnsw.check
};
// Builds the graph Open would build for `items` (n x dim rows, normalised here).
Result<HnswIndexFiles> BuildHnswIndexFiles(std::span<const float> items, size_t dim, int m, int ef_construction);

class EmbeddingModel final : public Backend {
 public:
  struct Hit {
    uint32_t row = 0;
    float score = 0;  // cosine similarity (inner product of unit vectors)
  };

  // Reads items.f32, items.txt and encoder.f32 from `dir`, checks their sizes against the
  // config (kDataLoss / kFailedPrecondition / kNotFound), normalises the item vectors and
  // loads the index from items.hnsw (see above) or builds it.
  static Result<std::unique_ptr<EmbeddingModel>> Open(const ModelConfig& config, const std::string& dir);
  ~EmbeddingModel() override;

  int dim() const;
  size_t size() const;
  const EncoderSpec& encoder() const;
  // The L2-normalised embedding of a query or title.
  std::vector<float> Encode(std::string_view text) const;
  // Up to k nearest items to `query` (dim floats), best first.
  std::vector<Hit> Search(std::span<const float> query, size_t k) const;
  const std::string& item_id(uint32_t row) const;
  std::span<const float> item_vector(uint32_t row) const;  // normalised
  // out[i] = cosine of `query` (dim floats, normalised) and item rows[i]; one lock for all.
  void Similarities(std::span<const float> query, std::span<const uint32_t> rows, std::span<float> out) const;
  std::optional<uint32_t> RowOf(std::string_view id) const;
  // Adds one item (vector normalised here) to the matrix and index; kConflict for a known id.
  Status AddItem(std::string id, std::span<const float> vector);

  Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) const override;
  // Whether Open loaded the shipped graph (false: built it).
  bool index_loaded() const;

 private:
  struct State;
  explicit EmbeddingModel(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace shelfwatch::models
