// The Prometheus HTTP API's query and query_range endpoints over any SeriesStore, so the
// dashboard (and Grafana pointed at shelfwatch) can query the embedded history.
//
// Answers have Prometheus' JSON shape (https://prometheus.io/docs/prometheus/latest/querying/api/):
//   {"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},
//     "values":[[1700000000.5,"1.25"],...]}]}}
//   {"status":"error","errorType":"bad_data","error":"..."}
// Timestamps are Unix seconds with millisecond decimals; values are strings as Go's
// strconv.FormatFloat(v, 'f', -1, 64) writes them ("NaN", "+Inf", "-Inf").
// Status codes as Prometheus: 400 bad_data (bad parameters, parse errors), 422 execution
// (errors evaluating on this data, too many samples), 503 timeout.
//
// Thread-safety: stateless functions; safe to call concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "monitor/history/promql.h"
#include "monitor/history/series_store.h"

namespace shelfwatch::monitor {

struct HttpAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Query-string parameters, already URL-decoded.
using QueryParams = std::map<std::string, std::string>;

struct QueryApiOptions {
  QueryOptions query;
  // query_range refuses (end - start) / step above this, like Prometheus (11,000 points).
  int64_t max_points_per_series = 11'000;
  // "now" for a query without time=, in Unix ms; 0: the wall clock.
  int64_t now_ms = 0;
};

// GET /v1/monitor/query?query=<expr>&time=<rfc3339 | unix seconds>[&timeout=<duration>]
HttpAnswer HandleQuery(const SeriesStore& store, const QueryParams& params, const QueryApiOptions& options = {});
// GET /v1/monitor/query_range?query=<expr>&start=<t>&end=<t>&step=<duration | seconds>[&timeout=]
HttpAnswer HandleQueryRange(const SeriesStore& store, const QueryParams& params, const QueryApiOptions& options = {});

// A time parameter as Prometheus reads it: Unix seconds (fractions rounded to ms) or RFC 3339
// ("2026-11-29T11:14:06.123Z", "...+01:00"). Unix ms.
Result<int64_t> ParseApiTime(std::string_view text);
// A duration parameter: float seconds ("15", "0.5") or a PromQL duration ("15s", "1m"). Ms.
Result<int64_t> ParseApiDuration(std::string_view text);

// The success body for a result; the error body.
std::string RenderQueryResult(const QueryResult& result);
std::string RenderQueryError(std::string_view error_type, std::string_view message);
// A sample value as Prometheus' API writes it (Go strconv.FormatFloat(v, 'f', -1, 64)).
std::string FormatApiValue(double v);
// Unix ms as the API's timestamp number: seconds, then ".mmm" when not whole.
std::string FormatApiTimestamp(int64_t t_ms);

}  // namespace shelfwatch::monitor
