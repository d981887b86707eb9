// Unit tests of the MySQL protocol codec (server/protocol.h): no sockets, no threads.

#include "server/protocol.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "absl/strings/escaping.h"

namespace rutile::server {
namespace {

std::string Hex(const std::array<uint8_t, 20>& a) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(a.data()), 20));
}

TEST(Sha1, KnownVectors) {
  EXPECT_EQ(Hex(Sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Hex(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Hex(Sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Hex(Sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(NativePassword, AcceptsTheRightPasswordOnly) {
  const std::string scramble = "0123456789abcdefghij";
  const std::string response = NativePasswordResponse("secret", scramble);
  EXPECT_EQ(response.size(), 20u);
  EXPECT_TRUE(CheckNativePassword("secret", scramble, response));
  EXPECT_FALSE(CheckNativePassword("Secret", scramble, response));
  EXPECT_FALSE(CheckNativePassword("secret", "0123456789abcdefghiX", response));
  EXPECT_FALSE(CheckNativePassword("secret", scramble, ""));
  EXPECT_TRUE(CheckNativePassword("", scramble, ""));
  EXPECT_FALSE(CheckNativePassword("", scramble, response));
}

TEST(PayloadReader, LenencRoundTrip) {
  for (uint64_t v : {0ull, 250ull, 251ull, 65535ull, 65536ull, 16777215ull, 16777216ull, ~0ull}) {
    std::string s;
    PutLenencInt(&s, v);
    PayloadReader r(s);
    auto got = r.LenencInt();
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, v);
    EXPECT_TRUE(r.empty());
  }
}

TEST(PayloadReader, TruncatedInputIsAnErrorNeverAnOverread) {
  std::string s;
  PutLenencString(&s, "hello world");
  for (size_t n = 0; n < s.size(); ++n) {
    PayloadReader r(std::string_view(s).substr(0, n));
    EXPECT_FALSE(r.LenencString().ok()) << n;
  }
  PayloadReader r("\xFC\x01");
  EXPECT_FALSE(r.LenencInt().ok());
  PayloadReader nul("abc");
  EXPECT_FALSE(nul.NulString().ok());
  PayloadReader nul2("abc");
  EXPECT_EQ(*nul2.NulString(true), "abc");
}

TEST(Packets, OkErrEofLayout) {
  std::string ok = OkPayload(300, 7, kStatusAutocommit, 2);
  EXPECT_EQ(ok, std::string("\x00\xFC\x2C\x01\x07\x02\x00\x02\x00", 9));
  std::string err = ErrPayload(1064, "42000", "bad");
  EXPECT_EQ(err, std::string("\xFF\x28\x04#42000bad", 12));
  EXPECT_EQ(EofPayload(2, 0), std::string("\xFE\x00\x00\x02\x00", 5));
}

sql::ColumnMeta Col(uint8_t type, uint32_t flags = 0) {
  sql::ColumnMeta c;
  c.name = "c";
  c.type = type;
  c.flags = flags;
  return c;
}

TEST(BinaryRow, EncodesEachTypeAndNulls) {
  std::vector<sql::ColumnMeta> cols = {Col(kTypeTiny),   Col(kTypeLongLong, kUnsignedFlag),
                                       Col(kTypeDouble), Col(kTypeDatetime),
                                       Col(kTypeTime),   Col(kTypeVarString),
                                       Col(kTypeLong)};
  sql::Row row = {"-5",         "18446744073709551615",
                  "1.5",        "2024-02-29 13:14:15.000123",
                  "-838:59:59", "text",
                  std::nullopt};
  auto p = BinaryRowPayload(cols, row);
  ASSERT_TRUE(p.ok()) << p.status();
  PayloadReader r(*p);
  EXPECT_EQ(*r.U8(), 0);
  auto bitmap = *r.Bytes(2);                           // (7 + 7 + 2) / 8.
  EXPECT_EQ(static_cast<uint8_t>(bitmap[1]), 1 << 0);  // Column 6 is bit 8.
  EXPECT_EQ(*r.U8(), 0xFB);
  EXPECT_EQ(*r.U64(), ~0ull);
  uint64_t bits = *r.U64();
  double d;
  std::memcpy(&d, &bits, 8);
  EXPECT_EQ(d, 1.5);
  EXPECT_EQ(*r.U8(), 11);
  EXPECT_EQ(*r.U16(), 2024);
  EXPECT_EQ(*r.U8(), 2);
  EXPECT_EQ(*r.U8(), 29);
  EXPECT_EQ(*r.U8(), 13);
  EXPECT_EQ(*r.U8(), 14);
  EXPECT_EQ(*r.U8(), 15);
  EXPECT_EQ(*r.U32(), 123u);
  EXPECT_EQ(*r.U8(), 8);
  EXPECT_EQ(*r.U8(), 1);
  EXPECT_EQ(*r.U32(), 34u);  // 838 h = 34 days 22 h.
  EXPECT_EQ(*r.U8(), 22);
  EXPECT_EQ(*r.U8(), 59);
  EXPECT_EQ(*r.U8(), 59);
  EXPECT_EQ(*r.LenencString(), "text");
  EXPECT_TRUE(r.empty());

  EXPECT_FALSE(BinaryRowPayload({Col(kTypeLong)}, {"abc"}).ok());
  EXPECT_FALSE(BinaryRowPayload({Col(kTypeDate)}, {"2024-1"}).ok());
}

TEST(BinaryParam, DecodesEachType) {
  std::string s;
  PutU8(&s, 0xFF);                 // TINY -1
  PutU16(&s, 0xFFFF);              // SHORT unsigned 65535
  PutU64(&s, 0x8000000000000000);  // LONGLONG min
  double d = -2.25;
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  PutU64(&s, bits);  // DOUBLE
  PutU8(&s, 7);      // DATETIME without micros
  PutU16(&s, 1999);
  PutU8(&s, 12);
  PutU8(&s, 31);
  PutU8(&s, 23);
  PutU8(&s, 59);
  PutU8(&s, 58);
  PutLenencString(&s, "blob\0x");  // VAR_STRING
  PayloadReader r(s);
  auto v1 = *DecodeBinaryParam(kTypeTiny, &r);
  EXPECT_EQ(v1.kind, sql::Value::Kind::kInt);
  EXPECT_EQ(v1.i, -1);
  auto v2 = *DecodeBinaryParam(kTypeShort | 0x8000, &r);
  EXPECT_EQ(v2.kind, sql::Value::Kind::kUint);
  EXPECT_EQ(v2.u, 65535u);
  auto v3 = *DecodeBinaryParam(kTypeLongLong, &r);
  EXPECT_EQ(v3.i, INT64_MIN);
  auto v4 = *DecodeBinaryParam(kTypeDouble, &r);
  EXPECT_EQ(v4.d, -2.25);
  auto v5 = *DecodeBinaryParam(kTypeDatetime, &r);
  EXPECT_EQ(v5.s, "1999-12-31 23:59:58");
  auto v6 = *DecodeBinaryParam(kTypeVarString, &r);
  EXPECT_EQ(v6.s, "blob");
  EXPECT_FALSE(DecodeBinaryParam(kTypeLong, &r).ok());  // Only 2 bytes left.
  PayloadReader bad("\x05");
  EXPECT_FALSE(DecodeBinaryParam(kTypeDate, &bad).ok());
  PayloadReader unknown("");
  EXPECT_FALSE(DecodeBinaryParam(0x77, &unknown).ok());
}

// Random bytes through every decoder: errors are fine, crashes and overreads are not.
TEST(BinaryParam, RandomInputNeverCrashes) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    PayloadReader r(s);
    const uint16_t type = static_cast<uint16_t>(rng() % 2 ? rng() % 20 : 245 + rng() % 11);
    (void)DecodeBinaryParam(type, &r);
    PayloadReader r2(s);
    (void)r2.LenencString();
  }
}

std::string HandshakeResponseFor(uint32_t caps, std::string_view user, std::string_view auth,
                                 std::string_view db, std::string_view plugin) {
  std::string p;
  PutU32(&p, caps);
  PutU32(&p, 1 << 24);
  PutU8(&p, 45);
  p.append(23, '\0');
  PutNulString(&p, user);
  PutU8(&p, static_cast<uint8_t>(auth.size()));
  p.append(auth);
  PutNulString(&p, db);
  PutNulString(&p, plugin);
  return p;
}

TEST(ParseHandshakeResponse, FieldsAndRefusals) {
  const uint32_t caps = kClientProtocol41 | kClientSecureConnection | kClientPluginAuth |
                        kClientConnectWithDb | kClientSsl;
  const std::string auth(20, 'a');
  std::string p =
      HandshakeResponseFor(caps & ~kClientSsl, "root", auth, "d1", "mysql_native_password");
  auto r = ParseHandshakeResponse(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user, "root");
  EXPECT_EQ(r->auth_response, auth);
  EXPECT_EQ(r->database, "d1");
  EXPECT_EQ(r->plugin, "mysql_native_password");
  EXPECT_EQ(r->capabilities & kClientSsl, 0u);
  EXPECT_FALSE(ParseHandshakeResponse(HandshakeResponseFor(caps, "root", auth, "", "")).ok());
  EXPECT_FALSE(
      ParseHandshakeResponse(HandshakeResponseFor(kClientSecureConnection, "root", auth, "", ""))
          .ok());
  for (size_t n = 0; n < 36; ++n) {  // Truncated before the auth data ends.
    EXPECT_FALSE(ParseHandshakeResponse(p.substr(0, n)).ok()) << n;
  }
}

TEST(ParseChangeUser, FieldsAndTruncation) {
  std::string p;
  PutNulString(&p, "alice");
  PutU8(&p, 3);
  p.append("xyz");
  PutNulString(&p, "d1");
  PutU16(&p, 45);
  PutNulString(&p, "mysql_native_password");
  auto r = ParseChangeUser(p, kClientSecureConnection | kClientPluginAuth);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(r->auth_response, "xyz");
  EXPECT_EQ(r->database, "d1");
  EXPECT_EQ(r->plugin, "mysql_native_password");
  EXPECT_FALSE(ParseChangeUser("alice", kClientSecureConnection).ok());
  EXPECT_FALSE(ParseChangeUser(std::string("alice\0\x05xy", 9), kClientSecureConnection).ok());
}

TEST(DecodeExecuteParams, BitmapTypesLongDataAndFailures) {
  std::string p;
  PutU8(&p, 0x04);  // Parameter 2 is NULL.
  PutU8(&p, 1);     // Types follow.
  PutU16(&p, kTypeLongLong);
  PutU16(&p, kTypeVarString);
  PutU16(&p, kTypeVarString);
  PutU64(&p, 42);
  std::map<uint16_t, std::string> long_data = {{1, "long"}};
  std::vector<uint16_t> types;
  PayloadReader r(p);
  auto v = DecodeExecuteParams(&r, 3, &types, long_data);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0].i, 42);
  EXPECT_EQ((*v)[1].kind, sql::Value::Kind::kString);
  EXPECT_EQ((*v)[2].kind, sql::Value::Kind::kNull);
  EXPECT_EQ(types.size(), 3u);
  // Without types, those of the earlier execute apply.
  std::string again;
  PutU8(&again, 0x06);
  PutU8(&again, 0);
  PutU64(&again, 7);
  PayloadReader r2(again);
  v = DecodeExecuteParams(&r2, 3, &types, {});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)[0].i, 7);
  // Never-sent types, a truncated value: errors, and the bound types stay.
  std::vector<uint16_t> none;
  PayloadReader r3(again);
  EXPECT_FALSE(DecodeExecuteParams(&r3, 3, &none, {}).ok());
  const std::vector<uint16_t> kept = types;
  std::string truncated = p.substr(0, p.size() - 1);
  truncated[2] = static_cast<char>(kTypeDouble);  // 8 bytes; 7 remain.
  PayloadReader r4(truncated);
  EXPECT_FALSE(DecodeExecuteParams(&r4, 3, &types, {}).ok());
  EXPECT_EQ(types, kept);
}

}  // namespace
}  // namespace rutile::server
