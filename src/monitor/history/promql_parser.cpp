// PromQL lexer and precedence-climbing parser. The grammar, precedence table and error
// wording follow Prometheus 2.42 (promql/parser/lex.go, generated_parser.y, parse.go's
// checkAST); the code is our own.
//
// Precedence, lowest first: or; and unless; == != <= < >= >; + -; * / %; ^ (right
// associative). Unary minus binds like * (so -a^b is -(a^b) and -a*b is (-a)*b).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "monitor/history/promql.h"

namespace shelfwatch::monitor {
namespace {

enum class Tok {
  kEof, kIdent, kNumber, kDuration, kString,
  kLParen, kRParen, kLBrace, kRBrace, kLBracket, kRBracket, kComma, kColon, kAt,
  kAssign, kEqlRegex, kNeqRegex, kNeq, kEql, kLss, kGtr, kLte, kGte,
  kAdd, kSub, kMul, kDiv, kMod, kPow,
};

struct Token {
  Tok kind = Tok::kEof;
  size_t pos = 0;
  std::string text;  // as written (strings: decoded value)
  double number = 0;
  int64_t duration_ms = 0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsValidLabelNameText(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!IsAlnum(c)) return false;
  }
  return true;
}

// Go strconv.ParseInt(s, 0, 64) then ParseFloat, as parser.parseNumber does: "0x1f" is hex,
// "010" is octal (8), "1e3" and "1.5" are floats.
bool ParseNumberText(std::string_view s, double* out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, 16);
    if (ec != std::errc() || p != s.data() + s.size() || v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<double>(v);
    return true;
  }
  if (s.size() > 1 && s[0] == '0' && s.find_first_not_of("01234567") == std::string_view::npos) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + 1, s.data() + s.size(), v, 8);
    if (ec == std::errc() && p == s.data() + s.size() && v <= static_cast<uint64_t>(INT64_MAX)) {
      *out = static_cast<double>(v);
      return true;
    }
  }
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (p != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    // Go returns +-Inf (or 0) with an error for out-of-range floats; Prometheus refuses them.
    return false;
  }
  if (ec != std::errc()) return false;
  *out = v;
  return true;
}

struct FunctionInfo {
  std::string_view name;
  Function func;
  std::vector<ValueType> args;
  ValueType ret;
};

const std::vector<FunctionInfo>& Functions() {
  using V = ValueType;
  static const std::vector<FunctionInfo> kFunctions = {
      {"rate", Function::kRate, {V::kMatrix}, V::kVector},
      {"irate", Function::kIrate, {V::kMatrix}, V::kVector},
      {"increase", Function::kIncrease, {V::kMatrix}, V::kVector},
      {"delta", Function::kDelta, {V::kMatrix}, V::kVector},
      {"idelta", Function::kIdelta, {V::kMatrix}, V::kVector},
      {"avg_over_time", Function::kAvgOverTime, {V::kMatrix}, V::kVector},
      {"sum_over_time", Function::kSumOverTime, {V::kMatrix}, V::kVector},
      {"min_over_time", Function::kMinOverTime, {V::kMatrix}, V::kVector},
      {"max_over_time", Function::kMaxOverTime, {V::kMatrix}, V::kVector},
      {"count_over_time", Function::kCountOverTime, {V::kMatrix}, V::kVector},
      {"last_over_time", Function::kLastOverTime, {V::kMatrix}, V::kVector},
      {"histogram_quantile", Function::kHistogramQuantile, {V::kScalar, V::kVector}, V::kVector},
      {"abs", Function::kAbs, {V::kVector}, V::kVector},
      {"ceil", Function::kCeil, {V::kVector}, V::kVector},
      {"floor", Function::kFloor, {V::kVector}, V::kVector},
      {"sqrt", Function::kSqrt, {V::kVector}, V::kVector},
      {"exp", Function::kExp, {V::kVector}, V::kVector},
      {"ln", Function::kLn, {V::kVector}, V::kVector},
      {"log2", Function::kLog2, {V::kVector}, V::kVector},
      {"log10", Function::kLog10, {V::kVector}, V::kVector},
      {"sgn", Function::kSgn, {V::kVector}, V::kVector},
      {"clamp", Function::kClamp, {V::kVector, V::kScalar, V::kScalar}, V::kVector},
      {"clamp_min", Function::kClampMin, {V::kVector, V::kScalar}, V::kVector},
      {"clamp_max", Function::kClampMax, {V::kVector, V::kScalar}, V::kVector},
      {"time", Function::kTime, {}, V::kScalar},
      {"vector", Function::kVector, {V::kScalar}, V::kVector},
      {"scalar", Function::kScalar, {V::kVector}, V::kScalar},
      {"absent", Function::kAbsent, {V::kVector}, V::kVector},
  };
  return kFunctions;
}

