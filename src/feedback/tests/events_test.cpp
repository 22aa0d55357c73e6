// ParseEvents: what a client's body turns into -- the valid events, and for each invalid one
// its index and a reason code the client can act on.
#include "feedback/events.h"

#include <gtest/gtest.h>

#include <string>

namespace shelfwatch::feedback {
namespace {

constexpr int64_t kNow = 1764414846000;  // 2025-11-29T11:14:06Z
const std::string kRid = "0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e";

Result<ParsedBatch> Parse(std::string_view body, EventFormat format = EventFormat::kAuto, EventLimits limits = {}) {
  return ParseEvents(body, format, limits, kNow);
}

std::string Click(const std::string& item) {
  return R"({"type":"click","request_id":")" + kRid + R"(","item_id":")" + item + R"(","user_id":"u1"})";
}

// A JSON array of the given elements. (Built with append: GCC 12 at -O3 raises a false
// -Wrestrict on "[" + std::string, GCC bug 105651.)
std::string Array(const std::vector<std::string>& elements) {
  std::string out = "[";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += ',';
    out += elements[i];
  }
  out += ']';
  return out;
}

// One event object whose `extra` members are appended to the required ones.
std::string With(const std::string& type, const std::string& extra) {
  return R"({"type":")" + type + R"(","request_id":")" + kRid + R"(","item_id":"i1","user_id":"u1")" +
         (extra.empty() ? "" : "," + extra) + "}";
}

// The single rejection of a one-event body.
Rejection RejectionOf(const std::string& event) {
  auto r = Parse(Array({event}));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || r->rejections.size() != 1) {
    ADD_FAILURE() << "expected exactly one rejection for " << event;
    return {};
  }
  EXPECT_TRUE(r->events.empty());
  return r->rejections[0];
}

TEST(ParseEventsTest, ReadsEveryFieldOfAValidArray) {
  const std::string body = R"([
    {"type":"impression","request_id":")" +
                           kRid + R"(","item_id":"100001","user_id":"u1","position":1},
    {"type":"click","request_id":")" +
                           kRid + R"(","item_id":100002,"user_id":"u1","session_id":"s9",
     "position":2,"timestamp":"2025-11-29T11:14:05.250Z"},
    {"type":"add_to_cart","request_id":")" +
                           kRid + R"(","item_id":"100002","user_id":"u1","quantity":2,
     "value":39.98,"currency":"USD","timestamp":1764414845},
    {"type":"purchase","request_id":")" +
                           kRid + R"(","item_id":"100002","user_id":"u1","value":39.98,
     "currency":"USD","quantity":2,"timestamp":1764414845999}
  ])";
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->events.size(), 4u);
  EXPECT_TRUE(r->rejections.empty());

  const Event& imp = r->events[0];
  EXPECT_EQ(imp.type, EventType::kImpression);
  EXPECT_EQ(imp.request_id, kRid);
  EXPECT_EQ(imp.item_id, "100001");
  EXPECT_EQ(imp.position, 1);
  EXPECT_EQ(imp.timestamp_ms, kNow) << "a missing timestamp is the receive time";
  EXPECT_EQ(imp.received_ms, kNow);
  EXPECT_FALSE(imp.value.has_value());
  EXPECT_FALSE(imp.attributed);

  const Event& click = r->events[1];
  EXPECT_EQ(click.type, EventType::kClick);
  EXPECT_EQ(click.item_id, "100002") << "numeric ids read as decimal text";
  EXPECT_EQ(click.session_id, "s9");
  EXPECT_EQ(click.timestamp_ms, kNow - 750);

  const Event& cart = r->events[2];
  EXPECT_EQ(cart.type, EventType::kAddToCart);
  EXPECT_EQ(cart.quantity, 2);
  EXPECT_EQ(cart.timestamp_ms, kNow - 1000) << "epoch seconds";
  ASSERT_TRUE(cart.value.has_value());
  EXPECT_DOUBLE_EQ(*cart.value, 39.98);
  EXPECT_EQ(cart.currency, "USD");

  const Event& buy = r->events[3];
  EXPECT_EQ(buy.type, EventType::kPurchase);
  EXPECT_EQ(buy.timestamp_ms, kNow - 1) << "epoch milliseconds";
  EXPECT_DOUBLE_EQ(buy.value.value_or(-1), 39.98);
}

