#include "server/api.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/request_id.h"
#include "common/utf8.h"
#include "pipeline/lexical_search.h"
#include "ranking/features.h"
#ifdef SHELFWATCH_DASHBOARD
#include "web/dashboard_assets.h"
#endif

namespace shelfwatch::server {

namespace {

constexpr int kMaxStatus = 600;

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

void MethodNotAllowed(HttpResponse& resp, std::string_view allow) {
  SetError(resp, Status(ErrorCode::kMethodNotAllowed, "method not allowed; use " + std::string(allow)));
  resp.headers.emplace_back("Allow", std::string(allow));
}

bool IsGetOrHead(const HttpRequest& r) { return r.method == "GET" || r.method == "HEAD"; }

void WriteCatalogInfo(JsonWriter& w, const pipeline::CatalogInfo& info) {
  w.BeginObject();
  w.Key("name").String(info.name);
  w.Key("path").String(info.path);
  w.Key("state").String(pipeline::CatalogStateName(info.state));
  if (!info.error.empty()) w.Key("error").String(info.error);
  if (info.snapshot) {
    const auto& s = *info.snapshot;
    const auto& st = s.index->stats();
    w.Key("products").Uint(s.catalog->size());
    w.Key("rows_read").Uint(s.report.rows_read);
    w.Key("rows_rejected").Uint(s.report.rows_rejected);
    w.Key("rejected_by_reason").BeginObject();
    for (const auto& [reason, n] : s.report.rejected_by_reason) w.Key(reason).Uint(n);
    w.EndObject();
    w.Key("index").BeginObject();
    w.Key("fields").BeginArray();
    for (const auto& f : s.index->options().fields) {
      w.BeginObject().Key("name").String(f.name).Key("weight").Float(f.weight).EndObject();
    }
    w.EndArray();
    w.Key("k1").Float(s.index->options().bm25.k1);
    w.Key("b").Float(s.index->options().bm25.b);
    w.Key("terms").Uint(st.terms);
    w.Key("postings").Uint(st.postings);
    w.Key("memory_bytes").Uint(st.memory_bytes);
    w.Key("bytes_per_product").Fixed(st.docs ? static_cast<double>(st.memory_bytes) / st.docs : 0, 1);
    w.EndObject();
    w.Key("load_seconds").Fixed(s.load_seconds, 3);
    w.Key("index_seconds").Fixed(s.index_seconds, 3);
    w.Key("loaded_at").String(FormatRfc3339Millis(s.loaded_at_ms));
  }
  w.EndObject();
}

}  // namespace

struct Api::CatalogMetrics {
  std::string name;
  monitor::Histogram* analyze;
  monitor::Histogram* retrieve;
  monitor::Histogram* encode;
  monitor::Histogram* ann;
  monitor::Histogram* fuse;
  monitor::Histogram* features;
  monitor::Histogram* rank;
  monitor::Histogram* serialize;
};

std::string_view Api::RouteLabel(Route route) {
  switch (route) {
    case kRouteSearch: return "/v1/catalogs/{catalog}/search";
    case kRouteRecommend: return "/v1/catalogs/{catalog}/recommend";
    case kRouteProduct: return "/v1/catalogs/{catalog}/products/{id}";
    case kRouteCatalog: return "/v1/catalogs/{catalog}";
    case kRouteCatalogs: return "/v1/catalogs";
    case kRouteHealthz: return "/healthz";
    case kRouteReadyz: return "/readyz";
    case kRouteMetrics: return "/metrics";
    case kRouteRoot: return "/";
    case kRouteAssets: return "/assets/{file}";
    case kRouteEndpoints: return "/v1";
    case kRouteEvents: return "/v1/events";
    case kRouteAdmin: return "/v1/admin/{action}";
    case kRouteAlerts: return "/v1/alerts";
    case kRouteModels: return "/v1/admin/models";
    case kRouteInference: return "/v2/models/{model}";
    case kRouteDrift: return "/v1/monitor/drift";
    case kRouteBusiness: return "/v1/monitor/business";
    case kRouteQueries: return "/v1/monitor/queries";
    case kRouteQuery: return "/v1/monitor/query";
    case kRouteQueryRange: return "/v1/monitor/query_range";
    case kRouteUnmatched: return "unmatched";
    case kRouteTransport: return "transport";
    case kRouteCount: break;
  }
  return "unmatched";
}

Api::Api(pipeline::CatalogRegistry* catalogs, monitor::Registry* metrics, Monitoring* monitoring,
         Recommenders* recommenders, ApiOptions options)
    : catalogs_(catalogs),
      metrics_(metrics),
      monitoring_(monitoring),
      recommenders_(recommenders),
      options_(options) {
  requests_total_ = &metrics_->AddCounter("shelfwatch_http_requests_total",
                                          "HTTP requests answered, by route and status code.",
                                          {"route", "code"});
  auto& duration = metrics_->AddHistogram("shelfwatch_http_request_duration_seconds",
                                          "Time from a request fully read to its response ready, by route.",
                                          {"route"}, monitor::LatencyBuckets());
  for (int r = 0; r < kRouteCount; ++r) {
    duration_[r] = &duration.WithLabels({std::string(RouteLabel(static_cast<Route>(r)))});
  }
  status_counters_ = std::make_unique<std::atomic<monitor::Counter*>[]>(kRouteCount * kMaxStatus);
  for (int i = 0; i < kRouteCount * kMaxStatus; ++i) status_counters_[i].store(nullptr);

  auto& stages = metrics_->AddHistogram("shelfwatch_search_stage_duration_seconds",
                                        "Time spent in each stage of a search request.",
                                        {"catalog", "stage"}, monitor::LatencyBuckets());
  for (const auto& info : catalogs_->List()) {
    auto m = std::make_unique<CatalogMetrics>();
    m->name = info.name;
    m->analyze = &stages.WithLabels({info.name, "analyze"});
    m->retrieve = &stages.WithLabels({info.name, "retrieve"});
    m->encode = &stages.WithLabels({info.name, "encode"});
    m->ann = &stages.WithLabels({info.name, "ann"});
    m->fuse = &stages.WithLabels({info.name, "fuse"});
    m->features = &stages.WithLabels({info.name, "features"});
    m->rank = &stages.WithLabels({info.name, "rank"});
    m->serialize = &stages.WithLabels({info.name, "serialize"});
    catalog_metrics_.push_back(std::move(m));
  }
  pipeline_ = std::make_unique<pipeline::SearchPipeline>(options_.models, metrics_);
}

void Api::PrepareSearch(const pipeline::CatalogSnapshot& snapshot) {
  if (options_.models) pipeline_->Prepare(snapshot);
}

Api::~Api() = default;

Api::CatalogMetrics* Api::MetricsFor(std::string_view catalog) {
  for (auto& m : catalog_metrics_) {
    if (m->name == catalog) return m.get();
  }
  return nullptr;
}

void Api::Record(Route route, int status, double seconds) {
  if (status < 100 || status >= kMaxStatus) status = 500;
  auto& slot = status_counters_[route * kMaxStatus + status];
  monitor::Counter* c = slot.load(std::memory_order_acquire);
  if (!c) {
    c = &requests_total_->WithLabels({std::string(RouteLabel(route)), std::to_string(status)});
    slot.store(c, std::memory_order_release);
  }
  c->Inc();
  duration_[route]->Observe(seconds);
}

void Api::OnTransportError(int status) { Record(kRouteTransport, status, 0); }

void Api::Handle(const HttpRequest& request, HttpResponse& response) {
  bool deferred = false;
  Route route = Dispatch(request, response, &deferred);
  if (deferred) return;  // recorded when the answer is sent
  int64_t end = MonotonicNanos();
  double seconds = static_cast<double>(end - request.start_ns) / 1e9;
  Record(route, response.status, seconds);
  if (options_.access_log) {
    log::Info("request", {{"method", std::string(request.method)},
                          {"target", std::string(request.target)},
                          {"route", std::string(RouteLabel(route))},
                          {"status", std::to_string(response.status)},
                          {"duration_ms", std::to_string(seconds * 1000)}});
  }
}

Api::Route Api::Dispatch(const HttpRequest& request, HttpResponse& response, bool* deferred) {
  std::string_view path = request.path;
  if (path == "/v1/admin/reload" && options_.reload) {
    if (request.method != "POST") return MethodNotAllowed(response, "POST"), kRouteAdmin;
    if (Status st = options_.reload(); !st.ok()) return SetError(response, st), kRouteAdmin;
    response.body = R"({"status":"reloaded"})";
    return kRouteAdmin;
  }
  if (path == "/v1/admin/config" && options_.effective_config) {
    if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteAdmin;
    response.body = options_.effective_config();
    return kRouteAdmin;
  }
  constexpr std::string_view kAdminModels = "/v1/admin/models";
  if (path.substr(0, kAdminModels.size()) == kAdminModels || path.substr(0, 4) == "/v2/") {
    bool admin = path.substr(0, 4) != "/v2/";
    Route r = admin ? kRouteModels : kRouteInference;
    if (!options_.models) {
      SetError(response, NotFound("model serving is not configured: start the server with --models DIR"));
      return r;
    }
    models::ApiReply reply = admin ? models::HandleModelAdminRequest(*options_.models, request.method,
                                                                     path.substr(kAdminModels.size()))
                                   : models::HandleInferenceRequest(*options_.models, request.method, path.substr(3),
                                                                    request.body);
    response.status = reply.status;
    response.body = std::move(reply.body);
    return r;
  }
  if (path == "/v1/alerts" || path.substr(0, 11) == "/v1/alerts/") {
    if (!options_.alerting) {
      SetError(response, NotFound("alerting is not configured: start the server with --rules FILE"));
      return kRouteAlerts;
    }
    alert::ApiReply reply = options_.alerting->Handle(request.method, path, request.query, request.body, UnixMillis());
    response.status = reply.status;
    response.body = std::move(reply.body);
    return kRouteAlerts;
  }
  if (path == "/v1/events") {
    if (request.method != "POST") return MethodNotAllowed(response, "POST"), kRouteEvents;
    *deferred = Events(request, response);
    return kRouteEvents;
  }
  constexpr std::string_view kMonitor = "/v1/monitor/";
  if (path.substr(0, kMonitor.size()) == kMonitor || path == "/api/v1/query" || path == "/api/v1/query_range") {
    std::string_view what = path.substr(path.rfind('/') + 1);
    bool query = what == "query" || what == "query_range";
    if (query) {
      Route r = what == "query" ? kRouteQuery : kRouteQueryRange;
      // Prometheus clients (Grafana among them) POST form-encoded parameters.
      if (!IsGetOrHead(request) && request.method != "POST") return MethodNotAllowed(response, "GET, POST"), r;
      PromQuery(request, response, r == kRouteQueryRange);
      return r;
    }
    if (path == "/v1/monitor/drift/reference") {
      if (request.method != "POST") return MethodNotAllowed(response, "POST"), kRouteDrift;
      DriftReference(request, response);
      return kRouteDrift;
    }
    if (path.substr(0, kMonitor.size()) == kMonitor) {
      Route r = what == "drift" ? kRouteDrift : what == "business" ? kRouteBusiness : what == "queries" ? kRouteQueries : kRouteUnmatched;
      if (r != kRouteUnmatched) {
        if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), r;
        if (r == kRouteDrift) Drift(request, response);
        if (r == kRouteBusiness) Business(request, response);
        if (r == kRouteQueries) TopQueries(request, response);
        return r;
      }
    }
  }
  if (path == "/healthz") {
    if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteHealthz;
    response.body = R"({"status":"ok"})";
    return kRouteHealthz;
  }
  if (path == "/readyz") {
    if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteReadyz;
    Ready(response);
    return kRouteReadyz;
  }
  if (path == "/metrics") {
    if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteMetrics;
    response.content_type = std::string(monitor::kTextFormatContentType);
    response.body = metrics_->Expose();
    return kRouteMetrics;
  }
  if (path == "/v1" || path == "/v1/") {
    if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteEndpoints;
    Endpoints(response);
    return kRouteEndpoints;
  }
  if (path == "/" || path.empty() || path == "/index.html" || path.substr(0, 8) == "/assets/") {
    Route r = path.substr(0, 8) == "/assets/" ? kRouteAssets : kRouteRoot;
    if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), r;
    if (Dashboard(request, response)) return r;
    if (r == kRouteRoot) {
      // Built without the dashboard: the root lists the API.
      Endpoints(response);
      return r;
    }
  }
  constexpr std::string_view kCatalogs = "/v1/catalogs";
  if (path.substr(0, kCatalogs.size()) == kCatalogs) {
    std::string_view rest = path.substr(kCatalogs.size());
    if (rest.empty() || rest == "/") {
      if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteCatalogs;
      CatalogList(response);
      return kRouteCatalogs;
    }
    if (rest[0] == '/') {
      rest.remove_prefix(1);
      size_t slash = rest.find('/');
      std::string_view catalog = rest.substr(0, slash);
      std::string_view tail = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
      if (tail.empty() || tail == "/") {
        if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteCatalog;
        CatalogDetail(catalog, response);
        return kRouteCatalog;
      }
      if (tail == "/recommend") {
        if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteRecommend;
        Recommend(catalog, request, response);
        return kRouteRecommend;
      }
      if (tail == "/search") {
        if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteSearch;
        Search(catalog, request, response);
        return kRouteSearch;
      }
      constexpr std::string_view kProducts = "/products/";
      if (tail.substr(0, kProducts.size()) == kProducts && tail.size() > kProducts.size()) {
        if (!IsGetOrHead(request)) return MethodNotAllowed(response, "GET, HEAD"), kRouteProduct;
        std::string id;
        if (!UrlDecode(tail.substr(kProducts.size()), &id)) {
          SetError(response, InvalidArgument("malformed percent-encoding in product id"));
        } else {
          Product(catalog, id, response);
        }
        return kRouteProduct;
      }
    }
  }
  SetError(response, NotFound("no route for " + std::string(request.method) + " " + std::string(path)));
  return kRouteUnmatched;
}

