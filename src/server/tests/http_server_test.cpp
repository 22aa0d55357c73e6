// Unit tests of the HTTP transport with an in-process server and a trivial handler.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/test_server.h"

namespace shelfwatch::server {
namespace {

using shelfwatch::testing::HttpClient;
using shelfwatch::testing::HttpReply;

class InProcessServer {
 public:
  explicit InProcessServer(HttpServerOptions o = {}) {
    o.port = 0;
    o.threads = 2;
    server_ = std::make_unique<HttpServer>(o, [](const HttpRequest& rq, HttpResponse& rs) {
      rs.body = std::string(rq.method) + " " + std::string(rq.path) + " ?" + std::string(rq.query) +
                " body=" + std::to_string(rq.body.size());
      if (rq.path == "/close") rs.close = true;
      if (rq.path == "/defer") {
        // Answer from another thread later, as the event store does after its fsync.
        auto later = rq.defer();
        std::thread([later, body = std::string(rq.query)] {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          HttpResponse r;
          r.status = 202;
          r.body = "deferred " + body;
          later->Send(std::move(r));
        }).detach();
      }
      if (rq.path == "/drop") rq.defer();  // a handle dropped unsent
    });
    EXPECT_TRUE(server_->Start().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~InProcessServer() {
    server_->Shutdown();
    thread_.join();
  }
  int port() const { return server_->port(); }
  HttpServer& server() { return *server_; }

 private:
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  InProcessServer s;
  HttpClient c(s.port());
  for (int i = 0; i < 100; ++i) {
    auto r = c.Request("GET", "/x?i=" + std::to_string(i));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "GET /x ?i=" + std::to_string(i) + " body=0");
  }
}

TEST(HttpServerTest, PipelinedRequestsAnswerInOrder) {
  InProcessServer s;
  HttpClient c(s.port());
  auto r1 = c.Raw("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r2 = c.ReadReply();
  EXPECT_EQ(r1.body, "GET /a ? body=0");
  EXPECT_EQ(r2.body, "GET /b ? body=0");
}

TEST(HttpServerTest, PostBodyIsDelivered) {
  InProcessServer s;
  HttpClient c(s.port());
  auto r = c.Request("POST", "/events", std::string(5000, 'x'), {"Expect: 100-continue"});
  // The client sent the body without waiting; the server's interim 100 arrives first.
  if (r.status == 100) r = c.ReadReply();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /events ? body=5000");
}

TEST(HttpServerTest, OversizedBodyIs413AndUrlIs414AndHeadersAre431) {
  HttpServerOptions o;
  o.max_body_bytes = 1000;
  o.max_url_bytes = 100;
  o.max_header_bytes = 2000;
  InProcessServer s(o);
  {
    HttpClient c(s.port());
    auto r = c.Request("POST", "/events", std::string(5000, 'x'));
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("payload_too_large"), std::string::npos);
  }
  {
    HttpClient c(s.port());
    auto r = c.Request("GET", "/" + std::string(500, 'a'));
    EXPECT_EQ(r.status, 414);
  }
  {
    HttpClient c(s.port());
    auto r = c.Request("GET", "/" + std::string(5000, 'a'));  // longer than the header block
    EXPECT_EQ(r.status, 414);
  }
  {
    HttpClient c(s.port());
    auto r = c.Request("GET", "/", "", {"X-Big: " + std::string(5000, 'h')});
    EXPECT_EQ(r.status, 431);
  }
}

TEST(HttpServerTest, GarbageIsAnswered400AndServerKeepsServing) {
  InProcessServer s;
  {
    HttpClient c(s.port());
    auto r = c.Raw("\x01\x02\x03 not http at all\r\n\r\n");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(c.ServerClosed(2000));
  }
  {
    HttpClient c(s.port());
    auto r = c.Raw("GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n");
    EXPECT_EQ(r.status, 400);
  }
  // Random bytes on many connections.
  std::srand(7);
  for (int i = 0; i < 50; ++i) {
    HttpClient c(s.port());
    std::string junk;
    for (int j = 0; j < 300; ++j) junk.push_back(static_cast<char>(std::rand() % 256));
    c.Raw(junk + "\r\n\r\n");
  }
  HttpClient c(s.port());
  EXPECT_EQ(c.Request("GET", "/ok").status, 200);
}

TEST(HttpServerTest, ConnectionCloseIsHonoured) {
  InProcessServer s;
  HttpClient c(s.port());
  auto r = c.Request("GET", "/x", "", {"Connection: close"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.ServerClosed(2000));
}

TEST(HttpServerTest, ShutdownClosesIdleConnectionsAndReturns) {
  auto s = std::make_unique<InProcessServer>();
  HttpClient idle(s->port());
  EXPECT_EQ(idle.Request("GET", "/x").status, 200);
  s.reset();  // Shutdown + join: must not hang on the idle keep-alive connection
  EXPECT_TRUE(idle.ServerClosed(2000));
}

TEST(HttpServerTest, DeferredResponsesArriveInOrderWithoutBlockingOthers) {
  InProcessServer s;
  HttpClient c(s.port());
  auto r = c.Raw("GET /defer?a HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "deferred a");
  EXPECT_EQ(c.ReadReply().body, "GET /x ? body=0");  // pipelined request waits its turn
  // Another connection is served while one waits.
  HttpClient waiting(s.port());
  std::thread t([&] { EXPECT_EQ(waiting.Request("GET", "/defer?b").status, 202); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  HttpClient other(s.port());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(other.Request("GET", "/x").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(80));
  t.join();
  HttpClient dropped(s.port());
  EXPECT_EQ(dropped.Request("GET", "/drop").status, 500);
}

TEST(HttpServerTest, ShutdownWaitsForDeferredResponses) {
  auto s = std::make_unique<InProcessServer>();
  HttpClient c(s->port());
  HttpReply reply;
  std::thread t([&] { reply = c.Request("GET", "/defer?z"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  s.reset();  // drains: the pending deferred answer is still written
  t.join();
  EXPECT_EQ(reply.status, 202);
  EXPECT_EQ(reply.body, "deferred z");
}

TEST(UrlTest, DecodesPercentAndPlus) {
  std::string out;
  ASSERT_TRUE(UrlDecode("3%2F4+inch%20pvc", &out));
  EXPECT_EQ(out, "3/4 inch pvc");
  EXPECT_FALSE(UrlDecode("bad%2", &out));
  EXPECT_FALSE(UrlDecode("bad%zz", &out));
  std::vector<std::pair<std::string, std::string>> kv;
  std::string err;
  ASSERT_TRUE(ParseQueryString("q=angle+bracket&k=5&&flag", &kv, &err));
  ASSERT_EQ(kv.size(), 3u);
  EXPECT_EQ(kv[0].second, "angle bracket");
  EXPECT_EQ(kv[2].first, "flag");
  EXPECT_FALSE(ParseQueryString("q=%G0", &kv, &err));
  EXPECT_NE(err.find("'q'"), std::string::npos);
}

}  // namespace
}  // namespace shelfwatch::server
