// Training-data export: every returned item of every served request in the range, with its rank,
// score and features and the strongest feedback it received.
#include "feedback/training_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <future>

#include "feedback/event_store.h"
#include "feedback/tests/fixtures.h"

namespace shelfwatch::feedback {
namespace {

class TrainingExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = ServedRequestLog::Open({.path = served_path_});
    auto store = EventStore::Open({.path = events_path_});
    ASSERT_TRUE(log.ok() && store.ok());
    log_ = std::move(log).value();
    store_ = std::move(store).value();
  }

  void Store(std::vector<Event> events) {
    std::promise<Status> done;
    ASSERT_TRUE(store_->Append(std::move(events), [&](Status s) { done.set_value(s); }).ok());
    ASSERT_TRUE(done.get_future().get().ok());
  }

  std::vector<LabeledRequest> Export(ExportRange range = {}) {
    log_->Flush();
    std::vector<LabeledRequest> out;
    Status s = ForEachLabeledRequest(served_path_, events_path_, range, [&](const LabeledRequest& r) {
      out.push_back(r);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  TempDir dir_;
  std::string served_path_ = dir_.File("served");
  std::string events_path_ = dir_.File("events.db");
  std::unique_ptr<ServedRequestLog> log_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(TrainingExportTest, EachItemGetsItsStrongestLabel) {
  const int64_t t0 = UnixMillis() - 3600 * 1000;
  const std::string a = NewRequestId(), b = NewRequestId();
  log_->Record(MakeServed(a, 4, "item", 2, t0));
  ServedRequest rb = MakeServed(b, 2, "item", 0, t0 + 10);
  rb.scores.clear();
  log_->Record(std::move(rb));
  Store({MakeEvent(EventType::kImpression, a, "item1"), MakeEvent(EventType::kImpression, a, "item2"),
         MakeEvent(EventType::kImpression, a, "item3"), MakeEvent(EventType::kClick, a, "item2"),
         MakeEvent(EventType::kAddToCart, a, "item2"), MakeEvent(EventType::kImpression, a, "item2"),
         MakeEvent(EventType::kPurchase, a, "item3"), MakeEvent(EventType::kClick, a, "not-returned"),
         MakeEvent(EventType::kClick, "some-other-request", "item1")});

  const auto rows = Export();
  ASSERT_EQ(rows.size(), 2u);
  const LabeledRequest& ra = rows[0];
  EXPECT_EQ(ra.request_id, a);
  EXPECT_EQ(ra.time_ms, t0);
  EXPECT_EQ(ra.query, "cordless drill");
  EXPECT_EQ(ra.variant, "control");
  EXPECT_EQ(ra.model_versions, "bm25:k1=0.2,b=0.85");
  EXPECT_EQ(ra.total_hits, 1234u);
  EXPECT_EQ(ra.events, 8u);
  EXPECT_EQ(ra.other_item_events, 1u);
  ASSERT_EQ(ra.items.size(), 4u);
  EXPECT_EQ(ra.items[0].label, Label::kImpression);
  EXPECT_EQ(ra.items[1].label, Label::kAddToCart) << "add_to_cart beats click and impression";
  EXPECT_EQ(ra.items[2].label, Label::kPurchase);
  EXPECT_EQ(ra.items[3].label, Label::kNone);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ra.items[i].rank, i + 1);
    EXPECT_EQ(ra.items[i].item_id, "item" + std::to_string(i + 1));
    EXPECT_FLOAT_EQ(ra.items[i].score, static_cast<float>(4 - i) * 0.5f);
    EXPECT_EQ(ra.items[i].features, (std::vector<float>{i * 100.0f, i * 100.0f + 1}));
  }

  const LabeledRequest& rb_out = rows[1];
  EXPECT_EQ(rb_out.request_id, b);
  EXPECT_EQ(rb_out.events, 0u);
  ASSERT_EQ(rb_out.items.size(), 2u);
  EXPECT_EQ(rb_out.items[0].label, Label::kNone);
  EXPECT_TRUE(std::isnan(rb_out.items[0].score)) << "no scores were recorded";
  EXPECT_TRUE(rb_out.items[0].features.empty());
  EXPECT_EQ(LabelName(Label::kAddToCart), "add_to_cart");
}

TEST_F(TrainingExportTest, RangeSelectsByServedTimeAndTheCallbackCanStop) {
  const int64_t t0 = UnixMillis() - 3600 * 1000;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(NewRequestId());
    log_->Record(MakeServed(ids.back(), 3, "item", 0, t0 + i * 1000));
  }
  const auto rows = Export({.since_ms = t0 + 2000, .until_ms = t0 + 5000});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].request_id, ids[2]);
  EXPECT_EQ(rows[2].request_id, ids[4]);

  int calls = 0;
  ASSERT_TRUE(
      ForEachLabeledRequest(served_path_, events_path_, {}, [&](const LabeledRequest&) { return ++calls < 4; }).ok());
  EXPECT_EQ(calls, 4);
  // The file name of the log's former SQLite version reads the directory beside it.
  calls = 0;
  ASSERT_TRUE(ForEachLabeledRequest(dir_.File("served.db"), events_path_, {}, [&](const LabeledRequest&) {
                ++calls;
                return true;
              }).ok());
  EXPECT_EQ(calls, 10);
}

