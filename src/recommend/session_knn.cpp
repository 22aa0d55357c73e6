#include "recommend/session_knn.h"

#include "recommend/artifact.h"

namespace shelfwatch::recommend {

std::unique_ptr<SessionKnnModel> SessionKnnModel::Train(const InteractionLog& log, const SessionKnnParams& params) {
  auto m = std::make_unique<SessionKnnModel>();
  m->params_ = params;
  m->items_ = log.items.names();
  struct Raw {
    int64_t end;
    std::vector<uint32_t> items;
  };
  std::vector<Raw> sessions;
  for (uint32_t u = 0; u + 1 < log.user_begin.size(); ++u) {
    auto events = log.EventsOf(u);
    auto breaks = SessionBreaks(events, params.session_gap_seconds);
    for (size_t s = 0; s + 1 < breaks.size(); ++s) {
      Raw r;
      for (uint32_t i = breaks[s]; i < breaks[s + 1]; ++i) {
        if (std::find(r.items.begin(), r.items.end(), events[i].item) == r.items.end()) r.items.push_back(events[i].item);
      }
      r.end = events[breaks[s + 1] - 1].timestamp;
      sessions.push_back(std::move(r));
    }
  }
  std::stable_sort(sessions.begin(), sessions.end(), [](const Raw& a, const Raw& b) { return a.end < b.end; });
  std::vector<uint32_t> count(m->items_.size() + 1, 0);
  m->session_begin_.push_back(0);
  for (const auto& s : sessions) {
    for (uint32_t i : s.items) {
      m->session_items_.push_back(i);
      ++count[i + 1];
    }
    m->session_begin_.push_back(static_cast<uint32_t>(m->session_items_.size()));
  }
  for (size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
  m->posting_begin_ = count;
  m->postings_.resize(m->session_items_.size());
  // Fill from the most recent session down so each posting list is most recent first.
  for (size_t s = sessions.size(); s-- > 0;) {
    for (uint32_t i : sessions[s].items) m->postings_[count[i]++] = static_cast<uint32_t>(s);
  }
  return m;
}

void SessionKnnModel::Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const {
  // The current session: the latest L distinct items, most recent first, plus the anchor.
  std::vector<uint32_t> current;
  if (context.anchor != kNoItem && context.anchor < items_.size()) current.push_back(context.anchor);
  for (size_t i = context.history.size(); i > 0 && current.size() < params_.session_length; --i) {
    uint32_t item = context.history[i - 1].item;
    if (item >= items_.size()) continue;
    if (std::find(current.begin(), current.end(), item) == current.end()) current.push_back(item);
  }
  if (current.empty()) return;
  size_t len = current.size();
  // Sample: the m most recent sessions holding any current item (session ids grow with time).
  std::vector<uint32_t> sample;
  for (uint32_t item : current) {
    size_t b = posting_begin_[item], e = std::min<size_t>(posting_begin_[item + 1], b + params_.sample_size);
    sample.insert(sample.end(), postings_.begin() + static_cast<std::ptrdiff_t>(b), postings_.begin() + static_cast<std::ptrdiff_t>(e));
  }
  std::sort(sample.begin(), sample.end(), std::greater<>());
  sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
  if (sample.size() > params_.sample_size) sample.resize(params_.sample_size);
  std::vector<Candidate> similar;  // (session, similarity)
  for (uint32_t s : sample) {
    float dot = 0;
    for (uint32_t k = session_begin_[s]; k < session_begin_[s + 1]; ++k) {
      for (size_t p = 0; p < len; ++p) {
        // Linear decay by position: the latest item weighs 1, the oldest 1/L.
        if (current[p] == session_items_[k]) dot += static_cast<float>(len - p) / static_cast<float>(len);
      }
    }
    if (dot > 0) {
      float size = static_cast<float>(session_begin_[s + 1] - session_begin_[s]);
      similar.push_back({s, dot / std::sqrt(size * static_cast<float>(len))});
    }
  }
  KeepTop(&similar, params_.neighbors);
  auto& acc = ScoreAccumulator::ForThread();
  acc.Reset(items_.size());
  for (const auto& nb : similar) {
    for (uint32_t k = session_begin_[nb.item]; k < session_begin_[nb.item + 1]; ++k) acc.Add(session_items_[k], nb.score);
  }
  std::vector<Candidate> c;
  acc.Drain(&c);
  KeepTop(&c, n);
  out->insert(out->end(), c.begin(), c.end());
}

Status SessionKnnModel::Save(const std::string& dir) const {
  ArtifactWriter w(kind());
  w.Put(params_);
  w.PutStrings(items_);
  w.PutVector(session_begin_);
  w.PutVector(session_items_);
  w.PutVector(posting_begin_);
  w.PutVector(postings_);
  return WriteFileAtomically(dir + "/model.bin", w.bytes());
}

Result<std::unique_ptr<SessionKnnModel>> SessionKnnModel::Load(const std::string& dir) {
  auto bytes = ReadWholeFile(dir + "/model.bin");
  if (!bytes.ok()) return bytes.status();
  auto r = ArtifactReader::Open(std::move(*bytes), "sknn");
  if (!r.ok()) return r.status();
  auto m = std::make_unique<SessionKnnModel>();
  SW_RETURN_IF_ERROR(r->Get(&m->params_));
  SW_RETURN_IF_ERROR(r->GetStrings(&m->items_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->session_begin_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->session_items_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->posting_begin_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->postings_));
  size_t sessions = m->session_begin_.empty() ? 0 : m->session_begin_.size() - 1;
  bool ok = r->AtEnd() && !m->session_begin_.empty() && m->session_begin_.back() == m->session_items_.size() &&
            m->posting_begin_.size() == m->items_.size() + 1 && m->posting_begin_.back() == m->postings_.size();
  for (size_t i = 1; ok && i < m->session_begin_.size(); ++i) ok = m->session_begin_[i - 1] <= m->session_begin_[i];
  for (size_t i = 1; ok && i < m->posting_begin_.size(); ++i) ok = m->posting_begin_[i - 1] <= m->posting_begin_[i];
  for (uint32_t i : m->session_items_) ok = ok && i < m->items_.size();
  for (uint32_t s : m->postings_) ok = ok && s < sessions;
  if (!ok) return Status(ErrorCode::kDataLoss, dir + "/model.bin: inconsistent sknn artifact");
  return m;
}

std::vector<std::pair<std::string, double>> SessionKnnModel::Params() const {
  return {{"session_gap_seconds", static_cast<double>(params_.session_gap_seconds)},
          {"sample_size", params_.sample_size},
          {"neighbors", params_.neighbors},
          {"session_length", params_.session_length}};
}

}  // namespace shelfwatch::recommend
