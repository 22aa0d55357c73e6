#include "cli/serve_config.h"

#include <filesystem>

#include "common/clock.h"
#include "common/json_writer.h"

namespace shelfwatch::cli {

Flags ServeFlags() {
  return Flags(
      "serve",
      "Serves one or more catalogs over HTTP. The server listens at once (/healthz answers 200)\n"
      "and loads catalogs in the background; /readyz answers 200 when all are indexed.\n"
      "SIGTERM or SIGINT: stop accepting, finish in-flight requests, exit 0.\n"
      "SIGHUP or POST /v1/admin/reload: read --config again and apply what can change live\n"
      "(alert rules, notifiers, drift thresholds, log level); an invalid file is refused and the\n"
      "running settings stay.\n"
      "\n"
      "Every flag may also be a key of the --config YAML file (drift-window: 1h); the command\n"
      "line wins. `shelfwatch check-config FILE` validates a file.\n"
      "\n"
      "catalog spec: NAME=PATH[,key=value...], keys: format=csv|jsonl|events, delimiter=C|tab,\n"
      "  id|title|description|brand|category|price|rating=COLUMN, fields=title:1,brand:0.5,\n"
      "  k1=1.2, b=0.75, strict=true",
      {
          {"config", "FILE", "YAML file with any of these settings", ""},
          {"catalog", "NAME=PATH[,opts]", "catalog to serve", "", true},
          {"host", "ADDR", "address to listen on", "127.0.0.1"},
          {"port", "N", "port to listen on; 0 picks a free port (logged and written to --port-file)", "8080"},
          {"port-file", "FILE", "write the bound port to FILE once listening", ""},
          {"threads", "N", "HTTP worker threads; 0 = one per CPU", "0"},
          {"data-dir", "DIR", "state directory (created; locked against a second server; events, logs, history)", ""},
          {"strict", "", "fail a catalog load on its first bad row instead of skipping bad rows"},
          {"access-log", "", "log one line per request"},
          {"log-level", "LEVEL", "debug, info, warn or error", "info"},
          {"max-body-bytes", "N", "largest request body accepted (413 above)", "8388608"},
          {"max-url-bytes", "N", "longest request URL accepted (414 above)", "8192"},
          {"max-k", "N", "largest k a search or recommendation may ask for", "1000"},
          {"idle-timeout", "DURATION", "close keep-alive connections idle this long", "60s"},
          {"drain-timeout", "DURATION", "on shutdown, wait this long for in-flight requests", "10s"},
          {"recommender", "CATALOG=EVENTS.csv[,models=DIR][,tune=false]",
           "answer /recommend for CATALOG: models from DIR (shelfwatch train recommender), else trained from the "
           "events at start; the events also seed user histories",
           "", true},
          {"no-monitoring", "", "turn off the served-request log, feedback events, online metrics, drift and metric history"},
          {"served-sample-rate", "R", "share of served requests kept in the on-disk log (attribution sees all)", "1"},
          {"served-retention", "DURATION", "keep served requests on disk this long", "30d"},
          {"served-max-bytes", "N", "size bound of the served-request log", "1073741824"},
          {"served-features-sample-rate", "R",
           "share of ranked searches whose ranker feature vectors the served log keeps (export training-data)", "0.1"},
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
           "build catalog NAME's drift reference by running these queries (e.g. its training queries)", "", true},
          {"drift-thresholds", "KEY=V,...",
           "drift thresholds for every monitored input (wasserstein_normed, jensen_shannon, ks_p_value, "
           "chi_squared_p_value, psi_warn, psi_alert, share_drifted_dims; Evidently's defaults otherwise)",
           ""},
          {"drift-reference-rows", "N", "otherwise freeze the reference from the first N searches (0: off)", "10000"},
          {"drift-reference-window", "DURATION", "or from the first searches of this long (0: off)", "0"},
          {"drift-full-rows-per-minute", "N",
           "each request thread gives the drift monitors its first N searches a minute, then a sample", "5000"},
          {"drift-sample-every", "N", "beyond those, one search in N at random (1: every search)", "8"},
          {"ranker-drift-rows", "N",
           "scored candidates of each drift-sampled search that go to the ranker's drift monitor (0: none)", "8"},
          {"models", "DIR", "model repository (<name>/<version>/config.yaml): KServe v2 at /v2, admin at /v1/admin/models", ""},
          {"model-poll-interval", "DURATION", "how often the model repository is scanned for new versions (0: never)", "5s"},
          {"rules", "FILE", "alert rules in Prometheus' rule file format (repeatable)", "", true},
          {"rule-eval-interval", "DURATION", "default evaluation interval of rule groups", "15s"},
          {"alert-webhook", "URL", "send alerts as Alertmanager webhook payloads (version 4) to URL (repeatable)", "", true},
          {"alertmanager", "URL", "push alerts to this Alertmanager (POST URL/api/v2/alerts; repeatable)", "", true},
          {"alert-resend-delay", "DURATION", "re-send firing alerts to Alertmanager this often", "1m"},
          {"external-url", "URL", "this server's URL as notifications link to it", ""},
#ifdef SHELFWATCH_TEST_HOOKS
          {"enable-test-hooks", "", "honour fault-injection request parameters (test builds only)"},
#endif
      });
}

