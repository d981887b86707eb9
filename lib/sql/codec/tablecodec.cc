#include "sql/codec/tablecodec.h"

#include "sql/codec/codec.h"
#include "util/memcomparable.h"

namespace rutile::sql::codec {
namespace {

constexpr size_t kIdLen = 8;
constexpr size_t kPrefixLen = 1 + kIdLen + 2;  // t{id}_r or t{id}_i

absl::Status BadKey(std::string_view what) {
  return absl::InvalidArgumentError("invalid key: " + std::string(what));
}

}  // namespace

std::string EncodeTablePrefix(int64_t table_id) {
  std::string key(1, kTablePrefix);
  memcomparable::EncodeInt64(&key, table_id);
  return key;
}

std::string EncodeRecordPrefix(int64_t table_id) {
  std::string key = EncodeTablePrefix(table_id);
  key.append(kRecordPrefixSep);
  return key;
}

std::string EncodeRowKey(int64_t table_id, int64_t handle) {
  std::string key = EncodeRecordPrefix(table_id);
  memcomparable::EncodeInt64(&key, handle);
  return key;
}

absl::StatusOr<int64_t> DecodeTableId(std::string_view key) {
  if (key.size() < 1 + kIdLen || key[0] != kTablePrefix) return BadKey("not a table key");
  std::string_view s = key.substr(1, kIdLen);
  return memcomparable::DecodeInt64(&s);
}

absl::Status DecodeRowKey(std::string_view key, int64_t* table_id, int64_t* handle) {
  if (key.size() != kPrefixLen + kIdLen || !IsRecordKey(key)) return BadKey("not a row key");
  absl::StatusOr<int64_t> t = DecodeTableId(key);
  if (!t.ok()) return t.status();
  std::string_view s = key.substr(kPrefixLen);
  absl::StatusOr<int64_t> h = memcomparable::DecodeInt64(&s);
  if (!h.ok()) return h.status();
  *table_id = *t;
  *handle = *h;
  return absl::OkStatus();
}

bool IsRecordKey(std::string_view key) {
  return key.size() >= kPrefixLen && key[0] == kTablePrefix &&
         key.substr(1 + kIdLen, 2) == kRecordPrefixSep;
}

bool IsIndexKey(std::string_view key) {
  return key.size() >= kPrefixLen && key[0] == kTablePrefix &&
         key.substr(1 + kIdLen, 2) == kIndexPrefixSep;
}

std::string EncodeIndexPrefix(int64_t table_id, int64_t index_id) {
  std::string key = EncodeTablePrefix(table_id);
  key.append(kIndexPrefixSep);
  memcomparable::EncodeInt64(&key, index_id);
  return key;
}

std::string EncodeIndexKey(int64_t table_id, int64_t index_id, std::span<const Datum> values,
                           std::optional<int64_t> handle, std::span<const Collation> collations) {
  std::string key = EncodeIndexPrefix(table_id, index_id);
  for (size_t i = 0; i < values.size(); ++i) {
    EncodeKeyDatum(&key, values[i], i < collations.size() ? collations[i] : Collation::kBinary);
  }
  if (handle.has_value()) EncodeKeyDatum(&key, Datum::Int(*handle));
  return key;
}

absl::Status DecodeIndexKey(std::string_view key, int64_t* table_id, int64_t* index_id,
                            std::vector<Datum>* datums) {
  if (key.size() < kPrefixLen + kIdLen || !IsIndexKey(key)) return BadKey("not an index key");
  absl::StatusOr<int64_t> t = DecodeTableId(key);
  if (!t.ok()) return t.status();
  std::string_view s = key.substr(kPrefixLen);
  absl::StatusOr<int64_t> idx = memcomparable::DecodeInt64(&s);
  if (!idx.ok()) return idx.status();
  absl::StatusOr<std::vector<Datum>> values = DecodeKey(s);
  if (!values.ok()) return values.status();
  *table_id = *t;
  *index_id = *idx;
  *datums = std::move(*values);
  return absl::OkStatus();
}

std::string MetaStringKey(std::string_view key) {
  std::string out(1, kMetaPrefix);
  memcomparable::EncodeBytes(&out, key);
  memcomparable::EncodeUint64(&out, 's');
  return out;
}

std::string MetaHashPrefix(std::string_view key) {
  std::string out(1, kMetaPrefix);
  memcomparable::EncodeBytes(&out, key);
  memcomparable::EncodeUint64(&out, 'h');
  return out;
}

std::string MetaHashKey(std::string_view key, std::string_view field) {
  std::string out = MetaHashPrefix(key);
  memcomparable::EncodeBytes(&out, field);
  return out;
}

absl::Status DecodeMetaHashKey(std::string_view encoded, std::string* key, std::string* field) {
  if (encoded.empty() || encoded[0] != kMetaPrefix) return BadKey("not a meta key");
  std::string_view s = encoded.substr(1);
  std::string k, f;
  if (absl::Status st = memcomparable::DecodeBytes(&s, &k); !st.ok()) return st;
  absl::StatusOr<uint64_t> type = memcomparable::DecodeUint64(&s);
  if (!type.ok()) return type.status();
  if (*type != 'h') return BadKey("not a meta hash key");
  if (absl::Status st = memcomparable::DecodeBytes(&s, &f); !st.ok()) return st;
  if (!s.empty()) return BadKey("trailing bytes after meta hash key");
  *key = std::move(k);
  *field = std::move(f);
  return absl::OkStatus();
}

std::string PrefixNext(std::string_view key) {
  std::string out(key);
  for (size_t i = out.size(); i > 0; --i) {
    unsigned char c = static_cast<unsigned char>(out[i - 1]);
    if (c != 0xFF) {
      out[i - 1] = static_cast<char>(c + 1);
      out.resize(i);
      return out;
    }
  }
  return std::string();
}

}  // namespace rutile::sql::codec
