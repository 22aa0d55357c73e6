// The search pipeline with real models from a model repository: an embedding version (hashed
// n-gram encoder + hnswlib) and a LambdaMART ranker trained by ranking::TrainRanker (XGBoost) on
// candidates from the same pipeline code. The synthetic task (ranking/tests/synthetic.h) is one
// BM25 gets wrong: the relevant product holds the query as a phrase in a long title, a short
// title with the words reversed wins on BM25.
#include "pipeline/search_pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "models/embedding_encoder.h"
#include "models/model_repository.h"
#include "monitor/metrics.h"
#include "ranking/tests/synthetic.h"
#include "ranking/trainer.h"
#include "server/monitoring.h"
#include "common/request_id.h"
#include "support/shared_set_up.h"
#include "support/test_server.h"

namespace shelfwatch::pipeline {
namespace {

namespace fs = std::filesystem;
using ranking::synthetic::MakeSyntheticTask;
using ranking::synthetic::SyntheticTask;

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// An embedding version whose items are the catalog's titles through the serving encoder over a
// random table: random projections of n-gram bags, so shared character n-grams (typos) bring a
// query near a title even untrained.
void WriteTitleEmbedding(const fs::path& root, const std::string& name, int version, const catalog::Catalog& catalog) {
  const fs::path dir = root / name / std::to_string(version);
  models::EncoderSpec spec;
  spec.dim = 64;
  spec.buckets = 1u << 14;
  WriteFile(dir / "config.yaml",
            "kind: embedding\nmax_batch_size: 16\nembedding:\n  dim: 64\n  buckets: 16384\n  word_ngrams: 2\n"
            "  char_ngrams: [3, 5]\n  top_k: 10\n  hnsw: {m: 16, ef_construction: 100, ef_search: 64}\n");
  std::vector<float> table(static_cast<size_t>(spec.buckets) * 64);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  for (float& v : table) v = normal(rng);
  std::string ids;
  std::vector<float> items;
  for (uint32_t d = 0; d < catalog.size(); ++d) {
    ids += catalog.product(d).id + "\n";
    const auto v = models::EncodeText(spec, table, catalog.product(d).title);
    items.insert(items.end(), v.begin(), v.end());
  }
  WriteFile(dir / "items.txt", ids);
  WriteFile(dir / "items.f32", std::string(reinterpret_cast<const char*>(items.data()), items.size() * 4));
  WriteFile(dir / "encoder.f32", std::string(reinterpret_cast<const char*>(table.data()), table.size() * 4));
}

class SearchPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_set_up_.Run(&SetUpShared)) << "the suite's shared set-up failed (in the first test run)";
  }
  static inline ::shelfwatch::testing::SharedSetUp shared_set_up_;
  // Run once per process by the first test's SetUp (support/shared_set_up.h).
  static void SetUpShared() {
    task_ = MakeSyntheticTask(60).release();
    root_ = new std::string(testing::MakeTempDir("pipeline-models"));
    WriteTitleEmbedding(*root_, "synthetic-embedding", 1, task_->catalog);
    models::RepositoryOptions ro;
    ro.root = *root_;
    ro.validate = ValidateRankingFeatures;
    repo_ = new models::ModelRepository(ro);
    ASSERT_TRUE(repo_->Start().ok());
    ASSERT_TRUE(repo_->Get("synthetic-embedding").ok());
    TrainRankerInto(*root_, *repo_, RankerOptions());
    ASSERT_TRUE(repo_->Get("synthetic-ranker").ok());
  }
  // What the suite's rankers train with (20 trees of depth 3, no validation, rank:ndcg).
  static ranking::RankerTrainingOptions RankerOptions() {
    ranking::RankerTrainingOptions options;
    options.trees = 20;
    options.depth = 3;
    options.validation_share = 0;
    options.objectives = {"rank:ndcg"};
    options.nthread = 1;
    return options;
  }
  // A ranker learnt on the candidates the pipeline gives it (BM25 + the vectors of `repo`'s
  // synthetic-embedding, fused), written as the next version of root/synthetic-ranker and
  // picked up by `repo`.
  static void TrainRankerInto(const std::string& root, models::ModelRepository& repo,
                              ranking::RankerTrainingOptions options) {
    auto embedding = repo.Get("synthetic-embedding");
    ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
    ranking::CandidateOptions co;
    co.lexical = 10;
    co.vector = 10;
    co.fused = 10;
    options.generator = std::make_shared<const ranking::CandidateGenerator>(task_->index, Catalog(), *embedding, co);
    auto terms = ranking::ProductTerms::Build(task_->catalog, task_->index->options().analyzer);
    ASSERT_TRUE(terms.ok());
    ranking::FeatureExtractor extractor(*terms, task_->index->options().bm25,
                                        ranking::FieldWeights(task_->index->options()), options.generator->depths());
    auto trained = ranking::TrainRanker(task_->index, task_->catalog, extractor, task_->queries, options);
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    EXPECT_EQ(trained->vector_candidates, 10u);
    auto dir = ranking::WriteRankerVersion(root + "/synthetic-ranker", *trained, task_->index->options());
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    ASSERT_TRUE(repo.Poll().ok());
    ASSERT_TRUE(repo.Get("synthetic-ranker").ok());
  }
  // A repository at a new temporary `root` holding a copy of the suite's embedding.
  static std::unique_ptr<models::ModelRepository> RepositoryWithEmbedding(const std::string& root) {
    fs::copy(*root_ + "/synthetic-embedding", root + "/synthetic-embedding", fs::copy_options::recursive);
    models::RepositoryOptions ro;
    ro.root = root;
    ro.validate = ValidateRankingFeatures;
    auto repo = std::make_unique<models::ModelRepository>(ro);
    EXPECT_TRUE(repo->Start().ok());
    return repo;
  }

  static void TearDownTestSuite() {
    delete repo_;
    fs::remove_all(*root_);
    delete root_;
    delete task_;
  }

  // The synthetic catalog, not owned (the task outlives every use).
  static std::shared_ptr<const catalog::Catalog> Catalog() {
    return std::shared_ptr<const catalog::Catalog>(std::shared_ptr<void>(), &task_->catalog);
  }
  static CatalogSnapshot Snapshot(bool embedding, bool ranker) {
    CatalogSnapshot s;
    s.name = "synthetic";
    s.catalog = Catalog();
    s.index = task_->index;
    s.model_versions = "bm25(k1=1.2,b=0.75)";
    if (embedding) s.embedding_model = "synthetic-embedding";
    if (ranker) s.ranker_model = "synthetic-ranker";
    return s;
  }
  static PipelineResult Search(SearchPipeline& p, const CatalogSnapshot& s, const std::string& q, uint32_t k = 10,
                               uint32_t offset = 0, bool explain = false) {
    SearchParams params;
    params.query = q;
    params.k = k;
    params.offset = offset;
    PipelineResult r;
    p.Run(s, params, explain, &r);
    return r;
  }
  static std::string IdOf(uint32_t doc) { return task_->catalog.product(doc).id; }
  // Share of queries whose first result is the relevant product.
  static double Top1(SearchPipeline& p, const CatalogSnapshot& s) {
    size_t right = 0;
    for (size_t i = 0; i < task_->queries.size(); ++i) {
      const auto r = Search(p, s, task_->queries[i].text, 3);
      if (!r.hits.empty() && IdOf(r.hits[0].doc) == "rel" + std::to_string(i)) ++right;
    }
    return static_cast<double>(right) / static_cast<double>(task_->queries.size());
  }

  static SyntheticTask* task_;
  static std::string* root_;
  static models::ModelRepository* repo_;
};
SyntheticTask* SearchPipelineTest::task_ = nullptr;
std::string* SearchPipelineTest::root_ = nullptr;
models::ModelRepository* SearchPipelineTest::repo_ = nullptr;

