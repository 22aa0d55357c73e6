#include "monitor/drift/drift_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace shelfwatch::monitor::drift {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Series for P(a, x), good for x < a + 1: P = e^-x x^a / Gamma(a + 1) * sum_n x^n / ((a+1)..(a+n)).
double GammaSeries(double a, double x) {
  double term = 1.0 / a, sum = term, ap = a;
  for (int n = 0; n < 1000; ++n) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (std::abs(term) < std::abs(sum) * 1e-16) break;
  }
  return sum * std::exp(-x + a * std::log(x) - LogGamma(a));
}

// Continued fraction for Q(a, x), good for x >= a + 1, by the modified Lentz method.
double GammaContinuedFraction(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16) break;
  }
  return std::exp(-x + a * std::log(x) - LogGamma(a)) * h;
}

std::vector<double> Normalized(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  std::vector<double> out(v.size(), 0.0);
  if (!(sum > 0)) return out;
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] / sum;
  return out;
}

}  // namespace

double LogGamma(double x) {
  if (!(x > 0)) return kNaN;
  static constexpr double kCoefficients[9] = {
      0.99999999999980993,  676.5203681218851,     -1259.1392167224028,
      771.32342877765313,   -176.61502916214059,   12.507343278686905,
      -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
  if (x < 0.5) {
    // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
    return std::log(std::numbers::pi / std::sin(std::numbers::pi * x)) - LogGamma(1 - x);
  }
  x -= 1;
  double sum = kCoefficients[0];
  for (int i = 1; i < 9; ++i) sum += kCoefficients[i] / (x + i);
  const double t = x + 7.5;  // x + g + 1/2 with g = 7
  return 0.5 * std::log(2 * std::numbers::pi) + (x + 0.5) * std::log(t) - t + std::log(sum);
}

double RegularizedGammaP(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isnan(x)) return kNaN;
  if (x == 0) return 0;
  if (std::isinf(x)) return 1;
  return x < a + 1 ? GammaSeries(a, x) : 1 - GammaContinuedFraction(a, x);
}

double RegularizedGammaQ(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isnan(x)) return kNaN;
  if (x == 0) return 1;
  if (std::isinf(x)) return 0;
  return x < a + 1 ? 1 - GammaSeries(a, x) : GammaContinuedFraction(a, x);
}

double ChiSquaredSurvival(double statistic, double dof) {
  if (!(dof > 0)) return kNaN;
  if (!(statistic > 0)) return 1;
  return RegularizedGammaQ(dof / 2, statistic / 2);
}

double KolmogorovSurvival(double lambda) {
  if (std::isnan(lambda)) return kNaN;
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    const double y = std::exp(-std::numbers::pi * std::numbers::pi / (8 * lambda * lambda));
    // sum_j y^((2j-1)^2): y + y^9 + y^25 + y^49 (y <= 0.41 here, so four terms reach 1e-16).
    const double y2 = y * y, y8 = y2 * y2 * y2 * y2;
    const double sum = y * (1 + y8 * (1 + y8 * y8 * (1 + y8 * y8 * y8)));
    return std::clamp(1 - std::sqrt(2 * std::numbers::pi) / lambda * sum, 0.0, 1.0);
  }
  const double x = std::exp(-2 * lambda * lambda);
  // 2 (x - x^4 + x^9 - x^16 + ...), x <= 0.062 here.
  double sum = 0, sign = 1;
  for (int j = 1; j <= 20; ++j) {
    const double term = std::pow(x, static_cast<double>(j) * j);
    sum += sign * term;
    if (term < 1e-17) break;
    sign = -sign;
  }
  return std::clamp(2 * sum, 0.0, 1.0);
}

double KolmogorovSmirnovPValue(double d, uint64_t n, uint64_t m) {
  if (n == 0 || m == 0) return 1;
  const double ne = static_cast<double>(n) * static_cast<double>(m) / (static_cast<double>(n) + static_cast<double>(m));
  const double root = std::sqrt(ne);
  return KolmogorovSurvival((root + 0.12 + 0.11 / root) * d);
}

TestResult KolmogorovSmirnov(const KllSortedView& a, const KllSortedView& b, double rank_error_a,
                             double rank_error_b) {
  TestResult r;
  if (a.empty() || b.empty()) return r;
  // Walk the merged breakpoints; both CDFs are right-continuous steps, so the supremum is
  // reached at a breakpoint.
  const auto& va = a.values();
  const auto& vb = b.values();
  const double na = static_cast<double>(a.count()), nb = static_cast<double>(b.count());
  size_t i = 0, j = 0;
  double fa = 0, fb = 0, d = 0;
  while (i < va.size() || j < vb.size()) {
    const double x = j == vb.size() || (i < va.size() && va[i] <= vb[j]) ? va[i] : vb[j];
    while (i < va.size() && va[i] <= x) fa = static_cast<double>(a.cumulative()[i++]) / na;
    while (j < vb.size() && vb[j] <= x) fb = static_cast<double>(b.cumulative()[j++]) / nb;
    d = std::max(d, std::abs(fa - fb));
  }
  r.statistic = d;
  r.p_value = KolmogorovSmirnovPValue(std::max(0.0, d - rank_error_a - rank_error_b), a.count(), b.count());
  return r;
}

