#include "server/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <ctime>
#include <optional>
#include <thread>
#include <unordered_set>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log.h"

namespace shelfwatch::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  std::string out;
  out.reserve(64 + message.size());
  JsonWriter w(&out);
  w.BeginObject().Key("error").BeginObject().Key("code").String(code).Key("message").String(message);
  w.EndObject().EndObject();
  return out;
}

void SetError(HttpResponse& response, const Status& status) {
  response.status = status.http_status();
  response.content_type = "application/json";
  response.body = ErrorBody(ErrorCodeName(status.code()), status.message());
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool ParseQueryString(std::string_view query, std::vector<std::pair<std::string, std::string>>* out,
                      std::string* error) {
  out->clear();
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(pos, amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view k = part.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      std::pair<std::string, std::string> kv;
      if (!UrlDecode(k, &kv.first) || !UrlDecode(v, &kv.second)) {
        *error = "malformed percent-encoding in query parameter '" + std::string(k) + "'";
        return false;
      }
      out->push_back(std::move(kv));
    }
    pos = amp + 1;
  }
  return true;
}

namespace {

// "Date" header value, formatted once per second per thread (RFC 9110 IMF-fixdate).
std::string_view HttpDate() {
  thread_local time_t cached_sec = 0;
  thread_local char buf[64];
  thread_local size_t len = 0;
  time_t now = ::time(nullptr);
  if (now != cached_sec) {
    cached_sec = now;
    struct tm tm_utc;
    gmtime_r(&now, &tm_utc);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  }
  return std::string_view(buf, len);
}

struct Shared {
  HttpServerOptions options;
  HttpHandler handler;
  TransportErrorObserver on_transport_error;
  std::atomic<size_t> connections{0};
};

class Connection;

struct Worker {
  Worker(Shared* s) : shared(s), acceptor(ctx), sweep(ctx), drain_deadline(ctx) {}
  Shared* shared;
  asio::io_context ctx{1};
  tcp::acceptor acceptor;
  asio::steady_timer sweep;
  asio::steady_timer drain_deadline;
  std::unordered_set<Connection*> connections;  // touched only on this worker's thread
  bool draining = false;
  std::thread thread;

