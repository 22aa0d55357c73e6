#include "recommend/ease.h"

#include <Eigen/Dense>
#include <unordered_map>

#include "recommend/artifact.h"

namespace shelfwatch::recommend {

Result<std::unique_ptr<EaseModel>> EaseModel::Train(const InteractionLog& log, const EaseParams& p) {
  auto m = std::make_unique<EaseModel>();
  m->params_ = p;
  uint32_t n_log_users = static_cast<uint32_t>(log.user_begin.size() - 1);
  // Distinct (user, item) cells with their weights.
  std::vector<std::unordered_map<uint32_t, float>> cells(n_log_users);
  std::vector<uint32_t> users_of(log.items.size(), 0);
  for (uint32_t u = 0; u < n_log_users; ++u) {
    for (const auto& e : log.EventsOf(u)) {
      auto [it, fresh] = cells[u].emplace(e.item, 0.0f);
      if (fresh) ++users_of[e.item];
      it->second = p.weighted ? it->second + p.query_weighting.behavior[static_cast<int>(e.behavior)] : 1.0f;
    }
  }
  std::vector<uint32_t> kept(log.items.size(), kNoItem);
  for (uint32_t i = 0; i < log.items.size(); ++i) {
    if (users_of[i] >= p.min_users) {
      kept[i] = static_cast<uint32_t>(m->items_.size());
      m->items_.push_back(log.items.Name(i));
    }
  }
  if (m->items_.empty()) return InvalidArgument("ease: no item has at least " + std::to_string(p.min_users) + " users");
  // The most active users (by kept cells), at most max_users.
  std::vector<std::pair<uint32_t, uint32_t>> activity;  // (cells, user)
  for (uint32_t u = 0; u < n_log_users; ++u) {
    uint32_t c = 0;
    for (const auto& [item, w] : cells[u]) c += kept[item] != kNoItem;
    if (c > 0) activity.push_back({c, u});
  }
  std::sort(activity.begin(), activity.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  if (activity.size() > p.max_users) activity.resize(p.max_users);
  std::sort(activity.begin(), activity.end(), [](auto& a, auto& b) { return a.second < b.second; });
  uint32_t nu = static_cast<uint32_t>(activity.size());
  size_t ni = m->items_.size();
  m->users_ = nu;
  m->row_begin_.push_back(0);
  std::vector<uint32_t> col_count(ni + 1, 0);
  for (const auto& [c, u] : activity) {
    std::vector<std::pair<uint32_t, float>> row;
    for (const auto& [item, w] : cells[u]) {
      if (kept[item] != kNoItem) row.push_back({kept[item], w});
    }
    std::sort(row.begin(), row.end());
    for (const auto& [j, w] : row) {
      m->row_items_.push_back(j);
      m->row_values_.push_back(w);
      ++col_count[j + 1];
    }
    m->row_begin_.push_back(static_cast<uint32_t>(m->row_items_.size()));
  }
  for (size_t j = 1; j <= ni; ++j) col_count[j] += col_count[j - 1];
  m->col_begin_ = col_count;
  m->col_users_.resize(m->row_items_.size());
  m->col_values_.resize(m->row_items_.size());
  for (uint32_t r = 0; r < nu; ++r) {
    for (uint32_t k = m->row_begin_[r]; k < m->row_begin_[r + 1]; ++k) {
      uint32_t slot = col_count[m->row_items_[k]]++;
      m->col_users_[slot] = r;
      m->col_values_[slot] = m->row_values_[k];
    }
  }
  // K = lambda I + X X^T, accumulated column by column of X (each item adds an outer product
  // of its few users).
  Eigen::MatrixXd gram = Eigen::MatrixXd::Identity(nu, nu) * p.lambda;
  for (size_t j = 0; j < ni; ++j) {
    for (uint32_t a = m->col_begin_[j]; a < m->col_begin_[j + 1]; ++a) {
      for (uint32_t b = m->col_begin_[j]; b < m->col_begin_[j + 1]; ++b) {
        gram(m->col_users_[a], m->col_users_[b]) += static_cast<double>(m->col_values_[a]) * m->col_values_[b];
      }
    }
  }
  Eigen::LLT<Eigen::MatrixXd> llt(gram);
  if (llt.info() != Eigen::Success) return Internal("ease: Cholesky factorisation failed (lambda too small?)");
  Eigen::MatrixXd inverse = llt.solve(Eigen::MatrixXd::Identity(nu, nu));
  m->k_inverse_.resize(static_cast<size_t>(nu) * nu);
  for (uint32_t r = 0; r < nu; ++r) {
    for (uint32_t c = 0; c < nu; ++c) m->k_inverse_[static_cast<size_t>(r) * nu + c] = static_cast<float>(inverse(r, c));
  }
  // lambda P_jj = 1 - X_j^T K^-1 X_j.
  m->inv_lambda_p_.resize(ni);
  for (size_t j = 0; j < ni; ++j) {
    double q = 0;
    for (uint32_t a = m->col_begin_[j]; a < m->col_begin_[j + 1]; ++a) {
      for (uint32_t b = m->col_begin_[j]; b < m->col_begin_[j + 1]; ++b) {
        q += m->col_values_[a] * inverse(m->col_users_[a], m->col_users_[b]) * m->col_values_[b];
      }
    }
    m->inv_lambda_p_[j] = static_cast<float>(1.0 / std::max(1e-9, 1.0 - q));
  }
  return m;
}

void EaseModel::Score(const ScoringContext& context, size_t n, std::vector<Candidate>* out) const {
  // x: the context's items (model indices) with their query weights.
  std::vector<std::pair<uint32_t, float>> x;
  auto add = [&](uint32_t item, float w) {
    if (item >= items_.size()) return;
    for (auto& e : x) {
      if (e.first == item) {
        e.second = params_.weighted ? e.second + w : 1.0f;
        return;
      }
    }
    x.push_back({item, params_.weighted ? w : 1.0f});
  };
  for (const auto& e : context.history) add(e.item, params_.query_weighting.Weight(e.behavior, context.now - e.timestamp));
  add(context.anchor, 1.0f);
  if (x.empty()) return;
  thread_local std::vector<float> y, z, t;
  y.assign(users_, 0.0f);
  for (const auto& [j, w] : x) {
    for (uint32_t a = col_begin_[j]; a < col_begin_[j + 1]; ++a) y[col_users_[a]] += w * col_values_[a];
  }
  z.assign(users_, 0.0f);
  for (uint32_t r = 0; r < users_; ++r) {
    float yr = y[r];
    if (yr == 0) continue;
    const float* row = k_inverse_.data() + static_cast<size_t>(r) * users_;  // K^-1 is symmetric
    for (uint32_t c = 0; c < users_; ++c) z[c] += yr * row[c];
  }
  t.assign(items_.size(), 0.0f);
  for (uint32_t r = 0; r < users_; ++r) {
    float zr = z[r];
    for (uint32_t k = row_begin_[r]; k < row_begin_[r + 1]; ++k) t[row_items_[k]] += zr * row_values_[k];
  }
  // score_j = (x B)_j = x_j - (x P)_j / P_jj = x_j - (x_j - t_j) / (lambda P_jj); for items
  // outside x that is t_j / (lambda P_jj). The diagonal constraint of EASE makes history items'
  // own weight cancel, so repeats score only through the other items.
  std::vector<Candidate> c;
  c.reserve(512);
  for (const auto& [j, w] : x) t[j] = (w - (w - t[j]) * inv_lambda_p_[j]) / inv_lambda_p_[j];
  for (uint32_t j = 0; j < items_.size(); ++j) {
    float s = t[j] * inv_lambda_p_[j];
    if (s > 0) c.push_back({j, s});
  }
  KeepTop(&c, n);
  out->insert(out->end(), c.begin(), c.end());
}

Status EaseModel::Save(const std::string& dir) const {
  ArtifactWriter w(kind());
  w.Put(params_);
  w.PutStrings(items_);
  w.Put(users_);
  w.PutVector(k_inverse_);
  w.PutVector(inv_lambda_p_);
  w.PutVector(row_begin_);
  w.PutVector(row_items_);
  w.PutVector(row_values_);
  w.PutVector(col_begin_);
  w.PutVector(col_users_);
  w.PutVector(col_values_);
  return WriteFileAtomically(dir + "/model.bin", w.bytes());
}

Result<std::unique_ptr<EaseModel>> EaseModel::Load(const std::string& dir) {
  auto bytes = ReadWholeFile(dir + "/model.bin");
  if (!bytes.ok()) return bytes.status();
  auto r = ArtifactReader::Open(std::move(*bytes), "ease");
  if (!r.ok()) return r.status();
  auto m = std::make_unique<EaseModel>();
  SW_RETURN_IF_ERROR(r->Get(&m->params_));
  SW_RETURN_IF_ERROR(r->GetStrings(&m->items_));
  SW_RETURN_IF_ERROR(r->Get(&m->users_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->k_inverse_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->inv_lambda_p_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->row_begin_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->row_items_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->row_values_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->col_begin_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->col_users_));
  SW_RETURN_IF_ERROR(r->GetVector(&m->col_values_));
  size_t ni = m->items_.size(), nu = m->users_, nnz = m->row_items_.size();
  bool ok = r->AtEnd() && m->k_inverse_.size() == nu * nu && m->inv_lambda_p_.size() == ni &&
            m->row_begin_.size() == nu + 1 && m->row_begin_.back() == nnz && m->row_values_.size() == nnz &&
            m->col_begin_.size() == ni + 1 && m->col_begin_.back() == nnz && m->col_users_.size() == nnz &&
            m->col_values_.size() == nnz;
  for (size_t i = 1; ok && i < m->row_begin_.size(); ++i) ok = m->row_begin_[i - 1] <= m->row_begin_[i];
  for (size_t i = 1; ok && i < m->col_begin_.size(); ++i) ok = m->col_begin_[i - 1] <= m->col_begin_[i];
  for (uint32_t j : m->row_items_) ok = ok && j < ni;
  for (uint32_t u : m->col_users_) ok = ok && u < nu;
  if (!ok) return Status(ErrorCode::kDataLoss, dir + "/model.bin: inconsistent ease artifact");
  return m;
}

std::vector<std::pair<std::string, double>> EaseModel::Params() const {
  return {{"lambda", params_.lambda}, {"min_users", params_.min_users}, {"max_users", params_.max_users},
          {"weighted", params_.weighted ? 1.0 : 0.0}, {"users", users_}, {"items", static_cast<double>(items_.size())}};
}

}  // namespace shelfwatch::recommend
