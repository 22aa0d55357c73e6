// shelfwatch simulate: shoppers for a running server, so that its online metrics, drift
// monitors and dashboard have something real to show. Each simulated search is a real query
// (the TEST split by default); the shopper sees the results (impressions), clicks a result
// with a probability that grows with its human relevance judgment and falls with its rank
// (position bias 1 / log2(rank + 1), the DCG discount), puts some clicked items in the cart
// and buys some of those. With --shift-to WORD the query mix moves to queries containing WORD
// half way through, which the drift monitors should flag.
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <simdjson.h>
#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "eval/relevance.h"
#include "server/http_server.h"

namespace shelfwatch::cli {
namespace {

// One HTTP/1.0 exchange on a fresh connection; the status and body, or status 0.
std::pair<int, std::string> Exchange(const std::string& host, const std::string& port, const std::string& request) {
  boost::asio::ip::tcp::iostream s(host, port);
  if (!s) return {0, ""};
  s << request << std::flush;
  std::string response((std::istreambuf_iterator<char>(s)), std::istreambuf_iterator<char>());
  if (response.size() < 12) return {0, ""};
  int status = std::atoi(response.substr(9, 3).c_str());
  size_t body = response.find("\r\n\r\n");
  return {status, body == std::string::npos ? "" : response.substr(body + 4)};
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  Flags flags("simulate",
              "Simulated shoppers for a running server: real queries, clicks driven by the human relevance\n"
              "judgments and position bias, add-to-carts and purchases, posted as feedback events.",
              {
                  {"url", "URL", "server base URL (http://HOST:PORT)", "http://127.0.0.1:8080"},
                  {"catalog", "NAME", "catalog to search", "homedepot"},
                  {"queries", "FILE", "queries CSV (query_id,query)", ""},
                  {"qrels", "FILE", "judgments CSV (query_id,product_id,relevance)", ""},
                  {"split", "SPLIT", "train, test or all", "test"},
                  {"rate", "N", "searches per second", "20"},
                  {"duration", "DURATION", "how long to run (0: until interrupted)", "0"},
                  {"shift-to", "WORD", "half way through, search only queries containing WORD", ""},
                  {"seed", "N", "random seed", "1"},
              });
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "shelfwatch simulate: %s\n", m.c_str());
    return 2;
  };
  std::string url = flags.Get("url");
  if (url.rfind("http://", 0) != 0) return fail("--url must be http://HOST:PORT");
  std::string hostport = url.substr(7);
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  size_t colon = hostport.rfind(':');
  std::string host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  if (flags.Get("queries").empty() || flags.Get("qrels").empty()) return fail("--queries and --qrels are required");
  auto split = eval::ParseSplit(flags.Get("split"));
  if (!split.ok()) return fail(split.status().message());
  auto judged = eval::LoadJudgedQueries(flags.Get("queries"), flags.Get("qrels"), *split);
  if (!judged.ok()) return fail(judged.status().message());
  auto rate = flags.GetDouble("rate");
  if (!rate.ok() || *rate <= 0) return fail("--rate must be a positive number");
  double duration = ParseDurationSeconds(flags.Get("duration"));
  if (duration < 0) return fail("--duration must be a duration");
  auto seed = flags.GetInt("seed", 0, 1LL << 62);
  std::mt19937_64 rng(seed.ok() ? static_cast<uint64_t>(*seed) : 1);
  std::uniform_real_distribution<double> uniform(0, 1);

