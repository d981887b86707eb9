// Byte-level encodings shared by Rutile's wire and persisted formats: fixed-width integers
// in little- and big-endian order, LEB128 varints (LevelDB/protobuf layout), zigzag
// signed varints, and length-prefixed byte strings.
//
// Encoders append to a std::string or write into a caller-provided buffer. Decoders read
// from a std::string_view cursor: on success they consume what they read and advance the
// cursor; on truncated or malformed input they return false and leave the cursor
// untouched. They never read outside the view, whatever the input.
//
// Varint decoding is strict: an encoding longer than the type allows, a value that
// overflows the type, or a non-minimal encoding (a trailing 0x00 continuation byte, as in
// "80 00") is rejected. So every accepted input is exactly what the encoder writes for
// the decoded value.
//
// Thread safety: all functions are pure.

#ifndef RUTILE_UTIL_CODING_H_
#define RUTILE_UTIL_CODING_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rutile {

// Longest varint encodings.
inline constexpr size_t kMaxVarint32Length = 5;
inline constexpr size_t kMaxVarint64Length = 10;

// ---- Fixed width, written into a buffer that has room for it. ----

inline void EncodeFixed32(char* dst, uint32_t value) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(value >> (8 * i));
}
inline void EncodeFixed64(char* dst, uint64_t value) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(value >> (8 * i));
}
inline void EncodeFixed32BE(char* dst, uint32_t value) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(value >> (8 * (3 - i)));
}
inline void EncodeFixed64BE(char* dst, uint64_t value) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(value >> (8 * (7 - i)));
}

// Reads from a buffer the caller knows holds at least 4 (or 8) bytes.
inline uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
inline uint32_t DecodeFixed32BE(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | u[i];
  return v;
}
inline uint64_t DecodeFixed64BE(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | u[i];
  return v;
}

// ---- Appending to a string. ----

void PutFixed32(std::string* dst, uint32_t value);
void PutFixed64(std::string* dst, uint64_t value);
void PutFixed32BE(std::string* dst, uint32_t value);
void PutFixed64BE(std::string* dst, uint64_t value);
void PutVarint32(std::string* dst, uint32_t value);
void PutVarint64(std::string* dst, uint64_t value);
// Zigzag-encodes `value` (0, -1, 1, -2, ... map to 0, 1, 2, 3, ...) then writes a varint.
void PutVarsint64(std::string* dst, int64_t value);
// Writes varint32(value.size()) followed by the bytes. `value.size()` must fit in 32 bits.
void PutLengthPrefixed(std::string* dst, std::string_view value);

// Writes a varint into `dst`, which must have room for kMaxVarint*Length bytes; returns
// the byte after the last one written.
char* EncodeVarint32(char* dst, uint32_t value);
char* EncodeVarint64(char* dst, uint64_t value);

// Number of bytes the varint encoding of `value` takes.
size_t VarintLength(uint64_t value);

inline uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// ---- Decoding from a cursor. Each returns false and leaves *input unchanged on error. ----

bool GetFixed32(std::string_view* input, uint32_t* value);
bool GetFixed64(std::string_view* input, uint64_t* value);
bool GetFixed32BE(std::string_view* input, uint32_t* value);
bool GetFixed64BE(std::string_view* input, uint64_t* value);
bool GetVarint32(std::string_view* input, uint32_t* value);
bool GetVarint64(std::string_view* input, uint64_t* value);
bool GetVarsint64(std::string_view* input, int64_t* value);
// Sets *value to a view into *input's storage; it stays valid as long as that storage.
bool GetLengthPrefixed(std::string_view* input, std::string_view* value);

// Pointer-range forms: decode a varint from [p, limit). Return the byte after the varint,
// or nullptr if the bytes in range are truncated or malformed.
const char* GetVarint32Ptr(const char* p, const char* limit, uint32_t* value);
const char* GetVarint64Ptr(const char* p, const char* limit, uint64_t* value);

}  // namespace rutile

#endif  // RUTILE_UTIL_CODING_H_
