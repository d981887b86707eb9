// The MySQL protocol's encoders and decoders; see protocol.h.

#include "server/protocol.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rutile::server {

namespace {

absl::Status Truncated() {
  return absl::InvalidArgumentError("malformed packet: truncated payload");
}

}  // namespace

// ---- PayloadReader ----

absl::StatusOr<uint8_t> PayloadReader::U8() {
  if (remaining() < 1) return Truncated();
  return static_cast<uint8_t>(data_[pos_++]);
}

absl::StatusOr<uint16_t> PayloadReader::U16() {
  if (remaining() < 2) return Truncated();
  uint16_t v = static_cast<uint8_t>(data_[pos_]) | (static_cast<uint8_t>(data_[pos_ + 1]) << 8);
  pos_ += 2;
  return v;
}

absl::StatusOr<uint32_t> PayloadReader::U24() {
  if (remaining() < 3) return Truncated();
  uint32_t v = 0;
  for (int i = 2; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 3;
  return v;
}

absl::StatusOr<uint32_t> PayloadReader::U32() {
  if (remaining() < 4) return Truncated();
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 4;
  return v;
}

absl::StatusOr<uint64_t> PayloadReader::U64() {
  if (remaining() < 8) return Truncated();
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 8;
  return v;
}

absl::StatusOr<std::optional<uint64_t>> PayloadReader::LenencInt() {
  auto first = U8();
  if (!first.ok()) return first.status();
  switch (*first) {
    case 0xFB:
      return std::optional<uint64_t>();
    case 0xFC: {
      auto v = U16();
      if (!v.ok()) return v.status();
      return std::optional<uint64_t>(*v);
    }
    case 0xFD: {
      auto v = U24();
      if (!v.ok()) return v.status();
      return std::optional<uint64_t>(*v);
    }
    case 0xFE: {
      auto v = U64();
      if (!v.ok()) return v.status();
      return std::optional<uint64_t>(*v);
    }
    case 0xFF:
      return absl::InvalidArgumentError("malformed packet: bad length-encoded integer");
    default:
      return std::optional<uint64_t>(*first);
  }
}

absl::StatusOr<std::string_view> PayloadReader::Bytes(size_t n) {
  if (remaining() < n) return Truncated();
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

absl::StatusOr<std::string_view> PayloadReader::NulString(bool allow_eof) {
  size_t end = data_.find('\0', pos_);
  if (end == std::string_view::npos) {
    if (!allow_eof) return Truncated();
    return Rest();
  }
  std::string_view v = data_.substr(pos_, end - pos_);
  pos_ = end + 1;
  return v;
}

absl::StatusOr<std::string_view> PayloadReader::LenencString() {
  auto n = LenencInt();
  if (!n.ok()) return n.status();
  if (!n->has_value()) return std::string_view();
  if (**n > remaining()) return Truncated();
  return Bytes(static_cast<size_t>(**n));
}

std::string_view PayloadReader::Rest() {
  std::string_view v = data_.substr(pos_);
  pos_ = data_.size();
  return v;
}

// ---- Writers ----

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xFF));
  out->push_back(static_cast<char>(v >> 8));
}

