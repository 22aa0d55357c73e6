// ServedRequestLog: a response is attributable the moment it is recorded, and still after it
// left memory or the process restarted; recording never waits for the disk; sampling keeps
// whole requests; retention keeps the file bounded.
#include "feedback/served_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <thread>

#include "feedback/tests/fixtures.h"

namespace shelfwatch::feedback {
namespace {

std::unique_ptr<ServedRequestLog> OpenLog(ServedLogOptions options) {
  auto log = ServedRequestLog::Open(std::move(options));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

int64_t RowsWithId(const std::string& path, const std::string& id) {
  return QueryFileInt(path, "SELECT count(*) FROM served WHERE request_id = '" + id + "'");
}

TEST(ServedLogTest, ARecordedRequestIsFoundAtOnceWithItsRanks) {
  TempDir dir;
  for (const std::string& path : {std::string(), dir.File("served.db")}) {
    SCOPED_TRACE(path.empty() ? "index only" : "with file");
    auto log = OpenLog({.path = path});
    ASSERT_TRUE(log);
    const std::string id = NewRequestId();
    ServedRequest r = MakeServed(id, 10);
    r.variant = "treatment";
    log->Record(std::move(r));
    auto info = log->Lookup(id);  // before the writer can have stored it
    ASSERT_TRUE(info);
    EXPECT_EQ(info->request_id, id);
    EXPECT_EQ(info->catalog, "homedepot");
    EXPECT_EQ(info->endpoint, "search");
    EXPECT_EQ(info->variant, "treatment");
    EXPECT_EQ(info->RankOf("item1"), 1);
    EXPECT_EQ(info->RankOf("item7"), 7);
    EXPECT_EQ(info->RankOf("item11"), 0);
    EXPECT_FALSE(log->Lookup(NewRequestId()));
  }
}

TEST(ServedLogTest, EvictedFromMemoryStillFoundInTheFile) {
  TempDir dir;
  auto log = OpenLog({.path = dir.File("served.db"), .max_queue = 16, .index_capacity = 16});
  ASSERT_TRUE(log);
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    ids.push_back(NewRequestId());
    log->Record(MakeServed(ids.back(), 5, "r" + std::to_string(i) + "-"));
    if (i % 10 == 9) log->Flush();  // the tiny queue would otherwise drop
  }
  log->Flush();
  EXPECT_EQ(log->stats().dropped, 0u);
  EXPECT_LE(log->stats().index_size, 16u + 16u);
  auto first = log->Lookup(ids[0]);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->RankOf("r0-3"), 3);
  EXPECT_EQ(first->variant, "control");
  auto middle = log->Lookup(ids[150]);
  ASSERT_TRUE(middle);
  EXPECT_EQ(middle->item_ids.size(), 5u);
  EXPECT_GE(log->stats().file_hits, 2u);
}

TEST(ServedLogTest, RequestsFromBeforeARestartAreFound) {
  TempDir dir;
  const std::string path = dir.File("served.db");
  std::vector<std::string> ids;
  {
    auto log = OpenLog({.path = path});
    ASSERT_TRUE(log);
    for (int i = 0; i < 50; ++i) {
      ids.push_back(NewRequestId());
      log->Record(MakeServed(ids.back(), 3));
    }
  }  // closing writes the queue
  auto log = OpenLog({.path = path});
  ASSERT_TRUE(log);
  for (const auto& id : ids) {
    auto info = log->Lookup(id);
    ASSERT_TRUE(info) << id;
    EXPECT_EQ(info->RankOf("item2"), 2);
  }
  EXPECT_EQ(log->stats().file_hits, 50u);
  // Ids newer than everything the earlier process wrote are answered from memory alone.
  const uint64_t lookups = log->stats().file_lookups;
  EXPECT_FALSE(log->Lookup(NewRequestId()));
  EXPECT_EQ(log->stats().file_lookups, lookups);
}

TEST(ServedLogTest, UnknownNewIdsAreAnsweredWithoutReadingTheFile) {
  TempDir dir;
  auto log = OpenLog({.path = dir.File("served.db")});
  ASSERT_TRUE(log);
  log->Record(MakeServed(NewRequestId(), 3));
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(log->Lookup(NewRequestId()));
  EXPECT_EQ(log->stats().file_lookups, 0u) << "a UUIDv7 newer than all evictions cannot be on disk only";
  EXPECT_FALSE(log->Lookup("not-a-uuid"));
  EXPECT_EQ(log->stats().file_lookups, 1u) << "other ids may be in the file";
  EXPECT_EQ(log->stats().misses, 1001u);
}

TEST(ServedLogTest, AFullQueueDropsAndCountsButNeverBlocksRecord) {
  TempDir dir;
  const std::string path = dir.File("served.db");
  auto log = OpenLog({.path = path, .max_queue = 100});
  ASSERT_TRUE(log);
  // Another connection holds the write lock: the writer is stuck waiting for it.
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  sqlite3_busy_timeout(blocker, 5000);  // the writer's start-up retention pass may hold the lock
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(NewRequestId());
  const auto start = SteadyClock::now();
  for (const auto& id : ids) log->Record(MakeServed(id, 10, "item", 8));
  const auto took = SteadyClock::now() - start;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // A Record that waited for queue space would wait out the writer's 5 s busy timeout.
  EXPECT_LT(took, std::chrono::milliseconds(2000)) << "Record waited for the blocked writer";
  const uint64_t dropped = log->stats().dropped;
  EXPECT_GE(dropped, 800u);  // at most one queue in the writer's hands and one waiting

  ASSERT_EQ(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  log->Flush();
  const auto stats = log->stats();
  EXPECT_EQ(stats.dropped, dropped);
  EXPECT_EQ(stats.written + stats.dropped, 1000u);
  EXPECT_EQ(QueryFileInt(path, "SELECT count(*) FROM served"), static_cast<int64_t>(stats.written));
  // Dropped from disk, not from attribution.
  for (const auto& id : ids) ASSERT_TRUE(log->Lookup(id)) << id;
}

TEST(ServedLogTest, SamplingKeepsWholeRequestsChosenByIdAlone) {
  TempDir dir;
  const std::string path = dir.File("served.db");
  auto log = OpenLog({.path = path, .sample_rate = 0.3});
  auto other = OpenLog({.path = dir.File("other.db"), .sample_rate = 0.3});
  ASSERT_TRUE(log && other);
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back(NewRequestId());
    log->Record(MakeServed(ids.back(), 5, "item", 3));
  }
  log->Flush();
  const int64_t rows = QueryFileInt(path, "SELECT count(*) FROM served");
  EXPECT_GT(rows, 500);  // 600 expected, standard deviation 20
  EXPECT_LT(rows, 700);
  EXPECT_EQ(static_cast<uint64_t>(rows) + log->stats().sampled_out, 2000u);
  // All or nothing: every stored row carries all five items, scores and feature vectors.
  EXPECT_EQ(QueryFileInt(path,
                         "SELECT count(*) FROM served WHERE length(scores) != 20 OR "
                         "length(features) != 5 * (4 + 3 * 4) OR length(items) != 5 * 4 + 5 * 5"),
            0);
  int mismatched = 0, sampled = 0;
  for (const auto& id : ids) {
    const bool in_file = RowsWithId(path, id) == 1;
    mismatched += in_file != log->Sampled(id);
    mismatched += log->Sampled(id) != other->Sampled(id);  // same decision in another process
    sampled += in_file;
    ASSERT_TRUE(log->Lookup(id)) << "sampled out of the file is still attributable";
  }
  EXPECT_EQ(mismatched, 0);
  EXPECT_EQ(sampled, rows);
}

TEST(ServedLogTest, SizeBoundStopsTheFileFromGrowing) {
  TempDir dir;
  const std::string path = dir.File("served.db");
  constexpr uint64_t kMax = 1 << 20, kWal = 256 << 10;
  auto log = OpenLog({.path = path, .max_queue = 256, .index_capacity = 256, .max_bytes = kMax, .wal_bytes = kWal});
  ASSERT_TRUE(log);
  std::vector<std::string> ids;
  std::vector<uint64_t> db_sizes;
  uint64_t max_total = 0;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 500; ++i) {  // ~1.7 KB a request: 850 KB a round, 10 MB in all
      ids.push_back(NewRequestId());
      log->Record(MakeServed(ids.back(), 20, "item", 16));
      if (i % 200 == 199) log->Flush();
    }
    log->Flush();
    db_sizes.push_back(FileSize(path));
    max_total = std::max(max_total, FileSize(path) + FileSize(path + "-wal"));
  }
  EXPECT_EQ(log->stats().dropped, 0u);
  EXPECT_GT(log->stats().retention_deleted, 0u);
  // The bound is max_bytes plus at most one write batch (here <= 256 requests, ~450 KB): after
  // every round, although 10 MB went through, the file is no bigger than that.
  for (size_t round = 0; round < db_sizes.size(); ++round) {
    EXPECT_LE(db_sizes[round], kMax + kMax / 2) << "database file beyond its bound after round " << round;
  }
  EXPECT_LE(max_total, 3 * kMax) << "database + WAL beyond their bound";
  // The newest requests are kept, the oldest went, and the newest are still found.
  EXPECT_EQ(RowsWithId(path, ids.front()), 0);
  EXPECT_EQ(RowsWithId(path, ids.back()), 1);
  EXPECT_FALSE(log->Lookup(ids.front()));
  EXPECT_TRUE(log->Lookup(ids[ids.size() - 300]));  // evicted from memory, found in the file
}

