// Little-endian byte encoding for the drift sketches' serialized form (reference profiles are
// stored on disk next to model versions, so the format is fixed-width and explicit).
// Thread-safety: values; one writer or reader per thread. Cost: O(bytes).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace shelfwatch::monitor::drift {

static_assert(std::endian::native == std::endian::little,
              "drift sketches serialize by memcpy and assume a little-endian host");

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(&v, sizeof v); }
  void U64(uint64_t v) { Raw(&v, sizeof v); }
  void F64(double v) { Raw(&v, sizeof v); }
  void F32(float v) { Raw(&v, sizeof v); }
  // A length-prefixed byte string.
  void Bytes(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_->append(s.data(), s.size());
  }
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }

 private:
  std::string* out_;
};

// Every getter returns false (and leaves the reader failed) when the input is too short.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) { return Raw(v, sizeof *v); }
  bool U32(uint32_t* v) { return Raw(v, sizeof *v); }
  bool U64(uint64_t* v) { return Raw(v, sizeof *v); }
  bool F64(double* v) { return Raw(v, sizeof *v); }
  bool F32(float* v) { return Raw(v, sizeof *v); }
  bool Bytes(std::string_view* s) {
    uint32_t n = 0;
    if (!U32(&n) || in_.size() - pos_ < n) return failed_ = true, false;
    *s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Raw(void* p, size_t n) {
    if (failed_ || in_.size() - pos_ < n) return failed_ = true, false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// The bytes of anything with SerializeTo(ByteWriter&).
template <typename T>
std::string SerializeToBytes(const T& value) {
  std::string out;
  ByteWriter w(&out);
  value.SerializeTo(w);
  return out;
}

// T::ParseFrom over the whole of `bytes`: kDataLoss naming `what` when bytes are left over.
template <typename T>
Result<T> ParseAllBytes(std::string_view bytes, std::string_view what) {
  ByteReader in(bytes);
  Result<T> parsed = T::ParseFrom(in);
  if (parsed.ok() && in.remaining() != 0) {
    return Status(ErrorCode::kDataLoss, std::string(what) + ": " + std::to_string(in.remaining()) + " trailing bytes");
  }
  return parsed;
}

}  // namespace shelfwatch::monitor::drift
