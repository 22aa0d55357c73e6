// Test support: starts the real shelfwatch binary on a random loopback port, talks HTTP to
// it with a minimal blocking client, and stops it. Used by integration tests only.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace shelfwatch::testing {

// Path of a dataset file under SHELFWATCH_DATA_DIR ("homedepot/products.csv").
std::string DataPath(const std::string& relative);
// A fresh temporary directory, removed by the caller (or left in /tmp).
std::string MakeTempDir(const std::string& prefix);

struct HttpReply {
  int status = 0;  // 0: no response (connection failed or closed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One blocking HTTP/1.1 connection to 127.0.0.1:port.
class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  bool connected() const { return fd_ >= 0; }
  // Sends a request and reads one response (Content-Length framed).
  HttpReply Request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::vector<std::string>& extra_headers = {});
  // Sends raw bytes; reads one response.
  HttpReply Raw(const std::string& bytes);
  // Reads one more response (for pipelining).
  HttpReply ReadReply();
  // True when the server closed the connection (read returns 0 or an error).
  bool ServerClosed(int timeout_ms);

 private:
  int fd_ = -1;
  std::string pending_;
};

// One-shot GET on a new connection.
HttpReply Get(int port, const std::string& target);

// One request over HTTP/1.0 on a fresh connection to 127.0.0.1:port, read to EOF (servers
// written in Go, Prometheus and Alertmanager among them, answer HTTP/1.1 clients chunked).
// Content-Type is sent with a body; status 0 when nothing answered within timeout_s.
HttpReply Http10(int port, const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& content_type = "application/json", int timeout_s = 20);

// A loopback port that was free when asked (for servers that want their port on the command line).
int FreeLoopbackPort();

class TestServer {
 public:
  // Starts `shelfwatch serve` with `args` plus --port 0 --port-file; waits until it listens.
  explicit TestServer(std::vector<std::string> args);
  ~TestServer();  // SIGKILL if still running

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool started() const { return port_ > 0; }
  // Polls /readyz until 200 or the timeout; returns whether it became ready.
  bool WaitReady(int timeout_ms = 30000);
  // Sends `sig` and waits for exit; returns the exit status (or -signal, or -1000 on timeout).
  int Stop(int sig, int timeout_ms = 15000);
  // What the server wrote to stderr so far.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

// Runs a command, returns its exit code and captures stdout.
int RunCommand(const std::vector<std::string>& argv, std::string* stdout_text, const std::string& stdin_text = "");

}  // namespace shelfwatch::testing
