// Lexical search benchmark: shelfwatch's BM25 index vs Xapian 1.4 on the Home Depot queries,
// both engines in one run over the same titles.
//
// For each engine: build time, memory, single-thread queries/s over the TEST queries
// (query_id % 5 == 0) including query text analysis, and NDCG@10 on TEST with the project's
// convention (shared/data/README.md; eval/relevance.h).
// `--tune` grid-searches BM25 k1 and b on the TRAIN queries only, prints the grid and runs
// with the best pair; without it the run uses the pair an earlier --tune chose.
//
//   taskset -c 0 build/bench/lexical_bench [--reps 7] [--k1 X] [--b Y] [--tune] [--no-xapian]
//                                          [--xapian-glass] [--data DIR]
#include <xapian.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "eval/relevance.h"
#include "retrieval/index.h"
#include "text/analyzer.h"

namespace {

using namespace shelfwatch;

// BM25 parameters chosen by `--tune` on the TRAIN queries (argmax of the grid; NDCG@10 is
// flat within 0.001 for k1 in [0.1, 0.4] and b in [0.75, 1]). Short titles rarely repeat a
// word, so a near-binary tf (small k1) and strong length normalisation (large b) fit them.
constexpr retrieval::Bm25Params kTrainTunedBm25 = {0.2f, 0.85f};

struct BenchOptions {
  std::string data_dir = SHELFWATCH_DATA_DIR;
  int reps = 7;
  retrieval::Bm25Params bm25 = kTrainTunedBm25;
  bool tune = false;
  bool xapian = true;
  // Xapian's in-memory backend (its fastest here: 2.6x glass, whose every block read is a
  // pread system call) or glass files in a temporary directory.
  bool xapian_inmemory = true;
};

struct EngineReport {
  std::string engine;
  double build_seconds = 0;
  uint64_t memory_bytes = 0;  // ours: counted allocations; Xapian: size of its database files
  double qps_best = 0;
  double qps_median = 0;
  double ndcg_at_10 = 0;
  size_t ndcg_queries = 0;
  std::string params;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "lexical_bench: %s\n", message.c_str());
  std::exit(1);
}

bool HasPositiveGain(const eval::JudgedQuery& q) {
  return std::any_of(q.gains.begin(), q.gains.end(), [](const auto& g) { return g.second > 0; });
}

// Mean NDCG@10 over the queries with at least one positive gain; `rank` fills product ids.
template <typename RankFn>
double MeanNdcgAt10(const std::vector<eval::JudgedQuery>& queries, RankFn rank, size_t* used) {
  double sum = 0;
  size_t n = 0;
  std::vector<std::string> ids;
  for (const eval::JudgedQuery& q : queries) {
    if (!HasPositiveGain(q)) continue;
    ids.clear();
    rank(q.text, &ids);
    sum += eval::NdcgAt(ids, q, 10);
    ++n;
  }
  if (used != nullptr) *used = n;
  return n > 0 ? sum / n : 0;
}

// Runs `search` over every query `reps` times; returns queries/s per repetition.
template <typename SearchFn>
std::vector<double> MeasureQps(const std::vector<eval::JudgedQuery>& queries, int reps,
                               SearchFn search) {
  for (const auto& q : queries) search(q.text);  // warm-up: caches, scratch space
  std::vector<double> qps;
  for (int r = 0; r < reps; ++r) {
    int64_t start = MonotonicNanos();
    for (const auto& q : queries) search(q.text);
    double seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
    qps.push_back(static_cast<double>(queries.size()) / seconds);
  }
  std::sort(qps.begin(), qps.end());
  return qps;
}

// ---- shelfwatch ----

struct Ours {
  std::shared_ptr<const retrieval::InvertedIndex> index;
  std::unique_ptr<retrieval::Searcher> searcher;
  retrieval::Query query;
  uint64_t sink = 0;

  void Analyze(const std::string& text) {
    query.terms.clear();
    text::ThreadLocalAnalyzer(index->options().analyzer).Analyze(text, &query.terms);
  }
  retrieval::SearchResult Search(const std::string& text) {
    Analyze(text);
    return searcher->Search(query);
  }
};

std::unique_ptr<Ours> BuildOurs(const catalog::Catalog& catalog, const retrieval::Bm25Params& bm25) {
  retrieval::IndexOptions options;
  options.bm25 = bm25;
  options.progress = false;
  auto index = retrieval::InvertedIndex::Build(catalog, options);
  if (!index.ok()) Die(index.status().ToString());
  auto ours = std::make_unique<Ours>();
  ours->index = *index;
  ours->searcher = std::make_unique<retrieval::Searcher>(ours->index);
  ours->query.k = 10;
  return ours;
}

double OursNdcg(Ours& ours, const catalog::Catalog& catalog,
                const std::vector<eval::JudgedQuery>& queries, size_t* used) {
  return MeanNdcgAt10(
      queries,
      [&](const std::string& text, std::vector<std::string>* ids) {
        for (const auto& hit : ours.Search(text).hits) ids->push_back(catalog.product(hit.doc).id);
      },
      used);
}

