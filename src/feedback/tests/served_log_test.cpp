// ServedRequestLog: a response is attributable the moment it is recorded, and still after it
// left memory or the process restarted; recording never waits for the disk; sampling keeps
// whole requests; retention keeps the directory bounded; the index's memory is bounded.
#include "feedback/served_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "common/stable_hash.h"
#include "feedback/served_codec.h"
#include "feedback/tests/fixtures.h"

namespace shelfwatch::feedback {
namespace {

int64_t StoredWithId(const std::string& dir, const std::string& id) {
  const auto ids = StoredIds(dir);
  return std::count(ids.begin(), ids.end(), id);
}

TEST(ServedLogTest, ARecordedRequestIsFoundAtOnceWithItsRanks) {
  TempDir dir;
  for (const std::string& path : {std::string(), dir.File("served")}) {
    SCOPED_TRACE(path.empty() ? "index only" : "with file");
    auto log = OpenServedLog({.path = path});
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
  auto log = OpenServedLog({.path = dir.File("served"), .max_queue = 16, .index_capacity = 16});
  ASSERT_TRUE(log);
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) {
    ids.push_back(NewRequestId());
    log->Record(MakeServed(ids.back(), 5, "r" + std::to_string(i) + "-"));
    if (i % 10 == 9) log->Flush();  // the tiny queue would otherwise drop
  }
  log->Flush();
  EXPECT_EQ(log->stats().dropped, 0u);
  EXPECT_LE(log->stats().index_size, 16u + 16u);
  // All in the open segment: found through its in-memory table, grown as it filled.
  EXPECT_EQ(log->stats().segments, 1u);
  for (int i = 0; i < 3000; i += 7) {
    auto info = log->Lookup(ids[i]);
    ASSERT_TRUE(info) << i;
    EXPECT_EQ(info->RankOf("r" + std::to_string(i) + "-5"), 5);
  }
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
  const std::string path = dir.File("served");
  std::vector<std::string> ids;
  {
    auto log = OpenServedLog({.path = path});
    ASSERT_TRUE(log);
    ids = RecordServed(*log, 50, 3);
  }  // closing writes the queue
  auto log = OpenServedLog({.path = path});
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
  auto log = OpenServedLog({.path = dir.File("served")});
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
  const std::string path = dir.File("served");
  // The writer is stuck (as on a disk that stopped answering) until the test releases it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto log = OpenServedLog({.path = path, .max_queue = 100, .before_write = [released] { released.wait(); }});
  ASSERT_TRUE(log);

  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(NewRequestId());
  const auto start = SteadyClock::now();
  for (const auto& id : ids) log->Record(MakeServed(id, 10, "item", 8));
  const auto took = SteadyClock::now() - start;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::milliseconds(2000)) << "Record waited for the blocked writer";
  const uint64_t dropped = log->stats().dropped;
  EXPECT_GE(dropped, 800u);  // at most one queue in the writer's hands and one waiting

  release.set_value();
  log->Flush();
  const auto stats = log->stats();
  EXPECT_EQ(stats.dropped, dropped);
  EXPECT_EQ(stats.written + stats.dropped, 1000u);
  EXPECT_EQ(StoredIds(path).size(), stats.written);
  // Dropped from disk, not from attribution.
  for (const auto& id : ids) ASSERT_TRUE(log->Lookup(id)) << id;
}

TEST(ServedLogTest, SamplingKeepsWholeRequestsChosenByIdAlone) {
  TempDir dir;
  const std::string path = dir.File("served");
  auto log = OpenServedLog({.path = path, .sample_rate = 0.3});
  auto other = OpenServedLog({.path = dir.File("other"), .sample_rate = 0.3});
  ASSERT_TRUE(log && other);
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back(NewRequestId());
    log->Record(MakeServed(ids.back(), 5, "item", 3));
  }
  log->Flush();
  std::vector<std::string> storage;
  const auto records = StoredRecords(path, &storage);
  const auto rows = static_cast<int64_t>(records.size());
  EXPECT_GT(rows, 500);  // 600 expected, standard deviation 20
  EXPECT_LT(rows, 700);
  EXPECT_EQ(static_cast<uint64_t>(rows) + log->stats().sampled_out, 2000u);
  // All or nothing: every stored record carries all five items, scores and feature vectors.
  std::set<std::string> in_file;
  for (const auto& r : records) {
    EXPECT_EQ(r.scores.size(), 20u);
    EXPECT_EQ(r.features.size(), 5 * (4 + 3 * 4u));
    EXPECT_EQ(r.items.size(), 5 * 4 + 5 * 5u);
    EXPECT_EQ(r.query, "cordless drill");
    EXPECT_EQ(r.total_hits, 1234u);
    in_file.emplace(r.request_id);
  }
  int mismatched = 0;
  for (const auto& id : ids) {
    mismatched += in_file.count(id) != (log->Sampled(id) ? 1u : 0u);
    mismatched += log->Sampled(id) != other->Sampled(id);  // same decision in another process
    ASSERT_TRUE(log->Lookup(id)) << "sampled out of the file is still attributable";
  }
  EXPECT_EQ(mismatched, 0);
  EXPECT_EQ(static_cast<int64_t>(in_file.size()), rows);
}