  std::string shift = flags.Get("shift-to");
  std::vector<const eval::JudgedQuery*> shifted;
  for (const auto& q : *judged) {
    std::string lower = q.text;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!shift.empty() && lower.find(shift) != std::string::npos) shifted.push_back(&q);
  }
  if (!shift.empty() && shifted.empty()) return fail("no query contains '" + shift + "'");

  simdjson::dom::parser parser;
  auto start = std::chrono::steady_clock::now();
  auto period = std::chrono::duration<double>(1.0 / *rate);
  uint64_t searches = 0, clicks = 0, purchases = 0, errors = 0;
  for (uint64_t i = 0;; ++i) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (duration > 0 && elapsed >= duration) break;
    bool shifted_now = !shifted.empty() && (duration > 0 ? elapsed > duration / 2 : i > 1000);
    const eval::JudgedQuery& q =
        shifted_now ? *shifted[rng() % shifted.size()] : (*judged)[rng() % judged->size()];
    auto [status, body] = Exchange(host, port,
                                   "GET /v1/catalogs/" + flags.Get("catalog") + "/search?k=10&q=" + server::UrlEncode(q.text) +
                                       " HTTP/1.0\r\nHost: " + host + "\r\n\r\n");
    ++searches;
    simdjson::dom::element doc;
    std::string_view rid;
    simdjson::dom::array results;
    if (status != 200 || parser.parse(body).get(doc) || doc["request_id"].get(rid) || doc["results"].get(results)) {
      ++errors;
    } else {
      std::string user = "shopper-" + std::to_string(rng() % 5000);
      std::string events;
      JsonWriter w(&events);
      w.BeginArray();
      int rank = 0;
      for (auto r : results) {
        ++rank;
        std::string_view id;
        if (r["id"].get(id)) continue;
        w.BeginObject().Key("type").String("impression").Key("request_id").String(rid).Key("item_id").String(id);
        w.Key("user_id").String(user).Key("position").Int(rank).EndObject();
        auto g = q.gains.find(std::string(id));
        double gain = g == q.gains.end() ? 0 : g->second;  // 0..2
        // Attractiveness by judged relevance, examined with the DCG position discount.
        double p_click = (0.03 + 0.3 * gain) / std::log2(rank + 1.0);
        if (uniform(rng) >= p_click) continue;
        ++clicks;
        w.BeginObject().Key("type").String("click").Key("request_id").String(rid).Key("item_id").String(id);
        w.Key("user_id").String(user).Key("position").Int(rank).EndObject();
        if (uniform(rng) < 0.3) {
          w.BeginObject().Key("type").String("add_to_cart").Key("request_id").String(rid).Key("item_id").String(id);
          w.Key("user_id").String(user).EndObject();
          if (uniform(rng) < 0.4) {
            ++purchases;
            double value = std::round((5 + uniform(rng) * 195) * 100) / 100;
            w.BeginObject().Key("type").String("purchase").Key("request_id").String(rid).Key("item_id").String(id);
            w.Key("user_id").String(user).Key("value").Double(value).Key("currency").String("USD").EndObject();
          }
        }
      }
      w.EndArray();
      if (rank > 0) {  // a search that showed nothing has nothing to report
        auto [estatus, ebody] = Exchange(host, port,
                                         "POST /v1/events HTTP/1.0\r\nHost: " + host +
                                             "\r\nContent-Type: application/json\r\nContent-Length: " +
                                             std::to_string(events.size()) + "\r\n\r\n" + events);
        if (estatus != 200) ++errors;
      }
    }
    if (searches % 500 == 0) {
      std::fprintf(stderr, "simulate: %llu searches, %llu clicks, %llu purchases, %llu errors%s\n",
                   static_cast<unsigned long long>(searches), static_cast<unsigned long long>(clicks),
                   static_cast<unsigned long long>(purchases), static_cast<unsigned long long>(errors),
                   shifted_now ? " (shifted query mix)" : "");
    }
    std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * (i + 1)));
  }
  std::printf("searches=%llu clicks=%llu purchases=%llu errors=%llu\n", static_cast<unsigned long long>(searches),
              static_cast<unsigned long long>(clicks), static_cast<unsigned long long>(purchases),
              static_cast<unsigned long long>(errors));
  return errors > 0 ? 1 : 0;
}

}  // namespace shelfwatch::cli
