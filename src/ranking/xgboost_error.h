// Internal to the ranking module: XGBoost's last error message for a Status.
// Thread-safety: XGBGetLastError is per thread. Cost: one string copy.
#pragma once

#include <xgboost/c_api.h>

#include <string>

namespace shelfwatch::ranking {

// XGBoost's message without the stack trace it appends ("Stack trace:" and frames).
inline std::string XgboostError() {
  std::string e = XGBGetLastError();
  if (size_t trace = e.find("Stack trace:"); trace != std::string::npos) e.resize(trace);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

}  // namespace shelfwatch::ranking
