// Percolator's persisted types (TiKV's txn_types, DESIGN.md §9): timestamps, the MVCC key
// layout, locks, write records and mutations.
//
// Key layout. A user key is stored memcomparable-encoded (memcomparable::EncodeBytes), so
// encoded keys sort as the user keys do and no encoded key is a prefix of another. Column
// family `lock` is keyed by the encoded key alone. Column families `write` (commit_ts) and
// `default` (start_ts) append the big-endian complement of a timestamp, so the versions of
// one key sort newest first and every version of a key sorts before the next user key.
//
// Value formats (hand-rolled, compact, in the spirit of TiKV's; no protobuf, so a lock or
// write record costs no allocation beyond its strings and decoding is strict):
//
//   Lock   type byte ('P' put, 'D' delete, 'L' lock, 'S' pessimistic),
//          length-prefixed primary, varint start_ts, varint ttl,
//          then optional fields, each a tag byte, in strictly increasing tag order:
//            'a' async commit: varint count + length-prefixed secondaries
//            'c' min_commit_ts (varint, non-zero)   'f' for_update_ts (varint, non-zero)
//            'r' rollback_ts: varint count (> 0) + varints
//            't' txn_size (varint, non-zero)        'v' short value, length-prefixed
//   Write  type byte ('P' put, 'D' delete, 'L' lock, 'R' rollback), varint start_ts,
//          then optional fields in strictly increasing tag order:
//            'F' gc_fence (varint, may be 0)   'R' has_overlapped_rollback (no payload)
//            'v' short value, length-prefixed
//          A protected rollback is a Rollback whose short value is "p" (as TiKV).
//
// Decoders accept exactly what the encoders write: a bad byte, a truncated field, an
// unknown or repeated tag, a zero where the encoder omits zeros, or trailing bytes yield
// DataLoss (stored bytes are corrupt); they never crash and never read out of bounds.
//
// Thread safety: value types and pure functions.

#ifndef RUTILE_TXN_TYPES_H_
#define RUTILE_TXN_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rutile::txn {

// A TSO timestamp: physical milliseconds in the high 46 bits, a logical counter in the low
// 18 (PD's layout). 0 means "none"; kMaxTs means "latest" for reads.
using TimeStamp = uint64_t;
inline constexpr TimeStamp kMaxTs = ~uint64_t{0};
inline constexpr int kLogicalBits = 18;

inline constexpr TimeStamp ComposeTs(uint64_t physical_ms, uint64_t logical) {
  return (physical_ms << kLogicalBits) | logical;
}
inline constexpr uint64_t PhysicalMs(TimeStamp ts) { return ts >> kLogicalBits; }

// Values up to this many bytes live inside the lock and the write record; longer ones in
// CF default under key+start_ts.
inline constexpr size_t kShortValueMaxLen = 255;
inline bool IsShortValue(std::string_view v) { return v.size() <= kShortValueMaxLen; }

// ---- Keys ----

// The memcomparable encoding of a user key.
std::string EncodeKey(std::string_view raw);
// The user key of an encoded key (which must be exactly one encoded Bytes value).
absl::StatusOr<std::string> DecodeKey(std::string_view encoded);
// encoded + the 8-byte big-endian complement of `ts`.
std::string AppendTs(std::string_view encoded, TimeStamp ts);
// The timestamp at the end of a key made by AppendTs. DataLoss if shorter than 8 bytes.
absl::StatusOr<TimeStamp> DecodeTs(std::string_view key_with_ts);
// The encoded user key part of a key made by AppendTs (a view into `key_with_ts`).
absl::StatusOr<std::string_view> TruncateTs(std::string_view key_with_ts);
// True when `key_with_ts` is `encoded` followed by exactly a timestamp.
inline bool IsUserKeyEq(std::string_view key_with_ts, std::string_view encoded) {
  return key_with_ts.size() == encoded.size() + 8 &&
         key_with_ts.substr(0, encoded.size()) == encoded;
}
// The smallest key that sorts after every key `encoded` + ts (and after `encoded` itself):
// where a scan continues with the next user key, in any CF.
std::string NextUserKeySeek(std::string_view encoded);

// ---- Locks ----

enum class LockType : uint8_t { kPut, kDelete, kLock, kPessimistic };
const char* LockTypeName(LockType t);

struct Lock {
  LockType type = LockType::kPut;
  std::string primary;  // Raw user key of the transaction's primary.
  TimeStamp start_ts = 0;
  uint64_t ttl = 0;  // Milliseconds, counted from PhysicalMs(start_ts).
  std::optional<std::string> short_value;
  TimeStamp for_update_ts = 0;  // Non-zero in pessimistic transactions.
  uint64_t txn_size = 0;
  TimeStamp min_commit_ts = 0;
  bool use_async_commit = false;
  std::vector<std::string> secondaries;  // Raw keys; async commit primary only.
  // Start timestamps of other transactions rolled back on this key whose rollback record
  // this lock's commit could overwrite (async commit only).
  std::vector<TimeStamp> rollback_ts;

