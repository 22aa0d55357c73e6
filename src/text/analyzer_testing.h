// Test-only access to the analyzer's internals. Not for production code.
#pragma once

#include "text/analyzer.h"

namespace shelfwatch::text {

struct AnalyzerTestAccess {
  // With the fast path off every text goes through ICU: the reference the ASCII fast path must
  // reproduce term for term.
  static void SetAsciiFastPath(Analyzer& analyzer, bool enabled);
};

}  // namespace shelfwatch::text
