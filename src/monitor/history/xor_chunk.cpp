#include "monitor/history/xor_chunk.h"

#include <bit>

namespace shelfwatch::monitor {
namespace {

// Delta-of-delta buckets: a prefix of n ones and a zero (the last bucket has no zero), then
// a signed value of `bits` bits.
struct DodBucket {
  int prefix_ones;
  int bits;
};
constexpr DodBucket kDodBuckets[] = {{1, 7}, {2, 9}, {3, 12}, {4, 20}};
constexpr int kDodFullPrefix = 5;  // 11111 then 64 bits

bool FitsSigned(int64_t v, int bits) {
  const int64_t lim = int64_t{1} << (bits - 1);
  return v >= -lim && v < lim;
}

// Reads big-endian bit fields; loads a 64-bit window per read instead of going bit by bit.
class BitReader {
 public:
  BitReader(const std::string& data, uint64_t nbits)
      : data_(reinterpret_cast<const uint8_t*>(data.data())), size_(data.size()), nbits_(nbits) {}

  // n in [0, 64].
  bool Read(int n, uint64_t* out) {
    if (n == 0) {
      *out = 0;
      return true;
    }
    if (pos_ + static_cast<uint64_t>(n) > nbits_) return false;
    const size_t byte = static_cast<size_t>(pos_ >> 3);
    const int bit = static_cast<int>(pos_ & 7);
    const uint64_t w = Load64(byte) << bit;  // the next 64 - bit bits, left-aligned
    uint64_t v = w >> (64 - n);
    if (bit + n > 64) {
      // The field reaches into a ninth byte: its top (bit + n - 64) bits.
      const int rest = bit + n - 64;
      v |= static_cast<uint64_t>(data_[byte + 8]) >> (8 - rest);
    }
    pos_ += static_cast<uint64_t>(n);
    *out = v;
    return true;
  }
  bool ReadBit(bool* b) {
    if (pos_ >= nbits_) return false;
    *b = (data_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1;
    ++pos_;
    return true;
  }

 private:
  uint64_t Load64(size_t byte) const {
    uint64_t w = 0;
    if (byte + 8 <= size_) {
      for (int i = 0; i < 8; ++i) w = (w << 8) | data_[byte + i];  // compiles to a load + bswap
      return w;
    }
    for (size_t i = 0; i < 8; ++i) w = (w << 8) | (byte + i < size_ ? data_[byte + i] : 0);
    return w;
  }

  const uint8_t* data_;
  size_t size_;
  uint64_t nbits_;
  uint64_t pos_ = 0;
};

int64_t SignExtend(uint64_t v, int bits) {
  if (bits == 64) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

// Decodes every sample, calling fn(t, v); false when the bits run out early or timestamps do
// not increase.
template <typename Fn>
bool DecodeAll(const std::string& data, uint64_t nbits, uint32_t count, Fn&& fn) {
  BitReader r(data, nbits);
  int64_t t = 0, delta = 0;
  uint64_t bits = 0;
  int leading = 0, trailing = 0;
  bool have_window = false;
  for (uint32_t i = 0; i < count; ++i) {
    if (i == 0) {
      uint64_t raw_t;
      if (!r.Read(64, &raw_t) || !r.Read(64, &bits)) return false;
      t = static_cast<int64_t>(raw_t);
    } else {
      // Timestamp.
      int ones = 0;
      bool b = true;
      while (ones < kDodFullPrefix) {
        if (!r.ReadBit(&b)) return false;
        if (!b) break;
        ++ones;
      }
      int64_t dod = 0;
      if (ones > 0) {
        const int width = ones == kDodFullPrefix ? 64 : kDodBuckets[ones - 1].bits;
        uint64_t raw;
        if (!r.Read(width, &raw)) return false;
        dod = SignExtend(raw, width);
      }
      delta += dod;
      if (delta <= 0) return false;
      t += delta;
      // Value.
      if (!r.ReadBit(&b)) return false;
      if (b) {
        bool new_window;
        if (!r.ReadBit(&new_window)) return false;
        if (new_window) {
          uint64_t l, s;
          if (!r.Read(5, &l) || !r.Read(6, &s)) return false;
          const int sig = s == 0 ? 64 : static_cast<int>(s);
          leading = static_cast<int>(l);
          trailing = 64 - leading - sig;
          if (trailing < 0) return false;
          have_window = true;
        } else if (!have_window) {
          return false;  // a window must be set before it is reused
        }
        uint64_t x;
        if (!r.Read(64 - leading - trailing, &x)) return false;
        bits ^= x << trailing;
      }
    }
    fn(t, std::bit_cast<double>(bits));
  }
  return true;
}

}  // namespace

void XorChunk::WriteBits(uint64_t value, int n) {
  while (n > 0) {
    if (nbits_ % 8 == 0) data_.push_back('\0');
    const int free = 8 - static_cast<int>(nbits_ % 8);
    const int take = n < free ? n : free;
    const uint64_t bits = (value >> (n - take)) & ((uint64_t{1} << take) - 1);
    data_.back() = static_cast<char>(static_cast<uint8_t>(data_.back()) | (bits << (free - take)));
    n -= take;
    nbits_ += static_cast<uint64_t>(take);
  }
}

void XorChunk::Append(int64_t t, double v) {
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  if (count_ == 0) {
    WriteBits(static_cast<uint64_t>(t), 64);
    WriteBits(bits, 64);
    min_t_ = t;
  } else {
    const int64_t delta = t - prev_t_;
    const int64_t dod = delta - prev_delta_;
    if (dod == 0) {
      WriteBits(0, 1);
    } else {
      bool written = false;
      for (const DodBucket& b : kDodBuckets) {
        if (FitsSigned(dod, b.bits)) {
          WriteBits(((uint64_t{1} << b.prefix_ones) - 1) << 1, b.prefix_ones + 1);  // 1..10
          WriteBits(static_cast<uint64_t>(dod), b.bits);
          written = true;
          break;
        }
      }
      if (!written) {
        WriteBits((uint64_t{1} << kDodFullPrefix) - 1, kDodFullPrefix);
        WriteBits(static_cast<uint64_t>(dod), 64);
      }
    }
    prev_delta_ = delta;
    const uint64_t x = bits ^ prev_bits_;
    if (x == 0) {
      WriteBits(0, 1);
    } else {
      WriteBits(1, 1);
      int lead = std::countl_zero(x);
      const int trail = std::countr_zero(x);
      if (lead > 31) lead = 31;  // five bits
      if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
        // Fits in the previous window.
        WriteBits(0, 1);
        WriteBits(x >> trailing_, 64 - leading_ - trailing_);
      } else {
        const int sig = 64 - lead - trail;
        WriteBits(1, 1);
        WriteBits(static_cast<uint64_t>(lead), 5);
        WriteBits(static_cast<uint64_t>(sig == 64 ? 0 : sig), 6);
        WriteBits(x >> trail, sig);
        leading_ = static_cast<uint8_t>(lead);
        trailing_ = static_cast<uint8_t>(trail);
      }
    }
  }
  prev_t_ = t;
  prev_bits_ = bits;
  max_t_ = t;
  ++count_;
}

void XorChunk::Decode(int64_t mint, int64_t maxt, std::vector<Sample>* out) const {
  if (count_ == 0 || max_t_ < mint || min_t_ > maxt) return;
  out->reserve(out->size() + count_);
  DecodeAll(data_, nbits_, count_, [&](int64_t t, double v) {
    if (t >= mint && t <= maxt) out->push_back({t, v});
  });
}

Result<XorChunk> XorChunk::FromRaw(std::string data, uint64_t nbits, uint32_t count) {
  if (count == 0) return InvalidArgument("empty chunk");
  if (nbits > data.size() * 8 || data.size() > (nbits + 7) / 8) return InvalidArgument("chunk size mismatch");
  XorChunk c;
  int64_t first = 0, last = 0;
  uint32_t n = 0;
  const bool ok = DecodeAll(data, nbits, count, [&](int64_t t, double) {
    if (n == 0) first = t;
    last = t;
    ++n;
  });
  if (!ok || n != count) return InvalidArgument("chunk does not decode");
  c.data_ = std::move(data);
  c.nbits_ = nbits;
  c.count_ = count;
  c.min_t_ = first;
  c.max_t_ = last;
  c.Seal();
  return c;
}

}  // namespace shelfwatch::monitor
