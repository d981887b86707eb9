#include "pd/operator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::pd {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool RangeChanged(const RegionInfo& region, const std::string& start, const std::string& end) {
  return region.start_key() != start || region.end_key() != end;
}

const char* PolicyName(SplitPolicy p) {
  switch (p) {
    case SplitPolicy::kApproximate:
      return "approximate";
    case SplitPolicy::kScan:
      return "scan";
    case SplitPolicy::kUseKey:
      return "usekey";
  }
  return "?";
}

// A voter of `region` other than on `exclude_store`, neither pending nor down; 0 if none.
uint64_t HealthyVoterStore(const RegionInfo& region, uint64_t exclude_store) {
  for (const metapb::Peer& p : region.meta.peers()) {
    if (p.store_id() == exclude_store || !IsVoter(p)) continue;
    if (region.IsPending(p.id()) || region.IsDown(p.id())) continue;
    return p.store_id();
  }
  return 0;
}

}  // namespace

bool StepFinished(const OpStep& step, const RegionInfo& region) {
  return std::visit(
      Overloaded{
          [&](const TransferLeader& s) { return region.leader_store_id() == s.to_store; },
          [&](const AddPeer& s) {
            const metapb::Peer* p = region.PeerOnStore(s.store_id);
            return p != nullptr && p->id() == s.peer_id && IsVoter(*p) &&
                   !region.IsPending(p->id());
          },
          [&](const AddLearner& s) {
            // A learner still applying its snapshot is pending: promoting it then would add
            // a voter that cannot vote yet.
            const metapb::Peer* p = region.PeerOnStore(s.store_id);
            return p != nullptr && p->id() == s.peer_id && !region.IsPending(p->id());
          },
          [&](const PromoteLearner& s) {
            const metapb::Peer* p = region.PeerOnStore(s.store_id);
            return p != nullptr && p->id() == s.peer_id && IsVoter(*p);
          },
          [&](const RemovePeer& s) { return region.PeerOnStore(s.store_id) == nullptr; },
          [&](const SplitRegion& s) { return RangeChanged(region, s.start_key, s.end_key); },
          [&](const MergeRegion& s) {
            return s.is_passive && RangeChanged(region, s.to.start_key(), s.to.end_key());
          },
      },
      step);
}

std::string DescribeStep(const OpStep& step) {
  return std::visit(
      Overloaded{
          [](const TransferLeader& s) {
            return absl::StrCat("transfer leader s", s.from_store, "->s", s.to_store);
          },
          [](const AddPeer& s) { return absl::StrCat("add peer ", s.peer_id, "@s", s.store_id); },
          [](const AddLearner& s) {
            return absl::StrCat("add learner ", s.peer_id, "@s", s.store_id);
          },
          [](const PromoteLearner& s) {
            return absl::StrCat("promote ", s.peer_id, "@s", s.store_id);
          },
          [](const RemovePeer& s) {
            return absl::StrCat("remove peer ", s.peer_id, "@s", s.store_id);
          },
          [](const SplitRegion& s) {
            std::vector<std::string> keys;
            for (const std::string& k : s.keys) keys.push_back(DescribeKey(k));
            std::string out = absl::StrCat("split (", PolicyName(s.policy), ")");
            if (!keys.empty()) absl::StrAppend(&out, " at ", absl::StrJoin(keys, ","));
            return out;
          },
          [](const MergeRegion& s) {
            return absl::StrCat(s.is_passive ? "merged from r" : "merge r", s.from.id(),
                                s.is_passive ? " into r" : " into r", s.to.id());
          },
      },
      step);
}

std::string DescribeKind(uint32_t kind) {
  std::vector<std::string> parts;
  if (kind & kOpAdmin) parts.push_back("admin");
  if (kind & kOpLeader) parts.push_back("leader");
  if (kind & kOpRegion) parts.push_back("region");
  if (kind & kOpReplica) parts.push_back("replica");
  if (kind & kOpMerge) parts.push_back("merge");
  if (kind & kOpSplit) parts.push_back("split");
  return absl::StrJoin(parts, ",");
}

const char* OpStatusName(OpStatus status) {
  switch (status) {
    case OpStatus::kRunning:
      return "running";
    case OpStatus::kSuccess:
      return "success";
    case OpStatus::kTimeout:
      return "timeout";
    case OpStatus::kCanceled:
      return "canceled";
    case OpStatus::kReplaced:
      return "replaced";
  }
  return "?";
}

Operator::Operator(std::string desc, uint64_t region_id, metapb::RegionEpoch epoch, uint32_t kind,
                   std::vector<OpStep> steps)
    : desc_(std::move(desc)),
      region_id_(region_id),
      epoch_(std::move(epoch)),
      kind_(kind),
      steps_(std::move(steps)) {}