TEST_F(SearchPipelineTest, WithoutModelsItIsPlainBm25) {
  SearchPipeline p(repo_, nullptr);
  const auto s = Snapshot(false, false);
  const auto r = Search(p, s, task_->queries[3].text, 5);
  SearchParams params;
  params.query = task_->queries[3].text;
  params.k = 5;
  const SearchOutcome lex = RunLexicalSearch(s, params);
  EXPECT_EQ(r.stages, "bm25");
  EXPECT_EQ(r.model_versions, "bm25(k1=1.2,b=0.75)");
  ASSERT_EQ(r.hits.size(), lex.result.hits.size());
  for (size_t i = 0; i < r.hits.size(); ++i) EXPECT_EQ(r.hits[i].doc, lex.result.hits[i].doc);
  // BM25 ranks the short reversed title first: what the ranker must fix.
  EXPECT_LT(Top1(p, s), 0.1);
}

TEST_F(SearchPipelineTest, FullPipelineRanksTheRelevantProductFirstAndSaysWhichModels) {
  SearchPipeline p(repo_, nullptr);
  const auto s = Snapshot(true, true);
  const auto r = Search(p, s, task_->queries[5].text);
  EXPECT_EQ(r.stages, "bm25+vector+rrf+ranker");
  EXPECT_NE(r.model_versions.find("synthetic-embedding:1"), std::string::npos) << r.model_versions;
  EXPECT_NE(r.model_versions.find("synthetic-ranker:1"), std::string::npos) << r.model_versions;
  EXPECT_TRUE(r.fallback.empty()) << r.fallback;
  EXPECT_GE(Top1(p, s), 0.9);
  EXPECT_GT(r.timings.ann_ns, 0);
  EXPECT_GT(r.timings.rank_ns, 0);
}

