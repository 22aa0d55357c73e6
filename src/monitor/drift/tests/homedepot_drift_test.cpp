// Drift on real data: Home Depot search queries (../shared/data/homedepot/queries.csv).
// Reference = TRAIN queries (query_id % 5 != 0): length in words and first word. TEST queries
// come from the same distribution (no drift expected); queries containing "paint" are a
// shifted population (drift expected).
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <set>
#include <string>

#include "catalog/csv_reader.h"
#include "monitor/drift/drift_monitor.h"

namespace shelfwatch::monitor::drift {
namespace {

constexpr double kT0 = 1699999980;

struct Query {
  int64_t id = 0;
  std::string text;
  double words = 0;
  std::string first_word;  // lowercased
};

std::vector<Query> LoadQueries() {
  const std::string path = std::string(SHELFWATCH_DATA_DIR) + "/homedepot/queries.csv";
  auto reader = catalog::CsvReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return {};
  std::vector<Query> out;
  std::vector<std::string> row;
  (*reader)->Next(&row);  // header: query_id,query
  EXPECT_EQ(row, (std::vector<std::string>{"query_id", "query"}));
  while ((*reader)->Next(&row)) {
    if (row.size() != 2) continue;
    Query q;
    q.id = std::stoll(row[0]);
    q.text = row[1];
    bool in_word = false;
    for (char c : q.text) {
      const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
      if (!space && !in_word) ++q.words;
      if (!space && q.words == 1) q.first_word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      in_word = !space;
    }
    out.push_back(std::move(q));
  }
  EXPECT_TRUE((*reader)->error().empty()) << (*reader)->error();
  return out;
}

class HomeDepotDriftTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { queries_ = new std::vector<Query>(LoadQueries()); }
  static void TearDownTestSuite() { delete queries_; }

  std::unique_ptr<DriftMonitor> TrainReferenceMonitor() {
    auto m = DriftMonitor::Create("homedepot/bm25",
                                  {FeatureSpec::Numeric("query_words"), FeatureSpec::Categorical("first_word")});
    EXPECT_TRUE(m.ok());
    ReferenceBuilder ref = (*m)->NewReferenceBuilder();
    for (const Query& q : *queries_) {
      if (q.id % 5 == 0) continue;
      EXPECT_TRUE(ref.Add({FeatureValue::Number(q.words), FeatureValue::Category(q.first_word)}).ok());
    }
    EXPECT_TRUE((*m)->SetReference(std::move(ref).Finish()).ok());
    return std::move(m).value();
  }

  // Records the queries over half an hour and evaluates at its end.
  DriftReport Window(DriftMonitor& m, const std::vector<const Query*>& window) {
    for (size_t i = 0; i < window.size(); ++i) {
      m.Record({FeatureValue::Number(window[i]->words), FeatureValue::Category(window[i]->first_word)},
               kT0 + 1800.0 * static_cast<double>(i) / static_cast<double>(window.size()));
    }
    return m.Evaluate(kT0 + 1799);
  }

  static void Print(const char* what, const DriftReport& r) {
    for (const FeatureDrift& f : r.features) {
      std::printf("[homedepot] %s %s: %s=%.4f", what, f.feature.c_str(),
                  std::string(DriftMethodName(f.decision_method)).c_str(), f.methods.front().score);
      for (size_t i = 1; i < f.methods.size(); ++i) {
        std::printf(" %s=%.4g", std::string(DriftMethodName(f.methods[i].method)).c_str(), f.methods[i].score);
      }
      std::printf(" drifted=%d (n=%llu)\n", f.drifted ? 1 : 0, static_cast<unsigned long long>(f.current_count));
    }
  }

  static std::vector<Query>* queries_;
};

std::vector<Query>* HomeDepotDriftTest::queries_ = nullptr;

TEST_F(HomeDepotDriftTest, TestQueriesDoNotDriftFromTrainQueries) {
  ASSERT_EQ(queries_->size(), 11795u);
  auto m = TrainReferenceMonitor();
  std::vector<const Query*> test;
  std::set<std::string> train_words;
  for (const Query& q : *queries_) {
    if (q.id % 5 == 0) {
      test.push_back(&q);
    } else {
      train_words.insert(q.first_word);
    }
  }
  ASSERT_EQ(test.size(), 2359u);
  const DriftReport r = Window(*m, test);
  Print("TEST vs TRAIN", r);
  EXPECT_EQ(r.reference_rows, 9436u);
  const FeatureDrift* words = r.Find("query_words");
  const FeatureDrift* first = r.Find("first_word");
  ASSERT_TRUE(words->evaluated && first->evaluated);
  EXPECT_EQ(words->decision_method, DriftMethod::kWassersteinNormed) << "9,436 reference values > 1000";
  EXPECT_EQ(first->decision_method, DriftMethod::kJensenShannon);
  EXPECT_FALSE(words->drifted);
  EXPECT_FALSE(first->drifted);
  EXPECT_LT(words->methods.front().score, 0.05) << "half the threshold";
  EXPECT_LT(first->methods.front().score, 0.07);
  EXPECT_EQ(words->Find(DriftMethod::kPsi)->status, DriftStatus::kOk);
  EXPECT_FALSE(r.dataset_drift);
  // Data quality: TEST first words that TRAIN never had (the reference holds ~3,700 distinct
  // first words, beyond the sketch's exact capacity, so this goes through the Bloom filter).
  size_t unseen = 0;
  for (const Query* q : test) unseen += train_words.count(q->first_word) == 0 ? 1 : 0;
  std::printf("[homedepot] TEST first words unseen in TRAIN: exact %zu, reported %llu\n", unseen,
              static_cast<unsigned long long>(first->quality.unseen_category));
  EXPECT_GT(unseen, 0u);
  EXPECT_LE(first->quality.unseen_category, unseen) << "a Bloom filter never invents unseen values";
  EXPECT_GE(first->quality.unseen_category, unseen * 99 / 100);
  EXPECT_EQ(words->quality.total(), 0u);
}

TEST_F(HomeDepotDriftTest, PaintQueriesDrift) {
  auto m = TrainReferenceMonitor();
  std::vector<const Query*> paint;
  for (const Query& q : *queries_) {
    std::string lower = q.text;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("paint") != std::string::npos) paint.push_back(&q);
  }
  ASSERT_GT(paint.size(), 150u);
  const DriftReport r = Window(*m, paint);
  Print("\"paint\" vs TRAIN", r);
  const FeatureDrift* first = r.Find("first_word");
  EXPECT_TRUE(first->drifted);
  EXPECT_GT(first->methods.front().score, 0.25);
  EXPECT_EQ(first->status, DriftStatus::kAlert);
  // "paint" is the most frequent first word of the window, rare in TRAIN.
  const CategoryShare* paint_share = nullptr;
  for (const CategoryShare& c : first->categories) {
    if (c.value == "paint") paint_share = &c;
  }
  ASSERT_NE(paint_share, nullptr);
  EXPECT_GT(paint_share->current_share, 10 * paint_share->reference_share);
  // Paint queries are also longer (3.5 vs 3.26 words on average): normed W1 ~0.2.
  EXPECT_TRUE(r.Find("query_words")->drifted);
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
