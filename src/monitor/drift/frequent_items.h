// FrequentItemsSketch: a streaming, mergeable heavy-hitters sketch for categorical values.
//
// Algorithm: weighted Misra-Gries (Misra & Gries, "Finding repeated elements", 1982), merged as
// in Agarwal et al., "Mergeable Summaries" (PODS 2012), with the median purge of the Apache
// DataSketches frequent-items sketch for amortized O(1) updates: at most `capacity` counters
// are kept; when one more is needed, the median counter value d is subtracted from every
// counter, counters <= 0 are dropped, and d is added to the sketch's offset.
//
// Guarantee: for every item, LowerBound(item) <= true weight <= UpperBound(item) =
// LowerBound(item) + MaximumError(), and MaximumError() <= 2 * total_weight() / (capacity + 1)
// (each purge removes at least d * (capacity + 1) / 2 from the counters, and no more than the
// total weight can be removed). Estimate() is the upper bound for a tracked item, as in
// DataSketches: an item tracked through every purge -- a heavy hitter -- lost exactly the
// offset, so for the items that matter it is the exact weight. While no more than `capacity`
// distinct items were seen nothing is purged and every count is exact (exact() == true).
// Merging keeps the same guarantee over the union of the streams.
// Items longer than kMaxItemBytes are cut to that length (at a UTF-8 boundary), so memory is
// bounded: <= capacity * (kMaxItemBytes + ~80) bytes; ~40 KiB for capacity 512 with items of
// up to 15 bytes (stored inline in the string).
//
// Thread-safety: not thread-safe for writes; const calls may run concurrently.
// Cost: Update amortized O(1) (a hash lookup; a purge is O(capacity) every >= capacity/2 new
// items); Merge O(other.size() + capacity); TopK O(size log size).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "monitor/drift/byte_io.h"

namespace shelfwatch::monitor::drift {

class FrequentItemsSketch {
 public:
  static constexpr uint32_t kDefaultCapacity = 512;
  static constexpr uint32_t kMinCapacity = 2;
  static constexpr uint32_t kMaxCapacity = 1u << 20;
  static constexpr size_t kMaxItemBytes = 256;

  // capacity outside [kMinCapacity, kMaxCapacity] is clamped into it.
  explicit FrequentItemsSketch(uint32_t capacity = kDefaultCapacity);

  // Adds `weight` occurrences of `item` (a weight of 0 is ignored).
  void Update(std::string_view item, uint64_t weight = 1);
  // Adds the counts of `other`; the capacity of this sketch is kept.
  void Merge(const FrequentItemsSketch& other);

  // The tracked count + MaximumError() (exact for heavy hitters, see above); 0 when not tracked.
  uint64_t Estimate(std::string_view item) const;
  // The tracked count (0 when not tracked) and that + MaximumError().
  uint64_t LowerBound(std::string_view item) const;
  uint64_t UpperBound(std::string_view item) const { return LowerBound(item) + offset_; }
  // Largest possible undercount of any item: true - LowerBound <= MaximumError().
  uint64_t MaximumError() const { return offset_; }
  // True while no counter was ever purged: every Estimate is the exact weight and the tracked
  // items are every item seen.
  bool exact() const { return offset_ == 0; }

  uint64_t total_weight() const { return total_; }
  size_t size() const { return counters_.size(); }
  uint32_t capacity() const { return capacity_; }

  struct Row {
    std::string item;
    uint64_t estimate = 0;     // == upper_bound
    uint64_t lower_bound = 0;  // the tracked count
    uint64_t upper_bound = 0;  // lower_bound + MaximumError()
  };
  // The k tracked items with the largest counts, descending (ties by item bytes).
  std::vector<Row> TopK(size_t k) const;
  // Calls fn(item, lower bound) for every tracked item, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [item, count] : counters_) fn(std::string_view(item), count);
  }

  std::string Serialize() const;
  void SerializeTo(ByteWriter& out) const;
  // kDataLoss when the bytes are truncated, of another version, or inconsistent.
  static Result<FrequentItemsSketch> Deserialize(std::string_view bytes);
  static Result<FrequentItemsSketch> ParseFrom(ByteReader& in);

  // `item` cut to kMaxItemBytes without splitting a UTF-8 sequence.
  static std::string_view Truncate(std::string_view item);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  // Subtracts the median counter from all, drops counters <= 0; needs size() > 0.
  void Purge();

  uint32_t capacity_;
  uint64_t total_ = 0;
  uint64_t offset_ = 0;
  std::unordered_map<std::string, uint64_t, Hash, Equal> counters_;
};

}  // namespace shelfwatch::monitor::drift
