#include "alert/template.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "alert/go_format.h"

namespace shelfwatch::alert {
namespace {

constexpr std::string_view kSupported = "supported: humanize, humanizePercentage, humanizeDuration";

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Tokens of one action: identifiers and variables ("$labels.route", ".Value"), strings,
// numbers, and '|'. Go's lexer knows more; anything else is refused.
struct Token {
  enum Kind { kWord, kString, kNumber, kPipe } kind;
  std::string text;
  size_t column;  // 1-based, in the whole template
};

Status ActionError(size_t column, const std::string& what) {
  return InvalidArgument("template: 1:" + std::to_string(column) + ": " + what);
}

Result<std::vector<Token>> Lex(std::string_view action, size_t base_column) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < action.size()) {
    const char c = action[i];
    const size_t col = base_column + i;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|') {
      out.push_back({Token::kPipe, "|", col});
      ++i;
    } else if (c == '"') {
      std::string s;
      size_t j = i + 1;
      for (; j < action.size() && action[j] != '"'; ++j) {
        if (action[j] == '\\' && j + 1 < action.size()) {
          const char e = action[++j];
          s += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          s += action[j];
        }
      }
      if (j >= action.size()) return ActionError(col, "unterminated quoted string");
      out.push_back({Token::kString, s, col});
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+') {
      size_t j = i + 1;
      while (j < action.size() && (std::isalnum(static_cast<unsigned char>(action[j])) || action[j] == '.' ||
                                   ((action[j] == '-' || action[j] == '+') &&
                                    (action[j - 1] == 'e' || action[j - 1] == 'E')))) {
        ++j;
      }
      out.push_back({Token::kNumber, std::string(action.substr(i, j - i)), col});
      i = j;
    } else if (c == '$' || c == '.' || IsIdentChar(c)) {
      size_t j = i + 1;
      while (j < action.size() && (IsIdentChar(action[j]) || action[j] == '.')) ++j;
      out.push_back({Token::kWord, std::string(action.substr(i, j - i)), col});
      i = j;
    } else {
      return ActionError(col, std::string("unexpected \"") + c + "\" in action");
    }
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A number read the way Prometheus' convertToFloat reads a string (strconv.ParseFloat).
bool ToFloat(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

}  // namespace

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return GoFormatG4(v);
  static constexpr const char* kBig[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
  static constexpr const char* kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  if (std::fabs(v) >= 1) {
    for (const char* p : kBig) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return GoFormatG4(v) + prefix;
  }
  for (const char* p : kSmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return GoFormatG4(v) + prefix;
}

std::string HumanizePercentage(double v) { return GoFormatG4(v * 100) + "%"; }

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return GoFormatG4(v);
  if (v == 0) return GoFormatG4(v) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    const int64_t d = static_cast<int64_t>(v);
    const int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24, days = d / 86400;
    auto n = [](int64_t x) { return std::to_string(x); };
    // Days to minutes print whole seconds; below a minute, 4 significant digits.
    if (days != 0) return sign + n(days) + "d " + n(hours) + "h " + n(minutes) + "m " + n(seconds) + "s";
    if (hours != 0) return sign + n(hours) + "h " + n(minutes) + "m " + n(seconds) + "s";
    if (minutes != 0) return sign + n(minutes) + "m " + n(seconds) + "s";
    return sign + GoFormatG4(v) + "s";
  }
  static constexpr const char* kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  for (const char* p : kSmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return GoFormatG4(v) + prefix + "s";
}

Template Template::Literal(std::string text) {
  Template t;
  t.text_ = std::move(text);
  return t;
}

Result<Template> Template::Parse(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("{{", i);
    std::string lit(text.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i));
    if (open == std::string_view::npos) {
      if (!lit.empty()) t.parts_.push_back({false, lit, Operand::kValue, {}});
      break;
    }
    size_t body = open + 2;
    // "{{- " trims the whitespace before the action (text/template's trim markers).
    if (body + 1 < text.size() && text[body] == '-' && std::isspace(static_cast<unsigned char>(text[body + 1]))) {
      while (!lit.empty() && std::isspace(static_cast<unsigned char>(lit.back()))) lit.pop_back();
      ++body;
    }
    if (!lit.empty()) t.parts_.push_back({false, lit, Operand::kValue, {}});
    const size_t close = text.find("}}", body);
    if (close == std::string_view::npos) return ActionError(open + 1, "unclosed action (missing \"}}\")");
    size_t body_end = close;
    bool trim_after = false;
    if (body_end > body && text[body_end - 1] == '-' && body_end - 1 > body &&
        std::isspace(static_cast<unsigned char>(text[body_end - 2]))) {
      --body_end;
      trim_after = true;
    }
    i = close + 2;
    if (trim_after) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    }
    std::string_view action = text.substr(body, body_end - body);
    // {{/* a comment */}}
    {
      size_t a = 0;
      while (a < action.size() && std::isspace(static_cast<unsigned char>(action[a]))) ++a;
      if (action.substr(a, 2) == "/*") {
        if (action.find("*/") == std::string_view::npos) return ActionError(body + 1, "unclosed comment");
        t.literal_ = false;  // the comment must be removed on expansion
        continue;
      }
    }
    auto tokens = Lex(action, body + 1);
    if (!tokens.ok()) return tokens.status();
    const std::vector<Token>& toks = *tokens;
    if (toks.empty()) return ActionError(body + 1, "missing value for command");

    Part part;
    part.is_action = true;
    bool have_operand = false;
    // Splits the pipeline into commands at '|'; each command is `operand`, `function` (fed by
    // the previous command) or `function operand` (only first: `humanize $value`).
    size_t k = 0;
    while (k < toks.size()) {
      size_t end = k;
      while (end < toks.size() && toks[end].kind != Token::kPipe) ++end;
      if (end == k) return ActionError(toks[k].column, "missing command in pipeline");
      size_t j = k;
      const Token& first = toks[k];
      if (first.kind == Token::kWord && first.text[0] != '$' && first.text[0] != '.') {
        Function fn;
        if (first.text == "humanize") {
          fn = Function::kHumanize;
        } else if (first.text == "humanizePercentage") {
          fn = Function::kHumanizePercentage;
        } else if (first.text == "humanizeDuration") {
          fn = Function::kHumanizeDuration;
        } else if (first.text == "if" || first.text == "range" || first.text == "with" || first.text == "define" ||
                   first.text == "template" || first.text == "end" || first.text == "else") {
          return ActionError(first.column, "action \"" + first.text + "\" is not supported (" +
                                               std::string(kSupported) + ")");
        } else {
          return ActionError(first.column,
                             "function \"" + first.text + "\" not defined (" + std::string(kSupported) + ")");
        }
        part.functions.push_back(fn);
        j = k + 1;
        if (j == end && !have_operand) return ActionError(first.column, "function \"" + first.text + "\" needs an argument");
      }
      if (j < end) {
        const Token& tok = toks[j];
        if (have_operand) return ActionError(tok.column, "unexpected \"" + tok.text + "\" (too many arguments)");
        if (j + 1 < end) return ActionError(toks[j + 1].column, "unexpected \"" + toks[j + 1].text + "\"");
        if (tok.kind == Token::kString) {
          part.operand = Operand::kString;
          part.literal = tok.text;
        } else if (tok.kind == Token::kNumber) {
          double v;
          if (!ToFloat(tok.text, &v)) return ActionError(tok.column, "bad number \"" + tok.text + "\"");
          part.operand = Operand::kNumber;
          part.literal = tok.text;
        } else if (tok.kind == Token::kPipe) {
          return ActionError(tok.column, "unexpected \"|\"");
        } else if (tok.text == "$value" || tok.text == ".Value") {
          part.operand = Operand::kValue;
        } else if (tok.text == "$externalURL" || tok.text == ".ExternalURL") {
          part.operand = Operand::kExternalUrl;
        } else if (StartsWith(tok.text, "$labels.") || StartsWith(tok.text, ".Labels.")) {
          part.operand = Operand::kLabel;
          part.literal = tok.text.substr(tok.text.find('.', 1) + 1);
        } else if (StartsWith(tok.text, "$externalLabels.") || StartsWith(tok.text, ".ExternalLabels.")) {
          part.operand = Operand::kExternalLabel;
          part.literal = tok.text.substr(tok.text.find('.', 1) + 1);
        } else {
          return ActionError(tok.column, "undefined variable or field \"" + tok.text +
                                             "\" (known: $value, $labels.<name>, $externalLabels.<name>, "
                                             "$externalURL)");
        }
        if ((part.operand == Operand::kLabel || part.operand == Operand::kExternalLabel) &&
            (part.literal.empty() || part.literal.find('.') != std::string::npos)) {
          return ActionError(tok.column, "bad label reference \"" + tok.text + "\"");
        }
        have_operand = true;
      }
      k = end + 1;
      if (end < toks.size() && k >= toks.size()) return ActionError(toks[end].column, "missing command after \"|\"");
    }
    t.parts_.push_back(std::move(part));
    t.literal_ = false;
  }
  return t;
}

