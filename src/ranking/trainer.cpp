#include "ranking/trainer.h"

#include <unistd.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include "common/clock.h"
#include "common/stable_hash.h"
#include "common/yaml_scalar.h"
#include "ranking/model_drift.h"
#include "ranking/reranker.h"
#include "ranking/xgboost_error.h"

namespace shelfwatch::ranking {
namespace {

namespace fs = std::filesystem;

// Owns an XGBoost handle; frees it on scope exit.
struct BoosterOwner {
  BoosterHandle h = nullptr;
  ~BoosterOwner() {
    if (h) XGBoosterFree(h);
  }
};
struct MatrixOwner {
  DMatrixHandle h = nullptr;
  ~MatrixOwner() {
    if (h) XGDMatrixFree(h);
  }
};

// Feature rows of every query's candidates, with labels.
struct Dataset {
  std::vector<float> x;        // rows x kNumFeatures
  std::vector<float> y;        // gains
  std::vector<uint32_t> docs;  // candidate doc per row
  struct Group {
    size_t query = 0;  // index into the queries
    size_t begin = 0;  // first row
    size_t size = 0;
    bool validation = false;
    bool positive = false;  // some candidate has a positive gain
  };
  std::vector<Group> groups;  // one per query, in query order
};

Dataset BuildDataset(const std::shared_ptr<const retrieval::InvertedIndex>& index, const catalog::Catalog& catalog,
                     const FeatureExtractor& extractor, const std::vector<eval::JudgedQuery>& queries,
                     const RankerTrainingOptions& options) {
  Dataset ds;
  std::vector<float> prior, popularity;
  if (options.judgment_prior) {
    prior.assign(catalog.size(), 0.0f);
    for (const auto& q : queries) {
      for (const auto& [id, gain] : q.gains) {
        if (auto doc = catalog.Find(id)) prior[*doc] += 1.0f;
      }
    }
  }
  retrieval::Searcher searcher(index);
  text::Analyzer& analyzer = text::ThreadLocalAnalyzer(index->options().analyzer);
  std::vector<std::string> terms;
  for (size_t qi = 0; qi < queries.size(); ++qi) {
    const eval::JudgedQuery& q = queries[qi];
    terms.clear();
    analyzer.Analyze(q.text, &terms);
    std::vector<Candidate> cands;
    if (!options.fold_generators.empty()) {
      const auto folds = static_cast<uint32_t>(options.fold_generators.size());
      options.fold_generators[CrossFitFold(q.id, folds)]->Generate(q.text, terms, &cands);
    } else if (options.generator) {
      options.generator->Generate(q.text, terms, &cands);
    } else {
      cands = LexicalCandidates(searcher, terms, options.candidates);
    }
    Dataset::Group g;
    g.query = qi;
    g.begin = ds.y.size();
    g.size = cands.size();
    g.validation = options.validation_share > 0 && InValidation(q.id, options.validation_share);
    ds.x.resize(ds.x.size() + cands.size() * kNumFeatures);
    popularity.clear();
    for (const Candidate& c : cands) {
      if (prior.empty()) break;
      // Leave-one-out: without this query's own judgment of the product.
      popularity.push_back(prior[c.doc] - (q.gains.count(catalog.product(c.doc).id) ? 1.0f : 0.0f));
    }
    extractor.ExtractTerms(terms, cands, popularity, ds.x.data() + g.begin * kNumFeatures);
    for (const Candidate& c : cands) {
      const auto it = q.gains.find(catalog.product(c.doc).id);
      const float gain = it == q.gains.end() ? 0.0f : static_cast<float>(std::max(0.0, it->second));
      ds.y.push_back(gain);
      ds.docs.push_back(c.doc);
      if (gain > 0) g.positive = true;
    }
    ds.groups.push_back(g);
  }
  return ds;
}

bool HasPositiveGain(const eval::JudgedQuery& q) {
  return std::any_of(q.gains.begin(), q.gains.end(), [](const auto& kv) { return kv.second > 0; });
}

// Rows of the groups that pass `keep`, packed for XGBoost (DMatrix + group sizes).
Status MakeMatrix(const Dataset& ds, const std::function<bool(const Dataset::Group&)>& keep, MatrixOwner* m,
                  size_t* groups_out) {
  std::vector<float> x, y;
  std::vector<unsigned> sizes;
  for (const auto& g : ds.groups) {
    if (!keep(g) || !g.positive || g.size == 0) continue;
    x.insert(x.end(), ds.x.begin() + static_cast<std::ptrdiff_t>(g.begin * kNumFeatures),
             ds.x.begin() + static_cast<std::ptrdiff_t>((g.begin + g.size) * kNumFeatures));
    y.insert(y.end(), ds.y.begin() + static_cast<std::ptrdiff_t>(g.begin),
             ds.y.begin() + static_cast<std::ptrdiff_t>(g.begin + g.size));
    sizes.push_back(static_cast<unsigned>(g.size));
  }
  *groups_out = sizes.size();
  if (sizes.empty()) return InvalidArgument("no training query has a relevant product among its BM25 candidates");
  if (XGDMatrixCreateFromMat(x.data(), y.size(), kNumFeatures, std::numeric_limits<float>::quiet_NaN(), &m->h) != 0 ||
      XGDMatrixSetFloatInfo(m->h, "label", y.data(), y.size()) != 0 ||
      XGDMatrixSetUIntInfo(m->h, "group", sizes.data(), sizes.size()) != 0) {
    return Internal("xgboost DMatrix: " + XgboostError());
  }
  return Status::Ok();
}

// Trains `trees` trees; after every `checkpoint` trees (and the last) calls `at(trees_so_far)`.
Status Fit(DMatrixHandle train, const std::string& objective, const RankerTrainingOptions& options,
           BoosterOwner* booster, const std::function<void(int)>& at) {
  if (XGBoosterCreate(&train, 1, &booster->h) != 0) return Internal("xgboost: " + XgboostError());
  const std::string depth = std::to_string(options.depth), eta = std::to_string(options.eta);
  const std::string nthread = std::to_string(options.nthread);
  std::vector<std::pair<const char*, std::string>> params = {
      {"objective", objective}, {"max_depth", depth}, {"eta", eta}, {"tree_method", "hist"},
      {"eval_metric", "ndcg@10"}, {"seed", "7"}};
  if (options.nthread > 0) params.push_back({"nthread", nthread});
  for (const auto& [k, v] : params) {
    if (XGBoosterSetParam(booster->h, k, v.c_str()) != 0) return InvalidArgument("xgboost " + std::string(k) + ": " + XgboostError());
  }
  for (int t = 0; t < options.trees; ++t) {
    if (XGBoosterUpdateOneIter(booster->h, t, train) != 0) return Internal("xgboost training: " + XgboostError());
    if (at && ((t + 1) % options.checkpoint == 0 || t + 1 == options.trees)) at(t + 1);
  }
  return Status::Ok();
}

std::string SaveJson(BoosterHandle booster) {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(booster, "{\"format\":\"json\"}", &len, &buf) != 0) return {};
  return std::string(buf, len);
}

// Mean NDCG@10 over the validation queries with a positive gain, ranking each query's
// candidates by `score` (stable: BM25 order breaks ties).
double ValidationNdcg(const Dataset& ds, const catalog::Catalog& catalog, const std::vector<eval::JudgedQuery>& queries,
                      const std::vector<float>* scores, size_t* measured) {
  double sum = 0;
  size_t n = 0;
  std::vector<uint32_t> order;
  std::vector<std::string> ids;
  for (const auto& g : ds.groups) {
    if (!g.validation || !HasPositiveGain(queries[g.query])) continue;
    order.resize(g.size);
    std::iota(order.begin(), order.end(), 0u);
    if (scores) {
      std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return (*scores)[g.begin + a] > (*scores)[g.begin + b];
      });
    }
    ids.clear();
    for (uint32_t i : order) ids.push_back(catalog.product(ds.docs[g.begin + i]).id);
    sum += eval::NdcgAt(ids, queries[g.query], 10);
    ++n;
  }
  if (measured) *measured = n;
  return n ? sum / static_cast<double>(n) : 0.0;
}

