#include "feedback/served_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/stable_hash.h"
#include "feedback/served_codec.h"
#include "feedback/served_segment.h"

namespace shelfwatch::feedback {

int32_t ServedRequestInfo::RankOf(std::string_view item_id) const {
  for (size_t i = 0; i < item_ids.size(); ++i) {
    if (item_ids[i] == item_id) return static_cast<int32_t>(i + 1);
  }
  return 0;
}

namespace {

constexpr size_t kShards = 16;
constexpr int64_t kWritePeriodMs = 100;
constexpr uint64_t kMinRingBytes = 64u << 10;

// An entry of the index ring: this header, then request_id, catalog, endpoint and variant, then
// per returned item a u16 length and its bytes; padded to 8 bytes. A pad entry (kind kPad)
// fills the end of the ring when the next entry does not fit there.
struct EntryHeader {
  uint32_t bytes;  // the whole entry
  uint16_t kind;
  uint16_t id_len;
  uint16_t catalog_len, endpoint_len, variant_len, items;
  uint64_t hash;
  int64_t time_ms;
};
static_assert(sizeof(EntryHeader) == 32);
constexpr uint16_t kEntry = 1, kPad = 2;

// The attribution facts of recent requests of one shard, oldest overwritten first: a byte ring
// (FIFO of entries) and an open-addressing table (linear probing, at most half full) from the
// request_id hash to the entry's ring offset. Insert and eviction are O(1) amortised and
// neither allocates nor frees. Guarded by the shard's mutex.
//
// Why it looks like this: the index holds ~200,000 entries (tens of MB), so every insert
// touches memory that left the cache long ago -- the slot of the new id, the oldest entry and
// the slot that points at it -- and those cache misses were most of its cost. Slots are 8
// bytes (a 32-bit hash tag and the entry's offset), so the tables stay small, and each insert
// prefetches what the next one will touch: the entries after the new tail, the slot of the
// entry due to go next, and the ring bytes after the new head.
class RecentRequests {
 public:
  // `ring` holds `ring_bytes` (a multiple of 8, at least kMinRingBytes) and outlives this.
  void Init(size_t max_entries, char* ring, uint64_t ring_bytes) {
    max_entries_ = std::max<size_t>(1, max_entries);
    ring_ = ring;
    ring_bytes_ = ring_bytes;
    size_t slots = 16;
    while (slots < 2 * max_entries_) slots <<= 1;
    slots_.assign(slots, Slot{});
    mask_ = slots - 1;
  }

  // Starts loading the slot a request with this hash will probe first.
  void PrefetchSlot(uint64_t hash) const { __builtin_prefetch(&slots_[Home(Tag(hash))], 1); }

  // The ring bytes an entry for `r` takes; 0 when it cannot be indexed (a field beyond 64 KiB
  // or an entry beyond a quarter of the ring: such a request is found on disk only).
  size_t EntryBytes(const ServedRequestView& r) const {
    constexpr size_t kMax = UINT16_MAX;
    if (r.request_id.size() > kMax || r.catalog.size() > kMax || r.endpoint.size() > kMax ||
        r.variant.size() > kMax || r.item_ids.size() > kMax) {
      return 0;
    }
    size_t n = sizeof(EntryHeader) + r.request_id.size() + r.catalog.size() + r.endpoint.size() + r.variant.size();
    for (const auto& id : r.item_ids) {
      if (id.size() > kMax) return 0;
      n += 2 + id.size();
    }
    n = (n + 7) / 8 * 8;
    return n > ring_bytes_ / 4 ? 0 : n;
  }

