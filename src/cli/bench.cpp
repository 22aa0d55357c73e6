// shelfwatch bench: closed-loop HTTP load over real queries, per concurrency level.
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <map>
#include <random>
#include <simdjson.h>
#include <sstream>

#include "catalog/csv_reader.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/load_generator.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "eval/relevance.h"
#include "server/http_server.h"

namespace shelfwatch::cli {
namespace {

using server::UrlEncode;


// "http://HOST:PORT[/]" -> host, port.
Status ParseUrl(const std::string& url, std::string* host, uint16_t* port) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) return InvalidArgument("only http:// URLs are supported");
  size_t slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  size_t colon = rest.rfind(':');
  *host = rest.substr(0, colon);
  *port = 80;
  if (colon != std::string::npos) {
    int p = std::atoi(rest.substr(colon + 1).c_str());
    if (p <= 0 || p > 65535) return InvalidArgument("bad port in URL '" + url + "'");
    *port = static_cast<uint16_t>(p);
  }
  if (*host == "localhost") *host = "127.0.0.1";
  if (host->empty()) return InvalidArgument("no host in URL '" + url + "'");
  return Status::Ok();
}

Result<std::vector<std::string>> ReadQueries(const std::string& path, eval::Split split) {
  auto reader = catalog::CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  auto& r = **reader;
  std::vector<std::string> row, out;
  if (!r.Next(&row)) return InvalidArgument(path + ": empty file");
  int id_col = -1, q_col = -1;
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] == "query_id") id_col = static_cast<int>(i);
    if (row[i] == "query" || row[i] == "q" || row[i] == "search_term") q_col = static_cast<int>(i);
  }
  if (q_col < 0) return InvalidArgument(path + ": needs a 'query' column");
  while (r.Next(&row)) {
    if (static_cast<int>(row.size()) <= std::max(id_col, q_col)) continue;
    if (id_col >= 0 && !eval::InSplit(std::atoll(row[id_col].c_str()), split)) continue;
    if (row[q_col].empty()) continue;
    out.push_back(row[q_col]);
  }
  if (out.empty()) return InvalidArgument(path + ": no queries in the chosen split");
  return out;
}

// /recommend targets over an interaction log: per user, a user= request, an item= request for
// the user's last item and a session request with their last three items.
Result<std::vector<std::string>> RecommendTargets(const std::string& path, const std::string& catalog, int k) {
  auto reader = catalog::CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  auto& r = **reader;
  std::vector<std::string> row;
  if (!r.Next(&row)) return InvalidArgument(path + ": empty file");
  int user_col = -1, item_col = -1;
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] == "user_id") user_col = static_cast<int>(i);
    if (row[i] == "item_id") item_col = static_cast<int>(i);
  }
  if (user_col < 0 || item_col < 0) return InvalidArgument(path + ": needs user_id and item_id columns");
  std::map<std::string, std::vector<std::string>> items_by_user;
  while (r.Next(&row)) {
    if (static_cast<int>(row.size()) <= std::max(user_col, item_col)) continue;
    items_by_user[row[user_col]].push_back(row[item_col]);
  }
  std::vector<std::string> out;
  std::string base = "/v1/catalogs/" + catalog + "/recommend?k=" + std::to_string(k) + "&";
  for (const auto& [user, items] : items_by_user) {
    out.push_back(base + "user=" + UrlEncode(user) + "&exclude=seen");
    out.push_back(base + "item=" + UrlEncode(items.back()));
    std::string session;
    for (size_t i = items.size() > 3 ? items.size() - 3 : 0; i < items.size(); ++i) {
      session += (session.empty() ? "" : ",") + items[i];
    }
    out.push_back(base + "items=" + UrlEncode(session));
  }
  if (out.empty()) return InvalidArgument(path + ": no interactions");
  return out;
}

// Served requests to aim feedback events at: runs `n` searches (HTTP/1.0, one connection
// each) and keeps each response's request_id and returned item ids.
struct ServedForEvents {
  std::string request_id;
  std::vector<std::string> items;
};

