// Hashes whose values never change between builds, platforms or processes (unlike std::hash),
// for what is written to disk or must agree across machines: served-log request-id indexes,
// drift Bloom filters, file checksums, stable train/validation splits.
// Thread-safety: pure. Cost: O(bytes), about 1 ns a byte.
#pragma once

#include <cstdint>
#include <string_view>

namespace shelfwatch {

// FNV-1a 64 (Fowler, Noll, Vo; offset basis 0xcbf29ce484222325, prime 0x100000001b3).
inline uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Fnv1a64 through splitmix64's finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014), so that every bit depends on every byte: for hash tables
// and filters that take bits from anywhere in the word.
inline uint64_t StableHash64(std::string_view bytes) {
  uint64_t h = Fnv1a64(bytes);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace shelfwatch
