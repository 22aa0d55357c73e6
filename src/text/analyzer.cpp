#include "text/analyzer.h"

#include <libstemmer.h>
#include <unicode/brkiter.h>
#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "common/utf8.h"
#include "text/analyzer_testing.h"
#include "text/char_filter.h"
#include "text/units.h"

namespace shelfwatch::text {
namespace {

// Bump when the terms produced for some text change, so that stored indexes notice.
constexpr int kAnalyzerVersion = 1;
// ICU break iterators index with int32_t and NFKC can expand text up to 18 times (U+FDFA),
// so longer text is cut here; 64 MiB is far past any title or query.
constexpr size_t kMaxTextBytes = size_t{1} << 26;

// What the tokenizer sees in one character.
enum class CharClass : uint8_t { kSpace, kLetter, kDigit, kApostrophe, kNumberJoiner, kOther };

constexpr CharClass AsciiClass(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::kLetter;
  if (c >= '0' && c <= '9') return CharClass::kDigit;
  if (c == ' ' || (c >= '\t' && c <= '\r')) return CharClass::kSpace;
  if (c == '\'') return CharClass::kApostrophe;
  if (c == '.' || c == ',') return CharClass::kNumberJoiner;
  return CharClass::kOther;
}

struct AsciiClassTable {
  CharClass cls[128];
  constexpr AsciiClassTable() : cls() {
    for (int c = 0; c < 128; ++c) cls[c] = AsciiClass(static_cast<unsigned char>(c));
  }
};
constexpr AsciiClassTable kAscii;

CharClass UnicodeClass(UChar32 cp) {
  switch (u_charType(cp)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      return CharClass::kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
      return CharClass::kDigit;
    default:
      return u_isUWhiteSpace(cp) ? CharClass::kSpace : CharClass::kOther;
  }
}

// Snowball has stemmers for these scripts; words in any other script (Han, Kana, Hangul,
// Thai, ...) are never stemmed.
bool StemmableScript(UScriptCode script) {
  switch (script) {
    case USCRIPT_LATIN:
    case USCRIPT_GREEK:
    case USCRIPT_CYRILLIC:
    case USCRIPT_ARMENIAN:
    case USCRIPT_HEBREW:
    case USCRIPT_ARABIC:
    case USCRIPT_DEVANAGARI:
    case USCRIPT_TAMIL:
    case USCRIPT_COMMON:
    case USCRIPT_INHERITED:
      return true;
    default:
      return false;
  }
}

bool IsAsciiWithoutAmpersand(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    uint64_t amp = w ^ (kOnes * '&');  // a zero byte where w has '&'
    if ((w | ((amp - kOnes) & ~amp)) & kHigh) return false;
  }
  for (; i < n; ++i) {
    if (p[i] >= 0x80 || p[i] == '&') return false;
  }
  return true;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Replaces each byte that does not start a well-formed UTF-8 sequence with U+FFFD.
void RepairUtf8(std::string_view s, std::string* out) {
  out->clear();
  while (!s.empty()) {
    size_t bad = FirstInvalidUtf8(s);
    out->append(s.data(), bad);
    if (bad == s.size()) break;
    out->append("\xEF\xBF\xBD");
    s.remove_prefix(bad + 1);
  }
}

bool IsAllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "1,000" and "12,500.75": one to three digits, then groups of exactly three.
bool IsThousandsGrouped(std::string_view s) {
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  size_t first = whole.find(',');
  if (first == 0 || first > 3) return false;
  for (size_t i = first; i < whole.size(); i += 4) {
    if (whole[i] != ',' || i + 4 > whole.size()) return false;
    for (size_t k = 1; k <= 3; ++k) {
      if (whole[i + k] < '0' || whole[i + k] > '9') return false;
    }
  }
  return dot == std::string_view::npos || s.find(',', dot) == std::string_view::npos;
}

// Snowball takes a few hundred nanoseconds a word, and shoppers and titles reuse a modest
// vocabulary (Home Depot: 7k distinct query words, 16k title words): a two-way set-associative
// cache of stems (1 MiB, allocated once when the analyzer stems) answers most words with one
// hash and a compare or two.
class StemCache {
 public:
  static constexpr size_t kMaxWord = 29;

