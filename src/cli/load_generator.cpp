#include "cli/load_generator.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <charconv>
#include <cstring>
#include <memory>
#include <thread>

#include "common/clock.h"

namespace shelfwatch::cli {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct Window {
  std::atomic<int64_t> start_ns{0};  // measuring starts (after warm-up)
  std::atomic<int64_t> end_ns{0};    // no new requests after this
};

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(asio::io_context& ctx, tcp::endpoint ep, const std::vector<std::string>* requests,
                   size_t first, const Window* window)
      : socket_(ctx), ep_(ep), requests_(requests), next_(first), window_(window) {
    buf_.resize(64 * 1024);
  }

  void Start() { Connect(); }

  std::vector<int64_t> latencies_ns;
  uint64_t non_2xx = 0;
  uint64_t connection_errors = 0;

 private:
  void Connect() {
    socket_.async_connect(ep_, [self = shared_from_this()](error_code ec) {
      if (ec) {
        self->CountConnectionError();
        if (MonotonicNanos() >= self->window_->end_ns.load()) return;
        // Back off briefly and retry; the window bounds the attempts.
        auto timer = std::make_shared<asio::steady_timer>(self->socket_.get_executor());
        timer->expires_after(std::chrono::milliseconds(10));
        timer->async_wait([self, timer](error_code) {
          error_code ignored;
          self->socket_.close(ignored);
          self->Connect();
        });
        return;
      }
      self->socket_.set_option(tcp::no_delay(true));
      self->Send();
    });
  }

  void CountConnectionError() {
    if (MonotonicNanos() >= window_->start_ns.load()) ++connection_errors;
  }

  void Send() {
    int64_t now = MonotonicNanos();
    if (now >= window_->end_ns.load()) return;  // done: let the connection go
    const std::string& req = (*requests_)[next_];
    next_ = (next_ + 1) % requests_->size();
    sent_ns_ = now;
    filled_ = 0;
    asio::async_write(socket_, asio::buffer(req), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->Reconnect();
      self->Read();
    });
  }

  void Read() {
    if (filled_ == buf_.size()) buf_.resize(buf_.size() * 2);
    socket_.async_read_some(asio::buffer(buf_.data() + filled_, buf_.size() - filled_),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (ec) return self->Reconnect();
                              self->filled_ += n;
                              self->Parse();
                            });
  }

  // Parses "HTTP/1.1 SSS ...\r\n...Content-Length: N\r\n...\r\n\r\n<N bytes>".
  void Parse() {
    std::string_view data(buf_.data(), filled_);
    size_t header_end = data.find("\r\n\r\n");
    if (header_end == std::string_view::npos) return Read();
    std::string_view head = data.substr(0, header_end);
    int status = 0;
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return Reconnect();
    std::from_chars(head.data() + 9, head.data() + 12, status);
    size_t content_length = 0;
    bool close = false;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      size_t eol = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(pos + 2, (eol == std::string_view::npos ? head.size() : eol) - pos - 2);
      if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
        std::string_view v = line.substr(15);
        while (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        std::from_chars(v.data(), v.data() + v.size(), content_length);
      } else if (line.size() >= 17 && strncasecmp(line.data(), "connection: close", 17) == 0) {
        close = true;
      }
      pos = eol;
    }
    size_t total = header_end + 4 + content_length;
    if (filled_ < total) {
      if (buf_.size() < total) buf_.resize(total);
      return Read();
    }
    int64_t done = MonotonicNanos();
    if (sent_ns_ >= window_->start_ns.load() && done <= window_->end_ns.load()) {
      latencies_ns.push_back(done - sent_ns_);
      if (status < 200 || status > 299) ++non_2xx;
    }
    if (close) return Reconnect();
    Send();
  }

  void Reconnect() {
    CountConnectionError();
    error_code ignored;
    socket_.close(ignored);
    if (MonotonicNanos() >= window_->end_ns.load()) return;
    socket_ = tcp::socket(socket_.get_executor());
    Connect();
  }

  tcp::socket socket_;
  tcp::endpoint ep_;
  const std::vector<std::string>* requests_;
  size_t next_;
  const Window* window_;
  std::vector<char> buf_;
  size_t filled_ = 0;
  int64_t sent_ns_ = 0;
};

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest-rank percentile.
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > sorted.size()) rank = sorted.size();
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

}  // namespace

