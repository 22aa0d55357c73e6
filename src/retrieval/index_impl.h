// Internal layout of InvertedIndex, shared by the builder (index.cpp) and the searcher
// (searcher.cpp). Not a public interface.
//
// Posting lists are stored back to back in two parallel arrays, one list per (term, field):
// doc ids ascending, and each posting's BM25 term-frequency saturation, computed once at build
// (k1 and b are fixed then), so a query multiplies instead of dividing and never looks up a
// document length. Lists of one term are adjacent and in field order:
// term t owns lists [term_first_list[t], term_first_list[t + 1]).
// Each list is cut into fixed blocks of kBlockSize postings; for every block the index keeps the
// last doc id, so a cursor skips whole blocks.
//
// Score bounds are kept per doc range: docs [r * kRangeSize, (r + 1) * kRangeSize) form range
// r. A long list (df >= num_ranges / kDenseDivisor) stores, for every range, its largest BM25
// saturation quantised up to a byte (a dense array: a query adds it to the per-range bounds
// with a few vector instructions); a short list is cheap enough to bound from its postings at
// query time. This is block-max pruning over fixed doc-id ranges, as in Mallia, Suel &
// Tonellotto, "Faster Learned Sparse Retrieval with Block-Max Pruning", SIGIR 2024, except
// that the searcher visits ranges in doc order (no sort of the bounds) with forward cursors.
#pragma once

#include <cstdint>
#include <vector>

#include "retrieval/index.h"
#include "retrieval/term_dictionary.h"

namespace shelfwatch::retrieval {

inline constexpr uint32_t kBlockShift = 6;
inline constexpr uint32_t kBlockSize = 1u << kBlockShift;  // postings per block
inline constexpr uint32_t kNoMoreDocs = UINT32_MAX;        // cursor past its last posting
inline constexpr uint32_t kRangeShift = 5;
inline constexpr uint32_t kRangeSize = 1u << kRangeShift;  // docs per range (bits in a uint32)
inline constexpr uint32_t kDenseDivisor = 4;  // dense bounds cost <= 4 bytes per posting
inline constexpr uint32_t kNoDenseRanges = UINT32_MAX;

struct PostingList {
  uint32_t begin = 0;        // first posting in Impl::docs / Impl::saturation
  uint32_t length = 0;       // document frequency in this field
  uint32_t first_block = 0;  // first entry in Impl::block_last_doc
  uint32_t field = 0;        // index into options.fields
  float weight = 0;          // w_f * idf_f(t) * (k1 + 1)
  float max_saturation = 0;  // largest saturation in the list
  // Start of num_ranges bytes in Impl::range_max, or kNoDenseRanges for a short list. Byte q
  // bounds the range's saturations by q * max_saturation / 255 (0: no posting in the range).
  uint32_t dense_ranges = kNoDenseRanges;
};

struct InvertedIndex::Impl {
  IndexOptions options;
  IndexStats stats;

  TermDictionary dictionary;
  std::vector<uint32_t> term_first_list;  // term id -> first list; one extra end entry
  std::vector<PostingList> lists;

  std::vector<uint32_t> docs;  // all postings' doc ids, list after list
  // Parallel to docs: BM25's tf / (tf + k1 * (1 - b + b * len / avglen)) of the (field, doc).
  // The factor (k1 + 1) and idf are in the list weight: a posting adds weight * saturation.
  std::vector<float> saturation;

  std::vector<uint32_t> block_last_doc;
  uint32_t num_ranges = 0;
  std::vector<uint8_t> range_max;  // dense per-range bounds of long lists

  // field -> number of docs with a non-empty field and their average length: BM25's N and
  // avglen.
  std::vector<uint32_t> field_docs;
  std::vector<double> field_avg_length;

  uint64_t MemoryBytes() const;
};

}  // namespace shelfwatch::retrieval
