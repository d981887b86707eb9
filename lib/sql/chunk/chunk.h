// Chunk: a batch of up to kMaxChunkSize rows stored column by column, what vectorized
// operators and expressions pass between each other (TiDB's util/chunk, DuckDB's
// DataChunk).
//
// A Column holds values of one physical type: fixed-width values in a typed array
// (int64, uint64, double, Decimal, Time, Duration) or variable-length bytes
// as one buffer plus end offsets, and a null bitmap (bit set = NULL). Appending a NULL
// still appends a slot, so row i of every column is at index i. A Chunk is columns of
// equal length plus an optional selection vector naming the rows that are live (the
// others were filtered out); operators that care about the selection read it, the rest
// call Compact().
//
// Thread safety: not thread-safe; a chunk is owned by one operator at a time.

#ifndef RUTILE_SQL_CHUNK_CHUNK_H_
#define RUTILE_SQL_CHUNK_CHUNK_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql {

inline constexpr size_t kMaxChunkSize = 1024;

enum class PhysicalType : uint8_t {
  kInt64,
  kUint64,
  kFloat64,  // FLOAT values are stored widened.
  kDecimal,
  kTime,      // Time, stored as a 16-byte struct.
  kDuration,  // Duration (microseconds and fsp).
  kBytes,
};

// The physical type a column of SQL type `ft` uses (NULL-typed columns use kInt64).
PhysicalType PhysicalTypeOf(const FieldType& ft);
PhysicalType PhysicalTypeOf(EvalType et, bool is_unsigned);

class Column {
 public:
  explicit Column(PhysicalType type = PhysicalType::kInt64);

  PhysicalType type() const { return type_; }
  size_t size() const { return size_; }

  bool IsNull(size_t i) const { return (nulls_[i >> 3] >> (i & 7)) & 1; }
  // Performance-critical path.
  void SetNull(size_t i, bool is_null) {
    if (is_null) {
      nulls_[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
    } else {
      nulls_[i >> 3] &= static_cast<uint8_t>(~(1u << (i & 7)));
    }
  }
  bool HasNulls() const;

  // ---- Appending (the type must match the column's physical type) ----
  void AppendNull();
  void AppendInt64(int64_t v);
  void AppendUint64(uint64_t v);
  void AppendFloat64(double v);
  void AppendDecimal(const Decimal& v);
  void AppendTime(const Time& v);
  void AppendDuration(const Duration& v);
  void AppendBytes(std::string_view v);
  // Appends a datum; its kind must suit the column (an int64 into a uint64 column and the
  // like are reinterpreted, Float32 widened). Returns false on a kind mismatch.
  bool AppendDatum(const Datum& d);
  // Whether AppendDatum(d) would succeed on a column of physical type `type`.
  static bool Suits(PhysicalType type, const Datum& d);
  // Appends row `i` of `src`, which has the same physical type.
  // Performance-critical path.
  void AppendFrom(const Column& src, size_t i);
  // Appends rows [begin, end) of `src` (same physical type), a column at a time.
  void AppendRange(const Column& src, size_t begin, size_t end);
  // Appends rows `rows` of `src` (same physical type) in that order.
  void AppendGather(const Column& src, std::span<const uint32_t> rows);

  // ---- Reading ----
  int64_t GetInt64(size_t i) const { return i64_[i]; }
  uint64_t GetUint64(size_t i) const { return u64_[i]; }
  double GetFloat64(size_t i) const { return f64_[i]; }
  const Decimal& GetDecimal(size_t i) const { return dec_[i]; }
  const Time& GetTime(size_t i) const { return time_[i]; }
  const Duration& GetDuration(size_t i) const { return dur_[i]; }
  std::string_view GetBytes(size_t i) const {
    uint32_t begin = i == 0 ? 0 : offsets_[i - 1];
    return std::string_view(bytes_.data() + begin, offsets_[i] - begin);
  }
  // Row i as a datum; `ft` supplies what the physical type does not (FLOAT vs DOUBLE,
  // the fsp of a TIME).
  Datum GetDatum(size_t i, const FieldType& ft) const;

  // ---- Bulk access for vectorized kernels ----
  // Sets the length to n with every slot non-NULL and fixed-width values
  // zero-initialized; for kBytes, every value empty.
  void ResizeFixed(size_t n);
  int64_t* Int64Data() { return i64_.data(); }
  uint64_t* Uint64Data() { return u64_.data(); }
  double* Float64Data() { return f64_.data(); }
  Decimal* DecimalData() { return dec_.data(); }
  Time* TimeData() { return time_.data(); }
  Duration* DurationData() { return dur_.data(); }
  const int64_t* Int64Data() const { return i64_.data(); }
  const uint64_t* Uint64Data() const { return u64_.data(); }
  const double* Float64Data() const { return f64_.data(); }
  const Decimal* DecimalData() const { return dec_.data(); }
  const Time* TimeData() const { return time_.data(); }
  const Duration* DurationData() const { return dur_.data(); }
  // Sets every row NULL where `other` has a NULL (same length).
  void MergeNulls(const Column& other);

  void Reset();
  void Reserve(size_t n);

 private:
  void AppendNotNullBit();

  PhysicalType type_;
  size_t size_ = 0;
  std::vector<uint8_t> nulls_;
  std::vector<int64_t> i64_;
  std::vector<uint64_t> u64_;
  std::vector<double> f64_;
  std::vector<Decimal> dec_;
  std::vector<Time> time_;
  std::vector<Duration> dur_;
  std::vector<uint32_t> offsets_;  // kBytes: end offset of each value.
  std::string bytes_;
};

class Chunk {
 public:
  Chunk() = default;
  explicit Chunk(std::vector<FieldType> types, size_t capacity = kMaxChunkSize);

