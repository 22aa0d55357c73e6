// Behaviour of the recommendation models, the offline protocol and the serving facade on
// small hand-made event logs, plus one check on the real Taobao file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

// The real Taobao sample: the tuned blend must beat the strongest simple baseline.
TEST(TaobaoEvaluation, BlendBeatsOwnHistoryRecencyOnRecall) {
  auto log = LoadInteractions(testing::DataPath("taobao/user_behavior.csv"));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  constexpr int64_t kCutoff = 1512259200;  // data README
  InteractionLog train = log->Before(kCutoff);
  auto trained = TrainModels(train, TrainOptions{}, "blend");
  ASSERT_TRUE(trained.ok());
  auto cases = BuildCases(*log, kCutoff, Protocol::kMain);
  EXPECT_EQ(cases.size(), 769u);  // README: 769 users have TEST events
  BlendConfig own;
  own.weights = {1, 0, 0, 0};
  BlendRecommender own_history(own, nullptr, nullptr, nullptr);
  BlendRecommender blend(*trained->blend, trained->covisit.get(), trained->ease.get(), trained->sknn.get());
  auto base = Evaluate(train, cases, Protocol::kMain, kCutoff, 20, OfflineBlend(own_history, nullptr));
  auto ours = Evaluate(train, cases, Protocol::kMain, kCutoff, 20, OfflineBlend(blend, trained->popularity.get()));
  EXPECT_NEAR(base.recall, 0.155, 0.002);  // the README's peer figure
  EXPECT_GT(ours.recall, base.recall);
  EXPECT_GE(ours.ndcg10, base.ndcg10 - 0.002);
}

}  // namespace
}  // namespace shelfwatch::recommend

namespace shelfwatch::recommend {
namespace {

// In-process latency of RecommendService::Recommend on Taobao (known users, items, cold),
// 1 and 2 threads. Disabled by default: run with --gtest_also_run_disabled_tests.
TEST(RecommendBench, DISABLED_InProcessLatency) {
  ServiceOptions options;
  options.events_path = testing::DataPath("taobao/user_behavior.csv");
  auto service = RecommendService::Open(options);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
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
  for (int threads : {1, 2}) {
    std::vector<std::vector<int64_t>> lat(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int rep = 0; rep < 3; ++rep) {
          for (size_t i = t; i < requests.size(); i += threads) {
            int64_t s = MonotonicNanos();
            auto out = (*service)->Recommend(requests[i]);
            lat[t].push_back(MonotonicNanos() - s);
            ASSERT_TRUE(out.ok() && !out->results.empty());
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    std::vector<int64_t> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    std::printf("threads=%d requests=%zu p50=%.3f ms p99=%.3f ms max=%.3f ms\n", threads, all.size(),
                all[all.size() / 2] / 1e6, all[all.size() * 99 / 100] / 1e6, all.back() / 1e6);
  }
}

}  // namespace
}  // namespace shelfwatch::recommend
