// Behaviour of the recommendation models, the learned reranker, the offline protocol and the
// serving facade on small hand-made event logs, plus one check on the real Taobao file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/clock.h"
#include "recommend/artifact.h"
#include "recommend/recommend_service.h"
#include "recommend/trainer.h"
#include "support/test_server.h"

namespace shelfwatch::recommend {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1512000000;

// "user,item,category,behavior,timestamp" lines.
InteractionLog Parse(const std::string& csv) {
  auto log = ParseInteractions(csv, "test.csv");
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return std::move(*log);
}

// Prefix + number (GCC 12 misreports -Wrestrict on "literal" + std::string at -O3).
std::string Id(std::string prefix, int64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

std::string Row(const std::string& u, const std::string& i, const std::string& beh, int64_t t, const std::string& c = "c1") {
  return u + "," + i + "," + c + "," + beh + "," + std::to_string(t) + "\n";
}

// Users who view A and then B a minute later; plus noise pairs.
std::string PairedViews(int users) {
  std::string csv = "user_id,item_id,category_id,behavior_type,timestamp\n";
  for (int u = 0; u < users; ++u) {
    std::string id = Id("u", u);
    csv += Row(id, "A", "pv", kT0 + u * 100);
    csv += Row(id, "B", "pv", kT0 + u * 100 + 60);
    csv += Row(id, Id("N", u), "pv", kT0 + u * 100 + 20 * kDay, "c2");
  }
  return csv;
}

std::vector<std::string> Ids(const CandidateModel& m, const std::vector<Candidate>& c) {
  std::vector<std::string> out;
  for (const auto& x : c) out.push_back(m.item_ids()[x.item]);
  return out;
}

TEST(Interactions, ParsesRowsAndRejectsMalformedOnesWithLineNumbers) {
  LoadStats stats;
  auto log = ParseInteractions(
      "user_id,item_id,category_id,behavior_type,timestamp\n1,10,5,pv,100\n1,11,5,teleport,101\n2,\"x,12,5,buy,102\n"
      "2,12,5,buy,notatime\n2,13,6,cart,103\n",
      "f.csv", &stats);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->events.size(), 2u);
  EXPECT_EQ(stats.rejected, 3u);
  EXPECT_EQ(stats.first_error.rfind("f.csv:3:", 0), 0u) << stats.first_error;
  EXPECT_FALSE(ParseInteractions("garbage\n\x01\x02", "g").ok());
  EXPECT_EQ(LoadInteractions("/nonexistent/file.csv").status().code(), ErrorCode::kNotFound);
}

TEST(Interactions, SessionsBreakOnTimeGaps) {
  auto log = Parse(Row("u", "a", "pv", 0) + Row("u", "b", "pv", 600) + Row("u", "c", "pv", 600 + 1801) + Row("u", "d", "pv", 4000));
  auto breaks = SessionBreaks(log.EventsOf(0), 1800);
  EXPECT_EQ(breaks, (std::vector<uint32_t>{0, 2, 4}));
}

TEST(OfflineProtocol, SplitsByTimeAndBuildsBothGroundTruths) {
  // u1: TRAIN a,b; TEST b (repeat), c (new). u2: TEST only (cold, excluded). u3: TRAIN only.
  auto log = Parse(Row("u1", "a", "pv", 100) + Row("u1", "b", "pv", 200) + Row("u1", "b", "buy", 1000) +
                   Row("u1", "c", "pv", 1001) + Row("u1", "c", "pv", 1002) + Row("u2", "a", "pv", 1000) +
                   Row("u3", "d", "pv", 10));
  auto main = BuildCases(log, 1000, Protocol::kMain);
  ASSERT_EQ(main.size(), 1u);
  EXPECT_EQ(log.users.Name(main[0].user), "u1");
  ASSERT_EQ(main[0].truth.size(), 2u);  // distinct: b and c
  auto discovery = BuildCases(log, 1000, Protocol::kDiscovery);
  ASSERT_EQ(discovery.size(), 1u);
  ASSERT_EQ(discovery[0].truth.size(), 1u);
  EXPECT_EQ(log.items.Name(discovery[0].truth[0]), "c");
  InteractionLog train = log.Before(1000);
  EXPECT_EQ(train.events.size(), 3u);
}

TEST(OfflineProtocol, MetricsFollowTheirDefinitions) {
  std::vector<uint32_t> ranked{7, 2, 9, 4};
  std::vector<uint32_t> truth{2, 4, 5};
  CaseScore s = ScoreRanking(ranked, truth, 20);
  EXPECT_DOUBLE_EQ(s.recall, 2.0 / 3.0);  // min(20, 3) = 3
  double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0);
  double idcg = 1 + 1 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(s.ndcg10, dcg / idcg, 1e-12);
  EXPECT_EQ(s.hit, 1.0);
  // Recall is capped by the list length: 2 hits at k=2 with 3 true items is perfect.
  EXPECT_DOUBLE_EQ(ScoreRanking(std::vector<uint32_t>{2, 4}, truth, 2).recall, 1.0);
  EXPECT_EQ(ScoreRanking(std::vector<uint32_t>{1}, truth, 20).hit, 0.0);
}