int Operator::priority() const {
  if (kind_ & kOpAdmin) return 3;
  if (kind_ & kOpReplica) return 2;
  if (kind_ & (kOpMerge | kOpSplit)) return 1;
  return 0;
}

void Operator::Start(uint64_t now_micros, uint64_t timeout_micros) {
  start_micros_ = now_micros;
  timeout_micros_ = timeout_micros;
}

const OpStep* Operator::Check(const RegionInfo& region) {
  if (IsEnded()) return nullptr;
  while (current_ < steps_.size() && StepFinished(steps_[current_], region)) ++current_;
  if (current_ >= steps_.size()) {
    status_ = OpStatus::kSuccess;
    return nullptr;
  }
  return &steps_[current_];
}

bool Operator::CheckTimeout(uint64_t now_micros) {
  if (IsEnded()) return false;
  if (now_micros - start_micros_ < timeout_micros_) return false;
  status_ = OpStatus::kTimeout;
  return true;
}

void Operator::End(OpStatus status) {
  if (!IsEnded()) status_ = status;
}

std::string Operator::ToString() const {
  std::vector<std::string> steps;
  for (size_t i = 0; i < steps_.size(); ++i) {
    std::string s = DescribeStep(steps_[i]);
    if (i == current_ && !IsEnded()) s = absl::StrCat("[", s, "]");
    steps.push_back(std::move(s));
  }
  std::string out = absl::StrCat(desc_, " (", DescribeKind(kind_), ", r", region_id_,
                                 "): ", absl::StrJoin(steps, ", "));
  if (IsEnded()) absl::StrAppend(&out, " => ", OpStatusName(status_));
  return out;
}

absl::StatusOr<std::unique_ptr<Operator>> CreateTransferLeaderOperator(const std::string& desc,
                                                                       const RegionInfo& region,
                                                                       uint64_t to_store,
                                                                       uint32_t kind) {
  const metapb::Peer* to = region.PeerOnStore(to_store);
  if (to == nullptr || !IsVoter(*to)) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", region.id(), " has no voter on store ", to_store));
  }
  if (region.leader_store_id() == to_store) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", region.id(), " is already led from store ", to_store));
  }
  std::vector<OpStep> steps{TransferLeader{region.leader_store_id(), to_store, to->id()}};
  return std::make_unique<Operator>(desc, region.id(), region.meta.region_epoch(), kind | kOpLeader,
                                    std::move(steps));
}

absl::StatusOr<std::unique_ptr<Operator>> CreateAddPeerOperator(const std::string& desc,
                                                                const RegionInfo& region,
                                                                uint64_t store_id, uint64_t peer_id,
                                                                uint32_t kind) {
  if (region.PeerOnStore(store_id) != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", region.id(), " already has a peer on store ", store_id));
  }
  std::vector<OpStep> steps{AddLearner{store_id, peer_id}, PromoteLearner{store_id, peer_id}};
  return std::make_unique<Operator>(desc, region.id(), region.meta.region_epoch(), kind,
                                    std::move(steps));
}

absl::StatusOr<std::unique_ptr<Operator>> CreateRemovePeerOperator(const std::string& desc,
                                                                   const RegionInfo& region,
                                                                   uint64_t store_id,
                                                                   uint32_t kind) {
  const metapb::Peer* p = region.PeerOnStore(store_id);
  if (p == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", region.id(), " has no peer on store ", store_id));
  }
  std::vector<OpStep> steps;
  if (region.leader_store_id() == store_id) {
    uint64_t to = HealthyVoterStore(region, store_id);
    if (to == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "region ", region.id(), ": no healthy voter to take leadership from store ", store_id));
    }
    steps.push_back(TransferLeader{store_id, to, region.PeerOnStore(to)->id()});
    kind |= kOpLeader;
  }
  steps.push_back(RemovePeer{store_id, p->id()});
  return std::make_unique<Operator>(desc, region.id(), region.meta.region_epoch(), kind,
                                    std::move(steps));
}

absl::StatusOr<std::unique_ptr<Operator>> CreateMovePeerOperator(const std::string& desc,
                                                                 const RegionInfo& region,
                                                                 uint64_t from_store,
                                                                 uint64_t to_store,
                                                                 uint64_t peer_id, uint32_t kind) {
  const metapb::Peer* from = region.PeerOnStore(from_store);
  if (from == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", region.id(), " has no peer on store ", from_store));
  }
  if (region.PeerOnStore(to_store) != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", region.id(), " already has a peer on store ", to_store));
  }
  std::vector<OpStep> steps{AddLearner{to_store, peer_id}};
  if (IsVoter(*from)) steps.push_back(PromoteLearner{to_store, peer_id});
  if (region.leader_store_id() == from_store) {
    steps.push_back(TransferLeader{from_store, to_store, peer_id});
    kind |= kOpLeader;
  }
  steps.push_back(RemovePeer{from_store, from->id()});
  return std::make_unique<Operator>(desc, region.id(), region.meta.region_epoch(), kind,
                                    std::move(steps));
}

