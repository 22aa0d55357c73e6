// The shelfwatch subcommands. Each takes the arguments after its name and returns the
// process exit code (0 success, 1 failure, 2 usage error).
#pragma once

namespace shelfwatch::cli {

int RunServe(int argc, char** argv);
int RunEval(int argc, char** argv);
int RunBench(int argc, char** argv);
int RunEvalRec(int argc, char** argv);
int RunTrain(int argc, char** argv);  // "train recommender ..."
int RunTrainRanker(int argc, char** argv);  // "train ranker ..." (argv after "ranker")
int RunTrainEmbeddings(int argc, char** argv);  // "train embeddings ..." (argv after "embeddings")
int RunTrainHnsw(int argc, char** argv);  // "train hnsw ..." (argv after "hnsw")
int RunExport(int argc, char** argv);
int RunCheckConfig(int argc, char** argv);
int RunSimulate(int argc, char** argv);

}  // namespace shelfwatch::cli