TEST(ServedLogTest, AgeRetentionDeletesOldRows) {
  TempDir dir;
  const std::string path = dir.File("served.db");
  const int64_t day = 24LL * 3600 * 1000;
  std::atomic<int64_t> now{UnixMillis()};
  auto log = OpenLog({.path = path, .max_age_ms = 30 * day, .retention_interval_ms = 3600 * 1000, .now_ms = [&] {
                        return now.load();
                      }});
  ASSERT_TRUE(log);
  for (int i = 0; i < 30; ++i) log->Record(MakeServed(NewRequestId(), 3, "item", 0, now - 40 * day));
  for (int i = 0; i < 20; ++i) log->Record(MakeServed(NewRequestId(), 3, "item", 0, now - day));
  log->Flush();
  // The writer's pass at start-up may have come after the first records; either way they go.
  ASSERT_TRUE(log->EnforceRetention().ok());
  EXPECT_EQ(log->stats().retention_deleted, 30u);
  EXPECT_EQ(QueryFileInt(path, "SELECT count(*) FROM served"), 20);
  now += 30 * day;
  auto deleted = log->EnforceRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 20u);
  EXPECT_EQ(QueryFileInt(path, "SELECT count(*) FROM served"), 0);
}

TEST(ServedLogTest, ConcurrentRecordersAlwaysFindTheirOwnRequests) {
  TempDir dir;
  auto log = OpenLog({.path = dir.File("served.db")});
  ASSERT_TRUE(log);
  std::atomic<int> lost{0};
  std::atomic<bool> done{false};
  std::thread prober([&] {
    while (!done) (void)log->Lookup(NewRequestId());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3000; ++i) {
        const std::string id = NewRequestId();
        log->Record(MakeServed(id, 10));
        auto info = log->Lookup(id);
        if (!info || info->RankOf("item10") != 10) ++lost;
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  prober.join();
  EXPECT_EQ(lost.load(), 0);
  log->Flush();
  const auto stats = log->stats();
  EXPECT_EQ(stats.recorded, 12000u);
  EXPECT_EQ(stats.written + stats.dropped, 12000u);
}

TEST(ServedLogTest, OpenRejectsOptionsThatCannotWork) {
  auto bad_rate = ServedRequestLog::Open({.sample_rate = 1.5});
  ASSERT_FALSE(bad_rate.ok());
  EXPECT_EQ(bad_rate.status().code(), ErrorCode::kInvalidArgument);
  auto no_queue = ServedRequestLog::Open({.max_queue = 0});
  ASSERT_FALSE(no_queue.ok());
  EXPECT_EQ(no_queue.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace shelfwatch::feedback
