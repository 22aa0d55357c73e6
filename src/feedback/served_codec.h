// The byte formats of the served-request log (served_log.h), internal to the feedback module:
// the record frame its segments hold (served_segment.h) and the item / score / feature encodings
// inside a record. Decoders never read past the input: damaged bytes decode to false, not a
// crash. Thread-safe; O(bytes), allocation-free except where a decoder fills a vector.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "feedback/served_log.h"

namespace shelfwatch::feedback::codec {

// A record frame: u32 payload length, u32 CRC-32C of the payload, the payload. All integers
// little-endian. Payload: i64 time_ms, u64 total_hits, then nine fields, each a u32 length and
// its bytes: request_id, catalog, endpoint, query, variant, model_versions, items
// (EncodeStrings), scores (EncodeFloats), features (EncodeFloatRows).
inline constexpr size_t kFrameHeaderBytes = 8;
// Payloads beyond this are refused by readers as damage (a length read from garbage).
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;

// The bytes AppendServedFrame adds for `r`.
size_t ServedFrameBytes(const ServedRequestView& r);
// Appends one frame with its CRC field zero: the writer thread fills it (SealFrame) so that the
// request path does not pay for the checksum.
void AppendServedFrame(const ServedRequestView& r, std::string* out);
// Fills the CRC of the frame at `frame` (which holds at least its whole length).
void SealFrame(char* frame);

// A record as views into its payload bytes.
struct ServedRecordView {
  int64_t time_ms = 0;
  uint64_t total_hits = 0;
  std::string_view request_id, catalog, endpoint, query, variant, model_versions;
  std::string_view items, scores, features;  // the encodings below
};
// Parses a payload (without the frame header); false when its fields do not add up.
bool ParseServedPayload(std::string_view payload, ServedRecordView* out);
// The request_id of a payload without parsing the rest; empty when damaged.
std::string_view PayloadRequestId(std::string_view payload);

// The frame at the start of `bytes`: its payload when the frame is whole and its CRC matches.
// `frame_bytes` gets the frame's length (header included). False at a torn or damaged frame.
bool ReadFrame(std::string_view bytes, std::string_view* payload, size_t* frame_bytes);

// CRC-32C (Castagnoli, iSCSI polynomial 0x1EDC6F41, RFC 3720 appendix B.4), the checksum of
// ext4 metadata and LevelDB logs: SSE4.2 instructions where the CPU has them, a table otherwise.
uint32_t Crc32c(std::string_view bytes);

// Per item: u32 little-endian byte length, then the bytes.
void EncodeStrings(std::span<const std::string> strings, std::string* out);
bool DecodeStrings(std::string_view blob, std::vector<std::string>* out);

// f32 little-endian, one per value.
void EncodeFloats(std::span<const float> values, std::string* out);
bool DecodeFloats(std::string_view blob, std::vector<float>* out);

// Per row: u32 count, then that many f32. Empty input encodes as an empty BLOB.
void EncodeFloatRows(std::span<const std::vector<float>> rows, std::string* out);
bool DecodeFloatRows(std::string_view blob, std::vector<std::vector<float>>* out);

// Milliseconds of a UUIDv7 in canonical text form (RFC 9562, section 5.7: the first 48 bits),
// or -1 when `id` is not a UUIDv7.
int64_t UuidV7Millis(std::string_view id);

}  // namespace shelfwatch::feedback::codec
