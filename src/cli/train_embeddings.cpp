// shelfwatch train embeddings: trains a two-tower hashed n-gram query/item embedding on the
// TRAIN split of judged queries and writes it as the next version of an `embedding` model
// directory (ranking/embedding_trainer.h). --report-test measures it once on TEST afterwards.
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_set>

#include "cli/catalog_argument.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "eval/relevance.h"
#include "models/embedding_model.h"
#include "models/model_config.h"
#include "pipeline/catalog_registry.h"
#include "pipeline/lexical_search.h"
#include "ranking/embedding_trainer.h"
#include "ranking/trainer.h"

namespace shelfwatch::cli {
namespace {

// TEST figures of the written model: exact cosine retrieval, the served HNSW index, and what
// the vector top 100 finds that BM25's top 100 misses. Printed once; nothing here is tuned.
Status ReportTest(const pipeline::CatalogSnapshot& snap, const ranking::TrainedEmbedding& model,
                  const std::string& version_dir, const std::string& queries_path, const std::string& qrels_path,
                  int threads) {
  auto test = eval::LoadJudgedQueries(queries_path, qrels_path, eval::Split::kTest);
  if (!test.ok()) return test.status();
  std::vector<std::vector<uint32_t>> top;
  const eval::RelevanceSummary exact = ranking::EvaluateVectorRetrieval(model, *test, threads, &top);

  // The written version as the server loads it (HNSW index).
  auto config = models::LoadModelConfig(version_dir + "/config.yaml");
  if (!config.ok()) return config.status();
  const int64_t t0 = MonotonicNanos();
  auto served = models::EmbeddingModel::Open(*config, version_dir);
  if (!served.ok()) return served.status();
  const double load_s = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  eval::RelevanceAccumulator hnsw, bm25;
  std::vector<std::string> ids;
  size_t relevant_in_vector = 0, relevant_only_vector = 0, relevant_in_bm25 = 0;
  pipeline::SearchParams params;
  params.k = 100;
  params.exact_total_hits = true;
  for (size_t i = 0; i < test->size(); ++i) {
    const eval::JudgedQuery& q = (*test)[i];
    ids.clear();
    for (const auto& h : (*served)->Search((*served)->Encode(q.text), 100)) ids.push_back((*served)->item_id(h.row));
    hnsw.Add(q, ids, (*served)->size());

    params.query = q.text;
    const pipeline::SearchOutcome lexical = pipeline::RunLexicalSearch(snap, params);
    ids.clear();
    std::unordered_set<std::string> lexical_ids;
    for (const auto& h : lexical.result.hits) {
      ids.push_back(snap.catalog->product(h.doc).id);
      lexical_ids.insert(ids.back());
    }
    bm25.Add(q, ids, lexical.result.total_hits);
    for (const auto& [id, gain] : q.gains) {
      if (gain >= 1.0 && lexical_ids.count(id)) ++relevant_in_bm25;
    }
    for (uint32_t row : top[i]) {
      const auto it = q.gains.find(model.item_ids[row]);
      if (it == q.gains.end() || it->second < 1.0) continue;
      ++relevant_in_vector;
      if (!lexical_ids.count(model.item_ids[row])) ++relevant_only_vector;
    }
  }
  const eval::RelevanceSummary served_sum = hnsw.Summary(), bm25_sum = bm25.Summary();
  std::printf("TEST (%zu queries, %zu with a positive gain):\n", test->size(), exact.queries_with_gain);
  std::printf("  vector exact cosine   %s\n", exact.ToLine().c_str());
  std::printf("  vector HNSW (served)  %s   (index built in %.1f s)\n", served_sum.ToLine().c_str(), load_s);
  std::printf("  BM25 (catalog spec)   %s\n", bm25_sum.ToLine().c_str());
  std::printf("  relevant (gain >= 1) products in the top 100: vector %zu, BM25 %zu, vector-only %zu\n",
              relevant_in_vector, relevant_in_bm25, relevant_only_vector);
  std::printf("test_ndcg@10=%.4f test_recall@100=%.4f test_hnsw_ndcg@10=%.4f test_hnsw_recall@100=%.4f "
              "test_bm25_ndcg@10=%.4f test_bm25_recall@100=%.4f vector_only_relevant=%zu\n",
              exact.ndcg_at_10, exact.recall_at_100, served_sum.ndcg_at_10, served_sum.recall_at_100,
              bm25_sum.ndcg_at_10, bm25_sum.recall_at_100, relevant_only_vector);
  return Status::Ok();
}

}  // namespace

int RunTrainEmbeddings(int argc, char** argv) {
  Flags flags("train embeddings",
              "Trains a two-tower query/item embedding (one hashed word and character n-gram table shared by\n"
              "both towers, the serving encoder) on the TRAIN queries (query_id % 5 != 0) with a sampled\n"
              "softmax over judged (query, product) pairs, keeps the epoch with the best NDCG@10 of exact\n"
              "cosine retrieval on a validation share of TRAIN, and writes DIR/<next version>/ (config.yaml,\n"
              "items.f32, items.txt, encoder.f32, training.yaml). The last line is machine-readable:\n"
              "  version=<dir> validation_ndcg@10=<x> validation_recall@100=<x> best_epoch=<n>\n"
              "(--report-test prints TEST figures before it; TEST never shapes the model).",
              {
                  {"catalog", "PATH|NAME=PATH[,opts]", "catalog file or catalog spec (as for eval; k1=,b= set the BM25\n"
                                                       "that --report-test compares with)", ""},
                  {"queries", "FILE", "queries CSV (query_id,query)", ""},
                  {"qrels", "FILE", "judgments CSV (query_id,product_id,relevance)", ""},
                  {"out", "DIR", "model directory; the model is written as its next version", ""},
                  {"dim", "N", "embedding width", "128"},
                  {"buckets", "N", "rows of the hashed n-gram table", "262144"},
                  {"word-ngrams", "N", "word n-grams 1..N (0: none)", "2"},
                  {"char-ngrams", "MIN,MAX", "character n-gram lengths (0,0: none)", "3,5"},
                  {"epochs", "N", "most epochs (validation keeps the best)", "10"},
                  {"patience", "N", "stop after N epochs without a better validation NDCG@10", "3"},
                  {"batch", "N", "(query, product) pairs per step (the in-batch negatives)", "1024"},
                  {"negatives", "N", "extra uniformly sampled catalog items per step", "0"},
                  {"temperature", "X", "softmax temperature over cosine similarities", "0.05"},
                  {"learning-rate", "X", "Adagrad learning rate", "0.05"},
                  {"min-gain", "X", "judged products with gain (relevance - 1) >= X are positives", "1"},
                  {"self-supervision", "X", "pseudo-query pairs (title words -> product) per judged pair", "8"},
                  {"validation", "SHARE", "share of TRAIN queries held out to choose the epoch (0: none)", "0.2"},
                  {"exclude-fold", "I/N", "leave out fold I of N of the TRAIN queries (ranking::CrossFitFold): the\n"
                                          "cross-fitted models train ranker --cross-fit needs", ""},
                  {"threads", "N", "training threads (the result does not depend on it)", "2"},
                  {"seed", "N", "random seed", "1"},
                  {"report-test", "", "after writing, print NDCG@10 / Recall@100 on TEST (exact, HNSW, BM25)"},
              });
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const Status& st, int code) {
    std::fprintf(stderr, "shelfwatch train embeddings: %s\n", st.message().c_str());
    return code;
  };
  if (Status st = flags.Require({"catalog", "queries", "qrels", "out"}); !st.ok()) return fail(st, 2);
  ranking::EmbeddingTrainingOptions options;
  auto dim = flags.GetInt("dim", 1, 4096);
  auto buckets = flags.GetInt("buckets", 1, 1ll << 30);
  auto word_ngrams = flags.GetInt("word-ngrams", 0, 8);
  auto epochs = flags.GetInt("epochs", 1, 10000);
  auto patience = flags.GetInt("patience", 1, 10000);
  auto batch = flags.GetInt("batch", 2, 1 << 16);
  auto negatives = flags.GetInt("negatives", 0, 1 << 16);
  auto threads = flags.GetInt("threads", 1, 64);
  auto seed = flags.GetInt("seed", 0, std::numeric_limits<long long>::max());
  auto temperature = flags.GetDouble("temperature");
  auto learning_rate = flags.GetDouble("learning-rate");
  auto min_gain = flags.GetDouble("min-gain");
  auto self_supervision = flags.GetDouble("self-supervision");
  auto validation = flags.GetDouble("validation");
  for (const Status& st : {dim.status(), buckets.status(), word_ngrams.status(), epochs.status(), patience.status(),
                           batch.status(), negatives.status(), threads.status(), seed.status(), temperature.status(),
                           learning_rate.status(), min_gain.status(), self_supervision.status(),
                           validation.status()}) {
    if (!st.ok()) return fail(st, 2);
  }
  int char_min = 0, char_max = 0;
  {
    const std::string text = flags.Get("char-ngrams");
    char tail = 0;
    if (std::sscanf(text.c_str(), "%d,%d%c", &char_min, &char_max, &tail) != 2 || char_min < 0 ||
        char_max < char_min || char_max > 32) {
      return fail(InvalidArgument("--char-ngrams is MIN,MAX with 0 <= MIN <= MAX <= 32, e.g. 3,5 (got '" + text + "')"),
                  2);
    }
  }
  options.encoder.dim = static_cast<int>(*dim);
  options.encoder.buckets = static_cast<uint32_t>(*buckets);
  options.encoder.word_ngrams = static_cast<int>(*word_ngrams);
  options.encoder.char_ngram_min = char_min;
  options.encoder.char_ngram_max = char_max;
  options.epochs = static_cast<int>(*epochs);
  options.patience = static_cast<int>(*patience);
  options.batch = static_cast<int>(*batch);
  options.sampled_negatives = static_cast<int>(*negatives);
  options.threads = static_cast<int>(*threads);
  options.seed = static_cast<uint64_t>(*seed);
  options.temperature = *temperature;
  options.learning_rate = *learning_rate;
  options.min_gain = *min_gain;
  options.self_supervision = *self_supervision;
  options.validation_share = *validation;
  options.log = PrintProgressLine;

