// Drift of the search pipeline's models through Monitoring: a ranker version's input features
// and scores, and an embedding version's query vectors, compared with the reference that the
// training commands write into the version (ranking/model_drift.h); the served log's feature
// vectors; and Monitoring::Open's failure paths.
#include "server/monitoring.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "feedback/training_export.h"
#include "ranking/features.h"
#include "ranking/model_drift.h"
#include "support/test_server.h"

namespace shelfwatch::server {
namespace {

namespace fs = std::filesystem;
constexpr size_t kWidth = ranking::kNumFeatures;

// Candidate rows whose feature f is drawn from N(f, 1 + f / 10) and whose score is N(0, 1):
// `scale` multiplies feature `scaled` (-1: none).
void DrawRows(std::mt19937_64& rng, size_t rows, int scaled, float scale, std::vector<float>* features,
              std::vector<float>* scores) {
  std::normal_distribution<float> normal(0, 1);
  features->resize(rows * kWidth);
  scores->resize(rows);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t f = 0; f < kWidth; ++f) {
      float v = static_cast<float>(f) + (1.0f + static_cast<float>(f) / 10.0f) * normal(rng);
      if (static_cast<int>(f) == scaled) v *= scale;
      (*features)[r * kWidth + f] = v;
    }
    (*scores)[r] = normal(rng);
  }
}

// prefix + n (a helper: GCC 12 warns falsely about `"literal" + std::to_string(n)`).
std::string Id(std::string_view prefix, int64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

MonitoringOptions InProcessOptions() {
  MonitoringOptions o;
  o.drift_interval_s = 0;           // evaluated by the test
  o.drift_sample_every = 1;         // every search
  o.drift_full_rows_per_minute = 0;
  o.ranker_drift_rows = 100;        // every scored candidate
  o.drift_reference_rows = 0;       // the version's reference only
  o.served_features_sample_rate = 0;
  return o;
}

// Sends `searches` searches of 100 scored candidates each, drawn as DrawRows does.
void Serve(Monitoring& m, const std::string& model, int64_t version, const std::string& dir, std::mt19937_64& rng,
           int searches, int scaled, float scale) {
  std::vector<float> features, scores;
  for (int s = 0; s < searches; ++s) {
    DrawRows(rng, 100, scaled, scale, &features, &scores);
    SearchObservation o;
    o.catalog = "shop";
    o.request_id = Id("r", s);
    o.query = "drill";
    o.ranker = {model, version, dir};
    o.ranked_features = features;
    o.ranked_scores = scores;
    m.RecordSearch(std::move(o));
  }
}

const monitor::drift::DriftReport* ReportOf(const std::vector<monitor::drift::DriftReport>& reports,
                                            const std::string& model) {
  for (const auto& r : reports) {
    if (r.model == model) return &r;
  }
  return nullptr;
}

class ModelDriftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("model-drift");
    // The version's reference as train ranker writes it: rows and scores from "training".
    std::mt19937_64 rng(1);
    std::vector<float> features, scores;
    DrawRows(rng, 20000, -1, 1, &features, &scores);
    reference_ = ranking::RankerDriftReference(features, scores);
    ASSERT_FALSE(reference_.empty());
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string VersionDir(const std::string& model, int64_t version) {
    const std::string dir = root_ + "/" + model + "/" + Id("", version);
    WriteFile(dir + "/" + std::string(ranking::kDriftReferenceFile), reference_);
    return dir;
  }
  std::string root_;
  std::string reference_;
};

TEST_F(ModelDriftTest, AScaledRankerFeatureIsFlaggedAndNoOtherInputIs) {
  monitor::Registry registry;
  auto m = Monitoring::Open(InProcessOptions(), &registry);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const size_t scaled = 7;  // any input; its name comes from the serving feature list
  std::mt19937_64 rng(2);
  Serve(**m, "shop-ranker", 3, VersionDir("shop-ranker", 3), rng, 60, static_cast<int>(scaled), 3.0f);
  const auto reports = (*m)->DriftReports(true);
  const auto* r = ReportOf(reports, "shop-ranker:3");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reference_source, "training data");
  EXPECT_EQ(r->features.size(), kWidth + 1);  // every input and the score
  EXPECT_EQ(r->current_rows, 6000u);
  std::vector<std::string> drifted;
  for (const auto& f : r->features) {
    EXPECT_TRUE(f.evaluated) << f.feature << ": " << f.note;
    if (f.drifted) drifted.push_back(f.feature);
  }
  EXPECT_EQ(drifted, std::vector<std::string>{std::string(ranking::FeatureNames()[scaled])});
  // The gauges name the version and the feature.
  const std::string text = registry.Expose();
  EXPECT_NE(text.find("shelfwatch_drift_detected{model=\"shop-ranker:3\",feature=\"" +
                      std::string(ranking::FeatureNames()[scaled]) + "\"} 1"),
            std::string::npos);
}

