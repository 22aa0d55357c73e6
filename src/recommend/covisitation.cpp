#include "recommend/covisitation.h"

#include <unordered_map>

#include "recommend/artifact.h"

namespace shelfwatch::recommend {

CoVisitationParams PlainItemKnnParams() {
  CoVisitationParams p;
  p.weighting = EventWeighting{{1.0f, 1.0f, 1.0f, 1.0f}, 0.0};
  p.behavior_weighted_pairs = false;
  p.pair_decay_seconds = 0;
  p.session_boost = 0;
  p.window = UINT32_MAX;
  p.max_history = UINT32_MAX;
  p.min_neighbor_users = 1;
  return p;
}

namespace {

struct UserItem {
  uint32_t item;
  float weight;
  int64_t last;
};

}  // namespace

std::unique_ptr<CoVisitationModel> CoVisitationModel::Train(const InteractionLog& log, const CoVisitationParams& p) {
  auto m = std::make_unique<CoVisitationModel>();
  m->params_ = p;
  m->items_ = log.items.names();
  size_t n = m->items_.size();
  std::vector<float> norm(n, 0.0f);
  std::vector<uint32_t> users_of(n, 0);
  // Pair weights per source item; only a < b is stored during accumulation.
  std::vector<std::unordered_map<uint32_t, float>> pairs(n);
  std::unordered_map<uint32_t, size_t> slot;
  std::vector<UserItem> mine;
  for (uint32_t u = 0; u + 1 < log.user_begin.size(); ++u) {
    slot.clear();
    mine.clear();
    for (const auto& e : log.EventsOf(u)) {
      float w = p.behavior_weighted_pairs ? p.weighting.behavior[static_cast<int>(e.behavior)] : 1.0f;
      auto [it, fresh] = slot.emplace(e.item, mine.size());
      if (fresh) {
        mine.push_back({e.item, w, e.timestamp});
      } else {
        auto& ui = mine[it->second];
        ui.weight = p.behavior_weighted_pairs ? ui.weight + w : 1.0f;
        ui.last = e.timestamp;
      }
    }
    std::sort(mine.begin(), mine.end(), [](const UserItem& a, const UserItem& b) { return a.last < b.last; });
    for (const auto& ui : mine) {
      norm[ui.item] += ui.weight;
      ++users_of[ui.item];
    }
    for (size_t i = 0; i < mine.size(); ++i) {
      size_t end = p.window == UINT32_MAX ? mine.size() : std::min(mine.size(), i + 1 + p.window);
      for (size_t j = i + 1; j < end; ++j) {
        double gap = static_cast<double>(mine[j].last - mine[i].last);
        double w = std::sqrt(static_cast<double>(mine[i].weight) * mine[j].weight);
        if (p.pair_decay_seconds > 0) w *= std::exp(-gap / p.pair_decay_seconds);
        if (gap <= static_cast<double>(p.session_gap_seconds)) w *= 1.0 + p.session_boost;
        uint32_t a = std::min(mine[i].item, mine[j].item), b = std::max(mine[i].item, mine[j].item);
        pairs[a][b] += static_cast<float>(w);
      }
    }
  }
  std::vector<std::vector<Neighbor>> lists(n);
  for (uint32_t a = 0; a < n; ++a) {
    for (const auto& [b, c] : pairs[a]) {
      float sim = c / std::sqrt(norm[a] * norm[b]);
      if (users_of[b] >= p.min_neighbor_users) lists[a].push_back({b, sim});
      if (users_of[a] >= p.min_neighbor_users) lists[b].push_back({a, sim});
    }
    std::unordered_map<uint32_t, float>().swap(pairs[a]);
  }
  m->begin_.push_back(0);
  std::vector<Candidate> tmp;
  for (auto& list : lists) {
    tmp.clear();
    for (const auto& nb : list) tmp.push_back({nb.item, nb.weight});
    KeepTop(&tmp, p.max_neighbors);
    for (const auto& c : tmp) m->neighbors_.push_back({c.item, c.score});
    m->begin_.push_back(static_cast<uint32_t>(m->neighbors_.size()));
    std::vector<Neighbor>().swap(list);
  }
  return m;
}

std::span<const Neighbor> CoVisitationModel::NeighborsOf(uint32_t item) const {
  if (item + 1 >= begin_.size()) return {};
  return {neighbors_.data() + begin_[item], neighbors_.data() + begin_[item + 1]};
}

std::vector<Neighbor> QueryItems(const ScoringContext& context, const EventWeighting& weighting, size_t max) {
  std::vector<Neighbor> q;
  for (const auto& e : context.history) {
    if (e.item == kNoItem) continue;
    float w = weighting.Weight(e.behavior, context.now - e.timestamp);
    bool found = false;
    for (auto& x : q) {
      if (x.item == e.item) {
        x.weight += w;
        found = true;
        break;
      }
    }
    if (!found) q.push_back({e.item, w});
    // Quadratic in distinct items; histories reaching the service are capped (~hundreds).
  }
  if (context.anchor != kNoItem) {
    float top = 1.0f;
    for (const auto& x : q) top = std::max(top, x.weight);
    q.push_back({context.anchor, top});
  }
  if (q.size() > max) {
    std::nth_element(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(max), q.end(),
                     [](const Neighbor& a, const Neighbor& b) { return a.weight > b.weight; });
    q.resize(max);
  }
  return q;
}

void CoVisitationModel::Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const {
  auto query = QueryItems(context, params_.weighting, params_.max_history);
  auto& acc = ScoreAccumulator::ForThread();
  acc.Reset(items_.size());
  for (const auto& q : query) {
    for (const auto& nb : NeighborsOf(q.item)) acc.Add(nb.item, q.weight * nb.weight);
  }
  std::vector<Candidate> c;
  acc.Drain(&c);
  KeepTop(&c, n);
  out->insert(out->end(), c.begin(), c.end());
}

Status CoVisitationModel::Save(const std::string& dir) const {
  ArtifactWriter w(kind());
  w.Put(params_);
  w.PutStrings(items_);
  w.PutVector(begin_);
  w.PutVector(neighbors_);
  return WriteFileAtomically(dir + "/model.bin", w.bytes());
}

Result<std::unique_ptr<CoVisitationModel>> CoVisitationModel::Load(const std::string& dir) {
  auto bytes = ReadWholeFile(dir + "/model.bin");
  if (!bytes.ok()) return bytes.status();
  auto r = ArtifactReader::Open(std::move(*bytes), "covisit");
  if (!r.ok()) return r.status();
  auto m = std::make_unique<CoVisitationModel>();
  SW_RETURN_IF_ERROR(r->Get(&m->params_));
  SW_RETURN_IF_ERROR(r->GetStrings(&m->items_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->begin_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->neighbors_));
  bool ok = m->begin_.size() == m->items_.size() + 1 && m->begin_.front() == 0 &&
            m->begin_.back() == m->neighbors_.size() && r->AtEnd();
  for (size_t i = 1; ok && i < m->begin_.size(); ++i) ok = m->begin_[i - 1] <= m->begin_[i];
  for (const auto& nb : m->neighbors_) ok = ok && nb.item < m->items_.size();
  if (!ok) return Status(ErrorCode::kDataLoss, dir + "/model.bin: inconsistent covisit artifact");
  return m;
}

std::vector<std::pair<std::string, double>> CoVisitationModel::Params() const {
  return {{"behavior_weighted_pairs", params_.behavior_weighted_pairs ? 1.0 : 0.0},
          {"pair_decay_seconds", params_.pair_decay_seconds},
          {"session_gap_seconds", static_cast<double>(params_.session_gap_seconds)},
          {"session_boost", params_.session_boost},
          {"max_neighbors", params_.max_neighbors},
          {"decay_seconds", params_.weighting.decay_seconds}};
}

LiveCoVisitation::LiveCoVisitation(size_t max_items, size_t max_neighbors)
    : max_items_per_shard_(std::max<size_t>(1, max_items / kShards)), max_neighbors_(max_neighbors) {}

void LiveCoVisitation::AddPair(uint32_t a, uint32_t b, float weight) {
  if (a == b) return;
  AddOne(a, b, weight);
  AddOne(b, a, weight);
}

void LiveCoVisitation::AddOne(uint32_t a, uint32_t b, float weight) {
  Shard& s = shards_[a % kShards];
  std::lock_guard lock(s.mu);
  auto it = s.items.find(a);
  if (it == s.items.end()) {
    if (s.items.size() >= max_items_per_shard_) {
      ++s.dropped;
      return;
    }
    it = s.items.emplace(a, std::vector<Neighbor>()).first;
  }
  auto& list = it->second;
  for (auto& nb : list) {
    if (nb.item == b) {
      nb.weight += weight;
      return;
    }
  }
  if (list.size() < max_neighbors_) {
    list.push_back({b, weight});
    return;
  }
  auto weakest = std::min_element(list.begin(), list.end(), [](const Neighbor& x, const Neighbor& y) { return x.weight < y.weight; });
  if (weakest->weight < weight) *weakest = {b, weight};
}

void LiveCoVisitation::Score(std::span<const Neighbor> query, ScoreAccumulator& acc) const {
  for (const auto& q : query) {
    const Shard& s = shards_[q.item % kShards];
    std::lock_guard lock(s.mu);
    auto it = s.items.find(q.item);
    if (it == s.items.end()) continue;
    // An item interned by a concurrent OnEvent after `acc` was sized is not scored this time.
    for (const auto& nb : it->second) {
      if (nb.item < acc.size()) acc.Add(nb.item, q.weight * nb.weight);
    }
  }
}

size_t LiveCoVisitation::dropped() const {
  size_t d = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    d += s.dropped;
  }
  return d;
}

}  // namespace shelfwatch::recommend