  log::SetLevel(log::Level::kWarn);
  auto snap = LoadCatalogArgument(flags.Get("catalog"), "train");
  if (!snap.ok()) return fail(snap.status(), ExitCodeFor(snap.status()));

  // TRAIN only: the reported split never shapes the model.
  auto queries = eval::LoadJudgedQueries(flags.Get("queries"), flags.Get("qrels"), eval::Split::kTrain);
  if (!queries.ok()) return fail(queries.status(), 1);
  if (const std::string fold = flags.Get("exclude-fold"); !fold.empty()) {
    unsigned i = 0, n = 0;
    char tail = 0;
    if (std::sscanf(fold.c_str(), "%u/%u%c", &i, &n, &tail) != 2 || n < 2 || i >= n) {
      return fail(InvalidArgument("--exclude-fold is I/N with 0 <= I < N, N >= 2 (got '" + fold + "')"), 2);
    }
    std::erase_if(*queries, [&](const eval::JudgedQuery& q) { return ranking::CrossFitFold(q.id, n) == i; });
    std::printf("cross-fitting: fold %u of %u left out\n", i, n);
  }
  std::printf("catalog: %zu products; %zu TRAIN queries; dim %d, %u buckets, word n-grams 1..%d, char n-grams %d..%d\n",
              (*snap)->catalog->size(), queries->size(), options.encoder.dim, options.encoder.buckets,
              options.encoder.word_ngrams, char_min, char_max);

