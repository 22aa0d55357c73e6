// Online business metrics: what users do with the results, per catalog, endpoint and variant.
//
// Exported as Prometheus counters and histograms so that Prometheus (or the embedded metric
// history) derives rates and ratios: CTR = clicks / impressions, searches with a click =
// count of shelfwatch_first_click_reciprocal_rank, MRR of the first click = its sum / count,
// revenue = sum of shelfwatch_purchase_value. Label sets are bounded: catalog, endpoint
// (search | recommend) and variant are configured names; never a user id or a query.
// Top queries and top zero-result queries are kept in bounded heavy-hitter sketches, one pair
// per recording thread. A thread's sketch counts every query until it has seen 16 x its
// capacity of them (16,000 at the default); from then on it counts one query in 8, chosen at
// random, with weight 8 -- its counts are estimates by then anyway, the frequent queries keep
// their rank (a query seen n times is off by about sqrt(8n), 3% at n = 10,000), and the request
// path pays a hash-map update for one request in 8 instead of every one.
// Thread-safety: all calls are safe from any thread. Counting is lock-free after a label set
// was first seen by the calling thread; each thread keeps its own query sketches (their locks
// are contended only by readers, who merge them).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {

enum class FeedbackType { kImpression = 0, kClick = 1, kAddToCart = 2, kPurchase = 3 };
inline constexpr int kFeedbackTypes = 4;
std::string_view FeedbackTypeName(FeedbackType type);

// The handles of one (catalog, endpoint, variant).
struct OnlineSeries {
  Counter* requests = nullptr;
  Counter* zero_results = nullptr;
  std::array<Counter*, kFeedbackTypes> events{};
  Histogram* click_rank = nullptr;
  Histogram* first_click_reciprocal_rank = nullptr;
  Histogram* results_returned = nullptr;
};

class OnlineMetrics {
 public:
  struct Options {
    size_t top_queries_capacity = 1000;   // heavy-hitter counters per catalog (memory bound)
    size_t first_click_memory = 1 << 20;  // request ids remembered to tell a first click
  };
  OnlineMetrics(Registry* registry, Options options);
  explicit OnlineMetrics(Registry* registry) : OnlineMetrics(registry, Options{}) {}
  ~OnlineMetrics();

  OnlineSeries& For(std::string_view catalog, std::string_view endpoint, std::string_view variant);

  // A served request: counts it (and a zero-result one) and feeds the query sketches.
  void RecordServed(std::string_view catalog, std::string_view endpoint, std::string_view variant,
                    std::string_view query, size_t results, bool zero_result);
  // An attributed feedback event. `rank` is the 1-based position of the item in the served
  // results (0 when unknown); `value`/`currency` for purchases.
  void RecordEvent(std::string_view catalog, std::string_view endpoint, std::string_view variant,
                   FeedbackType type, std::string_view request_id, uint32_t rank, double value,
                   std::string_view currency);
  // An event whose request_id matched no served request.
  void RecordUnattributed(FeedbackType type);
  void RecordRejected(std::string_view reason, uint64_t n = 1);

  struct QueryCount {
    std::string query;
    uint64_t count = 0;      // estimate (an upper bound)
    uint64_t max_error = 0;  // the estimate exceeds the true count by at most this
  };
  // The most frequent queries of a catalog (all, or only those that returned nothing).
  std::vector<QueryCount> TopQueries(std::string_view catalog, bool zero_result_only, size_t n);

 private:
  struct CatalogSketches;
  CatalogSketches& SketchesFor(std::string_view catalog);
  bool MarkFirstClick(std::string_view request_id);

  Registry* registry_;
  Options options_;
  Family<Counter>* requests_;
  Family<Counter>* zero_results_;
  Family<Counter>* events_;
  Family<Histogram>* click_rank_;
  Family<Histogram>* first_click_rr_;
  Family<Histogram>* results_returned_;
  Family<Histogram>* purchase_value_;
  Family<Counter>* unattributed_;
  Family<Counter>* rejected_;

  std::mutex mu_;  // guards series_ and sketches_ maps (lookups are cached per thread)
  std::unordered_map<std::string, std::unique_ptr<OnlineSeries>> series_;
  std::unordered_map<std::string, std::unique_ptr<CatalogSketches>> sketches_;

  struct FirstClickShard;
  std::unique_ptr<FirstClickShard[]> first_click_;
  uint64_t id_ = 0;  // distinguishes instances in per-thread caches
};

}  // namespace shelfwatch::monitor
