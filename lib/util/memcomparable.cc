#include "util/memcomparable.h"

#include <bit>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "util/coding.h"

namespace rutile::memcomparable {
namespace {

constexpr uint64_t kSignMask = 1ULL << 63;
constexpr unsigned char kMarker = 0xFF;
// Comparable varint tags: [0, 8) are negative (8 - length), [248, 256) positive
// (247 + length); [8, 248) encode 0..239 directly.
constexpr int kNegativeTagEnd = 8;
constexpr int kPositiveTagStart = 0xFF - 8;
constexpr uint64_t kMaxSingleByte = kPositiveTagStart - kNegativeTagEnd;

// Debian's Abseil has its own absl::string_view, which std::string_view does not convert to.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Truncated(std::string_view what, size_t need, size_t have) {
  return absl::InvalidArgumentError(absl::StrCat("memcomparable: truncated ", AsAbsl(what),
                                                 ": need ", need, " bytes, have ", have));
}

void AppendBigEndian(std::string* dst, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) dst->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t ReadBigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void InvertFrom(std::string* s, size_t from) {
  for (size_t i = from; i < s->size(); ++i) (*s)[i] = static_cast<char>(~(*s)[i]);
}

uint64_t FloatToComparable(double v) {
  if (v == 0) v = 0;  // Folds -0.0 into +0.0.
  uint64_t u = std::bit_cast<uint64_t>(v);
  return (u & kSignMask) == 0 ? (u | kSignMask) : ~u;
}

absl::StatusOr<double> ComparableToFloat(uint64_t u) {
  u = (u & kSignMask) != 0 ? (u & ~kSignMask) : ~u;
  if (u == kSignMask) {
    return absl::InvalidArgumentError(
        "memcomparable: float64 encodes -0.0, which is never written");
  }
  return std::bit_cast<double>(u);
}

// Number of bytes after the tag for a comparable uvarint, 0 for the single-byte form.
int UvarintPayloadLength(uint64_t v) {
  if (v <= kMaxSingleByte) return 0;
  int n = 1;
  while (n < 8 && (v >> (8 * n)) != 0) ++n;
  return n;
}

// Number of bytes after the tag for a negative comparable varint: the fewest n with
// v >= -(256^n - 1).
int NegativePayloadLength(int64_t v) {
  int n = 1;
  // ~v = -v - 1 is in [0, 2^63); v fits n bytes when -v <= 256^n - 1, that is ~v < 256^n - 1.
  const uint64_t magnitude_minus_one = ~static_cast<uint64_t>(v);
  while (n < 8 && magnitude_minus_one >= (1ULL << (8 * n)) - 1) ++n;
  return n;
}

// Shared body of DecodeBytes and PeekBytesLength. When `out` is null only measures.
absl::StatusOr<size_t> ScanBytes(std::string_view in, bool descending, std::string* out) {
  const unsigned char flip = descending ? 0xFF : 0x00;
  size_t pos = 0;
  while (true) {
    if (in.size() - pos < kEncodedGroupSize) {
      return Truncated("bytes group", kEncodedGroupSize, in.size() - pos);
    }
    const char* group = in.data() + pos;
    const unsigned char marker = static_cast<unsigned char>(group[kBytesGroupSize]) ^ flip;
    const unsigned pad = kMarker - marker;
    if (pad > kBytesGroupSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("memcomparable: invalid bytes group marker 0x",
                       absl::Hex(static_cast<unsigned char>(group[kBytesGroupSize]))));
    }
    const size_t real = kBytesGroupSize - pad;
    for (size_t i = real; i < kBytesGroupSize; ++i) {
      if ((static_cast<unsigned char>(group[i]) ^ flip) != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("memcomparable: non-zero padding in bytes group \"",
                         absl::CHexEscape(absl::string_view(group, kEncodedGroupSize)), "\""));
      }
    }
    if (out != nullptr) {
      const size_t old = out->size();
      out->append(group, real);
      if (descending) InvertFrom(out, old);
    }
    pos += kEncodedGroupSize;
    if (pad != 0) return pos;
  }
}

absl::StatusOr<uint64_t> DecodeFixedBigEndian(std::string_view* in, std::string_view what) {
  if (in->size() < 8) return Truncated(what, 8, in->size());
  const uint64_t u = ReadBigEndian(in->data(), 8);
  in->remove_prefix(8);
  return u;
}

}  // namespace

