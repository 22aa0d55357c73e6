// Annotation templates: Prometheus' humanize functions, Go's number printing, and refusal of
// what the embedded engine does not implement.
#include "alert/template.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "alert/go_format.h"

namespace shelfwatch::alert {
namespace {

std::string Expand(const std::string& text, double value, const monitor::LabelSet& labels = {},
                   const monitor::LabelSet& external = {}) {
  auto t = Template::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return "";
  return t->Expand({&labels, value, &external, "http://shelfwatch.example:8080"});
}

// Expected strings are the outputs of Prometheus' template functions (template/template.go,
// exercised in its template_test.go) for the same inputs.
TEST(TemplateTest, HumanizeUsesSiPrefixesWithFourSignificantDigits) {
  EXPECT_EQ(Humanize(0), "0");
  EXPECT_EQ(Humanize(1), "1");
  EXPECT_EQ(Humanize(12), "12");
  EXPECT_EQ(Humanize(1234), "1.234k");
  EXPECT_EQ(Humanize(12345), "12.35k");
  EXPECT_EQ(Humanize(1234567), "1.235M");
  EXPECT_EQ(Humanize(0.1), "100m");
  EXPECT_EQ(Humanize(0.0001), "100u");
  EXPECT_EQ(Humanize(1e-9), "1n");
  EXPECT_EQ(Humanize(-2500), "-2.5k");
  EXPECT_EQ(Humanize(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Humanize(std::nan("")), "NaN");
}

TEST(TemplateTest, HumanizeDurationSplitsDaysHoursMinutes) {
  EXPECT_EQ(HumanizeDuration(0), "0s");
  EXPECT_EQ(HumanizeDuration(0.1), "100ms");
  EXPECT_EQ(HumanizeDuration(0.0001), "100us");
  EXPECT_EQ(HumanizeDuration(0.12345), "123.5ms");
  EXPECT_EQ(HumanizeDuration(1), "1s");
  EXPECT_EQ(HumanizeDuration(1.5), "1.5s");
  EXPECT_EQ(HumanizeDuration(60), "1m 0s");
  EXPECT_EQ(HumanizeDuration(3600), "1h 0m 0s");
  EXPECT_EQ(HumanizeDuration(3725), "1h 2m 5s");
  EXPECT_EQ(HumanizeDuration(86400 + 3600 + 61), "1d 1h 1m 1s");
  EXPECT_EQ(HumanizeDuration(-90), "-1m 30s");
}

TEST(TemplateTest, HumanizePercentage) {
  EXPECT_EQ(HumanizePercentage(0), "0%");
  EXPECT_EQ(HumanizePercentage(0.1234567), "12.35%");
  EXPECT_EQ(HumanizePercentage(1), "100%");
  EXPECT_EQ(HumanizePercentage(0.05), "5%");
}

TEST(TemplateTest, ValuesPrintAsGoPrintsFloats) {
  EXPECT_EQ(GoFormatShortest(0.5), "0.5");
  EXPECT_EQ(GoFormatShortest(123456), "123456");
  EXPECT_EQ(GoFormatShortest(1e6), "1e+06");
  EXPECT_EQ(GoFormatShortest(1234567), "1.234567e+06");
  EXPECT_EQ(GoFormatShortest(0.0001), "0.0001");
  EXPECT_EQ(GoFormatShortest(0.00001), "1e-05");
  EXPECT_EQ(GoFormatShortest(-3), "-3");
  EXPECT_EQ(GoFormatExponent(1), "1e+00");
  EXPECT_EQ(GoFormatExponent(0.0123), "1.23e-02");
  EXPECT_EQ(GoFormatExponent(-250), "-2.5e+02");
  EXPECT_EQ(GoFormatExponent(0), "0e+00");
}

TEST(TemplateTest, ExpandsLabelsValueAndPipes) {
  const monitor::LabelSet labels(std::vector<monitor::Label>{{"route", "/v1/events"}, {"code", "500"}});
  const monitor::LabelSet external(std::vector<monitor::Label>{{"cluster", "eu-1"}});
  EXPECT_EQ(Expand("{{ $labels.route }} fails {{ $value | humanizePercentage }} in {{ $externalLabels.cluster }}",
                   0.0734, labels, external),
            "/v1/events fails 7.34% in eu-1");
  EXPECT_EQ(Expand("p99 {{ humanizeDuration $value }}", 0.25, labels), "p99 250ms");
  EXPECT_EQ(Expand("{{ .Labels.code }}/{{ .Value }}", 3, labels), "500/3");
  EXPECT_EQ(Expand("{{ $value }}", 1234567), "1.234567e+06");
  EXPECT_EQ(Expand("see {{ $externalURL }}/alerts", 0), "see http://shelfwatch.example:8080/alerts");
  // A label the series lacks expands to nothing (Prometheus uses missingkey=zero).
  EXPECT_EQ(Expand("[{{ $labels.catalog }}]", 1, labels), "[]");
  // A label value piped through humanize is read as a number.
  EXPECT_EQ(Expand("{{ $labels.code | humanize }}", 0, labels), "500");
  EXPECT_EQ(Expand("{{ \"12345\" | humanize }}", 0), "12.35k");
  EXPECT_EQ(Expand("a  {{- $value -}}  b", 7), "a7b");
  EXPECT_EQ(Expand("x{{/* a comment */}}y", 7), "xy");
  EXPECT_EQ(Expand("plain text", 7), "plain text");
}

TEST(TemplateTest, NonNumericInputToAFunctionExpandsToAnErrorLikePrometheus) {
  const monitor::LabelSet labels(std::vector<monitor::Label>{{"route", "/metrics"}});
  EXPECT_EQ(Expand("{{ $labels.route | humanize }}", 0, labels),
            "<error expanding template: strconv.ParseFloat: parsing \"/metrics\": invalid syntax>");
}

TEST(TemplateTest, RefusesWhatItCannotRunWithAColumn) {
  auto unknown = Template::Parse("value {{ $value | toUpper }}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("1:19"), std::string::npos) << unknown.status().message();
  EXPECT_NE(unknown.status().message().find("function \"toUpper\" not defined"), std::string::npos);

  auto control = Template::Parse("{{ if $value }}x{{ end }}");
  ASSERT_FALSE(control.ok());
  EXPECT_NE(control.status().message().find("\"if\" is not supported"), std::string::npos);

  EXPECT_FALSE(Template::Parse("{{ $value ").ok());
  EXPECT_FALSE(Template::Parse("{{ $lables.route }}").ok());
  EXPECT_FALSE(Template::Parse("{{ $value | }}").ok());
  EXPECT_FALSE(Template::Parse("{{ humanize }}").ok());
  EXPECT_FALSE(Template::Parse("{{ $value $value }}").ok());
  EXPECT_FALSE(Template::Parse("{{ }}").ok());
}

}  // namespace
}  // namespace shelfwatch::alert
