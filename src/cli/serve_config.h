// The settings of `shelfwatch serve`, from its flags and/or a YAML file (--config): one
// table of flags, one builder that validates every value and reports every mistake with where
// it came from (the YAML line, or the flag). `check-config` and `POST /v1/admin/reload` use the
// same builder, so a file that passes the check is a file the server accepts.
// Thread-safety: values; the functions are pure apart from reading the files named.
#pragma once

#include <string>
#include <vector>

#include "alert/alerting.h"
#include "cli/flags.h"
#include "common/log.h"
#include "pipeline/catalog_registry.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/monitoring.h"
#include "server/recommenders.h"

namespace shelfwatch::cli {

struct AlertingSettings {
  std::vector<std::string> rule_files;
  double evaluation_interval_s = 15;
  std::vector<std::string> webhooks;       // Alertmanager webhook payload v4 receivers
  std::vector<std::string> alertmanagers;  // base URLs: alerts POSTed to /api/v2/alerts
  std::string external_url;                // generatorURL / externalURL in notifications
  double resend_delay_s = 60;
};

struct ServeConfig {
  log::Level log_level = log::Level::kInfo;
  std::string config_path;  // the YAML file read, if any
  std::string data_dir;
  std::string port_file;
  server::HttpServerOptions http;
  server::ApiOptions api;
  std::vector<pipeline::CatalogSpec> catalogs;
  std::vector<server::RecommenderSpec> recommenders;
  bool monitoring = true;
  server::MonitoringOptions monitoring_options;
  AlertingSettings alerting;
  std::string models_dir;            // model repository root; empty: no model serving
  double model_poll_interval_s = 5;  // 0: load at start and on POST /v1/admin/models/{m}/load
};

Flags ServeFlags();

// The alert module's configuration: the rule files and one webhook and/or one Alertmanager
// notifier.
alert::AlertingConfig AlertingConfigOf(const AlertingSettings& settings);

// Validates every setting of `flags`; each mistake is appended to *errors ("where: message").
// Returns true when there was none. Does not open any file except the rule files, which it
// parses to report their mistakes too (when `check_rules`).
bool BuildServeConfig(const Flags& flags, ServeConfig* config, std::vector<std::string>* errors,
                      bool check_rules = true);

// Reads argv (and the --config file it names) into a config. Mistakes go to *errors.
bool LoadServeConfig(int argc, char** argv, Flags* flags, ServeConfig* config, std::vector<std::string>* errors);

// The effective settings as JSON for GET /v1/admin/config: every flag with its value and
// origin; credentials in URLs (user:password@) and query strings of webhook URLs redacted.
std::string EffectiveConfigJson(const Flags& flags);

}  // namespace shelfwatch::cli
