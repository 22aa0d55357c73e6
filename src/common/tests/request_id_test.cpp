#include "common/request_id.h"

#include <gtest/gtest.h>

#include <set>

namespace shelfwatch {
namespace {

TEST(RequestIdTest, IsUuidVersion7AndUnique) {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '7');                                   // version nibble
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // RFC 9562 variant
    EXPECT_TRUE(seen.insert(id).second) << id;
    // Time-ordered at millisecond granularity: the 48-bit prefix never decreases.
    if (!prev.empty()) {
      EXPECT_LE(prev.substr(0, 13), id.substr(0, 13));
    }
    prev = id;
  }
}

}  // namespace
}  // namespace shelfwatch
