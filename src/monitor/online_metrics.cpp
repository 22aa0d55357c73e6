#include "monitor/online_metrics.h"

#include <atomic>
#include <deque>
#include <functional>
#include <unordered_set>

#include "monitor/drift/frequent_items.h"

namespace shelfwatch::monitor {

std::string_view FeedbackTypeName(FeedbackType type) {
  switch (type) {
    case FeedbackType::kImpression: return "impression";
    case FeedbackType::kClick: return "click";
    case FeedbackType::kAddToCart: return "add_to_cart";
    case FeedbackType::kPurchase: return "purchase";
  }
  return "unknown";
}

namespace {

std::atomic<uint64_t> g_next_instance{1};

std::string SeriesKey(std::string_view catalog, std::string_view endpoint, std::string_view variant) {
  std::string key;
  key.reserve(catalog.size() + endpoint.size() + variant.size() + 2);
  key.append(catalog).push_back('\x1f');
  key.append(endpoint).push_back('\x1f');
  key.append(variant);
  return key;
}

constexpr size_t kFirstClickShards = 16;
// A thread's query sketch counts every query until it has seen kExactQueries x its capacity of
// them; from then on one query in kQuerySampling, at random, with that weight (see the header).
constexpr uint64_t kExactQueries = 16;
constexpr uint64_t kQuerySampling = 8;

}  // namespace

// Heavy hitters of one catalog's queries, all and zero-result only. Each recording thread owns
// a pair of sketches (its lock is contended only by readers); reads merge them.
struct OnlineMetrics::CatalogSketches {
  struct PerThread {
    explicit PerThread(uint32_t capacity) : all(capacity), zero(capacity) {}
    std::mutex mu;
    drift::FrequentItemsSketch all;
    drift::FrequentItemsSketch zero;
  };
  explicit CatalogSketches(uint32_t c) : capacity(c) {}
  uint32_t capacity;
  std::mutex mu;  // guards threads
  std::vector<std::shared_ptr<PerThread>> threads;
};

// Request ids that already had a click: a bounded FIFO set per shard.
struct OnlineMetrics::FirstClickShard {
  std::mutex mu;
  std::unordered_set<std::string> seen;
  std::deque<std::string> order;
};

OnlineMetrics::OnlineMetrics(Registry* registry, Options options)
    : registry_(registry), options_(options), id_(g_next_instance.fetch_add(1)) {
  const std::vector<std::string> l = {"catalog", "endpoint", "variant"};
  requests_ = &registry->AddCounter("shelfwatch_served_requests_total",
                                    "Search and recommendation requests answered with results.", l);
  zero_results_ = &registry->AddCounter("shelfwatch_zero_result_requests_total",
                                        "Requests answered with no result at all.", l);
  events_ = &registry->AddCounter("shelfwatch_feedback_events_total",
                                  "Feedback events attributed to a served request, by type.",
                                  {"catalog", "endpoint", "variant", "type"});
  click_rank_ = &registry->AddHistogram("shelfwatch_click_rank", "1-based rank of clicked results.", l,
                                        {1, 2, 3, 4, 5, 10, 20, 50, 100});
  // Reciprocal rank of each request's first click: count = requests with a click, sum / count =
  // mean reciprocal rank of the first click.
  first_click_rr_ = &registry->AddHistogram("shelfwatch_first_click_reciprocal_rank",
                                            "Reciprocal rank of the first clicked result of a request.", l,
                                            {0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 1.0 / 3, 0.5, 1});
  results_returned_ = &registry->AddHistogram("shelfwatch_results_returned", "Results returned per request.", l,
                                              {0, 1, 5, 10, 20, 50, 100, 1000});
  purchase_value_ = &registry->AddHistogram(
      "shelfwatch_purchase_value", "Value of attributed purchases; the sum is the revenue.",
      {"catalog", "endpoint", "variant", "currency"}, ExponentialBuckets(1, 4, 8));
  unattributed_ = &registry->AddCounter("shelfwatch_feedback_unattributed_total",
                                        "Feedback events whose request_id matched no served request.", {"type"});
  rejected_ = &registry->AddCounter("shelfwatch_feedback_rejected_total",
                                    "Feedback events rejected by validation or refused, by reason.", {"reason"});
  first_click_ = std::make_unique<FirstClickShard[]>(kFirstClickShards);
}

OnlineMetrics::~OnlineMetrics() = default;

OnlineSeries& OnlineMetrics::For(std::string_view catalog, std::string_view endpoint, std::string_view variant) {
  // Per-thread cache: the mutex is taken once per thread and label set.
  struct Cache {
    uint64_t owner = 0;
    std::unordered_map<std::string, OnlineSeries*> map;
  };
  thread_local Cache cache;
  // The request path asks for the same series over and over: remember the last answer.
  thread_local uint64_t last_owner = 0;
  thread_local std::string last_catalog, last_endpoint, last_variant;
  thread_local OnlineSeries* last = nullptr;
  if (last_owner == id_ && last && last_catalog == catalog && last_endpoint == endpoint && last_variant == variant) {
    return *last;
  }
  if (cache.owner != id_) {
    cache.owner = id_;
    cache.map.clear();
  }
  std::string key = SeriesKey(catalog, endpoint, variant);
  auto remember = [&](OnlineSeries* series) -> OnlineSeries& {
    last_owner = id_;
    last_catalog.assign(catalog);
    last_endpoint.assign(endpoint);
    last_variant.assign(variant);
    last = series;
    return *series;
  };
  auto hit = cache.map.find(key);
  if (hit != cache.map.end()) return remember(hit->second);
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = series_[key];
  if (!slot) {
    slot = std::make_unique<OnlineSeries>();
    const std::vector<std::string> l = {std::string(catalog), std::string(endpoint), std::string(variant)};
    slot->requests = &requests_->WithLabels(l);
    slot->zero_results = &zero_results_->WithLabels(l);
    for (int t = 0; t < kFeedbackTypes; ++t) {
      slot->events[t] = &events_->WithLabels(
          {l[0], l[1], l[2], std::string(FeedbackTypeName(static_cast<FeedbackType>(t)))});
    }
    slot->click_rank = &click_rank_->WithLabels(l);
    slot->first_click_reciprocal_rank = &first_click_rr_->WithLabels(l);
    slot->results_returned = &results_returned_->WithLabels(l);
  }
  cache.map.emplace(std::move(key), slot.get());
  return remember(slot.get());
}

OnlineMetrics::CatalogSketches& OnlineMetrics::SketchesFor(std::string_view catalog) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = sketches_[std::string(catalog)];
  if (!slot) slot = std::make_unique<CatalogSketches>(static_cast<uint32_t>(options_.top_queries_capacity));
  return *slot;
}

