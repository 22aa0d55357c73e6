// Text analysis: UTF-8 text -> search terms.
//
//   normalise (ICU NFKC + case folding) -> segment words (ICU word break iterator, so Chinese
//   and Japanese segment into dictionary words) -> split letters from digits ("2x4" -> 2 x 4)
//   -> join fractions ("3/4") -> canonicalise units after numbers ("in." / "inch" / '"' -> in)
//   -> stem (Snowball, English by default; CJK and numbers are never stemmed).
//
// The same analyzer runs when indexing and when querying, so both sides agree on every term.
// Thread-safety: an Analyzer is NOT thread-safe (ICU break iterators and Snowball stemmers keep
// state): use one per thread, e.g. through ThreadLocalAnalyzer().
// Cost: O(length of text); allocation-free after warm-up apart from the output terms.
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
  // After a number, map unit spellings to one canonical term ("inch", "inches", "in.", '"' -> "in").
  bool canonicalize_units = true;

  // A stable text form of the options, used to key per-thread analyzers and stored with indexes.
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
  // (replaced, never a crash); callers validate input where they must reject it.
  void Analyze(std::string_view text, std::vector<std::string>* terms);

  const AnalyzerOptions& options() const;

 private:
  struct Impl;
  explicit Analyzer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The calling thread's analyzer for `options`, created on first use and kept for the thread's
// life. Aborts only if ICU cannot create a break iterator at all (a broken installation); an
// unknown stemming language must be rejected earlier with Analyzer::Create.
Analyzer& ThreadLocalAnalyzer(const AnalyzerOptions& options = {});

}  // namespace shelfwatch::text
