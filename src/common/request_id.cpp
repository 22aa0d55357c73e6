#include "common/request_id.h"

#include <cstdint>
#include <random>

#include "common/clock.h"

namespace shelfwatch {
namespace {

// splitmix64 (Steele, Lea, Flood 2014): a fast, well-mixed generator for ids.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

SplitMix64& ThreadGenerator() {
  thread_local SplitMix64 gen{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                              std::random_device{}() ^ static_cast<uint64_t>(MonotonicNanos())};
  return gen;
}

}  // namespace

std::string NewRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t ms = static_cast<uint64_t>(UnixMillis());
  uint64_t r1 = ThreadGenerator().Next();
  uint64_t r2 = ThreadGenerator().Next();
  uint8_t b[16];
  // 48-bit big-endian Unix milliseconds.
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | ((r1 >> 8) & 0x0f));  // version 7
  b[7] = static_cast<uint8_t>(r1);
  b[8] = static_cast<uint8_t>(0x80 | ((r1 >> 16) & 0x3f));  // variant 10
  for (int i = 9; i < 16; ++i) b[i] = static_cast<uint8_t>(r2 >> (8 * (i - 9)));
  std::string out;
  out.resize(36);
  size_t o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 0xf];
  }
  return out;
}

}  // namespace shelfwatch
