#include "monitor/drift/kll_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shelfwatch::monitor::drift {

namespace {

constexpr uint32_t kMagic = 0x314c4c4b;  // "KLL1"
constexpr uint32_t kMinLevelCapacity = 8;
constexpr size_t kMaxLevels = 61;  // weights 2^h must stay below 2^64 with room for sums

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

KllSortedView::KllSortedView(std::vector<double> values, std::vector<uint64_t> cumulative, double min,
                             double max)
    : values_(std::move(values)), cumulative_(std::move(cumulative)), min_(min), max_(max) {}

double KllSortedView::Rank(double x) const {
  if (empty()) return 0;
  const auto it = std::upper_bound(values_.begin(), values_.end(), x);
  if (it == values_.begin()) return 0;
  return static_cast<double>(cumulative_[static_cast<size_t>(it - values_.begin()) - 1]) /
         static_cast<double>(count());
}

double KllSortedView::RankExclusive(double x) const {
  if (empty()) return 0;
  const auto it = std::lower_bound(values_.begin(), values_.end(), x);
  if (it == values_.begin()) return 0;
  return static_cast<double>(cumulative_[static_cast<size_t>(it - values_.begin()) - 1]) /
         static_cast<double>(count());
}

double KllSortedView::Quantile(double q) const {
  if (empty()) return std::numeric_limits<double>::quiet_NaN();
  if (!(q > 0)) return min_;
  if (q >= 1) return max_;
  // The first value whose cumulative weight reaches ceil(q * n) (at least 1). q * n is snapped
  // to a nearby integer first: 0.3 * 10 is 3.0000000000000004 in binary, not 3.
  double t = q * static_cast<double>(count());
  if (const double r = std::round(t); std::abs(t - r) <= 1e-9 * std::max(1.0, t)) t = r;
  const double target = std::max(1.0, std::ceil(t));
  const auto it = std::lower_bound(cumulative_.begin(), cumulative_.end(), target,
                                   [](uint64_t c, double t) { return static_cast<double>(c) < t; });
  if (it == cumulative_.end()) return max_;
  return values_[static_cast<size_t>(it - cumulative_.begin())];
}

KllSketch::KllSketch(uint32_t k, uint64_t seed) : k_(std::clamp(k, kMinK, kMaxK)), rng_(seed) {
  levels_.resize(1);
  RecomputeCapacity();
}

double KllSketch::min() const { return n_ == 0 ? std::numeric_limits<double>::quiet_NaN() : min_; }
double KllSketch::max() const { return n_ == 0 ? std::numeric_limits<double>::quiet_NaN() : max_; }

uint32_t KllSketch::ComputeLevelCapacity(size_t level, size_t depth) const {
  // The top level holds k items; each level below holds 2/3 of the one above (KLL's geometric
  // capacities), never fewer than 8 so the bottom of a deep sketch still compacts in batches.
  const double cap = std::ceil(static_cast<double>(k_) * std::pow(2.0 / 3.0, static_cast<double>(depth - 1 - level)));
  return std::max(kMinLevelCapacity, static_cast<uint32_t>(cap));
}

void KllSketch::RecomputeCapacity() {
  if (level_caps_.size() == levels_.size() && caps_k_ == k_) return;
  level_caps_.resize(levels_.size());
  caps_k_ = k_;
  capacity_ = 0;
  for (size_t h = 0; h < levels_.size(); ++h) {
    level_caps_[h] = ComputeLevelCapacity(h, levels_.size());
    capacity_ += level_caps_[h];
  }
}

bool KllSketch::CoinFlip() { return (SplitMix64(rng_) >> 63) != 0; }

void KllSketch::Update(double value) {
  if (std::isnan(value)) return;
  if (n_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  ++n_;
  levels_[0].push_back(value);
  ++retained_;
  if (retained_ >= capacity_) CompressWhileFull();
}

void KllSketch::CompressWhileFull() {
  while (retained_ >= capacity_) {
    const size_t depth = levels_.size();
    size_t h = 0;
    while (h < depth && levels_[h].size() < level_caps_[h]) ++h;
    // Some level is at capacity whenever the total is (pigeonhole); guard anyway.
    if (h == depth) h = 0;
    if (levels_[h].size() < 2) return;
    CompactLevel(h);
  }
}

void KllSketch::CompactLevel(size_t h) {
  if (h + 1 == levels_.size()) {
    if (levels_.size() >= kMaxLevels) return;  // 2^61 values: unreachable in practice
    levels_.emplace_back();
  }
  std::vector<double>& from = levels_[h];
  std::vector<double>& to = levels_[h + 1];
  std::sort(from.begin(), from.end());
  // An odd item out keeps its weight at this level (the largest, so the loop below reads a
  // prefix); the even-sized rest is halved.
  const size_t pairs = from.size() / 2;
  const double leftover = from.size() % 2 ? from.back() : 0;
  const bool keep_leftover = from.size() % 2 != 0;
  const size_t offset = CoinFlip() ? 1 : 0;
  for (size_t i = 0; i < pairs; ++i) to.push_back(from[2 * i + offset]);
  compaction_error_ += uint64_t{1} << h;
  from.clear();
  retained_ -= pairs;
  RecomputeCapacity();
  // A level that was once the top (or received a merge) may have grown far beyond what it
  // holds at the current depth: give the memory back so the bound in the header holds.
  if (from.capacity() > 2 * static_cast<size_t>(level_caps_[h])) from.shrink_to_fit();
  if (keep_leftover) from.push_back(leftover);
}

void KllSketch::Merge(const KllSketch& other) {
  if (other.n_ == 0) return;
  if (n_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  n_ += other.n_;
  compaction_error_ += other.compaction_error_;
  k_ = std::min(k_, other.k_);
  if (levels_.size() < other.levels_.size()) levels_.resize(other.levels_.size());
  for (size_t h = 0; h < other.levels_.size(); ++h) {
    levels_[h].insert(levels_[h].end(), other.levels_[h].begin(), other.levels_[h].end());
    retained_ += other.levels_[h].size();
  }
  RecomputeCapacity();
  CompressWhileFull();
}

size_t KllSketch::MemoryBytes() const {
  size_t bytes = levels_.capacity() * sizeof(std::vector<double>);
  for (const auto& level : levels_) bytes += level.capacity() * sizeof(double);
  return bytes;
}

double KllSketch::Rank(double x) const {
  if (n_ == 0) return 0;
  uint64_t weight = 0;
  for (size_t h = 0; h < levels_.size(); ++h) {
    uint64_t below = 0;
    for (double v : levels_[h]) below += v <= x ? 1 : 0;
    weight += below << h;
  }
  return static_cast<double>(weight) / static_cast<double>(n_);
}

double KllSketch::Quantile(double q) const { return View().Quantile(q); }

KllSortedView KllSketch::View() const {
  std::vector<std::pair<double, uint64_t>> items;
  items.reserve(retained_);
  for (size_t h = 0; h < levels_.size(); ++h) {
    for (double v : levels_[h]) items.emplace_back(v, uint64_t{1} << h);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> values;
  std::vector<uint64_t> cumulative;
  values.reserve(items.size());
  cumulative.reserve(items.size());
  uint64_t total = 0;
  for (const auto& [v, w] : items) {
    total += w;
    if (!values.empty() && values.back() == v) {
      cumulative.back() = total;
    } else {
      values.push_back(v);
      cumulative.push_back(total);
    }
  }
  return KllSortedView(std::move(values), std::move(cumulative), min(), max());
}

double KllSketch::RankErrorBound() const {
  if (compaction_error_ == 0 || n_ == 0) return 0;
  return std::min(NormalizedRankError(k_), static_cast<double>(compaction_error_) / static_cast<double>(n_));
}

double KllSketch::NormalizedRankError(uint32_t k) {
  return 2.296 / std::pow(static_cast<double>(std::clamp(k, kMinK, kMaxK)), 0.9723);
}

std::string KllSketch::Serialize() const { return SerializeToBytes(*this); }

void KllSketch::SerializeTo(ByteWriter& out) const {
  out.U32(kMagic);
  out.U32(k_);
  out.U64(rng_);
  out.U64(n_);
  out.U64(compaction_error_);
  out.F64(min_);
  out.F64(max_);
  out.U32(static_cast<uint32_t>(levels_.size()));
  for (const auto& level : levels_) {
    out.U32(static_cast<uint32_t>(level.size()));
    out.Raw(level.data(), level.size() * sizeof(double));
  }
}

Result<KllSketch> KllSketch::Deserialize(std::string_view bytes) {
  return ParseAllBytes<KllSketch>(bytes, "KLL sketch");
}

Result<KllSketch> KllSketch::ParseFrom(ByteReader& in) {
  auto bad = [](const std::string& what) { return Status(ErrorCode::kDataLoss, "KLL sketch: " + what); };
  uint32_t magic = 0, k = 0, depth = 0;
  uint64_t rng = 0, n = 0, compaction_error = 0;
  double min = 0, max = 0;
  if (!in.U32(&magic) || !in.U32(&k) || !in.U64(&rng) || !in.U64(&n) || !in.U64(&compaction_error) ||
      !in.F64(&min) || !in.F64(&max) ||
      !in.U32(&depth)) {
    return bad("truncated header");
  }
  if (magic != kMagic) return bad("not a KLL sketch (bad magic)");
  if (k < kMinK || k > kMaxK) return bad("k = " + std::to_string(k) + " out of range");
  if (depth == 0 || depth > kMaxLevels) return bad("bad level count " + std::to_string(depth));
  KllSketch s(k, rng);
  s.levels_.assign(depth, {});
  uint64_t weight = 0;
  for (uint32_t h = 0; h < depth; ++h) {
    uint32_t size = 0;
    if (!in.U32(&size) || in.remaining() / sizeof(double) < size) return bad("truncated level");
    s.levels_[h].resize(size);
    in.Raw(s.levels_[h].data(), size * sizeof(double));
    for (double v : s.levels_[h]) {
      if (std::isnan(v)) return bad("NaN item");
    }
    s.retained_ += size;
    weight += static_cast<uint64_t>(size) << h;
  }
  if (weight != n) return bad("level weights sum to " + std::to_string(weight) + ", count says " + std::to_string(n));
  if (n > 0 && !(min <= max)) return bad("min > max");
  if (compaction_error == 0 && weight != s.levels_[0].size()) {
    return bad("items above level 0 but no compaction recorded");
  }
  s.n_ = n;
  s.compaction_error_ = compaction_error;
  s.min_ = min;
  s.max_ = max;
  s.RecomputeCapacity();
  return s;
}

}  // namespace shelfwatch::monitor::drift