TEST(ParseEventsTest, NdjsonSkipsBlankLinesAndAcceptsCrlf) {
  const std::string body = Click("a") + "\r\n\r\n  \n" + Click("b") + "\n" + Click("c");
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(r->events[0].item_id, "a");
  EXPECT_EQ(r->events[2].item_id, "c");
  auto forced = Parse(body, EventFormat::kNdjson);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->events.size(), 3u);
}

TEST(ParseEventsTest, ASingleObjectIsOneEventEvenPrettyPrinted) {
  auto one = Parse(Click("a"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->events.size(), 1u);
  auto pretty = Parse("{\n  \"type\": \"click\",\n  \"request_id\": \"" + kRid +
                      "\",\n  \"item_id\": \"a\",\n  \"user_id\": \"u1\"\n}\n");
  ASSERT_TRUE(pretty.ok()) << pretty.status().ToString();
  ASSERT_EQ(pretty->events.size(), 1u);
  EXPECT_EQ(pretty->events[0].item_id, "a");
}

TEST(ParseEventsTest, MixedBatchKeepsValidEventsAndIndexesRejections) {
  const std::string body = Array({Click("a"), With("purchase", ""), Click("b"), With("like", ""), "42", Click("c")});
  auto r = Parse(body);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(r->events[0].item_id, "a");
  EXPECT_EQ(r->events[1].item_id, "b");
  EXPECT_EQ(r->events[2].item_id, "c");
  ASSERT_EQ(r->rejections.size(), 3u);
  EXPECT_EQ(r->rejections[0].index, 1u);
  EXPECT_EQ(r->rejections[0].reason, reasons::kMissingField);
  EXPECT_EQ(r->rejections[0].field, "value");
  EXPECT_EQ(r->rejections[1].index, 3u);
  EXPECT_EQ(r->rejections[1].reason, reasons::kUnknownEventType);
  EXPECT_NE(r->rejections[1].message.find("'like'"), std::string::npos) << r->rejections[1].message;
  EXPECT_EQ(r->rejections[2].index, 4u);
  EXPECT_EQ(r->rejections[2].reason, reasons::kNotAnObject);
  EXPECT_EQ(r->total(), 6u);
}

TEST(ParseEventsTest, NdjsonLinesFailOneByOne) {
  const std::string body =
      Click("a") + "\n{\"type\": \"click\"\n" + "{\"type\":\"click\",\"item_id\":\"\xC3\x28\"}\n" + Click("b") + "\n";
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->events.size(), 2u);
  ASSERT_EQ(r->rejections.size(), 2u);
  EXPECT_EQ(r->rejections[0].index, 1u);
  EXPECT_EQ(r->rejections[0].reason, reasons::kBadJson);
  EXPECT_EQ(r->rejections[1].index, 2u);
  EXPECT_EQ(r->rejections[1].reason, reasons::kInvalidUtf8);
}