std::string Template::Expand(const TemplateData& data) const {
  if (literal_) return text_;
  std::string out;
  for (const Part& p : parts_) {
    if (!p.is_action) {
      out += p.literal;
      continue;
    }
    // A value is a number or a string, as in Go; functions read strings as numbers.
    bool is_number = false;
    double number = 0;
    std::string str;
    switch (p.operand) {
      case Operand::kValue:
        is_number = true;
        number = data.value;
        break;
      case Operand::kNumber:
        is_number = true;
        ToFloat(p.literal, &number);
        break;
      case Operand::kString:
        str = p.literal;
        break;
      case Operand::kLabel:
        if (data.labels != nullptr) str = std::string(data.labels->Get(p.literal));
        break;
      case Operand::kExternalLabel:
        if (data.external_labels != nullptr) str = std::string(data.external_labels->Get(p.literal));
        break;
      case Operand::kExternalUrl:
        str = std::string(data.external_url);
        break;
    }
    bool failed = false;
    for (Function f : p.functions) {
      if (!is_number && !ToFloat(str, &number)) {
        out += "<error expanding template: strconv.ParseFloat: parsing \"" + str + "\": invalid syntax>";
        failed = true;
        break;
      }
      str = f == Function::kHumanize             ? Humanize(number)
            : f == Function::kHumanizePercentage ? HumanizePercentage(number)
                                                 : HumanizeDuration(number);
      is_number = false;
    }
    if (failed) continue;
    out += is_number ? GoFormatShortest(number) : str;
  }
  return out;
}

}  // namespace shelfwatch::alert
