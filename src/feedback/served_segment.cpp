#include "feedback/served_segment.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/log.h"
#include "common/stable_hash.h"
#include "feedback/served_codec.h"

namespace shelfwatch::feedback::segment {

static_assert(sizeof(IndexEntry) == 16, "IndexEntry is stored as is in .idx files");

namespace {

constexpr std::string_view kSegMagic = "SWSERVED";
constexpr std::string_view kIdxMagic = "SWSIDX01";
constexpr uint32_t kVersion = 1;
constexpr size_t kSegHeaderBytes = 16;
constexpr size_t kIdxHeaderBytes = 80;

std::string PathOf(const std::string& dir, uint64_t seq, std::string_view ext) {
  char name[32];
  std::snprintf(name, sizeof name, "%012llu", static_cast<unsigned long long>(seq));
  std::string path = dir;
  path += '/';
  path += name;
  path += ext;
  return path;
}

std::string ErrnoText() { return std::generic_category().message(errno); }

void Put32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void Put64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t Get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// writev until every byte of `iov` is written; consumes `iov`.
bool WritevAll(int fd, std::vector<iovec>& iov) {
  size_t i = 0;
  while (i < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    ssize_t w = ::writev(fd, &iov[i], count);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    while (w > 0 && i < iov.size()) {
      const size_t take = std::min(static_cast<size_t>(w), iov[i].iov_len);
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + take;
      iov[i].iov_len -= take;
      w -= static_cast<ssize_t>(take);
      if (iov[i].iov_len == 0) ++i;
    }
  }
  return true;
}

bool PreadAll(int fd, char* p, size_t n, uint64_t offset) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

Result<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return NotFound(path + " does not exist");
  if (fd < 0) return IoError("cannot open " + path + ": " + ErrnoText());
  struct stat st;
  std::string bytes;
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    bytes.resize(static_cast<size_t>(st.st_size));
    // A live writer may append meanwhile: read what the file held at fstat, or less.
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t r = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        ok = false;
        break;
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    bytes.resize(got);
  }
  const std::string error = ok ? "" : ErrnoText();
  ::close(fd);
  if (!ok) return IoError("cannot read " + path + ": " + error);
  return bytes;
}

std::string EncodeIdx(const Summary& s, std::span<const IndexEntry> entries) {
  std::string out(kIdxHeaderBytes + entries.size() * sizeof(IndexEntry), '\0');
  char* p = out.data();
  std::memcpy(p, kIdxMagic.data(), 8);
  Put32(p + 8, kVersion);
  Put64(p + 16, s.bytes);
  Put64(p + 24, s.records);
  Put64(p + 32, static_cast<uint64_t>(s.min_time_ms));
  Put64(p + 40, static_cast<uint64_t>(s.max_time_ms));
  Put64(p + 48, static_cast<uint64_t>(s.min_id_ms));
  Put64(p + 56, static_cast<uint64_t>(s.max_id_ms));
  Put32(p + 64, s.other_ids ? 1 : 0);
  Put32(p + 68, sizeof(IndexEntry));
  if (!entries.empty()) std::memcpy(p + kIdxHeaderBytes, entries.data(), entries.size() * sizeof(IndexEntry));
  Put32(p + 12, codec::Crc32c(std::string_view(out).substr(16)));
  return out;
}

bool DecodeIdx(std::string_view bytes, Summary* s) {
  if (bytes.size() < kIdxHeaderBytes || bytes.substr(0, 8) != kIdxMagic) return false;
  const char* p = bytes.data();
  if (Get32(p + 8) != kVersion || Get32(p + 68) != sizeof(IndexEntry)) return false;
  if ((bytes.size() - kIdxHeaderBytes) % sizeof(IndexEntry) != 0) return false;
  if (codec::Crc32c(bytes.substr(16)) != Get32(p + 12)) return false;
  s->bytes = Get64(p + 16);
  s->records = Get64(p + 24);
  s->min_time_ms = static_cast<int64_t>(Get64(p + 32));
  s->max_time_ms = static_cast<int64_t>(Get64(p + 40));
  s->min_id_ms = static_cast<int64_t>(Get64(p + 48));
  s->max_id_ms = static_cast<int64_t>(Get64(p + 56));
  s->other_ids = Get32(p + 64) != 0;
  return s->records == (bytes.size() - kIdxHeaderBytes) / sizeof(IndexEntry);
}

