// Compact row values, shaped like TiDB's rowcodec v2:
//
//   byte 0      version (128)
//   byte 1      flags: bit 0 set = "large" (column ids u32, offsets u32), else u8 / u16
//   u16 LE      number of non-NULL columns N
//   u16 LE      number of NULL columns M
//   N ids       ascending column ids of the non-NULL values
//   M ids       ascending column ids of the NULL values
//   N offsets   end offset of each non-NULL value inside the data section
//   data        the values, back to back
//
// Values: integers in the fewest of 1/2/4/8 little-endian bytes (signed or unsigned by the
// datum kind), floats as memcomparable 8 bytes, strings raw, decimals as codec.h's
// EncodeDecimal, times as their Pack() in 8 LE bytes, durations as integers of
// microseconds. Column ids absent from a row take the column's default on decode.
//
// Decoding is strict: any inconsistency (bad version, unsorted or duplicate ids, offsets
// out of order or past the data, a value whose size does not fit its column's type,
// trailing bytes) is InvalidArgument.
//
// Thread safety: RowDecoder is immutable after construction and may be shared.

#ifndef RUTILE_SQL_CODEC_ROWCODEC_H_
#define RUTILE_SQL_CODEC_ROWCODEC_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/chunk/chunk.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql::codec {

inline constexpr uint8_t kRowCodecVersion = 128;

// Encodes a row of (column id, value) pairs; ids need not be sorted but must be distinct
// and non-negative. Fails on MinNotNull/MaxValue datums and duplicate ids.
absl::StatusOr<std::string> EncodeRow(std::span<const int64_t> column_ids,
                                      std::span<const Datum> values);

struct RowColumn {
  int64_t id = 0;
  FieldType type;
  // Taken when the row has no value for this column (added after the row was written).
  Datum default_value;
  // The column is the integer handle: its value comes from the key, not the row.
  bool is_handle = false;
};

class RowDecoder {
 public:
  explicit RowDecoder(std::vector<RowColumn> columns);

  const std::vector<RowColumn>& columns() const { return columns_; }

  // Decodes `value` (the row stored under `handle`) into one datum per column.
  absl::StatusOr<std::vector<Datum>> Decode(std::string_view value, int64_t handle) const;
  // The same into `out` (cleared first), reusing its storage.
  absl::Status DecodeInto(std::string_view value, int64_t handle, std::vector<Datum>* out) const;
  // Appends the decoded row to `chunk`, whose columns are this decoder's columns in order.
  absl::Status DecodeToChunk(std::string_view value, int64_t handle, Chunk* chunk) const;

 private:
  std::vector<RowColumn> columns_;
};

}  // namespace rutile::sql::codec

#endif  // RUTILE_SQL_CODEC_ROWCODEC_H_
