// DriftMonitor end to end: injected shifts are flagged on exactly the shifted features, the
// false-alarm rate on unshifted windows, data-quality counts, windows and expiry, the four
// ways to get a reference, metrics export, and concurrent recording (with its cost).
#include "monitor/drift/drift_monitor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <thread>

namespace shelfwatch::monitor::drift {
namespace {

constexpr double kT0 = 1699999980;  // a whole minute (28333333 * 60)

// Six features of a ranking model: two numeric, two categorical, two 8-dim embeddings.
std::vector<FeatureSpec> Features() {
  return {FeatureSpec::Numeric("price"),          FeatureSpec::Numeric("latency_ms"),
          FeatureSpec::Categorical("brand"),      FeatureSpec::Categorical("device"),
          FeatureSpec::Vector("query_embedding", 8), FeatureSpec::Vector("item_embedding", 8)};
}

struct Shift {
  bool price = false;            // x1.5
  bool brand = false;            // every row the same brand
  bool query_embedding = false;  // +0.8 in every dimension
};

// One observation with the storage its FeatureValues point into.
struct Row {
  double price = 0, latency = 0;
  const char* brand = "";
  const char* device = "";
  std::array<float, 8> query{}, item{};

  std::array<FeatureValue, 6> Values() const {
    return {FeatureValue::Number(price),  FeatureValue::Number(latency), FeatureValue::Category(brand),
            FeatureValue::Category(device), FeatureValue::Vector(query),  FeatureValue::Vector(item)};
  }
};

class RowSource {
 public:
  explicit RowSource(uint64_t seed) : rng_(seed) {}
  Row Next(const Shift& s = {}) {
    static const char* kBrands[] = {"acme", "bolt", "cord", "dune"};
    static const char* kDevices[] = {"mobile", "desktop", "tablet"};
    Row r;
    r.price = price_(rng_) * (s.price ? 1.5 : 1.0);
    r.latency = latency_(rng_);
    r.brand = s.brand ? "acme" : kBrands[brand_(rng_)];
    r.device = kDevices[device_(rng_)];
    for (size_t d = 0; d < 8; ++d) {
      r.query[d] = static_cast<float>(unit_(rng_)) + (s.query_embedding ? 0.8f : 0.0f);
      r.item[d] = static_cast<float>(unit_(rng_));
    }
    return r;
  }

