// Fuzz target for the MySQL protocol decoders (lib/server/protocol.h).
//
// The input's first byte picks a decoder, the rest is what a client (or a result value)
// would supply:
//   0: binary-protocol parameters, as COM_STMT_EXECUTE carries them: a count, 2-byte types,
//      then values, decoded until the payload is exhausted or rejected;
//   1: length-encoded integers and strings, NUL-terminated strings, fixed-width integers;
//   2: a text value converted to the binary form of a column type (result rows).
// Invalid input must come back as a status. It fails on crashes and overreads (the
// sanitizers), on a reader that moves backwards or past its end, and on an integer
// parameter that does not decode to what its bytes encode.

#include <cstring>
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
  return seeds;
}

}  // namespace rutile::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rutile::server;
  using rutile::fuzz::FuzzCheck;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
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
