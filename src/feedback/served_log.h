// ServedRequestLog: what every search and recommend response returned, recorded off the
// request path, and the attribution lookup that feedback events use to find their response.
//
// Record() is called by the pipeline after it answers. It never blocks on disk:
//   1. it inserts the request's attribution facts (catalog, endpoint, variant, time, returned
//      item ids) into an in-memory index, sharded by request_id hash, each shard a hash map
//      plus a FIFO evicting the oldest entry beyond index_capacity / 16 or index_max_age --
//      synchronously, so an event posted right after the response already finds it;
//   2. if the request is sampled (see sample_rate) it pushes the full record onto a bounded
//      queue; when the queue is full the record is dropped and counted, never waited for.
// A background thread writes queued records in batches to the log's own SQLite file (WAL,
// synchronous=NORMAL: a power cut may lose the last batches but never corrupts the file; the
// log is for analysis and training data, events are what must be durable).
//
// Lookup(request_id) answers from the index; on a miss it queries the file, unless the miss is
// provably final: the request_id is a UUIDv7 (common/request_id.h) newer than every entry the
// index has evicted in its shard and every id an earlier process wrote to the file, or the
// request was not sampled -- so unknown fresh ids from clients cost a hash probe, not a disk
// read. Unsampled requests are attributed while they are in the index (attribution needs
// every request; sampling only limits what is kept on disk). The log is per process: with
// several replicas, an event reaches the replica that served its request only if the load
// balancer routes by request_id (or the replicas share the events another way).
//
// Retention: rows older than max_age go, and when the live data (pages in use) grows beyond
// max_bytes the oldest rows go until it is below 90% of it; freed pages are reused, so the
// file stops growing at max_bytes plus one write batch (at most max_queue records). The WAL is
// bounded by wal_bytes (auto-checkpoint and journal_size_limit) plus one batch.
//
// Table `served`: id INTEGER PRIMARY KEY, request_id TEXT UNIQUE, time_ms, catalog, endpoint,
// query, variant, model_versions, total_hits, items BLOB, scores BLOB, features BLOB; index on
// time_ms. BLOB formats (little-endian): items = per item a u32 byte length then the bytes;
// scores = one f32 per item; features = per item a u32 count then that many f32 (empty BLOB
// when no features were recorded).
//
// Thread-safety: every method is safe from any thread. Cost (events_bench, shared 2-core VM):
// Record ~0.4-1 us (a shard lock, a hash insert, a queue push; the strings are moved, not
// copied); Lookup ~0.1-0.15 us from the index or for a provably unknown id, tens of us from
// the file (one connection under a mutex). Memory: index_capacity entries of ~150 B plus
// their item ids.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
  std::string path = {};           // the SQLite file; empty: index only, nothing kept on disk
  double sample_rate = 1.0;        // fraction of requests written to disk, chosen by request_id hash
  size_t max_queue = 10000;        // records waiting for the writer; more are dropped
  size_t index_capacity = 200000;  // recent requests kept for Lookup (at least max_queue)
  int64_t index_max_age_ms = 2 * 3600 * 1000;
  int64_t max_age_ms = 30LL * 24 * 3600 * 1000;  // 0: no age limit
  uint64_t max_bytes = 1ull << 30;               // 0: no size limit
  uint64_t wal_bytes = 16u << 20;
  int64_t retention_interval_ms = 60 * 1000;  // age retention period (size is checked per batch)
  std::function<int64_t()> now_ms = nullptr;  // default UnixMillis
};

class ServedRequestLog {
 public:
  struct Stats {
    uint64_t recorded = 0;        // Record() calls
    uint64_t sampled_out = 0;     // not written by sampling
    uint64_t dropped = 0;         // queue full
    uint64_t written = 0;         // rows committed
    uint64_t write_failures = 0;  // rows in failed transactions
    uint64_t retention_deleted = 0;
    uint64_t index_hits = 0;
    uint64_t file_lookups = 0;  // index misses that queried the file
    uint64_t file_hits = 0;
    uint64_t misses = 0;
    uint64_t index_size = 0;
  };

  // kInvalidArgument for options that cannot work; kIoError / kDataLoss / kFailedPrecondition
  // for the file, as EventStore::Open.
  static Result<std::unique_ptr<ServedRequestLog>> Open(ServedLogOptions options);
  // Writes what is queued, then closes.
  ~ServedRequestLog();
  ServedRequestLog(const ServedRequestLog&) = delete;
  ServedRequestLog& operator=(const ServedRequestLog&) = delete;

  // Never blocks on I/O (see above). Consumes `request`.
  void Record(ServedRequest&& request);

  // The served request with this id, or null when unknown. Shared, not copied: attribution
  // runs per ingested event and must not copy item id lists.
  std::shared_ptr<const ServedRequestInfo> Lookup(std::string_view request_id) const;

  // Whether `request_id` falls in the sampled fraction (stable across processes and restarts).
  bool Sampled(std::string_view request_id) const;

  // Waits until every record queued before the call is written (or failed).
  void Flush();
  // Applies age and size retention now; returns the rows deleted.
  Result<uint64_t> EnforceRetention();

  Stats stats() const;
  const std::string& path() const;

 private:
  class Impl;
  explicit ServedRequestLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shelfwatch::feedback
