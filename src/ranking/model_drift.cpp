#include "ranking/model_drift.h"

#include <memory>

#include "monitor/drift/drift_monitor.h"
#include "ranking/features.h"

namespace shelfwatch::ranking {

namespace drift = monitor::drift;

std::vector<drift::FeatureSpec> RankerDriftFeatures() {
  std::vector<drift::FeatureSpec> f;
  for (std::string_view name : FeatureNames()) f.push_back(drift::FeatureSpec::Numeric(std::string(name)));
  f.push_back(drift::FeatureSpec::Numeric(std::string(kScoreFeature)));
  return f;
}

std::vector<drift::FeatureSpec> EmbeddingDriftFeatures(uint32_t dim) {
  return {drift::FeatureSpec::Vector(std::string(kQueryEmbeddingFeature), dim)};
}

std::string RankerDriftReference(std::span<const float> features, std::span<const float> scores,
                                 std::string_view source) {
  const size_t rows = scores.size();
  if (rows == 0 || features.size() != rows * kNumFeatures) return {};
  auto specs = std::make_shared<const std::vector<drift::FeatureSpec>>(RankerDriftFeatures());
  drift::ReferenceBuilder builder(specs, drift::SketchOptions{});
  std::vector<drift::FeatureValue> row(kNumFeatures + 1);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t f = 0; f < kNumFeatures; ++f) row[f] = drift::FeatureValue::Number(features[r * kNumFeatures + f]);
    row[kNumFeatures] = drift::FeatureValue::Number(scores[r]);
    (void)builder.Add(row);
  }
  return drift::SerializeReferenceProfile(builder.profile(), source);
}

std::string EmbeddingDriftReference(std::span<const float> vectors, uint32_t dim, std::string_view source) {
  if (dim == 0 || vectors.empty() || vectors.size() % dim != 0) return {};
  auto specs = std::make_shared<const std::vector<drift::FeatureSpec>>(EmbeddingDriftFeatures(dim));
  drift::ReferenceBuilder builder(specs, drift::SketchOptions{});
  for (size_t r = 0; r * dim < vectors.size(); ++r) {
    (void)builder.Add({drift::FeatureValue::Vector(vectors.subspan(r * dim, dim))});
  }
  return drift::SerializeReferenceProfile(builder.profile(), source);
}

}  // namespace shelfwatch::ranking