void Api::Endpoints(HttpResponse& response) {
  std::string& b = response.body;
  JsonWriter w(&b);
  w.BeginObject().Key("name").String("shelfwatch").Key("version").String(SHELFWATCH_VERSION);
  w.Key("endpoints").BeginArray();
  for (const char* e : {"GET / (dashboard)", "GET /v1", "GET /healthz", "GET /readyz", "GET /metrics",
                        "GET /v1/catalogs", "GET /v1/catalogs/{catalog}",
                        "GET /v1/catalogs/{catalog}/search?q=&k=&offset=&msm=&explain=",
                        "GET /v1/catalogs/{catalog}/products/{id}",
                        "GET /v1/catalogs/{catalog}/recommend?user=&session=&item=&items=&k=&exclude=",
                        "POST /v1/admin/reload", "GET /v1/admin/config", "GET /v1/alerts",
                        "GET /v1/alerts/rules", "GET /v1/alerts/history?limit=", "GET|POST /v1/alerts/silences",
                        "DELETE /v1/alerts/silences/{id}", "GET /v1/admin/models",
                        "POST /v1/admin/models/{name}/load|unload", "GET /v2/health/live|ready",
                        "GET /v2/models/{model}[/versions/{v}][/ready]", "POST /v2/models/{model}[/versions/{v}]/infer",
                        "POST /v1/events", "GET /v1/monitor/drift",
                        "POST /v1/monitor/drift/reference?model=&start=&end=", "GET /v1/monitor/business?window=",
                        "GET /v1/monitor/queries?catalog=&kind=top|zero_result&n=",
                        "GET /v1/monitor/query?query=&time=", "GET /v1/monitor/query_range?query=&start=&end=&step="}) {
    w.String(e);
  }
  w.EndArray().EndObject();
}

