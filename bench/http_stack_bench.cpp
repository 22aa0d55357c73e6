// HTTP server stacks side by side: serves one fixed search-response-like JSON body on
// 127.0.0.1 with the stack named on the command line, so that bench/http_stack.sh can load
// every stack with wrk in the same way and the project's choice of stack rests on a figure.
//
//   shelfwatch     shelfwatch::server::HttpServer (the project's server, as used in production)
//   beast-default  Boost.Beast written the way Beast's async examples are: tcp_stream with a
//                  timeout per operation, http::async_read into request<string_body>,
//                  response<string_body> + async_write, one io_context run by N threads
//   microhttpd     GNU libmicrohttpd, internal polling threads (mode chosen by --mhd-mode)
//   httplib        cpp-httplib, thread pool of N
//
// The two peers are compiled in only where their libraries were found at configure time.
// Every stack answers any GET/HEAD target with the same body bytes (kSearchBody) and
// Content-Type application/json, keep-alive on. The program serves until SIGINT or SIGTERM.
//
// usage: http_stack_bench STACK [--port P] [--threads N] [--mhd-mode MODE]
//                               [--httplib-keepalive-max N]
//        http_stack_bench --print-body     (the body, for the nginx reference and checks)
//        http_stack_bench --list           (stacks compiled into this binary)
#include <pthread.h>
#include <signal.h>

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/http_server.h"

#ifdef SHELFWATCH_HAVE_MICROHTTPD
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#endif
#ifdef SHELFWATCH_HAVE_HTTPLIB
#include <httplib.h>
#endif

namespace {

// A realistic answer of GET /v1/catalogs/{c}/search: ten hits with id, title and score, the
// shape src/server/api.cpp writes. Titles are made up; the size (~1.3 KB) is what matters.
constexpr std::string_view kSearchBody =
    R"j({"request_id":"01HZX3K7Q9V2M8TN4RB6WD5JCE","catalog":"homedepot","query":"cordless drill kit",)j"
    R"j("total_hits":1874,"total_hits_relation":"eq","took_ms":0.412,"results":[)j"
    R"j({"id":"100105","title":"Ironbark X4 18-Volt Lithium-Ion Cordless Drill and Impact Driver Combo Kit (2-Tool)","score":14.8213},)j"
    R"j({"id":"101539","title":"Tallgrass ONE 18-Volt Lithium-Ion Cordless Drill/Driver Kit with 2.0Ah Battery","score":14.5527},)j"
    R"j({"id":"101684","title":"Harrow M12 12-Volt Lithium-Ion 3/8 in. Cordless Drill/Driver Kit","score":14.1096},)j"
    R"j({"id":"102298","title":"Harrow M12 12-Volt Cordless Drill Driver/Impact Driver Combo Kit (2-Tool)","score":13.9874},)j"
    R"j({"id":"103528","title":"Harrow M18 18-Volt Lithium-Ion Brushless Cordless Hammer Drill Kit","score":13.6402},)j"
    R"j({"id":"103604","title":"Kestrel 18-Volt 1/2 in. Compact Tough Cordless Drill/Driver Kit with (2) 4.0Ah Batteries","score":13.2219},)j"
    R"j({"id":"103669","title":"Stonebridge 20-Volt MAX Lithium-Ion 3/8 in. Cordless Drill/Driver with Bit Set","score":12.9031},)j"
    R"j({"id":"103876","title":"Tallgrass 9.6-Volt Ni-Cad 3/8 in. Cordless Drill Kit","score":12.4488},)j"
    R"j({"id":"103949","title":"Ironbark 12-Volt Lithium-Ion 3/8 in. Cordless Drill Kit with Charger and Bag","score":12.0165},)j"
    R"j({"id":"104708","title":"Stonebridge 20-Volt MAX Lithium-Ion Cordless Drill / Driver (Tool Only)","score":11.7342}]})j";

constexpr const char* kContentType = "application/json";
constexpr const char* kLoopback = "127.0.0.1";

struct Config {
  std::string stack;
  uint16_t port = 8080;
  int threads = 2;
  std::string mhd_mode = "epoll-turbo";
  size_t httplib_keepalive_max = 0;  // 0: keep cpp-httplib's own default (5 requests)
};

// SIGINT/SIGTERM are blocked in every thread (set before any thread starts) and taken here
// synchronously, so stopping a stack runs in ordinary code, not in a signal handler.
void BlockStopSignals(sigset_t* set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, set, nullptr);
  // A peer that writes to a connection the client already closed must get EPIPE, not die.
  signal(SIGPIPE, SIG_IGN);
}

