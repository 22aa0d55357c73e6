// Counters, histograms, families and the registry; see metrics.h.
#include "monitor/metrics.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "common/log.h"

namespace shelfwatch::monitor {

namespace internal {
namespace {

static_assert(kShards >= 2 && kShards <= 32, "the lease mask is a uint32_t");

// Bit s set = shard s is leased to a live thread. Bit 0 (the shared shard) is never leased.
std::atomic<uint32_t> g_leased{1};

// Returns the thread's shard when the thread exits. The release on the mask orders this
// thread's last plain stores into the shard before the next owner's first load (which claims
// the bit with an acquire), so no increment is lost across owners.
struct ShardLease {
  int shard = 0;
  ~ShardLease() {
    if (shard <= 0) return;
    tls_shard = 0;  // recordings from later thread_local destructors go to the shared shard
    g_leased.fetch_and(~(uint32_t{1} << shard), std::memory_order_release);
  }
};

}  // namespace

int AcquireShard() {
  thread_local ShardLease lease;  // constructed here, so its destructor runs at thread exit
  constexpr uint32_t kAll = kShards == 32 ? ~uint32_t{0} : (uint32_t{1} << kShards) - 1;
  uint32_t mask = g_leased.load(std::memory_order_acquire);
  int shard = 0;
  for (;;) {
    const uint32_t free = ~mask & kAll;
    if (free == 0) break;  // every shard taken: share shard 0
    const int bit = std::countr_zero(free);
    if (g_leased.compare_exchange_weak(mask, mask | (uint32_t{1} << bit), std::memory_order_acquire,
                                       std::memory_order_acquire)) {
      shard = bit;
      break;
    }
  }
  lease.shard = shard;
  tls_shard = shard;
  return shard;
}

void Fatal(const std::string& what) {
  std::fprintf(stderr, "shelfwatch monitor: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace internal

namespace {

// Strictly increasing finite bounds; a trailing +Inf is implicit and dropped.
std::vector<double> CheckedBounds(std::vector<double> bounds, std::string_view what) {
  if (!bounds.empty() && bounds.back() == INFINITY) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      internal::Fatal(std::string(what) + ": bucket bound " + std::to_string(i) + " is not finite");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      internal::Fatal(std::string(what) + ": bucket bounds must be strictly increasing (bound " +
                      std::to_string(i) + " = " + FormatValue(bounds[i]) + " after " +
                      FormatValue(bounds[i - 1]) + ")");
    }
  }
  return bounds;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Why `name` cannot name a family of `type`, or "" when it can.
std::string NameProblem(std::string_view name, std::string_view help, MetricType type) {
  std::string quoted;  // built by appends: "'" + std::string(...) trips GCC 12's -Wrestrict
  quoted.append("'").append(name).append("'");
  if (!IsValidMetricName(name)) return "invalid metric name " + quoted + " (want [a-zA-Z_:][a-zA-Z0-9_:]*)";
  if (help.empty()) return "metric " + quoted + " needs a help text";
  const bool total = EndsWith(name, "_total");
  if (type == MetricType::kCounter && !total) return "counter " + quoted + " must end in _total";
  if (type != MetricType::kCounter && total) {
    return std::string(MetricTypeName(type)) + " " + quoted + " must not end in _total";
  }
  return "";
}

// Why these label names cannot label a family of `type`, or "".
std::string LabelNamesProblem(std::string_view metric, const std::vector<std::string>& names,
                              MetricType type) {
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string where = "metric '" + std::string(metric) + "': label name '" + names[i] + "'";
    if (!IsValidLabelName(names[i])) return where + " is invalid (want [a-zA-Z_][a-zA-Z0-9_]*, no __ prefix)";
    if (type == MetricType::kHistogram && names[i] == "le") return where + " is reserved for histogram buckets";
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) return where + " appears twice";
    }
  }
  return "";
}

LabelPairs Zip(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  LabelPairs labels;
  labels.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) labels.emplace_back(names[i], values[i]);
  return labels;
}

MetricFamilySnapshot Snapshot(const Family<Counter>& f) {
  MetricFamilySnapshot out{f.name(), f.help(), MetricType::kCounter, {}};
  f.ForEach([&](const std::vector<std::string>& values, const Counter& c) {
    out.series.push_back({Zip(f.label_names(), values), static_cast<double>(c.Value()), {}});
  });
  return out;
}

MetricFamilySnapshot Snapshot(const Family<Gauge>& f) {
  MetricFamilySnapshot out{f.name(), f.help(), MetricType::kGauge, {}};
  f.ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
    out.series.push_back({Zip(f.label_names(), values), g.Value(), {}});
  });
  return out;
}

MetricFamilySnapshot Snapshot(const Family<Histogram>& f) {
  MetricFamilySnapshot out{f.name(), f.help(), MetricType::kHistogram, {}};
  f.ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
    out.series.push_back({Zip(f.label_names(), values), 0, h.Collect()});
  });
  return out;
}

