// The served log's BLOB formats and ids: round trips, damaged input, stable hashing.
#include "feedback/served_codec.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/request_id.h"

namespace shelfwatch::feedback::codec {
namespace {

TEST(ServedCodecTest, RoundTripsStringsFloatsAndRows) {
  const std::vector<std::string> ids = {"100001", "", std::string("a\0b", 3), "\xE2\x82\xAC"};
  std::string blob;
  EncodeStrings(ids, &blob);
  std::vector<std::string> back;
  ASSERT_TRUE(DecodeStrings(blob, &back));
  EXPECT_EQ(back, ids);

  const std::vector<float> scores = {1.5f, -0.0f, 3.25e-9f};
  EncodeFloats(scores, &blob);
  EXPECT_EQ(blob.size(), 12u);
  std::vector<float> scores_back;
  ASSERT_TRUE(DecodeFloats(blob, &scores_back));
  EXPECT_EQ(scores_back, scores);

  const std::vector<std::vector<float>> rows = {{1, 2, 3}, {}, {4}};
  EncodeFloatRows(rows, &blob);
  EXPECT_EQ(blob.size(), 3 * 4 + 4 * 4u);
  std::vector<std::vector<float>> rows_back;
  ASSERT_TRUE(DecodeFloatRows(blob, &rows_back));
  EXPECT_EQ(rows_back, rows);
}

TEST(ServedCodecTest, DamagedBlobsAreRefusedAtEveryLength) {
  std::string strings, rows;
  EncodeStrings({"abc", "defg"}, &strings);
  EncodeFloatRows({{1, 2}, {3}}, &rows);
  std::vector<std::string> s;
  std::vector<std::vector<float>> r;
  std::vector<float> f;
  for (size_t n = 1; n < strings.size(); ++n) {
    if (n == 7) continue;  // a whole first entry is a valid blob
    EXPECT_FALSE(DecodeStrings(std::string_view(strings).substr(0, n), &s)) << n;
  }
  for (size_t n = 1; n < rows.size(); ++n) {
    if (n == 12) continue;
    EXPECT_FALSE(DecodeFloatRows(std::string_view(rows).substr(0, n), &r)) << n;
  }
  EXPECT_FALSE(DecodeFloats("abc", &f));
  EXPECT_FALSE(DecodeStrings(std::string("\xff\xff\xff\xff", 4), &s)) << "a length beyond the blob";
}

TEST(ServedCodecTest, UuidV7TimeIsTheMillisecondItWasMade) {
  const int64_t before = UnixMillis();
  const std::string id = NewRequestId();
  const int64_t after = UnixMillis();
  EXPECT_GE(UuidV7Millis(id), before);
  EXPECT_LE(UuidV7Millis(id), after);
  EXPECT_EQ(UuidV7Millis("0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e"), 0x0192f1c46a3bLL);
  EXPECT_EQ(UuidV7Millis("0192f1c4-6a3b-4c2e-9d41-5f7a3b2c1d0e"), -1) << "version 4";
  EXPECT_EQ(UuidV7Millis("0192f1c4x6a3b-7c2e-9d41-5f7a3b2c1d0e"), -1);
  EXPECT_EQ(UuidV7Millis("0192g1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e"), -1);
  EXPECT_EQ(UuidV7Millis("req-1"), -1);
}

TEST(ServedCodecTest, StableHashNeverChanges) {
  // Sampling decisions must agree between replicas and releases: pin the function's values.
  // (Values from an independent Python rendering of FNV-1a 64 + the splitmix64 finaliser.)
  EXPECT_EQ(StableHash(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(StableHash("0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e"), 0x281403a93ba489abULL);
  EXPECT_NE(StableHash("a"), StableHash("b"));
}

}  // namespace
}  // namespace shelfwatch::feedback::codec
