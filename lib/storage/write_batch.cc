#include "storage/write_batch.h"

#include <algorithm>
#include <cassert>

namespace rutile::storage {

std::string CfName(CF cf) {
  switch (cf) {
    case CF::kDefault:
      return "default";
    case CF::kLock:
      return "lock";
    case CF::kWrite:
      return "write";
    case CF::kRaft:
      return "raft";
  }
  return "cf#" + std::to_string(static_cast<int>(cf));
}

// Performance-critical path.
void WriteBatch::Add(OpType type, CF cf, std::string_view key, std::string_view value) {
  const char cf_byte = static_cast<char>(cf);
  Record r;
  r.type = type;
  r.cf = cf;
  r.key_offset = data_.size();
  r.key_size = key.size();
  r.value_offset = r.key_offset + 1 + key.size();
  r.value_size = value.size();
  data_.push_back(cf_byte);
  data_.append(key);
  data_.push_back(cf_byte);
  data_.append(value);
  ops_.push_back(r);
  const int bit = static_cast<int>(cf) < 31 ? static_cast<int>(cf) : 31;
  cf_mask_ |= uint32_t{1} << bit;
}

void WriteBatch::Put(CF cf, std::string_view key, std::string_view value) {
  Add(OpType::kPut, cf, key, value);
}

void WriteBatch::Delete(CF cf, std::string_view key) { Add(OpType::kDelete, cf, key, {}); }

void WriteBatch::DeleteRange(CF cf, std::string_view start, std::string_view end) {
  Add(OpType::kDeleteRange, cf, start, end);
  has_delete_range_ = true;
}

void WriteBatch::Reserve(size_t ops, size_t bytes) {
  // Growing at least geometrically, so that many calls on one batch (group commit of many
  // Raft groups) stay linear. Each operation also stores two column family bytes.
  const size_t want_ops = ops_.size() + ops;
  if (want_ops > ops_.capacity()) ops_.reserve(std::max(want_ops, 2 * ops_.capacity()));
  const size_t want_bytes = data_.size() + bytes + 2 * ops;
  if (want_bytes > data_.capacity()) data_.reserve(std::max(want_bytes, 2 * data_.capacity()));
}

void WriteBatch::Clear() {
  ops_.clear();
  data_.clear();
  cf_mask_ = 0;
  has_delete_range_ = false;
}

// Performance-critical path.
WriteBatch::Op WriteBatch::op(size_t i) const {
  assert(i < ops_.size());
  const Record& r = ops_[i];
  const char* base = data_.data();
  Op op;
  op.type = r.type;
  op.cf = r.cf;
  op.prefixed_key = std::string_view(base + r.key_offset, r.key_size + 1);
  op.prefixed_value = std::string_view(base + r.value_offset, r.value_size + 1);
  op.key = op.prefixed_key.substr(1);
  op.value = op.prefixed_value.substr(1);
  return op;
}

}  // namespace rutile::storage
