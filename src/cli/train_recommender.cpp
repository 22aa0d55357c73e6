// shelfwatch train recommender: trains recommendation models from an interaction log and
// writes each as the next version of its slot in a model repository (DIR/<model>/<version>/).
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "recommend/trainer.h"

namespace shelfwatch::cli {

int RunTrain(int argc, char** argv) {
  if (argc >= 1 && std::strcmp(argv[0], "ranker") == 0) return RunTrainRanker(argc - 1, argv + 1);
  if (argc < 1 || std::strcmp(argv[0], "recommender") != 0) {
    std::fprintf(stderr, "usage: shelfwatch train recommender --events FILE --out DIR [--model all|covisit|sknn|ease|blend|rerank|popularity]\n");
    std::fprintf(stderr, "       shelfwatch train ranker --catalog PRODUCTS --queries Q --qrels R --out DIR\n");
    return 2;
  }
  Flags flags("train recommender",
              "Trains recommendation models from a user_id,item_id,category_id,behavior_type,timestamp CSV and\n"
              "writes each as the next version DIR/<model>/<version>/ (model.bin + config.json).",
              {{"events", "FILE", "interaction log (required)"},
               {"out", "DIR", "model repository (required; created if missing)"},
               {"model", "NAME", "all|popularity|covisit|sknn|ease|blend|rerank (blend and rerank also write the components)", "all"},
               {"no-tune", "", "keep the default blend weights instead of tuning them on the last day of the events"},
               {"no-rerank", "", "do not train the learned reranker (LambdaMART over the blend's candidates)"}});
  if (auto code = flags.ParseCommandLine(argc - 1, argv + 1)) return *code;
  if (!flags.Has("events") || !flags.Has("out")) {
    std::fprintf(stderr, "train recommender: --events and --out are required\n\n%s", flags.Help().c_str());
    return 2;
  }
  int64_t t0 = MonotonicNanos();
  recommend::LoadStats stats;
  auto log = recommend::LoadInteractions(flags.Get("events"), &stats);
  if (!log.ok()) {
    std::fprintf(stderr, "train recommender: %s\n", log.status().ToString().c_str());
    return 1;
  }
  if (stats.rejected > 0) {
    std::fprintf(stderr, "train recommender: skipped %llu malformed rows (first: %s)\n",
                 static_cast<unsigned long long>(stats.rejected), stats.first_error.c_str());
  }
  recommend::TrainOptions options;
  options.tune_blend = !flags.GetBool("no-tune");
  options.train_reranker = !flags.GetBool("no-rerank");
  auto models = recommend::TrainModels(*log, options, flags.Get("model"));
  if (!models.ok()) {
    std::fprintf(stderr, "train recommender: %s\n", models.status().ToString().c_str());
    return ExitCodeFor(models.status());
  }
  auto saved = recommend::SaveModels(*models, flags.Get("out"), flags.Get("events"));
  if (!saved.ok()) {
    std::fprintf(stderr, "train recommender: %s\n", saved.status().ToString().c_str());
    return 1;
  }
  for (const auto& v : *saved) std::printf("%s %s\n", v.model.c_str(), v.dir.c_str());
  const recommend::RerankValidation& rv = models->reranker_validation;
  if (rv.users > 0) {
    std::fprintf(stderr,
                 "train recommender: reranker on the last day, trained without it: recall@20=%.4f ndcg@10=%.4f "
                 "(recency %.4f/%.4f, blend %.4f, %zu users)\n",
                 rv.recall, rv.ndcg10, rv.recency_recall, rv.recency_ndcg10, models->blend_validation.recall, rv.users);
  }
  if (!models->reranker_note.empty()) std::fprintf(stderr, "train recommender: %s\n", models->reranker_note.c_str());
  std::fprintf(stderr, "train recommender: %zu events, %zu users, %zu items, %.1f s\n", log->events.size(),
               log->users.size(), log->items.size(), static_cast<double>(MonotonicNanos() - t0) / 1e9);
  return 0;
}

}  // namespace shelfwatch::cli