TEST(CoVisitation, RecommendsTheItemSeenTogether) {
  auto log = Parse(PairedViews(20));
  auto model = CoVisitationModel::Train(log);
  std::vector<ContextEvent> history{{log.items.Find("A"), Behavior::kView, kT0}};
  std::vector<Candidate> out;
  model->Score({history, kNoItem, kT0}, 5, &out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(Ids(*model, out)[0], "B");
  // Anchor only ("customers who viewed A also viewed"): same answer.
  out.clear();
  model->Score({{}, log.items.Find("A"), kT0}, 5, &out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(Ids(*model, out)[0], "B");
}

TEST(CoVisitation, StrongerBehaviourAndCloserTimeWeighMore) {
  // X->Y bought together in one session, X->Z viewed days apart, by the same number of users.
  std::string csv;
  for (int u = 0; u < 5; ++u) {
    std::string id = Id("u", u);
    csv += Row(id, "X", "pv", kT0) + Row(id, "Y", "buy", kT0 + 60) + Row(id, "Z", "pv", kT0 + 3 * kDay);
  }
  auto log = Parse(csv);
  auto model = CoVisitationModel::Train(log);
  std::vector<Candidate> out;
  model->Score({{}, log.items.Find("X"), kT0}, 5, &out);
  ASSERT_GE(out.size(), 2u);
  EXPECT_EQ(Ids(*model, out)[0], "Y");
  EXPECT_EQ(Ids(*model, out)[1], "Z");
}

TEST(OwnHistory, RecentAndStrongerEventsRankFirst) {
  std::vector<ContextEvent> history{{1, Behavior::kView, kT0 - 5 * kDay}, {2, Behavior::kView, kT0 - 1 * kDay},
                                    {3, Behavior::kBuy, kT0 - 1 * kDay}};
  std::vector<Candidate> out;
  ScoreOwnHistory({history, kNoItem, kT0}, EventWeighting{}, 10, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].item, 3u);  // bought yesterday
  EXPECT_EQ(out[1].item, 2u);  // viewed yesterday
  EXPECT_EQ(out[2].item, 1u);  // viewed 5 days ago
}

TEST(SessionKnn, RecommendsWhatSimilarSessionsContinuedWith) {
  std::string csv;
  for (int u = 0; u < 10; ++u) {
    std::string id = Id("s", u);
    csv += Row(id, "P", "pv", kT0 + u * kDay) + Row(id, "Q", "pv", kT0 + u * kDay + 60) + Row(id, "R", "pv", kT0 + u * kDay + 120);
    csv += Row(id, "P2", "pv", kT0 + u * kDay + 5000) + Row(id, "S", "pv", kT0 + u * kDay + 5060);
  }
  auto log = Parse(csv);
  auto model = SessionKnnModel::Train(log);
  EXPECT_EQ(model->session_count(), 20u);
  std::vector<ContextEvent> session{{log.items.Find("P"), Behavior::kView, kT0}, {log.items.Find("Q"), Behavior::kView, kT0 + 1}};
  std::vector<Candidate> out;
  model->Score({session, kNoItem, kT0}, 10, &out);
  auto ids = Ids(*model, out);
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "R"), ids.end());
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "S"), ids.end());  // never in a session with P or Q
}

