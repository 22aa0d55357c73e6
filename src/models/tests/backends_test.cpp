// Backends against python's own predictions on the same fixtures.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

#include "models/embedding_model.h"
#include "models/model_version.h"
#include "models_fixtures.h"

namespace shelfwatch::models {
namespace {

using namespace testing;  // NOLINT

std::shared_ptr<ModelVersion> LoadOrDie(const std::string& root, const std::string& name, int64_t v,
                                        ModelMetrics& metrics) {
  std::string reason;
  Result<std::shared_ptr<ModelVersion>> m =
      ModelVersion::Load(name, v, root + "/" + name + "/" + std::to_string(v), metrics, &reason);
  EXPECT_TRUE(m.ok()) << reason << ": " << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

TEST(XgboostBackendTest, PredictionsEqualPythonOnTheSameInputs) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  WriteXgboostVersion(root, "rank", 1);
  auto model = LoadOrDie(root, "rank", 1, metrics);
  ASSERT_TRUE(model);
  const Expected e = LoadExpected("xgb_expected.json");
  Result<std::vector<Tensor>> out = model->Infer({Matrix("features", e.x)});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name, "score");
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{16, 1}));
  for (size_t i = 0; i < e.y.size(); ++i) EXPECT_NEAR((*out)[0].fp32[i], e.y[i], 1e-5) << i;
}

TEST(XgboostBackendTest, ContributionsMatchPythonAndSumToThePrediction) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  WriteXgboostVersion(root, "rank", 1);
  auto model = LoadOrDie(root, "rank", 1, metrics);
  ASSERT_TRUE(model);
  const Expected e = LoadExpected("xgb_expected.json");
  Result<Tensor> c = model->Explain(Matrix("features", e.x));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->shape, (std::vector<int64_t>{16, 9}));
  for (size_t r = 0; r < e.x.size(); ++r) {
    float sum = 0;
    for (size_t f = 0; f < 9; ++f) {
      sum += c->fp32[r * 9 + f];
      EXPECT_NEAR(c->fp32[r * 9 + f], e.contribs[r][f], 1e-5);
    }
    EXPECT_NEAR(sum, e.y[r], 1e-4) << "row " << r;
  }
}

TEST(XgboostBackendTest, ConcurrentPredictionsAreConsistent) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  WriteXgboostVersion(root, "rank", 1);
  auto model = LoadOrDie(root, "rank", 1, metrics);
  ASSERT_TRUE(model);
  const Expected e = LoadExpected("xgb_expected.json");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const size_t row = static_cast<size_t>(t * 200 + i) % e.x.size();
        auto out = model->Infer({Matrix("features", {e.x[row]})});
        if (!out.ok() || std::abs((*out)[0].fp32[0] - e.y[row]) > 1e-5) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(TorchscriptBackendTest, OutputsEqualPython) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  WriteTorchVersion(root, "mlp", 1);
  auto model = LoadOrDie(root, "mlp", 1, metrics);
  ASSERT_TRUE(model);
  const Expected e = LoadExpected("mlp_expected.json");
  Result<std::vector<Tensor>> out = model->Infer({Matrix("x", e.x)});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].name, "y");
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{4, 1}));
  for (size_t i = 0; i < e.y.size(); ++i) EXPECT_NEAR((*out)[0].fp32[i], e.y[i], 1e-5);
  EXPECT_FALSE(model->Explain(Matrix("x", e.x)).ok());  // no contributions for an MLP
}

TEST(TorchscriptBackendTest, RefusesConfigsThatDoNotFitTheModel) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  // The MLP takes 8 features; the config claims 4.
  WriteTorchVersion(root, "mlp", 1,
                    "kind: torchscript\nmax_batch_size: 8\ninputs: [{name: x, dims: [4]}]\noutputs: [{name: y, dims: [1]}]\n");
  // Right input, but two outputs declared.
  WriteTorchVersion(root, "mlp", 2,
                    "kind: torchscript\nmax_batch_size: 8\ninputs: [{name: x, dims: [8]}]\n"
                    "outputs: [{name: y, dims: [1]}, {name: z, dims: [1]}]\n");
  // Right input, wrong output width.
  WriteTorchVersion(root, "mlp", 3,
                    "kind: torchscript\nmax_batch_size: 8\ninputs: [{name: x, dims: [8]}]\noutputs: [{name: y, dims: [3]}]\n");
  for (int v = 1; v <= 3; ++v) {
    std::string reason;
    auto m = ModelVersion::Load("mlp", v, root + "/mlp/" + std::to_string(v), metrics, &reason);
    ASSERT_FALSE(m.ok()) << v;
    EXPECT_EQ(reason, "wrong_shape") << v << ": " << m.status().ToString();
  }
}