TEST_F(SearchPipelineTest, VectorsFindAMisspelledQueryThatBm25CannotMatch) {
  SearchPipeline p(repo_, nullptr);
  // "heavy duty" titles: misspell both words; BM25 knows neither term.
  const std::string typo = "heavvy dutty";
  EXPECT_TRUE(Search(p, Snapshot(false, false), typo).hits.empty());
  const auto r = Search(p, Snapshot(true, false), typo);
  EXPECT_EQ(r.stages, "bm25+vector+rrf");
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(IdOf(r.hits[0].doc).rfind("rel", 0), 0u) << IdOf(r.hits[0].doc) << " is not a heavy duty product";
  EXPECT_EQ(r.hits[0].candidate.lexical_rank, ranking::kNotRetrieved);
  EXPECT_EQ(r.hits[0].candidate.vector_rank, 0u);
}

TEST_F(SearchPipelineTest, ExplainGivesFeaturesAndContributionsThatSumToTheScore) {
  SearchPipeline p(repo_, nullptr);
  const auto r = Search(p, Snapshot(true, true), task_->queries[7].text, 5, 0, true);
  ASSERT_EQ(r.features.size(), r.hits.size() * ranking::kNumFeatures);
  ASSERT_EQ(r.contributions.size(), r.hits.size() * (ranking::kNumFeatures + 1));
  for (size_t i = 0; i < r.hits.size(); ++i) {
    double sum = 0;
    for (size_t f = 0; f <= ranking::kNumFeatures; ++f) sum += r.contributions[i * (ranking::kNumFeatures + 1) + f];
    EXPECT_NEAR(sum, r.hits[i].score, 1e-3) << i;
    EXPECT_FLOAT_EQ(r.features[i * ranking::kNumFeatures + ranking::kVectorSimilarity], r.hits[i].candidate.vector_similarity);
  }
}

TEST_F(SearchPipelineTest, PagesPastTheRankedWindowContinueInBm25OrderWithoutRepeats) {
  SearchPipeline p(repo_, nullptr);
  const auto s = Snapshot(true, true);
  // "heavy duty" is in all 60 relevant titles; the ranked window holds 10.
  std::set<uint32_t> seen;
  size_t total = 0;
  for (uint32_t offset = 0; offset < 60; offset += 15) {
    const auto r = Search(p, s, "heavy duty", 15, offset);
    ASSERT_EQ(r.hits.size(), 15u) << offset;
    for (const auto& h : r.hits) seen.insert(h.doc);
    total += r.hits.size();
    EXPECT_GE(r.total_hits, 60u);
  }
  EXPECT_EQ(seen.size(), total);
}