// The .idx is rebuilt from the .seg when lost, so it is written without fsync; the CRC tells a
// file that a crash left half-written.
bool WriteIdx(const std::string& dir, uint64_t seq, const Summary& s, std::span<const IndexEntry> entries) {
  const std::string path = PathOf(dir, seq, ".idx");
  const std::string tmp = path + ".tmp";
  const std::string bytes = EncodeIdx(s, entries);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = WriteAll(fd, bytes.data(), bytes.size());
  ok = ::close(fd) == 0 && ok;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    log::Warn("cannot write served-log segment index", {{"path", path}, {"error", ErrnoText()}});
    ::unlink(tmp.c_str());
  }
  return ok;
}

}  // namespace

void Summary::Add(int64_t time_ms, int64_t id_ms) {
  ++records;
  min_time_ms = std::min(min_time_ms, time_ms);
  max_time_ms = std::max(max_time_ms, time_ms);
  if (id_ms < 0) {
    other_ids = true;
  } else {
    min_id_ms = std::min(min_id_ms, id_ms);
    max_id_ms = std::max(max_id_ms, id_ms);
  }
}

// One segment as lookups read it: a read-only descriptor of the .seg and, once sealed, its
// sorted entries (the mapped .idx, or a copy in memory when the .idx could not be written).
// Immutable once published.
class Segment {
 public:
  Segment(uint64_t seq, int fd) : seq_(seq), fd_(fd) {}
  ~Segment() {
    if (map_) ::munmap(map_, map_bytes_);
    if (fd_ >= 0) ::close(fd_);
  }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // A sealed segment from its .idx; null when the .idx is missing, damaged or does not match.
  static std::shared_ptr<Segment> FromIndex(const std::string& dir, uint64_t seq) {
    const std::string idx_path = PathOf(dir, seq, ".idx");
    const int idx_fd = ::open(idx_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (idx_fd < 0) return nullptr;
    struct stat st;
    void* map = MAP_FAILED;
    if (::fstat(idx_fd, &st) == 0 && st.st_size >= static_cast<off_t>(kIdxHeaderBytes)) {
      map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, idx_fd, 0);
    }
    ::close(idx_fd);
    if (map == MAP_FAILED) return nullptr;
    const int fd = ::open(PathOf(dir, seq, ".seg").c_str(), O_RDONLY | O_CLOEXEC);
    auto seg = std::make_shared<Segment>(seq, fd);
    seg->map_ = map;
    seg->map_bytes_ = static_cast<size_t>(st.st_size);
    struct stat seg_st;
    if (fd < 0 || ::fstat(fd, &seg_st) != 0 ||
        !DecodeIdx(std::string_view(static_cast<const char*>(map), seg->map_bytes_), &seg->summary_) ||
        static_cast<uint64_t>(seg_st.st_size) < seg->summary_.bytes) {
      return nullptr;
    }
    seg->entries_ = static_cast<const char*>(map) + kIdxHeaderBytes;
    seg->count_ = seg->summary_.records;
    seg->idx_bytes_ = seg->map_bytes_;
    return seg;
  }

  // A sealed segment whose entries stay in memory (sorted by the caller).
  static std::shared_ptr<Segment> InMemory(const std::string& dir, uint64_t seq, const Summary& summary,
                                           std::vector<IndexEntry> entries) {
    auto seg = std::make_shared<Segment>(seq, ::open(PathOf(dir, seq, ".seg").c_str(), O_RDONLY | O_CLOEXEC));
    seg->summary_ = summary;
    seg->owned_ = std::move(entries);
    seg->entries_ = reinterpret_cast<const char*>(seg->owned_.data());
    seg->count_ = seg->owned_.size();
    return seg;
  }

  uint64_t seq() const { return seq_; }
  int fd() const { return fd_; }
  const Summary& summary() const { return summary_; }
  uint64_t disk_bytes() const { return summary_.bytes + idx_bytes_; }