void WaitForStopSignal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
}

void AnnounceListening(const Config& c, std::string_view detail) {
  std::printf("serving %s (%.*s) on %s:%u, %d threads, body %zu bytes\n", c.stack.c_str(),
              static_cast<int>(detail.size()), detail.data(), kLoopback, c.port, c.threads,
              kSearchBody.size());
  std::fflush(stdout);
}

// ---- 1. shelfwatch::server::HttpServer -------------------------------------------------

int RunShelfwatch(const Config& c, const sigset_t& stop) {
  shelfwatch::server::HttpServerOptions options;
  options.host = kLoopback;
  options.port = c.port;
  options.threads = c.threads;
  shelfwatch::server::HttpServer server(
      options, [](const shelfwatch::server::HttpRequest&, shelfwatch::server::HttpResponse& response) {
        response.content_type = kContentType;
        response.body.assign(kSearchBody);
      });
  shelfwatch::Status st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "shelfwatch: %s\n", st.ToString().c_str());
    return 1;
  }
  AnnounceListening(c, "io_context per thread, SO_REUSEPORT acceptors");
  std::thread runner([&server] { server.Run(); });
  WaitForStopSignal(stop);
  server.Shutdown();
  runner.join();
  return 0;
}

// ---- 2. Boost.Beast, the way its async server examples are written -----------------------

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class BeastSession : public std::enable_shared_from_this<BeastSession> {
 public:
  explicit BeastSession(tcp::socket&& socket) : stream_(std::move(socket)) {}

  // The socket was accepted on its own strand; start on it so that every handler of this
  // connection runs serialised even though N threads run the io_context.
  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&BeastSession::ReadRequest, shared_from_this()));
  }

 private:
  void ReadRequest() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, request_,
                     beast::bind_front_handler(&BeastSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return CloseSend();
    if (ec) return;  // timeout, reset, parse error: drop the connection
    response_ = http::response<http::string_body>(http::status::ok, request_.version());
    response_.set(http::field::server, BOOST_BEAST_VERSION_STRING);
    response_.set(http::field::content_type, kContentType);
    response_.keep_alive(request_.keep_alive());
    if (request_.method() != http::verb::head) response_.body().assign(kSearchBody);
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&BeastSession::OnWrite, shared_from_this(),
                                                response_.need_eof()));
  }

  void OnWrite(bool close, beast::error_code ec, size_t) {
    if (ec) return;
    if (close) return CloseSend();
    ReadRequest();
  }

  void CloseSend() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

class BeastListener : public std::enable_shared_from_this<BeastListener> {
 public:
  explicit BeastListener(asio::io_context& ctx) : ctx_(ctx), acceptor_(asio::make_strand(ctx)) {}

  bool Listen(const tcp::endpoint& endpoint, std::string* error) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) *error = ec.message();
    return !ec;
  }

  void Accept() {
    acceptor_.async_accept(asio::make_strand(ctx_),
                           beast::bind_front_handler(&BeastListener::OnAccept, shared_from_this()));
  }

 private:
  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<BeastSession>(std::move(socket))->Start();
    Accept();
  }

  asio::io_context& ctx_;
  tcp::acceptor acceptor_;
};

int RunBeastDefault(const Config& c, const sigset_t& stop) {
  asio::io_context ctx(c.threads);
  auto listener = std::make_shared<BeastListener>(ctx);
  std::string error;
  if (!listener->Listen(tcp::endpoint(asio::ip::make_address(kLoopback), c.port), &error)) {
    std::fprintf(stderr, "beast-default: cannot listen on %s:%u: %s\n", kLoopback, c.port,
                 error.c_str());
    return 1;
  }
  listener->Accept();
  AnnounceListening(c, "one io_context, N threads, strand per connection");
  std::vector<std::thread> threads;
  for (int i = 0; i < c.threads; ++i) threads.emplace_back([&ctx] { ctx.run(); });
  WaitForStopSignal(stop);
  ctx.stop();
  for (auto& t : threads) t.join();
  return 0;
}

