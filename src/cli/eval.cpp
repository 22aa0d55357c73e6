// shelfwatch eval: offline relevance of the search pipeline on judged queries.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "eval/relevance.h"
#include "pipeline/catalog_registry.h"
#include "models/model_repository.h"
#include "pipeline/lexical_search.h"
#include "pipeline/search_pipeline.h"
#include "ranking/features.h"
#include "ranking/product_terms.h"
#include "ranking/reranker.h"

namespace shelfwatch::cli {
namespace {

// Runs every judged query through search and accumulates the relevance metrics; writes a TREC
// run file ("qid Q0 docid rank score tag") when `run` is given.
eval::RelevanceSummary Evaluate(const pipeline::CatalogSnapshot& snap, const std::vector<eval::JudgedQuery>& queries,
                                uint32_t depth, std::ostream* run) {
  eval::RelevanceAccumulator acc;
  std::vector<std::string> ids;
  pipeline::SearchParams params;
  params.k = depth;
  params.exact_total_hits = true;
  for (const auto& q : queries) {
    params.query = q.text;
    auto out = pipeline::RunLexicalSearch(snap, params);
    ids.clear();
    for (const auto& h : out.result.hits) ids.push_back(snap.catalog->product(h.doc).id);
    acc.Add(q, ids, out.result.total_hits);
    if (run) {
      for (size_t i = 0; i < ids.size(); ++i) {
        *run << q.id << " Q0 " << ids[i] << " " << (i + 1) << " " << out.result.hits[i].score << " shelfwatch\n";
      }
    }
  }
  return acc.Summary();
}

// As Evaluate, with the BM25 top `rerank` of each query re-ordered by `ranker` (the rest of
// the BM25 list follows unchanged, for Recall@100). Appends each query's re-ranking time
// (features + model) to `rerank_us`.
Result<eval::RelevanceSummary> EvaluateReranked(const pipeline::CatalogSnapshot& snap,
                                                const std::vector<eval::JudgedQuery>& queries, uint32_t depth,
                                                uint32_t rerank, const ranking::Reranker& ranker,
                                                const ranking::FeatureExtractor& extractor, std::ostream* run,
                                                std::vector<double>* rerank_us) {
  eval::RelevanceAccumulator acc;
  std::vector<std::string> ids;
  std::vector<ranking::Candidate> cands;
  std::vector<float> scores, popularity;
  const std::vector<float> doc_priors = ranker.PriorsFor(*snap.catalog);  // empty without priors
  pipeline::SearchParams params;
  params.k = std::max(depth, rerank);
  params.exact_total_hits = true;
  for (const auto& q : queries) {
    params.query = q.text;
    auto out = pipeline::RunLexicalSearch(snap, params);
    const auto& hits = out.result.hits;
    const size_t head = std::min<size_t>(rerank, hits.size());
    cands.clear();
    for (size_t i = 0; i < head; ++i) cands.push_back({hits[i].doc, hits[i].score, static_cast<uint32_t>(i)});
    const int64_t t0 = MonotonicNanos();
    popularity.clear();
    for (size_t i = 0; i < head && !doc_priors.empty(); ++i) popularity.push_back(doc_priors[hits[i].doc]);
    if (Status st = ranker.Rerank(extractor, out.terms, &cands, &scores, popularity); !st.ok()) return st;
    rerank_us->push_back(static_cast<double>(MonotonicNanos() - t0) / 1e3);
    ids.clear();
    for (const auto& c : cands) ids.push_back(snap.catalog->product(c.doc).id);
    for (size_t i = head; i < hits.size() && i < depth; ++i) ids.push_back(snap.catalog->product(hits[i].doc).id);
    if (ids.size() > depth) ids.resize(depth);
    acc.Add(q, ids, out.result.total_hits);
    if (run) {
      for (size_t i = 0; i < ids.size(); ++i) {
        const float score = i < scores.size() ? scores[i] : hits[i].score;
        *run << q.id << " Q0 " << ids[i] << " " << (i + 1) << " " << score << " shelfwatch-ltr\n";
      }
    }
  }
  return acc.Summary();
}

// As Evaluate, through the serving search pipeline (pipeline/search_pipeline.h): the same
// stages, models and fallbacks a server runs. Appends each query's time to `us`.
eval::RelevanceSummary EvaluatePipeline(pipeline::SearchPipeline& search, const pipeline::CatalogSnapshot& snap,
                                        const std::vector<eval::JudgedQuery>& queries, uint32_t depth,
                                        std::ostream* run, std::vector<double>* us, std::string* stages,
                                        pipeline::PipelineTimings* total) {
  eval::RelevanceAccumulator acc;
  std::vector<std::string> ids;
  pipeline::SearchParams params;
  params.k = depth;
  pipeline::PipelineResult out;
  for (const auto& q : queries) {
    params.query = q.text;
    const int64_t t0 = MonotonicNanos();
    search.Run(snap, params, false, &out);
    if (us) us->push_back(static_cast<double>(MonotonicNanos() - t0) / 1e3);
    if (total) {
      const auto& t = out.timings;
      total->analyze_ns += t.analyze_ns, total->retrieve_ns += t.retrieve_ns, total->encode_ns += t.encode_ns;
      total->ann_ns += t.ann_ns, total->fuse_ns += t.fuse_ns, total->features_ns += t.features_ns;
      total->rank_ns += t.rank_ns;
    }
    ids.clear();
    for (const auto& h : out.hits) ids.push_back(snap.catalog->product(h.doc).id);
    acc.Add(q, ids, out.total_hits);
    if (stages && stages->size() < out.stages.size()) *stages = out.stages;
    if (run) {
      for (size_t i = 0; i < ids.size(); ++i) {
        *run << q.id << " Q0 " << ids[i] << " " << (i + 1) << " " << out.hits[i].score << " shelfwatch-" << out.stages << "\n";
      }
    }
  }
  return acc.Summary();
}

double PercentileOf(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Grid search over BM25 k1 x b by NDCG@10 on `train`; returns a snapshot indexed with the best
// pair. Ties keep the earlier (smaller) pair.
Result<std::shared_ptr<const pipeline::CatalogSnapshot>> TuneBm25(const pipeline::CatalogSnapshot& base,
                                                                  const std::vector<eval::JudgedQuery>& train,
                                                                  const retrieval::IndexOptions& options,
                                                                  bool verbose) {
  static constexpr float kK1[] = {0.1f, 0.2f, 0.3f, 0.5f, 0.8f, 1.2f, 1.6f, 2.0f};
  static constexpr float kB[] = {0.3f, 0.5f, 0.75f, 0.85f, 1.0f};
  std::shared_ptr<pipeline::CatalogSnapshot> best;
  double best_ndcg = -1;
  if (verbose) std::printf("tuning BM25 on %zu TRAIN queries (NDCG@10):\n      k1:", train.size());
  if (verbose) {
    for (float k1 : kK1) std::printf(" %6.2f", k1);
    std::printf("\n");
  }
  for (float b : kB) {
    if (verbose) std::printf("  b=%.2f:", b);
    for (float k1 : kK1) {
      retrieval::IndexOptions o = options;
      o.bm25.k1 = k1;
      o.bm25.b = b;
      o.progress = false;
      auto index = retrieval::InvertedIndex::Build(*base.catalog, o);
      if (!index.ok()) return index.status();
      auto snap = std::make_shared<pipeline::CatalogSnapshot>(base);
      snap->index = *index;
      double ndcg = Evaluate(*snap, train, 10, nullptr).ndcg_at_10;
      if (verbose) std::printf(" %.4f", ndcg);
      if (ndcg > best_ndcg) {
        best_ndcg = ndcg;
        best = snap;
      }
    }
    if (verbose) std::printf("\n");
  }
  if (verbose) {
    std::printf("best on TRAIN: k1=%.2f b=%.2f (NDCG@10 %.4f)\n\n", best->index->options().bm25.k1,
                best->index->options().bm25.b, best_ndcg);
  }
  return std::shared_ptr<const pipeline::CatalogSnapshot>(best);
}

// --models: the ablation through the serving pipeline, one row per configuration of stages.
int EvaluateModels(const Flags& flags, const std::shared_ptr<const pipeline::CatalogSnapshot>& snap,
                   const std::vector<eval::JudgedQuery>& queries, uint32_t depth, std::ostream* run) {
  models::RepositoryOptions ro;
  ro.root = flags.Get("models");
  ro.validate = pipeline::ValidateRankingFeatures;
  models::ModelRepository repo(ro);
  if (Status st = repo.Start(); !st.ok()) {
    std::fprintf(stderr, "shelfwatch eval: %s\n", st.message().c_str());
    return 1;
  }
  for (const std::string& name : {snap->embedding_model, snap->ranker_model}) {
    if (name.empty()) continue;
    if (auto v = repo.Get(name); !v.ok()) {
      std::fprintf(stderr, "shelfwatch eval: model %s: %s\n", name.c_str(), v.status().message().c_str());
      return 1;
    }
  }
  struct Row {
    const char* name;
    bool embedding, ranker, lexical;
  };
  const Row rows[] = {{"BM25", false, false, true},
                      {"vector only", true, false, false},
                      {"hybrid RRF", true, false, true},
                      {"BM25+LTR", false, true, true},
                      {"hybrid+LTR", true, true, true}};
  eval::RelevanceSummary last;
  std::vector<double> us;
  std::string stages;
  const bool json = flags.GetBool("json");
  if (!json) {
    std::printf("catalog      %s (%zu products), %zu %s queries, models from %s\n", flags.Get("catalog").c_str(),
                snap->catalog->size(), queries.size(), flags.Get("split").c_str(), flags.Get("models").c_str());
  }
  std::string out_json;
  JsonWriter w(&out_json);
  w.BeginObject().Key("split").String(flags.Get("split")).Key("ablation").BeginArray();
  for (const Row& row : rows) {
    if ((row.embedding && snap->embedding_model.empty()) || (row.ranker && snap->ranker_model.empty())) continue;
    auto variant = std::make_shared<pipeline::CatalogSnapshot>(*snap);
    if (!row.embedding) variant->embedding_model.clear();
    if (!row.ranker) variant->ranker_model.clear();
    pipeline::SearchPipelineOptions options;
    if (!row.lexical) options.candidates.lexical = 0;
    pipeline::SearchPipeline search(&repo, nullptr, options);
    search.Prepare(*variant);
    const bool is_last = row.embedding == !snap->embedding_model.empty() && row.ranker == !snap->ranker_model.empty() && row.lexical;
    us.clear();
    stages.clear();
    pipeline::PipelineTimings t;
    last = EvaluatePipeline(search, *variant, queries, depth, is_last ? run : nullptr, &us, &stages, &t);
    if (json) {
      w.BeginObject().Key("name").String(row.name).Key("stages").String(stages);
      w.Key("ndcg@10").Fixed(last.ndcg_at_10, 4).Key("mrr@10").Fixed(last.mrr_at_10, 4);
      w.Key("recall@100").Fixed(last.recall_at_100, 4).Key("zero_result_rate").Fixed(last.zero_result_rate, 4);
      w.Key("p50_us").Fixed(PercentileOf(us, 0.5), 1).Key("p99_us").Fixed(PercentileOf(us, 0.99), 1).EndObject();
    } else {
      std::printf("%-12s NDCG@10 %.4f  MRR@10 %.4f  Recall@100 %.4f  zero-result %.4f  p50 %5.0f us  p99 %5.0f us  (%s)\n",
                  row.name, last.ndcg_at_10, last.mrr_at_10, last.recall_at_100, last.zero_result_rate,
                  PercentileOf(us, 0.5), PercentileOf(us, 0.99), stages.c_str());
      const double n = static_cast<double>(std::max<size_t>(queries.size(), 1)) * 1e3;
      std::printf("             mean us per stage: analyze %.0f, retrieve %.0f, encode %.0f, ann %.0f, fuse %.0f, features %.0f, rank %.0f\n",
                  static_cast<double>(t.analyze_ns) / n, static_cast<double>(t.retrieve_ns) / n,
                  static_cast<double>(t.encode_ns) / n, static_cast<double>(t.ann_ns) / n, static_cast<double>(t.fuse_ns) / n,
                  static_cast<double>(t.features_ns) / n, static_cast<double>(t.rank_ns) / n);
    }
    if (is_last) break;
  }
  w.EndArray().EndObject();
  if (json) std::printf("%s\n", out_json.c_str());
  std::printf("%s\n", last.ToLine().c_str());
  return 0;
}

}  // namespace

int RunEval(int argc, char** argv) {
  Flags flags("eval",
              "Runs the judged queries of a split through search and reports NDCG@10, MRR@10,\n"
              "Recall@100 and the zero-result rate (convention: ../shared/data/README.md).\n"
              "The last line is machine-readable:\n"
              "  ndcg@10=<x> mrr@10=<x> recall@100=<x> zero_result_rate=<x>",
              {
                  {"catalog", "PATH|NAME=PATH[,opts]", "catalog file or catalog spec (as for serve)", ""},
                  {"queries", "FILE", "queries CSV (query_id,query)", ""},
                  {"qrels", "FILE", "judgments CSV (query_id,product_id,relevance)", ""},
                  {"split", "SPLIT", "train, test or all (TEST: query_id % 5 == 0)", "test"},
                  {"k1", "X", "BM25 k1 (overrides the catalog spec)", ""},
                  {"b", "X", "BM25 b (overrides the catalog spec)", ""},
                  {"depth", "N", "results retrieved per query (>= 100 for Recall@100)", "100"},
                  {"run", "FILE", "also write the ranking as a TREC run file", ""},
                  {"tune", "", "choose BM25 k1 and b by grid search on the TRAIN split, then evaluate"},
                  {"ranker", "DIR", "also re-rank BM25's top N with a trained ranker (train ranker --out DIR; N as\n"
                                    "trained) and report BM25 and BM25+LTR; the last line is BM25+LTR", ""},
                  {"models", "DIR", "evaluate the full search pipeline with the catalog's models from this model\n"
                                    "repository (spec keys embedding=, ranker=; default NAME-embedding, NAME-ranker),\n"
                                    "with the ablation BM25 / vector only / hybrid RRF / full; the last line is the\n"
                                    "full pipeline", ""},
                  {"json", "", "print the summary as JSON instead of a table"},
              });
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const Status& st, int code) {
    std::fprintf(stderr, "shelfwatch eval: %s\n", st.message().c_str());
    return code;
  };
  if (Status st = flags.Require({"catalog", "queries", "qrels"}); !st.ok()) return fail(st, 2);
  auto split = eval::ParseSplit(flags.Get("split"));
  if (!split.ok()) return fail(split.status(), 2);
  auto depth = flags.GetInt("depth", 10, 10000);
  if (!depth.ok()) return fail(depth.status(), 2);

