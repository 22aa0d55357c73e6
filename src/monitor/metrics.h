// Metric registry and Prometheus text exposition (format 0.0.4).
//
// Counters, gauges and histograms are grouped in families (one name, one help text, a fixed
// list of label names). Recording never takes a lock: every metric keeps kShards cache-line
// padded cells and a thread adds into its own cell with a relaxed atomic; the scrape sums the
// cells. Looking up a labelled child takes the family's mutex, so hot paths look children up
// once and keep the reference (references stay valid for the registry's life).
// Thread-safety: everything here is safe for concurrent use.
// Cost: Counter::Inc and Histogram::Observe are O(1) / O(log buckets), allocation-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace shelfwatch::monitor {

inline constexpr size_t kShards = 16;

// Index of the calling thread's shard (assigned round-robin on first use).
size_t ThisThreadShard();

class Counter {
 public:
  void Inc(uint64_t n = 1) { cells_[ThisThreadShard()].v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> v{0};
  };
  Cell cells_[kShards];
};

// A value that goes up and down. Set/Add are atomic on one cell (gauges are rarely hot).
class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing finite upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (size bounds+1)
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Collect() const;

 private:
  struct alignas(64) Shard {
    std::atomic<double> sum{0};
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // bounds.size() + 1
  };
  std::vector<double> bounds_;
  Shard shards_[kShards];
};

// Default buckets for request and stage latencies, in seconds (50 us .. 10 s).
std::vector<double> LatencyBuckets();
// n buckets: start, start*factor, ...
std::vector<double> ExponentialBuckets(double start, double factor, int n);

enum class MetricType { kCounter, kGauge, kHistogram };

template <typename M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for these label values (in label_names order), created on first use.
  // Takes the family mutex: keep the reference instead of calling this per request.
  M& WithLabels(const std::vector<std::string>& values) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(values);
    if (it == children_.end()) it = children_.emplace(values, make_()).first;
    return *it->second;
  }
  // Removes a child (e.g. a catalog that was dropped).
  void Remove(const std::vector<std::string>& values) {
    std::lock_guard<std::mutex> lock(mu_);
    children_.erase(values);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

// Writes exposition lines for values computed at scrape time (process metrics, sizes).
class ExpositionWriter {
 public:
  explicit ExpositionWriter(std::string* out) : out_(out) {}
  void Header(std::string_view name, std::string_view help, MetricType type);
  void Sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
              double value);

 private:
  std::string* out_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name twice returns the existing family (label names must match).
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);
  // A callback run at every scrape that writes whole metric families itself.
  void AddCollector(std::function<void(ExpositionWriter&)> collector);

  // Prometheus text format 0.0.4, families sorted by name.
  std::string Expose() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family<Counter>>> counters_;
  std::map<std::string, std::unique_ptr<Family<Gauge>>> gauges_;
  std::map<std::string, std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::function<void(ExpositionWriter&)>> collectors_;
};

// Registers process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds
// and process_threads, read from /proc at scrape time.
void RegisterProcessCollector(Registry& registry);

// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace shelfwatch::monitor