const FunctionInfo* FindFunction(std::string_view name) {
  for (const auto& f : Functions()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FunctionInfo& InfoOf(Function func) {
  for (const auto& f : Functions()) {
    if (f.func == func) return f;
  }
  return Functions().front();
}

// Prometheus functions we know by name but do not implement: a clearer error than "unknown".
bool IsUnsupportedPrometheusFunction(std::string_view name) {
  static const char* const kNames[] = {
      "absent_over_time", "changes", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
      "deriv", "histogram_count", "histogram_sum", "histogram_fraction", "holt_winters", "hour",
      "label_join", "label_replace", "minute", "month", "predict_linear", "quantile_over_time",
      "resets", "round", "sort", "sort_desc", "stddev_over_time", "stdvar_over_time", "timestamp",
      "year", "present_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh",
      "sin", "sinh", "tan", "tanh", "deg", "rad", "pi"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

struct AggregatorInfo {
  std::string_view name;
  AggregateOp op;
  bool supported;
};

const AggregatorInfo* FindAggregator(std::string_view lower_name) {
  static const AggregatorInfo kAggregators[] = {
      {"sum", AggregateOp::kSum, true},       {"avg", AggregateOp::kAvg, true},
      {"min", AggregateOp::kMin, true},       {"max", AggregateOp::kMax, true},
      {"count", AggregateOp::kCount, true},   {"group", AggregateOp::kGroup, true},
      {"stddev", AggregateOp::kStddev, true}, {"stdvar", AggregateOp::kStdvar, true},
      {"topk", AggregateOp::kSum, false},     {"bottomk", AggregateOp::kSum, false},
      {"quantile", AggregateOp::kSum, false}, {"count_values", AggregateOp::kSum, false},
  };
  for (const auto& a : kAggregators) {
    if (a.name == lower_name) return &a;
  }
  return nullptr;
}

std::string_view AggregatorName(AggregateOp op) {
  switch (op) {
    case AggregateOp::kSum: return "sum";
    case AggregateOp::kAvg: return "avg";
    case AggregateOp::kMin: return "min";
    case AggregateOp::kMax: return "max";
    case AggregateOp::kCount: return "count";
    case AggregateOp::kGroup: return "group";
    case AggregateOp::kStddev: return "stddev";
    case AggregateOp::kStdvar: return "stdvar";
  }
  return "?";
}

bool IsKeyword(std::string_view lower) {
  static const char* const kKeywords[] = {"and", "or", "unless", "by", "without", "on", "ignoring",
                                          "group_left", "group_right", "bool", "offset", "atan2"};
  for (const char* k : kKeywords) {
    if (lower == k) return true;
  }
  return false;
}

// Binary operator precedence (higher binds tighter); -1 when `t` is not a binary operator.
int Precedence(const Token& t, BinaryOp* op) {
  switch (t.kind) {
    case Tok::kPow: *op = BinaryOp::kPow; return 6;
    case Tok::kMul: *op = BinaryOp::kMul; return 5;
    case Tok::kDiv: *op = BinaryOp::kDiv; return 5;
    case Tok::kMod: *op = BinaryOp::kMod; return 5;
    case Tok::kAdd: *op = BinaryOp::kAdd; return 4;
    case Tok::kSub: *op = BinaryOp::kSub; return 4;
    case Tok::kEql: *op = BinaryOp::kEq; return 3;
    case Tok::kNeq: *op = BinaryOp::kNe; return 3;
    case Tok::kGtr: *op = BinaryOp::kGt; return 3;
    case Tok::kLss: *op = BinaryOp::kLt; return 3;
    case Tok::kGte: *op = BinaryOp::kGe; return 3;
    case Tok::kLte: *op = BinaryOp::kLe; return 3;
    case Tok::kIdent: {
      const std::string l = Lower(t.text);
      if (l == "and") { *op = BinaryOp::kAnd; return 2; }
      if (l == "unless") { *op = BinaryOp::kUnless; return 2; }
      if (l == "or") { *op = BinaryOp::kOr; return 1; }
      return -1;
    }
    default: return -1;
  }
}
constexpr int kPowPrecedence = 6;

class Parser {
 public:
  explicit Parser(std::string_view query) : q_(query) {}

  Result<std::shared_ptr<const Expr>> Parse() {
    SW_RETURN_IF_ERROR(Lex());
    if (Peek().kind == Tok::kEof) return Error(0, "no expression found in input");
    std::unique_ptr<Expr> e;
    SW_RETURN_IF_ERROR(ParseExpr(0, &e));
    if (Peek().kind != Tok::kEof) return Unexpected(Peek(), "");
    return std::shared_ptr<const Expr>(std::move(e));
  }

 private:
  // ---- lexer ----
  Status Lex() {
    size_t i = 0;
    while (true) {
      while (i < q_.size() && std::isspace(static_cast<unsigned char>(q_[i]))) ++i;
      if (i < q_.size() && q_[i] == '#') {
        while (i < q_.size() && q_[i] != '\n') ++i;
        continue;
      }
      Token t;
      t.pos = i;
      if (i >= q_.size()) {
        t.kind = Tok::kEof;
        toks_.push_back(t);
        return Status::Ok();
      }
      const char c = q_[i];
      const char n = i + 1 < q_.size() ? q_[i + 1] : '\0';
      if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && std::isdigit(static_cast<unsigned char>(n)))) {
        SW_RETURN_IF_ERROR(LexNumberOrDuration(&i, &t));
      } else if (IsIdentStart(c)) {
        size_t j = i;
        while (j < q_.size() && IsIdentChar(q_[j])) ++j;
        t.text = std::string(q_.substr(i, j - i));
        const std::string l = Lower(t.text);
        if (l == "inf" || l == "nan") {
          t.kind = Tok::kNumber;
          t.number = l == "inf" ? std::numeric_limits<double>::infinity() : std::nan("");
        } else {
          t.kind = Tok::kIdent;
        }
        i = j;
      } else if (c == '"' || c == '\'' || c == '`') {
        SW_RETURN_IF_ERROR(LexString(&i, &t));
      } else {
        auto two = [&](char second, Tok k2, Tok k1) {
          if (n == second) {
            t.kind = k2;
            i += 2;
          } else {
            t.kind = k1;
            i += 1;
          }
        };
        switch (c) {
          case '(': t.kind = Tok::kLParen; ++i; break;
          case ')': t.kind = Tok::kRParen; ++i; break;
          case '{': t.kind = Tok::kLBrace; ++i; break;
          case '}': t.kind = Tok::kRBrace; ++i; break;
          case '[': t.kind = Tok::kLBracket; ++i; break;
          case ']': t.kind = Tok::kRBracket; ++i; break;
          case ',': t.kind = Tok::kComma; ++i; break;
          case ':': t.kind = Tok::kColon; ++i; break;
          case '@': t.kind = Tok::kAt; ++i; break;
          case '+': t.kind = Tok::kAdd; ++i; break;
          case '-': t.kind = Tok::kSub; ++i; break;
          case '*': t.kind = Tok::kMul; ++i; break;
          case '/': t.kind = Tok::kDiv; ++i; break;
          case '%': t.kind = Tok::kMod; ++i; break;
          case '^': t.kind = Tok::kPow; ++i; break;
          case '<': two('=', Tok::kLte, Tok::kLss); break;
          case '>': two('=', Tok::kGte, Tok::kGtr); break;
          case '=':
            if (n == '=') {
              t.kind = Tok::kEql;
              i += 2;
            } else {
              two('~', Tok::kEqlRegex, Tok::kAssign);
            }
            break;
          case '!':
            if (n == '=') {
              t.kind = Tok::kNeq;
              i += 2;
            } else if (n == '~') {
              t.kind = Tok::kNeqRegex;
              i += 2;
            } else {
              return Error(i, "unexpected character after '!': " + Describe(n));
            }
            break;
          default:
            return Error(i, "unexpected character: " + Describe(c));
        }
        t.text = std::string(q_.substr(t.pos, i - t.pos));
      }
      toks_.push_back(std::move(t));
    }
  }

  static std::string Describe(char c) {
    if (c == '\0') return "end of input";
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
      return buf;
    }
    return std::string("'") + c + "'";
  }

  // A number (decimal, hex, exponent) or, when letters follow digits, a duration ("5m", "1h30m").
  Status LexNumberOrDuration(size_t* i, Token* t) {
    const size_t start = *i;
    size_t j = start;
    auto digits = [&](auto pred) {
      while (j < q_.size() && pred(q_[j])) ++j;
    };
    auto is_dec = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    auto is_hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (q_[j] == '0' && j + 1 < q_.size() && (q_[j + 1] == 'x' || q_[j + 1] == 'X')) {
      j += 2;
      digits(is_hex);
    } else {
      digits(is_dec);
      if (j < q_.size() && q_[j] == '.') {
        ++j;
        digits(is_dec);
      }
      if (j < q_.size() && (q_[j] == 'e' || q_[j] == 'E')) {
        size_t k = j + 1;
        if (k < q_.size() && (q_[k] == '+' || q_[k] == '-')) ++k;
        if (k < q_.size() && is_dec(q_[k])) {
          j = k;
          digits(is_dec);
        }
      }
    }
    if (j < q_.size() && IsAlnum(q_[j])) {
      // Not a plain number: a duration is digits and units only.
      size_t k = start;
      while (k < q_.size() && (IsAlnum(q_[k]))) ++k;
      const std::string_view text = q_.substr(start, k - start);
      auto d = ParsePromqlDuration(text);
      if (!d.ok()) return Error(start, "bad number or duration syntax: \"" + std::string(text) + "\"");
      t->kind = Tok::kDuration;
      t->text = std::string(text);
      t->duration_ms = *d;
      *i = k;
      return Status::Ok();
    }
    const std::string_view text = q_.substr(start, j - start);
    double v = 0;
    if (!ParseNumberText(text, &v)) return Error(start, "bad number syntax: \"" + std::string(text) + "\"");
    t->kind = Tok::kNumber;
    t->text = std::string(text);
    t->number = v;
    *i = j;
    return Status::Ok();
  }

  // Go string literal rules: "..." and '...' with escapes, `...` raw.
  Status LexString(size_t* i, Token* t) {
    const char quote = q_[*i];
    size_t j = *i + 1;
    std::string out;
    while (true) {
      if (j >= q_.size()) return Error(*i, "unterminated quoted string");
      const char c = q_[j];
      if (c == quote) {
        ++j;
        break;
      }
      if (quote != '`' && c == '\n') return Error(*i, "unterminated quoted string");
      if (quote == '`' || c != '\\') {
        out += c;
        ++j;
        continue;
      }
      // An escape sequence.
      if (j + 1 >= q_.size()) return Error(*i, "unterminated quoted string");
      const char e = q_[j + 1];
      j += 2;
      switch (e) {
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '"':
        case '\'':
          if (e != quote) return Error(j - 2, "unknown escape sequence");
          out += e;
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (j + len > q_.size()) return Error(j - 2, "unterminated escape sequence");
          uint32_t cp = 0;
          auto [p, ec] = std::from_chars(q_.data() + j, q_.data() + j + len, cp, 16);
          if (ec != std::errc() || p != q_.data() + j + len) return Error(j - 2, "invalid escape sequence");
          j += len;
          if (e == 'x') {
            out += static_cast<char>(cp);
          } else if (!AppendUtf8(out, cp)) {
            return Error(j - 2 - len, "escape sequence is an invalid Unicode code point");
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            if (j + 2 > q_.size()) return Error(j - 2, "unterminated escape sequence");
            uint32_t v = 0;
            auto [p, ec] = std::from_chars(q_.data() + j - 1, q_.data() + j + 2, v, 8);
            if (ec != std::errc() || p != q_.data() + j + 2 || v > 255) return Error(j - 2, "invalid escape sequence");
            out += static_cast<char>(v);
            j += 2;
            break;
          }
          return Error(j - 2, "unknown escape sequence");
      }
    }
    t->kind = Tok::kString;
    t->text = std::move(out);
    *i = j;
    return Status::Ok();
  }

  static bool AppendUtf8(std::string& out, uint32_t cp) {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return true;
  }

  // ---- helpers ----
  const Token& Peek(size_t k = 0) const { return toks_[std::min(idx_ + k, toks_.size() - 1)]; }
  Token Next() {
    Token t = Peek();
    if (idx_ < toks_.size() - 1) ++idx_;
    return t;
  }
  bool PeekKeyword(std::string_view kw, size_t k = 0) const {
    return Peek(k).kind == Tok::kIdent && Lower(Peek(k).text) == kw;
  }

  Status Error(size_t pos, const std::string& msg) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < q_.size(); ++i) {
      if (q_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return InvalidArgument(std::to_string(line) + ":" + std::to_string(col) + ": parse error: " + msg);
  }

  static std::string DescribeToken(const Token& t) {
    switch (t.kind) {
      case Tok::kEof: return "end of input";
      case Tok::kIdent: return IsKeyword(Lower(t.text)) ? "<" + Lower(t.text) + ">" : "identifier \"" + t.text + "\"";
      case Tok::kNumber: return "number \"" + t.text + "\"";
      case Tok::kDuration: return "duration \"" + t.text + "\"";
      case Tok::kString: return "string";
      case Tok::kLParen:
      case Tok::kRParen:
      case Tok::kLBrace:
      case Tok::kRBrace:
      case Tok::kLBracket:
      case Tok::kRBracket:
      case Tok::kComma:
      case Tok::kColon:
      case Tok::kAt:
        return "\"" + t.text + "\"";
      default: return "<op:" + t.text + ">";
    }
  }

  Status Unexpected(const Token& t, const std::string& context) const {
    return Error(t.pos, "unexpected " + DescribeToken(t) + (context.empty() ? "" : " " + context));
  }

  Status Expect(Tok kind, const std::string& context) {
    if (Peek().kind != kind) return Unexpected(Peek(), context);
    Next();
    return Status::Ok();
  }

  // ---- grammar ----
  Status ParseExpr(int min_prec, std::unique_ptr<Expr>* out) {
    std::unique_ptr<Expr> lhs;
    SW_RETURN_IF_ERROR(ParseUnary(&lhs));
    while (true) {
      BinaryOp op;
      const int prec = Precedence(Peek(), &op);
      if (prec < 0 || prec < min_prec) break;
      const Token op_tok = Next();
      auto bin = std::make_unique<Expr>();
      bin->kind = Expr::Kind::kBinary;
      bin->pos = lhs->pos;
      bin->op = op;
      if (PeekKeyword("bool")) {
        if (!IsComparison(op)) return Error(Peek().pos, "bool modifier can only be used on comparison operators");
        Next();
        bin->return_bool = true;
      }
      SW_RETURN_IF_ERROR(ParseMatching(bin.get()));
      // ^ is right-associative; everything else left-associative.
      const int next_min = op == BinaryOp::kPow ? prec : prec + 1;
      std::unique_ptr<Expr> rhs;
      SW_RETURN_IF_ERROR(ParseExpr(next_min, &rhs));
      bin->args.push_back(std::move(lhs));
      bin->args.push_back(std::move(rhs));
      SW_RETURN_IF_ERROR(CheckBinary(*bin, op_tok.pos));
      lhs = std::move(bin);
    }
    *out = std::move(lhs);
    return Status::Ok();
  }

  Status ParseMatching(Expr* bin) {
    if (IsSetOperator(bin->op)) bin->matching.card = Cardinality::kManyToMany;
    if (!PeekKeyword("on") && !PeekKeyword("ignoring")) {
      if (PeekKeyword("group_left") || PeekKeyword("group_right")) {
        return Unexpected(Peek(), "in binary expression, expected on(...) or ignoring(...) before it");
      }
      return Status::Ok();
    }
    bin->matching.on = Lower(Next().text) == "on";
    SW_RETURN_IF_ERROR(ParseLabelList(&bin->matching.labels, "grouping labels"));
    std::sort(bin->matching.labels.begin(), bin->matching.labels.end());
    if (PeekKeyword("group_left") || PeekKeyword("group_right")) {
      const Token g = Next();
      if (IsSetOperator(bin->op)) {
        return Error(g.pos, "no grouping allowed for \"" + std::string(BinaryOpText(bin->op)) + "\" operation");
      }
      bin->matching.card = Lower(g.text) == "group_left" ? Cardinality::kManyToOne : Cardinality::kOneToMany;
      if (Peek().kind == Tok::kLParen) {
        SW_RETURN_IF_ERROR(ParseLabelList(&bin->matching.include, "grouping labels"));
      }
      if (bin->matching.on) {
        for (const auto& l : bin->matching.include) {
          if (std::binary_search(bin->matching.labels.begin(), bin->matching.labels.end(), l)) {
            return Error(g.pos, "label \"" + l + "\" must not occur in ON and GROUP clause at once");
          }
        }
      }
    }
    return Status::Ok();
  }

  Status CheckBinary(const Expr& bin, size_t op_pos) const {
    const ValueType lt = bin.args[0]->type(), rt = bin.args[1]->type();
    const bool has_matching = bin.matching.on || !bin.matching.labels.empty() ||
                              bin.matching.card == Cardinality::kManyToOne ||
                              bin.matching.card == Cardinality::kOneToMany;
    if (lt == ValueType::kMatrix || rt == ValueType::kMatrix) {
      return Error(bin.pos, "binary expression must contain only scalar and instant vector types");
    }
    if (IsSetOperator(bin.op) && (lt == ValueType::kScalar || rt == ValueType::kScalar)) {
      return Error(op_pos, "set operator \"" + std::string(BinaryOpText(bin.op)) +
                               "\" not allowed in binary scalar expression");
    }
    if (IsComparison(bin.op) && !bin.return_bool && lt == ValueType::kScalar && rt == ValueType::kScalar) {
      return Error(op_pos, "comparisons between scalars must use BOOL modifier");
    }
    if (has_matching && (lt == ValueType::kScalar || rt == ValueType::kScalar)) {
      return Error(op_pos, "vector matching only allowed between instant vectors");
    }
    return Status::Ok();
  }

  Status ParseUnary(std::unique_ptr<Expr>* out) {
    if (Peek().kind == Tok::kSub || Peek().kind == Tok::kAdd) {
      const Token op = Next();
      std::unique_ptr<Expr> operand;
      SW_RETURN_IF_ERROR(ParseExpr(kPowPrecedence, &operand));
      if (operand->type() == ValueType::kMatrix) {
        return Error(op.pos, "unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"");
      }
      if (operand->kind == Expr::Kind::kNumber) {
        // A signed literal, as Prometheus folds it.
        if (op.kind == Tok::kSub) operand->number = -operand->number;
        operand->pos = op.pos;
        *out = std::move(operand);
        return Status::Ok();
      }
      if (op.kind == Tok::kAdd) {
        *out = std::move(operand);
        return Status::Ok();
      }
      auto u = std::make_unique<Expr>();
      u->kind = Expr::Kind::kUnaryMinus;
      u->pos = op.pos;
      u->args.push_back(std::move(operand));
      *out = std::move(u);
      return Status::Ok();
    }
    std::unique_ptr<Expr> e;
    SW_RETURN_IF_ERROR(ParsePrimary(&e));
    SW_RETURN_IF_ERROR(ParsePostfix(&e));
    *out = std::move(e);
    return Status::Ok();
  }

  Status ParsePostfix(std::unique_ptr<Expr>* e) {
    while (true) {
      if (Peek().kind == Tok::kLBracket) {
        const Token open = Next();
        Expr& x = **e;
        if (x.kind != Expr::Kind::kVectorSelector) {
          if (x.kind == Expr::Kind::kMatrixSelector) return Unexpected(open, "after a range selector");
          return Error(x.pos, "ranges only allowed for vector selectors");
        }
        if (x.offset_ms != 0 || has_offset_.count(&x)) {
          return Error(open.pos, "no offset modifiers allowed before range");
        }
        if (Peek().kind != Tok::kDuration) return Unexpected(Peek(), "in range selector, expected duration");
        const Token d = Next();
        // ':' also starts an identifier (metric names may hold colons): "[5m:1m]".
        if (Peek().kind == Tok::kColon || (Peek().kind == Tok::kIdent && Peek().text[0] == ':')) {
          return Error(Peek().pos, "subqueries are not supported");
        }
        SW_RETURN_IF_ERROR(Expect(Tok::kRBracket, "in range selector, expected \"]\""));
        if (d.duration_ms <= 0) return Error(d.pos, "range must be greater than 0");
        x.kind = Expr::Kind::kMatrixSelector;
        x.range_ms = d.duration_ms;
        continue;
      }
      if (PeekKeyword("offset")) {
        const Token off = Next();
        Expr& x = **e;
        if (x.kind != Expr::Kind::kVectorSelector && x.kind != Expr::Kind::kMatrixSelector) {
          return Error(off.pos, "offset modifier must be preceded by an instant vector selector or range vector selector");
        }
        if (has_offset_.count(&x)) return Error(off.pos, "offset may not be set multiple times");
        bool negative = false;
        if (Peek().kind == Tok::kSub || Peek().kind == Tok::kAdd) negative = Next().kind == Tok::kSub;
        if (Peek().kind != Tok::kDuration) return Unexpected(Peek(), "in offset, expected duration");
        const int64_t d = Next().duration_ms;
        x.offset_ms = negative ? -d : d;
        has_offset_.insert(&x);
        continue;
      }
      if (Peek().kind == Tok::kAt) return Error(Peek().pos, "the @ modifier is not supported");
      return Status::Ok();
    }
  }

  Status ParsePrimary(std::unique_ptr<Expr>* out) {
    const Token& t = Peek();
    switch (t.kind) {
      case Tok::kNumber: {
        auto e = std::make_unique<Expr>();
        e->kind = Expr::Kind::kNumber;
        e->pos = t.pos;
        e->number = t.number;
        Next();
        *out = std::move(e);
        return Status::Ok();
      }
      case Tok::kString:
        return Error(t.pos, "string literals are not supported");
      case Tok::kLParen: {
        const Token open = Next();
        auto e = std::make_unique<Expr>();
        e->kind = Expr::Kind::kParen;
        e->pos = open.pos;
        std::unique_ptr<Expr> inner;
        SW_RETURN_IF_ERROR(ParseExpr(0, &inner));
        SW_RETURN_IF_ERROR(Expect(Tok::kRParen, "in paren expression, expected \")\""));
        e->args.push_back(std::move(inner));
        *out = std::move(e);
        return Status::Ok();
      }
      case Tok::kLBrace:
        return ParseSelector(t.pos, "", out);
      case Tok::kIdent: {
        const std::string lower = Lower(t.text);
        if (const AggregatorInfo* a = FindAggregator(lower)) {
          if (!a->supported) return Error(t.pos, "aggregation \"" + lower + "\" is not supported");
          return ParseAggregate(*a, out);
        }
        if (IsKeyword(lower)) return Unexpected(t, "");
        if (Peek(1).kind == Tok::kLParen) return ParseCall(out);
        const Token name = Next();
        return ParseSelector(name.pos, name.text, out);
      }
      default:
        return Unexpected(t, "");
    }
  }

  Status ParseSelector(size_t pos, std::string name, std::unique_ptr<Expr>* out) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kVectorSelector;
    e->pos = pos;
    e->metric_name = name;
    if (Peek().kind == Tok::kLBrace) {
      Next();
      while (Peek().kind != Tok::kRBrace) {
        if (Peek().kind != Tok::kIdent || !IsValidLabelNameText(Peek().text)) {
          return Unexpected(Peek(), "in label matching, expected label name");
        }
        const Token label = Next();
        MatchOp op;
        switch (Peek().kind) {
          case Tok::kAssign: op = MatchOp::kEqual; break;
          case Tok::kNeq: op = MatchOp::kNotEqual; break;
          case Tok::kEqlRegex: op = MatchOp::kRegexMatch; break;
          case Tok::kNeqRegex: op = MatchOp::kRegexNoMatch; break;
          default: return Unexpected(Peek(), "in label matching, expected one of \"=\", \"!=\", \"=~\", \"!~\"");
        }
        Next();
        if (Peek().kind != Tok::kString) return Unexpected(Peek(), "in label matching, expected string");
        const Token value = Next();
        auto m = LabelMatcher::Make(op, label.text, value.text);
        if (!m.ok()) return Error(value.pos, m.status().message());
        if (label.text == kMetricNameLabel && !name.empty()) {
          return Error(label.pos, "metric name must not be set twice: \"" + name + "\" or \"" + value.text + "\"");
        }
        e->matchers.push_back(std::move(*m));
        if (Peek().kind == Tok::kComma) {
          Next();
        } else if (Peek().kind != Tok::kRBrace) {
          return Unexpected(Peek(), "in label matching, expected \",\" or \"}\"");
        }
      }
      Next();  // }
    }
    if (!name.empty()) {
      auto m = LabelMatcher::Make(MatchOp::kEqual, std::string(kMetricNameLabel), name);
      e->matchers.insert(e->matchers.begin(), std::move(*m));
    }
    bool selective = false;
    for (const auto& m : e->matchers) selective = selective || !m.MatchesEmpty();
    if (!selective) return Error(pos, "vector selector must contain at least one non-empty matcher");
    *out = std::move(e);
    return Status::Ok();
  }

  // ( name, name, ... ) with an optional trailing comma; names may be keywords.
  Status ParseLabelList(std::vector<std::string>* out, const std::string& what) {
    SW_RETURN_IF_ERROR(Expect(Tok::kLParen, "in " + what + ", expected \"(\""));
    while (Peek().kind != Tok::kRParen) {
      if (Peek().kind != Tok::kIdent || !IsValidLabelNameText(Peek().text)) {
        return Unexpected(Peek(), "in " + what + ", expected label");
      }
      out->push_back(Next().text);
      if (Peek().kind == Tok::kComma) {
        Next();
      } else if (Peek().kind != Tok::kRParen) {
        return Unexpected(Peek(), "in " + what + ", expected \",\" or \")\"");
      }
    }
    Next();
    return Status::Ok();
  }

  Status ParseAggregate(const AggregatorInfo& info, std::unique_ptr<Expr>* out) {
    const Token name = Next();
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kAggregate;
    e->pos = name.pos;
    e->agg = info.op;
    bool have_grouping = false;
    auto grouping = [&]() -> Status {
      if (!PeekKeyword("by") && !PeekKeyword("without")) return Status::Ok();
      if (have_grouping) return Unexpected(Peek(), "in aggregation, grouping given twice");
      have_grouping = true;
      e->without = Lower(Next().text) == "without";
      SW_RETURN_IF_ERROR(ParseLabelList(&e->grouping, "grouping labels"));
      std::sort(e->grouping.begin(), e->grouping.end());
      return Status::Ok();
    };
    SW_RETURN_IF_ERROR(grouping());
    if (Peek().kind != Tok::kLParen) return Unexpected(Peek(), "in aggregation, expected \"(\"");
    Next();
    std::vector<std::unique_ptr<Expr>> args;
    SW_RETURN_IF_ERROR(ParseArgs(&args));
    if (args.size() != 1) {
      return Error(name.pos, "wrong number of arguments for aggregate expression provided, expected 1, got " +
                                 std::to_string(args.size()));
    }
    if (args[0]->type() != ValueType::kVector) {
      return Error(args[0]->pos, "expected type instant vector in aggregation expression, got " +
                                     std::string(ValueTypeName(args[0]->type())));
    }
    e->args = std::move(args);
    SW_RETURN_IF_ERROR(grouping());
    *out = std::move(e);
    return Status::Ok();
  }

  // After "(": expressions separated by commas (trailing comma allowed) up to ")".
  Status ParseArgs(std::vector<std::unique_ptr<Expr>>* args) {
    while (Peek().kind != Tok::kRParen) {
      std::unique_ptr<Expr> a;
      SW_RETURN_IF_ERROR(ParseExpr(0, &a));
      args->push_back(std::move(a));
      if (Peek().kind == Tok::kComma) {
        Next();
      } else if (Peek().kind != Tok::kRParen) {
        return Unexpected(Peek(), "in argument list, expected \",\" or \")\"");
      }
    }
    Next();
    return Status::Ok();
  }

  Status ParseCall(std::unique_ptr<Expr>* out) {
    const Token name = Next();
    const FunctionInfo* info = FindFunction(name.text);
    if (info == nullptr) {
      if (IsUnsupportedPrometheusFunction(name.text)) {
        return Error(name.pos, "function \"" + name.text + "\" is not supported");
      }
      return Error(name.pos, "unknown function with name \"" + name.text + "\"");
    }
    Next();  // (
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kCall;
    e->pos = name.pos;
    e->func = info->func;
    SW_RETURN_IF_ERROR(ParseArgs(&e->args));
    if (e->args.size() != info->args.size()) {
      return Error(name.pos, "expected " + std::to_string(info->args.size()) + " argument(s) in call to \"" +
                                 name.text + "\", got " + std::to_string(e->args.size()));
    }
    for (size_t i = 0; i < e->args.size(); ++i) {
      const ValueType got = e->args[i]->type();
      if (got != info->args[i]) {
        return Error(e->args[i]->pos, "expected type " + std::string(ValueTypeName(info->args[i])) +
                                          " in call to function \"" + name.text + "\", got " +
                                          std::string(ValueTypeName(got)));
      }
    }
    *out = std::move(e);
    return Status::Ok();
  }

  std::string_view q_;
  std::vector<Token> toks_;
  size_t idx_ = 0;
  std::set<const Expr*> has_offset_;  // selectors that carry an explicit offset (even 0)
};

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[64];
  auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

std::string FormatDuration(int64_t ms) {
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  static const std::pair<int64_t, const char*> kUnits[] = {
      {365LL * 86400000, "y"}, {7LL * 86400000, "w"}, {86400000, "d"}, {3600000, "h"},
      {60000, "m"},            {1000, "s"},           {1, "ms"}};
  if (ms == 0) return "0s";
  for (const auto& [unit, name] : kUnits) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + name;
      ms %= unit;
    }
  }
  return out;
}

