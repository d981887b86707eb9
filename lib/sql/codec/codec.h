// Memcomparable datum encoding for keys (TiDB's util/codec EncodeKey): each datum is a
// flag byte and the value's memcomparable bytes, so encoded keys sort like the tuples of
// values they hold (for values of the same type) and like NULL < values.
//
//   NULL        00
//   bytes       01 + memcomparable::EncodeBytes     (also MinNotNull: a bare 01... see below)
//   int         03 + memcomparable::EncodeInt64
//   uint / Time 04 + memcomparable::EncodeUint64     (Time as its Pack())
//   float       05 + memcomparable::EncodeFloat64
//   decimal     06 + sign, exponent and digit pairs, then the scale (below)
//   duration    07 + memcomparable::EncodeInt64 of the microseconds
//   MaxValue    FA
//   MinNotNull  01 alone (sorts after NULL, before every encoded string); only valid as a
//               range bound, never decoded.
//
// Decimal: one sign byte (00 negative, 01 zero, 02 positive); for non-zero values the
// adjusted exponent X (value = 0.D * 10^X, D's first digit non-zero) as X + 128, then
// D without trailing zeros as digit pairs (1 + 10*d1 + d2, last pair zero-padded) and a
// 00 terminator; a negative value has those bytes inverted. The value's scale follows as
// one byte, so decoding restores the exact Decimal, and values of one scale order by
// value.
//
// Decoders are strict: truncated or malformed input gives InvalidArgument, never a crash,
// and the cursor is left unchanged on error.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_CODEC_CODEC_H_
#define RUTILE_SQL_CODEC_CODEC_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql::codec {

inline constexpr uint8_t kNilFlag = 0;
inline constexpr uint8_t kBytesFlag = 1;
inline constexpr uint8_t kCompactBytesFlag = 2;
inline constexpr uint8_t kIntFlag = 3;
inline constexpr uint8_t kUintFlag = 4;
inline constexpr uint8_t kFloatFlag = 5;
inline constexpr uint8_t kDecimalFlag = 6;
inline constexpr uint8_t kDurationFlag = 7;
inline constexpr uint8_t kMaxFlag = 250;

// Appends the key encoding of `d`. Strings under a non-binary `collation` are encoded as
// their sort key (so equal-under-collation strings give equal keys; the original text is
// not recoverable from the key).
void EncodeKeyDatum(std::string* dst, const Datum& d, Collation collation = Collation::kBinary);
// Appends the key encoding of each datum.
void EncodeKey(std::string* dst, std::span<const Datum> values);

// Decimal alone (no flag), as described above.
void EncodeDecimal(std::string* dst, const Decimal& d);
absl::StatusOr<Decimal> DecodeDecimal(std::string_view* in);

// Decodes one datum. Time values come back as uint64 (the key does not say a uint is a
// time); use DecodeKeyDatumAs when the type is known.
absl::StatusOr<Datum> DecodeKeyDatum(std::string_view* in);
// Decodes one datum of SQL type `ft`: a uint is turned into a Time of ft's type for
// temporal columns (validated), a float into FLOAT for FLOAT columns.
absl::StatusOr<Datum> DecodeKeyDatumAs(std::string_view* in, const FieldType& ft);
// Decodes every datum in `in`.
absl::StatusOr<std::vector<Datum>> DecodeKey(std::string_view in);
// Bytes the datum at the start of `in` occupies.
absl::StatusOr<size_t> PeekKeyDatumLength(std::string_view in);

}  // namespace rutile::sql::codec

#endif  // RUTILE_SQL_CODEC_CODEC_H_