  const std::vector<FieldType>& types() const { return types_; }
  size_t NumCols() const { return columns_.size(); }
  // Physical rows, ignoring the selection.
  size_t NumRows() const;
  // Live rows: the selection's size when there is one.
  size_t NumEffectiveRows() const { return sel_ ? sel_->size() : NumRows(); }
  size_t capacity() const { return capacity_; }
  bool IsFull() const { return NumRows() >= capacity_; }

  Column& column(size_t i) { return columns_[i]; }
  const Column& column(size_t i) const { return columns_[i]; }

  // The selection: physical row indexes of the live rows, ascending.
  const std::vector<uint32_t>* sel() const { return sel_ ? &*sel_ : nullptr; }
  void SetSel(std::vector<uint32_t> sel) { sel_ = std::move(sel); }
  void ClearSel() { sel_.reset(); }

  // Appends a row of datums (one per column; see Column::AppendDatum). Returns false
  // if a datum does not suit its column; the chunk is then left with the row partially
  // appended and must be Reset.
  bool AppendRow(std::span<const Datum> row);
  // Appends physical row `row` of `src` (same column types).
  void AppendRowFrom(const Chunk& src, size_t row);
  // Appends every physical row of `src` (same column types), a column at a time.
  void Append(const Chunk& src);
  // Appends physical rows `rows` of `src` (same column types) in that order.
  void AppendGather(const Chunk& src, std::span<const uint32_t> rows);
  // Datums of physical row `row`.
  std::vector<Datum> GetRow(size_t row) const;
  Datum GetDatum(size_t row, size_t col) const { return columns_[col].GetDatum(row, types_[col]); }

  // A new chunk with physical rows [begin, end) copied, no selection.
  Chunk Slice(size_t begin, size_t end) const;
  // A new chunk holding only the live rows, no selection.
  Chunk Compact() const;
  // Empties every column and drops the selection.
  void Reset();

 private:
  std::vector<FieldType> types_;
  std::vector<Column> columns_;
  std::optional<std::vector<uint32_t>> sel_;
  size_t capacity_ = kMaxChunkSize;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_CHUNK_CHUNK_H_
