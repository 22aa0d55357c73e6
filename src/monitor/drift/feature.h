// What a drift monitor watches: features (numeric, categorical, vector), how each is compared
// with its reference, and the values recorded for them.
//
// Defaults follow Evidently's data-drift presets (docs.evidentlyai.com, "Data drift" preset,
// default stattest selection): a numeric feature whose reference holds more than 1000 values
// is judged by the Wasserstein distance normed by the reference standard deviation (drift at
// >= 0.1), a categorical one by the Jensen-Shannon distance (>= 0.1); with <= 1000 reference
// values by the two-sample Kolmogorov-Smirnov p-value (numeric) or the chi-squared p-value
// (categorical), drift at p < 0.05. (Evidently uses a proportions z-test for binary
// categories; the 2 x 2 chi-squared test used here is equivalent: X^2 = z^2.) PSI is reported
// for numeric and categorical features as well, warn at 0.1 and alert at 0.25. Vector
// features (embeddings) follow Evidently's "ratio" embedding method: the share of dimensions
// whose normed Wasserstein distance is >= 0.1 decides, drift at a share >= 0.2 (with <= 1000
// reference vectors a dimension counts as drifted at KS p < 0.05 instead); the cosine and
// Euclidean distances between the reference and current centroids are reported beside it.
//
// Thread-safety: values. FeatureValue holds views: it is valid while the caller's bytes are.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::monitor::drift {

enum class FeatureKind : uint8_t { kNumeric = 0, kCategorical = 1, kVector = 2 };
// "numeric" | "categorical" | "vector".
std::string_view FeatureKindName(FeatureKind kind);

enum class DriftMethod : uint8_t {
  kWassersteinNormed,   // numeric; vector dimensions
  kJensenShannon,       // categorical; numeric over the PSI bins
  kKolmogorovSmirnov,   // numeric; score is the p-value
  kChiSquared,          // categorical; score is the p-value
  kPsi,                 // numeric (reference-quantile bins) and categorical
  kShareDriftedDims,    // vector
  kCosineDistance,      // vector centroids
  kEuclideanDistance,   // vector centroids
};
// "wasserstein_normed" | "jensen_shannon" | "ks" | "chi_squared" | "psi" |
// "share_drifted_dims" | "cosine_distance" | "euclidean_distance": the `method` metric label.
std::string_view DriftMethodName(DriftMethod method);
// KS and chi-squared report a p-value: drift when score < threshold. Every other method
// reports a distance: drift when score >= threshold.
bool IsPValueMethod(DriftMethod method);

inline constexpr double kNoWarn = std::numeric_limits<double>::quiet_NaN();

// Per-method thresholds of one feature. A method's status is alert when it reports drift,
// warn when its score is past its warn level (distances: score >= warn; p-values: score < warn),
// ok otherwise.
struct DriftThresholds {
  double wasserstein_normed = 0.1;
  double jensen_shannon = 0.1;
  double ks_p_value = 0.05;
  double chi_squared_p_value = 0.05;
  double psi_warn = 0.1;
  double psi_alert = 0.25;
  double dimension_wasserstein_normed = 0.1;  // a vector dimension counts as drifted from here
  double share_drifted_dims = 0.2;
  double cosine_distance = 0.2;    // reported; decides only when chosen as the method
  double euclidean_distance = 0.2;  // Evidently's "distance" embedding method default
  // Warn levels of the other methods (NaN: no warn level, status is ok or alert).
  double wasserstein_normed_warn = kNoWarn;
  double jensen_shannon_warn = kNoWarn;

  // Drift threshold of `method`: psi_alert for PSI.
  double For(DriftMethod method) const;
  double WarnFor(DriftMethod method) const;
};

struct FeatureSpec {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  uint32_t dim = 0;  // vectors only: the number of components
  // The method that decides `drifted`; unset: the Evidently defaults above, chosen by the
  // reference's size at each evaluation.
  std::optional<DriftMethod> method;
  DriftThresholds thresholds;
  // Reference sizes up to this use the statistical tests (KS / chi-squared) by default.
  uint64_t small_sample_max = 1000;
  // PSI / binned JS / histogram bins at reference quantiles (Siddiqi's 10 deciles).
  uint32_t psi_bins = 10;

  static FeatureSpec Numeric(std::string name);
  static FeatureSpec Categorical(std::string name);
  static FeatureSpec Vector(std::string name, uint32_t dim);
};

// kInvalidArgument naming the problem: empty or duplicate names, a vector without dim (or dim
// above 65536), a method that does not apply to the kind, bins outside [2, 1000], or a
// threshold that is NaN or negative.
Status ValidateFeatures(const std::vector<FeatureSpec>& features);

// The drift decision method for a feature whose reference holds `reference_count` values.
DriftMethod DecisionMethod(const FeatureSpec& spec, uint64_t reference_count);

// One feature's value in one observation: a view of the caller's data, copied when recorded.
// A value of the wrong type for its feature (a number for a categorical feature, a vector of
// the wrong length) is counted as missing.
class FeatureValue {
 public:
  enum class Type : uint8_t { kMissing, kNumber, kCategory, kVector };

  FeatureValue() = default;  // missing
  static FeatureValue Missing() { return FeatureValue(); }
  static FeatureValue Number(double v) {
    FeatureValue f;
    f.type_ = Type::kNumber;
    f.number_ = v;
    return f;
  }
  static FeatureValue Category(std::string_view c) {
    FeatureValue f;
    f.type_ = Type::kCategory;
    f.data_ = c.data();
    f.size_ = c.size();
    return f;
  }
  static FeatureValue Vector(std::span<const float> v) {
    FeatureValue f;
    f.type_ = Type::kVector;
    f.data_ = v.data();
    f.size_ = v.size();
    return f;
  }

  Type type() const { return type_; }
  double number() const { return number_; }
  std::string_view category() const { return {static_cast<const char*>(data_), size_}; }
  std::span<const float> vector() const { return {static_cast<const float*>(data_), size_}; }

 private:
  Type type_ = Type::kMissing;
  double number_ = 0;
  const void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shelfwatch::monitor::drift
