// The feedback and monitoring routes of the API (see api.h for the list).
#include <charconv>
#include <cmath>
#include <map>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "feedback/attribution.h"
#include "monitor/drift/drift_report.h"
#include "monitor/history/query_api.h"
#include "server/api.h"

namespace shelfwatch::server {

namespace {

monitor::FeedbackType ToFeedbackType(feedback::EventType t) { return static_cast<monitor::FeedbackType>(t); }

// What the online metrics need of one stored event, kept until the event is durable (the
// events themselves are moved into the store).
struct EventTally {
  uint16_t series = 0;  // index into the batch's distinct (catalog, endpoint, variant)
  bool attributed = false;
  monitor::FeedbackType type = monitor::FeedbackType::kImpression;
  uint32_t rank = 0;
  double value = -1;
  std::string currency;
  std::string request_id;  // clicks only: the first click of a request is what MRR counts
};

struct BatchTally {
  std::vector<std::array<std::string, 3>> series;
  std::vector<EventTally> events;
};

BatchTally TallyOf(const std::vector<feedback::Event>& events) {
  BatchTally t;
  t.events.reserve(events.size());
  for (const auto& e : events) {
    EventTally et;
    et.attributed = e.attributed;
    et.type = ToFeedbackType(e.type);
    et.rank = e.position > 0 ? static_cast<uint32_t>(e.position) : 0;
    if (e.attributed) {
      size_t i = 0;
      while (i < t.series.size() &&
             !(t.series[i][0] == e.catalog && t.series[i][1] == e.endpoint && t.series[i][2] == e.variant)) {
        ++i;
      }
      if (i == t.series.size()) t.series.push_back({e.catalog, e.endpoint, e.variant});
      et.series = static_cast<uint16_t>(i);
      if (e.type == feedback::EventType::kClick) et.request_id = e.request_id;
      if (e.type == feedback::EventType::kPurchase && e.value) {
        et.value = *e.value;
        et.currency = e.currency;
      }
    }
    t.events.push_back(std::move(et));
  }
  return t;
}

void RecordTally(monitor::OnlineMetrics& online, const BatchTally& t) {
  for (const auto& e : t.events) {
    if (!e.attributed) {
      online.RecordUnattributed(e.type);
      continue;
    }
    const auto& s = t.series[e.series];
    online.RecordEvent(s[0], s[1], s[2], e.type, e.request_id, e.rank, e.value, e.currency);
  }
}

void WriteRejections(JsonWriter& w, const std::vector<feedback::Rejection>& rejections) {
  w.Key("rejected").BeginArray();
  for (const auto& r : rejections) {
    w.BeginObject().Key("index").Uint(r.index).Key("reason").String(r.reason);
    if (!r.field.empty()) w.Key("field").String(r.field);
    w.Key("message").String(r.message).EndObject();
  }
  w.EndArray();
}

// Query-string (and, for POST, form-encoded body) parameters as a map; the last value wins.
bool ParamsOf(const HttpRequest& request, monitor::QueryParams* out, std::string* error) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQueryString(request.query, &params, error)) return false;
  if (request.method == "POST" && !request.body.empty()) {
    std::vector<std::pair<std::string, std::string>> form;
    if (!ParseQueryString(request.body, &form, error)) return false;
    params.insert(params.end(), form.begin(), form.end());
  }
  for (auto& [k, v] : params) (*out)[k] = std::move(v);
  return true;
}

}  // namespace

bool Api::RequireMonitoring(HttpResponse& response) {
  if (monitoring_) return true;
  SetError(response, Status(ErrorCode::kUnavailable, "monitoring is disabled on this server (--no-monitoring)"));
  return false;
}

