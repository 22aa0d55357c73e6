// shelfwatch serve: hosts catalogs behind the HTTP API until SIGTERM/SIGINT.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "monitor/metrics.h"
#include "pipeline/catalog_registry.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/monitoring.h"

namespace shelfwatch::cli {
namespace {

Flags ServeFlags() {
  return Flags(
      "serve",
      "Serves one or more catalogs over HTTP. The server listens at once (/healthz answers 200)\n"
      "and loads catalogs in the background; /readyz answers 200 when all are indexed.\n"
      "SIGTERM or SIGINT: stop accepting, finish in-flight requests, exit 0.\n"
      "\n"
      "catalog spec: NAME=PATH[,key=value...], keys: format=csv|jsonl, delimiter=C|tab,\n"
      "  id|title|description|brand|category|price|rating=COLUMN, fields=title:1,brand:0.5,\n"
      "  k1=1.2, b=0.75, strict=true",
      {
          {"catalog", "NAME=PATH[,opts]", "catalog to serve", "", true},
          {"host", "ADDR", "address to listen on", "127.0.0.1"},
          {"port", "N", "port to listen on; 0 picks a free port (logged and written to --port-file)", "8080"},
          {"port-file", "FILE", "write the bound port to FILE once listening", ""},
          {"threads", "N", "HTTP worker threads; 0 = one per CPU", "0"},
          {"data-dir", "DIR", "state directory (created; locked against a second server; load reports)", ""},
          {"strict", "", "fail a catalog load on its first bad row instead of skipping bad rows"},
          {"access-log", "", "log one line per request"},
          {"log-level", "LEVEL", "debug, info, warn or error", "info"},
          {"max-body-bytes", "N", "largest request body accepted (413 above)", "8388608"},
          {"max-url-bytes", "N", "longest request URL accepted (414 above)", "8192"},
          {"max-k", "N", "largest k a search may ask for", "1000"},
          {"idle-timeout", "DURATION", "close keep-alive connections idle this long", "60s"},
          {"drain-timeout", "DURATION", "on shutdown, wait this long for in-flight requests", "10s"},
          {"no-monitoring", "", "turn off the served-request log, feedback events, online metrics, drift and metric history"},
          {"served-sample-rate", "R", "share of served requests kept in the on-disk log (attribution sees all)", "1"},
          {"served-retention", "DURATION", "keep served requests on disk this long", "30d"},
          {"served-max-bytes", "N", "size bound of the served-request log", "1073741824"},
          {"events-retention", "DURATION", "keep feedback events this long", "90d"},
          {"max-events-per-batch", "N", "largest POST /v1/events batch (413 above)", "1000"},
          {"history-interval", "DURATION", "metric history sampling period", "5s"},
          {"history-retention", "DURATION", "metric history kept in memory", "6h"},
          {"history-max-bytes", "N", "memory bound of the metric history", "67108864"},
          {"drift-window", "DURATION", "current window compared with the drift reference", "1h"},
          {"drift-bucket", "DURATION", "time resolution of drift windows", "60s"},
          {"drift-retention", "DURATION", "drift history kept for references taken from a time range", "2h"},
          {"drift-interval", "DURATION", "drift evaluation period (0: only on GET /v1/monitor/drift?evaluate=true)", "60s"},
          {"drift-reference", "NAME=QUERIES.csv[,split=train]",
           "build catalog NAME's drift reference by running these queries (e.g. its training queries)", ""},
          {"recommender", "CATALOG=EVENTS.csv[,models=DIR]",
           "answer /recommend for CATALOG: models from DIR (shelfwatch train recommender), else trained from the events at start; the events also seed user histories", ""},
          {"drift-thresholds", "KEY=V,...",
           "drift thresholds for every monitored input (wasserstein_normed, jensen_shannon, ks_p_value, "
           "chi_squared_p_value, psi_warn, psi_alert, share_drifted_dims; Evidently's defaults otherwise)", ""},
          {"drift-reference-rows", "N", "otherwise freeze the reference from the first N searches (0: off)", "10000"},
          {"drift-reference-window", "DURATION", "or from the first searches of this long (0: off)", "0"},
#ifdef SHELFWATCH_TEST_HOOKS
          {"enable-test-hooks", "", "honour fault-injection request parameters (test builds only)"},
#endif
      });
}

// Holds an exclusive lock on DIR/LOCK for the life of the process so that two servers never
// share one state directory.
Status LockDataDir(const std::string& dir, int* fd_out) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create data dir " + dir + ": " + ec.message());
  std::string lock_path = dir + "/LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open " + lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status(ErrorCode::kConflict, "data dir " + dir + " is in use by another shelfwatch process");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
    log::Warn("cannot write pid to lock file", {{"path", lock_path}});
  }
  *fd_out = fd;
  return Status::Ok();
}