TestResult ChiSquaredHomogeneity(const std::vector<std::vector<double>>& table) {
  TestResult r;
  if (table.empty()) return r;
  size_t cols = 0;
  for (const auto& row : table) cols = std::max(cols, row.size());
  std::vector<double> row_total(table.size(), 0), col_total(cols, 0);
  double n = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    for (size_t j = 0; j < table[i].size(); ++j) {
      row_total[i] += table[i][j];
      col_total[j] += table[i][j];
      n += table[i][j];
    }
  }
  if (!(n > 0)) return r;
  const auto live_rows = std::count_if(row_total.begin(), row_total.end(), [](double t) { return t > 0; });
  const auto live_cols = std::count_if(col_total.begin(), col_total.end(), [](double t) { return t > 0; });
  double x2 = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    for (size_t j = 0; j < cols; ++j) {
      const double expected = row_total[i] * col_total[j] / n;
      if (expected <= 0) continue;
      const double observed = j < table[i].size() ? table[i][j] : 0;
      x2 += (observed - expected) * (observed - expected) / expected;
    }
  }
  r.statistic = x2;
  r.dof = static_cast<double>((live_rows - 1) * (live_cols - 1));
  r.p_value = r.dof > 0 ? ChiSquaredSurvival(x2, r.dof) : 1;
  return r;
}

double WassersteinDistance(const KllSortedView& a, const KllSortedView& b) {
  if (a.empty() || b.empty()) return kNaN;
  const auto& va = a.values();
  const auto& vb = b.values();
  const double na = static_cast<double>(a.count()), nb = static_cast<double>(b.count());
  size_t i = 0, j = 0;
  double fa = 0, fb = 0, area = 0, prev = 0;
  bool started = false;
  while (i < va.size() || j < vb.size()) {
    const double x = j == vb.size() || (i < va.size() && va[i] <= vb[j]) ? va[i] : vb[j];
    // Between the previous breakpoint and x both CDFs are flat.
    if (started) area += std::abs(fa - fb) * (x - prev);
    while (i < va.size() && va[i] <= x) fa = static_cast<double>(a.cumulative()[i++]) / na;
    while (j < vb.size() && vb[j] <= x) fb = static_cast<double>(b.cumulative()[j++]) / nb;
    prev = x;
    started = true;
  }
  return area;
}

double Psi(const std::vector<double>& expected, const std::vector<double>& actual, double epsilon) {
  const std::vector<double> e = Normalized(expected), a = Normalized(actual);
  double psi = 0;
  for (size_t i = 0; i < std::min(e.size(), a.size()); ++i) {
    const double ei = std::max(e[i], epsilon), ai = std::max(a[i], epsilon);
    psi += (ai - ei) * std::log(ai / ei);
  }
  return psi;
}

double JensenShannonDistance(const std::vector<double>& p_in, const std::vector<double>& q_in) {
  const std::vector<double> p = Normalized(p_in), q = Normalized(q_in);
  double sp = 0, sq = 0;
  for (double x : p) sp += x;
  for (double x : q) sq += x;
  if (!(sp > 0) || !(sq > 0)) return kNaN;
  double jsd = 0;
  for (size_t i = 0; i < std::min(p.size(), q.size()); ++i) {
    const double m = (p[i] + q[i]) / 2;
    if (p[i] > 0) jsd += 0.5 * p[i] * std::log2(p[i] / m);
    if (q[i] > 0) jsd += 0.5 * q[i] * std::log2(q[i] / m);
  }
  return std::sqrt(std::clamp(jsd, 0.0, 1.0));
}

std::vector<double> QuantileBinEdges(const KllSortedView& reference, size_t bins) {
  std::vector<double> edges;
  if (reference.empty() || bins < 2) return edges;
  for (size_t i = 1; i < bins; ++i) {
    const double edge = reference.Quantile(static_cast<double>(i) / static_cast<double>(bins));
    if (edges.empty() || edge > edges.back()) edges.push_back(edge);
  }
  return edges;
}

std::vector<double> BinFractions(const KllSortedView& view, const std::vector<double>& edges) {
  std::vector<double> out(edges.size() + 1, 0.0);
  if (view.empty()) return out;
  double below = 0;
  for (size_t i = 0; i < edges.size(); ++i) {
    const double rank = view.Rank(edges[i]);
    out[i] = rank - below;
    below = rank;
  }
  out[edges.size()] = 1 - below;
  return out;
}

}  // namespace shelfwatch::monitor::drift
