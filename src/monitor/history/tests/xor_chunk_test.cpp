// XorChunk: exact round trip of timestamps and value bits, compression, corrupt input refused.
#include "monitor/history/xor_chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

namespace shelfwatch::monitor {
namespace {

std::vector<Sample> RoundTrip(const std::vector<Sample>& in, XorChunk* chunk) {
  for (const auto& s : in) chunk->Append(s.t, s.v);
  std::vector<Sample> out;
  chunk->Decode(INT64_MIN, INT64_MAX, &out);
  return out;
}

void ExpectSameBits(const std::vector<Sample>& a, const std::vector<Sample>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].t, b[i].t) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(a[i].v), std::bit_cast<uint64_t>(b[i].v)) << i;
  }
}

TEST(XorChunkTest, RoundTripsJitteryTimestampsAndAwkwardValues) {
  std::mt19937_64 rng(7);
  std::vector<Sample> in;
  int64_t t = 1'700'000'000'000;
  const double specials[] = {0.0, -0.0, std::nan(""), StaleNaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), 1e-300, -1e300, 0.1, 42};
  for (int i = 0; i < 120; ++i) {
    // Mostly 5 s apart with millisecond jitter, sometimes long pauses.
    t += 5000 + static_cast<int64_t>(rng() % 7) - 3 + (i % 40 == 39 ? 3'600'000 : 0);
    const double v = i % 3 == 0 ? specials[i % std::size(specials)] : std::bit_cast<double>(rng() >> 2);
    in.push_back({t, v});
  }
  XorChunk c;
  ExpectSameBits(in, RoundTrip(in, &c));
  EXPECT_EQ(c.size(), 120u);
  EXPECT_EQ(c.min_t(), in.front().t);
  EXPECT_EQ(c.max_t(), in.back().t);
  EXPECT_TRUE(IsStaleNaN(RoundTrip({}, &c)[3].v));
}

TEST(XorChunkTest, DecodeKeepsOnlyTheWindow) {
  XorChunk c;
  for (int i = 0; i < 10; ++i) c.Append(1000 * i, i);
  std::vector<Sample> out;
  c.Decode(2000, 4000, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].t, 2000);
  EXPECT_EQ(out[2].v, 4);
  out.clear();
  c.Decode(20000, 30000, &out);
  EXPECT_TRUE(out.empty());
}

TEST(XorChunkTest, CountersAndConstantsCompressWell) {
  XorChunk counter, constant;
  int64_t t = 1'700'000'000'000;
  double total = 0;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 120; ++i) {
    t += 5000 + static_cast<int64_t>(rng() % 3) - 1;  // 1 ms of scheduling jitter
    total += static_cast<double>(rng() % 50);
    counter.Append(t, total);
    constant.Append(t, 1);
  }
  counter.Seal();
  constant.Seal();
  // 16 raw bytes per sample; Gorilla reaches a few bytes for a counter.
  EXPECT_LT(counter.bytes(), 120u * 4) << counter.bytes();
  EXPECT_LT(constant.bytes(), 120u * 1 + 16) << constant.bytes();
}

TEST(XorChunkTest, FromRawValidates) {
  XorChunk c;
  for (int i = 0; i < 50; ++i) c.Append(1000 + 15000 * i, i * 1.5);
  auto copy = XorChunk::FromRaw(c.data(), c.bit_count(), 50);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  std::vector<Sample> a, b;
  c.Decode(INT64_MIN, INT64_MAX, &a);
  copy->Decode(INT64_MIN, INT64_MAX, &b);
  ExpectSameBits(a, b);
  EXPECT_FALSE(XorChunk::FromRaw(c.data(), c.bit_count(), 51).ok());       // too few bits
  EXPECT_FALSE(XorChunk::FromRaw(c.data(), c.bit_count() + 64, 50).ok());  // size mismatch
  std::string flipped = c.data();
  flipped[20] = static_cast<char>(~flipped[20]);
  auto bad = XorChunk::FromRaw(flipped, c.bit_count(), 50);
  if (bad.ok()) {
    // A flip may still decode; it must then at least keep increasing timestamps.
    std::vector<Sample> s;
    bad->Decode(INT64_MIN, INT64_MAX, &s);
    for (size_t i = 1; i < s.size(); ++i) EXPECT_GT(s[i].t, s[i - 1].t);
  }
}

}  // namespace
}  // namespace shelfwatch::monitor