  std::string spec_text = flags.Get("catalog");
  // A bare path (options may follow it: /x/products.csv,k1=0.2) gets a name.
  if (spec_text.substr(0, spec_text.find(',')).find('=') == std::string::npos) spec_text = "eval=" + spec_text;
  auto spec = pipeline::ParseCatalogSpec(spec_text);
  if (!spec.ok()) return fail(spec.status(), 2);
  if (flags.Has("k1")) {
    auto v = flags.GetDouble("k1");
    if (!v.ok()) return fail(v.status(), 2);
    spec->index.bm25.k1 = static_cast<float>(*v);
  }
  if (flags.Has("b")) {
    auto v = flags.GetDouble("b");
    if (!v.ok()) return fail(v.status(), 2);
    spec->index.bm25.b = static_cast<float>(*v);
  }
  log::SetLevel(log::Level::kWarn);
  pipeline::CatalogRegistry catalogs;
  std::string name = spec->name;
  retrieval::IndexOptions index_options = spec->index;
  if (Status st = catalogs.Declare(std::move(spec).value()); !st.ok()) return fail(st, 2);
  if (Status st = catalogs.Load(name); !st.ok()) return fail(st, 1);
  auto loaded = catalogs.Get(name);
  if (!loaded.ok()) return fail(loaded.status(), 1);
  std::shared_ptr<const pipeline::CatalogSnapshot> snap = *loaded;

