#include "monitor/drift/bloom_filter.h"

#include <algorithm>
#include <cmath>

namespace shelfwatch::monitor::drift {

namespace {
constexpr uint32_t kMagic = 0x314d4c42;  // "BLM1"
constexpr uint32_t kMaxBits = 1u << 30;
}  // namespace

BloomFilter::BloomFilter(uint32_t bits, uint32_t hashes) : hashes_(std::clamp(hashes, 1u, 16u)) {
  bits = std::clamp(bits, 64u, kMaxBits);
  words_.assign((bits + 63) / 64, 0);
}

void BloomFilter::Add(std::string_view item) {
  const uint64_t h = StableHash64(item);
  const uint64_t h1 = h, h2 = (h >> 32) | (h << 32) | 1;  // odd step: probes never collapse
  const uint64_t m = words_.size() * 64;
  for (uint32_t i = 0; i < hashes_; ++i) {
    const uint64_t bit = (h1 + i * h2) % m;
    words_[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

bool BloomFilter::MayContain(std::string_view item) const {
  const uint64_t h = StableHash64(item);
  const uint64_t h1 = h, h2 = (h >> 32) | (h << 32) | 1;
  const uint64_t m = words_.size() * 64;
  for (uint32_t i = 0; i < hashes_; ++i) {
    const uint64_t bit = (h1 + i * h2) % m;
    if ((words_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

Status BloomFilter::Merge(const BloomFilter& other) {
  if (other.words_.size() != words_.size() || other.hashes_ != hashes_) {
    return InvalidArgument("Bloom filters of different shapes cannot merge (" + std::to_string(bits()) + "/" +
                           std::to_string(hashes_) + " vs " + std::to_string(other.bits()) + "/" +
                           std::to_string(other.hashes_) + " bits/hashes)");
  }
  for (size_t i = 0; i < words_.size(); ++i) words_[i] |= other.words_[i];
  return Status::Ok();
}

double BloomFilter::FalsePositiveRate(uint64_t distinct_items) const {
  const double m = static_cast<double>(bits()), h = hashes_;
  return std::pow(1 - std::exp(-h * static_cast<double>(distinct_items) / m), h);
}

void BloomFilter::SerializeTo(ByteWriter& out) const {
  out.U32(kMagic);
  out.U32(hashes_);
  out.U32(static_cast<uint32_t>(words_.size()));
  out.Raw(words_.data(), words_.size() * sizeof(uint64_t));
}

Result<BloomFilter> BloomFilter::ParseFrom(ByteReader& in) {
  auto bad = [](const std::string& what) { return Status(ErrorCode::kDataLoss, "Bloom filter: " + what); };
  uint32_t magic = 0, hashes = 0, words = 0;
  if (!in.U32(&magic) || !in.U32(&hashes) || !in.U32(&words)) return bad("truncated header");
  if (magic != kMagic) return bad("not a Bloom filter (bad magic)");
  if (hashes < 1 || hashes > 16 || words < 1 || words > kMaxBits / 64) return bad("bad shape");
  if (in.remaining() / sizeof(uint64_t) < words) return bad("truncated bits");
  BloomFilter f(words * 64, hashes);
  in.Raw(f.words_.data(), words * sizeof(uint64_t));
  return f;
}

}  // namespace shelfwatch::monitor::drift
