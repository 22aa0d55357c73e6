// shelfwatch eval: offline relevance of the search pipeline on judged queries.
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "eval/relevance.h"
#include "pipeline/catalog_registry.h"
#include "pipeline/lexical_search.h"

namespace shelfwatch::cli {

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
                  {"json", "", "print the summary as JSON instead of a table"},
              });
  if (Status st = flags.Parse(argc, argv); !st.ok()) {
    std::fprintf(stderr, "shelfwatch eval: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::fputs(flags.Help().c_str(), stdout);
    return 0;
  }
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
  float k1 = spec->index.bm25.k1, b = spec->index.bm25.b;
  if (Status st = catalogs.Declare(std::move(spec).value()); !st.ok()) return fail(st, 2);
  if (Status st = catalogs.Load(name); !st.ok()) return fail(st, 1);
  auto snap = catalogs.Get(name);
  if (!snap.ok()) return fail(snap.status(), 1);

  auto queries = eval::LoadJudgedQueries(flags.Get("queries"), flags.Get("qrels"), *split);
  if (!queries.ok()) return fail(queries.status(), 1);

  std::ofstream run;
  if (!flags.Get("run").empty()) {
    run.open(flags.Get("run"));
    if (!run) return fail(IoError("cannot write " + flags.Get("run")), 1);
  }

  eval::RelevanceAccumulator acc;
  std::vector<std::string> ids;
  pipeline::SearchParams params;
  params.k = static_cast<uint32_t>(*depth);
  params.exact_total_hits = true;
  int64_t t0 = MonotonicNanos();
  for (const auto& q : *queries) {
    params.query = q.text;
    auto out = pipeline::RunLexicalSearch(**snap, params);
    ids.clear();
    for (const auto& h : out.result.hits) ids.push_back((*snap)->catalog->product(h.doc).id);
    acc.Add(q, ids, out.result.total_hits);
    if (run.is_open()) {
      for (size_t i = 0; i < ids.size(); ++i) {
        run << q.id << " Q0 " << ids[i] << " " << (i + 1) << " " << out.result.hits[i].score << " shelfwatch\n";
      }
    }
  }
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  eval::RelevanceSummary s = acc.Summary();
  const auto& stats = (*snap)->index->stats();
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
