// An HTTP/1.1 server (Boost.Beast parser over Boost.Asio) with keep-alive and pipelining.
//
// Design: one io_context per worker thread, each with its own SO_REUSEPORT acceptor on the
// same port, so the kernel spreads connections over threads and a connection never changes
// thread (no locks on the request path). Handlers run synchronously on the connection's
// thread: they must be CPU-bound and short (search is), never block on I/O.
// Limits: header block, URL and body sizes (answered 431 / 414 / 413), idle keep-alive and
// slow-request timeouts, a connection cap. Parse errors answer 400 and close. SIGTERM-style
// Shutdown(): stop accepting, close idle connections, let in-flight requests finish (up to
// a drain deadline), then Run() returns.
// Thread-safety: Start/Run/Shutdown may be called from any thread; Shutdown is idempotent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace shelfwatch::server {

struct HttpResponse;

// A response a handler promised to send later (e.g. after an fsync). Send may be called from
// any thread, once; dropping the handle unsent answers 500 so a connection never hangs.
class DeferredResponse {
 public:
  virtual ~DeferredResponse() = default;
  virtual void Send(HttpResponse response) = 0;
};

struct HttpRequest {
  std::string_view method;   // "GET", "POST", ...
  std::string_view target;   // raw request target: "/v1/catalogs/x/search?q=a"
  std::string_view path;     // target before '?'
  std::string_view query;    // target after '?', without it ("" when absent)
  std::string_view body;
  int64_t start_ns = 0;      // monotonic time the request was fully read
  // Returns the value of the first header named `name` (case-insensitive), or "".
  std::function<std::string_view(std::string_view name)> header;
  // Call to answer later instead of filling the response now: the handler returns at once and
  // the connection waits (without blocking its thread) for DeferredResponse::Send. The request's
  // views stay valid only until the handler returns: copy what the deferred work needs.
  std::function<std::shared_ptr<DeferredResponse>()> defer;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // ask the server to close the connection after this response
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;
// Called for requests the transport rejects before a handler sees them (400/413/414/431),
// with the status answered; used for metrics.
using TransportErrorObserver = std::function<void(int status)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;               // 0 picks a free port; see HttpServer::port()
  int threads = 0;                    // 0: one per hardware thread
  uint32_t max_header_bytes = 16 * 1024;
  uint32_t max_url_bytes = 8 * 1024;
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  double idle_timeout_s = 60;         // keep-alive connections idle longer are closed
  double request_timeout_s = 30;      // a request must arrive completely within this
  double drain_timeout_s = 10;        // Shutdown waits this long for in-flight requests
  uint32_t max_connections = 10000;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler,
             TransportErrorObserver on_transport_error = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; fails with kUnavailable when the address is in use.
  Status Start();
  // The bound port (useful with port 0). Valid after Start.
  uint16_t port() const;
  // Serves until Shutdown completes. Runs the workers on their own threads; blocks the caller.
  void Run();
  // Stops accepting and drains; safe from any thread and from signal-handling code paths
  // that run on an io_context (not from a raw signal handler).
  void Shutdown();
  // Connections currently open (all workers).
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decodes a URL component ('+' as space). Returns false on a malformed escape.
bool UrlDecode(std::string_view in, std::string* out);
// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
std::string UrlEncode(std::string_view in);

// Splits a query string into decoded (key, value) pairs, in order. Returns false and names
// the offending parameter in `error` when an escape is malformed.
bool ParseQueryString(std::string_view query, std::vector<std::pair<std::string, std::string>>* out,
                      std::string* error);

// Reason phrase for a status code ("Not Found").
std::string_view ReasonPhrase(int status);

// The JSON error body every API answers: {"error":{"code":"...","message":"..."}}
std::string ErrorBody(std::string_view code, std::string_view message);
void SetError(HttpResponse& response, const Status& status);

}  // namespace shelfwatch::server
