// FrequentItemsSketch: exactness below capacity, the Misra-Gries error bound on a skewed
// stream, merging, serialization.
#include "monitor/drift/frequent_items.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace shelfwatch::monitor::drift {
namespace {

// "prefix" + number, built by appending: GCC 12 at -O3 reports a false -Wrestrict for
// short literal + std::string (a known GCC 12 false positive).
std::string Numbered(std::string prefix, size_t i) {
  prefix += std::to_string(i);
  return prefix;
}

// A Zipf-like stream over `distinct` items ("item17"), with exact counts.
std::vector<std::string> ZipfStream(size_t n, size_t distinct, uint64_t seed, std::map<std::string, uint64_t>* exact) {
  std::vector<double> weights(distinct);
  for (size_t i = 0; i < distinct; ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(Numbered("item", pick(rng)));
    if (exact != nullptr) ++(*exact)[out.back()];
  }
  return out;
}

void ExpectBoundsHold(const FrequentItemsSketch& s, const std::map<std::string, uint64_t>& exact) {
  EXPECT_LE(s.MaximumError(), 2 * s.total_weight() / (s.capacity() + 1));
  for (const auto& [item, count] : exact) {
    ASSERT_LE(s.LowerBound(item), count) << item;
    ASSERT_GE(s.UpperBound(item), count) << item;
  }
}

TEST(FrequentItemsSketchTest, ExactWhileDistinctItemsFitTheCapacity) {
  FrequentItemsSketch s(8);
  for (int i = 0; i < 8; ++i) s.Update(Numbered("c", i), static_cast<uint64_t>(i + 1));
  s.Update("c3", 10);
  EXPECT_TRUE(s.exact());
  EXPECT_EQ(s.total_weight(), 36u + 10u);
  EXPECT_EQ(s.Estimate("c3"), 14u);
  EXPECT_EQ(s.LowerBound("c3"), 14u);
  EXPECT_EQ(s.Estimate("never"), 0u);
  EXPECT_EQ(s.UpperBound("never"), 0u);
  const auto top = s.TopK(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].item, "c3");
  EXPECT_EQ(top[1].item, "c7");
  s.Update("c8");  // the ninth distinct item forces a purge
  EXPECT_FALSE(s.exact());
  EXPECT_LE(s.size(), 8u);
}

TEST(FrequentItemsSketchTest, ErrorBoundHoldsAndHeavyHittersAreFoundOnASkewedStream) {
  std::map<std::string, uint64_t> exact;
  const auto stream = ZipfStream(200000, 20000, 1, &exact);
  FrequentItemsSketch s(256);
  for (const auto& x : stream) s.Update(x);
  EXPECT_EQ(s.total_weight(), stream.size());
  EXPECT_LE(s.size(), 256u);
  ExpectBoundsHold(s, exact);
  // The ten heaviest items are separated by far more than the error: TopK finds them in order
  // and their estimates (count + offset) are within the error of the truth.
  const auto top = s.TopK(10);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(top[i].item, Numbered("item", i));
    EXPECT_LE(top[i].estimate - exact[top[i].item], s.MaximumError());
  }
  // For a heavy hitter tracked from the start the estimate is (nearly) exact.
  EXPECT_NEAR(static_cast<double>(s.Estimate("item0")), static_cast<double>(exact["item0"]),
              0.01 * static_cast<double>(exact["item0"]));
}

TEST(FrequentItemsSketchTest, MergeOfPartsKeepsTheGuaranteeOverTheUnion) {
  std::map<std::string, uint64_t> exact;
  FrequentItemsSketch merged(256);
  for (uint64_t part = 0; part < 30; ++part) {
    FrequentItemsSketch p(256);
    for (const auto& x : ZipfStream(5000, 5000, 100 + part, &exact)) p.Update(x);
    merged.Merge(p);
  }
  EXPECT_EQ(merged.total_weight(), 150000u);
  EXPECT_LE(merged.size(), 256u);
  ExpectBoundsHold(merged, exact);
  EXPECT_EQ(merged.TopK(1)[0].item, "item0");
}

TEST(FrequentItemsSketchTest, WeightedUpdatesCountWeights) {
  FrequentItemsSketch s(4);
  s.Update("a", 1000);
  s.Update("b", 0);  // ignored
  for (int i = 0; i < 100; ++i) s.Update(Numbered("tail", i), 1);
  EXPECT_EQ(s.total_weight(), 1100u);
  EXPECT_EQ(s.UpperBound("b"), s.MaximumError());
  EXPECT_LE(s.LowerBound("a"), 1000u);
  EXPECT_GE(s.UpperBound("a"), 1000u);
  EXPECT_EQ(s.Estimate("a"), 1000u) << "a heavy hitter tracked throughout lost exactly the offset";
}

TEST(FrequentItemsSketchTest, SerializationRoundTrip) {
  std::map<std::string, uint64_t> exact;
  FrequentItemsSketch s(64);
  for (const auto& x : ZipfStream(20000, 3000, 3, &exact)) s.Update(x);
  const std::string bytes = s.Serialize();
  auto back = FrequentItemsSketch::Deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->total_weight(), s.total_weight());
  EXPECT_EQ(back->MaximumError(), s.MaximumError());
  EXPECT_EQ(back->capacity(), 64u);
  for (const auto& [item, count] : exact) EXPECT_EQ(back->LowerBound(item), s.LowerBound(item));
  EXPECT_EQ(back->Serialize(), bytes);

  EXPECT_EQ(FrequentItemsSketch::Deserialize(bytes.substr(0, bytes.size() - 1)).status().code(), ErrorCode::kDataLoss);
  std::string bad = bytes;
  bad[1] ^= 0x21;
  EXPECT_EQ(FrequentItemsSketch::Deserialize(bad).status().code(), ErrorCode::kDataLoss);
}

TEST(FrequentItemsSketchTest, LongItemsAreCutAtAUtf8Boundary) {
  // 255 ASCII bytes then a 2-byte character straddling the 256-byte limit.
  std::string item(255, 'x');
  item += "\xC3\xA9tail";
  const std::string_view cut = FrequentItemsSketch::Truncate(item);
  EXPECT_EQ(cut.size(), 255u);
  FrequentItemsSketch s;
  s.Update(item);
  s.Update(std::string(255, 'x') + "\xC3\xA9other");  // same first 256 bytes after the cut
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.Estimate(item), 2u);
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
