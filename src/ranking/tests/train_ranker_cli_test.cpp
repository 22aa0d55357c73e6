// End to end through the real binary: `shelfwatch train ranker` writes a model version from
// TRAIN queries, `shelfwatch eval --ranker` reports BM25 and BM25+LTR on TEST in one run.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "ranking/tests/synthetic.h"
#include "support/test_server.h"

namespace shelfwatch::ranking {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; returns its exit code and stdout+stderr.
int RunCommand(const std::string& cmd, std::string* output) {
  output->clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') + 1);
}

double Metric(const std::string& line, const std::string& key) {
  const size_t at = line.find(key + "=");
  return at == std::string::npos ? -1.0 : std::stod(line.substr(at + key.size() + 1));
}

TEST(TrainRankerCliTest, TrainsOnTrainAndEvalReportsBothRows) {
  // 100 queries: ids 1..100, so ids divisible by 5 (20 queries) are TEST.
  auto task = synthetic::MakeSyntheticTask(100);
  const std::string dir = shelfwatch::testing::MakeTempDir("train-ranker-cli");
  {
    std::ofstream products(dir + "/products.csv");
    products << "product_id,title\n";
    for (const auto& p : task->catalog.products()) products << p.id << "," << p.title << "\n";
    std::ofstream queries(dir + "/queries.csv"), qrels(dir + "/qrels.csv");
    queries << "query_id,query\n";
    qrels << "query_id,product_id,relevance\n";
    for (const auto& q : task->queries) {
      queries << q.id << "," << q.text << "\n";
      for (const auto& [id, gain] : q.gains) qrels << q.id << "," << id << "," << gain + 1 << "\n";
    }
  }
  const std::string bin = SHELFWATCH_BINARY;
  const std::string data = " --queries " + dir + "/queries.csv --qrels " + dir + "/qrels.csv";
  std::string out;
  ASSERT_EQ(RunCommand(bin + " train ranker --catalog " + dir + "/products.csv" + data + " --out " + dir +
                    "/models/rank --candidates 10 --trees 20 --depth 3 --eta 0.3 --validation 0.25 --threads 1",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("validation:"), std::string::npos) << out;
  EXPECT_EQ(LastLine(out).rfind("version=" + dir + "/models/rank/1 ", 0), 0u) << out;
  for (const char* f : {"model.json", "config.yaml", "features.txt", "training.yaml"}) {
    EXPECT_TRUE(fs::exists(dir + "/models/rank/1/" + f)) << f;
  }

  ASSERT_EQ(RunCommand(bin + " eval --catalog cat=" + dir + "/products.csv" + data + " --ranker " + dir + "/models/rank", &out), 0)
      << out;
  EXPECT_NE(out.find("ablation"), std::string::npos) << out;
  const std::string last = LastLine(out);
  // The synthetic task is built so that BM25 ranks the relevant product below a decoy.
  EXPECT_DOUBLE_EQ(Metric(last, "ndcg@10"), 1.0) << out;
  const size_t bm25_row = out.find("BM25       NDCG@10 ");
  ASSERT_NE(bm25_row, std::string::npos) << out;
  EXPECT_LT(std::stod(out.substr(bm25_row + 19)), 0.9) << out;

  // Wrong usage is a usage error, with the reason.
  EXPECT_EQ(RunCommand(bin + " train ranker --catalog " + dir + "/products.csv" + data, &out), 2);
  EXPECT_NE(out.find("--out"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(bin + " eval --catalog cat=" + dir + "/products.csv" + data + " --ranker " + dir + "/none", &out), 1);
  EXPECT_NE(out.find("no model.json"), std::string::npos) << out;

  // --from-export refuses what it cannot learn from, saying where, and writes no version.
  const std::string from = bin + " train ranker --catalog " + dir + "/products.csv --out " + dir + "/models/fb --from-export ";
  {
    std::ofstream(dir + "/broken.jsonl") << "{\"request_id\":\"r1\",\"items\":[]}\n{not json\n";
    std::ofstream(dir + "/narrow.jsonl") << "{\"request_id\":\"r1\",\"items\":[{\"id\":\"a\",\"features\":[1,2],"
                                            "\"label\":\"click\"},{\"id\":\"b\",\"features\":[3,4]}]}\n";
    std::ofstream(dir + "/unclicked.jsonl") << "{\"request_id\":\"r1\",\"items\":[{\"id\":\"a\"}]}\n";
  }
  EXPECT_EQ(RunCommand(from + dir + "/broken.jsonl", &out), 2);
  EXPECT_NE(out.find("broken.jsonl:2"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(from + dir + "/narrow.jsonl", &out), 2);
  EXPECT_NE(out.find("has 2 features"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(from + dir + "/unclicked.jsonl", &out), 2);
  EXPECT_NE(out.find("no list to learn from"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(from + dir + "/missing.jsonl", &out), 1);
  EXPECT_FALSE(fs::exists(dir + "/models/fb"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::ranking
