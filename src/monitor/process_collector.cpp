// Process metrics from /proc/self, read at scrape time. Field positions are those of proc(5):
// /proc/[pid]/stat field 14 utime, 15 stime (clock ticks), 22 starttime (ticks after boot);
// /proc/[pid]/statm size and resident (pages); /proc/stat "btime" (boot time, Unix seconds).
// Names and help texts follow the process collector of the Prometheus client libraries.
#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "monitor/metrics.h"

namespace shelfwatch::monitor {
namespace {

// /proc files report size 0, so read until EOF.
std::optional<std::string> ReadFile(const char* path) {
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return std::nullopt;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

// Value of a "Key:  value" line (as in /proc/self/status and /proc/stat), or nullopt.
std::optional<double> KeyedValue(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    const char* start = line.c_str() + key.size();
    char* end = nullptr;
    const double v = std::strtod(start, &end);
    if (end != start) return v;
  }
  return std::nullopt;
}

// Fields of /proc/self/stat after the command name, which may itself contain spaces and ')'.
// Element 0 is field 3 (state), so field k is element k - 3.
std::vector<std::string> StatFields() {
  std::vector<std::string> fields;
  const auto text = ReadFile("/proc/self/stat");
  if (!text) return fields;
  const size_t close = text->rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(text->substr(close + 1));
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

std::optional<double> StatField(const std::vector<std::string>& fields, size_t k) {
  if (k < 3 || k - 3 >= fields.size()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(fields[k - 3].c_str(), &end);
  if (end == fields[k - 3].c_str()) return std::nullopt;
  return v;
}

// Soft "Max open files" limit from /proc/self/limits; +Inf when "unlimited".
std::optional<double> MaxOpenFiles() {
  const auto text = ReadFile("/proc/self/limits");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  constexpr std::string_view kKey = "Max open files";
  while (std::getline(in, line)) {
    if (!line.starts_with(kKey)) continue;
    std::istringstream fields(line.substr(kKey.size()));
    std::string soft;
    fields >> soft;
    if (soft == "unlimited") return INFINITY;
    char* end = nullptr;
    const double v = std::strtod(soft.c_str(), &end);
    if (end != soft.c_str()) return v;
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor of the directory being listed
}

void Emit(SnapshotWriter& w, std::string_view name, std::string_view help, MetricType type,
          std::optional<double> value) {
  if (!value) return;
  w.Header(name, help, type);
  w.Sample({}, *value);
}

}  // namespace

void RegisterProcessCollector(Registry& registry) {
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  // Boot time and start time do not change during the process's life: read them once.
  std::optional<double> start_time;
  if (const auto stat = ReadFile("/proc/stat")) {
    const auto boot = KeyedValue(*stat, "btime");
    const auto start_ticks = StatField(StatFields(), 22);
    if (boot && start_ticks && ticks_per_second > 0) start_time = *boot + *start_ticks / ticks_per_second;
  }

  registry.AddCollector([=](SnapshotWriter& w) {
    const std::vector<std::string> stat = StatFields();
    std::optional<double> cpu;
    const auto utime = StatField(stat, 14), stime = StatField(stat, 15);
    if (utime && stime && ticks_per_second > 0) cpu = (*utime + *stime) / ticks_per_second;
    Emit(w, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
         MetricType::kCounter, cpu);

    std::optional<double> vsize, rss;
    if (const auto statm = ReadFile("/proc/self/statm")) {
      double size_pages = 0, resident_pages = 0;
      if (std::sscanf(statm->c_str(), "%lf %lf", &size_pages, &resident_pages) == 2) {
        vsize = size_pages * page_bytes;
        rss = resident_pages * page_bytes;
      }
    }
    Emit(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge, vsize);
    Emit(w, "process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge, rss);

    Emit(w, "process_open_fds", "Number of open file descriptors.", MetricType::kGauge, OpenFds());
    Emit(w, "process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge,
         MaxOpenFiles());
    Emit(w, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
         MetricType::kGauge, start_time);

    std::optional<double> threads;
    if (const auto status = ReadFile("/proc/self/status")) threads = KeyedValue(*status, "Threads:");
    Emit(w, "process_threads", "Number of OS threads in the process.", MetricType::kGauge, threads);
  });
}

}  // namespace shelfwatch::monitor