bool Api::Dashboard(const HttpRequest& request, HttpResponse& response) {
#ifdef SHELFWATCH_DASHBOARD
  const web::Asset* asset = web::FindAsset(request.path.empty() ? std::string_view("/") : request.path);
  if (!asset) return false;
  response.headers.emplace_back("ETag", std::string(asset->etag));
  // Revalidate every time: the page names its scripts by content hash, so this costs a 304.
  response.headers.emplace_back("Cache-Control", "no-cache");
  if (web::IfNoneMatchHits(request.header("If-None-Match"), asset->etag)) {
    response.status = 304;
    return true;
  }
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->body);
  return true;
#else
  (void)request;
  (void)response;
  return false;
#endif
}

void Api::Ready(HttpResponse& response) {
  bool monitoring_ready = !monitoring_ || monitoring_->ready();
  bool recommenders_ready = !recommenders_ || recommenders_->AllReady();
  bool ready = catalogs_->AllReady() && monitoring_ready && recommenders_ready;
  response.status = ready ? 200 : 503;
  JsonWriter w(&response.body);
  w.BeginObject().Key("status").String(ready ? "ready" : "not_ready").Key("catalogs").BeginObject();
  for (const auto& info : catalogs_->List()) w.Key(info.name).String(pipeline::CatalogStateName(info.state));
  w.EndObject();
  w.Key("monitoring").String(!monitoring_ ? "off" : monitoring_ready ? "ready" : "starting");
  if (recommenders_) {
    w.Key("recommenders").BeginObject();
    for (const auto& c : recommenders_->Catalogs()) w.Key(c).String(recommenders_->Get(c) ? "ready" : "loading");
    w.EndObject();
  }
  w.EndObject();
}

