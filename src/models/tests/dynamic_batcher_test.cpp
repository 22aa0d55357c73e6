// The dynamic batcher: batch formation, the queue delay, results per request, draining.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "models/dynamic_batcher.h"

namespace shelfwatch::models {
namespace {

Tensor Row(float v) {
  Tensor t;
  t.name = std::string("x");  // (not = "x": GCC 12 bug 105329 reports a false -Wrestrict)
  t.shape = {1, 2};
  t.fp32 = {v, v + 0.5f};
  return t;
}

// Doubles every value and records the batch sizes it saw.
struct Doubler {
  std::mutex mu;
  std::vector<int64_t> batches;
  DynamicBatcher::RunFn Fn() {
    return [this](const std::vector<Tensor>& in) -> Result<std::vector<Tensor>> {
      {
        std::lock_guard<std::mutex> lock(mu);
        batches.push_back(in[0].shape[0]);
      }
      Tensor out = in[0];
      for (float& v : out.fp32) v *= 2;
      return std::vector<Tensor>{out};
    };
  }
};

TEST(DynamicBatcherTest, FormsBatchesUpToMaxAndReturnsEachRequestItsRows) {
  Doubler d;
  DynamicBatcher batcher({/*max_batch_size=*/8, /*preferred=*/8, /*delay_us=*/200000}, d.Fn(), nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      auto out = batcher.Submit({Row(static_cast<float>(i))}, 1);
      if (!out.ok() || (*out)[0].shape != std::vector<int64_t>{1, 2} || (*out)[0].fp32[0] != 2.0f * i ||
          (*out)[0].fp32[1] != 2.0f * i + 1.0f) {
        ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  int64_t total = 0, largest = 0;
  for (int64_t b : d.batches) {
    EXPECT_LE(b, 8);
    total += b;
    largest = std::max(largest, b);
  }
  EXPECT_EQ(total, 16);
  EXPECT_GT(largest, 1);              // requests were batched together
  EXPECT_LT(d.batches.size(), 16u);
}

TEST(DynamicBatcherTest, WaitsAtMostTheQueueDelayForMoreRows) {
  Doubler d;
  DynamicBatcher batcher({8, 8, /*delay_us=*/30000}, d.Fn(), nullptr);
  const int64_t start = MonotonicNanos();
  auto out = batcher.Submit({Row(1)}, 1);
  const double waited_ms = static_cast<double>(MonotonicNanos() - start) / 1e6;
  ASSERT_TRUE(out.ok());
  EXPECT_GE(waited_ms, 29.0);   // a lone request waits for company up to the delay...
  EXPECT_LT(waited_ms, 1000.0);  // ...and not much longer
}

TEST(DynamicBatcherTest, RunsAtOnceWhenThePreferredBatchSizeIsReached) {
  Doubler d;
  // A 10 s delay that must never be waited: 4 queued rows reach the preferred size.
  DynamicBatcher batcher({8, 4, 10'000'000}, d.Fn(), nullptr);
  const int64_t start = MonotonicNanos();
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      Tensor two = Row(static_cast<float>(i));
      two.shape = {2, 2};
      two.fp32 = {1, 2, 3, 4};
      EXPECT_TRUE(batcher.Submit({two}, 2).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LT(static_cast<double>(MonotonicNanos() - start) / 1e9, 5.0);
  ASSERT_EQ(d.batches.size(), 1u);
  EXPECT_EQ(d.batches[0], 4);
}

TEST(DynamicBatcherTest, ABackendFailureFailsEveryRequestOfTheBatch) {
  DynamicBatcher batcher(
      {8, 3, 1'000'000},
      [](const std::vector<Tensor>&) -> Result<std::vector<Tensor>> { return Internal("boom"); }, nullptr);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      auto out = batcher.Submit({Row(0)}, 1);
      if (!out.ok() && out.status().message() == "boom") ++failed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 3);
}

TEST(DynamicBatcherTest, RecordsBatchMetrics) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  VersionSeries series(metrics, "m", "1");
  Doubler d;
  {
    DynamicBatcher batcher({4, 4, 100000}, d.Fn(), &series);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { EXPECT_TRUE(batcher.Submit({Row(1)}, 1).ok()); });
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(series.inferences.Value(), 4u);
  EXPECT_EQ(series.executions.Value(), d.batches.size());
  const auto sizes = series.batch_size.Collect();
  EXPECT_EQ(sizes.count, d.batches.size());
  EXPECT_DOUBLE_EQ(sizes.sum, 4.0);
  EXPECT_EQ(series.queue_duration.Collect().count, 4u);
}

}  // namespace
}  // namespace shelfwatch::models
