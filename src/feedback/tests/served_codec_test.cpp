// The served log's BLOB formats and ids: round trips, damaged input, stable hashing.
#include "feedback/served_codec.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/request_id.h"
#include "common/stable_hash.h"

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
  EncodeStrings(std::vector<std::string>{"abc", "defg"}, &strings);
  EncodeFloatRows(std::vector<std::vector<float>>{{1, 2}, {3}}, &rows);
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

TEST(ServedCodecTest, Crc32cMatchesThePublishedCheckValues) {
  // RFC 3720 appendix B.4 and the CRC catalogue's "check" value for CRC-32C.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(ServedCodecTest, ARecordFrameRoundTripsAndEveryDamageIsRefused) {
  const std::vector<std::string> items = {"100001", "100002", std::string("a\0b", 3)};
  const std::vector<float> scores = {3.5f, 2.25f, 1.0f};
  const std::vector<std::vector<float>> features = {{1, 2}, {3, 4}, {}};
  const ServedRequestView r{.request_id = "0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e",
                            .time_ms = 1732900000123,
                            .catalog = "homedepot",
                            .endpoint = "search",
                            .query = "cordless drill",
                            .variant = "canary",
                            .model_versions = "bm25:k1=0.2,b=0.85",
                            .item_ids = items,
                            .scores = scores,
                            .features = features,
                            .total_hits = 1234};
  std::string frame = "prefix";
  AppendServedFrame(r, &frame);
  frame.erase(0, 6);
  ASSERT_EQ(frame.size(), ServedFrameBytes(r));
  std::string_view payload;
  size_t n = 0;
  EXPECT_FALSE(ReadFrame(frame, &payload, &n)) << "not sealed yet: the CRC field is zero";
  SealFrame(frame.data());
  ASSERT_TRUE(ReadFrame(frame, &payload, &n));
  EXPECT_EQ(n, frame.size());
  ServedRecordView v;
  ASSERT_TRUE(ParseServedPayload(payload, &v));
  EXPECT_EQ(v.request_id, r.request_id);
  EXPECT_EQ(PayloadRequestId(payload), r.request_id);
  EXPECT_EQ(v.time_ms, r.time_ms);
  EXPECT_EQ(v.total_hits, 1234u);
  EXPECT_EQ(v.catalog, "homedepot");
  EXPECT_EQ(v.endpoint, "search");
  EXPECT_EQ(v.query, "cordless drill");
  EXPECT_EQ(v.variant, "canary");
  EXPECT_EQ(v.model_versions, "bm25:k1=0.2,b=0.85");
  std::vector<std::string> items_back;
  std::vector<float> scores_back;
  std::vector<std::vector<float>> features_back;
  ASSERT_TRUE(DecodeStrings(v.items, &items_back));
  ASSERT_TRUE(DecodeFloats(v.scores, &scores_back));
  ASSERT_TRUE(DecodeFloatRows(v.features, &features_back));
  EXPECT_EQ(items_back, items);
  EXPECT_EQ(scores_back, scores);
  EXPECT_EQ(features_back, features);

  for (size_t len = 0; len < frame.size(); ++len) {
    EXPECT_FALSE(ReadFrame(std::string_view(frame).substr(0, len), &payload, &n)) << "torn at " << len;
  }
  for (size_t i = 0; i < frame.size(); ++i) {
    std::string damaged = frame;
    damaged[i] ^= 0x10;
    EXPECT_FALSE(ReadFrame(damaged, &payload, &n)) << "a flipped bit at byte " << i << " went unnoticed";
  }
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
  EXPECT_EQ(StableHash64(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(StableHash64("0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e"), 0x281403a93ba489abULL);
  EXPECT_NE(StableHash64("a"), StableHash64("b"));
}

}  // namespace
}  // namespace shelfwatch::feedback::codec
