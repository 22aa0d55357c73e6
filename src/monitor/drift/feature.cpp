#include "monitor/drift/feature.h"

#include <cmath>
#include <set>

namespace shelfwatch::monitor::drift {

std::string_view FeatureKindName(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kNumeric: return "numeric";
    case FeatureKind::kCategorical: return "categorical";
    case FeatureKind::kVector: return "vector";
  }
  return "unknown";
}

std::string_view DriftMethodName(DriftMethod method) {
  switch (method) {
    case DriftMethod::kWassersteinNormed: return "wasserstein_normed";
    case DriftMethod::kJensenShannon: return "jensen_shannon";
    case DriftMethod::kKolmogorovSmirnov: return "ks";
    case DriftMethod::kChiSquared: return "chi_squared";
    case DriftMethod::kPsi: return "psi";
    case DriftMethod::kShareDriftedDims: return "share_drifted_dims";
    case DriftMethod::kCosineDistance: return "cosine_distance";
    case DriftMethod::kEuclideanDistance: return "euclidean_distance";
  }
  return "unknown";
}

bool IsPValueMethod(DriftMethod method) {
  return method == DriftMethod::kKolmogorovSmirnov || method == DriftMethod::kChiSquared;
}

double DriftThresholds::For(DriftMethod method) const {
  switch (method) {
    case DriftMethod::kWassersteinNormed: return wasserstein_normed;
    case DriftMethod::kJensenShannon: return jensen_shannon;
    case DriftMethod::kKolmogorovSmirnov: return ks_p_value;
    case DriftMethod::kChiSquared: return chi_squared_p_value;
    case DriftMethod::kPsi: return psi_alert;
    case DriftMethod::kShareDriftedDims: return share_drifted_dims;
    case DriftMethod::kCosineDistance: return cosine_distance;
    case DriftMethod::kEuclideanDistance: return euclidean_distance;
  }
  return kNoWarn;
}

double DriftThresholds::WarnFor(DriftMethod method) const {
  switch (method) {
    case DriftMethod::kPsi: return psi_warn;
    case DriftMethod::kWassersteinNormed: return wasserstein_normed_warn;
    case DriftMethod::kJensenShannon: return jensen_shannon_warn;
    default: return kNoWarn;
  }
}

FeatureSpec FeatureSpec::Numeric(std::string name) {
  FeatureSpec s;
  s.name = std::move(name);
  s.kind = FeatureKind::kNumeric;
  return s;
}

FeatureSpec FeatureSpec::Categorical(std::string name) {
  FeatureSpec s;
  s.name = std::move(name);
  s.kind = FeatureKind::kCategorical;
  return s;
}

FeatureSpec FeatureSpec::Vector(std::string name, uint32_t dim) {
  FeatureSpec s;
  s.name = std::move(name);
  s.kind = FeatureKind::kVector;
  s.dim = dim;
  return s;
}

namespace {

bool MethodFits(FeatureKind kind, DriftMethod m) {
  switch (kind) {
    case FeatureKind::kNumeric:
      return m == DriftMethod::kWassersteinNormed || m == DriftMethod::kJensenShannon ||
             m == DriftMethod::kKolmogorovSmirnov || m == DriftMethod::kPsi;
    case FeatureKind::kCategorical:
      return m == DriftMethod::kJensenShannon || m == DriftMethod::kChiSquared || m == DriftMethod::kPsi;
    case FeatureKind::kVector:
      return m == DriftMethod::kShareDriftedDims || m == DriftMethod::kCosineDistance ||
             m == DriftMethod::kEuclideanDistance;
  }
  return false;
}

}  // namespace

Status ValidateFeatures(const std::vector<FeatureSpec>& features) {
  if (features.empty()) return InvalidArgument("a drift monitor needs at least one feature");
  std::set<std::string> names;
  for (const FeatureSpec& f : features) {
    const std::string where = "feature '" + f.name + "'";
    if (f.name.empty()) return InvalidArgument("a feature name is empty");
    if (!names.insert(f.name).second) return InvalidArgument(where + " is listed twice");
    if (f.kind == FeatureKind::kVector && (f.dim == 0 || f.dim > 65536)) {
      return InvalidArgument(where + ": a vector feature needs dim in [1, 65536], got " + std::to_string(f.dim));
    }
    if (f.kind != FeatureKind::kVector && f.dim != 0) {
      return InvalidArgument(where + ": dim applies to vector features only");
    }
    if (f.method && !MethodFits(f.kind, *f.method)) {
      return InvalidArgument(where + ": method " + std::string(DriftMethodName(*f.method)) + " does not apply to " +
                             std::string(FeatureKindName(f.kind)) + " features");
    }
    if (f.psi_bins < 2 || f.psi_bins > 1000) {
      return InvalidArgument(where + ": psi_bins must be in [2, 1000], got " + std::to_string(f.psi_bins));
    }
    const DriftThresholds& t = f.thresholds;
    for (double v : {t.wasserstein_normed, t.jensen_shannon, t.ks_p_value, t.chi_squared_p_value, t.psi_warn,
                     t.psi_alert, t.dimension_wasserstein_normed, t.share_drifted_dims, t.cosine_distance,
                     t.euclidean_distance}) {
      if (std::isnan(v) || v < 0) return InvalidArgument(where + ": thresholds must be numbers >= 0");
    }
    for (double v : {t.wasserstein_normed_warn, t.jensen_shannon_warn}) {
      if (v < 0) return InvalidArgument(where + ": warn levels must be >= 0 (or NaN for none)");
    }
  }
  return Status::Ok();
}

DriftMethod DecisionMethod(const FeatureSpec& spec, uint64_t reference_count) {
  if (spec.method) return *spec.method;
  const bool large = reference_count > spec.small_sample_max;
  switch (spec.kind) {
    case FeatureKind::kNumeric: return large ? DriftMethod::kWassersteinNormed : DriftMethod::kKolmogorovSmirnov;
    case FeatureKind::kCategorical: return large ? DriftMethod::kJensenShannon : DriftMethod::kChiSquared;
    case FeatureKind::kVector: return DriftMethod::kShareDriftedDims;
  }
  return DriftMethod::kWassersteinNormed;
}

}  // namespace shelfwatch::monitor::drift
