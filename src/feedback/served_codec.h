// The BLOB encodings of the `served` table (see served_log.h), internal to the feedback module.
// Decoders never read past the input: a damaged BLOB decodes to false, not a crash.
// Thread-safe; O(bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shelfwatch::feedback::codec {

// Per item: u32 little-endian byte length, then the bytes.
void EncodeStrings(const std::vector<std::string>& strings, std::string* out);
bool DecodeStrings(std::string_view blob, std::vector<std::string>* out);

// f32 little-endian, one per value.
void EncodeFloats(const std::vector<float>& values, std::string* out);
bool DecodeFloats(std::string_view blob, std::vector<float>* out);

// Per row: u32 count, then that many f32. Empty input encodes as an empty BLOB.
void EncodeFloatRows(const std::vector<std::vector<float>>& rows, std::string* out);
bool DecodeFloatRows(std::string_view blob, std::vector<std::vector<float>>* out);

// Milliseconds of a UUIDv7 in canonical text form (RFC 9562, section 5.7: the first 48 bits),
// or -1 when `id` is not a UUIDv7.
int64_t UuidV7Millis(std::string_view id);

// FNV-1a 64 (Fowler-Noll-Vo, IETF draft-eastlake-fnv) finished by the splitmix64 mixer, so
// that every bit depends on every byte: stable across builds, processes and machines.
uint64_t StableHash(std::string_view text);

}  // namespace shelfwatch::feedback::codec
