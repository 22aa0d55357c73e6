// Loopback helpers shared by the alert tests: a free port, an HTTP/1.0 GET that reads to EOF
// (Go servers answer HTTP/1.1 clients chunked), and an in-process HTTP receiver (the
// project's HttpServer) that records what notifiers POST to it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace shelfwatch::alert::testing {

inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct Reply {
  int status = 0;
  std::string body;
};

// One request over HTTP/1.0, read to EOF.
inline Reply Http10(int port, const std::string& method, const std::string& target, const std::string& body = "") {
  Reply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return reply;
  }
  std::string req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (!body.empty()) req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return reply;
  }
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12) return reply;
  reply.status = std::atoi(all.substr(9, 3).c_str());
  reply.body = all.substr(end + 4);
  return reply;
}

// Polls `done` every 20 ms until it holds or `timeout_ms` passes.
inline bool WaitFor(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// An HTTP receiver on a random loopback port that records every request body; the first
// `fail_first` requests are answered 500, and each answer can be delayed.
class Receiver {
 public:
  explicit Receiver(int fail_first = 0, int delay_ms = 0) : fail_first_(fail_first), delay_ms_(delay_ms) {
    server::HttpServerOptions o;
    o.port = 0;
    o.threads = 2;
    server_ = std::make_unique<server::HttpServer>(o, [this](const server::HttpRequest& rq, server::HttpResponse& rs) {
      if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
      times_.push_back(std::chrono::steady_clock::now());
      if (requests_ <= fail_first_) {
        rs.status = 500;
        rs.body = "{\"error\":\"induced\"}";
        return;
      }
      paths_.emplace_back(rq.path);
      bodies_.emplace_back(rq.body);
      rs.body = "{}";
    });
    started_ = server_->Start().ok();
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~Receiver() {
    server_->Shutdown();
    thread_.join();
  }
  bool started() const { return started_; }
  int port() const { return server_->port(); }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> paths() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }
  int requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::chrono::steady_clock::time_point> times() const {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }

 private:
  const int fail_first_;
  const int delay_ms_;
  mutable std::mutex mu_;
  int requests_ = 0;
  std::vector<std::string> bodies_, paths_;
  std::vector<std::chrono::steady_clock::time_point> times_;
  std::unique_ptr<server::HttpServer> server_;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace shelfwatch::alert::testing