  auto trained = ranking::TrainEmbeddings(*(*snap)->catalog, *queries, options);
  if (!trained.ok()) return fail(trained.status(), ExitCodeFor(trained.status()));
  auto dir = ranking::WriteEmbeddingVersion(flags.Get("out"), *trained);
  if (!dir.ok()) return fail(dir.status(), 1);
  std::printf("wrote %s (best epoch %d of %zu, %zu queries, %zu pairs, %.1f s)\n", dir->c_str(), trained->best_epoch,
              trained->epochs.size(), trained->train_queries, trained->train_pairs, trained->seconds);
  if (flags.GetBool("report-test")) {
    if (Status st = ReportTest(**snap, *trained, *dir, flags.Get("queries"), flags.Get("qrels"), options.threads);
        !st.ok()) {
      return fail(st, 1);
    }
  }
  std::printf("version=%s validation_ndcg@10=%.4f validation_recall@100=%.4f best_epoch=%d\n", dir->c_str(),
              trained->validation.ndcg_at_10, trained->validation.recall_at_100, trained->best_epoch);
  return 0;
}

int RunTrainHnsw(int argc, char** argv) {
  Flags flags("train hnsw",
              "Builds the HNSW graph of an embedding version (items.hnsw + items.hnsw.check) so that servers\n"
              "load it instead of building it at every load. train embeddings ships it with every version;\n"
              "this adds it to versions written before. The check file is written last: a server loading\n"
              "the version meanwhile builds the graph as before.",
              {{"version", "DIR", "an embedding version directory (config.yaml, items.txt, items.f32)", ""}});
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const Status& st, int code) {
    std::fprintf(stderr, "shelfwatch train hnsw: %s\n", st.message().c_str());
    return code;
  };
  if (Status st = flags.Require({"version"}); !st.ok()) return fail(st, 2);
  const std::string dir = flags.Get("version");
  auto config = models::LoadModelConfig(dir + "/config.yaml");
  if (!config.ok()) return fail(config.status(), 1);
  if (config->kind != models::ModelKind::kEmbedding) return fail(InvalidArgument(dir + " is not an embedding version"), 2);
  auto raw = ReadWholeFile(dir + "/items.f32");
  if (!raw.ok()) return fail(raw.status(), 1);
  const size_t dim = static_cast<size_t>(config->encoder.dim);
  if (raw->empty() || raw->size() % (dim * sizeof(float)) != 0) {
    return fail(FailedPrecondition(dir + "/items.f32 is not a whole number of " + std::to_string(dim) + "-float rows"), 1);
  }
  std::vector<float> items(raw->size() / sizeof(float));
  std::memcpy(items.data(), raw->data(), raw->size());
  const int64_t t0 = MonotonicNanos();
  auto files = models::BuildHnswIndexFiles(items, dim, config->hnsw_m, config->hnsw_ef_construction);
  if (!files.ok()) return fail(files.status(), 1);
  // The check last: until it is there, a server loading the version builds the graph itself.
  for (const auto& [name, bytes] : {std::pair<const char*, const std::string*>{models::kHnswIndexFile, &files->index},
                                    std::pair<const char*, const std::string*>{models::kHnswCheckFile, &files->check}}) {
    if (Status st = WriteFileAtomically(dir + "/" + name, *bytes); !st.ok()) return fail(st, 1);
  }
  std::printf("wrote %s/%s (%zu items x %zu, m %d, ef_construction %d, %.1f MB) in %.1f s\n", dir.c_str(),
              models::kHnswIndexFile, items.size() / dim, dim, config->hnsw_m, config->hnsw_ef_construction,
              static_cast<double>(files->index.size()) / 1e6, static_cast<double>(MonotonicNanos() - t0) / 1e9);
  return 0;
}

}  // namespace shelfwatch::cli
