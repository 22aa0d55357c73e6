#include "retrieval/term_dictionary.h"

#include <functional>

namespace shelfwatch::retrieval {

uint32_t TermDictionary::Hash(std::string_view term) {
  // libstdc++'s std::hash of a string view is a 64-bit Murmur-style hash; fold it to 32 bits.
  uint64_t h = std::hash<std::string_view>{}(term);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t TermDictionary::Find(std::string_view term) const {
  if (slots_.empty()) return kNotFound;
  uint32_t h = Hash(term);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t slot = slots_[i];
    if (slot == 0) return kNotFound;
    uint32_t id = slot - 1;
    if (hashes_[id] == h && this->term(id) == term) return id;
  }
}

uint32_t TermDictionary::Insert(std::string_view term) {
  if ((hashes_.size() + 1) * 2 > slots_.size()) Grow();
  uint32_t h = Hash(term);
  size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    uint32_t slot = slots_[i];
    if (slot == 0) break;
    uint32_t id = slot - 1;
    if (hashes_[id] == h && this->term(id) == term) return id;
  }
  auto id = static_cast<uint32_t>(hashes_.size());
  arena_.append(term);
  offsets_.push_back(static_cast<uint32_t>(arena_.size()));
  hashes_.push_back(h);
  slots_[i] = id + 1;
  return id;
}

void TermDictionary::Grow() {
  size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
  std::vector<uint32_t> slots(capacity, 0);
  size_t mask = capacity - 1;
  for (uint32_t id = 0; id < hashes_.size(); ++id) {
    size_t i = hashes_[id] & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = id + 1;
  }
  slots_ = std::move(slots);
}

void TermDictionary::ShrinkToFit() {
  arena_.shrink_to_fit();
  offsets_.shrink_to_fit();
  hashes_.shrink_to_fit();
}

size_t TermDictionary::MemoryBytes() const {
  return arena_.capacity() + (offsets_.capacity() + hashes_.capacity() + slots_.capacity()) *
                                 sizeof(uint32_t);
}

}  // namespace shelfwatch::retrieval