Result<std::vector<ServedForEvents>> SearchForEvents(const std::string& host, uint16_t port,
                                                     const std::vector<std::string>& targets, size_t n) {
  std::vector<ServedForEvents> out;
  simdjson::dom::parser parser;
  for (size_t i = 0; i < targets.size() && out.size() < n; ++i) {
    boost::asio::ip::tcp::iostream s(host, std::to_string(port));
    if (!s) return Unavailable("cannot connect to " + host + ":" + std::to_string(port));
    s << "GET " << targets[i] << " HTTP/1.0\r\nHost: " << host << "\r\n\r\n" << std::flush;
    std::string response((std::istreambuf_iterator<char>(s)), std::istreambuf_iterator<char>());
    size_t body = response.find("\r\n\r\n");
    if (body == std::string::npos) continue;
    simdjson::dom::element doc;
    if (parser.parse(response.substr(body + 4)).get(doc)) continue;
    ServedForEvents served;
    std::string_view rid;
    simdjson::dom::array results;
    if (doc["request_id"].get(rid) || doc["results"].get(results)) continue;
    served.request_id = std::string(rid);
    for (auto r : results) {
      std::string_view id;
      if (!r["id"].get(id)) served.items.emplace_back(id);
    }
    if (!served.items.empty()) out.push_back(std::move(served));
  }
  if (out.empty()) return Unavailable("no search answered with results; is the catalog loaded?");
  return out;
}

// Bodies of `batch` events each over the served requests, with a plausible funnel: mostly
// impressions, some clicks, fewer add-to-carts and purchases.
std::vector<std::string> EventBodies(const std::vector<ServedForEvents>& served, size_t batch, size_t bodies) {
  std::mt19937_64 rng(42);
  std::vector<std::string> out;
  for (size_t b = 0; b < bodies; ++b) {
    std::string body;
    JsonWriter w(&body);
    w.BeginArray();
    for (size_t i = 0; i < batch; ++i) {
      const ServedForEvents& s = served[rng() % served.size()];
      int roll = static_cast<int>(rng() % 100);
      const char* type = roll < 70 ? "impression" : roll < 90 ? "click" : roll < 97 ? "add_to_cart" : "purchase";
      w.BeginObject().Key("type").String(type).Key("request_id").String(s.request_id);
      w.Key("item_id").String(s.items[rng() % s.items.size()]);
      w.Key("user_id").String("bench-user-" + std::to_string(rng() % 100000));
      w.Key("session_id").String("bench-session-" + std::to_string(rng() % 100000));
      if (roll >= 97) w.Key("value").Double(static_cast<double>(rng() % 50000) / 100.0).Key("currency").String("USD");
      w.EndObject();
    }
    w.EndArray();
    out.push_back(std::move(body));
  }
  return out;
}

}  // namespace