  void Allocate() { entries_.resize(kEntries); }

  // The cached stem of `word`, or nullopt.
  std::optional<std::string_view> Find(std::string_view word) const {
    if (entries_.empty()) return std::nullopt;
    const Entry* set = &entries_[SetOf(word)];
    for (int way = 0; way < 2; ++way) {
      const Entry& e = set[way];
      if (e.word_len == word.size() && e.word_len != 0 &&
          std::memcmp(e.word, word.data(), word.size()) == 0) {
        return std::string_view(e.stem, e.stem_len);
      }
    }
    return std::nullopt;
  }

  // Caches a stem; the set's older entry moves to the second way, evicting what was there.
  void Put(std::string_view word, std::string_view stem) {
    if (entries_.empty() || word.empty() || word.size() > kMaxWord || stem.size() > kMaxWord) {
      return;
    }
    Entry* set = &entries_[SetOf(word)];
    set[1] = set[0];
    set[0].word_len = static_cast<uint8_t>(word.size());
    set[0].stem_len = static_cast<uint8_t>(stem.size());
    std::memcpy(set[0].word, word.data(), word.size());
    std::memcpy(set[0].stem, stem.data(), stem.size());
  }

 private:
  static constexpr size_t kEntries = 16384;
  struct Entry {
    uint8_t word_len = 0;
    uint8_t stem_len = 0;
    char word[kMaxWord];
    char stem[kMaxWord];
  };
  static_assert(sizeof(Entry) <= 64);

  static size_t SetOf(std::string_view word) {
    uint64_t h = 14695981039346656037ull;  // FNV-1a, 64-bit
    for (char c : word) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    return static_cast<size_t>(h ^ (h >> 29)) & (kEntries - 2);
  }

  std::vector<Entry> entries_;
};

// A piece of text the term builder looks at: a word, a number, an ideographic word (never
// split or stemmed), or one punctuation character.
enum class AtomKind : uint8_t { kWord, kNumber, kIdeograph, kPunct };

struct Atom {
  uint32_t begin;
  uint32_t end;
  char32_t cp;      // kPunct: the character ('/' also for U+2044 FRACTION SLASH)
  AtomKind kind;
  bool gap_before;  // whitespace (or the start of the text) before it
  bool ascii;       // kWord: ASCII letters only
};

struct StemmerDeleter {
  void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};

std::string KnownStemmers() {
  std::string names;
  for (const char** p = sb_stemmer_list(); *p != nullptr; ++p) {
    if (!names.empty()) names += ", ";
    names += *p;
  }
  return names;
}

}  // namespace

std::string AnalyzerOptions::Fingerprint() const {
  std::string f = "analyzer=" + std::to_string(kAnalyzerVersion);
  f += ";stem=" + stem_language;
  f += split_alphanumeric ? ";split=1" : ";split=0";
  f += canonicalize_units ? ";units=1" : ";units=0";
  return f;
}

struct Analyzer::Impl {
  AnalyzerOptions options;
  bool ascii_fast_path = true;
  const icu::Normalizer2* nfkc_casefold = nullptr;
  std::unique_ptr<icu::BreakIterator> words;
  std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer;
  StemCache stems;
  UText utext = UTEXT_INITIALIZER;

  // Buffers reused across calls.
  std::string filtered;  // after the character filter
  std::string repaired;  // ill-formed UTF-8 replaced
  std::string text;      // normalised text the atoms point into
  std::string scratch;   // rewritten numbers
  std::vector<Atom> atoms;
  bool pending_gap = true;

  ~Impl() { utext_close(&utext); }

  void Analyze(std::string_view input, std::vector<std::string>* terms);
  void AtomizeAscii(std::string_view input);
  void AtomizeIcu(std::string_view input);
  void AtomizeRun(size_t begin, size_t end);
  void PushAtom(size_t begin, size_t end, AtomKind kind, char32_t cp, bool ascii);
  void EmitTerms(std::vector<std::string>* terms);

