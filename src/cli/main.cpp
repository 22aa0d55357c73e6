#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "shelfwatch — serve, deploy and monitor e-commerce search and recommendation models\n"
    "\n"
    "usage: shelfwatch <command> [flags]   (shelfwatch <command> --help for its flags)\n"
    "\n"
    "commands:\n"
    "  serve     serve catalogs over HTTP: search API, /metrics, /healthz, /readyz\n"
    "  eval      offline relevance of search on judged queries (NDCG@10, MRR@10, Recall@100)\n"
    "  bench     closed-loop HTTP load generator over real queries (throughput, latency)\n"
    "  eval-rec  offline evaluation of recommenders on a time split (Recall@20, NDCG@10, ...)\n"
    "  train     train recommender: recommendation models into a model repository\n"
    "  train ranker  a LambdaMART re-ranker for search (XGBoost) from judged queries\n"
    "  train embeddings  a two-tower query/item embedding for vector retrieval from judged queries\n"
    "  train hnsw  the HNSW graph of an embedding version, so that servers load it instead of building it\n"
    "  export    export training-data: served requests labelled by their feedback events\n"
    "  check-config  validate a serve configuration file (YAML) and its rule files\n"
    "  simulate  shoppers for a running server: real queries, clicks by relevance judgments\n"
    "  version   print the version\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "serve") return shelfwatch::cli::RunServe(argc - 2, argv + 2);
  if (cmd == "eval") return shelfwatch::cli::RunEval(argc - 2, argv + 2);
  if (cmd == "bench") return shelfwatch::cli::RunBench(argc - 2, argv + 2);
  if (cmd == "eval-rec") return shelfwatch::cli::RunEvalRec(argc - 2, argv + 2);
  if (cmd == "train" && argc >= 3 && !std::strcmp(argv[2], "embeddings")) {
    return shelfwatch::cli::RunTrainEmbeddings(argc - 3, argv + 3);
  }
  if (cmd == "train" && argc >= 3 && !std::strcmp(argv[2], "hnsw")) return shelfwatch::cli::RunTrainHnsw(argc - 3, argv + 3);
  if (cmd == "train") return shelfwatch::cli::RunTrain(argc - 2, argv + 2);
  if (cmd == "export") return shelfwatch::cli::RunExport(argc - 2, argv + 2);
  if (cmd == "check-config") return shelfwatch::cli::RunCheckConfig(argc - 2, argv + 2);
  if (cmd == "simulate") return shelfwatch::cli::RunSimulate(argc - 2, argv + 2);
  if (cmd == "version" || cmd == "--version") {
    std::printf("shelfwatch %s (%s)\n", SHELFWATCH_VERSION, SHELFWATCH_REVISION);
    return 0;
  }
  std::fprintf(stderr, "shelfwatch: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
