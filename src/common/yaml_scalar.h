// YAML text written by hand (training.yaml, test rule files): a string as a double-quoted
// scalar, so that paths and label values with quotes, backslashes or newlines stay one value.
// YAML 1.2, section 7.3.1: inside double quotes, '\' escapes '"', '\' and control characters.
// Thread-safety: pure. Cost: O(text).
#pragma once

#include <string>
#include <string_view>

namespace shelfwatch {

inline std::string YamlDoubleQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace shelfwatch
