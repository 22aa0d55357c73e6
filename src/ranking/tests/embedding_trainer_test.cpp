// The embedding trainer on a synthetic shop where queries name product types by synonyms that
// no title contains: lexical matching cannot find the product, a trained embedding must. The
// written version is then loaded the way the server loads it (EmbeddingModel, ModelRepository),
// and the CLI is run on CSV files.
#include "ranking/embedding_trainer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/embedding_model.h"
#include "models/model_config.h"
#include "models/model_repository.h"
#include "monitor/drift/drift_monitor.h"
#include "ranking/model_drift.h"
#include "support/test_server.h"

namespace shelfwatch::ranking {
namespace {

namespace fs = std::filesystem;

// A random lower-case word of 5..8 letters (distinct words share few character n-grams).
std::string RandomWord(std::mt19937& rng) {
  std::uniform_int_distribution<int> len(5, 8), letter(0, 25);
  std::string w(static_cast<size_t>(len(rng)), 'a');
  for (char& ch : w) ch = static_cast<char>('a' + letter(rng));
  return w;
}

// kTypes product types x kColours colours; product (t, c) is titled "<type word t> <colour c>
// deluxe"; queries say "<synonym of t> <colour c>", and no title holds a synonym. The query of
// (t, c) has id t * kColours + c + 1; `held_out` combinations get no judged query for training.
struct SynonymShop {
  static constexpr int kTypes = 16;
  static constexpr int kColours = 8;
  catalog::Catalog catalog{"synonyms"};
  std::vector<std::string> type_words, synonyms, colours;
  std::vector<eval::JudgedQuery> train;     // judged queries of the training combinations
  std::vector<eval::JudgedQuery> held_out;  // queries of unseen (type, colour) combinations

  static std::string ProductId(int t, int c) { return "p" + std::to_string(t) + "-" + std::to_string(c); }
  std::string QueryText(int t, int c) const { return synonyms[t] + " " + colours[c]; }
};

SynonymShop MakeSynonymShop() {
  SynonymShop shop;
  std::mt19937 rng(5);
  std::set<std::string> used;
  auto fresh = [&] {
    std::string w;
    do {
      w = RandomWord(rng);
    } while (!used.insert(w).second);
    return w;
  };
  for (int t = 0; t < SynonymShop::kTypes; ++t) shop.type_words.push_back(fresh());
  for (int t = 0; t < SynonymShop::kTypes; ++t) shop.synonyms.push_back(fresh());
  for (int c = 0; c < SynonymShop::kColours; ++c) shop.colours.push_back(fresh());
  for (int t = 0; t < SynonymShop::kTypes; ++t) {
    for (int c = 0; c < SynonymShop::kColours; ++c) {
      catalog::Product p;
      p.id = SynonymShop::ProductId(t, c);
      p.title = shop.type_words[t] + " " + shop.colours[c] + " deluxe";
      EXPECT_TRUE(shop.catalog.Add(std::move(p)).ok());
      eval::JudgedQuery q;
      q.id = t * SynonymShop::kColours + c + 1;
      q.text = shop.QueryText(t, c);
      q.gains[SynonymShop::ProductId(t, c)] = 2.0;
      // A partial match: same type, other colour (relevance 2 of 3).
      q.gains[SynonymShop::ProductId(t, (c + 1) % SynonymShop::kColours)] = 1.0;
      // Every type keeps most colours for training; the diagonal is never trained on.
      if (c == t % SynonymShop::kColours) {
        shop.held_out.push_back(std::move(q));
      } else {
        shop.train.push_back(std::move(q));
      }
    }
  }
  return shop;
}

EmbeddingTrainingOptions SmallOptions() {
  EmbeddingTrainingOptions o;
  o.encoder.dim = 32;
  o.encoder.buckets = 1 << 14;
  o.epochs = 40;
  o.patience = 40;
  o.batch = 32;
  o.sampled_negatives = 32;
  o.self_supervision = 0;  // the synonyms must come from the judgments
  o.validation_share = 0.2;
  o.threads = 2;
  return o;
}

// Share of queries whose own product (gain 2) the model ranks first.
double TopOneShare(const models::EmbeddingModel& model, const std::vector<eval::JudgedQuery>& queries) {
  size_t right = 0;
  for (const auto& q : queries) {
    const auto hits = model.Search(model.Encode(q.text), 1);
    if (hits.empty()) continue;
    const auto it = q.gains.find(model.item_id(hits[0].row));
    if (it != q.gains.end() && it->second == 2.0) ++right;
  }
  return static_cast<double>(right) / static_cast<double>(queries.size());
}

Result<std::unique_ptr<models::EmbeddingModel>> OpenVersion(const std::string& dir) {
  auto config = models::LoadModelConfig(dir + "/config.yaml");
  if (!config.ok()) return config.status();
  return models::EmbeddingModel::Open(*config, dir);
}

TEST(EmbeddingTrainerTest, LearnsSynonymsNoTitleContainsAndTheWrittenVersionFindsTheProduct) {
  const SynonymShop shop = MakeSynonymShop();
  auto trained = TrainEmbeddings(shop.catalog, shop.train, SmallOptions());
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  EXPECT_GT(trained->train_pairs, 0u);
  EXPECT_GE(trained->best_epoch, 1);
  ASSERT_FALSE(trained->epochs.empty());
  // The loss falls from the first epoch to the best one.
  EXPECT_LT(trained->epochs[static_cast<size_t>(trained->best_epoch - 1)].loss, trained->epochs.front().loss);

  const std::string root = testing::MakeTempDir("embedding-trainer");
  auto dir = WriteEmbeddingVersion(root + "/emb", *trained);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, root + "/emb/1");
  auto model = OpenVersion(*dir);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ((*model)->size(), shop.catalog.size());