// Appends collector series to `target`, leaving out any whose label set is already there:
// one duplicate series makes Prometheus reject the whole scrape.
void MergeSeries(MetricFamilySnapshot& target, std::vector<SeriesSnapshot> series, Status& problem) {
  const auto key = [](LabelPairs labels) {
    std::sort(labels.begin(), labels.end());  // {a,b} and {b,a} name the same series
    return labels;
  };
  std::set<LabelPairs> seen;
  for (const SeriesSnapshot& s : target.series) seen.insert(key(s.labels));
  for (SeriesSnapshot& s : series) {
    if (!seen.insert(key(s.labels)).second) {
      if (problem.ok()) problem = InvalidArgument("collector: metric '" + target.name + "' got a duplicate series");
      continue;
    }
    target.series.push_back(std::move(s));
  }
}

}  // namespace

// ---- Counter, Histogram ----

uint64_t Counter::Value() const {
  uint64_t total = 0;
  for (const Cell& c : cells_) total += c.v.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(CheckedBounds(std::move(bounds), "histogram")),
      lines_per_shard_((bounds_.size() + 2 + 7) / 8),
      lines_(std::make_unique<Line[]>(kShards * lines_per_shard_)) {}

HistogramSnapshot Histogram::Collect() const {
  HistogramSnapshot snap;
  snap.bounds = bounds_;
  const size_t buckets = bounds_.size() + 1;
  snap.cumulative.assign(buckets, 0);
  for (size_t s = 0; s < kShards; ++s) {
    for (size_t b = 0; b < buckets; ++b) snap.cumulative[b] += Cell(s, 1 + b).load(std::memory_order_relaxed);
    snap.sum += std::bit_cast<double>(Cell(s, 0).load(std::memory_order_relaxed));
  }
  for (size_t b = 1; b < buckets; ++b) snap.cumulative[b] += snap.cumulative[b - 1];
  snap.count = snap.cumulative.back();
  return snap;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

namespace {
// 15 significant digits: drops the float noise of repeated multiplication (0.1 * 3 is
// 0.30000000000000004), so bounds print as the le="0.3" a person expects.
double Rounded(double v) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 15).ptr;
  double out = v;
  std::from_chars(buf, end, out);
  return out;
}
}  // namespace

std::vector<double> ExponentialBuckets(double start, double factor, int n) {
  if (!(start > 0) || !(factor > 1) || n < 1 || !std::isfinite(start * std::pow(factor, n))) {
    internal::Fatal("ExponentialBuckets needs start > 0, factor > 1, n >= 1 and finite bounds");
  }
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < n; ++i, b *= factor) {
    const double r = Rounded(b);
    out.push_back(out.empty() || out.back() < r ? r : b);  // never merge near-equal bounds
  }
  return out;
}

std::vector<double> LinearBuckets(double start, double width, int n) {
  if (!std::isfinite(start) || !(width > 0) || n < 1 || !std::isfinite(start + width * n)) {
    internal::Fatal("LinearBuckets needs a finite start, width > 0, n >= 1 and finite bounds");
  }
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const double b = start + width * i, r = Rounded(b);
    out.push_back(out.empty() || out.back() < r ? r : b);
  }
  return out;
}

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// ---- SnapshotWriter ----

void SnapshotWriter::Fail(std::string message) {
  if (status_.ok()) status_ = InvalidArgument(std::move(message));
}

void SnapshotWriter::Header(std::string_view name, std::string_view help, MetricType type) {
  in_family_ = false;
  if (std::string problem = NameProblem(name, help, type); !problem.empty()) {
    Fail("collector: " + problem);
    return;
  }
  families_.push_back({std::string(name), std::string(help), type, {}});
  in_family_ = true;
}

bool SnapshotWriter::AcceptSeries(const LabelPairs& labels, MetricType want) {
  if (!in_family_) {
    Fail(families_.empty() ? "collector: sample before any Header" : "collector: sample of a rejected family");
    return false;
  }
  const MetricFamilySnapshot& fam = families_.back();
  if ((fam.type == MetricType::kHistogram) != (want == MetricType::kHistogram)) {
    Fail("collector: metric '" + fam.name + "' is a " + std::string(MetricTypeName(fam.type)) +
         " but got a " + (want == MetricType::kHistogram ? "histogram" : "plain") + " sample");
    return false;
  }
  std::vector<std::string> names;
  for (const auto& [n, v] : labels) names.push_back(n);
  if (std::string problem = LabelNamesProblem(fam.name, names, fam.type); !problem.empty()) {
    Fail("collector: " + problem);
    return false;
  }
  return true;
}

void SnapshotWriter::Sample(const LabelPairs& labels, double value) {
  if (!AcceptSeries(labels, MetricType::kGauge)) return;
  families_.back().series.push_back({labels, value, {}});
}

