#include "raftstore/peer.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "raft/errors.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "util/failpoint.h"
#include "util/logging.h"

namespace rutile::raftstore {
namespace {

std::string EncodeReadId(uint64_t id) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(id >> (56 - 8 * i));
  return s;
}

std::optional<uint64_t> DecodeReadId(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

bool IsAdmin(const raft_cmdpb::RaftCmdRequest& req) {
  return req.admin_request().cmd_type() != raft_cmdpb::ADMIN_INVALID;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Peer>> Peer::Create(const StoreConfig* config, Env* env,
                                                   storage::Engine* engine, SnapManager* snaps,
                                                   const metapb::Region& region,
                                                   const metapb::Peer& self,
                                                   raft_serverpb::RaftApplyState apply) {
  absl::StatusOr<std::unique_ptr<PeerStorage>> ps =
      PeerStorage::Open(engine, snaps, region, std::move(apply));
  if (!ps.ok()) return ps.status();
  std::unique_ptr<Peer> peer(new Peer(config, env, engine, snaps, self, std::move(*ps)));
  raft::Config rc;
  rc.id = self.id();
  rc.election_tick = config->election_tick;
  rc.heartbeat_tick = config->heartbeat_tick;
  rc.storage = peer->storage_.get();
  rc.applied = peer->storage_->apply_state().applied_index();
  rc.max_size_per_msg = config->max_size_per_msg;
  rc.max_inflight_msgs = config->max_inflight_msgs;
  rc.check_quorum = true;
  rc.pre_vote = true;
  rc.random_seed = env->Random64();
  absl::StatusOr<std::unique_ptr<raft::RawNode>> raw = raft::RawNode::Create(rc);
  if (!raw.ok()) return raw.status();
  peer->raw_ = std::move(*raw);
  return peer;
}

Peer::Peer(const StoreConfig* config, Env* env, storage::Engine* engine, SnapManager* snaps,
           metapb::Peer self, std::unique_ptr<PeerStorage> storage)
    : config_(config),
      env_(env),
      engine_(engine),
      snaps_(snaps),
      self_(std::move(self)),
      storage_(std::move(storage)) {
  // Store::Create refused anything above the bound (config.h).
  max_lease_micros_ = config_->max_lease_micros;
  if (max_lease_micros_ == 0) max_lease_micros_ = MaxSafeLeaseMicros(*config_);
  for (const metapb::Peer& p : storage_->region().peers()) peer_cache_[p.id()] = p;
  data_version_ = std::make_shared<DataVersion>(storage_->region().region_epoch().version());
}

bool Peer::IsLeader() const { return raw_->raft()->state() == raft::StateType::kLeader; }

std::optional<metapb::Peer> Peer::GetPeer(uint64_t id) const {
  if (const metapb::Peer* p = FindPeer(region(), id)) return *p;
  auto it = peer_cache_.find(id);
  if (it != peer_cache_.end()) return it->second;
  return std::nullopt;
}

std::optional<metapb::Peer> Peer::Leader() const {
  uint64_t lead = LeaderId();
  if (lead == raft::kNone) return std::nullopt;
  return GetPeer(lead);
}

void Peer::Wake() {
  hibernating_ = false;
  idle_ticks_ = 0;
  hibernate_ticks_ = 0;
}

bool Peer::asleep() const {
  if (!hibernating_ || !config_->hibernate_regions) return false;
  if (!proposals_.empty() || !reads_.empty() || !pending_apply_.empty() ||
      merge_state_.has_value()) {
    return false;
  }
  if (IsLeader()) return hibernate_ticks_ >= 2 * std::max(1, config_->heartbeat_tick);
  return raw_->raft()->state() == raft::StateType::kFollower && LeaderId() != raft::kNone;
}

// ---- Input ----

bool Peer::Step(const raft_serverpb::RaftMessage& msg) {
  peer_cache_[msg.from_peer().id()] = msg.from_peer();
  const raft::Message& m = msg.message();
  if ((m.type() == raft::MSG_VOTE || m.type() == raft::MSG_PRE_VOTE) &&
      ticks_ < ignore_votes_ticks_ && m.term() > Term() && m.context() != "CampaignTransfer") {
    return false;  // Just restarted: see IgnoreVotesAfterRestart.
  }
  if (m.type() == raft::MSG_SNAP && merge_state_.has_value()) {
    // A merging peer's data is what the target will absorb; a snapshot must not replace
    // it (the source log it needs is kept: no log GC while merging).
    return false;
  }
  if (m.from() == LeaderId() && !IsLeader()) {
    hibernating_ = msg.hibernate();
    if (!msg.hibernate()) idle_ticks_ = 0;
  } else if (m.type() != raft::MSG_HEARTBEAT_RESP) {
    Wake();
  }
  absl::Status s = raw_->Step(m);
  CheckLocalLease();
  return s.ok();
}

void Peer::Tick() {
  raw_->Tick();
  CheckLocalLease();
  ++ticks_;
  // A ReadIndex whose answer was lost is not retried by Raft: fail it so the caller
  // retries, rather than leaving it pending until the term changes.
  const uint64_t read_timeout =
      2 * static_cast<uint64_t>(config_->election_tick) * config_->tick_interval_micros;
  const uint64_t now = env_->NowMicros();
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->read_index == 0 && now - it->issue_micros > read_timeout) {
      it->cb.Set(StaleCommandError());
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
  if (IsLeader() && config_->raft_log_gc_tick_ticks > 0 &&
      ticks_ % config_->raft_log_gc_tick_ticks == 0 && !merge_state_.has_value() &&
      prepare_merge_index_ <= AppliedIndex()) {
    MaybeGcLog();
  }
  if (!pending_apply_.empty()) apply_due_ = true;
  if (merge_state_.has_value() && ticks_ % std::max(1, config_->merge_check_ticks) == 0) {
    merge_check_due_ = true;
  }
  MaybeHibernate();
}

void Peer::MaybeHibernate() {
  if (!config_->hibernate_regions || !IsLeader()) return;
  if (!proposals_.empty() || !reads_.empty() || merge_state_.has_value() ||
      !pending_apply_.empty()) {
    Wake();
    return;
  }
  const raft::Raft* r = raw_->raft();
  uint64_t last = r->log().LastIndex();
  bool caught_up = r->log().committed() == last && AppliedIndex() == last;
  for (const auto& [id, pr] : r->tracker().progress()) {
    if (pr.match != last) caught_up = false;
  }
  if (!caught_up) {
    Wake();
    return;
  }
  if (hibernating_) {
    ++hibernate_ticks_;
  } else if (++idle_ticks_ >= config_->hibernate_idle_ticks) {
    hibernating_ = true;
  }
}

void Peer::MaybeGcLog() {
  const raft::Raft* r = raw_->raft();
  uint64_t applied = AppliedIndex();
  absl::StatusOr<uint64_t> first = storage_->FirstIndex();
  if (!first.ok() || applied < *first || applied - *first + 1 <= config_->raft_log_gc_threshold) {
    return;
  }
  uint64_t min_match = applied;
  for (const auto& [id, pr] : r->tracker().progress()) min_match = std::min(min_match, pr.match);
  uint64_t compact = min_match;
  if (applied - min_match > config_->raft_log_gc_count_limit) compact = applied;
  if (compact < *first) return;  // Nothing to compact: a follower still needs the log.
  absl::StatusOr<uint64_t> term = storage_->Term(compact);
  if (!term.ok()) return;
  raft_cmdpb::RaftCmdRequest req;
  req.mutable_header()->set_region_id(region_id());
  *req.mutable_header()->mutable_region_epoch() = region().region_epoch();
  req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_COMPACT_LOG);
  req.mutable_admin_request()->mutable_compact_log()->set_compact_index(compact);
  req.mutable_admin_request()->mutable_compact_log()->set_compact_term(*term);
  std::string data = req.SerializeAsString();
  (void)raw_->Propose(std::move(data));  // Best effort: retried at the next GC tick.
}

absl::Status Peer::EpochNotMatch(std::string_view why) const {
  std::vector<metapb::Region> regions{region()};
  if (region_lookup_) {
    for (uint64_t id : last_split_regions_) {
      if (id == region_id()) continue;
      if (std::optional<metapb::Region> r = region_lookup_(id)) regions.push_back(std::move(*r));
    }
  }
  return EpochNotMatchError(why, regions);
}

absl::Status Peer::CheckEpoch(const raft_cmdpb::RaftCmdRequest& req, bool check_conf_ver) const {
  const metapb::RegionEpoch& want = req.header().region_epoch();
  const metapb::RegionEpoch& have = region().region_epoch();
  if (want.version() != have.version()) {
    return EpochNotMatch(absl::StrCat("version ", want.version(), " != current ", have.version()));
  }
  if (check_conf_ver && want.conf_ver() != have.conf_ver()) {
    return EpochNotMatch(
        absl::StrCat("conf_ver ", want.conf_ver(), " != current ", have.conf_ver()));
  }
  return absl::OkStatus();
}

void Peer::Propose(raft_cmdpb::RaftCmdRequest req, WriteCallback cb) {
  Wake();
  if (!IsLeader()) {
    std::optional<metapb::Peer> leader = Leader();
    cb.Set(NotLeaderError(region_id(), leader ? &*leader : nullptr));
    return;
  }
  if (req.header().peer().id() != 0 && req.header().peer().id() != self_.id()) {
    cb.Set(RegionNotFoundError(region_id()));
    return;
  }
  if (req.header().term() != 0 && req.header().term() != Term()) {
    // Read under another leadership of this peer (raft_cmdpb.proto, RaftRequestHeader.term).
    cb.Set(StaleCommandError());
    return;
  }
  const raft_cmdpb::AdminCmdType admin = req.admin_request().cmd_type();
  if (merge_state_.has_value() && admin != raft_cmdpb::ADMIN_ROLLBACK_MERGE) {
    cb.Set(ProposalInMergingModeError(region_id()));
    return;
  }
  if (prepare_merge_index_ > AppliedIndex() &&
      prepare_merge_index_ <= raw_->raft()->log().LastIndex()) {
    // A PrepareMerge is on its way: whatever follows it in the log would be refused.
    cb.Set(ProposalInMergingModeError(region_id()));
    return;
  }
  bool check_conf_ver =
      admin != raft_cmdpb::ADMIN_INVALID && admin != raft_cmdpb::ADMIN_COMPACT_LOG;
  if (absl::Status s = CheckEpoch(req, check_conf_ver); !s.ok()) {
    cb.Set(s);
    return;
  }
  switch (admin) {
    case raft_cmdpb::ADMIN_CHANGE_PEER_V2:
      ProposeConfChange(std::move(req), std::move(cb));
      return;
    case raft_cmdpb::ADMIN_TRANSFER_LEADER:
      ProposeTransferLeader(req, std::move(cb));
      return;
    case raft_cmdpb::ADMIN_PREPARE_MERGE:
      if (absl::Status s = CheckPrepareMerge(&req); !s.ok()) {
        cb.Set(s);
        return;
      }
      break;
    case raft_cmdpb::ADMIN_ROLLBACK_MERGE:
      if (!merge_state_.has_value() ||
          merge_state_->commit() != req.admin_request().rollback_merge().commit()) {
        cb.Set(absl::FailedPreconditionError("no such merge to roll back"));
        return;
      }
      break;
    case raft_cmdpb::ADMIN_COMMIT_MERGE: {
      const metapb::Region& src = req.admin_request().commit_merge().source();
      const bool left = !src.end_key().empty() && src.end_key() == region().start_key();
      const bool right = !src.start_key().empty() && region().end_key() == src.start_key();
      if (src.id() == 0 || src.id() == region_id() || (!left && !right)) {
        cb.Set(absl::InvalidArgumentError("the merge source is not adjacent to the target"));
        return;
      }
      break;
    }
    default:
      break;
  }
  for (const raft_cmdpb::Request& r : req.requests()) {
    std::string_view key = r.cmd_type() == raft_cmdpb::CMD_PUT      ? r.put().key()
                           : r.cmd_type() == raft_cmdpb::CMD_DELETE ? r.delete_().key()
                                                                    : r.delete_range().start_key();
    if (!KeyInRegion(key, region())) {
      cb.Set(KeyNotInRegionError(key, region()));
      return;
    }
    if (r.cmd_type() == raft_cmdpb::CMD_DELETE_RANGE) {
      const std::string& end = r.delete_range().end_key();
      bool ok = region().end_key().empty() ? true : (!end.empty() && end <= region().end_key());
      if (!ok) {
        cb.Set(KeyNotInRegionError(end, region()));
        return;
      }
    }
  }
  ProposeNormal(std::move(req), std::move(cb));
}

void Peer::ProposeNormal(raft_cmdpb::RaftCmdRequest req, WriteCallback cb) {
  uint64_t before = raw_->raft()->log().LastIndex();
  absl::Status s = raw_->Propose(req.SerializeAsString());
  uint64_t after = raw_->raft()->log().LastIndex();
  if (!s.ok() || after == before) {
    std::optional<metapb::Peer> leader = Leader();
    cb.Set(IsLeader() ? ServerIsBusyError(s.ToString())
                      : NotLeaderError(region_id(), leader ? &*leader : nullptr));
    return;
  }
  if (req.admin_request().cmd_type() == raft_cmdpb::ADMIN_PREPARE_MERGE) {
    // From here the target may absorb the range as soon as the entry commits: no more
    // lease reads (ReadIndex reads wait for the entry and are refused once it applied).
    prepare_merge_index_ = after;
    DropLease();
  }
  proposals_.push_back(Proposal{after, Term(), env_->NowMicros(), std::move(cb)});
}

absl::Status Peer::CheckPrepareMerge(raft_cmdpb::RaftCmdRequest* req) {
  // TiKV's pre_propose_prepare_merge: the source must be quiet (no configuration change in
  // flight, no admin command between what every peer has and the leader's last entry),
  // and every peer's log close enough that CommitMerge can carry the difference.
  raft_cmdpb::PrepareMergeRequest* pm = req->mutable_admin_request()->mutable_prepare_merge();
  const metapb::Region& target = pm->target();
  const metapb::Region& src = region();
  if (target.id() == 0 || target.id() == src.id()) {
    return absl::InvalidArgumentError("a merge needs a target region other than the source");
  }
  bool left_of_target = !src.end_key().empty() && src.end_key() == target.start_key();
  bool right_of_target = !src.start_key().empty() && target.end_key() == src.start_key();
  if (!left_of_target && !right_of_target) {
    return absl::InvalidArgumentError(
        absl::StrCat("region ", target.id(), " is not adjacent to region ", src.id()));
  }
  std::vector<uint64_t> a, b;
  for (const metapb::Peer& p : src.peers()) {
    if (p.role() != metapb::VOTER && p.role() != metapb::LEARNER) {
      return absl::UnavailableError("the source is in a joint configuration");
    }
    a.push_back(p.store_id());
  }
  for (const metapb::Peer& p : target.peers()) {
    if (p.role() != metapb::VOTER && p.role() != metapb::LEARNER) {
      return absl::UnavailableError("the target is in a joint configuration");
    }
    b.push_back(p.store_id());
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b) {
    return absl::FailedPreconditionError(
        "source and target must have their peers on the same stores");
  }
  const raft::Raft* r = raw_->raft();
  if (r->pending_conf_index() > AppliedIndex()) {
    return absl::UnavailableError("a configuration change is still being applied");
  }
  const uint64_t last = r->log().LastIndex();
  uint64_t min_match = last;
  for (const auto& [id, pr] : r->tracker().progress()) {
    if (id == self_.id()) continue;
    min_match = std::min(min_match, pr.match);
  }
  if (min_match == 0 || last - min_match > config_->merge_max_log_gap) {
    return absl::UnavailableError(
        absl::StrCat("a source peer lags too far behind (match ", min_match, ", last ", last, ")"));
  }
  absl::StatusOr<uint64_t> first = storage_->FirstIndex();
  if (!first.ok()) return first.status();
  if (*first > min_match + 1) {
    return absl::UnavailableError("the log a lagging peer needs is compacted");
  }
  uint64_t from = std::min(min_match, AppliedIndex()) + 1;
  if (from <= last) {
    absl::StatusOr<std::vector<raft::Entry>> ents =
        storage_->Entries(from, last + 1, std::numeric_limits<uint64_t>::max());
    if (!ents.ok()) return ents.status();
    for (const raft::Entry& e : *ents) {
      if (e.type() != raft::ENTRY_NORMAL) {
        return absl::UnavailableError("a configuration change is in the log");
      }
      raft_cmdpb::RaftCmdRequest c;
      if (e.data().empty() || !c.ParseFromString(e.data()) || !IsAdmin(c)) continue;
      if (c.admin_request().cmd_type() == raft_cmdpb::ADMIN_COMPACT_LOG &&
          c.admin_request().compact_log().compact_index() <= min_match) {
        continue;
      }
      return absl::UnavailableError(absl::StrCat(
          "admin command ", raft_cmdpb::AdminCmdType_Name(c.admin_request().cmd_type()), " at ",
          e.index(), " is not applied yet"));
    }
  }
  pm->set_min_index(min_match);
  return absl::OkStatus();
}

void Peer::ProposeConfChange(raft_cmdpb::RaftCmdRequest req, WriteCallback cb) {
  const raft::Raft* r = raw_->raft();
  if (r->pending_conf_index() > AppliedIndex()) {
    cb.Set(absl::UnavailableError("a configuration change is still being applied"));
    return;
  }
  if (ConfStateFromRegion(region()).voters_outgoing_size() > 0) {
    cb.Set(absl::UnavailableError("the region is in a joint configuration"));
    return;
  }
  const raft_cmdpb::ChangePeerV2Request& cp = req.admin_request().change_peer_v2();
  if (cp.changes_size() == 0) {
    cb.Set(absl::InvalidArgumentError("a change peer request needs at least one change"));
    return;
  }
  raft::ConfChangeV2 cc;
  for (const raft_cmdpb::ChangePeerRequest& ch : cp.changes()) {
    if (ch.peer().id() == 0 || ch.peer().store_id() == 0) {
      cb.Set(absl::InvalidArgumentError("a change names a peer without id or store"));
      return;
    }
    if (ch.change_type() == raft::CONF_CHANGE_REMOVE_NODE && cp.changes_size() > 1) {
      const metapb::Peer* p = FindPeer(region(), ch.peer().id());
      if (p != nullptr && p->role() == metapb::VOTER) {
        cb.Set(absl::InvalidArgumentError(
            "a voter cannot be removed in a joint change; demote it to a learner first"));
        return;
      }
    }
    raft::ConfChangeSingle* s = cc.add_changes();
    s->set_type(ch.change_type());
    s->set_node_id(ch.peer().id());
  }
  cc.set_context(req.SerializeAsString());
  uint64_t before = r->log().LastIndex();
  absl::Status s = raw_->ProposeConfChangeV2(cc);
  uint64_t after = raw_->raft()->log().LastIndex();
  if (!s.ok() || after == before) {
    cb.Set(absl::UnavailableError(absl::StrCat("conf change not proposed: ", s.ToString())));
    return;
  }
  for (const raft_cmdpb::ChangePeerRequest& ch : cp.changes())
    peer_cache_[ch.peer().id()] = ch.peer();
  proposals_.push_back(Proposal{after, Term(), env_->NowMicros(), std::move(cb)});
}

void Peer::ProposeTransferLeader(const raft_cmdpb::RaftCmdRequest& req, WriteCallback cb) {
  const metapb::Peer& target = req.admin_request().transfer_leader().peer();
  if (FindPeer(region(), target.id()) == nullptr) {
    cb.Set(absl::InvalidArgumentError(absl::StrCat("peer ", target.id(), " is not a member")));
    return;
  }
  // A leader handing over must stop serving lease reads at once: the transferee may be
  // elected before this peer's lease would expire.
  DropLease();
  if (target.id() != self_.id()) raw_->TransferLeader(target.id());
  cb.Set(absl::OkStatus());
}

bool Peer::LeaseValid() const {
  const raft::Raft* r = raw_->raft();
  return IsLeader() && r->lead_transferee() == raft::kNone &&
         storage_->apply_state().applied_term() == r->term() &&
         env_->NowMicros() < lease_expire_micros_;
}

void Peer::DropLease() {
  lease_expire_micros_ = 0;
  local_lease_->Zero();
}

void Peer::CheckLocalLease() {
  // Stepping down or starting a transfer (MsgTransferLeader arrives as a message) ends
  // local reads at once, before the store publishes anything.
  if (!IsLeader() || raw_->raft()->lead_transferee() != raft::kNone) local_lease_->Zero();
}

uint64_t Peer::PublishLocalLease() {
  const raft::Raft* r = raw_->raft();
  const bool servable = IsLeader() && r->lead_transferee() == raft::kNone &&
                        storage_->apply_state().applied_term() == r->term() &&
                        !merge_state_.has_value() && prepare_merge_index_ == 0 && initialized();
  const uint64_t expire = servable ? lease_expire_micros_ : 0;
  if (expire != 0 && local_lease_->term.load(std::memory_order_relaxed) != r->term()) {
    // A lease of a new term starts a new generation (readers of the old one fail).
    local_lease_->Zero();
    local_lease_->term.store(r->term(), std::memory_order_release);
  }
  local_lease_->Set(expire);
  return expire;
}

void Peer::RenewLease(uint64_t from_micros) {
  if (!IsLeader() || raw_->raft()->lead_transferee() != raft::kNone) return;
  if (merge_state_.has_value() || prepare_merge_index_ > AppliedIndex()) return;
  lease_expire_micros_ = std::max(lease_expire_micros_, from_micros + max_lease_micros_);
}

std::shared_ptr<RegionSnapshot> Peer::TakeSnapshot(bool replica) {
  uint64_t version = 0;
  std::unique_ptr<storage::Snapshot> engine_snap = data_version_->Read(
      [&] { return engine_->GetSnapshot(); }, region().region_epoch().version(), &version);
  auto snap =
      std::make_shared<RegionSnapshot>(engine_, std::move(engine_snap), region(), AppliedIndex());
  snap->set_data_version(version);
  if (!replica && IsLeader()) snap->set_leader_term(Term());
  return snap;
}

void Peer::Read(const raft_cmdpb::RaftRequestHeader& header, ReadCallback cb) {
  Wake();
  if (!IsLeader() && header.replica_read() && initialized()) {
    if (header.peer().id() != 0 && header.peer().id() != self_.id()) {
      cb.Set(RegionNotFoundError(region_id()));
      return;
    }
    if (merge_state_.has_value()) {
      cb.Set(ProposalInMergingModeError(region_id()));
      return;
    }
    if (header.region_epoch().version() != region().region_epoch().version()) {
      cb.Set(EpochNotMatch("read with a stale version"));
      return;
    }
    if (LeaderId() == raft::kNone) {
      cb.Set(NotLeaderError(region_id(), nullptr));
      return;
    }
    uint64_t id = next_read_id_++;
    PendingRead pr{id, 0, Term(), env_->NowMicros(), std::move(cb)};
    pr.replica = true;
    pr.epoch_version = header.region_epoch().version();
    reads_.push_back(std::move(pr));
    raw_->ReadIndex(EncodeReadId(id));
    return;
  }
  if (!IsLeader()) {
    std::optional<metapb::Peer> leader = Leader();
    cb.Set(NotLeaderError(region_id(), leader ? &*leader : nullptr));
    return;
  }
  if (header.peer().id() != 0 && header.peer().id() != self_.id()) {
    cb.Set(RegionNotFoundError(region_id()));
    return;
  }
  if (merge_state_.has_value()) {
    cb.Set(ProposalInMergingModeError(region_id()));
    return;
  }
  if (header.region_epoch().version() != region().region_epoch().version()) {
    cb.Set(EpochNotMatch("read with a stale version"));
    return;
  }
  // Not before this leader applied every commit index it sent: a follower may already
  // serve that state (RevealCommit).
  if (LeaseValid() && AppliedIndex() >= revealed_commit_) {
    cb.Set(TakeSnapshot(false));
    return;
  }
  uint64_t id = next_read_id_++;
  PendingRead pr{id, 0, Term(), env_->NowMicros(), std::move(cb)};
  pr.epoch_version = header.region_epoch().version();
  reads_.push_back(std::move(pr));
  raw_->ReadIndex(EncodeReadId(id));
}

void Peer::ServeReads() {
  while (!reads_.empty()) {
    PendingRead& r = reads_.front();
    if (!r.replica && (r.term != Term() || !IsLeader())) {
      std::optional<metapb::Peer> leader = Leader();
      r.cb.Set(NotLeaderError(region_id(), leader ? &*leader : nullptr));
      reads_.pop_front();
      continue;
    }
    if (merge_state_.has_value()) {
      // Once the target absorbs this range, nothing here is current any more.
      r.cb.Set(ProposalInMergingModeError(region_id()));
      reads_.pop_front();
      continue;
    }
    if (r.read_index == 0 || r.read_index > AppliedIndex()) break;
    if (r.replica && !initialized()) {
      r.cb.Set(RegionNotFoundError(region_id()));
      reads_.pop_front();
      continue;
    }
    if (r.epoch_version != region().region_epoch().version()) {
      // A split applied while the read waited: the snapshot would show a smaller region
      // than the reader asked for, and a scan would silently miss the rest (TiKV checks
      // the epoch again when it answers a read index read).
      r.cb.Set(EpochNotMatch("region changed while the read waited for its read index"));
      reads_.pop_front();
      continue;
    }
    r.cb.Set(TakeSnapshot(r.replica));
    reads_.pop_front();
  }
}

void Peer::FailPending(const absl::Status& status) {
  for (Proposal& p : proposals_) p.cb.Set(status);
  proposals_.clear();
  for (PendingRead& r : reads_) r.cb.Set(status);
  reads_.clear();
}

void Peer::Campaign() { (void)raw_->Campaign(); }

// ---- Ready ----

void Peer::OnReady(const raft::Ready& rd) {
  if (rd.soft_state.has_value()) {
    DropLease();
    prepare_merge_index_ = 0;
    if (!IsLeader()) {
      hibernating_ = false;
      ServeReads();  // Fails the reads of a leader that stepped down.
    }
  }
  for (const raft::ReadState& rs : rd.read_states) {
    std::optional<uint64_t> id = DecodeReadId(rs.request_ctx);
    if (!id.has_value()) continue;
    for (PendingRead& r : reads_) {
      if (r.id == *id) {
        r.read_index = std::max<uint64_t>(rs.index, 1);
        // A quorum acknowledged this leader after the read was issued. Not for a follower
        // read: its index came from another leader, even if this peer leads now.
        if (!r.replica) RenewLease(r.issue_micros);
      }
    }
  }
}

absl::Status Peer::ApplySnapshot(const raft::Snapshot& snap) {
  raft_serverpb::SnapshotData data;
  if (!data.ParseFromString(snap.data())) return absl::DataLossError("bad snapshot data");
  std::optional<ReceivedSnapshot> received =
      snaps_->TakeReceived(region_id(), snap.metadata().index(), snap.metadata().term());
  if (!received.has_value()) {
    return absl::InternalError(absl::StrCat("snapshot data of region ", region_id(), " at ",
                                            snap.metadata().index(), " is missing"));
  }
  data_version_->BeginWrite();
  absl::Status s = storage_->ApplySnapshotData(data.region(), snap.metadata().index(),
                                               snap.metadata().term(), received->kvs);
  data_version_->EndWrite(region().region_epoch().version());
  if (!s.ok()) return s;
  for (const metapb::Peer& p : region().peers()) peer_cache_[p.id()] = p;
  RUTILE_LOG_INFO("peer {} installed snapshot at {}: {}", self_.id(), snap.metadata().index(),
                  DescribeRegion(region()));
  return absl::OkStatus();
}

std::vector<raft_serverpb::RaftMessage> Peer::WrapMessages(std::vector<raft::Message> msgs) {
  std::vector<raft_serverpb::RaftMessage> out;
  out.reserve(msgs.size());
  for (raft::Message& m : msgs) {
    std::optional<metapb::Peer> to = GetPeer(m.to());
    if (!to.has_value()) continue;
    raft_serverpb::RaftMessage rm;
    rm.set_region_id(region_id());
    *rm.mutable_from_peer() = self_;
    *rm.mutable_to_peer() = *to;
    *rm.mutable_region_epoch() = region().region_epoch();
    rm.set_start_key(region().start_key());
    rm.set_end_key(region().end_key());
    rm.set_hibernate(hibernating_ && IsLeader());
    *rm.mutable_message() = std::move(m);
    out.push_back(std::move(rm));
  }
  return out;
}

// ---- Apply ----

// A failpoint value "<store id>:<micros>" naming this peer's store: sleeps that long.
void Peer::FailPointDelay(const std::optional<std::string>& v) {
  if (!v.has_value()) return;
  uint64_t store = 0;
  uint64_t micros = 0;
  const size_t colon = v->find(':');
  if (colon != std::string::npos && absl::SimpleAtoi(v->substr(0, colon), &store) &&
      absl::SimpleAtoi(v->substr(colon + 1), &micros) && store == self_.store_id()) {
    env_->SleepForMicros(micros);
  }
}

ApplyOutput Peer::ApplyEntries(std::vector<raft::Entry> entries) {
  // Tests hold one store's applies: "raftstore_apply_delay" returning "<store id>:<micros>".
  if (!entries.empty()) FailPointDelay(RUTILE_FAIL_POINT_VALUE("raftstore_apply_delay"));
  ApplyOutput out;
  storage::WriteBatch wb;
  sync_apply_ = false;
  bool region_changed = false;
  std::vector<std::pair<WriteCallback, absl::Status>>& done = out.callbacks;
  raft_serverpb::RaftApplyState* apply = storage_->mutable_apply_state();
  if (!pending_apply_.empty()) {
    // Entries held back (a CommitMerge waiting for its source, or catch-up entries) go
    // first; the ones applied meanwhile are skipped below by index.
    std::vector<raft::Entry> all(std::make_move_iterator(pending_apply_.begin()),
                                 std::make_move_iterator(pending_apply_.end()));
    pending_apply_.clear();
    all.insert(all.end(), std::make_move_iterator(entries.begin()),
               std::make_move_iterator(entries.end()));
    entries = std::move(all);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    raft::Entry& e = entries[i];
    if (e.index() <= apply->applied_index()) continue;  // Already applied (replay).
    if (e.index() != apply->applied_index() + 1) {
      // A gap (catch-up entries ahead of what this peer has): wait for the rest.
      for (size_t j = i; j < entries.size(); ++j) pending_apply_.push_back(std::move(entries[j]));
      break;
    }
    if (out.removed_self) break;
    raft_cmdpb::RaftCmdRequest req;
    bool parsed = false;
    if (e.type() == raft::ENTRY_NORMAL && !e.data().empty()) parsed = req.ParseFromString(e.data());
    if (parsed && req.admin_request().cmd_type() == raft_cmdpb::ADMIN_COMMIT_MERGE &&
        !merge_state_.has_value() && CheckEpoch(req, true).ok()) {
      // The target applies a CommitMerge only once its local source peer has applied
      // through the PrepareMerge; until then everything from here on waits.
      absl::StatusOr<bool> ready = MergeSourceReady(req.admin_request().commit_merge());
      if (!ready.ok()) {
        out.error = ready.status();
        return out;
      }
      if (!*ready) {
        if (ticks_ - last_wait_merge_tick_ >= 1) {
          last_wait_merge_tick_ = ticks_;
          out.wait_merge = WaitMerge{req.admin_request().commit_merge().source().id(),
                                     req.admin_request().commit_merge()};
        }
        for (size_t j = i; j < entries.size(); ++j) {
          pending_apply_.push_back(std::move(entries[j]));
        }
        break;
      }
    }
    std::optional<Proposal> prop;
    while (!proposals_.empty()) {
      Proposal& p = proposals_.front();
      if (p.term < e.term() || (p.term == e.term() && p.index < e.index())) {
        done.emplace_back(std::move(p.cb), StaleCommandError());
        proposals_.pop_front();
        continue;
      }
      if (p.term == e.term() && p.index == e.index()) {
        prop = std::move(p);
        proposals_.pop_front();
      }
      break;
    }
    absl::Status result;
    if (e.type() == raft::ENTRY_NORMAL) {
      if (e.data().empty()) {
        // A new leader's empty entry, or a proposal Raft replaced with one.
        if (prop.has_value()) result = absl::AbortedError("the proposal was dropped by Raft");
      } else if (!parsed) {
        result = absl::DataLossError("a log entry does not parse");
      } else if (merge_state_.has_value()) {
        // Merging: only a rollback applies; everything else was proposed too late.
        const raft_cmdpb::AdminCmdType admin = req.admin_request().cmd_type();
        if (admin == raft_cmdpb::ADMIN_ROLLBACK_MERGE) {
          result = ExecRollbackMerge(req, &out);
          if (result.ok()) region_changed = true;
        } else if (admin != raft_cmdpb::ADMIN_COMPACT_LOG) {
          result = ProposalInMergingModeError(region_id());
        }
      } else if (IsAdmin(req)) {
        switch (req.admin_request().cmd_type()) {
          case raft_cmdpb::ADMIN_BATCH_SPLIT:
            result = CheckEpoch(req, true);
            if (result.ok()) result = ExecSplit(req, &wb, &out);
            if (result.ok()) region_changed = true;
            break;
          case raft_cmdpb::ADMIN_COMPACT_LOG:
            result = ExecCompactLog(req, &out);
            break;
          case raft_cmdpb::ADMIN_PREPARE_MERGE:
            result = CheckEpoch(req, true);
            if (result.ok()) result = ExecPrepareMerge(req, e.index(), &out);
            if (result.ok()) region_changed = true;
            break;
          case raft_cmdpb::ADMIN_COMMIT_MERGE:
            result = CheckEpoch(req, true);
            if (result.ok()) result = ExecCommitMerge(req, &wb, &out);
            if (result.ok()) region_changed = true;
            break;
          case raft_cmdpb::ADMIN_ROLLBACK_MERGE:
            result = absl::FailedPreconditionError("rollback of a merge that is not pending");
            break;
          default:
            result = absl::InvalidArgumentError("unexpected admin command in a normal entry");
            break;
        }
      } else {
        result = CheckEpoch(req, false);
        if (result.ok()) result = ExecWrite(req, &wb);
      }
    } else if (e.type() == raft::ENTRY_CONF_CHANGE_V2) {
      raft::ConfChangeV2 cc;
      if (merge_state_.has_value()) {
        // Proposed behind a PrepareMerge by a leader that had not applied it: refused on
        // every peer alike.
        result = ProposalInMergingModeError(region_id());
      } else if (!cc.ParseFromString(e.data())) {
        result = absl::DataLossError("a conf change entry does not parse");
      } else if (cc.changes_size() == 0) {
        result = ExecLeaveJoint(cc, &out);
        region_changed = result.ok() || region_changed;
      } else {
        raft_cmdpb::RaftCmdRequest creq;
        if (!creq.ParseFromString(cc.context())) {
          result = absl::DataLossError("a conf change context does not parse");
        } else {
          result = CheckEpoch(creq, true);
          if (result.ok()) result = ExecChangePeer(cc, creq, &out);
          region_changed = result.ok() || region_changed;
        }
      }
      sync_apply_ = true;
    } else {
      result = absl::InvalidArgumentError("legacy conf change entries are not used");
    }
    apply->set_applied_index(e.index());
    apply->set_applied_term(e.term());
    if (prop.has_value()) {
      if (result.ok() && IsLeader() && prop->term == Term()) RenewLease(prop->propose_micros);
      done.emplace_back(std::move(prop->cb), result);
    }
  }
  if (region_changed) {
    WriteRegionState(&wb, out.removed_self           ? raft_serverpb::PEER_TOMBSTONE
                          : merge_state_.has_value() ? raft_serverpb::PEER_MERGING
                                                     : raft_serverpb::PEER_NORMAL);
  }
  PeerStorage::WriteApplyState(&wb, region_id(), *apply);
  storage::WriteOptions wo;
  wo.sync = sync_apply_;
  data_version_->BeginWrite();
  out.error = engine_->Write(wb, wo);
  // With the region this write's data belongs to (a split's or merge's new epoch): a
  // local read of the old region published until the store's Publish gets no version.
  data_version_->EndWrite(region().region_epoch().version());
  // Tests widen the gap between a region change's write and the store publishing the new
  // region (Store::Publish, after this returns): "raftstore_region_change_written_delay"
  // returning "<store id>:<micros>".
  if (region_changed) {
    FailPointDelay(RUTILE_FAIL_POINT_VALUE("raftstore_region_change_written_delay"));
  }
  if (!out.error.ok()) {
    for (auto& [cb, s] : done) s = out.error;
  }
  return out;
}

void Peer::WriteRegionState(storage::WriteBatch* wb, raft_serverpb::PeerState state) const {
  raft_serverpb::RegionLocalState rs;
  *rs.mutable_region() = region();
  rs.set_state(state);
  if (state == raft_serverpb::PEER_MERGING && merge_state_.has_value()) {
    *rs.mutable_merge_state() = *merge_state_;
  }
  wb->Put(storage::CF::kDefault, RegionStateKey(region_id()), rs.SerializeAsString());
}

absl::StatusOr<bool> Peer::MergeSourceReady(const raft_cmdpb::CommitMergeRequest& cm) const {
  const uint64_t source_id = cm.source().id();
  absl::StatusOr<std::optional<std::string>> st =
      engine_->Get(storage::CF::kDefault, RegionStateKey(source_id));
  if (!st.ok()) return st.status();
  absl::StatusOr<std::optional<std::string>> ap =
      engine_->Get(storage::CF::kDefault, ApplyStateKey(source_id));
  if (!ap.ok()) return ap.status();
  if (!st->has_value() || !ap->has_value()) return false;
  raft_serverpb::RegionLocalState rs;
  raft_serverpb::RaftApplyState as;
  if (!rs.ParseFromString(**st) || !as.ParseFromString(**ap)) {
    return absl::DataLossError(
        absl::StrCat("state of merge source ", source_id, " does not parse"));
  }
  if (as.applied_index() < cm.commit()) return false;
  if (rs.state() != raft_serverpb::PEER_MERGING || rs.merge_state().commit() != cm.commit()) {
    RUTILE_LOG_WARN("peer {}: merge source {} applied {} but is not merging at {} (state {})",
                    self_.id(), source_id, as.applied_index(), cm.commit(),
                    static_cast<int>(rs.state()));
    return false;
  }
  return true;
}

absl::Status Peer::ExecPrepareMerge(const raft_cmdpb::RaftCmdRequest& req, uint64_t index,
                                    ApplyOutput* out) {
  // The target may absorb this range as soon as the entry commits: no local reads from
  // here (the poller drops the lease again in PostApply).
  DropLease();
  const raft_cmdpb::PrepareMergeRequest& pm = req.admin_request().prepare_merge();
  metapb::Region r = region();
  r.mutable_region_epoch()->set_version(r.region_epoch().version() + 1);
  r.mutable_region_epoch()->set_conf_ver(r.region_epoch().conf_ver() + 1);
  storage_->set_region(r);
  raft_serverpb::MergeState ms;
  ms.set_min_index(pm.min_index());
  *ms.mutable_target() = pm.target();
  ms.set_commit(index);
  merge_state_ = ms;
  prepare_merge_index_ = 0;
  sync_apply_ = true;
  ExecResult res;
  res.kind = ExecResult::Kind::kPrepareMerge;
  res.region = r;
  out->results.push_back(std::move(res));
  RUTILE_LOG_INFO("peer {} prepared merge of {} into region {} at {}", self_.id(),
                  DescribeRegion(r), pm.target().id(), index);
  return absl::OkStatus();
}

absl::Status Peer::ExecCommitMerge(const raft_cmdpb::RaftCmdRequest& req, storage::WriteBatch* wb,
                                   ApplyOutput* out) {
  const raft_cmdpb::CommitMergeRequest& cm = req.admin_request().commit_merge();
  // The source as this store has it (the request's copy came from another store).
  absl::StatusOr<std::optional<std::string>> st =
      engine_->Get(storage::CF::kDefault, RegionStateKey(cm.source().id()));
  if (!st.ok()) return st.status();
  raft_serverpb::RegionLocalState rs;
  if (!st->has_value() || !rs.ParseFromString(**st)) {
    return absl::DataLossError("merge source state vanished");
  }
  const metapb::Region& src = rs.region();
  metapb::Region r = region();
  if (!src.end_key().empty() && src.end_key() == r.start_key()) {
    r.set_start_key(src.start_key());
  } else if (!src.start_key().empty() && r.end_key() == src.start_key()) {
    r.set_end_key(src.end_key());
  } else {
    return absl::InvalidArgumentError("the merge source is not adjacent to the target");
  }
  r.mutable_region_epoch()->set_version(
      std::max(r.region_epoch().version(), src.region_epoch().version()) + 1);
  storage_->set_region(r);
  // The source's data stays where it is; its descriptor becomes a tombstone in the same
  // batch as the target's new range, so a crash sees either both regions or the merged one.
  raft_serverpb::RegionLocalState tomb;
  *tomb.mutable_region() = src;
  tomb.set_state(raft_serverpb::PEER_TOMBSTONE);
  // Marks the tombstone as merged (Store::DestroyPeer must keep the range's data).
  *tomb.mutable_merge_state()->mutable_target() = r;
  wb->Put(storage::CF::kDefault, RegionStateKey(src.id()), tomb.SerializeAsString());
  sync_apply_ = true;
  ExecResult res;
  res.kind = ExecResult::Kind::kCommitMerge;
  res.region = r;
  res.source = src;
  out->results.push_back(std::move(res));
  RUTILE_LOG_INFO("peer {} merged region {} in: {}", self_.id(), src.id(), DescribeRegion(r));
  return absl::OkStatus();
}

absl::Status Peer::ExecRollbackMerge(const raft_cmdpb::RaftCmdRequest& req, ApplyOutput* out) {
  if (!merge_state_.has_value() ||
      merge_state_->commit() != req.admin_request().rollback_merge().commit()) {
    return absl::FailedPreconditionError("rollback of a merge that is not pending");
  }
  metapb::Region r = region();
  r.mutable_region_epoch()->set_version(r.region_epoch().version() + 1);
  storage_->set_region(r);
  merge_state_.reset();
  sync_apply_ = true;
  ExecResult res;
  res.kind = ExecResult::Kind::kRollbackMerge;
  res.region = r;
  out->results.push_back(std::move(res));
  RUTILE_LOG_INFO("peer {} rolled back merge: {}", self_.id(), DescribeRegion(r));
  return absl::OkStatus();
}

absl::StatusOr<raft_cmdpb::RaftCmdRequest> Peer::BuildCommitMerge() const {
  if (!merge_state_.has_value()) return absl::FailedPreconditionError("not merging");
  const raft_serverpb::MergeState& ms = *merge_state_;
  raft_cmdpb::RaftCmdRequest req;
  req.mutable_header()->set_region_id(ms.target().id());
  *req.mutable_header()->mutable_region_epoch() = ms.target().region_epoch();
  req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_COMMIT_MERGE);
  raft_cmdpb::CommitMergeRequest* cm = req.mutable_admin_request()->mutable_commit_merge();
  *cm->mutable_source() = region();
  cm->set_commit(ms.commit());
  if (ms.commit() > ms.min_index()) {
    absl::StatusOr<std::vector<raft::Entry>> ents = storage_->Entries(
        ms.min_index() + 1, ms.commit() + 1, std::numeric_limits<uint64_t>::max());
    if (!ents.ok()) return ents.status();
    if (ents->size() != ms.commit() - ms.min_index()) {
      return absl::UnavailableError("the source log is incomplete");
    }
    for (raft::Entry& e : *ents) *cm->add_entries() = std::move(e);
  }
  return req;
}

bool Peer::CatchUpLogs(const raft_cmdpb::CommitMergeRequest& cm) {
  const uint64_t applied = AppliedIndex();
  if (applied >= cm.commit()) return true;
  if (!pending_apply_.empty()) {
    apply_due_ = true;
    return false;
  }
  uint64_t carried_from = cm.entries_size() > 0 ? cm.entries(0).index() : cm.commit() + 1;
  std::vector<raft::Entry> ents;
  if (applied + 1 < carried_from) {
    // Entries up to min_index are in this peer's own log (its match was at least that
    // when PrepareMerge was proposed) and committed: they precede the PrepareMerge.
    absl::StatusOr<std::vector<raft::Entry>> own =
        storage_->Entries(applied + 1, carried_from, std::numeric_limits<uint64_t>::max());
    if (!own.ok() || own->size() != carried_from - applied - 1) {
      RUTILE_LOG_WARN("peer {}: cannot catch up for merge: own log from {} to {} missing",
                      self_.id(), applied + 1, carried_from);
      return false;
    }
    ents = std::move(*own);
  }
  for (const raft::Entry& e : cm.entries()) {
    if (e.index() > applied) ents.push_back(e);
  }
  for (raft::Entry& e : ents) pending_apply_.push_back(std::move(e));
  apply_due_ = true;
  RUTILE_LOG_INFO("peer {} catching up {} entries to {} for merge", self_.id(),
                  pending_apply_.size(), cm.commit());
  return false;
}

absl::Status Peer::ExecWrite(const raft_cmdpb::RaftCmdRequest& req, storage::WriteBatch* wb) {
  // Check every key first so a command applies whole or not at all.
  for (const raft_cmdpb::Request& r : req.requests()) {
    uint32_t cf = 0;
    std::string_view key;
    switch (r.cmd_type()) {
      case raft_cmdpb::CMD_PUT:
        cf = r.put().cf();
        key = r.put().key();
        break;
      case raft_cmdpb::CMD_DELETE:
        cf = r.delete_().cf();
        key = r.delete_().key();
        break;
      case raft_cmdpb::CMD_DELETE_RANGE: {
        cf = r.delete_range().cf();
        key = r.delete_range().start_key();
        const std::string& end = r.delete_range().end_key();
        if (!region().end_key().empty() && (end.empty() || end > region().end_key())) {
          return KeyNotInRegionError(end, region());
        }
        break;
      }
      default:
        return absl::InvalidArgumentError("unknown command type");
    }
    auto c = static_cast<storage::CF>(cf);
    if (!storage::IsValidCf(c) || c == storage::CF::kRaft) {
      return absl::InvalidArgumentError(absl::StrCat("bad column family ", cf));
    }
    if (!KeyInRegion(key, region())) return KeyNotInRegionError(key, region());
  }
  for (const raft_cmdpb::Request& r : req.requests()) {
    switch (r.cmd_type()) {
      case raft_cmdpb::CMD_PUT:
        wb->Put(static_cast<storage::CF>(r.put().cf()), DataKey(r.put().key()), r.put().value());
        written_bytes_ += r.put().key().size() + r.put().value().size();
        ++written_keys_;
        break;
      case raft_cmdpb::CMD_DELETE:
        wb->Delete(static_cast<storage::CF>(r.delete_().cf()), DataKey(r.delete_().key()));
        written_bytes_ += r.delete_().key().size();
        ++written_keys_;
        break;
      case raft_cmdpb::CMD_DELETE_RANGE: {
        std::string end =
            r.delete_range().end_key().empty() ? region().end_key() : r.delete_range().end_key();
        wb->DeleteRange(static_cast<storage::CF>(r.delete_range().cf()),
                        DataKey(r.delete_range().start_key()), DataEndKey(end));
        break;
      }
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status Peer::ExecChangePeer(const raft::ConfChangeV2& cc,
                                  const raft_cmdpb::RaftCmdRequest& req, ApplyOutput* out) {
  const raft_cmdpb::ChangePeerV2Request& cp = req.admin_request().change_peer_v2();
  bool joint = cp.changes_size() > 1;
  metapb::Region r = region();
  for (const raft_cmdpb::ChangePeerRequest& ch : cp.changes()) {
    int pos = -1;
    for (int i = 0; i < r.peers_size(); ++i) {
      if (r.peers(i).id() == ch.peer().id()) pos = i;
      if (r.peers(i).store_id() == ch.peer().store_id() && r.peers(i).id() != ch.peer().id()) {
        return absl::InvalidArgumentError(
            absl::StrCat("store ", ch.peer().store_id(), " already has a peer of the region"));
      }
    }
    switch (ch.change_type()) {
      case raft::CONF_CHANGE_ADD_NODE: {
        metapb::PeerRole role = joint ? metapb::INCOMING_VOTER : metapb::VOTER;
        if (pos < 0) {
          metapb::Peer* p = r.add_peers();
          *p = ch.peer();
          p->set_role(role);
        } else if (r.peers(pos).role() == metapb::LEARNER) {
          r.mutable_peers(pos)->set_role(role);
        } else {
          return absl::InvalidArgumentError(absl::StrCat("peer ", ch.peer().id(), " is a voter"));
        }
        break;
      }
      case raft::CONF_CHANGE_ADD_LEARNER_NODE: {
        if (pos < 0) {
          metapb::Peer* p = r.add_peers();
          *p = ch.peer();
          p->set_role(metapb::LEARNER);
        } else if (r.peers(pos).role() == metapb::VOTER) {
          r.mutable_peers(pos)->set_role(joint ? metapb::DEMOTING_VOTER : metapb::LEARNER);
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("peer ", ch.peer().id(), " is a learner already"));
        }
        break;
      }
      case raft::CONF_CHANGE_REMOVE_NODE: {
        if (pos < 0) {
          return absl::InvalidArgumentError(absl::StrCat("peer ", ch.peer().id(), " not found"));
        }
        if (joint && r.peers(pos).role() == metapb::VOTER) {
          return absl::InvalidArgumentError("a voter cannot be removed in a joint change");
        }
        r.mutable_peers()->erase(r.mutable_peers()->begin() + pos);
        if (ch.peer().id() == self_.id()) out->removed_self = true;
        break;
      }
      default:
        return absl::InvalidArgumentError("unsupported change type");
    }
  }
  r.mutable_region_epoch()->set_conf_ver(r.region_epoch().conf_ver() + cp.changes_size());
  storage_->set_region(r);
  for (const metapb::Peer& p : r.peers()) peer_cache_[p.id()] = p;
  ExecResult res;
  res.kind = ExecResult::Kind::kConfChange;
  res.cc = cc;
  res.region = r;
  out->results.push_back(std::move(res));
  RUTILE_LOG_INFO("peer {} applied conf change: {}", self_.id(), DescribeRegion(r));
  return absl::OkStatus();
}

absl::Status Peer::ExecLeaveJoint(const raft::ConfChangeV2& cc, ApplyOutput* out) {
  metapb::Region r = region();
  bool joint = false;
  for (metapb::Peer& p : *r.mutable_peers()) {
    if (p.role() == metapb::INCOMING_VOTER) {
      p.set_role(metapb::VOTER);
      joint = true;
    } else if (p.role() == metapb::DEMOTING_VOTER) {
      p.set_role(metapb::LEARNER);
      joint = true;
    }
  }
  if (!joint) return absl::FailedPreconditionError("not in a joint configuration");
  r.mutable_region_epoch()->set_conf_ver(r.region_epoch().conf_ver() + 1);
  storage_->set_region(r);
  ExecResult res;
  res.kind = ExecResult::Kind::kConfChange;
  res.cc = cc;
  res.region = r;
  out->results.push_back(std::move(res));
  RUTILE_LOG_INFO("peer {} left joint configuration: {}", self_.id(), DescribeRegion(r));
  return absl::OkStatus();
}

absl::Status Peer::ExecSplit(const raft_cmdpb::RaftCmdRequest& req, storage::WriteBatch* wb,
                             ApplyOutput* out) {
  const raft_cmdpb::BatchSplitRequest& bs = req.admin_request().splits();
  const metapb::Region& parent = region();
  if (bs.requests_size() == 0) return absl::InvalidArgumentError("no split keys");
  std::string prev = parent.start_key();
  for (const raft_cmdpb::SplitRequest& sr : bs.requests()) {
    if (sr.split_key().empty() || sr.split_key() <= prev || !KeyInRegion(sr.split_key(), parent)) {
      return KeyNotInRegionError(sr.split_key(), parent);
    }
    if (sr.new_peer_ids_size() != parent.peers_size() || sr.new_region_id() == 0) {
      return absl::InvalidArgumentError("split ids do not match the region's peers");
    }
    prev = sr.split_key();
  }
  const int n = bs.requests_size();
  metapb::Region derived = parent;
  derived.mutable_region_epoch()->set_version(parent.region_epoch().version() + n);
  derived.set_end_key(bs.requests(0).split_key());
  std::vector<metapb::Region> news;
  for (int i = 0; i < n; ++i) {
    const raft_cmdpb::SplitRequest& sr = bs.requests(i);
    metapb::Region r;
    r.set_id(sr.new_region_id());
    r.set_start_key(sr.split_key());
    r.set_end_key(i + 1 < n ? bs.requests(i + 1).split_key() : parent.end_key());
    *r.mutable_region_epoch() = derived.region_epoch();
    for (int j = 0; j < parent.peers_size(); ++j) {
      metapb::Peer* p = r.add_peers();
      p->set_id(sr.new_peer_ids(j));
      p->set_store_id(parent.peers(j).store_id());
      p->set_role(parent.peers(j).role());
    }
    news.push_back(std::move(r));
  }
  for (const metapb::Region& r : news) {
    absl::StatusOr<std::optional<std::string>> existing =
        engine_->Get(storage::CF::kDefault, RegionStateKey(r.id()));
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) continue;  // Created already (by a snapshot); keep it.
    absl::Status s = PeerStorage::WriteInitialRaftState(engine_, r);
    if (!s.ok()) return s;
    raft_serverpb::RaftApplyState apply;
    apply.set_applied_index(kInitLogIndex);
    apply.set_applied_term(kInitLogTerm);
    PeerStorage::WriteRegionState(wb, r, raft_serverpb::PEER_NORMAL);
    PeerStorage::WriteApplyState(wb, r.id(), apply);
  }
  storage_->set_region(derived);
  sync_apply_ = true;
  last_split_regions_.clear();
  last_split_regions_.push_back(derived.id());
  for (const metapb::Region& r : news) last_split_regions_.push_back(r.id());
  ExecResult res;
  res.kind = ExecResult::Kind::kSplit;
  res.region = derived;
  res.new_regions = std::move(news);
  RUTILE_LOG_INFO("peer {} split {} off into {} new regions", self_.id(), DescribeRegion(derived),
                  n);
  out->results.push_back(std::move(res));
  return absl::OkStatus();
}

absl::Status Peer::ExecCompactLog(const raft_cmdpb::RaftCmdRequest& req, ApplyOutput* out) {
  uint64_t idx = req.admin_request().compact_log().compact_index();
  absl::StatusOr<uint64_t> first = storage_->FirstIndex();
  if (!first.ok()) return first.status();
  if (idx < *first) return absl::OkStatus();  // Compacted already.
  if (idx > storage_->apply_state().applied_index() + 1) {
    return absl::InvalidArgumentError("compact index past the applied index");
  }
  sync_apply_ = true;
  ExecResult res;
  res.kind = ExecResult::Kind::kCompactLog;
  res.compact_index = idx;
  out->results.push_back(std::move(res));
  return absl::OkStatus();
}

void Peer::PostApply(const ApplyOutput& out) {
  for (const ExecResult& r : out.results) {
    switch (r.kind) {
      case ExecResult::Kind::kConfChange:
        raw_->ApplyConfChange(r.cc);
        break;
      case ExecResult::Kind::kCompactLog: {
        uint64_t idx = std::min(r.compact_index, AppliedIndex());
        absl::Status s = storage_->log()->Compact(idx);
        if (!s.ok())
          RUTILE_LOG_WARN("peer {} log compaction to {}: {}", self_.id(), idx, s.ToString());
        break;
      }
      case ExecResult::Kind::kSplit:
        // Lease reads stay valid for the parent: its range only shrank.
        break;
      case ExecResult::Kind::kPrepareMerge:
        DropLease();
        break;
      case ExecResult::Kind::kCommitMerge:
      case ExecResult::Kind::kRollbackMerge:
        for (const metapb::Peer& p : region().peers()) peer_cache_[p.id()] = p;
        break;
    }
  }
  ServeReads();
}

}  // namespace rutile::raftstore
