#include "alert/http_post.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

namespace shelfwatch::alert {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("URL \"" + std::string(url) + "\" must start with http:// (https is not supported)");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return InvalidArgument("URL \"" + std::string(url) + "\" has no usable host");
  }
  size_t colon = authority.rfind(':');
  if (authority.front() == '[') {  // [::1]:9093
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("URL \"" + std::string(url) + "\" has a bad IPv6 host");
    out.host = std::string(authority.substr(1, close - 1));
    colon = authority.find(':', close);
  } else {
    out.host = std::string(authority.substr(0, colon));
  }
  out.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  if (out.host.empty() || out.port.empty() || out.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(out.port) == 0 || std::stoul(out.port) > 65535) {
    return InvalidArgument("URL \"" + std::string(url) + "\" has a bad host or port");
  }
  return out;
}

Result<HttpPostReply> HttpPost(const HttpUrl& url, std::string_view body, int64_t timeout_ms) {
  // Asynchronous operations on a private io_context run to completion or to the deadline:
  // Beast's timeouts only apply to asynchronous calls, and this keeps DNS inside the bound.
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host, url.host + ":" + url.port);
  req.set(http::field::user_agent, "shelfwatch-alert/" SHELFWATCH_VERSION);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::connection, "close");
  req.body() = std::string(body);
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  std::string step;
  bool done = false;

  auto fail = [&](beast::error_code ec, const char* what) {
    failure = ec;
    step = what;
  };
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  resolver.async_resolve(url.host, url.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail(ec, "resolve");
    stream.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) return fail(ec2, "connect");
      http::async_write(stream, req, [&](beast::error_code ec3, size_t) {
        if (ec3) return fail(ec3, "write");
        http::async_read(stream, buffer, res, [&](beast::error_code ec4, size_t) {
          if (ec4) return fail(ec4, "read");
          done = true;
        });
      });
    });
  });
  ioc.run_for(std::chrono::milliseconds(timeout_ms + 100));
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  const std::string where = "http://" + url.host + ":" + url.port + url.target;
  if (!done) {
    if (!failure || failure == beast::error::timeout) {
      return Status(ErrorCode::kDeadlineExceeded, "POST " + where + ": no answer within " +
                                                      std::to_string(timeout_ms) + " ms" +
                                                      (step.empty() ? "" : " (" + step + ")"));
    }
    return Unavailable("POST " + where + ": " + step + ": " + failure.message());
  }
  return HttpPostReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace shelfwatch::alert
