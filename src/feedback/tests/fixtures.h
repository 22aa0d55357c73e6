// Test fixtures for the feedback module: a temporary directory removed at scope exit, events
// and served requests with realistic ids, and direct reads (SQLite, served-log segment files)
// that check what the files really hold (not what the module claims).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/request_id.h"
#include "feedback/events.h"
#include "feedback/served_codec.h"
#include "feedback/served_log.h"
#include "feedback/served_segment.h"
#include "support/test_server.h"

namespace shelfwatch::feedback {

class TempDir {
 public:
  TempDir() : path_(testing::MakeTempDir("feedback_test")) {
    if (path_.empty()) ADD_FAILURE() << "mkdtemp failed";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// "prefix" + n, spelled so that GCC 12 at -O3 does not raise its false -Wrestrict on
// literal + std::to_string (GCC bug 105651).
inline std::string Tag(std::string prefix, size_t n) {
  prefix += std::to_string(n);
  return prefix;
}

inline Event MakeEvent(EventType type, std::string request_id, std::string item_id, int64_t ts_ms = UnixMillis()) {
  Event e;
  e.type = type;
  e.request_id = std::move(request_id);
  e.item_id = std::move(item_id);
  e.user_id = "u1";
  e.timestamp_ms = ts_ms;
  e.received_ms = ts_ms;
  if (type == EventType::kPurchase) {
    e.value = 19.99;
    e.currency = "EUR";
  }
  return e;
}

// A search response returning `n` items "<prefix>1".."<prefix>n" with descending scores and,
// when `feature_dim` > 0, one feature vector per item.
inline ServedRequest MakeServed(std::string request_id, size_t n, const std::string& prefix = "item",
                                size_t feature_dim = 0, int64_t time_ms = UnixMillis()) {
  ServedRequest r;
  r.request_id = std::move(request_id);
  r.time_ms = time_ms;
  r.catalog = "homedepot";
  r.endpoint = "search";
  r.query = "cordless drill";
  r.variant = "control";
  r.model_versions = "bm25:k1=0.2,b=0.85";
  r.total_hits = 1234;
  for (size_t i = 0; i < n; ++i) {
    r.item_ids.push_back(prefix + std::to_string(i + 1));
    r.scores.push_back(static_cast<float>(n - i) * 0.5f);
    if (feature_dim > 0) {
      std::vector<float> f(feature_dim);
      for (size_t j = 0; j < feature_dim; ++j) f[j] = static_cast<float>(i * 100 + j);
      r.features.push_back(std::move(f));
    }
  }
  return r;
}

inline std::unique_ptr<ServedRequestLog> OpenServedLog(ServedLogOptions options) {
  auto log = ServedRequestLog::Open(std::move(options));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// Records `n` requests of `items` items each ("item1".."item<items>") with fresh ids; returns
// the ids.
inline std::vector<std::string> RecordServed(ServedRequestLog& log, int n, size_t items) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(NewRequestId());
    log.Record(MakeServed(ids.back(), items));
  }
  return ids;
}

// SELECT count(*) (or any single integer) straight from the file.
inline int64_t QueryFileInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

inline uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

// The bytes of every file in a directory (a served log's segments and indexes).
inline uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) total += FileSize(e.path().string());
  return total;
}

// Every intact record of a served-log directory, read straight from its segment files.
inline std::vector<codec::ServedRecordView> StoredRecords(const std::string& dir, std::vector<std::string>* storage) {
  std::vector<codec::ServedRecordView> out;
  auto seqs = segment::ListSegments(dir);
  if (!seqs.ok()) return out;
  storage->clear();
  storage->reserve(seqs->size());
  for (uint64_t seq : *seqs) {
    auto bytes = segment::ReadSegment(dir, seq);
    if (!bytes.ok()) continue;
    storage->push_back(std::move(bytes).value());
    segment::ForEachFrame(storage->back(), [&](size_t, std::string_view payload) {
      codec::ServedRecordView v;
      EXPECT_TRUE(codec::ParseServedPayload(payload, &v));
      out.push_back(v);
      return true;
    });
  }
  return out;
}

inline std::vector<std::string> StoredIds(const std::string& dir) {
  std::vector<std::string> storage, ids;
  for (const auto& v : StoredRecords(dir, &storage)) ids.emplace_back(v.request_id);
  return ids;
}

}  // namespace shelfwatch::feedback
