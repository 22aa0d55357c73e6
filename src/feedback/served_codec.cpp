#include "feedback/served_codec.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace shelfwatch::feedback::codec {

// The encodings are defined little-endian; this build writes memory as it is.
static_assert(std::endian::native == std::endian::little, "served_codec assumes a little-endian host");

namespace {

void PutU32(uint32_t v, std::string* out) {
  char b[4];
  std::memcpy(b, &v, 4);
  out->append(b, 4);
}

bool GetU32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  std::memcpy(v, in->data(), 4);
  in->remove_prefix(4);
  return true;
}

bool GetU64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  std::memcpy(v, in->data(), 8);
  in->remove_prefix(8);
  return true;
}

bool GetField(std::string_view* in, std::string_view* field) {
  uint32_t n;
  if (!GetU32(in, &n) || n > in->size()) return false;
  *field = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

// Raw little-endian appends into a buffer sized in advance (no capacity checks per byte).
char* Put32(char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
  return p + 4;
}
char* Put64(char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
  return p + 8;
}
char* PutField(char* p, std::string_view bytes) {
  p = Put32(p, static_cast<uint32_t>(bytes.size()));
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

size_t StringsBytes(std::span<const std::string> strings) {
  size_t total = 0;
  for (const auto& s : strings) total += 4 + s.size();
  return total;
}
size_t FloatRowsBytes(std::span<const std::vector<float>> rows) {
  size_t total = 0;
  for (const auto& r : rows) total += 4 + r.size() * sizeof(float);
  return total;
}

size_t PayloadBytes(const ServedRequestView& r) {
  return 16 + 9 * 4 + r.request_id.size() + r.catalog.size() + r.endpoint.size() + r.query.size() +
         r.variant.size() + r.model_versions.size() + StringsBytes(r.item_ids) + r.scores.size() * sizeof(float) +
         FloatRowsBytes(r.features);
}

// CRC-32C, reflected polynomial 0x82F63B78: the byte-at-a-time table (Sarwate's method).
constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32cTable(uint32_t crc, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(uint32_t crc, const unsigned char* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  crc = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) crc = _mm_crc32_u8(crc, *p);
  return crc;
}
// __builtin_cpu_init first: this initialiser may run before libgcc's own constructor.
const bool kHaveSse42 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}();
#endif

}  // namespace

uint32_t Crc32c(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
#if defined(__x86_64__)
  if (kHaveSse42) return ~Crc32cSse42(~0u, p, bytes.size());
#endif
  return ~Crc32cTable(~0u, p, bytes.size());
}

size_t ServedFrameBytes(const ServedRequestView& r) { return kFrameHeaderBytes + PayloadBytes(r); }

void AppendServedFrame(const ServedRequestView& r, std::string* out) {
  const size_t payload = PayloadBytes(r);
  const size_t start = out->size();
  // resize() zero-fills once; the bytes are then written in place, without per-field appends.
  out->resize(start + kFrameHeaderBytes + payload);
  char* p = out->data() + start;
  p = Put32(p, static_cast<uint32_t>(payload));
  p = Put32(p, 0);  // CRC: SealFrame
  p = Put64(p, static_cast<uint64_t>(r.time_ms));
  p = Put64(p, r.total_hits);
  for (std::string_view f : {r.request_id, r.catalog, r.endpoint, r.query, r.variant, r.model_versions}) {
    p = PutField(p, f);
  }
  p = Put32(p, static_cast<uint32_t>(StringsBytes(r.item_ids)));
  for (const auto& id : r.item_ids) p = PutField(p, id);
  p = PutField(p, std::string_view(reinterpret_cast<const char*>(r.scores.data()), r.scores.size() * sizeof(float)));
  p = Put32(p, static_cast<uint32_t>(FloatRowsBytes(r.features)));
  for (const auto& row : r.features) {
    p = Put32(p, static_cast<uint32_t>(row.size()));
    if (!row.empty()) std::memcpy(p, row.data(), row.size() * sizeof(float));
    p += row.size() * sizeof(float);
  }
}