// ---- 3. GNU libmicrohttpd ------------------------------------------------------------------

#ifdef SHELFWATCH_HAVE_MICROHTTPD
// One response object, built once and queued for every request: MHD reference-counts it and
// allows sharing between connections; the body is static (MHD_RESPMEM_PERSISTENT, no copy).
// MHD calls this once when the header is in, then again per body chunk and once at the end.
// Answering on the first call would work but makes MHD 0.9.75 close the connection after the
// response (it cannot know the request was complete), so keep-alive needs the usual
// two-step: mark the request on the first call, answer on the last.
MHD_Result AnswerMicrohttpd(void* cls, MHD_Connection* connection, const char*, const char*,
                            const char*, const char*, size_t* upload_data_size, void** request) {
  static int header_seen;
  if (*request == nullptr) {
    *request = &header_seen;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {  // a request body: consume it, answer once it is complete
    *upload_data_size = 0;
    return MHD_YES;
  }
  return MHD_queue_response(connection, MHD_HTTP_OK, static_cast<MHD_Response*>(cls));
}

int RunMicrohttpd(const Config& c, const sigset_t& stop) {
  // Modes tried (bench/http_stack.sh reports the default one): internal polling threads with
  // epoll / poll / select, each a pool of N threads sharing the listen socket; "turbo" lets
  // MHD read/write/accept before asking epoll (fewer syscalls); thread-per-connection ignores N.
  unsigned int flags = MHD_USE_ERROR_LOG;
  bool pool = true;
  if (c.mhd_mode == "epoll") {
    flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
  } else if (c.mhd_mode == "epoll-turbo") {
    flags |= MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO;
  } else if (c.mhd_mode == "poll") {
    flags |= MHD_USE_POLL_INTERNAL_THREAD;
  } else if (c.mhd_mode == "select") {
    flags |= MHD_USE_INTERNAL_POLLING_THREAD;
  } else if (c.mhd_mode == "thread-per-connection") {
    flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD;
    pool = false;
  } else {
    std::fprintf(stderr,
                 "unknown --mhd-mode '%s' (epoll, epoll-turbo, poll, select, thread-per-connection)\n",
                 c.mhd_mode.c_str());
    return 2;
  }
  MHD_Response* response = MHD_create_response_from_buffer(
      kSearchBody.size(), const_cast<char*>(kSearchBody.data()), MHD_RESPMEM_PERSISTENT);
  if (response == nullptr || MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                     kContentType) != MHD_YES) {
    std::fprintf(stderr, "microhttpd: cannot build the response\n");
    return 1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(c.port);
  inet_pton(AF_INET, kLoopback, &address.sin_addr);
  std::vector<MHD_OptionItem> options = {
      {MHD_OPTION_SOCK_ADDR, 0, &address},
      {MHD_OPTION_CONNECTION_TIMEOUT, 30, nullptr},
      {MHD_OPTION_LISTEN_BACKLOG_SIZE, SOMAXCONN, nullptr},
  };
  if (pool) options.push_back({MHD_OPTION_THREAD_POOL_SIZE, c.threads, nullptr});
  options.push_back({MHD_OPTION_END, 0, nullptr});
  MHD_Daemon* daemon = MHD_start_daemon(flags, c.port, nullptr, nullptr, &AnswerMicrohttpd, response,
                                        MHD_OPTION_ARRAY, options.data(), MHD_OPTION_END);
  if (daemon == nullptr) {
    std::fprintf(stderr, "microhttpd: cannot start on %s:%u (mode %s)\n", kLoopback, c.port,
                 c.mhd_mode.c_str());
    MHD_destroy_response(response);
    return 1;
  }
  std::string detail = "libmicrohttpd " + std::string(MHD_get_version()) + ", mode " + c.mhd_mode;
  AnnounceListening(c, detail);
  WaitForStopSignal(stop);
  MHD_stop_daemon(daemon);
  MHD_destroy_response(response);
  return 0;
}
#endif

// ---- 4. cpp-httplib ------------------------------------------------------------------------

#ifdef SHELFWATCH_HAVE_HTTPLIB
int RunHttplib(const Config& c, const sigset_t& stop) {
  httplib::Server server;
  const size_t threads = static_cast<size_t>(c.threads);
  // cpp-httplib serves a connection on one pool thread for the connection's whole keep-alive
  // life; the pool size therefore bounds the connections served at once.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  if (c.httplib_keepalive_max > 0) server.set_keep_alive_max_count(c.httplib_keepalive_max);
  server.set_tcp_nodelay(true);
  auto answer = [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kSearchBody.data(), kSearchBody.size(), kContentType);
  };
  server.Get(".*", answer);
  if (!server.bind_to_port(kLoopback, c.port)) {
    std::fprintf(stderr, "httplib: cannot listen on %s:%u\n", kLoopback, c.port);
    return 1;
  }
  std::string detail = "cpp-httplib " CPPHTTPLIB_VERSION ", keep-alive max " +
                       (c.httplib_keepalive_max > 0 ? std::to_string(c.httplib_keepalive_max)
                                                    : std::string("library default"));
  AnnounceListening(c, detail);
  std::thread runner([&server] { server.listen_after_bind(); });
  WaitForStopSignal(stop);
  server.stop();
  runner.join();
  return 0;
}
#endif

