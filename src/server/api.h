// The HTTP API: routes, parameter validation, JSON responses and request metrics.
//
//   GET /healthz                                 process alive
//   GET /readyz                                  200 when every catalog is ready, else 503
//   GET /metrics                                 Prometheus text format 0.0.4
//   GET /, /assets/{file}                        the dashboard (embedded; builds with npm)
//   GET /v1                                      this list of endpoints, as JSON
//   POST /v1/admin/reload, GET /v1/admin/config  reload the config file; effective settings
//   GET /v1/alerts, /v1/alerts/rules, /v1/alerts/history, GET|POST /v1/alerts/silences,
//   DELETE /v1/alerts/silences/{id}              the embedded alert evaluator (alert/api.h)
//   GET /v1/admin/models, POST /v1/admin/models/{name}/load|unload   the model repository
//   /v2/health/live|ready, /v2/models/{m}[/versions/{v}][/ready|/infer]   KServe v2 REST
//   GET /v1/catalogs                             catalogs with state and index statistics
//   GET /v1/catalogs/{catalog}                   one catalog
//   GET /v1/catalogs/{catalog}/search?q=&k=&offset=&msm=&exact_total=
//   GET /v1/catalogs/{catalog}/products/{id}     one product
//   GET /v1/catalogs/{catalog}/recommend?user=&session=&item=&items=&k=&exclude=
//   POST /v1/events                              feedback events (JSON array or NDJSON)
//   GET /v1/monitor/drift[?evaluate=true]        drift and data-quality reports
//   POST /v1/monitor/drift/reference?model=&start=&end=   reference from a time range
//   GET /v1/monitor/business?window=1h           CTR, conversion, revenue... per variant
//   GET /v1/monitor/queries?catalog=&kind=&n=    top (zero-result) queries
//   GET|POST /v1/monitor/query, /query_range     PromQL over the embedded metric history
//                                                (also at /api/v1/query[_range], so that a
//                                                Prometheus client or Grafana can read it)
//
// Errors are {"error":{"code","message"}} with the status of the error code (common/status.h).
// Thread-safety: Handle() is safe from any number of threads; metric recording is lock-free
// after a (route, status) pair was first seen.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alert/alerting.h"
#include "models/inference_api.h"
#include "models/model_repository.h"
#include "monitor/metrics.h"
#include "pipeline/catalog_registry.h"
#include "pipeline/search_pipeline.h"
#include "server/http_server.h"
#include "server/monitoring.h"
#include "server/recommenders.h"

namespace shelfwatch::server {

struct ApiOptions {
  uint32_t max_k = 1000;
  uint32_t max_offset = 10000;
  size_t max_query_bytes = 1024;
  bool access_log = false;  // one logfmt line per request
  // Test builds only (SHELFWATCH_TEST_HOOKS): honour fault-injection parameters such as
  // _test_sleep_ms on search requests. Off unless the server runs with --enable-test-hooks.
  bool test_hooks = false;
  // POST /v1/admin/reload (re-reads the config file; an error keeps the running settings) and
  // GET /v1/admin/config (the effective settings, secrets redacted). Unset: 404.
  std::function<Status()> reload;
  std::function<std::string()> effective_config;
  // The alert evaluator behind /v1/alerts*; null: those routes answer 404.
  alert::Alerting* alerting = nullptr;
  // The model repository behind /v2/* (KServe v2) and /v1/admin/models*; null: 404.
  models::ModelRepository* models = nullptr;
};

class Api {
 public:
  // `monitoring` may be null: the feedback and monitor routes then answer 503.
  // `recommenders` may be null: no catalog recommends.
  Api(pipeline::CatalogRegistry* catalogs, monitor::Registry* metrics, Monitoring* monitoring,
      Recommenders* recommenders, ApiOptions options = {});
  ~Api();

  void Handle(const HttpRequest& request, HttpResponse& response);
  // Counts requests the transport answered itself (400/413/414/431).
  void OnTransportError(int status);
  // Builds a loaded catalog's ranking state (product terms for the ranker's features) before
  // the server reports ready, so no request pays for it. A no-op without a model repository.
  void PrepareSearch(const pipeline::CatalogSnapshot& snapshot);
  // The search pipeline with the model repository (null without one): what searches run.
  pipeline::SearchPipeline* search_pipeline() { return options_.models ? pipeline_.get() : nullptr; }

  // Route labels, as they appear in metrics.
  enum Route : int {
    kRouteSearch,
    kRouteRecommend,
    kRouteProduct,
    kRouteCatalog,
    kRouteCatalogs,
    kRouteHealthz,
    kRouteReadyz,
    kRouteMetrics,
    kRouteRoot,
    kRouteAssets,
    kRouteEndpoints,
    kRouteEvents,
    kRouteAdmin,
    kRouteAlerts,
    kRouteModels,
    kRouteInference,
    kRouteDrift,
    kRouteBusiness,
    kRouteQueries,
    kRouteQuery,
    kRouteQueryRange,
    kRouteUnmatched,
    kRouteTransport,
    kRouteCount
  };
  static std::string_view RouteLabel(Route route);

 private:
  struct CatalogMetrics;
  // *deferred: the answer will be sent (and recorded) later.
  Route Dispatch(const HttpRequest& request, HttpResponse& response, bool* deferred);
  bool Events(const HttpRequest& request, HttpResponse& response);  // true: deferred
  void Drift(const HttpRequest& request, HttpResponse& response);
  void DriftReference(const HttpRequest& request, HttpResponse& response);
  void Business(const HttpRequest& request, HttpResponse& response);
  void TopQueries(const HttpRequest& request, HttpResponse& response);
  void PromQuery(const HttpRequest& request, HttpResponse& response, bool range);
  bool RequireMonitoring(HttpResponse& response);
  void Search(std::string_view catalog, const HttpRequest& request, HttpResponse& response);
  void Recommend(std::string_view catalog, const HttpRequest& request, HttpResponse& response);
  // Feeds attributed events to their catalog's recommender (histories, online co-visitation).
  void FeedRecommenders(const std::vector<feedback::Event>& events);
  void Product(std::string_view catalog, std::string_view id, HttpResponse& response);
  void CatalogList(HttpResponse& response);
  void CatalogDetail(std::string_view catalog, HttpResponse& response);
  void Ready(HttpResponse& response);
  void Endpoints(HttpResponse& response);
  // The dashboard's files; false when `path` is none of them.
  bool Dashboard(const HttpRequest& request, HttpResponse& response);
  void Record(Route route, int status, double seconds);
  CatalogMetrics* MetricsFor(std::string_view catalog);

  pipeline::CatalogRegistry* catalogs_;
  monitor::Registry* metrics_;
  Monitoring* monitoring_;
  Recommenders* recommenders_;
  ApiOptions options_;
  monitor::Family<monitor::Counter>* requests_total_;
  std::array<monitor::Histogram*, kRouteCount> duration_{};
  // requests_total children per (route, status), created on first use.
  std::unique_ptr<std::atomic<monitor::Counter*>[]> status_counters_;
  std::vector<std::unique_ptr<CatalogMetrics>> catalog_metrics_;
  std::unique_ptr<pipeline::SearchPipeline> pipeline_;
};

}  // namespace shelfwatch::server
