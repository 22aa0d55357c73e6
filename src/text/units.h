// Unit spellings and their canonical terms (internal to the text module).
//
// Home Depot titles write "1-gal.", "3/4 in.", "12-Gauge", "100W"; shoppers type "1 gallon",
// "3/4 inch", "12 ga", "100 watt". After a number every spelling of a unit becomes one term.
// Canonical terms are the unit's full English word where that word is unambiguous (then it is
// stemmed like any word, so "gallons" typed alone meets "5 gal." too) and the abbreviation
// where the word has other senses (foot/feet -> "ft", yard -> "yd", square -> "sq").
// Chosen from the real data: see the analyzer tests and the text module's report.
// Thread-safe (a constant table); lookup is a short scan of a static table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shelfwatch::text {

struct UnitSpelling {
  enum Flags : uint8_t {
    kNone = 0,
    kPrefix = 1,            // sq, cu, fl: combine with the unit after them ("sq. ft.")
    kNeedsUnitAfter = 2,    // square, cubic: only a unit when a unit follows ("square feet")
    kAttachedOnly = 4,      // a: only written against the number ("20A"), never "2 a"
    kNotBeforeOne = 8,      // in: "2-in-1" / "3 in 1" is a product type, not inches
    kAlsoStandalone = 16,   // oz, gal, lbs: unambiguous even without a number
  };
  std::string_view spelling;
  std::string_view canonical;
  std::string_view second;  // a second term for glued spellings: "sqft" -> sq ft
  bool stem_canonical;      // canonical is a full word: pass it through the stemmer
  uint8_t flags;
};

// Spellings flagged kAlsoStandalone are at most this long, so callers skip the lookup for
// longer words that follow no number.
constexpr size_t kMaxStandaloneSpelling = 4;

// The unit written as `word` (lower case), or nullptr.
const UnitSpelling* FindUnit(std::string_view word);

}  // namespace shelfwatch::text
