// LabelSet identity and label matchers (anchored regexes, absent labels as "").
#include "monitor/history/labels.h"

#include <gtest/gtest.h>

namespace shelfwatch::monitor {
namespace {

TEST(LabelSetTest, SortsByNameAndDropsEmptyValues) {
  LabelSet l({{"route", "/v1/search"}, {"__name__", "requests_total"}, {"code", ""}, {"a", "1"}});
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l.labels()[0].first, "__name__");
  EXPECT_EQ(l.labels()[1].first, "a");
  EXPECT_EQ(l.labels()[2].first, "route");
  EXPECT_EQ(l.Get("code"), "");
  EXPECT_EQ(l.MetricName(), "requests_total");
  EXPECT_EQ(l.ToString(), "requests_total{a=\"1\", route=\"/v1/search\"}");
}

TEST(LabelSetTest, EqualSetsHashEquallyWhateverTheInputOrder) {
  LabelSet a({{"x", "1"}, {"y", "2"}});
  LabelSet b({{"y", "2"}, {"x", "1"}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  // Concatenation ambiguity must not collide: {a="bc"} vs {ab="c"}.
  EXPECT_NE(LabelSet(std::vector<Label>{{"a", "bc"}}).hash(), LabelSet(std::vector<Label>{{"ab", "c"}}).hash());
}

TEST(LabelSetTest, DerivedSets) {
  LabelSet l({{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}});
  EXPECT_EQ(l.WithoutMetricName().ToString(), "{a=\"1\", b=\"2\", c=\"3\"}");
  EXPECT_EQ(l.Keep({"c", "a"}).ToString(), "{a=\"1\", c=\"3\"}");
  EXPECT_EQ(l.Without({"b"}, true).ToString(), "{a=\"1\", c=\"3\"}");
  EXPECT_EQ(l.Without({"b"}, false).ToString(), "m{a=\"1\", c=\"3\"}");
  EXPECT_EQ(l.With("b", "9").Get("b"), "9");
  EXPECT_EQ(l.With("b", "").Get("b"), "");
  EXPECT_EQ(l.With("0", "z").labels()[0].first, "0");
}

TEST(LabelSetTest, MatchingSignatureOnAndIgnoring) {
  LabelSet x({{"__name__", "x"}, {"a", "1"}, {"b", "2"}});
  LabelSet y({{"__name__", "y"}, {"a", "1"}, {"b", "3"}});
  EXPECT_EQ(MatchingSignature(x, {"a"}, true), MatchingSignature(y, {"a"}, true));
  EXPECT_NE(MatchingSignature(x, {}, false), MatchingSignature(y, {}, false));
  EXPECT_EQ(MatchingSignature(x, {"b"}, false), MatchingSignature(y, {"b"}, false));  // name ignored too
}

TEST(LabelMatcherTest, RegexesAreFullyAnchored) {
  auto m = LabelMatcher::Make(MatchOp::kRegexMatch, "route", "/v1/s.*");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches("/v1/search"));
  EXPECT_FALSE(m->Matches("x/v1/search"));
  auto alt = LabelMatcher::Make(MatchOp::kRegexMatch, "code", "2..|500");
  ASSERT_TRUE(alt.ok());
  EXPECT_TRUE(alt->Matches("200"));
  EXPECT_TRUE(alt->Matches("500"));
  EXPECT_FALSE(alt->Matches("5000"));
  EXPECT_FALSE(alt->Matches("1200"));
  auto lit = LabelMatcher::Make(MatchOp::kRegexMatch, "a", "abc");
  EXPECT_TRUE(lit->Matches("abc"));
  EXPECT_FALSE(lit->Matches("abcd"));
}

TEST(LabelMatcherTest, AbsentLabelMatchesAsEmpty) {
  auto eq_empty = LabelMatcher::Make(MatchOp::kEqual, "a", "");
  EXPECT_TRUE(eq_empty->MatchesEmpty());
  auto ne = LabelMatcher::Make(MatchOp::kNotEqual, "a", "x");
  EXPECT_TRUE(ne->Matches(""));
  auto any = LabelMatcher::Make(MatchOp::kRegexMatch, "a", ".*");
  EXPECT_TRUE(any->Matches(""));
  auto some = LabelMatcher::Make(MatchOp::kRegexMatch, "a", ".+");
  EXPECT_FALSE(some->Matches(""));
  EXPECT_TRUE(some->Matches("x"));
  auto not_re = LabelMatcher::Make(MatchOp::kRegexNoMatch, "a", "x|y");
  EXPECT_TRUE(not_re->Matches("z"));
  EXPECT_FALSE(not_re->Matches("y"));
  EXPECT_TRUE(MatchesAll(LabelSet(std::vector<Label>{{"b", "1"}}), {*eq_empty, *ne}));
}

TEST(LabelMatcherTest, CaseInsensitiveFlagAndBadRegex) {
  auto m = LabelMatcher::Make(MatchOp::kRegexMatch, "a", "(?i)get");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches("GET"));
  EXPECT_TRUE(m->Matches("get"));
  auto bad = LabelMatcher::Make(MatchOp::kRegexMatch, "a", "(");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace shelfwatch::monitor