bool Api::Events(const HttpRequest& request, HttpResponse& response) {
  if (!RequireMonitoring(response)) return false;
  feedback::EventStore* store = monitoring_->events();
  if (!store) {
    SetError(response, Status(ErrorCode::kUnavailable,
                              "feedback events are stored durably in the data dir: start the server with --data-dir"));
    return false;
  }
  auto parsed = feedback::ParseEvents(request.body, feedback::FormatFromContentType(request.header("Content-Type")),
                                      monitoring_->event_limits());
  if (!parsed.ok()) {
    bool too_large = parsed.status().code() == ErrorCode::kPayloadTooLarge;
    monitoring_->CountIngestFailure(too_large ? "too_large" : "bad_body");
    SetError(response, parsed.status());
    return false;
  }
  feedback::ParsedBatch& batch = *parsed;
  feedback::AttributionCounts counts = feedback::Attribute(monitoring_->served(), batch.events);
  FeedRecommenders(batch.events);
  monitor::OnlineMetrics& online = monitoring_->online();
  for (const auto& r : batch.rejections) online.RecordRejected(r.reason);

  // The answer is the same whenever it is sent; only the status waits for the commit.
  std::string body;
  {
    JsonWriter w(&body);
    w.BeginObject().Key("accepted").Uint(batch.events.size()).Key("attributed").Uint(counts.attributed);
    w.Key("unattributed").Uint(counts.unattributed);
    WriteRejections(w, batch.rejections);
    w.EndObject();
  }
  if (batch.events.empty()) {
    // Nothing valid: the client must fix the batch.
    response.status = 400;
    response.body = std::move(body);
    return false;
  }

  auto deferred = request.defer();
  auto tally = std::make_shared<BatchTally>(TallyOf(batch.events));
  size_t n = batch.events.size();
  int64_t start_ns = request.start_ns;
  Status st = store->Append(std::move(batch.events), [this, deferred, tally, body = std::move(body), n,
                                                      start_ns](Status durable) mutable {
    HttpResponse r;
    if (durable.ok()) {
      RecordTally(monitoring_->online(), *tally);
      r.body = std::move(body);
    } else {
      monitoring_->CountIngestFailure("store_error", n);
      log::Error("event batch not stored", {{"events", std::to_string(n)}, {"error", durable.message()}});
      SetError(r, Status(ErrorCode::kUnavailable, "events could not be stored: " + durable.message()));
    }
    Record(kRouteEvents, r.status, static_cast<double>(MonotonicNanos() - start_ns) / 1e9);
    deferred->Send(std::move(r));
  });
  if (!st.ok()) {
    // Not queued: answer now through the deferred handle (the handler already deferred).
    HttpResponse r;
    bool full = st.code() == ErrorCode::kResourceExhausted;
    monitoring_->CountIngestFailure(full ? "queue_full" : "store_error", n);
    SetError(r, full ? Status(ErrorCode::kResourceExhausted, "event store is behind; retry in a second") : st);
    if (full) r.headers.emplace_back("Retry-After", "1");
    Record(kRouteEvents, r.status, static_cast<double>(MonotonicNanos() - start_ns) / 1e9);
    deferred->Send(std::move(r));
  }
  return true;
}

void Api::Drift(const HttpRequest& request, HttpResponse& response) {
  if (!RequireMonitoring(response)) return;
  monitor::QueryParams params;
  std::string error;
  if (!ParamsOf(request, &params, &error)) return SetError(response, InvalidArgument(error));
  bool evaluate = false;
  if (auto it = params.find("evaluate"); it != params.end()) {
    if (it->second != "true" && it->second != "false") return SetError(response, InvalidArgument("evaluate must be true or false"));
    evaluate = it->second == "true";
  }
  auto reports = monitoring_->DriftReports(evaluate);
  if (auto it = params.find("model"); it != params.end()) {
    std::erase_if(reports, [&](const monitor::drift::DriftReport& r) { return r.model != it->second; });
  }
  response.body = monitor::drift::DriftReportJson(reports);
}

void Api::DriftReference(const HttpRequest& request, HttpResponse& response) {
  if (!RequireMonitoring(response)) return;
  monitor::QueryParams params;
  std::string error;
  if (!ParamsOf(request, &params, &error)) return SetError(response, InvalidArgument(error));
  if (params["model"].empty()) return SetError(response, InvalidArgument("model is required, e.g. homedepot/search"));
  auto start = monitor::ParseApiTime(params["start"]);
  auto end = monitor::ParseApiTime(params["end"]);
  if (!start.ok() || !end.ok()) {
    return SetError(response, InvalidArgument("start and end are required: RFC 3339 or Unix seconds"));
  }
  Status st = monitoring_->SetReferenceFromWindow(params["model"], static_cast<double>(*start) / 1000.0,
                                                  static_cast<double>(*end) / 1000.0);
  if (!st.ok()) return SetError(response, st);
  auto reports = monitoring_->DriftReports(true);
  std::erase_if(reports, [&](const monitor::drift::DriftReport& r) { return r.model != params["model"]; });
  response.body = monitor::drift::DriftReportJson(reports);
}