TEST_F(SearchPipelineTest, ARankerTrainedOnOtherFeaturesIsRefusedAndTheServingVersionStays) {
  SearchPipeline p(repo_, nullptr);
  const fs::path v1 = fs::path(*root_) / "synthetic-ranker" / "1";
  const fs::path v2 = fs::path(*root_) / "synthetic-ranker" / "2";
  fs::copy(v1, v2, fs::copy_options::recursive);
  WriteFile(v2 / "features.txt", "bm25\ncoverage\n");
  ASSERT_TRUE(repo_->Poll().ok());
  bool refused = false;
  for (const auto& m : repo_->List()) {
    for (const auto& v : m.versions) {
      if (m.name == "synthetic-ranker" && v.version == 2) {
        refused = v.state == models::VersionState::kFailed && v.reason.find("another feature set") != std::string::npos;
      }
    }
  }
  EXPECT_TRUE(refused);
  const auto r = Search(p, Snapshot(true, true), task_->queries[2].text);
  EXPECT_NE(r.model_versions.find("synthetic-ranker:1"), std::string::npos) << r.model_versions;
  EXPECT_TRUE(r.fallback.empty()) << r.fallback;

  // A good version 3 takes over for the next request: hot swap, no restart.
  const fs::path v3 = fs::path(*root_) / "synthetic-ranker" / "3";
  fs::copy(v1, v3, fs::copy_options::recursive);
  ASSERT_TRUE(repo_->Poll().ok());
  const auto after = Search(p, Snapshot(true, true), task_->queries[2].text);
  EXPECT_NE(after.model_versions.find("synthetic-ranker:3"), std::string::npos) << after.model_versions;
  fs::remove_all(v2);
  fs::remove_all(v3);
  ASSERT_TRUE(repo_->Poll().ok());
}

TEST_F(SearchPipelineTest, AServedRankerWhoseFeaturesDoNotMatchFallsBackAndIsCounted) {
  // A repository without the validator serves whatever loads; the pipeline still refuses to
  // feed it the wrong columns and answers from the stages that work.
  const std::string root = testing::MakeTempDir("pipeline-unvalidated");
  fs::copy(fs::path(*root_) / "synthetic-embedding", fs::path(root) / "synthetic-embedding", fs::copy_options::recursive);
  fs::create_directories(fs::path(root) / "synthetic-ranker");
  fs::copy(fs::path(*root_) / "synthetic-ranker" / "1", fs::path(root) / "synthetic-ranker" / "1", fs::copy_options::recursive);
  WriteFile(fs::path(root) / "synthetic-ranker" / "1" / "features.txt", "bm25\ncoverage\n");
  models::RepositoryOptions ro;
  ro.root = root;
  models::ModelRepository repo(ro);
  ASSERT_TRUE(repo.Start().ok());
  monitor::Registry metrics;
  SearchPipeline p(&repo, &metrics);
  const auto r = Search(p, Snapshot(true, true), task_->queries[2].text);
  EXPECT_FALSE(r.hits.empty());
  EXPECT_EQ(r.stages, "bm25+vector+rrf");
  EXPECT_NE(r.fallback.find("another feature set"), std::string::npos) << r.fallback;
  EXPECT_NE(metrics.Expose().find("shelfwatch_search_fallbacks_total{catalog=\"synthetic\",reason=\"ranker_features\"} 1"),
            std::string::npos);
  fs::remove_all(root);
}

TEST_F(SearchPipelineTest, ARankerTrainedWithJudgmentPriorsGetsThemAsItsPopularityFeature) {
  // train ranker --prior judgments ships priors.csv; the pipeline must feed it to the
  // popularity feature, as training did, not 0.
  const std::string root = testing::MakeTempDir("pipeline-priors");
  auto repo = RepositoryWithEmbedding(root);
  ranking::RankerTrainingOptions options = RankerOptions();
  options.trees = 10;
  options.judgment_prior = true;
  TrainRankerInto(root, *repo, options);
  ASSERT_TRUE(fs::exists(root + "/synthetic-ranker/1/priors.csv"));
  SearchPipeline p(repo.get(), nullptr);
  const auto r = Search(p, Snapshot(true, true), task_->queries[2].text, 5, 0, /*explain=*/true);
  ASSERT_EQ(r.stages, "bm25+vector+rrf+ranker");
  const auto names = ranking::FeatureNames();
  const size_t popularity = static_cast<size_t>(std::find(names.begin(), names.end(), "popularity") - names.begin());
  ASSERT_LT(popularity, names.size());
  bool judged_seen = false;
  for (size_t i = 0; i < r.hits.size(); ++i) {
    const float value = r.features[i * ranking::kNumFeatures + popularity];
    if (IdOf(r.hits[i].doc) == "rel2") {
      judged_seen = true;
      EXPECT_GT(value, 0.0f);  // judged by its query: the prior counts it
    }
  }
  EXPECT_TRUE(judged_seen);
  fs::remove_all(root);
}

