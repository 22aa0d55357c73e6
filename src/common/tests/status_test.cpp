#include "common/status.h"

#include <gtest/gtest.h>

namespace shelfwatch {
namespace {

TEST(StatusTest, CodesMapToHttpStatuses) {
  EXPECT_EQ(Status().http_status(), 200);
  EXPECT_EQ(InvalidArgument("k").http_status(), 400);
  EXPECT_EQ(NotFound("x").http_status(), 404);
  EXPECT_EQ(Status(ErrorCode::kPayloadTooLarge, "").http_status(), 413);
  EXPECT_EQ(Status(ErrorCode::kUriTooLong, "").http_status(), 414);
  EXPECT_EQ(Unavailable("loading").http_status(), 503);
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(InvalidArgument("k must be between 1 and 1000").ToString(),
            "invalid_argument: k must be between 1 and 1000");
  EXPECT_EQ(Status::Ok().ToString(), "ok");
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

TEST(ResultTest, CarriesValueOrError) {
  auto good = Half(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd");
}

}  // namespace
}  // namespace shelfwatch