TEST(ParseEventsTest, EachReasonCodeForItsProblem) {
  struct Case {
    std::string event;
    std::string_view reason;
    std::string field;
  };
  const std::string long_id(257, 'x');
  const std::vector<Case> cases = {
      {R"({"request_id":")" + kRid + R"(","item_id":"i","user_id":"u"})", reasons::kMissingField, "type"},
      {R"({"type":"click","item_id":"i","user_id":"u"})", reasons::kMissingField, "request_id"},
      {R"({"type":"click","request_id":")" + kRid + R"(","user_id":"u"})", reasons::kMissingField, "item_id"},
      {R"({"type":"click","request_id":")" + kRid + R"(","item_id":"i"})", reasons::kMissingField, "user_id"},
      {R"({"type":"click","request_id":")" + kRid + R"(","item_id":"","user_id":"u"})", reasons::kMissingField,
       "item_id"},
      {R"({"type":"click","request_id":null,"item_id":"i","user_id":"u"})", reasons::kMissingField, "request_id"},
      {R"({"type":7,"request_id":")" + kRid + R"(","item_id":"i","user_id":"u"})", reasons::kBadType, "type"},
      {R"({"type":"click","request_id":17,"item_id":"i","user_id":"u"})", reasons::kBadType, "request_id"},
      {R"({"type":"click","request_id":")" + kRid + R"(","item_id":1.5,"user_id":"u"})", reasons::kBadType, "item_id"},
      {R"({"type":"click","request_id":")" + kRid + R"(","item_id":["i"],"user_id":"u"})", reasons::kBadType,
       "item_id"},
      {R"({"type":"CLICK","request_id":")" + kRid + R"(","item_id":"i","user_id":"u"})", reasons::kUnknownEventType,
       "type"},
      {With("click", R"("position":"3")"), reasons::kBadType, "position"},
      {With("click", R"("position":0)"), reasons::kBadValue, "position"},
      {With("click", R"("position":-2)"), reasons::kBadValue, "position"},
      {With("click", R"("position":2.5)"), reasons::kBadValue, "position"},
      {With("click", R"("quantity":0)"), reasons::kBadValue, "quantity"},
      {With("click", R"("timestamp":"yesterday")"), reasons::kBadTimestamp, "timestamp"},
      {With("click", R"("timestamp":"2025-02-30T00:00:00Z")"), reasons::kBadTimestamp, "timestamp"},
      {With("click", R"("timestamp":"2025-11-29T11:14:06")"), reasons::kBadTimestamp, "timestamp"},
      {With("click", R"("timestamp":12)"), reasons::kBadTimestamp, "timestamp"},
      {With("click", R"("timestamp":1864414846)"), reasons::kBadTimestamp, "timestamp"},  // 3 years ahead
      {With("click", R"("timestamp":true)"), reasons::kBadType, "timestamp"},
      {With("purchase", R"("currency":"EUR")"), reasons::kMissingField, "value"},
      {With("purchase", R"("value":10)"), reasons::kMissingField, "currency"},
      {With("purchase", R"("value":-1,"currency":"EUR")"), reasons::kBadValue, "value"},
      {With("purchase", R"("value":"10","currency":"EUR")"), reasons::kBadType, "value"},
      {With("purchase", R"("value":1e300,"currency":"EUR")"), reasons::kBadValue, "value"},
      {With("purchase", R"("value":10,"currency":"eur")"), reasons::kBadCurrency, "currency"},
      {With("purchase", R"("value":10,"currency":"EURO")"), reasons::kBadCurrency, "currency"},
      {With("purchase", R"("value":10,"currency":978)"), reasons::kBadType, "currency"},
      {With("add_to_cart", R"("value":10)"), reasons::kMissingField, "currency"},
      {R"({"type":"click","request_id":")" + kRid + R"(","item_id":")" + long_id + R"(","user_id":"u"})",
       reasons::kTooLong, "item_id"},
      {With("click", R"("session_id":")" + long_id + R"(")"), reasons::kTooLong, "session_id"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.event);
    const Rejection r = RejectionOf(c.event);
    EXPECT_EQ(r.reason, c.reason) << r.message;
    EXPECT_EQ(r.field, c.field) << r.message;
    EXPECT_FALSE(r.message.empty());
  }
}

TEST(ParseEventsTest, MessagesNameTheFieldAndShowTheValue) {
  const Rejection r =
      RejectionOf(R"({"type":"click","request_id":")" + kRid + R"(","item_id":["a", 1],"user_id":"u"})");
  EXPECT_EQ(r.message, R"(field 'item_id' must be a string or an integer, got '["a",1]')");
  const Rejection c = RejectionOf(With("purchase", R"("value":5,"currency":"eur")"));
  EXPECT_NE(c.message.find("'eur'"), std::string::npos) << c.message;
}

TEST(ParseEventsTest, IdsUpToTheLimitPass) {
  const std::string id(256, 'x');
  auto r =
      Parse(R"([{"type":"click","request_id":")" + id + R"(","item_id":")" + id + R"(","user_id":")" + id + R"("}])");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].item_id.size(), 256u);
}

