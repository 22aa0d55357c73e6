// PromQL parser: precedence and associativity as Prometheus, literals, durations, and errors
// that name their position.
#include <gtest/gtest.h>

#include <cmath>

#include "monitor/history/promql.h"

namespace shelfwatch::monitor {
namespace {

std::string Canon(std::string_view q) {
  auto e = ParsePromql(q);
  if (!e.ok()) return "ERROR " + e.status().message();
  return FormatExpr(**e);
}

std::string ErrorOf(std::string_view q) {
  auto e = ParsePromql(q);
  return e.ok() ? "parsed: " + FormatExpr(**e) : e.status().message();
}

double NumberOf(std::string_view q) {
  auto e = ParsePromql(q);
  EXPECT_TRUE(e.ok()) << q;
  EXPECT_EQ((*e)->kind, Expr::Kind::kNumber) << q;
  return (*e)->number;
}

TEST(PromqlParserTest, PrecedenceFollowsPrometheus) {
  EXPECT_EQ(Canon("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(Canon("a * b + c"), "((a * b) + c)");
  EXPECT_EQ(Canon("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(Canon("a / b % c * d"), "(((a / b) % c) * d)");
  EXPECT_EQ(Canon("2 ^ 3 ^ 2"), "(2 ^ (3 ^ 2))");  // right-associative
  EXPECT_EQ(Canon("a * b ^ c"), "(a * (b ^ c))");
  EXPECT_EQ(Canon("a + b > c - d"), "((a + b) > (c - d))");
  EXPECT_EQ(Canon("a > b and c or d unless e"), "(((a > b) and c) or (d unless e))");
  EXPECT_EQ(Canon("a or b and c"), "(a or (b and c))");
  EXPECT_EQ(Canon("(a + b) * c"), "((a + b) * c)");
  EXPECT_EQ(Canon("a == bool b + 1"), "(a == bool (b + 1))");
}

TEST(PromqlParserTest, UnaryMinusBindsLikeMultiplication) {
  EXPECT_EQ(Canon("-a ^ 2"), "-(a ^ 2)");
  EXPECT_EQ(Canon("-a * b"), "(-a * b)");
  EXPECT_EQ(Canon("-a + b"), "(-a + b)");
  EXPECT_EQ(Canon("1 - -1"), "(1 - -1)");
  EXPECT_EQ(Canon("2 ^ -1"), "(2 ^ -1)");
  EXPECT_EQ(Canon("-1 ^ 2"), "-(1 ^ 2)");
  EXPECT_EQ(Canon("+a"), "a");
  EXPECT_EQ(NumberOf("-5"), -5);
}

TEST(PromqlParserTest, NumberLiterals) {
  EXPECT_EQ(NumberOf("1.5"), 1.5);
  EXPECT_EQ(NumberOf(".5"), 0.5);
  EXPECT_EQ(NumberOf("1e3"), 1000);
  EXPECT_EQ(NumberOf("2.5E-1"), 0.25);
  EXPECT_EQ(NumberOf("0x1f"), 31);
  EXPECT_EQ(NumberOf("010"), 8);  // Go's ParseInt(s, 0, 64): a leading 0 is octal
  EXPECT_EQ(NumberOf("09"), 9);
  EXPECT_TRUE(std::isinf(NumberOf("Inf")));
  EXPECT_TRUE(std::isinf(NumberOf("-inf")));
  EXPECT_TRUE(std::isnan(NumberOf("NaN")));
}

TEST(PromqlParserTest, SelectorsRangesAndOffsets) {
  auto e = ParsePromql("http_requests_total{route=~\"/v1/.*\", code!=\"200\"}[1h30m] offset -5m");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const Expr& x = **e;
  EXPECT_EQ(x.kind, Expr::Kind::kMatrixSelector);
  EXPECT_EQ(x.metric_name, "http_requests_total");
  ASSERT_EQ(x.matchers.size(), 3u);
  EXPECT_EQ(x.matchers[0].name(), "__name__");
  EXPECT_EQ(x.range_ms, 5'400'000);
  EXPECT_EQ(x.offset_ms, -300'000);
  EXPECT_EQ(Canon("x offset 1d"), "x offset 1d");
  EXPECT_EQ(Canon("{__name__=~\"a.*\"}[90s]"), "{__name__=~\"a.*\"}[1m30s]");
  EXPECT_EQ(Canon("rate(x[5m] offset 1w)"), "rate(x[5m] offset 1w)");
  EXPECT_EQ(Canon("a:b:c"), "a:b:c");
}

TEST(PromqlParserTest, StringEscapes) {
  auto e = ParsePromql(R"(x{a="q\"\n\\", b='s\'', c=`raw\n`, d="\u00e9\x41"})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const auto& m = (*e)->matchers;
  EXPECT_EQ(m[1].value(), "q\"\n\\");
  EXPECT_EQ(m[2].value(), "s'");
  EXPECT_EQ(m[3].value(), "raw\\n");
  EXPECT_EQ(m[4].value(), "\xc3\xa9" "A");
}

TEST(PromqlParserTest, AggregationsFunctionsAndMatching) {
  EXPECT_EQ(Canon("sum(x) by (b, a)"), "sum by (a, b) (x)");
  EXPECT_EQ(Canon("SUM WITHOUT (a) (x)"), "sum without (a) (x)");
  EXPECT_EQ(Canon("count by () (x)"), "count (x)");
  EXPECT_EQ(Canon("sum by (on, le,) (x)"), "sum by (le, on) (x)");
  EXPECT_EQ(Canon("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))"),
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))");
  EXPECT_EQ(Canon("a / on(job) group_left(team) b"), "(a / on(job) group_left(team) b)");
  EXPECT_EQ(Canon("a * ignoring(code) group_right b"), "(a * ignoring(code) group_right() b)");
  EXPECT_EQ(Canon("a > bool on(x) b"), "(a > bool on(x) b)");
  EXPECT_EQ(Canon("a and on() b"), "(a and on() b)");
  EXPECT_EQ(Canon("time() - 1 # a comment\n"), "(time() - 1)");
  EXPECT_EQ(Canon("clamp_min(x, 0)"), "clamp_min(x, 0)");
}

TEST(PromqlParserTest, TypesOfExpressions) {
  EXPECT_EQ((*ParsePromql("1 + 2"))->type(), ValueType::kScalar);
  EXPECT_EQ((*ParsePromql("x + 2"))->type(), ValueType::kVector);
  EXPECT_EQ((*ParsePromql("x[5m]"))->type(), ValueType::kMatrix);
  EXPECT_EQ((*ParsePromql("scalar(x)"))->type(), ValueType::kScalar);
  EXPECT_EQ((*ParsePromql("(x[5m])"))->type(), ValueType::kMatrix);
}

TEST(PromqlParserTest, ErrorsNameTheirPosition) {
  EXPECT_EQ(ErrorOf("a +"), "1:4: parse error: unexpected end of input");
  EXPECT_EQ(ErrorOf("rate(x)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector");
  EXPECT_EQ(ErrorOf("sum(x[5m])"),
            "1:5: parse error: expected type instant vector in aggregation expression, got range vector");
  EXPECT_EQ(ErrorOf("1 > 2"), "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(ErrorOf("x + y[5m]"),
            "1:1: parse error: binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(ErrorOf("{}"), "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(ErrorOf("foo{}"), "parsed: foo");
  EXPECT_EQ(ErrorOf("{a=\"\"}"), "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(ErrorOf("nope(x)"), "1:1: parse error: unknown function with name \"nope\"");
  EXPECT_EQ(ErrorOf("x[5m:1m]"), "1:5: parse error: subqueries are not supported");
  EXPECT_EQ(ErrorOf("(x)[5m]"), "1:1: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(ErrorOf("1 and 2"), "1:3: parse error: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(ErrorOf("x + on(a) 1"), "1:3: parse error: vector matching only allowed between instant vectors");
  EXPECT_EQ(ErrorOf("x and on(a) group_left y"), "1:13: parse error: no grouping allowed for \"and\" operation");
  EXPECT_EQ(ErrorOf("x offset 5m[1m]"), "1:12: parse error: no offset modifiers allowed before range");
  EXPECT_EQ(ErrorOf("sum(\n  x +\n)"), "3:1: parse error: unexpected \")\"");
  EXPECT_EQ(ErrorOf("foo{__name__=\"bar\"}"), "1:5: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
  EXPECT_EQ(ErrorOf("x[5]"), "1:3: parse error: unexpected number \"5\" in range selector, expected duration");
  EXPECT_EQ(ErrorOf("topk(3, x)"), "1:1: parse error: aggregation \"topk\" is not supported");
  EXPECT_EQ(ErrorOf("label_replace(x, \"a\", \"b\", \"c\", \"d\")"),
            "1:1: parse error: function \"label_replace\" is not supported");
  EXPECT_EQ(ErrorOf("x @ 100"), "1:3: parse error: the @ modifier is not supported");
  EXPECT_EQ(ErrorOf("\"str\""), "1:1: parse error: string literals are not supported");
  EXPECT_EQ(ErrorOf(""), "1:1: parse error: no expression found in input");
  EXPECT_EQ(ErrorOf("x + 5m"), "1:5: parse error: unexpected duration \"5m\"");
  EXPECT_EQ(ErrorOf("x{a=~\"(\"}"), ErrorOf("x{a=~\"(\"}"));
  EXPECT_NE(ErrorOf("x{a=~\"(\"}").find("1:6: parse error: invalid regular expression"), std::string::npos);
  EXPECT_EQ(ErrorOf("x + bool y"), "1:5: parse error: bool modifier can only be used on comparison operators");
  EXPECT_EQ(ErrorOf("clamp_min(x)"), "1:1: parse error: expected 2 argument(s) in call to \"clamp_min\", got 1");
  EXPECT_EQ(ErrorOf("x{a!\"b\"}"), "1:4: parse error: unexpected character after '!': '\"'");
  EXPECT_EQ(ErrorOf("x{a=\"b}"), "1:5: parse error: unterminated quoted string");
  EXPECT_EQ(ErrorOf("1 + $"), "1:5: parse error: unexpected character: '$'");
  EXPECT_EQ(ErrorOf("x by (a)"), "1:3: parse error: unexpected <by>");
  EXPECT_EQ(ErrorOf("x[1x]"), "1:3: parse error: bad number or duration syntax: \"1x\"");
  EXPECT_EQ(ErrorOf("-x[5m]"),
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"");
}

TEST(PromqlParserTest, Durations) {
  EXPECT_EQ(*ParsePromqlDuration("250ms"), 250);
  EXPECT_EQ(*ParsePromqlDuration("1h30m"), 5'400'000);
  EXPECT_EQ(*ParsePromqlDuration("2w"), 14LL * 86'400'000);
  EXPECT_EQ(*ParsePromqlDuration("1y"), 365LL * 86'400'000);
  EXPECT_EQ(*ParsePromqlDuration("0"), 0);
  EXPECT_FALSE(ParsePromqlDuration("30m1h").ok());  // units must decrease
  EXPECT_FALSE(ParsePromqlDuration("1.5m").ok());
  EXPECT_FALSE(ParsePromqlDuration("5").ok());
  EXPECT_FALSE(ParsePromqlDuration("").ok());
  EXPECT_FALSE(ParsePromqlDuration("99999999999999999999y").ok());
}

}  // namespace
}  // namespace shelfwatch::monitor
