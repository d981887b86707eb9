#include "raftstore/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rutile::raftstore {
namespace {

absl::Status WithPayload(absl::StatusCode code, raft_cmdpb::Error error) {
  absl::Status s(code, error.message());
  s.SetPayload(kRegionErrorPayloadUrl, absl::Cord(error.SerializeAsString()));
  return s;
}

std::optional<raft_cmdpb::Error::KindCase> KindOf(const absl::Status& status) {
  std::optional<raft_cmdpb::Error> e = GetRegionError(status);
  if (!e.has_value()) return std::nullopt;
  return e->kind_case();
}

}  // namespace

absl::Status NotLeaderError(uint64_t region_id, const metapb::Peer* leader) {
  raft_cmdpb::Error e;
  e.set_message(absl::StrCat("peer is not leader for region ", region_id,
                             leader != nullptr ? absl::StrCat(", leader may be peer ", leader->id(),
                                                              " on store ", leader->store_id())
                                               : std::string()));
  e.mutable_not_leader()->set_region_id(region_id);
  if (leader != nullptr) *e.mutable_not_leader()->mutable_leader() = *leader;
  return WithPayload(absl::StatusCode::kUnavailable, std::move(e));
}

absl::Status EpochNotMatchError(std::string_view message,
                                const std::vector<metapb::Region>& current_regions) {
  raft_cmdpb::Error e;
  e.set_message(
      absl::StrCat("epoch not match: ", absl::string_view(message.data(), message.size())));
  for (const metapb::Region& r : current_regions) {
    *e.mutable_epoch_not_match()->add_current_regions() = r;
  }
  if (current_regions.empty()) e.mutable_epoch_not_match();
  return WithPayload(absl::StatusCode::kFailedPrecondition, std::move(e));
}

absl::Status RegionNotFoundError(uint64_t region_id) {
  raft_cmdpb::Error e;
  e.set_message(absl::StrCat("region ", region_id, " not found"));
  e.mutable_region_not_found()->set_region_id(region_id);
  return WithPayload(absl::StatusCode::kNotFound, std::move(e));
}

absl::Status KeyNotInRegionError(std::string_view key, const metapb::Region& region) {
  raft_cmdpb::Error e;
  e.set_message(absl::StrCat("key not in region ", region.id()));
  raft_cmdpb::KeyNotInRegion* k = e.mutable_key_not_in_region();
  k->set_key(std::string(key));
  k->set_region_id(region.id());
  k->set_start_key(region.start_key());
  k->set_end_key(region.end_key());
  return WithPayload(absl::StatusCode::kOutOfRange, std::move(e));
}

absl::Status ServerIsBusyError(std::string_view reason) {
  raft_cmdpb::Error e;
  e.set_message(absl::StrCat("server is busy: ", absl::string_view(reason.data(), reason.size())));
  e.mutable_server_is_busy()->set_reason(std::string(reason));
  return WithPayload(absl::StatusCode::kUnavailable, std::move(e));
}

absl::Status StaleCommandError() {
  raft_cmdpb::Error e;
  e.set_message("stale command: the proposal was overtaken by a newer term");
  e.mutable_stale_command();
  return WithPayload(absl::StatusCode::kUnavailable, std::move(e));
}

absl::Status ProposalInMergingModeError(uint64_t region_id) {
  raft_cmdpb::Error e;
  e.set_message(
      absl::StrCat("region ", region_id, " is merging; retry after refreshing the region"));
  e.mutable_proposal_in_merging_mode()->set_region_id(region_id);
  return WithPayload(absl::StatusCode::kUnavailable, std::move(e));
}

std::optional<raft_cmdpb::Error> GetRegionError(const absl::Status& status) {
  auto payload = status.GetPayload(kRegionErrorPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  raft_cmdpb::Error e;
  if (!e.ParseFromString(std::string(*payload))) return std::nullopt;
  return e;
}

bool IsNotLeader(const absl::Status& s) { return KindOf(s) == raft_cmdpb::Error::kNotLeader; }
bool IsEpochNotMatch(const absl::Status& s) {
  return KindOf(s) == raft_cmdpb::Error::kEpochNotMatch;
}
bool IsRegionNotFound(const absl::Status& s) {
  return KindOf(s) == raft_cmdpb::Error::kRegionNotFound;
}
bool IsKeyNotInRegion(const absl::Status& s) {
  return KindOf(s) == raft_cmdpb::Error::kKeyNotInRegion;
}
bool IsServerIsBusy(const absl::Status& s) { return KindOf(s) == raft_cmdpb::Error::kServerIsBusy; }
bool IsStaleCommand(const absl::Status& s) { return KindOf(s) == raft_cmdpb::Error::kStaleCommand; }
bool IsProposalInMergingMode(const absl::Status& s) {
  return KindOf(s) == raft_cmdpb::Error::kProposalInMergingMode;
}

}  // namespace rutile::raftstore
