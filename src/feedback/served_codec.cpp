#include "feedback/served_codec.h"

#include <bit>
#include <cstring>

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

}  // namespace

void EncodeStrings(const std::vector<std::string>& strings, std::string* out) {
  out->clear();
  size_t total = 0;
  for (const auto& s : strings) total += 4 + s.size();
  out->reserve(total);
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

void EncodeFloats(const std::vector<float>& values, std::string* out) {
  out->assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

bool DecodeFloats(std::string_view blob, std::vector<float>* out) {
  if (blob.size() % sizeof(float) != 0) return false;
  out->resize(blob.size() / sizeof(float));
  if (!blob.empty()) std::memcpy(out->data(), blob.data(), blob.size());
  return true;
}

void EncodeFloatRows(const std::vector<std::vector<float>>& rows, std::string* out) {
  out->clear();
  size_t total = 0;
  for (const auto& r : rows) total += 4 + r.size() * sizeof(float);
  out->reserve(total);
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

uint64_t StableHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // splitmix64 finaliser (Steele, Lea, Flood 2014).
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace shelfwatch::feedback::codec
