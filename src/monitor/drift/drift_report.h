// DriftReport: what one evaluation of a DriftMonitor found, per feature and method, with the
// data-quality counts of the current window and reference-vs-current histograms for the
// dashboard; and its JSON form for GET /v1/monitor/drift.
//
// Thread-safety: values. Cost: DriftReportJson O(report size).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "monitor/drift/feature.h"
#include "monitor/drift/profile.h"

namespace shelfwatch::monitor::drift {

enum class DriftStatus : uint8_t { kOk = 0, kWarn = 1, kAlert = 2 };
// "ok" | "warn" | "alert".
std::string_view DriftStatusName(DriftStatus status);

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct MethodResult {
  DriftMethod method = DriftMethod::kPsi;
  // A distance, or the p-value for ks / chi_squared (as Evidently reports its drift_score).
  double score = kNaN;
  // ks: D; chi_squared: X^2 (dof beside it); share_drifted_dims: number of drifted
  // dimensions; NaN otherwise.
  double statistic = kNaN;
  double dof = kNaN;  // chi_squared
  double threshold = kNaN;
  double warn_threshold = kNaN;  // NaN: no warn level
  bool drifted = false;          // distances: score >= threshold; p-values: score < threshold
  DriftStatus status = DriftStatus::kOk;
};

// Reference vs current counts over the PSI bins of a numeric feature. Bin i covers
// (edges[i], edges[i + 1]]; the first bin also holds edges[0] itself. Outer edges are the
// smallest / largest value of either side; counts are sketch estimates (exact for small
// windows) and sum to the sides' counts.
struct NumericHistogram {
  std::vector<double> edges;
  std::vector<uint64_t> reference;
  std::vector<uint64_t> current;
};

// One category's share on each side; the value "__other__" pools the categories outside the
// compared top list (and what the frequent-items sketches could not attribute).
struct CategoryShare {
  std::string value;
  double reference_share = 0;
  double current_share = 0;
};
inline constexpr std::string_view kOtherCategory = "__other__";

struct FeatureDrift {
  std::string feature;
  FeatureKind kind = FeatureKind::kNumeric;
  uint32_t dim = 0;
  // False when there is no reference or the window holds fewer than min_current_count values;
  // `note` says which. drifted is false and methods empty then.
  bool evaluated = false;
  std::string note;
  bool drifted = false;
  // The decision method's status, raised to warn when another method is at warn or alert.
  DriftStatus status = DriftStatus::kOk;
  DriftMethod decision_method = DriftMethod::kWassersteinNormed;
  uint64_t reference_count = 0;  // values in the sketches (missing / NaN excluded)
  uint64_t current_count = 0;
  std::vector<MethodResult> methods;  // the decision method first
  DataQualityCounts quality;          // in the current window
  NumericHistogram histogram;         // numeric features
  std::vector<CategoryShare> categories;  // categorical features: the compared categories
  // Vector features: the reference and current centroids' norms (for reading the distances).
  double reference_centroid_norm = kNaN;
  double current_centroid_norm = kNaN;

  const MethodResult* Find(DriftMethod method) const;
};

struct DriftReport {
  std::string model;
  double evaluated_at = 0;  // Unix seconds
  // The current window: buckets covering [window_start, window_end).
  double window_start = 0;
  double window_end = 0;
  bool has_reference = false;
  // "rows" | "window" | "first_rows" | "first_seconds" | "bytes", or the source stored in loaded
  // bytes (e.g. "training data": ranking/model_drift.h) | "" (none yet)
  std::string reference_source;
  double reference_start = kNaN;  // Unix seconds, for references taken from recorded data
  double reference_end = kNaN;
  uint64_t reference_rows = 0;
  uint64_t current_rows = 0;
  // Since start: rows of the wrong length or with a bad timestamp, too old to keep, or
  // dropped while the monitor's worker was behind.
  uint64_t dropped_rows = 0;
  size_t drifted_features = 0;
  // Evidently's dataset drift: share of evaluated features drifted >= drift_share.
  double drift_share = 0.5;
  bool dataset_drift = false;
  std::vector<FeatureDrift> features;

  const FeatureDrift* Find(std::string_view feature) const;
};

// {"monitors":[<report>...]} for GET /v1/monitor/drift. Numbers that are NaN or infinite
// (e.g. a p-value that does not apply) are written as null.
std::string DriftReportJson(const std::vector<DriftReport>& reports);
// One report as a JSON object, into a writer positioned where a value may go.
void WriteDriftReport(JsonWriter& w, const DriftReport& report);

}  // namespace shelfwatch::monitor::drift
