#include "recommend/model.h"

namespace shelfwatch::recommend {

void KeepTop(std::vector<Candidate>* c, size_t n) {
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  };
  if (c->size() > n) {
    std::nth_element(c->begin(), c->begin() + static_cast<std::ptrdiff_t>(n), c->end(), better);
    c->resize(n);
  }
  std::sort(c->begin(), c->end(), better);
}

void ScoreAccumulator::Reset(size_t item_count) {
  if (scores_.size() < item_count) scores_.resize(item_count, 0.0f);
  for (uint32_t i : touched_) scores_[i] = 0;
  touched_.clear();
}

void ScoreAccumulator::Drain(std::vector<Candidate>* out) {
  for (uint32_t i : touched_) {
    out->push_back({i, scores_[i]});
    scores_[i] = 0;
  }
  touched_.clear();
}

ScoreAccumulator& ScoreAccumulator::ForThread() {
  thread_local ScoreAccumulator acc;
  return acc;
}

std::vector<ContextEvent> HistoryOf(const InteractionLog& log, uint32_t user, size_t max) {
  auto events = log.EventsOf(user);
  size_t start = events.size() > max ? events.size() - max : 0;
  std::vector<ContextEvent> out;
  out.reserve(events.size() - start);
  for (size_t i = start; i < events.size(); ++i) out.push_back({events[i].item, events[i].behavior, events[i].timestamp});
  return out;
}

}  // namespace shelfwatch::recommend
