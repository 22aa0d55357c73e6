// EventStore: acknowledged means on disk, concurrent appends share commits, a full queue
// answers 429 instead of growing, and retention removes old events.
#include "feedback/event_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <future>
#include <latch>
#include <thread>

#include "feedback/tests/fixtures.h"

namespace shelfwatch::feedback {
namespace {

std::unique_ptr<EventStore> OpenStore(EventStoreOptions options) {
  auto store = EventStore::Open(std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::vector<Event> Batch(size_t n, const std::string& prefix, int64_t ts_ms = UnixMillis()) {
  std::vector<Event> events;
  for (size_t i = 0; i < n; ++i)
    events.push_back(MakeEvent(EventType::kClick, "req-" + prefix, prefix + std::to_string(i), ts_ms));
  return events;
}

// Appends and waits for the durable callback; returns its status.
Status AppendAndWait(EventStore& store, std::vector<Event> batch) {
  std::promise<Status> done;
  auto future = done.get_future();
  Status s = store.Append(std::move(batch), [&](Status st) { done.set_value(std::move(st)); });
  if (!s.ok()) return s;
  return future.get();
}

TEST(EventStoreTest, EveryFieldIsStoredAndReadBack) {
  TempDir dir;
  auto store = OpenStore({.path = dir.File("events.db"), .max_age_ms = 0});  // fixed 2025 times
  ASSERT_TRUE(store);
  Event full = MakeEvent(EventType::kPurchase, "0192f1c4-6a3b-7c2e-9d41-5f7a3b2c1d0e", "100001", 1764414846123);
  full.user_id = "user-7";
  full.session_id = "sess-3";
  full.position = 4;
  full.received_ms = 1764414847000;
  full.value = 59.5;
  full.currency = "USD";
  full.quantity = 2;
  full.attributed = true;
  full.catalog = "homedepot";
  full.endpoint = "search";
  full.variant = "treatment";
  Event bare = MakeEvent(EventType::kImpression, "unknown", "100002", 1764414846000);
  ASSERT_TRUE(AppendAndWait(*store, {full, bare}).ok());

  std::vector<StoredEvent> rows;
  ASSERT_TRUE(store
                  ->ForEach({},
                            [&](const StoredEvent& e) {
                              rows.push_back(e);
                              return true;
                            })
                  .ok());
  ASSERT_EQ(rows.size(), 2u);
  // Ordered by event time: `bare` happened first.
  const Event& b = rows[0].event;
  EXPECT_EQ(b.type, EventType::kImpression);
  EXPECT_EQ(b.position, 0);
  EXPECT_FALSE(b.value.has_value());
  EXPECT_TRUE(b.session_id.empty());
  EXPECT_FALSE(b.attributed);
  EXPECT_TRUE(b.variant.empty());
  const Event& f = rows[1].event;
  EXPECT_EQ(f.type, EventType::kPurchase);
  EXPECT_EQ(f.request_id, full.request_id);
  EXPECT_EQ(f.item_id, "100001");
  EXPECT_EQ(f.user_id, "user-7");
  EXPECT_EQ(f.session_id, "sess-3");
  EXPECT_EQ(f.position, 4);
  EXPECT_EQ(f.timestamp_ms, 1764414846123);
  EXPECT_EQ(f.received_ms, 1764414847000);
  EXPECT_DOUBLE_EQ(f.value.value_or(-1), 59.5);
  EXPECT_EQ(f.currency, "USD");
  EXPECT_EQ(f.quantity, 2);
  EXPECT_TRUE(f.attributed);
  EXPECT_EQ(f.catalog, "homedepot");
  EXPECT_EQ(f.endpoint, "search");
  EXPECT_EQ(f.variant, "treatment");
  EXPECT_GT(rows[0].id, rows[1].id) << "ids are insertion order, and `full` went in first";
}

TEST(EventStoreTest, EventsSurviveCloseAndReopen) {
  TempDir dir;
  const std::string path = dir.File("events.db");
  {
    auto store = OpenStore({.path = path});
    ASSERT_TRUE(store);
    for (int b = 0; b < 5; ++b) ASSERT_TRUE(AppendAndWait(*store, Batch(100, Tag("b", b))).ok());
  }
  // What the file holds, read without the module.
  EXPECT_EQ(QueryFileInt(path, "SELECT count(*) FROM events"), 500);
  auto store = OpenStore({.path = path});
  ASSERT_TRUE(store);
  auto counts = store->Count();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->total, 500u);
  ASSERT_TRUE(AppendAndWait(*store, Batch(10, "after")).ok());
  EXPECT_EQ(store->Count()->total, 510u);
}

TEST(EventStoreTest, CountsByTypeAttributionAndTimeRange) {
  TempDir dir;
  auto store = OpenStore({.path = dir.File("events.db")});
  ASSERT_TRUE(store);
  const int64_t t0 = UnixMillis() - 3600 * 1000;
  std::vector<Event> events;
  for (int i = 0; i < 10; ++i) events.push_back(MakeEvent(EventType::kImpression, "r", "i", t0 + i));
  for (int i = 0; i < 4; ++i) {
    Event click = MakeEvent(EventType::kClick, "r", "i", t0 + 100 + i);
    click.attributed = i < 3;
    events.push_back(click);
  }
  events.push_back(MakeEvent(EventType::kPurchase, "r", "i", t0 + 200));
  ASSERT_TRUE(AppendAndWait(*store, events).ok());

  auto all = store->Count();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total, 15u);
  EXPECT_EQ(all->by_type[static_cast<int>(EventType::kImpression)], 10u);
  EXPECT_EQ(all->by_type[static_cast<int>(EventType::kClick)], 4u);
  EXPECT_EQ(all->by_type[static_cast<int>(EventType::kPurchase)], 1u);
  EXPECT_EQ(all->attributed, 3u);
  EXPECT_EQ(all->unattributed(), 12u);

  auto window = store->Count({.since_ms = t0 + 5, .until_ms = t0 + 102});
  EXPECT_EQ(window->total, 7u);  // impressions 5..9 and clicks 100, 101
  auto clicks = store->Count({.type = EventType::kClick});
  EXPECT_EQ(clicks->total, 4u);

  int seen = 0;
  ASSERT_TRUE(store
                  ->ForEach({.type = EventType::kClick},
                            [&](const StoredEvent& e) {
                              EXPECT_EQ(e.event.type, EventType::kClick);
                              return ++seen < 2;  // stop early
                            })
                  .ok());
  EXPECT_EQ(seen, 2);
}

TEST(EventStoreTest, BatchesQueuedDuringACommitShareTheNextOne) {
  TempDir dir;
  auto store = OpenStore({.path = dir.File("events.db")});
  ASSERT_TRUE(store);
  // The first batch's callback runs on the writer thread; holding it there keeps the writer
  // busy while ten more batches queue up.
  std::latch first_durable(1), release(1);
  ASSERT_TRUE(store
                  ->Append(Batch(1, "first"),
                           [&](Status s) {
                             EXPECT_TRUE(s.ok());
                             first_durable.count_down();
                             release.wait();
                           })
                  .ok());
  first_durable.wait();
  std::atomic<int> acked{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store
                    ->Append(Batch(50, Tag("q", i)),
                             [&](Status s) {
                               EXPECT_TRUE(s.ok());
                               ++acked;
                             })
                    .ok());
  }
  EXPECT_EQ(store->stats().queued_events, 500u);
  release.count_down();
  store->Flush();
  EXPECT_EQ(acked.load(), 10);
  EXPECT_EQ(store->stats().transactions, 2u) << "ten queued batches, one commit";
  EXPECT_EQ(store->Count()->total, 501u);
}

TEST(EventStoreTest, FourProducersAllAcknowledgedAndGroupCommitted) {
  TempDir dir;
  auto store = OpenStore({.path = dir.File("events.db")});
  ASSERT_TRUE(store);
  constexpr int kThreads = 4, kBatches = 40, kSize = 100;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        Status s =
            store->Append(Batch(kSize, Tag(Tag("t", t) + "b", b)), [&](Status st) { (st.ok() ? ok : failed)++; });
        if (!s.ok()) ADD_FAILURE() << s.ToString();
      }
    });
  }
  for (auto& p : producers) p.join();
  store->Flush();
  EXPECT_EQ(ok.load(), kThreads * kBatches);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(store->Count()->total, static_cast<uint64_t>(kThreads * kBatches * kSize));
  const auto stats = store->stats();
  EXPECT_EQ(stats.durable_events, static_cast<uint64_t>(kThreads * kBatches * kSize));
  EXPECT_LT(stats.transactions, static_cast<uint64_t>(kThreads * kBatches)) << "no group commit happened";
}

