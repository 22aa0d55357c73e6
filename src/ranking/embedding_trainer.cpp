#include "ranking/embedding_trainer.h"

#include <unistd.h>

#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "common/clock.h"
#include "models/embedding_encoder.h"
#include "models/embedding_model.h"
#include "ranking/model_drift.h"
#include "ranking/reranker.h"
#include "ranking/trainer.h"

namespace shelfwatch::ranking {
namespace {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "items.f32 and encoder.f32 are little-endian");

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixView = Eigen::Map<RowMatrix>;
using ConstMatrixView = Eigen::Map<const RowMatrix>;

// Calls fn(begin, end) on the chunks [k x chunk, (k + 1) x chunk) of [0, n), chunk k on thread
// k % threads (the calling thread is one of them). What a chunk computes does not depend on
// the thread count, which keeps training deterministic whatever `threads` is.
template <typename Fn>
void ForChunks(size_t n, size_t chunk, int threads, Fn&& fn) {
  const size_t chunks = (n + chunk - 1) / chunk;
  const size_t workers = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), chunks));
  auto run = [&](size_t first) {
    for (size_t k = first; k < chunks; k += workers) fn(k * chunk, std::min(n, (k + 1) * chunk));
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
}

// Feature bucket lists of many texts, packed (CSR).
struct FeatureLists {
  std::vector<size_t> offsets{0};
  std::vector<uint32_t> features;

  void Add(const models::EncoderSpec& spec, std::string_view text) {
    const std::vector<uint32_t> f = models::EncoderFeatures(spec, text);
    features.insert(features.end(), f.begin(), f.end());
    offsets.push_back(features.size());
  }
  size_t size() const { return offsets.size() - 1; }
  std::span<const uint32_t> of(size_t i) const {
    return std::span<const uint32_t>(features).subspan(offsets[i], offsets[i + 1] - offsets[i]);
  }
};

// Dot product with eight independent partial sums, which GCC vectorises without -ffast-math.
float Dot(const float* a, const float* b, size_t dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    for (size_t k = 0; k < 8; ++k) acc[k] += a[d + k] * b[d + k];
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; d < dim; ++d) s += a[d] * b[d];
  return s;
}

// out = sum of table rows of `features`, normalised; returns 1 / norm before normalising (0
// for a zero sum: such a text has no direction and passes no gradient).
float EncodeRow(const std::vector<float>& table, size_t dim, std::span<const uint32_t> features, float* out) {
  std::fill(out, out + dim, 0.0f);
  for (uint32_t f : features) {
    const float* row = table.data() + static_cast<size_t>(f) * dim;
    for (size_t d = 0; d < dim; ++d) out[d] += row[d];
  }
  double norm = 0;
  for (size_t d = 0; d < dim; ++d) norm += static_cast<double>(out[d]) * out[d];
  if (norm <= 0) return 0.0f;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (size_t d = 0; d < dim; ++d) out[d] *= inv;
  return inv;
}

// Gradient with respect to the unnormalised sum u, given the gradient g with respect to
// v = u / |u|: (g - (g.v) v) / |u|. In place on g.
void ThroughNormalisation(float* g, const float* v, float inv_norm, size_t dim) {
  const float gv = Dot(g, v, dim);
  for (size_t d = 0; d < dim; ++d) g[d] = (g[d] - gv * v[d]) * inv_norm;
}