  // The newest record of request_id in this sealed segment.
  bool Find(std::string_view request_id, uint64_t hash, std::string* payload) const {
    size_t lo = 0, hi = count_;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Entry(mid).hash < hash) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    size_t end = lo;
    while (end < count_ && Entry(end).hash == hash) ++end;
    // Entries of one hash are sorted by offset: the newest record last.
    for (size_t i = end; i > lo; --i) {
      if (ReadRecord(fd_, Entry(i - 1), request_id, payload)) return true;
    }
    return false;
  }

  // Reads and checks the record an entry points at.
  static bool ReadRecord(int fd, const IndexEntry& e, std::string_view request_id, std::string* payload) {
    if (fd < 0 || e.bytes < codec::kFrameHeaderBytes) return false;
    std::string frame(e.bytes, '\0');
    if (!PreadAll(fd, frame.data(), frame.size(), e.offset)) return false;
    std::string_view p;
    size_t n = 0;
    if (!codec::ReadFrame(frame, &p, &n) || n != e.bytes || codec::PayloadRequestId(p) != request_id) return false;
    payload->assign(p);
    return true;
  }

 private:
  IndexEntry Entry(size_t i) const {
    IndexEntry e;
    std::memcpy(&e, entries_ + i * sizeof(IndexEntry), sizeof(IndexEntry));
    return e;
  }

  uint64_t seq_;
  int fd_;
  Summary summary_;
  const char* entries_ = nullptr;
  size_t count_ = 0;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  uint64_t idx_bytes_ = 0;
  std::vector<IndexEntry> owned_;
};

namespace {

// Rebuilds the .idx of a segment a process left open: scans its frames, cuts a torn tail.
// Null when the segment holds nothing (it is deleted) or is not a segment (it is left alone).
std::shared_ptr<Segment> Reseal(const std::string& dir, uint64_t seq) {
  const std::string path = PathOf(dir, seq, ".seg");
  auto bytes = ReadFile(path);
  if (!bytes.ok()) {
    log::Warn("served-log segment not readable; skipped", {{"path", path}, {"error", bytes.status().message()}});
    return nullptr;
  }
  if (bytes->size() >= 8 && std::string_view(*bytes).substr(0, 8) != kSegMagic) {
    log::Warn("not a served-log segment; left alone", {{"path", path}});
    return nullptr;
  }
  Summary summary;
  std::vector<IndexEntry> entries;
  const size_t intact = ForEachFrame(*bytes, [&](size_t offset, std::string_view payload) {
    const std::string_view id = codec::PayloadRequestId(payload);
    int64_t time_ms;
    std::memcpy(&time_ms, payload.data(), 8);
    entries.push_back({StableHash64(id), static_cast<uint32_t>(offset),
                       static_cast<uint32_t>(codec::kFrameHeaderBytes + payload.size())});
    summary.Add(time_ms, codec::UuidV7Millis(id));
    return true;
  });
  summary.bytes = std::max(intact, kSegHeaderBytes);
  if (summary.records == 0) {
    ::unlink(path.c_str());
    ::unlink(PathOf(dir, seq, ".idx").c_str());
    return nullptr;
  }
  if (intact < bytes->size()) {
    log::Warn("served-log segment had a torn or damaged tail; cut",
              {{"path", path}, {"kept_bytes", std::to_string(intact)}, {"cut_bytes", std::to_string(bytes->size() - intact)}});
    if (::truncate(path.c_str(), static_cast<off_t>(intact)) != 0) {
      log::Warn("cannot cut served-log segment", {{"path", path}, {"error", ErrnoText()}});
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.hash != b.hash ? a.hash < b.hash : a.offset < b.offset; });
  if (WriteIdx(dir, seq, summary, entries)) {
    if (auto seg = Segment::FromIndex(dir, seq)) return seg;
  }
  return Segment::InMemory(dir, seq, summary, std::move(entries));
}

}  // namespace

SegmentLog::SegmentLog(SegmentLogOptions options) : options_(std::move(options)) {}

SegmentLog::~SegmentLog() { Close(); }

Result<std::unique_ptr<SegmentLog>> SegmentLog::Open(SegmentLogOptions options) {
  // Frame offsets are stored as u32.
  options.segment_bytes = std::clamp<uint64_t>(options.segment_bytes, 4096, 1ull << 30);
  std::unique_ptr<SegmentLog> log(new SegmentLog(std::move(options)));
  SW_RETURN_IF_ERROR(log->Load());
  return log;
}

