// Profile: the mergeable summary of a set of observations, one sketch per feature, plus the
// data-quality counts. A reference profile (stored on disk next to a model version) and every
// time bucket of a monitor's current window are Profiles; merging buckets is how a window is
// evaluated.
//
// Per feature kind:
//   numeric     KllSketch of the finite values + exact moments (mean, variance) for the
//               Wasserstein normalization;
//   categorical FrequentItemsSketch of the categories + a BloomFilter of every category seen
//               (the bounded "have we ever seen it" set when there are more categories than the
//               frequent-items sketch tracks exactly);
//   vector      one KllSketch per dimension (k = vector_kll_k, default 128) + per-dimension
//               moments, whose means are the centroid. Not lower: at k = 64 the sketch error
//               alone puts the normed Wasserstein distance of two samples of one distribution
//               at ~0.056 (half the 0.1 threshold); at k = 128 ~0.029, at k = 200 ~0.020
//               (measured, 20,000 vs 100,000 normal values).
// Memory bound per profile: numeric ~2 * 8 * 3k bytes (7.8 KiB at k = 200); categorical
// frequent_items_capacity * ~80 bytes + bloom_bits / 8 (~40 + 16 KiB by default); vector
// dim * (~2 * 8 * 3 vector_kll_k + 24) bytes (~5 KiB per dimension at k = 128: 320 KiB for a
// 64-dim embedding, per bucket once a bucket holds more than ~400 vectors).
//
// Data quality (counted per value, judged against the ReferenceChecks in force when the value
// is added; without one only missing and nan are judged):
//   missing          the value is absent, of the wrong type, or a vector of the wrong length;
//   nan              a numeric NaN or +-Inf, or a vector with such a component (not sketched);
//   out_of_range     a finite numeric outside the reference [min, max], or a vector with a
//                    component outside that dimension's reference [min, max] (still sketched);
//   unseen_category  a category the reference never saw (still sketched).
//
// Thread-safety: not thread-safe for writes; const calls may run concurrently.
// Cost: AddValue amortized O(1) per numeric/categorical value, O(dim) per vector; Merge
// O(sketch sizes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <variant>
#include <vector>

#include "common/status.h"
#include "monitor/drift/bloom_filter.h"
#include "monitor/drift/feature.h"
#include "monitor/drift/frequent_items.h"
#include "monitor/drift/kll_sketch.h"

namespace shelfwatch::monitor::drift {

// Count, mean and population variance, exact and mergeable: Welford's update (Technometrics
// 4, 1962) and the pairwise merge of Chan, Golub & LeVeque (1979).
struct RunningMoments {
  uint64_t n = 0;
  double mean = 0;
  double m2 = 0;  // sum of squared deviations from the mean

  void Add(double x) {
    ++n;
    const double delta = x - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (x - mean);
  }
  void Merge(const RunningMoments& o);
  // Population variance (numpy's default ddof = 0, as Evidently's normalization uses).
  double Variance() const { return n == 0 ? 0 : m2 / static_cast<double>(n); }
  double StdDev() const;
};

struct DataQualityCounts {
  uint64_t missing = 0;
  uint64_t nan = 0;
  uint64_t out_of_range = 0;
  uint64_t unseen_category = 0;

  void Add(const DataQualityCounts& o) {
    missing += o.missing;
    nan += o.nan;
    out_of_range += o.out_of_range;
    unseen_category += o.unseen_category;
  }
  uint64_t total() const { return missing + nan + out_of_range + unseen_category; }
};

struct SketchOptions {
  uint32_t kll_k = KllSketch::kDefaultK;
  uint32_t vector_kll_k = 128;
  uint32_t frequent_items_capacity = FrequentItemsSketch::kDefaultCapacity;
  uint32_t bloom_bits = BloomFilter::kDefaultBits;
  uint32_t bloom_hashes = BloomFilter::kDefaultHashes;
  uint64_t seed = KllSketch::kDefaultSeed;
};

struct NumericProfile {
  KllSketch sketch;
  RunningMoments moments;
};

struct CategoricalProfile {
  FrequentItemsSketch items;
  BloomFilter seen;
};

struct VectorProfile {
  std::vector<KllSketch> dims;
  std::vector<RunningMoments> moments;  // per dimension; moments[i].mean is the centroid
  uint64_t count = 0;                   // vectors sketched
};

struct FeatureProfile {
  DataQualityCounts quality;
  std::variant<NumericProfile, CategoricalProfile, VectorProfile> data;

  // Values in the sketch (finite numbers, categories, finite vectors).
  uint64_t count() const;
};

class Profile;

// What new values are judged against for out_of_range / unseen_category: the reference's
// numeric ranges, per-dimension ranges, and its categories -- the exact set when the
// reference's frequent-items sketch is exact (never purged), else its Bloom filter.
class ReferenceChecks {
 public:
  // Keeps a pointer into `reference`: must not outlive it.
  explicit ReferenceChecks(const Profile& reference);

  bool OutOfRange(size_t feature, double value) const;
  bool OutOfRange(size_t feature, std::span<const float> vector) const;
  bool Unseen(size_t feature, std::string_view category) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Feature {
    double min = 0, max = 0;  // numeric; empty reference: nothing is out of range
    bool has_range = false;
    std::vector<double> dim_min, dim_max;  // vector
    bool exact_categories = false;
    std::unordered_set<std::string, StringHash, std::equal_to<>> categories;
    const BloomFilter* bloom = nullptr;  // points into the reference profile
  };
  std::vector<Feature> features_;
};

using FeatureList = std::shared_ptr<const std::vector<FeatureSpec>>;

class Profile {
 public:
  Profile(FeatureList features, const SketchOptions& options);

  // Adds one observation; kInvalidArgument when row.size() != number of features (nothing is
  // added then).
  Status AddRow(std::span<const FeatureValue> row, const ReferenceChecks* checks = nullptr);
  // Adds one feature's value (no row is counted).
  void AddValue(size_t feature, const FeatureValue& value, const ReferenceChecks* checks);
  void AddRows(uint64_t n) { rows_ += n; }
  // Adds `other`'s observations; kInvalidArgument when the features (names, kinds, dims) or
  // Bloom filter shapes differ.
  Status Merge(const Profile& other);

  uint64_t rows() const { return rows_; }
  size_t size() const { return features_.size(); }
  const FeatureProfile& feature(size_t i) const { return features_[i]; }
  const std::vector<FeatureSpec>& specs() const { return *specs_; }
  const FeatureList& feature_list() const { return specs_; }
  const SketchOptions& options() const { return options_; }

  // Self-describing bytes: feature names, kinds and dims, then every sketch.
  std::string Serialize() const;
  // kDataLoss for damaged bytes; kInvalidArgument when the stored features differ from
  // `features` by name, kind or dim (a profile of another model).
  static Result<Profile> Deserialize(std::string_view bytes, FeatureList features);

 private:
  FeatureList specs_;
  SketchOptions options_;
  uint64_t rows_ = 0;
  std::vector<FeatureProfile> features_;
};

}  // namespace shelfwatch::monitor::drift