void Api::CatalogList(HttpResponse& response) {
  JsonWriter w(&response.body);
  w.BeginObject().Key("catalogs").BeginArray();
  for (const auto& info : catalogs_->List()) WriteCatalogInfo(w, info);
  w.EndArray().EndObject();
}

void Api::CatalogDetail(std::string_view catalog, HttpResponse& response) {
  for (const auto& info : catalogs_->List()) {
    if (info.name != catalog) continue;
    JsonWriter w(&response.body);
    WriteCatalogInfo(w, info);
    return;
  }
  SetError(response, NotFound("unknown catalog '" + std::string(catalog) + "'"));
}

void Api::Product(std::string_view catalog, std::string_view id, HttpResponse& response) {
  auto snap = catalogs_->Get(catalog);
  if (!snap.ok()) return SetError(response, snap.status());
  auto doc = (*snap)->catalog->Find(id);
  if (!doc) return SetError(response, NotFound("no product '" + std::string(id) + "' in catalog '" + std::string(catalog) + "'"));
  const catalog::Product& p = (*snap)->catalog->product(*doc);
  JsonWriter w(&response.body);
  w.BeginObject().Key("id").String(p.id);
  if (!p.title.empty()) w.Key("title").String(p.title);
  if (!p.description.empty()) w.Key("description").String(p.description);
  if (!p.brand.empty()) w.Key("brand").String(p.brand);
  if (!p.category_path.empty()) {
    w.Key("category").BeginArray();
    for (const auto& c : p.category_path) w.String(c);
    w.EndArray();
  }
  if (p.price) w.Key("price").Double(*p.price);
  if (p.rating) w.Key("rating").Double(*p.rating);
  if (!p.attributes.empty()) {
    w.Key("attributes").BeginObject();
    for (const auto& [k, v] : p.attributes) w.Key(k).String(v);
    w.EndObject();
  }
  w.EndObject();
}