void Api::TopQueries(const HttpRequest& request, HttpResponse& response) {
  if (!RequireMonitoring(response)) return;
  monitor::QueryParams params;
  std::string error;
  if (!ParamsOf(request, &params, &error)) return SetError(response, InvalidArgument(error));
  std::string catalog = params["catalog"];
  if (catalog.empty()) return SetError(response, InvalidArgument("catalog is required"));
  std::string kind = params.count("kind") ? params["kind"] : "top";
  if (kind != "top" && kind != "zero_result") return SetError(response, InvalidArgument("kind must be top or zero_result"));
  uint64_t n = 20;
  if (params.count("n")) {
    const std::string& v = params["n"];
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < 1 || n > 1000) {
      return SetError(response, InvalidArgument("n must be an integer between 1 and 1000"));
    }
  }
  auto top = monitoring_->online().TopQueries(catalog, kind == "zero_result", n);
  JsonWriter w(&response.body);
  w.BeginObject().Key("catalog").String(catalog).Key("kind").String(kind).Key("queries").BeginArray();
  for (const auto& q : top) {
    w.BeginObject().Key("query").String(q.query).Key("count").Uint(q.count).Key("max_error").Uint(q.max_error);
    w.EndObject();
  }
  w.EndArray().EndObject();
}

void Api::PromQuery(const HttpRequest& request, HttpResponse& response, bool range) {
  if (!RequireMonitoring(response)) return;
  monitor::QueryParams params;
  std::string error;
  if (!ParamsOf(request, &params, &error)) {
    response.status = 400;
    response.body = monitor::RenderQueryError("bad_data", error);
    return;
  }
  // With alerting, the evaluator's store layers recording rules and ALERTS over the history.
  const monitor::SeriesStore& store =
      options_.alerting ? options_.alerting->evaluator().store() : static_cast<const monitor::SeriesStore&>(monitoring_->history());
  monitor::HttpAnswer a = range ? monitor::HandleQueryRange(store, params) : monitor::HandleQuery(store, params);
  response.status = a.status;
  response.content_type = std::move(a.content_type);
  response.body = std::move(a.body);
}