std::string FormatLabelList(const std::vector<std::string>& labels) {
  std::string out = "(";
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + labels[i];
  return out + ")";
}

}  // namespace

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "instant vector";
    case ValueType::kMatrix: return "range vector";
  }
  return "?";
}

std::string_view ResultTypeName(ValueType type) {
  switch (type) {
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "vector";
    case ValueType::kMatrix: return "matrix";
  }
  return "?";
}

std::string_view BinaryOpText(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kMod: return "%";
    case BinaryOp::kPow: return "^";
    case BinaryOp::kEq: return "==";
    case BinaryOp::kNe: return "!=";
    case BinaryOp::kGt: return ">";
    case BinaryOp::kLt: return "<";
    case BinaryOp::kGe: return ">=";
    case BinaryOp::kLe: return "<=";
    case BinaryOp::kAnd: return "and";
    case BinaryOp::kOr: return "or";
    case BinaryOp::kUnless: return "unless";
  }
  return "?";
}

bool IsComparison(BinaryOp op) {
  return op == BinaryOp::kEq || op == BinaryOp::kNe || op == BinaryOp::kGt || op == BinaryOp::kLt ||
         op == BinaryOp::kGe || op == BinaryOp::kLe;
}

bool IsSetOperator(BinaryOp op) { return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kUnless; }

