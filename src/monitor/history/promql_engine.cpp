// PromQL evaluation, step by step. Each query selects every selector's series once over its
// whole window, then evaluates the tree at each step. Semantics, formulas and error messages
// follow Prometheus 2.42 (promql/engine.go, functions.go, quantile.go); the code is our own.
// Where a formula is subtle the comment names the Prometheus function it mirrors.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.h"
#include "monitor/history/promql.h"

namespace shelfwatch::monitor {
namespace {

struct VecElem {
  LabelsPtr labels;
  double v;
};
using Vec = std::vector<VecElem>;

struct RangeElem {
  LabelsPtr labels;
  const Sample* begin;
  const Sample* end;
  size_t series;  // index of the series in its selector's data (stable across steps)
};

struct StepValue {
  ValueType type = ValueType::kVector;
  double scalar = 0;
  Vec vec;
  std::vector<RangeElem> mat;
};

struct SelectorData {
  std::vector<LabelsPtr> labels;
  // Instant selectors keep stale markers (they end a series); range selectors drop them.
  std::vector<std::vector<Sample>> samples;
};

struct PtrPairHash {
  size_t operator()(const std::pair<const LabelSet*, const LabelSet*>& p) const {
    return std::hash<const void*>()(p.first) * 31 + std::hash<const void*>()(p.second);
  }
};

// What a node remembers across steps. Every key's LabelsPtr is held in the value, so an
// address is never reused by another label set while it is a key.
struct NodeMemo {
  struct Derived {
    LabelsPtr in, out;
  };
  std::unordered_map<const LabelSet*, Derived> derived;  // drop-name, grouping output, ...
  struct Sig {
    LabelsPtr in;
    std::string sig;
  };
  std::unordered_map<const LabelSet*, Sig> sigs;
  struct Pair {
    LabelsPtr a, b, out;
  };
  std::unordered_map<std::pair<const LabelSet*, const LabelSet*>, Pair, PtrPairHash> pairs;
  std::unordered_map<std::string, LabelsPtr> by_key;
  // Output label set -> the input series that produced it (cross-step duplicate check).
  std::unordered_map<LabelSet, LabelsPtr, LabelSetHash> produced_by;
  std::unordered_map<const LabelSet*, Derived> produced_ptr;  // output -> {input, output}
  // histogram_quantile: per input series, its group key and bucket bound.
  struct Bucket {
    LabelsPtr in;
    std::string key;
    double le;
    bool ok;
  };
  std::unordered_map<const LabelSet*, Bucket> buckets;
  LabelsPtr absent_labels;
  // Range functions: output labels per selector series index, set when it first produces.
  std::vector<LabelsPtr> range_out;
};

const LabelsPtr& EmptyLabels() {
  static const LabelsPtr kEmpty = std::make_shared<const LabelSet>();
  return kEmpty;
}

// Go's math.Max / math.Min: NaN wins, and +0 > -0.
double GoMax(double x, double y) {
  if (std::isinf(x) && x > 0) return x;
  if (std::isinf(y) && y > 0) return y;
  if (std::isnan(x) || std::isnan(y)) return std::nan("");
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}
double GoMin(double x, double y) {
  if (std::isinf(x) && x < 0) return x;
  if (std::isinf(y) && y < 0) return y;
  if (std::isnan(x) || std::isnan(y)) return std::nan("");
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

// Go's strconv.ParseFloat for `le` label values: decimal, hex float, +-Inf/Infinity, NaN.
bool ParseGoFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  bool neg = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  std::string lower;
  for (char c : body) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "inf" || lower == "infinity") {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "nan") {
    *out = std::nan("");
    return true;
  }
  if (body.empty() || body[0] == '+' || body[0] == '-') return false;
  double v = 0;
  std::from_chars_result r;
  if (lower.size() > 2 && lower[0] == '0' && lower[1] == 'x') {
    if (lower.find('p') == std::string::npos) return false;  // Go needs the p exponent
    r = std::from_chars(body.data() + 2, body.data() + body.size(), v, std::chars_format::hex);
  } else {
    r = std::from_chars(body.data(), body.data() + body.size(), v);
  }
  if (r.ec != std::errc() || r.ptr != body.data() + body.size()) return false;
  *out = neg ? -v : v;
  return true;
}

struct Bucket {
  double upper;
  double count;
};

// promql/quantile.go bucketQuantile (Prometheus 2.42): linear interpolation within the bucket
// holding the rank; the lowest bucket starts at 0 unless its bound is <= 0; a rank in the
// +Inf bucket returns the highest finite bound; no +Inf bucket or no observations gives NaN;
// buckets with equal bounds are merged and counts are forced monotonic.
double BucketQuantile(double q, std::vector<Bucket> buckets) {
  if (std::isnan(q)) return std::nan("");
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(buckets.begin(), buckets.end(), [](const Bucket& a, const Bucket& b) { return a.upper < b.upper; });
  if (!(std::isinf(buckets.back().upper) && buckets.back().upper > 0)) return std::nan("");
  // Coalesce equal bounds.
  std::vector<Bucket> merged;
  for (const Bucket& b : buckets) {
    if (!merged.empty() && merged.back().upper == b.upper) {
      merged.back().count += b.count;
    } else {
      merged.push_back(b);
    }
  }
  // Monotonic counts (a scrape racing with observations can break it).
  double max = -std::numeric_limits<double>::infinity();
  for (Bucket& b : merged) {
    if (b.count > max) {
      max = b.count;
    } else if (b.count < max) {
      b.count = max;
    }
  }
  if (merged.size() < 2) return std::nan("");
  const double observations = merged.back().count;
  if (observations == 0) return std::nan("");
  double rank = q * observations;
  // First bucket (among all but +Inf) whose count reaches the rank.
  size_t b = 0;
  while (b < merged.size() - 1 && !(merged[b].count >= rank)) ++b;
  if (b == merged.size() - 1) return merged[merged.size() - 2].upper;
  if (b == 0 && merged[0].upper <= 0) return merged[0].upper;
  double bucket_start = 0;
  const double bucket_end = merged[b].upper;
  double count = merged[b].count;
  if (b > 0) {
    bucket_start = merged[b - 1].upper;
    count -= merged[b - 1].count;
    rank -= merged[b - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

// promql/functions.go extrapolatedRate (Prometheus 2.42), for rate, increase and delta:
// the increase between the first and last sample in the window (adding back the value before
// each counter reset), extrapolated to the window's boundaries when the first/last sample lies
// within 1.1x the average sample interval of them, else by half an interval; a counter is not
// extrapolated below zero. Needs two samples.
bool ExtrapolatedRate(const Sample* begin, const Sample* end, int64_t range_start, int64_t range_end,
                      int64_t range_ms, bool is_counter, bool is_rate, double* out) {
  const size_t n = static_cast<size_t>(end - begin);
  if (n < 2) return false;
  const Sample& first = *begin;
  const Sample& last = *(end - 1);
  double result = last.v - first.v;
  if (is_counter) {
    double prev = first.v;
    for (const Sample* p = begin + 1; p != end; ++p) {
      if (p->v < prev) result += prev;
      prev = p->v;
    }
  }
  double duration_to_start = static_cast<double>(first.t - range_start) / 1000;
  const double duration_to_end = static_cast<double>(range_end - last.t) / 1000;
  const double sampled_interval = static_cast<double>(last.t - first.t) / 1000;
  const double average_interval = sampled_interval / static_cast<double>(n - 1);
  if (is_counter && result > 0 && first.v >= 0) {
    const double duration_to_zero = sampled_interval * (first.v / result);
    if (duration_to_zero < duration_to_start) duration_to_start = duration_to_zero;
  }
  const double threshold = average_interval * 1.1;
  double extrapolate_to = sampled_interval;
  extrapolate_to += duration_to_start < threshold ? duration_to_start : average_interval / 2;
  extrapolate_to += duration_to_end < threshold ? duration_to_end : average_interval / 2;
  double factor = extrapolate_to / sampled_interval;
  if (is_rate) factor /= static_cast<double>(range_ms) / 1000;
  *out = result * factor;
  return true;
}

// promql/functions.go instantValue: irate / idelta from the last two samples.
bool InstantValue(const Sample* begin, const Sample* end, bool is_rate, double* out) {
  if (end - begin < 2) return false;
  const Sample& last = *(end - 1);
  const Sample& prev = *(end - 2);
  double result = (is_rate && last.v < prev.v) ? last.v : last.v - prev.v;
  const int64_t interval = last.t - prev.t;
  if (interval == 0) return false;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  *out = result;
  return true;
}

// Incremental mean as in Prometheus' avg_over_time and avg (avoids overflow of a plain sum),
// keeping an infinite mean once reached.
struct RunningMean {
  double mean = 0;
  double count = 0;
  void Add(double v) {
    count++;
    if (std::isinf(mean)) {
      if (std::isinf(v) && (mean > 0) == (v > 0)) return;
      if (!std::isinf(v) && !std::isnan(v)) return;
    }
    mean += v / count - mean / count;
  }
};

bool OverTime(Function f, const Sample* begin, const Sample* end, double* out) {
  if (begin == end) return false;
  switch (f) {
    case Function::kAvgOverTime: {
      RunningMean m;
      for (const Sample* p = begin; p != end; ++p) m.Add(p->v);
      *out = m.mean;
      return true;
    }
    case Function::kSumOverTime: {
      double sum = 0;
      for (const Sample* p = begin; p != end; ++p) sum += p->v;
      *out = sum;
      return true;
    }
    case Function::kCountOverTime: *out = static_cast<double>(end - begin); return true;
    case Function::kMaxOverTime: {
      double max = begin->v;
      for (const Sample* p = begin; p != end; ++p) {
        if (p->v > max || std::isnan(max)) max = p->v;
      }
      *out = max;
      return true;
    }
    case Function::kMinOverTime: {
      double min = begin->v;
      for (const Sample* p = begin; p != end; ++p) {
        if (p->v < min || std::isnan(min)) min = p->v;
      }
      *out = min;
      return true;
    }
    case Function::kLastOverTime: *out = (end - 1)->v; return true;
    default: return false;
  }
}

double SimpleMath(Function f, double v) {
  switch (f) {
    case Function::kAbs: return std::fabs(v);
    case Function::kCeil: return std::ceil(v);
    case Function::kFloor: return std::floor(v);
    case Function::kSqrt: return std::sqrt(v);
    case Function::kExp: return std::exp(v);
    case Function::kLn: return std::log(v);
    case Function::kLog2: return std::log2(v);
    case Function::kLog10: return std::log10(v);
    case Function::kSgn: return v < 0 ? -1 : v > 0 ? 1 : v;
    default: return v;
  }
}

// promql/engine.go vectorElemBinop: arithmetic value, or for comparisons the lhs and whether
// the comparison holds.
double ElemBinop(BinaryOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinaryOp::kAdd: return l + r;
    case BinaryOp::kSub: return l - r;
    case BinaryOp::kMul: return l * r;
    case BinaryOp::kDiv: return l / r;
    case BinaryOp::kPow: return std::pow(l, r);
    case BinaryOp::kMod: return std::fmod(l, r);
    case BinaryOp::kEq: *keep = l == r; return l;
    case BinaryOp::kNe: *keep = l != r; return l;
    case BinaryOp::kGt: *keep = l > r; return l;
    case BinaryOp::kLt: *keep = l < r; return l;
    case BinaryOp::kGe: *keep = l >= r; return l;
    case BinaryOp::kLe: *keep = l <= r; return l;
    default: *keep = false; return 0;
  }
}

bool DropsMetricName(BinaryOp op) {
  return op == BinaryOp::kAdd || op == BinaryOp::kSub || op == BinaryOp::kMul || op == BinaryOp::kDiv ||
         op == BinaryOp::kMod || op == BinaryOp::kPow;
}

const Expr& Unparen(const Expr& e) {
  const Expr* x = &e;
  while (x->kind == Expr::Kind::kParen) x = x->args[0].get();
  return *x;
}

Status ExecutionError(std::string msg) { return Status(ErrorCode::kFailedPrecondition, std::move(msg)); }

// "vector cannot contain metrics with the same labelset", checked per step like
// Prometheus' rangeEval.
Status CheckUniqueLabels(const Vec& vec) {
  if (vec.size() < 2) return Status::Ok();
  std::vector<std::pair<uint64_t, size_t>> hashes;
  hashes.reserve(vec.size());
  for (size_t i = 0; i < vec.size(); ++i) hashes.emplace_back(vec[i].labels->hash(), i);
  std::sort(hashes.begin(), hashes.end());
  for (size_t i = 1; i < hashes.size(); ++i) {
    for (size_t j = i; j > 0 && hashes[j - 1].first == hashes[i].first; --j) {
      if (*vec[hashes[j - 1].second].labels == *vec[hashes[i].second].labels) {
        return ExecutionError("vector cannot contain metrics with the same labelset");
      }
    }
  }
  return Status::Ok();
}

class Evaluator {
 public:
  Evaluator(const SeriesStore& store, const QueryOptions& options, int64_t start, int64_t end)
      : store_(store), options_(options), start_(start), end_(end),
        deadline_(MonotonicNanos() + options.timeout_ms * 1000000) {}

  // Selects the series of every selector in the tree over the query's whole window.
  Status Prepare(const Expr& e) {
    for (const auto& a : e.args) SW_RETURN_IF_ERROR(Prepare(*a));
    if (e.kind != Expr::Kind::kVectorSelector && e.kind != Expr::Kind::kMatrixSelector) return Status::Ok();
    const bool matrix = e.kind == Expr::Kind::kMatrixSelector;
    const int64_t back = matrix ? e.range_ms : options_.lookback_delta_ms;
    std::vector<StoredSeries> found;
    SW_RETURN_IF_ERROR(store_.Select(e.matchers, start_ - e.offset_ms - back, end_ - e.offset_ms, &found));
    SelectorData& data = selectors_[&e];
    for (auto& s : found) {
      if (matrix) {
        std::erase_if(s.samples, [](const Sample& x) { return IsStaleNaN(x.v); });
      }
      if (s.samples.empty()) continue;
      SW_RETURN_IF_ERROR(CountSamples(s.samples.size()));
      data.labels.push_back(std::move(s.labels));
      data.samples.push_back(std::move(s.samples));
    }
    return Status::Ok();
  }

  Status CountSamples(size_t n) {
    samples_ += n;
    if (samples_ > options_.max_samples) {
      return Status(ErrorCode::kResourceExhausted,
                    "query processing would load too many samples into memory in query execution");
    }
    return Status::Ok();
  }

  Status CheckDeadline() const {
    if (MonotonicNanos() > deadline_) {
      return Status(ErrorCode::kDeadlineExceeded, "query timed out in expression evaluation");
    }
    return Status::Ok();
  }

  Status Eval(const Expr& e, int64_t t, StepValue* out) {
    switch (e.kind) {
      case Expr::Kind::kNumber:
        out->type = ValueType::kScalar;
        out->scalar = e.number;
        return Status::Ok();
      case Expr::Kind::kParen: return Eval(*e.args[0], t, out);
      case Expr::Kind::kVectorSelector: EvalVectorSelector(e, t, out); return Status::Ok();
      case Expr::Kind::kMatrixSelector: EvalMatrixSelector(e, t, out); return Status::Ok();
      case Expr::Kind::kCall: return EvalCall(e, t, out);
      case Expr::Kind::kAggregate: return EvalAggregate(e, t, out);
      case Expr::Kind::kBinary: return EvalBinary(e, t, out);
      case Expr::Kind::kUnaryMinus: return EvalUnaryMinus(e, t, out);
    }
    return Internal("unknown expression kind");
  }

 private:
  // Newest sample in [ref - lookback, ref], unless it is a stale marker
  // (engine.go vectorSelectorSingle).
  void EvalVectorSelector(const Expr& e, int64_t t, StepValue* out) {
    out->type = ValueType::kVector;
    const SelectorData& d = selectors_[&e];
    const int64_t ref = t - e.offset_ms;
    for (size_t i = 0; i < d.samples.size(); ++i) {
      const auto& s = d.samples[i];
      auto it = std::upper_bound(s.begin(), s.end(), ref, [](int64_t x, const Sample& y) { return x < y.t; });
      if (it == s.begin()) continue;
      --it;
      if (it->t < ref - options_.lookback_delta_ms || IsStaleNaN(it->v)) continue;
      out->vec.push_back({d.labels[i], it->v});
    }
  }

  // Samples in [ref - range, ref], stale markers excluded (engine.go matrixIterSlice, 2.x).
  void EvalMatrixSelector(const Expr& e, int64_t t, StepValue* out) {
    out->type = ValueType::kMatrix;
    const SelectorData& d = selectors_[&e];
    const int64_t ref = t - e.offset_ms;
    for (size_t i = 0; i < d.samples.size(); ++i) {
      const auto& s = d.samples[i];
      auto lo = std::lower_bound(s.begin(), s.end(), ref - e.range_ms,
                                 [](const Sample& x, int64_t y) { return x.t < y; });
      auto hi = std::upper_bound(lo, s.end(), ref, [](int64_t x, const Sample& y) { return x < y.t; });
      if (lo == hi) continue;
      out->mat.push_back({d.labels[i], &*lo, &*lo + (hi - lo), i});
    }
  }

  LabelsPtr DropName(NodeMemo& memo, const LabelsPtr& in) {
    if (in->MetricName().empty()) return in;
    auto it = memo.derived.find(in.get());
    if (it != memo.derived.end()) return it->second.out;
    auto out = std::make_shared<const LabelSet>(in->WithoutMetricName());
    memo.derived.emplace(in.get(), NodeMemo::Derived{in, out});
    return out;
  }

  const std::string& Signature(NodeMemo& memo, const LabelsPtr& in, const VectorMatching& m) {
    auto it = memo.sigs.find(in.get());
    if (it == memo.sigs.end()) {
      it = memo.sigs.emplace(in.get(), NodeMemo::Sig{in, MatchingSignature(*in, m.labels, m.on)}).first;
    }
    return it->second.sig;
  }

  // For functions over ranges and unary minus Prometheus checks the whole result matrix for
  // equal label sets; two input series mapping to one output is an error even at different
  // steps.
  Status NoteProduced(NodeMemo& memo, const LabelsPtr& out, const LabelsPtr& in) {
    // Fast path: this output label set (pointers are memoised) already came from this input.
    auto fast = memo.produced_ptr.find(out.get());
    if (fast != memo.produced_ptr.end() && fast->second.in.get() == in.get()) return Status::Ok();
    auto it = memo.produced_by.find(*out);
    if (it == memo.produced_by.end()) {
      memo.produced_by.emplace(*out, in);
    } else if (it->second.get() != in.get() && !(*it->second == *in)) {
      return ExecutionError("vector cannot contain metrics with the same labelset");
    }
    memo.produced_ptr[out.get()] = NodeMemo::Derived{in, out};
    return Status::Ok();
  }

  Status EvalScalarArg(const Expr& e, int64_t t, double* v) {
    StepValue s;
    SW_RETURN_IF_ERROR(Eval(e, t, &s));
    *v = s.scalar;
    return Status::Ok();
  }

  Status EvalCall(const Expr& e, int64_t t, StepValue* out) {
    NodeMemo& memo = memos_[&e];
    out->type = ValueType::kVector;
    switch (e.func) {
      case Function::kTime:
        out->type = ValueType::kScalar;
        out->scalar = static_cast<double>(t) / 1000;
        return Status::Ok();
      case Function::kVector: {
        double v = 0;
        SW_RETURN_IF_ERROR(EvalScalarArg(*e.args[0], t, &v));
        out->vec.push_back({EmptyLabels(), v});
        return Status::Ok();
      }
      case Function::kScalar: {
        StepValue in;
        SW_RETURN_IF_ERROR(Eval(*e.args[0], t, &in));
        out->type = ValueType::kScalar;
        out->scalar = in.vec.size() == 1 ? in.vec[0].v : std::nan("");
        return Status::Ok();
      }
      case Function::kAbsent: {
        StepValue in;
        SW_RETURN_IF_ERROR(Eval(*e.args[0], t, &in));
        if (!in.vec.empty()) return Status::Ok();
        if (!memo.absent_labels) memo.absent_labels = AbsentLabels(*e.args[0]);
        out->vec.push_back({memo.absent_labels, 1});
        return Status::Ok();
      }
      case Function::kHistogramQuantile: return EvalHistogramQuantile(e, t, memo, out);
      case Function::kClamp:
      case Function::kClampMin:
      case Function::kClampMax: {
        StepValue in;
        SW_RETURN_IF_ERROR(Eval(*e.args[0], t, &in));
        double a = 0, b = 0;
        SW_RETURN_IF_ERROR(EvalScalarArg(*e.args[1], t, &a));
        if (e.func == Function::kClamp) {
          SW_RETURN_IF_ERROR(EvalScalarArg(*e.args[2], t, &b));
          if (b < a) return Status::Ok();  // clamp with max < min: empty (functions.go funcClamp)
        }
        for (const auto& el : in.vec) {
          double v = el.v;
          if (e.func == Function::kClamp) v = GoMax(a, GoMin(b, v));
          if (e.func == Function::kClampMin) v = GoMax(a, v);
          if (e.func == Function::kClampMax) v = GoMin(a, v);
          out->vec.push_back({DropName(memo, el.labels), v});
        }
        return CheckUniqueLabels(out->vec);
      }
      case Function::kAbs:
      case Function::kCeil:
      case Function::kFloor:
      case Function::kSqrt:
      case Function::kExp:
      case Function::kLn:
      case Function::kLog2:
      case Function::kLog10:
      case Function::kSgn: {
        StepValue in;
        SW_RETURN_IF_ERROR(Eval(*e.args[0], t, &in));
        for (const auto& el : in.vec) out->vec.push_back({DropName(memo, el.labels), SimpleMath(e.func, el.v)});
        return CheckUniqueLabels(out->vec);
      }
      default: return EvalRangeFunction(e, t, memo, out);
    }
  }

  Status EvalRangeFunction(const Expr& e, int64_t t, NodeMemo& memo, StepValue* out) {
    const Expr& sel = Unparen(*e.args[0]);
    StepValue in;
    SW_RETURN_IF_ERROR(Eval(sel, t, &in));
    const int64_t range_end = t - sel.offset_ms;
    const int64_t range_start = range_end - sel.range_ms;
    for (const RangeElem& r : in.mat) {
      double v = 0;
      bool ok = false;
      switch (e.func) {
        case Function::kRate:
          ok = ExtrapolatedRate(r.begin, r.end, range_start, range_end, sel.range_ms, true, true, &v);
          break;
        case Function::kIncrease:
          ok = ExtrapolatedRate(r.begin, r.end, range_start, range_end, sel.range_ms, true, false, &v);
          break;
        case Function::kDelta:
          ok = ExtrapolatedRate(r.begin, r.end, range_start, range_end, sel.range_ms, false, false, &v);
          break;
        case Function::kIrate: ok = InstantValue(r.begin, r.end, true, &v); break;
        case Function::kIdelta: ok = InstantValue(r.begin, r.end, false, &v); break;
        default: ok = OverTime(e.func, r.begin, r.end, &v); break;
      }
      if (!ok) continue;
      if (memo.range_out.size() <= r.series) memo.range_out.resize(r.series + 1);
      LabelsPtr& labels = memo.range_out[r.series];
      if (!labels) {
        // last_over_time keeps the metric name; every other range function drops it.
        labels = e.func == Function::kLastOverTime ? r.labels : DropName(memo, r.labels);
        SW_RETURN_IF_ERROR(NoteProduced(memo, labels, r.labels));
      }
      out->vec.push_back({labels, v});
    }
    return Status::Ok();
  }

  // functions.go createLabelsForAbsentFunction: the equality matchers' labels of a selector,
  // except the metric name and any label matched more than once.
  static LabelsPtr AbsentLabels(const Expr& arg) {
    const Expr& sel = Unparen(arg);
    if (sel.kind != Expr::Kind::kVectorSelector) return EmptyLabels();
    std::vector<Label> labels;
    std::vector<std::string> drop;
    for (const auto& m : sel.matchers) {
      if (m.name() == kMetricNameLabel) continue;
      const bool seen = std::any_of(labels.begin(), labels.end(), [&](const Label& l) { return l.first == m.name(); });
      if (m.op() == MatchOp::kEqual && !seen) {
        labels.emplace_back(m.name(), m.value());
      } else {
        drop.push_back(m.name());
      }
    }
    return std::make_shared<const LabelSet>(LabelSet(std::move(labels)).Without(drop, false));
  }

  // functions.go funcHistogramQuantile: buckets grouped by all labels but le (the metric name
  // included), the output keeping the group's labels without le and the metric name. Series
  // without a parseable le are skipped.
  Status EvalHistogramQuantile(const Expr& e, int64_t t, NodeMemo& memo, StepValue* out) {
    double q = 0;
    SW_RETURN_IF_ERROR(EvalScalarArg(*e.args[0], t, &q));
    StepValue in;
    SW_RETURN_IF_ERROR(Eval(*e.args[1], t, &in));
    std::unordered_map<std::string, size_t> group_of;
    std::vector<std::pair<LabelsPtr, std::vector<Bucket>>> groups;
    for (const auto& el : in.vec) {
      auto it = memo.buckets.find(el.labels.get());
      if (it == memo.buckets.end()) {
        NodeMemo::Bucket b{el.labels, "", 0, false};
        b.ok = ParseGoFloat(el.labels->Get("le"), &b.le);
        for (const auto& [n, v] : el.labels->labels()) {
          if (n == "le") continue;
          b.key += n;
          b.key += '\xfe';
          b.key += v;
          b.key += '\xff';
        }
        it = memo.buckets.emplace(el.labels.get(), std::move(b)).first;
      }
      const NodeMemo::Bucket& b = it->second;
      if (!b.ok) continue;
      auto [g, inserted] = group_of.emplace(b.key, groups.size());
      if (inserted) {
        LabelsPtr& group_labels = memo.by_key[b.key];
        if (!group_labels) {
          group_labels = std::make_shared<const LabelSet>(el.labels->Without({"le"}, /*also_metric_name=*/true));
        }
        groups.emplace_back(group_labels, std::vector<Bucket>{});
      }
      groups[g->second].second.push_back({b.le, el.v});
    }
    for (auto& [labels, buckets] : groups) out->vec.push_back({labels, BucketQuantile(q, std::move(buckets))});
    return CheckUniqueLabels(out->vec);
  }

  // engine.go aggregation: groups by the `by` labels (or all but the `without` labels and the
  // metric name), values combined in input order.
  Status EvalAggregate(const Expr& e, int64_t t, StepValue* out) {
    NodeMemo& memo = memos_[&e];
    StepValue in;
    SW_RETURN_IF_ERROR(Eval(*e.args[0], t, &in));
    out->type = ValueType::kVector;
    struct Group {
      LabelsPtr labels;
      double value = 0;
      double mean = 0;
      double count = 0;
      RunningMean running;
    };
    std::vector<Group> groups;
    std::unordered_map<const LabelSet*, size_t> index;  // output labels -> group
    for (const auto& el : in.vec) {
      auto it = memo.derived.find(el.labels.get());
      if (it == memo.derived.end()) {
        const std::string sig = MatchingSignature(*el.labels, e.grouping, !e.without);
        LabelsPtr& out_labels = memo.by_key[sig];
        if (!out_labels) {
          out_labels = std::make_shared<const LabelSet>(e.without ? el.labels->Without(e.grouping, true)
                                                                  : el.labels->Keep(e.grouping));
        }
        it = memo.derived.emplace(el.labels.get(), NodeMemo::Derived{el.labels, out_labels}).first;
      }
      const LabelsPtr& group_labels = it->second.out;
      auto [g, inserted] = index.emplace(group_labels.get(), groups.size());
      const double v = el.v;
      if (inserted) {
        Group grp;
        grp.labels = group_labels;
        grp.value = (e.agg == AggregateOp::kStddev || e.agg == AggregateOp::kStdvar) ? 0 : v;
        grp.mean = v;
        grp.count = 1;
        grp.running.Add(v);
        groups.push_back(std::move(grp));
        continue;
      }
      Group& grp = groups[g->second];
      switch (e.agg) {
        case AggregateOp::kSum: grp.value += v; break;
        case AggregateOp::kAvg: grp.count++; grp.running.Add(v); break;
        case AggregateOp::kMax:
          if (grp.value < v || std::isnan(grp.value)) grp.value = v;
          break;
        case AggregateOp::kMin:
          if (grp.value > v || std::isnan(grp.value)) grp.value = v;
          break;
        case AggregateOp::kCount:
        case AggregateOp::kGroup: grp.count++; break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          // Welford's online variance, as Prometheus' stddev/stdvar.
          grp.count++;
          const double delta = v - grp.mean;
          grp.mean += delta / grp.count;
          grp.value += delta * (v - grp.mean);
          break;
        }
      }
    }
    for (Group& g : groups) {
      double v = g.value;
      switch (e.agg) {
        case AggregateOp::kAvg: v = g.running.mean; break;
        case AggregateOp::kCount: v = g.count; break;
        case AggregateOp::kGroup: v = 1; break;
        case AggregateOp::kStdvar: v = g.value / g.count; break;
        case AggregateOp::kStddev: v = std::sqrt(g.value / g.count); break;
        default: break;
      }
      out->vec.push_back({g.labels, v});
    }
    return Status::Ok();
  }

  Status EvalUnaryMinus(const Expr& e, int64_t t, StepValue* out) {
    SW_RETURN_IF_ERROR(Eval(*e.args[0], t, out));
    if (out->type == ValueType::kScalar) {
      out->scalar = -out->scalar;
      return Status::Ok();
    }
    NodeMemo& memo = memos_[&e];
    for (auto& el : out->vec) {
      LabelsPtr dropped = DropName(memo, el.labels);
      SW_RETURN_IF_ERROR(NoteProduced(memo, dropped, el.labels));
      el.labels = std::move(dropped);
      el.v = -el.v;
    }
    return Status::Ok();
  }

  Status EvalBinary(const Expr& e, int64_t t, StepValue* out) {
    StepValue l, r;
    SW_RETURN_IF_ERROR(Eval(*e.args[0], t, &l));
    SW_RETURN_IF_ERROR(Eval(*e.args[1], t, &r));
    NodeMemo& memo = memos_[&e];
    if (l.type == ValueType::kScalar && r.type == ValueType::kScalar) {
      bool keep = false;
      double v = ElemBinop(e.op, l.scalar, r.scalar, &keep);
      if (IsComparison(e.op)) v = keep ? 1 : 0;  // the parser requires bool here
      out->type = ValueType::kScalar;
      out->scalar = v;
      return Status::Ok();
    }
    out->type = ValueType::kVector;
    if (l.type == ValueType::kScalar || r.type == ValueType::kScalar) {
      const bool swap = l.type == ValueType::kScalar;
      const Vec& vec = swap ? r.vec : l.vec;
      const double scalar = swap ? l.scalar : r.scalar;
      VectorScalar(e, memo, vec, scalar, swap, out);
      return CheckUniqueLabels(out->vec);
    }
    if (IsSetOperator(e.op)) {
      SetOperation(e, memo, l.vec, r.vec, out);
      return CheckUniqueLabels(out->vec);
    }
    SW_RETURN_IF_ERROR(VectorVector(e, memo, l.vec, r.vec, out));
    return CheckUniqueLabels(out->vec);
  }

  // engine.go VectorscalarBinop.
  void VectorScalar(const Expr& e, NodeMemo& memo, const Vec& vec, double scalar, bool swap, StepValue* out) {
    const bool drop = DropsMetricName(e.op) || e.return_bool;
    for (const auto& el : vec) {
      double lv = el.v, rv = scalar;
      if (swap) std::swap(lv, rv);
      bool keep = false;
      double v = ElemBinop(e.op, lv, rv, &keep);
      // A comparison keeps the vector's value, even when the scalar is on the left.
      if (IsComparison(e.op) && swap) v = rv;
      if (e.return_bool) {
        v = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      out->vec.push_back({drop ? DropName(memo, el.labels) : el.labels, v});
    }
  }

  // engine.go VectorAnd / VectorOr / VectorUnless.
  void SetOperation(const Expr& e, NodeMemo& memo, const Vec& lhs, const Vec& rhs, StepValue* out) {
    const VectorMatching& m = e.matching;
    if (e.op == BinaryOp::kOr) {
      std::unordered_set<std::string> left;
      for (const auto& el : lhs) {
        left.insert(Signature(memo, el.labels, m));
        out->vec.push_back(el);
      }
      for (const auto& el : rhs) {
        if (!left.count(Signature(memo, el.labels, m))) out->vec.push_back(el);
      }
      return;
    }
    std::unordered_set<std::string> right;
    for (const auto& el : rhs) right.insert(Signature(memo, el.labels, m));
    const bool want = e.op == BinaryOp::kAnd;
    for (const auto& el : lhs) {
      if ((right.count(Signature(memo, el.labels, m)) > 0) == want) out->vec.push_back(el);
    }
  }

  // engine.go resultMetric: the many side's labels (the lhs for one-to-one) less the metric
  // name for arithmetic, reduced to the on() labels or less the ignoring() labels for
  // one-to-one, plus the group_x labels taken from the one side.
  LabelsPtr ResultMetric(NodeMemo& memo, const Expr& e, const LabelsPtr& lhs, const LabelsPtr& rhs) {
    const auto key = std::make_pair(lhs.get(), rhs.get());
    auto it = memo.pairs.find(key);
    if (it != memo.pairs.end()) return it->second.out;
    const VectorMatching& m = e.matching;
    LabelSet out = *lhs;
    if (DropsMetricName(e.op)) out = out.WithoutMetricName();
    if (m.card == Cardinality::kOneToOne) out = m.on ? out.Keep(m.labels) : out.Without(m.labels, false);
    for (const auto& name : m.include) out = out.With(name, rhs->Get(name));
    if (e.return_bool) out = out.WithoutMetricName();
    auto ptr = std::make_shared<const LabelSet>(std::move(out));
    memo.pairs.emplace(key, NodeMemo::Pair{lhs, rhs, ptr});
    return ptr;
  }

  // engine.go VectorBinop: one-to-one and many-to-one / one-to-many matching.
  Status VectorVector(const Expr& e, NodeMemo& memo, const Vec& lhs_in, const Vec& rhs_in, StepValue* out) {
    const VectorMatching& m = e.matching;
    if (lhs_in.empty() || rhs_in.empty()) return Status::Ok();  // nothing can match
    const bool swap = m.card == Cardinality::kOneToMany;
    const Vec& lhs = swap ? rhs_in : lhs_in;  // the "many" side (or lhs for one-to-one)
    const Vec& rhs = swap ? lhs_in : rhs_in;  // the "one" side
    std::unordered_map<std::string_view, const VecElem*> right;
    for (const auto& el : rhs) {
      const std::string& sig = Signature(memo, el.labels, m);
      auto [it, inserted] = right.emplace(sig, &el);
      if (!inserted) {
        return ExecutionError("found duplicate series for the match group " + SignatureText(*el.labels, m) +
                              " on the " + (swap ? "left" : "right") + " hand-side of the operation: [" +
                              el.labels->ToString() + ", " + it->second->labels->ToString() +
                              "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
    }
    std::unordered_map<std::string_view, std::unordered_set<const LabelSet*>> matched;
    std::unordered_set<std::string_view> matched_one_to_one;
    for (const auto& ls : lhs) {
      const std::string& sig = Signature(memo, ls.labels, m);
      auto rit = right.find(sig);
      if (rit == right.end()) continue;
      const VecElem& rs = *rit->second;
      double lv = ls.v, rv = rs.v;
      if (swap) std::swap(lv, rv);
      bool keep = false;
      double v = ElemBinop(e.op, lv, rv, &keep);
      if (e.return_bool) {
        v = keep ? 1 : 0;
      } else if (!keep) {
        continue;
      }
      LabelsPtr metric = ResultMetric(memo, e, ls.labels, rs.labels);
      if (m.card == Cardinality::kOneToOne) {
        if (!matched_one_to_one.insert(sig).second) {
          return ExecutionError(
              "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
        }
      } else {
        auto& set = matched[sig];
        // Distinct output label sets share a pointer (ResultMetric memoises per input pair), so
        // compare by value through the output vector when pointers differ.
        for (const LabelSet* seen : set) {
          if (*seen == *metric) {
            return ExecutionError("multiple matches for labels: grouping labels must ensure unique matches");
          }
        }
        set.insert(metric.get());
      }
      out->vec.push_back({std::move(metric), v});
    }
    return Status::Ok();
  }

  static std::string SignatureText(const LabelSet& labels, const VectorMatching& m) {
    return (m.on ? labels.Keep(m.labels) : labels.Without(m.labels, true)).ToString();
  }

  const SeriesStore& store_;
  const QueryOptions& options_;
  const int64_t start_, end_;
  const int64_t deadline_;
  size_t samples_ = 0;
  std::unordered_map<const Expr*, SelectorData> selectors_;
  std::unordered_map<const Expr*, NodeMemo> memos_;
};

// Collects per-step vectors into series keyed by label set.
class MatrixBuilder {
 public:
  void Add(const LabelsPtr& labels, int64_t t, double v) {
    auto it = by_ptr_.find(labels.get());
    size_t idx;
    if (it != by_ptr_.end()) {
      idx = it->second;
    } else {
      auto [vit, inserted] = by_value_.emplace(*labels, series_.size());
      if (inserted) series_.push_back({labels, {}});
      idx = vit->second;
      by_ptr_.emplace(labels.get(), idx);
      keep_alive_.push_back(labels);
    }
    series_[idx].samples.push_back({t, v});
  }
  std::vector<ResultSeries> Take() { return std::move(series_); }

 private:
  std::vector<ResultSeries> series_;
  std::unordered_map<const LabelSet*, size_t> by_ptr_;
  std::unordered_map<LabelSet, size_t, LabelSetHash> by_value_;
  std::vector<LabelsPtr> keep_alive_;
};

void SortByLabels(std::vector<ResultSeries>* series) {
  std::sort(series->begin(), series->end(),
            [](const ResultSeries& a, const ResultSeries& b) { return *a.labels < *b.labels; });
}

}  // namespace

Result<QueryResult> EvalInstant(const SeriesStore& store, const Expr& expr, int64_t t_ms, const QueryOptions& options) {
  Evaluator ev(store, options, t_ms, t_ms);
  SW_RETURN_IF_ERROR(ev.Prepare(expr));
  StepValue v;
  SW_RETURN_IF_ERROR(ev.Eval(expr, t_ms, &v));
  QueryResult result;
  result.type = v.type;
  switch (v.type) {
    case ValueType::kScalar: result.scalar = {t_ms, v.scalar}; break;
    case ValueType::kVector:
      SW_RETURN_IF_ERROR(ev.CountSamples(v.vec.size()));
      for (auto& el : v.vec) result.series.push_back({std::move(el.labels), {{t_ms, el.v}}});
      break;
    case ValueType::kMatrix:
      for (auto& r : v.mat) {
        SW_RETURN_IF_ERROR(ev.CountSamples(static_cast<size_t>(r.end - r.begin)));
        result.series.push_back({std::move(r.labels), std::vector<Sample>(r.begin, r.end)});
      }
      break;
  }
  SortByLabels(&result.series);
  return result;
}

Result<QueryResult> EvalRange(const SeriesStore& store, const Expr& expr, int64_t start_ms, int64_t end_ms,
                              int64_t step_ms, const QueryOptions& options) {
  if (expr.type() == ValueType::kMatrix) {
    return InvalidArgument("invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
  }
  if (step_ms <= 0) return InvalidArgument("zero or negative query resolution step widths are not accepted");
  if (end_ms < start_ms) return InvalidArgument("end timestamp must not be before start time");
  Evaluator ev(store, options, start_ms, end_ms);
  SW_RETURN_IF_ERROR(ev.Prepare(expr));
  MatrixBuilder matrix;
  for (int64_t t = start_ms; t <= end_ms; t += step_ms) {
    SW_RETURN_IF_ERROR(ev.CheckDeadline());
    StepValue v;
    SW_RETURN_IF_ERROR(ev.Eval(expr, t, &v));
    if (v.type == ValueType::kScalar) {
      matrix.Add(EmptyLabels(), t, v.scalar);
      SW_RETURN_IF_ERROR(ev.CountSamples(1));
      continue;
    }
    SW_RETURN_IF_ERROR(ev.CountSamples(v.vec.size()));
    for (const auto& el : v.vec) matrix.Add(el.labels, t, el.v);
  }
  QueryResult result;
  result.type = ValueType::kMatrix;
  result.series = matrix.Take();
  SortByLabels(&result.series);
  return result;
}

Result<QueryResult> EvalInstant(const SeriesStore& store, std::string_view query, int64_t t_ms,
                                const QueryOptions& options) {
  auto expr = ParsePromql(query);
  if (!expr.ok()) return expr.status();
  return EvalInstant(store, **expr, t_ms, options);
}

Result<QueryResult> EvalRange(const SeriesStore& store, std::string_view query, int64_t start_ms, int64_t end_ms,
                              int64_t step_ms, const QueryOptions& options) {
  auto expr = ParsePromql(query);
  if (!expr.ok()) return expr.status();
  return EvalRange(store, **expr, start_ms, end_ms, step_ms, options);
}

}  // namespace shelfwatch::monitor