TEST_F(ModelDriftTest, ShiftedScoresAreFlaggedAndUnshiftedWindowsRaiseFewFalseAlarms) {
  monitor::Registry registry;
  auto m = Monitoring::Open(InProcessOptions(), &registry);
  ASSERT_TRUE(m.ok());
  std::mt19937_64 rng(3);
  // Repeated unshifted windows: ten versions (each its own monitor) with fresh draws.
  size_t evaluated = 0, false_alarms = 0;
  for (int v = 1; v <= 10; ++v) {
    const std::string name = Id("steady-ranker-", v);
    Serve(**m, name, 1, VersionDir(name, 1), rng, 30, -1, 1);
  }
  // A version whose scores all moved up by 1.5 standard deviations, inputs unchanged.
  std::vector<float> features, scores;
  const std::string dir = VersionDir("offset-ranker", 1);
  for (int s = 0; s < 60; ++s) {
    DrawRows(rng, 100, -1, 1, &features, &scores);
    for (float& x : scores) x += 1.5f;
    SearchObservation o;
    o.catalog = "shop";
    o.request_id = Id("o", s);
    o.ranker = {"offset-ranker", 1, dir};
    o.ranked_features = features;
    o.ranked_scores = scores;
    (*m)->RecordSearch(std::move(o));
  }
  const auto reports = (*m)->DriftReports(true);
  for (int v = 1; v <= 10; ++v) {
    const auto* r = ReportOf(reports, Id("steady-ranker-", v) + ":1");
    ASSERT_NE(r, nullptr);
    for (const auto& f : r->features) {
      evaluated += f.evaluated;
      false_alarms += f.drifted;
    }
  }
  ASSERT_EQ(evaluated, 10 * (kWidth + 1));
  std::printf("false alarms over 10 unshifted windows: %zu of %zu features\n", false_alarms, evaluated);
  // 3,000 rows a window against 20,000 reference rows: the normed Wasserstein distance of the
  // same distribution stays far below 0.1.
  EXPECT_LE(static_cast<double>(false_alarms) / static_cast<double>(evaluated), 0.01) << false_alarms;
  const auto* offset = ReportOf(reports, "offset-ranker:1");
  ASSERT_NE(offset, nullptr);
  ASSERT_NE(offset->Find("score"), nullptr);
  EXPECT_TRUE(offset->Find("score")->drifted);
  EXPECT_EQ(offset->drifted_features, 1u);
}

TEST_F(ModelDriftTest, QueryEmbeddingDriftIsJudgedByDriftedDimensionsAndCentroidDistance) {
  constexpr uint32_t kDim = 16;
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0, 1);
  auto draw = [&](float shift) {
    std::vector<float> v(kDim);
    double norm = 0;
    for (uint32_t d = 0; d < kDim; ++d) {
      // Embeddings are anisotropic: the centroid is far from 0, so its direction means something.
      v[d] = 1.0f + normal(rng) + (d < kDim / 2 ? shift : 0.0f);
      norm += v[d] * v[d];
    }
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
    return v;
  };
  std::vector<float> reference;
  for (int i = 0; i < 5000; ++i) {
    auto v = draw(0);
    reference.insert(reference.end(), v.begin(), v.end());
  }
  for (const char* name : {"steady-embedding", "shifted-embedding"}) {
    WriteFile(root_ + "/" + name + "/1/" + std::string(ranking::kDriftReferenceFile),
              ranking::EmbeddingDriftReference(reference, kDim));
  }
  monitor::Registry registry;
  auto m = Monitoring::Open(InProcessOptions(), &registry);
  ASSERT_TRUE(m.ok());
  auto serve = [&](const std::string& name, float shift) {
    const std::string dir = root_ + "/" + name + "/1";
    for (int i = 0; i < 2000; ++i) {
      auto v = draw(shift);
      SearchObservation o;
      o.catalog = "shop";
      o.request_id = Id(name, i);
      o.embedding = {name, 1, dir};
      o.query_embedding = v;
      (*m)->RecordSearch(std::move(o));
    }
  };
  serve("steady-embedding", 0);
  serve("shifted-embedding", 1.0f);  // queries moved towards half of the dimensions
  const auto reports = (*m)->DriftReports(true);
  const auto* steady = ReportOf(reports, "steady-embedding:1");
  const auto* shifted = ReportOf(reports, "shifted-embedding:1");
  ASSERT_NE(steady, nullptr);
  ASSERT_NE(shifted, nullptr);
  const auto* sf = shifted->Find("query_embedding");
  const auto* st = steady->Find("query_embedding");
  ASSERT_NE(sf, nullptr);
  ASSERT_NE(st, nullptr);
  EXPECT_TRUE(sf->drifted);
  EXPECT_FALSE(st->drifted);
  const auto* share = sf->Find(monitor::drift::DriftMethod::kShareDriftedDims);
  ASSERT_NE(share, nullptr);
  EXPECT_GE(share->score, 0.4);  // the shifted half of the dimensions
  EXPECT_LT(st->Find(monitor::drift::DriftMethod::kShareDriftedDims)->score, 0.2);
  for (auto method : {monitor::drift::DriftMethod::kCosineDistance, monitor::drift::DriftMethod::kEuclideanDistance}) {
    ASSERT_NE(sf->Find(method), nullptr);
    EXPECT_GT(sf->Find(method)->score, st->Find(method)->score * 5) << monitor::drift::DriftMethodName(method);
  }
}