ValueType Expr::type() const {
  switch (kind) {
    case Kind::kNumber: return ValueType::kScalar;
    case Kind::kVectorSelector: return ValueType::kVector;
    case Kind::kMatrixSelector: return ValueType::kMatrix;
    case Kind::kCall: return InfoOf(func).ret;
    case Kind::kAggregate: return ValueType::kVector;
    case Kind::kBinary:
      return args[0]->type() == ValueType::kScalar && args[1]->type() == ValueType::kScalar ? ValueType::kScalar
                                                                                         : ValueType::kVector;
    case Kind::kUnaryMinus:
    case Kind::kParen: return args[0]->type();
  }
  return ValueType::kVector;
}

Result<int64_t> ParsePromqlDuration(std::string_view text) {
  // model.ParseDuration: ^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$,
  // or "0".
  if (text == "0") return int64_t{0};
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000}, {"h", 3600000},
      {"m", 60000},            {"s", 1000},           {"ms", 1}};
  const auto bad = [&] { return InvalidArgument("not a valid duration string: \"" + std::string(text) + "\""); };
  if (text.empty()) return bad();
  size_t i = 0, next_unit = 0;
  int64_t total = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i) return bad();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + j, n);
    if (ec != std::errc()) return bad();
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    const std::string_view unit = text.substr(j, k - j);
    size_t u = next_unit;
    while (u < std::size(kUnits) && unit != kUnits[u].first) ++u;
    if (u == std::size(kUnits)) return bad();
    if (n > std::numeric_limits<int64_t>::max() / kUnits[u].second ||
        total > std::numeric_limits<int64_t>::max() - n * kUnits[u].second) {
      return InvalidArgument("duration out of range: \"" + std::string(text) + "\"");
    }
    total += n * kUnits[u].second;
    next_unit = u + 1;
    i = k;
  }
  return total;
}