// Chooses the objective and tree count on the validation groups (by `validation_ndcg` of
// scores in dataset order, or of the groups' own order for null), fits the final model on
// every group and keeps the drift reference rows. Fills out's model fields.
Status FitAndChoose(const Dataset& ds, const RankerTrainingOptions& options,
                    const std::function<double(const std::vector<float>*, size_t*)>& validation_ndcg,
                    const char* baseline, TrainedRanker& out) {
  auto log = [&](const std::string& text) {
    if (options.log) options.log(text);
  };
  char line[256];
  out.objective = options.objectives.front();
  out.trees = options.trees;

  if (options.validation_share > 0) {
    MatrixOwner fit;
    size_t fit_groups = 0;
    SW_RETURN_IF_ERROR(MakeMatrix(ds, [](const Dataset::Group& g) { return !g.validation; }, &fit, &fit_groups));
    // The validation rows in dataset order, scored in one call per checkpoint.
    std::vector<float> scores(ds.y.size(), 0.0f);
    out.validation_bm25_ndcg = validation_ndcg(nullptr, &out.validation_queries);
    std::snprintf(line, sizeof line, "validation: %zu queries (%.0f%% of the given ones by id hash), %s NDCG@10 %.4f",
                  out.validation_queries, options.validation_share * 100, baseline, out.validation_bm25_ndcg);
    log(line);
    double best = -1;
    for (const std::string& objective : options.objectives) {
      BoosterOwner booster;
      Status at_status = Status::Ok();
      const int64_t t1 = MonotonicNanos();
      SW_RETURN_IF_ERROR(Fit(fit.h, objective, options, &booster, [&](int trees) {
        auto model = Reranker::FromJson(SaveJson(booster.h));
        if (!model.ok()) {
          at_status = model.status();
          return;
        }
        std::vector<float> group_scores;
        for (const auto& g : ds.groups) {
          if (!g.validation || g.size == 0) continue;
          Status st = (*model)->Score(std::span<const float>(ds.x.data() + g.begin * kNumFeatures, g.size * kNumFeatures),
                                      &group_scores, trees);
          if (!st.ok()) {
            at_status = st;
            return;
          }
          std::copy(group_scores.begin(), group_scores.end(), scores.begin() + static_cast<std::ptrdiff_t>(g.begin));
        }
        const double ndcg = validation_ndcg(&scores, nullptr);
        std::snprintf(line, sizeof line, "  %-13s trees %4d  validation NDCG@10 %.4f", objective.c_str(), trees, ndcg);
        log(line);
        if (ndcg > best) {
          best = ndcg;
          out.objective = objective;
          out.trees = trees;
          out.validation_ndcg = ndcg;
          out.reference_scores.clear();
          for (const auto& g : ds.groups) {
            if (!g.validation) continue;
            out.reference_scores.insert(out.reference_scores.end(), scores.begin() + static_cast<std::ptrdiff_t>(g.begin),
                                        scores.begin() + static_cast<std::ptrdiff_t>(g.begin + g.size));
          }
        }
      }));
      SW_RETURN_IF_ERROR(at_status);
      std::snprintf(line, sizeof line, "  %s: %zu queries fitted in %.1f s", objective.c_str(), fit_groups,
                    static_cast<double>(MonotonicNanos() - t1) / 1e9);
      log(line);
    }
    std::snprintf(line, sizeof line, "chosen: %s with %d trees (validation NDCG@10 %.4f vs %s %.4f)",
                  out.objective.c_str(), out.trees, out.validation_ndcg, baseline, out.validation_bm25_ndcg);
    log(line);
  }

  // The final fit on every given query with the chosen settings.
  MatrixOwner all;
  SW_RETURN_IF_ERROR(MakeMatrix(ds, [](const Dataset::Group&) { return true; }, &all, &out.train_queries));
  RankerTrainingOptions final_options = options;
  final_options.trees = out.trees;
  BoosterOwner booster;
  const int64_t t2 = MonotonicNanos();
  SW_RETURN_IF_ERROR(Fit(all.h, out.objective, final_options, &booster, nullptr));
  out.model_json = SaveJson(booster.h);
  if (out.model_json.empty()) return Internal("xgboost save: " + XgboostError());
  out.rows = ds.y.size();
  if (options.validation_share > 0) {
    for (const auto& g : ds.groups) {
      if (!g.validation) continue;
      out.reference_features.insert(out.reference_features.end(),
                                    ds.x.begin() + static_cast<std::ptrdiff_t>(g.begin * kNumFeatures),
                                    ds.x.begin() + static_cast<std::ptrdiff_t>((g.begin + g.size) * kNumFeatures));
    }
  } else if (auto model = Reranker::FromJson(out.model_json); model.ok()) {
    out.reference_features = ds.x;
    SW_RETURN_IF_ERROR((*model)->Score(ds.x, &out.reference_scores));
  }
  if (out.reference_scores.size() * kNumFeatures != out.reference_features.size()) {
    out.reference_features.clear();
    out.reference_scores.clear();
  }
  std::snprintf(line, sizeof line, "final fit: %s, %d trees on %zu lists in %.1f s", out.objective.c_str(), out.trees,
                out.train_queries, static_cast<double>(MonotonicNanos() - t2) / 1e9);
  log(line);
  return Status::Ok();
}

}  // namespace

