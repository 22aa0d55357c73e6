#include "common/status.h"

namespace shelfwatch {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
#define SHELFWATCH_CASE(name, wire, http) \
  case ErrorCode::name:                   \
    return wire;
    SHELFWATCH_ERROR_CODES(SHELFWATCH_CASE)
#undef SHELFWATCH_CASE
  }
  return "unknown";
}

int HttpStatusOf(ErrorCode code) {
  switch (code) {
#define SHELFWATCH_CASE(name, wire, http) \
  case ErrorCode::name:                   \
    return http;
    SHELFWATCH_ERROR_CODES(SHELFWATCH_CASE)
#undef SHELFWATCH_CASE
  }
  return 500;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(ErrorCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace shelfwatch