Status SegmentLog::Load() {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) return IoError("cannot create served-log directory " + options_.dir + ": " + ec.message());
  auto seqs = ListSegments(options_.dir);
  if (!seqs.ok()) return seqs.status();
  for (uint64_t seq : *seqs) {
    std::shared_ptr<Segment> seg = Segment::FromIndex(options_.dir, seq);
    if (!seg) seg = Reseal(options_.dir, seq);
    if (!seg) continue;
    newest_id_ms_at_open_ = std::max(newest_id_ms_at_open_, seg->summary().max_id_ms);
    sealed_bytes_ += seg->disk_bytes();
    sealed_.push_back(std::move(seg));
  }
  if (!seqs->empty()) next_seq_ = seqs->back() + 1;
  return Status::Ok();
}

bool SegmentLog::OpenActive(int64_t now) {
  const uint64_t seq = next_seq_++;
  const std::string path = PathOf(options_.dir, seq, ".seg");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    log::Error("cannot create served-log segment", {{"path", path}, {"error", ErrnoText()}});
    return false;
  }
  char header[kSegHeaderBytes] = {};
  std::memcpy(header, kSegMagic.data(), 8);
  Put32(header + 8, kVersion);
  const int read_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (!WriteAll(fd, header, sizeof header) || read_fd < 0) {
    log::Error("cannot write served-log segment", {{"path", path}, {"error", ErrnoText()}});
    if (read_fd >= 0) ::close(read_fd);
    ::close(fd);
    ::unlink(path.c_str());
    return false;
  }
  Summary fresh;
  fresh.bytes = kSegHeaderBytes;
  {
    std::lock_guard lk(mu_);
    active_ = std::make_shared<Segment>(seq, read_fd);
    active_summary_ = fresh;
    active_entries_.clear();
    active_table_.clear();
  }
  run_summary_ = fresh;
  write_fd_ = fd;
  active_opened_ms_ = now;
  return true;
}

uint64_t SegmentLog::Append(std::span<std::string> buffers, uint64_t* failed) {
  uint64_t written = 0;
  const int64_t now = options_.now_ms();
  for (size_t b = 0; b < buffers.size(); ++b) {
    std::string& buf = buffers[b];
    for (size_t off = 0; off < buf.size();) {
      char* frame = buf.data() + off;
      const size_t frame_bytes = codec::kFrameHeaderBytes + Get32(frame);
      if (write_fd_ >= 0 && run_summary_.records > 0 &&
          (run_summary_.bytes + frame_bytes > options_.segment_bytes ||
           (options_.segment_max_age_ms > 0 && now - active_opened_ms_ >= options_.segment_max_age_ms))) {
        FlushRun(&written, failed);
        Seal();
      }
      if (write_fd_ < 0 && !OpenActive(now)) {
        // Nowhere to write: this and every later frame fail.
        for (size_t rest = b; rest < buffers.size(); ++rest) {
          for (size_t o = rest == b ? off : 0; o < buffers[rest].size();) {
            o += codec::kFrameHeaderBytes + Get32(buffers[rest].data() + o);
            ++*failed;
          }
        }
        return written;
      }
      codec::SealFrame(frame);
      const std::string_view payload(frame + codec::kFrameHeaderBytes, frame_bytes - codec::kFrameHeaderBytes);
      const std::string_view id = codec::PayloadRequestId(payload);
      run_entries_.push_back({StableHash64(id), static_cast<uint32_t>(run_summary_.bytes),
                              static_cast<uint32_t>(frame_bytes)});
      run_summary_.Add(static_cast<int64_t>(Get64(payload.data())), codec::UuidV7Millis(id));
      run_summary_.bytes += frame_bytes;
      if (!run_.empty() && static_cast<char*>(run_.back().iov_base) + run_.back().iov_len == frame) {
        run_.back().iov_len += frame_bytes;
      } else {
        run_.push_back({frame, frame_bytes});
      }
      off += frame_bytes;
    }
  }
  FlushRun(&written, failed);
  return written;
}

void SegmentLog::FlushRun(uint64_t* written, uint64_t* failed) {
  const size_t n = run_entries_.size();
  (WriteRun() ? *written : *failed) += n;
  run_entries_.clear();
}

