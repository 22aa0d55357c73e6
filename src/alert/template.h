// Annotation and label templates of alerting rules: the small part of Go's text/template that
// Prometheus rule files use, parsed once at load so that an unknown function or a malformed
// action refuses the rule file instead of surfacing at 3 a.m.
//
// Supported inside {{ ... }} (with {{- / -}} trimming and {{/* comments */}}):
//   operands   $value  $labels.<name>  $externalLabels.<name>  $externalURL
//              (and Prometheus' dot forms .Value .Labels.<name> .ExternalLabels.<name>
//              .ExternalURL), "string literals" and numbers
//   functions  humanize, humanizePercentage, humanizeDuration (Prometheus template/template.go),
//              as pipes `{{ $value | humanize }}` or calls `{{ humanize $value }}`
// A missing label expands to "" (Prometheus runs templates with missingkey=zero). A value a
// function cannot read as a number expands to "<error expanding template: ...>", as Prometheus
// does, rather than failing the evaluation.
//
// Thread-safety: a parsed Template is immutable; Expand may run concurrently.
// Cost: Expand is O(template length + labels looked up).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "monitor/history/labels.h"

namespace shelfwatch::alert {

// What a template sees when an alert is built.
struct TemplateData {
  const monitor::LabelSet* labels = nullptr;           // the alert's series labels
  double value = 0;                                     // the alert's sample value
  const monitor::LabelSet* external_labels = nullptr;   // may be null
  std::string_view external_url;
};

class Template {
 public:
  Template() = default;
  // InvalidArgument naming the 1-based column and the problem, e.g.
  // `template: 1:12: function "toUpper" not defined (supported: humanize, ...)`.
  static Result<Template> Parse(std::string_view text);
  // A template that expands to `text` unchanged (recording rules' labels are not templated).
  static Template Literal(std::string text);

  std::string Expand(const TemplateData& data) const;
  const std::string& text() const { return text_; }
  // True when the text has no actions (expansion returns it unchanged).
  bool literal() const { return literal_; }

 private:
  enum class Operand { kValue, kLabel, kExternalLabel, kExternalUrl, kString, kNumber };
  enum class Function { kHumanize, kHumanizePercentage, kHumanizeDuration };
  struct Part {
    bool is_action = false;
    std::string literal;  // text, or the argument (label name, string, number) of an action
    Operand operand = Operand::kValue;
    std::vector<Function> functions;  // applied in order
  };

  std::string text_;
  std::vector<Part> parts_;
  bool literal_ = true;
};

// Prometheus' template functions on a float (template/template.go), exposed for tests:
// humanize 1234567 -> "1.235M", 0.0012 -> "1.2m"; humanizePercentage 0.1234 -> "12.34%";
// humanizeDuration 3725 -> "1h 2m 5s", 0.25 -> "250ms".
std::string Humanize(double v);
std::string HumanizePercentage(double v);
std::string HumanizeDuration(double v);

}  // namespace shelfwatch::alert
