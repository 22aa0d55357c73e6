#include "monitor/history/metric_history.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <queue>

#include "common/clock.h"
#include "common/log.h"

namespace shelfwatch::monitor {
namespace {

// Samples per chunk, as Prometheus' head chunks: 10 minutes at 5 s.
constexpr uint32_t kChunkSamples = 120;
// Bookkeeping of one full chunk beyond its data: the XorChunk, the shared_ptr control block,
// the deque slot.
constexpr size_t kChunkOverhead = sizeof(XorChunk) + 48;
// How many refused series hashes are remembered to count distinct refusals.
constexpr size_t kMaxRefusedRemembered = 65536;

constexpr char kSnapshotMagic[8] = {'S', 'W', 'H', 'I', 'S', 'T', '0', '1'};

// CRC-32 (IEEE 802.3 polynomial, reflected), to detect a torn or corrupted snapshot.
uint32_t Crc32(const std::string& data, size_t len) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) crc = kTable[(crc ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void PutBytes(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

// Bounds-checked little-endian reader over the snapshot.
class ByteReader {
 public:
  ByteReader(const std::string& data, size_t end) : data_(data), end_(end) {}
  bool U32(uint32_t* v) {
    uint64_t x;
    if (!Fixed(4, &x)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool U64(uint64_t* v) { return Fixed(8, v); }
  bool U8(uint8_t* v) {
    uint64_t x;
    if (!Fixed(1, &x)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  bool Bytes(std::string* s) {
    uint32_t n;
    if (!U32(&n) || n > end_ - pos_) return false;
    s->assign(data_, pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(size_t n) {
    if (n > end_ - pos_) return false;
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == end_; }

 private:
  bool Fixed(int n, uint64_t* v) {
    if (static_cast<size_t>(n) > end_ - pos_) return false;
    uint64_t x = 0;
    for (int i = 0; i < n; ++i) x |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += static_cast<size_t>(n);
    *v = x;
    return true;
  }
  const std::string& data_;
  size_t end_;
  size_t pos_ = 0;
};

// The series a Prometheus scrape of these families would store.
std::vector<std::pair<LabelSet, double>> Flatten(const std::vector<MetricFamilySnapshot>& families) {
  std::vector<std::pair<LabelSet, double>> points;
  for (const MetricFamilySnapshot& fam : families) {
    for (const SeriesSnapshot& s : fam.series) {
      auto with_name = [&](std::string name, const char* le = nullptr, const std::string* le_text = nullptr) {
        std::vector<Label> labels(s.labels.begin(), s.labels.end());
        labels.emplace_back(std::string(kMetricNameLabel), std::move(name));
        if (le != nullptr) labels.emplace_back(le, *le_text);
        return LabelSet(std::move(labels));
      };
      if (fam.type != MetricType::kHistogram) {
        points.emplace_back(with_name(fam.name), s.value);
        continue;
      }
      const HistogramSnapshot& h = s.histogram;
      for (size_t i = 0; i < h.cumulative.size(); ++i) {
        const std::string le = i < h.bounds.size() ? FormatValue(h.bounds[i]) : std::string("+Inf");
        points.emplace_back(with_name(fam.name + "_bucket", "le", &le), static_cast<double>(h.cumulative[i]));
      }
      points.emplace_back(with_name(fam.name + "_sum"), h.sum);
      points.emplace_back(with_name(fam.name + "_count"), static_cast<double>(h.count));
    }
  }
  return points;
}

}  // namespace

// Counters shared with the registry collector, which may outlive the history.
struct MetricHistory::SharedStats {
  std::atomic<uint64_t> series{0}, bytes{0}, samplings{0}, samples_appended{0}, series_dropped{0},
      chunks_evicted{0}, snapshot_failures{0};
};

MetricHistory::MetricHistory(const Registry& registry, MetricHistoryOptions options)
    : registry_(registry), options_(std::move(options)), shared_stats_(std::make_shared<SharedStats>()) {}

MetricHistory::~MetricHistory() { Stop(); }

void MetricHistory::Start() {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void MetricHistory::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  thread_.join();
  if (!options_.snapshot_path.empty()) {
    Status s = SaveSnapshot();
    if (!s.ok()) log::Warn("metric history snapshot failed", {{"error", s.ToString()}});
  }
}

void MetricHistory::Run() {
  const auto interval = std::chrono::milliseconds(std::max<int64_t>(1, options_.interval_ms));
  const auto snapshot_every = std::chrono::milliseconds(std::max<int64_t>(1, options_.snapshot_interval_ms));
  auto next = SteadyClock::now();
  auto last_save = next;
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!stopping_) {
    lock.unlock();
    SampleNow(UnixMillis());
    if (!options_.snapshot_path.empty() && SteadyClock::now() - last_save >= snapshot_every) {
      Status s = SaveSnapshot();
      if (!s.ok()) log::Warn("metric history snapshot failed", {{"error", s.ToString()}});
      last_save = SteadyClock::now();
    }
    lock.lock();
    // Keep a steady cadence; after a stall, skip the missed samplings instead of bursting.
    next += interval;
    const auto now = SteadyClock::now();
    if (next < now) next = now + interval;
    run_cv_.wait_until(lock, next, [this] { return stopping_; });
  }
}

size_t MetricHistory::SeriesOverhead(const LabelSet& labels) const {
  size_t bytes = sizeof(Series) + sizeof(LabelSet) + 2 * sizeof(void*) * 8;  // map nodes, control block
  for (const auto& [n, v] : labels.labels()) bytes += 2 * sizeof(std::string) + n.size() + v.size();
  return 2 * bytes;  // the label set is held twice: map key and shared pointer
}

MetricHistory::Series* MetricHistory::CreateSeries(const LabelSet& labels) {
  const size_t overhead = SeriesOverhead(labels);
  if (series_.size() >= options_.max_series || bytes_ + overhead > options_.max_bytes) return nullptr;
  auto s = std::make_unique<Series>();
  s->labels = std::make_shared<const LabelSet>(labels);
  s->bytes = overhead;
  bytes_ += overhead;
  Series* raw = s.get();
  by_name_[std::string(labels.MetricName())].push_back(raw);
  series_.emplace(labels, std::move(s));
  return raw;
}

void MetricHistory::RemoveSeries(const LabelSet& labels) {
  auto it = series_.find(labels);
  if (it == series_.end()) return;
  Series* s = it->second.get();
  bytes_ -= s->bytes;
  auto nit = by_name_.find(std::string(labels.MetricName()));
  if (nit != by_name_.end()) {
    std::erase(nit->second, s);
    if (nit->second.empty()) by_name_.erase(nit);
  }
  series_.erase(it);
}

void MetricHistory::Append(Series& s, int64_t t, double v) {
  if (s.open.size() >= kChunkSamples) {
    const size_t open_bytes = s.open.bytes();
    s.open.Seal();
    auto full = std::make_shared<const XorChunk>(std::move(s.open));
    s.open = XorChunk();
    const size_t full_bytes = full->bytes() + kChunkOverhead;
    s.bytes = s.bytes - open_bytes + full_bytes;
    bytes_ = bytes_ - open_bytes + full_bytes;
    s.full.push_back(std::move(full));
  }
  const size_t before = s.open.bytes();
  if (s.full.empty() && s.open.empty()) s.first_t = t;
  s.open.Append(t, v);
  const size_t after = s.open.bytes();
  s.bytes = s.bytes - before + after;
  bytes_ = bytes_ - before + after;
  s.last_t = t;
}

void MetricHistory::DropExpired(int64_t cutoff) {
  std::vector<LabelSet> gone;
  for (auto& [labels, s] : series_) {
    while (!s->full.empty() && s->full.front()->max_t() < cutoff) {
      const size_t b = s->full.front()->bytes() + kChunkOverhead;
      s->bytes -= b;
      bytes_ -= b;
      s->full.pop_front();
    }
    if (s->full.empty() && (s->open.empty() || s->open.max_t() < cutoff)) {
      gone.push_back(labels);
      continue;
    }
    s->first_t = s->full.empty() ? s->open.min_t() : s->full.front()->min_t();
  }
  for (const auto& l : gone) RemoveSeries(l);
}

void MetricHistory::EnforceMemoryBound() {
  if (bytes_ <= options_.max_bytes) return;
  // Oldest full chunks first, across all series.
  using Entry = std::pair<int64_t, Series*>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> oldest;
  for (auto& [labels, s] : series_) {
    if (!s->full.empty()) oldest.emplace(s->full.front()->max_t(), s.get());
  }
  while (bytes_ > options_.max_bytes && !oldest.empty()) {
    Series* s = oldest.top().second;
    oldest.pop();
    const size_t b = s->full.front()->bytes() + kChunkOverhead;
    s->bytes -= b;
    bytes_ -= b;
    s->full.pop_front();
    ++stats_.chunks_evicted;
    s->first_t = s->full.empty() ? s->open.min_t() : s->full.front()->min_t();
    if (!s->full.empty()) oldest.emplace(s->full.front()->max_t(), s);
  }
}

void MetricHistory::NoteDropped(uint64_t hash) {
  if (refused_.size() >= kMaxRefusedRemembered) refused_.clear();
  if (refused_.insert(hash).second) ++stats_.series_dropped;
}

void MetricHistory::PublishStats() {
  stats_.series = series_.size();
  stats_.bytes = bytes_;
  int64_t oldest = 0;
  for (const auto& [labels, s] : series_) {
    if (oldest == 0 || s->first_t < oldest) oldest = s->first_t;
  }
  stats_.oldest_ms = oldest;
  stats_.newest_ms = last_sampling_t_;
  SharedStats& sh = *shared_stats_;
  sh.series.store(stats_.series, std::memory_order_relaxed);
  sh.bytes.store(stats_.bytes, std::memory_order_relaxed);
  sh.samplings.store(stats_.samplings, std::memory_order_relaxed);
  sh.samples_appended.store(stats_.samples_appended, std::memory_order_relaxed);
  sh.series_dropped.store(stats_.series_dropped, std::memory_order_relaxed);
  sh.chunks_evicted.store(stats_.chunks_evicted, std::memory_order_relaxed);
}

void MetricHistory::SampleNow(int64_t timestamp_ms) {
  const int64_t t = timestamp_ms;
  // Collect and build label sets before taking the lock: queries are not held up by them.
  const std::vector<std::pair<LabelSet, double>> points = Flatten(registry_.Collect());

  std::unique_lock<std::shared_mutex> lock(mu_);
  if (sampling_ > 0 && t <= last_sampling_t_) {
    ++stats_.samplings_out_of_order;
    return;
  }
  ++sampling_;
  ++stats_.samplings;
  last_sampling_t_ = t;
  for (const auto& [labels, v] : points) {
    auto it = series_.find(labels);
    Series* s = it != series_.end() ? it->second.get() : CreateSeries(labels);
    if (s == nullptr) {
      NoteDropped(labels.hash());
      continue;
    }
    // Twice in one sampling (a collector repeating a series), or not after loaded data.
    const bool has_data = !s->open.empty() || !s->full.empty();
    if (s->last_sampling == sampling_ || (has_data && t <= s->last_t)) continue;
    Append(*s, t, NormalizeValue(v));
    s->last_sampling = sampling_;
    s->stale = false;
    ++stats_.samples_appended;
  }
  // Series missing from this sampling end here, as a scrape writes stale markers.
  for (auto& [labels, s] : series_) {
    if (s->last_sampling == sampling_ || s->stale || t <= s->last_t) continue;
    Append(*s, t, StaleNaN());
    s->stale = true;
  }
  DropExpired(t - options_.retention_ms);
  EnforceMemoryBound();
  PublishStats();
}

MetricHistoryStats MetricHistory::stats() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  MetricHistoryStats s = stats_;
  s.snapshot_failures = shared_stats_->snapshot_failures.load(std::memory_order_relaxed);
  return s;
}

void MetricHistory::RegisterMetrics(Registry& registry) const {
  registry.AddCollector([stats = shared_stats_](SnapshotWriter& w) {
    auto gauge = [&](const char* name, const char* help, uint64_t v) {
      w.Header(name, help, MetricType::kGauge);
      w.Sample({}, static_cast<double>(v));
    };
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      w.Header(name, help, MetricType::kCounter);
      w.Sample({}, static_cast<double>(v));
    };
    const auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    gauge("shelfwatch_metric_history_series", "Series held by the embedded metric history.", load(stats->series));
    gauge("shelfwatch_metric_history_bytes", "Memory accounted to the embedded metric history.", load(stats->bytes));
    counter("shelfwatch_metric_history_samplings_total", "Samplings of the registry taken by the history.",
            load(stats->samplings));
    counter("shelfwatch_metric_history_samples_appended_total", "Samples appended to the metric history.",
            load(stats->samples_appended));
    counter("shelfwatch_metric_history_series_dropped_total",
            "New series the metric history refused (series cap or memory bound).", load(stats->series_dropped));
    counter("shelfwatch_metric_history_chunks_evicted_total",
            "Chunks dropped before their retention to stay under the memory bound.", load(stats->chunks_evicted));
    counter("shelfwatch_metric_history_snapshot_failures_total", "Metric history snapshots that could not be written.",
            load(stats->snapshot_failures));
  });
}

Status MetricHistory::Select(const std::vector<LabelMatcher>& matchers, int64_t mint, int64_t maxt,
                             std::vector<StoredSeries>* out) const {
  struct Pending {
    LabelsPtr labels;
    std::vector<std::shared_ptr<const XorChunk>> chunks;
    std::vector<Sample> open;
  };
  std::vector<Pending> pending;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    const std::string* name = nullptr;
    for (const auto& m : matchers) {
      if (m.name() == kMetricNameLabel && m.op() == MatchOp::kEqual) name = &m.value();
    }
    auto consider = [&](const Series& s) {
      if (s.last_t < mint || s.first_t > maxt || !MatchesAll(*s.labels, matchers)) return;
      Pending p;
      p.labels = s.labels;
      for (const auto& c : s.full) {
        if (c->max_t() >= mint && c->min_t() <= maxt) p.chunks.push_back(c);
      }
      s.open.Decode(mint, maxt, &p.open);
      if (p.chunks.empty() && p.open.empty()) return;
      pending.push_back(std::move(p));
    };
    if (name != nullptr) {
      auto it = by_name_.find(*name);
      if (it != by_name_.end()) {
        for (const Series* s : it->second) consider(*s);
      }
    } else {
      for (const auto& [labels, s] : series_) consider(*s);
    }
  }
  // Full chunks are immutable: decode them without holding up sampling.
  for (auto& p : pending) {
    StoredSeries s;
    s.labels = std::move(p.labels);
    size_t n = p.open.size();
    for (const auto& c : p.chunks) n += c->size();
    s.samples.reserve(n);
    for (const auto& c : p.chunks) c->Decode(mint, maxt, &s.samples);
    s.samples.insert(s.samples.end(), p.open.begin(), p.open.end());
    if (!s.samples.empty()) out->push_back(std::move(s));
  }
  return Status::Ok();
}

// Snapshot layout (little-endian): magic "SWHIST01"; u64 series count; per series: u32 label
// count, (bytes name, bytes value) each, u8 stale, u32 chunk count, per chunk: u32 samples,
// u64 bits, bytes data; then u32 CRC-32 of everything before it.
Status MetricHistory::SaveSnapshot() const {
  if (options_.snapshot_path.empty()) return FailedPrecondition("no snapshot path configured");
  std::lock_guard<std::mutex> save_lock(save_mu_);
  std::string buf;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    buf.reserve(bytes_ + 1024);
    buf.append(kSnapshotMagic, sizeof kSnapshotMagic);
    PutU64(buf, series_.size());
    for (const auto& [labels, s] : series_) {
      PutU32(buf, static_cast<uint32_t>(labels.size()));
      for (const auto& [n, v] : labels.labels()) {
        PutBytes(buf, n);
        PutBytes(buf, v);
      }
      buf += static_cast<char>(s->stale ? 1 : 0);
      PutU32(buf, static_cast<uint32_t>(s->full.size() + (s->open.empty() ? 0 : 1)));
      auto put_chunk = [&](const XorChunk& c) {
        PutU32(buf, static_cast<uint32_t>(c.size()));
        PutU64(buf, c.bit_count());
        PutBytes(buf, c.data());
      };
      for (const auto& c : s->full) put_chunk(*c);
      if (!s->open.empty()) put_chunk(s->open);
    }
  }
  PutU32(buf, Crc32(buf, buf.size()));

  const std::string tmp = options_.snapshot_path + ".tmp";
  auto fail = [&](const std::string& what) {
    shared_stats_->snapshot_failures.fetch_add(1, std::memory_order_relaxed);
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return IoError(what + " " + tmp + ": " + err);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("cannot create");
  size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("cannot write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("cannot sync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), options_.snapshot_path.c_str()) != 0) return fail("cannot rename");
  return Status::Ok();
}

Status MetricHistory::LoadSnapshot() {
  if (options_.snapshot_path.empty()) return Status::Ok();
  if (::access(options_.snapshot_path.c_str(), F_OK) != 0 && errno == ENOENT) return Status::Ok();
  std::ifstream in(options_.snapshot_path, std::ios::binary);
  if (!in) {
    return IoError("cannot open metric history snapshot " + options_.snapshot_path + ": " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  const std::string where = "metric history snapshot " + options_.snapshot_path;
  // The file mirrors memory, so anything far beyond the bound is not ours.
  if (size > 2 * options_.max_bytes + (1u << 20)) return Status(ErrorCode::kDataLoss, where + " is too large");
  in.seekg(0);
  std::string data(size, '\0');
  if (!in.read(data.data(), static_cast<std::streamsize>(size))) return IoError("cannot read " + where);
  const auto corrupt = [&](const std::string& why) { return Status(ErrorCode::kDataLoss, where + ": " + why); };
  if (size < sizeof kSnapshotMagic + 12 || data.compare(0, sizeof kSnapshotMagic, kSnapshotMagic, sizeof kSnapshotMagic) != 0) {
    return corrupt("not a metric history snapshot");
  }
  uint32_t stored_crc = 0;
  for (int i = 0; i < 4; ++i) stored_crc |= static_cast<uint32_t>(static_cast<uint8_t>(data[size - 4 + i])) << (8 * i);
  if (Crc32(data, size - 4) != stored_crc) return corrupt("checksum mismatch (torn or corrupted file)");

  struct Loaded {
    LabelSet labels;
    bool stale;
    std::vector<XorChunk> chunks;
  };
  std::vector<Loaded> loaded;
  ByteReader r(data, size - 4);
  uint64_t count = 0;
  if (!r.Skip(sizeof kSnapshotMagic) || !r.U64(&count)) return corrupt("truncated header");
  int64_t newest = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t nlabels = 0;
    if (!r.U32(&nlabels)) return corrupt("truncated series");
    std::vector<Label> labels(nlabels);
    for (auto& [n, v] : labels) {
      if (!r.Bytes(&n) || !r.Bytes(&v)) return corrupt("truncated labels");
    }
    Loaded l{LabelSet(std::move(labels)), false, {}};
    uint8_t stale = 0;
    uint32_t nchunks = 0;
    if (!r.U8(&stale) || !r.U32(&nchunks)) return corrupt("truncated series");
    l.stale = stale != 0;
    int64_t last = INT64_MIN;
    for (uint32_t c = 0; c < nchunks; ++c) {
      uint32_t samples = 0;
      uint64_t bits = 0;
      std::string bytes;
      if (!r.U32(&samples) || !r.U64(&bits) || !r.Bytes(&bytes)) return corrupt("truncated chunk");
      auto chunk = XorChunk::FromRaw(std::move(bytes), bits, samples);
      if (!chunk.ok()) return corrupt(chunk.status().message());
      if (chunk->min_t() <= last) return corrupt("chunks out of order");
      last = chunk->max_t();
      l.chunks.push_back(std::move(*chunk));
    }
    if (l.labels.MetricName().empty() || l.chunks.empty()) return corrupt("series without name or data");
    newest = std::max(newest, last);
    loaded.push_back(std::move(l));
  }
  if (!r.done()) return corrupt("trailing bytes");

  std::unique_lock<std::shared_mutex> lock(mu_);
  if (sampling_ > 0 || !series_.empty()) return FailedPrecondition("LoadSnapshot must be called before sampling");
  const int64_t cutoff = newest - options_.retention_ms;
  for (auto& l : loaded) {
    if (l.chunks.back().max_t() < cutoff) continue;
    Series* s = CreateSeries(l.labels);
    if (s == nullptr) {
      NoteDropped(l.labels.hash());
      continue;
    }
    for (auto& c : l.chunks) {
      if (c.max_t() < cutoff) continue;
      auto full = std::make_shared<const XorChunk>(std::move(c));
      const size_t b = full->bytes() + kChunkOverhead;
      s->bytes += b;
      bytes_ += b;
      s->full.push_back(std::move(full));
    }
    s->first_t = s->full.front()->min_t();
    s->last_t = s->full.back()->max_t();
    s->stale = l.stale;
  }
  last_sampling_t_ = newest;
  EnforceMemoryBound();
  PublishStats();
  log::Info("metric history loaded", {{"path", options_.snapshot_path}, {"series", std::to_string(series_.size())}});
  return Status::Ok();
}

}  // namespace shelfwatch::monitor
