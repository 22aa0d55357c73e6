// A minimal blocking HTTP/1.1 POST over Boost.Beast for the notifiers, internal to the alert
// module: http:// only, one connection per request, every step (resolve, connect, write,
// read) bounded by one overall timeout.
// Thread-safety: stateless; each call owns its io_context. Cost: one TCP connection per call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace shelfwatch::alert {

struct HttpUrl {
  std::string host;
  std::string port;    // "80" when absent
  std::string target;  // path and query, "/" when absent
};

// "http://host[:port][/path]". InvalidArgument for anything else (https is refused: no TLS here).
Result<HttpUrl> ParseHttpUrl(std::string_view url);

struct HttpPostReply {
  int status = 0;
  std::string body;
};

// POSTs `body` as application/json. Unavailable for connection errors, DeadlineExceeded when
// `timeout_ms` passes; an HTTP error status is a successful call (look at reply.status).
Result<HttpPostReply> HttpPost(const HttpUrl& url, std::string_view body, int64_t timeout_ms);

}  // namespace shelfwatch::alert