void Api::Search(std::string_view catalog, const HttpRequest& request, HttpResponse& response) {
  auto snap = catalogs_->Get(catalog);
  if (!snap.ok()) return SetError(response, snap.status());
  CatalogMetrics* cm = MetricsFor(catalog);

  thread_local std::vector<std::pair<std::string, std::string>> params;
  std::string error;
  if (!ParseQueryString(request.query, &params, &error)) return SetError(response, InvalidArgument(error));

  pipeline::SearchParams sp;
  bool have_q = false;
  bool explain = false;
  for (const auto& [key, value] : params) {
    if (key == "q") {
      sp.query = value;
      have_q = true;
    } else if (key == "k" || key == "offset") {
      uint64_t v;
      uint64_t hi = key == "k" ? options_.max_k : options_.max_offset;
      uint64_t lo = key == "k" ? 1 : 0;
      if (!ParseUint(value, &v) || v < lo || v > hi) {
        return SetError(response, InvalidArgument(key + " must be an integer between " + std::to_string(lo) +
                                                  " and " + std::to_string(hi) + " (got '" + value + "')"));
      }
      (key == "k" ? sp.k : sp.offset) = static_cast<uint32_t>(v);
    } else if (key == "msm") {
      uint64_t v;
      if (!ParseUint(value, &v) || v < 1 || v > 64) {
        return SetError(response, InvalidArgument("msm (minimum should match) must be an integer between 1 and 64 (got '" + value + "')"));
      }
      sp.min_should_match = static_cast<uint32_t>(v);
    } else if (key == "exact_total") {
      if (value != "true" && value != "false") {
        return SetError(response, InvalidArgument("exact_total must be true or false"));
      }
      sp.exact_total_hits = value == "true";
    } else if (key == "explain") {
      if (value != "true" && value != "false") return SetError(response, InvalidArgument("explain must be true or false"));
      explain = value == "true";
    }
#ifdef SHELFWATCH_TEST_HOOKS
    else if (key == "_test_sleep_ms" && options_.test_hooks) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(value.c_str())));
    } else if (key == "_test_status" && options_.test_hooks) {
      // An injected failure, e.g. to drive error-ratio alerts end to end.
      int status = std::atoi(value.c_str());
      if (status >= 400 && status < 600) {
        response.status = status;
        response.body = R"({"error":{"code":"injected","message":"failure injected by _test_status"}})";
        return;
      }
    }