bool InValidation(int64_t query_id, double share) {
  // SplitMix64's finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom number
  // generators", OOPSLA 2014): ids are consecutive, the hash spreads them evenly.
  uint64_t z = static_cast<uint64_t>(query_id) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z % 10000) < share * 10000.0;
}

uint32_t CrossFitFold(int64_t query_id, uint32_t folds) {
  if (folds <= 1) return 0;
  // Murmur3's 64-bit finaliser (Appleby, MurmurHash3 fmix64).
  uint64_t z = static_cast<uint64_t>(query_id);
  z ^= z >> 33;
  z *= 0xff51afd7ed558ccdull;
  z ^= z >> 33;
  z *= 0xc4ceb9fe1a85ec53ull;
  z ^= z >> 33;
  return static_cast<uint32_t>(z % folds);
}

std::vector<Candidate> LexicalCandidates(retrieval::Searcher& searcher, std::span<const std::string> terms, uint32_t n) {
  retrieval::Query query;
  query.terms.assign(terms.begin(), terms.end());
  query.k = n;
  const retrieval::SearchResult r = searcher.Search(query);
  std::vector<Candidate> out;
  out.reserve(r.hits.size());
  for (const auto& h : r.hits) {
    Candidate c;
    c.doc = h.doc;
    c.score = h.score;
    c.lexical_rank = static_cast<uint32_t>(out.size());
    out.push_back(c);
  }
  return out;
}

