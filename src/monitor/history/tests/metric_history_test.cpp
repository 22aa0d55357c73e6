// MetricHistory: what a sampling stores (the series a scrape would), staleness, retention and
// ageing out, the series cap and memory bound, snapshots, and sampling while querying.
#include "monitor/history/metric_history.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "common/clock.h"
#include "monitor/history/promql.h"
#include "support/test_server.h"

namespace shelfwatch::monitor {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

std::vector<StoredSeries> SelectAll(const SeriesStore& store, std::string_view name) {
  std::vector<StoredSeries> out;
  auto m = LabelMatcher::Make(MatchOp::kEqual, "__name__", std::string(name));
  EXPECT_TRUE(store.Select({*m}, INT64_MIN / 2, INT64_MAX / 2, &out).ok());
  std::sort(out.begin(), out.end(), [](const StoredSeries& a, const StoredSeries& b) { return *a.labels < *b.labels; });
  return out;
}

TEST(MetricHistoryTest, StoresWhatAPrometheusScrapeWould) {
  Registry reg;
  reg.AddCounter("jobs_total", "Jobs.", {"kind"}).WithLabels({"a"}).Inc(3);
  reg.AddGauge("queue_depth", "Depth.").WithLabels({}).Set(2.5);
  Histogram& h = reg.AddHistogram("job_seconds", "Duration.", {"kind"}, {0.1, 1}).WithLabels({"a"});
  h.Observe(0.05);
  h.Observe(0.5);
  MetricHistory history(reg);
  history.SampleNow(kT0);

  auto jobs = SelectAll(history, "jobs_total");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].labels->ToString(), "jobs_total{kind=\"a\"}");
  ASSERT_EQ(jobs[0].samples.size(), 1u);
  EXPECT_EQ(jobs[0].samples[0].t, kT0);
  EXPECT_EQ(jobs[0].samples[0].v, 3);
  EXPECT_EQ(SelectAll(history, "queue_depth")[0].samples[0].v, 2.5);

  auto buckets = SelectAll(history, "job_seconds_bucket");
  ASSERT_EQ(buckets.size(), 3u);
  std::vector<std::string> les;
  for (const auto& b : buckets) les.push_back(std::string(b.labels->Get("le")) + "=" + std::to_string(int(b.samples[0].v)));
  EXPECT_EQ(les, (std::vector<std::string>{"+Inf=2", "0.1=1", "1=2"}));
  EXPECT_EQ(SelectAll(history, "job_seconds_count")[0].samples[0].v, 2);
  EXPECT_DOUBLE_EQ(SelectAll(history, "job_seconds_sum")[0].samples[0].v, 0.55);

  // The history answers PromQL directly.
  auto q = EvalInstant(history, "histogram_quantile(0.5, job_seconds_bucket)", kT0);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->series.size(), 1u);
  EXPECT_DOUBLE_EQ(q->series[0].samples[0].v, 0.1);
}

TEST(MetricHistoryTest, ASeriesThatDisappearsIsStaleAtTheNextSampling) {
  Registry reg;
  auto& fam = reg.AddGauge("temp", "Temperature.", {"room"});
  fam.WithLabels({"a"}).Set(1);
  fam.WithLabels({"b"}).Set(2);
  MetricHistory history(reg);
  history.SampleNow(kT0);
  fam.Remove({"b"});
  history.SampleNow(kT0 + 5000);
  auto at = [&](int64_t t) {
    auto r = EvalInstant(history, "temp", t);
    EXPECT_TRUE(r.ok());
    return r->series.size();
  };
  EXPECT_EQ(at(kT0 + 4999), 2u);
  EXPECT_EQ(at(kT0 + 5000), 1u);  // b ended at the sampling it was missing from
  EXPECT_EQ(at(kT0 + 60000), 1u);
  // Coming back starts it again.
  fam.WithLabels({"b"}).Set(3);
  history.SampleNow(kT0 + 10000);
  EXPECT_EQ(at(kT0 + 10000), 2u);
}