void OnlineMetrics::RecordServed(std::string_view catalog, std::string_view endpoint, std::string_view variant,
                                 std::string_view query, size_t results, bool zero_result) {
  OnlineSeries& s = For(catalog, endpoint, variant);
  s.requests->Inc();
  if (zero_result) s.zero_results->Inc();
  s.results_returned->Observe(static_cast<double>(results));
  if (query.empty()) return;
  struct Local {
    uint64_t owner = 0;
    std::unordered_map<std::string, CatalogSketches::PerThread*> catalogs;
    std::string last_catalog;
    CatalogSketches::PerThread* last = nullptr;
    uint64_t random = 0x9E3779B97F4A7C15ull;  // xorshift64 state (Marsaglia 2003)
  };
  thread_local Local local;
  if (local.owner != id_) {
    local.owner = id_;
    local.catalogs.clear();
    local.last = nullptr;
  }
  if (!local.last || local.last_catalog != catalog) {
    auto it = local.catalogs.find(std::string(catalog));
    if (it == local.catalogs.end()) {
      CatalogSketches& c = SketchesFor(catalog);
      auto mine = std::make_shared<CatalogSketches::PerThread>(c.capacity);
      {
        std::lock_guard<std::mutex> lock(c.mu);
        c.threads.push_back(mine);
      }
      it = local.catalogs.emplace(std::string(catalog), mine.get()).first;
    }
    local.last_catalog.assign(catalog);
    local.last = it->second;
  }
  CatalogSketches::PerThread& t = *local.last;
  // Only this thread writes its sketches, so it may read their totals without the lock.
  auto weight = [&](const drift::FrequentItemsSketch& sketch) -> uint64_t {
    if (sketch.total_weight() < kExactQueries * sketch.capacity()) return 1;
    local.random ^= local.random << 13;
    local.random ^= local.random >> 7;
    local.random ^= local.random << 17;
    return local.random % kQuerySampling == 0 ? kQuerySampling : 0;
  };
  const uint64_t w_all = weight(t.all);
  const uint64_t w_zero = zero_result ? weight(t.zero) : 0;
  if (w_all == 0 && w_zero == 0) return;
  // Queries are counted as typed apart from (ASCII) case: UTF-8 bytes beyond ASCII stay as sent.
  thread_local std::string q;
  q.assign(drift::FrequentItemsSketch::Truncate(query));
  for (auto& ch : q) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  std::lock_guard<std::mutex> lock(t.mu);
  if (w_all) t.all.Update(q, w_all);
  if (w_zero) t.zero.Update(q, w_zero);
}