Result<std::shared_ptr<const Expr>> ParsePromql(std::string_view query) { return Parser(query).Parse(); }

std::string FormatExpr(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber: return FormatNumber(e.number);
    case Expr::Kind::kVectorSelector:
    case Expr::Kind::kMatrixSelector: {
      std::string out = e.metric_name;
      std::string inner;
      for (const auto& m : e.matchers) {
        if (!e.metric_name.empty() && m.name() == kMetricNameLabel) continue;
        inner += (inner.empty() ? "" : ", ") + m.ToString();
      }
      if (!inner.empty() || e.metric_name.empty()) out += "{" + inner + "}";
      if (e.kind == Expr::Kind::kMatrixSelector) out += "[" + FormatDuration(e.range_ms) + "]";
      if (e.offset_ms != 0) out += " offset " + FormatDuration(e.offset_ms);
      return out;
    }
    case Expr::Kind::kCall: {
      std::string out(InfoOf(e.func).name);
      out += "(";
      for (size_t i = 0; i < e.args.size(); ++i) out += (i ? ", " : "") + FormatExpr(*e.args[i]);
      return out + ")";
    }
    case Expr::Kind::kAggregate: {
      std::string out(AggregatorName(e.agg));
      if (e.without || !e.grouping.empty()) out += (e.without ? " without " : " by ") + FormatLabelList(e.grouping);
      return out + " (" + FormatExpr(*e.args[0]) + ")";
    }
    case Expr::Kind::kBinary: {
      std::string out = "(" + FormatExpr(*e.args[0]) + " " + std::string(BinaryOpText(e.op));
      if (e.return_bool) out += " bool";
      const VectorMatching& m = e.matching;
      if (m.on || !m.labels.empty()) out += std::string(m.on ? " on" : " ignoring") + FormatLabelList(m.labels);
      if (m.card == Cardinality::kManyToOne) out += " group_left" + FormatLabelList(m.include);
      if (m.card == Cardinality::kOneToMany) out += " group_right" + FormatLabelList(m.include);
      return out + " " + FormatExpr(*e.args[1]) + ")";
    }
    case Expr::Kind::kUnaryMinus: return "-" + FormatExpr(*e.args[0]);
    case Expr::Kind::kParen: return FormatExpr(*e.args[0]);
  }
  return "?";
}

}  // namespace shelfwatch::monitor
