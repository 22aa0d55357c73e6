// ParseEvents on hostile input: random bytes, every truncation of a valid body, random byte
// edits. The parser must never crash, and whatever it accepts must satisfy the documented
// contract (so a bug that lets a broken event through fails here, not in the store).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "common/utf8.h"
#include "feedback/events.h"

namespace shelfwatch::feedback {
namespace {

constexpr int64_t kNow = 1764414846000;

std::string ValidBody() {
  return R"([{"type":"impression","request_id":"0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e","item_id":"100001","user_id":"u1","position":1},)"
         R"({"type":"click","request_id":"0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e","item_id":100002,"user_id":"u\u00e9","position":2,"timestamp":"2025-11-29T11:14:05.250+01:00"},)"
         R"({"type":"add_to_cart","request_id":"r","item_id":"x","user_id":"u","value":1.5,"currency":"EUR","quantity":3},)"
         R"({"type":"purchase","request_id":"r","item_id":"x","user_id":"u","value":4.5,"currency":"EUR","timestamp":1764414840}])";
}

// The documented guarantees of an accepted batch.
void CheckContract(std::string_view body, const EventLimits& limits) {
  auto r = ParseEvents(body, EventFormat::kAuto, limits, kNow);
  if (!r.ok()) {
    EXPECT_NE(r.status().code(), ErrorCode::kOk);
    EXPECT_TRUE(IsValidUtf8(r.status().message())) << r.status().message();
    return;
  }
  EXPECT_LE(r->total(), limits.max_events);
  std::set<size_t> indexes;
  for (const Rejection& rej : r->rejections) {
    EXPECT_LT(rej.index, r->total());
    EXPECT_TRUE(indexes.insert(rej.index).second) << "index " << rej.index << " rejected twice";
    EXPECT_FALSE(rej.reason.empty());
    EXPECT_TRUE(IsValidUtf8(rej.message)) << rej.message;
  }
  for (const Event& e : r->events) {
    for (const std::string* id : {&e.request_id, &e.item_id, &e.user_id}) {
      EXPECT_FALSE(id->empty());
      EXPECT_LE(id->size(), limits.max_id_bytes);
      EXPECT_TRUE(IsValidUtf8(*id));
    }
    EXPECT_LE(e.session_id.size(), limits.max_id_bytes);
    EXPECT_GE(e.position, 0);
    EXPECT_GE(e.quantity, 0);
    EXPECT_GE(e.timestamp_ms, limits.min_timestamp_ms);
    EXPECT_LE(e.timestamp_ms, kNow + limits.max_future_ms);
    if (e.type == EventType::kPurchase) {
      EXPECT_TRUE(e.value.has_value());
    }
    if (e.value) {
      EXPECT_GE(*e.value, 0.0);
      EXPECT_EQ(e.currency.size(), 3u);
    }
  }
}

TEST(EventsFuzzTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20261129);
  EventLimits limits;
  limits.max_events = 50;
  for (int i = 0; i < 3000; ++i) {
    std::string body(rng() % 300, '\0');
    // Bias towards JSON punctuation so that some inputs get past the first byte.
    static constexpr char kJsonish[] = "[]{}\",:0123456789.-e\n\\ tnrufalse";
    for (char& c : body) c = rng() % 2 ? static_cast<char>(rng()) : kJsonish[rng() % (sizeof kJsonish - 1)];
    if (i % 2 == 0 && !body.empty()) body[0] = i % 4 == 0 ? '[' : '{';
    CheckContract(body, limits);
  }
}

TEST(EventsFuzzTest, EveryTruncationOfAValidBodyIsHandled) {
  const std::string body = ValidBody();
  EventLimits limits;
  ASSERT_EQ(ParseEvents(body, EventFormat::kAuto, limits, kNow)->events.size(), 4u);
  for (size_t n = 0; n <= body.size(); ++n) CheckContract(std::string_view(body).substr(0, n), limits);
  // The same events as NDJSON, truncated: the lines before the cut survive.
  const std::string ndjson = body.substr(1, body.size() - 2);  // strip [ ]
  std::string lines;
  int depth = 0;
  for (char c : ndjson) {
    if (c == '{') ++depth;
    if (c == '}') --depth;
    lines += (c == ',' && depth == 0) ? '\n' : c;
  }
  ASSERT_EQ(ParseEvents(lines, EventFormat::kAuto, limits, kNow)->events.size(), 4u);
  for (size_t n = 0; n <= lines.size(); ++n) CheckContract(std::string_view(lines).substr(0, n), limits);
}

TEST(EventsFuzzTest, RandomEditsOfAValidBodyAreHandled) {
  std::mt19937_64 rng(7);
  const std::string body = ValidBody();
  EventLimits limits;
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = body;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % mutated.size();
      switch (rng() % 3) {
        case 0: mutated[at] = static_cast<char>(rng()); break;
        case 1: mutated.erase(at, 1 + rng() % 8); break;
        default: mutated.insert(at, 1, "\"{}[],:\\\n\x00\xff"[rng() % 12]); break;
      }
      if (mutated.empty()) break;
    }
    CheckContract(mutated, limits);
  }
}

TEST(EventsFuzzTest, DeepNestingIsRefusedNotOverflowed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto r = ParseEvents(deep, EventFormat::kAuto, {}, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  const std::string deep_object = "{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  CheckContract(deep_object, {});
}

}  // namespace
}  // namespace shelfwatch::feedback