Result<LoadResult> RunLoad(const LoadOptions& options) {
  if (options.targets.empty()) return InvalidArgument("no request targets");
  error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("bench needs a numeric IP address (got '" + options.host + "')");
  tcp::endpoint ep(address, options.port);
  {
    // Fail fast when nothing listens.
    asio::io_context probe_ctx;
    tcp::socket probe(probe_ctx);
    probe.connect(ep, ec);
    if (ec) return Unavailable("cannot connect to " + options.host + ":" + std::to_string(options.port) + ": " + ec.message());
  }
  std::vector<std::string> requests;
  requests.reserve(options.targets.size());
  std::string host_header = options.host + ":" + std::to_string(options.port);
  if (options.bodies.empty()) {
    for (const auto& t : options.targets) {
      requests.push_back("GET " + t + " HTTP/1.1\r\nHost: " + host_header + "\r\nUser-Agent: shelfwatch-bench\r\n\r\n");
    }
  } else {
    for (size_t i = 0; i < options.bodies.size(); ++i) {
      const std::string& body = options.bodies[i];
      std::string r = "POST " + options.targets[i % options.targets.size()] + " HTTP/1.1\r\nHost: " + host_header;
      r += "\r\nUser-Agent: shelfwatch-bench\r\nContent-Type: " + options.content_type;
      r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      r += body;
      requests.push_back(std::move(r));
    }
  }

  int threads = std::max(1, std::min(options.threads, options.concurrency));
  std::vector<std::unique_ptr<asio::io_context>> ctxs;
  for (int i = 0; i < threads; ++i) ctxs.push_back(std::make_unique<asio::io_context>(1));
  Window window;
  int64_t now = MonotonicNanos();
  window.start_ns = now + static_cast<int64_t>(options.warmup_s * 1e9);
  window.end_ns = window.start_ns.load() + static_cast<int64_t>(options.duration_s * 1e9);
  std::vector<std::shared_ptr<ClientConnection>> conns;
  for (int c = 0; c < options.concurrency; ++c) {
    // Spread starting points so connections do not send the same query in lock-step.
    size_t first = (requests.size() * static_cast<size_t>(c)) / static_cast<size_t>(options.concurrency);
    auto conn = std::make_shared<ClientConnection>(*ctxs[c % threads], ep, &requests, first, &window);
    conns.push_back(conn);
    conn->Start();
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&ctxs, i] { ctxs[i]->run(); });
  for (auto& t : pool) t.join();

  LoadResult r;
  r.concurrency = options.concurrency;
  std::vector<int64_t> all;
  for (const auto& c : conns) {
    all.insert(all.end(), c->latencies_ns.begin(), c->latencies_ns.end());
    r.non_2xx += c->non_2xx;
    r.connection_errors += c->connection_errors;
  }
  std::sort(all.begin(), all.end());
  r.requests = all.size();
  r.errors = r.non_2xx + r.connection_errors;
  r.seconds = options.duration_s;
  r.throughput = static_cast<double>(r.requests) / options.duration_s;
  r.p50_ms = Percentile(all, 50);
  r.p90_ms = Percentile(all, 90);
  r.p99_ms = Percentile(all, 99);
  r.p999_ms = Percentile(all, 99.9);
  r.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
  double sum = 0;
  for (int64_t v : all) sum += static_cast<double>(v);
  r.mean_ms = all.empty() ? 0 : sum / static_cast<double>(all.size()) / 1e6;
  return r;
}

}  // namespace shelfwatch::cli
