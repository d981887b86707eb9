// Typed errors of the raft package. Each is an absl::Status with a canonical code and a
// payload naming the kind, so callers can branch on the kind with IsRaftError() without
// parsing messages. Only kinds some caller reacts to exist.

#ifndef RUTILE_RAFT_ERRORS_H_
#define RUTILE_RAFT_ERRORS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rutile::raft {

enum class RaftError {
  // LogStorage: the requested index precedes the first available index (compacted
  // away). Raft reacts by sending a snapshot instead. Code kOutOfRange.
  kCompacted,
  // LogStorage: the requested entries are past the last index. Code kOutOfRange.
  kUnavailable,
  // LogStorage::Snapshot: a snapshot is being produced; Raft retries later. Code
  // kUnavailable.
  kSnapshotTemporarilyUnavailable,
  // MemoryLogStorage::ApplySnapshot/CreateSnapshot: the snapshot is older than the one
  // held. Code kFailedPrecondition.
  kSnapshotOutOfDate,
  // RawNode::Propose/ProposeConfChange: the proposal was not accepted (no leader,
  // forwarding disabled, leader transfer in progress, uncommitted-size limit, or this
  // node was removed). The caller may retry, typically elsewhere. Code kUnavailable.
  kProposalDropped,
  // RawNode::Step: a local-only message type arrived from the network. Code
  // kInvalidArgument.
  kStepLocalMsg,
  // RawNode::Step: a response from a peer that is not in the configuration. Code
  // kNotFound.
  kStepPeerNotFound,
};

const char* RaftErrorName(RaftError e);

// Builds the status for `e` with an optional detail message.
absl::Status MakeRaftError(RaftError e, absl::string_view detail = "");

// The kind carried by `s`, if it is a raft error.
std::optional<RaftError> GetRaftError(const absl::Status& s);

inline bool IsRaftError(const absl::Status& s, RaftError e) { return GetRaftError(s) == e; }

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_ERRORS_H_
