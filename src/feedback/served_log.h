// ServedRequestLog: what every search and recommend response returned, recorded off the
// request path, and the attribution lookup that feedback events use to find their response.
//
// Record() is called by the pipeline after it answers. It never blocks on disk and, once warm,
// never allocates: under one shard lock (16 shards by request_id hash) it
//   1. copies the request's attribution facts (request_id, time, catalog, endpoint, variant,
//      returned item ids) into the shard's byte ring, evicting the oldest entries beyond
//      index_capacity / 16, index_bytes / 16 or index_max_age_ms (O(1) each, nothing freed),
//      and points a fixed-size open-addressing table (64-bit request_id hash, the full id
//      verified on lookup) at it -- synchronously, so an event posted right after the response
//      already finds it;
//   2. if the request is sampled (see sample_rate), appends the full record, already encoded,
//      to the shard's pending buffer; beyond max_queue pending records the record is dropped and
//      counted, never waited for (shards publish their counts in steps of up to 64 records, so
//      a queue of 10,000 holds to within ~1,024; small queues to within the number of threads
//      recording at once). Only the shard's own
//      cache lines are written on the way: two request threads never contend on a counter.
// A background thread takes the pending buffers every 100 ms (sooner when half of max_queue
// is pending, or on Flush) and appends them to the log's segment files with one write per
// batch (served_segment.h: append-only, length-prefixed, CRC-checked records; a torn tail after
// a crash is cut at the next open). No fsync per batch: a power cut may lose the last batches,
// which a log for analysis and training data can afford; events, which cannot, are elsewhere.
//
// Lookup(request_id) answers from the index; on a miss it reads the segments (a binary search
// of the per-segment hash index, then one pread), unless the miss is provably final: the
// request_id is a UUIDv7 (common/request_id.h) newer than every UUIDv7 the shard has evicted
// and every one an earlier process wrote, or the request was not sampled -- so unknown fresh
// ids from clients cost a hash probe, not a disk read. Unsampled requests are attributed while
// they are in the index (attribution needs every request; sampling only limits what is kept on
// disk). The log is per process: with several replicas, an event reaches the replica that
// served its request only if the load balancer routes by request_id.
//
// Retention deletes whole segments: those whose newest record is older than max_age_ms, and the
// oldest ones while the directory holds more than max_bytes (checked after every batch, so the
// directory stays within max_bytes plus one batch). Segments are rotated at segment_bytes or
// when the open one is older than max_age_ms / 16, so a record lives at most about
// max_age_ms * 17/16.
//
// Sizing the index: it is the request path's biggest memory footprint, and a footprint beyond
// the CPU caches costs every search, not only Record (measured on the 2-core VM: 200,000
// entries, ~40 MB, cost ~7 us of CPU per search against ~1.5 us for 65,536 entries, ~12 MB).
// Requests older than the index are found on disk (~2.5 us a lookup) when they were sampled;
// with sample_rate < 1 an unsampled request is attributable only while in the index (65,536
// requests: 5 s at 12,000 searches/s, a minute at 1,000).
//
// Thread-safety: every method is safe from any thread. Cost (shared 2-core VM): Record
// ~0.3-0.5 us in a tight loop, ~1 us beside searches that evict the index from the caches (a
// hash, a shard lock, two memcpy-sized encodes, a few cache misses); Lookup ~0.35 us from the
// index (the copy into the returned info included) or for a provably unknown id, ~2.5 us from
// the segments. Memory: index_bytes for the rings (touched as they fill, transparent huge
// pages) plus 8 B x 2 x index_capacity for the tables, plus the pending buffers (max_queue
// records) and ~24 B per record of the open segment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::feedback {

// One served response, as the pipeline hands it over.
struct ServedRequest {
  std::string request_id;
  int64_t time_ms = 0;  // Unix ms when the response was sent; 0: when recorded
  std::string catalog;
  std::string endpoint;  // "search" | "recommend"
  std::string query;     // the query text; for recommend, whatever identifies the context
  std::string variant;
  std::string model_versions;                // opaque, e.g. "bm25:k1=0.2,b=0.85"
  std::vector<std::string> item_ids;         // returned results, rank order
  std::vector<float> scores;                 // same length as item_ids, or empty
  std::vector<std::vector<float>> features;  // one vector per item, or empty
  uint64_t total_hits = 0;
};