void SnapshotWriter::Sample(const LabelPairs& labels, HistogramSnapshot h) {
  if (!AcceptSeries(labels, MetricType::kHistogram)) return;
  const std::string& name = families_.back().name;
  bool ok = h.cumulative.size() == h.bounds.size() + 1;
  for (size_t i = 0; ok && i < h.bounds.size(); ++i) {
    ok = std::isfinite(h.bounds[i]) && (i == 0 || h.bounds[i - 1] < h.bounds[i]);
  }
  for (size_t i = 1; ok && i < h.cumulative.size(); ++i) ok = h.cumulative[i - 1] <= h.cumulative[i];
  if (!ok) {
    Fail("collector: histogram '" + name +
         "' needs strictly increasing finite bounds and non-decreasing cumulative counts, one more than bounds");
    return;
  }
  h.count = h.cumulative.back();
  families_.back().series.push_back({labels, 0, std::move(h)});
}

// ---- Registry ----

template <typename M>
Family<M>& Registry::Add(const std::string& name, const std::string& help, MetricType type,
                         std::vector<std::string> label_names, std::vector<double> bounds,
                         std::function<std::unique_ptr<M>()> make) {
  if (std::string problem = NameProblem(name, help, type); !problem.empty()) internal::Fatal(problem);
  if (std::string problem = LabelNamesProblem(name, label_names, type); !problem.empty()) {
    internal::Fatal(problem);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    const auto* family = std::get_if<std::unique_ptr<Family<M>>>(&it->second.family);
    if (family == nullptr) {
      internal::Fatal("metric '" + name + "' is already registered with another type than " +
                      std::string(MetricTypeName(type)));
    }
    if ((*family)->label_names() != label_names) {
      internal::Fatal("metric '" + name + "' is already registered with other label names");
    }
    if (it->second.bounds != bounds) {
      internal::Fatal("histogram '" + name + "' is already registered with other bucket bounds");
    }
    return **family;
  }
  auto family = std::make_unique<Family<M>>(name, help, std::move(label_names), std::move(make));
  Family<M>& ref = *family;
  families_.emplace(name, Entry{std::move(family), std::move(bounds)});
  return ref;
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return Add<Counter>(name, help, MetricType::kCounter, std::move(label_names), {},
                      [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, MetricType::kGauge, std::move(label_names), {},
                    [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  bounds = CheckedBounds(std::move(bounds), "histogram '" + name + "'");
  auto make = [bounds] { return std::make_unique<Histogram>(bounds); };
  return Add<Histogram>(name, help, MetricType::kHistogram, std::move(label_names), std::move(bounds),
                        std::move(make));
}

void Registry::AddCollector(std::function<void(SnapshotWriter&)> collector) {
  auto shared = std::make_shared<const std::function<void(SnapshotWriter&)>>(std::move(collector));
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(shared));
}

std::vector<MetricFamilySnapshot> Registry::Collect() const {
  std::vector<const Entry*> entries;
  std::vector<std::shared_ptr<const std::function<void(SnapshotWriter&)>>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries.reserve(families_.size());
    for (const auto& [name, entry] : families_) entries.push_back(&entry);  // nodes never move
    collectors = collectors_;
  }
  // Families are snapshotted outside the registry mutex: recording never waits on it, and a
  // registration during a scrape only waits for the pointer copy above.
  std::vector<MetricFamilySnapshot> out;
  out.reserve(entries.size());
  for (const Entry* entry : entries) {
    std::visit([&](const auto& family) { out.push_back(Snapshot(*family)); }, entry->family);
  }

  SnapshotWriter writer;
  for (const auto& collector : collectors) (*collector)(writer);
  Status problem = writer.status();
  std::map<std::string, size_t, std::less<>> index;
  for (size_t i = 0; i < out.size(); ++i) index.emplace(out[i].name, i);
  for (MetricFamilySnapshot& fam : writer.TakeFamilies()) {
    auto it = index.find(fam.name);
    if (it == index.end()) {
      it = index.emplace(fam.name, out.size()).first;
      out.push_back({fam.name, fam.help, fam.type, {}});
    }
    MetricFamilySnapshot& target = out[it->second];
    if (target.type != fam.type) {
      if (problem.ok()) {
        problem = InvalidArgument("collector: metric '" + fam.name + "' is a " +
                                  std::string(MetricTypeName(fam.type)) + " but already exists as a " +
                                  std::string(MetricTypeName(target.type)));
      }
      continue;
    }
    MergeSeries(target, std::move(fam.series), problem);
  }
  if (!problem.ok()) log::Warn("metric collector output left out of the scrape", {{"error", problem.message()}});

  std::stable_sort(out.begin(), out.end(),
                   [](const MetricFamilySnapshot& a, const MetricFamilySnapshot& b) { return a.name < b.name; });
  return out;
}

std::string Registry::Expose() const { return RenderTextFormat(Collect()); }

}  // namespace shelfwatch::monitor
