// The seam between Rutile nodes. A Transport moves opaque frames between nodes, best
// effort: a frame may be lost, delayed, duplicated or reordered, and Rutile tolerates all
// four. A host application plugs in its own network by implementing these three methods;
// Rutile ships an in-process hub (LocalTransport), a simulated network on SimEnv
// (SimTransport) and gRPC (GrpcTransport).
//
// Frames are serialized rutile.Envelope protobufs (lib/proto/transport.proto): Raft
// message batches, RPC requests and responses. A Transport never looks inside them.
//
// Thread safety: every method may be called concurrently from any fiber or thread.

#ifndef RUTILE_TRANSPORT_H_
#define RUTILE_TRANSPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace rutile {

// Identifies a node (a process-level member of a cluster). 0 is never a valid id.
using NodeId = uint64_t;

// Receives the frames addressed to one node.
class FrameReceiver {
 public:
  virtual ~FrameReceiver() = default;

  // Called once per delivered frame. Must not block for long: implementations hand the
  // frame to a fiber. `from` is the sender as the transport knows it.
  virtual void OnFrame(NodeId from, std::string frame) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Routes frames addressed to `self` to `receiver`, which must outlive the registration.
  // Returns AlreadyExists if `self` is registered already, InvalidArgument for id 0.
  virtual absl::Status Register(NodeId self, FrameReceiver* receiver) = 0;

  // Stops delivery to `self`. When it returns, `receiver` is not called again.
  virtual void Unregister(NodeId self) = 0;

  // Sends `frame` from `from` to `to`, best effort. Never blocks on the network. A frame
  // to an unknown node, or over the transport's size limit, is dropped and counted.
  virtual void Send(NodeId from, NodeId to, std::string frame) = 0;
};

}  // namespace rutile

#endif  // RUTILE_TRANSPORT_H_
