#include "recommend/offline_eval.h"

#include <unordered_set>

namespace shelfwatch::recommend {

std::string_view ProtocolName(Protocol p) { return p == Protocol::kMain ? "main" : "discovery"; }

std::vector<EvalCase> BuildCases(const InteractionLog& log, int64_t cutoff, Protocol protocol, int64_t end) {
  std::vector<EvalCase> cases;
  for (uint32_t u = 0; u + 1 < log.user_begin.size(); ++u) {
    std::unordered_set<uint32_t> seen;
    EvalCase c;
    c.user = u;
    bool has_train = false;
    for (const auto& e : log.EventsOf(u)) {
      if (e.timestamp < cutoff) {
        seen.insert(e.item);
        has_train = true;
      }
    }
    for (const auto& e : log.EventsOf(u)) {
      if (e.timestamp < cutoff || e.timestamp >= end) continue;
      if (protocol == Protocol::kDiscovery && seen.count(e.item)) continue;
      if (std::find(c.truth.begin(), c.truth.end(), e.item) == c.truth.end()) c.truth.push_back(e.item);
    }
    // A user without TRAIN history is a cold start, outside this protocol (none in Taobao).
    if (!c.truth.empty() && has_train) cases.push_back(std::move(c));
  }
  return cases;
}

CaseScore ScoreRanking(std::span<const uint32_t> ranked, std::span<const uint32_t> truth, size_t k) {
  CaseScore s;
  if (truth.empty()) return s;
  std::unordered_set<uint32_t> t(truth.begin(), truth.end());
  size_t hits = 0;
  double dcg = 0;
  for (size_t r = 0; r < ranked.size() && r < k; ++r) {
    if (!t.count(ranked[r])) continue;
    ++hits;
    if (r < 10) dcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
  }
  double idcg = 0;
  for (size_t r = 0; r < std::min<size_t>(10, t.size()); ++r) idcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
  s.recall = static_cast<double>(hits) / static_cast<double>(std::min(k, t.size()));
  s.ndcg10 = dcg / idcg;
  s.hit = hits > 0 ? 1.0 : 0.0;
  return s;
}

RankingMetrics Evaluate(const InteractionLog& train, const std::vector<EvalCase>& cases, Protocol protocol,
                        int64_t cutoff, size_t k, const OfflineRecommender& recommender) {
  // Popularity percentile of each TRAIN item by interaction count.
  std::vector<uint32_t> count(train.items.size(), 0);
  for (const auto& e : train.events) ++count[e.item];
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < count.size(); ++i) {
    if (count[i] > 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return count[a] < count[b]; });
  std::vector<float> percentile(count.size(), 0.0f);
  for (size_t r = 0; r < order.size(); ++r) {
    percentile[order[r]] = static_cast<float>(r + 1) / static_cast<float>(order.size());
  }
  RankingMetrics m;
  std::unordered_set<uint32_t> recommended;
  double pop_sum = 0;
  size_t pop_n = 0;
  std::vector<uint32_t> ranked;
  for (const auto& c : cases) {
    auto history = HistoryOf(train, c.user);
    ranked.clear();
    recommender(history, cutoff, protocol == Protocol::kDiscovery, k, &ranked);
    if (ranked.size() > k) ranked.resize(k);
    CaseScore s = ScoreRanking(ranked, c.truth, k);
    m.recall += s.recall;
    m.ndcg10 += s.ndcg10;
    m.hit_rate += s.hit;
    for (uint32_t i : ranked) {
      recommended.insert(i);
      if (i < percentile.size()) pop_sum += percentile[i];
      ++pop_n;
    }
  }
  m.users = cases.size();
  if (!cases.empty()) {
    double n = static_cast<double>(cases.size());
    m.recall /= n;
    m.ndcg10 /= n;
    m.hit_rate /= n;
  }
  m.coverage = order.empty() ? 0 : static_cast<double>(recommended.size()) / static_cast<double>(order.size());
  m.popularity_percentile = pop_n ? pop_sum / static_cast<double>(pop_n) : 0;
  return m;
}

}  // namespace shelfwatch::recommend