void PutU24(std::string* out, uint32_t v) {
  for (int i = 0; i < 3; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutLenencInt(std::string* out, uint64_t v) {
  if (v < 251) {
    PutU8(out, static_cast<uint8_t>(v));
  } else if (v < (1u << 16)) {
    PutU8(out, 0xFC);
    PutU16(out, static_cast<uint16_t>(v));
  } else if (v < (1u << 24)) {
    PutU8(out, 0xFD);
    PutU24(out, static_cast<uint32_t>(v));
  } else {
    PutU8(out, 0xFE);
    PutU64(out, v);
  }
}

void PutLenencString(std::string* out, std::string_view s) {
  PutLenencInt(out, s.size());
  out->append(s);
}

void PutNulString(std::string* out, std::string_view s) {
  out->append(s);
  out->push_back('\0');
}

std::string OkPayload(uint64_t affected_rows, uint64_t last_insert_id, uint16_t status,
                      uint16_t warnings, std::string_view info) {
  std::string out;
  PutU8(&out, 0x00);
  PutLenencInt(&out, affected_rows);
  PutLenencInt(&out, last_insert_id);
  PutU16(&out, status);
  PutU16(&out, warnings);
  out.append(info);
  return out;
}

std::string ErrPayload(uint16_t code, std::string_view sqlstate, std::string_view message) {
  std::string out;
  PutU8(&out, 0xFF);
  PutU16(&out, code);
  out.push_back('#');
  std::string state(sqlstate.substr(0, 5));
  state.resize(5, '0');
  out.append(state);
  out.append(message);
  return out;
}

std::string EofPayload(uint16_t status, uint16_t warnings) {
  std::string out;
  PutU8(&out, 0xFE);
  PutU16(&out, warnings);
  PutU16(&out, status);
  return out;
}

std::string ColumnDefinitionPayload(const sql::ColumnMeta& column, bool field_list) {
  std::string out;
  PutLenencString(&out, "def");
  PutLenencString(&out, column.db);
  PutLenencString(&out, column.table);
  PutLenencString(&out, column.table);
  PutLenencString(&out, column.name);
  PutLenencString(&out, column.name);
  PutLenencInt(&out, 0x0c);
  PutU16(&out, column.collation_id);
  PutU32(&out, static_cast<uint32_t>(column.length));
  PutU8(&out, column.type);
  PutU16(&out, static_cast<uint16_t>(column.flags));
  PutU8(&out, column.decimals);
  PutU16(&out, 0);
  if (field_list) PutU8(&out, 0xFB);  // No default value.
  return out;
}

std::string TextRowPayload(const sql::Row& row) {
  std::string out;
  for (const auto& v : row) {
    if (!v.has_value()) {
      PutU8(&out, 0xFB);
    } else {
      PutLenencString(&out, *v);
    }
  }
  return out;
}

namespace {

// Parses the leading unsigned decimal digits of `s` at `*pos`; at most `max_digits`.
bool Digits(std::string_view s, size_t* pos, size_t max_digits, uint64_t* out) {
  size_t start = *pos;
  uint64_t v = 0;
  while (*pos < s.size() && *pos - start < max_digits && s[*pos] >= '0' && s[*pos] <= '9') {
    v = v * 10 + static_cast<uint64_t>(s[*pos] - '0');
    ++*pos;
  }
  *out = v;
  return *pos > start;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// Fraction digits after '.', scaled to microseconds.
bool Micros(std::string_view s, size_t* pos, uint32_t* out) {
  *out = 0;
  if (*pos >= s.size()) return true;
  if (!Expect(s, pos, '.')) return false;
  uint64_t v = 0;
  size_t start = *pos;
  if (!Digits(s, pos, 6, &v)) return false;
  for (size_t n = *pos - start; n < 6; ++n) v *= 10;
  *out = static_cast<uint32_t>(v);
  return *pos == s.size();
}

absl::Status BadValue(const sql::ColumnMeta& column, std::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("cannot send '", std::string(text),
                                                 "' of column '", column.name, "' as MySQL type ",
                                                 static_cast<int>(column.type)));
}

absl::Status AppendBinaryDate(const sql::ColumnMeta& column, std::string_view text,
                              std::string* out) {
  size_t pos = 0;
  uint64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  uint32_t micros = 0;
  if (!Digits(text, &pos, 4, &y) || !Expect(text, &pos, '-') || !Digits(text, &pos, 2, &mo) ||
      !Expect(text, &pos, '-') || !Digits(text, &pos, 2, &d)) {
    return BadValue(column, text);
  }
  if (pos < text.size()) {
    if (!Expect(text, &pos, ' ') || !Digits(text, &pos, 2, &h) || !Expect(text, &pos, ':') ||
        !Digits(text, &pos, 2, &mi) || !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &sec) ||
        !Micros(text, &pos, &micros)) {
      return BadValue(column, text);
    }
  }
  if (micros != 0) {
    PutU8(out, 11);
  } else if (h != 0 || mi != 0 || sec != 0) {
    PutU8(out, 7);
  } else if (y != 0 || mo != 0 || d != 0) {
    PutU8(out, 4);
  } else {
    PutU8(out, 0);
    return absl::OkStatus();
  }
  PutU16(out, static_cast<uint16_t>(y));
  PutU8(out, static_cast<uint8_t>(mo));
  PutU8(out, static_cast<uint8_t>(d));
  if (h == 0 && mi == 0 && sec == 0 && micros == 0) return absl::OkStatus();
  PutU8(out, static_cast<uint8_t>(h));
  PutU8(out, static_cast<uint8_t>(mi));
  PutU8(out, static_cast<uint8_t>(sec));
  if (micros != 0) PutU32(out, micros);
  return absl::OkStatus();
}

absl::Status AppendBinaryTime(const sql::ColumnMeta& column, std::string_view text,
                              std::string* out) {
  size_t pos = 0;
  bool negative = Expect(text, &pos, '-');
  uint64_t h = 0, mi = 0, sec = 0;
  uint32_t micros = 0;
  if (!Digits(text, &pos, 9, &h) || !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &mi) ||
      !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &sec) || !Micros(text, &pos, &micros)) {
    return BadValue(column, text);
  }
  if (h == 0 && mi == 0 && sec == 0 && micros == 0) {
    PutU8(out, 0);
    return absl::OkStatus();
  }
  PutU8(out, micros != 0 ? 12 : 8);
  PutU8(out, negative ? 1 : 0);
  PutU32(out, static_cast<uint32_t>(h / 24));
  PutU8(out, static_cast<uint8_t>(h % 24));
  PutU8(out, static_cast<uint8_t>(mi));
  PutU8(out, static_cast<uint8_t>(sec));
  if (micros != 0) PutU32(out, micros);
  return absl::OkStatus();
}

