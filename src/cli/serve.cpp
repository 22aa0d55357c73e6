// shelfwatch serve: hosts catalogs behind the HTTP API until SIGTERM/SIGINT.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/serve_config.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "monitor/metrics.h"
#include "pipeline/catalog_registry.h"
#include "pipeline/search_pipeline.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/monitoring.h"

namespace shelfwatch::cli {
namespace {

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
  ServeConfig config;
  std::vector<std::string> errors;
  if (!LoadServeConfig(argc, argv, &flags, &config, &errors)) {
    for (const auto& e : errors) std::fprintf(stderr, "shelfwatch serve: %s\n", e.c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::fputs(flags.Help().c_str(), stdout);
    return 0;
  }
  log::SetLevel(config.log_level);

  monitor::Registry metrics;
  monitor::RegisterProcessCollector(metrics);
  metrics
      .AddGauge("shelfwatch_build_info", "Build of the running shelfwatch binary (always 1).",
                {"version", "revision", "compiler"})
      .WithLabels({SHELFWATCH_VERSION, SHELFWATCH_REVISION, std::string("gcc ") + __VERSION__})
      .Set(1);

  pipeline::CatalogRegistry catalogs(&metrics);
  for (auto& spec : config.catalogs) {
    if (Status st = catalogs.Declare(spec); !st.ok()) {
      std::fprintf(stderr, "shelfwatch serve: %s\n", st.message().c_str());
      return 2;
    }
  }

  const std::string& data_dir = config.data_dir;
  int lock_fd = -1;
  if (!data_dir.empty()) {
    if (Status st = LockDataDir(data_dir, &lock_fd); !st.ok()) {
      log::Error("cannot use data dir", {{"error", st.message()}});
      return 1;
    }
  }

  // Block the shutdown and reload signals in every thread (before any is started: threads
  // inherit the mask); one thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::Recommenders recommenders;
  for (auto& spec : config.recommenders) recommenders.Declare(spec);

  std::unique_ptr<server::Monitoring> monitoring;
  if (config.monitoring) {
    auto opened = server::Monitoring::Open(config.monitoring_options, &metrics);
    if (!opened.ok()) {
      log::Error("cannot start monitoring", {{"error", opened.status().message()}});
      return 1;
    }
    monitoring = std::move(opened).value();
  }
  metrics.AddCollector([&catalogs, &monitoring, &recommenders](monitor::SnapshotWriter& w) {
    w.Header("shelfwatch_ready", "1 when every catalog is loaded and the server answers searches.", monitor::MetricType::kGauge);
    w.Sample({}, catalogs.AllReady() && recommenders.AllReady() && (!monitoring || monitoring->ready()) ? 1 : 0);
  });


  std::unique_ptr<models::ModelRepository> models;
  if (!config.models_dir.empty()) {
    models::RepositoryOptions ro;
    ro.root = config.models_dir;
    ro.poll_interval_s = config.model_poll_interval_s;
    ro.registry = &metrics;
    // A ranker trained on another feature set is refused at load, so the old version serves.
    ro.validate = pipeline::ValidateRankingFeatures;
    models = std::make_unique<models::ModelRepository>(ro);
    // A version that fails is refused with its reason (listed at /v1/admin/models); only an
    // unreadable repository stops the server.
    if (Status st = models->Start(); !st.ok()) {
      log::Error("cannot open the model repository", {{"error", st.message()}});
      return 1;
    }
  }

  // Alerting: the rules run over the metric history; transitions and silences persist in the
  // data dir.
  std::unique_ptr<alert::Alerting> alerting;
  if (!config.alerting.rule_files.empty()) {
    alert::AlertingOptions ao;
    ao.evaluator.external_url = config.alerting.external_url;
    ao.evaluator.resend_delay_ms = static_cast<int64_t>(config.alerting.resend_delay_s * 1000);
    if (!data_dir.empty()) ao.state_path = data_dir + "/alerts.db";
    alerting = std::make_unique<alert::Alerting>(monitoring->history(), metrics, ao);
    Status st = alerting->Open();
    if (st.ok()) st = alerting->Reload(AlertingConfigOf(config.alerting));
    if (!st.ok()) {
      log::Error("cannot start alerting", {{"error", st.message()}});
      return 1;
    }
  }

  // Reload: the file is read and validated as at start; only then do the settings that can
  // change live change. The running settings stay when the new file has mistakes.
  std::mutex reload_mu;
  std::string effective_config = EffectiveConfigJson(flags);
  auto reload = [&]() -> Status {
    std::lock_guard<std::mutex> lock(reload_mu);
    if (config.config_path.empty()) {
      return Status(ErrorCode::kFailedPrecondition, "the server was started without --config: nothing to reload");
    }
    Flags fresh = ServeFlags();
    ServeConfig next;
    std::vector<std::string> problems;
    if (!LoadServeConfig(argc, argv, &fresh, &next, &problems)) {
      std::string message = "the new configuration is refused; the running one stays:";
      for (const auto& p : problems) message += "\n" + p;
      log::Warn("reload refused", {{"errors", std::to_string(problems.size())}});
      return InvalidArgument(message);
    }
    if (alerting) {
      if (Status st = alerting->Reload(AlertingConfigOf(next.alerting)); !st.ok()) {
        return InvalidArgument("the new rules are refused; the running ones stay:\n" + st.message());
      }
    } else if (!next.alerting.rule_files.empty()) {
      log::Warn("alert rules added by a reload take effect at the next start");
    }
    if (monitoring) monitoring->SetDriftThresholds(next.monitoring_options.drift_thresholds);
    log::SetLevel(next.log_level);
    effective_config = EffectiveConfigJson(fresh);
    log::Info("configuration reloaded", {{"file", config.config_path}});
    return Status::Ok();
  };

  server::ApiOptions api_options = config.api;
  api_options.reload = reload;
  api_options.alerting = alerting.get();
  api_options.models = models.get();
  api_options.effective_config = [&] {
    std::lock_guard<std::mutex> lock(reload_mu);
    return effective_config;
  };
  server::Api api(&catalogs, &metrics, monitoring.get(), &recommenders, api_options);
  const server::HttpServerOptions& http = config.http;
  server::HttpServer server(
      http, [&api](const server::HttpRequest& rq, server::HttpResponse& rs) { api.Handle(rq, rs); },
      [&api](int status) { api.OnTransportError(status); });
  metrics.AddCollector([&server](monitor::SnapshotWriter& w) {
    w.Header("shelfwatch_http_open_connections", "HTTP connections currently open.", monitor::MetricType::kGauge);
    w.Sample({}, static_cast<double>(server.open_connections()));
  });
  if (monitoring) monitoring->Start();
  if (alerting) alerting->Start();
  if (Status st = server.Start(); !st.ok()) {
    log::Error("cannot start server", {{"error", st.message()}});
    return 1;
  }
  std::string addr = http.host + ":" + std::to_string(server.port());
  log::Info("listening", {{"addr", addr}, {"url", "http://" + addr + "/"}});
  const std::string& port_file = config.port_file;
  if (!port_file.empty()) {
    // Write then rename, so a reader never sees a partial file.
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << server.port() << "\n";
    }
    std::filesystem::rename(tmp, port_file);
  }

  std::thread signal_waiter([&server, &reload, signals] {
    int sig = 0;
    while (true) {
      sigwait(&signals, &sig);
      if (sig != SIGHUP) break;
      if (Status st = reload(); !st.ok()) log::Warn("SIGHUP reload failed", {{"error", st.message()}});
    }
    log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.Shutdown();
  });
  std::atomic<bool> loaded{false};
  std::thread loader([&] {
    Status st = catalogs.LoadAll();
    // The ranking state of each catalog (product terms for the ranker's features), built now
    // rather than by the first searches.
    for (const auto& info : catalogs.List()) {
      if (info.snapshot) api.PrepareSearch(*info.snapshot);
    }
    if (Status r = recommenders.OpenAll(); st.ok()) st = r;
    // New recommender versions in their repositories are picked up like the model repository's.
    recommenders.StartPolling(config.model_poll_interval_s, &metrics);
    if (monitoring) {
      for (const auto& info : catalogs.List()) {
        if (!info.snapshot) continue;
        if (Status m = monitoring->OnCatalogReady(*info.snapshot, api.search_pipeline()); !m.ok()) {
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
  if (alerting) alerting->Stop();
  recommenders.StopPolling();
  if (models) models->Stop();
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
