// Fuzz target for the MySQL protocol decoders (lib/server/protocol.h).
//
// The input's first byte picks a decoder, the rest is what a client (or a result value)
// would supply:
//   0: binary-protocol parameters, as COM_STMT_EXECUTE carries them: a count, 2-byte types,
//      then values, decoded until the payload is exhausted or rejected;
//   1: length-encoded integers and strings, NUL-terminated strings, fixed-width integers;
//   2: a text value converted to the binary form of a column type (result rows);
//   3: COM_STMT_EXECUTE's parameter block (DecodeExecuteParams): a parameter count byte,
//      a long-data mask byte (bit i: parameter i was sent with SEND_LONG_DATA), a byte
//      choosing whether earlier types exist, then the block as the client sends it;
//   4: a HandshakeResponse41 (ParseHandshakeResponse);
//   5: COM_CHANGE_USER after the command byte (ParseChangeUser), the first 4 bytes being
//      the connection's capabilities.
// Invalid input must come back as a status. It fails on crashes and overreads (the
// sanitizers), on a reader that moves backwards or past its end, and on an integer
// parameter that does not decode to what its bytes encode, on a parsed field that does
// not lie inside the input, and on an execute that changes the bound types when it fails
// or yields other than one value per parameter.

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "fuzz_driver.h"
#include "server/protocol.h"