TEST(Ease, LearnsItemsConsumedByTheSameUsers) {
  std::string csv;
  for (int u = 0; u < 30; ++u) {
    std::string id = Id("u", u);
    if (u % 2 == 0) csv += Row(id, "A", "pv", kT0) + Row(id, "B", "pv", kT0 + 10);
    else csv += Row(id, "C", "pv", kT0) + Row(id, "D", "pv", kT0 + 10);
  }
  auto log = Parse(csv);
  EaseParams params;
  params.lambda = 1.0f;
  auto model = EaseModel::Train(log, params);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<ContextEvent> history{{log.items.Find("A"), Behavior::kView, kT0}};
  std::vector<Candidate> out;
  (*model)->Score({history, kNoItem, kT0}, 3, &out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ((*model)->item_ids()[out[0].item], "B");
  // No item with two users: refused with a clear error.
  EXPECT_EQ(EaseModel::Train(Parse(Row("u", "a", "pv", 1) + Row("v", "b", "pv", 2))).status().code(), ErrorCode::kInvalidArgument);
}

TEST(Artifacts, RoundTripGivesTheSameRecommendationsAndCorruptionIsRefused) {
  auto log = Parse(PairedViews(30));
  TrainOptions options;
  options.tune_blend = false;
  options.ease.lambda = 5.0f;
  auto trained = TrainModels(log, options, "all");
  ASSERT_TRUE(trained.ok());
  std::string dir = testing::MakeTempDir("recrepo");
  auto saved = SaveModels(*trained, dir, "test.csv");
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_EQ(LatestVersion(dir, "covisit"), 1u);
  ASSERT_TRUE(SaveModels(*trained, dir, "test.csv").ok());
  EXPECT_EQ(LatestVersion(dir, "covisit"), 2u);  // next integer version
  auto loaded = LoadLatestModels(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::vector<ContextEvent> history{{log.items.Find("A"), Behavior::kView, kT0}};
  ScoringContext ctx{history, kNoItem, kT0};
  const CandidateModel* before[] = {trained->covisit.get(), trained->sknn.get(), trained->ease.get(), trained->popularity.get()};
  const CandidateModel* after[] = {loaded->covisit.get(), loaded->sknn.get(), loaded->ease.get(), loaded->popularity.get()};
  for (int m = 0; m < 4; ++m) {
    std::vector<Candidate> a, b;
    before[m]->Score(ctx, 10, &a);
    after[m]->Score(ctx, 10, &b);
    ASSERT_EQ(Ids(*before[m], a), Ids(*after[m], b)) << before[m]->kind();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_FLOAT_EQ(a[i].score, b[i].score);
  }
  auto config = ReadConfig(dir + "/ease/2");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->kind, "ease");
  // Truncate a model: loading fails with data_loss, never crashes.
  std::string path = dir + "/covisit/2/model.bin";
  auto bytes = ReadWholeFile(path);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(WriteFileAtomically(path, std::string_view(*bytes).substr(0, bytes->size() / 2)).ok());
  EXPECT_EQ(CoVisitationModel::Load(dir + "/covisit/2").status().code(), ErrorCode::kDataLoss);
  ASSERT_TRUE(WriteFileAtomically(path, "SWREC garbage").ok());
  EXPECT_EQ(LoadLatestModels(dir).status().code(), ErrorCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST(LambdaMart, LearnsTheInformativeFeatureAndRoundTripsThroughBytes) {
  // 200 groups of 20 rows; a row is relevant when feature 1 is high, features 0 and 2 are noise.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  RankingData data;
  data.features = 3;
  for (int g = 0; g < 200; ++g) {
    for (int r = 0; r < 20; ++r) {
      float signal = u(rng);
      data.rows.insert(data.rows.end(), {u(rng), signal, u(rng)});
      data.labels.push_back(signal > 0.9f ? 1.0f : 0.0f);
    }
    data.group_sizes.push_back(20);
  }
  LambdaMartParams params;
  params.trees = 20;
  params.min_child_weight = 1;
  auto model = LambdaMart::Train(data, params);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<float> scores;
  ASSERT_TRUE((*model)->Predict(data.rows, &scores).ok());
  ASSERT_EQ(scores.size(), data.row_count());
  // Each group's best-scored row is relevant whenever the group has a relevant row.
  int groups_with_relevant = 0, top_relevant = 0;
  for (int g = 0; g < 200; ++g) {
    int best = g * 20;
    bool any = false;
    for (int r = g * 20; r < g * 20 + 20; ++r) {
      if (scores[r] > scores[best]) best = r;
      any = any || data.labels[r] > 0;
    }
    groups_with_relevant += any;
    top_relevant += data.labels[best] > 0;
  }
  EXPECT_GT(groups_with_relevant, 150);
  EXPECT_EQ(top_relevant, groups_with_relevant);
  // Our tree walk gives XGBoost's own scores, missing values included.
  std::vector<float> with_missing = data.rows;
  for (size_t i = 0; i < with_missing.size(); i += 7) with_missing[i] = std::nanf("");
  std::vector<float> ours, reference;
  ASSERT_TRUE((*model)->Predict(with_missing, &ours).ok());
  ASSERT_TRUE((*model)->PredictWithXgboost(with_missing, &reference).ok());
  ASSERT_EQ(ours.size(), reference.size());
  for (size_t i = 0; i < ours.size(); ++i) ASSERT_NEAR(ours[i], reference[i], 1e-5) << i;
  EXPECT_EQ((*model)->tree_count(), 20u);
  // Bytes give back the same model.
  auto bytes = (*model)->ToBytes();
  ASSERT_TRUE(bytes.ok());
  auto again = LambdaMart::FromBytes(*bytes, 3);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  std::vector<float> scores2;
  ASSERT_TRUE((*again)->Predict(data.rows, &scores2).ok());
  EXPECT_EQ(scores, scores2);
  // Refusals: corrupt bytes, wrong feature count, nothing to learn, ragged rows.
  EXPECT_EQ(LambdaMart::FromBytes("not a model", 3).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(LambdaMart::FromBytes(*bytes, 4).status().code(), ErrorCode::kDataLoss);
  RankingData none = data;
  std::fill(none.labels.begin(), none.labels.end(), 0.0f);
  EXPECT_EQ(LambdaMart::Train(none, params).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*model)->Predict(std::vector<float>{1, 2}, &scores).code(), ErrorCode::kInvalidArgument);
}

// Shoppers who each day view 30 items, the first of them in their own favourite category, and
// come back the next day to the favourite-category item of the day before. Recency ranks that
// item 30th (it is the oldest of the day); a learned ranking can see the category.
std::string FavouriteCategoryRevisits(int users, int days) {
  std::string csv;
  for (int u = 0; u < users; ++u) {
    std::string user = Id("u", u);
    for (int d = 0; d < days; ++d) {
      int64_t t = kT0 + d * kDay + 3600;
      if (d > 0) csv += Row(user, Id(user + "-fav", d - 1), "pv", t - 600, Id("favcat", u));
      csv += Row(user, Id(user + "-fav", d), "pv", t, Id("favcat", u));
      for (int i = 0; i < 29; ++i) {
        csv += Row(user, Id(user + "-" + std::to_string(d) + "-", i), "pv", t + 60 * (i + 1), Id("c", (u * 131 + d * 29 + i) % 997));
      }
    }
  }
  return csv;
}

TEST(Reranker, LearnsARevisitPatternThatRecencyMisses) {
  auto log = Parse(FavouriteCategoryRevisits(40, 8));
  RerankerParams params;
  params.trees.trees = 30;
  params.windows = 5;
  auto set = BuildRerankTrainingSet(log, params, nullptr);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->windows.size(), 5u);
  EXPECT_EQ(set->windows[0].truth.size(), 40u);  // every user comes back in the last window
  // Trained without the latest window, scored on it.
  auto holdout = RerankerModel::Train(log, *set, params, set->FirstWindowBefore(0));
  ASSERT_TRUE(holdout.ok()) << holdout.status().ToString();
  auto v = (*holdout)->Validate(set->windows[0]);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->users, 40u);
  // Truth: 31 items (the revisit + 30 new), so one hit is recall 1/20.
  EXPECT_NEAR(v->recall, 0.05, 1e-9);
  EXPECT_NEAR(v->recency_recall, 0.0, 1e-9);
  EXPECT_GT(v->ndcg10, 0.05);
  // Serving: the favourite-category item comes first, as the user's own history.
  auto user = log.users.Find("u3");
  auto history = HistoryOf(log, user);
  std::vector<SourcedCandidate> out;
  (*holdout)->Rank({history, kNoItem, log.MaxTimestamp() + 600}, {}, (*holdout)->stats(), 5, &out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(log.items.Name(out[0].item), "u3-fav7");
  EXPECT_EQ(out[0].source, Source::kHistory);
  EXPECT_FLOAT_EQ(out[0].score, 1.0f);
  EXPECT_LT(out[1].score, 1.0f);
}

// Label windows step back 12 h, so neighbours overlap: a held-out window must be scored by a
// model that never saw its labels, and cross-validation must find the revisit pattern on
// every fold while the recency score finds none.
TEST(Reranker, CrossValidationNeverTrainsOnTheLabelsItScores) {
  auto log = Parse(FavouriteCategoryRevisits(40, 8));
  RerankerParams params;
  params.windows = 8;  // four days of 12 h steps
  auto set = BuildRerankTrainingSet(log, params, nullptr);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->windows.size(), 8u);
  for (size_t v = 0; v < set->windows.size(); ++v) {
    size_t first = set->FirstWindowBefore(v);
    ASSERT_GT(first, v);
    for (size_t w = first; w < set->windows.size(); ++w) {
      EXPECT_LE(set->windows[w].cutoff + params.window_seconds, set->windows[v].cutoff);
    }
    // ... and no window between them was left out that did end in time.
    if (first > v + 1) {
      EXPECT_GT(set->windows[first - 1].cutoff + params.window_seconds, set->windows[v].cutoff);
    }
  }
  EXPECT_EQ(set->FirstWindowBefore(0), 2u);
  auto cv = CrossValidateReranker(log, *set, params, 3);
  ASSERT_TRUE(cv.ok()) << cv.status().ToString();
  ASSERT_EQ(cv->folds.size(), 3u);
  for (const auto& fold : cv->folds) {
    EXPECT_EQ(fold.users, 40u);
    EXPECT_NEAR(fold.recall, 0.05, 1e-9);  // the favourite-category revisit, one of 31 items
    EXPECT_NEAR(fold.recency_recall, 0.0, 1e-9);
  }
  EXPECT_NEAR(cv->mean.recall, 0.05, 1e-9);
  // A fourth whole-day fold would have no window before it to train on.
  EXPECT_EQ(CrossValidateReranker(log, *set, params, 4).status().code(), ErrorCode::kFailedPrecondition);
}

TEST(Reranker, TrainedWithTheModelsSavedLoadedAndServed) {
  auto log = Parse(FavouriteCategoryRevisits(40, 8));
  TrainOptions options;
  options.tune_blend = false;
  options.reranker.trees.trees = 30;
  options.reranker.windows = 5;
  auto trained = TrainModels(log, options, "rerank");
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  ASSERT_NE(trained->reranker, nullptr) << trained->reranker_note;
  EXPECT_GT(trained->reranker_validation.recall, trained->reranker_validation.recency_recall);
  std::string dir = testing::MakeTempDir("rerank");
  ASSERT_TRUE(SaveModels(*trained, dir, "fav.csv").ok());
  auto loaded = LoadLatestModels(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_NE(loaded->reranker, nullptr);
  // The same ranking before and after the round trip.
  auto history = HistoryOf(log, log.users.Find("u5"));
  ScoringContext ctx{history, kNoItem, log.MaxTimestamp() + 600};
  std::vector<SourcedCandidate> a, b;
  trained->reranker->Rank(ctx, {}, trained->reranker->stats(), 10, &a);
  loaded->reranker->Rank(ctx, {}, loaded->reranker->stats(), 10, &b);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].item, b[i].item);
    EXPECT_FLOAT_EQ(a[i].score, b[i].score);
  }
  // The service serves it: the latest favourite-category item among the first three (the
  // reranker learned it from the co-visitation and session-kNN features); without the
  // reranker, the blend ranks it below the day's later views.
  std::ofstream(dir + "/events.csv") << FavouriteCategoryRevisits(40, 8);
  ServiceOptions so;
  so.model_dir = dir;
  so.events_path = dir + "/events.csv";
  auto service = RecommendService::Open(so);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  EXPECT_NE((*service)->model_versions().find("rerank/1"), std::string::npos) << (*service)->model_versions();
  RecommendRequest r;
  r.user_id = "u5";
  r.k = 5;
  auto position = [](const Recommendations& recs, const std::string& id) {
    size_t i = 0;
    while (i < recs.results.size() && recs.results[i].item_id != id) ++i;
    return i;
  };
  auto with = (*service)->Recommend(r);
  ASSERT_TRUE(with.ok());
  size_t at = position(*with, "u5-fav7");
  ASSERT_LT(at, 3u);
  EXPECT_EQ(with->results[at].reason, "your_history");
  so.rerank = false;
  auto plain = RecommendService::Open(so);
  ASSERT_TRUE(plain.ok());
  auto without = (*plain)->Recommend(r);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->results.size(), 5u);
  EXPECT_EQ(position(*without, "u5-fav7"), without->results.size());
  // A corrupt reranker is never served: it is left out (logged), and the blend answers; the
  // versions say so.
  ASSERT_TRUE(WriteFileAtomically(dir + "/rerank/1/model.bin", "SWREC garbage").ok());
  auto without_reranker = LoadLatestModels(dir);
  ASSERT_TRUE(without_reranker.ok()) << without_reranker.status().ToString();
  EXPECT_EQ(without_reranker->reranker, nullptr);
  so.rerank = true;
  auto degraded = RecommendService::Open(so);
  ASSERT_TRUE(degraded.ok()) << degraded.status().ToString();
  EXPECT_EQ((*degraded)->model_versions().find("rerank"), std::string::npos) << (*degraded)->model_versions();
  auto blended = (*degraded)->Recommend(r);
  ASSERT_TRUE(blended.ok());
  EXPECT_EQ(blended->results.size(), 5u);
  // A later training that kept no reranker supersedes the old one: it is no longer loaded.
  options.train_reranker = false;
  auto retrained = TrainModels(log, options, "all");
  ASSERT_TRUE(retrained.ok());
  ASSERT_TRUE(SaveModels(*retrained, dir, "fav.csv").ok());
  auto newer = LoadLatestModels(dir);
  ASSERT_TRUE(newer.ok()) << newer.status().ToString();
  EXPECT_EQ(newer->reranker, nullptr);
  std::filesystem::remove_all(dir);
}