TEST(EmbeddingBackendTest, ATitleFindsItsItemAndSearchesRunConcurrentlyWithInserts) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  const std::vector<std::string> titles = {"cordless drill 18 volt",    "exterior paint primer",
                                           "copper pipe fitting 1/2 in", "led light bulb 60w",
                                           "garden hose 50 ft",          "ceramic floor tile",
                                           "kitchen faucet pull down",   "wood deck screws"};
  WriteEmbeddingVersion(root, "emb", 1, titles);
  auto model = LoadOrDie(root, "emb", 1, metrics);
  ASSERT_TRUE(model);
  const EmbeddingModel* emb = model->embedding();
  ASSERT_NE(emb, nullptr);
  ASSERT_EQ(emb->size(), titles.size());

  Tensor q;
  q.name = "query";
  q.dtype = DataType::kBytes;
  q.shape = {2, 1};
  q.bytes = {"Garden Hose 50 ft", "led light bulb 60w"};
  Result<std::vector<Tensor>> out = model->Infer({q});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ((*out)[1].bytes[0], "item4");
  EXPECT_EQ((*out)[1].bytes[3], "item3");
  EXPECT_NEAR((*out)[0].fp32[0], 1.0f, 1e-4);  // the query equals the title: cosine 1
  EXPECT_GE((*out)[0].fp32[0], (*out)[0].fp32[1]);

  // Searches on several threads while items are added (the index takes the write lock).
  auto* writable = const_cast<EmbeddingModel*>(emb);
  std::atomic<bool> done{false};
  std::atomic<int> misses{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      const auto v = emb->Encode("ceramic floor tile");
      while (!done.load()) {
        auto hits = emb->Search(v, 1);
        if (hits.empty() || emb->item_id(hits[0].row) != "item5") ++misses;
        // glibc's rwlock prefers readers: back-to-back searches would starve the writer.
        std::this_thread::yield();
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    const auto v = emb->Encode("extra item number " + std::to_string(i));
    ASSERT_TRUE(writable->AddItem("extra" + std::to_string(i), v).ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(emb->size(), titles.size() + 200);
  EXPECT_EQ(emb->RowOf("extra7").value_or(0), titles.size() + 7);
  EXPECT_EQ(writable->AddItem("extra7", emb->Encode("x")).code(), ErrorCode::kConflict);
}

TEST(EmbeddingBackendTest, AShippedGraphIsLoadedInsteadOfBuiltAndADamagedOneIsRebuilt) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  std::vector<std::string> titles;
  for (int i = 0; i < 500; ++i) titles.push_back("product " + std::to_string(i) + " model " + std::to_string(i * 7919 % 1000));
  WriteEmbeddingVersion(root, "emb", 1, titles);
  auto built = LoadOrDie(root, "emb", 1, metrics);
  ASSERT_TRUE(built && built->embedding());
  EXPECT_FALSE(built->embedding()->index_loaded());
  // The graph as the training command ships it (the fixture's config: m 8, ef_construction 64).
  const std::string dir = root + "/emb/1";
  std::ifstream in(dir + "/items.f32", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> items(raw.size() / sizeof(float));
  std::memcpy(items.data(), raw.data(), raw.size());
  const size_t dim = static_cast<size_t>(built->embedding()->dim());
  auto files = BuildHnswIndexFiles(items, dim, 8, 64);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  WriteText(dir + "/" + kHnswIndexFile, files->index);
  WriteText(dir + "/" + kHnswCheckFile, files->check);
  auto loaded = LoadOrDie(root, "emb", 1, metrics);
  ASSERT_TRUE(loaded && loaded->embedding());
  EXPECT_TRUE(loaded->embedding()->index_loaded());
  // The same graph: the same answers, query by query.
  for (int i = 0; i < 500; i += 25) {
    const auto q = built->embedding()->Encode(titles[i]);
    const auto a = built->embedding()->Search(q, 5), b = loaded->embedding()->Search(q, 5);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].row, b[k].row) << i;
      EXPECT_EQ(a[k].score, b[k].score) << i;
    }
  }
  // A damaged file (one flipped byte) is not trusted: the graph is built again and serves.
  files->index[files->index.size() / 2] ^= 0x5a;
  WriteText(dir + "/" + kHnswIndexFile, files->index);
  auto rebuilt = LoadOrDie(root, "emb", 1, metrics);
  ASSERT_TRUE(rebuilt && rebuilt->embedding());
  EXPECT_FALSE(rebuilt->embedding()->index_loaded());
  EXPECT_EQ(rebuilt->embedding()->item_id(rebuilt->embedding()->Search(rebuilt->embedding()->Encode(titles[3]), 1)[0].row),
            "item3");
}

TEST(EmbeddingBackendTest, RefusesArtifactsOfTheWrongSize) {
  monitor::Registry registry;
  ModelMetrics metrics(registry);
  const std::string root = TempRepository();
  WriteEmbeddingVersion(root, "emb", 1, {"a b c", "d e f"});
  // One id too many for the matrix.
  WriteText(root + "/emb/1/items.txt", "item0\nitem1\nitem2\n");
  std::string reason;
  auto m = ModelVersion::Load("emb", 1, root + "/emb/1", metrics, &reason);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(reason, "wrong_shape");
  EXPECT_NE(m.status().message().find("items.f32"), std::string::npos) << m.status().message();
  std::filesystem::remove(root + "/emb/1/encoder.f32");
  WriteText(root + "/emb/1/items.txt", "item0\nitem1\n");
  m = ModelVersion::Load("emb", 1, root + "/emb/1", metrics, &reason);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(reason, "missing_file");
}

}  // namespace
}  // namespace shelfwatch::models
