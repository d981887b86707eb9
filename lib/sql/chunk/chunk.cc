#include "sql/chunk/chunk.h"

#include <algorithm>
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
  const size_t full = size_ >> 3;
  for (size_t b = 0; b < full; ++b) {
    if (nulls_[b] != 0) return true;
  }
  for (size_t i = full << 3; i < size_; ++i) {
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

namespace {

template <typename T>
void GatherInto(std::vector<T>* dst, const std::vector<T>& src, std::span<const uint32_t> rows) {
  const size_t base = dst->size();
  dst->resize(base + rows.size());
  T* out = dst->data() + base;
  for (size_t k = 0; k < rows.size(); ++k) out[k] = src[rows[k]];
}

}  // namespace

void Column::AppendRange(const Column& src, size_t begin, size_t end) {
  if (begin >= end) return;
  const size_t base = size_;
  const size_t n = end - begin;
  switch (type_) {
    case PhysicalType::kInt64:
      i64_.insert(i64_.end(), src.i64_.begin() + begin, src.i64_.begin() + end);
      break;
    case PhysicalType::kDuration:
      dur_.insert(dur_.end(), src.dur_.begin() + begin, src.dur_.begin() + end);
      break;
    case PhysicalType::kUint64:
      u64_.insert(u64_.end(), src.u64_.begin() + begin, src.u64_.begin() + end);
      break;
    case PhysicalType::kFloat64:
      f64_.insert(f64_.end(), src.f64_.begin() + begin, src.f64_.begin() + end);
      break;
    case PhysicalType::kDecimal:
      dec_.insert(dec_.end(), src.dec_.begin() + begin, src.dec_.begin() + end);
      break;
    case PhysicalType::kTime:
      time_.insert(time_.end(), src.time_.begin() + begin, src.time_.begin() + end);
      break;
    case PhysicalType::kBytes: {
      const uint32_t from = begin == 0 ? 0 : src.offsets_[begin - 1];
      const uint32_t to = src.offsets_[end - 1];
      const uint32_t shift = static_cast<uint32_t>(bytes_.size());
      bytes_.append(src.bytes_.data() + from, to - from);
      offsets_.reserve(offsets_.size() + n);
      for (size_t i = begin; i < end; ++i) offsets_.push_back(src.offsets_[i] - from + shift);
      break;
    }
  }
  size_ = base + n;
  nulls_.resize((size_ + 7) >> 3, 0);
  for (size_t k = 0; k < n; ++k) SetNull(base + k, src.IsNull(begin + k));
}

void Column::AppendGather(const Column& src, std::span<const uint32_t> rows) {
  if (rows.empty()) return;
  const size_t base = size_;
  switch (type_) {
    case PhysicalType::kInt64:
      GatherInto(&i64_, src.i64_, rows);
      break;
    case PhysicalType::kDuration:
      GatherInto(&dur_, src.dur_, rows);
      break;
    case PhysicalType::kUint64:
      GatherInto(&u64_, src.u64_, rows);
      break;
    case PhysicalType::kFloat64:
      GatherInto(&f64_, src.f64_, rows);
      break;
    case PhysicalType::kDecimal:
      GatherInto(&dec_, src.dec_, rows);
      break;
    case PhysicalType::kTime:
      GatherInto(&time_, src.time_, rows);
      break;
    case PhysicalType::kBytes:
      offsets_.reserve(offsets_.size() + rows.size());
      for (uint32_t r : rows) {
        std::string_view v = src.GetBytes(r);
        bytes_.append(v.data(), v.size());
        offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
      }
      break;
  }
  size_ = base + rows.size();
  nulls_.resize((size_ + 7) >> 3, 0);
  for (size_t k = 0; k < rows.size(); ++k) SetNull(base + k, src.IsNull(rows[k]));
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

void Chunk::Append(const Chunk& src) {
  const size_t n = src.NumRows();
  for (size_t c = 0; c < columns_.size(); ++c) columns_[c].AppendRange(src.columns_[c], 0, n);
}

void Chunk::AppendGather(const Chunk& src, std::span<const uint32_t> rows) {
  for (size_t c = 0; c < columns_.size(); ++c) columns_[c].AppendGather(src.columns_[c], rows);
}

Chunk Chunk::Slice(size_t begin, size_t end) const {
  Chunk out(types_, capacity_);
  end = std::min(end, NumRows());
  if (begin < end) {
    for (size_t c = 0; c < columns_.size(); ++c) {
      out.columns_[c].AppendRange(columns_[c], begin, end);
    }
  }
  return out;
}

Chunk Chunk::Compact() const {
  if (!sel_) return Slice(0, NumRows());
  Chunk out(types_, capacity_);
  out.AppendGather(*this, *sel_);
  return out;
}

void Chunk::Reset() {
  for (Column& c : columns_) c.Reset();
  sel_.reset();
}

}  // namespace rutile::sql
