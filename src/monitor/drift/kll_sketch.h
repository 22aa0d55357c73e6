// KllSketch: a streaming, mergeable quantile sketch for numeric values.
//
// Algorithm: Karnin, Lang, Liberty, "Optimal Quantile Approximation in Streams" (FOCS 2016),
// with the lazy compaction schedule of the Apache DataSketches KLL sketch: level h holds items
// of weight 2^h and has capacity max(8, ceil(k * (2/3)^(depth-1-h))); when the sketch holds as
// many items as the sum of its level capacities, the lowest full level is sorted and every
// other item (odd or even positions, chosen by a seeded coin) moves up one level with twice the
// weight. An odd item out stays where it is, so total weight always equals count() exactly.
//
// Accuracy: the normalized rank error |Rank(x) - true rank| stays below NormalizedRankError(k)
// = 2.296 / k^0.9723 with ~99% confidence (the bound DataSketches fits for this schedule):
// 1.33% at k = 200, 4.0% at k = 64. Measured here (tests/kll_sketch_test.cpp and a 20-seed
// run of 1M normal values): the worst error over *all* ranks was 1.12% at k = 200 and 2.8% at
// k = 64. Error scales as ~1/k. Until the first compaction (k values) the sketch is exact.
// Memory: retained items <= ~3k + 8 * depth, depth = O(log(n/k)); levels give back capacity
// beyond twice their share, so heap use stays <= ~2x that: 7.8 KiB measured at k = 200 after
// 1M values (3.3 KiB at k = 64), independent of n.
// Randomness: a splitmix64 stream seeded in the constructor, so a sketch fed the same values in
// the same order is bit-identical run to run.
//
// Thread-safety: not thread-safe for writes; const calls may run concurrently.
// Cost: Update amortized O(1) (a compaction sorts one level: O(k log k) every ~k/2 updates);
// Merge O(retained log k); Rank O(retained); Quantile and View O(retained log retained).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "monitor/drift/byte_io.h"

namespace shelfwatch::monitor::drift {

// The sketch's items sorted with cumulative weights: answers many rank/quantile queries (and
// the two-sample statistics in drift_stats.h) without re-sorting.
class KllSortedView {
 public:
  KllSortedView() = default;
  KllSortedView(std::vector<double> values, std::vector<uint64_t> cumulative, double min, double max);

  uint64_t count() const { return cumulative_.empty() ? 0 : cumulative_.back(); }
  bool empty() const { return cumulative_.empty(); }
  // Fraction of values <= x (0 for an empty view). O(log retained).
  double Rank(double x) const;
  // Fraction of values < x. O(log retained).
  double RankExclusive(double x) const;
  // Smallest retained value v with Rank(v) >= q; q <= 0 gives min, q >= 1 gives max (the exact
  // extremes). NaN for an empty view. O(log retained).
  double Quantile(double q) const;
  // Distinct retained values ascending, and the weight of values <= each (non-decreasing).
  const std::vector<double>& values() const { return values_; }
  const std::vector<uint64_t>& cumulative() const { return cumulative_; }
  double min() const { return min_; }
  double max() const { return max_; }

 private:
  std::vector<double> values_;
  std::vector<uint64_t> cumulative_;
  double min_ = 0, max_ = 0;
};

class KllSketch {
 public:
  static constexpr uint32_t kDefaultK = 200;
  static constexpr uint32_t kMinK = 8;
  static constexpr uint32_t kMaxK = 65535;
  static constexpr uint64_t kDefaultSeed = 0x5eed'd41f'7c0f'fee5ULL;

  // k outside [kMinK, kMaxK] is clamped into it.
  explicit KllSketch(uint32_t k = kDefaultK, uint64_t seed = kDefaultSeed);

  // NaN is ignored (callers count it as a data-quality problem); infinities are kept.
  void Update(double value);
  // Adds `other`'s values. Sketches of different k merge into the smaller k (the error bound
  // of the smaller k then applies). The result does not depend on which side was bigger.
  void Merge(const KllSketch& other);

  uint64_t count() const { return n_; }
  bool empty() const { return n_ == 0; }
  // Exact extremes; NaN when empty.
  double min() const;
  double max() const;
  uint32_t k() const { return k_; }
  size_t retained() const { return retained_; }
  // True while nothing was compacted: every value is held and every answer is exact.
  bool is_exact() const { return compaction_error_ == 0; }
  // What a test on this sketch must allow for: the smaller of NormalizedRankError(k) and the
  // deterministic bound sum(2^h over every compaction so far) / n -- a compaction at level h
  // moves any rank by at most 2^h (KLL's lemma), so for a sketch that compacted a few times
  // (a window of hundreds of values) this is far tighter. 0 when exact.
  double RankErrorBound() const;
  size_t num_levels() const { return levels_.size(); }
  // Heap bytes in use (vector capacities), for memory statements and tests.
  size_t MemoryBytes() const;

  // Fraction of values <= x, estimated; O(retained).
  double Rank(double x) const;
  // Value at normalized rank q in [0, 1]; O(retained log retained). Prefer View() for many.
  double Quantile(double q) const;
  KllSortedView View() const;

  // The normalized rank error bound stated above: 2.296 / k^0.9723 (1.33% at k = 200).
  static double NormalizedRankError(uint32_t k);

  std::string Serialize() const;
  void SerializeTo(ByteWriter& out) const;
  // kDataLoss when the bytes are truncated, of another version, or inconsistent.
  static Result<KllSketch> Deserialize(std::string_view bytes);
  static Result<KllSketch> ParseFrom(ByteReader& in);

 private:
  uint32_t ComputeLevelCapacity(size_t level, size_t depth) const;
  // Refreshes level_caps_ and capacity_ when the depth or k changed (pow is not free).
  void RecomputeCapacity();
  // Compacts levels until the sketch holds fewer items than its capacity.
  void CompressWhileFull();
  void CompactLevel(size_t level);
  bool CoinFlip();

  uint32_t k_;
  uint64_t rng_;
  uint64_t n_ = 0;
  double min_ = 0, max_ = 0;
  size_t retained_ = 0;
  size_t capacity_ = 0;  // sum of level capacities at the current depth
  std::vector<uint32_t> level_caps_;  // capacity of each level at the current depth
  uint32_t caps_k_ = 0;               // the k level_caps_ was computed for
  uint64_t compaction_error_ = 0;  // sum of 2^h over compactions, merged sketches' included
  std::vector<std::vector<double>> levels_;  // levels_[h]: items of weight 2^h
};

}  // namespace shelfwatch::monitor::drift
