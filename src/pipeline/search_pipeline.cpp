#include "pipeline/search_pipeline.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "common/clock.h"
#include "common/log.h"
#include "models/model_repository.h"
#include "models/model_version.h"
#include "monitor/metrics.h"
#include "ranking/product_terms.h"
#include "ranking/reranker.h"
#include "text/analyzer.h"

namespace shelfwatch::pipeline {

struct SearchPipeline::CatalogState {
  std::string name;
  const retrieval::InvertedIndex* index = nullptr;  // identity of the snapshot it was built for
  std::weak_ptr<const retrieval::InvertedIndex> index_owner;
  std::once_flag terms_once;
  std::shared_ptr<const ranking::ProductTerms> terms;  // null when building failed
  std::shared_ptr<const ranking::CandidateGenerator> generator;  // guarded by the pipeline's mu_
  // A ranker's priors.csv by this catalog's docs, for the last ranker version that had one
  // (guarded by the pipeline's mu_).
  std::weak_ptr<const void> priors_owner;
  std::shared_ptr<const std::vector<float>> priors_by_doc;
};

struct SearchPipeline::RankerCheck {
  std::string error;  // non-empty: do not use this version (why)
  ranking::CandidateOptions candidates;
  // priors.csv (train ranker --prior judgments): the popularity feature it was trained with.
  std::vector<std::pair<std::string, float>> priors;
};

SearchPipeline::SearchPipeline(models::ModelRepository* models, monitor::Registry* metrics, SearchPipelineOptions options)
    : models_(models), metrics_(metrics), options_(options) {
  if (metrics_) {
    fallbacks_ = &metrics_->AddCounter("shelfwatch_search_fallbacks_total",
                                       "Searches answered without a configured model, by catalog and reason.",
                                       {"catalog", "reason"});
  }
}

SearchPipeline::~SearchPipeline() = default;

std::shared_ptr<SearchPipeline::CatalogState> SearchPipeline::StateFor(const CatalogSnapshot& snapshot) {
  std::shared_ptr<CatalogState> state;
  {
    std::lock_guard lock(mu_);
    for (auto& c : catalogs_) {
      if (c->name == snapshot.name) {
        if (c->index == snapshot.index.get() && !c->index_owner.expired()) return c;
        c = std::make_shared<CatalogState>();  // a reloaded catalog: start over
        state = c;
        break;
      }
    }
    if (!state) {
      state = std::make_shared<CatalogState>();
      catalogs_.push_back(state);
    }
    state->name = snapshot.name;
    state->index = snapshot.index.get();
    state->index_owner = snapshot.index;
  }
  return state;
}

void SearchPipeline::Prepare(const CatalogSnapshot& snapshot) { BuildTerms(*StateFor(snapshot), snapshot); }

void SearchPipeline::BuildTerms(CatalogState& state_ref, const CatalogSnapshot& snapshot) {
  CatalogState* state = &state_ref;
  std::call_once(state->terms_once, [&] {
    auto terms = ranking::ProductTerms::Build(*snapshot.catalog, snapshot.index->options().analyzer);
    if (terms.ok()) {
      state->terms = *terms;
    } else {
      log::Error("ranking features unavailable", {{"catalog", snapshot.name}, {"error", terms.status().ToString()}});
    }
  });
}

std::shared_ptr<const ranking::CandidateGenerator> SearchPipeline::GeneratorFor(
    CatalogState& state, const CatalogSnapshot& snapshot, const std::shared_ptr<const models::ModelVersion>& embedding,
    const ranking::CandidateOptions& options) {
  auto matches = [&](const ranking::CandidateGenerator& g) {
    const ranking::CandidateOptions& o = g.options();
    return g.embedding() == embedding.get() && o.lexical == options.lexical && o.vector == options.vector &&
           o.fused == options.fused && o.rrf_k == options.rrf_k;
  };
  {
    std::lock_guard lock(mu_);
    if (state.generator && matches(*state.generator)) return state.generator;
  }
  // Built outside the lock (O(docs) id lookups); two requests may race to build it, the later
  // one wins the slot, both are correct.
  auto g = std::make_shared<const ranking::CandidateGenerator>(snapshot.index, snapshot.catalog, embedding, options);
  if (embedding) {
    log::Info("vector retrieval bound", {{"catalog", snapshot.name},
                                         {"model", embedding->name() + ":" + std::to_string(embedding->version())},
                                         {"embedded_products", std::to_string(g->embedded_docs())}});
  }
  std::lock_guard lock(mu_);
  state.generator = g;
  return g;
}

Status ValidateRankingFeatures(const models::ModelVersion& version) {
  const std::string path = (std::filesystem::path(version.dir()) / "features.txt").string();
  if (!std::filesystem::exists(path)) return Status::Ok();  // not a ranking model
  return ranking::CheckFeatureNames(path);
}

std::shared_ptr<const SearchPipeline::RankerCheck> SearchPipeline::CheckRanker(
    const std::shared_ptr<const models::ModelVersion>& ranker) {
  {
    std::lock_guard lock(mu_);
    for (const auto& [owner, check] : ranker_checks_) {
      if (owner.lock() == ranker) return check;
    }
  }
  auto check = std::make_shared<RankerCheck>();
  check->candidates = options_.candidates;
  namespace fs = std::filesystem;
  const fs::path dir = ranker->dir();
  // features.txt must name exactly our columns: a model trained on another feature set would
  // read the wrong columns and rank silently badly.
  if (Status st = ranking::CheckFeatureNames((dir / "features.txt").string()); !st.ok()) {
    check->error = "ranker " + ranker->name() + ":" + std::to_string(ranker->version()) + ": " + st.message();
  }
  if (check->error.empty() && fs::exists(dir / "training.yaml")) {
    try {
      const YAML::Node t = YAML::LoadFile((dir / "training.yaml").string());
      if (t["candidates"]) check->candidates.fused = t["candidates"].as<uint32_t>();
      if (t["lexical_candidates"]) check->candidates.lexical = t["lexical_candidates"].as<uint32_t>();
      if (t["vector_candidates"]) check->candidates.vector = t["vector_candidates"].as<uint32_t>();
    } catch (const YAML::Exception& e) {
      check->error = "ranker training.yaml: " + std::string(e.what());
    }
    if (check->candidates.fused == 0) check->candidates.fused = options_.candidates.fused;
  }
  if (check->error.empty() && fs::exists(dir / "priors.csv")) {
    auto priors = ranking::LoadPriors((dir / "priors.csv").string());
    if (priors.ok()) {
      check->priors = std::move(*priors);
    } else {
      check->error = "ranker priors.csv: " + priors.status().message();
    }
  }
  if (!check->error.empty()) log::Warn("ranker not used", {{"model", ranker->name()}, {"error", check->error}});
  std::lock_guard lock(mu_);
  std::erase_if(ranker_checks_, [](const auto& e) { return e.first.expired(); });
  ranker_checks_.emplace_back(ranker, check);
  return check;
}

std::span<const float> SearchPipeline::PopularityOf(CatalogState& state, const CatalogSnapshot& snapshot,
                                                    const std::shared_ptr<const RankerCheck>& check,
                                                    std::span<const ranking::Candidate> cands) {
  if (!check || check->priors.empty()) return {};
  std::shared_ptr<const std::vector<float>> by_doc;
  {
    std::lock_guard lock(mu_);
    if (state.priors_owner.lock() == check) by_doc = state.priors_by_doc;
  }
  if (!by_doc) {
    // Once per (catalog, ranker version): the priors by this catalog's docs.
    auto built = std::make_shared<std::vector<float>>(snapshot.catalog->size(), 0.0f);
    for (const auto& [id, prior] : check->priors) {
      if (auto doc = snapshot.catalog->Find(id)) (*built)[*doc] = prior;
    }
    by_doc = built;
    std::lock_guard lock(mu_);
    state.priors_owner = check;
    state.priors_by_doc = by_doc;
  }
  thread_local std::vector<float> popularity;
  popularity.resize(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) popularity[i] = cands[i].doc < by_doc->size() ? (*by_doc)[cands[i].doc] : 0.0f;
  return popularity;
}

void SearchPipeline::CountFallback(const std::string& catalog, const std::string& reason) {
  // Few distinct (catalog, reason) pairs: the family's own map is the cache.
  if (fallbacks_) fallbacks_->WithLabels({catalog, reason}).Inc();
}

void SearchPipeline::Run(const CatalogSnapshot& snapshot, const SearchParams& params, bool explain, PipelineResult* out) {
  out->hits.clear();
  out->features.clear();
  out->contributions.clear();
  out->fallback.clear();
  out->ranker_version.reset();
  out->embedding_version.reset();
  out->ranked_features = {};
  out->ranked_scores = {};
  out->page_rows.clear();
  out->query_embedding = {};
  out->timings = {};
  out->model_versions = snapshot.model_versions;

  // Resolve the models for the length of this request.
  std::shared_ptr<const models::ModelVersion> embedding, ranker;
  if (models_) {
    if (!snapshot.embedding_model.empty()) {
      if (auto v = models_->Get(snapshot.embedding_model); v.ok() && (*v)->embedding()) embedding = *v;
    }
    if (!snapshot.ranker_model.empty()) {
      if (auto v = models_->Get(snapshot.ranker_model); v.ok()) ranker = *v;
    }
  }
  ranking::CandidateOptions cand_options = options_.candidates;
  std::shared_ptr<const RankerCheck> check;
  if (ranker) {
    check = CheckRanker(ranker);
    if (!check->error.empty()) {
      CountFallback(snapshot.name, "ranker_features");
      out->fallback = check->error;
      ranker.reset();
    } else {
      cand_options = check->candidates;
    }
  }
  if (!embedding && !ranker) {
    // Plain BM25: pages over every match.
    SearchOutcome lex = RunLexicalSearch(snapshot, params);
    out->terms = lex.terms;
    out->total_hits = lex.result.total_hits;
    out->total_hits_exact = lex.result.total_hits_exact;
    out->timings.analyze_ns = lex.analyze_ns;
    out->timings.retrieve_ns = lex.retrieve_ns;
    out->stages = "bm25";
    for (const auto& h : lex.result.hits) {
      PipelineHit hit;
      hit.doc = h.doc;
      hit.score = h.score;
      hit.candidate.doc = h.doc;
      hit.candidate.score = h.score;
      hit.candidate.lexical_rank = static_cast<uint32_t>(params.offset + out->hits.size());
      out->hits.push_back(hit);
    }
    return;
  }
  if (!embedding) cand_options.vector = 0;

  const int64_t t0 = MonotonicNanos();
  thread_local std::vector<std::string> terms;
  terms.clear();
  text::ThreadLocalAnalyzer(snapshot.index->options().analyzer).Analyze(params.query, &terms);
  out->terms = terms;
  out->timings.analyze_ns = MonotonicNanos() - t0;

  auto state = StateFor(snapshot);
  auto generator = GeneratorFor(*state, snapshot, embedding, cand_options);
  thread_local std::vector<ranking::Candidate> cands;
  thread_local std::vector<float> query_vector;
  ranking::CandidateTimings ct;
  generator->Generate(params.query, terms, &cands, &ct, &query_vector);
  if (embedding && !query_vector.empty()) {
    out->embedding_version = embedding;
    out->query_embedding = query_vector;
  }
  out->timings.retrieve_ns = ct.retrieve_ns;
  out->timings.encode_ns = ct.encode_ns;
  out->timings.ann_ns = ct.ann_ns;
  out->timings.fuse_ns = ct.fuse_ns;
  out->total_hits = std::max<uint64_t>(ct.total_hits, cands.size());
  out->total_hits_exact = false;
  if (embedding) {
    out->model_versions += " " + embedding->name() + ":" + std::to_string(embedding->version());
  }
  if (cand_options.lexical == 0) {
    out->stages = "vector";
  } else {
    out->stages = embedding ? "bm25+vector+rrf" : "bm25";
  }

  // Scores in candidate order: the ranker's, or the fused score.
  thread_local std::vector<float> features, scores;
  thread_local std::vector<uint32_t> order;
  const size_t n = cands.size();
  scores.resize(n);
  for (size_t i = 0; i < n; ++i) scores[i] = embedding ? cands[i].fused : cands[i].score;
  bool ranked = false;
  if (ranker && n > 0) {
    BuildTerms(*state, snapshot);
    if (!state->terms) {
      CountFallback(snapshot.name, "ranker_features");
      out->fallback = "ranking features unavailable for this catalog";
    } else {
      const int64_t t1 = MonotonicNanos();
      ranking::FeatureExtractor extractor(state->terms, snapshot.index->options().bm25,
                                          ranking::FieldWeights(snapshot.index->options()), generator->depths());
      features.resize(n * ranking::kNumFeatures);
      extractor.ExtractTerms(terms, cands, PopularityOf(*state, snapshot, check, cands), features.data());
      const int64_t t2 = MonotonicNanos();
      out->timings.features_ns = t2 - t1;
      models::Tensor x;
      x.name = "features";
      x.dtype = models::DataType::kFp32;
      x.shape = {static_cast<int64_t>(n), static_cast<int64_t>(ranking::kNumFeatures)};
      x.fp32.assign(features.begin(), features.end());
      std::vector<models::Tensor> inputs;
      inputs.push_back(std::move(x));
      auto result = ranker->Infer(std::move(inputs));
      out->timings.rank_ns = MonotonicNanos() - t2;
      if (!result.ok() || result->empty() || (*result)[0].fp32.size() != n) {
        CountFallback(snapshot.name, "ranker_error");
        out->fallback = result.ok() ? "ranker returned the wrong number of scores" : result.status().message();
      } else {
        std::copy((*result)[0].fp32.begin(), (*result)[0].fp32.end(), scores.begin());
        ranked = true;
        out->ranker_version = ranker;
        out->ranked_features = std::span<const float>(features.data(), n * ranking::kNumFeatures);
        out->ranked_scores = std::span<const float>(scores.data(), n);
        out->model_versions += " " + ranker->name() + ":" + std::to_string(ranker->version());
        out->stages += "+ranker";
      }
    }
  }
  order.resize(n);
  std::iota(order.begin(), order.end(), 0u);
  if (ranked) {
    // Ties keep the fused order (candidates arrive in it).
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  }

  // The page: ranked window first, then the BM25 tail without the products already shown.
  const size_t begin = params.offset, end = static_cast<size_t>(params.offset) + params.k;
  for (size_t r = begin; r < std::min(end, n); ++r) {
    const ranking::Candidate& c = cands[order[r]];
    out->hits.push_back(PipelineHit{c.doc, scores[order[r]], c});
    out->page_rows.push_back(order[r]);
  }
  if (end > n && ct.total_hits > 0) {
    SearchParams deeper = params;
    deeper.offset = 0;
    deeper.k = static_cast<uint32_t>(std::min<size_t>(end + n, 100000));
    SearchOutcome lex = RunLexicalSearch(snapshot, deeper);
    size_t rank = n;  // ranks after the window
    for (const auto& h : lex.result.hits) {
      if (rank >= end) break;
      const bool shown = std::any_of(cands.begin(), cands.end(), [&](const ranking::Candidate& c) { return c.doc == h.doc; });
      if (shown) continue;
      if (rank >= begin) {
        out->page_rows.push_back(PipelineResult::kNotRanked);
        PipelineHit hit;
        hit.doc = h.doc;
        hit.score = h.score;
        hit.candidate.doc = h.doc;
        hit.candidate.score = h.score;
        out->hits.push_back(hit);
      }
      ++rank;
    }
    out->total_hits = std::max<uint64_t>(out->total_hits, lex.result.total_hits);
    out->total_hits_exact = lex.result.total_hits_exact && out->total_hits == lex.result.total_hits;
  }

  if (explain) {
    // Features of the page's ranked rows (tail rows from BM25 have none: zeros).
    const size_t page = out->hits.size();
    out->features.assign(page * ranking::kNumFeatures, 0.0f);
    BuildTerms(*state, snapshot);
    std::vector<ranking::Candidate> page_cands;
    for (const auto& h : out->hits) page_cands.push_back(h.candidate);
    if (state->terms) {
      // Extracted over the whole candidate list so query-relative columns match the ranking.
      if (!ranked) {
        ranking::FeatureExtractor extractor(state->terms, snapshot.index->options().bm25,
                                            ranking::FieldWeights(snapshot.index->options()), generator->depths());
        features.resize(n * ranking::kNumFeatures);
        extractor.ExtractTerms(terms, cands, PopularityOf(*state, snapshot, check, cands), features.data());
      }
      for (size_t i = 0; i < page && begin + i < n; ++i) {
        const size_t row = order[begin + i];
        std::copy_n(features.begin() + static_cast<std::ptrdiff_t>(row * ranking::kNumFeatures), ranking::kNumFeatures,
                    out->features.begin() + static_cast<std::ptrdiff_t>(i * ranking::kNumFeatures));
      }
    }
    // Contributions of the ranked window's rows on this page.
    const size_t window = begin < n ? std::min(page, n - begin) : 0;
    if (ranked && window > 0) {
      models::Tensor x;
      x.name = "features";
      x.dtype = models::DataType::kFp32;
      x.shape = {static_cast<int64_t>(window), static_cast<int64_t>(ranking::kNumFeatures)};
      x.fp32.assign(out->features.begin(), out->features.begin() + static_cast<std::ptrdiff_t>(window * ranking::kNumFeatures));
      if (auto contributions = ranker->Explain(x); contributions.ok()) out->contributions = std::move(contributions->fp32);
    }
  }
}

}  // namespace shelfwatch::pipeline
