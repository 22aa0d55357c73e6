#include "text/units.h"

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace shelfwatch::text {
namespace {

using U = UnitSpelling;

constexpr U kUnits[] = {
    // Length.
    {"in", "inch", "", true, U::kNotBeforeOne},
    {"inch", "inch", "", true, U::kNone},
    {"inches", "inch", "", true, U::kNone},
    {"inx", "inch", "", true, U::kNone},  // "2inx4in": the x of a dimension is dropped
    {"ft", "ft", "", false, U::kNone},
    {"foot", "ft", "", false, U::kNone},
    {"feet", "ft", "", false, U::kNone},
    {"ftx", "ft", "", false, U::kNone},
    {"yd", "yd", "", false, U::kNone},
    {"yds", "yd", "", false, U::kNone},
    {"yard", "yd", "", false, U::kNone},
    {"yards", "yd", "", false, U::kNone},
    {"mm", "mm", "", false, U::kNone},
    {"millimeter", "mm", "", false, U::kNone},
    {"millimeters", "mm", "", false, U::kNone},
    {"cm", "cm", "", false, U::kNone},
    {"centimeter", "cm", "", false, U::kNone},
    {"centimeters", "cm", "", false, U::kNone},
    {"meter", "m", "", false, U::kNone},
    {"meters", "m", "", false, U::kNone},
    {"metre", "m", "", false, U::kNone},
    {"metres", "m", "", false, U::kNone},
    // Area and volume prefixes.
    {"sq", "sq", "", false, U::kPrefix},
    {"square", "sq", "", false, U::kPrefix | U::kNeedsUnitAfter},
    {"sqft", "sq", "ft", false, U::kNone},
    {"cu", "cu", "", false, U::kPrefix},
    {"cubic", "cu", "", false, U::kPrefix | U::kNeedsUnitAfter},
    {"cuft", "cu", "ft", false, U::kNone},
    {"fl", "fl", "", false, U::kPrefix},
    // Volume.
    {"gal", "gallon", "", true, U::kAlsoStandalone},
    {"gals", "gallon", "", true, U::kAlsoStandalone},
    {"gallon", "gallon", "", true, U::kNone},
    {"gallons", "gallon", "", true, U::kNone},
    {"qt", "quart", "", true, U::kAlsoStandalone},
    {"qts", "quart", "", true, U::kAlsoStandalone},
    {"quart", "quart", "", true, U::kNone},
    {"quarts", "quart", "", true, U::kNone},
    {"l", "l", "", false, U::kNone},
    {"liter", "l", "", false, U::kNone},
    {"liters", "l", "", false, U::kNone},
    {"litre", "l", "", false, U::kNone},
    {"litres", "l", "", false, U::kNone},
    // Weight.
    {"oz", "ounce", "", true, U::kAlsoStandalone},
    {"ozs", "ounce", "", true, U::kAlsoStandalone},
    {"ounce", "ounce", "", true, U::kNone},
    {"ounces", "ounce", "", true, U::kNone},
    {"lb", "pound", "", true, U::kAlsoStandalone},
    {"lbs", "pound", "", true, U::kAlsoStandalone},
    {"pound", "pound", "", true, U::kNone},
    {"pounds", "pound", "", true, U::kNone},
    // Electrical.
    {"v", "volt", "", true, U::kNone},
    {"volt", "volt", "", true, U::kNone},
    {"volts", "volt", "", true, U::kNone},
    {"vac", "volt", "", true, U::kNone},
    {"vdc", "volt", "", true, U::kNone},
    {"w", "watt", "", true, U::kNone},
    {"watt", "watt", "", true, U::kNone},
    {"watts", "watt", "", true, U::kNone},
    {"a", "amp", "", true, U::kAttachedOnly},
    {"amp", "amp", "", true, U::kNone},
    {"amps", "amp", "", true, U::kNone},
    {"ampere", "amp", "", true, U::kNone},
    {"amperes", "amp", "", true, U::kNone},
    // Wire and sheet gauge; AWG is American Wire Gauge.
    {"ga", "gauge", "", true, U::kNone},
    {"gauge", "gauge", "", true, U::kNone},
    {"gage", "gauge", "", true, U::kNone},
    {"awg", "gauge", "", true, U::kNone},
    // Counts.
    {"pk", "pack", "", true, U::kNone},
    {"pck", "pack", "", true, U::kNone},
    {"pack", "pack", "", true, U::kNone},
    {"packs", "pack", "", true, U::kNone},
    {"pc", "piece", "", true, U::kNone},
    {"pcs", "piece", "", true, U::kNone},
    {"piece", "piece", "", true, U::kNone},
    {"pieces", "piece", "", true, U::kNone},
    // Rates and energy, already one spelling each; listed so that they count as units
    // (a unit after "sq"/"cu", not the product-type "in" of "2 in 1 ...").
    {"btu", "btu", "", false, U::kNone},
    {"btus", "btu", "", false, U::kNone},
    {"gpm", "gpm", "", false, U::kNone},
    {"psi", "psi", "", false, U::kNone},
};

constexpr size_t kMaxSpelling = 11;  // "millimeters", "centimeters"

constexpr bool SpellingsFit() {
  for (const UnitSpelling& u : kUnits) {
    if (u.spelling.size() > kMaxSpelling) return false;
    if ((u.flags & UnitSpelling::kAlsoStandalone) && u.spelling.size() > kMaxStandaloneSpelling) {
      return false;
    }
  }
  return true;
}
static_assert(SpellingsFit());

// Open addressing over a power-of-two table, filled once: FindUnit runs for most words.
constexpr size_t kSlots = 256;

constexpr uint32_t Hash(std::string_view s) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

struct UnitTable {
  const UnitSpelling* slots[kSlots] = {};
  constexpr UnitTable() {
    static_assert(std::size(kUnits) * 2 < kSlots);
    for (const UnitSpelling& u : kUnits) {
      size_t i = Hash(u.spelling) & (kSlots - 1);
      while (slots[i] != nullptr) i = (i + 1) & (kSlots - 1);
      slots[i] = &u;
    }
  }
};
constexpr UnitTable kTable;

}  // namespace

const UnitSpelling* FindUnit(std::string_view word) {
  if (word.empty() || word.size() > kMaxSpelling) return nullptr;
  constexpr size_t kMask = kSlots - 1;
  for (size_t i = Hash(word) & kMask; kTable.slots[i] != nullptr; i = (i + 1) & kMask) {
    if (kTable.slots[i]->spelling == word) return kTable.slots[i];
  }
  return nullptr;
}

}  // namespace shelfwatch::text