bool OnlineMetrics::MarkFirstClick(std::string_view request_id) {
  FirstClickShard& shard = first_click_[std::hash<std::string_view>{}(request_id) % kFirstClickShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (!shard.seen.emplace(request_id).second) return false;
  shard.order.emplace_back(request_id);
  if (shard.order.size() > options_.first_click_memory / kFirstClickShards) {
    shard.seen.erase(shard.order.front());
    shard.order.pop_front();
  }
  return true;
}

void OnlineMetrics::RecordEvent(std::string_view catalog, std::string_view endpoint, std::string_view variant,
                                FeedbackType type, std::string_view request_id, uint32_t rank, double value,
                                std::string_view currency) {
  OnlineSeries& s = For(catalog, endpoint, variant);
  s.events[static_cast<int>(type)]->Inc();
  if (type == FeedbackType::kClick && rank > 0) {
    s.click_rank->Observe(rank);
    if (MarkFirstClick(request_id)) s.first_click_reciprocal_rank->Observe(1.0 / rank);
  }
  if (type == FeedbackType::kPurchase && value >= 0) {
    std::string cur = currency.empty() ? std::string("unknown") : std::string(currency);
    purchase_value_->WithLabels({std::string(catalog), std::string(endpoint), std::string(variant), cur})
        .Observe(value);
  }
}

void OnlineMetrics::RecordUnattributed(FeedbackType type) {
  unattributed_->WithLabels({std::string(FeedbackTypeName(type))}).Inc();
}

void OnlineMetrics::RecordRejected(std::string_view reason, uint64_t n) {
  rejected_->WithLabels({std::string(reason)}).Inc(n);
}

std::vector<OnlineMetrics::QueryCount> OnlineMetrics::TopQueries(std::string_view catalog, bool zero_result_only,
                                                                 size_t n) {
  std::vector<QueryCount> out;
  CatalogSketches* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sketches_.find(std::string(catalog));
    if (it == sketches_.end()) return out;
    s = it->second.get();
  }
  drift::FrequentItemsSketch merged(s->capacity);
  {
    std::lock_guard<std::mutex> lock(s->mu);
    for (const auto& t : s->threads) {
      std::lock_guard<std::mutex> tl(t->mu);
      merged.Merge(zero_result_only ? t->zero : t->all);
    }
  }
  for (const auto& row : merged.TopK(n)) out.push_back({row.item, row.estimate, merged.MaximumError()});
  return out;
}

}  // namespace shelfwatch::monitor
