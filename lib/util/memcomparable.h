// Memcomparable encodings: byte strings whose unsigned lexicographic order (memcmp, then
// shorter first) equals the order of the values they encode, so SQL row keys and index
// keys can be compared by the storage engine without decoding. The layouts are TiDB's
// (util/codec), so keys have the same shape as TiKV's:
//
//   Bytes      groups of 8 data bytes, the last one padded with 0x00, each followed by a
//              marker 0xFF - (number of pad bytes). An empty string is one all-pad group
//              [00 x8, F7]; "abc" is [61 62 63 00 00 00 00 00, FA]; exactly 8 bytes take
//              a full group with marker FF and then an all-pad group.
//   Int64      8 bytes big-endian with the sign bit flipped.
//   Uint64     8 bytes big-endian.
//   Float64    8 bytes: IEEE bits with the sign bit set for values >= 0, all bits
//              inverted for negative values. -0.0 is encoded as +0.0 (they are equal).
//   Comparable varint / uvarint
//              one tag byte giving sign and length, then the minimal big-endian bytes;
//              values 0..239 take a single byte.
//   *Desc      the ascending encoding with every byte inverted, which reverses the order.
//
// Compact bytes (zigzag varint length + data) are also here because row values use them
// beside memcomparable keys; they are NOT order-preserving.
//
// Decoders read from a std::string_view cursor. On success they advance it past what
// they consumed; on truncated or corrupted input (bad marker, non-zero padding, an
// encoding the encoder never writes) they return InvalidArgument and leave the cursor
// unchanged. They never read outside the view. Every input a decoder accepts is exactly
// what the encoder writes for the decoded value, so decode-then-encode is the identity.
//
// Thread safety: all functions are pure.

#ifndef RUTILE_UTIL_MEMCOMPARABLE_H_
#define RUTILE_UTIL_MEMCOMPARABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rutile::memcomparable {

// Size of one encoded group of Bytes: 8 data bytes and a marker.
inline constexpr size_t kBytesGroupSize = 8;
inline constexpr size_t kEncodedGroupSize = kBytesGroupSize + 1;

// Length of EncodeBytes(data) for data of `n` bytes.
inline constexpr size_t EncodedBytesLength(size_t n) {
  return (n / kBytesGroupSize + 1) * kEncodedGroupSize;
}

// ---- Encoders: each appends to *dst. ----

void EncodeBytes(std::string* dst, std::string_view data);
void EncodeBytesDesc(std::string* dst, std::string_view data);
void EncodeInt64(std::string* dst, int64_t v);
void EncodeInt64Desc(std::string* dst, int64_t v);
void EncodeUint64(std::string* dst, uint64_t v);
void EncodeUint64Desc(std::string* dst, uint64_t v);
void EncodeFloat64(std::string* dst, double v);
void EncodeFloat64Desc(std::string* dst, double v);
void EncodeComparableVarint(std::string* dst, int64_t v);
void EncodeComparableUvarint(std::string* dst, uint64_t v);
// Not order-preserving: zigzag varint of the length, then the bytes.
void EncodeCompactBytes(std::string* dst, std::string_view data);

// ---- Decoders: each consumes one value from *in. ----

// Appends the decoded bytes to *out (which is left as it was on error).
absl::Status DecodeBytes(std::string_view* in, std::string* out);
absl::Status DecodeBytesDesc(std::string_view* in, std::string* out);
absl::StatusOr<int64_t> DecodeInt64(std::string_view* in);
absl::StatusOr<int64_t> DecodeInt64Desc(std::string_view* in);
absl::StatusOr<uint64_t> DecodeUint64(std::string_view* in);
absl::StatusOr<uint64_t> DecodeUint64Desc(std::string_view* in);
absl::StatusOr<double> DecodeFloat64(std::string_view* in);
absl::StatusOr<double> DecodeFloat64Desc(std::string_view* in);
absl::StatusOr<int64_t> DecodeComparableVarint(std::string_view* in);
absl::StatusOr<uint64_t> DecodeComparableUvarint(std::string_view* in);
// Returns a view into *in's storage.
absl::StatusOr<std::string_view> DecodeCompactBytes(std::string_view* in);

// Number of bytes the Bytes value at the start of `in` occupies, without decoding it
// (how a key scanner skips a column). Same errors as DecodeBytes.
absl::StatusOr<size_t> PeekBytesLength(std::string_view in, bool descending = false);

}  // namespace rutile::memcomparable

#endif  // RUTILE_UTIL_MEMCOMPARABLE_H_
