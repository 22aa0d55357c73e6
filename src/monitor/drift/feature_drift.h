// CompareFeature: one feature's drift between a reference and a current profile, by every
// method that applies to its kind (statistics in drift_stats.h, defaults in feature.h).
//
//   numeric      wasserstein_normed = W1(reference, current) / max(std(reference), 0.001)
//                (Evidently's "wasserstein distance (normed)", same 0.001 floor), ks (two-sample
//                KS p-value), psi and jensen_shannon over bins at the reference's quantiles,
//                plus the reference vs current histogram over those bins;
//   categorical  jensen_shannon, psi and chi_squared (test of homogeneity) over the top
//                max_categories categories of both sides by combined share plus one pooled
//                "__other__" category. Pooling the tail keeps the scores about the head of the
//                distribution: on the real Home Depot queries (first word, ~3,700 distinct in
//                TRAIN) TEST vs TRAIN scores JS 0.04 with 20 categories but 0.08 with 50 and
//                far more over every category, from sampling noise alone. Counts are the
//                frequent-items estimates (exact for heavy hitters); the chi-squared test pools
//                categories whose smallest expected count is below 5 (Cochran, Biometrics
//                10, 1954), so sparse tails do not inflate X^2;
//   vector       share_drifted_dims: the share of dimensions judged drifted the way a numeric
//                feature would be -- normed Wasserstein >= dimension_wasserstein_normed for
//                references above small_sample_max, else the KS p-value < ks_p_value (with
//                8 dims and the 0.2 share, two dims must drift: ~5% false alarms on small
//                samples, like the other tests); cosine_distance = 1 - cos(reference centroid, current
//                centroid) and euclidean_distance = |reference centroid - current centroid|.
//
// Thread-safety: pure. Cost: O(sketch sizes); vectors O(dim * vector sketch size).
#pragma once

#include <cstddef>
#include <cstdint>

#include "monitor/drift/drift_report.h"
#include "monitor/drift/feature.h"
#include "monitor/drift/profile.h"

namespace shelfwatch::monitor::drift {

struct CompareOptions {
  size_t max_categories = 20;
  // Fewer values than this in the current window: the feature is not evaluated (a nearly
  // empty window after a restart would otherwise raise alarms on noise).
  uint64_t min_current_count = 30;
};

FeatureDrift CompareFeature(const FeatureSpec& spec, const FeatureProfile& reference,
                            const FeatureProfile& current, const CompareOptions& options = {});

// Judges a score against the feature's thresholds for `method` (see MethodResult).
MethodResult JudgeScore(DriftMethod method, double score, const DriftThresholds& thresholds);

}  // namespace shelfwatch::monitor::drift
