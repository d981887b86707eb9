// Fuzz target for the byte codecs of util/coding.h and util/memcomparable.h.
//
// The first input byte picks a decoder; the rest is decoded value after value until the
// decoder fails or the input ends. Decoders must never crash or read out of bounds
// (sanitizers watch that), and for every accepted value:
//   - a failed decode leaves the cursor where it was;
//   - re-encoding the value gives exactly the bytes consumed (decoders are canonical);
//   - for memcomparable encodings, two consecutive values compare as their bytes do
//     (reversed for the descending forms).

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_driver.h"
#include "util/coding.h"
#include "util/memcomparable.h"

namespace rutile::fuzz {
namespace {

namespace mc = ::rutile::memcomparable;

template <typename T>
int Cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int Sign(int v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); }

// Decodes values from `in` with `decode` (returns false on error) until it fails or `in`
// is empty; checks the invariants listed at the top of the file.
template <typename T, typename Decode, typename Encode>
void Walk(std::string_view in, Decode decode, Encode encode, bool ordered, bool descending) {
  bool have_prev = false;
  T prev{};
  std::string prev_bytes;
  while (!in.empty()) {
    const std::string_view before = in;
    T value{};
    if (!decode(&in, &value)) {
      FuzzCheck(in.data() == before.data() && in.size() == before.size(),
                "failed decode moved the cursor");
      return;
    }
    FuzzCheck(in.size() < before.size(), "successful decode consumed nothing");
    const std::string_view consumed = before.substr(0, before.size() - in.size());
    std::string again;
    encode(&again, value);
    FuzzCheck(again == consumed, "re-encoding differs from the bytes decoded");
    if (ordered && have_prev) {
      int want = Cmp(prev, value);
      if (descending) want = -want;
      FuzzCheck(Sign(std::string_view(prev_bytes).compare(consumed)) == want,
                "byte order differs from value order");
    }
    have_prev = true;
    prev = value;
    prev_bytes.assign(consumed.data(), consumed.size());
  }
}

template <typename T>
auto StatusOrDecoder(absl::StatusOr<T> (*fn)(std::string_view*)) {
  return [fn](std::string_view* in, T* out) {
    absl::StatusOr<T> v = fn(in);
    if (!v.ok()) return false;
    *out = *v;
    return true;
  };
}

auto BytesDecoder(absl::Status (*fn)(std::string_view*, std::string*)) {
  return [fn](std::string_view* in, std::string* out) {
    out->clear();
    return fn(in, out).ok();
  };
}

enum Mode : uint8_t {
  kBytes,
  kBytesDesc,
  kInt64,
  kInt64Desc,
  kUint64,
  kUint64Desc,
  kFloat64,
  kFloat64Desc,
  kCmpVarint,
  kCmpUvarint,
  kCompactBytes,
  kVarint32,
  kVarint64,
  kVarsint64,
  kLengthPrefixed,
  kFixed32,
  kFixed64BE,
  kPeekBytes,
  kNumModes,
};

}  // namespace

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  auto add = [&](Mode mode, auto fill) {
    std::string s(1, static_cast<char>(mode));
    fill(&s);
    seeds.push_back(std::move(s));
  };
  for (std::string_view v : {"", "a", "abcdefgh", "abcdefghi", "\xff\x00\x01"}) {
    add(kBytes, [&](std::string* s) { mc::EncodeBytes(s, v), mc::EncodeBytes(s, "zz"); });
    add(kBytesDesc, [&](std::string* s) { mc::EncodeBytesDesc(s, v), mc::EncodeBytesDesc(s, ""); });
    add(kPeekBytes, [&](std::string* s) { mc::EncodeBytes(s, v); });
    add(kCompactBytes, [&](std::string* s) { mc::EncodeCompactBytes(s, v); });
    add(kLengthPrefixed, [&](std::string* s) { PutLengthPrefixed(s, v); });
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{239}, int64_t{-300}, INT64_MIN, INT64_MAX}) {
    add(kInt64, [&](std::string* s) { mc::EncodeInt64(s, v), mc::EncodeInt64(s, v / 2); });
    add(kInt64Desc, [&](std::string* s) { mc::EncodeInt64Desc(s, v), mc::EncodeInt64Desc(s, 1); });
    add(kUint64, [&](std::string* s) { mc::EncodeUint64(s, v), mc::EncodeUint64(s, 7); });
    add(kUint64Desc, [&](std::string* s) { mc::EncodeUint64Desc(s, v); });
    add(kFloat64, [&](std::string* s) { mc::EncodeFloat64(s, v), mc::EncodeFloat64(s, -0.5); });
    add(kFloat64Desc, [&](std::string* s) { mc::EncodeFloat64Desc(s, v); });
    add(kCmpVarint, [&](std::string* s) {
      mc::EncodeComparableVarint(s, v), mc::EncodeComparableVarint(s, -(v / 3));
    });
    add(kCmpUvarint, [&](std::string* s) { mc::EncodeComparableUvarint(s, v); });
    add(kVarint32, [&](std::string* s) { PutVarint32(s, static_cast<uint32_t>(v)); });
    add(kVarint64, [&](std::string* s) { PutVarint64(s, static_cast<uint64_t>(v)); });
    add(kVarsint64, [&](std::string* s) { PutVarsint64(s, v); });
    add(kFixed32, [&](std::string* s) { PutFixed32(s, static_cast<uint32_t>(v)); });
    add(kFixed64BE, [&](std::string* s) { PutFixed64BE(s, static_cast<uint64_t>(v)); });
  }
  return seeds;
}

}  // namespace rutile::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rutile;  // NOLINT: a test translation unit.
  namespace mc = ::rutile::memcomparable;
  if (size == 0) return 0;
  const auto mode = static_cast<fuzz::Mode>(data[0] % fuzz::kNumModes);
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case fuzz::kBytes:
      fuzz::Walk<std::string>(in, fuzz::BytesDecoder(mc::DecodeBytes), mc::EncodeBytes, true,
                              false);
      break;
    case fuzz::kBytesDesc:
      fuzz::Walk<std::string>(in, fuzz::BytesDecoder(mc::DecodeBytesDesc), mc::EncodeBytesDesc,
                              true, true);
      break;
    case fuzz::kInt64:
      fuzz::Walk<int64_t>(in, fuzz::StatusOrDecoder(mc::DecodeInt64), mc::EncodeInt64, true, false);
      break;
    case fuzz::kInt64Desc:
      fuzz::Walk<int64_t>(in, fuzz::StatusOrDecoder(mc::DecodeInt64Desc), mc::EncodeInt64Desc, true,
                          true);
      break;
    case fuzz::kUint64:
      fuzz::Walk<uint64_t>(in, fuzz::StatusOrDecoder(mc::DecodeUint64), mc::EncodeUint64, true,
                           false);
      break;
    case fuzz::kUint64Desc:
      fuzz::Walk<uint64_t>(in, fuzz::StatusOrDecoder(mc::DecodeUint64Desc), mc::EncodeUint64Desc,
                           true, true);
      break;
    case fuzz::kFloat64:
    case fuzz::kFloat64Desc: {
      const bool desc = mode == fuzz::kFloat64Desc;
      // NaN has no order; the canonical-bytes check still applies to it.
      auto decode = [desc](std::string_view* s, double* out) {
        absl::StatusOr<double> v = desc ? mc::DecodeFloat64Desc(s) : mc::DecodeFloat64(s);
        if (!v.ok()) return false;
        *out = *v;
        return true;
      };
      bool has_nan = false;
      {
        std::string_view probe = in;
        double v = 0;
        while (decode(&probe, &v)) has_nan |= std::isnan(v);
      }
      if (desc) {
        fuzz::Walk<double>(in, decode, mc::EncodeFloat64Desc, !has_nan, true);
      } else {
        fuzz::Walk<double>(in, decode, mc::EncodeFloat64, !has_nan, false);
      }
      break;
    }
    case fuzz::kCmpVarint:
      fuzz::Walk<int64_t>(in, fuzz::StatusOrDecoder(mc::DecodeComparableVarint),
                          mc::EncodeComparableVarint, true, false);
      break;
    case fuzz::kCmpUvarint:
      fuzz::Walk<uint64_t>(in, fuzz::StatusOrDecoder(mc::DecodeComparableUvarint),
                           mc::EncodeComparableUvarint, true, false);
      break;
    case fuzz::kCompactBytes:
      fuzz::Walk<std::string_view>(in, fuzz::StatusOrDecoder(mc::DecodeCompactBytes),
                                   mc::EncodeCompactBytes, false, false);
      break;
    case fuzz::kVarint32:
      fuzz::Walk<uint32_t>(in, GetVarint32, PutVarint32, false, false);
      break;
    case fuzz::kVarint64:
      fuzz::Walk<uint64_t>(in, GetVarint64, PutVarint64, false, false);
      break;
    case fuzz::kVarsint64:
      fuzz::Walk<int64_t>(in, GetVarsint64, PutVarsint64, false, false);
      break;
    case fuzz::kLengthPrefixed:
      fuzz::Walk<std::string_view>(in, GetLengthPrefixed, PutLengthPrefixed, false, false);
      break;
    case fuzz::kFixed32:
      fuzz::Walk<uint32_t>(in, GetFixed32, PutFixed32, false, false);
      break;
    case fuzz::kFixed64BE:
      fuzz::Walk<uint64_t>(in, GetFixed64BE, PutFixed64BE, false, false);
      break;
    case fuzz::kPeekBytes: {
      // The peeked length must equal what DecodeBytes consumes, or both must fail.
      absl::StatusOr<size_t> n = mc::PeekBytesLength(in);
      std::string_view cursor = in;
      std::string out;
      const bool ok = mc::DecodeBytes(&cursor, &out).ok();
      fuzz::FuzzCheck(n.ok() == ok, "PeekBytesLength and DecodeBytes disagree on validity");
      if (ok) {
        fuzz::FuzzCheck(*n == in.size() - cursor.size(), "PeekBytesLength differs");
      }
      break;
    }
    case fuzz::kNumModes:
      break;
  }
  return 0;
}
