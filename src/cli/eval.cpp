// shelfwatch eval: offline relevance of the search pipeline on judged queries.
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
#include "pipeline/lexical_search.h"

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
                  {"json", "", "print the summary as JSON instead of a table"},
              });
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const Status& st, int code) {
    std::fprintf(stderr, "shelfwatch eval: %s\n", st.message().c_str());
    return code;
  };
  for (const char* required : {"catalog", "queries", "qrels"}) {
    if (flags.Get(required).empty()) return fail(InvalidArgument(std::string("--") + required + " is required"), 2);
  }
  auto split = eval::ParseSplit(flags.Get("split"));
  if (!split.ok()) return fail(split.status(), 2);
  auto depth = flags.GetInt("depth", 10, 10000);
  if (!depth.ok()) return fail(depth.status(), 2);

  std::string spec_text = flags.Get("catalog");
  if (spec_text.find('=') == std::string::npos) spec_text = "eval=" + spec_text;
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
  int64_t t0 = MonotonicNanos();
  eval::RelevanceSummary s = Evaluate(*snap, *queries, static_cast<uint32_t>(*depth), run.is_open() ? &run : nullptr);
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
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
  }
  std::printf("%s\n", s.ToLine().c_str());
  return 0;
}

}  // namespace shelfwatch::cli
