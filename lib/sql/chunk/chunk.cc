#include "sql/chunk/chunk.h"

#include <cstring>

namespace rutile::sql {

PhysicalType PhysicalTypeOf(EvalType et, bool is_unsigned) {
  switch (et) {
    case EvalType::kInt:
      return is_unsigned ? PhysicalType::kUint64 : PhysicalType::kInt64;
    case EvalType::kReal:
      return PhysicalType::kFloat64;
    case EvalType::kDecimal:
      return PhysicalType::kDecimal;
    case EvalType::kDatetime:
      return PhysicalType::kTime;
    case EvalType::kDuration:
      return PhysicalType::kDuration;
    case EvalType::kString:
    case EvalType::kJson:
      return PhysicalType::kBytes;
  }
  return PhysicalType::kBytes;
}

PhysicalType PhysicalTypeOf(const FieldType& ft) {
  if (ft.tp == TypeCode::kNull) return PhysicalType::kInt64;
  return PhysicalTypeOf(ft.GetEvalType(), ft.IsUnsigned());
}

Column::Column(PhysicalType type) : type_(type) {}

bool Column::HasNulls() const {
  for (size_t i = 0; i < size_; ++i) {
    if (IsNull(i)) return true;
  }
  return false;
}

void Column::AppendNotNullBit() {
  if ((size_ & 7) == 0) nulls_.push_back(0);
  ++size_;
}

void Column::AppendNull() {
  switch (type_) {
    case PhysicalType::kInt64:
      i64_.push_back(0);
      break;
    case PhysicalType::kDuration:
      dur_.emplace_back();
      break;
    case PhysicalType::kUint64:
      u64_.push_back(0);
      break;
    case PhysicalType::kFloat64:
      f64_.push_back(0);
      break;
    case PhysicalType::kDecimal:
      dec_.emplace_back();
      break;
    case PhysicalType::kTime:
      time_.emplace_back();
      break;
    case PhysicalType::kBytes:
      offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
      break;
  }
  AppendNotNullBit();
  SetNull(size_ - 1, true);
}

void Column::AppendInt64(int64_t v) {
  i64_.push_back(v);
  AppendNotNullBit();
}

void Column::AppendUint64(uint64_t v) {
  u64_.push_back(v);
  AppendNotNullBit();
}

void Column::AppendFloat64(double v) {
  f64_.push_back(v);
  AppendNotNullBit();
}

void Column::AppendDecimal(const Decimal& v) {
  dec_.push_back(v);
  AppendNotNullBit();
}

void Column::AppendTime(const Time& v) {
  time_.push_back(v);
  AppendNotNullBit();
}

void Column::AppendDuration(const Duration& v) {
  dur_.push_back(v);
  AppendNotNullBit();
}

void Column::AppendBytes(std::string_view v) {
  bytes_.append(v.data(), v.size());
  offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
  AppendNotNullBit();
}

bool Column::Suits(PhysicalType type, const Datum& d) {
  if (d.IsNull()) return true;
  switch (type) {
    case PhysicalType::kInt64:
    case PhysicalType::kUint64:
      return d.kind() == DatumKind::kInt64 || d.kind() == DatumKind::kUint64;
    case PhysicalType::kFloat64:
      return d.kind() == DatumKind::kFloat64 || d.kind() == DatumKind::kFloat32;
    case PhysicalType::kDecimal:
      return d.kind() == DatumKind::kDecimal;
    case PhysicalType::kTime:
      return d.kind() == DatumKind::kTime;
    case PhysicalType::kDuration:
      return d.kind() == DatumKind::kDuration;
    case PhysicalType::kBytes:
      return d.kind() == DatumKind::kString;
  }
  return false;
}

bool Column::AppendDatum(const Datum& d) {
  if (d.IsNull()) {
    AppendNull();
    return true;
  }
  switch (type_) {
    case PhysicalType::kInt64:
      if (d.kind() == DatumKind::kInt64) {
        AppendInt64(d.GetInt64());
      } else if (d.kind() == DatumKind::kUint64) {
        AppendInt64(static_cast<int64_t>(d.GetUint64()));
      } else {
        return false;
      }
      return true;
    case PhysicalType::kUint64:
      if (d.kind() == DatumKind::kUint64) {
        AppendUint64(d.GetUint64());
      } else if (d.kind() == DatumKind::kInt64) {
        AppendUint64(static_cast<uint64_t>(d.GetInt64()));
      } else {
        return false;
      }
      return true;
    case PhysicalType::kFloat64:
      if (d.kind() != DatumKind::kFloat64 && d.kind() != DatumKind::kFloat32) return false;
      AppendFloat64(d.GetDouble());
      return true;
    case PhysicalType::kDecimal:
      if (d.kind() != DatumKind::kDecimal) return false;
      AppendDecimal(d.GetDecimal());
      return true;
    case PhysicalType::kTime:
      if (d.kind() != DatumKind::kTime) return false;
      AppendTime(d.GetTime());
      return true;
    case PhysicalType::kDuration:
      if (d.kind() != DatumKind::kDuration) return false;
      AppendDuration(d.GetDuration());
      return true;
    case PhysicalType::kBytes:
      if (d.kind() != DatumKind::kString) return false;
      AppendBytes(d.GetString());
      return true;
  }
  return false;
}

// Performance-critical path.
void Column::AppendFrom(const Column& src, size_t i) {
  switch (type_) {
    case PhysicalType::kInt64:
      i64_.push_back(src.i64_[i]);
      break;
    case PhysicalType::kDuration:
      dur_.push_back(src.dur_[i]);
      break;
    case PhysicalType::kUint64:
      u64_.push_back(src.u64_[i]);
      break;
    case PhysicalType::kFloat64:
      f64_.push_back(src.f64_[i]);
      break;
    case PhysicalType::kDecimal:
      dec_.push_back(src.dec_[i]);
      break;
    case PhysicalType::kTime:
      time_.push_back(src.time_[i]);
      break;
    case PhysicalType::kBytes: {
      std::string_view v = src.GetBytes(i);
      bytes_.append(v.data(), v.size());
      offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
      break;
    }
  }
  AppendNotNullBit();
  if (src.IsNull(i)) SetNull(size_ - 1, true);
}

Datum Column::GetDatum(size_t i, const FieldType& ft) const {
  if (IsNull(i)) return Datum();
  switch (type_) {
    case PhysicalType::kInt64:
      return Datum::Int(i64_[i]);
    case PhysicalType::kUint64:
      return Datum::Uint(u64_[i]);
    case PhysicalType::kFloat64:
      if (ft.tp == TypeCode::kFloat) return Datum::Float(static_cast<float>(f64_[i]));
      return Datum::Double(f64_[i]);
    case PhysicalType::kDecimal:
      return Datum::Dec(dec_[i]);
    case PhysicalType::kTime:
      return Datum::FromTime(time_[i]);
    case PhysicalType::kDuration:
      return Datum::FromDuration(dur_[i]);
    case PhysicalType::kBytes:
      return Datum::String(std::string(GetBytes(i)));
  }
  return Datum();
}

void Column::ResizeFixed(size_t n) {
  Reset();
  switch (type_) {
    case PhysicalType::kInt64:
      i64_.assign(n, 0);
      break;
    case PhysicalType::kDuration:
      dur_.assign(n, Duration());
      break;
    case PhysicalType::kUint64:
      u64_.assign(n, 0);
      break;
    case PhysicalType::kFloat64:
      f64_.assign(n, 0);
      break;
    case PhysicalType::kDecimal:
      dec_.assign(n, Decimal());
      break;
    case PhysicalType::kTime:
      time_.assign(n, Time());
      break;
    case PhysicalType::kBytes:
      offsets_.assign(n, 0);
      break;
  }
  size_ = n;
  nulls_.assign((n + 7) / 8, 0);
}

void Column::MergeNulls(const Column& other) {
  for (size_t k = 0; k < nulls_.size() && k < other.nulls_.size(); ++k)
    nulls_[k] |= other.nulls_[k];
}

void Column::Reset() {
  size_ = 0;
  nulls_.clear();
  i64_.clear();
  u64_.clear();
  f64_.clear();
  dec_.clear();
  time_.clear();
  dur_.clear();
  offsets_.clear();
  bytes_.clear();
}

void Column::Reserve(size_t n) {
  nulls_.reserve((n + 7) / 8);
  switch (type_) {
    case PhysicalType::kInt64:
      i64_.reserve(n);
      break;
    case PhysicalType::kDuration:
      dur_.reserve(n);
      break;
    case PhysicalType::kUint64:
      u64_.reserve(n);
      break;
    case PhysicalType::kFloat64:
      f64_.reserve(n);
      break;
    case PhysicalType::kDecimal:
      dec_.reserve(n);
      break;
    case PhysicalType::kTime:
      time_.reserve(n);
      break;
    case PhysicalType::kBytes:
      offsets_.reserve(n);
      break;
  }
}

Chunk::Chunk(std::vector<FieldType> types, size_t capacity)
    : types_(std::move(types)), capacity_(capacity) {
  columns_.reserve(types_.size());
  for (const FieldType& ft : types_) {
    columns_.emplace_back(PhysicalTypeOf(ft));
    columns_.back().Reserve(capacity_ < kMaxChunkSize ? capacity_ : kMaxChunkSize);
  }
}

size_t Chunk::NumRows() const { return columns_.empty() ? 0 : columns_[0].size(); }

bool Chunk::AppendRow(std::span<const Datum> row) {
  if (row.size() != columns_.size()) return false;
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (!columns_[c].AppendDatum(row[c])) return false;
  }
  return true;
}

void Chunk::AppendRowFrom(const Chunk& src, size_t row) {
  for (size_t c = 0; c < columns_.size(); ++c) columns_[c].AppendFrom(src.columns_[c], row);
}

std::vector<Datum> Chunk::GetRow(size_t row) const {
  std::vector<Datum> out;
  out.reserve(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) out.push_back(GetDatum(row, c));
  return out;
}

Chunk Chunk::Slice(size_t begin, size_t end) const {
  Chunk out(types_, capacity_);
  for (size_t r = begin; r < end && r < NumRows(); ++r) out.AppendRowFrom(*this, r);
  return out;
}

Chunk Chunk::Compact() const {
  if (!sel_) return Slice(0, NumRows());
  Chunk out(types_, capacity_);
  for (uint32_t r : *sel_) out.AppendRowFrom(*this, r);
  return out;
}

void Chunk::Reset() {
  for (Column& c : columns_) c.Reset();
  sel_.reset();
}

}  // namespace rutile::sql