// The same, as views into the caller's buffers: what Record copies from.
struct ServedRequestView {
  std::string_view request_id = {};
  int64_t time_ms = 0;  // 0: when recorded
  std::string_view catalog = {};
  std::string_view endpoint = {};
  std::string_view query = {};
  std::string_view variant = {};
  std::string_view model_versions = {};
  std::span<const std::string> item_ids = {};
  std::span<const float> scores = {};
  std::span<const std::vector<float>> features = {};
  uint64_t total_hits = 0;
};

// What attribution needs to know about a served request. Immutable once published.
struct ServedRequestInfo {
  std::string request_id;
  int64_t time_ms = 0;
  std::string catalog;
  std::string endpoint;
  std::string variant;
  std::vector<std::string> item_ids;  // rank order
  // 1-based rank of `item_id` in the response, 0 when it was not returned. O(results).
  int32_t RankOf(std::string_view item_id) const;
};

struct ServedLogOptions {
  std::string path = {};           // the segment directory (created); empty: index only, nothing on disk
  double sample_rate = 1.0;        // fraction of requests written to disk, chosen by request_id hash
  size_t max_queue = 10000;        // records waiting for the writer; more are dropped
  size_t index_capacity = 65536;       // recent requests kept for Lookup (at least max_queue)
  uint64_t index_bytes = 16ull << 20;  // memory of the index rings (at least 64 KiB per shard)
  int64_t index_max_age_ms = 2 * 3600 * 1000;
  int64_t max_age_ms = 30LL * 24 * 3600 * 1000;  // 0: no age limit
  uint64_t max_bytes = 1ull << 30;               // 0: no size limit
  uint64_t segment_bytes = 0;                    // 0: max_bytes / 16, between 64 KiB and 64 MiB
  int64_t retention_interval_ms = 60 * 1000;     // age retention period (size is checked per batch)
  std::function<int64_t()> now_ms = nullptr;     // default UnixMillis
  // Called on the writer thread before each batch is written; tests hold the writer with it.
  std::function<void()> before_write = nullptr;
};

class ServedRequestLog {
 public:
  struct Stats {
    uint64_t recorded = 0;        // Record() calls
    uint64_t sampled_out = 0;     // not written by sampling
    uint64_t dropped = 0;         // queue full
    uint64_t written = 0;         // records appended to segments
    uint64_t write_failures = 0;  // records in failed writes
    uint64_t retention_deleted = 0;
    uint64_t index_hits = 0;
    uint64_t file_lookups = 0;  // index misses that read the segments
    uint64_t file_hits = 0;
    uint64_t misses = 0;
    uint64_t index_size = 0;   // entries in the index
    uint64_t index_bytes = 0;  // ring bytes those entries occupy
    uint64_t disk_bytes = 0;   // segment and index files
    uint64_t segments = 0;
  };

  // kInvalidArgument for options that cannot work; kIoError for a directory that cannot be
  // created or read. Damaged segment tails are cut (and logged), not refused.
  static Result<std::unique_ptr<ServedRequestLog>> Open(ServedLogOptions options);
  // Writes what is pending, then closes.
  ~ServedRequestLog();
  ServedRequestLog(const ServedRequestLog&) = delete;
  ServedRequestLog& operator=(const ServedRequestLog&) = delete;

  // Never blocks on I/O (see above); copies what it keeps.
  void Record(const ServedRequestView& request);
  void Record(ServedRequest&& request);

  // The served request with this id, or null when unknown. A fresh copy per call.
  std::shared_ptr<const ServedRequestInfo> Lookup(std::string_view request_id) const;

  // Whether `request_id` falls in the sampled fraction (stable across processes and restarts).
  bool Sampled(std::string_view request_id) const;

  // Waits until every record pending before the call is written (or failed).
  void Flush();
  // Applies age and size retention now; returns the records deleted.
  Result<uint64_t> EnforceRetention();

  Stats stats() const;
  const std::string& path() const;

 private:
  class Impl;
  explicit ServedRequestLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shelfwatch::feedback
