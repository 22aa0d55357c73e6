// Same answers as the real Prometheus on the same data.
//
// A registry is driven through one hour at ~15 s (counters, gauges, histograms; jittered
// sampling times, a two-minute pause, a counter reset, series that start late). Each sampling
// goes into a MetricHistory and, as OpenMetrics text with timestamps, into a file that
// `promtool tsdb create-blocks-from openmetrics` turns into TSDB blocks. Prometheus (Debian's
// /usr/bin/prometheus, loopback only, no scrape targets) is started on those blocks, and every
// query below is asked of both through the HTTP API: Prometheus' /api/v1/query_range and
// /api/v1/query against our HandleQueryRange / HandleQuery on the history. Every series and
// every point must agree (values within 1e-9 relative; NaN and infinities exactly).
//
// What this cannot compare: staleness of a series that ends (OpenMetrics has no stale
// markers), which promql_engine_test checks by hand.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "common/clock.h"
#include "monitor/history/metric_history.h"
#include "monitor/history/query_api.h"
#include "support/test_server.h"

namespace shelfwatch::monitor {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr double kRelTolerance = 1e-9;

using testing::FreeLoopbackPort;

testing::HttpReply Get10(int port, const std::string& target) { return testing::Http10(port, "GET", target); }

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return out;
}

// A Prometheus process on loopback over a TSDB directory, stopped when this goes away.
class PrometheusServer {
 public:
  ~PrometheusServer() { Stop(); }