// Writes the run with one writev and publishes its entries; on failure cuts the file back to
// its last whole record, so that later appends follow intact frames.
bool SegmentLog::WriteRun() {
  if (run_.empty()) return true;
  const bool ok = WritevAll(write_fd_, run_);
  run_.clear();
  if (ok) {
    std::lock_guard lk(mu_);
    const size_t from = active_entries_.size();
    active_entries_.insert(active_entries_.end(), run_entries_.begin(), run_entries_.end());
    IndexActive(from);
    active_summary_ = run_summary_;
    return true;
  }
  log::Error("served-log write failed", {{"dir", options_.dir},
                                         {"records", std::to_string(run_entries_.size())},
                                         {"error", ErrnoText()}});
  if (::ftruncate(write_fd_, static_cast<off_t>(active_summary_.bytes)) != 0) {
    // The file now ends in a torn frame: seal it here so that nothing follows it.
    log::Error("cannot cut served-log segment after a failed write", {{"error", ErrnoText()}});
    run_summary_ = active_summary_;
    run_entries_.clear();
    Seal();
    return false;
  }
  run_summary_ = active_summary_;
  return false;
}

void SegmentLog::IndexActive(size_t from) {
  auto place = [this](size_t i) {
    const size_t mask = active_table_.size() - 1;
    size_t slot = static_cast<size_t>(active_entries_[i].hash >> 32) & mask;
    while (active_table_[slot] != 0) slot = (slot + 1) & mask;
    active_table_[slot] = static_cast<uint32_t>(i + 1);
  };
  if (active_table_.size() < 2 * active_entries_.size()) {
    size_t slots = std::max<size_t>(1024, active_table_.size());
    while (slots < 2 * active_entries_.size()) slots *= 2;
    active_table_.assign(slots, 0);
    from = 0;  // rehash everything into the larger table
  }
  for (size_t i = from; i < active_entries_.size(); ++i) place(i);
}

void SegmentLog::Seal() {
  if (write_fd_ < 0) return;
  // Sealed segments are what survives a power cut intact; one fdatasync per segment.
  ::fdatasync(write_fd_);
  ::close(write_fd_);
  write_fd_ = -1;
  // Only this thread changes the open segment's state: reading it without the lock is safe.
  const uint64_t seq = active_->seq();
  const Summary summary = active_summary_;
  std::shared_ptr<Segment> sealed;
  if (summary.records == 0) {
    ::unlink(PathOf(options_.dir, seq, ".seg").c_str());
  } else {
    std::vector<IndexEntry> entries = active_entries_;
    std::sort(entries.begin(), entries.end(), [](const IndexEntry& a, const IndexEntry& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.offset < b.offset;
    });
    if (WriteIdx(options_.dir, seq, summary, entries)) sealed = Segment::FromIndex(options_.dir, seq);
    if (!sealed) sealed = Segment::InMemory(options_.dir, seq, summary, std::move(entries));
  }
  std::lock_guard lk(mu_);
  if (sealed) {
    sealed_bytes_ += sealed->disk_bytes();
    sealed_.push_back(std::move(sealed));
  }
  active_.reset();
  active_entries_.clear();
  active_table_.clear();
  active_summary_ = Summary();
}

void SegmentLog::Close() {
  uint64_t written = 0, failed = 0;
  FlushRun(&written, &failed);
  Seal();
}

uint64_t SegmentLog::Remove(std::vector<std::shared_ptr<Segment>> doomed) {
  uint64_t records = 0;
  for (const auto& seg : doomed) {
    records += seg->summary().records;
    ::unlink(PathOf(options_.dir, seg->seq(), ".seg").c_str());
    ::unlink(PathOf(options_.dir, seg->seq(), ".idx").c_str());
  }
  return records;  // lookups holding a segment keep reading it until they let go
}

uint64_t SegmentLog::RetainAge() {
  if (options_.max_age_ms <= 0) return 0;
  const int64_t cutoff = options_.now_ms() - options_.max_age_ms;
  if (write_fd_ >= 0 && active_summary_.records > 0 && active_summary_.max_time_ms < cutoff) Seal();
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard lk(mu_);
    auto keep = std::stable_partition(sealed_.begin(), sealed_.end(),
                                      [&](const auto& seg) { return seg->summary().max_time_ms >= cutoff; });
    for (auto it = keep; it != sealed_.end(); ++it) {
      sealed_bytes_ -= (*it)->disk_bytes();
      doomed.push_back(std::move(*it));
    }
    sealed_.erase(keep, sealed_.end());
  }
  return Remove(std::move(doomed));
}