TEST(EventStoreTest, FullQueueAnswersResourceExhaustedAndLosesNothingAccepted) {
  TempDir dir;
  auto store = OpenStore({.path = dir.File("events.db"), .max_queued_events = 1000});
  ASSERT_TRUE(store);
  std::latch busy(1), release(1);
  ASSERT_TRUE(store
                  ->Append(Batch(1, "hold"),
                           [&](Status) {
                             busy.count_down();
                             release.wait();
                           })
                  .ok());
  busy.wait();
  std::atomic<int> acked{0};
  int accepted = 0;
  Status last;
  for (int i = 0; i < 12; ++i) {
    last = store->Append(Batch(100, Tag("f", i)), [&](Status s) { acked += s.ok(); });
    if (!last.ok()) break;
    ++accepted;
  }
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(last.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(last.http_status(), 429);
  EXPECT_EQ(store->stats().rejected_batches, 1u);
  release.count_down();
  store->Flush();
  EXPECT_EQ(acked.load(), 10);
  EXPECT_EQ(store->Count()->total, 1001u);
  // With the queue drained, appends are accepted again.
  EXPECT_TRUE(AppendAndWait(*store, Batch(100, "again")).ok());
}

TEST(EventStoreTest, ClosingCommitsWhatWasAccepted) {
  TempDir dir;
  const std::string path = dir.File("events.db");
  std::atomic<int> acked{0};
  {
    auto store = OpenStore({.path = path});
    ASSERT_TRUE(store);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(store->Append(Batch(20, Tag("c", i)), [&](Status s) { acked += s.ok(); }).ok());
    }
  }  // destructor without Flush
  EXPECT_EQ(acked.load(), 50);
  EXPECT_EQ(QueryFileInt(path, "SELECT count(*) FROM events"), 1000);
}

