// Counter and Gauge: exact totals under concurrency, whatever the number of threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

void RunThreads(int n, const std::function<void()>& body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(body);
  for (auto& t : threads) t.join();
}

TEST(CounterTest, StartsAtZeroAndAddsN) {
  Counter c;
  EXPECT_EQ(c.Value(), 0u);
  c.Inc();
  c.Inc(41);
  EXPECT_EQ(c.Value(), 42u);
}

TEST(CounterTest, ExactAfterEightThreadsOfAMillionIncrements) {
  Counter c;
  std::atomic<bool> done{false};
  std::atomic<bool> went_backwards{false};
  // A scraper reading while the writers run must never see the total go down or overshoot.
  std::thread scraper([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const uint64_t now = c.Value();
      if (now < last || now > 8'000'000u) went_backwards = true;
      last = now;
    }
  });
  RunThreads(8, [&] {
    for (int i = 0; i < 1'000'000; ++i) c.Inc();
  });
  done = true;
  scraper.join();
  EXPECT_EQ(c.Value(), 8'000'000u);
  EXPECT_FALSE(went_backwards);
}

TEST(CounterTest, ExactWhenThreadsOutnumberShards) {
  // More live threads than leasable shards: the rest share shard 0 with atomic adds.
  Counter c;
  constexpr int kThreads = 3 * static_cast<int>(kShards);
  std::atomic<int> ready{0};
  RunThreads(kThreads, [&] {
    ready.fetch_add(1);
    while (ready.load() < kThreads) std::this_thread::yield();  // all alive at once
    for (int i = 0; i < 20'000; ++i) c.Inc(3);
  });
  EXPECT_EQ(c.Value(), uint64_t{kThreads} * 20'000u * 3u);
}

TEST(CounterTest, ShardsHandedToLaterThreadsKeepEarlierCounts) {
  // Short-lived threads return their shard on exit; the next thread takes it over.
  Counter a, b;
  for (int round = 0; round < 200; ++round) {
    std::thread t([&] {
      for (int i = 0; i < 1000; ++i) a.Inc();
      b.Inc(round);
    });
    t.join();
  }
  EXPECT_EQ(a.Value(), 200'000u);
  EXPECT_EQ(b.Value(), 199u * 200u / 2u);
}

TEST(GaugeTest, SetAddIncDec) {
  Gauge g;
  EXPECT_EQ(g.Value(), 0);
  g.Set(2.5);
  g.Add(1.5);
  g.Inc();
  g.Dec();
  g.Dec();
  EXPECT_DOUBLE_EQ(g.Value(), 3.0);
  g.Set(-7);
  EXPECT_DOUBLE_EQ(g.Value(), -7.0);
}

TEST(GaugeTest, ConcurrentIncDecBalance) {
  // An in-flight-requests gauge: every request Inc()s then Dec()s.
  Gauge in_flight;
  RunThreads(4, [&] {
    for (int i = 0; i < 100'000; ++i) {
      in_flight.Inc();
      in_flight.Dec();
    }
  });
  EXPECT_EQ(in_flight.Value(), 0);
}

}  // namespace
}  // namespace shelfwatch::monitor