  bool is_pessimistic_txn() const { return for_update_ts != 0; }
  std::string Encode() const;
  static absl::StatusOr<Lock> Decode(std::string_view data);
  std::string DebugString() const;
  bool operator==(const Lock&) const = default;
};

// What a reader or writer blocked by a lock learns about it (kvrpcpb.LockInfo).
struct LockInfo {
  std::string key;  // Raw.
  std::string primary;
  TimeStamp lock_version = 0;  // The lock's start_ts.
  uint64_t lock_ttl = 0;
  uint64_t txn_size = 0;
  LockType lock_type = LockType::kPut;
  TimeStamp lock_for_update_ts = 0;
  bool use_async_commit = false;
  TimeStamp min_commit_ts = 0;
  std::vector<std::string> secondaries;

  static LockInfo From(const Lock& lock, std::string raw_key);
  bool operator==(const LockInfo&) const = default;
};

// ---- Write records ----

enum class WriteType : uint8_t { kPut, kDelete, kLock, kRollback };
const char* WriteTypeName(WriteType t);
// The write type a lock of type `t` commits as (a pessimistic lock commits as kLock).
WriteType WriteTypeFromLock(LockType t);

inline constexpr std::string_view kProtectedRollbackValue = "p";

struct Write {
  WriteType type = WriteType::kPut;
  TimeStamp start_ts = 0;
  std::optional<std::string> short_value;
  bool has_overlapped_rollback = false;
  // Set when has_overlapped_rollback was added to a record that was not the newest: the
  // commit_ts of the next newer Put/Delete, or 0 if none (see GcFenceAllowsRead).
  std::optional<TimeStamp> gc_fence;

  static Write Rollback(TimeStamp start_ts, bool is_protected);
  bool is_protected_rollback() const {
    return type == WriteType::kRollback && short_value.has_value() &&
           *short_value == kProtectedRollbackValue;
  }
  // False when this record, found as the newest version at or below `read_ts`, must be
  // treated as absent: its gc_fence says a newer version existed at or below read_ts.
  bool GcFenceAllowsRead(TimeStamp read_ts) const {
    return !(gc_fence.has_value() && *gc_fence != 0 && *gc_fence <= read_ts);
  }

  std::string Encode() const;
  static absl::StatusOr<Write> Decode(std::string_view data);
  std::string DebugString() const;
  bool operator==(const Write&) const = default;
};

// A write record read in place (scans decode millions): the short value views the encoded
// bytes, which must outlive it.
struct WriteRef {
  WriteType type = WriteType::kPut;
  TimeStamp start_ts = 0;
  bool has_short_value = false;
  std::string_view short_value;
  bool has_overlapped_rollback = false;
  std::optional<TimeStamp> gc_fence;

  // As Write::GcFenceAllowsRead.
  bool GcFenceAllowsRead(TimeStamp read_ts) const {
    return !(gc_fence.has_value() && *gc_fence != 0 && *gc_fence <= read_ts);
  }
  // The same errors as Write::Decode.
  static absl::StatusOr<WriteRef> Decode(std::string_view data);
};

// ---- Mutations ----

enum class MutationType : uint8_t {
  kPut,
  kDelete,
  kLock,
  kInsert,          // Put that requires the key not to exist.
  kCheckNotExists,  // Writes nothing; fails if the key exists.
};

struct Mutation {
  MutationType type = MutationType::kPut;
  std::string key;  // Raw.
  std::string value;

  static Mutation Put(std::string key, std::string value) {
    return {MutationType::kPut, std::move(key), std::move(value)};
  }
  static Mutation Delete(std::string key) { return {MutationType::kDelete, std::move(key), {}}; }
  static Mutation LockKey(std::string key) { return {MutationType::kLock, std::move(key), {}}; }
  static Mutation Insert(std::string key, std::string value) {
    return {MutationType::kInsert, std::move(key), std::move(value)};
  }
  static Mutation CheckNotExists(std::string key) {
    return {MutationType::kCheckNotExists, std::move(key), {}};
  }
  bool should_not_exist() const {
    return type == MutationType::kInsert || type == MutationType::kCheckNotExists;
  }
  bool should_not_write() const { return type == MutationType::kCheckNotExists; }
  bool has_value() const { return type == MutationType::kPut || type == MutationType::kInsert; }
  LockType lock_type() const;  // Requires !should_not_write().
};

// Printable form of a raw key: printable ASCII as is, other bytes as \xNN.
std::string EscapeKey(std::string_view raw);

}  // namespace rutile::txn

#endif  // RUTILE_TXN_TYPES_H_