// Performance-critical path (every transactional key is encoded with it).
void EncodeBytes(std::string* dst, std::string_view data) {
  const size_t start = dst->size();
  const size_t full = data.size() / kBytesGroupSize;
  dst->resize(start + EncodedBytesLength(data.size()));
  char* p = dst->data() + start;
  const char* in = data.data();
  for (size_t g = 0; g < full; ++g) {
    std::memcpy(p, in, kBytesGroupSize);
    p[kBytesGroupSize] = static_cast<char>(kMarker);
    p += kEncodedGroupSize;
    in += kBytesGroupSize;
  }
  const size_t remain = data.size() - full * kBytesGroupSize;
  const size_t pad = kBytesGroupSize - remain;
  if (remain > 0) std::memcpy(p, in, remain);
  std::memset(p + remain, 0, pad);
  p[kBytesGroupSize] = static_cast<char>(kMarker - pad);
}

void EncodeBytesDesc(std::string* dst, std::string_view data) {
  const size_t start = dst->size();
  EncodeBytes(dst, data);
  InvertFrom(dst, start);
}

void EncodeInt64(std::string* dst, int64_t v) {
  AppendBigEndian(dst, static_cast<uint64_t>(v) ^ kSignMask, 8);
}

void EncodeInt64Desc(std::string* dst, int64_t v) {
  AppendBigEndian(dst, ~(static_cast<uint64_t>(v) ^ kSignMask), 8);
}

void EncodeUint64(std::string* dst, uint64_t v) { AppendBigEndian(dst, v, 8); }

void EncodeUint64Desc(std::string* dst, uint64_t v) { AppendBigEndian(dst, ~v, 8); }

void EncodeFloat64(std::string* dst, double v) { AppendBigEndian(dst, FloatToComparable(v), 8); }

void EncodeFloat64Desc(std::string* dst, double v) {
  AppendBigEndian(dst, ~FloatToComparable(v), 8);
}

void EncodeComparableUvarint(std::string* dst, uint64_t v) {
  const int n = UvarintPayloadLength(v);
  if (n == 0) {
    dst->push_back(static_cast<char>(v + kNegativeTagEnd));
    return;
  }
  dst->push_back(static_cast<char>(kPositiveTagStart + n));
  AppendBigEndian(dst, v, n);
}

void EncodeComparableVarint(std::string* dst, int64_t v) {
  if (v >= 0) {
    EncodeComparableUvarint(dst, static_cast<uint64_t>(v));
    return;
  }
  const int n = NegativePayloadLength(v);
  dst->push_back(static_cast<char>(kNegativeTagEnd - n));
  AppendBigEndian(dst, static_cast<uint64_t>(v), n);
}

void EncodeCompactBytes(std::string* dst, std::string_view data) {
  PutVarsint64(dst, static_cast<int64_t>(data.size()));
  dst->append(data.data(), data.size());
}

absl::Status DecodeBytes(std::string_view* in, std::string* out) {
  const size_t old = out->size();
  absl::StatusOr<size_t> n = ScanBytes(*in, /*descending=*/false, out);
  if (!n.ok()) {
    out->resize(old);
    return n.status();
  }
  in->remove_prefix(*n);
  return absl::OkStatus();
}

absl::Status DecodeBytesDesc(std::string_view* in, std::string* out) {
  const size_t old = out->size();
  absl::StatusOr<size_t> n = ScanBytes(*in, /*descending=*/true, out);
  if (!n.ok()) {
    out->resize(old);
    return n.status();
  }
  in->remove_prefix(*n);
  return absl::OkStatus();
}

absl::StatusOr<size_t> PeekBytesLength(std::string_view in, bool descending) {
  return ScanBytes(in, descending, nullptr);
}

absl::StatusOr<int64_t> DecodeInt64(std::string_view* in) {
  absl::StatusOr<uint64_t> u = DecodeFixedBigEndian(in, "int64");
  if (!u.ok()) return u.status();
  return static_cast<int64_t>(*u ^ kSignMask);
}

absl::StatusOr<int64_t> DecodeInt64Desc(std::string_view* in) {
  absl::StatusOr<uint64_t> u = DecodeFixedBigEndian(in, "int64");
  if (!u.ok()) return u.status();
  return static_cast<int64_t>(~*u ^ kSignMask);
}

