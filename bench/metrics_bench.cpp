// Cost of recording a metric on the request path, 1 and 2 threads hammering the same series:
// shelfwatch::monitor (sharded cells) side by side with prometheus-cpp (when installed), plus
// the cost of a scrape (Collect / Expose) for a registry the size of a serving process.
//
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build metrics_bench
//   build/bench/metrics_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// With ->Threads(n), Google Benchmark reports "Time" as wall time divided by the operations of
// all threads (the inverse of items_per_second, the combined throughput: perfect scaling halves
// it at 2 threads) and "CPU" as CPU time per operation (the cost a request pays).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "monitor/metrics.h"

#ifdef SHELFWATCH_HAVE_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#endif

namespace {

namespace monitor = shelfwatch::monitor;

// 16384 latencies spread log-uniformly over 20 us .. 20 s, so every bucket (and +Inf) is hit
// in an order the branch predictor cannot learn (a short cycle of values would be learned and
// flatter any search that branches).
constexpr size_t kValues = 1 << 14;
const std::vector<double>& Latencies() {
  static const std::vector<double> values = [] {
    std::vector<double> v(kValues);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (double& d : v) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;  // Knuth's MMIX LCG
      const double u = static_cast<double>(x >> 11) / 9007199254740992.0;  // [0, 1)
      d = 2e-5 * std::pow(1e6, u);
    }
    return v;
  }();
  return values;
}

monitor::Registry& OurRegistry() {
  static monitor::Registry registry;
  return registry;
}

void BM_Counter_Inc_Shelfwatch(benchmark::State& state) {
  static monitor::Counter& c =
      OurRegistry().AddCounter("bench_requests_total", "Requests.", {"route"}).WithLabels({"/v1/search"});
  for (auto _ : state) c.Inc();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Counter_Inc_Shelfwatch)->Threads(1)->Threads(2)->UseRealTime();

void BM_Histogram_Observe_Shelfwatch(benchmark::State& state) {
  static monitor::Histogram& h =
      OurRegistry()
          .AddHistogram("bench_duration_seconds", "Latency.", {"route"}, monitor::LatencyBuckets())
          .WithLabels({"/v1/search"});
  const auto& values = Latencies();
  size_t i = 0;
  for (auto _ : state) h.Observe(values[i++ & (kValues - 1)]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_Observe_Shelfwatch)->Threads(1)->Threads(2)->UseRealTime();

#ifdef SHELFWATCH_HAVE_PROMETHEUS_CPP
prometheus::Registry& PeerRegistry() {
  static prometheus::Registry registry;
  return registry;
}

void BM_Counter_Inc_PrometheusCpp(benchmark::State& state) {
  static prometheus::Counter& c = prometheus::BuildCounter()
                                      .Name("bench_requests_total")
                                      .Help("Requests.")
                                      .Register(PeerRegistry())
                                      .Add({{"route", "/v1/search"}});
  for (auto _ : state) c.Increment();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Counter_Inc_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

void BM_Histogram_Observe_PrometheusCpp(benchmark::State& state) {
  static prometheus::Histogram& h = prometheus::BuildHistogram()
                                        .Name("bench_duration_seconds")
                                        .Help("Latency.")
                                        .Register(PeerRegistry())
                                        .Add({{"route", "/v1/search"}}, monitor::LatencyBuckets());
  const auto& values = Latencies();
  size_t i = 0;
  for (auto _ : state) h.Observe(values[i++ & (kValues - 1)]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_Observe_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();
#endif

// A scrape of a registry shaped like a serving process: 20 counter families x 20 series and
// 10 latency histogram families x 10 series (500 series, 1900 exposition lines).
monitor::Registry& ScrapeRegistry() {
  static monitor::Registry* registry = [] {
    auto* r = new monitor::Registry;
    for (int f = 0; f < 20; ++f) {
      auto& fam = r->AddCounter("bench_counter_" + std::to_string(f) + "_total", "Counter.", {"route", "code"});
      for (int s = 0; s < 20; ++s) fam.WithLabels({"/r" + std::to_string(s), "200"}).Inc(s);
    }
    for (int f = 0; f < 10; ++f) {
      auto& fam = r->AddHistogram("bench_hist_" + std::to_string(f) + "_seconds", "Latency.", {"stage"},
                                  monitor::LatencyBuckets());
      for (int s = 0; s < 10; ++s) fam.WithLabels({"stage" + std::to_string(s)}).Observe(0.001 * s);
    }
    return r;
  }();
  return *registry;
}

void BM_Registry_Collect(benchmark::State& state) {
  const monitor::Registry& r = ScrapeRegistry();
  for (auto _ : state) benchmark::DoNotOptimize(r.Collect());
}
BENCHMARK(BM_Registry_Collect);

void BM_Registry_Expose(benchmark::State& state) {
  const monitor::Registry& r = ScrapeRegistry();
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = r.Expose();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_Registry_Expose);

}  // namespace

BENCHMARK_MAIN();
