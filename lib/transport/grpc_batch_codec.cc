#include "transport/grpc_batch_codec.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace rutile::transport {
namespace {

// FrameBatch field tags: (field number << 3) | wire type.
constexpr uint8_t kFromTag = (1 << 3) | 0;    // varint
constexpr uint8_t kToTag = (2 << 3) | 0;      // varint
constexpr uint8_t kFramesTag = (3 << 3) | 2;  // length-delimited

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void DeleteString(void* p) { delete static_cast<std::string*>(p); }

// A slice that owns `s` (moved to the heap); gRPC frees it when the bytes are written.
grpc::Slice OwningSlice(std::string&& s) {
  auto* owned = new std::string(std::move(s));
  return grpc::Slice(owned->data(), owned->size(), &DeleteString, owned);
}

// Sequential reads over the slices of a ByteBuffer.
class SliceReader {
 public:
  explicit SliceReader(std::vector<grpc::Slice> slices) : slices_(std::move(slices)) {
    for (const grpc::Slice& s : slices_) remaining_ += s.size();
  }

  size_t remaining() const { return remaining_; }

  bool ReadByte(uint8_t* b) {
    if (remaining_ == 0) return false;
    Settle();
    *b = slices_[index_].begin()[offset_];
    ++offset_;
    --remaining_;
    return true;
  }

  bool ReadVarint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      if (!ReadByte(&b)) return false;
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;  // More than ten bytes.
  }

  // Copies the next `n` bytes (n <= remaining()) into `out`.
  void Read(size_t n, std::string* out) {
    out->resize(n);
    char* dst = out->data();
    while (n > 0) {
      Settle();
      const grpc::Slice& s = slices_[index_];
      const size_t take = std::min(n, s.size() - offset_);
      std::memcpy(dst, s.begin() + offset_, take);
      dst += take;
      n -= take;
      offset_ += take;
      remaining_ -= take;
    }
  }

  // Skips `n` bytes (n <= remaining()).
  void Skip(size_t n) {
    while (n > 0) {
      Settle();
      const size_t take = std::min(n, slices_[index_].size() - offset_);
      n -= take;
      offset_ += take;
      remaining_ -= take;
    }
  }

 private:
  // Moves past exhausted (and empty) slices; requires remaining_ > 0.
  void Settle() {
    while (offset_ == slices_[index_].size()) {
      ++index_;
      offset_ = 0;
    }
  }

  std::vector<grpc::Slice> slices_;
  size_t index_ = 0;
  size_t offset_ = 0;
  size_t remaining_ = 0;
};

}  // namespace

// Performance-critical path.
void EncodeFrameBatch(NodeId from, NodeId to, std::vector<std::string>* frames,
                      grpc::ByteBuffer* out) {
  std::vector<grpc::Slice> slices;
  size_t small_bytes = 0;
  for (const std::string& f : *frames) {
    if (f.size() < kZeroCopyMinBytes) small_bytes += f.size();
  }
  // Field headers and small frames are copied into `head`; each large frame becomes a
  // slice of its own between two heads.
  std::string head;
  head.reserve(22 + 11 * frames->size() + small_bytes);
  head.push_back(static_cast<char>(kFromTag));
  AppendVarint(&head, from);
  head.push_back(static_cast<char>(kToTag));
  AppendVarint(&head, to);
  for (std::string& f : *frames) {
    head.push_back(static_cast<char>(kFramesTag));
    AppendVarint(&head, f.size());
    if (f.size() < kZeroCopyMinBytes) {
      head.append(f);
    } else {
      slices.push_back(OwningSlice(std::move(head)));
      head = std::string();
      head.reserve(16);
      slices.push_back(OwningSlice(std::move(f)));
    }
  }
  if (!head.empty()) slices.push_back(OwningSlice(std::move(head)));
  frames->clear();
  grpc::ByteBuffer buffer(slices.data(), slices.size());
  out->Swap(&buffer);
}

// Performance-critical path.
absl::Status DecodeFrameBatch(const grpc::ByteBuffer& buffer, size_t max_frame_bytes,
                              FrameBatchSink* sink, FrameBatchDecodeStats* stats) {
  std::vector<grpc::Slice> slices;
  if (buffer.Valid() && !buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("FrameBatch: unreadable buffer");
  }
  SliceReader in(std::move(slices));
  uint64_t from = 0;
  uint64_t to = 0;
  bool to_seen = false;
  bool header_done = false;
  bool deliver = true;
  while (in.remaining() > 0) {
    uint64_t tag;
    if (!in.ReadVarint(&tag)) return absl::InvalidArgumentError("FrameBatch: truncated tag");
    const uint64_t field = tag >> 3;
    const int wire_type = static_cast<int>(tag & 7);
    if (field == 0) return absl::InvalidArgumentError("FrameBatch: field number 0");
    if ((field == 1 || field == 2) && wire_type == 0) {
      uint64_t v;
      if (!in.ReadVarint(&v)) return absl::InvalidArgumentError("FrameBatch: truncated varint");
      if (header_done) return absl::InvalidArgumentError("FrameBatch: from/to after frames");
      if (field == 1) {
        from = v;
      } else {
        to = v;
        to_seen = true;
      }
      continue;
    }
    if (field == 3 && wire_type == 2) {
      uint64_t len;
      if (!in.ReadVarint(&len)) return absl::InvalidArgumentError("FrameBatch: truncated length");
      if (len > in.remaining()) return absl::InvalidArgumentError("FrameBatch: truncated frame");
      if (!header_done) {
        if (!to_seen) return absl::InvalidArgumentError("FrameBatch: frame before `to`");
        header_done = true;
        deliver = sink->OnHeader(from, to);
      }
      if (!deliver) {
        in.Skip(len);
        ++stats->skipped;
      } else if (len > max_frame_bytes) {
        in.Skip(len);
        ++stats->oversize;
      } else {
        std::string frame;
        in.Read(len, &frame);
        ++stats->delivered;
        deliver = sink->OnFrame(std::move(frame));
      }
      continue;
    }
    // An unknown field (or a known one with an unexpected wire type): skip it.
    switch (wire_type) {
      case 0: {
        uint64_t v;
        if (!in.ReadVarint(&v)) return absl::InvalidArgumentError("FrameBatch: truncated varint");
        break;
      }
      case 1:
        if (in.remaining() < 8) return absl::InvalidArgumentError("FrameBatch: truncated fixed64");
        in.Skip(8);
        break;
      case 2: {
        uint64_t len;
        if (!in.ReadVarint(&len) || len > in.remaining()) {
          return absl::InvalidArgumentError("FrameBatch: truncated field");
        }
        in.Skip(len);
        break;
      }
      case 5:
        if (in.remaining() < 4) return absl::InvalidArgumentError("FrameBatch: truncated fixed32");
        in.Skip(4);
        break;
      default:
        return absl::InvalidArgumentError("FrameBatch: unsupported wire type " +
                                          std::to_string(wire_type));
    }
  }
  return absl::OkStatus();
}

}  // namespace rutile::transport