namespace rutile::fuzz {

std::vector<std::string> FuzzSeeds() {
  using namespace rutile::server;
  std::vector<std::string> seeds;
  std::string params("\x00\x03", 2);
  PutU16(&params, kTypeLongLong);
  PutU16(&params, kTypeVarString);
  PutU16(&params, kTypeDatetime);
  PutU64(&params, 42);
  PutLenencString(&params, "hello");
  params.append("\x07\xe8\x07\x02\x1d\x0d\x0e\x0f", 8);
  seeds.push_back(params);
  std::string fields("\x01", 1);
  PutLenencInt(&fields, 300);
  PutLenencString(&fields, "abc");
  PutNulString(&fields, "root");
  seeds.push_back(fields);
  seeds.push_back(std::string("\x02\x0c", 2) + "2024-02-29 13:14:15.000123");
  seeds.push_back(std::string("\x02\x0b", 2) + "-838:59:59.5");
  seeds.push_back(std::string("\x02\x08", 2) + "-9223372036854775808");
  // Execute: 3 parameters, parameter 1 from long data, no earlier types; bitmap marks
  // parameter 2 NULL; types bound; parameter 0 a LONGLONG.
  std::string exec("\x03\x03\x02\x00", 4);
  PutU8(&exec, 0x04);
  PutU8(&exec, 1);
  PutU16(&exec, kTypeLongLong);
  PutU16(&exec, kTypeVarString);
  PutU16(&exec, kTypeDouble);
  PutU64(&exec, 7);
  seeds.push_back(exec);
  std::string hs("\x04", 1);
  PutU32(&hs, kClientProtocol41 | kClientSecureConnection | kClientPluginAuth |
                  kClientConnectWithDb | kClientConnectAttrs);
  PutU32(&hs, 1 << 24);
  PutU8(&hs, 45);
  hs.append(23, '\0');
  PutNulString(&hs, "root");
  PutU8(&hs, 20);
  hs.append(20, 'a');
  PutNulString(&hs, "d1");
  PutNulString(&hs, "mysql_native_password");
  seeds.push_back(hs);
  std::string cu("\x05", 1);
  PutU32(&cu, kClientSecureConnection | kClientPluginAuth);
  PutNulString(&cu, "alice");
  PutU8(&cu, 20);
  cu.append(20, 'b');
  PutNulString(&cu, "d1");
  PutU16(&cu, 45);
  PutNulString(&cu, "mysql_native_password");
  seeds.push_back(cu);
  return seeds;
}

}  // namespace rutile::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rutile::server;
  using rutile::fuzz::FuzzCheck;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  // Whether `field` is empty or lies inside `whole`.
  auto inside = [](std::string_view field, std::string_view whole) {
    return field.empty() || (field.data() >= whole.data() &&
                             field.data() + field.size() <= whole.data() + whole.size());
  };
  switch (data[0] % 6) {
    case 0: {
      PayloadReader r(input);
      auto count = r.U8();
      if (!count.ok()) return 0;
      std::vector<uint16_t> types;
      for (int i = 0; i < *count; ++i) {
        auto t = r.U16();
        if (!t.ok()) return 0;
        types.push_back(*t);
      }
      for (uint16_t t : types) {
        const size_t before = r.remaining();
        std::string_view rest = input.substr(input.size() - before);
        auto v = DecodeBinaryParam(t, &r);
        FuzzCheck(r.remaining() <= before, "reader moved backwards");
        if (!v.ok()) return 0;
        const uint8_t code = t & 0xFF;
        const int width = code == kTypeTiny                         ? 1
                          : code == kTypeShort || code == kTypeYear ? 2
                          : code == kTypeLong || code == kTypeInt24 ? 4
                          : code == kTypeLongLong                   ? 8
                                                                    : 0;
        if (width > 0) {
          FuzzCheck(before - r.remaining() == static_cast<size_t>(width), "integer width");
          uint64_t bits = 0;
          for (int i = width - 1; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(rest[i]);
          uint64_t got =
              v->kind == rutile::sql::Value::Kind::kUint ? v->u : static_cast<uint64_t>(v->i);
          if (width < 8) got &= (uint64_t{1} << (8 * width)) - 1;
          FuzzCheck(got == bits, "integer parameter decoded wrong");
        }
      }
      return 0;
    }
    case 1: {
      PayloadReader r(input);
      while (!r.empty()) {
        const size_t before = r.remaining();
        const uint8_t op = static_cast<uint8_t>(input[input.size() - before]) % 5;
        absl::Status s;
        switch (op) {
          case 0:
            s = r.LenencInt().status();
            break;
          case 1:
            s = r.LenencString().status();
            break;
          case 2:
            s = r.NulString(before % 2 == 0).status();
            break;
          case 3:
            s = r.U24().status();
            break;
          default:
            s = r.U64().status();
            break;
        }
        FuzzCheck(r.remaining() <= before, "reader moved backwards");
        if (!s.ok()) break;
        if (r.remaining() == before) (void)r.U8();  // An empty NUL string: move on.
      }
      return 0;
    }
    case 3: {
      if (input.size() < 3) return 0;
      const size_t params = static_cast<uint8_t>(input[0]);
      std::map<uint16_t, std::string> long_data;
      for (int i = 0; i < 8; ++i) {
        if (input[1] & (1 << i)) long_data[static_cast<uint16_t>(i)] = "long";
      }
      std::vector<uint16_t> types;
      if (input[2] & 1) types.assign(params, kTypeVarString);
      const std::vector<uint16_t> before = types;
      PayloadReader r(input.substr(3));
      auto values = DecodeExecuteParams(&r, params, &types, long_data);
      if (!values.ok()) {
        FuzzCheck(types == before, "a failed execute changed the bound types");
        return 0;
      }
      FuzzCheck(values->size() == params, "not one value per parameter");
      FuzzCheck(types.size() == params, "bound types do not match the parameters");
      for (const auto& [i, v] : long_data) {
        if (i < params)
          FuzzCheck((*values)[i].kind == rutile::sql::Value::Kind::kString, "long data");
      }
      return 0;
    }
    case 4: {
      auto hs = ParseHandshakeResponse(input);
      if (!hs.ok()) return 0;
      FuzzCheck((hs->capabilities & ~kServerCapabilities) == 0, "capability not offered");
      FuzzCheck(hs->capabilities & kClientProtocol41, "accepted a pre-4.1 client");
      FuzzCheck(inside(hs->user, input) && inside(hs->auth_response, input) &&
                    inside(hs->database, input) && inside(hs->plugin, input),
                "handshake field outside the payload");
      return 0;
    }
    case 5: {
      if (input.size() < 4) return 0;
      PayloadReader caps_reader(input);
      const uint32_t caps = *caps_reader.U32();
      const std::string_view payload = input.substr(4);
      auto cu = ParseChangeUser(payload, caps);
      if (!cu.ok()) return 0;
      FuzzCheck(inside(cu->user, payload) && inside(cu->auth_response, payload) &&
                    inside(cu->database, payload) && inside(cu->plugin, payload),
                "change-user field outside the payload");
      return 0;
    }
    default: {
      if (input.empty()) return 0;
      rutile::sql::ColumnMeta c;
      c.type = static_cast<uint8_t>(input[0]);
      c.flags = input.size() > 1 && (input[1] & 1) ? kUnsignedFlag : 0;
      rutile::sql::Row row = {std::string(input.substr(1))};
      auto p = BinaryRowPayload({c}, row);
      if (p.ok()) FuzzCheck(p->size() >= 2, "binary row without header and bitmap");
      return 0;
    }
  }
}