TEST_F(SearchPipelineTest, TheCatalogDriftReferenceFollowsAModelSwap) {
  // A catalog reference built from queries through the pipeline scores them with the ranker
  // serving then; after a swap to a ranker with other scores it must be rebuilt, or every
  // search looks drifted.
  const std::string root = testing::MakeTempDir("pipeline-follow");
  auto repo = RepositoryWithEmbedding(root);
  auto train = [&](int trees, double eta) {
    ranking::RankerTrainingOptions options = RankerOptions();
    options.trees = trees;
    options.eta = eta;
    options.objectives = {"rank:pairwise"};
    TrainRankerInto(root, *repo, options);
  };
  train(5, 0.05);  // small scores
  {
    std::ofstream queries(root + "/queries.csv");
    queries << "query_id,query\n";
    for (size_t i = 0; i < task_->queries.size(); ++i) queries << i + 1 << "," << task_->queries[i].text << "\n";
  }
  server::MonitoringOptions mo;
  mo.drift_interval_s = 0;
  mo.drift_bucket_s = 1;
  mo.drift_window_s = 3600;
  mo.drift_sample_every = 1;
  mo.drift_full_rows_per_minute = 0;
  mo.drift_reference_rows = 0;
  mo.drift_references["synthetic"] = {root + "/queries.csv", eval::Split::kAll};
  monitor::Registry registry;
  auto monitoring = server::Monitoring::Open(mo, &registry);
  ASSERT_TRUE(monitoring.ok()) << monitoring.status().ToString();
  SearchPipeline p(repo.get(), nullptr);
  const CatalogSnapshot snapshot = Snapshot(true, true);
  ASSERT_TRUE((*monitoring)->OnCatalogReady(snapshot, &p).ok());
  // Searches as the server records them.
  auto serve_all = [&] {
    for (const auto& q : task_->queries) {
      const PipelineResult r = Search(p, snapshot, q.text);
      std::vector<std::string> ids;
      std::vector<float> scores;
      for (const auto& h : r.hits) {
        ids.push_back(IdOf(h.doc));
        scores.push_back(h.score);
      }
      server::SearchObservation o;
      o.catalog = "synthetic";
      o.request_id = NewRequestId();
      o.query = q.text;
      o.terms = r.terms;
      o.item_ids = ids;
      o.scores = scores;
      o.total_hits = r.total_hits;
      (*monitoring)->RecordSearch(std::move(o));
    }
  };
  auto top_score_drifted = [&] {
    for (const auto& report : (*monitoring)->DriftReports(true)) {
      if (report.model != "synthetic/search") continue;
      const auto* f = report.Find("top_score");
      return f != nullptr && f->evaluated && f->drifted;
    }
    ADD_FAILURE() << "no synthetic/search monitor";
    return false;
  };
  serve_all();
  EXPECT_FALSE(top_score_drifted());
  EXPECT_EQ((*monitoring)->FollowModelSwaps(), 0u);  // same models: nothing to rebuild

  train(80, 0.3);  // the new version scores on another scale
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  serve_all();
  EXPECT_TRUE(top_score_drifted());  // what an unfollowed swap looks like
  EXPECT_EQ((*monitoring)->FollowModelSwaps(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the window restarts next bucket
  serve_all();
  EXPECT_FALSE(top_score_drifted());
  EXPECT_EQ((*monitoring)->FollowModelSwaps(), 0u);
  fs::remove_all(root);
}

TEST_F(SearchPipelineTest, TheServerAnswersWithModelVersionsStageTimingsAndExplanations) {
  // The real binary over HTTP: catalog CSV + the model repository of this suite.
  const std::string dir = testing::MakeTempDir("pipeline-server");
  {
    std::ofstream csv(dir + "/products.csv");
    csv << "product_id,title\n";
    for (uint32_t d = 0; d < task_->catalog.size(); ++d) csv << IdOf(d) << "," << task_->catalog.product(d).title << "\n";
  }
  testing::TestServer server({"--catalog", "synthetic=" + dir + "/products.csv", "--models", *root_, "--no-monitoring"});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  std::string q = task_->queries[4].text;
  std::replace(q.begin(), q.end(), ' ', '+');
  const auto reply = testing::Get(server.port(), "/v1/catalogs/synthetic/search?k=3&explain=true&q=" + q);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find("\"model_versions\":\"bm25(k1=1.2,b=0.75) synthetic-embedding:1 synthetic-ranker:1\""),
            std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("\"stages\":\"bm25+vector+rrf+ranker\""), std::string::npos);
  EXPECT_NE(reply.body.find("\"id\":\"rel4\""), std::string::npos);
  EXPECT_LT(reply.body.find("\"id\":\"rel4\""), reply.body.find("\"id\":\"short4\""));  // first, not BM25's winner
  EXPECT_NE(reply.body.find("\"contributions\":{\"bm25\":"), std::string::npos);
  EXPECT_NE(reply.body.find("\"phrase_match\":"), std::string::npos);
  EXPECT_EQ(testing::Get(server.port(), "/v1/catalogs/synthetic/search?q=x&explain=maybe").status, 400);
  // Without explain the answer carries no feature dump.
  const auto plain = testing::Get(server.port(), "/v1/catalogs/synthetic/search?k=3&q=" + q);
  EXPECT_EQ(plain.body.find("contributions"), std::string::npos);
  // Each stage has its latency series; the ranker's calls are counted per model version.
  const auto metrics = testing::Get(server.port(), "/metrics").body;
  for (const char* stage : {"retrieve", "encode", "ann", "fuse", "features", "rank"}) {
    EXPECT_NE(metrics.find(std::string("shelfwatch_search_stage_duration_seconds_count{catalog=\"synthetic\",stage=\"") +
                           stage + "\"}"),
              std::string::npos)
        << stage;
  }
  EXPECT_NE(metrics.find("model=\"synthetic-ranker\",version=\"1\""), std::string::npos);
  fs::remove_all(dir);
}

TEST_F(SearchPipelineTest, TheServerMonitorsEachModelVersionAgainstItsTrainingReference) {
  // train ranker's drift_reference.bin is in the version: searches are compared with it.
  ASSERT_TRUE(fs::exists(*root_ + "/synthetic-ranker/1/drift_reference.bin"));
  const std::string dir = testing::MakeTempDir("pipeline-monitoring");
  {
    std::ofstream csv(dir + "/products.csv");
    csv << "product_id,title\n";
    for (uint32_t d = 0; d < task_->catalog.size(); ++d) csv << IdOf(d) << "," << task_->catalog.product(d).title << "\n";
  }
  {
    std::ofstream queries(dir + "/queries.csv");
    queries << "query_id,query\n";
    for (size_t i = 0; i < task_->queries.size(); ++i) queries << i + 1 << "," << task_->queries[i].text << "\n";
  }
  testing::TestServer server({"--catalog", "synthetic=" + dir + "/products.csv", "--models", *root_, "--data-dir",
                              dir + "/data", "--drift-interval", "0", "--drift-reference-rows", "20",
                              "--served-features-sample-rate", "1", "--drift-reference",
                              "synthetic=" + dir + "/queries.csv,split=all"});
  ASSERT_TRUE(server.WaitReady()) << server.Log();
  // Users click the short title (BM25's favourite, which the served ranker puts below the
  // relevant product): feedback that disagrees with the model, for the ranker trained from it.
  std::string events = "[";
  for (size_t i = 0; i < task_->queries.size(); ++i) {
    std::string q = task_->queries[i].text;
    std::replace(q.begin(), q.end(), ' ', '+');
    const auto reply = testing::Get(server.port(), "/v1/catalogs/synthetic/search?q=" + q);  // k 10, as the reference
    ASSERT_EQ(reply.status, 200);
    const size_t at = reply.body.find("\"request_id\":\"");
    ASSERT_NE(at, std::string::npos);
    const std::string id = reply.body.substr(at + 14, reply.body.find('"', at + 14) - at - 14);
    const std::string n = std::to_string(i);
    events += std::string(i ? "," : "") + "{\"type\":\"click\",\"user_id\":\"u" + n + "\",\"request_id\":\"" + id +
              "\",\"item_id\":\"short" + n + "\"}";
  }
  events += "]";
  testing::HttpClient client(server.port());
  const auto posted = client.Request("POST", "/v1/events", events, {"Content-Type: application/json"});
  ASSERT_EQ(posted.status, 200) << posted.body.substr(0, 500);
  const auto ranker = testing::Get(server.port(), "/v1/monitor/drift?evaluate=true&model=synthetic-ranker:1");
  ASSERT_EQ(ranker.status, 200);
  EXPECT_NE(ranker.body.find("\"source\":\"training data\""), std::string::npos) << ranker.body.substr(0, 400);
  for (std::string_view feature : ranking::FeatureNames()) {
    EXPECT_NE(ranker.body.find("\"name\":\"" + std::string(feature) + "\""), std::string::npos) << feature;
  }
  EXPECT_NE(ranker.body.find("\"name\":\"score\""), std::string::npos);
  // The hand-made embedding ships no reference: it freezes one from its first 20 queries.
  const auto embedding = testing::Get(server.port(), "/v1/monitor/drift?evaluate=true&model=synthetic-embedding:1");
  EXPECT_NE(embedding.body.find("\"name\":\"query_embedding\""), std::string::npos) << embedding.body.substr(0, 400);
  EXPECT_NE(embedding.body.find("\"source\":\"first_rows\""), std::string::npos);
  const auto metrics = testing::Get(server.port(), "/metrics").body;
  EXPECT_NE(metrics.find("shelfwatch_drift_status{model=\"synthetic-ranker:1\",feature=\"score\"}"), std::string::npos);
  // The catalog's reference queries ran through the serving pipeline (ranker scores, not
  // BM25's): the same queries searched again show no drift in scores or result counts.
  const auto catalog = testing::Get(server.port(), "/v1/monitor/drift?evaluate=true&model=synthetic/search");
  ASSERT_EQ(catalog.status, 200);
  EXPECT_NE(catalog.body.find("\"drifted_features\":0"), std::string::npos) << catalog.body;
  const std::string series =
      "shelfwatch_data_quality_violations_total{model=\"synthetic/search\",feature=\"top_score\",kind=\"out_of_range\"} ";
  const size_t at = metrics.find(series);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(std::stod(metrics.substr(at + series.size(), 20)), 0.0);
  ASSERT_EQ(server.Stop(SIGTERM), 0);
  // The served log kept each returned item's ranker features: export training-data has them.
  const std::string out = dir + "/export.jsonl";
  std::string ignored;
  ASSERT_EQ(testing::RunCommand({SHELFWATCH_BINARY, "export", "training-data", "--data-dir", dir + "/data", "--out", out},
                                &ignored),
            0);
  std::ifstream in(out);
  std::string first;
  ASSERT_TRUE(std::getline(in, first));
  EXPECT_NE(first.find("\"features\":[" ), std::string::npos) << first.substr(0, 300);
  EXPECT_NE(first.find("\"label\":\"click\""), std::string::npos) << first.substr(0, 300);

  // train ranker --from-export learns from those clicks: served over the same candidate lists,
  // the new version puts the clicked product first.
  const std::string feedback_root = dir + "/feedback-models";
  fs::create_directories(feedback_root);
  fs::copy(*root_ + "/synthetic-embedding", feedback_root + "/synthetic-embedding", fs::copy_options::recursive);
  std::string printed;
  ASSERT_EQ(testing::RunCommand({SHELFWATCH_BINARY, "train", "ranker", "--from-export", out, "--catalog",
                                 "synthetic=" + dir + "/products.csv", "--out", feedback_root + "/synthetic-ranker",
                                 "--embedding", "synthetic-embedding", "--candidates", "10", "--vector-candidates", "10",
                                 "--trees", "30", "--depth", "3", "--threads", "1", "--validation", "0"},
                                &printed),
            0)
      << printed;
  EXPECT_NE(printed.find("lists with ranker features"), std::string::npos) << printed;
  std::ifstream training(feedback_root + "/synthetic-ranker/1/training.yaml");
  std::stringstream yaml;
  yaml << training.rdbuf();
  EXPECT_NE(yaml.str().find("trained_on: \"feedback export"), std::string::npos) << yaml.str();
  models::RepositoryOptions ro;
  ro.root = feedback_root;
  ro.validate = ValidateRankingFeatures;
  models::ModelRepository feedback_repo(ro);
  ASSERT_TRUE(feedback_repo.Start().ok());
  ASSERT_TRUE(feedback_repo.Get("synthetic-ranker").ok());
  SearchPipeline learned(&feedback_repo, nullptr);
  size_t clicked_first = 0;
  for (size_t i = 0; i < task_->queries.size(); ++i) {
    const auto r = Search(learned, Snapshot(true, true), task_->queries[i].text, 3);
    EXPECT_EQ(r.stages, "bm25+vector+rrf+ranker");
    if (!r.hits.empty() && IdOf(r.hits[0].doc) == "short" + std::to_string(i)) ++clicked_first;
  }
  EXPECT_GE(static_cast<double>(clicked_first) / static_cast<double>(task_->queries.size()), 0.9) << clicked_first;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::pipeline