  std::string_view Text(const Atom& a) const {
    return std::string_view(text).substr(a.begin, a.end - a.begin);
  }
  bool IsPunct(size_t i, char32_t cp) const {
    return i < atoms.size() && atoms[i].kind == AtomKind::kPunct && atoms[i].cp == cp;
  }
  const UnitSpelling* UnitAt(size_t i) const {
    return i < atoms.size() && atoms[i].kind == AtomKind::kWord ? FindUnit(Text(atoms[i]))
                                                               : nullptr;
  }
  bool IsProductTypeIn(size_t i) const;
  void EmitNumber(std::string_view number, std::vector<std::string>* terms);
  void EmitDecimal(std::string_view number, std::vector<std::string>* terms);
  void EmitWord(std::string_view word, bool stem, std::vector<std::string>* terms);
  void EmitUnit(const UnitSpelling& unit, std::vector<std::string>* terms);
  bool Stemmable(const Atom& a) const;
};

void Analyzer::Impl::Analyze(std::string_view input, std::vector<std::string>* terms) {
  if (input.size() > kMaxTextBytes) {
    size_t cut = kMaxTextBytes;
    while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xC0) == 0x80) --cut;
    input = input.substr(0, cut);
  }
  atoms.clear();
  pending_gap = true;
  if (IsAsciiWithoutAmpersand(input)) {
    if (ascii_fast_path) {
      AtomizeAscii(input);
    } else {
      AtomizeIcu(input);
    }
  } else {
    if (FilterChars(input, &filtered)) input = filtered;
    if (ascii_fast_path && IsAscii(input)) {
      AtomizeAscii(input);
    } else {
      AtomizeIcu(input);
    }
  }
  EmitTerms(terms);
}

// For ASCII, NFKC case folding is plain lower-casing, and ICU's word boundaries (UAX #29
// rules WB5-WB13) never fall inside what AtomizeRun keeps together (letter runs, digit runs,
// letter'letter, digit.digit, digit,digit), so atomizing the whole text at once gives what
// atomizing each ICU segment gives. AnalyzerTest.AsciiFastPathEqualsIcuOnRealData checks it.
void Analyzer::Impl::AtomizeAscii(std::string_view input) {
  text.resize(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    text[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  AtomizeRun(0, text.size());
}

void Analyzer::Impl::AtomizeIcu(std::string_view input) {
  if (!IsValidUtf8(input)) {
    RepairUtf8(input, &repaired);
    input = repaired;
  }
  text.clear();
  UErrorCode status = U_ZERO_ERROR;
  icu::StringByteSink<std::string> sink(&text);
  icu::StringPiece source(input.data(), static_cast<int32_t>(input.size()));
  nfkc_casefold->normalizeUTF8(0, source, sink, nullptr, status);
  if (U_FAILURE(status)) return;  // out of memory: no terms rather than wrong ones
  utext_openUTF8(&utext, text.data(), static_cast<int64_t>(text.size()), &status);
  words->setText(&utext, status);
  if (U_FAILURE(status)) return;
  int32_t start = words->first();
  for (int32_t end = words->next(); end != icu::BreakIterator::DONE;
       start = end, end = words->next()) {
    int32_t rule = words->getRuleStatus();
    if (rule >= UBRK_WORD_KANA && rule < UBRK_WORD_IDEO_LIMIT) {
      PushAtom(start, end, AtomKind::kIdeograph, 0, false);
    } else {
      AtomizeRun(start, end);
    }
  }
}

void Analyzer::Impl::PushAtom(size_t begin, size_t end, AtomKind kind, char32_t cp, bool ascii) {
  atoms.push_back(Atom{static_cast<uint32_t>(begin), static_cast<uint32_t>(end), cp, kind,
                       pending_gap, ascii});
  pending_gap = false;
}

// Splits text[begin, end) into atoms. Keeps together: runs of letters and runs of digits
// (one mixed run when !split_alphanumeric), an apostrophe between letters ("men's"), and a
// '.' or ',' between digits ("1.9", "2,000"). Every other non-space character is one atom.
void Analyzer::Impl::AtomizeRun(size_t begin, size_t end) {
  const char* s = text.data();
  const bool split = options.split_alphanumeric;
  auto class_at = [&](size_t i, UChar32* cp, size_t* len) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      *cp = c;
      *len = 1;
      return kAscii.cls[c];
    }
    int32_t next = static_cast<int32_t>(i);
    U8_NEXT(s, next, static_cast<int32_t>(end), *cp);
    *len = static_cast<size_t>(next) - i;
    return *cp < 0 ? CharClass::kOther : UnicodeClass(*cp);
  };

  size_t i = begin;
  while (i < end) {
    UChar32 cp;
    size_t len;
    CharClass cls = class_at(i, &cp, &len);
    if (cls == CharClass::kSpace) {
      pending_gap = true;
      i += len;
      continue;
    }
    if (cls != CharClass::kLetter && cls != CharClass::kDigit) {
      PushAtom(i, i + len, AtomKind::kPunct, cp == 0x2044 ? U'/' : static_cast<char32_t>(cp),
               false);
      i += len;
      continue;
    }
    size_t start = i;
    bool has_letter = false, ascii = true;
    CharClass prev = cls;
    while (i < end) {
      cls = class_at(i, &cp, &len);
      if (cls == CharClass::kLetter || cls == CharClass::kDigit) {
        if (split && cls != prev) break;
        has_letter |= cls == CharClass::kLetter;
        ascii &= cp < 0x80;
        prev = cls;
        i += len;
        continue;
      }
      bool joins = (cls == CharClass::kApostrophe && prev == CharClass::kLetter) ||
                   (cls == CharClass::kNumberJoiner && prev == CharClass::kDigit);
      if (!joins || i + len >= end) break;
      UChar32 next_cp;
      size_t next_len;
      if (class_at(i + len, &next_cp, &next_len) != prev) break;
      i += len;  // the joiner; the loop takes the character after it
    }
    PushAtom(start, i, has_letter ? AtomKind::kWord : AtomKind::kNumber, 0, ascii);
  }
}

