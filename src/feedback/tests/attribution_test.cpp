// Attribution: events carry the variant and catalog of the response they came from, clicks
// get the rank the user saw, and events for unknown responses are kept but marked.
#include "feedback/attribution.h"

#include <gtest/gtest.h>

#include <future>

#include "feedback/event_store.h"
#include "feedback/tests/fixtures.h"

namespace shelfwatch::feedback {
namespace {

TEST(AttributionTest, FillsVariantCatalogAndMissingPositions) {
  auto log = ServedRequestLog::Open({});
  ASSERT_TRUE(log.ok());
  const std::string a = NewRequestId(), b = NewRequestId();
  ServedRequest ra = MakeServed(a, 10);
  ra.variant = "treatment";
  (*log)->Record(std::move(ra));
  ServedRequest rb = MakeServed(b, 5, "rec");
  rb.endpoint = "recommend";
  rb.catalog = "taobao";
  (*log)->Record(std::move(rb));

  std::vector<Event> events = {
      MakeEvent(EventType::kClick, a, "item4"),         // position filled from the response
      MakeEvent(EventType::kClick, a, "item2"),         // client sent position: kept
      MakeEvent(EventType::kPurchase, a, "elsewhere"),  // not among the results
      MakeEvent(EventType::kAddToCart, b, "rec5"),
      MakeEvent(EventType::kClick, NewRequestId(), "item1"),  // unknown request
  };
  events[1].position = 9;
  const AttributionCounts counts = Attribute(**log, events);

  EXPECT_EQ(counts.attributed, 4u);
  EXPECT_EQ(counts.unattributed, 1u);
  EXPECT_EQ(counts.positions_filled, 2u);
  EXPECT_TRUE(events[0].attributed);
  EXPECT_EQ(events[0].variant, "treatment");
  EXPECT_EQ(events[0].catalog, "homedepot");
  EXPECT_EQ(events[0].position, 4);
  EXPECT_EQ(events[1].position, 9);
  EXPECT_TRUE(events[2].attributed);
  EXPECT_EQ(events[2].position, 0);
  EXPECT_EQ(events[3].catalog, "taobao");
  EXPECT_EQ(events[3].endpoint, "recommend");
  EXPECT_EQ(events[3].variant, "control");
  EXPECT_EQ(events[3].position, 5);
  EXPECT_FALSE(events[4].attributed);
  EXPECT_TRUE(events[4].variant.empty());
  EXPECT_TRUE(events[4].endpoint.empty());
  EXPECT_EQ(events[4].position, 0);
}

// The whole library path the HTTP route runs: parse -> attribute -> store -> acknowledge.
TEST(AttributionTest, ParsedEventsAreStoredWithTheirAttribution) {
  TempDir dir;
  auto log = ServedRequestLog::Open({.path = dir.File("served.db")});
  auto store = EventStore::Open({.path = dir.File("events.db")});
  ASSERT_TRUE(log.ok() && store.ok());
  const std::string id = NewRequestId();
  ServedRequest served = MakeServed(id, 10);
  served.variant = "canary";
  (*log)->Record(std::move(served));

  const std::string body = R"({"type":"impression","request_id":")" + id + R"(","item_id":"item1","user_id":"u"}
{"type":"click","request_id":")" +
                           id + R"(","item_id":"item3","user_id":"u"}
{"type":"click","request_id":"0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e","item_id":"item3","user_id":"u"}
{"type":"purchase","request_id":")" +
                           id + R"(","item_id":"item3","user_id":"u"}
)";
  auto batch = ParseEvents(body, EventFormat::kNdjson, {});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->rejections.size(), 1u);  // the purchase without value
  Attribute(**log, batch->events);
  std::promise<Status> durable;
  ASSERT_TRUE((*store)->Append(std::move(batch->events), [&](Status s) { durable.set_value(s); }).ok());
  ASSERT_TRUE(durable.get_future().get().ok());

  auto counts = (*store)->Count();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->total, 3u);
  EXPECT_EQ(counts->attributed, 2u);
  std::vector<Event> stored;
  ASSERT_TRUE((*store)
                  ->ForEach({.type = EventType::kClick},
                            [&](const StoredEvent& e) {
                              stored.push_back(e.event);
                              return true;
                            })
                  .ok());
  ASSERT_EQ(stored.size(), 2u);
  const Event& mine = stored[0].request_id == id ? stored[0] : stored[1];
  const Event& unknown = stored[0].request_id == id ? stored[1] : stored[0];
  EXPECT_TRUE(mine.attributed);
  EXPECT_EQ(mine.variant, "canary");
  EXPECT_EQ(mine.endpoint, "search");
  EXPECT_EQ(mine.position, 3);
  EXPECT_FALSE(unknown.attributed);
  EXPECT_EQ(unknown.position, 0);
}

}  // namespace
}  // namespace shelfwatch::feedback
