// SessionKnnModel: session-based nearest neighbours, V-SKNN variant (Ludewig & Jannach 2018,
// "Evaluation of session-based recommendation algorithms", UMUAI 28(4)): the current
// session's items are weighted by a linear decay of their position (the latest counts 1,
// the one before (L-1)/L, ...); the m most recent past sessions sharing an item are the
// sample; similarity is the weighted dot product divided by sqrt(L |n|) (cosine with
// binary past sessions); an item's score is the sum of the similarities of the k most similar
// sessions that contain it.
// Sessions are cut from each user's events by a time gap (no session ids in Taobao).
// Thread-safety: immutable after Train/Load; Score safe from any thread.
// Cost: Score O(L x posting reads + m x session length); memory O(events).
#pragma once

#include <memory>

#include "recommend/model.h"

namespace shelfwatch::recommend {

struct SessionKnnParams {
  int64_t session_gap_seconds = 1800;
  uint32_t sample_size = 500;    // m most recent candidate sessions
  uint32_t neighbors = 100;      // k
  uint32_t session_length = 10;  // L: latest distinct items of the context used as the session
};

class SessionKnnModel final : public CandidateModel {
 public:
  static std::unique_ptr<SessionKnnModel> Train(const InteractionLog& log, const SessionKnnParams& params = {});
  static Result<std::unique_ptr<SessionKnnModel>> Load(const std::string& version_dir);

  std::string_view kind() const override { return "sknn"; }
  const std::vector<std::string>& item_ids() const override { return items_; }
  void Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const override;
  Status Save(const std::string& version_dir) const override;
  std::vector<std::pair<std::string, double>> Params() const override;
  size_t session_count() const { return session_begin_.empty() ? 0 : session_begin_.size() - 1; }

 private:
  SessionKnnParams params_;
  std::vector<std::string> items_;
  // Sessions numbered by end time (higher = more recent); CSR of their distinct items.
  std::vector<uint32_t> session_begin_, session_items_;
  // For each item, the sessions containing it, most recent first.
  std::vector<uint32_t> posting_begin_, postings_;
};

}  // namespace shelfwatch::recommend
