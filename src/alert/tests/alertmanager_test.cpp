// Push to the real Alertmanager (Debian's /usr/bin/prometheus-alertmanager, started here on
// random loopback ports with clustering off) and read the alert back from its API v2.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "alert/evaluator.h"
#include "alert/notifier.h"
#include "common/clock.h"
#include "loopback.h"
#include "monitor/history/metric_history.h"
#include "support/test_server.h"

namespace shelfwatch::alert {
namespace {

using testing::Http10;
using testing::WaitFor;

constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

class AlertmanagerProcess {
 public:
  ~AlertmanagerProcess() { Stop(); }

  bool Start(std::string* why) {
    dir_ = shelfwatch::testing::MakeTempDir("alertmanager");
    std::ofstream(dir_ + "/alertmanager.yml") << "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n";
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = testing::FreeLoopbackPort();
      const std::vector<std::string> args = {kAlertmanager,
                                             "--config.file=" + dir_ + "/alertmanager.yml",
                                             "--storage.path=" + dir_ + "/data",
                                             "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                             "--cluster.listen-address=",
                                             "--log.level=warn"};
      pid_ = ::fork();
      if (pid_ == 0) {
        const int log = ::open((dir_ + "/alertmanager.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(log, 1);
        ::dup2(log, 2);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(kAlertmanager, argv.data());
        ::_exit(127);
      }
      if (WaitFor([&] { return Http10(port_, "GET", "/-/ready").status == 200 || Exited(); }, 15000) && !Exited()) {
        return true;
      }
      Stop();
    }
    std::ifstream log(dir_ + "/alertmanager.log");
    *why = std::string(std::istreambuf_iterator<char>(log), {});
    return false;
  }
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  AlertmanagerProcess() = default;
  AlertmanagerProcess(const AlertmanagerProcess&) = delete;
  AlertmanagerProcess& operator=(const AlertmanagerProcess&) = delete;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  bool Exited() {
    int status;
    return ::waitpid(pid_, &status, WNOHANG) == pid_ ? (pid_ = -1, true) : false;
  }
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

TEST(AlertmanagerTest, FiringAlertArrivesAndResolvedOneLeaves) {
  if (::access(kAlertmanager, X_OK) != 0) GTEST_SKIP() << kAlertmanager << " is not installed (apt install prometheus-alertmanager)";
  AlertmanagerProcess am;
  std::string why;
  ASSERT_TRUE(am.Start(&why)) << "Alertmanager did not start: " << why;

  monitor::Registry app, own;
  monitor::MetricHistory history(app);
  auto& depth = app.AddGauge("shelfwatch_test_queue_depth", "Queue depth.", {"queue"}).WithLabels({"orders"});
  NotificationDispatcher dispatcher(own);
  NotifierConfig c;
  c.kind = NotifierConfig::Kind::kAlertmanager;
  c.name = "alertmanager";
  c.urls = {"http://127.0.0.1:" + std::to_string(am.port()) + "/"};
  c.timeout_ms = 5000;
  ASSERT_TRUE(dispatcher.Configure({c}).ok());
  EvaluatorOptions options;
  options.external_url = "http://shelfwatch.test:8080";
  RuleEvaluator evaluator(history, own, options, &dispatcher);
  auto rules = ParseRules(R"(groups:
- name: g
  rules:
  - alert: QueueDeep
    expr: shelfwatch_test_queue_depth > 10
    labels: {severity: page}
    annotations: {summary: "{{ $labels.queue }} holds {{ $value | humanize }}"}
)", "am.yml");
  ASSERT_TRUE(rules.ok());
  evaluator.Reload(std::move(rules).value());

  const int64_t t0 = UnixMillis();
  depth.Set(1500);
  history.SampleNow(t0);
  evaluator.EvaluateAt(t0);

  simdjson::dom::parser parser;
  std::string body;
  auto find_alert = [&]() -> bool {
    auto r = Http10(am.port(), "GET", "/api/v2/alerts");
    if (r.status != 200) return false;
    body = r.body;
    return body.find("QueueDeep") != std::string::npos;
  };
  ASSERT_TRUE(WaitFor(find_alert, 10000)) << body;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  simdjson::dom::array list = doc;
  ASSERT_EQ(list.size(), 1u) << body;
  simdjson::dom::element a = list.at(0);
  EXPECT_EQ(std::string_view(a["labels"]["alertname"]), "QueueDeep");
  EXPECT_EQ(std::string_view(a["labels"]["queue"]), "orders");
  EXPECT_EQ(std::string_view(a["labels"]["severity"]), "page");
  EXPECT_EQ(std::string_view(a["annotations"]["summary"]), "orders holds 1.5k");
  EXPECT_EQ(std::string_view(a["status"]["state"]), "active");
  EXPECT_EQ(std::string_view(a["startsAt"]), FormatRfc3339Millis(t0));
  EXPECT_EQ(std::string_view(a["generatorURL"]),
            "http://shelfwatch.test:8080/graph?g0.expr=shelfwatch_test_queue_depth+%3E+10&g0.tab=1");
  // Our fingerprint is Alertmanager's.
  const monitor::LabelSet labels(std::vector<monitor::Label>{{"alertname", "QueueDeep"}, {"queue", "orders"}, {"severity", "page"}});
  EXPECT_EQ(std::string_view(a["fingerprint"]), Fingerprint(labels));

  // Resolved: sent once with endsAt = now; Alertmanager stops listing it.
  depth.Set(2);
  const int64_t t1 = std::max(UnixMillis(), t0 + 1);
  history.SampleNow(t1);
  evaluator.EvaluateAt(t1);
  EXPECT_TRUE(WaitFor([&] { return !find_alert(); }, 10000)) << body;
  std::filesystem::remove_all(am.dir());
}

}  // namespace
}  // namespace shelfwatch::alert