EngineReport RunOurs(const catalog::Catalog& catalog, const std::vector<eval::JudgedQuery>& test,
                     const BenchOptions& opt) {
  EngineReport report;
  report.engine = "shelfwatch";
  char params[64];
  std::snprintf(params, sizeof params, "bm25:k1=%.2f,b=%.2f", opt.bm25.k1, opt.bm25.b);
  report.params = params;
  auto ours = BuildOurs(catalog, opt.bm25);
  const retrieval::IndexStats& stats = ours->index->stats();
  report.build_seconds = stats.build_seconds;
  report.memory_bytes = stats.memory_bytes;
  std::printf("shelfwatch index: %u docs, %" PRIu64 " posting lists, %" PRIu64
              " postings, %.1f bytes/product, k1=%.2f b=%.2f\n",
              stats.docs, stats.terms, stats.postings,
              static_cast<double>(stats.memory_bytes) / stats.docs, opt.bm25.k1, opt.bm25.b);

  auto qps = MeasureQps(test, opt.reps, [&](const std::string& text) {
    ours->sink += ours->Search(text).hits.size();
  });
  report.qps_best = qps.back();
  report.qps_median = qps[qps.size() / 2];

  // Where the time goes: analysis alone, and search alone over pre-analysed queries.
  auto analyze_qps = MeasureQps(test, opt.reps, [&](const std::string& text) {
    ours->Analyze(text);
    ours->sink += ours->query.terms.size();
  });
  std::vector<retrieval::Query> analysed;
  for (const auto& q : test) {
    ours->Analyze(q.text);
    analysed.push_back(ours->query);
  }
  std::vector<double> search_qps;
  uint64_t scored = 0;
  for (int r = 0; r < opt.reps; ++r) {
    int64_t start = MonotonicNanos();
    for (const auto& query : analysed) scored += ours->searcher->Search(query).docs_scored;
    search_qps.push_back(test.size() / (static_cast<double>(MonotonicNanos() - start) / 1e9));
  }
  std::sort(search_qps.begin(), search_qps.end());
  std::printf("shelfwatch split: analysis only %.0f q/s, search only %.0f q/s (best), "
              "%.1f docs scored per query\n",
              analyze_qps.back(), search_qps.back(),
              static_cast<double>(scored) / opt.reps / test.size());

  report.ndcg_at_10 = OursNdcg(*ours, catalog, test, &report.ndcg_queries);
  return report;
}

// Grid search of k1 and b on TRAIN only; prints the grid and returns the best pair.
retrieval::Bm25Params TuneOnTrain(const catalog::Catalog& catalog,
                                  const std::vector<eval::JudgedQuery>& train) {
  const float k1s[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.7f, 0.9f, 1.2f, 1.6f, 2.0f};
  const float bs[] = {0.3f, 0.5f, 0.65f, 0.75f, 0.85f, 0.9f, 0.95f, 1.0f};
  retrieval::Bm25Params best;
  double best_ndcg = -1;
  std::printf("TRAIN NDCG@10 (%zu queries)\n  k1 \\ b", train.size());
  for (float b : bs) std::printf("  %6.2f", b);
  std::printf("\n");
  for (float k1 : k1s) {
    std::printf("  %6.2f", k1);
    for (float b : bs) {
      auto ours = BuildOurs(catalog, {k1, b});
      double ndcg = OursNdcg(*ours, catalog, train, nullptr);
      std::printf("  %.4f", ndcg);
      std::fflush(stdout);
      if (ndcg > best_ndcg) {
        best_ndcg = ndcg;
        best = {k1, b};
      }
    }
    std::printf("\n");
  }
  std::printf("best on TRAIN: k1=%.2f b=%.2f NDCG@10=%.4f\n", best.k1, best.b, best_ndcg);
  return best;
}

// ---- Xapian ----

