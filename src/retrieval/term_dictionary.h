// TermDictionary: analysed term -> dense term id (0, 1, 2, ... in insertion order).
//
// An open-addressing hash table (linear probing, power-of-two capacity, load <= 1/2) over one
// byte arena holding every term, so the dictionary costs about 17 bytes per term plus the term
// text instead of a heap node per term.
// Thread-safety: Find is safe for concurrent reads; Insert needs external synchronisation.
// Cost: Find and Insert are O(term length) expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shelfwatch::retrieval {

class TermDictionary {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;

  // The id of `term`, or kNotFound.
  uint32_t Find(std::string_view term) const;
  // The id of `term`, inserting it with the next free id when absent.
  uint32_t Insert(std::string_view term);

  size_t size() const { return hashes_.size(); }
  std::string_view term(uint32_t id) const {
    return std::string_view(arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  // Releases spare capacity of the growth buffers (call once building is done).
  void ShrinkToFit();
  // Heap bytes held (capacities, not sizes).
  size_t MemoryBytes() const;

 private:
  static uint32_t Hash(std::string_view term);
  void Grow();

  std::string arena_;               // every term's bytes, back to back
  std::vector<uint32_t> offsets_{0};  // term id -> start in arena_; one extra end offset
  std::vector<uint32_t> hashes_;    // term id -> hash, to skip most byte comparisons
  std::vector<uint32_t> slots_;     // 0 = empty, else term id + 1
};

}  // namespace shelfwatch::retrieval
