// storage::WriteBatch collects Put, Delete and DeleteRange operations on any column
// families; Engine::Write applies them as one unit (see engine.h for what "one unit" means
// for each engine). The batch owns copies of every key and value given to it.
//
// Thread safety: none; a batch is built and read by one fiber at a time. Several fibers may
// read (and Write) the same batch at once as long as nobody changes it.

#ifndef RUTILE_STORAGE_WRITE_BATCH_H_
#define RUTILE_STORAGE_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/cf.h"

namespace rutile::storage {

class WriteBatch {
 public:
  enum class OpType : uint8_t { kPut, kDelete, kDeleteRange };

  // One operation as recorded. The views point into the batch and stay valid until the
  // batch is changed, cleared or destroyed.
  struct Op {
    OpType type;
    CF cf;
    // Put and Delete: the key. DeleteRange: the inclusive start.
    std::string_view key;
    // Put: the value. DeleteRange: the exclusive end, empty for "to the end of the CF".
    // Delete: empty.
    std::string_view value;
    // `key` and `value` each preceded by the byte static_cast<char>(cf), contiguous in
    // memory, so an engine that prefixes keys by column family needs no copy.
    std::string_view prefixed_key;
    std::string_view prefixed_value;
  };

  WriteBatch() = default;
  WriteBatch(const WriteBatch&) = default;
  WriteBatch& operator=(const WriteBatch&) = default;
  WriteBatch(WriteBatch&&) noexcept = default;
  WriteBatch& operator=(WriteBatch&&) noexcept = default;
  ~WriteBatch() = default;

  // Sets `key` to `value` in `cf`.
  void Put(CF cf, std::string_view key, std::string_view value);

  // Removes `key` from `cf` if present.
  void Delete(CF cf, std::string_view key);

  // Removes every key k of `cf` with start <= k < end, including keys put earlier in this
  // same batch; keys put later in the batch stay. An empty `end` means "to the end of the
  // CF". start > end (with a non-empty end) makes Engine::Write fail with InvalidArgument.
  void DeleteRange(CF cf, std::string_view start, std::string_view end);

  // Removes every operation, keeping the allocated memory for reuse.
  void Clear();

  // Makes room for `ops` more operations holding `bytes` more bytes of keys and values,
  // so that a caller that knows the batch's size adds to it without reallocations.
  void Reserve(size_t ops, size_t bytes);

  // Operations recorded so far.
  size_t Count() const { return ops_.size(); }
  bool Empty() const { return ops_.empty(); }

  // Bytes of keys and values held (an estimate of the batch's size on disk).
  size_t ByteSize() const { return data_.size(); }

  // The i-th operation, in the order they were added. Requires i < Count().
  Op op(size_t i) const;

  // Bit (1 << value) set for every column family value used by some operation (valid or
  // not; values >= 32 set bit 31).
  uint32_t cf_mask() const { return cf_mask_; }

  // True when some operation is a DeleteRange.
  bool has_delete_range() const { return has_delete_range_; }

 private:
  struct Record {
    OpType type;
    CF cf;
    // Offsets into data_ of the CF byte before the key and before the value.
    size_t key_offset;
    size_t key_size;
    size_t value_offset;
    size_t value_size;
  };

  void Add(OpType type, CF cf, std::string_view key, std::string_view value);

  std::vector<Record> ops_;
  std::string data_;
  uint32_t cf_mask_ = 0;
  bool has_delete_range_ = false;
};

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_WRITE_BATCH_H_
