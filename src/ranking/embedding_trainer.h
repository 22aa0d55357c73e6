// Training a two-tower query/item embedding for vector retrieval on judged queries, and
// writing it as an `embedding` model version (models/embedding_model.h).
//
// Both towers are the serving encoder (models/embedding_encoder.h) over one shared hashed
// n-gram table: a query's vector is the normalised sum of the rows of its word and character
// n-grams, an item's the same over its text (title, then brand). Sharing the table means a
// word in a query and in a title starts out on the same rows, so an untrained table already
// matches spellings; training moves the rows so that queries land near the products judged
// relevant for them (synonyms, units, typos).
//
// Objective: softmax cross-entropy over cosine similarities divided by a temperature, with the
// other positives of a minibatch (in-batch negatives, Gillick et al. 2019, "Learning Dense
// Representations for Entity Retrieval") and optionally uniformly sampled catalog items (sampled
// softmax, Jean et al. 2015) as negatives, each (query, product) pair weighted by its gain
// (relevance - 1, eval/relevance.h). Products the query judged relevant at all are never its
// negatives. Self-supervision: pseudo-queries cut from titles (one to three of a title's
// words, for its product) teach the table the many products no query judged; on Home Depot
// they lift validation NDCG@10 the most of all settings tried. Updates are sparse minibatch
// row-wise Adagrad (Duchi, Hazan & Singer, JMLR 2011; row-wise as in DLRM) on the touched rows.
//
// A validation share of the given queries (ranking::InValidation, a hash of the query id)
// measures NDCG@10 / Recall@100 of exact cosine retrieval over the whole catalog after every
// epoch; the best epoch's table is kept (early stopping). Callers pass TRAIN queries only.
//
// Determinism: the result depends on the seed and the options only, not on `threads`: work is
// cut into fixed chunks and every float sum runs in the same order whatever the thread count.
// Thread-safety: TrainEmbeddings reads its inputs only and may run concurrently with other
// readers of the catalog; the other functions are pure.
// Cost: per epoch O(pairs x (features x dim + batch x dim)), the batch products as Eigen GEMMs,
// plus the validation pass, O(validation queries x products x dim). Memory: two buckets x dim
// float tables (weights and best epoch: 256 MB at 262144 x 128) plus the catalog's features.
// Home Depot TRAIN with the defaults (dim 128, self-supervision 8): about 40 CPU seconds an
// epoch including validation, i.e. about 20 s on two idle cores.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "eval/relevance.h"
#include "models/embedding_encoder.h"

namespace shelfwatch::ranking {

struct EmbeddingTrainingOptions {
  // The table and the serving encoder: dim 128 keeps more of the lexical signal than 64 does
  // (a random projection of the n-gram counts) at twice the cost.
  models::EncoderSpec encoder = [] {
    models::EncoderSpec e;
    e.dim = 128;
    return e;
  }();
  int epochs = 10;              // at most; validation keeps the best
  int patience = 3;             // stop after this many epochs without a better validation NDCG@10
  int batch = 1024;             // pairs per step; every other pair of the step is a negative
  int sampled_negatives = 0;    // extra uniform catalog items per step, shared by the step's rows
  double temperature = 0.05;    // softmax over cosine / temperature
  double learning_rate = 0.05;  // row-wise Adagrad
  double init_scale = 0.1;      // table entries start uniform in [-init_scale, init_scale]
  double min_gain = 1.0;        // a judged product is a positive when its gain >= min_gain
  // Pseudo-query pairs (title words -> product) per judged pair and epoch; 0: none.
  double self_supervision = 8.0;
  double validation_share = 0.2;  // 0: no validation, all epochs, last epoch kept
  int threads = 2;
  uint64_t seed = 1;
  std::function<void(std::string_view)> log;  // progress lines; may be empty
};

struct EpochFigures {
  int epoch = 0;
  double loss = 0;             // mean weighted cross-entropy of the epoch's judged pairs
  double validation_ndcg = 0;  // NDCG@10 of exact cosine top-100 (0 without validation)
  double validation_recall = 0;  // Recall@100
  double seconds = 0;          // training and validation of this epoch
};

struct TrainedEmbedding {
  models::EncoderSpec encoder;
  std::vector<float> table;          // buckets x dim: encoder.f32
  std::vector<std::string> item_ids;  // catalog order: items.txt
  std::vector<float> items;          // item_ids.size() x dim, unit rows: items.f32
  EmbeddingTrainingOptions options;  // as used (log cleared)
  int best_epoch = 0;                // the epoch whose table this is
  std::vector<EpochFigures> epochs;  // every epoch run
  eval::RelevanceSummary validation;  // of the best epoch (empty without validation)
  size_t train_queries = 0;          // queries with a positive pair used for fitting
  size_t train_pairs = 0;            // judged (query, product) pairs per epoch
  size_t self_pairs = 0;             // pseudo-query pairs per epoch
  double seconds = 0;
  // The given queries (validation share included) encoded: the drift reference
  // (model_drift.h), queries.size() x dim.
  std::vector<float> reference_queries;
};

// The text an item is encoded from: its title, then its brand when there is one.
std::string ItemText(const catalog::Product& product);

// Errors: kInvalidArgument for bad options, an empty catalog, or when no given query has a
// positive judged product in the catalog (the message says which).
Result<TrainedEmbedding> TrainEmbeddings(const catalog::Catalog& catalog, const std::vector<eval::JudgedQuery>& queries,
                                         const EmbeddingTrainingOptions& options);

// Exact maximum inner product search: the rows of `items` (n x query.size(), row-major) with
// the k largest dot products with `query`, best first (ties: lower row first).
// Cost O(n x dim + n log k).
std::vector<uint32_t> ExactTopK(std::span<const float> items, std::span<const float> query, size_t k);

// Relevance of exact cosine retrieval (top 100) with `model` for `queries` (any split); when
// `top` is given it receives each query's ranked rows (query order). `threads` >= 1.
eval::RelevanceSummary EvaluateVectorRetrieval(const TrainedEmbedding& model, const std::vector<eval::JudgedQuery>& queries,
                                               int threads, std::vector<std::vector<uint32_t>>* top = nullptr);

// Writes `model` as the next version under `model_dir` (created if missing): config.yaml (kind
// embedding, model_config.h format), items.f32, items.txt, encoder.f32 and training.yaml
// (options, per-epoch figures, validation), drift_reference.bin (model_drift.h) and the HNSW
// graph (items.hnsw + items.hnsw.check, models/embedding_model.h: servers load it instead of
// building it), into a hidden directory renamed into place.
// kInvalidArgument when an item id cannot be written one per line. Returns the version directory.
Result<std::string> WriteEmbeddingVersion(const std::string& model_dir, const TrainedEmbedding& model);

}  // namespace shelfwatch::ranking