  void Accept();
  void ArmSweep();
  void BeginDrain();
  void MaybeFinishDrain();
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker* worker, tcp::socket socket) : worker_(worker), socket_(std::move(socket)) {
    worker_->connections.insert(this);
    worker_->shared->connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Connection() {
    worker_->connections.erase(this);
    worker_->shared->connections.fetch_sub(1, std::memory_order_relaxed);
    worker_->MaybeFinishDrain();
  }

  void Start() { ReadHeader(); }

  // Shutdown: a connection waiting for a new request with nothing received is closed now;
  // one in the middle of a request closes after its response.
  void CloseIfIdle() {
    if (waiting_for_request_ && buffer_.size() == 0) Close();
  }
  void ForceClose() { Close(); }

  void CheckTimeouts(int64_t now_ns) {
    const auto& o = worker_->shared->options;
    if (lingering_) {
      if (now_ns - wait_start_ns_ > 1'000'000'000) Close();
      return;
    }
    if (!waiting_for_request_ && !reading_body_) return;
    double waited = static_cast<double>(now_ns - wait_start_ns_) / 1e9;
    bool partial = buffer_.size() > 0 || reading_body_;
    if ((!partial && waited > o.idle_timeout_s) || (partial && waited > o.request_timeout_s)) {
      Close();
    }
  }

 private:
  void ReadHeader() {
    const auto& o = worker_->shared->options;
    parser_.emplace();
    parser_->header_limit(o.max_header_bytes);
    parser_->body_limit(o.max_body_bytes);
    waiting_for_request_ = true;
    wait_start_ns_ = MonotonicNanos();
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    waiting_for_request_ = false;
    if (ec) return OnReadError(ec);
    const auto& o = worker_->shared->options;
    auto& req = parser_->get();
    if (req.target().size() > o.max_url_bytes) {
      return WriteTransportError(414, "uri_too_long",
                                 "request URL exceeds " + std::to_string(o.max_url_bytes) + " bytes");
    }
    if (worker_->draining) close_after_ = true;
    if (parser_->is_done()) return Handle();
    // A body follows. Answer "100 Continue" if the client waits for it (RFC 9110 10.1.1).
    auto expect = req[http::field::expect];
    reading_body_ = true;
    wait_start_ns_ = MonotonicNanos();
    if (beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue),
                        [self = shared_from_this()](error_code ec2, size_t) {
                          if (ec2) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
      self->reading_body_ = false;
      if (ec) return self->OnReadError(ec);
      self->Handle();
    });
  }

  void OnReadError(error_code ec) {
    const auto& o = worker_->shared->options;
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::bad_descriptor || !socket_.is_open()) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return WriteTransportError(413, "payload_too_large",
                                 "request body exceeds " + std::to_string(o.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      // Tell a long request line (414) from a large header block (431): once the request
      // line has been parsed, the target is known and the header fields overflowed.
      if (parser_->get().target().empty()) {
        return WriteTransportError(414, "uri_too_long",
                                   "request URL exceeds " + std::to_string(o.max_url_bytes) + " bytes");
      }
      return WriteTransportError(431, "headers_too_large",
                                 "request headers exceed " + std::to_string(o.max_header_bytes) + " bytes");
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return WriteTransportError(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    Close();
  }

  void Handle() {
    auto& req = parser_->get();
    HttpRequest r;
    r.method = req.method_string();
    r.target = req.target();
    size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : r.target.substr(q + 1);
    r.body = req.body();
    r.start_ns = MonotonicNanos();
    r.header = [&req](std::string_view name) -> std::string_view { return req[name]; };
    keep_alive_ = req.keep_alive();
    head_request_ = req.method() == http::verb::head;
    deferred_ = false;
    r.defer = [this]() -> std::shared_ptr<DeferredResponse> {
      deferred_ = true;
      return std::make_shared<Deferred>(shared_from_this());
    };

    HttpResponse resp;
    try {
      worker_->shared->handler(r, resp);
    } catch (const std::exception& e) {
      log::Error("handler threw", {{"error", e.what()}, {"target", std::string(r.target)}});
      if (deferred_) return;  // the deferred response answers (or its destructor does)
      resp = HttpResponse();
      resp.status = 500;
      resp.body = ErrorBody("internal", "internal error");
    }
    if (deferred_) return;  // answered later through Deferred::Send
    Respond(resp);
  }

  // Completes a deferred request on this connection's thread.
  void Respond(const HttpResponse& resp) {
    if (!keep_alive_ || resp.close || worker_->draining) close_after_ = true;
    WriteResponse(resp, head_request_);
  }

  // The handle a handler keeps to answer later, from any thread.
  class Deferred final : public DeferredResponse {
   public:
    // The work guard keeps the worker's event loop (and a draining server) running until the
    // answer is written.
    explicit Deferred(std::shared_ptr<Connection> conn)
        : conn_(std::move(conn)), work_(asio::make_work_guard(conn_->worker_->ctx)) {}
    ~Deferred() override {
      if (!sent_.exchange(true)) {
        HttpResponse resp;
        resp.status = 500;
        resp.body = ErrorBody("internal", "the request was dropped without an answer");
        Post(std::move(resp));
      }
    }
    void Send(HttpResponse response) override {
      if (sent_.exchange(true)) return;  // exactly once
      Post(std::move(response));
    }

   private:
    void Post(HttpResponse response) {
      auto conn = conn_;
      asio::post(conn->socket_.get_executor(),
                 [conn, response = std::move(response)]() { conn->Respond(response); });
    }
    std::shared_ptr<Connection> conn_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::atomic<bool> sent_{false};
  };

  void WriteTransportError(int status, std::string_view code, const std::string& message) {
    if (worker_->shared->on_transport_error) worker_->shared->on_transport_error(status);
    HttpResponse resp;
    resp.status = status;
    resp.body = ErrorBody(code, message);
    close_after_ = true;
    WriteResponse(resp, false);
  }

  void WriteResponse(const HttpResponse& resp, bool head) {
    head_.clear();
    head_ += "HTTP/1.1 ";
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, resp.status);
    head_.append(num, r.ptr);
    head_ += ' ';
    head_ += ReasonPhrase(resp.status);
    head_ += "\r\nServer: shelfwatch\r\nDate: ";
    head_ += HttpDate();
    head_ += "\r\nContent-Type: ";
    head_ += resp.content_type;
    head_ += "\r\nContent-Length: ";
    r = std::to_chars(num, num + sizeof num, resp.body.size());
    head_.append(num, r.ptr);
    for (const auto& [k, v] : resp.headers) {
      head_ += "\r\n";
      head_ += k;
      head_ += ": ";
      head_ += v;
    }
    if (close_after_) head_ += "\r\nConnection: close";
    head_ += "\r\n\r\n";
    body_ = head ? std::string() : resp.body;
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(socket_, bufs, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->Close();
      self->AfterWrite();
    });
  }

  void AfterWrite() {
    if (!close_after_ && !worker_->draining) return ReadHeader();
    // Lingering close: stop sending, then drain what the client still sends for a moment so
    // that the kernel does not reset the connection before the client read our response.
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    lingering_ = true;
    wait_start_ns_ = MonotonicNanos();
    Drain();
  }

  void Drain() {
    socket_.async_read_some(asio::buffer(drain_buf_), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    if (!socket_.is_open()) return;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Worker* worker_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_;
  std::string body_;
  char drain_buf_[4096];
  int64_t wait_start_ns_ = 0;
  bool waiting_for_request_ = false;
  bool reading_body_ = false;
  bool close_after_ = false;
  bool lingering_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool deferred_ = false;
};

void Worker::Accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      log::Warn("accept failed", {{"error", ec.message()}});
      return Accept();
    }
    if (draining) return;
    if (shared->connections.load(std::memory_order_relaxed) >= shared->options.max_connections) {
      error_code ignored;
      socket.close(ignored);
      return Accept();
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Connection>(this, std::move(socket))->Start();
    Accept();
  });
}