  auto queries = eval::LoadJudgedQueries(flags.Get("queries"), flags.Get("qrels"), *split);
  if (!queries.ok()) return fail(queries.status(), 1);

  if (flags.GetBool("tune")) {
    // Grid search on TRAIN only (never on the reported split), then rebuild with the best pair.
    auto train = eval::LoadJudgedQueries(flags.Get("queries"), flags.Get("qrels"), eval::Split::kTrain);
    if (!train.ok()) return fail(train.status(), 1);
    auto tuned = TuneBm25(*snap, *train, index_options, !flags.GetBool("json"));
    if (!tuned.ok()) return fail(tuned.status(), 1);
    snap = *tuned;
    index_options = snap->index->options();
  }
  const float k1 = index_options.bm25.k1, b = index_options.bm25.b;

  std::ofstream run;
  if (!flags.Get("run").empty()) {
    run.open(flags.Get("run"));
    if (!run) return fail(IoError("cannot write " + flags.Get("run")), 1);
  }
  if (!flags.Get("models").empty()) {
    return EvaluateModels(flags, snap, *queries, static_cast<uint32_t>(*depth), run.is_open() ? &run : nullptr);
  }
  int64_t t0 = MonotonicNanos();
  const bool rerank = !flags.Get("ranker").empty();
  eval::RelevanceSummary s =
      Evaluate(*snap, *queries, static_cast<uint32_t>(*depth), run.is_open() && !rerank ? &run : nullptr);
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  // --ranker: the ablation rows (BM25, BM25+LTR) from one run; `s` becomes BM25+LTR.
  const eval::RelevanceSummary bm25 = s;
  std::shared_ptr<const ranking::Reranker> ranker;
  std::vector<double> rerank_us;
  if (rerank) {
    auto loaded_ranker = ranking::Reranker::Load(flags.Get("ranker"));
    if (!loaded_ranker.ok()) return fail(loaded_ranker.status(), 1);
    ranker = *loaded_ranker;
    auto terms = ranking::ProductTerms::Build(*snap->catalog, index_options.analyzer);
    if (!terms.ok()) return fail(terms.status(), 1);
    const ranking::FeatureExtractor extractor(*terms, index_options.bm25);
    auto reranked = EvaluateReranked(*snap, *queries, static_cast<uint32_t>(*depth), ranker->candidates(), *ranker,
                                     extractor, run.is_open() ? &run : nullptr, &rerank_us);
    if (!reranked.ok()) return fail(reranked.status(), 1);
    s = *reranked;
  }
  const auto& stats = snap->index->stats();
  if (flags.GetBool("json")) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject();
    w.Key("catalog").String(flags.Get("catalog")).Key("split").String(flags.Get("split"));
    w.Key("products").Uint(stats.docs).Key("queries").Uint(s.queries);
    w.Key("queries_with_gain").Uint(s.queries_with_gain).Key("k1").Float(k1).Key("b").Float(b);
    w.Key("ndcg@10").Fixed(s.ndcg_at_10, 4).Key("mrr@10").Fixed(s.mrr_at_10, 4);
    w.Key("recall@100").Fixed(s.recall_at_100, 4).Key("zero_result_rate").Fixed(s.zero_result_rate, 4);
    w.Key("queries_per_second").Fixed(static_cast<double>(s.queries) / secs, 0);
    if (ranker) {
      w.Key("ranker").String(ranker->path()).Key("reranked").Uint(ranker->candidates());
      w.Key("bm25_ndcg@10").Fixed(bm25.ndcg_at_10, 4).Key("bm25_mrr@10").Fixed(bm25.mrr_at_10, 4);
      w.Key("rerank_p50_us").Fixed(PercentileOf(rerank_us, 0.5), 1);
      w.Key("rerank_p99_us").Fixed(PercentileOf(rerank_us, 0.99), 1);
    }
    w.EndObject();
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("catalog      %s (%u products, %llu posting lists)\n", flags.Get("catalog").c_str(), stats.docs,
                static_cast<unsigned long long>(stats.terms));
    std::printf("queries      %zu %s queries, %zu with a positive gain\n", s.queries, flags.Get("split").c_str(),
                s.queries_with_gain);
    std::printf("ranking      BM25 k1=%.2f b=%.2f, depth %lld\n", k1, b, *depth);
    std::printf("NDCG@10      %.4f\n", s.ndcg_at_10);
    std::printf("MRR@10       %.4f   (relevant: relevance >= 2)\n", s.mrr_at_10);
    std::printf("Recall@100   %.4f\n", s.recall_at_100);
    std::printf("zero-result  %.4f\n", s.zero_result_rate);
    std::printf("speed        %.0f queries/s (one thread, analysis included)\n", static_cast<double>(s.queries) / secs);
    if (ranker) {
      std::printf("ranker       %s (top %u re-ranked; metrics above are BM25+LTR)\n", ranker->path().c_str(),
                  ranker->candidates());
      std::printf("ablation     %-10s NDCG@10 %.4f  MRR@10 %.4f  Recall@100 %.4f\n", "BM25", bm25.ndcg_at_10,
                  bm25.mrr_at_10, bm25.recall_at_100);
      std::printf("             %-10s NDCG@10 %.4f  MRR@10 %.4f  Recall@100 %.4f\n", "BM25+LTR", s.ndcg_at_10,
                  s.mrr_at_10, s.recall_at_100);
      std::printf("re-rank      p50 %.0f us, p99 %.0f us per query (features + model, one thread)\n",
                  PercentileOf(rerank_us, 0.5), PercentileOf(rerank_us, 0.99));
    }
  }
  std::printf("%s\n", s.ToLine().c_str());
  return 0;
}

}  // namespace shelfwatch::cli