  // Inserts `r` (entry_bytes from EntryBytes), first evicting the oldest entries while the
  // ring or the table is full or the oldest was served before `oldest_kept_ms`. Each evicted
  // UUIDv7 request id raises *evicted_up_to_ms to its time.
  void Insert(uint64_t hash, const ServedRequestView& r, size_t entry_bytes, int64_t oldest_kept_ms,
              int64_t* evicted_up_to_ms) {
    const uint64_t room = ring_bytes_ - head_ % ring_bytes_;
    const uint64_t start = room >= entry_bytes ? head_ : head_ + room;
    for (;;) {
      SkipPads();
      if (count_ == 0) break;
      const EntryHeader oldest = HeaderAt(tail_);
      if (count_ < max_entries_ && start + entry_bytes - tail_ <= ring_bytes_ && oldest.time_ms >= oldest_kept_ms) break;
      Unlink(Tag(oldest.hash), Where(tail_));
      *evicted_up_to_ms = std::max(*evicted_up_to_ms, codec::UuidV7Millis(IdAt(tail_, oldest)));
      tail_ += oldest.bytes;
      --count_;
    }
    if (start != head_) {
      const EntryHeader pad{static_cast<uint32_t>(room), kPad, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(At(head_), &pad, 8);  // room is a multiple of 8, so at least this much
    }
    char* p = At(start);
    const EntryHeader h{static_cast<uint32_t>(entry_bytes),
                        kEntry,
                        static_cast<uint16_t>(r.request_id.size()),
                        static_cast<uint16_t>(r.catalog.size()),
                        static_cast<uint16_t>(r.endpoint.size()),
                        static_cast<uint16_t>(r.variant.size()),
                        static_cast<uint16_t>(r.item_ids.size()),
                        hash,
                        r.time_ms};
    std::memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (std::string_view s : {r.request_id, r.catalog, r.endpoint, r.variant}) {
      std::memcpy(p, s.data(), s.size());
      p += s.size();
    }
    for (const auto& id : r.item_ids) {
      const auto n = static_cast<uint16_t>(id.size());
      std::memcpy(p, &n, 2);
      std::memcpy(p + 2, id.data(), id.size());
      p += 2 + id.size();
    }
    head_ = start + entry_bytes;
    ++count_;
    const uint32_t tag = Tag(hash);
    for (size_t i = Home(tag);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.where == 0) {
        s = {tag, Where(start)};
        break;
      }
      if (s.tag == tag && Matches(s.where, hash, r.request_id)) {
        s.where = Where(start);  // the same id recorded again: the newer record wins
        break;
      }
    }
    PrefetchNext();
  }

  // Copies the entry of `request_id` into *out.
  bool Find(uint64_t hash, std::string_view request_id, std::string* out) const {
    const uint32_t tag = Tag(hash);
    for (size_t i = Home(tag); slots_[i].where != 0; i = (i + 1) & mask_) {
      if (slots_[i].tag != tag || !Matches(slots_[i].where, hash, request_id)) continue;
      const char* entry = ring_ + Offset(slots_[i].where);
      uint32_t bytes;
      std::memcpy(&bytes, entry, 4);
      out->assign(entry, bytes);
      return true;
    }
    return false;
  }

  size_t size() const { return count_; }
  uint64_t bytes_used() const { return head_ - tail_; }

 private:
  struct Slot {
    uint32_t tag = 0;    // the hash's high half
    uint32_t where = 0;  // the entry's ring offset / 8, plus 1; 0: empty
  };
  static_assert(sizeof(Slot) == 8);

  // Positions count bytes ever written; the ring holds [tail_, head_).
  char* At(uint64_t pos) const { return ring_ + pos % ring_bytes_; }
  uint32_t Where(uint64_t pos) const { return static_cast<uint32_t>(pos % ring_bytes_ / 8 + 1); }
  static uint64_t Offset(uint32_t where) { return (uint64_t{where} - 1) * 8; }
  // The shard was chosen by the hash's low bits, the slot by its high ones.
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
  size_t Home(uint32_t tag) const { return tag & mask_; }

