// Client timestamps: RFC 3339 text in its permitted spellings, and epoch numbers in seconds or
// milliseconds, all to the same Unix milliseconds.
#include "feedback/timestamp.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace shelfwatch::feedback {
namespace {

TEST(ParseRfc3339Test, RoundTripsWhatTheServerFormats) {
  // FormatRfc3339Millis (common/clock.h) is an independent implementation of the same format.
  for (int64_t ms : {0LL, 946684800000LL, 951782400000LL /* 2000-02-29 */, 1764414846123LL, 4102444799999LL}) {
    const std::string text = FormatRfc3339Millis(ms);
    EXPECT_EQ(ParseRfc3339Millis(text), ms) << text;
  }
}

TEST(ParseRfc3339Test, OffsetsLowercaseSpacesAndFractions) {
  const int64_t utc = 1764414846123;  // 2025-11-29T11:14:06.123Z
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29T11:14:06.123Z"), utc);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29t11:14:06.123z"), utc);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29 11:14:06.123Z"), utc);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29T12:44:06.123+01:30"), utc);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29T03:14:06.123-08:00"), utc);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29T11:14:06.123999Z"), utc) << "microseconds truncate";
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29T11:14:06.1Z"), utc - 23);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-29T11:14:06Z"), utc - 123);
  EXPECT_EQ(ParseRfc3339Millis("2016-12-31T23:59:60Z"), ParseRfc3339Millis("2017-01-01T00:00:00Z"))
      << "a leap second is the next second's start";
}

TEST(ParseRfc3339Test, RejectsWhatIsNotADateTime) {
  for (const char* bad :
       {"", "2025-11-29", "2025-11-29T11:14:06", "2025-11-29T11:14Z", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "2025-04-31T00:00:00Z", "2025-11-29T24:00:00Z", "2025-11-29T11:60:00Z", "2025-11-29T11:14:06.Z",
        "2025-11-29T11:14:06+0100", "2025-11-29T11:14:06+24:00", "2025-11-29T11:14:06Zjunk", "25-11-29T11:14:06Z",
        "2025-11-29X11:14:06Z", "１９９９-11-29T11:14:06Z"}) {
    EXPECT_FALSE(ParseRfc3339Millis(bad).has_value()) << bad;
  }
  EXPECT_TRUE(ParseRfc3339Millis("2024-02-29T00:00:00Z").has_value()) << "2024 is a leap year";
}

TEST(EpochNumberTest, SecondsAndMillisecondsByMagnitude) {
  EXPECT_EQ(EpochNumberToMillis(1764414846), 1764414846000);
  EXPECT_EQ(EpochNumberToMillis(1764414846.25), 1764414846250);
  EXPECT_EQ(EpochNumberToMillis(1764414846123.0), 1764414846123);
  EXPECT_EQ(EpochNumberToMillis(99999999999.0), 99999999999000) << "just below 1e11 is seconds";
  EXPECT_EQ(EpochNumberToMillis(100000000000.0), 100000000000) << "1e11 and above is milliseconds";
  EXPECT_FALSE(EpochNumberToMillis(1e300).has_value());
  EXPECT_FALSE(EpochNumberToMillis(std::numeric_limits<double>::infinity()).has_value());
}

}  // namespace
}  // namespace shelfwatch::feedback
