// EaseModel: EASE, the shallow linear autoencoder of Steck 2019 ("Embarrassingly Shallow
// Autoencoders for Sparse Data", WWW): B = I - P diagMat(1/diag(P)), P = (X^T X + lambda I)^-1,
// scores = x B for a user's item vector x.
//
// Computed in its dual (user-space) form: by the Woodbury identity
//   P = (1/lambda) (I - X^T K^-1 X),  K = lambda I + X X^T  (users x users),
// so x P = (x - (x X^T) K^-1 X) / lambda and P_jj = (1 - X_j^T K^-1 X_j) / lambda, with X_j
// item j's column. Training inverts a users x users matrix instead of items x items: on
// Taobao (~800 users, ~5k items kept) that is 800^3 instead of 5k^3 flops, and the artifact
// holds K^-1 rather than a dense B. Only items with >= min_users distinct users are kept
// (an item seen by one user cannot be learned from) and at most max_users users (the most
// active); beyond a few thousand users the primal form over a capped item set is the better
// choice and is not implemented here.
// Thread-safety: immutable after Train/Load; Score safe from any thread.
// Cost: Train O(u^2 n_kept + u^3); Score O(u^2 + nnz(X)); memory 4 u^2 + 12 nnz(X) bytes.
#pragma once

#include <memory>

#include "recommend/model.h"

namespace shelfwatch::recommend {

struct EaseParams {
  float lambda = 200.0f;
  uint32_t min_users = 2;
  uint32_t max_users = 4096;
  bool weighted = false;  // X entries: 1 (false) or the summed behaviour weights (true)
  EventWeighting query_weighting{{1.0f, 1.0f, 1.0f, 1.0f}, 0.0};  // x for a query
};

class EaseModel final : public CandidateModel {
 public:
  // kInvalidArgument when no item passes min_users; kInternal if the factorisation fails.
  static Result<std::unique_ptr<EaseModel>> Train(const InteractionLog& log, const EaseParams& params = {});
  static Result<std::unique_ptr<EaseModel>> Load(const std::string& version_dir);

  std::string_view kind() const override { return "ease"; }
  const std::vector<std::string>& item_ids() const override { return items_; }
  void Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const override;
  Status Save(const std::string& version_dir) const override;
  std::vector<std::pair<std::string, double>> Params() const override;
  // The model's index of a log item, kNoItem when it was not kept (the service maps by id).
  size_t user_count() const { return users_; }

 private:
  EaseParams params_;
  std::vector<std::string> items_;
  uint32_t users_ = 0;
  std::vector<float> k_inverse_;            // users x users, row-major
  std::vector<float> inv_lambda_p_;         // 1 / (lambda P_jj) per item
  std::vector<uint32_t> row_begin_, row_items_;  // X by user (CSR)
  std::vector<float> row_values_;
  std::vector<uint32_t> col_begin_, col_users_;  // X by item (CSC)
  std::vector<float> col_values_;
};

}  // namespace shelfwatch::recommend