  // Combinations never seen in training: the synonym was learned, the colour matches by its
  // shared rows. Lexical matching alone finds the colour but not the type: 1 in kTypes.
  EXPECT_GE(TopOneShare(**model, shop.held_out), 0.9);
  EXPECT_GE(TopOneShare(**model, shop.train), 0.9);

  // An untrained table (one epoch at a negligible learning rate) does not know the synonyms.
  EmbeddingTrainingOptions untrained_options = SmallOptions();
  untrained_options.epochs = 1;
  untrained_options.learning_rate = 1e-9;
  auto untrained = TrainEmbeddings(shop.catalog, shop.train, untrained_options);
  ASSERT_TRUE(untrained.ok());
  auto untrained_dir = WriteEmbeddingVersion(root + "/emb", *untrained);
  ASSERT_TRUE(untrained_dir.ok());
  EXPECT_EQ(*untrained_dir, root + "/emb/2");
  auto untrained_model = OpenVersion(*untrained_dir);
  ASSERT_TRUE(untrained_model.ok());
  EXPECT_LE(TopOneShare(**untrained_model, shop.held_out), 0.4);

  // The in-memory evaluation agrees: exact cosine retrieval on the unseen combinations.
  const eval::RelevanceSummary exact = EvaluateVectorRetrieval(*trained, shop.held_out, 2);
  EXPECT_EQ(exact.queries_with_gain, shop.held_out.size());
  EXPECT_GT(exact.ndcg_at_10, EvaluateVectorRetrieval(*untrained, shop.held_out, 1).ndcg_at_10 + 0.3);
  fs::remove_all(root);
}

TEST(EmbeddingTrainerTest, SameSeedSameModelWhateverTheThreadCount) {
  const SynonymShop shop = MakeSynonymShop();
  EmbeddingTrainingOptions one = SmallOptions();
  one.epochs = 3;
  one.batch = 128;  // several chunks of rows and columns per step, so threads share the work
  one.threads = 1;
  one.self_supervision = 0.5;
  EmbeddingTrainingOptions two = one;
  two.threads = 2;
  auto a = TrainEmbeddings(shop.catalog, shop.train, one);
  auto b = TrainEmbeddings(shop.catalog, shop.train, two);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->table.size(), b->table.size());
  EXPECT_EQ(std::memcmp(a->table.data(), b->table.data(), a->table.size() * sizeof(float)), 0);
  EXPECT_EQ(a->items, b->items);
  EXPECT_GT(a->self_pairs, 0u);
  // Another seed starts elsewhere.
  two.seed = 2;
  auto c = TrainEmbeddings(shop.catalog, shop.train, two);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(std::memcmp(a->table.data(), c->table.data(), a->table.size() * sizeof(float)), 0);
}

