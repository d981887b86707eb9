#include "raft/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace rutile::raft {
namespace {

constexpr char kPayloadUrl[] = "type.rutile.dev/rutile.raft.RaftError";

absl::StatusCode CodeOf(RaftError e) {
  switch (e) {
    case RaftError::kCompacted:
    case RaftError::kUnavailable:
      return absl::StatusCode::kOutOfRange;
    case RaftError::kSnapshotTemporarilyUnavailable:
    case RaftError::kProposalDropped:
      return absl::StatusCode::kUnavailable;
    case RaftError::kSnapshotOutOfDate:
      return absl::StatusCode::kFailedPrecondition;
    case RaftError::kStepLocalMsg:
      return absl::StatusCode::kInvalidArgument;
    case RaftError::kStepPeerNotFound:
      return absl::StatusCode::kNotFound;
  }
  return absl::StatusCode::kInternal;
}

constexpr RaftError kAll[] = {
    RaftError::kCompacted,
    RaftError::kUnavailable,
    RaftError::kSnapshotTemporarilyUnavailable,
    RaftError::kSnapshotOutOfDate,
    RaftError::kProposalDropped,
    RaftError::kStepLocalMsg,
    RaftError::kStepPeerNotFound,
};

}  // namespace

const char* RaftErrorName(RaftError e) {
  switch (e) {
    case RaftError::kCompacted:
      return "requested index is unavailable due to compaction";
    case RaftError::kUnavailable:
      return "requested entry at index is unavailable";
    case RaftError::kSnapshotTemporarilyUnavailable:
      return "snapshot is temporarily unavailable";
    case RaftError::kSnapshotOutOfDate:
      return "requested index is older than the existing snapshot";
    case RaftError::kProposalDropped:
      return "raft proposal dropped";
    case RaftError::kStepLocalMsg:
      return "raft: cannot step raft local message";
    case RaftError::kStepPeerNotFound:
      return "raft: cannot step as peer not found";
  }
  return "unknown raft error";
}

absl::Status MakeRaftError(RaftError e, absl::string_view detail) {
  std::string msg = RaftErrorName(e);
  if (!detail.empty()) absl::StrAppend(&msg, ": ", detail);
  absl::Status s(CodeOf(e), msg);
  s.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(static_cast<int>(e))));
  return s;
}

std::optional<RaftError> GetRaftError(const absl::Status& s) {
  if (s.ok()) return std::nullopt;
  auto p = s.GetPayload(kPayloadUrl);
  if (!p.has_value()) return std::nullopt;
  std::string v(*p);
  for (RaftError e : kAll) {
    if (v == absl::StrCat(static_cast<int>(e))) return e;
  }
  return std::nullopt;
}

}  // namespace rutile::raft