bool BuildServeConfig(const Flags& flags, ServeConfig* c, std::vector<std::string>* errors, bool check_rules) {
  size_t before = errors->size();
  auto bad = [&](const std::string& name, const std::string& message) {
    errors->push_back(flags.Origin(name) + message);
  };
  auto integer = [&](const std::string& name, long long lo, long long hi, long long* out) {
    auto v = flags.GetInt(name, lo, hi);
    if (!v.ok()) {
      bad(name, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got '" +
                    flags.Get(name) + "')");
      return false;
    }
    *out = *v;
    return true;
  };
  auto duration = [&](const std::string& name, double* seconds, bool positive) {
    double s = ParseDurationSeconds(flags.Get(name));
    if (s < 0 || (positive && s <= 0)) {
      bad(name, "must be a duration like 500ms, 90s, 5m, 6h or 30d (got '" + flags.Get(name) + "')");
      return false;
    }
    *seconds = s;
    return true;
  };

  if (!log::ParseLevel(flags.Get("log-level"), &c->log_level)) bad("log-level", "must be debug, info, warn or error");
  c->data_dir = flags.Get("data-dir");
  c->port_file = flags.Get("port-file");
  long long port = 0, threads = 0, max_body = 0, max_url = 0, max_k = 0;
  if (integer("port", 0, 65535, &port)) c->http.port = static_cast<uint16_t>(port);
  if (integer("threads", 0, 256, &threads)) c->http.threads = static_cast<int>(threads);
  if (integer("max-body-bytes", 1024, 1LL << 32, &max_body)) c->http.max_body_bytes = static_cast<uint64_t>(max_body);
  if (integer("max-url-bytes", 256, 1 << 20, &max_url)) c->http.max_url_bytes = static_cast<uint32_t>(max_url);
  if (integer("max-k", 1, 100000, &max_k)) c->api.max_k = static_cast<uint32_t>(max_k);
  c->http.host = flags.Get("host");
  duration("idle-timeout", &c->http.idle_timeout_s, true);
  duration("drain-timeout", &c->http.drain_timeout_s, false);
  c->api.access_log = flags.GetBool("access-log");
#ifdef SHELFWATCH_TEST_HOOKS
  c->api.test_hooks = flags.GetBool("enable-test-hooks");
#endif

  auto catalogs = flags.GetAll("catalog");
  if (catalogs.empty()) bad("catalog", "at least one catalog NAME=PATH is required");
  for (const auto& text : catalogs) {
    auto spec = pipeline::ParseCatalogSpec(text);
    if (!spec.ok()) {
      bad("catalog", spec.status().message());
      continue;
    }
    if (flags.GetBool("strict")) spec->load.strict = true;
    for (const auto& other : c->catalogs) {
      if (other.name == spec->name) bad("catalog", "catalog '" + spec->name + "' is declared twice");
    }
    c->catalogs.push_back(std::move(spec).value());
  }
  auto declared = [&](const std::string& name) {
    for (const auto& s : c->catalogs) {
      if (s.name == name) return true;
    }
    return false;
  };
  for (const auto& text : flags.GetAll("recommender")) {
    auto spec = server::ParseRecommenderSpec(text);
    if (!spec.ok()) {
      bad("recommender", spec.status().message());
      continue;
    }
    if (!declared(spec->catalog)) bad("recommender", "no catalog named '" + spec->catalog + "'");
    c->recommenders.push_back(std::move(spec).value());
  }

  c->monitoring = !flags.GetBool("no-monitoring");
  server::MonitoringOptions& mo = c->monitoring_options;
  mo.data_dir = c->data_dir;
  for (const auto& r : c->recommenders) mo.recommend_catalogs.insert(r.catalog);
  auto rate = flags.GetDouble("served-sample-rate");
  if (!rate.ok() || *rate < 0 || *rate > 1) {
    bad("served-sample-rate", "must be a number between 0 and 1");
  } else {
    mo.served_sample_rate = *rate;
  }
  auto features_rate = flags.GetDouble("served-features-sample-rate");
  if (!features_rate.ok() || *features_rate < 0 || *features_rate > 1) {
    bad("served-features-sample-rate", "must be a number between 0 and 1");
  } else {
    mo.served_features_sample_rate = *features_rate;
  }
  long long served_bytes = 0, history_bytes = 0, batch = 0, ref_rows = 0, full_rows = 0, sample_every = 0,
            ranker_rows = 0;
  if (integer("drift-full-rows-per-minute", 0, 1LL << 40, &full_rows)) {
    mo.drift_full_rows_per_minute = static_cast<uint64_t>(full_rows);
  }
  if (integer("drift-sample-every", 1, 1 << 20, &sample_every)) mo.drift_sample_every = static_cast<uint32_t>(sample_every);
  if (integer("ranker-drift-rows", 0, 1000, &ranker_rows)) mo.ranker_drift_rows = static_cast<uint32_t>(ranker_rows);
  if (integer("served-max-bytes", 0, 1LL << 50, &served_bytes)) mo.served_max_bytes = static_cast<uint64_t>(served_bytes);
  if (integer("history-max-bytes", 1 << 20, 1LL << 40, &history_bytes)) mo.history_max_bytes = static_cast<size_t>(history_bytes);
  if (integer("max-events-per-batch", 1, 1000000, &batch)) mo.event_limits.max_events = static_cast<size_t>(batch);
  if (integer("drift-reference-rows", 0, 1LL << 40, &ref_rows)) mo.drift_reference_rows = static_cast<uint64_t>(ref_rows);
  mo.event_limits.max_body_bytes = c->http.max_body_bytes;
  double served_age = 0, events_age = 0, history_interval = 0, history_retention = 0;
  if (duration("served-retention", &served_age, false)) mo.served_max_age_ms = static_cast<int64_t>(served_age * 1000);
  if (duration("events-retention", &events_age, false)) mo.events_max_age_ms = static_cast<int64_t>(events_age * 1000);
  if (duration("history-interval", &history_interval, true)) {
    mo.history_interval_ms = static_cast<int64_t>(history_interval * 1000);
    if (mo.history_interval_ms < 100) bad("history-interval", "must be at least 100ms");
  }
  if (duration("history-retention", &history_retention, true)) {
    mo.history_retention_ms = static_cast<int64_t>(history_retention * 1000);
  }
  duration("drift-window", &mo.drift_window_s, true);
  if (duration("drift-bucket", &mo.drift_bucket_s, true) && mo.drift_bucket_s > mo.drift_window_s) {
    bad("drift-bucket", "must not be longer than --drift-window");
  }
  duration("drift-interval", &mo.drift_interval_s, false);
  duration("drift-retention", &mo.drift_retention_s, true);
  duration("drift-reference-window", &mo.drift_reference_seconds, false);
  auto thresholds = server::ParseDriftThresholds(flags.Get("drift-thresholds"));
  if (!thresholds.ok()) {
    bad("drift-thresholds", thresholds.status().message());
  } else {
    mo.drift_thresholds = *thresholds;
  }
  for (const auto& text : flags.GetAll("drift-reference")) {
    auto ref = server::ParseDriftReferenceSpec(text);
    if (!ref.ok()) {
      bad("drift-reference", ref.status().message());
      continue;
    }
    if (!declared(ref->first)) bad("drift-reference", "no catalog named '" + ref->first + "'");
    if (!std::filesystem::exists(ref->second.path)) bad("drift-reference", "no file " + ref->second.path);
    mo.drift_references[ref->first] = ref->second;
  }

  c->models_dir = flags.Get("models");
  duration("model-poll-interval", &c->model_poll_interval_s, false);
  if (!c->models_dir.empty() && !std::filesystem::is_directory(c->models_dir)) {
    bad("models", "no directory " + c->models_dir);
  }

  AlertingSettings& a = c->alerting;
  a.rule_files = flags.GetAll("rules");
  a.webhooks = flags.GetAll("alert-webhook");
  a.alertmanagers = flags.GetAll("alertmanager");
  a.external_url = flags.Get("external-url");
  duration("rule-eval-interval", &a.evaluation_interval_s, true);
  duration("alert-resend-delay", &a.resend_delay_s, true);
  for (const auto& url : a.webhooks) {
    if (url.rfind("http://", 0) != 0) bad("alert-webhook", "'" + url + "' must be an http:// URL");
  }
  for (const auto& url : a.alertmanagers) {
    if (url.rfind("http://", 0) != 0) bad("alertmanager", "'" + url + "' must be an http:// URL");
  }
  if (!a.rule_files.empty() && !c->monitoring) bad("rules", "alert rules are evaluated over the metric history: drop no-monitoring");
  if (check_rules && !a.rule_files.empty()) {
    // The same loader the evaluator uses: every problem of every file, with its position.
    auto rules = alert::LoadRuleFiles(a.rule_files, AlertingConfigOf(a).load);
    if (!rules.ok()) {
      std::string message = rules.status().message();
      size_t start = 0;
      while (start < message.size()) {
        size_t nl = message.find('\n', start);
        std::string line = message.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        // The loader's heading ("rule file refused (N problems):") is not itself a mistake.
        size_t first = line.find_first_not_of(' ');
        if (first != std::string::npos && line.back() != ':') errors->push_back(line.substr(first));
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
  }
  return errors->size() == before;
}

alert::AlertingConfig AlertingConfigOf(const AlertingSettings& settings) {
  alert::AlertingConfig config;
  config.rule_files = settings.rule_files;
  config.load.default_interval_ms = static_cast<int64_t>(settings.evaluation_interval_s * 1000);
  if (!settings.webhooks.empty()) {
    alert::NotifierConfig n;
    n.kind = alert::NotifierConfig::Kind::kWebhook;
    n.name = "webhook";
    n.urls = settings.webhooks;
    config.notifiers.push_back(n);
  }
  if (!settings.alertmanagers.empty()) {
    alert::NotifierConfig n;
    n.kind = alert::NotifierConfig::Kind::kAlertmanager;
    n.name = "alertmanager";
    n.urls = settings.alertmanagers;
    config.notifiers.push_back(n);
  }
  return config;
}

bool LoadServeConfig(int argc, char** argv, Flags* flags, ServeConfig* config, std::vector<std::string>* errors) {
  if (Status st = flags->Parse(argc, argv); !st.ok()) {
    errors->push_back(st.message());
    return false;
  }
  if (flags->GetBool("help")) return true;  // the caller prints the help
  std::string path = flags->Get("config");
  if (!path.empty()) {
    config->config_path = path;
    bool merged = flags->MergeYaml(path, errors);
    return BuildServeConfig(*flags, config, errors) && merged;
  }
  return BuildServeConfig(*flags, config, errors);
}

namespace {

// user:password@ and the query string (tokens) of a URL are secrets.
std::string RedactUrl(const std::string& url) {
  std::string out = url;
  size_t scheme = out.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t at = out.find('@', host_start);
  size_t slash = out.find('/', host_start);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    out.replace(host_start, at - host_start, "<redacted>");
  }
  size_t q = out.find('?');
  if (q != std::string::npos) out = out.substr(0, q) + "?<redacted>";
  return out;
}

}  // namespace

std::string EffectiveConfigJson(const Flags& flags) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("config_file").String(flags.Get("config"));
  w.Key("settings").BeginObject();
  for (const auto& spec : flags.specs()) {
    if (spec.name == "help" || spec.name == "config") continue;
    bool secret = spec.name == "alert-webhook" || spec.name == "alertmanager" || spec.name == "external-url";
    auto given = flags.values().find(spec.name);
    w.Key(spec.name).BeginObject();
    auto write = [&](const std::string& v) { w.String(secret ? RedactUrl(v) : v); };
    w.Key("value");
    if (spec.repeated) {
      w.BeginArray();
      if (given != flags.values().end()) {
        for (const auto& v : given->second) write(v);
      }
      w.EndArray();
    } else {
      write(flags.Get(spec.name));
    }
    std::string origin = flags.Origin(spec.name);
    w.Key("source").String(given == flags.values().end() ? "default"
                           : origin.rfind("--", 0) == 0 ? "command line"
                                                         : origin.substr(0, origin.size() - 2));
    w.EndObject();
  }
  w.EndObject().EndObject();
  return out;
}

}  // namespace shelfwatch::cli