absl::Status AppendBinaryInt(const sql::ColumnMeta& column, std::string_view text, int bytes,
                             std::string* out) {
  uint64_t bits = 0;
  if (column.flags & kUnsignedFlag) {
    uint64_t u = 0;
    if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &u))
      return BadValue(column, text);
    bits = u;
  } else {
    int64_t i = 0;
    if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &i))
      return BadValue(column, text);
    bits = static_cast<uint64_t>(i);
  }
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BinaryRowPayload(const std::vector<sql::ColumnMeta>& columns,
                                             const sql::Row& row) {
  if (row.size() != columns.size()) {
    return absl::InternalError("row width differs from the column count");
  }
  std::string out;
  PutU8(&out, 0x00);
  const size_t bitmap_at = out.size();
  out.append((columns.size() + 7 + 2) / 8, '\0');
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto& v = row[i];
    if (!v.has_value()) {
      out[bitmap_at + (i + 2) / 8] |= static_cast<char>(1 << ((i + 2) % 8));
      continue;
    }
    const sql::ColumnMeta& c = columns[i];
    absl::Status s;
    switch (c.type) {
      case kTypeTiny:
        s = AppendBinaryInt(c, *v, 1, &out);
        break;
      case kTypeShort:
      case kTypeYear:
        s = AppendBinaryInt(c, *v, 2, &out);
        break;
      case kTypeLong:
      case kTypeInt24:
        s = AppendBinaryInt(c, *v, 4, &out);
        break;
      case kTypeLongLong:
        s = AppendBinaryInt(c, *v, 8, &out);
        break;
      case kTypeFloat: {
        float f = 0;
        if (!absl::SimpleAtof(*v, &f)) {
          s = BadValue(c, *v);
          break;
        }
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        PutU32(&out, bits);
        break;
      }
      case kTypeDouble: {
        double d = 0;
        if (!absl::SimpleAtod(*v, &d)) {
          s = BadValue(c, *v);
          break;
        }
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        PutU64(&out, bits);
        break;
      }
      case kTypeDate:
      case kTypeNewDate:
      case kTypeDatetime:
      case kTypeTimestamp:
        s = AppendBinaryDate(c, *v, &out);
        break;
      case kTypeTime:
        s = AppendBinaryTime(c, *v, &out);
        break;
      default:
        PutLenencString(&out, *v);
        break;
    }
    if (!s.ok()) return s;
  }
  return out;
}