Result<TrainedRanker> TrainRanker(std::shared_ptr<const retrieval::InvertedIndex> index, const catalog::Catalog& catalog,
                                  const FeatureExtractor& extractor, const std::vector<eval::JudgedQuery>& queries,
                                  const RankerTrainingOptions& options) {
  if (options.candidates == 0 || options.trees < 1 || options.depth < 1 || options.depth > 16 || !(options.eta > 0) ||
      options.eta > 1 || options.objectives.empty() || options.checkpoint < 1 || options.validation_share < 0 ||
      options.validation_share >= 1) {
    return InvalidArgument(
        "train ranker needs candidates >= 1, trees >= 1, 1 <= depth <= 16, 0 < eta <= 1, an objective and "
        "0 <= validation share < 1");
  }
  for (const std::string& o : options.objectives) {
    if (o != "rank:ndcg" && o != "rank:pairwise" && o != "rank:map") {
      return InvalidArgument("unknown objective '" + o + "' (rank:ndcg, rank:pairwise or rank:map)");
    }
  }
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const int64_t t0 = MonotonicNanos();
  const Dataset ds = BuildDataset(index, catalog, extractor, queries, options);
  char line[256];
  std::snprintf(line, sizeof line, "features: %zu queries, %zu rows x %d features (%.1f s)", queries.size(), ds.y.size(),
                static_cast<int>(kNumFeatures), static_cast<double>(MonotonicNanos() - t0) / 1e9);
  log(line);

  TrainedRanker out;
  out.depth = options.depth;
  out.eta = options.eta;
  out.candidates = options.candidates;
  out.lexical_candidates = options.candidates;
  const CandidateGenerator* meta = options.generator ? options.generator.get()
                                   : options.fold_generators.empty() ? nullptr
                                                                     : options.fold_generators.front().get();
  if (meta) {
    const CandidateOptions& g = meta->options();
    out.candidates = g.fused;
    out.lexical_candidates = g.lexical;
    if (const models::ModelVersion* e = meta->embedding()) {
      out.vector_candidates = g.vector;
      out.embedding_model = e->name() + ":" + std::to_string(e->version());
    }
  }
  SW_RETURN_IF_ERROR(FitAndChoose(
      ds, options,
      [&](const std::vector<float>* scores, size_t* measured) {
        return ValidationNdcg(ds, catalog, queries, scores, measured);
      },
      "BM25", out));
  if (options.judgment_prior) {
    std::vector<uint32_t> counts(catalog.size(), 0);
    for (const auto& q : queries) {
      for (const auto& [id, gain] : q.gains) {
        if (auto doc = catalog.Find(id)) ++counts[*doc];
      }
    }
    for (uint32_t doc = 0; doc < counts.size(); ++doc) {
      if (counts[doc]) out.priors.emplace_back(catalog.product(doc).id, static_cast<float>(counts[doc]));
    }
  }
  out.seconds = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  return out;
}