TEST(MetricHistoryTest, RetentionBoundsTheRingAndGoneSeriesAgeOut) {
  Registry reg;
  Counter& c = reg.AddCounter("ticks_total", "Ticks.", {"k"}).WithLabels({"kept"});
  auto& fam = reg.AddGauge("short_lived", "Goes away.", {"k"});
  fam.WithLabels({"x"}).Set(1);
  MetricHistoryOptions opts;
  opts.interval_ms = 5000;
  opts.retention_ms = 10 * 60 * 1000;
  MetricHistory history(reg, opts);
  for (int i = 0; i < 2000; ++i) {
    if (i == 10) fam.Remove({"x"});
    c.Inc();
    history.SampleNow(kT0 + int64_t{i} * 5000);
  }
  const int64_t now = kT0 + 1999LL * 5000;
  auto samples = SelectAll(history, "ticks_total")[0].samples;
  // Whole chunks of 120 samples (10 minutes at 5 s) are dropped once all of them are older
  // than the retention: at most retention + one chunk is held.
  EXPECT_GE(samples.front().t, now - opts.retention_ms - 120 * 5000);
  EXPECT_LE(samples.size(), 120u + 120u + 1);
  EXPECT_EQ(samples.back().t, now);
  // The gauge that went away is forgotten entirely.
  EXPECT_TRUE(SelectAll(history, "short_lived").empty());
  MetricHistoryStats st = history.stats();
  EXPECT_EQ(st.series, 1u);
  EXPECT_EQ(st.samplings, 2000u);
  EXPECT_GE(st.oldest_ms, now - opts.retention_ms - 120 * 5000);
  EXPECT_EQ(st.newest_ms, now);
}

TEST(MetricHistoryTest, SeriesCapRefusesNewSeriesAndCountsThem) {
  Registry reg;
  auto& fam = reg.AddGauge("g", "G.", {"i"});
  for (int i = 0; i < 10; ++i) fam.WithLabels({std::to_string(i)}).Set(i);
  MetricHistoryOptions opts;
  opts.max_series = 4;
  MetricHistory history(reg, opts);
  history.SampleNow(kT0);
  history.SampleNow(kT0 + 5000);
  MetricHistoryStats st = history.stats();
  EXPECT_EQ(st.series, 4u);
  EXPECT_EQ(st.series_dropped, 6u);  // distinct series, not per sampling
  EXPECT_EQ(SelectAll(history, "g").size(), 4u);
}

TEST(MetricHistoryTest, MemoryBoundEvictsOldestChunksFirst) {
  Registry reg;
  auto& fam = reg.AddGauge("noise", "Random values compress badly.", {"i"});
  std::vector<Gauge*> gauges;
  for (int i = 0; i < 50; ++i) gauges.push_back(&fam.WithLabels({std::to_string(i)}));
  MetricHistoryOptions opts;
  opts.max_bytes = 256 << 10;
  MetricHistory history(reg, opts);
  uint64_t x = 88172645463325252ull;
  for (int s = 0; s < 1500; ++s) {
    for (Gauge* g : gauges) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
      g->Set(static_cast<double>(x % 1000003) / 7.0);
    }
    history.SampleNow(kT0 + int64_t{s} * 5000);
    ASSERT_LE(history.stats().bytes, opts.max_bytes) << s;
  }
  MetricHistoryStats st = history.stats();
  EXPECT_GT(st.chunks_evicted, 0u);
  EXPECT_EQ(st.series, 50u);
  // The newest data is kept.
  auto r = EvalInstant(history, "count(noise)", kT0 + 1499LL * 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->series[0].samples[0].v, 50);
}

TEST(MetricHistoryTest, OutOfOrderSamplingIsIgnored) {
  Registry reg;
  reg.AddGauge("g", "G.").WithLabels({}).Set(1);
  MetricHistory history(reg);
  history.SampleNow(kT0);
  history.SampleNow(kT0);
  history.SampleNow(kT0 - 1);
  EXPECT_EQ(history.stats().samplings_out_of_order, 2u);
  EXPECT_EQ(SelectAll(history, "g")[0].samples.size(), 1u);
}