EngineReport RunXapian(const catalog::Catalog& catalog, const std::vector<eval::JudgedQuery>& test,
                       const BenchOptions& opt) {
  EngineReport report;
  report.engine = "xapian-" + std::string(Xapian::version_string());
  report.params = std::string("bm25:default(k1=1,b=0.5),backend=") +
                  (opt.xapian_inmemory ? "inmemory" : "glass");
  // The in-memory backend, or glass (Xapian's default disk backend) in a temporary directory,
  // removed at the end; its files stay in the page cache, so searches do not touch the disk.
  char dir_template[] = "/tmp/lexical_bench_xapian.XXXXXX";
  std::string dir;
  if (!opt.xapian_inmemory) {
    if (mkdtemp(dir_template) == nullptr) Die("cannot create a temporary directory");
    dir = dir_template;
  }
  int64_t start = MonotonicNanos();
  Xapian::WritableDatabase writable(
      dir, opt.xapian_inmemory ? Xapian::DB_BACKEND_INMEMORY
                               : Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
  {
    Xapian::TermGenerator generator;
    generator.set_stemmer(Xapian::Stem("english"));
    for (const catalog::Product& product : catalog.products()) {
      Xapian::Document doc;
      generator.set_document(doc);
      generator.index_text(product.title);
      writable.add_document(doc);  // docid = catalog doc number + 1
    }
    writable.commit();
  }
  report.build_seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
  Xapian::Database db = writable;
  if (!opt.xapian_inmemory) {
    writable.close();
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file()) report.memory_bytes += entry.file_size();
    }
    db = Xapian::Database(dir);
  }

  Xapian::QueryParser parser;
  parser.set_stemmer(Xapian::Stem("english"));
  parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
  parser.set_default_op(Xapian::Query::OP_OR);
  parser.set_database(db);
  Xapian::Enquire enquire(db);
  enquire.set_weighting_scheme(Xapian::BM25Weight());
  uint64_t sink = 0;
  auto search = [&](const std::string& text, std::vector<std::string>* ids) {
    try {
      enquire.set_query(parser.parse_query(text));
      Xapian::MSet mset = enquire.get_mset(0, 10);
      for (auto it = mset.begin(); it != mset.end(); ++it) {
        if (ids != nullptr) ids->push_back(catalog.product(*it - 1).id);
        ++sink;
      }
    } catch (const Xapian::Error&) {
      // Unparseable query text: no results, as a search box would answer.
    }
  };
  auto qps = MeasureQps(test, opt.reps, [&](const std::string& text) { search(text, nullptr); });
  report.qps_best = qps.back();
  report.qps_median = qps[qps.size() / 2];
  report.ndcg_at_10 = MeanNdcgAt10(test, search, &report.ndcg_queries);
  db.close();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return report;
}

BenchOptions ParseArgs(int argc, char** argv) {
  BenchOptions opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--reps") {
      opt.reps = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--k1") {
      opt.bm25.k1 = std::strtof(next().c_str(), nullptr);
    } else if (a == "--b") {
      opt.bm25.b = std::strtof(next().c_str(), nullptr);
    } else if (a == "--tune") {
      opt.tune = true;
    } else if (a == "--no-xapian") {
      opt.xapian = false;
    } else if (a == "--xapian-glass") {
      opt.xapian_inmemory = false;
    } else if (a == "--data") {
      opt.data_dir = next();
    } else {
      Die("unknown argument " + a +
          " (use --reps N, --k1 X, --b Y, --tune, --no-xapian, --xapian-glass, --data DIR)");
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions opt = ParseArgs(argc, argv);
  const std::string dir = opt.data_dir + "/homedepot/";
  catalog::LoadOptions load;
  load.progress = false;
  auto catalog = catalog::LoadCatalog("homedepot", dir + "products.csv", load);
  if (!catalog.ok()) Die(catalog.status().ToString());
  auto test = eval::LoadJudgedQueries(dir + "queries.csv", dir + "qrels.csv", eval::Split::kTest);
  if (!test.ok()) Die(test.status().ToString());
  std::printf("catalog: %zu products; TEST queries: %zu\n", catalog->size(), test->size());

  if (opt.tune) {
    auto train =
        eval::LoadJudgedQueries(dir + "queries.csv", dir + "qrels.csv", eval::Split::kTrain);
    if (!train.ok()) Die(train.status().ToString());
    opt.bm25 = TuneOnTrain(*catalog, *train);
  }

  std::vector<EngineReport> reports;
  reports.push_back(RunOurs(*catalog, *test, opt));
  if (opt.xapian) reports.push_back(RunXapian(*catalog, *test, opt));

  std::printf("\n%-14s %10s %14s %12s %12s %9s\n", "engine", "build_s", "memory_bytes",
              "qps_best", "qps_median", "ndcg@10");
  for (const auto& r : reports) {
    const std::string memory = r.memory_bytes > 0 ? std::to_string(r.memory_bytes) : "n/a";
    std::printf("%-14s %10.3f %14s %12.0f %12.0f %9.4f\n", r.engine.c_str(), r.build_seconds,
                memory.c_str(), r.qps_best, r.qps_median, r.ndcg_at_10);
  }
  std::printf("(qps: TEST queries, one thread, analysis included, best/median of %d runs; "
              "xapian memory = its database files; n/a in memory)\n",
              opt.reps);
  for (const auto& r : reports) {
    std::printf("BENCH lexical engine=%s build_s=%.4f memory_bytes=%" PRIu64
                " qps_best=%.0f qps_median=%.0f ndcg10=%.4f ndcg_queries=%zu params=%s\n",
                r.engine.c_str(), r.build_seconds, r.memory_bytes, r.qps_best, r.qps_median,
                r.ndcg_at_10, r.ndcg_queries, r.params.c_str());
  }
  return 0;
}
