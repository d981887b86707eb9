// The wire encoding of FrameBatch (lib/proto/transport_service.proto) as GrpcTransport
// writes and reads it: protobuf wire format, produced and consumed directly on gRPC
// slices instead of through the generated message class.
//
// Why not the generated class: encoding through it copies every frame into one big
// contiguous buffer, and parsing it materializes a whole batch of strings before the first
// is delivered. Here a large frame is sent from the caller's own string (a slice that owns
// it), and received frames are copied out of gRPC's buffers one at a time, straight to the
// receiver. The bytes are exactly a serialized FrameBatch either way: any protobuf encoder
// can produce input for the decoder, and the generated class parses the encoder's output
// (grpc_batch_codec_test checks both directions).
//
// Thread safety: free functions over the caller's objects.

#ifndef RUTILE_TRANSPORT_GRPC_BATCH_CODEC_H_
#define RUTILE_TRANSPORT_GRPC_BATCH_CODEC_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rutile/transport.h"

namespace rutile::transport {

// Frames at least this large are sent without being copied.
inline constexpr size_t kZeroCopyMinBytes = 1024;

// Encodes FrameBatch{from, to, frames} into `out`, consuming (and clearing) `frames`.
void EncodeFrameBatch(NodeId from, NodeId to, std::vector<std::string>* frames,
                      grpc::ByteBuffer* out);

// Receives the decoded contents of one batch.
class FrameBatchSink {
 public:
  virtual ~FrameBatchSink() = default;

  // Called once, before the first frame (not at all for a batch without frames).
  // Returning false skips every frame of the batch without copying it.
  virtual bool OnHeader(NodeId from, NodeId to) = 0;

  // Called for each frame of at most the decoder's size limit. Returning false skips the
  // rest of the batch.
  virtual bool OnFrame(std::string frame) = 0;
};

struct FrameBatchDecodeStats {
  uint64_t delivered = 0;  // Frames handed to OnFrame.
  uint64_t skipped = 0;    // Frames skipped because the sink said so.
  uint64_t oversize = 0;   // Frames over the size limit, skipped.
};

// Decodes `buffer`, a serialized FrameBatch, into `sink`. Frames larger than
// `max_frame_bytes` are skipped and counted, never allocated. Unknown fields are skipped.
// The `from` and `to` fields must precede the first frame, as every protobuf encoder
// writes fields in number order. InvalidArgument for malformed input (truncation, a bad
// wire type, a frame before `to`); frames before the error stay delivered.
absl::Status DecodeFrameBatch(const grpc::ByteBuffer& buffer, size_t max_frame_bytes,
                              FrameBatchSink* sink, FrameBatchDecodeStats* stats);

}  // namespace rutile::transport

#endif  // RUTILE_TRANSPORT_GRPC_BATCH_CODEC_H_