  EntryHeader HeaderAt(uint64_t pos) const {
    EntryHeader h;
    std::memcpy(&h, At(pos), sizeof h);
    return h;
  }
  std::string_view IdAt(uint64_t pos, const EntryHeader& h) const { return {At(pos) + sizeof h, h.id_len}; }
  bool Matches(uint32_t where, uint64_t hash, std::string_view request_id) const {
    const char* entry = ring_ + Offset(where);
    EntryHeader h;
    std::memcpy(&h, entry, sizeof h);
    return h.hash == hash && std::string_view(entry + sizeof h, h.id_len) == request_id;
  }

  void SkipPads() {
    while (tail_ < head_) {
      uint32_t bytes;
      uint16_t kind;
      std::memcpy(&bytes, At(tail_), 4);
      std::memcpy(&kind, At(tail_) + 4, 2);
      if (kind != kPad) return;
      tail_ += bytes;
    }
  }

  // What the next insert will touch: the ring from the tail on (its first bytes were already
  // requested by the previous insert, so the oldest entry's hash can be read now) and the slot
  // that points at it, and the ring after the head, which it will overwrite. Once full, the
  // ring is evicted at the pace it is written: 512 bytes cover inserts of typical size.
  void PrefetchNext() const {
    if (count_ > 0) {
      for (uint64_t ahead = 0; ahead < 512; ahead += 64) __builtin_prefetch(At(tail_ + ahead));
      uint16_t kind;
      std::memcpy(&kind, At(tail_) + 4, 2);
      if (kind == kEntry) {
        uint64_t hash;
        std::memcpy(&hash, At(tail_) + 16, 8);
        PrefetchSlot(hash);
      }
    }
    for (uint64_t ahead = 0; ahead < 256; ahead += 64) __builtin_prefetch(At(head_ + ahead), 1);
  }

  // Removes the slot pointing at `where` (absent when a newer record of the id took it over)
  // by backward-shift deletion, which keeps every probe chain unbroken without tombstones
  // (Knuth, TAOCP vol. 3, 6.4, Algorithm R).
  void Unlink(uint32_t tag, uint32_t where) {
    size_t i = Home(tag);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].where == 0) return;
      if (slots_[i].where == where) break;
    }
    for (;;) {
      slots_[i] = Slot{};
      size_t j = i;
      for (;;) {
        j = (j + 1) & mask_;
        if (slots_[j].where == 0) return;
        const size_t k = Home(slots_[j].tag);
        // The entry at j stays when its home k lies cyclically in (i, j].
        const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) break;
      }
      slots_[i] = slots_[j];
      i = j;
    }
  }

  size_t max_entries_ = 1;
  uint64_t ring_bytes_ = 0;
  char* ring_ = nullptr;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint64_t head_ = 0, tail_ = 0;
  size_t count_ = 0;
};

// The memory of all shards' rings: one anonymous mapping, untouched (so costing nothing) until
// the rings reach it, and marked for transparent huge pages: filling the rings 4 KiB page by
// page took a fault per ~20 requests, each several microseconds on a virtual machine (Record
// cost ~0.9 us instead of ~0.3 us until the rings were full); with 2 MiB pages it is a fault
// per ~10,000. Falls back to the heap where mmap fails.
class RingMemory {
 public:
  explicit RingMemory(uint64_t bytes) : bytes_(bytes) {
    constexpr uint64_t kHuge = 2u << 20;
    void* p = ::mmap(nullptr, bytes_ + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      heap_.reset(new char[bytes_]);
      base_ = heap_.get();
      return;
    }
    map_ = p;
    base_ = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~uintptr_t{kHuge - 1});
    ::madvise(base_, bytes_, MADV_HUGEPAGE);  // advice: ignored where THP is off
  }
  ~RingMemory() {
    if (map_) ::munmap(map_, bytes_ + (2u << 20));
  }
  RingMemory(const RingMemory&) = delete;
  RingMemory& operator=(const RingMemory&) = delete;
  char* base() const { return base_; }

 private:
  uint64_t bytes_;
  void* map_ = nullptr;
  std::unique_ptr<char[]> heap_;
  char* base_ = nullptr;
};