// A service over a small events file.
std::unique_ptr<RecommendService> SmallService(std::string* dir_out) {
  std::string dir = testing::MakeTempDir("recsvc");
  std::ofstream(dir + "/events.csv") << PairedViews(30) << Row("buyer", "A", "buy", kT0 + 5) << Row("buyer", "K", "pv", kT0 + 6, "c3");
  ServiceOptions options;
  options.events_path = dir + "/events.csv";
  options.tune_blend = false;
  auto service = RecommendService::Open(options);
  EXPECT_TRUE(service.ok()) << service.status().ToString();
  *dir_out = dir;
  return service.ok() ? std::move(*service) : nullptr;
}

TEST(RecommendService, AnswersKnownUserItemSessionAndColdRequests) {
  std::string dir;
  auto service = SmallService(&dir);
  ASSERT_NE(service, nullptr);
  RecommendRequest r;
  r.k = 5;
  // Cold: popularity, never empty.
  auto cold = service->Recommend(r);
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(cold->results.size(), 5u);
  EXPECT_FALSE(cold->personalised);
  // Known item: its co-visited item first, the item itself never.
  r.item_id = "A";
  auto item = service->Recommend(r);
  ASSERT_TRUE(item.ok());
  ASSERT_FALSE(item->results.empty());
  EXPECT_EQ(item->results[0].item_id, "B");
  for (const auto& x : item->results) EXPECT_NE(x.item_id, "A");
  // Anonymous session with a few events.
  RecommendRequest s;
  s.k = 3;
  s.session_items = {"A"};
  auto session = service->Recommend(s);
  ASSERT_TRUE(session.ok());
  ASSERT_FALSE(session->results.empty());
  EXPECT_TRUE(session->personalised);
  // Known user: own history first (reason says so), purchased items excluded on request.
  RecommendRequest u;
  u.user_id = "buyer";
  u.k = 10;
  auto user = service->Recommend(u);
  ASSERT_TRUE(user.ok());
  ASSERT_FALSE(user->results.empty());
  EXPECT_EQ(user->results[0].reason, "your_history");
  u.exclude = Exclude::kPurchased;
  auto no_bought = service->Recommend(u);
  ASSERT_TRUE(no_bought.ok());
  for (const auto& x : no_bought->results) EXPECT_NE(x.item_id, "A");
  u.exclude = Exclude::kSeen;
  auto unseen = service->Recommend(u);
  ASSERT_TRUE(unseen.ok());
  EXPECT_EQ(unseen->results.size(), 10u);
  for (const auto& x : unseen->results) EXPECT_TRUE(x.item_id != "A" && x.item_id != "K");
  std::filesystem::remove_all(dir);
}