bool Analyzer::Impl::Stemmable(const Atom& a) const {
  if (a.ascii) return true;
  const char* s = text.data();
  int32_t i = static_cast<int32_t>(a.begin), end = static_cast<int32_t>(a.end);
  while (i < end) {
    UChar32 cp;
    U8_NEXT(s, i, end, cp);
    UErrorCode status = U_ZERO_ERROR;
    if (cp < 0 || !StemmableScript(uscript_getScript(cp, &status))) return false;
  }
  return true;
}

void Analyzer::Impl::EmitWord(std::string_view word, bool stem,
                              std::vector<std::string>* terms) {
  // Words past 64 bytes are not words a stemmer knows (URLs, part lists): keep them whole.
  if (!stem || stemmer == nullptr || word.size() > 64) {
    terms->emplace_back(word);
    return;
  }
  if (std::optional<std::string_view> cached = stems.Find(word)) {
    terms->emplace_back(*cached);
    return;
  }
  const sb_symbol* stemmed =
      sb_stemmer_stem(stemmer.get(), reinterpret_cast<const sb_symbol*>(word.data()),
                      static_cast<int>(word.size()));
  if (stemmed == nullptr) {  // out of memory
    terms->emplace_back(word);
    return;
  }
  std::string_view result(reinterpret_cast<const char*>(stemmed),
                          static_cast<size_t>(sb_stemmer_length(stemmer.get())));
  stems.Put(word, result);
  terms->emplace_back(result);
}

// A decimal number loses trailing zeros after the point: "2.50" -> 2.5, "3.0" -> 3.
void Analyzer::Impl::EmitDecimal(std::string_view number, std::vector<std::string>* terms) {
  size_t dot = number.find('.');
  if (dot != std::string_view::npos && number.find('.', dot + 1) == std::string_view::npos) {
    size_t keep = number.size();
    while (keep > dot + 1 && number[keep - 1] == '0') --keep;
    if (keep == dot + 1) keep = dot;
    number = number.substr(0, keep);
  }
  terms->emplace_back(number);
}

