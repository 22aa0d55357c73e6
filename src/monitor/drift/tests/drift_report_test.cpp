// DriftReportJson: the body of GET /v1/monitor/drift parses as JSON and carries every field
// the dashboard and alerting read.
#include "monitor/drift/drift_report.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace shelfwatch::monitor::drift {
namespace {

DriftReport SampleReport() {
  DriftReport r;
  r.model = "ranker:v3";
  r.evaluated_at = 1700000000.5;
  r.window_start = 1699996400;
  r.window_end = 1700000000.5;
  r.has_reference = true;
  r.reference_source = "rows";
  r.reference_rows = 20000;
  r.current_rows = 1800;
  r.dropped_rows = 2;
  r.drifted_features = 1;
  r.dataset_drift = false;

  FeatureDrift price;
  price.feature = "price";
  price.kind = FeatureKind::kNumeric;
  price.evaluated = true;
  price.drifted = true;
  price.status = DriftStatus::kAlert;
  price.decision_method = DriftMethod::kWassersteinNormed;
  price.reference_count = 20000;
  price.current_count = 1790;
  MethodResult w;
  w.method = DriftMethod::kWassersteinNormed;
  w.score = 0.42;
  w.threshold = 0.1;
  w.drifted = true;
  w.status = DriftStatus::kAlert;
  MethodResult ks;
  ks.method = DriftMethod::kKolmogorovSmirnov;
  ks.score = 1e-30;
  ks.statistic = 0.31;
  ks.threshold = 0.05;
  ks.drifted = true;
  ks.status = DriftStatus::kAlert;
  price.methods = {w, ks};
  price.quality.nan = 4;
  price.quality.missing = 6;
  price.quality.out_of_range = 12;
  price.histogram.edges = {1, 2, 3};
  price.histogram.reference = {10000, 10000};
  price.histogram.current = {90, 1700};
  r.features.push_back(price);

  FeatureDrift brand;
  brand.feature = "brand";
  brand.kind = FeatureKind::kCategorical;
  brand.note = "the current window holds 3 values, fewer than 30";
  brand.quality.unseen_category = 3;
  brand.categories = {{"acme", 0.5, 0.25}, {"bad\xFFutf8", 0.1, 0.0}};
  r.features.push_back(brand);
  return r;
}

TEST(DriftReportJsonTest, CarriesEveryFieldAndParses) {
  DriftReport other;
  other.model = "homedepot/bm25";
  const std::string json = DriftReportJson({SampleReport(), other});
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(simdjson::padded_string(json));
  simdjson::dom::array monitors = doc["monitors"];
  ASSERT_EQ(monitors.size(), 2u);
  simdjson::dom::element r = monitors.at(0);
  EXPECT_EQ(std::string_view(r["model"]), "ranker:v3");
  EXPECT_EQ(double(r["evaluated_at"]), 1700000000.5);
  EXPECT_EQ(double(r["window"]["start"]), 1699996400);
  EXPECT_TRUE(bool(r["reference"]["available"]));
  EXPECT_EQ(std::string_view(r["reference"]["source"]), "rows");
  EXPECT_TRUE(r["reference"]["start"].is_null()) << "NaN is written as null";
  EXPECT_EQ(uint64_t(r["reference"]["rows"]), 20000u);
  EXPECT_EQ(uint64_t(r["dropped_rows"]), 2u);
  EXPECT_FALSE(bool(r["dataset_drift"]));

  simdjson::dom::element price = r["features"].at(0);
  EXPECT_EQ(std::string_view(price["name"]), "price");
  EXPECT_EQ(std::string_view(price["kind"]), "numeric");
  EXPECT_TRUE(bool(price["drifted"]));
  EXPECT_EQ(std::string_view(price["status"]), "alert");
  EXPECT_EQ(std::string_view(price["decision_method"]), "wasserstein_normed");
  simdjson::dom::element ks = price["methods"].at(1);
  EXPECT_EQ(std::string_view(ks["method"]), "ks");
  EXPECT_EQ(double(ks["score"]), 1e-30);
  EXPECT_EQ(double(ks["statistic"]), 0.31);
  EXPECT_EQ(std::string_view(ks["threshold_kind"]), "p_value_below");
  EXPECT_EQ(std::string_view(price["methods"].at(0)["threshold_kind"]), "score_at_least");
  EXPECT_EQ(uint64_t(price["data_quality"]["nan"]), 4u);
  EXPECT_EQ(uint64_t(price["data_quality"]["missing"]), 6u);
  EXPECT_EQ(uint64_t(price["data_quality"]["out_of_range"]), 12u);
  EXPECT_EQ(simdjson::dom::array(price["histogram"]["edges"]).size(), 3u);
  EXPECT_EQ(uint64_t(price["histogram"]["current"].at(1)), 1700u);

  simdjson::dom::element brand = r["features"].at(1);
  EXPECT_FALSE(bool(brand["evaluated"]));
  EXPECT_EQ(std::string_view(brand["note"]), "the current window holds 3 values, fewer than 30");
  EXPECT_EQ(uint64_t(brand["data_quality"]["unseen_category"]), 3u);
  EXPECT_EQ(std::string_view(brand["categories"].at(1)["value"]), "bad\xEF\xBF\xBDutf8");
  EXPECT_EQ(simdjson::dom::array(brand["methods"]).size(), 0u);
  EXPECT_EQ(std::string_view(monitors.at(1)["model"]), "homedepot/bm25");
}

TEST(DriftReportJsonTest, EmptyListIsAnEmptyArray) { EXPECT_EQ(DriftReportJson({}), R"({"monitors":[]})"); }

}  // namespace
}  // namespace shelfwatch::monitor::drift