std::vector<std::string_view> CompiledStacks() {
  std::vector<std::string_view> stacks = {"shelfwatch", "beast-default"};
#ifdef SHELFWATCH_HAVE_MICROHTTPD
  stacks.push_back("microhttpd");
#endif
#ifdef SHELFWATCH_HAVE_HTTPLIB
  stacks.push_back("httplib");
#endif
  return stacks;
}

int Usage(const char* error) {
  if (error != nullptr) std::fprintf(stderr, "error: %s\n", error);
  std::fprintf(stderr,
               "usage: http_stack_bench STACK [--port P] [--threads N] [--mhd-mode MODE]\n"
               "                              [--httplib-keepalive-max N]\n"
               "       http_stack_bench --print-body | --list\nstacks in this build:");
  for (auto s : CompiledStacks()) std::fprintf(stderr, " %.*s", static_cast<int>(s.size()), s.data());
  std::fprintf(stderr, "\n");
  return 2;
}

bool ParseUnsigned(std::string_view text, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view { return i + 1 < argc ? argv[++i] : ""; };
    uint64_t n = 0;
    if (arg == "--print-body") {
      std::fwrite(kSearchBody.data(), 1, kSearchBody.size(), stdout);
      return 0;
    } else if (arg == "--list") {
      for (auto s : CompiledStacks()) std::printf("%.*s\n", static_cast<int>(s.size()), s.data());
      return 0;
    } else if (arg == "--port") {
      if (!ParseUnsigned(value(), 65535, &n) || n == 0) return Usage("--port needs 1..65535");
      c.port = static_cast<uint16_t>(n);
    } else if (arg == "--threads") {
      if (!ParseUnsigned(value(), 1024, &n) || n == 0) return Usage("--threads needs 1..1024");
      c.threads = static_cast<int>(n);
    } else if (arg == "--mhd-mode") {
      c.mhd_mode = value();
    } else if (arg == "--httplib-keepalive-max") {
      if (!ParseUnsigned(value(), 1'000'000'000, &n)) return Usage("--httplib-keepalive-max needs a count");
      c.httplib_keepalive_max = n;
    } else if (!arg.empty() && arg[0] != '-' && c.stack.empty()) {
      c.stack = arg;
    } else {
      return Usage(("unknown argument " + std::string(arg)).c_str());
    }
  }
  if (c.stack.empty()) return Usage("name a stack");

  sigset_t stop;
  BlockStopSignals(&stop);
  if (c.stack == "shelfwatch") return RunShelfwatch(c, stop);
  if (c.stack == "beast-default") return RunBeastDefault(c, stop);
#ifdef SHELFWATCH_HAVE_MICROHTTPD
  if (c.stack == "microhttpd") return RunMicrohttpd(c, stop);
#endif
#ifdef SHELFWATCH_HAVE_HTTPLIB
  if (c.stack == "httplib") return RunHttplib(c, stop);
#endif
  return Usage(("stack '" + c.stack + "' is unknown or not compiled into this build").c_str());
}
