// A PromQL subset: parser and evaluator with Prometheus 2.42's semantics, over any
// SeriesStore (the embedded MetricHistory, or an InMemorySeriesStore in tests).
//
// Supported (everything else is refused with a parse error naming it):
//   selectors      metric{label="v", l!="v", l=~"re", l!~"re"}, {__name__=~"..."}; [range];
//                  offset d (also negative); durations ms s m h d w y, combined ("1h30m")
//   literals       numbers (1, 1.5, 1e3, 0x1f, Inf, NaN); parentheses; comments (# ...)
//   functions      rate irate increase delta idelta, avg_/sum_/min_/max_/count_/last_over_time,
//                  histogram_quantile, abs ceil floor sqrt exp ln log2 log10 sgn,
//                  clamp clamp_min clamp_max, time vector scalar absent
//   aggregations   sum avg min max count group stddev stdvar, by (...) / without (...),
//                  before or after the argument
//   binary         ^ * / % + - == != > < >= <= (with bool), and or unless, with Prometheus'
//                  precedence and associativity; scalar/scalar, vector/scalar, vector/vector
//                  with on(...) / ignoring(...) and group_left(...) / group_right(...)
//   unary          - and +
// Not supported: subqueries, @, string literals, topk/bottomk/quantile/count_values,
// label_replace/label_join, native histograms.
//
// Semantics follow Prometheus 2.42 exactly where implemented (and are checked against the real
// Prometheus on the same data in tests/prometheus_compat_test.cpp): instant selectors take the
// newest sample in [t - lookback, t] (lookback 5 m) unless it is a stale marker; range
// selectors take the samples in [t - range, t] minus stale markers; rate/increase/delta
// extrapolate as promql/functions.go extrapolatedRate; histogram_quantile interpolates
// linearly within buckets as promql/quantile.go bucketQuantile; functions, arithmetic and
// aggregations drop the metric name; vector matching and its errors are those of
// promql/engine.go VectorBinop.
//
// Thread-safety: a parsed Expr is immutable and may be evaluated by many threads at once;
// each Eval call is independent.
// Cost: a query first selects each selector's series once over the whole window, then
// evaluates step by step: O(steps x series x log(samples)) for selectors, O(samples in range)
// per range function, with label sets computed once per distinct input series.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "monitor/history/labels.h"
#include "monitor/history/series_store.h"

namespace shelfwatch::monitor {

enum class ValueType { kScalar, kVector, kMatrix };
// Prometheus' words: "scalar", "instant vector", "range vector".
std::string_view ValueTypeName(ValueType type);
// The API's resultType: "scalar", "vector", "matrix".
std::string_view ResultTypeName(ValueType type);

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kMod, kPow, kEq, kNe, kGt, kLt, kGe, kLe, kAnd, kOr, kUnless };
std::string_view BinaryOpText(BinaryOp op);
bool IsComparison(BinaryOp op);
bool IsSetOperator(BinaryOp op);

enum class AggregateOp { kSum, kAvg, kMin, kMax, kCount, kGroup, kStddev, kStdvar };

enum class Function {
  kRate, kIrate, kIncrease, kDelta, kIdelta,
  kAvgOverTime, kSumOverTime, kMinOverTime, kMaxOverTime, kCountOverTime, kLastOverTime,
  kHistogramQuantile,
  kAbs, kCeil, kFloor, kSqrt, kExp, kLn, kLog2, kLog10, kSgn,
  kClamp, kClampMin, kClampMax,
  kTime, kVector, kScalar, kAbsent,
};

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  bool on = false;                        // on(...) rather than ignoring(...)
  std::vector<std::string> labels;        // sorted
  std::vector<std::string> include;       // group_left/group_right(...) labels
};

struct Expr {
  enum class Kind { kNumber, kVectorSelector, kMatrixSelector, kCall, kAggregate, kBinary, kUnaryMinus, kParen };

  Kind kind = Kind::kNumber;
  size_t pos = 0;  // byte offset of the expression's first character in the query

  double number = 0;  // kNumber

  // kVectorSelector / kMatrixSelector
  std::string metric_name;             // "" when given only by matchers
  std::vector<LabelMatcher> matchers;  // includes __name__="metric_name" when named
  int64_t range_ms = 0;                // kMatrixSelector
  int64_t offset_ms = 0;

  Function func = Function::kTime;  // kCall

  // kAggregate
  AggregateOp agg = AggregateOp::kSum;
  std::vector<std::string> grouping;  // sorted
  bool without = false;

  // kBinary
  BinaryOp op = BinaryOp::kAdd;
  bool return_bool = false;
  VectorMatching matching;

  // kCall: the arguments; kAggregate: the vector; kBinary: lhs, rhs; kUnaryMinus, kParen: operand.
  std::vector<std::unique_ptr<Expr>> args;

  ValueType type() const;
};

// Parses a query. Errors are InvalidArgument with Prometheus' shape:
// "1:9: parse error: unexpected <op>" (line:column, 1-based, columns in bytes).
Result<std::shared_ptr<const Expr>> ParsePromql(std::string_view query);

// The expression with every operation parenthesised, for tests and logs:
// "((a + (b * c)) > bool 1)".
std::string FormatExpr(const Expr& expr);

struct QueryOptions {
  int64_t lookback_delta_ms = 5 * 60 * 1000;  // Prometheus' --query.lookback-delta default
  // Samples a query may hold (selected + produced), like --query.max-samples (50,000,000).
  size_t max_samples = 50'000'000;
  int64_t timeout_ms = 2 * 60 * 1000;  // like --query.timeout
};

struct ResultSeries {
  LabelsPtr labels;
  std::vector<Sample> samples;
};

struct QueryResult {
  ValueType type = ValueType::kVector;
  // kVector: one sample per series at the evaluation time; kMatrix: the series' samples.
  // Sorted by labels.
  std::vector<ResultSeries> series;
  Sample scalar;  // kScalar
};

// Errors: InvalidArgument (parse / type errors: the query is wrong), FailedPrecondition
// (execution errors on this data: many-to-many matching, duplicate label sets),
// ResourceExhausted (max_samples), DeadlineExceeded (timeout).
Result<QueryResult> EvalInstant(const SeriesStore& store, const Expr& expr, int64_t t_ms,
                                const QueryOptions& options = {});
// Steps start, start + step, ... <= end. A scalar expression gives one series with no labels;
// a range-vector expression is refused (InvalidArgument), as in Prometheus.
Result<QueryResult> EvalRange(const SeriesStore& store, const Expr& expr, int64_t start_ms, int64_t end_ms,
                              int64_t step_ms, const QueryOptions& options = {});

// Parses then evaluates.
Result<QueryResult> EvalInstant(const SeriesStore& store, std::string_view query, int64_t t_ms,
                                const QueryOptions& options = {});
Result<QueryResult> EvalRange(const SeriesStore& store, std::string_view query, int64_t start_ms,
                              int64_t end_ms, int64_t step_ms, const QueryOptions& options = {});

// A PromQL duration ("5m", "1h30m", "250ms", "2d"; units y w d h m s ms in that order) in
// milliseconds; InvalidArgument otherwise.
Result<int64_t> ParsePromqlDuration(std::string_view text);

}  // namespace shelfwatch::monitor