TEST(EmbeddingTrainerTest, TheWrittenVersionServesFromTheModelRepository) {
  const SynonymShop shop = MakeSynonymShop();
  EmbeddingTrainingOptions o = SmallOptions();
  o.epochs = 20;
  auto trained = TrainEmbeddings(shop.catalog, shop.train, o);
  ASSERT_TRUE(trained.ok());
  const std::string root = testing::MakeTempDir("embedding-repo");
  ASSERT_TRUE(WriteEmbeddingVersion(root + "/products-emb", *trained).ok());
  // training.yaml says how it was trained and what validation measured.
  std::ifstream in(root + "/products-emb/1/training.yaml");
  const std::string training((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(training.find("best_epoch: " + std::to_string(trained->best_epoch) + "\n"), std::string::npos) << training;
  EXPECT_NE(training.find("validation: {queries: "), std::string::npos) << training;

  models::RepositoryOptions repo_options;
  repo_options.root = root;
  models::ModelRepository repo(repo_options);
  ASSERT_TRUE(repo.Start().ok());
  auto version = repo.Get("products-emb");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  ASSERT_NE((*version)->embedding(), nullptr);
  EXPECT_TRUE((*version)->embedding()->index_loaded());  // the shipped graph, not rebuilt
  models::Tensor q;
  q.name = "query";
  q.dtype = models::DataType::kBytes;
  q.shape = {1, 1};
  q.bytes = {shop.QueryText(3, 5)};
  auto out = (*version)->Infer({q});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[1].bytes[0], SynonymShop::ProductId(3, 5));

  // The version carries its drift reference: the training queries through the serving encoder,
  // which a query_embedding monitor of this width loads, and whose centroid the served
  // encoder reproduces for the same queries.
  std::ifstream ref_in(root + "/products-emb/1/" + std::string(kDriftReferenceFile), std::ios::binary);
  const std::string ref((std::istreambuf_iterator<char>(ref_in)), std::istreambuf_iterator<char>());
  auto monitor = monitor::drift::DriftMonitor::Create(
      "products-emb:1", EmbeddingDriftFeatures(static_cast<uint32_t>(o.encoder.dim)), {}, nullptr);
  ASSERT_TRUE(monitor.ok());
  ASSERT_TRUE((*monitor)->LoadReference(ref).ok());
  for (const auto& q : shop.train) {
    const std::vector<float> v = (*version)->embedding()->Encode(q.text);
    (*monitor)->Record({monitor::drift::FeatureValue::Vector(v)});
  }
  const auto report = (*monitor)->Evaluate();
  EXPECT_EQ(report.reference_source, "training data");
  EXPECT_EQ(report.reference_rows, shop.train.size());
  ASSERT_EQ(report.features.size(), 1u);
  EXPECT_FALSE(report.features[0].drifted);
  const auto* cosine = report.features[0].Find(monitor::drift::DriftMethod::kCosineDistance);
  ASSERT_NE(cosine, nullptr);
  EXPECT_LT(cosine->score, 1e-6);  // the same queries, the same vectors
  fs::remove_all(root);
}

TEST(EmbeddingTrainerTest, RefusesInputsItCannotLearnFrom) {
  const SynonymShop shop = MakeSynonymShop();
  // Queries without judgments.
  std::vector<eval::JudgedQuery> unjudged = shop.train;
  for (auto& q : unjudged) q.gains.clear();
  auto r = TrainEmbeddings(shop.catalog, unjudged, SmallOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no training query"), std::string::npos) << r.status().message();
  // Judgments of products the catalog does not hold.
  std::vector<eval::JudgedQuery> elsewhere = shop.train;
  for (auto& q : elsewhere) q.gains = {{"not-in-catalog", 2.0}};
  EXPECT_EQ(TrainEmbeddings(shop.catalog, elsewhere, SmallOptions()).status().code(), ErrorCode::kInvalidArgument);
  // An empty catalog, and bad options.
  EXPECT_EQ(TrainEmbeddings(catalog::Catalog("empty"), shop.train, SmallOptions()).status().code(),
            ErrorCode::kInvalidArgument);
  EmbeddingTrainingOptions bad = SmallOptions();
  bad.encoder.dim = 0;
  EXPECT_EQ(TrainEmbeddings(shop.catalog, shop.train, bad).status().code(), ErrorCode::kInvalidArgument);
  bad = SmallOptions();
  bad.temperature = 0;
  EXPECT_EQ(TrainEmbeddings(shop.catalog, shop.train, bad).status().code(), ErrorCode::kInvalidArgument);
  bad = SmallOptions();
  bad.validation_share = 1.0;
  EXPECT_EQ(TrainEmbeddings(shop.catalog, shop.train, bad).status().code(), ErrorCode::kInvalidArgument);

  // Titles without a word leave nothing to cut pseudo-queries from: training goes on without.
  catalog::Catalog wordless("wordless");
  for (int i = 0; i < 3; ++i) {
    catalog::Product p;
    p.id = "w";
    p.id += std::to_string(i);
    p.title = "--";
    ASSERT_TRUE(wordless.Add(std::move(p)).ok());
  }
  eval::JudgedQuery q;
  q.id = 1;
  q.text = "dash";
  q.gains["w0"] = 2.0;
  EmbeddingTrainingOptions o = SmallOptions();
  o.self_supervision = 2;
  o.validation_share = 0;
  o.epochs = 1;
  auto wordless_model = TrainEmbeddings(wordless, {q}, o);
  ASSERT_TRUE(wordless_model.ok()) << wordless_model.status().ToString();
  EXPECT_EQ(wordless_model->self_pairs, 0u);
}

// Runs a shell command line; returns its exit code and stdout+stderr.
int Shell(const std::string& cmd, std::string* output) {
  return testing::RunCommand({"/bin/sh", "-c", cmd + " 2>&1"}, output);
}

std::string LastLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

TEST(TrainEmbeddingsCliTest, WritesVersionsFromCsvFilesAndReportsTest) {
  const SynonymShop shop = MakeSynonymShop();
  const std::string dir = testing::MakeTempDir("train-embeddings-cli");
  {
    std::ofstream products(dir + "/products.csv");
    products << "product_id,title\n";
    for (const auto& p : shop.catalog.products()) products << p.id << "," << p.title << "\n";
    std::ofstream queries(dir + "/queries.csv"), qrels(dir + "/qrels.csv"), empty(dir + "/empty_qrels.csv");
    queries << "query_id,query\n";
    qrels << "query_id,product_id,relevance\n";
    empty << "query_id,product_id,relevance\n";
    for (const auto* set : {&shop.train, &shop.held_out}) {
      for (const auto& q : *set) {
        queries << q.id << "," << q.text << "\n";
        for (const auto& [id, gain] : q.gains) qrels << q.id << "," << id << "," << gain + 1 << "\n";
      }
    }
  }
  const std::string bin = std::string(SHELFWATCH_BINARY) + " train embeddings";
  const std::string data = " --catalog " + dir + "/products.csv --queries " + dir + "/queries.csv";
  const std::string small = " --dim 32 --buckets 16384 --epochs 15 --batch 32 --negatives 32";
  std::string out;
  ASSERT_EQ(Shell(bin + data + " --qrels " + dir + "/qrels.csv --out " + dir + "/models/emb" + small + " --report-test",
                  &out),
            0)
      << out;
  const std::string last = LastLine(out);
  EXPECT_EQ(last.rfind("version=" + dir + "/models/emb/1 validation_ndcg@10=", 0), 0u) << out;
  EXPECT_NE(out.find("test_ndcg@10="), std::string::npos) << out;
  EXPECT_NE(out.find("vector-only"), std::string::npos) << out;
  for (const char* f : {"config.yaml", "items.f32", "items.txt", "encoder.f32", "training.yaml"}) {
    EXPECT_TRUE(fs::exists(dir + "/models/emb/1/" + f)) << f;
  }
  EXPECT_EQ(fs::file_size(dir + "/models/emb/1/encoder.f32"), 16384u * 32u * sizeof(float));
  ASSERT_TRUE(OpenVersion(dir + "/models/emb/1").ok());
  ASSERT_EQ(Shell(bin + data + " --qrels " + dir + "/qrels.csv --out " + dir + "/models/emb" + small + " --epochs 1",
                  &out),
            0)
      << out;
  EXPECT_EQ(LastLine(out).rfind("version=" + dir + "/models/emb/2 ", 0), 0u) << out;

  // Usage errors exit 2 with a message that names the problem; nothing is written.
  EXPECT_EQ(Shell(bin + data + " --qrels " + dir + "/empty_qrels.csv --out " + dir + "/models/none" + small, &out), 2);
  EXPECT_NE(out.find("no training query"), std::string::npos) << out;
  EXPECT_EQ(Shell(bin + data + " --qrels " + dir + "/qrels.csv --out " + dir + "/models/none --dimension 8", &out), 2);
  EXPECT_NE(out.find("dimension"), std::string::npos) << out;
  EXPECT_EQ(Shell(bin + data + " --qrels " + dir + "/qrels.csv", &out), 2);
  EXPECT_NE(out.find("--out is required"), std::string::npos) << out;
  EXPECT_EQ(Shell(bin + data + " --qrels " + dir + "/qrels.csv --out " + dir + "/models/none --char-ngrams 5", &out), 2);
  EXPECT_NE(out.find("--char-ngrams"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/models/none/1"));

  // train hnsw rebuilds the shipped graph of a version (the same bytes: the same seed and order)
  // and refuses a directory that is not an embedding version.
  const std::string hnsw = std::string(SHELFWATCH_BINARY) + " train hnsw --version ";
  std::ifstream shipped(dir + "/models/emb/2/items.hnsw.check");
  const std::string check((std::istreambuf_iterator<char>(shipped)), std::istreambuf_iterator<char>());
  fs::remove(dir + "/models/emb/2/items.hnsw");
  fs::remove(dir + "/models/emb/2/items.hnsw.check");
  ASSERT_EQ(Shell(hnsw + dir + "/models/emb/2", &out), 0) << out;
  std::ifstream rebuilt(dir + "/models/emb/2/items.hnsw.check");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(rebuilt)), std::istreambuf_iterator<char>()), check);
  EXPECT_EQ(Shell(hnsw + dir + "/models/none", &out), 1);
  EXPECT_NE(out.find("config.yaml"), std::string::npos) << out;
  EXPECT_EQ(Shell(hnsw, &out), 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shelfwatch::ranking