// Exact top k of precomputed scores, best first, ties by lower row.
std::vector<uint32_t> TopOfScores(std::span<const float> scores, size_t k) {
  std::vector<uint32_t> rows(scores.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
  k = std::min(k, rows.size());
  auto better = [&](uint32_t a, uint32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  std::nth_element(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(k), rows.end(), better);
  rows.resize(k);
  std::sort(rows.begin(), rows.end(), better);
  return rows;
}

// Exact cosine retrieval of the queries against unit item rows; fills `top` (query order) and
// returns the relevance summary at depth 100.
eval::RelevanceSummary Retrieve(const models::EncoderSpec& spec, const std::vector<float>& table,
                                const std::vector<float>& items, const std::vector<std::string>& ids,
                                const std::vector<const eval::JudgedQuery*>& queries, int threads,
                                std::vector<std::vector<uint32_t>>* top) {
  constexpr size_t kDepth = 100;
  const size_t dim = static_cast<size_t>(spec.dim);
  const size_t n = ids.size();
  top->assign(queries.size(), {});
  // A block of queries against all items is one matrix product (Eigen's blocked GEMM reads
  // the item matrix, far larger than the caches, once per block instead of once per query).
  constexpr size_t kBlock = 32;
  const ConstMatrixView item_matrix(items.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  ForChunks(queries.size(), kBlock, threads, [&](size_t begin, size_t end) {
    const auto len = static_cast<Eigen::Index>(end - begin);
    RowMatrix q(len, static_cast<Eigen::Index>(dim));
    for (size_t i = begin; i < end; ++i) {
      EncodeRow(table, dim, models::EncoderFeatures(spec, queries[i]->text), q.row(static_cast<Eigen::Index>(i - begin)).data());
    }
    RowMatrix scores(len, static_cast<Eigen::Index>(n));
    scores.noalias() = q * item_matrix.transpose();
    for (size_t i = begin; i < end; ++i) {
      const float* row = scores.row(static_cast<Eigen::Index>(i - begin)).data();
      (*top)[i] = TopOfScores(std::span<const float>(row, n), kDepth);
    }
  });
  eval::RelevanceAccumulator acc;
  std::vector<std::string> ranked;
  for (size_t i = 0; i < queries.size(); ++i) {
    ranked.clear();
    for (uint32_t r : (*top)[i]) ranked.push_back(ids[r]);
    acc.Add(*queries[i], ranked, n);
  }
  return acc.Summary();
}

// Every item's unit vector under `table`.
void EncodeItems(const FeatureLists& item_features, const std::vector<float>& table, size_t dim, int threads,
                 std::vector<float>* items) {
  items->assign(item_features.size() * dim, 0.0f);
  ForChunks(item_features.size(), 1024, threads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) EncodeRow(table, dim, item_features.of(i), items->data() + i * dim);
  });
}

// One training example: a query (judged or cut from a title) and one positive product.
struct Pair {
  std::span<const uint32_t> query;      // feature buckets
  std::span<const uint32_t> positives;  // sorted docs never used as this row's negatives
  uint32_t doc = 0;
  float weight = 1;
  bool judged = true;
};

// The state of one minibatch step, reused across steps.
struct Step {
  size_t dim = 0;
  std::vector<uint32_t> cols;  // docs: the batch's positives (column i is row i's), then sampled
  std::vector<float> q, q_inv, d, d_inv;  // unit vectors and 1/norm of rows and columns
  std::vector<float> coef;                // rows x cols: d loss / d logit
  std::vector<float> gq, gd;              // gradients of the rows' and columns' sums
  std::vector<double> loss;               // per row, weighted
  std::vector<int32_t> slot_of;           // bucket -> slot in `grad`, -1 when untouched
  std::vector<uint32_t> touched;          // buckets by slot
  std::vector<float> grad;                // slots x dim
};

// One step of minibatch sampled softmax with Adagrad on the touched rows. Returns the summed
// weighted loss of the judged rows.
double TrainStep(std::span<const Pair> batch, const FeatureLists& item_features, const EmbeddingTrainingOptions& o,
                 std::mt19937_64& rng, std::vector<float>* table, std::vector<float>* adagrad, Step* s,
                 double* judged_weight) {
  const size_t dim = s->dim;
  const size_t rows = batch.size();
  s->cols.clear();
  for (const Pair& p : batch) s->cols.push_back(p.doc);
  std::uniform_int_distribution<uint32_t> any_item(0, static_cast<uint32_t>(item_features.size() - 1));
  for (int k = 0; k < o.sampled_negatives; ++k) s->cols.push_back(any_item(rng));
  const size_t cols = s->cols.size();
  s->q.resize(rows * dim);
  s->q_inv.resize(rows);
  s->d.resize(cols * dim);
  s->d_inv.resize(cols);
  s->coef.resize(rows * cols);  // the products below overwrite these three
  s->gq.resize(rows * dim);
  s->gd.resize(cols * dim);
  s->loss.assign(rows, 0.0);

  double weight_sum = 0;
  for (const Pair& p : batch) weight_sum += p.weight;
  const float inv_t = static_cast<float>(1.0 / o.temperature);

  // Unit vectors of the rows and columns.
  constexpr size_t kChunk = 64;
  ForChunks(rows, kChunk, o.threads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) s->q_inv[i] = EncodeRow(*table, dim, batch[i].query, &s->q[i * dim]);
  });
  ForChunks(cols, kChunk, o.threads, [&](size_t begin, size_t end) {
    for (size_t j = begin; j < end; ++j) {
      s->d_inv[j] = EncodeRow(*table, dim, item_features.of(s->cols[j]), &s->d[j * dim]);
    }
  });
  const auto r = static_cast<Eigen::Index>(rows), c = static_cast<Eigen::Index>(cols),
             k = static_cast<Eigen::Index>(dim);
  const ConstMatrixView q(s->q.data(), r, k), d(s->d.data(), c, k);
  MatrixView coef(s->coef.data(), r, c), gq(s->gq.data(), r, k), gd(s->gd.data(), c, k);

  // Forward and the gradient of the rows: each row's softmax over the columns; the logits are
  // overwritten by d loss / d (cosine).
  ForChunks(rows, kChunk, o.threads, [&](size_t begin, size_t end) {
    const auto b = static_cast<Eigen::Index>(begin), len = static_cast<Eigen::Index>(end - begin);
    coef.middleRows(b, len).noalias() = q.middleRows(b, len) * d.transpose();
    for (size_t i = begin; i < end; ++i) {
      const Pair& p = batch[i];
      float* logits = &s->coef[i * cols];
      float max_logit = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < cols; ++j) {
        // Another positive of this query (or the same product again) is not a negative.
        if (j != i && std::binary_search(p.positives.begin(), p.positives.end(), s->cols[j])) {
          logits[j] = -std::numeric_limits<float>::infinity();
          continue;
        }
        logits[j] *= inv_t;
        max_logit = std::max(max_logit, logits[j]);
      }
      const float own = logits[i];
      double z = 0;
      for (size_t j = 0; j < cols; ++j) {
        logits[j] = std::exp(logits[j] - max_logit);  // 0 when masked
        z += logits[j];
      }
      s->loss[i] = p.weight * (std::log(z) + max_logit - own);
      const float w = static_cast<float>(p.weight / weight_sum), scale = w * inv_t / static_cast<float>(z);
      for (size_t j = 0; j < cols; ++j) logits[j] *= scale;
      logits[i] -= w * inv_t;
    }
    gq.middleRows(b, len).noalias() = coef.middleRows(b, len) * d;
    for (size_t i = begin; i < end; ++i) ThroughNormalisation(&s->gq[i * dim], &s->q[i * dim], s->q_inv[i], dim);
  });
  // The gradient of the columns.
  ForChunks(cols, kChunk, o.threads, [&](size_t begin, size_t end) {
    const auto b = static_cast<Eigen::Index>(begin), len = static_cast<Eigen::Index>(end - begin);
    gd.middleRows(b, len).noalias() = coef.middleCols(b, len).transpose() * q;
    for (size_t j = begin; j < end; ++j) ThroughNormalisation(&s->gd[j * dim], &s->d[j * dim], s->d_inv[j], dim);
  });

  // Sparse update: a slot per touched bucket; each thread owns the slots of its residue, and
  // walks the examples in order, so every slot's sum has one order whatever the threads.
  s->touched.clear();
  auto assign = [&](std::span<const uint32_t> features) {
    for (uint32_t f : features) {
      if (s->slot_of[f] < 0) {
        s->slot_of[f] = static_cast<int32_t>(s->touched.size());
        s->touched.push_back(f);
      }
    }
  };
  for (const Pair& p : batch) assign(p.query);
  for (uint32_t doc : s->cols) assign(item_features.of(doc));
  s->grad.assign(s->touched.size() * dim, 0.0f);
  const size_t parts = static_cast<size_t>(std::max(o.threads, 1));
  const float lr = static_cast<float>(o.learning_rate);
  ForChunks(parts, 1, o.threads, [&](size_t pbegin, size_t pend) {
    for (size_t part = pbegin; part < pend; ++part) {
      auto add = [&](std::span<const uint32_t> features, const float* g) {
        for (uint32_t f : features) {
          const size_t slot = static_cast<size_t>(s->slot_of[f]);
          if (slot % parts != part) continue;
          float* acc = &s->grad[slot * dim];
          for (size_t d = 0; d < dim; ++d) acc[d] += g[d];
        }
      };
      for (size_t i = 0; i < rows; ++i) add(batch[i].query, &s->gq[i * dim]);
      for (size_t j = 0; j < cols; ++j) add(item_features.of(s->cols[j]), &s->gd[j * dim]);
      // Row-wise Adagrad: one accumulator per row, of the mean squared gradient (the sparse
      // embedding optimiser of DLRM, Naumov et al. 2019, arXiv:1906.00091): a row moves as
      // one, and it costs one square root per row instead of one per element.
      for (size_t slot = part; slot < s->touched.size(); slot += parts) {
        const uint32_t bucket = s->touched[slot];
        const float* g = &s->grad[slot * dim];
        float* w = table->data() + static_cast<size_t>(bucket) * dim;
        (*adagrad)[bucket] += Dot(g, g, dim) / static_cast<float>(dim);
        const float step = lr / (std::sqrt((*adagrad)[bucket]) + 1e-8f);
        for (size_t d = 0; d < dim; ++d) w[d] -= step * g[d];
      }
    }
  });
  for (uint32_t f : s->touched) s->slot_of[f] = -1;

  double judged_loss = 0;
  for (size_t i = 0; i < rows; ++i) {
    if (!batch[i].judged) continue;
    judged_loss += s->loss[i];
    *judged_weight += batch[i].weight;
  }
  return judged_loss;
}

