#include "common/json_writer.h"

#include <gtest/gtest.h>

namespace shelfwatch {
namespace {

TEST(JsonWriterTest, WritesNestedDocument) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("q").String("3/4 \"in\"").Key("k").Int(10).Key("results").BeginArray();
  w.BeginObject().Key("id").String("100001").Key("score").Double(1.5).EndObject();
  w.BeginObject().Key("id").String("100002").Key("ok").Bool(true).EndObject();
  w.EndArray().Key("none").Null().EndObject();
  EXPECT_EQ(out,
            R"({"q":"3/4 \"in\"","k":10,"results":[{"id":"100001","score":1.5},)"
            R"({"id":"100002","ok":true}],"none":null})");
}

TEST(JsonWriterTest, EscapesControlCharactersAndNonFinite) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray().String(std::string("a\nb\x01", 4)).Double(1.0 / 0.0).Fixed(1.23456, 3).EndArray();
  EXPECT_EQ(out, R"(["a\nb\u0001",null,1.235])");
}

}  // namespace
}  // namespace shelfwatch
