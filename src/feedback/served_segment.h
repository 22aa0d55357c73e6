// Served-log segments: the files of the served-request log (served_log.h), internal to the
// feedback module.
//
// A log is a directory of segments, numbered in the order they were opened:
//   <seq>.seg  "SWSERVED", u32 version, u32 zero; then record frames (served_codec.h) appended
//              by one writer. Readers stop at the first torn or damaged frame, and the writer
//              cuts such a tail when it opens the directory after a crash.
//   <seq>.idx  written when a segment is sealed (rotated, closed, or found unsealed at open):
//              "SWSIDX01", u32 version, u32 CRC-32C of everything after it, the segment's
//              summary, then one 16-byte entry per record (u64 request_id hash, u32 frame
//              offset, u32 frame bytes) sorted by hash -- a lookup is a binary search of the
//              memory-mapped entries and one pread. Rebuilt from the .seg when damaged.
// The newest segment takes the appends; its entries stay in memory (with a hash table over
// them) until it is sealed. Why not
// SQLite rows (the first version): every row paid a B-tree insert into two indexes and page
// rewrites on a background thread that competed with searches for the CPU; an append costs a
// memcpy into the next write() and its index entry is written once, sorted, at rotation.
//
// Thread-safety: Append, RetainAge, RetainSize and Close are for one thread (the log's
// writer); Find and the accessors are safe from any thread concurrently with it (a segment being
// deleted stays readable by the lookups that hold it). The reading functions at the bottom may
// run beside a live writer: they see what was written when they read each file.
// Cost: Append O(bytes) plus one writev per call (per segment it touches); sealing sorts the
// segment's entries (16 B per record) and writes them once; Find is O(1) in the open segment
// and O(log records) per candidate sealed one (segments whose request-id time range holds the
// id), plus one pread per candidate record. Memory: ~24 B per record of the open segment.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::feedback::segment {

struct IndexEntry {
  uint64_t hash = 0;    // StableHash64(request_id) (common/stable_hash.h)
  uint32_t offset = 0;  // of the frame in the .seg
  uint32_t bytes = 0;   // of the frame, header included
};

// What a segment holds, kept in its .idx and in memory.
struct Summary {
  uint64_t bytes = 0;    // of the .seg in use: header and whole frames
  uint64_t records = 0;
  int64_t min_time_ms = INT64_MAX, max_time_ms = INT64_MIN;
  int64_t min_id_ms = INT64_MAX, max_id_ms = -1;  // over the request ids that are UUIDv7s
  bool other_ids = false;                         // holds request ids that are not UUIDv7s

  void Add(int64_t time_ms, int64_t id_ms);
  // Whether a request id with this UUIDv7 time (-1: not a UUIDv7) may be in the segment.
  bool MayHold(int64_t id_ms) const { return id_ms < 0 ? other_ids : id_ms >= min_id_ms && id_ms <= max_id_ms; }
};

struct SegmentLogOptions {
  std::string dir;
  uint64_t segment_bytes = 64u << 20;  // rotate beyond this
  int64_t segment_max_age_ms = 0;      // rotate a segment opened this long ago; 0: never
  uint64_t max_bytes = 0;              // size retention; 0: none
  int64_t max_age_ms = 0;              // age retention; 0: none
  std::function<int64_t()> now_ms;     // required
};

class Segment;

class SegmentLog {
 public:
  // Creates the directory, loads the sealed segments' indexes, seals a segment left open by a
  // process that ended without closing (cutting a torn tail). kIoError when the directory
  // cannot be created or listed.
  static Result<std::unique_ptr<SegmentLog>> Open(SegmentLogOptions options);
  ~SegmentLog();  // Close()
  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // Appends the frames in `buffers` (each a run of whole frames; their CRC fields are filled
  // here), rotating at segment_bytes and segment_max_age_ms. Returns the records written; the
  // records of a failed write are added to *failed and cut from the file again.
  uint64_t Append(std::span<std::string> buffers, uint64_t* failed);
  // Deletes the segments whose newest record is older than max_age_ms; returns their records.
  uint64_t RetainAge();
  // Deletes the oldest segments while the files exceed max_bytes; returns their records.
  uint64_t RetainSize();
  // Seals the open segment. Later appends open a new one.
  void Close();

  // The payload of request_id's record when a segment holds it (the newest such record).
  bool Find(std::string_view request_id, uint64_t hash, std::string* payload) const;

  // Newest UUIDv7 time among the request ids found at Open; -1 when none.
  int64_t newest_id_ms_at_open() const { return newest_id_ms_at_open_; }
  uint64_t disk_bytes() const;
  uint64_t segments() const;
  const std::string& dir() const { return options_.dir; }

 private:
  explicit SegmentLog(SegmentLogOptions options);
  Status Load();
  bool OpenActive(int64_t now);
  void Seal();
  bool WriteRun();
  void FlushRun(uint64_t* written, uint64_t* failed);
  uint64_t Remove(std::vector<std::shared_ptr<Segment>> doomed);

  SegmentLogOptions options_;
  int64_t newest_id_ms_at_open_ = -1;
  uint64_t next_seq_ = 1;

  // Writer thread only.
  int write_fd_ = -1;
  int64_t active_opened_ms_ = 0;
  std::vector<iovec> run_;               // frames waiting for the next writev
  std::vector<IndexEntry> run_entries_;  // their entries
  Summary run_summary_;                  // the open segment's summary with them

  // Guards what lookups read.
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Segment>> sealed_;  // oldest first
  std::shared_ptr<Segment> active_;
  Summary active_summary_;
  std::vector<IndexEntry> active_entries_;  // in append order
  // Open addressing (linear probing, at most half full) from an entry's hash to its place in
  // active_entries_ plus 1 (0: empty), so that lookups in the open segment are O(1) too.
  std::vector<uint32_t> active_table_;
  void IndexActive(size_t from);
  uint64_t sealed_bytes_ = 0;               // .seg and .idx bytes of the sealed segments
};

// --- Reading a log directory (export, tests): nothing here writes.

// The segment numbers in `dir`, oldest first. kIoError when it cannot be listed.
Result<std::vector<uint64_t>> ListSegments(const std::string& dir);
// The bytes of segment `seq` as the file holds them now (ForEachFrame stops at a torn tail).
// kNotFound when it is gone (retention may delete a segment at any time), kIoError when it
// cannot be read, kDataLoss when it is not a segment file.
Result<std::string> ReadSegment(const std::string& dir, uint64_t seq);
// Calls fn(offset, payload) for each intact frame of bytes from ReadSegment, in file order, until
// fn returns false or a frame is torn or damaged; returns the offset where it stopped.
size_t ForEachFrame(std::string_view segment, const std::function<bool(size_t offset, std::string_view payload)>& fn);

}  // namespace shelfwatch::feedback::segment