int RunBench(int argc, char** argv) {
  Flags flags("bench",
              "Closed-loop HTTP load generator: at each concurrency level, N keep-alive connections\n"
              "send search requests over real queries back to back for the duration, and the\n"
              "throughput and latency percentiles (p50/p90/p99/p99.9/max) are reported.",
              {
                  {"url", "URL", "server base URL", "http://127.0.0.1:8080"},
                  {"catalog", "NAME", "catalog to search", "homedepot"},
                  {"queries", "FILE", "queries CSV (query_id,query)", ""},
                  {"split", "SPLIT", "train, test or all (by query_id % 5)", "all"},
                  {"concurrency", "LIST", "comma-separated concurrency levels", "1,4,16"},
                  {"duration", "DURATION", "measured time per level", "10s"},
                  {"warmup", "DURATION", "unmeasured time before each level", "1s"},
                  {"k", "N", "results per search", "10"},
                  {"params", "QUERY", "extra query parameters appended to each request (e.g. msm=2)", ""},
                  {"threads", "N", "client I/O threads", "1"},
                  {"recommend", "EVENTS.csv",
                   "instead of searching, ask /recommend for the users and items of this interaction log "
                   "(user_id,item_id columns): alternately user=, item= and session items=", ""},
                  {"events-batch", "N",
                   "instead of searching, POST /v1/events batches of N feedback events aimed at the results "
                   "of real searches (0: search)", "0"},
                  {"json", "", "print results as JSON"},
              });
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const Status& st, int code) {
    std::fprintf(stderr, "shelfwatch bench: %s\n", st.message().c_str());
    return code;
  };
  std::string recommend_events = flags.Get("recommend");
  if (flags.Get("queries").empty() && recommend_events.empty()) {
    return fail(InvalidArgument("--queries (or --recommend) is required"), 2);
  }
  LoadOptions lo;
  if (Status st = ParseUrl(flags.Get("url"), &lo.host, &lo.port); !st.ok()) return fail(st, 2);
  auto split = eval::ParseSplit(flags.Get("split"));
  if (!split.ok()) return fail(split.status(), 2);
  auto k = flags.GetInt("k", 1, 100000);
  auto threads = flags.GetInt("threads", 1, 64);
  if (!k.ok()) return fail(k.status(), 2);
  if (!threads.ok()) return fail(threads.status(), 2);
  lo.threads = static_cast<int>(*threads);
  lo.duration_s = ParseDurationSeconds(flags.Get("duration"));
  lo.warmup_s = ParseDurationSeconds(flags.Get("warmup"));
  if (lo.duration_s <= 0 || lo.warmup_s < 0) return fail(InvalidArgument("--duration/--warmup must be durations like 10s"), 2);
  std::vector<int> levels;
  {
    std::stringstream ss(flags.Get("concurrency"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      int c = std::atoi(item.c_str());
      if (c < 1 || c > 10000) return fail(InvalidArgument("concurrency levels must be 1..10000"), 2);
      levels.push_back(c);
    }
  }
  Result<std::vector<std::string>> queries = std::vector<std::string>{};
  if (!recommend_events.empty()) {
    auto targets = RecommendTargets(recommend_events, flags.Get("catalog"), static_cast<int>(*k));
    if (!targets.ok()) return fail(targets.status(), 1);
    lo.targets = std::move(targets).value();
  } else {
    queries = ReadQueries(flags.Get("queries"), *split);
    if (!queries.ok()) return fail(queries.status(), 1);
  }
  std::string extra = flags.Get("params");
  for (const auto& q : *queries) {
    std::string t = "/v1/catalogs/" + flags.Get("catalog") + "/search?q=" + UrlEncode(q) + "&k=" + std::to_string(*k);
    if (!extra.empty()) t += "&" + extra;
    lo.targets.push_back(std::move(t));
  }

  auto events_batch = flags.GetInt("events-batch", 0, 100000);
  if (!events_batch.ok()) return fail(events_batch.status(), 2);
  if (*events_batch > 0) {
    auto served = SearchForEvents(lo.host, lo.port, lo.targets, 500);
    if (!served.ok()) return fail(served.status(), 1);
    lo.bodies = EventBodies(*served, static_cast<size_t>(*events_batch), 64);
    lo.targets = {"/v1/events"};
  }
  size_t per_request = *events_batch > 0 ? static_cast<size_t>(*events_batch) : 1;

  bool json = flags.GetBool("json");
  std::string out;
  JsonWriter w(&out);
  if (json) {
    w.BeginObject().Key("url").String(flags.Get("url")).Key("catalog").String(flags.Get("catalog"));
    w.Key("targets").Uint(lo.targets.size()).Key("duration_s").Double(lo.duration_s).Key("levels").BeginArray();
  } else {
    std::printf("shelfwatch bench: %s, catalog %s, %zu request targets, %.0fs per level (+%.0fs warm-up)\n",
                flags.Get("url").c_str(), flags.Get("catalog").c_str(), lo.targets.size(), lo.duration_s, lo.warmup_s);
    if (per_request > 1) std::printf("POST /v1/events, %zu events per request\n", per_request);
    std::printf("%11s %10s %12s %9s %9s %9s %9s %9s %8s\n", "concurrency", "requests", "throughput/s", "p50_ms",
                "p90_ms", "p99_ms", "p99.9_ms", "max_ms", "errors");
  }
  int exit_code = 0;
  for (int c : levels) {
    lo.concurrency = c;
    auto r = RunLoad(lo);
    if (!r.ok()) return fail(r.status(), 1);
    if (r->errors > 0) exit_code = 1;
    if (json) {
      w.BeginObject().Key("concurrency").Int(c).Key("requests").Uint(r->requests);
      w.Key("throughput").Fixed(r->throughput, 1).Key("p50_ms").Fixed(r->p50_ms, 3);
      if (per_request > 1) w.Key("events_per_second").Fixed(r->throughput * static_cast<double>(per_request), 1);
      w.Key("p90_ms").Fixed(r->p90_ms, 3).Key("p99_ms").Fixed(r->p99_ms, 3).Key("p999_ms").Fixed(r->p999_ms, 3);
      w.Key("max_ms").Fixed(r->max_ms, 3).Key("mean_ms").Fixed(r->mean_ms, 3);
      w.Key("errors").Uint(r->errors).Key("non_2xx").Uint(r->non_2xx).Key("connection_errors").Uint(r->connection_errors);
      w.EndObject();
    } else {
      std::printf("%11d %10llu %12.0f %9.3f %9.3f %9.3f %9.3f %9.3f %8llu\n", c,
                  static_cast<unsigned long long>(r->requests), r->throughput, r->p50_ms, r->p90_ms, r->p99_ms,
                  r->p999_ms, r->max_ms, static_cast<unsigned long long>(r->errors));
      if (per_request > 1) std::printf("%11s %.0f events/s\n", "", r->throughput * static_cast<double>(per_request));
      std::fflush(stdout);
    }
  }
  if (json) {
    w.EndArray().EndObject();
    std::printf("%s\n", out.c_str());
  }
  return exit_code;
}

}  // namespace shelfwatch::cli
