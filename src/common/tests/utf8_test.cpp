#include "common/utf8.h"

#include <gtest/gtest.h>

namespace shelfwatch {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("angle bracket 12-gauge"));
  EXPECT_TRUE(IsValidUtf8("无线鼠标"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // U+1F600
}

TEST(Utf8Test, RejectsIllFormedSequences) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("abc\xc3"));            // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));           // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));       // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));   // > U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("hello world \xfe rest"), 12u);
}

}  // namespace
}  // namespace shelfwatch