std::shared_ptr<const ServedRequestInfo> InfoFromEntry(std::string_view entry) {
  EntryHeader h;
  std::memcpy(&h, entry.data(), sizeof h);
  auto info = std::make_shared<ServedRequestInfo>();
  const char* p = entry.data() + sizeof h;
  auto take = [&p](std::string* out, size_t n) {
    out->assign(p, n);
    p += n;
  };
  take(&info->request_id, h.id_len);
  take(&info->catalog, h.catalog_len);
  take(&info->endpoint, h.endpoint_len);
  take(&info->variant, h.variant_len);
  info->time_ms = h.time_ms;
  info->item_ids.resize(h.items);
  for (auto& id : info->item_ids) {
    uint16_t n;
    std::memcpy(&n, p, 2);
    p += 2;
    take(&id, n);
  }
  return info;
}

std::shared_ptr<const ServedRequestInfo> InfoFromPayload(std::string_view payload) {
  codec::ServedRecordView v;
  auto info = std::make_shared<ServedRequestInfo>();
  if (!codec::ParseServedPayload(payload, &v) || !codec::DecodeStrings(v.items, &info->item_ids)) return nullptr;
  info->request_id.assign(v.request_id);
  info->time_ms = v.time_ms;
  info->catalog.assign(v.catalog);
  info->endpoint.assign(v.endpoint);
  info->variant.assign(v.variant);
  return info;
}

struct alignas(64) IndexShard {
  std::mutex mu;
  RecentRequests recent;
  // Newest UUIDv7 time among entries this shard has evicted (or that predate this process):
  // a newer UUIDv7 that misses was never recorded.
  int64_t evicted_up_to_ms = 0;
  std::string pending;  // encoded frames for the writer
  size_t pending_records = 0;
  // Of those, how many are not yet added to Impl::pending_ (which is updated in steps, so that
  // two request threads do not bounce its cache line on every record).
  size_t unpublished = 0;
  uint64_t recorded = 0, sampled_out = 0;  // counters, summed by stats()
};

}  // namespace

class ServedRequestLog::Impl {
 public:
  explicit Impl(ServedLogOptions options)
      : options_(std::move(options)),
        ring_bytes_(std::clamp<uint64_t>(options_.index_bytes / kShards / 8 * 8, kMinRingBytes, uint64_t{8} << 32)),
        rings_(ring_bytes_ * kShards) {
    if (!options_.now_ms) options_.now_ms = [] { return UnixMillis(); };
    const size_t per_shard = (options_.index_capacity + kShards - 1) / kShards;
    for (size_t i = 0; i < kShards; ++i) shards_[i].recent.Init(per_shard, rings_.base() + i * ring_bytes_, ring_bytes_);
  }

  Status Init() {
    if (options_.path.empty()) return Status::Ok();
    segment::SegmentLogOptions so;
    so.dir = options_.path;
    so.segment_bytes = options_.segment_bytes > 0 ? options_.segment_bytes
                       : options_.max_bytes > 0   ? std::clamp<uint64_t>(options_.max_bytes / 16, 64u << 10, 64u << 20)
                                                  : 64u << 20;
    so.segment_max_age_ms = options_.max_age_ms > 0 ? std::max<int64_t>(options_.max_age_ms / 16, 1000) : 0;
    so.max_bytes = options_.max_bytes;
    so.max_age_ms = options_.max_age_ms;
    so.now_ms = options_.now_ms;
    auto log = segment::SegmentLog::Open(std::move(so));
    if (!log.ok()) return log.status();
    segments_ = std::move(log).value();
    // Requests written by earlier processes are on disk but not in the index: count them as
    // evicted.
    const int64_t earlier = std::max<int64_t>(segments_->newest_id_ms_at_open(), 0);
    for (auto& shard : shards_) shard.evicted_up_to_ms = earlier;
    writer_ = std::thread([this] { WriterLoop(); });
    return Status::Ok();
  }

