// What the drift monitors of the search pipeline's models watch, and the reference profiles the
// training commands write next to a model version so that serving compares live traffic with
// the data the version was trained on (monitor/drift; Evidently-style per-feature tests).
//
//   ranker:    every input feature (FeatureNames(), numeric) plus "score", the model's output,
//              one row per scored candidate. train ranker's reference: the candidate rows of
//              its validation queries, scored by the model fitted without them (so the scores
//              are what the model gives queries it has not seen, as in serving).
//   embedding: "query_embedding", the encoder's unit vector for a query (a vector feature:
//              share of drifted dimensions, centroid cosine and Euclidean distances).
//              train embeddings' reference: its TRAIN queries, encoded.
//
// The reference is the file kDriftReferenceFile in the version directory (the bytes
// monitor::drift::DriftMonitor::LoadReference reads).
// Thread-safety: pure functions. Cost: O(rows x features) sketch updates (~40-60 ns a value).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/drift/feature.h"

namespace shelfwatch::ranking {

inline constexpr std::string_view kDriftReferenceFile = "drift_reference.bin";
inline constexpr std::string_view kScoreFeature = "score";
inline constexpr std::string_view kQueryEmbeddingFeature = "query_embedding";

// FeatureNames() then "score".
std::vector<monitor::drift::FeatureSpec> RankerDriftFeatures();
// {"query_embedding", dim}.
std::vector<monitor::drift::FeatureSpec> EmbeddingDriftFeatures(uint32_t dim);

// Reference bytes from rows x kNumFeatures `features` (row-major) and one score per row (NaN
// values are counted as data-quality violations, as when served). Empty when there are none.
std::string RankerDriftReference(std::span<const float> features, std::span<const float> scores,
                                 std::string_view source = "training data");
// Reference bytes from n x dim unit `vectors` (row-major). Empty when there are none.
std::string EmbeddingDriftReference(std::span<const float> vectors, uint32_t dim,
                                    std::string_view source = "training data");

}  // namespace shelfwatch::ranking