absl::StatusOr<sql::Value> DecodeBinaryParam(uint16_t type, PayloadReader* reader) {
  const bool is_unsigned = (type & 0x8000) != 0;
  const uint8_t t = static_cast<uint8_t>(type & 0xFF);
  auto as_int = [&](uint64_t bits, int bytes) -> sql::Value {
    if (is_unsigned) return sql::Value::Uint(bits);
    const int shift = 64 - 8 * bytes;
    return sql::Value::Int(static_cast<int64_t>(bits << shift) >> shift);
  };
  switch (t) {
    case kTypeNull:
      return sql::Value::Null();
    case kTypeTiny: {
      auto v = reader->U8();
      if (!v.ok()) return v.status();
      return as_int(*v, 1);
    }
    case kTypeShort:
    case kTypeYear: {
      auto v = reader->U16();
      if (!v.ok()) return v.status();
      return as_int(*v, 2);
    }
    case kTypeLong:
    case kTypeInt24: {
      auto v = reader->U32();
      if (!v.ok()) return v.status();
      return as_int(*v, 4);
    }
    case kTypeLongLong: {
      auto v = reader->U64();
      if (!v.ok()) return v.status();
      return as_int(*v, 8);
    }
    case kTypeFloat: {
      auto v = reader->U32();
      if (!v.ok()) return v.status();
      float f;
      uint32_t bits = *v;
      std::memcpy(&f, &bits, 4);
      return sql::Value::Double(f);
    }
    case kTypeDouble: {
      auto v = reader->U64();
      if (!v.ok()) return v.status();
      double d;
      uint64_t bits = *v;
      std::memcpy(&d, &bits, 8);
      return sql::Value::Double(d);
    }
    case kTypeDate:
    case kTypeNewDate:
    case kTypeDatetime:
    case kTypeTimestamp: {
      auto len = reader->U8();
      if (!len.ok()) return len.status();
      if (*len != 0 && *len != 4 && *len != 7 && *len != 11) {
        return absl::InvalidArgumentError("malformed packet: bad DATETIME parameter length");
      }
      auto b = reader->Bytes(*len);
      if (!b.ok()) return b.status();
      PayloadReader r(*b);
      uint16_t y = 0;
      uint8_t mo = 0, d = 0, h = 0, mi = 0, s = 0;
      uint32_t us = 0;
      if (*len >= 4) {
        y = *r.U16();
        mo = *r.U8();
        d = *r.U8();
      }
      if (*len >= 7) {
        h = *r.U8();
        mi = *r.U8();
        s = *r.U8();
      }
      if (*len >= 11) us = *r.U32();
      if (t == kTypeDate) return sql::Value::String(absl::StrFormat("%04d-%02d-%02d", y, mo, d));
      std::string text = absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s);
      if (us != 0) absl::StrAppendFormat(&text, ".%06d", us);
      return sql::Value::String(std::move(text));
    }
    case kTypeTime: {
      auto len = reader->U8();
      if (!len.ok()) return len.status();
      if (*len != 0 && *len != 8 && *len != 12) {
        return absl::InvalidArgumentError("malformed packet: bad TIME parameter length");
      }
      auto b = reader->Bytes(*len);
      if (!b.ok()) return b.status();
      PayloadReader r(*b);
      uint8_t neg = 0, h = 0, mi = 0, s = 0;
      uint32_t days = 0, us = 0;
      if (*len >= 8) {
        neg = *r.U8();
        days = *r.U32();
        h = *r.U8();
        mi = *r.U8();
        s = *r.U8();
      }
      if (*len >= 12) us = *r.U32();
      std::string text = absl::StrFormat("%s%02d:%02d:%02d", neg ? "-" : "",
                                         static_cast<uint64_t>(days) * 24 + h, mi, s);
      if (us != 0) absl::StrAppendFormat(&text, ".%06d", us);
      return sql::Value::String(std::move(text));
    }
    case kTypeDecimal:
    case kTypeVarchar:
    case kTypeBit:
    case kTypeJson:
    case kTypeNewDecimal:
    case kTypeEnum:
    case kTypeSet:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeBlob:
    case kTypeVarString:
    case kTypeString:
    case kTypeGeometry: {
      auto s = reader->LenencString();
      if (!s.ok()) return s.status();
      return sql::Value::String(std::string(*s));
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("malformed packet: unknown parameter type ", static_cast<int>(t)));
  }
}

// ---- SHA-1 (FIPS 180-4) and mysql_native_password ----

std::array<uint8_t, 20> Sha1(std::string_view data) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(data);
  const uint64_t bit_len = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bit_len >> (8 * i)) & 0xFF));
  auto rotl = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (size_t block = 0; block < msg.size(); block += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(msg.data() + block + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      uint32_t temp = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<uint8_t, 20> out;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h[i] >> (24 - 8 * j));
  }
  return out;
}

namespace {
std::string_view AsView(const std::array<uint8_t, 20>& a) {
  return std::string_view(reinterpret_cast<const char*>(a.data()), a.size());
}
}  // namespace

std::string NativePasswordResponse(std::string_view password, std::string_view scramble) {
  if (password.empty()) return "";
  auto stage1 = Sha1(password);
  auto stage2 = Sha1(AsView(stage1));
  auto mix = Sha1(std::string(scramble) + std::string(AsView(stage2)));
  std::string out(20, '\0');
  for (int i = 0; i < 20; ++i) out[i] = static_cast<char>(stage1[i] ^ mix[i]);
  return out;
}

bool CheckNativePassword(std::string_view password, std::string_view scramble,
                         std::string_view auth_response) {
  if (password.empty()) return auth_response.empty();
  if (auth_response.size() != 20) return false;
  return NativePasswordResponse(password, scramble) == auth_response;
}