TEST(MetricHistoryTest, SnapshotSurvivesARestart) {
  const std::string dir = testing::MakeTempDir("history-test");
  ASSERT_FALSE(dir.empty());
  Registry reg;
  Counter& c = reg.AddCounter("served_total", "Served.", {"route"}).WithLabels({"/a"});
  auto& gone = reg.AddGauge("gone", "Gone.", {"k"});
  gone.WithLabels({"x"}).Set(4);
  MetricHistoryOptions opts;
  opts.snapshot_path = dir + "/history.bin";
  {
    MetricHistory history(reg, opts);
    EXPECT_TRUE(history.LoadSnapshot().ok());  // no file yet
    for (int i = 0; i < 300; ++i) {
      c.Inc(i % 7);
      if (i == 200) gone.Remove({"x"});
      history.SampleNow(kT0 + int64_t{i} * 5000);
    }
    ASSERT_TRUE(history.SaveSnapshot().ok());
  }
  MetricHistory restored(reg, opts);
  ASSERT_TRUE(restored.LoadSnapshot().ok());
  auto a = EvalRange(restored, "rate(served_total[1m])", kT0, kT0 + 299LL * 5000, 15000);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->series.size(), 1u);
  EXPECT_GT(a->series[0].samples.size(), 90u);
  auto g = EvalInstant(restored, "gone", kT0 + 201LL * 5000);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->series.empty());  // its stale marker was saved too
  EXPECT_EQ(restored.stats().series, 2u);
  // Sampling continues after the loaded data; the gauge's series stays ended.
  restored.SampleNow(kT0 + 300LL * 5000);
  EXPECT_EQ(SelectAll(restored, "served_total")[0].samples.size(), 301u);

  // A torn file is refused, not half-loaded.
  {
    std::ifstream in(opts.snapshot_path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(opts.snapshot_path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size() / 2));
  }
  MetricHistory torn(reg, opts);
  Status s = torn.LoadSnapshot();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss) << s.ToString();
  EXPECT_EQ(torn.stats().series, 0u);
  std::remove(opts.snapshot_path.c_str());
  ::rmdir(dir.c_str());
}

TEST(MetricHistoryTest, ThreadSamplesOnItsOwnAndExposesItsMetrics) {
  Registry reg;
  reg.AddGauge("g", "G.").WithLabels({}).Set(1);
  MetricHistoryOptions opts;
  opts.interval_ms = 5;
  MetricHistory history(reg, opts);
  history.RegisterMetrics(reg);
  history.Start();
  history.Start();  // idempotent
  for (int i = 0; i < 400 && history.stats().samplings < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  history.Stop();
  history.Stop();
  EXPECT_GE(history.stats().samplings, 3u);
  const std::string text = reg.Expose();
  EXPECT_NE(text.find("\nshelfwatch_metric_history_series "), std::string::npos) << text;
  EXPECT_NE(text.find("shelfwatch_metric_history_samplings_total"), std::string::npos);
}

TEST(MetricHistoryTest, QueriesRunWhileSampling) {
  Registry reg;
  auto& fam = reg.AddCounter("hits_total", "Hits.", {"shard"});
  Histogram& lat = reg.AddHistogram("lat_seconds", "Latency.", {}, LatencyBuckets()).WithLabels({});
  MetricHistory history(reg);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> clock{kT0};
  std::thread recorder([&] {
    for (int i = 0; !stop; ++i) {
      fam.WithLabels({std::to_string(i % 8)}).Inc();
      lat.Observe((i % 100) / 1000.0);
    }
  });
  std::thread sampler([&] {
    for (int i = 0; i < 600; ++i) history.SampleNow(clock += 1000);
  });
  std::atomic<int> answered{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        const int64_t now = clock.load();
        auto a = EvalRange(history, "sum(rate(hits_total[30s]))", now - 120'000, now, 5000);
        auto b = EvalInstant(history, "histogram_quantile(0.9, rate(lat_seconds_bucket[1m]))", now);
        ASSERT_TRUE(a.ok() && b.ok());
        for (const auto& s : a->series) {
          for (const auto& p : s.samples) ASSERT_GE(p.v, 0);  // counters never decrease
        }
        ++answered;
      }
    });
  }
  sampler.join();
  stop = true;
  recorder.join();
  for (auto& t : readers) t.join();
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(history.stats().samplings, 600u);
}

}  // namespace
}  // namespace shelfwatch::monitor