#endif
  }
  // Trim surrounding white space; an empty query is an error, not "match nothing".
  size_t b = sp.query.find_first_not_of(" \t\r\n");
  if (!have_q || b == std::string::npos) {
    return SetError(response, InvalidArgument("query parameter q is required and must not be empty"));
  }
  sp.query.erase(0, b);
  sp.query.erase(sp.query.find_last_not_of(" \t\r\n") + 1);
  if (sp.query.size() > options_.max_query_bytes) {
    return SetError(response, InvalidArgument("q is longer than " + std::to_string(options_.max_query_bytes) + " bytes"));
  }
  if (!IsValidUtf8(sp.query)) return SetError(response, InvalidArgument("q is not valid UTF-8"));

  thread_local pipeline::PipelineResult out;
  pipeline_->Run(**snap, sp, explain, &out);
  int64_t t_ser = MonotonicNanos();
  const catalog::Catalog& cat = *(*snap)->catalog;
  std::string& body = response.body;
  body.reserve(256 + out.hits.size() * (explain ? 2048 : 128));
  JsonWriter w(&body);
  std::string request_id = NewRequestId();
  w.BeginObject();
  w.Key("request_id").String(request_id);
  w.Key("catalog").String(catalog);
  w.Key("query").String(sp.query);
  w.Key("total_hits").Uint(out.total_hits);
  w.Key("total_hits_relation").String(out.total_hits_exact ? "eq" : "gte");
  w.Key("took_ms").Fixed(static_cast<double>(t_ser - request.start_ns) / 1e6, 3);
  w.Key("model_versions").String(out.model_versions);
  w.Key("stages").String(out.stages);
  if (!out.fallback.empty()) w.Key("fallback").String(out.fallback);
  w.Key("results").BeginArray();
  const auto names = ranking::FeatureNames();
  const size_t nf = ranking::kNumFeatures;
  for (size_t i = 0; i < out.hits.size(); ++i) {
    const auto& h = out.hits[i];
    const catalog::Product& p = cat.product(h.doc);
    w.BeginObject().Key("id").String(p.id).Key("title").String(p.title).Key("score").Float(h.score);
    if (explain) {
      // Why this product ranks here: what retrieval knew, each feature, and (with a ranker) each
      // feature's additive share of the score (TreeSHAP; the shares plus bias sum to the score).
      const auto& c = h.candidate;
      w.Key("explain").BeginObject();
      w.Key("bm25").Float(c.score);
      if (c.lexical_rank != ranking::kNotRetrieved) w.Key("lexical_rank").Uint(c.lexical_rank + 1);
      if (c.vector_rank != ranking::kNotRetrieved) w.Key("vector_rank").Uint(c.vector_rank + 1);
      w.Key("vector_similarity").Float(c.vector_similarity);
      w.Key("fused_score").Float(c.fused);
      if ((i + 1) * nf <= out.features.size()) {
        w.Key("features").BeginObject();
        for (size_t f = 0; f < nf; ++f) w.Key(names[f]).Float(out.features[i * nf + f]);
        w.EndObject();
      }
      if ((i + 1) * (nf + 1) <= out.contributions.size()) {
        const float* row = out.contributions.data() + i * (nf + 1);
        w.Key("contributions").BeginObject();
        for (size_t f = 0; f < nf; ++f) w.Key(names[f]).Float(row[f]);
        w.Key("bias").Float(row[nf]);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  response.headers.emplace_back("X-Request-Id", request_id);
  int64_t t_end = MonotonicNanos();
  if (cm) {
    const auto& t = out.timings;
    cm->analyze->Observe(static_cast<double>(t.analyze_ns) / 1e9);
    cm->retrieve->Observe(static_cast<double>(t.retrieve_ns) / 1e9);
    if (t.encode_ns) cm->encode->Observe(static_cast<double>(t.encode_ns) / 1e9);
    if (t.ann_ns) cm->ann->Observe(static_cast<double>(t.ann_ns) / 1e9);
    if (t.fuse_ns) cm->fuse->Observe(static_cast<double>(t.fuse_ns) / 1e9);
    if (t.features_ns) cm->features->Observe(static_cast<double>(t.features_ns) / 1e9);
    if (t.rank_ns) cm->rank->Observe(static_cast<double>(t.rank_ns) / 1e9);
    cm->serialize->Observe(static_cast<double>(t_end - t_ser) / 1e9);
  }
  if (monitoring_) {
    // After the answer is complete: what users do with these results is attributed to it.
    SearchObservation o;
    o.catalog = catalog;
    o.model_versions = out.model_versions;
    o.request_id = std::move(request_id);
    o.query = sp.query;
    o.terms = out.terms;
    // This thread's buffers: the served log copies what it keeps, nothing is allocated per search.
    thread_local std::vector<std::string> item_ids;
    thread_local std::vector<float> scores;
    item_ids.resize(out.hits.size());
    scores.resize(out.hits.size());
    for (size_t i = 0; i < out.hits.size(); ++i) {
      item_ids[i].assign(cat.product(out.hits[i].doc).id);
      scores[i] = out.hits[i].score;
    }
    o.item_ids = item_ids;
    o.scores = scores;
    if (!out.hits.empty()) {
      const auto& path = cat.product(out.hits[0].doc).category_path;
      if (!path.empty()) o.top_category = path.back();
    }
    o.total_hits = out.total_hits;
    if (out.ranker_version) {
      o.ranker = {out.ranker_version->name(), out.ranker_version->version(), out.ranker_version->dir()};
      o.ranked_features = out.ranked_features;
      o.ranked_scores = out.ranked_scores;
      o.page_rows = out.page_rows;
    }
    if (out.embedding_version) {
      o.embedding = {out.embedding_version->name(), out.embedding_version->version(), out.embedding_version->dir()};
      o.query_embedding = out.query_embedding;
    }
    monitoring_->RecordSearch(std::move(o));
  }
  // This thread's result buffer must not keep a retired model version loaded.
  out.ranker_version.reset();
  out.embedding_version.reset();
}

}  // namespace shelfwatch::server
