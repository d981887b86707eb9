#include "sql/chunk/chunk_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sql/codec/codec.h"
#include "util/coding.h"

namespace rutile::sql {
namespace {

absl::Status Truncated(const char* what) {
  return absl::InvalidArgumentError(absl::StrCat("encoded chunk: truncated ", what));
}

}  // namespace

// Performance-critical path.
void EncodeChunk(const Chunk& chunk, std::string* dst) {
  const std::vector<uint32_t>* sel = chunk.sel();
  const size_t n = chunk.NumEffectiveRows();
  auto row = [&](size_t i) -> size_t { return sel != nullptr ? (*sel)[i] : i; };
  PutVarint32(dst, static_cast<uint32_t>(chunk.NumCols()));
  PutVarint32(dst, static_cast<uint32_t>(n));
  for (size_t c = 0; c < chunk.NumCols(); ++c) {
    const Column& col = chunk.column(c);
    dst->push_back(static_cast<char>(col.type()));
    bool nulls = false;
    for (size_t i = 0; i < n && !nulls; ++i) nulls = col.IsNull(row(i));
    dst->push_back(nulls ? 1 : 0);
    if (nulls) {
      std::string bitmap((n + 7) / 8, '\0');
      for (size_t i = 0; i < n; ++i) {
        if (col.IsNull(row(i))) bitmap[i >> 3] |= static_cast<char>(1u << (i & 7));
      }
      dst->append(bitmap);
    }
    switch (col.type()) {
      case PhysicalType::kInt64:
      case PhysicalType::kUint64:
      case PhysicalType::kFloat64: {
        if (sel == nullptr) {
          // Same layout for the three: 8-byte little-endian words.
          const char* p = col.type() == PhysicalType::kInt64
                              ? reinterpret_cast<const char*>(col.Int64Data())
                          : col.type() == PhysicalType::kUint64
                              ? reinterpret_cast<const char*>(col.Uint64Data())
                              : reinterpret_cast<const char*>(col.Float64Data());
          if constexpr (std::endian::native == std::endian::little) {
            dst->append(p, n * 8);
            break;
          }
        }
        for (size_t i = 0; i < n; ++i) {
          uint64_t w = 0;
          if (col.type() == PhysicalType::kInt64) {
            w = static_cast<uint64_t>(col.GetInt64(row(i)));
          } else if (col.type() == PhysicalType::kUint64) {
            w = col.GetUint64(row(i));
          } else {
            double d = col.GetFloat64(row(i));
            std::memcpy(&w, &d, 8);
          }
          PutFixed64(dst, w);
        }
        break;
      }
      case PhysicalType::kBytes: {
        uint32_t end = 0;
        for (size_t i = 0; i < n; ++i) {
          end += static_cast<uint32_t>(col.GetBytes(row(i)).size());
          PutFixed32(dst, end);
        }
        for (size_t i = 0; i < n; ++i) dst->append(col.GetBytes(row(i)));
        break;
      }
      case PhysicalType::kDecimal:
        for (size_t i = 0; i < n; ++i) codec::EncodeDecimal(dst, col.GetDecimal(row(i)));
        break;
      case PhysicalType::kTime:
        for (size_t i = 0; i < n; ++i) {
          const Time& t = col.GetTime(row(i));
          PutFixed64(dst, t.Pack());
          dst->push_back(static_cast<char>(t.type));
          dst->push_back(static_cast<char>(t.fsp));
        }
        break;
      case PhysicalType::kDuration:
        for (size_t i = 0; i < n; ++i) {
          const Duration& d = col.GetDuration(row(i));
          PutFixed64(dst, static_cast<uint64_t>(d.micros));
          dst->push_back(static_cast<char>(d.fsp));
        }
        break;
    }
  }
}

absl::StatusOr<Chunk> DecodeChunk(std::string_view in, const std::vector<FieldType>& types) {
  uint32_t ncols = 0, n = 0;
  if (!GetVarint32(&in, &ncols) || !GetVarint32(&in, &n)) return Truncated("header");
  if (ncols != types.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoded chunk: ", ncols, " columns, expected ", types.size()));
  }
  if (n > (1u << 24)) return absl::InvalidArgumentError("encoded chunk: too many rows");
  Chunk out(types, std::max<size_t>(n, 1));
  for (size_t c = 0; c < ncols; ++c) {
    Column& col = out.column(c);
    if (in.size() < 2) return Truncated("column header");
    const auto pt = static_cast<PhysicalType>(static_cast<uint8_t>(in[0]));
    const bool nulls = in[1] != 0;
    if (pt != col.type() || static_cast<uint8_t>(in[1]) > 1) {
      return absl::InvalidArgumentError(absl::StrCat("encoded chunk: column ", c,
                                                     " has physical type ", static_cast<int>(pt),
                                                     ", expected ", static_cast<int>(col.type())));
    }
    in.remove_prefix(2);
    std::string_view bitmap;
    if (nulls) {
      const size_t len = (n + 7) / 8;
      if (in.size() < len) return Truncated("null bitmap");
      bitmap = in.substr(0, len);
      in.remove_prefix(len);
    }
    switch (pt) {
      case PhysicalType::kInt64:
      case PhysicalType::kUint64:
      case PhysicalType::kFloat64: {
        if (in.size() < static_cast<size_t>(n) * 8) return Truncated("fixed values");
        col.ResizeFixed(n);
        char* p = pt == PhysicalType::kInt64    ? reinterpret_cast<char*>(col.Int64Data())
                  : pt == PhysicalType::kUint64 ? reinterpret_cast<char*>(col.Uint64Data())
                                                : reinterpret_cast<char*>(col.Float64Data());
        if constexpr (std::endian::native == std::endian::little) {
          if (n > 0) std::memcpy(p, in.data(), static_cast<size_t>(n) * 8);
        } else {
          for (size_t i = 0; i < n; ++i) {
            uint64_t w = DecodeFixed64(in.data() + i * 8);
            std::memcpy(p + i * 8, &w, 8);
          }
        }
        in.remove_prefix(static_cast<size_t>(n) * 8);
        break;
      }
      case PhysicalType::kBytes: {
        if (in.size() < static_cast<size_t>(n) * 4) return Truncated("offsets");
        std::string_view offs = in.substr(0, static_cast<size_t>(n) * 4);
        in.remove_prefix(static_cast<size_t>(n) * 4);
        uint32_t begin = 0;
        col.Reserve(n);
        for (size_t i = 0; i < n; ++i) {
          uint32_t end = DecodeFixed32(offs.data() + i * 4);
          if (end < begin || end > in.size()) {
            return absl::InvalidArgumentError("encoded chunk: bad offsets");
          }
          col.AppendBytes(in.substr(begin, end - begin));
          begin = end;
        }
        in.remove_prefix(begin);
        break;
      }
      case PhysicalType::kDecimal:
        for (size_t i = 0; i < n; ++i) {
          absl::StatusOr<Decimal> d = codec::DecodeDecimal(&in);
          if (!d.ok()) return d.status();
          col.AppendDecimal(*d);
        }
        break;
      case PhysicalType::kTime:
        for (size_t i = 0; i < n; ++i) {
          uint64_t packed = 0;
          if (!GetFixed64(&in, &packed) || in.size() < 2) return Truncated("time");
          const auto tt = static_cast<uint8_t>(in[0]);
          if (tt > 2 || !Time::ValidPacked(packed)) {
            return absl::InvalidArgumentError("encoded chunk: bad time");
          }
          col.AppendTime(Time::Unpack(packed, static_cast<TimeType>(tt), in[1]));
          in.remove_prefix(2);
        }
        break;
      case PhysicalType::kDuration:
        for (size_t i = 0; i < n; ++i) {
          uint64_t micros = 0;
          if (!GetFixed64(&in, &micros) || in.empty()) return Truncated("duration");
          Duration d;
          d.micros = static_cast<int64_t>(micros);
          d.fsp = static_cast<int8_t>(in[0]);
          in.remove_prefix(1);
          col.AppendDuration(d);
        }
        break;
      default:
        return absl::InvalidArgumentError("encoded chunk: unknown physical type");
    }
    if (nulls) {
      for (size_t i = 0; i < n; ++i) {
        if ((static_cast<uint8_t>(bitmap[i >> 3]) >> (i & 7)) & 1) col.SetNull(i, true);
      }
    }
  }
  if (!in.empty()) return absl::InvalidArgumentError("encoded chunk: trailing bytes");
  return out;
}

}  // namespace rutile::sql