TEST(ParseEventsTest, UnknownFieldsAreIgnoredAndNullMeansNotSent) {
  auto r = Parse(Array({With("click", R"("position":null,"session_id":null,"page":"pdp","extra":{"a":[1,2]})")}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].position, 0);
  EXPECT_TRUE(r->events[0].session_id.empty());
}

TEST(ParseEventsTest, AnEmptyArrayIsAnEmptyBatch) {
  auto r = Parse("[]");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total(), 0u);
}

TEST(ParseEventsTest, WholeBodyProblemsAreInvalidArgument) {
  for (const std::string body :
       {"", "  \n", "hello", "[{\"type\":", "{\"type\":", "\"click\"", "[1,2", "\x80\x81", "[\"\xff\"]"}) {
    SCOPED_TRACE(body);
    auto r = Parse(body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << r.status().ToString();
  }
  auto object_as_array = Parse(Click("a"), EventFormat::kJsonArray);
  ASSERT_FALSE(object_as_array.ok());
  EXPECT_EQ(object_as_array.status().code(), ErrorCode::kInvalidArgument);
}

TEST(ParseEventsTest, TooManyEventsIsPayloadTooLarge) {
  EventLimits limits;
  limits.max_events = 3;
  EXPECT_TRUE(Parse(Array({Click("a"), Click("b"), Click("c")}), EventFormat::kAuto, limits).ok())
      << "exactly max_events is fine";
  auto r = Parse(Array({Click("a"), Click("b"), Click("c"), Click("d")}), EventFormat::kAuto, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(r.status().http_status(), 413);

  const std::string ndjson = Click("a") + "\n" + Click("b") + "\n" + Click("c") + "\n\n" + Click("d") + "\n";
  auto n = Parse(ndjson, EventFormat::kAuto, limits);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), ErrorCode::kPayloadTooLarge);
}

TEST(ParseEventsTest, BodyOverTheByteLimitIsPayloadTooLarge) {
  EventLimits limits;
  limits.max_body_bytes = 100;
  auto r = Parse(Array({Click("a"), Click("b")}), EventFormat::kAuto, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPayloadTooLarge);
}

TEST(ParseEventsTest, RejectionMessagesStayValidUtf8WhenQuotingLongValues) {
  // 40 three-byte characters: the quote is cut at 64 bytes, which falls inside a character.
  std::string type;
  for (int i = 0; i < 40; ++i) type += "\xE2\x82\xAC";
  const Rejection r = RejectionOf(With(type, ""));
  EXPECT_EQ(r.reason, reasons::kUnknownEventType);
  EXPECT_LT(r.message.size(), 200u);
  // Every byte sequence in the message is complete: no lead byte without its continuation.
  size_t i = r.message.find('\'') + 1;
  while (i < r.message.size() && r.message[i] != '.') {
    ASSERT_EQ(static_cast<unsigned char>(r.message[i]), 0xE2) << "cut inside a character at " << i;
    i += 3;
  }
}

TEST(FormatFromContentTypeTest, NdjsonTypesAndEverythingElse) {
  EXPECT_EQ(FormatFromContentType("application/x-ndjson"), EventFormat::kNdjson);
  EXPECT_EQ(FormatFromContentType("Application/JSONL; charset=utf-8"), EventFormat::kNdjson);
  EXPECT_EQ(FormatFromContentType("application/json"), EventFormat::kAuto);
  EXPECT_EQ(FormatFromContentType(""), EventFormat::kAuto);
}

TEST(EventTypeTest, WireNamesRoundTrip) {
  for (auto t : {EventType::kImpression, EventType::kClick, EventType::kAddToCart, EventType::kPurchase}) {
    EXPECT_EQ(ParseEventType(EventTypeName(t)), t);
  }
  EXPECT_EQ(EventTypeName(EventType::kAddToCart), "add_to_cart");
  EXPECT_FALSE(ParseEventType("Click").has_value());
}

}  // namespace
}  // namespace shelfwatch::feedback