Status CheckOptions(const EmbeddingTrainingOptions& o) {
  const models::EncoderSpec& e = o.encoder;
  if (e.dim < 1 || e.dim > 4096 || e.buckets == 0 || e.word_ngrams < 0 || e.char_ngram_min < 0 ||
      e.char_ngram_max < e.char_ngram_min || (e.word_ngrams == 0 && e.char_ngram_min == 0)) {
    return InvalidArgument(
        "train embeddings needs 1 <= dim <= 4096, buckets >= 1, word n-grams >= 0, 0 <= char n-gram min <= max, "
        "and word or character n-grams");
  }
  if (static_cast<uint64_t>(e.buckets) * static_cast<uint64_t>(e.dim) > (uint64_t{1} << 31)) {
    return InvalidArgument("buckets x dim must stay under 2^31 floats (8 GiB per table)");
  }
  if (o.epochs < 1 || o.patience < 1 || o.batch < 2 || o.sampled_negatives < 0 || !(o.temperature > 0) ||
      !(o.learning_rate > 0) || !(o.init_scale > 0) || !(o.min_gain > 0) || o.self_supervision < 0 ||
      o.validation_share < 0 || o.validation_share >= 1 || o.threads < 1) {
    return InvalidArgument(
        "train embeddings needs epochs >= 1, patience >= 1, batch >= 2, negatives >= 0, temperature > 0, "
        "learning rate > 0, init scale > 0, min gain > 0, self-supervision >= 0, 0 <= validation share < 1 and "
        "threads >= 1");
  }
  return Status::Ok();
}

}  // namespace