// "2,000" -> 2000; a comma that is not thousands grouping separates numbers ("3,4" -> 3 4).
void Analyzer::Impl::EmitNumber(std::string_view number, std::vector<std::string>* terms) {
  if (number.find(',') == std::string_view::npos) {
    EmitDecimal(number, terms);
    return;
  }
  if (IsThousandsGrouped(number)) {
    scratch.clear();
    for (char c : number) {
      if (c != ',') scratch.push_back(c);
    }
    EmitDecimal(scratch, terms);
    return;
  }
  while (!number.empty()) {
    size_t comma = number.find(',');
    EmitDecimal(number.substr(0, comma), terms);
    if (comma == std::string_view::npos) break;
    number.remove_prefix(comma + 1);
  }
}

// "2-in-1", "3 in 1 cleaner": a product type, not inches. "2 in 1 ft", "6 in 1-1/2" stay units.
bool Analyzer::Impl::IsProductTypeIn(size_t i) const {
  size_t j = i + 1;
  if (IsPunct(j, '-')) ++j;
  if (j >= atoms.size() || atoms[j].kind != AtomKind::kNumber || Text(atoms[j]) != "1") {
    return false;
  }
  size_t k = j + 1;
  if (k >= atoms.size()) return true;
  const Atom& after = atoms[k];
  switch (after.kind) {
    case AtomKind::kNumber:
      return false;
    case AtomKind::kWord:
      return UnitAt(k) == nullptr;
    case AtomKind::kIdeograph:
      return true;
    case AtomKind::kPunct:
      if (after.gap_before) return true;
      if (after.cp == '/' || after.cp == '"' || after.cp == '\'') return false;
      if (after.cp == '-' && k + 1 < atoms.size() && atoms[k + 1].kind == AtomKind::kNumber) {
        return false;
      }
      return true;
  }
  return true;
}

void Analyzer::Impl::EmitUnit(const UnitSpelling& unit, std::vector<std::string>* terms) {
  EmitWord(unit.canonical, unit.stem_canonical, terms);
  if (!unit.second.empty()) terms->emplace_back(unit.second);
}

void Analyzer::Impl::EmitTerms(std::vector<std::string>* terms) {
  const bool units = options.canonicalize_units;
  const size_t n = atoms.size();
  constexpr size_t kNone = SIZE_MAX;
  size_t last_number = kNone;  // index of the last atom of the latest number or fraction
  bool last_was_fraction = false;
  size_t last_prefix = kNone;  // index of the latest "sq" / "cu" / "fl" after a number

  for (size_t i = 0; i < n; ++i) {
    const Atom& a = atoms[i];
    switch (a.kind) {
      case AtomKind::kNumber: {
        // A fraction is digits '/' digits with nothing between: "3/4" (not "3 / 4").
        if (i + 2 < n && IsPunct(i + 1, '/') && !atoms[i + 1].gap_before &&
            atoms[i + 2].kind == AtomKind::kNumber && !atoms[i + 2].gap_before &&
            IsAllDigits(Text(a)) && IsAllDigits(Text(atoms[i + 2]))) {
          std::string& f = terms->emplace_back(Text(a));
          f.push_back('/');
          f.append(Text(atoms[i + 2]));
          i += 2;
          last_number = i;
          last_was_fraction = true;
        } else {
          EmitNumber(Text(a), terms);
          last_number = i;
          last_was_fraction = false;
        }
        break;
      }
      case AtomKind::kIdeograph:
        terms->emplace_back(Text(a));
        break;
      case AtomKind::kPunct: {
        // 6" and 6'' are inches, 6' is feet (but 3/4' is a shopper's 3/4 inch).
        if (!units || last_number == kNone || i != last_number + 1 || a.gap_before) break;
        if (a.cp == '"') {
          EmitUnit(*FindUnit("inch"), terms);
        } else if (a.cp == '\'') {
          bool double_prime = IsPunct(i + 1, '\'') && !atoms[i + 1].gap_before;
          if (double_prime) ++i;
          EmitUnit(*FindUnit(double_prime || last_was_fraction ? "inch" : "ft"), terms);
        }
        break;
      }
      case AtomKind::kWord: {
        bool near_number = last_number != kNone && i <= last_number + 2;
        bool near_prefix = last_prefix != kNone && i <= last_prefix + 2;
        if (units && (near_number || near_prefix || a.end - a.begin <= kMaxStandaloneSpelling)) {
          const UnitSpelling* unit = FindUnit(Text(a));
          if (unit != nullptr) {
            bool after_number =
                last_number != kNone &&
                (i == last_number + 1 ||
                 (i == last_number + 2 && IsPunct(i - 1, '-') && !atoms[i - 1].gap_before &&
                  !a.gap_before));
            bool after_prefix =
                last_prefix != kNone &&
                (i == last_prefix + 1 ||
                 (i == last_prefix + 2 && IsPunct(i - 1, '.') && !atoms[i - 1].gap_before));
            bool is_unit = after_number || after_prefix ||
                           (unit->flags & UnitSpelling::kAlsoStandalone);
            if ((unit->flags & UnitSpelling::kAttachedOnly) &&
                !(last_number != kNone && i == last_number + 1 && !a.gap_before)) {
              is_unit = false;
            }
            if ((unit->flags & UnitSpelling::kNeedsUnitAfter) &&
                UnitAt(IsPunct(i + 1, '.') ? i + 2 : i + 1) == nullptr) {
              is_unit = false;
            }
            if ((unit->flags & UnitSpelling::kNotBeforeOne) && IsProductTypeIn(i)) {
              is_unit = false;
            }
            if (is_unit) {
              EmitUnit(*unit, terms);
              if (unit->flags & UnitSpelling::kPrefix) last_prefix = i;
              break;
            }
          }
        }
        // The "x" of a dimension ("2 in. x 4 in.", "2x4") separates numbers; as a term it
        // matched a third of all titles and cost NDCG (measured: -0.001 on TRAIN queries).
        if (units && i + 1 < n && atoms[i + 1].kind == AtomKind::kNumber && Text(a) == "x") {
          break;
        }
        EmitWord(Text(a), Stemmable(a), terms);
        break;
      }
    }
  }
}

