#include "monitor/drift/frequent_items.h"

#include <algorithm>

namespace shelfwatch::monitor::drift {

namespace {
constexpr uint32_t kMagic = 0x3149464d;  // "MFI1"
}

FrequentItemsSketch::FrequentItemsSketch(uint32_t capacity)
    : capacity_(std::clamp(capacity, kMinCapacity, kMaxCapacity)) {}

std::string_view FrequentItemsSketch::Truncate(std::string_view item) {
  if (item.size() <= kMaxItemBytes) return item;
  size_t cut = kMaxItemBytes;
  // Back off continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (cut > 0 && (static_cast<unsigned char>(item[cut]) & 0xC0) == 0x80) --cut;
  return item.substr(0, cut);
}

void FrequentItemsSketch::Update(std::string_view item, uint64_t weight) {
  if (weight == 0) return;
  item = Truncate(item);
  total_ += weight;
  auto it = counters_.find(item);
  if (it != counters_.end()) {
    it->second += weight;
    return;
  }
  counters_.emplace(std::string(item), weight);
  if (counters_.size() > capacity_) Purge();
}

void FrequentItemsSketch::Purge() {
  std::vector<uint64_t> counts;
  counts.reserve(counters_.size());
  for (const auto& [item, count] : counters_) counts.push_back(count);
  // The lower median: at least half of the counters are >= d, so the purge removes >= d from
  // (size + 1) / 2 counters -- the source of the MaximumError() bound in the header.
  const size_t mid = (counts.size() - 1) / 2;
  std::nth_element(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(mid), counts.end());
  const uint64_t d = counts[mid];
  for (auto it = counters_.begin(); it != counters_.end();) {
    if (it->second <= d) {
      it = counters_.erase(it);
    } else {
      it->second -= d;
      ++it;
    }
  }
  offset_ += d;
}

void FrequentItemsSketch::Merge(const FrequentItemsSketch& other) {
  total_ += other.total_;
  offset_ += other.offset_;
  for (const auto& [item, count] : other.counters_) {
    auto it = counters_.find(std::string_view(item));
    if (it != counters_.end()) {
      it->second += count;
    } else {
      counters_.emplace(item, count);
    }
  }
  // One median purge halves the counters; repeat in case the union was more than twice the
  // capacity (merging a larger-capacity sketch).
  while (counters_.size() > capacity_) Purge();
}

uint64_t FrequentItemsSketch::LowerBound(std::string_view item) const {
  const auto it = counters_.find(Truncate(item));
  return it == counters_.end() ? 0 : it->second;
}

uint64_t FrequentItemsSketch::Estimate(std::string_view item) const {
  const uint64_t count = LowerBound(item);
  return count == 0 ? 0 : count + offset_;
}

std::vector<FrequentItemsSketch::Row> FrequentItemsSketch::TopK(size_t k) const {
  std::vector<Row> rows;
  rows.reserve(counters_.size());
  for (const auto& [item, count] : counters_) rows.push_back(Row{item, count + offset_, count, count + offset_});
  const auto by_estimate = [](const Row& a, const Row& b) {
    return a.lower_bound != b.lower_bound ? a.lower_bound > b.lower_bound : a.item < b.item;
  };
  if (k < rows.size()) {
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(k), rows.end(), by_estimate);
    rows.resize(k);
  } else {
    std::sort(rows.begin(), rows.end(), by_estimate);
  }
  return rows;
}

std::string FrequentItemsSketch::Serialize() const { return SerializeToBytes(*this); }

void FrequentItemsSketch::SerializeTo(ByteWriter& out) const {
  out.U32(kMagic);
  out.U32(capacity_);
  out.U64(total_);
  out.U64(offset_);
  out.U32(static_cast<uint32_t>(counters_.size()));
  // Sorted, so equal sketches serialize to equal bytes.
  for (const Row& row : TopK(counters_.size())) {
    out.Bytes(row.item);
    out.U64(row.lower_bound);
  }
}

Result<FrequentItemsSketch> FrequentItemsSketch::Deserialize(std::string_view bytes) {
  return ParseAllBytes<FrequentItemsSketch>(bytes, "frequent-items sketch");
}

Result<FrequentItemsSketch> FrequentItemsSketch::ParseFrom(ByteReader& in) {
  auto bad = [](const std::string& what) {
    return Status(ErrorCode::kDataLoss, "frequent-items sketch: " + what);
  };
  uint32_t magic = 0, capacity = 0, size = 0;
  uint64_t total = 0, offset = 0;
  if (!in.U32(&magic) || !in.U32(&capacity) || !in.U64(&total) || !in.U64(&offset) || !in.U32(&size)) {
    return bad("truncated header");
  }
  if (magic != kMagic) return bad("not a frequent-items sketch (bad magic)");
  if (capacity < kMinCapacity || capacity > kMaxCapacity) return bad("capacity out of range");
  if (size > capacity) return bad("more counters than capacity");
  FrequentItemsSketch s(capacity);
  uint64_t sum = 0;
  for (uint32_t i = 0; i < size; ++i) {
    std::string_view item;
    uint64_t count = 0;
    if (!in.Bytes(&item) || !in.U64(&count)) return bad("truncated counters");
    if (count == 0 || item.size() > kMaxItemBytes) return bad("bad counter");
    if (!s.counters_.emplace(std::string(item), count).second) return bad("duplicate item");
    sum += count;
  }
  if (sum > total) return bad("counters exceed the total weight");
  s.total_ = total;
  s.offset_ = offset;
  return s;
}

}  // namespace shelfwatch::monitor::drift
