// Process collector: the values a dashboard plots are present and plausible, and follow the
// process as it opens files, starts threads and burns CPU.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

struct Sample {
  MetricType type;
  double value;
};

std::map<std::string, Sample> Scrape(const Registry& r) {
  std::map<std::string, Sample> out;
  for (const auto& f : r.Collect()) {
    if (f.series.size() == 1 && f.series[0].labels.empty()) out[f.name] = {f.type, f.series[0].value};
  }
  return out;
}

TEST(ProcessCollectorTest, ValuesArePlausible) {
  Registry r;
  RegisterProcessCollector(r);
  const auto m = Scrape(r);
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m.at("process_cpu_seconds_total").type, MetricType::kCounter);
  EXPECT_GE(m.at("process_cpu_seconds_total").value, 0);
  const double rss = m.at("process_resident_memory_bytes").value;
  EXPECT_GT(rss, 1 << 20);  // a C++ test binary is well over 1 MiB resident
  EXPECT_GE(m.at("process_virtual_memory_bytes").value, rss);
  EXPECT_GE(m.at("process_threads").value, 1);
  EXPECT_GE(m.at("process_open_fds").value, 3);  // stdin, stdout, stderr
  EXPECT_GE(m.at("process_max_fds").value, m.at("process_open_fds").value);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = m.at("process_start_time_seconds").value;
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 24 * 3600) << "test process started more than a day ago?";
  for (const auto& [name, s] : m) {
    if (name != "process_cpu_seconds_total") {
      EXPECT_EQ(s.type, MetricType::kGauge) << name;
    }
  }
}

TEST(ProcessCollectorTest, FollowsOpenFilesAndThreads) {
  Registry r;
  RegisterProcessCollector(r);
  // Sanitizer runtimes (TSan) start a helper thread of their own with the first thread a
  // process creates: create and join one first so that only our thread is counted below.
  std::thread([] {}).join();
  const auto before = Scrape(r);

  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::thread extra([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  const auto during = Scrape(r);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  extra.join();
  for (int fd : fds) close(fd);

  EXPECT_EQ(during.at("process_open_fds").value, before.at("process_open_fds").value + 10);
  EXPECT_EQ(during.at("process_threads").value, before.at("process_threads").value + 1);
}

TEST(ProcessCollectorTest, CpuSecondsGrowWithWork) {
  Registry r;
  RegisterProcessCollector(r);
  const double before = Scrape(r).at("process_cpu_seconds_total").value;
  // Burn 0.2 s of this process's CPU time (not wall time: the machine may be busy);
  // /proc reports it in clock ticks, usually 10 ms.
  const auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  const double until = cpu_now() + 0.2;
  volatile uint64_t sink = 0;
  while (cpu_now() < until) sink = sink + 1;
  const double after = Scrape(r).at("process_cpu_seconds_total").value;
  EXPECT_GE(after - before, 0.15);
}

}  // namespace
}  // namespace shelfwatch::monitor
