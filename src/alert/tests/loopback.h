// Loopback helpers shared by the alert tests: a free port, an HTTP/1.0 GET that reads to EOF
// (Go servers answer HTTP/1.1 clients chunked), and an in-process HTTP receiver (the
// project's HttpServer) that records what notifiers POST to it.
#pragma once

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
#include "support/test_server.h"

namespace shelfwatch::alert::testing {

using shelfwatch::testing::FreeLoopbackPort;
using shelfwatch::testing::Http10;
using Reply = shelfwatch::testing::HttpReply;

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