void Worker::ArmSweep() {
  sweep.expires_after(std::chrono::seconds(1));
  sweep.async_wait([this](error_code ec) {
    if (ec) return;
    int64_t now = MonotonicNanos();
    // Copy: closing may destroy connections (and erase them from the set) re-entrantly.
    std::vector<Connection*> conns(connections.begin(), connections.end());
    for (Connection* c : conns) {
      if (connections.count(c)) c->CheckTimeouts(now);
    }
    if (draining && connections.empty()) return;
    ArmSweep();
  });
}

void Worker::BeginDrain() {
  if (draining) return;
  draining = true;
  error_code ignored;
  acceptor.close(ignored);
  std::vector<Connection*> conns(connections.begin(), connections.end());
  for (Connection* c : conns) {
    if (connections.count(c)) c->CloseIfIdle();
  }
  drain_deadline.expires_after(std::chrono::milliseconds(
      static_cast<int64_t>(shared->options.drain_timeout_s * 1000)));
  drain_deadline.async_wait([this](error_code ec) {
    if (ec) return;
    std::vector<Connection*> left(connections.begin(), connections.end());
    if (!left.empty()) log::Warn("drain deadline reached; closing connections",
                                 {{"connections", std::to_string(left.size())}});
    for (Connection* c : left) {
      if (connections.count(c)) c->ForceClose();
    }
    sweep.cancel();
  });
  MaybeFinishDrain();
}

void Worker::MaybeFinishDrain() {
  if (draining && connections.empty()) {
    sweep.cancel();
    drain_deadline.cancel();
  }
}

}  // namespace

struct HttpServer::Impl {
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  std::atomic<bool> shutdown_requested{false};
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler,
                       TransportErrorObserver on_transport_error)
    : impl_(std::make_unique<Impl>()) {
  impl_->shared.options = std::move(options);
  impl_->shared.handler = std::move(handler);
  impl_->shared.on_transport_error = std::move(on_transport_error);
}

HttpServer::~HttpServer() {
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) {
      w->ctx.stop();
      w->thread.join();
    }
  }
}

Status HttpServer::Start() {
  auto& o = impl_->shared.options;
  int threads = o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) return InvalidArgument("invalid listen address '" + o.host + "': " + ec.message());
  uint16_t port = o.port;
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>(&impl_->shared);
    tcp::endpoint ep(address, port);
    w->acceptor.open(ep.protocol(), ec);
    if (ec) return Status(ErrorCode::kUnavailable, "socket: " + ec.message());
    w->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    // Every worker listens on the same port; the kernel balances new connections.
    w->acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    w->acceptor.bind(ep, ec);
    if (ec) {
      return Status(ErrorCode::kUnavailable,
                    "cannot listen on " + o.host + ":" + std::to_string(port) + ": " + ec.message());
    }
    w->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status(ErrorCode::kUnavailable, "listen: " + ec.message());
    if (port == 0) port = w->acceptor.local_endpoint().port();
    impl_->workers.push_back(std::move(w));
  }
  impl_->port = port;
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Run() {
  for (auto& w : impl_->workers) {
    Worker* raw = w.get();
    raw->Accept();
    raw->ArmSweep();
    raw->thread = std::thread([raw] {
      try {
        raw->ctx.run();
      } catch (const std::exception& e) {
        log::Error("worker stopped by exception", {{"error", e.what()}});
      }
    });
  }
  for (auto& w : impl_->workers) w->thread.join();
}

void HttpServer::Shutdown() {
  if (impl_->shutdown_requested.exchange(true)) return;
  for (auto& w : impl_->workers) {
    Worker* raw = w.get();
    asio::post(raw->ctx, [raw] { raw->BeginDrain(); });
  }
}

size_t HttpServer::open_connections() const {
  return impl_->shared.connections.load(std::memory_order_relaxed);
}

}  // namespace shelfwatch::server