TEST_F(ModelDriftTest, OnlyTheTwoNewestVersionsOfAModelKeepAMonitor) {
  monitor::Registry registry;
  auto m = Monitoring::Open(InProcessOptions(), &registry);
  ASSERT_TRUE(m.ok());
  std::mt19937_64 rng(5);
  for (int64_t v = 1; v <= 3; ++v) Serve(**m, "shop-ranker", v, VersionDir("shop-ranker", v), rng, 2, -1, 1);
  const auto reports = (*m)->DriftReports(true);
  EXPECT_EQ(ReportOf(reports, "shop-ranker:1"), nullptr);
  EXPECT_NE(ReportOf(reports, "shop-ranker:2"), nullptr);
  EXPECT_NE(ReportOf(reports, "shop-ranker:3"), nullptr);
  // The retired version's series are gone from the scrape.
  EXPECT_EQ(registry.Expose().find("model=\"shop-ranker:1\""), std::string::npos);
  // A rollback to it: a fresh monitor whose series come back (the retired one removes nothing
  // of the new one's when it goes).
  Serve(**m, "shop-ranker", 1, VersionDir("shop-ranker", 1), rng, 2, -1, 1);
  const auto after = (*m)->DriftReports(true);
  EXPECT_NE(ReportOf(after, "shop-ranker:1"), nullptr);
  EXPECT_EQ(ReportOf(after, "shop-ranker:2"), nullptr);
  (*m)->DriftReports(true);  // drops the retired monitors
  EXPECT_NE(registry.Expose().find("shelfwatch_drift_status{model=\"shop-ranker:1\""), std::string::npos);
}

TEST_F(ModelDriftTest, TheServedLogKeepsTheRankerFeaturesOfTheReturnedItems) {
  MonitoringOptions options = InProcessOptions();
  options.data_dir = root_ + "/data";
  options.served_features_sample_rate = 1;
  monitor::Registry registry;
  auto m = Monitoring::Open(options, &registry);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::mt19937_64 rng(6);
  std::vector<float> features, scores;
  DrawRows(rng, 5, -1, 1, &features, &scores);
  // The page: scored rows 2 and 0, then a BM25 tail item the ranker never saw.
  const std::vector<uint32_t> page_rows = {2, 0, UINT32_MAX};
  SearchObservation o;
  o.catalog = "shop";
  o.request_id = "req-features";
  o.query = "drill";
  const std::vector<std::string> item_ids = {"p2", "p0", "tail"};
  const std::vector<float> page_scores = {scores[2], scores[0], 0.5f};
  o.item_ids = item_ids;
  o.scores = page_scores;
  o.ranker = {"shop-ranker", 1, ""};
  o.ranked_features = features;
  o.ranked_scores = scores;
  o.page_rows = page_rows;
  (*m)->RecordSearch(std::move(o));
  (*m)->Stop();
  std::vector<feedback::LabeledItem> items;
  ASSERT_TRUE(feedback::ForEachLabeledRequest(options.data_dir + "/served", options.data_dir + "/events.db", {},
                                              [&](const feedback::LabeledRequest& r) {
                                                if (r.request_id == "req-features") items = r.items;
                                                return true;
                                              })
                  .ok());
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].features, std::vector<float>(features.begin() + 2 * kWidth, features.begin() + 3 * kWidth));
  EXPECT_EQ(items[1].features, std::vector<float>(features.begin(), features.begin() + kWidth));
  EXPECT_TRUE(items[2].features.empty());
}

TEST_F(ModelDriftTest, OpenFailsCleanlyWhenTheDataDirCannotBeUsed) {
  monitor::Registry registry;
  // A data dir that is a file.
  WriteFile(root_ + "/not-a-dir", "x");
  MonitoringOptions options = InProcessOptions();
  options.data_dir = root_ + "/not-a-dir";
  auto file = Monitoring::Open(options, &registry);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), ErrorCode::kIoError) << file.status().ToString();
  // An event store that cannot be opened after the served log was: Open unwinds what it made.
  fs::create_directories(root_ + "/half/events.db");
  options.data_dir = root_ + "/half";
  monitor::Registry second;
  auto half = Monitoring::Open(options, &second);
  ASSERT_FALSE(half.ok());
  // Options that cannot work are refused before anything is opened.
  options.data_dir = "";
  options.served_features_sample_rate = 2;
  EXPECT_EQ(Monitoring::Open(options, &registry).status().code(), ErrorCode::kInvalidArgument);
  options.served_features_sample_rate = 0;
  options.ranker_drift_rows = 5000;
  EXPECT_EQ(Monitoring::Open(options, &registry).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace shelfwatch::server