absl::StatusOr<HandshakeResponse> ParseHandshakeResponse(std::string_view payload) {
  auto bad = [](const char* why) { return absl::InvalidArgumentError(why); };
  HandshakeResponse out;
  PayloadReader r(payload);
  auto client_caps = r.U32();
  if (!client_caps.ok()) return bad("truncated");
  if (!(*client_caps & kClientProtocol41)) return bad("the client does not speak protocol 4.1");
  if (*client_caps & kClientSsl) return bad("SSL was not offered");
  out.capabilities = *client_caps & kServerCapabilities;
  const uint32_t caps = out.capabilities;
  // Max packet size, character set, 23 reserved bytes.
  if (!r.U32().ok() || !r.U8().ok() || !r.Bytes(23).ok()) return bad("truncated");
  auto user = r.NulString();
  if (!user.ok()) return bad("truncated user name");
  out.user = *user;
  absl::StatusOr<std::string_view> auth = std::string_view();
  if (caps & kClientPluginAuthLenencData) {
    auth = r.LenencString();
  } else if (caps & kClientSecureConnection) {
    auto n = r.U8();
    if (!n.ok()) return bad("truncated auth data");
    auth = r.Bytes(*n);
  } else {
    auth = r.NulString(true);
  }
  if (!auth.ok()) return bad("truncated auth data");
  out.auth_response = *auth;
  if ((caps & kClientConnectWithDb) && !r.empty()) {
    auto d = r.NulString(true);
    if (!d.ok()) return bad("truncated database name");
    out.database = *d;
  }
  if ((caps & kClientPluginAuth) && !r.empty()) {
    auto pl = r.NulString(true);
    if (!pl.ok()) return bad("truncated plugin name");
    out.plugin = *pl;
  }
  return out;  // Connection attributes, if any, are ignored.
}

absl::StatusOr<ChangeUserRequest> ParseChangeUser(std::string_view payload, uint32_t caps) {
  ChangeUserRequest out;
  PayloadReader r(payload);
  auto user = r.NulString();
  if (!user.ok()) return user.status();
  out.user = *user;
  absl::StatusOr<std::string_view> auth = std::string_view();
  if (caps & kClientSecureConnection) {
    auto n = r.U8();
    if (!n.ok()) return n.status();
    auth = r.Bytes(*n);
  } else {
    auth = r.NulString(true);
  }
  if (!auth.ok()) return auth.status();
  out.auth_response = *auth;
  if (!r.empty()) {
    auto d = r.NulString(true);
    if (!d.ok()) return d.status();
    out.database = *d;
  }
  if (r.remaining() >= 2) {
    (void)r.U16();  // Character set.
    if ((caps & kClientPluginAuth) && !r.empty()) {
      auto pl = r.NulString(true);
      if (!pl.ok()) return pl.status();
      out.plugin = *pl;
    }
  }
  return out;
}

absl::StatusOr<std::vector<sql::Value>> DecodeExecuteParams(
    PayloadReader* r, size_t params, std::vector<uint16_t>* types,
    const std::map<uint16_t, std::string>& long_data) {
  std::vector<sql::Value> values;
  if (params == 0) return values;
  auto bitmap = r->Bytes((params + 7) / 8);
  if (!bitmap.ok()) return bitmap.status();
  auto bound = r->U8();
  if (!bound.ok()) return bound.status();
  std::vector<uint16_t> sent;
  if (*bound == 1) {
    sent.reserve(params);
    for (size_t i = 0; i < params; ++i) {
      auto t = r->U16();
      if (!t.ok()) return t.status();
      sent.push_back(*t);
    }
  }
  const std::vector<uint16_t>& use = *bound == 1 ? sent : *types;
  if (use.size() != params) {
    return absl::InvalidArgumentError("parameter types were never sent");
  }
  values.reserve(params);
  for (size_t i = 0; i < params; ++i) {
    auto ld = long_data.find(static_cast<uint16_t>(i));
    if (ld != long_data.end()) {
      values.push_back(sql::Value::String(ld->second));
      continue;
    }
    if ((*bitmap)[i / 8] & (1 << (i % 8))) {
      values.push_back(sql::Value::Null());
      continue;
    }
    auto v = DecodeBinaryParam(use[i], r);
    if (!v.ok()) return v.status();
    values.push_back(*std::move(v));
  }
  if (*bound == 1) *types = std::move(sent);
  return values;
}

}  // namespace rutile::server
