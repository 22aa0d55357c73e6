// Character filter: the step before Unicode normalisation (internal to the text module).
//
// Catalog titles carry HTML entities ("Briggs &amp; Stratton", "Men&#39;s", '6&quot;') and
// typographic characters that NFKC leaves alone but that mean an ASCII character to a shopper:
//   &amp; &quot; &apos; &lt; &gt; &nbsp; &#NN; &#xHH;   -> the character (HTML 5 named/numeric)
//   ’ ′ (U+2019, U+2032)                                 -> '   (feet after a number, apostrophe)
//   ″ (U+2033)                                           -> "   (inches after a number)
//   ‐ ‑ ‒ – (U+2010..U+2013)                             -> -
//   × (U+00D7)                                           -> " x "  (2×4 is 2 x 4)
//   ¼ ½ ¾ ⅓ ⅔ ⅛ ⅜ ⅝ ⅞                                     -> 1/4 ...; "1½" -> "1 1/2"
//   ™ ℠ (U+2122, U+2120)                                 -> space
// (NFKC would turn "1½" into "11⁄2", which reads as eleven halves, and "Roundup™" into
// "roundupTM", one word that no query for "roundup" meets.)
// Thread-safe; O(n); allocation-free when `out` has capacity.
#pragma once

#include <string>
#include <string_view>

namespace shelfwatch::text {

// When `text` holds something to filter, replaces `*out` with the filtered text and returns
// true; otherwise returns false (the caller keeps using `text`; `*out` is then scratch).
// Ill-formed UTF-8 passes through unchanged; an unknown entity stays as written.
bool FilterChars(std::string_view text, std::string* out);

}  // namespace shelfwatch::text