  ~Impl() {
    if (writer_.joinable()) {
      {
        std::lock_guard lk(writer_mu_);
        stopping_ = true;
      }
      wake_.notify_all();
      writer_.join();
    }
  }

  bool Sampled(uint64_t hash) const {
    if (options_.sample_rate >= 1.0) return true;
    if (options_.sample_rate <= 0.0) return false;
    // The top 53 bits as a fraction in [0, 1); the shard uses the low bits.
    return static_cast<double>(hash >> 11) * 0x1p-53 < options_.sample_rate;
  }

  void Record(const ServedRequestView& in) {
    const int64_t now = options_.now_ms();
    ServedRequestView r = in;
    if (r.time_ms == 0) r.time_ms = now;
    const uint64_t hash = StableHash64(r.request_id);
    IndexShard& shard = shards_[hash % kShards];
    shard.recent.PrefetchSlot(hash);  // loads while the frame is dealt with
    const size_t entry_bytes = shard.recent.EntryBytes(r);
    const bool sampled = segments_ && Sampled(hash);

    // Everything below touches this shard's cache lines only (plus, once per publish_step_
    // records, the shared queue count).
    std::lock_guard lk(shard.mu);
    ++shard.recorded;
    if (entry_bytes > 0) {
      shard.recent.Insert(hash, r, entry_bytes, now - options_.index_max_age_ms, &shard.evicted_up_to_ms);
    } else {
      // Not indexed: a lookup must not take its absence from the index as final.
      shard.evicted_up_to_ms = std::max(shard.evicted_up_to_ms, codec::UuidV7Millis(r.request_id));
    }
    if (!segments_) return;
    if (!sampled) {
      ++shard.sampled_out;
      return;
    }
    // A place in the queue; an empty queue takes any record. The count is exact to within
    // publish_step_ records per shard (plus one per thread recording at the same moment).
    const size_t queued = pending_.load(std::memory_order_relaxed) + shard.unpublished;
    if (queued != 0 && queued >= options_.max_queue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    codec::AppendServedFrame(r, &shard.pending);
    ++shard.pending_records;
    if (++shard.unpublished >= publish_step_) {
      const size_t before = pending_.fetch_add(shard.unpublished, std::memory_order_relaxed);
      shard.unpublished = 0;
      if (before < options_.max_queue / 2 && before + publish_step_ >= options_.max_queue / 2) {
        // Half full before the writer's next turn: wake it now (a lost wakeup costs at most
        // one write period).
        urged_.store(true, std::memory_order_relaxed);
        wake_.notify_one();
      }
    }
  }

  std::shared_ptr<const ServedRequestInfo> Lookup(std::string_view request_id) const {
    const uint64_t hash = StableHash64(request_id);
    IndexShard& shard = shards_[hash % kShards];
    thread_local std::string entry;
    int64_t evicted_up_to;
    bool hit;
    {
      std::lock_guard lk(shard.mu);
      hit = shard.recent.Find(hash, request_id, &entry);
      evicted_up_to = shard.evicted_up_to_ms;
    }
    if (hit) {
      index_hits_.fetch_add(1, std::memory_order_relaxed);
      return InfoFromEntry(entry);
    }
    if (!segments_ || !Sampled(hash)) return Miss();
    if (codec::UuidV7Millis(request_id) > evicted_up_to) return Miss();
    file_lookups_.fetch_add(1, std::memory_order_relaxed);
    std::string payload;
    if (!segments_->Find(request_id, hash, &payload)) return Miss();
    auto info = InfoFromPayload(payload);
    if (!info) return Miss();
    file_hits_.fetch_add(1, std::memory_order_relaxed);
    return info;
  }

  void Flush() {
    if (!segments_) return;
    std::unique_lock lk(writer_mu_);
    const uint64_t ticket = ++flush_requested_;
    wake_.notify_all();
    done_.wait(lk, [&] { return flush_done_ >= ticket || exited_; });
  }

  Result<uint64_t> EnforceRetention() {
    if (!segments_) return uint64_t{0};
    std::unique_lock lk(writer_mu_);
    if (stopping_) return Unavailable("the served-log writer is closing");
    const uint64_t ticket = ++retain_requested_;
    wake_.notify_all();
    done_.wait(lk, [&] { return retain_done_ >= ticket || exited_; });
    if (retain_done_ < ticket) return Unavailable("the served-log writer closed");
    return retain_result_;
  }

  Stats stats() const {
    Stats s;
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.written = written_.load(std::memory_order_relaxed);
    s.write_failures = write_failures_.load(std::memory_order_relaxed);
    s.retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
    s.index_hits = index_hits_.load(std::memory_order_relaxed);
    s.file_lookups = file_lookups_.load(std::memory_order_relaxed);
    s.file_hits = file_hits_.load(std::memory_order_relaxed);
    s.misses = misses_.load(std::memory_order_relaxed);
    for (auto& shard : shards_) {
      std::lock_guard lk(shard.mu);
      s.recorded += shard.recorded;
      s.sampled_out += shard.sampled_out;
      s.index_size += shard.recent.size();
      s.index_bytes += shard.recent.bytes_used();
    }
    if (segments_) {
      s.disk_bytes = segments_->disk_bytes();
      s.segments = segments_->segments();
    }
    return s;
  }

  const std::string& path() const { return options_.path; }

 private:
  std::shared_ptr<const ServedRequestInfo> Miss() const {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }

  // The writer: every kWritePeriodMs (or sooner when urged, flushed or stopping) takes every
  // shard's pending buffer and appends them in one go; size retention after each batch, age
  // retention at start and every retention_interval_ms.
  void WriterLoop() {
    std::array<std::string, kShards> buffers;
    const bool periodic = options_.max_age_ms > 0;
    auto next_retention = SteadyClock::now();
    uint64_t retain_started = 0;
    for (;;) {
      uint64_t flush_ticket, retain_ticket;
      bool stopping;
      {
        std::unique_lock lk(writer_mu_);
        wake_.wait_for(lk, std::chrono::milliseconds(kWritePeriodMs), [&] {
          return stopping_ || flush_requested_ > flush_done_ || retain_requested_ > retain_done_ ||
                 urged_.load(std::memory_order_relaxed);
        });
        urged_.store(false, std::memory_order_relaxed);
        flush_ticket = flush_requested_;
        retain_ticket = retain_requested_;
        stopping = stopping_;
      }
      size_t taken = 0, published = 0;
      for (size_t i = 0; i < kShards; ++i) {
        std::lock_guard lk(shards_[i].mu);
        buffers[i].swap(shards_[i].pending);
        taken += shards_[i].pending_records;
        published += shards_[i].pending_records - shards_[i].unpublished;
        shards_[i].pending_records = 0;
        shards_[i].unpublished = 0;
      }
      if (published > 0) pending_.fetch_sub(published, std::memory_order_relaxed);
      if (taken > 0) {
        if (options_.before_write) options_.before_write();
        uint64_t failed = 0;
        written_.fetch_add(segments_->Append(buffers, &failed), std::memory_order_relaxed);
        write_failures_.fetch_add(failed, std::memory_order_relaxed);
        for (auto& b : buffers) b.clear();  // keeps the capacity: the next swap gives it back
      }
      uint64_t deleted = segments_->RetainSize();
      const bool retain = retain_ticket > retain_started || (periodic && SteadyClock::now() >= next_retention);
      if (retain) {
        retain_started = retain_ticket;
        deleted += segments_->RetainAge();
        if (periodic) next_retention = SteadyClock::now() + std::chrono::milliseconds(options_.retention_interval_ms);
      }
      retention_deleted_.fetch_add(deleted, std::memory_order_relaxed);
      {
        std::lock_guard lk(writer_mu_);
        flush_done_ = flush_ticket;
        if (retain) {
          retain_done_ = retain_ticket;
          retain_result_ = deleted;
        }
        if (stopping) exited_ = true;
      }
      done_.notify_all();
      if (stopping) break;
    }
    segments_->Close();
  }

  ServedLogOptions options_;
  const uint64_t ring_bytes_;  // per shard
  RingMemory rings_;
  mutable std::array<IndexShard, kShards> shards_;
  std::unique_ptr<segment::SegmentLog> segments_;  // null when the log has no directory

  std::atomic<size_t> pending_{0};  // records queued in the shards' buffers
  // Records a shard queues before adding them to pending_: 1 (exact) for small queues, up to
  // 64 for large ones (the bound then holds to within 16 x 64 records).
  const size_t publish_step_ = std::clamp<size_t>(options_.max_queue / (kShards * 4), 1, 64);
  std::atomic<uint64_t> dropped_{0}, written_{0}, write_failures_{0},
      retention_deleted_{0};
  mutable std::atomic<uint64_t> index_hits_{0}, file_lookups_{0}, file_hits_{0}, misses_{0};

  std::mutex writer_mu_;
  std::condition_variable wake_;  // the writer waits here
  std::condition_variable done_;  // Flush and EnforceRetention wait here
  std::atomic<bool> urged_{false};
  bool stopping_ = false, exited_ = false;
  uint64_t flush_requested_ = 0, flush_done_ = 0;
  uint64_t retain_requested_ = 0, retain_done_ = 0, retain_result_ = 0;
  std::thread writer_;
};

Result<std::unique_ptr<ServedRequestLog>> ServedRequestLog::Open(ServedLogOptions options) {
  if (!(options.sample_rate >= 0.0 && options.sample_rate <= 1.0)) {
    return InvalidArgument("served-log sample_rate must be between 0 and 1");
  }
  if (options.max_queue == 0) return InvalidArgument("served-log max_queue must be at least 1");
  // A record evicted from the index before the writer stored it would be unfindable for a while.
  options.index_capacity = std::max(options.index_capacity, options.max_queue);
  if (options.retention_interval_ms <= 0) options.retention_interval_ms = 60 * 1000;
  auto impl = std::make_unique<Impl>(std::move(options));
  SW_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<ServedRequestLog>(new ServedRequestLog(std::move(impl)));
}

ServedRequestLog::ServedRequestLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServedRequestLog::~ServedRequestLog() = default;

void ServedRequestLog::Record(const ServedRequestView& request) { impl_->Record(request); }
void ServedRequestLog::Record(ServedRequest&& r) {
  impl_->Record({.request_id = r.request_id,
                 .time_ms = r.time_ms,
                 .catalog = r.catalog,
                 .endpoint = r.endpoint,
                 .query = r.query,
                 .variant = r.variant,
                 .model_versions = r.model_versions,
                 .item_ids = r.item_ids,
                 .scores = r.scores,
                 .features = r.features,
                 .total_hits = r.total_hits});
}
std::shared_ptr<const ServedRequestInfo> ServedRequestLog::Lookup(std::string_view request_id) const {
  return impl_->Lookup(request_id);
}
bool ServedRequestLog::Sampled(std::string_view request_id) const {
  return impl_->Sampled(StableHash64(request_id));
}
void ServedRequestLog::Flush() { impl_->Flush(); }
Result<uint64_t> ServedRequestLog::EnforceRetention() { return impl_->EnforceRetention(); }
ServedRequestLog::Stats ServedRequestLog::stats() const { return impl_->stats(); }
const std::string& ServedRequestLog::path() const { return impl_->path(); }

}  // namespace shelfwatch::feedback
