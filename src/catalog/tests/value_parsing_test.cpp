#include "catalog/value_parsing.h"

#include <gtest/gtest.h>

namespace shelfwatch::catalog {
namespace {

double PriceOf(std::string_view text) {
  auto r = ParsePrice(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  EXPECT_TRUE(r.ok() && r->has_value()) << text;
  return r.ok() && r->has_value() ? **r : -1;
}

TEST(ParsePriceTest, AcceptsTheWaysShopsWritePrices) {
  EXPECT_DOUBLE_EQ(PriceOf("19.99"), 19.99);
  EXPECT_DOUBLE_EQ(PriceOf("$1,299.00"), 1299.0);
  EXPECT_DOUBLE_EQ(PriceOf("1299"), 1299.0);
  EXPECT_DOUBLE_EQ(PriceOf("1,299"), 1299.0);
  EXPECT_DOUBLE_EQ(PriceOf("12,345,678.5"), 12345678.5);
  EXPECT_DOUBLE_EQ(PriceOf(" $ 5 "), 5.0);
  EXPECT_DOUBLE_EQ(PriceOf("\xE2\x82\xAC" "12.50"), 12.5);  // €12.50
  EXPECT_DOUBLE_EQ(PriceOf("12.50 \xC2\xA3"), 12.5);        // 12.50 £
  EXPECT_DOUBLE_EQ(PriceOf("USD 5.25"), 5.25);
  EXPECT_DOUBLE_EQ(PriceOf("7 EUR"), 7.0);
  EXPECT_DOUBLE_EQ(PriceOf("0"), 0.0);
  EXPECT_DOUBLE_EQ(PriceOf(".99"), 0.99);
}

TEST(ParsePriceTest, EmptyMeansNoPrice) {
  auto r = ParsePrice("  ");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(ParsePriceTest, RejectsNonsenseAndAmbiguousDecimalCommas) {
  for (std::string_view bad : {"abc", "-5", "-$5", "NaN", "nan", "inf", "$", "10-20", "1e5", "1.2.3",
                               "1.299,00", "19,99", "1,2,3", "12,34.5", "1,2345", "Free", "USD"}) {
    auto r = ParsePrice(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find(std::string(bad)), std::string::npos)
          << "message should name the value: " << r.status().message();
    }
  }
  EXPECT_NE(ParsePrice("1.299,00").status().message().find("decimal comma"), std::string::npos);
  EXPECT_NE(ParsePrice("-5").status().message().find("negative"), std::string::npos);
}

TEST(ParseRatingTest, AcceptsZeroToTenOnly) {
  EXPECT_DOUBLE_EQ(**ParseRating("4.5"), 4.5);
  EXPECT_DOUBLE_EQ(**ParseRating("0"), 0.0);
  EXPECT_DOUBLE_EQ(**ParseRating(" 10 "), 10.0);
  EXPECT_FALSE(ParseRating("")->has_value());
  for (std::string_view bad : {"11", "-1", "nan", "inf", "4,5", "five", "4.5/5", "1e1", "."}) {
    EXPECT_FALSE(ParseRating(bad).ok()) << "accepted '" << bad << "'";
  }
}

TEST(SplitCategoryPathTest, SplitsOnTheFirstSeparatorKindPresent) {
  using Path = std::vector<std::string>;
  EXPECT_EQ(SplitCategoryPath("Tools > Power Tools > Drills"), (Path{"Tools", "Power Tools", "Drills"}));
  EXPECT_EQ(SplitCategoryPath("Home|Bath"), (Path{"Home", "Bath"}));
  EXPECT_EQ(SplitCategoryPath("Home/Bath/Towels"), (Path{"Home", "Bath", "Towels"}));
  // With '>' present, '/' is part of a name.
  EXPECT_EQ(SplitCategoryPath("Tools > 1/2 in. Bits"), (Path{"Tools", "1/2 in. Bits"}));
  EXPECT_EQ(SplitCategoryPath(" > A >> B > "), (Path{"A", "B"}));
  EXPECT_EQ(SplitCategoryPath("4690421"), (Path{"4690421"}));
  EXPECT_TRUE(SplitCategoryPath("  ").empty());
}

TEST(QuoteForMessageTest, EscapesWhatATerminalShouldNotSeeAndCutsLongValues) {
  EXPECT_EQ(QuoteForMessage("caf\xC3\xA9"), "'caf\xC3\xA9'");
  EXPECT_EQ(QuoteForMessage("Caf\xE9 x"), "'Caf\\xE9 x'");
  EXPECT_EQ(QuoteForMessage("a\nb\x01"), "'a\\nb\\x01'");
  std::string longest = QuoteForMessage(std::string(10'000, 'x'), 80);
  EXPECT_LE(longest.size(), 90u);
  EXPECT_EQ(longest.substr(longest.size() - 4), "...'");
  // Never cuts inside a multi-byte character.
  std::string chinese;
  for (int i = 0; i < 100; ++i) chinese += "\xE6\x97\xA0";  // 无
  std::string q = QuoteForMessage(chinese, 80);
  EXPECT_EQ(q.substr(q.size() - 4), "...'");
  EXPECT_EQ((q.size() - 5) % 3, 0u) << q;
}

}  // namespace
}  // namespace shelfwatch::catalog
