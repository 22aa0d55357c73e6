#include "text/char_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace shelfwatch::text {
namespace {

std::string Filtered(std::string_view in) {
  std::string out;
  return FilterChars(in, &out) ? out : std::string(in);
}

TEST(CharFilterTest, DecodesHtmlEntitiesFromCatalogTitles) {
  EXPECT_EQ(Filtered("Briggs &amp; Stratton"), "Briggs & Stratton");
  EXPECT_EQ(Filtered("Men&#39;s Large"), "Men's Large");
  EXPECT_EQ(Filtered("Keeper 20' x 2&quot; x 7000 lbs."), "Keeper 20' x 2\" x 7000 lbs.");
  EXPECT_EQ(Filtered("caf&#xE9; &#233;"), "caf\xC3\xA9 \xC3\xA9");
}

TEST(CharFilterTest, LeavesUnknownOrBrokenEntitiesAlone) {
  std::string out;
  EXPECT_FALSE(FilterChars("plain ascii text", &out));
  EXPECT_EQ(Filtered("AT&T & co"), "AT&T & co");
  EXPECT_EQ(Filtered("&bogus; &#; &#xZZ; &#0; &#55296; &#99999999;"),
            "&bogus; &#; &#xZZ; &#0; &#55296; &#99999999;");
  EXPECT_EQ(Filtered("trailing &"), "trailing &");
}

TEST(CharFilterTest, MapsTypographicCharactersToWhatShoppersType) {
  EXPECT_EQ(Filtered("6\u2032 x 8\u2032"), "6' x 8'");
  EXPECT_EQ(Filtered("12\u2033"), "12\"");
  EXPECT_EQ(Filtered("men\u2019s"), "men's");
  EXPECT_EQ(Filtered("2\u00D74"), "2 x 4");
  EXPECT_EQ(Filtered("1\u20131/2"), "1-1/2");
  EXPECT_EQ(Filtered("Roundup\u2122 Weed"), "Roundup  Weed");
}

TEST(CharFilterTest, VulgarFractionsBecomeSlashFractions) {
  EXPECT_EQ(Filtered("\u00BD in."), "1/2 in.");
  EXPECT_EQ(Filtered("1\u00BD in."), "1 1/2 in.");
  EXPECT_EQ(Filtered("\u215D"), "5/8");
}

TEST(CharFilterTest, IllFormedUtf8PassesThrough) {
  EXPECT_EQ(Filtered("\xE2\x80"), "\xE2\x80");
  EXPECT_EQ(Filtered("\xC2"), "\xC2");
  EXPECT_EQ(Filtered("a\xC3\x28 &amp;"), "a\xC3\x28 &");
}

}  // namespace
}  // namespace shelfwatch::text
