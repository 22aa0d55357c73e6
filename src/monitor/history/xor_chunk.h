// A compressed run of samples, the storage unit of MetricHistory: timestamps as
// delta-of-delta, values XOR-ed with the previous value, as in Pelkonen et al., "Gorilla: A
// Fast, Scalable, In-Memory Time Series Database" (VLDB 2015), section 4.1, which is also
// Prometheus' chunk encoding. A regularly sampled counter costs ~2-4 bytes per sample, a
// constant series well under one byte; the worst case (random doubles, jittery clock) is
// ~11 bytes.
//
// Thread-safety: none; MetricHistory appends under its write lock and shares full chunks as
// immutable values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "monitor/history/series_store.h"

namespace shelfwatch::monitor {

class XorChunk {
 public:
  // Appends a sample; t must be greater than the last one (the caller checks).
  void Append(int64_t t, double v);

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  int64_t min_t() const { return min_t_; }
  int64_t max_t() const { return max_t_; }
  // Heap bytes held by the encoded data.
  size_t bytes() const { return data_.capacity(); }
  // Releases the spare capacity of a chunk that will not grow any more.
  void Seal() { data_.shrink_to_fit(); }

  // Appends the samples with t in [mint, maxt] to `out`.
  void Decode(int64_t mint, int64_t maxt, std::vector<Sample>* out) const;

  // Raw form, for snapshots: the encoded bits and the sample count.
  const std::string& data() const { return data_; }
  uint64_t bit_count() const { return nbits_; }
  // Rebuilds a chunk from its raw form; validates that it decodes to `count` samples with
  // increasing timestamps. The result accepts no further Append (it is sealed).
  static Result<XorChunk> FromRaw(std::string data, uint64_t nbits, uint32_t count);

 private:
  void WriteBits(uint64_t value, int n);

  std::string data_;
  uint64_t nbits_ = 0;
  uint32_t count_ = 0;
  int64_t min_t_ = 0, max_t_ = 0;
  // Encoder state.
  int64_t prev_t_ = 0, prev_delta_ = 0;
  uint64_t prev_bits_ = 0;
  uint8_t leading_ = 0xff, trailing_ = 0;
};

}  // namespace shelfwatch::monitor