uint64_t SegmentLog::RetainSize() {
  if (options_.max_bytes == 0) return 0;
  std::vector<std::shared_ptr<Segment>> doomed;
  for (;;) {
    std::unique_lock lk(mu_);
    if (sealed_bytes_ + (active_ ? active_summary_.bytes : 0) <= options_.max_bytes) break;
    if (sealed_.empty()) {
      lk.unlock();
      // One batch beyond the whole bound: the open segment goes too, so the bound holds.
      if (write_fd_ < 0 || active_summary_.records == 0) break;
      Seal();
      continue;
    }
    sealed_bytes_ -= sealed_.front()->disk_bytes();
    doomed.push_back(std::move(sealed_.front()));
    sealed_.erase(sealed_.begin());
  }
  return Remove(std::move(doomed));
}

bool SegmentLog::Find(std::string_view request_id, uint64_t hash, std::string* payload) const {
  const int64_t id_ms = codec::UuidV7Millis(request_id);
  std::vector<IndexEntry> active_hits;
  std::shared_ptr<Segment> active;
  std::vector<std::shared_ptr<Segment>> candidates;
  {
    std::lock_guard lk(mu_);
    if (active_ && active_summary_.MayHold(id_ms)) {
      if (!active_table_.empty()) {
        const size_t mask = active_table_.size() - 1;
        for (size_t slot = static_cast<size_t>(hash >> 32) & mask; active_table_[slot] != 0; slot = (slot + 1) & mask) {
          const IndexEntry& e = active_entries_[active_table_[slot] - 1];
          if (e.hash == hash) active_hits.push_back(e);
        }
      }
      // Probe order is not append order: the newest record of an id is the one at the end.
      std::sort(active_hits.begin(), active_hits.end(),
                [](const IndexEntry& a, const IndexEntry& b) { return a.offset < b.offset; });
      if (!active_hits.empty()) active = active_;
    }
    for (auto it = sealed_.rbegin(); it != sealed_.rend(); ++it) {
      if ((*it)->summary().MayHold(id_ms)) candidates.push_back(*it);
    }
  }
  for (auto it = active_hits.rbegin(); it != active_hits.rend(); ++it) {
    if (Segment::ReadRecord(active->fd(), *it, request_id, payload)) return true;
  }
  for (const auto& seg : candidates) {
    if (seg->Find(request_id, hash, payload)) return true;
  }
  return false;
}

uint64_t SegmentLog::disk_bytes() const {
  std::lock_guard lk(mu_);
  return sealed_bytes_ + (active_ ? active_summary_.bytes : 0);
}

uint64_t SegmentLog::segments() const {
  std::lock_guard lk(mu_);
  return sealed_.size() + (active_ ? 1 : 0);
}

Result<std::vector<uint64_t>> ListSegments(const std::string& dir) {
  std::vector<uint64_t> seqs;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return IoError("cannot list served-log directory " + dir + ": " + ec.message());
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 16 || name.compare(12, 4, ".seg") != 0) continue;
    if (!std::all_of(name.begin(), name.begin() + 12, [](char c) { return c >= '0' && c <= '9'; })) continue;
    seqs.push_back(std::stoull(name.substr(0, 12)));
  }
  if (ec) return IoError("cannot list served-log directory " + dir + ": " + ec.message());
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

Result<std::string> ReadSegment(const std::string& dir, uint64_t seq) {
  const std::string path = PathOf(dir, seq, ".seg");
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() >= 8 && std::string_view(*bytes).substr(0, 8) != kSegMagic) {
    return Status(ErrorCode::kDataLoss, path + " is not a served-log segment");
  }
  return bytes;
}

size_t ForEachFrame(std::string_view segment, const std::function<bool(size_t, std::string_view)>& fn) {
  size_t off = kSegHeaderBytes;
  if (segment.size() < off) return 0;
  while (off < segment.size()) {
    std::string_view payload;
    size_t frame_bytes = 0;
    if (!codec::ReadFrame(segment.substr(off), &payload, &frame_bytes) || payload.size() < 16) break;
    if (!fn(off, payload)) break;
    off += frame_bytes;
  }
  return off;
}

}  // namespace shelfwatch::feedback::segment
