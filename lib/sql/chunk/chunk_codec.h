// Chunks on the wire: what a coprocessor sends back to the SQL node (TiDB's chunk
// encoding for tipb's EncodeType_TypeChunk, our own layout).
//
//   varint32  number of columns C
//   varint32  number of rows N
//   C times:
//     u8      physical type (chunk.h PhysicalType)
//     u8      1 when some row is NULL; then ceil(N/8) bytes of null bitmap (bit set = NULL)
//     values  int64/uint64/float64: N x 8 bytes LE; bytes: N x u32 LE end offsets then the
//             data; decimal: N x codec EncodeDecimal; time: N x (u64 LE Pack, u8 type, u8
//             fsp); duration: N x (i64 LE micros, u8 fsp). NULL slots hold zero values.
//
// Only live rows (the selection's) are encoded. Decoding is strict: the column count and
// each physical type must match the types the receiver expects, and a truncated or
// trailing input is InvalidArgument.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_CHUNK_CHUNK_CODEC_H_
#define RUTILE_SQL_CHUNK_CHUNK_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sql/chunk/chunk.h"

namespace rutile::sql {

// Appends the encoding of `chunk`'s live rows to `dst`.
void EncodeChunk(const Chunk& chunk, std::string* dst);

// Decodes a chunk of columns typed `types`.
absl::StatusOr<Chunk> DecodeChunk(std::string_view data, const std::vector<FieldType>& types);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_CHUNK_CHUNK_CODEC_H_
