// shelfwatch train ranker: trains a LambdaMART re-ranker (XGBoost) over BM25 candidates on the
// TRAIN split of judged queries, with the serving feature code, and writes it as the next
// version of a model repository directory (ranking/trainer.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/catalog_argument.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/log.h"
#include "eval/relevance.h"
#include "models/model_repository.h"
#include "pipeline/catalog_registry.h"
#include "ranking/features.h"
#include "ranking/product_terms.h"
#include "ranking/trainer.h"

namespace shelfwatch::cli {
namespace {

// The lists of an `export training-data` JSONL file whose items carry ranker features; items
// without (past the ranked window, or a request whose features were not sampled) are left out.
Result<std::vector<ranking::FeedbackList>> ReadExport(const std::string& path, size_t* requests) {
  std::ifstream in(path);
  if (!in) return IoError("cannot read " + path);
  std::vector<ranking::FeedbackList> lists;
  std::string line;
  size_t line_no = 0;
  *requests = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    ++*requests;
    try {
      const nlohmann::json r = nlohmann::json::parse(line);
      ranking::FeedbackList list;
      list.request_id = r.value("request_id", "");
      for (const auto& item : r.at("items")) {
        if (!item.contains("features")) continue;
        const auto& f = item.at("features");
        if (f.size() != ranking::kNumFeatures) {
          return InvalidArgument(path + ":" + std::to_string(line_no) + ": an item has " + std::to_string(f.size()) +
                                 " features, the serving feature set has " + std::to_string(ranking::kNumFeatures));
        }
        for (const auto& v : f) list.features.push_back(v.is_null() ? std::nanf("") : v.get<float>());
        // Graded like the export's labels: an impression alone is a non-click.
        const std::string label = item.value("label", "none");
        list.gains.push_back(label == "purchase" ? 3.0f : label == "add_to_cart" ? 2.0f : label == "click" ? 1.0f : 0.0f);
      }
      if (list.gains.size() >= 2) lists.push_back(std::move(list));
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  return lists;
}

}  // namespace

int RunTrainRanker(int argc, char** argv) {
  Flags flags("train ranker",
              "Trains a LambdaMART re-ranker (XGBoost rank:ndcg / rank:pairwise) on the BM25 top N of the\n"
              "TRAIN queries (query_id % 5 != 0; TEST is never read), choosing the objective and the number\n"
              "of trees on a validation share of TRAIN, and writes DIR/<next version>/ (model.json,\n"
              "config.yaml, features.txt, training.yaml). The last line is machine-readable:\n"
              "  version=<dir> validation_ndcg@10=<x> validation_bm25_ndcg@10=<x>",
              {
                  {"catalog", "PATH|NAME=PATH[,opts]", "catalog file or catalog spec (as for eval; k1=,b= set BM25)", ""},
                  {"queries", "FILE", "queries CSV (query_id,query)", ""},
                  {"qrels", "FILE", "judgments CSV (query_id,product_id,relevance)", ""},
                  {"out", "DIR", "model directory; the model is written as its next version", ""},
                  {"candidates", "N", "BM25 candidates per query to re-rank", "100"},
                  {"trees", "N", "boosting rounds (the most; validation may choose fewer)", "300"},
                  {"depth", "N", "tree depth", "6"},
                  {"eta", "X", "learning rate", "0.1"},
                  {"objective", "NAME", "rank:ndcg, rank:pairwise, or auto (the better on validation)", "auto"},
                  {"validation", "SHARE", "share of TRAIN queries held out to choose objective and trees (0: none)", "0.2"},
                  {"threads", "N", "XGBoost training threads (0: all cores)", "0"},
                  {"models", "DIR", "model repository holding the embedding model (with --embedding): candidates\n"
                                    "and vector features come from BM25 + vector retrieval fused, as the\n"
                                    "serving pipeline generates them", ""},
                  {"embedding", "NAME", "embedding model in --models that the pipeline will serve with", ""},
                  {"cross-fit", "NAME,NAME...", "embedding models trained without fold 0, 1, ... of the TRAIN queries\n"
                                               "(train embeddings --exclude-fold i/n): each query's vector features\n"
                                               "come from the model that never saw it", ""},
                  {"cross-fit-models", "DIR", "model repository holding the --cross-fit models (default --models)", ""},
                  {"vector-candidates", "N", "vector (ANN) candidates per query with --embedding", "100"},
                  {"from-export", "FILE", "learn from feedback instead of judgments: a JSONL file of `shelfwatch\n"
                                          "export training-data` (the items' logged ranker features, graded\n"
                                          "purchase 3 > add_to_cart 2 > click 1 > none 0); --queries/--qrels unused", ""},
                  {"prior", "none|judgments", "popularity feature: none (0) or how many TRAIN queries judged the\n"
                                               "product (leave-one-out in training; shipped as priors.csv)", "none"},
              });
  if (auto code = flags.ParseCommandLine(argc, argv)) return *code;
  auto fail = [](const Status& st, int code) {
    std::fprintf(stderr, "shelfwatch train ranker: %s\n", st.message().c_str());
    return code;
  };
  const bool from_export = !flags.Get("from-export").empty();
  if (Status st = from_export ? flags.Require({"catalog", "out"}) : flags.Require({"catalog", "queries", "qrels", "out"});
      !st.ok()) {
    return fail(st, 2);
  }
  ranking::RankerTrainingOptions options;
  auto candidates = flags.GetInt("candidates", 1, 10000);
  auto trees = flags.GetInt("trees", 1, 100000);
  auto depth = flags.GetInt("depth", 1, 16);
  auto threads = flags.GetInt("threads", 0, 1024);
  auto eta = flags.GetDouble("eta");
  auto validation = flags.GetDouble("validation");
  for (const Status& st : {candidates.status(), trees.status(), depth.status(), threads.status(), eta.status(),
                           validation.status()}) {
    if (!st.ok()) return fail(st, 2);
  }
  options.candidates = static_cast<uint32_t>(*candidates);
  options.trees = static_cast<int>(*trees);
  options.depth = static_cast<int>(*depth);
  options.nthread = static_cast<int>(*threads);
  options.eta = *eta;
  options.validation_share = *validation;
  if (flags.Get("objective") != "auto") options.objectives = {flags.Get("objective")};
  if (flags.Get("prior") != "none" && flags.Get("prior") != "judgments") {
    return fail(InvalidArgument("--prior is none or judgments"), 2);
  }
  options.judgment_prior = flags.Get("prior") == "judgments";
  options.log = PrintProgressLine;

  log::SetLevel(log::Level::kWarn);
  auto snap = LoadCatalogArgument(flags.Get("catalog"), "train");
  if (!snap.ok()) return fail(snap.status(), ExitCodeFor(snap.status()));
  const retrieval::IndexOptions& index_options = (*snap)->index->options();

  if (from_export) {
    size_t requests = 0;
    auto lists = ReadExport(flags.Get("from-export"), &requests);
    if (!lists.ok()) return fail(lists.status(), ExitCodeFor(lists.status()));
    std::printf("export: %zu requests, %zu lists with ranker features\n", requests, lists->size());
    auto trained = ranking::TrainRankerOnFeedback(*lists, options);
    if (!trained.ok()) return fail(trained.status(), ExitCodeFor(trained.status()));
    // Served over the candidate lists this command is told (the ones the logged features came from).
    trained->candidates = options.candidates;
    trained->lexical_candidates = options.candidates;
    if (!flags.Get("embedding").empty()) {
      auto vector = flags.GetInt("vector-candidates", 1, 10000);
      if (!vector.ok()) return fail(vector.status(), 2);
      trained->vector_candidates = static_cast<uint32_t>(*vector);
      trained->embedding_model = flags.Get("embedding");
    }
    trained->trained_on = "feedback export " + flags.Get("from-export");
    auto dir = ranking::WriteRankerVersion(flags.Get("out"), *trained, index_options);
    if (!dir.ok()) return fail(dir.status(), 1);
    std::printf("wrote %s (%s, %d trees, depth %d, %zu lists, %zu rows, %.1f s)\n", dir->c_str(),
                trained->objective.c_str(), trained->trees, trained->depth, trained->train_queries, trained->rows,
                trained->seconds);
    std::printf("version=%s validation_ndcg@10=%.4f validation_served_order_ndcg@10=%.4f\n", dir->c_str(),
                trained->validation_ndcg, trained->validation_bm25_ndcg);
    return 0;
  }

  // TRAIN only: the reported split never shapes the model.
  auto queries = eval::LoadJudgedQueries(flags.Get("queries"), flags.Get("qrels"), eval::Split::kTrain);
  if (!queries.ok()) return fail(queries.status(), 1);
  auto terms = ranking::ProductTerms::Build(*(*snap)->catalog, index_options.analyzer);
  if (!terms.ok()) return fail(terms.status(), 1);
  ranking::CandidateDepths depths{options.candidates, 0};
  std::unique_ptr<models::ModelRepository> repo, fold_repo;
  if (!flags.Get("embedding").empty() || !flags.Get("cross-fit").empty()) {
    if (flags.Get("models").empty()) return fail(InvalidArgument("--embedding and --cross-fit need --models"), 2);
    if (flags.Get("embedding").empty()) return fail(InvalidArgument("--cross-fit needs --embedding (the served model)"), 2);
    auto vector = flags.GetInt("vector-candidates", 1, 10000);
    if (!vector.ok()) return fail(vector.status(), 2);
    models::RepositoryOptions ro;
    ro.root = flags.Get("models");
    repo = std::make_unique<models::ModelRepository>(ro);
    if (Status st = repo->Start(); !st.ok()) return fail(st, 1);
    if (!flags.Get("cross-fit-models").empty()) {
      fold_repo = std::make_unique<models::ModelRepository>(models::RepositoryOptions(flags.Get("cross-fit-models")));
      if (Status st = fold_repo->Start(); !st.ok()) return fail(st, 1);
    }
    ranking::CandidateOptions co;
    co.lexical = options.candidates;
    co.vector = static_cast<uint32_t>(*vector);
    co.fused = options.candidates;
    auto bind = [&](const std::string& model, models::ModelRepository& from) -> Result<std::shared_ptr<const ranking::CandidateGenerator>> {
      auto v = from.Get(model);
      if (!v.ok()) return Status(v.status().code(), "embedding model " + model + ": " + v.status().message());
      if (!(*v)->embedding()) return InvalidArgument("model " + model + " is not an embedding model");
      return std::make_shared<const ranking::CandidateGenerator>((*snap)->index, (*snap)->catalog, *v, co);
    };
    auto served = bind(flags.Get("embedding"), *repo);
    if (!served.ok()) return fail(served.status(), 1);
    options.generator = *served;
    std::string list = flags.Get("cross-fit");
    for (size_t pos = 0; pos < list.size();) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      if (comma > pos) {
        auto g = bind(list.substr(pos, comma - pos), fold_repo ? *fold_repo : *repo);
        if (!g.ok()) return fail(g.status(), 1);
        options.fold_generators.push_back(*g);
      }
      pos = comma + 1;
    }
    if (options.fold_generators.size() == 1) return fail(InvalidArgument("--cross-fit needs at least two fold models"), 2);
    depths = options.generator->depths();
    std::printf("candidates: BM25 top %u + vector top %u (%s), fused to %u%s\n", co.lexical, co.vector,
                flags.Get("embedding").c_str(), co.fused,
                options.fold_generators.empty() ? "" : ", vector features cross-fitted over the folds");
  }
  ranking::FeatureExtractor extractor(*terms, index_options.bm25, ranking::FieldWeights(index_options), depths);
  std::printf("catalog: %zu products, BM25 k1=%.2f b=%.2f; %zu TRAIN queries; %d features\n",
              (*snap)->catalog->size(), index_options.bm25.k1, index_options.bm25.b, queries->size(),
              static_cast<int>(ranking::kNumFeatures));

  auto trained = ranking::TrainRanker((*snap)->index, *(*snap)->catalog, extractor, *queries, options);
  if (!trained.ok()) return fail(trained.status(), ExitCodeFor(trained.status()));
  auto dir = ranking::WriteRankerVersion(flags.Get("out"), *trained, index_options);
  if (!dir.ok()) return fail(dir.status(), 1);
  std::printf("wrote %s (%s, %d trees, depth %d, %zu queries, %zu rows, %.1f s)\n", dir->c_str(),
              trained->objective.c_str(), trained->trees, trained->depth, trained->train_queries, trained->rows,
              trained->seconds);
  std::printf("version=%s validation_ndcg@10=%.4f validation_bm25_ndcg@10=%.4f\n", dir->c_str(),
              trained->validation_ndcg, trained->validation_bm25_ndcg);
  return 0;
}

}  // namespace shelfwatch::cli
