#include "monitor/drift/feature_drift.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "monitor/drift/drift_stats.h"

namespace shelfwatch::monitor::drift {

namespace {

// Evidently divides by max(std(reference), 0.001) so a constant reference does not divide by 0.
constexpr double kMinNorm = 0.001;

// Counts for bins from cumulative fractions, rounded so they sum to n exactly.
std::vector<uint64_t> BinCounts(const std::vector<double>& fractions, uint64_t n) {
  std::vector<uint64_t> counts;
  counts.reserve(fractions.size());
  double cumulative = 0;
  uint64_t assigned = 0;
  for (double f : fractions) {
    cumulative += f;
    const auto upto = static_cast<uint64_t>(std::llround(std::min(1.0, cumulative) * static_cast<double>(n)));
    counts.push_back(upto >= assigned ? upto - assigned : 0);
    assigned = std::max(assigned, upto);
  }
  if (!counts.empty() && assigned < n) counts.back() += n - assigned;
  return counts;
}

void CompareNumeric(const FeatureSpec& spec, const NumericProfile& ref, const NumericProfile& cur,
                    FeatureDrift& out, std::vector<MethodResult>& results) {
  const KllSortedView rv = ref.sketch.View(), cv = cur.sketch.View();
  const DriftThresholds& t = spec.thresholds;

  const double norm = std::max(ref.moments.StdDev(), kMinNorm);
  results.push_back(JudgeScore(DriftMethod::kWassersteinNormed, WassersteinDistance(rv, cv) / norm, t));

  const TestResult ks = KolmogorovSmirnov(rv, cv, ref.sketch.RankErrorBound(), cur.sketch.RankErrorBound());
  MethodResult ks_result = JudgeScore(DriftMethod::kKolmogorovSmirnov, ks.p_value, t);
  ks_result.statistic = ks.statistic;
  results.push_back(ks_result);

  const std::vector<double> edges = QuantileBinEdges(rv, spec.psi_bins);
  const std::vector<double> rf = BinFractions(rv, edges), cf = BinFractions(cv, edges);
  results.push_back(JudgeScore(DriftMethod::kPsi, Psi(rf, cf), t));
  results.push_back(JudgeScore(DriftMethod::kJensenShannon, JensenShannonDistance(rf, cf), t));

  NumericHistogram& h = out.histogram;
  h.edges.push_back(std::min(rv.min(), cv.min()));
  h.edges.insert(h.edges.end(), edges.begin(), edges.end());
  h.edges.push_back(std::max(rv.max(), cv.max()));
  h.reference = BinCounts(rf, rv.count());
  h.current = BinCounts(cf, cv.count());
}

void CompareCategorical(const FeatureSpec& spec, const CategoricalProfile& ref, const CategoricalProfile& cur,
                        const CompareOptions& options, FeatureDrift& out, std::vector<MethodResult>& results) {
  struct Counts {
    uint64_t ref = 0, cur = 0;
  };
  // Estimates (count + the sketch's offset): exact for the heavy hitters compared here.
  std::map<std::string, Counts, std::less<>> merged;
  const uint64_t ref_offset = ref.items.MaximumError(), cur_offset = cur.items.MaximumError();
  ref.items.ForEach([&](std::string_view item, uint64_t n) { merged[std::string(item)].ref = n + ref_offset; });
  cur.items.ForEach([&](std::string_view item, uint64_t n) { merged[std::string(item)].cur = n + cur_offset; });
  const double ref_total = static_cast<double>(ref.items.total_weight());
  const double cur_total = static_cast<double>(cur.items.total_weight());

  struct Column {
    std::string value;
    double ref, cur, weight;
  };
  std::vector<Column> columns;
  columns.reserve(merged.size());
  for (const auto& [value, c] : merged) {
    const double r = static_cast<double>(c.ref), k = static_cast<double>(c.cur);
    columns.push_back({value, r, k, r / ref_total + k / cur_total});
  }
  // The most important categories of either side first; ties by value for stable output.
  std::sort(columns.begin(), columns.end(), [](const Column& a, const Column& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.value < b.value;
  });
  if (columns.size() > options.max_categories) columns.resize(options.max_categories);
  double ref_kept = 0, cur_kept = 0;
  for (const Column& c : columns) {
    ref_kept += c.ref;
    cur_kept += c.cur;
  }
  const double ref_other = std::max(0.0, ref_total - ref_kept), cur_other = std::max(0.0, cur_total - cur_kept);
  if (ref_other > 0 || cur_other > 0) columns.push_back({std::string(kOtherCategory), ref_other, cur_other, 0});

  std::vector<double> rp, cp;
  for (const Column& c : columns) {
    rp.push_back(c.ref);
    cp.push_back(c.cur);
    out.categories.push_back({c.value, c.ref / ref_total, c.cur / cur_total});
  }
  const DriftThresholds& t = spec.thresholds;
  results.push_back(JudgeScore(DriftMethod::kJensenShannon, JensenShannonDistance(rp, cp), t));
  results.push_back(JudgeScore(DriftMethod::kPsi, Psi(rp, cp), t));

  // Chi-squared with Cochran's pooling of sparse categories.
  const double n = ref_total + cur_total, smaller = std::min(ref_total, cur_total);
  std::vector<double> ref_row, cur_row;
  double pooled_ref = 0, pooled_cur = 0;
  for (const Column& c : columns) {
    if ((c.ref + c.cur) * smaller / n < 5) {
      pooled_ref += c.ref;
      pooled_cur += c.cur;
    } else {
      ref_row.push_back(c.ref);
      cur_row.push_back(c.cur);
    }
  }
  if (pooled_ref > 0 || pooled_cur > 0) {
    ref_row.push_back(pooled_ref);
    cur_row.push_back(pooled_cur);
  }
  const TestResult chi = ChiSquaredHomogeneity({ref_row, cur_row});
  MethodResult chi_result = JudgeScore(DriftMethod::kChiSquared, chi.p_value, t);
  chi_result.statistic = chi.statistic;
  chi_result.dof = chi.dof;
  results.push_back(chi_result);
}

void CompareVector(const FeatureSpec& spec, const VectorProfile& ref, const VectorProfile& cur, FeatureDrift& out,
                   std::vector<MethodResult>& results) {
  const DriftThresholds& t = spec.thresholds;
  // Each dimension is judged like a numeric feature: normed Wasserstein for large references,
  // the (sketch-error-adjusted) KS test for small ones.
  const bool small = ref.count <= spec.small_sample_max;
  double dot = 0, ref_norm2 = 0, cur_norm2 = 0, dist2 = 0;
  size_t drifted_dims = 0;
  for (size_t d = 0; d < ref.dims.size(); ++d) {
    const double a = ref.moments[d].mean, b = cur.moments[d].mean;
    dot += a * b;
    ref_norm2 += a * a;
    cur_norm2 += b * b;
    dist2 += (a - b) * (a - b);
    const KllSortedView rv = ref.dims[d].View(), cv = cur.dims[d].View();
    if (small) {
      const TestResult ks = KolmogorovSmirnov(rv, cv, ref.dims[d].RankErrorBound(), cur.dims[d].RankErrorBound());
      if (ks.p_value < t.ks_p_value) ++drifted_dims;
    } else {
      const double norm = std::max(ref.moments[d].StdDev(), kMinNorm);
      if (WassersteinDistance(rv, cv) / norm >= t.dimension_wasserstein_normed) ++drifted_dims;
    }
  }
  out.reference_centroid_norm = std::sqrt(ref_norm2);
  out.current_centroid_norm = std::sqrt(cur_norm2);
  MethodResult share = JudgeScore(DriftMethod::kShareDriftedDims,
                                  static_cast<double>(drifted_dims) / static_cast<double>(ref.dims.size()), t);
  share.statistic = static_cast<double>(drifted_dims);
  results.push_back(share);
  const double cosine = ref_norm2 > 0 && cur_norm2 > 0 ? 1 - dot / std::sqrt(ref_norm2 * cur_norm2) : kNaN;
  results.push_back(JudgeScore(DriftMethod::kCosineDistance, cosine, t));
  results.push_back(JudgeScore(DriftMethod::kEuclideanDistance, std::sqrt(dist2), t));
}

}  // namespace

MethodResult JudgeScore(DriftMethod method, double score, const DriftThresholds& thresholds) {
  MethodResult r;
  r.method = method;
  r.score = score;
  r.threshold = thresholds.For(method);
  r.warn_threshold = thresholds.WarnFor(method);
  if (std::isnan(score)) return r;
  bool warn = false;
  if (IsPValueMethod(method)) {
    r.drifted = score < r.threshold;
    warn = !std::isnan(r.warn_threshold) && score < r.warn_threshold;
  } else {
    r.drifted = score >= r.threshold;
    warn = !std::isnan(r.warn_threshold) && score >= r.warn_threshold;
  }
  r.status = r.drifted ? DriftStatus::kAlert : warn ? DriftStatus::kWarn : DriftStatus::kOk;
  return r;
}

FeatureDrift CompareFeature(const FeatureSpec& spec, const FeatureProfile& reference, const FeatureProfile& current,
                            const CompareOptions& options) {
  FeatureDrift out;
  out.feature = spec.name;
  out.kind = spec.kind;
  out.dim = spec.dim;
  out.quality = current.quality;
  out.reference_count = reference.count();
  out.current_count = current.count();
  out.decision_method = DecisionMethod(spec, out.reference_count);
  if (out.reference_count == 0) {
    out.note = "the reference holds no values for this feature";
    return out;
  }
  if (out.current_count < std::max<uint64_t>(options.min_current_count, 1)) {
    out.note = "the current window holds " + std::to_string(out.current_count) + " values, fewer than " +
               std::to_string(std::max<uint64_t>(options.min_current_count, 1));
    return out;
  }
  std::vector<MethodResult> results;
  if (const auto* rn = std::get_if<NumericProfile>(&reference.data)) {
    CompareNumeric(spec, *rn, std::get<NumericProfile>(current.data), out, results);
  } else if (const auto* rc = std::get_if<CategoricalProfile>(&reference.data)) {
    CompareCategorical(spec, *rc, std::get<CategoricalProfile>(current.data), options, out, results);
  } else {
    CompareVector(spec, std::get<VectorProfile>(reference.data), std::get<VectorProfile>(current.data), out, results);
  }
  // The decision method first, the rest in their fixed order.
  std::stable_partition(results.begin(), results.end(),
                        [&](const MethodResult& m) { return m.method == out.decision_method; });
  out.methods = std::move(results);
  out.evaluated = true;
  const MethodResult& decision = out.methods.front();
  out.drifted = decision.drifted;
  out.status = decision.status;
  // PSI is always reported; its warn / alert level raises an otherwise quiet feature to warn.
  if (const MethodResult* psi = out.Find(DriftMethod::kPsi);
      psi != nullptr && out.status == DriftStatus::kOk && psi->status != DriftStatus::kOk) {
    out.status = DriftStatus::kWarn;
  }
  return out;
}

}  // namespace shelfwatch::monitor::drift