TEST(ServedLogTest, SizeBoundStopsTheDirectoryFromGrowing) {
  TempDir dir;
  const std::string path = dir.File("served");
  constexpr uint64_t kMax = 1 << 20;
  auto log = OpenServedLog({.path = path, .max_queue = 256, .index_capacity = 256, .max_bytes = kMax});
  ASSERT_TRUE(log);
  std::vector<std::string> ids;
  uint64_t max_dir = 0;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 500; ++i) {  // ~1.7 KB a request: 850 KB a round, 10 MB in all
      ids.push_back(NewRequestId());
      log->Record(MakeServed(ids.back(), 20, "item", 16));
      if (i % 200 == 199) log->Flush();
    }
    log->Flush();
    const uint64_t bytes = DirBytes(path);
    max_dir = std::max(max_dir, bytes);
    EXPECT_EQ(log->stats().disk_bytes, bytes) << "the log's own count of its files";
  }
  const auto stats = log->stats();
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_GT(stats.retention_deleted, 0u);
  EXPECT_GT(stats.segments, 4u) << "rotated at max_bytes / 16";
  // Retention runs after every batch, so the directory is at most max_bytes between batches.
  EXPECT_LE(max_dir, kMax) << "directory beyond its bound";
  EXPECT_GT(max_dir, kMax / 2) << "retention deleted far more than it had to";
  // The newest requests are kept, the oldest went, and the newest are still found.
  EXPECT_EQ(StoredWithId(path, ids.front()), 0);
  EXPECT_EQ(StoredWithId(path, ids.back()), 1);
  EXPECT_EQ(stats.written - stats.retention_deleted, StoredIds(path).size());
  EXPECT_FALSE(log->Lookup(ids.front()));
  EXPECT_TRUE(log->Lookup(ids[ids.size() - 300]));  // evicted from memory, found in a segment
}

TEST(ServedLogTest, AgeRetentionDeletesSegmentsWhoseNewestRecordExpired) {
  TempDir dir;
  const std::string path = dir.File("served");
  const int64_t day = 24LL * 3600 * 1000;
  std::atomic<int64_t> now{UnixMillis()};
  auto log = OpenServedLog({.path = path, .max_age_ms = 30 * day, .retention_interval_ms = 3600 * 1000, .now_ms = [&] {
                        return now.load();
                      }});
  ASSERT_TRUE(log);
  for (int i = 0; i < 30; ++i) log->Record(MakeServed(NewRequestId(), 3, "item", 0, now - 40 * day));
  log->Flush();
  // The writer's pass at start-up may have come after the first records; either way they go.
  ASSERT_TRUE(log->EnforceRetention().ok());
  EXPECT_EQ(log->stats().retention_deleted, 30u);
  EXPECT_EQ(StoredIds(path).size(), 0u);

  // A segment goes whole, when its newest record expires: old records beside fresh ones stay.
  for (int i = 0; i < 5; ++i) log->Record(MakeServed(NewRequestId(), 3, "item", 0, now - 40 * day));
  for (int i = 0; i < 20; ++i) log->Record(MakeServed(NewRequestId(), 3, "item", 0, now - day));
  log->Flush();
  auto deleted = log->EnforceRetention();
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(StoredIds(path).size(), 25u);

  now += 30 * day;
  deleted = log->EnforceRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 25u);
  EXPECT_EQ(StoredIds(path).size(), 0u);
  EXPECT_EQ(log->stats().disk_bytes, 0u);
}