TEST(EventStoreTest, RetentionDeletesEventsOlderThanMaxAge) {
  TempDir dir;
  std::atomic<int64_t> now{1764414846000};
  const int64_t day = 24LL * 3600 * 1000;
  auto store = OpenStore(
      {.path = dir.File("events.db"), .max_age_ms = 30 * day, .retention_interval_ms = 3600 * 1000, .now_ms = [&] {
         return now.load();
       }});
  ASSERT_TRUE(store);
  ASSERT_TRUE(AppendAndWait(*store, Batch(12000, "old", now - 40 * day)).ok());  // more than one chunk
  ASSERT_TRUE(AppendAndWait(*store, Batch(30, "recent", now - 29 * day)).ok());
  ASSERT_TRUE(AppendAndWait(*store, Batch(20, "new", now - day)).ok());
  // The writer's pass at start-up may have run after the first append; either way they go.
  auto deleted = store->EnforceRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(store->stats().retention_deleted, 12000u);
  EXPECT_EQ(store->Count()->total, 50u);
  // Two days later the 29-day-old events have aged out too.
  now += 2 * day;
  EXPECT_EQ(*store->EnforceRetention(), 30u);
  EXPECT_EQ(store->Count()->total, 20u);
}

TEST(EventStoreTest, RetentionRunsPeriodicallyWithoutBeingAsked) {
  TempDir dir;
  std::atomic<int64_t> now{1764414846000};
  auto store =
      OpenStore({.path = dir.File("events.db"), .max_age_ms = 1000, .retention_interval_ms = 20, .now_ms = [&] {
                   return now.load();
                 }});
  ASSERT_TRUE(store);
  ASSERT_TRUE(AppendAndWait(*store, Batch(100, "x", now.load())).ok());
  EXPECT_EQ(store->Count()->total, 100u);
  now += 5000;
  const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (store->Count()->total != 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(store->Count()->total, 0u);
  EXPECT_EQ(store->stats().retention_deleted, 100u);
}

TEST(EventStoreTest, OpenReportsUnusableFiles) {
  TempDir dir;
  auto missing_dir = EventStore::Open({.path = dir.File("no/such/dir/events.db")});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.status().code(), ErrorCode::kIoError) << missing_dir.status().ToString();

  const std::string garbage = dir.File("garbage.db");
  std::ofstream(garbage) << std::string(8192, 'x');
  auto not_db = EventStore::Open({.path = garbage});
  ASSERT_FALSE(not_db.ok());
  EXPECT_EQ(not_db.status().code(), ErrorCode::kDataLoss) << not_db.status().ToString();

  // A file from a future schema is refused, not misread.
  const std::string newer = dir.File("newer.db");
  { auto store = OpenStore({.path = newer}); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(newer.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto refused = EventStore::Open({.path = newer});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition) << refused.status().ToString();
}

}  // namespace
}  // namespace shelfwatch::feedback