void WriteLoadReports(const std::string& dir, const pipeline::CatalogRegistry& catalogs) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/catalogs", ec);
  for (const auto& info : catalogs.List()) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("catalog").String(info.name).Key("path").String(info.path);
    w.Key("state").String(pipeline::CatalogStateName(info.state));
    if (!info.error.empty()) w.Key("error").String(info.error);
    if (info.snapshot) {
      const auto& r = info.snapshot->report;
      w.Key("rows_read").Uint(r.rows_read).Key("rows_loaded").Uint(r.rows_loaded);
      w.Key("rows_rejected").Uint(r.rows_rejected).Key("errors").BeginArray();
      for (const auto& e : r.errors) {
        w.BeginObject().Key("line").Uint(e.line).Key("reason").String(e.reason).Key("message").String(e.message);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    std::ofstream f(dir + "/catalogs/" + info.name + ".load-report.json");
    f << out << "\n";
  }
}

}  // namespace

int RunServe(int argc, char** argv) {
  Flags flags = ServeFlags();
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  log::Level level;
  if (!log::ParseLevel(flags.Get("log-level"), &level)) {
    std::fprintf(stderr, "shelfwatch serve: --log-level must be debug, info, warn or error\n");
    return 2;
  }
  log::SetLevel(level);

  auto usage_error = [](const Status& st) {
    std::fprintf(stderr, "shelfwatch serve: %s\n", st.message().c_str());
    return 2;
  };
  auto port = flags.GetInt("port", 0, 65535);
  auto threads = flags.GetInt("threads", 0, 256);
  auto max_body = flags.GetInt("max-body-bytes", 1024, 1LL << 32);
  auto max_url = flags.GetInt("max-url-bytes", 256, 1 << 20);
  auto max_k = flags.GetInt("max-k", 1, 100000);
  for (const auto* r : {&port, &threads, &max_body, &max_url, &max_k}) {
    if (!r->ok()) return usage_error(r->status());
  }
  double idle = ParseDurationSeconds(flags.Get("idle-timeout"));
  double drain = ParseDurationSeconds(flags.Get("drain-timeout"));
  if (idle <= 0 || drain < 0) return usage_error(InvalidArgument("timeouts must be durations like 10s or 500ms"));

  monitor::Registry metrics;
  monitor::RegisterProcessCollector(metrics);
  metrics
      .AddGauge("shelfwatch_build_info", "Build of the running shelfwatch binary (always 1).",
                {"version", "revision", "compiler"})
      .WithLabels({SHELFWATCH_VERSION, SHELFWATCH_REVISION, std::string("gcc ") + __VERSION__})
      .Set(1);

  pipeline::CatalogRegistry catalogs(&metrics);
  auto specs = flags.GetAll("catalog");
  if (specs.empty()) return usage_error(InvalidArgument("at least one --catalog NAME=PATH is required"));
  for (const auto& text : specs) {
    auto spec = pipeline::ParseCatalogSpec(text);
    if (!spec.ok()) return usage_error(spec.status());
    if (flags.GetBool("strict")) spec->load.strict = true;
    if (Status st = catalogs.Declare(std::move(spec).value()); !st.ok()) return usage_error(st);
  }

  std::string data_dir = flags.Get("data-dir");
  int lock_fd = -1;
  if (!data_dir.empty()) {
    if (Status st = LockDataDir(data_dir, &lock_fd); !st.ok()) {
      log::Error("cannot use data dir", {{"error", st.message()}});
      return 1;
    }
  }

  // Block the shutdown signals in every thread (before any is started: threads
  // inherit the mask); one thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::Recommenders recommenders;
  for (const auto& text : flags.GetAll("recommender")) {
    auto spec = server::ParseRecommenderSpec(text);
    if (!spec.ok()) return usage_error(spec.status());
    recommenders.Declare(std::move(spec).value());
  }

  std::unique_ptr<server::Monitoring> monitoring;
  if (!flags.GetBool("no-monitoring")) {
    server::MonitoringOptions mo;
    for (const auto& c : recommenders.Catalogs()) mo.recommend_catalogs.insert(c);
    mo.data_dir = data_dir;
    auto rate = flags.GetDouble("served-sample-rate");
    if (!rate.ok()) return usage_error(rate.status());
    mo.served_sample_rate = *rate;
    auto served_bytes = flags.GetInt("served-max-bytes", 0, 1LL << 50);
    auto history_bytes = flags.GetInt("history-max-bytes", 1 << 20, 1LL << 40);
    auto batch = flags.GetInt("max-events-per-batch", 1, 1000000);
    auto ref_rows = flags.GetInt("drift-reference-rows", 0, 1LL << 40);
    for (const auto* r : {&served_bytes, &history_bytes, &batch, &ref_rows}) {
      if (!r->ok()) return usage_error(r->status());
    }
    mo.served_max_bytes = static_cast<uint64_t>(*served_bytes);
    mo.history_max_bytes = static_cast<size_t>(*history_bytes);
    mo.event_limits.max_events = static_cast<size_t>(*batch);
    mo.event_limits.max_body_bytes = static_cast<size_t>(*max_body);
    mo.drift_reference_rows = static_cast<uint64_t>(*ref_rows);
    struct DurationFlag {
      const char* name;
      double* seconds;
    };
    double served_age = 0, events_age = 0, history_interval = 0, history_retention = 0;
    for (const DurationFlag& d : {DurationFlag{"served-retention", &served_age}, DurationFlag{"events-retention", &events_age},
                                  DurationFlag{"history-interval", &history_interval},
                                  DurationFlag{"history-retention", &history_retention},
                                  DurationFlag{"drift-window", &mo.drift_window_s}, DurationFlag{"drift-bucket", &mo.drift_bucket_s},
                                  DurationFlag{"drift-interval", &mo.drift_interval_s},
                                  DurationFlag{"drift-retention", &mo.drift_retention_s},
                                  DurationFlag{"drift-reference-window", &mo.drift_reference_seconds}}) {
      *d.seconds = ParseDurationSeconds(flags.Get(d.name));
      if (*d.seconds < 0) {
        return usage_error(InvalidArgument(std::string("--") + d.name + " must be a duration like 90s, 5m, 6h or 30d"));
      }
    }
    mo.served_max_age_ms = static_cast<int64_t>(served_age * 1000);
    mo.events_max_age_ms = static_cast<int64_t>(events_age * 1000);
    mo.history_interval_ms = static_cast<int64_t>(history_interval * 1000);
    mo.history_retention_ms = static_cast<int64_t>(history_retention * 1000);
    auto thresholds = server::ParseDriftThresholds(flags.Get("drift-thresholds"));
    if (!thresholds.ok()) return usage_error(thresholds.status());
    mo.drift_thresholds = *thresholds;
    for (const auto& text : flags.GetAll("drift-reference")) {
      auto ref = server::ParseDriftReferenceSpec(text);
      if (!ref.ok()) return usage_error(ref.status());
      mo.drift_references[ref->first] = ref->second;
    }
    auto opened = server::Monitoring::Open(std::move(mo), &metrics);
    if (!opened.ok()) {
      if (opened.status().code() == ErrorCode::kInvalidArgument) return usage_error(opened.status());
      log::Error("cannot start monitoring", {{"error", opened.status().message()}});
      return 1;
    }
    monitoring = std::move(opened).value();
  }
  metrics.AddCollector([&catalogs, &monitoring, &recommenders](monitor::SnapshotWriter& w) {
    w.Header("shelfwatch_ready", "1 when every catalog is loaded and the server answers searches.", monitor::MetricType::kGauge);
    w.Sample({}, catalogs.AllReady() && recommenders.AllReady() && (!monitoring || monitoring->ready()) ? 1 : 0);
  });


  server::ApiOptions api_options;
  api_options.max_k = static_cast<uint32_t>(*max_k);
  api_options.access_log = flags.GetBool("access-log");
#ifdef SHELFWATCH_TEST_HOOKS
  api_options.test_hooks = flags.GetBool("enable-test-hooks");
#endif
  server::Api api(&catalogs, &metrics, monitoring.get(), &recommenders, api_options);

  server::HttpServerOptions http;
  http.host = flags.Get("host");
  http.port = static_cast<uint16_t>(*port);
  http.threads = static_cast<int>(*threads);
  http.max_body_bytes = static_cast<uint64_t>(*max_body);
  http.max_url_bytes = static_cast<uint32_t>(*max_url);
  http.idle_timeout_s = idle;
  http.drain_timeout_s = drain;
  server::HttpServer server(
      http, [&api](const server::HttpRequest& rq, server::HttpResponse& rs) { api.Handle(rq, rs); },
      [&api](int status) { api.OnTransportError(status); });
  metrics.AddCollector([&server](monitor::SnapshotWriter& w) {
    w.Header("shelfwatch_http_open_connections", "HTTP connections currently open.", monitor::MetricType::kGauge);
    w.Sample({}, static_cast<double>(server.open_connections()));
  });
  if (monitoring) monitoring->Start();
  if (Status st = server.Start(); !st.ok()) {
    log::Error("cannot start server", {{"error", st.message()}});
    return 1;
  }
  std::string addr = http.host + ":" + std::to_string(server.port());
  log::Info("listening", {{"addr", addr}, {"url", "http://" + addr + "/"}});
  std::string port_file = flags.Get("port-file");
  if (!port_file.empty()) {
    // Write then rename, so a reader never sees a partial file.
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << server.port() << "\n";
    }
    std::filesystem::rename(tmp, port_file);
  }

  std::thread signal_waiter([&server, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.Shutdown();
  });
  std::atomic<bool> loaded{false};
  std::thread loader([&] {
    Status st = catalogs.LoadAll();
    if (Status r = recommenders.OpenAll(); st.ok()) st = r;
    if (monitoring) {
      for (const auto& info : catalogs.List()) {
        if (!info.snapshot) continue;
        if (Status m = monitoring->OnCatalogReady(*info.snapshot); !m.ok()) {
          log::Error("drift monitoring not started for catalog", {{"catalog", info.name}, {"error", m.message()}});
        }
      }
      monitoring->SetReady();
    }
    if (st.ok()) log::Info("ready", {{"catalogs", std::to_string(catalogs.size())}});
    if (!data_dir.empty()) WriteLoadReports(data_dir, catalogs);
    loaded = true;
  });

  server.Run();
  log::Info("stopped");
  // Run returns only after Shutdown, which only the signal waiter calls: it has finished.
  signal_waiter.join();
  // Every deferred answer was sent during the drain; what remains is written to disk here.
  if (monitoring) monitoring->Stop();
  if (!loaded.load()) {
    // A catalog still loading cannot be interrupted; its work is discarded with the process.
    std::fflush(nullptr);
    ::_exit(0);
  }
  loader.join();
  if (lock_fd >= 0) ::close(lock_fd);
  return 0;
}

}  // namespace shelfwatch::cli
