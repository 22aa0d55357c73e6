// Text analysis: UTF-8 text -> search terms.
//
//   filter characters (HTML entities, typographic quotes/primes/dashes, vulgar fractions)
//   -> normalise (ICU NFKC + case folding) -> segment words (ICU word break iterator, so Chinese
//   and Japanese segment into dictionary words) -> split letters from digits ("10ft" -> 10 ft)
//   -> join fractions ("3/4", and "1-1/2" -> 1 1/2) -> canonicalise units after numbers
//   ("in." / "inch" / '"' -> inch, "gal." -> gallon, "12-Gauge" / "12 ga" -> gauge; full-word
//   units are then stemmed like any word) and drop the "x" of dimensions ("2x4" -> 2 4)
//   -> stem (Snowball, English by default; only alphabetic scripts: CJK, Hangul, Thai and
//   numbers are never stemmed).
// Numbers: "1.9" stays one term, "2,000" -> 2000, "2.50" -> 2.5; hyphens split ("12-Gauge").
// All-ASCII text (nearly every query) takes a fast path that skips ICU and gives exactly the
// terms the ICU path gives (a test holds the two equal over the whole Home Depot catalog).
//
// The same analyzer runs when indexing and when querying, so both sides agree on every term.
// Thread-safety: an Analyzer is NOT thread-safe (ICU break iterators and Snowball stemmers keep
// state): use one per thread, e.g. through ThreadLocalAnalyzer().
// Cost: O(length of text). ASCII text: about 0.1-0.5 us for a three-word query, 2 us for a
// catalog title, and no allocation after warm-up apart from output terms longer than
// std::string's inline buffer (15 bytes). Other text goes through ICU: about 2-3x that.
// Memory: about 1 MiB per analyzer (a cache of recent stems).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::text {

struct AnalyzerOptions {
  // Snowball algorithm name ("english", "porter", "german", ...); "none" disables stemming.
  std::string stem_language = "english";
  // Split tokens at letter/digit boundaries: "2x4" -> "2","x","4"; "10ft" -> "10","ft".
  bool split_alphanumeric = true;
  // After a number, map unit spellings to one canonical term ("in", "in.", '"' -> "inch"),
  // and drop the "x" of dimensions ("2 in. x 4 in.", "2x4").
  bool canonicalize_units = true;

  bool operator==(const AnalyzerOptions&) const = default;

  // A stable text form of the options, used to key per-thread analyzers and stored with indexes.
  // It includes a version of the analysis rules, bumped whenever the terms for some text change.
  std::string Fingerprint() const;
};

class Analyzer {
 public:
  // Fails with kInvalidArgument for an unknown stemming language, kInternal if ICU fails.
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options = {});
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Appends the terms of `text` to `terms`, in text order. Ill-formed UTF-8 is tolerated
  // (each bad byte reads as U+FFFD, never a crash); callers validate input where they must
  // reject it. Text past the first 64 MiB is ignored.
  void Analyze(std::string_view text, std::vector<std::string>* terms);

  const AnalyzerOptions& options() const;

 private:
  struct Impl;
  friend struct AnalyzerTestAccess;  // tests compare the ASCII fast path with ICU's
  explicit Analyzer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The calling thread's analyzer for `options`, created on first use and kept for the thread's
// life. Aborts only if ICU cannot create a break iterator at all (a broken installation); an
// unknown stemming language must be rejected earlier with Analyzer::Create.
Analyzer& ThreadLocalAnalyzer(const AnalyzerOptions& options = {});

}  // namespace shelfwatch::text