namespace {

// Mean NDCG@10 (gains 2^g - 1, log2 discounts; Jarvelin & Kekalainen 2002) over the
// validation groups with a positive gain, each ordered by `scores` (null: served order).
double FeedbackNdcg(const Dataset& ds, const std::vector<float>* scores, size_t* measured) {
  double sum = 0;
  size_t n = 0;
  std::vector<uint32_t> order;
  std::vector<float> ideal;
  for (const auto& g : ds.groups) {
    if (!g.validation || !g.positive) continue;
    order.resize(g.size);
    std::iota(order.begin(), order.end(), 0u);
    if (scores) {
      std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return (*scores)[g.begin + a] > (*scores)[g.begin + b];
      });
    }
    ideal.assign(ds.y.begin() + static_cast<std::ptrdiff_t>(g.begin),
                 ds.y.begin() + static_cast<std::ptrdiff_t>(g.begin + g.size));
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < std::min<size_t>(10, g.size); ++i) {
      const double discount = std::log2(static_cast<double>(i) + 2.0);
      dcg += (std::exp2(ds.y[g.begin + order[i]]) - 1.0) / discount;
      idcg += (std::exp2(ideal[i]) - 1.0) / discount;
    }
    sum += idcg > 0 ? dcg / idcg : 0;
    ++n;
  }
  if (measured) *measured = n;
  return n ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace

Result<TrainedRanker> TrainRankerOnFeedback(const std::vector<FeedbackList>& lists, const RankerTrainingOptions& options) {
  if (options.trees < 1 || options.depth < 1 || options.depth > 16 || !(options.eta > 0) || options.eta > 1 ||
      options.objectives.empty() || options.checkpoint < 1 || options.validation_share < 0 ||
      options.validation_share >= 1) {
    return InvalidArgument(
        "train ranker needs trees >= 1, 1 <= depth <= 16, 0 < eta <= 1, an objective and 0 <= validation share < 1");
  }
  const int64_t t0 = MonotonicNanos();
  Dataset ds;
  for (size_t i = 0; i < lists.size(); ++i) {
    const FeedbackList& l = lists[i];
    if (l.features.size() != l.gains.size() * kNumFeatures) {
      return InvalidArgument("list " + l.request_id + ": " + std::to_string(l.features.size()) + " feature values for " +
                             std::to_string(l.gains.size()) + " items (want " + std::to_string(kNumFeatures) +
                             " per item)");
    }
    Dataset::Group g;
    g.query = i;
    g.begin = ds.y.size();
    g.size = l.gains.size();
    g.validation = options.validation_share > 0 && InValidation(static_cast<int64_t>(Fnv1a64(l.request_id) >> 1), options.validation_share);
    g.positive = std::any_of(l.gains.begin(), l.gains.end(), [](float v) { return v > 0; });
    ds.x.insert(ds.x.end(), l.features.begin(), l.features.end());
    ds.y.insert(ds.y.end(), l.gains.begin(), l.gains.end());
    ds.groups.push_back(g);
  }
  if (std::none_of(ds.groups.begin(), ds.groups.end(), [](const Dataset::Group& g) { return g.positive && !g.validation; })) {
    return InvalidArgument("no list to learn from: none outside the validation share has a click, add to cart or purchase");
  }
  if (options.log) {
    options.log("feedback: " + std::to_string(lists.size()) + " lists, " + std::to_string(ds.y.size()) + " rows x " +
                std::to_string(kNumFeatures) + " features");
  }
  TrainedRanker out;
  out.depth = options.depth;
  out.eta = options.eta;
  SW_RETURN_IF_ERROR(FitAndChoose(
      ds, options, [&](const std::vector<float>* scores, size_t* measured) { return FeedbackNdcg(ds, scores, measured); },
      "served order", out));
  out.seconds = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  return out;
}

