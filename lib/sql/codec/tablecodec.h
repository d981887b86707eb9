// TiDB's key layout for tables, indexes and metadata (tablecodec.go and structure/):
//
//   t{table_id}_r{handle}                  a row; ids and handle as memcomparable int64
//   t{table_id}_i{index_id}{values}        a unique index entry (values key-encoded)
//   t{table_id}_i{index_id}{values}{handle}  a non-unique index entry (handle as an int datum)
//   m{key}s                                a metadata string:  'm' + EncodeBytes(key) +
//   EncodeUint64('s') m{key}h{field}                         a metadata hash field: 'm' +
//   EncodeBytes(key) +
//                                          EncodeUint64('h') + EncodeBytes(field)
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_CODEC_TABLECODEC_H_
#define RUTILE_SQL_CODEC_TABLECODEC_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/types/datum.h"

namespace rutile::sql::codec {

inline constexpr char kTablePrefix = 't';
inline constexpr char kMetaPrefix = 'm';
inline constexpr std::string_view kRecordPrefixSep = "_r";
inline constexpr std::string_view kIndexPrefixSep = "_i";

// t{table_id}
std::string EncodeTablePrefix(int64_t table_id);
// t{table_id}_r
std::string EncodeRecordPrefix(int64_t table_id);
// t{table_id}_r{handle}
std::string EncodeRowKey(int64_t table_id, int64_t handle);
// Parses a row key; InvalidArgument if `key` is not exactly one.
absl::Status DecodeRowKey(std::string_view key, int64_t* table_id, int64_t* handle);
bool IsRecordKey(std::string_view key);

// t{table_id}_i{index_id}
std::string EncodeIndexPrefix(int64_t table_id, int64_t index_id);
// t{table_id}_i{index_id} followed by the values; with `handle` (non-unique indexes and
// unique ones with a NULL value) the handle is appended as an int datum.
// `collations` (optional, one per value) selects sort-key encoding for strings.
std::string EncodeIndexKey(int64_t table_id, int64_t index_id, std::span<const Datum> values,
                           std::optional<int64_t> handle = std::nullopt,
                           std::span<const Collation> collations = {});
// Parses an index key into its ids and every datum after the prefix (the values and, when
// present, the handle as the last int datum).
absl::Status DecodeIndexKey(std::string_view key, int64_t* table_id, int64_t* index_id,
                            std::vector<Datum>* datums);
bool IsIndexKey(std::string_view key);
// The table id of any t-prefixed key.
absl::StatusOr<int64_t> DecodeTableId(std::string_view key);

// Metadata keys (TiDB's structure layer).
std::string MetaStringKey(std::string_view key);
std::string MetaHashPrefix(std::string_view key);
std::string MetaHashKey(std::string_view key, std::string_view field);
// Parses a hash field key into its key and field.
absl::Status DecodeMetaHashKey(std::string_view encoded, std::string* key, std::string* field);

// The smallest key greater than every key with prefix `key` (empty if none exists, i.e.
// the key is all 0xFF).
std::string PrefixNext(std::string_view key);

}  // namespace rutile::sql::codec

#endif  // RUTILE_SQL_CODEC_TABLECODEC_H_
