#include "txn/types.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/coding.h"
#include "util/memcomparable.h"

namespace rutile::txn {

namespace {

absl::Status Corrupt(std::string_view what, std::string_view data) {
  return absl::DataLossError(
      absl::StrCat("corrupt ", std::string(what), " (", data.size(), " bytes): ", EscapeKey(data)));
}

bool GetTag(std::string_view* in, char* tag) {
  if (in->empty()) return false;
  *tag = in->front();
  in->remove_prefix(1);
  return true;
}

bool GetString(std::string_view* in, std::string* out) {
  std::string_view v;
  if (!GetLengthPrefixed(in, &v)) return false;
  out->assign(v.data(), v.size());
  return true;
}

// Short values print in full up to 32 bytes, longer ones as their size.
std::string OptValue(const std::optional<std::string>& v) {
  if (!v.has_value()) return "none";
  if (v->size() > 32) return absl::StrCat("<", v->size(), " bytes>");
  return absl::StrCat("\"", EscapeKey(*v), "\"");
}

}  // namespace

// ---- Keys ----

std::string EncodeKey(std::string_view raw) {
  std::string out;
  out.reserve(memcomparable::EncodedBytesLength(raw.size()));
  memcomparable::EncodeBytes(&out, raw);
  return out;
}

absl::StatusOr<std::string> DecodeKey(std::string_view encoded) {
  std::string out;
  std::string_view in = encoded;
  absl::Status s = memcomparable::DecodeBytes(&in, &out);
  if (!s.ok() || !in.empty()) return Corrupt("key", encoded);
  return out;
}

std::string AppendTs(std::string_view encoded, TimeStamp ts) {
  std::string out;
  out.reserve(encoded.size() + 8);
  out.append(encoded.data(), encoded.size());
  PutFixed64BE(&out, ~ts);
  return out;
}

absl::StatusOr<TimeStamp> DecodeTs(std::string_view key_with_ts) {
  if (key_with_ts.size() < 8) return Corrupt("versioned key", key_with_ts);
  return ~DecodeFixed64BE(key_with_ts.data() + key_with_ts.size() - 8);
}

absl::StatusOr<std::string_view> TruncateTs(std::string_view key_with_ts) {
  if (key_with_ts.size() < 8) return Corrupt("versioned key", key_with_ts);
  return key_with_ts.substr(0, key_with_ts.size() - 8);
}

std::string NextUserKeySeek(std::string_view encoded) {
  std::string out(encoded);
  out.append(8, '\xff');
  out.push_back('\0');
  return out;
}

std::string EscapeKey(std::string_view raw) {
  std::string out;
  for (unsigned char c : raw) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

// ---- Locks ----

const char* LockTypeName(LockType t) {
  switch (t) {
    case LockType::kPut:
      return "Put";
    case LockType::kDelete:
      return "Delete";
    case LockType::kLock:
      return "Lock";
    case LockType::kPessimistic:
      return "Pessimistic";
  }
  return "?";
}

namespace {

char LockTypeByte(LockType t) {
  switch (t) {
    case LockType::kPut:
      return 'P';
    case LockType::kDelete:
      return 'D';
    case LockType::kLock:
      return 'L';
    case LockType::kPessimistic:
      return 'S';
  }
  return '?';
}

bool LockTypeFromByte(char c, LockType* t) {
  switch (c) {
    case 'P':
      *t = LockType::kPut;
      return true;
    case 'D':
      *t = LockType::kDelete;
      return true;
    case 'L':
      *t = LockType::kLock;
      return true;
    case 'S':
      *t = LockType::kPessimistic;
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string Lock::Encode() const {
  std::string out;
  out.reserve(16 + primary.size() + (short_value ? short_value->size() + 2 : 0));
  out.push_back(LockTypeByte(type));
  PutLengthPrefixed(&out, primary);
  PutVarint64(&out, start_ts);
  PutVarint64(&out, ttl);
  if (use_async_commit) {
    out.push_back('a');
    PutVarint64(&out, secondaries.size());
    for (const std::string& s : secondaries) PutLengthPrefixed(&out, s);
  }
  if (min_commit_ts != 0) {
    out.push_back('c');
    PutVarint64(&out, min_commit_ts);
  }
  if (for_update_ts != 0) {
    out.push_back('f');
    PutVarint64(&out, for_update_ts);
  }
  if (!rollback_ts.empty()) {
    out.push_back('r');
    PutVarint64(&out, rollback_ts.size());
    for (TimeStamp ts : rollback_ts) PutVarint64(&out, ts);
  }
  if (txn_size != 0) {
    out.push_back('t');
    PutVarint64(&out, txn_size);
  }
  if (short_value.has_value()) {
    out.push_back('v');
    PutLengthPrefixed(&out, *short_value);
  }
  return out;
}

absl::StatusOr<Lock> Lock::Decode(std::string_view data) {
  std::string_view in = data;
  Lock lock;
  char c;
  if (!GetTag(&in, &c) || !LockTypeFromByte(c, &lock.type) || !GetString(&in, &lock.primary) ||
      !GetVarint64(&in, &lock.start_ts) || !GetVarint64(&in, &lock.ttl)) {
    return Corrupt("lock", data);
  }
  char last = 0;
  while (!in.empty()) {
    char tag;
    GetTag(&in, &tag);
    if (tag <= last) return Corrupt("lock", data);
    last = tag;
    bool ok = true;
    switch (tag) {
      case 'a': {
        uint64_t n;
        ok = GetVarint64(&in, &n) && n <= in.size();  // Each secondary takes >= 1 byte.
        lock.use_async_commit = true;
        for (uint64_t i = 0; ok && i < n; ++i) {
          lock.secondaries.emplace_back();
          ok = GetString(&in, &lock.secondaries.back());
        }
        break;
      }
      case 'c':
        ok = GetVarint64(&in, &lock.min_commit_ts) && lock.min_commit_ts != 0;
        break;
      case 'f':
        ok = GetVarint64(&in, &lock.for_update_ts) && lock.for_update_ts != 0;
        break;
      case 'r': {
        uint64_t n;
        ok = GetVarint64(&in, &n) && n > 0 && n <= in.size();
        for (uint64_t i = 0; ok && i < n; ++i) {
          uint64_t ts;
          ok = GetVarint64(&in, &ts);
          lock.rollback_ts.push_back(ts);
        }
        break;
      }
      case 't':
        ok = GetVarint64(&in, &lock.txn_size) && lock.txn_size != 0;
        break;
      case 'v':
        lock.short_value.emplace();
        ok = GetString(&in, &*lock.short_value);
        break;
      default:
        ok = false;
    }
    if (!ok) return Corrupt("lock", data);
  }
  return lock;
}

std::string Lock::DebugString() const {
  std::string out = absl::StrCat(LockTypeName(type), " primary=", EscapeKey(primary),
                                 " start_ts=", start_ts, " ttl=", ttl);
  if (short_value) absl::StrAppend(&out, " value=", OptValue(short_value));
  if (for_update_ts) absl::StrAppend(&out, " for_update_ts=", for_update_ts);
  if (txn_size) absl::StrAppend(&out, " txn_size=", txn_size);
  if (min_commit_ts) absl::StrAppend(&out, " min_commit_ts=", min_commit_ts);
  if (use_async_commit) {
    std::vector<std::string> esc;
    for (const auto& s : secondaries) esc.push_back(EscapeKey(s));
    absl::StrAppend(&out, " async secondaries=[", absl::StrJoin(esc, ","), "]");
  }
  if (!rollback_ts.empty()) {
    absl::StrAppend(&out, " rollback_ts=[", absl::StrJoin(rollback_ts, ","), "]");
  }
  return out;
}

LockInfo LockInfo::From(const Lock& lock, std::string raw_key) {
  LockInfo info;
  info.key = std::move(raw_key);
  info.primary = lock.primary;
  info.lock_version = lock.start_ts;
  info.lock_ttl = lock.ttl;
  info.txn_size = lock.txn_size;
  info.lock_type = lock.type;
  info.lock_for_update_ts = lock.for_update_ts;
  info.use_async_commit = lock.use_async_commit;
  info.min_commit_ts = lock.min_commit_ts;
  info.secondaries = lock.secondaries;
  return info;
}

// ---- Write records ----

const char* WriteTypeName(WriteType t) {
  switch (t) {
    case WriteType::kPut:
      return "Put";
    case WriteType::kDelete:
      return "Delete";
    case WriteType::kLock:
      return "Lock";
    case WriteType::kRollback:
      return "Rollback";
  }
  return "?";
}

WriteType WriteTypeFromLock(LockType t) {
  switch (t) {
    case LockType::kPut:
      return WriteType::kPut;
    case LockType::kDelete:
      return WriteType::kDelete;
    case LockType::kLock:
    case LockType::kPessimistic:
      return WriteType::kLock;
  }
  return WriteType::kLock;
}

Write Write::Rollback(TimeStamp start_ts, bool is_protected) {
  Write w;
  w.type = WriteType::kRollback;
  w.start_ts = start_ts;
  if (is_protected) w.short_value = std::string(kProtectedRollbackValue);
  return w;
}

std::string Write::Encode() const {
  std::string out;
  out.reserve(12 + (short_value ? short_value->size() + 2 : 0));
  out.push_back(type == WriteType::kPut      ? 'P'
                : type == WriteType::kDelete ? 'D'
                : type == WriteType::kLock   ? 'L'
                                             : 'R');
  PutVarint64(&out, start_ts);
  if (gc_fence.has_value()) {
    out.push_back('F');
    PutVarint64(&out, *gc_fence);
  }
  if (has_overlapped_rollback) out.push_back('R');
  if (short_value.has_value()) {
    out.push_back('v');
    PutLengthPrefixed(&out, *short_value);
  }
  return out;
}

absl::StatusOr<WriteRef> WriteRef::Decode(std::string_view data) {
  std::string_view in = data;
  WriteRef w;
  char c;
  if (!GetTag(&in, &c)) return Corrupt("write", data);
  switch (c) {
    case 'P':
      w.type = WriteType::kPut;
      break;
    case 'D':
      w.type = WriteType::kDelete;
      break;
    case 'L':
      w.type = WriteType::kLock;
      break;
    case 'R':
      w.type = WriteType::kRollback;
      break;
    default:
      return Corrupt("write", data);
  }
  if (!GetVarint64(&in, &w.start_ts)) return Corrupt("write", data);
  // Fast path (a scan decodes one record per row): nothing but a short value under 128
  // bytes (one length byte) follows, as the general loop below would read it.
  if (in.size() >= 2 && in[0] == 'v' && static_cast<uint8_t>(in[1]) < 0x80 &&
      in.size() == 2 + static_cast<size_t>(static_cast<uint8_t>(in[1]))) {
    w.has_short_value = true;
    w.short_value = in.substr(2);
    return w;
  }
  char last = 0;
  while (!in.empty()) {
    char tag;
    GetTag(&in, &tag);
    if (tag <= last) return Corrupt("write", data);
    last = tag;
    bool ok = true;
    switch (tag) {
      case 'F': {
        uint64_t f;
        ok = GetVarint64(&in, &f);
        w.gc_fence = f;
        break;
      }
      case 'R':
        w.has_overlapped_rollback = true;
        break;
      case 'v':
        w.has_short_value = true;
        ok = GetLengthPrefixed(&in, &w.short_value);
        break;
      default:
        ok = false;
    }
    if (!ok) return Corrupt("write", data);
  }
  return w;
}

absl::StatusOr<Write> Write::Decode(std::string_view data) {
  absl::StatusOr<WriteRef> r = WriteRef::Decode(data);
  if (!r.ok()) return r.status();
  Write w;
  w.type = r->type;
  w.start_ts = r->start_ts;
  if (r->has_short_value) w.short_value.emplace(r->short_value);
  w.has_overlapped_rollback = r->has_overlapped_rollback;
  w.gc_fence = r->gc_fence;
  return w;
}

std::string Write::DebugString() const {
  std::string out = absl::StrCat(WriteTypeName(type), " start_ts=", start_ts);
  if (is_protected_rollback()) {
    absl::StrAppend(&out, " protected");
  } else if (short_value) {
    absl::StrAppend(&out, " value=", OptValue(short_value));
  }
  if (has_overlapped_rollback) absl::StrAppend(&out, " overlapped_rollback");
  if (gc_fence) absl::StrAppend(&out, " gc_fence=", *gc_fence);
  return out;
}

LockType Mutation::lock_type() const {
  switch (type) {
    case MutationType::kPut:
    case MutationType::kInsert:
      return LockType::kPut;
    case MutationType::kDelete:
      return LockType::kDelete;
    case MutationType::kLock:
    case MutationType::kCheckNotExists:
      return LockType::kLock;
  }
  return LockType::kLock;
}

}  // namespace rutile::txn