// Business KPIs over a window, per (catalog, endpoint, variant), from the metric history:
// each counter's value now minus its value one window ago (a series younger than the window
// counts from zero; a counter that went down was reset by a restart and counts from zero).
// Definitions follow search analytics practice (e.g. Algolia): click-through rate = searches
// with at least one click / searches; conversion rate = purchases / searches.
void Api::Business(const HttpRequest& request, HttpResponse& response) {
  if (!RequireMonitoring(response)) return;
  monitor::QueryParams params;
  std::string error;
  if (!ParamsOf(request, &params, &error)) return SetError(response, InvalidArgument(error));
  int64_t window_ms = 3600 * 1000;
  if (auto it = params.find("window"); it != params.end()) {
    auto w = monitor::ParseApiDuration(it->second);
    if (!w.ok() || *w <= 0) return SetError(response, InvalidArgument("window must be a duration such as 15m or 1h"));
    window_ms = *w;
  }
  std::string catalog_filter = params.count("catalog") ? params["catalog"] : "";
  const monitor::MetricHistory& history = monitoring_->history();
  int64_t now = history.stats().newest_ms;
  if (now == 0) now = UnixMillis();

  using Key = std::array<std::string, 3>;  // catalog, endpoint, variant
  struct Kpis {
    double searches = 0, zero = 0, impressions = 0, clicks = 0, carts = 0, purchases = 0;
    double first_clicks = 0, rr_sum = 0;
    std::map<std::string, double> revenue;  // by currency
  };
  std::map<Key, Kpis> kpis;
  // Evaluates `metric` summed by the key labels (+ `extra`) now and one window ago, and calls
  // fn(key, extra label value, increase).
  auto increase = [&](const std::string& metric, const std::string& extra,
                      const std::function<void(Kpis&, std::string_view, double)>& fn) -> Status {
    std::string by = "catalog, endpoint, variant" + (extra.empty() ? "" : ", " + extra);
    std::string q = "sum by (" + by + ") (" + metric + ")";
    auto cur = monitor::EvalInstant(history, q, now);
    if (!cur.ok()) return cur.status();
    auto old = monitor::EvalInstant(history, q, now - window_ms);
    if (!old.ok()) return old.status();
    std::map<std::vector<monitor::Label>, double> before;
    for (const auto& s : old->series) before[s.labels->labels()] = s.samples.empty() ? 0 : s.samples.back().v;
    for (const auto& s : cur->series) {
      if (s.samples.empty()) continue;
      const monitor::LabelSet& l = *s.labels;
      if (!catalog_filter.empty() && l.Get("catalog") != catalog_filter) continue;
      double v = s.samples.back().v;
      auto b = before.find(l.labels());
      double inc = b == before.end() || b->second > v ? v : v - b->second;
      Key k = {std::string(l.Get("catalog")), std::string(l.Get("endpoint")), std::string(l.Get("variant"))};
      fn(kpis[k], extra.empty() ? std::string_view() : l.Get(extra), inc);
    }
    return Status::Ok();
  };
  Status st = increase("shelfwatch_served_requests_total", "", [](Kpis& k, std::string_view, double v) { k.searches += v; });
  if (st.ok()) st = increase("shelfwatch_zero_result_requests_total", "", [](Kpis& k, std::string_view, double v) { k.zero += v; });
  if (st.ok()) {
    st = increase("shelfwatch_feedback_events_total", "type", [](Kpis& k, std::string_view type, double v) {
      if (type == "impression") k.impressions += v;
      if (type == "click") k.clicks += v;
      if (type == "add_to_cart") k.carts += v;
      if (type == "purchase") k.purchases += v;
    });
  }
  if (st.ok()) {
    st = increase("shelfwatch_first_click_reciprocal_rank_count", "",
                  [](Kpis& k, std::string_view, double v) { k.first_clicks += v; });
  }
  if (st.ok()) {
    st = increase("shelfwatch_first_click_reciprocal_rank_sum", "", [](Kpis& k, std::string_view, double v) { k.rr_sum += v; });
  }
  if (st.ok()) {
    st = increase("shelfwatch_purchase_value_sum", "currency",
                  [](Kpis& k, std::string_view currency, double v) { k.revenue[std::string(currency)] += v; });
  }
  if (!st.ok()) return SetError(response, st);

  auto ratio = [](JsonWriter& w, std::string_view key, double num, double den) {
    w.Key(key);
    if (den > 0) {
      w.Double(num / den);
    } else {
      w.Null();
    }
  };
  JsonWriter w(&response.body);
  w.BeginObject().Key("window_seconds").Double(static_cast<double>(window_ms) / 1000.0);
  w.Key("evaluated_at").String(FormatRfc3339Millis(now));
  w.Key("series").BeginArray();
  for (const auto& [key, k] : kpis) {
    w.BeginObject().Key("catalog").String(key[0]).Key("endpoint").String(key[1]).Key("variant").String(key[2]);
    w.Key("searches").Double(std::round(k.searches * 1000) / 1000);
    w.Key("zero_result_searches").Double(std::round(k.zero * 1000) / 1000);
    w.Key("impressions").Double(k.impressions).Key("clicks").Double(k.clicks);
    w.Key("add_to_carts").Double(k.carts).Key("purchases").Double(k.purchases);
    w.Key("searches_with_click").Double(k.first_clicks);
    ratio(w, "click_through_rate", k.first_clicks, k.searches);
    ratio(w, "item_click_rate", k.clicks, k.impressions);
    ratio(w, "add_to_cart_rate", k.carts, k.searches);
    ratio(w, "conversion_rate", k.purchases, k.searches);
    ratio(w, "zero_result_rate", k.zero, k.searches);
    ratio(w, "mean_reciprocal_rank", k.rr_sum, k.first_clicks);
    w.Key("revenue").BeginObject();
    for (const auto& [cur, v] : k.revenue) w.Key(cur).Double(v);
    w.EndObject();
    w.Key("revenue_per_search").BeginObject();
    for (const auto& [cur, v] : k.revenue) {
      w.Key(cur);
      if (k.searches > 0) {
        w.Double(v / k.searches);
      } else {
        w.Null();
      }
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray().EndObject();
}

}  // namespace shelfwatch::server