  bool Start(const std::string& dir, std::string* why) {
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 15s\n";  // no scrape targets
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreeLoopbackPort();
      std::vector<std::string> args = {kPrometheus,
                                       "--config.file=" + config,
                                       "--storage.tsdb.path=" + dir + "/data",
                                       "--storage.tsdb.retention.time=30d",
                                       "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                       "--log.level=warn"};
      log_ = dir + "/prometheus.log";
      pid_ = ::fork();
      if (pid_ == 0) {
        const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      for (int i = 0; i < 300; ++i) {
        if (Get10(port_, "/-/ready").status == 200) return true;
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;  // exited (port taken?): try another port
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      Stop();
    }
    std::ifstream in(log_);
    *why = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

// Collects registry snapshots as OpenMetrics text with timestamps. Every metric name is its
// own family of unknown type (no TYPE lines), each series' samples in time order.
class OpenMetricsRecorder {
 public:
  void Record(const std::vector<MetricFamilySnapshot>& families, int64_t t_ms) {
    char ts[32];
    std::snprintf(ts, sizeof ts, " %lld.%03lld", static_cast<long long>(t_ms / 1000),
                  static_cast<long long>(t_ms % 1000));
    for (const auto& fam : families) {
      for (const auto& s : fam.series) {
        auto add = [&](const std::string& name, const std::string& extra, const std::string& value) {
          std::string labels;
          for (const auto& [n, v] : s.labels) labels += (labels.empty() ? "" : ",") + n + "=\"" + EscapeLabelValue(v) + "\"";
          if (!extra.empty()) labels += (labels.empty() ? "" : ",") + extra;
          lines_[name][labels.empty() ? "" : "{" + labels + "}"].push_back(value + ts);
        };
        if (fam.type != MetricType::kHistogram) {
          add(fam.name, "", FormatValue(s.value));
          continue;
        }
        const auto& h = s.histogram;
        for (size_t i = 0; i < h.cumulative.size(); ++i) {
          const std::string le = i < h.bounds.size() ? FormatValue(h.bounds[i]) : "+Inf";
          add(fam.name + "_bucket", "le=\"" + le + "\"", std::to_string(h.cumulative[i]));
        }
        add(fam.name + "_sum", "", FormatValue(h.sum));
        add(fam.name + "_count", "", std::to_string(h.count));
      }
    }
  }

  std::string Render() const {
    std::string out;
    for (const auto& [name, series] : lines_) {
      for (const auto& [labels, samples] : series) {
        for (const auto& s : samples) out += name + labels + " " + s + "\n";
      }
    }
    return out + "# EOF\n";
  }

 private:
  std::map<std::string, std::map<std::string, std::vector<std::string>>> lines_;
};

// An API answer reduced to comparable form: resultType and labels -> points.
struct Answer {
  std::string status, error_type, error, result_type;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> series;
};

Answer ParseAnswer(const std::string& body) {
  Answer a;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) {
    a.status = "unparseable: " + body.substr(0, 200);
    return a;
  }
  std::string_view sv;
  if (doc["status"].get(sv) == simdjson::SUCCESS) a.status = std::string(sv);
  if (a.status != "success") {
    if (doc["errorType"].get(sv) == simdjson::SUCCESS) a.error_type = std::string(sv);
    if (doc["error"].get(sv) == simdjson::SUCCESS) a.error = std::string(sv);
    return a;
  }
  if (doc["data"]["resultType"].get(sv) == simdjson::SUCCESS) a.result_type = std::string(sv);
  auto point = [](simdjson::dom::element p) {
    double ts = 0;
    std::string_view v;
    if (p.at(0).get_double().get(ts) != simdjson::SUCCESS || p.at(1).get(v) != simdjson::SUCCESS) {
      return std::make_pair(int64_t{-1}, 0.0);
    }
    return std::make_pair(static_cast<int64_t>(std::llround(ts * 1000)), std::strtod(std::string(v).c_str(), nullptr));
  };
  simdjson::dom::element result = doc["data"]["result"];
  if (a.result_type == "scalar") {
    a.series["scalar"].push_back(point(result));
    return a;
  }
  for (simdjson::dom::element item : result.get_array()) {
    std::string key = "{";
    for (auto field : item["metric"].get_object()) {
      std::string_view v;
      if (field.value.get(v) != simdjson::SUCCESS) v = "<not a string>";
      key += std::string(field.key) + "=\"" + std::string(v) + "\",";
    }
    key += "}";
    auto& points = a.series[key];
    if (a.result_type == "vector") {
      points.push_back(point(item["value"]));
    } else {
      for (simdjson::dom::element p : item["values"].get_array()) points.push_back(point(p));
    }
  }
  return a;
}

bool Close(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  if (std::isinf(a) || std::isinf(b)) return false;
  return std::fabs(a - b) <= kRelTolerance * std::max(std::fabs(a), std::fabs(b)) || std::fabs(a - b) < 1e-300;
}

// Compares two answers; returns the number of points compared.
size_t ExpectSameAnswer(const std::string& what, const Answer& theirs, const Answer& ours) {
  EXPECT_EQ(ours.status, theirs.status) << what << "\nPrometheus error: " << theirs.error << "\nour error: " << ours.error;
  if (theirs.status != "success" || ours.status != "success") {
    EXPECT_EQ(ours.error_type, theirs.error_type) << what;
    return 0;
  }
  EXPECT_EQ(ours.result_type, theirs.result_type) << what;
  std::string their_keys, our_keys;
  for (const auto& [k, v] : theirs.series) their_keys += k + " ";
  for (const auto& [k, v] : ours.series) our_keys += k + " ";
  EXPECT_EQ(our_keys, their_keys) << what;
  size_t compared = 0;
  for (const auto& [key, points] : theirs.series) {
    auto it = ours.series.find(key);
    if (it == ours.series.end()) continue;
    const auto& mine = it->second;
    EXPECT_EQ(mine.size(), points.size()) << what << " " << key;
    size_t mismatches = 0;
    for (size_t i = 0; i < std::min(mine.size(), points.size()); ++i) {
      ++compared;
      if (mine[i].first != points[i].first || !Close(mine[i].second, points[i].second)) {
        if (++mismatches <= 3) {
          ADD_FAILURE() << what << " " << key << " point " << i << ": Prometheus (" << points[i].first << ", "
                        << FormatApiValue(points[i].second) << ") vs ours (" << mine[i].first << ", "
                        << FormatApiValue(mine[i].second) << ")";
        }
      }
    }
    EXPECT_EQ(mismatches, 0u) << what << " " << key;
  }
  return compared;
}

// Range queries compared over two windows; the second has an odd step off the sample grid.
const char* const kRangeQueries[] = {
    // Selectors and matchers.
    "compat_requests_total",
    "compat_requests_total{route=~\"/s.*\", code!=\"500\"}",
    "{__name__=~\"compat_.*_total\"}",
    "compat_inflight offset 2m",
    "compat_latency_seconds_bucket{le=\"0.1\"}",
    // Rates: extrapolation, the pause, the reset, the late series.
    "rate(compat_requests_total[1m])",
    "rate(compat_requests_total[5m])",
    "rate(compat_requests_total[45s])",
    "irate(compat_requests_total[1m])",
    "increase(compat_requests_total[2m])",
    "increase(compat_requests_total[10m])",
    "delta(compat_inflight[2m])",
    "idelta(compat_inflight[1m])",
    "rate(compat_requests_total[1m] offset 1m)",
    // Over time.
    "avg_over_time(compat_inflight[5m])",
    "sum_over_time(compat_inflight[2m])",
    "min_over_time(compat_inflight[3m])",
    "max_over_time(compat_inflight[3m])",
    "count_over_time(compat_requests_total[3m])",
    "last_over_time(compat_inflight[1m])",
    // Aggregations.
    "sum by (route) (rate(compat_requests_total[5m]))",
    "sum without (code) (rate(compat_requests_total[5m]))",
    "sum(rate(compat_latency_seconds_count[5m])) by (route)",
    "avg by (route) (compat_inflight)",
    "min(compat_inflight)",
    "max by (code) (compat_requests_total)",
    "count by (code) (compat_requests_total)",
    "group by (route) (compat_requests_total)",
    "stddev(compat_inflight)",
    "stdvar(rate(compat_requests_total[2m]))",
    // Histograms.
    "histogram_quantile(0.9, sum by (le) (rate(compat_latency_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(compat_latency_seconds_bucket[1m]))",
    "histogram_quantile(0.99, sum by (le, route) (rate(compat_latency_seconds_bucket[2m])))",
    "histogram_quantile(0.25, compat_latency_seconds_bucket)",
    "rate(compat_latency_seconds_sum[5m]) / rate(compat_latency_seconds_count[5m])",
    // Arithmetic and comparisons.
    "compat_inflight * 2 - 1",
    "compat_requests_total % 7",
    "compat_inflight ^ 2",
    "2 ^ compat_inflight",
    "-compat_inflight",
    "compat_inflight > 10",
    "compat_inflight > bool 10",
    "5 < compat_inflight",
    "compat_inflight == bool 0.25",
    "compat_requests_total{code=\"500\"} / ignoring(code) compat_requests_total{code=\"200\"}",
    "compat_requests_total / on(route) group_left compat_inflight",
    "compat_inflight * on(route) group_right compat_requests_total",
    "sum by (route) (compat_requests_total) > on(route) compat_inflight",
    "count(compat_requests_total) by (route) > bool 1",
    // Set operators.
    "compat_inflight and compat_inflight > 5",
    "compat_inflight unless compat_inflight < 0",
    "compat_inflight > 15 or compat_inflight < 0",
    "rate(compat_requests_total{route=\"/events\"}[1m]) or vector(0)",
    "compat_requests_total and on(route) compat_inflight > 10",
    // Functions and scalars.
    "abs(compat_inflight - 10)",
    "clamp_min(compat_inflight, 2)",
    "clamp_max(compat_inflight, 2)",
    "clamp(compat_inflight, 0, 10)",
    "sqrt(compat_inflight)",
    "ln(compat_inflight)",
    "ceil(compat_inflight / 3)",
    "floor(compat_inflight / 3)",
    "sgn(compat_inflight)",
    "exp(compat_inflight / 10)",
    "log2(compat_requests_total)",
    "log10(compat_requests_total)",
    "time() - 1700000000",
    "scalar(sum(compat_inflight))",
    "vector(1) + 1",
    "compat_inflight - scalar(min(compat_inflight))",
    "absent(compat_missing{job=\"x\"})",
    "absent(compat_inflight)",
    "(1 + 2) * 3 ^ 2",
    // Errors on this data.
    "{__name__=~\"compat_latency_seconds_sum|compat_latency_seconds_count\"} * 1",
    "compat_inflight / on() compat_requests_total",
};

// Instant queries at a few times, including raw range selectors (matrix answers).
const char* const kInstantQueries[] = {
    "compat_requests_total[1m]",
    "compat_latency_seconds_bucket[45s]",
    "compat_inflight",
    "rate(compat_requests_total[5m])",
    "histogram_quantile(0.9, sum by (le) (rate(compat_latency_seconds_bucket[5m])))",
    "sum(compat_inflight)",
    "scalar(sum(compat_inflight))",
    "1 + 1",
};

TEST(PrometheusCompatTest, SameAnswersAsPrometheus) {
  if (::access(kPrometheus, X_OK) != 0 || ::access(kPromtool, X_OK) != 0) {
    GTEST_SKIP() << kPrometheus << " or " << kPromtool << " is not installed (Debian package 'prometheus'); "
                 << "the comparison with the real Prometheus cannot run";
  }
  const auto started = std::chrono::steady_clock::now();

  // 1. One hour of data, three hours ago, on the hour (inside Prometheus' retention).
  const int64_t base = (UnixMillis() / 3'600'000 - 3) * 3'600'000;
  Registry reg;
  auto& requests = reg.AddCounter("compat_requests_total", "Requests.", {"route", "code"});
  auto& inflight = reg.AddGauge("compat_inflight", "In flight.", {"route"});
  auto& latency = reg.AddHistogram("compat_latency_seconds", "Latency.", {"route"}, {0.01, 0.05, 0.1, 0.5, 1});
  Counter* search_ok = &requests.WithLabels({"/search", "200"});
  Counter* search_err = &requests.WithLabels({"/search", "500"});
  Counter* events_ok = nullptr;
  MetricHistoryOptions opts;
  opts.interval_ms = 15'000;
  MetricHistory history(reg, opts);
  OpenMetricsRecorder recorder;
  std::mt19937_64 rng(20240601);
  // Whole multiples of 250 ms: OpenMetrics timestamps are float seconds, and these convert to
  // milliseconds exactly.
  const int64_t jitter[] = {0, 0, 0, 250, -750, 1000, 2500};
  for (int tick = 0; tick <= 240; ++tick) {
    if (tick >= 100 && tick < 108) continue;  // a two-minute pause of the sampler
    if (tick == 80) events_ok = &requests.WithLabels({"/events", "200"});
    if (tick == 150) {
      // The process restarts the counter: the same series, its value back near zero.
      requests.Remove({"/search", "200"});
      search_ok = &requests.WithLabels({"/search", "200"});
    }
    search_ok->Inc(rng() % 20);
    if (rng() % 3 == 0) search_err->Inc();
    if (events_ok != nullptr) events_ok->Inc(rng() % 10);
    inflight.WithLabels({"/search"}).Set(static_cast<double>(rng() % 100) / 4 - 5);
    if (tick >= 80) inflight.WithLabels({"/events"}).Set(static_cast<double>(rng() % 10));
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) {
      latency.WithLabels({"/search"}).Observe(static_cast<double>(rng() % 1200 + 1) / 1000);
    }
    if (tick >= 80) latency.WithLabels({"/events"}).Observe(static_cast<double>(rng() % 300 + 1) / 1000);
    const int64_t t = base + int64_t{tick} * 15'000 + jitter[rng() % std::size(jitter)];
    history.SampleNow(t);
    recorder.Record(reg.Collect(), t);
  }

  // 2. The same data as TSDB blocks, and Prometheus on them.
  const std::string dir = testing::MakeTempDir("prometheus-compat");
  ASSERT_FALSE(dir.empty());
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string om_file = dir + "/data.om";
  std::ofstream(om_file) << recorder.Render();
  std::string promtool_out;
  ASSERT_EQ(testing::RunCommand({kPromtool, "tsdb", "create-blocks-from", "openmetrics", om_file, dir + "/data"},
                                &promtool_out),
            0)
      << promtool_out;
  PrometheusServer prometheus;
  std::string why;
  ASSERT_TRUE(prometheus.Start(dir, &why)) << "Prometheus did not become ready:\n" << why;

  // 3. Ask both.
  struct Window {
    int64_t start, end, step;
  };
  const Window windows[] = {{base, base + 70 * 60'000, 15'000}, {base + 7'000, base + 70 * 60'000, 37'000}};
  size_t points = 0;
  for (const char* q : kRangeQueries) {
    for (const Window& w : windows) {
      const std::string start = FormatApiTimestamp(w.start), end = FormatApiTimestamp(w.end);
      const std::string step = FormatApiValue(static_cast<double>(w.step) / 1000);
      testing::HttpReply theirs = Get10(prometheus.port(), "/api/v1/query_range?query=" + UrlEncode(q) +
                                                               "&start=" + start + "&end=" + end + "&step=" + step);
      ASSERT_NE(theirs.status, 0) << "no answer from Prometheus for " << q;
      HttpAnswer ours = HandleQueryRange(history, {{"query", q}, {"start", start}, {"end", end}, {"step", step}});
      EXPECT_EQ(ours.status, theirs.status) << q;
      points += ExpectSameAnswer(std::string("query_range ") + q + " step " + step, ParseAnswer(theirs.body),
                                 ParseAnswer(ours.body));
    }
  }
  for (const char* q : kInstantQueries) {
    for (int64_t at : {base + 30 * 60'000, base + 37 * 60'000 + 7'250, base + 63 * 60'000}) {
      const std::string time = FormatApiTimestamp(at);
      testing::HttpReply theirs =
          Get10(prometheus.port(), "/api/v1/query?query=" + UrlEncode(q) + "&time=" + time);
      HttpAnswer ours = HandleQuery(history, {{"query", q}, {"time", time}});
      EXPECT_EQ(ours.status, theirs.status) << q;
      points += ExpectSameAnswer(std::string("query ") + q + " at " + time, ParseAnswer(theirs.body),
                                 ParseAnswer(ours.body));
    }
  }
  prometheus.Stop();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("compared %zu points of %zu range and %zu instant queries with Prometheus in %.1f s\n", points,
              std::size(kRangeQueries), std::size(kInstantQueries), seconds);
  EXPECT_GT(points, 20'000u);
}

}  // namespace
}  // namespace shelfwatch::monitor
