// Status and Result: the value every fallible call in shelfwatch returns.
//
// One table of error codes (error_codes.h) maps each code to an HTTP status, so an error
// travels from the index or the loader to the API response without translation layers.
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shelfwatch {

// X(enum name, wire name, HTTP status)
#define SHELFWATCH_ERROR_CODES(X)                        \
  X(kOk, "ok", 200)                                      \
  X(kInvalidArgument, "invalid_argument", 400)           \
  X(kNotFound, "not_found", 404)                         \
  X(kMethodNotAllowed, "method_not_allowed", 405)        \
  X(kConflict, "conflict", 409)                          \
  X(kPayloadTooLarge, "payload_too_large", 413)          \
  X(kUriTooLong, "uri_too_long", 414)                    \
  X(kUnsupportedMediaType, "unsupported_media_type", 415) \
  X(kHeadersTooLarge, "headers_too_large", 431)          \
  X(kFailedPrecondition, "failed_precondition", 412)     \
  X(kResourceExhausted, "resource_exhausted", 429)       \
  X(kInternal, "internal", 500)                          \
  X(kUnavailable, "unavailable", 503)                    \
  X(kDeadlineExceeded, "deadline_exceeded", 504)         \
  X(kIoError, "io_error", 500)                           \
  X(kDataLoss, "data_loss", 500)

enum class ErrorCode {
#define SHELFWATCH_ENUM(name, wire, http) name,
  SHELFWATCH_ERROR_CODES(SHELFWATCH_ENUM)
#undef SHELFWATCH_ENUM
};

// Stable snake_case name used in JSON error bodies and metric labels.
std::string_view ErrorCodeName(ErrorCode code);
// HTTP status an API answers for this code.
int HttpStatusOf(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int http_status() const { return HttpStatusOf(code_); }
  // "invalid_argument: k must be between 1 and 1000"
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) { return {ErrorCode::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {ErrorCode::kNotFound, std::move(msg)}; }
inline Status Internal(std::string msg) { return {ErrorCode::kInternal, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {ErrorCode::kUnavailable, std::move(msg)}; }
inline Status IoError(std::string msg) { return {ErrorCode::kIoError, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg) { return {ErrorCode::kFailedPrecondition, std::move(msg)}; }

// A value or an error Status. Accessing value() of an error is a programming error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shelfwatch

// Propagates a non-OK Status from an expression returning Status.
#define SW_RETURN_IF_ERROR(expr)                \
  do {                                          \
    ::shelfwatch::Status sw_status_ = (expr);   \
    if (!sw_status_.ok()) return sw_status_;    \
  } while (0)
