// End-to-end tests of the command-line tools on the real data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "support/test_server.h"

namespace shelfwatch {
namespace {

using testing::DataPath;
using testing::RunCommand;

TEST(CliTest, UsageErrorsExitTwoAndHelpExitsZero) {
  std::string out;
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY}, &out), 2);
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "nope"}, &out), 2);
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "serve", "--no-such-flag"}, &out), 2);
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "serve"}, &out), 2);  // no catalog
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "serve", "--catalog", "Bad Name=x.csv"}, &out), 2);
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "serve", "--help"}, &out), 0);
  EXPECT_NE(out.find("--catalog"), std::string::npos);
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "version"}, &out), 0);
  EXPECT_EQ(out.rfind("shelfwatch ", 0), 0u);
}

TEST(CliTest, EvalPrintsMetricsAndAMachineReadableLastLine) {
  std::string out;
  int rc = RunCommand({SHELFWATCH_BINARY, "eval", "--catalog", DataPath("homedepot/products.csv"), "--queries",
                       DataPath("homedepot/queries.csv"), "--qrels", DataPath("homedepot/qrels.csv"), "--split",
                       "test"},
                      &out);
  ASSERT_EQ(rc, 0) << out;
  std::string last = out.substr(out.find_last_of('\n', out.size() - 2) + 1);
  std::smatch m;
  std::regex line(R"(ndcg@10=([0-9.]+) mrr@10=([0-9.]+) recall@100=([0-9.]+) zero_result_rate=([0-9.]+)\n)");
  ASSERT_TRUE(std::regex_match(last, m, line)) << last;
  // A regression floor well below the target (0.40, recorded in bench/RESULTS.md): BM25 on
  // titles cannot fall this low unless analysis or scoring broke.
  EXPECT_GT(std::stod(m[1]), 0.35);
  EXPECT_GT(std::stod(m[3]), 0.5);
  EXPECT_LT(std::stod(m[4]), 0.05);
  EXPECT_NE(out.find("2359 test queries"), std::string::npos) << out;
}

TEST(CliTest, EvalRejectsMissingFiles) {
  std::string out;
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "eval", "--catalog", "/nonexistent.csv", "--queries", "x", "--qrels", "y"},
                       &out),
            1);
  EXPECT_EQ(RunCommand({SHELFWATCH_BINARY, "eval", "--catalog", DataPath("homedepot/products.csv")}, &out), 2);
}

TEST(CliTest, BenchDrivesARealServerWithoutErrors) {
  testing::TestServer server({"--catalog", "homedepot=" + DataPath("homedepot/products.csv"), "--threads", "1"});
  ASSERT_TRUE(server.started()) << server.Log();
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  std::string out;
  int rc = RunCommand({SHELFWATCH_BINARY, "bench", "--url", "http://127.0.0.1:" + std::to_string(server.port()),
                       "--catalog", "homedepot", "--queries", DataPath("homedepot/queries.csv"), "--split", "test",
                       "--concurrency", "1,4", "--duration", "1s", "--warmup", "0.2s", "--json"},
                      &out);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["levels"].size(), 2u);
  for (const auto& level : j["levels"]) {
    EXPECT_GT(level["requests"].get<int>(), 50);
    EXPECT_EQ(level["errors"], 0);
    EXPECT_LE(level["p50_ms"].get<double>(), level["p99_ms"].get<double>());
    EXPECT_LE(level["p99_ms"].get<double>(), level["max_ms"].get<double>());
  }
  // Errors are reported, not hidden: an unknown catalog answers 404 to every request.
  rc = RunCommand({SHELFWATCH_BINARY, "bench", "--url", "http://127.0.0.1:" + std::to_string(server.port()),
                   "--catalog", "nope", "--queries", DataPath("homedepot/queries.csv"), "--concurrency", "2",
                   "--duration", "0.5s", "--warmup", "0s", "--json"},
                  &out);
  EXPECT_EQ(rc, 1);
  auto e = nlohmann::json::parse(out);
  EXPECT_GT(e["levels"][0]["non_2xx"].get<int>(), 0);
}

}  // namespace
}  // namespace shelfwatch