TEST(RecommendService, BadInputGetsAClearErrorOrAFallback) {
  std::string dir;
  auto service = SmallService(&dir);
  ASSERT_NE(service, nullptr);
  RecommendRequest r;
  r.k = 0;
  EXPECT_EQ(service->Recommend(r).status().code(), ErrorCode::kInvalidArgument);
  r.k = 1000000;
  EXPECT_EQ(service->Recommend(r).status().code(), ErrorCode::kInvalidArgument);
  r.k = 5;
  r.item_id = std::string("bad\x01id");
  EXPECT_EQ(service->Recommend(r).status().code(), ErrorCode::kInvalidArgument);
  r.item_id = std::string(1000, 'x');
  EXPECT_EQ(service->Recommend(r).status().code(), ErrorCode::kInvalidArgument);
  r.item_id = "no-such-item";
  r.user_id = "no-such-user";
  auto fallback = service->Recommend(r);
  ASSERT_TRUE(fallback.ok());
  EXPECT_TRUE(fallback->unknown_item);
  EXPECT_TRUE(fallback->unknown_user);
  EXPECT_EQ(fallback->results.size(), 5u);
  EXPECT_EQ(ParseExclude("everything").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(service->OnEvent("", "", "A", Behavior::kView, kT0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(RecommendService::Open({}).status().code(), ErrorCode::kInvalidArgument);
  ServiceOptions missing;
  missing.model_dir = dir + "/no-models";
  EXPECT_EQ(RecommendService::Open(missing).status().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(RecommendService, AClickChangesTheNextRecommendationsWithinASecond) {
  std::string dir;
  auto service = SmallService(&dir);
  ASSERT_NE(service, nullptr);
  // Shoppers now view a brand-new item right after K, in their sessions.
  int64_t now = kT0 + 30 * kDay;
  for (int u = 0; u < 3; ++u) {
    std::string user = Id("live", u);
    ASSERT_TRUE(service->OnEvent(user, "sess" + user, "K", Behavior::kView, now).ok());
    ASSERT_TRUE(service->OnEvent(user, "sess" + user, "NEW", Behavior::kView, now + 30).ok());
  }
  int64_t start = MonotonicNanos();
  RecommendRequest r;
  r.item_id = "K";
  r.k = 5;
  auto after = service->Recommend(r);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(MonotonicNanos() - start, 1'000'000'000);
  ASSERT_FALSE(after->results.empty());
  EXPECT_EQ(after->results[0].item_id, "NEW");
  EXPECT_EQ(after->results[0].reason, "viewed_together_now");
  // The user's own click shows in their history at once.
  ASSERT_TRUE(service->OnEvent("fresh", "", "K", Behavior::kCart, now).ok());
  RecommendRequest u;
  u.user_id = "fresh";
  u.k = 3;
  auto mine = service->Recommend(u);
  ASSERT_TRUE(mine.ok());
  EXPECT_FALSE(mine->unknown_user);
  EXPECT_EQ(mine->results[0].item_id, "K");
  std::filesystem::remove_all(dir);
}

TEST(RecommendService, ConcurrentEventsAndRequestsStayConsistent) {
  std::string dir;
  auto service = SmallService(&dir);
  ASSERT_NE(service, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        std::string user = Id("c", t) + Id("_", i % 7);
        if (!service->OnEvent(user, "", Id("I", i % 50), Behavior::kView, kT0 + i).ok()) ++failures;
        RecommendRequest r;
        r.user_id = user;
        r.k = 10;
        auto out = service->Recommend(r);
        if (!out.ok() || out->results.empty()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::filesystem::remove_all(dir);
}

// The real Taobao sample, main protocol of the data README: the tuned blend with the learned
// reranker (trained on TRAIN only) against the strongest simple baseline. Measured
// (shelfwatch eval-rec --events .../user_behavior.csv): own history 0.1551 / NDCG@10 0.1335,
// linear blend 0.1575 / 0.1333, blend+rerank 0.1638 / 0.1399 (+5.6% / +4.8%; issue 6 asks
// +10% Recall@20, which this sample did not give: see the reranker's notes in reranker.h).
TEST(TaobaoEvaluation, RerankedBlendBeatsOwnHistoryRecencyOnRecallAndNdcg) {
  auto log = LoadInteractions(testing::DataPath("taobao/user_behavior.csv"));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  constexpr int64_t kCutoff = 1512259200;  // data README
  InteractionLog train = log->Before(kCutoff);
  auto trained = TrainModels(train, TrainOptions{}, "blend");
  ASSERT_TRUE(trained.ok());
  ASSERT_NE(trained->reranker, nullptr) << trained->reranker_note;
  // Kept because it beat the tuned blend on the last TRAIN day while trained without it.
  EXPECT_GT(trained->reranker_validation.recall, trained->blend_validation.recall);
  auto cases = BuildCases(*log, kCutoff, Protocol::kMain);
  EXPECT_EQ(cases.size(), 769u);  // README: 769 users have TEST events
  BlendConfig own;
  own.weights = {1, 0, 0, 0};
  BlendRecommender own_history(own, nullptr, nullptr, nullptr);
  BlendRecommender linear(*trained->blend, trained->covisit.get(), trained->ease.get(), trained->sknn.get());
  BlendRecommender reranked = linear;
  auto stats = trained->reranker->StatsFor(train.items);
  reranked.set_reranker(trained->reranker.get(), &stats);
  auto base = Evaluate(train, cases, Protocol::kMain, kCutoff, 20, OfflineBlend(own_history, nullptr));
  auto blend = Evaluate(train, cases, Protocol::kMain, kCutoff, 20, OfflineBlend(linear, trained->popularity.get()));
  auto ours = Evaluate(train, cases, Protocol::kMain, kCutoff, 20, OfflineBlend(reranked, trained->popularity.get()));
  std::printf("own-history %.4f/%.4f  blend %.4f/%.4f  blend+rerank %.4f/%.4f (recall@20/ndcg@10)\n", base.recall,
              base.ndcg10, blend.recall, blend.ndcg10, ours.recall, ours.ndcg10);
  EXPECT_NEAR(base.recall, 0.155, 0.002);  // the README's peer figure
  EXPECT_GT(blend.recall, base.recall);
  EXPECT_GE(ours.recall, 0.1630);  // measured 0.1638: +5.6% over own history
  EXPECT_GT(ours.recall, blend.recall);
  EXPECT_GE(ours.ndcg10, base.ndcg10);
}

}  // namespace
}  // namespace shelfwatch::recommend

namespace shelfwatch::recommend {
namespace {

// In-process latency of RecommendService::Recommend on Taobao, trained in-process with the
// reranker, per kind of request (known user: reranked; item page: linear blend; user with
// exclude=seen: reranked), 1 and 2 threads. Disabled by default: run with
// --gtest_also_run_disabled_tests --gtest_filter='RecommendBench.*'.
TEST(RecommendBench, DISABLED_InProcessLatency) {
  ServiceOptions options;
  options.events_path = testing::DataPath("taobao/user_behavior.csv");
  auto service = RecommendService::Open(options);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  std::printf("models: %s\n", (*service)->model_versions().c_str());
  auto log = LoadInteractions(options.events_path);
  ASSERT_TRUE(log.ok());
  std::vector<RecommendRequest> requests;
  for (uint32_t u = 0; u < log->users.size(); ++u) {
    RecommendRequest r;
    r.k = 10;
    if (u % 3 == 0) r.user_id = log->users.Name(u);
    if (u % 3 == 1) r.item_id = log->items.Name(log->EventsOf(u).back().item);
    if (u % 3 == 2) r.user_id = log->users.Name(u), r.exclude = Exclude::kSeen;
    requests.push_back(r);
  }
  const char* kinds[] = {"user", "item", "user+exclude=seen"};
  for (int threads : {1, 2}) {
    std::vector<std::array<std::vector<int64_t>, 3>> lat(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int rep = 0; rep < 5; ++rep) {
          for (size_t i = t; i < requests.size(); i += threads) {
            int64_t s = MonotonicNanos();
            auto out = (*service)->Recommend(requests[i]);
            lat[t][i % 3].push_back(MonotonicNanos() - s);
            ASSERT_TRUE(out.ok() && !out->results.empty());
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    std::vector<int64_t> all;
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<int64_t> v;
      for (auto& per_thread : lat) v.insert(v.end(), per_thread[kind].begin(), per_thread[kind].end());
      all.insert(all.end(), v.begin(), v.end());
      std::sort(v.begin(), v.end());
      std::printf("threads=%d %-18s requests=%zu p50=%.3f ms p99=%.3f ms max=%.3f ms\n", threads, kinds[kind], v.size(),
                  v[v.size() / 2] / 1e6, v[v.size() * 99 / 100] / 1e6, v.back() / 1e6);
    }
    std::sort(all.begin(), all.end());
    std::printf("threads=%d %-18s requests=%zu p50=%.3f ms p99=%.3f ms max=%.3f ms\n", threads, "all", all.size(),
                all[all.size() / 2] / 1e6, all[all.size() * 99 / 100] / 1e6, all.back() / 1e6);
  }
}

}  // namespace
}  // namespace shelfwatch::recommend