absl::StatusOr<std::unique_ptr<Operator>> CreateSplitRegionOperator(const std::string& desc,
                                                                    const RegionInfo& region,
                                                                    SplitPolicy policy,
                                                                    std::vector<std::string> keys,
                                                                    uint32_t kind) {
  if (policy == SplitPolicy::kUseKey) {
    if (keys.empty()) return absl::InvalidArgumentError("split by key needs keys");
    for (const std::string& k : keys) {
      if (k == region.start_key() || !KeyInRange(k, region.start_key(), region.end_key())) {
        return absl::InvalidArgumentError(
            absl::StrCat("split key ", DescribeKey(k), " is not inside region ", region.id()));
      }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  }
  SplitRegion step{policy, std::move(keys), region.start_key(), region.end_key()};
  return std::make_unique<Operator>(desc, region.id(), region.meta.region_epoch(), kind | kOpSplit,
                                    std::vector<OpStep>{std::move(step)});
}

size_t MergePeersNeeded(const RegionInfo& source, const RegionInfo& target) {
  size_t n = 0;
  for (uint64_t s : target.StoreIds()) {
    if (source.PeerOnStore(s) == nullptr) ++n;
  }
  return n;
}

absl::StatusOr<std::vector<std::unique_ptr<Operator>>> CreateMergeRegionOperators(
    const std::string& desc, const RegionInfo& source, const RegionInfo& target,
    const std::vector<uint64_t>& new_peer_ids, uint32_t kind) {
  if (source.id() == target.id()) return absl::InvalidArgumentError("merge into itself");
  bool adjacent = (!source.end_key().empty() && source.end_key() == target.start_key()) ||
                  (!target.end_key().empty() && target.end_key() == source.start_key());
  if (!adjacent) {
    return absl::FailedPreconditionError(
        absl::StrCat("regions ", source.id(), " and ", target.id(), " are not adjacent"));
  }
  if (new_peer_ids.size() < MergePeersNeeded(source, target)) {
    return absl::InvalidArgumentError("not enough peer ids to match the target's stores");
  }
  std::vector<OpStep> steps;
  // Match the source's peers to the target's stores: adds first, so the replica count
  // never drops, then removals with leadership moved off a store about to lose its peer.
  size_t next_id = 0;
  for (uint64_t s : target.StoreIds()) {
    if (source.PeerOnStore(s) != nullptr) continue;
    uint64_t id = new_peer_ids[next_id++];
    steps.push_back(AddLearner{s, id});
    steps.push_back(PromoteLearner{s, id});
  }
  std::vector<uint64_t> target_voters = target.VoterStoreIds();
  auto in_target = [&](uint64_t s) { return target.PeerOnStore(s) != nullptr; };
  for (uint64_t s : source.StoreIds()) {
    if (in_target(s)) continue;
    if (source.leader_store_id() == s) {
      // Prefer a store where the source already has a voter; else one just added.
      uint64_t to = 0;
      for (uint64_t t : target_voters) {
        const metapb::Peer* p = source.PeerOnStore(t);
        if (p != nullptr && IsVoter(*p)) {
          to = t;
          break;
        }
      }
      if (to == 0 && !target_voters.empty()) to = target_voters.front();
      if (to == 0) return absl::FailedPreconditionError("target region has no voter");
      // The peer on `to` is either the source's existing one or the one just added.
      uint64_t peer_id = 0;
      if (const metapb::Peer* p = source.PeerOnStore(to)) {
        peer_id = p->id();
      } else {
        for (const OpStep& st : steps) {
          if (const auto* a = std::get_if<AddLearner>(&st); a && a->store_id == to) {
            peer_id = a->peer_id;
          }
        }
      }
      steps.push_back(TransferLeader{s, to, peer_id});
    }
    steps.push_back(RemovePeer{s, source.PeerOnStore(s)->id()});
  }
  steps.push_back(MergeRegion{source.meta, target.meta, /*is_passive=*/false});
  std::vector<std::unique_ptr<Operator>> ops;
  ops.push_back(std::make_unique<Operator>(desc, source.id(), source.meta.region_epoch(),
                                           kind | kOpMerge, std::move(steps)));
  ops.push_back(std::make_unique<Operator>(
      desc, target.id(), target.meta.region_epoch(), kind | kOpMerge,
      std::vector<OpStep>{MergeRegion{source.meta, target.meta, /*is_passive=*/true}}));
  return ops;
}

}  // namespace rutile::pd
