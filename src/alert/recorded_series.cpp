#include "alert/recorded_series.h"

namespace shelfwatch::alert {

void RecordedSeries::Append(const monitor::LabelSet& labels, int64_t t, double v) {
  auto it = series_.find(labels);
  if (it == series_.end()) {
    if (series_.size() >= max_series_) {
      ++dropped_;
      return;
    }
    it = series_.emplace(labels, std::deque<monitor::Sample>{}).first;
  }
  auto& samples = it->second;
  if (!samples.empty() && samples.back().t >= t) return;  // out of order: keep the first
  samples.push_back({t, v});
  while (!samples.empty() && samples.front().t < t - retention_ms_) samples.pop_front();
}

void RecordedSeries::Write(const std::string& owner, int64_t t,
                           const std::vector<std::pair<monitor::LabelSet, double>>& samples) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<monitor::LabelSet>& mine = owned_[owner];
  std::set<monitor::LabelSet> now;
  for (const auto& [labels, v] : samples) {
    Append(labels, t, monitor::NormalizeValue(v));
    now.insert(labels);
  }
  for (const auto& old : mine) {
    if (!now.count(old)) Append(old, t, monitor::StaleNaN());
  }
  mine = std::move(now);
  // Drop series whose samples all aged out.
  for (auto it = series_.begin(); it != series_.end();) {
    if (!it->second.empty() && it->second.back().t < t - retention_ms_) {
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
}

void RecordedSeries::Forget(const std::string& owner, int64_t t) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = owned_.find(owner);
  if (it == owned_.end()) return;
  for (const auto& labels : it->second) Append(labels, t, monitor::StaleNaN());
  owned_.erase(it);
}

std::vector<std::string> RecordedSeries::Owners() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [owner, _] : owned_) out.push_back(owner);
  return out;
}

uint64_t RecordedSeries::series_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

Status RecordedSeries::Select(const std::vector<monitor::LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                              std::vector<monitor::StoredSeries>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, samples] : series_) {
    if (!monitor::MatchesAll(labels, matchers)) continue;
    monitor::StoredSeries s;
    for (const auto& smp : samples) {
      if (smp.t >= mint && smp.t <= maxt) s.samples.push_back(smp);
    }
    if (s.samples.empty()) continue;
    s.labels = std::make_shared<const monitor::LabelSet>(labels);
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace shelfwatch::alert