absl::StatusOr<uint64_t> DecodeUint64(std::string_view* in) {
  return DecodeFixedBigEndian(in, "uint64");
}

absl::StatusOr<uint64_t> DecodeUint64Desc(std::string_view* in) {
  absl::StatusOr<uint64_t> u = DecodeFixedBigEndian(in, "uint64");
  if (!u.ok()) return u.status();
  return ~*u;
}

absl::StatusOr<double> DecodeFloat64(std::string_view* in) {
  std::string_view cursor = *in;
  absl::StatusOr<uint64_t> u = DecodeFixedBigEndian(&cursor, "float64");
  if (!u.ok()) return u.status();
  absl::StatusOr<double> v = ComparableToFloat(*u);
  if (v.ok()) *in = cursor;
  return v;
}

absl::StatusOr<double> DecodeFloat64Desc(std::string_view* in) {
  std::string_view cursor = *in;
  absl::StatusOr<uint64_t> u = DecodeFixedBigEndian(&cursor, "float64");
  if (!u.ok()) return u.status();
  absl::StatusOr<double> v = ComparableToFloat(~*u);
  if (v.ok()) *in = cursor;
  return v;
}

absl::StatusOr<int64_t> DecodeComparableVarint(std::string_view* in) {
  if (in->empty()) return Truncated("comparable varint", 1, 0);
  const int tag = static_cast<unsigned char>((*in)[0]);
  if (tag >= kNegativeTagEnd) {
    std::string_view cursor = *in;
    absl::StatusOr<uint64_t> u = DecodeComparableUvarint(&cursor);
    if (!u.ok()) return u.status();
    if (*u > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError(
          absl::StrCat("memcomparable: comparable varint ", *u, " overflows int64"));
    }
    *in = cursor;
    return static_cast<int64_t>(*u);
  }
  const int n = kNegativeTagEnd - tag;
  if (in->size() - 1 < static_cast<size_t>(n)) {
    return Truncated("comparable varint", n + 1, in->size());
  }
  uint64_t u = ReadBigEndian(in->data() + 1, n);
  if (n < 8) u |= ~0ULL << (8 * n);  // Sign-extends.
  const int64_t v = static_cast<int64_t>(u);
  if (v >= 0 || NegativePayloadLength(v) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("memcomparable: non-canonical comparable varint with tag ", tag));
  }
  in->remove_prefix(n + 1);
  return v;
}

absl::StatusOr<uint64_t> DecodeComparableUvarint(std::string_view* in) {
  if (in->empty()) return Truncated("comparable uvarint", 1, 0);
  const int tag = static_cast<unsigned char>((*in)[0]);
  if (tag < kNegativeTagEnd) {
    return absl::InvalidArgumentError(
        absl::StrCat("memcomparable: negative tag ", tag, " in comparable uvarint"));
  }
  if (tag <= kPositiveTagStart) {
    in->remove_prefix(1);
    return static_cast<uint64_t>(tag - kNegativeTagEnd);
  }
  const int n = tag - kPositiveTagStart;
  if (in->size() - 1 < static_cast<size_t>(n)) {
    return Truncated("comparable uvarint", n + 1, in->size());
  }
  const uint64_t v = ReadBigEndian(in->data() + 1, n);
  if (UvarintPayloadLength(v) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("memcomparable: non-canonical comparable uvarint with tag ", tag));
  }
  in->remove_prefix(n + 1);
  return v;
}

absl::StatusOr<std::string_view> DecodeCompactBytes(std::string_view* in) {
  std::string_view cursor = *in;
  int64_t len = 0;
  if (!GetVarsint64(&cursor, &len)) {
    return absl::InvalidArgumentError("memcomparable: truncated or malformed compact bytes length");
  }
  if (len < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memcomparable: negative compact bytes length ", len));
  }
  if (cursor.size() < static_cast<uint64_t>(len)) {
    return Truncated("compact bytes", static_cast<size_t>(len), cursor.size());
  }
  std::string_view data = cursor.substr(0, static_cast<size_t>(len));
  cursor.remove_prefix(static_cast<size_t>(len));
  *in = cursor;
  return data;
}

}  // namespace rutile::memcomparable
