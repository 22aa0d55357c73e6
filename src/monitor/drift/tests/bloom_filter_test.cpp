// BloomFilter: no false negatives, the false-positive rate the formula promises, a hash that
// is stable across builds, merge and serialization.
#include "monitor/drift/bloom_filter.h"

#include <gtest/gtest.h>

namespace shelfwatch::monitor::drift {
namespace {

// "prefix" + number, built by appending: GCC 12 at -O3 reports a false -Wrestrict for
// short literal + std::string (a known GCC 12 false positive).
std::string Numbered(std::string prefix, size_t i) {
  prefix += std::to_string(i);
  return prefix;
}

TEST(BloomFilterTest, StableHashIsPinned) {
  // Computed independently (Python) from the definition in bloom_filter.h: FNV-1a 64, then the
  // splitmix64 finalizer. A change here would silently corrupt stored reference profiles.
  EXPECT_EQ(StableHash64(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(StableHash64("paint"), 0x49d96f66df25b412ULL);
}

TEST(BloomFilterTest, NoFalseNegativesAndTheFalsePositiveRateMatchesTheFormula) {
  BloomFilter f;  // 2^17 bits, 4 hashes
  for (int i = 0; i < 10000; ++i) f.Add(Numbered("seen-", i));
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(f.MayContain(Numbered("seen-", i))) << i;
  int false_positives = 0;
  const int probes = 200000;
  for (int i = 0; i < probes; ++i) false_positives += f.MayContain(Numbered("other-", i)) ? 1 : 0;
  const double measured = static_cast<double>(false_positives) / probes;
  const double predicted = f.FalsePositiveRate(10000);
  EXPECT_NEAR(predicted, 0.0048, 0.0002);
  EXPECT_NEAR(measured, predicted, 0.35 * predicted) << "measured " << measured;
}

TEST(BloomFilterTest, MergeIsUnionAndRefusesOtherShapes) {
  BloomFilter a(4096, 3), b(4096, 3), other(8192, 3);
  a.Add("left");
  b.Add("right");
  ASSERT_TRUE(a.Merge(b).ok());
  EXPECT_TRUE(a.MayContain("left"));
  EXPECT_TRUE(a.MayContain("right"));
  const Status s = a.Merge(other);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
}

TEST(BloomFilterTest, SerializationRoundTrip) {
  BloomFilter f(1000, 5);
  EXPECT_EQ(f.bits(), 1024u);
  for (int i = 0; i < 50; ++i) f.Add(std::to_string(i));
  std::string bytes;
  ByteWriter w(&bytes);
  f.SerializeTo(w);
  ByteReader r(bytes);
  auto back = BloomFilter::ParseFrom(r);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->bits(), 1024u);
  EXPECT_EQ(back->hashes(), 5u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(back->MayContain(std::to_string(i)));
  ByteReader short_reader(std::string_view(bytes).substr(0, 20));
  EXPECT_EQ(BloomFilter::ParseFrom(short_reader).status().code(), ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