std::string ItemText(const catalog::Product& product) {
  if (product.brand.empty()) return product.title;
  return product.title + " " + product.brand;
}

std::vector<uint32_t> ExactTopK(std::span<const float> items, std::span<const float> query, size_t k) {
  const auto dim = static_cast<Eigen::Index>(query.size());
  if (dim == 0) return {};
  const auto n = static_cast<Eigen::Index>(items.size() / query.size());
  const ConstMatrixView item_matrix(items.data(), n, dim);
  const Eigen::Map<const Eigen::VectorXf> q(query.data(), dim);
  const Eigen::VectorXf scores = item_matrix * q;
  return TopOfScores(std::span<const float>(scores.data(), static_cast<size_t>(n)), k);
}

eval::RelevanceSummary EvaluateVectorRetrieval(const TrainedEmbedding& model, const std::vector<eval::JudgedQuery>& queries,
                                               int threads, std::vector<std::vector<uint32_t>>* top) {
  std::vector<const eval::JudgedQuery*> ptrs;
  for (const auto& q : queries) ptrs.push_back(&q);
  std::vector<std::vector<uint32_t>> local;
  return Retrieve(model.encoder, model.table, model.items, model.item_ids, ptrs, std::max(threads, 1),
                  top ? top : &local);
}

Result<TrainedEmbedding> TrainEmbeddings(const catalog::Catalog& catalog, const std::vector<eval::JudgedQuery>& queries,
                                         const EmbeddingTrainingOptions& options) {
  SW_RETURN_IF_ERROR(CheckOptions(options));
  if (catalog.size() == 0) return InvalidArgument("the catalog has no products");
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const int64_t t0 = MonotonicNanos();
  const models::EncoderSpec& spec = options.encoder;
  const size_t dim = static_cast<size_t>(spec.dim);

  TrainedEmbedding out;
  out.encoder = spec;
  out.options = options;
  out.options.log = nullptr;
  FeatureLists item_features;
  out.item_ids.reserve(catalog.size());
  for (const catalog::Product& p : catalog.products()) {
    out.item_ids.push_back(p.id);
    item_features.Add(spec, ItemText(p));
  }

  // Judged pairs of the fitting queries; validation queries with a positive gain.
  FeatureLists query_features;
  std::vector<std::vector<uint32_t>> positives;  // per fitting query, sorted docs with gain > 0
  struct Judged {
    size_t query;
    uint32_t doc;
    float weight;
  };
  std::vector<Judged> judged;
  std::vector<const eval::JudgedQuery*> validation;
  size_t unknown_products = 0;
  for (const eval::JudgedQuery& q : queries) {
    const bool held_out = options.validation_share > 0 && InValidation(q.id, options.validation_share);
    const bool has_gain = std::any_of(q.gains.begin(), q.gains.end(), [](const auto& kv) { return kv.second > 0; });
    if (held_out) {
      if (has_gain) validation.push_back(&q);
      continue;
    }
    std::vector<uint32_t> docs;
    std::vector<std::pair<uint32_t, float>> pairs;
    for (const auto& [id, gain] : q.gains) {
      const std::optional<uint32_t> doc = catalog.Find(id);
      if (!doc) {
        ++unknown_products;
        continue;
      }
      if (gain > 0) docs.push_back(*doc);
      if (gain >= options.min_gain) pairs.emplace_back(*doc, static_cast<float>(gain));
    }
    if (pairs.empty()) continue;
    // gains is an unordered map: sort, so the pair order does not depend on hashing.
    std::sort(docs.begin(), docs.end());
    std::sort(pairs.begin(), pairs.end());
    const size_t qi = query_features.size();
    query_features.Add(spec, q.text);
    positives.push_back(std::move(docs));
    for (const auto& [doc, w] : pairs) judged.push_back({qi, doc, w});
  }
  if (judged.empty()) {
    return InvalidArgument("no training query has a judged product in the catalog with gain >= " +
                           std::to_string(options.min_gain) + " (" + std::to_string(queries.size()) +
                           " queries given, " + std::to_string(validation.size()) + " held out for validation)");
  }
  out.train_queries = query_features.size();
  out.train_pairs = judged.size();
  out.self_pairs = static_cast<size_t>(std::llround(options.self_supervision * static_cast<double>(judged.size())));

  std::mt19937_64 rng(options.seed);
  std::vector<float> table(static_cast<size_t>(spec.buckets) * dim);
  {
    std::uniform_real_distribution<float> init(static_cast<float>(-options.init_scale),
                                               static_cast<float>(options.init_scale));
    for (float& v : table) v = init(rng);
  }
  std::vector<float> adagrad(spec.buckets, 0.0f);
  std::vector<float> best_table;
  double best_ndcg = -1;
  Step step;
  step.dim = dim;
  step.slot_of.assign(spec.buckets, -1);

  // Title tokens of every product, for pseudo-queries.
  std::vector<std::vector<std::string>> title_tokens;
  if (out.self_pairs > 0) {
    title_tokens.reserve(catalog.size());
    std::vector<char> lowered;
    for (const catalog::Product& p : catalog.products()) {
      std::vector<std::string> tokens;
      for (std::string_view t : models::EncoderTokens(p.title, &lowered)) tokens.emplace_back(t);
      title_tokens.push_back(std::move(tokens));
    }
    // Titles without a single word give no pseudo-query (and would never end the sampling).
    if (std::all_of(title_tokens.begin(), title_tokens.end(), [](const auto& t) { return t.empty(); })) {
      out.self_pairs = 0;
    }
  }
  {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "embedding training: %zu products, %zu fitting queries, %zu pairs (+%zu title pairs an epoch), %zu "
                  "validation queries, %zu judged ids not in the catalog",
                  catalog.size(), out.train_queries, out.train_pairs, out.self_pairs, validation.size(),
                  unknown_products);
    log(buf);
  }

  std::vector<Pair> pairs;
  FeatureLists self_features;
  std::vector<uint32_t> self_docs;
  int since_best = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const int64_t e0 = MonotonicNanos();
    // Pseudo-queries: one to three distinct words of a random product's title, in title order.
    self_features = FeatureLists();
    self_docs.clear();
    if (out.self_pairs > 0) {
      std::uniform_int_distribution<uint32_t> any_item(0, static_cast<uint32_t>(catalog.size() - 1));
      std::vector<size_t> picks;
      while (self_docs.size() < out.self_pairs) {
        const uint32_t doc = any_item(rng);
        const auto& tokens = title_tokens[doc];
        if (tokens.empty()) continue;
        const size_t want = std::min<size_t>(tokens.size(), 1 + rng() % 3);
        picks.clear();
        // Floyd's sampling of `want` distinct positions.
        for (size_t j = tokens.size() - want; j < tokens.size(); ++j) {
          const size_t t = static_cast<size_t>(rng() % (j + 1));
          picks.push_back(std::find(picks.begin(), picks.end(), t) == picks.end() ? t : j);
        }
        std::sort(picks.begin(), picks.end());
        std::string text;
        for (size_t t : picks) text.append(text.empty() ? "" : " ").append(tokens[t]);
        self_features.Add(spec, text);
        self_docs.push_back(doc);
      }
    }
    pairs.clear();
    for (const Judged& j : judged) {
      pairs.push_back({query_features.of(j.query), positives[j.query], j.doc, j.weight, true});
    }
    for (size_t k = 0; k < self_docs.size(); ++k) {
      pairs.push_back({self_features.of(k), std::span<const uint32_t>(&self_docs[k], 1), self_docs[k], 1.0f, false});
    }
    // Fisher-Yates with the seeded generator (std::shuffle's draws are library-defined).
    for (size_t i = pairs.size(); i > 1; --i) std::swap(pairs[i - 1], pairs[static_cast<size_t>(rng() % i)]);

    double loss = 0, weight = 0;
    const size_t b = static_cast<size_t>(options.batch);
    for (size_t start = 0; start < pairs.size(); start += b) {
      const size_t len = std::min(b, pairs.size() - start);
      loss += TrainStep(std::span<const Pair>(pairs).subspan(start, len), item_features, options, rng, &table,
                        &adagrad, &step, &weight);
    }
    const double train_s = static_cast<double>(MonotonicNanos() - e0) / 1e9;
    EpochFigures fig;
    fig.epoch = epoch;
    fig.loss = weight > 0 ? loss / weight : 0;
    bool better = validation.empty();
    if (!validation.empty()) {
      std::vector<float> items;
      EncodeItems(item_features, table, dim, options.threads, &items);
      std::vector<std::vector<uint32_t>> top;
      const eval::RelevanceSummary sum = Retrieve(spec, table, items, out.item_ids, validation, options.threads, &top);
      fig.validation_ndcg = sum.ndcg_at_10;
      fig.validation_recall = sum.recall_at_100;
      if (sum.ndcg_at_10 > best_ndcg) {
        better = true;
        best_ndcg = sum.ndcg_at_10;
        out.validation = sum;
      }
    }
    fig.seconds = static_cast<double>(MonotonicNanos() - e0) / 1e9;
    out.epochs.push_back(fig);
    {
      char buf[256];
      std::snprintf(buf, sizeof buf, "epoch %d: loss %.4f validation ndcg@10 %.4f recall@100 %.4f (%.1f s, %.1f s training)%s",
                    epoch, fig.loss, fig.validation_ndcg, fig.validation_recall, fig.seconds, train_s,
                    better ? " *" : "");
      log(buf);
    }
    if (better) {
      out.best_epoch = epoch;
      since_best = 0;
      if (!validation.empty() && epoch < options.epochs) best_table = table;
    } else if (++since_best >= options.patience) {
      break;
    }
  }
  // The table of the best epoch; it is the current one when the last epoch was the best.
  if (out.best_epoch != out.epochs.back().epoch) table = std::move(best_table);
  out.table = std::move(table);
  EncodeItems(item_features, out.table, dim, options.threads, &out.items);
  // The drift reference: every given query as the served encoder embeds it.
  out.reference_queries.resize(queries.size() * dim);
  for (size_t i = 0; i < queries.size(); ++i) {
    models::EncodeFeatures(spec, out.table, models::EncoderFeatures(spec, queries[i].text),
                           std::span<float>(out.reference_queries.data() + i * dim, dim));
  }
  out.seconds = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  return out;
}

