#include "sql/codec/rowcodec.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "sql/codec/codec.h"
#include "util/memcomparable.h"

namespace rutile::sql::codec {
namespace {

absl::Status Corrupt(std::string_view what) {
  return absl::InvalidArgumentError("corrupted row value: " + std::string(what));
}

void PutLE(std::string* dst, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t GetLE(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < s.size(); ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * i);
  return v;
}

void EncodeInt(std::string* dst, int64_t v) {
  if (v >= INT8_MIN && v <= INT8_MAX) {
    PutLE(dst, static_cast<uint64_t>(v), 1);
  } else if (v >= INT16_MIN && v <= INT16_MAX) {
    PutLE(dst, static_cast<uint64_t>(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    PutLE(dst, static_cast<uint64_t>(v), 4);
  } else {
    PutLE(dst, static_cast<uint64_t>(v), 8);
  }
}

void EncodeUint(std::string* dst, uint64_t v) {
  if (v <= UINT8_MAX) {
    PutLE(dst, v, 1);
  } else if (v <= UINT16_MAX) {
    PutLE(dst, v, 2);
  } else if (v <= UINT32_MAX) {
    PutLE(dst, v, 4);
  } else {
    PutLE(dst, v, 8);
  }
}

bool IntSize(size_t n) { return n == 1 || n == 2 || n == 4 || n == 8; }

int64_t SignExtend(uint64_t v, size_t n) {
  if (n == 8) return static_cast<int64_t>(v);
  uint64_t sign = 1ULL << (8 * n - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

absl::Status EncodeValue(std::string* dst, const Datum& d) {
  switch (d.kind()) {
    case DatumKind::kInt64:
      EncodeInt(dst, d.GetInt64());
      return absl::OkStatus();
    case DatumKind::kUint64:
      EncodeUint(dst, d.GetUint64());
      return absl::OkStatus();
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      memcomparable::EncodeFloat64(dst, d.GetDouble());
      return absl::OkStatus();
    case DatumKind::kString:
      dst->append(d.GetString());
      return absl::OkStatus();
    case DatumKind::kDecimal:
      EncodeDecimal(dst, d.GetDecimal());
      return absl::OkStatus();
    case DatumKind::kTime:
      PutLE(dst, d.GetTime().Pack(), 8);
      return absl::OkStatus();
    case DatumKind::kDuration:
      EncodeInt(dst, d.GetDuration().micros);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError("row values cannot hold " + d.DebugString());
  }
}

absl::StatusOr<Datum> DecodeValue(std::string_view v, const FieldType& ft) {
  switch (ft.GetEvalType()) {
    case EvalType::kInt:
      if (!IntSize(v.size())) return Corrupt("integer size");
      if (ft.IsUnsigned()) return Datum::Uint(GetLE(v));
      return Datum::Int(SignExtend(GetLE(v), v.size()));
    case EvalType::kReal: {
      if (v.size() != 8) return Corrupt("float size");
      absl::StatusOr<double> f = memcomparable::DecodeFloat64(&v);
      if (!f.ok()) return f.status();
      if (ft.tp == TypeCode::kFloat) return Datum::Float(static_cast<float>(*f));
      return Datum::Double(*f);
    }
    case EvalType::kDecimal: {
      absl::StatusOr<Decimal> d = DecodeDecimal(&v);
      if (!d.ok()) return d.status();
      if (!v.empty()) return Corrupt("bytes after decimal");
      return Datum::Dec(*d);
    }
    case EvalType::kString:
    case EvalType::kJson:
      return Datum::String(std::string(v));
    case EvalType::kDatetime: {
      if (v.size() != 8) return Corrupt("time size");
      uint64_t p = GetLE(v);
      if (!Time::ValidPacked(p)) return Corrupt("time value");
      TimeType type = ft.tp == TypeCode::kDate        ? TimeType::kDate
                      : ft.tp == TypeCode::kTimestamp ? TimeType::kTimestamp
                                                      : TimeType::kDatetime;
      return Datum::FromTime(Time::Unpack(p, type, ft.decimal > 0 ? ft.decimal : 0));
    }
    case EvalType::kDuration: {
      if (!IntSize(v.size())) return Corrupt("duration size");
      Duration d;
      d.micros = SignExtend(GetLE(v), v.size());
      if (d.micros > Duration::kMaxMicros || d.micros < -Duration::kMaxMicros) {
        return Corrupt("duration range");
      }
      d.fsp = static_cast<int8_t>(ft.decimal > 0 ? ft.decimal : 0);
      return Datum::FromDuration(d);
    }
  }
  return Corrupt("unknown type");
}

// The parsed header of a row value.
struct RowView {
  bool large = false;
  uint32_t num_not_null = 0;
  uint32_t num_null = 0;
  std::string_view ids;      // (N + M) ids.
  std::string_view offsets;  // N offsets.
  std::string_view data;

  size_t IdWidth() const { return large ? 4 : 1; }
  size_t OffWidth() const { return large ? 4 : 2; }
  int64_t Id(size_t i) const {
    return static_cast<int64_t>(GetLE(ids.substr(i * IdWidth(), IdWidth())));
  }
  uint32_t End(size_t i) const {
    return static_cast<uint32_t>(GetLE(offsets.substr(i * OffWidth(), OffWidth())));
  }
};

absl::StatusOr<RowView> ParseRow(std::string_view value) {
  if (value.size() < 6) return Corrupt("too short");
  if (static_cast<uint8_t>(value[0]) != kRowCodecVersion) return Corrupt("version");
  uint8_t flags = static_cast<uint8_t>(value[1]);
  if ((flags & ~1u) != 0) return Corrupt("flags");
  RowView r;
  r.large = (flags & 1) != 0;
  r.num_not_null = static_cast<uint32_t>(GetLE(value.substr(2, 2)));
  r.num_null = static_cast<uint32_t>(GetLE(value.substr(4, 2)));
  size_t pos = 6;
  size_t ids_len = (static_cast<size_t>(r.num_not_null) + r.num_null) * r.IdWidth();
  size_t offs_len = static_cast<size_t>(r.num_not_null) * r.OffWidth();
  if (value.size() - pos < ids_len + offs_len) return Corrupt("header longer than value");
  r.ids = value.substr(pos, ids_len);
  pos += ids_len;
  r.offsets = value.substr(pos, offs_len);
  pos += offs_len;
  r.data = value.substr(pos);
  // Ids ascending within each group, the two groups disjoint.
  for (uint32_t i = 1; i < r.num_not_null; ++i) {
    if (r.Id(i) <= r.Id(i - 1)) return Corrupt("non-null ids not ascending");
  }
  for (uint32_t i = 1; i < r.num_null; ++i) {
    if (r.Id(r.num_not_null + i) <= r.Id(r.num_not_null + i - 1)) {
      return Corrupt("null ids not ascending");
    }
  }
  {
    uint32_t a = 0, b = 0;
    while (a < r.num_not_null && b < r.num_null) {
      int64_t x = r.Id(a), y = r.Id(r.num_not_null + b);
      if (x == y) return Corrupt("column both null and not null");
      if (x < y) {
        ++a;
      } else {
        ++b;
      }
    }
  }
  uint32_t prev = 0;
  for (uint32_t i = 0; i < r.num_not_null; ++i) {
    uint32_t end = r.End(i);
    if (end < prev) return Corrupt("offsets not ascending");
    prev = end;
  }
  if (prev != r.data.size()) return Corrupt("data length does not match offsets");
  return r;
}

// Binary search for `id` among ids [lo, hi).
bool FindId(const RowView& r, uint32_t lo, uint32_t hi, int64_t id, uint32_t* at) {
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int64_t m = r.Id(mid);
    if (m == id) {
      *at = mid;
      return true;
    }
    if (m < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> EncodeRow(std::span<const int64_t> column_ids,
                                      std::span<const Datum> values) {
  if (column_ids.size() != values.size()) {
    return absl::InvalidArgumentError("column ids and values differ in number");
  }
  std::vector<size_t> order(column_ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return column_ids[a] < column_ids[b]; });
  bool large = false;
  for (size_t k = 0; k < order.size(); ++k) {
    int64_t id = column_ids[order[k]];
    if (id < 0 || id > UINT32_MAX) return absl::InvalidArgumentError("column id out of range");
    if (k > 0 && id == column_ids[order[k - 1]]) {
      return absl::InvalidArgumentError("duplicate column id");
    }
    if (id > 255) large = true;
  }
  std::vector<size_t> not_null, null;
  std::string data;
  std::vector<uint32_t> ends;
  for (size_t k : order) {
    if (values[k].IsNull()) {
      null.push_back(k);
      continue;
    }
    not_null.push_back(k);
    if (absl::Status st = EncodeValue(&data, values[k]); !st.ok()) return st;
    ends.push_back(static_cast<uint32_t>(data.size()));
  }
  if (not_null.size() > UINT16_MAX || null.size() > UINT16_MAX) {
    return absl::InvalidArgumentError("too many columns");
  }
  if (data.size() > UINT16_MAX) large = true;
  if (data.size() > UINT32_MAX) return absl::InvalidArgumentError("row too large");
  std::string out;
  out.push_back(static_cast<char>(kRowCodecVersion));
  out.push_back(static_cast<char>(large ? 1 : 0));
  PutLE(&out, not_null.size(), 2);
  PutLE(&out, null.size(), 2);
  int id_width = large ? 4 : 1;
  for (size_t k : not_null) PutLE(&out, static_cast<uint64_t>(column_ids[k]), id_width);
  for (size_t k : null) PutLE(&out, static_cast<uint64_t>(column_ids[k]), id_width);
  for (uint32_t e : ends) PutLE(&out, e, large ? 4 : 2);
  out += data;
  return out;
}

RowDecoder::RowDecoder(std::vector<RowColumn> columns) : columns_(std::move(columns)) {}

absl::StatusOr<std::vector<Datum>> RowDecoder::Decode(std::string_view value,
                                                      int64_t handle) const {
  std::vector<Datum> out;
  absl::Status s = DecodeInto(value, handle, &out);
  if (!s.ok()) return s;
  return out;
}

absl::Status RowDecoder::DecodeInto(std::string_view value, int64_t handle,
                                    std::vector<Datum>* out) const {
  absl::StatusOr<RowView> r = ParseRow(value);
  if (!r.ok()) return r.status();
  out->clear();
  out->reserve(columns_.size());
  for (const RowColumn& col : columns_) {
    if (col.is_handle) {
      out->push_back(col.type.IsUnsigned() ? Datum::Uint(static_cast<uint64_t>(handle))
                                           : Datum::Int(handle));
      continue;
    }
    uint32_t at = 0;
    if (FindId(*r, 0, r->num_not_null, col.id, &at)) {
      uint32_t begin = at == 0 ? 0 : r->End(at - 1);
      absl::StatusOr<Datum> d = DecodeValue(r->data.substr(begin, r->End(at) - begin), col.type);
      if (!d.ok()) return d.status();
      out->push_back(std::move(*d));
    } else if (FindId(*r, r->num_not_null, r->num_not_null + r->num_null, col.id, &at)) {
      out->push_back(Datum());
    } else {
      out->push_back(col.default_value);
    }
  }
  return absl::OkStatus();
}

absl::Status RowDecoder::DecodeToChunk(std::string_view value, int64_t handle, Chunk* chunk) const {
  if (chunk->NumCols() != columns_.size()) {
    return absl::InvalidArgumentError("chunk does not match the decoder's columns");
  }
  absl::StatusOr<RowView> r = ParseRow(value);
  if (!r.ok()) return r.status();
  // Pass 1 decodes every value into a typed slot (integers, floats and strings unboxed;
  // other types as a Datum) and checks it suits its column; pass 2 appends, so a failure
  // leaves the chunk untouched. Per-row scratch (a scan decodes millions of rows): no fiber
  // switch happens between filling and reading it, so a thread's own copy is safe.
  struct Slot {
    enum Kind : uint8_t { kNull, kBits, kReal, kBytes, kDatum } kind = kNull;
    uint64_t bits = 0;  // kBits: an integer's two's complement bits.
    double real = 0;
    std::string_view bytes;
    const Datum* datum = nullptr;
  };
  thread_local std::vector<Slot> slots;
  thread_local std::vector<Datum> boxed;
  slots.resize(columns_.size());
  boxed.clear();
  boxed.reserve(columns_.size());  // Pointers into it stay valid.
  auto suits = [&](size_t c, const Datum& d) -> absl::Status {
    if (Column::Suits(chunk->column(c).type(), d)) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("column ", columns_[c].id, " value does not suit its type"));
  };
  auto need = [&](size_t c, PhysicalType a, PhysicalType b) -> absl::Status {
    PhysicalType t = chunk->column(c).type();
    if (t == a || t == b) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("column ", columns_[c].id, " value does not suit its type"));
  };
  for (size_t c = 0; c < columns_.size(); ++c) {
    const RowColumn& col = columns_[c];
    Slot& slot = slots[c];
    slot.kind = Slot::kNull;
    absl::Status s;
    if (col.is_handle) {
      slot.kind = Slot::kBits;
      slot.bits = static_cast<uint64_t>(handle);
      s = need(c, PhysicalType::kInt64, PhysicalType::kUint64);
      if (!s.ok()) return s;
      continue;
    }
    uint32_t at = 0;
    if (FindId(*r, 0, r->num_not_null, col.id, &at)) {
      uint32_t begin = at == 0 ? 0 : r->End(at - 1);
      std::string_view v = r->data.substr(begin, r->End(at) - begin);
      switch (col.type.GetEvalType()) {
        case EvalType::kInt:
          if (!IntSize(v.size())) return Corrupt("integer size");
          slot.kind = Slot::kBits;
          slot.bits = col.type.IsUnsigned() ? GetLE(v)
                                            : static_cast<uint64_t>(SignExtend(GetLE(v), v.size()));
          s = need(c, PhysicalType::kInt64, PhysicalType::kUint64);
          break;
        case EvalType::kReal: {
          if (v.size() != 8) return Corrupt("float size");
          absl::StatusOr<double> f = memcomparable::DecodeFloat64(&v);
          if (!f.ok()) return f.status();
          slot.kind = Slot::kReal;
          slot.real =
              col.type.tp == TypeCode::kFloat ? static_cast<double>(static_cast<float>(*f)) : *f;
          s = need(c, PhysicalType::kFloat64, PhysicalType::kFloat64);
          break;
        }
        case EvalType::kString:
        case EvalType::kJson:
          slot.kind = Slot::kBytes;
          slot.bytes = v;
          s = need(c, PhysicalType::kBytes, PhysicalType::kBytes);
          break;
        default: {
          absl::StatusOr<Datum> d = DecodeValue(v, col.type);
          if (!d.ok()) return d.status();
          boxed.push_back(*std::move(d));
          slot.kind = Slot::kDatum;
          slot.datum = &boxed.back();
          s = suits(c, *slot.datum);
        }
      }
    } else if (FindId(*r, r->num_not_null, r->num_not_null + r->num_null, col.id, &at)) {
      slot.kind = Slot::kNull;
    } else {
      slot.kind = Slot::kDatum;
      slot.datum = &col.default_value;
      s = suits(c, col.default_value);
    }
    if (!s.ok()) return s;
  }
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Slot& slot = slots[c];
    Column& out = chunk->column(c);
    switch (slot.kind) {
      case Slot::kNull:
        out.AppendNull();
        break;
      case Slot::kBits:
        if (out.type() == PhysicalType::kInt64) {
          out.AppendInt64(static_cast<int64_t>(slot.bits));
        } else {
          out.AppendUint64(slot.bits);
        }
        break;
      case Slot::kReal:
        out.AppendFloat64(slot.real);
        break;
      case Slot::kBytes:
        out.AppendBytes(slot.bytes);
        break;
      case Slot::kDatum:
        if (!out.AppendDatum(*slot.datum)) return absl::InternalError("chunk append failed");
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace rutile::sql::codec
