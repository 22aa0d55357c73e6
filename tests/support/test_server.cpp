#include "support/test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace shelfwatch::testing {

std::string DataPath(const std::string& relative) {
  const char* env = std::getenv("SHELFWATCH_DATA_DIR");
  std::string dir = env && *env ? env : SHELFWATCH_DATA_DIR;
  return dir + "/" + relative;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back(0);
  char* d = ::mkdtemp(buf.data());
  return d ? std::string(d) : std::string();
}

HttpClient::HttpClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

HttpReply HttpClient::Request(const std::string& method, const std::string& target, const std::string& body,
                              const std::vector<std::string>& extra_headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : extra_headers) req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return Raw(req);
}

HttpReply HttpClient::Raw(const std::string& bytes) {
  if (fd_ < 0) return {};
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (e.g. 413) before reading everything
    off += static_cast<size_t>(n);
  }
  return ReadReply();
}

HttpReply HttpClient::ReadReply() {
  HttpReply reply;
  if (fd_ < 0) return reply;
  char buf[65536];
  size_t header_end;
  while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return reply;
    pending_.append(buf, static_cast<size_t>(n));
  }
  std::string head = pending_.substr(0, header_end);
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  if (line.size() >= 12) reply.status = std::atoi(line.substr(9, 3).c_str());
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value[0] == ' ') value.erase(0, 1);
    reply.headers[name] = value;
  }
  size_t length = reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
  size_t total = header_end + 4 + length;
  while (pending_.size() < total) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    pending_.append(buf, static_cast<size_t>(n));
  }
  reply.body = pending_.substr(header_end + 4, length);
  pending_.erase(0, std::min(total, pending_.size()));
  return reply;
}

bool HttpClient::ServerClosed(int timeout_ms) {
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char c;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK);
  return n <= 0;
}

HttpReply Get(int port, const std::string& target) {
  HttpClient c(port);
  return c.Request("GET", target);
}

TestServer::TestServer(std::vector<std::string> args) {
  dir_ = MakeTempDir("shelfwatch-test");
  std::string port_file = dir_ + "/port";
  std::string log_file = dir_ + "/server.log";
  std::vector<std::string> argv = {SHELFWATCH_BINARY, "serve", "--port", "0", "--port-file", port_file};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 1000; ++i) {
    std::ifstream f(port_file);
    int p = 0;
    if (f >> p && p > 0) {
      port_ = p;
      return;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TestServer::~TestServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

bool TestServer::WaitReady(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Get(port_, "/readyz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int TestServer::Stop(int sig, int timeout_ms) {
  if (pid_ <= 0) return -1000;
  ::kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return -999;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1000;
}

std::string TestServer::Log() const {
  std::ifstream f(dir_ + "/server.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int RunCommand(const std::vector<std::string>& argv, std::string* stdout_text, const std::string& stdin_text) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that does not read its stdin must not kill the test
  int out_pipe[2], in_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(in_pipe) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::close(out_pipe[0]);
    ::close(in_pipe[1]);
    std::vector<char*> cargv;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(in_pipe[0]);
  std::thread writer([&] {
    size_t off = 0;
    while (off < stdin_text.size()) {
      ssize_t n = ::write(in_pipe[1], stdin_text.data() + off, stdin_text.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(in_pipe[1]);
  });
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  writer.join();
  int status;
  ::waitpid(pid, &status, 0);
  if (stdout_text) *stdout_text = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

HttpReply Http10(int port, const std::string& method, const std::string& target, const std::string& body,
                 const std::string& content_type, int timeout_s) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return reply;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return reply;
  }
  std::string req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  if (!body.empty() && !content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return reply;
    }
    off += static_cast<size_t>(n);
  }
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12) return reply;
  reply.status = std::atoi(all.substr(9, 3).c_str());
  std::istringstream head(all.substr(0, end));
  std::string line;
  std::getline(head, line);  // status line
  while (std::getline(head, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (!value.empty() && value.back() == '\r') value.pop_back();
    reply.headers[name] = value;
  }
  reply.body = all.substr(end + 4);
  return reply;
}

int FreeLoopbackPort() {
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

}  // namespace shelfwatch::testing