namespace shelfwatch::monitor {
namespace {

// Memory and query cost at a realistic size; run with --gtest_also_run_disabled_tests.
// 50 latency histograms (LatencyBuckets: 20 series each), 100 counters and 20 gauges sampled
// every 5 s for 6 hours (4,320 samplings, ~4.8 M samples), then dashboard-style queries.
TEST(MetricHistoryCostTest, DISABLED_MeasureMemoryAndQueryCost) {
  Registry reg;
  auto& lat = reg.AddHistogram("cost_latency_seconds", "Latency.", {"route", "stage"}, LatencyBuckets());
  auto& req = reg.AddCounter("cost_requests_total", "Requests.", {"route", "code"});
  auto& gauge = reg.AddGauge("cost_queue_depth", "Depth.", {"worker"});
  std::vector<Histogram*> hs;
  std::vector<Counter*> cs;
  std::vector<Gauge*> gs;
  // Built with append: GCC 12 reports a false -Wrestrict for "literal" + std::string in
  // sanitizer builds.
  auto name = [](const char* prefix, int i) {
    std::string out(prefix);
    out.append(std::to_string(i));
    return out;
  };
  for (int r = 0; r < 10; ++r) {
    for (int s = 0; s < 5; ++s) hs.push_back(&lat.WithLabels({name("/r", r), name("s", s)}));
    for (int c = 0; c < 10; ++c) cs.push_back(&req.WithLabels({name("/r", r), std::to_string(200 + c)}));
  }
  for (int w = 0; w < 20; ++w) gs.push_back(&gauge.WithLabels({std::to_string(w)}));
  MetricHistoryOptions opts;
  opts.max_bytes = 512u << 20;
  MetricHistory history(reg, opts);
  std::mt19937_64 rng(3);
  const int64_t start = kT0;
  const int samplings = 6 * 3600 / 5;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < samplings; ++i) {
    for (Histogram* h : hs) {
      for (int k = static_cast<int>(rng() % 8); k > 0; --k) h->Observe(static_cast<double>(rng() % 100000) / 1e5);
    }
    for (Counter* c : cs) c->Inc(rng() % 30);
    for (Gauge* g : gs) g->Set(static_cast<double>(rng() % 50));
    history.SampleNow(start + int64_t{i} * 5000 + static_cast<int64_t>(rng() % 3));
  }
  const double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const MetricHistoryStats st = history.stats();
  std::printf("series %zu, samples %llu, bytes %zu (%.2f B/sample), %.3f ms per sampling\n", st.series,
              static_cast<unsigned long long>(st.samples_appended), st.bytes,
              static_cast<double>(st.bytes) / static_cast<double>(st.samples_appended), fill_s * 1000 / samplings);
  const int64_t end = start + int64_t{samplings - 1} * 5000;
  struct Q {
    const char* query;
    int64_t range_ms, step_ms;
  };
  const Q queries[] = {
      {"sum by (route) (rate(cost_requests_total[5m]))", 6 * 3600 * 1000, 60'000},
      {"histogram_quantile(0.99, sum by (le, route) (rate(cost_latency_seconds_bucket[5m])))", 6 * 3600 * 1000, 60'000},
      {"histogram_quantile(0.99, sum by (le, route) (rate(cost_latency_seconds_bucket[5m])))", 3600 * 1000, 15'000},
      {"sum(rate(cost_latency_seconds_sum[1m])) / sum(rate(cost_latency_seconds_count[1m]))", 3600 * 1000, 15'000},
      {"histogram_quantile(0.9, sum by (le) (rate(cost_latency_seconds_bucket[5m])))", 0, 0},
      {"cost_requests_total{code=\"500\"} > 100", 0, 0},
  };
  for (const Q& q : queries) {
    const auto a = std::chrono::steady_clock::now();
    size_t points = 0;
    if (q.range_ms == 0) {
      auto r = EvalInstant(history, q.query, end);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      points = r->series.size();
    } else {
      auto r = EvalRange(history, q.query, end - q.range_ms, end, q.step_ms);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      for (const auto& s : r->series) points += s.samples.size();
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
    std::printf("%8.2f ms  %6zu points  %s over %lld s step %lld s\n", ms, points, q.query,
                static_cast<long long>(q.range_ms / 1000), static_cast<long long>(q.step_ms / 1000));
  }
}

}  // namespace
}  // namespace shelfwatch::monitor