TEST_F(TrainingExportTest, RequestsComeInServedTimeOrderAcrossSegments) {
  // Small segments, and times that go back and forth between batches: what a log holds when
  // callers pass the time a response was sent and writes interleave.
  log_.reset();
  auto log = ServedRequestLog::Open({.path = served_path_, .segment_bytes = 4096});
  ASSERT_TRUE(log.ok());
  const int64_t t0 = UnixMillis() - 3600 * 1000;
  std::vector<std::pair<int64_t, std::string>> served;
  for (int i = 0; i < 120; ++i) {
    // Batches of 8 whose times overlap the previous batch's: 0..7, 4..11, 8..15, ...
    const int64_t t = t0 + (i / 8) * 4 + (i % 8);
    served.emplace_back(t, NewRequestId());
    (*log)->Record(MakeServed(served.back().second, 6, "item", 0, t));
    if (i % 8 == 7) (*log)->Flush();
  }
  EXPECT_GT((*log)->stats().segments, 5u);
  Store({MakeEvent(EventType::kClick, served[77].second, "item4")});
  log->reset();
  std::sort(served.begin(), served.end());

  std::vector<LabeledRequest> rows;
  ASSERT_TRUE(ForEachLabeledRequest(served_path_, events_path_, {}, [&](const LabeledRequest& r) {
                rows.push_back(r);
                return true;
              }).ok());
  ASSERT_EQ(rows.size(), served.size());
  // Requests served in the same millisecond come in the order written, which is not the order
  // recorded: compare (time, id) as sets, and times in order.
  std::vector<std::pair<int64_t, std::string>> exported;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].time_ms, served[i].first) << i;
    exported.emplace_back(rows[i].time_ms, rows[i].request_id);
  }
  std::sort(exported.begin(), exported.end());
  EXPECT_EQ(exported, served);
  auto clicked = std::find_if(rows.begin(), rows.end(), [](const LabeledRequest& r) { return r.events > 0; });
  ASSERT_NE(clicked, rows.end());
  EXPECT_EQ(clicked->items[3].label, Label::kClick);
  EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](const LabeledRequest& r) { return r.events > 0; }), 1);
}

TEST_F(TrainingExportTest, MissingFilesAreReportedNotCreated) {
  Status s = ForEachLabeledRequest(served_path_, dir_.File("nope.db"), {}, [](const LabeledRequest&) { return true; });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIoError) << s.ToString();
  EXPECT_EQ(FileSize(dir_.File("nope.db")), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("nope.db")));
}

}  // namespace
}  // namespace shelfwatch::feedback
