#include "util/coding.h"

namespace rutile {

void PutFixed32(std::string* dst, uint32_t value) {
  char buf[4];
  EncodeFixed32(buf, value);
  dst->append(buf, sizeof(buf));
}

void PutFixed64(std::string* dst, uint64_t value) {
  char buf[8];
  EncodeFixed64(buf, value);
  dst->append(buf, sizeof(buf));
}

void PutFixed32BE(std::string* dst, uint32_t value) {
  char buf[4];
  EncodeFixed32BE(buf, value);
  dst->append(buf, sizeof(buf));
}

void PutFixed64BE(std::string* dst, uint64_t value) {
  char buf[8];
  EncodeFixed64BE(buf, value);
  dst->append(buf, sizeof(buf));
}

char* EncodeVarint64(char* dst, uint64_t value) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (value >= 0x80) {
    *p++ = static_cast<unsigned char>(value | 0x80);
    value >>= 7;
  }
  *p++ = static_cast<unsigned char>(value);
  return reinterpret_cast<char*>(p);
}

char* EncodeVarint32(char* dst, uint32_t value) { return EncodeVarint64(dst, value); }

void PutVarint32(std::string* dst, uint32_t value) {
  char buf[kMaxVarint32Length];
  char* end = EncodeVarint32(buf, value);
  dst->append(buf, end - buf);
}

void PutVarint64(std::string* dst, uint64_t value) {
  char buf[kMaxVarint64Length];
  char* end = EncodeVarint64(buf, value);
  dst->append(buf, end - buf);
}

void PutVarsint64(std::string* dst, int64_t value) { PutVarint64(dst, ZigZagEncode64(value)); }

void PutLengthPrefixed(std::string* dst, std::string_view value) {
  PutVarint32(dst, static_cast<uint32_t>(value.size()));
  dst->append(value.data(), value.size());
}

size_t VarintLength(uint64_t value) {
  size_t len = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++len;
  }
  return len;
}

namespace {

// Decodes a varint of at most `max_bytes` bytes whose value must not exceed `max_value`.
const char* GetVarintPtr(const char* p, const char* limit, size_t max_bytes, uint64_t max_value,
                         uint64_t* value) {
  uint64_t result = 0;
  for (size_t i = 0; i < max_bytes && p + i < limit; ++i) {
    const uint64_t byte = static_cast<unsigned char>(p[i]);
    const unsigned shift = 7 * static_cast<unsigned>(i);
    const uint64_t bits = byte & 0x7f;
    // Bits that would be shifted out of 64 bits mean overflow.
    if (shift > 0 && (bits >> (64 - shift)) != 0) return nullptr;
    result |= bits << shift;
    if ((byte & 0x80) == 0) {
      // A final 0x00 after at least one byte is a non-minimal encoding.
      if (i > 0 && byte == 0) return nullptr;
      if (result > max_value) return nullptr;
      *value = result;
      return p + i + 1;
    }
  }
  return nullptr;
}

}  // namespace

const char* GetVarint32Ptr(const char* p, const char* limit, uint32_t* value) {
  uint64_t v = 0;
  const char* q = GetVarintPtr(p, limit, kMaxVarint32Length, UINT32_MAX, &v);
  if (q != nullptr) *value = static_cast<uint32_t>(v);
  return q;
}

const char* GetVarint64Ptr(const char* p, const char* limit, uint64_t* value) {
  return GetVarintPtr(p, limit, kMaxVarint64Length, UINT64_MAX, value);
}

bool GetFixed32(std::string_view* input, uint32_t* value) {
  if (input->size() < 4) return false;
  *value = DecodeFixed32(input->data());
  input->remove_prefix(4);
  return true;
}

bool GetFixed64(std::string_view* input, uint64_t* value) {
  if (input->size() < 8) return false;
  *value = DecodeFixed64(input->data());
  input->remove_prefix(8);
  return true;
}

bool GetFixed32BE(std::string_view* input, uint32_t* value) {
  if (input->size() < 4) return false;
  *value = DecodeFixed32BE(input->data());
  input->remove_prefix(4);
  return true;
}

bool GetFixed64BE(std::string_view* input, uint64_t* value) {
  if (input->size() < 8) return false;
  *value = DecodeFixed64BE(input->data());
  input->remove_prefix(8);
  return true;
}

bool GetVarint32(std::string_view* input, uint32_t* value) {
  const char* begin = input->data();
  const char* q = GetVarint32Ptr(begin, begin + input->size(), value);
  if (q == nullptr) return false;
  input->remove_prefix(q - begin);
  return true;
}

bool GetVarint64(std::string_view* input, uint64_t* value) {
  const char* begin = input->data();
  const char* q = GetVarint64Ptr(begin, begin + input->size(), value);
  if (q == nullptr) return false;
  input->remove_prefix(q - begin);
  return true;
}

bool GetVarsint64(std::string_view* input, int64_t* value) {
  uint64_t u = 0;
  if (!GetVarint64(input, &u)) return false;
  *value = ZigZagDecode64(u);
  return true;
}

bool GetLengthPrefixed(std::string_view* input, std::string_view* value) {
  std::string_view in = *input;
  uint32_t len = 0;
  if (!GetVarint32(&in, &len) || in.size() < len) return false;
  *value = in.substr(0, len);
  in.remove_prefix(len);
  *input = in;
  return true;
}

}  // namespace rutile