Analyzer::Analyzer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Analyzer::~Analyzer() = default;

Result<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (options.stem_language != "none") {
    impl->stemmer.reset(sb_stemmer_new(options.stem_language.c_str(), "UTF_8"));
    if (impl->stemmer == nullptr) {
      return InvalidArgument("unknown stemming language \"" + options.stem_language +
                             "\"; use \"none\" or one of: " + KnownStemmers());
    }
    impl->stems.Allocate();
  }
  UErrorCode status = U_ZERO_ERROR;
  impl->nfkc_casefold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status)) {
    return Internal(std::string("ICU NFKC case-fold normaliser unavailable: ") +
                    u_errorName(status));
  }
  impl->words.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status) || impl->words == nullptr) {
    return Internal(std::string("ICU word break iterator unavailable: ") + u_errorName(status));
  }
  return std::unique_ptr<Analyzer>(new Analyzer(std::move(impl)));
}

void Analyzer::Analyze(std::string_view text, std::vector<std::string>* terms) {
  impl_->Analyze(text, terms);
}

const AnalyzerOptions& Analyzer::options() const { return impl_->options; }

void AnalyzerTestAccess::SetAsciiFastPath(Analyzer& analyzer, bool enabled) {
  analyzer.impl_->ascii_fast_path = enabled;
}

Analyzer& ThreadLocalAnalyzer(const AnalyzerOptions& options) {
  struct PerThread {
    std::unordered_map<std::string, std::unique_ptr<Analyzer>> by_fingerprint;
    Analyzer* last = nullptr;  // nearly every call asks for the same options as the one before
  };
  thread_local PerThread cache;
  if (cache.last != nullptr && cache.last->options() == options) return *cache.last;
  std::unique_ptr<Analyzer>& slot = cache.by_fingerprint[options.Fingerprint()];
  if (slot == nullptr) {
    Result<std::unique_ptr<Analyzer>> created = Analyzer::Create(options);
    if (!created.ok()) {
      std::fprintf(stderr, "shelfwatch: cannot create a text analyzer: %s\n",
                   created.status().ToString().c_str());
      std::abort();
    }
    slot = std::move(created).value();
  }
  cache.last = slot.get();
  return *slot;
}

}  // namespace shelfwatch::text
