// Text exposition format 0.0.4: exact output, escaping, number formatting, and acceptance by
// Prometheus' own parser and linter (`promtool check metrics`).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

TEST(TextFormatTest, ExactExpositionOfEveryKind) {
  Registry r;
  auto& requests = r.AddCounter("http_requests_total", "HTTP requests answered.", {"route", "code"});
  requests.WithLabels({"/v1/search", "200"}).Inc(7);
  requests.WithLabels({"/v1/events", "400"}).Inc();
  r.AddGauge("models_loaded", "Models loaded.").WithLabels({}).Set(2.5);
  Histogram& h = r.AddHistogram("request_duration_seconds", "Request latency.", {"route"},
                                {0.005, 0.1, 1})
                     .WithLabels({"/v1/search"});
  h.Observe(0.005);  // on the bound: counts in le="0.005"
  h.Observe(0.05);
  h.Observe(2);

  EXPECT_EQ(r.Expose(),
            "# HELP http_requests_total HTTP requests answered.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{route=\"/v1/events\",code=\"400\"} 1\n"
            "http_requests_total{route=\"/v1/search\",code=\"200\"} 7\n"
            "# HELP models_loaded Models loaded.\n"
            "# TYPE models_loaded gauge\n"
            "models_loaded 2.5\n"
            "# HELP request_duration_seconds Request latency.\n"
            "# TYPE request_duration_seconds histogram\n"
            "request_duration_seconds_bucket{route=\"/v1/search\",le=\"0.005\"} 1\n"
            "request_duration_seconds_bucket{route=\"/v1/search\",le=\"0.1\"} 2\n"
            "request_duration_seconds_bucket{route=\"/v1/search\",le=\"1\"} 2\n"
            "request_duration_seconds_bucket{route=\"/v1/search\",le=\"+Inf\"} 3\n"
            "request_duration_seconds_sum{route=\"/v1/search\"} 2.055\n"
            "request_duration_seconds_count{route=\"/v1/search\"} 3\n");
}

TEST(TextFormatTest, UnlabelledHistogramHasOnlyTheLeLabel) {
  Registry r;
  r.AddHistogram("batch_size", "Items per batch.", {}, {10}).WithLabels({}).Observe(4);
  EXPECT_EQ(r.Expose(),
            "# HELP batch_size Items per batch.\n"
            "# TYPE batch_size histogram\n"
            "batch_size_bucket{le=\"10\"} 1\n"
            "batch_size_bucket{le=\"+Inf\"} 1\n"
            "batch_size_sum 4\n"
            "batch_size_count 1\n");
}

TEST(TextFormatTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(C:\dir "quoted")" "\nnext"), R"(C:\\dir \"quoted\"\nnext)");
  EXPECT_EQ(EscapeHelp(R"(a\b "c")" "\nd"), R"(a\\b "c"\nd)");  // quotes stay in HELP
  EXPECT_EQ(EscapeLabelValue("plain ascii, ünïcödé, 中文"), "plain ascii, ünïcödé, 中文");

  Registry r;
  r.AddCounter("queries_total", "Queries, by \"kind\".\nSee docs\\queries.", {"query"})
      .WithLabels({"drill \"12\"\nbits\\"})
      .Inc();
  EXPECT_EQ(r.Expose(),
            "# HELP queries_total Queries, by \"kind\".\\nSee docs\\\\queries.\n"
            "# TYPE queries_total counter\n"
            "queries_total{query=\"drill \\\"12\\\"\\nbits\\\\\"} 1\n");
}

TEST(TextFormatTest, InvalidUtf8InLabelValuesBecomesReplacementCharacters) {
  // A scraper rejects the whole scrape when one label value is not UTF-8.
  EXPECT_EQ(EscapeLabelValue("ok\xff\xfe!"), "ok\xEF\xBF\xBD\xEF\xBF\xBD!");
  EXPECT_EQ(EscapeLabelValue("\xC3"), "\xEF\xBF\xBD");  // truncated sequence
}

TEST(TextFormatTest, NumbersParseInPrometheus) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(1e6), "1000000");                    // no exponent for integers
  EXPECT_EQ(FormatValue(18446744073709551616.0), "18446744073709551616");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");  // round-trips exactly
  EXPECT_EQ(FormatValue(0.0001), "0.0001");  // as Prometheus' Go clients write bucket bounds
  EXPECT_EQ(FormatValue(1e-7), "1e-07");
  EXPECT_EQ(FormatValue(1.5e21), "1.5e+21");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatValue(NAN), "NaN");
  EXPECT_EQ(std::stod(FormatValue(1.0 / 3)), 1.0 / 3);
}

TEST(TextFormatTest, FamiliesWithoutSeriesAreLeftOut) {
  Registry r;
  r.AddCounter("errors_total", "Errors.", {"reason"});
  EXPECT_EQ(r.Expose(), "");
}

// Runs `promtool check metrics` on `text`; returns its exit status and output.
std::pair<int, std::string> PromtoolCheckMetrics(const std::string& text) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("monitor_test_metrics_" + std::to_string(getpid()) + ".txt");
  std::ofstream(file) << text;
  const std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
  std::string output;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int status = pclose(p);
  std::filesystem::remove(file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(TextFormatTest, PromtoolAcceptsEveryKindIncludingProcessMetrics) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not found on PATH (Debian package 'prometheus'); "
                    "the exposition was not checked by Prometheus' parser";
  }
  Registry r;
  RegisterProcessCollector(r);
  auto& requests = r.AddCounter("shelfwatch_http_requests_total", "HTTP requests answered, by route and code.",
                                {"route", "code"});
  requests.WithLabels({"/v1/search", "200"}).Inc(12345678);
  requests.WithLabels({"/v1/search?q=\"drill\"\n\\x", "400"}).Inc();  // every escape at once
  requests.WithLabels({"bad utf8 \xff", "500"}).Inc();
  r.AddGauge("shelfwatch_models_loaded", "Model versions loaded.", {"model"}).WithLabels({"ranker"}).Set(-1.5);
  r.AddGauge("shelfwatch_score_drift_ratio", "A gauge holding special values.", {"kind"})
      .WithLabels({"nan"})
      .Set(NAN);
  auto& latency = r.AddHistogram("shelfwatch_stage_duration_seconds", "Stage latency.\nSecond \\line.",
                                 {"stage"}, LatencyBuckets());
  for (double v : {0.00005, 0.0003, 0.002, 0.2, 3.0, 60.0}) latency.WithLabels({"retrieve"}).Observe(v);
  latency.WithLabels({"rank"});  // an empty histogram series
  r.AddHistogram("shelfwatch_batch_size_items", "Items per batch.", {}, ExponentialBuckets(1, 2, 8))
      .WithLabels({})
      .Observe(5);
  r.AddCollector([](SnapshotWriter& w) {
    w.Header("shelfwatch_index_bytes", "Index size in bytes.", MetricType::kGauge);
    w.Sample({{"index", "homedepot"}}, 1.5e12);
    w.Header("shelfwatch_feature_value", "A histogram built by a collector.", MetricType::kHistogram);
    w.Sample({{"feature", "price"}}, HistogramSnapshot{{1, 10, 100}, {1, 5, 9, 10}, 10, 321.5});
  });

  const std::string text = r.Expose();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds", "process_threads"}) {
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name << " missing:\n" << text;
  }
  const auto [status, output] = PromtoolCheckMetrics(text);
  EXPECT_EQ(status, 0) << output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(output, "") << "promtool lint findings:\n" << output;
}

}  // namespace
}  // namespace shelfwatch::monitor
