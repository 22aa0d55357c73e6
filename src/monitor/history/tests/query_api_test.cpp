// The query / query_range HTTP answers: Prometheus' JSON shape, number and time formats,
// parameter parsing and the error types and status codes.
#include "monitor/history/query_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace shelfwatch::monitor {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i <= 4; ++i) {
      ASSERT_TRUE(store_.Add(LabelSet({{"__name__", "up"}, {"job", "api"}}), kT0 + i * 15000, i % 2).ok());
      ASSERT_TRUE(store_.Add(LabelSet({{"__name__", "c_total"}, {"job", "api"}}), kT0 + i * 15000, i * 30.0).ok());
    }
  }
  InMemorySeriesStore store_;
};

TEST_F(QueryApiTest, RangeAnswerHasPrometheusShape) {
  HttpAnswer a = HandleQueryRange(store_, {{"query", "rate(c_total[30s])"},
                                           {"start", "1700000030"},
                                           {"end", "1700000060.5"},
                                           {"step", "15s"}});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "application/json");
  EXPECT_EQ(a.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"api\"},"
            "\"values\":[[1700000030,\"2\"],[1700000045,\"2\"],[1700000060,\"2\"]]}]}}");
}

TEST_F(QueryApiTest, InstantAnswersVectorsScalarsAndMatrices) {
  HttpAnswer v = HandleQuery(store_, {{"query", "up"}, {"time", "2023-11-14T22:13:50.5Z"}});
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\","
            "\"job\":\"api\"},\"value\":[1700000030.500,\"0\"]}]}}");
  HttpAnswer s = HandleQuery(store_, {{"query", "1 / 0"}, {"time", "1700000000"}});
  EXPECT_EQ(s.body, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,\"+Inf\"]}}");
  HttpAnswer m = HandleQuery(store_, {{"query", "up[20s]"}, {"time", "1700000030"}});
  EXPECT_EQ(m.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"up\","
            "\"job\":\"api\"},\"values\":[[1700000015,\"1\"],[1700000030,\"0\"]]}]}}");
  QueryApiOptions now;
  now.now_ms = kT0 + 15000;
  HttpAnswer d = HandleQuery(store_, {{"query", "up"}}, now);
  EXPECT_NE(d.body.find("[1700000015,\"1\"]"), std::string::npos) << d.body;
}

TEST_F(QueryApiTest, ErrorsCarryTypeAndStatus) {
  auto expect = [](const HttpAnswer& a, int status, const std::string& body) {
    EXPECT_EQ(a.status, status);
    EXPECT_EQ(a.body, body);
  };
  const QueryParams ok_range = {{"query", "up"}, {"start", "1700000000"}, {"end", "1700000060"}, {"step", "15"}};
  auto with = [&](const std::string& k, const std::string& v) {
    QueryParams p = ok_range;
    p[k] = v;
    return p;
  };
  expect(HandleQueryRange(store_, with("start", "")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"start\\\": cannot parse "
         "\\\"\\\" to a valid timestamp\"}");
  expect(HandleQueryRange(store_, with("end", "1600000000")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"end timestamp must not be before start time\"}");
  expect(HandleQueryRange(store_, with("step", "0")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"zero or negative query resolution step widths "
         "are not accepted. Try a positive integer\"}");
  expect(HandleQueryRange(store_, with("step", "abc")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"step\\\": cannot parse "
         "\\\"abc\\\" to a valid duration\"}");
  expect(HandleQueryRange(store_, with("step", "0.005")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"exceeded maximum resolution of 11,000 points "
         "per timeseries. Try decreasing the query resolution (?step=XX)\"}");
  expect(HandleQueryRange(store_, with("query", "up +")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": 1:5: parse "
         "error: unexpected end of input\"}");
  expect(HandleQueryRange(store_, with("query", "up[1m]")), 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid expression type \\\"range vector\\\" "
         "for range query, must be Scalar or instant Vector\"}");
  HttpAnswer exec = HandleQuery(store_, {{"query", "{job=\"api\"} * 2"}, {"time", "1700000000"}});
  EXPECT_EQ(exec.status, 422);
  EXPECT_NE(exec.body.find("\"errorType\":\"execution\""), std::string::npos);
  HttpAnswer bad_time = HandleQuery(store_, {{"query", "up"}, {"time", "yesterday"}});
  EXPECT_EQ(bad_time.status, 400);
  QueryApiOptions hurried;
  hurried.query.timeout_ms = -1;
  EXPECT_EQ(HandleQueryRange(store_, ok_range, hurried).status, 503);
}

TEST(QueryApiFormatTest, ValuesAsGoFormatsThem) {
  EXPECT_EQ(FormatApiValue(0.1), "0.1");
  EXPECT_EQ(FormatApiValue(2), "2");
  EXPECT_EQ(FormatApiValue(-0.0), "-0");
  EXPECT_EQ(FormatApiValue(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatApiValue(1e300), "1" + std::string(300, '0'));
  EXPECT_EQ(FormatApiValue(1.5e-7), "0.00000015");
  EXPECT_EQ(FormatApiValue(123456789.125), "123456789.125");
  EXPECT_EQ(FormatApiValue(2.0 / 3), "0.6666666666666666");
  EXPECT_EQ(FormatApiValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatApiValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(QueryApiFormatTest, Timestamps) {
  EXPECT_EQ(FormatApiTimestamp(1'700'000'000'000), "1700000000");
  EXPECT_EQ(FormatApiTimestamp(1'700'000'000'500), "1700000000.500");
  EXPECT_EQ(FormatApiTimestamp(1'700'000'000'007), "1700000000.007");
  EXPECT_EQ(FormatApiTimestamp(-1'500), "-1.500");
}

TEST(QueryApiFormatTest, ParsesTimesAndDurations) {
  EXPECT_EQ(*ParseApiTime("1700000000"), 1'700'000'000'000);
  EXPECT_EQ(*ParseApiTime("1700000000.1234"), 1'700'000'000'123);
  EXPECT_EQ(*ParseApiTime("1700000000.9996"), 1'700'000'001'000);
  EXPECT_EQ(*ParseApiTime("1.7e9"), 1'700'000'000'000);
  EXPECT_EQ(*ParseApiTime("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_EQ(*ParseApiTime("2023-11-14T22:13:20.123456789Z"), 1'700'000'000'123);
  EXPECT_EQ(*ParseApiTime("2023-11-15T00:13:20+02:00"), 1'700'000'000'000);
  EXPECT_EQ(*ParseApiTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseApiTime("2024-02-29T00:00:00Z"), 1'709'164'800'000);
  EXPECT_FALSE(ParseApiTime("2023-11-14 22:13:20").ok());
  EXPECT_FALSE(ParseApiTime("2023-13-14T22:13:20Z").ok());
  EXPECT_FALSE(ParseApiTime("").ok());
  EXPECT_EQ(*ParseApiDuration("15"), 15000);
  EXPECT_EQ(*ParseApiDuration("0.5"), 500);
  EXPECT_EQ(*ParseApiDuration("1m30s"), 90000);
  EXPECT_EQ(*ParseApiDuration("250ms"), 250);
  EXPECT_FALSE(ParseApiDuration("1e30").ok());
  EXPECT_FALSE(ParseApiDuration("fast").ok());
}

}  // namespace
}  // namespace shelfwatch::monitor
