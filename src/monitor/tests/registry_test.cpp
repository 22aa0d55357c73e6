// Registry: labelled families, Collect() snapshots, collectors, and refusal of bad names.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

const MetricFamilySnapshot* Find(const std::vector<MetricFamilySnapshot>& families, std::string_view name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(RegistryTest, LabelledFamilyKeepsOneSeriesPerLabelValues) {
  Registry r;
  auto& requests = r.AddCounter("http_requests_total", "HTTP requests answered.", {"route", "code"});
  Counter& search_ok = requests.WithLabels({"/v1/search", "200"});
  search_ok.Inc(3);
  requests.WithLabels({"/v1/search", "200"}).Inc();  // same child
  requests.WithLabels({"/v1/events", "400"}).Inc(2);
  EXPECT_EQ(&search_ok, &requests.WithLabels({"/v1/search", "200"}));
  EXPECT_EQ(requests.size(), 2u);

  const auto families = r.Collect();
  const MetricFamilySnapshot* f = Find(families, "http_requests_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kCounter);
  EXPECT_EQ(f->help, "HTTP requests answered.");
  ASSERT_EQ(f->series.size(), 2u);
  // Sorted by label values.
  EXPECT_EQ(f->series[0].labels, (LabelPairs{{"route", "/v1/events"}, {"code", "400"}}));
  EXPECT_EQ(f->series[0].value, 2);
  EXPECT_EQ(f->series[1].labels, (LabelPairs{{"route", "/v1/search"}, {"code", "200"}}));
  EXPECT_EQ(f->series[1].value, 4);
}

TEST(RegistryTest, UnlabelledFamiliesAreExposedFromTheStart) {
  Registry r;
  r.AddCounter("jobs_total", "Jobs run.");
  r.AddGauge("queue_depth", "Queued jobs.");
  r.AddHistogram("job_duration_seconds", "Job duration.", {}, {1, 10});
  const auto families = r.Collect();
  ASSERT_EQ(families.size(), 3u);
  for (const auto& f : families) {
    ASSERT_EQ(f.series.size(), 1u) << f.name;
    EXPECT_TRUE(f.series[0].labels.empty());
    EXPECT_EQ(f.series[0].value, 0);
  }
  EXPECT_EQ(Find(families, "job_duration_seconds")->series[0].histogram.cumulative,
            (std::vector<uint64_t>{0, 0, 0}));
}

TEST(RegistryTest, CollectSortsFamiliesByNameAcrossKindsAndCollectors) {
  Registry r;
  r.AddGauge("zeta", "z");
  r.AddHistogram("alpha_seconds", "a", {}, {1});
  r.AddCounter("mid_total", "m");
  r.AddCollector([](SnapshotWriter& w) {
    w.Header("beta", "b", MetricType::kGauge);
    w.Sample({}, 1);
  });
  std::vector<std::string> names;
  for (const auto& f : r.Collect()) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha_seconds", "beta", "mid_total", "zeta"}));
}

TEST(RegistryTest, HistogramSeriesCarryBucketsSumAndCount) {
  Registry r;
  auto& latency = r.AddHistogram("stage_duration_seconds", "Stage latency.", {"stage"}, {0.1, 1});
  Histogram& retrieve = latency.WithLabels({"retrieve"});
  retrieve.Observe(0.05);
  retrieve.Observe(0.5);
  retrieve.Observe(5);
  const auto families = r.Collect();
  const auto& s = Find(families, "stage_duration_seconds")->series.at(0);
  EXPECT_EQ(s.labels, (LabelPairs{{"stage", "retrieve"}}));
  EXPECT_EQ(s.histogram.bounds, (std::vector<double>{0.1, 1}));
  EXPECT_EQ(s.histogram.cumulative, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(s.histogram.count, 3u);
  EXPECT_DOUBLE_EQ(s.histogram.sum, 5.55);
}

TEST(RegistryTest, RegisteringAgainReturnsTheSameFamily) {
  Registry r;
  auto& a = r.AddCounter("errors_total", "Errors.", {"reason"});
  auto& b = r.AddCounter("errors_total", "Errors.", {"reason"});
  EXPECT_EQ(&a, &b);
  auto& h1 = r.AddHistogram("x_seconds", "X.", {}, {1, 2});
  auto& h2 = r.AddHistogram("x_seconds", "X.", {}, {1, 2, INFINITY});  // same buckets
  EXPECT_EQ(&h1, &h2);
}

TEST(RegistryTest, RemovedChildDisappearsButItsReferenceStaysUsable) {
  Registry r;
  auto& docs = r.AddGauge("catalog_documents", "Documents per catalog.", {"catalog"});
  Gauge& old = docs.WithLabels({"homedepot"});
  old.Set(100);
  docs.Remove({"homedepot"});
  EXPECT_TRUE(Find(r.Collect(), "catalog_documents")->series.empty());
  EXPECT_EQ(r.Expose().find("catalog_documents"), std::string::npos);  // no series, no lines
  old.Set(5);                                                           // a late writer: harmless
  EXPECT_EQ(docs.WithLabels({"homedepot"}).Value(), 0);                 // a fresh child
}

TEST(RegistryTest, CollectorFamiliesMergeWithSameTypeAndAreDroppedOtherwise) {
  Registry r;
  r.AddGauge("index_documents", "Documents in an index.", {"index"}).WithLabels({"main"}).Set(7);
  r.AddCollector([](SnapshotWriter& w) {
    w.Header("index_documents", "Documents in an index.", MetricType::kGauge);
    w.Sample({{"index", "shadow"}}, 3);
    w.Header("queue_depth", "Queued.", MetricType::kGauge);
    w.Sample({}, 1);
  });
  r.AddCollector([](SnapshotWriter& w) {
    w.Header("queue_depth", "Queued.", MetricType::kCounter);  // wrong type and no _total
    w.Sample({}, 9);
    w.Header("index_documents", "Documents.", MetricType::kHistogram);  // type clash
    w.Sample({}, HistogramSnapshot{{1}, {0, 0}, 0, 0});
  });
  const auto families = r.Collect();
  const auto* docs = Find(families, "index_documents");
  ASSERT_NE(docs, nullptr);
  EXPECT_EQ(docs->type, MetricType::kGauge);
  ASSERT_EQ(docs->series.size(), 2u);
  EXPECT_EQ(docs->series[1].labels, (LabelPairs{{"index", "shadow"}}));
  const auto* queue = Find(families, "queue_depth");
  ASSERT_NE(queue, nullptr);
  ASSERT_EQ(queue->series.size(), 1u);
  EXPECT_EQ(queue->series[0].value, 1);
}

TEST(RegistryTest, DuplicateCollectorSeriesAreLeftOut) {
  // Registering the process collector twice must not produce a scrape Prometheus rejects.
  Registry r;
  RegisterProcessCollector(r);
  RegisterProcessCollector(r);
  r.AddGauge("pool_size", "Threads in a pool.", {"pool", "kind"}).WithLabels({"io", "fixed"}).Set(2);
  r.AddCollector([](SnapshotWriter& w) {
    w.Header("pool_size", "Threads in a pool.", MetricType::kGauge);
    w.Sample({{"kind", "fixed"}, {"pool", "io"}}, 99);  // same series, labels in another order
    w.Sample({{"pool", "cpu"}, {"kind", "fixed"}}, 4);
  });
  const auto families = r.Collect();
  for (const auto& f : families) {
    if (f.name.starts_with("process_")) {
      EXPECT_EQ(f.series.size(), 1u) << f.name;
    }
  }
  const auto* pool = Find(families, "pool_size");
  ASSERT_EQ(pool->series.size(), 2u);
  EXPECT_EQ(pool->series[0].value, 2);  // the registered child wins
  EXPECT_EQ(pool->series[1].value, 4);
}

TEST(SnapshotWriterTest, ReportsTheFirstMistakeAndKeepsTheRest) {
  SnapshotWriter w;
  w.Sample({}, 1);  // before any Header
  w.Header("bad name", "x", MetricType::kGauge);
  w.Sample({}, 2);
  w.Header("good", "Good.", MetricType::kGauge);
  w.Sample({{"__reserved", "x"}}, 3);
  w.Sample({{"ok", "x"}}, 4);
  w.Header("lat_seconds", "Latency.", MetricType::kHistogram);
  w.Sample({}, HistogramSnapshot{{2, 1}, {1, 2, 3}, 3, 1});  // bounds not increasing
  w.Sample({{"le", "1"}}, HistogramSnapshot{{1}, {1, 2}, 2, 1});
  w.Sample({}, HistogramSnapshot{{1}, {1, 2}, 0, 1.5});
  EXPECT_EQ(w.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(w.status().message().find("sample before any Header"), std::string::npos) << w.status().ToString();

  const auto families = w.TakeFamilies();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "good");
  ASSERT_EQ(families[0].series.size(), 1u);
  EXPECT_EQ(families[0].series[0].value, 4);
  ASSERT_EQ(families[1].series.size(), 1u);
  EXPECT_EQ(families[1].series[0].histogram.count, 2u);  // taken from the +Inf bucket
}

TEST(RegistryTest, RecordingRegisteringAndScrapingConcurrently) {
  Registry r;
  auto& hits = r.AddCounter("cache_hits_total", "Cache hits.", {"cache"});
  std::atomic<bool> done{false};
  std::atomic<bool> went_backwards{false};
  std::thread scraper([&] {
    double last = 0;
    while (!done.load()) {
      double total = 0;
      for (const auto& f : r.Collect()) {
        if (f.name != "cache_hits_total") continue;
        for (const auto& s : f.series) total += s.value;
      }
      if (total < last) went_backwards = true;
      last = total;
      r.Expose();
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      auto& mine = r.AddHistogram("worker_seconds", "Work.", {"worker"}, {0.5});
      Histogram& h = mine.WithLabels({std::to_string(t)});
      for (int i = 0; i < 20'000; ++i) {
        hits.WithLabels({i % 2 ? "l1" : "l2"}).Inc();
        h.Observe(0.25);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  const auto families = r.Collect();
  const auto* f = Find(families, "cache_hits_total");
  ASSERT_EQ(f->series.size(), 2u);
  EXPECT_EQ(f->series[0].value + f->series[1].value, 80'000);
  EXPECT_FALSE(went_backwards);
  EXPECT_EQ(Find(families, "worker_seconds")->series.size(), 4u);
}

TEST(RegistryDeathTest, ProgrammingErrorsAbortWithAClearMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  auto& f = r.AddCounter("requests_total", "Requests.", {"route", "code"});
  EXPECT_DEATH(f.WithLabels({"/v1/search"}),
               "metric 'requests_total' has 2 label names \\(route, code\\) but WithLabels got 1 values");
  r.AddGauge("queue_depth", "Queued.");
  EXPECT_DEATH(r.AddHistogram("queue_depth", "Queued.", {}, {1}), "already registered with another type");
  EXPECT_DEATH(r.AddCounter("requests_total", "Requests.", {"route"}), "other label names");
  EXPECT_DEATH(r.AddCounter("requests", "Requests."), "counter 'requests' must end in _total");
  EXPECT_DEATH(r.AddGauge("inflight_total", "x"), "must not end in _total");
  EXPECT_DEATH(r.AddGauge("bad-name", "x"), "invalid metric name 'bad-name'");
  EXPECT_DEATH(r.AddGauge("nohelp", ""), "needs a help text");
  EXPECT_DEATH(r.AddGauge("g", "x", {"a", "a"}), "appears twice");
  EXPECT_DEATH(r.AddGauge("g", "x", {"__name__"}), "label name '__name__' is invalid");
  EXPECT_DEATH(r.AddHistogram("h_seconds", "x", {"le"}, {1}), "reserved for histogram buckets");
  r.AddHistogram("lat_seconds", "x", {}, {1, 2});
  EXPECT_DEATH(r.AddHistogram("lat_seconds", "x", {}, {1, 3}), "other bucket bounds");
}

TEST(NameRulesTest, MetricAndLabelNames) {
  EXPECT_TRUE(IsValidMetricName("shelfwatch_http_requests_total"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("a.b"));
  EXPECT_TRUE(IsValidLabelName("route"));
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("1a"));
}

}  // namespace
}  // namespace shelfwatch::monitor