void SealFrame(char* frame) {
  uint32_t n;
  std::memcpy(&n, frame, 4);
  const uint32_t crc = Crc32c(std::string_view(frame + kFrameHeaderBytes, n));
  std::memcpy(frame + 4, &crc, 4);
}

bool ReadFrame(std::string_view bytes, std::string_view* payload, size_t* frame_bytes) {
  uint32_t n, crc;
  if (bytes.size() < kFrameHeaderBytes) return false;
  std::memcpy(&n, bytes.data(), 4);
  std::memcpy(&crc, bytes.data() + 4, 4);
  if (n > kMaxPayloadBytes || n > bytes.size() - kFrameHeaderBytes) return false;
  *payload = bytes.substr(kFrameHeaderBytes, n);
  if (Crc32c(*payload) != crc) return false;
  *frame_bytes = kFrameHeaderBytes + n;
  return true;
}

bool ParseServedPayload(std::string_view in, ServedRecordView* out) {
  uint64_t time_ms;
  if (!GetU64(&in, &time_ms) || !GetU64(&in, &out->total_hits)) return false;
  out->time_ms = static_cast<int64_t>(time_ms);
  for (std::string_view* f : {&out->request_id, &out->catalog, &out->endpoint, &out->query, &out->variant,
                              &out->model_versions, &out->items, &out->scores, &out->features}) {
    if (!GetField(&in, f)) return false;
  }
  return in.empty();
}

std::string_view PayloadRequestId(std::string_view payload) {
  std::string_view id;
  if (payload.size() < 16) return {};
  payload.remove_prefix(16);
  if (!GetField(&payload, &id)) return {};
  return id;
}

void EncodeStrings(std::span<const std::string> strings, std::string* out) {
  out->clear();
  out->reserve(StringsBytes(strings));
  for (const auto& s : strings) {
    PutU32(static_cast<uint32_t>(s.size()), out);
    out->append(s);
  }
}

bool DecodeStrings(std::string_view blob, std::vector<std::string>* out) {
  out->clear();
  while (!blob.empty()) {
    uint32_t n;
    if (!GetU32(&blob, &n) || n > blob.size()) return false;
    out->emplace_back(blob.substr(0, n));
    blob.remove_prefix(n);
  }
  return true;
}

void EncodeFloats(std::span<const float> values, std::string* out) {
  out->assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

bool DecodeFloats(std::string_view blob, std::vector<float>* out) {
  if (blob.size() % sizeof(float) != 0) return false;
  out->resize(blob.size() / sizeof(float));
  if (!blob.empty()) std::memcpy(out->data(), blob.data(), blob.size());
  return true;
}

void EncodeFloatRows(std::span<const std::vector<float>> rows, std::string* out) {
  out->clear();
  out->reserve(FloatRowsBytes(rows));
  for (const auto& r : rows) {
    PutU32(static_cast<uint32_t>(r.size()), out);
    out->append(reinterpret_cast<const char*>(r.data()), r.size() * sizeof(float));
  }
}

bool DecodeFloatRows(std::string_view blob, std::vector<std::vector<float>>* out) {
  out->clear();
  while (!blob.empty()) {
    uint32_t n;
    if (!GetU32(&blob, &n) || n > blob.size() / sizeof(float)) return false;
    auto& row = out->emplace_back(n);
    if (n > 0) std::memcpy(row.data(), blob.data(), n * sizeof(float));
    blob.remove_prefix(n * sizeof(float));
  }
  return true;
}

int64_t UuidV7Millis(std::string_view id) {
  // xxxxxxxx-xxxx-7xxx-[89ab]xxx-xxxxxxxxxxxx
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '7') return -1;
  int64_t ms = 0;
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12}) {
    const char c = id[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return -1;
    }
    ms = ms * 16 + v;
  }
  return ms;
}


}  // namespace shelfwatch::feedback::codec
