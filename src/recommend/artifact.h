// Model artifacts on disk: the versioned layout DIR/<model>/<version>/ of the model
// repository, a bounds-checked little-endian binary codec for model.bin, and config.json
// ({kind, trained_on, params, metrics}).
//
// model.bin = "SWREC" magic, u32 format version, kind string, then the model's payload.
// Files are written to a temporary name and renamed, so a reader never sees half a model.
// Thread-safety: free functions are safe to call concurrently on different paths;
// ArtifactWriter/ArtifactReader are not thread-safe. Cost: O(artifact bytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/files.h"  // WriteFileAtomically, ReadWholeFile
#include "common/status.h"

namespace shelfwatch::recommend {

class ArtifactWriter {
 public:
  explicit ArtifactWriter(std::string_view kind);
  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void PutString(std::string_view s);
  void PutStrings(const std::vector<std::string>& v);
  template <typename T>
  void PutVector(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Put<uint64_t>(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

class ArtifactReader {
 public:
  // Checks the magic, format version and kind. kDataLoss on a corrupt or foreign file.
  static Result<ArtifactReader> Open(std::string bytes, std::string_view expected_kind);

  template <typename T>
  Status Get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (bytes_.size() - pos_ < sizeof(T)) return Truncated();
    std::memcpy(v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  Status GetString(std::string* s);
  Status GetStrings(std::vector<std::string>* v);
  template <typename T>
  Status GetVector(std::vector<T>* v) {
    uint64_t n = 0;
    SW_RETURN_IF_ERROR(Get(&n));
    if (n > (bytes_.size() - pos_) / sizeof(T)) return Truncated();
    v->resize(n);
    std::memcpy(v->data(), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return Status::Ok();
  }
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  Status Truncated() const;
  std::string bytes_;
  size_t pos_ = 0;
};

// Versions are positive integers named by their directory. 0 when DIR/<model> has none.
uint32_t LatestVersion(const std::string& repo_dir, const std::string& model);
// Creates DIR/<model>/<latest+1>/ and returns its path.
Result<std::string> CreateNextVersionDir(const std::string& repo_dir, const std::string& model);

// config.json beside model.bin. params/metrics are (name, value) pairs.
struct ArtifactConfig {
  std::string kind;
  std::string trained_on;  // the events file
  int64_t trained_at_ms = 0;
  std::vector<std::pair<std::string, double>> params;
  std::vector<std::pair<std::string, double>> metrics;
  std::string trained_at;  // RFC 3339 as written (read back by ReadConfig; sorts by time)
};
Status WriteConfig(const std::string& version_dir, const ArtifactConfig& config);
// Reads kind, trained_at (text) and params back (metrics are informational). kDataLoss when
// malformed.
Result<ArtifactConfig> ReadConfig(const std::string& version_dir);

}  // namespace shelfwatch::recommend