TEST(ServedLogTest, ConcurrentRecordersAlwaysFindTheirOwnRequests) {
  TempDir dir;
  auto log = OpenServedLog({.path = dir.File("served")});
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

TEST(ServedLogTest, IndexMemoryStaysWithinItsBoundsAndKeepsTheNewest) {
  constexpr uint64_t kBytes = 16 * (64 << 10);  // the smallest rings: 64 KiB per shard
  auto log = OpenServedLog({.max_queue = 100, .index_capacity = 2000, .index_bytes = kBytes});
  ASSERT_TRUE(log);
  std::vector<std::string> ids;
  // Small entries: the entry count binds.
  for (int i = 0; i < 20000; ++i) {
    ids.push_back(NewRequestId());
    log->Record(MakeServed(ids.back(), 10, Tag("s", i) + "-"));
  }
  auto stats = log->stats();
  EXPECT_LE(stats.index_size, 2000u + 16u);
  EXPECT_GE(stats.index_size, 1500u) << "evicted far more than the bound asks";
  EXPECT_LE(stats.index_bytes, kBytes);
  for (size_t i = ids.size() - 500; i < ids.size(); ++i) {
    auto info = log->Lookup(ids[i]);
    ASSERT_TRUE(info) << i;
    EXPECT_EQ(info->RankOf(Tag("s", i) + "-7"), 7);
  }
  EXPECT_FALSE(log->Lookup(ids.front()));

  // Large entries (100 items of 60 bytes, ~6.5 KB each): the ring's bytes bind.
  const std::string long_prefix(56, 'x');
  for (int i = 0; i < 2000; ++i) {
    ids.push_back(NewRequestId());
    log->Record(MakeServed(ids.back(), 100, long_prefix));
  }
  stats = log->stats();
  EXPECT_LE(stats.index_bytes, kBytes);
  EXPECT_LT(stats.index_size, 300u);
  auto newest = log->Lookup(ids.back());
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest->item_ids.size(), 100u);
  EXPECT_EQ(newest->item_ids[99], long_prefix + "100");
  EXPECT_EQ(newest->RankOf(long_prefix + "42"), 42);
}

TEST(ServedLogTest, ARequestIdRecordedTwiceAnswersWithTheNewerRecordUntilItIsEvicted) {
  // Index only, eight entries per shard: what the index forgets is gone.
  auto log = OpenServedLog({.max_queue = 16, .index_capacity = 16 * 8});
  ASSERT_TRUE(log);
  const std::string id = NewRequestId();
  const uint64_t shard = StableHash64(id) % 16;
  auto same_shard = [&] {
    for (;;) {
      std::string other = NewRequestId();
      if (StableHash64(other) % 16 == shard) return other;
    }
  };
  ServedRequest first = MakeServed(id, 3);
  first.variant = "old";
  log->Record(std::move(first));
  ServedRequest second = MakeServed(id, 3);
  second.variant = "new";
  log->Record(std::move(second));
  ASSERT_TRUE(log->Lookup(id));
  EXPECT_EQ(log->Lookup(id)->variant, "new");
  // Six more fill the shard; the next evicts the first copy, which must not take the second.
  std::vector<std::string> others;
  for (int i = 0; i < 6; ++i) {
    others.push_back(same_shard());
    log->Record(MakeServed(others.back(), 2));
  }
  ASSERT_TRUE(log->Lookup(id));
  others.push_back(same_shard());
  log->Record(MakeServed(others.back(), 2));
  auto info = log->Lookup(id);
  ASSERT_TRUE(info) << "evicting the older copy removed the newer one";
  EXPECT_EQ(info->variant, "new");
  others.push_back(same_shard());
  log->Record(MakeServed(others.back(), 2));
  EXPECT_FALSE(log->Lookup(id));
  for (const auto& o : others) EXPECT_TRUE(log->Lookup(o)) << o;
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