Result<std::string> WriteRankerVersion(const std::string& model_dir, const TrainedRanker& ranker,
                                       const retrieval::IndexOptions& index_options) {
  const int f = static_cast<int>(kNumFeatures);
  std::string config =
      "# A LambdaMART re-ranker written by `shelfwatch train ranker`; columns in features.txt.\n"
      "kind: xgboost\n"
      "max_batch_size: 0\n"
      "inputs: [{name: features, dtype: FP32, dims: [-1, " + std::to_string(f) + "]}]\n"
      "outputs: [{name: score, dtype: FP32, dims: [-1, 1]}]\n"
      "warmup: {requests: 1}\n"
      "xgboost: {nthread: 1}\n";
  std::string names;
  for (std::string_view n : FeatureNames()) names.append(n).push_back('\n');
  char buf[4096];
  std::string fields;
  for (const auto& fs_ : index_options.fields) fields += (fields.empty() ? "" : ", ") + fs_.name;
  std::snprintf(buf, sizeof buf,
                "trained_on: %s\nobjective: %s\ntrees: %d\ndepth: %d\neta: %g\ncandidates: %u\n"
                "lexical_candidates: %u\nvector_candidates: %u\nembedding_model: \"%s\"\n"
                "bm25: {k1: %g, b: %g}\nfields: [%s]\nanalyzer: \"%s\"\n"
                "validation_ndcg_at_10: %.4f\nvalidation_bm25_ndcg_at_10: %.4f\n"
                "validation_queries: %zu\ntrain_queries: %zu\nrows: %zu\nseconds: %.1f\n",
                YamlDoubleQuoted(ranker.trained_on).c_str(), ranker.objective.c_str(), ranker.trees, ranker.depth, ranker.eta,
                ranker.candidates,
                ranker.lexical_candidates, ranker.vector_candidates, ranker.embedding_model.c_str(),
                static_cast<double>(index_options.bm25.k1), static_cast<double>(index_options.bm25.b), fields.c_str(),
                index_options.analyzer.Fingerprint().c_str(), ranker.validation_ndcg, ranker.validation_bm25_ndcg,
                ranker.validation_queries, ranker.train_queries, ranker.rows, ranker.seconds);
  const std::string training = std::string(buf) + (ranker.priors.empty() ? "" : "prior: judgments\n");
  std::string csv;
  if (!ranker.priors.empty()) {
    csv = "product_id,prior\n";
    for (const auto& [id, p] : ranker.priors) {
      // Product ids are CSV-quoted when they hold a separator or a quote (RFC 4180).
      if (id.find_first_of(",\"\r\n") != std::string::npos) {
        csv += '"';
        for (char c : id) csv += c == '"' ? std::string("\"\"") : std::string(1, c);
        csv += '"';
      } else {
        csv += id;
      }
      csv += ',';
      csv += std::to_string(p);
      csv += '\n';
    }
  }
  std::vector<std::pair<std::string, std::string_view>> files = {
      {"model.json", ranker.model_json}, {"config.yaml", config}, {"features.txt", names}, {"training.yaml", training}};
  if (!csv.empty()) files.emplace_back("priors.csv", csv);
  const std::string reference = RankerDriftReference(ranker.reference_features, ranker.reference_scores);
  if (!reference.empty()) files.emplace_back(std::string(kDriftReferenceFile), reference);
  return WriteNextVersion(model_dir, files);
}

}  // namespace shelfwatch::ranking