 private:
  std::mt19937_64 rng_;
  std::lognormal_distribution<double> price_{3.0, 0.5};
  std::normal_distribution<double> latency_{50, 10};
  std::discrete_distribution<int> brand_{40, 30, 20, 10};
  std::discrete_distribution<int> device_{60, 30, 10};
  std::normal_distribution<double> unit_{0, 1};
};

std::unique_ptr<DriftMonitor> MakeMonitor(DriftMonitorOptions options = {}, Registry* registry = nullptr,
                                          std::string model = "ranker:v3") {
  auto m = DriftMonitor::Create(std::move(model), Features(), options, registry);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

void SetTrainingReference(DriftMonitor& m, size_t rows, uint64_t seed) {
  RowSource src(seed);
  ReferenceBuilder ref = m.NewReferenceBuilder();
  for (size_t i = 0; i < rows; ++i) {
    const Row r = src.Next();
    const auto v = r.Values();
    ASSERT_TRUE(ref.Add(v).ok());
  }
  ASSERT_TRUE(m.SetReference(std::move(ref).Finish()).ok());
}

// Records `rows` rows spread evenly over [start, start + seconds).
void RecordRows(DriftMonitor& m, RowSource& src, size_t rows, double start, double seconds, const Shift& s = {}) {
  for (size_t i = 0; i < rows; ++i) {
    const Row r = src.Next(s);
    const auto v = r.Values();
    m.Record(v, start + seconds * static_cast<double>(i) / static_cast<double>(rows));
  }
}

std::set<std::string> Drifted(const DriftReport& r) {
  std::set<std::string> out;
  for (const FeatureDrift& f : r.features) {
    EXPECT_TRUE(f.evaluated) << f.feature << ": " << f.note;
    if (f.drifted) out.insert(f.feature);
  }
  return out;
}

TEST(DriftMonitorTest, InjectedShiftIsFlaggedOnExactlyTheShiftedFeatures) {
  // Large references use the distance methods, small ones the statistical tests: both paths.
  struct Case {
    size_t reference_rows, current_rows;
    DriftMethod numeric_method, categorical_method;
  };
  for (const Case& c : {Case{20000, 3000, DriftMethod::kWassersteinNormed, DriftMethod::kJensenShannon},
                        Case{800, 600, DriftMethod::kKolmogorovSmirnov, DriftMethod::kChiSquared}}) {
    SCOPED_TRACE("reference rows " + std::to_string(c.reference_rows));
    auto m = MakeMonitor();
    SetTrainingReference(*m, c.reference_rows, 1);
    RowSource src(2);
    RecordRows(*m, src, c.current_rows, kT0, 1800);
    const DriftReport calm = m->Evaluate(kT0 + 1800);
    EXPECT_TRUE(Drifted(calm).empty());
    EXPECT_EQ(calm.current_rows, c.current_rows);
    EXPECT_EQ(calm.features[0].decision_method, c.numeric_method);
    EXPECT_EQ(calm.features[2].decision_method, c.categorical_method);
    EXPECT_EQ(calm.features[4].decision_method, DriftMethod::kShareDriftedDims);

    // Same model, a fresh window an hour later with three features shifted.
    Shift shift;
    shift.price = shift.brand = shift.query_embedding = true;
    RecordRows(*m, src, c.current_rows, kT0 + 7200, 1800, shift);
    const DriftReport shifted = m->Evaluate(kT0 + 9000);
    EXPECT_EQ(shifted.current_rows, c.current_rows) << "the calm rows expired from the 1 h window";
    EXPECT_EQ(Drifted(shifted), (std::set<std::string>{"price", "brand", "query_embedding"}));
    EXPECT_EQ(shifted.drifted_features, 3u);
    EXPECT_TRUE(shifted.dataset_drift) << "3 of 6 features reach the 0.5 share";
    EXPECT_EQ(shifted.Find("brand")->categories.front().value, "acme");
    EXPECT_DOUBLE_EQ(shifted.Find("brand")->categories.front().current_share, 1);
  }
}

// Runs `windows` one-minute windows of unshifted data against one reference and returns the
// fraction of windows in which each feature (and any feature) was flagged.
std::vector<double> FalseAlarmRates(size_t reference_rows, size_t window_rows, int windows, uint64_t seed) {
  DriftMonitorOptions o;
  o.window_seconds = 60;
  o.bucket_seconds = 60;
  auto m = MakeMonitor(o);
  SetTrainingReference(*m, reference_rows, seed);
  RowSource src(seed + 1);
  std::vector<double> alarms(Features().size() + 1, 0);
  for (int w = 0; w < windows; ++w) {
    const double start = kT0 + 60.0 * w;
    RecordRows(*m, src, window_rows, start, 60);
    const DriftReport r = m->Evaluate(start + 59.9);
    bool any = false;
    for (size_t f = 0; f < r.features.size(); ++f) {
      EXPECT_EQ(r.features[f].current_count, window_rows);
      alarms[f] += r.features[f].drifted ? 1 : 0;
      any = any || r.features[f].drifted;
    }
    alarms.back() += any ? 1 : 0;
  }
  for (double& a : alarms) a /= windows;
  return alarms;
}

void PrintRates(const char* what, const std::vector<double>& rates) {
  std::printf("[false alarms] %s:", what);
  const auto features = Features();
  for (size_t f = 0; f < features.size(); ++f) std::printf(" %s=%.3f", features[f].name.c_str(), rates[f]);
  std::printf(" any=%.3f\n", rates.back());
}

TEST(DriftMonitorTest, FalseAlarmRateOnUnshiftedWindowsWithALargeReference) {
  // 20,000 reference rows, 200 windows of 1,000 rows. Every decision is a distance whose
  // sampling noise here sits well below its threshold: normed Wasserstein ~0.03 + ~0.02 of
  // sketch error vs 0.1, JS ~0.02 vs 0.1. A vector needs 2 of 8 dimensions at >= 0.1, and a
  // dimension's noise is larger (k = 128 sketches): its tail crosses 0.1 now and then.
  // Distance methods have no nominal level, so the bound is the one the statistical tests
  // accept by design: at most 5% per feature; measured ~0.5% for scalars, ~0.5-3% for vectors.
  const std::vector<double> rates = FalseAlarmRates(20000, 1000, 200, 11);
  PrintRates("reference 20000 rows, windows of 1000 rows (distance methods)", rates);
  for (size_t f = 0; f + 1 < rates.size(); ++f) EXPECT_LE(rates[f], 0.05) << Features()[f].name;
  EXPECT_LE(rates[0] + rates[1] + rates[2] + rates[3], 0.04) << "the scalar features stay near 0";
  EXPECT_LE(rates.back(), 0.10);
}

TEST(DriftMonitorTest, FalseAlarmRateOnUnshiftedWindowsWithASmallReference) {
  // 1,000 reference rows: every feature uses a test at p < 0.05 (KS / chi-squared; vectors
  // count a dimension at KS p < 0.05 and need 2 of 8), so a calibrated monitor alarms in about
  // 5% of unshifted windows per feature *by design* -- Evidently's small-sample defaults
  // trade that for sensitivity. Windows that share one reference sample share its
  // deviations, so 4 references x 50 windows are pooled to measure the rate itself. The KS
  // p-value allows for the sketches' rank error, which makes it conservative (below 5%).
  // Bound per feature: 5% + 3 binomial sd over 200 windows (1.5%) = 9.6% -> 10%.
  std::vector<double> rates(Features().size() + 1, 0);
  for (uint64_t reference = 0; reference < 4; ++reference) {
    const std::vector<double> r = FalseAlarmRates(1000, 500, 50, 100 + 10 * reference);
    for (size_t f = 0; f < rates.size(); ++f) rates[f] += r[f] / 4;
  }
  PrintRates("reference 1000 rows, windows of 500 rows (tests at p < 0.05)", rates);
  for (size_t f = 0; f + 1 < rates.size(); ++f) EXPECT_LE(rates[f], 0.10) << Features()[f].name;
  // Six features at <= 5% each: "any feature" stays below 1 - 0.95^6 = 26.5% + 3 sd (3.1%).
  EXPECT_LE(rates.back(), 0.30);
}

TEST(DriftMonitorTest, DataQualityViolationsAreCountedInTheReportAndTheRegistry) {
  Registry registry;
  auto m = MakeMonitor({}, &registry);
  SetTrainingReference(*m, 5000, 3);
  // Good rows: a replay of reference rows, so none of them can violate anything.
  RowSource src(3);
  RecordRows(*m, src, 1000, kT0, 600);
  // Injected problems, each exactly countable:
  const std::array<float, 8> ok_vec{};
  const std::array<float, 3> short_vec{};
  std::array<float, 8> nan_vec{};
  nan_vec[2] = NAN;
  std::array<float, 8> far_vec{};
  far_vec[0] = 1000;
  for (int i = 0; i < 7; ++i) {  // 7 rows: NaN price, missing latency, unseen brand, missing device
    const FeatureValue row[] = {FeatureValue::Number(NAN),      FeatureValue::Missing(),
                                FeatureValue::Category("zzz"),  FeatureValue::Number(1),
                                FeatureValue::Vector(nan_vec),  FeatureValue::Vector(short_vec)};
    m->Record(row, kT0 + 100);
  }
  for (int i = 0; i < 5; ++i) {  // 5 rows: price far above / below the reference range
    const FeatureValue row[] = {FeatureValue::Number(i % 2 ? 1e9 : -1), FeatureValue::Number(50),
                                FeatureValue::Category("bolt"),         FeatureValue::Category("tablet"),
                                FeatureValue::Vector(far_vec),          FeatureValue::Vector(ok_vec)};
    m->Record(row, kT0 + 200);
  }
  const FeatureValue wrong_length[] = {FeatureValue::Number(1)};
  m->Record(wrong_length, kT0 + 200);
  const FeatureValue good[] = {FeatureValue::Number(20), FeatureValue::Number(50), FeatureValue::Category("bolt"),
                               FeatureValue::Category("tablet"), FeatureValue::Vector(ok_vec),
                               FeatureValue::Vector(ok_vec)};
  m->Record(good, std::nan(""));
  m->Record(good, 1e300);

  const DriftReport r = m->Evaluate(kT0 + 600);
  const auto q = [&](const char* f) { return r.Find(f)->quality; };
  EXPECT_EQ(q("price").nan, 7u);
  EXPECT_EQ(q("price").out_of_range, 5u);
  EXPECT_EQ(q("latency_ms").missing, 7u);
  EXPECT_EQ(q("brand").unseen_category, 7u);
  EXPECT_EQ(q("device").missing, 7u) << "a number for a categorical feature";
  EXPECT_EQ(q("query_embedding").nan, 7u);
  EXPECT_EQ(q("query_embedding").out_of_range, 5u);
  EXPECT_EQ(q("item_embedding").missing, 7u) << "a vector of the wrong length";
  EXPECT_EQ(r.current_rows, 1012u);
  EXPECT_EQ(r.dropped_rows, 3u) << "one row of the wrong length, two with unusable timestamps";
  // The good rows of the window hold no violations of their own (normal data within range).
  EXPECT_EQ(q("brand").missing + q("price").missing + q("latency_ms").nan, 0u);

  const auto families = registry.Collect();
  const auto counter = [&](const std::string& feature, const std::string& kind) {
    for (const auto& f : families) {
      if (f.name != "shelfwatch_data_quality_violations_total") continue;
      for (const auto& s : f.series) {
        if (s.labels == LabelPairs{{"model", "ranker:v3"}, {"feature", feature}, {"kind", kind}}) return s.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(counter("price", "nan"), 7);
  EXPECT_EQ(counter("price", "out_of_range"), 5);
  EXPECT_GE(counter("latency_ms", "out_of_range"), 0) << "exported even while zero";
  EXPECT_EQ(counter("brand", "unseen_category"), 7);
  EXPECT_EQ(counter("item_embedding", "missing"), 7);
  const std::string text = registry.Expose();
  EXPECT_NE(text.find("shelfwatch_drift_dropped_rows_total{model=\"ranker:v3\"} 3"), std::string::npos);
}

TEST(DriftMonitorTest, DriftMetricsAreExportedAndWithdrawnWhenAFeatureCannotBeEvaluated) {
  Registry registry;
  auto m = MakeMonitor({}, &registry);
  SetTrainingReference(*m, 5000, 5);
  RowSource src(6);
  Shift s;
  s.price = true;
  RecordRows(*m, src, 2000, kT0, 600, s);
  const DriftReport r = m->Evaluate(kT0 + 600);
  const std::string text = registry.Expose();
  const MethodResult* w = r.Find("price")->Find(DriftMethod::kWassersteinNormed);
  ASSERT_NE(w, nullptr);
  EXPECT_NE(text.find("shelfwatch_drift_score{model=\"ranker:v3\",feature=\"price\",method=\"wasserstein_normed\"} " +
                      FormatValue(w->score)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("shelfwatch_drift_detected{model=\"ranker:v3\",feature=\"price\"} 1"), std::string::npos);
  EXPECT_NE(text.find("shelfwatch_drift_detected{model=\"ranker:v3\",feature=\"latency_ms\"} 0"), std::string::npos);
  EXPECT_NE(text.find("shelfwatch_drift_status{model=\"ranker:v3\",feature=\"price\"} 2"), std::string::npos);
  EXPECT_NE(text.find("method=\"share_drifted_dims\""), std::string::npos);

  // Two hours later nothing is in the window: scores are withdrawn, not left stale.
  m->Evaluate(kT0 + 600 + 7200);
  const std::string later = registry.Expose();
  EXPECT_EQ(later.find("shelfwatch_drift_score{"), std::string::npos) << later;
  EXPECT_NE(later.find("shelfwatch_drift_detected{model=\"ranker:v3\",feature=\"price\"} 0"), std::string::npos);
}

TEST(DriftMonitorTest, WindowHoldsOnlyRecentBucketsAndOldRowsAreDropped) {
  DriftMonitorOptions o;
  o.window_seconds = 600;  // 10 one-minute buckets
  auto m = MakeMonitor(o);
  SetTrainingReference(*m, 2000, 7);
  RowSource src(8);
  RecordRows(*m, src, 100, kT0, 60);        // minute 0
  RecordRows(*m, src, 100, kT0 + 540, 60);  // minute 9
  EXPECT_EQ(m->Evaluate(kT0 + 599).current_rows, 200u) << "minutes 0..9";
  RecordRows(*m, src, 100, kT0 + 600, 60);  // minute 10
  const DriftReport r = m->Evaluate(kT0 + 659);
  EXPECT_EQ(r.current_rows, 200u) << "minutes 1..10: minute 0 left the window";
  EXPECT_EQ(r.window_start, kT0 + 60);
  // A row older than the retained history is dropped and counted, never merged.
  RecordRows(*m, src, 10, kT0 - 3600, 1);
  const DriftReport after = m->Evaluate(kT0 + 659);
  EXPECT_EQ(after.current_rows, 200u);
  EXPECT_EQ(after.dropped_rows, 10u);
}

TEST(DriftMonitorTest, NoReferenceMeansNothingIsEvaluated) {
  auto m = MakeMonitor();
  RowSource src(9);
  RecordRows(*m, src, 500, kT0, 60);
  EXPECT_TRUE(m->LastReport().features.empty()) << "nothing evaluated yet";
  const DriftReport r = m->Evaluate(kT0 + 60);
  EXPECT_EQ(m->LastReport().current_rows, 500u) << "LastReport serves the latest evaluation";
  EXPECT_FALSE(r.has_reference);
  EXPECT_EQ(r.drifted_features, 0u);
  for (const FeatureDrift& f : r.features) {
    EXPECT_FALSE(f.evaluated);
    EXPECT_EQ(f.note, "no reference profile yet");
  }
  EXPECT_EQ(r.Find("price")->current_count, 500u);
}

TEST(DriftMonitorTest, AutomaticReferenceFromTheFirstRows) {
  DriftMonitorOptions o;
  o.auto_reference.first_rows = 2950;
  o.batch_rows = 128;  // the batch holding row 2950 is split: its later rows are not reference
  auto m = MakeMonitor(o);
  RowSource src(10);
  RecordRows(*m, src, 3000, kT0, 600);
  Shift s;
  s.brand = true;
  // The next rows are shifted.
  RecordRows(*m, src, 1500, kT0 + 600, 600, s);
  const DriftReport r = m->Evaluate(kT0 + 1200);
  ASSERT_TRUE(r.has_reference);
  EXPECT_EQ(r.reference_source, "first_rows");
  EXPECT_EQ(r.reference_rows, 2950u) << "exactly the first N rows";
  EXPECT_EQ(r.reference_start, kT0);
  EXPECT_EQ(r.reference_end, kT0 + 600) << "the end of the bucket holding row N";
  EXPECT_EQ(r.Find("brand")->reference_count, 2950u);
  EXPECT_EQ(r.current_rows, 1500u) << "the current window starts after the reference";
  EXPECT_EQ(Drifted(r), (std::set<std::string>{"brand"}));
}

TEST(DriftMonitorTest, AutomaticReferenceFromTheFirstSeconds) {
  DriftMonitorOptions o;
  o.auto_reference.first_seconds = 1800;
  auto m = MakeMonitor(o);
  RowSource src(11);
  RecordRows(*m, src, 3000, kT0, 1800);
  EXPECT_FALSE(m->Evaluate(kT0 + 1799).has_reference) << "still collecting";
  Shift s;
  s.price = true;
  RecordRows(*m, src, 2000, kT0 + 1800, 1200, s);
  const DriftReport r = m->Evaluate(kT0 + 3000);
  ASSERT_TRUE(r.has_reference);
  EXPECT_EQ(r.reference_source, "first_seconds");
  EXPECT_EQ(r.reference_rows, 3000u);
  EXPECT_EQ(r.reference_end, kT0 + 1800);
  EXPECT_EQ(r.current_rows, 2000u);
  EXPECT_EQ(Drifted(r), (std::set<std::string>{"price"}));
}

TEST(DriftMonitorTest, ReferenceFromARecordedWindow) {
  DriftMonitorOptions o;
  o.window_seconds = 1800;
  o.retention_seconds = 7200;
  auto m = MakeMonitor(o);
  RowSource src(12);
  RecordRows(*m, src, 4000, kT0, 1800);  // a calm half hour
  Shift s;
  s.query_embedding = true;
  RecordRows(*m, src, 2000, kT0 + 1800, 1800, s);
  ASSERT_TRUE(m->SetReferenceFromWindow(kT0, kT0 + 1800).ok());
  const DriftReport r = m->Evaluate(kT0 + 3599);
  EXPECT_EQ(r.reference_source, "window");
  EXPECT_EQ(r.reference_rows, 4000u);
  EXPECT_EQ(r.current_rows, 2000u);
  EXPECT_EQ(Drifted(r), (std::set<std::string>{"query_embedding"}));

  EXPECT_EQ(m->SetReferenceFromWindow(kT0 - 86400, kT0).code(), ErrorCode::kFailedPrecondition)
      << "before the retained history";
  EXPECT_EQ(m->SetReferenceFromWindow(kT0 + 5000, kT0 + 5100).code(), ErrorCode::kFailedPrecondition)
      << "an empty window";
  EXPECT_EQ(m->SetReferenceFromWindow(kT0 + 10, kT0).code(), ErrorCode::kInvalidArgument);
}

TEST(DriftMonitorTest, ReferenceSurvivesSerializationAndRefusesOtherModels) {
  auto m = MakeMonitor();
  EXPECT_TRUE(m->SerializeReference().empty());
  SetTrainingReference(*m, 5000, 13);
  const std::string bytes = m->SerializeReference();
  ASSERT_FALSE(bytes.empty());

  auto restored = MakeMonitor();
  ASSERT_TRUE(restored->LoadReference(bytes).ok());
  RowSource a(14), b(14);
  Shift s;
  s.price = true;
  RecordRows(*m, a, 1000, kT0, 600, s);
  RecordRows(*restored, b, 1000, kT0, 600, s);
  const DriftReport original = m->Evaluate(kT0 + 600), loaded = restored->Evaluate(kT0 + 600);
  EXPECT_EQ(loaded.reference_source, original.reference_source);  // "rows": where it came from is kept
  EXPECT_EQ(loaded.reference_rows, 5000u);
  for (size_t f = 0; f < original.features.size(); ++f) {
    ASSERT_EQ(loaded.features[f].methods.size(), original.features[f].methods.size());
    for (size_t k = 0; k < original.features[f].methods.size(); ++k) {
      EXPECT_EQ(loaded.features[f].methods[k].score, original.features[f].methods[k].score)
          << original.features[f].feature;
    }
  }

  auto other = DriftMonitor::Create("other", {FeatureSpec::Numeric("price")});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->LoadReference(bytes).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(restored->LoadReference(bytes.substr(0, bytes.size() / 2)).code(), ErrorCode::kDataLoss);
  EXPECT_EQ(restored->LoadReference("garbage").code(), ErrorCode::kDataLoss);
  // A reference built for other features is refused too.
  ReferenceBuilder wrong = (*other)->NewReferenceBuilder();
  EXPECT_EQ(m->SetReference(std::move(wrong).Finish()).code(), ErrorCode::kInvalidArgument);
}

TEST(DriftMonitorTest, CreateRefusesConfigurationsThatCannotWork) {
  EXPECT_EQ(DriftMonitor::Create("", Features()).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(DriftMonitor::Create("m", {}).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(DriftMonitor::Create("m", {FeatureSpec::Numeric("a"), FeatureSpec::Categorical("a")}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(DriftMonitor::Create("m", {FeatureSpec::Vector("e", 0)}).status().code(), ErrorCode::kInvalidArgument);
  FeatureSpec wrong_method = FeatureSpec::Categorical("c");
  wrong_method.method = DriftMethod::kKolmogorovSmirnov;
  const auto refused = DriftMonitor::Create("m", {wrong_method});
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("ks"), std::string::npos) << refused.status().message();
  DriftMonitorOptions o;
  o.retention_seconds = 60;  // shorter than the 1 h window
  EXPECT_EQ(DriftMonitor::Create("m", Features(), o).status().code(), ErrorCode::kInvalidArgument);
  o = {};
  o.bucket_seconds = 0;
  EXPECT_EQ(DriftMonitor::Create("m", Features(), o).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(MakeMonitor()->FeatureIndex("brand"), 2);
  EXPECT_EQ(MakeMonitor()->FeatureIndex("nope"), -1);
}

// Rows of a numeric, a categorical, a numeric and an 8-dim vector, as a ranking request
// would record them.
std::vector<FeatureSpec> BenchFeatures() {
  return {FeatureSpec::Numeric("score"), FeatureSpec::Categorical("category"), FeatureSpec::Numeric("position"),
          FeatureSpec::Vector("embedding", 8)};
}
const char* const kCategories[] = {"tools", "paint", "garden", "lighting", "bath", "kitchen", "doors", "floors"};

void RecordBenchRows(DriftMonitor& m, int thread, int rows) {
  std::array<float, 8> v{0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
  for (int i = 0; i < rows; ++i) {
    v[1] = static_cast<float>(i % 7);
    m.Record({FeatureValue::Number((i * 7 + thread) % 100), FeatureValue::Category(kCategories[(i + thread) % 8]),
              FeatureValue::Number(i % 10), FeatureValue::Vector(v)},
             kT0 + (i % 600) * 0.1);
  }
}

TEST(DriftMonitorTest, ConcurrentRecordingLosesNothingAndItsCostIsMeasured) {
  DriftMonitorOptions o;
  o.max_queued_batches = 1 << 20;  // never drop here: this test counts every row
  using Clock = std::chrono::steady_clock;
  const auto ns_since = [](Clock::time_point t) { return std::chrono::duration<double, std::nano>(Clock::now() - t).count(); };

  // One thread, measured in CPU time so that preemption on a busy machine does not count.
  // The request path: the recording thread's CPU time per row. The worker's sketching: the
  // rest of the process's CPU time until Evaluate has drained every batch.
  const auto cpu_ns = [](clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  auto single = DriftMonitor::Create("bench", BenchFeatures(), o);
  ASSERT_TRUE(single.ok());
  constexpr int kRows = 200000;
  const double thread_start = cpu_ns(CLOCK_THREAD_CPUTIME_ID), process_start = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  RecordBenchRows(**single, 0, kRows);
  const double record_cpu = cpu_ns(CLOCK_THREAD_CPUTIME_ID) - thread_start;
  EXPECT_EQ((*single)->Evaluate(kT0 + 60).current_rows, static_cast<uint64_t>(kRows));
  const double worker_cpu = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - process_start - record_cpu;

  // Four threads at once while another keeps evaluating.
  auto multi = DriftMonitor::Create("bench", BenchFeatures(), o);
  ASSERT_TRUE(multi.ok());
  DriftMonitor& m = **multi;
  std::atomic<bool> done{false};
  std::thread evaluator([&] {
    while (!done.load()) m.Evaluate(kT0 + 60);
  });
  constexpr int kThreads = 4, kPerThread = 50000;
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { RecordBenchRows(m, t, kPerThread); });
  for (auto& t : threads) t.join();
  const double multi_ns = ns_since(t0);
  done = true;
  evaluator.join();
  const DriftReport r = m.Evaluate(kT0 + 60);
  EXPECT_EQ(r.current_rows, static_cast<uint64_t>(kThreads * kPerThread)) << "no row lost or counted twice";
  EXPECT_EQ(r.dropped_rows, 0u);
  EXPECT_EQ(r.Find("category")->current_count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(r.Find("embedding")->current_count, static_cast<uint64_t>(kThreads * kPerThread));
  std::printf("[record cost] request path: %.0f ns CPU/row = %.1f ns/value; worker sketching: %.0f ns CPU/row "
              "(%.2f M rows/s per monitor); %d threads + an evaluator on %u cores: %.0f ns/row wall\n",
              record_cpu / kRows, record_cpu / kRows / 4, worker_cpu / kRows, 1e3 / (worker_cpu / kRows), kThreads,
              std::thread::hardware_concurrency(), multi_ns / (kThreads * kPerThread));
}

TEST(DriftMonitorTest, AnOverloadedWorkerDropsWholeBatchesAndCountsThem) {
  DriftMonitorOptions o;
  o.max_queued_batches = 1;  // the smallest queue: recording outruns sketching
  o.batch_rows = 64;
  Registry registry;
  auto created = DriftMonitor::Create("overload", BenchFeatures(), o, &registry);
  ASSERT_TRUE(created.ok());
  DriftMonitor& m = **created;
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { RecordBenchRows(m, t, kPerThread); });
  for (auto& t : threads) t.join();
  const DriftReport r = m.Evaluate(kT0 + 60);
  std::printf("[overload] kept %llu rows, dropped %llu\n", static_cast<unsigned long long>(r.current_rows),
              static_cast<unsigned long long>(r.dropped_rows));
  EXPECT_EQ(r.current_rows + r.dropped_rows, static_cast<uint64_t>(kThreads * kPerThread)) << "every row accounted for";
  EXPECT_EQ(r.dropped_rows % 64, 0u) << "whole batches";
  EXPECT_NE(registry.Expose().find("shelfwatch_drift_dropped_rows_total{model=\"overload\"} " +
                                   std::to_string(r.dropped_rows)),
            std::string::npos);
}

}  // namespace
}  // namespace shelfwatch::monitor::drift