namespace {
// The HNSW graph's parameters written into config.yaml (and used to build items.hnsw).
constexpr int kHnswM = 16;
constexpr int kHnswEfConstruction = 100;
}  // namespace

Result<std::string> WriteEmbeddingVersion(const std::string& model_dir, const TrainedEmbedding& model) {
  const size_t dim = static_cast<size_t>(model.encoder.dim);
  if (model.item_ids.empty() || model.items.size() != model.item_ids.size() * dim ||
      model.table.size() != static_cast<size_t>(model.encoder.buckets) * dim) {
    return InvalidArgument("the embedding's item matrix or table does not match its ids and encoder");
  }
  std::string ids;
  for (const std::string& id : model.item_ids) {
    if (id.empty() || id.find_first_of("\r\n") != std::string::npos) {
      return InvalidArgument("item id '" + id + "' cannot be written one per line in items.txt");
    }
    ids.append(id).push_back('\n');
  }
  const models::EncoderSpec& e = model.encoder;
  const EmbeddingTrainingOptions& o = model.options;
  char buf[2048];
  // top_k 100 and ef_search 100: the depth vector retrieval is measured at (Recall@100) and the
  // search pipeline asks for. A beam of 200 gave the same Home Depot TEST NDCG@10 (0.4595 vs
  // 0.4592 for the full pipeline) at 1.7x the ANN time.
  std::snprintf(buf, sizeof buf,
                "# A two-tower hashed n-gram embedding written by `shelfwatch train embeddings`;\n"
                "# how it was trained and validated: training.yaml.\n"
                "kind: embedding\n"
                "max_batch_size: 16\n"
                "embedding:\n"
                "  dim: %d\n"
                "  buckets: %u\n"
                "  word_ngrams: %d\n"
                "  char_ngrams: [%d, %d]\n"
                "  top_k: 100\n"
                "  hnsw: {m: %d, ef_construction: %d, ef_search: 100}\n"
                "warmup: {requests: 1}\n",
                e.dim, e.buckets, e.word_ngrams, e.char_ngram_min, e.char_ngram_max, kHnswM, kHnswEfConstruction);
  const std::string config = buf;
  std::snprintf(buf, sizeof buf,
                "trainer: shelfwatch train embeddings\n"
                "objective: sampled softmax over cosine / temperature (in-batch and uniform catalog negatives)\n"
                "item_text: title + brand\n"
                "dim: %d\nbuckets: %u\nword_ngrams: %d\nchar_ngrams: [%d, %d]\n"
                "epochs_max: %d\npatience: %d\nbest_epoch: %d\nbatch: %d\nsampled_negatives: %d\ntemperature: %g\n"
                "learning_rate: %g\noptimizer: row-wise adagrad\ninit_scale: %g\nmin_gain: %g\nself_supervision: %g\n"
                "validation_share: %g\nseed: %llu\nthreads: %d\n"
                "train_queries: %zu\ntrain_pairs: %zu\nself_pairs: %zu\nitems: %zu\n"
                "validation: {queries: %zu, ndcg_at_10: %.4f, recall_at_100: %.4f, mrr_at_10: %.4f}\n"
                "seconds: %.1f\n"
                "epochs:\n",
                e.dim, e.buckets, e.word_ngrams, e.char_ngram_min, e.char_ngram_max, o.epochs, o.patience,
                model.best_epoch, o.batch, o.sampled_negatives, o.temperature, o.learning_rate, o.init_scale,
                o.min_gain, o.self_supervision, o.validation_share, static_cast<unsigned long long>(o.seed), o.threads,
                model.train_queries, model.train_pairs, model.self_pairs, model.item_ids.size(),
                model.validation.queries_with_gain, model.validation.ndcg_at_10, model.validation.recall_at_100,
                model.validation.mrr_at_10, model.seconds);
  std::string training = buf;
  for (const EpochFigures& f : model.epochs) {
    std::snprintf(buf, sizeof buf,
                  "  - {epoch: %d, loss: %.4f, validation_ndcg_at_10: %.4f, validation_recall_at_100: %.4f, "
                  "seconds: %.1f}\n",
                  f.epoch, f.loss, f.validation_ndcg, f.validation_recall, f.seconds);
    training += buf;
  }
  auto bytes = [](const std::vector<float>& v) {
    return std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  };
  std::vector<std::pair<std::string, std::string_view>> files = {{"config.yaml", config},
                                                                  {"training.yaml", training},
                                                                  {"items.txt", ids},
                                                                  {"items.f32", bytes(model.items)},
                                                                  {"encoder.f32", bytes(model.table)}};
  const std::string reference =
      EmbeddingDriftReference(model.reference_queries, static_cast<uint32_t>(model.encoder.dim));
  // The serving graph, built once here rather than at every load (models/embedding_model.h).
  auto graph = models::BuildHnswIndexFiles(model.items, dim, kHnswM, kHnswEfConstruction);
  if (!graph.ok()) return graph.status();
  files.emplace_back(models::kHnswIndexFile, graph->index);
  files.emplace_back(models::kHnswCheckFile, graph->check);
  if (!reference.empty()) files.emplace_back(std::string(kDriftReferenceFile), reference);
  return WriteNextVersion(model_dir, files);
}

}  // namespace shelfwatch::ranking
