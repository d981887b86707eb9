// Operators: what PD asks a region to do, as a sequence of steps (tikv/pd's
// schedule/operator). A region's leader learns the current step from its heartbeat reply,
// carries it out through Raft, and the next heartbeats show whether it is done; the
// operator then moves to the next step. Steps are checked against reported region state
// only, so a lost reply or a repeated heartbeat is harmless: the step is sent again.
//
// Moving a replica is AddLearner, PromoteLearner, [TransferLeader], RemovePeer: the new
// peer catches up as a learner (not counted in the quorum) before it votes.
//
// Not thread-safe.

#ifndef RUTILE_PD_OPERATOR_H_
#define RUTILE_PD_OPERATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "pd/region_info.h"

namespace rutile::pd {

// Makes `to_store` the leader; `to_peer_id` is the peer there.
struct TransferLeader {
  uint64_t from_store = 0;
  uint64_t to_store = 0;
  uint64_t to_peer_id = 0;
};
// Adds a voter directly (a single conf change; kept for completeness and admin use).
struct AddPeer {
  uint64_t store_id = 0;
  uint64_t peer_id = 0;
};
struct AddLearner {
  uint64_t store_id = 0;
  uint64_t peer_id = 0;
};
struct PromoteLearner {
  uint64_t store_id = 0;
  uint64_t peer_id = 0;
};
struct RemovePeer {
  uint64_t store_id = 0;
  uint64_t peer_id = 0;
};

enum class SplitPolicy { kApproximate, kScan, kUseKey };

// Splits the region, at `keys` (kUseKey) or at a point the store finds (half by size).
// Finished once the region's key range differs from the one recorded at creation.
struct SplitRegion {
  SplitPolicy policy = SplitPolicy::kApproximate;
  std::vector<std::string> keys;
  std::string start_key;
  std::string end_key;
};

// Merges `from` into `to`. The source region's operator carries it actively (its leader
// proposes PrepareMerge); the target's operator holds the passive twin, which finishes
// once the target's key range has grown. The active step ends with the source region
// itself (OperatorController::OnRegionsRemoved).
struct MergeRegion {
  metapb::Region from;
  metapb::Region to;
  bool is_passive = false;
};

using OpStep = std::variant<TransferLeader, AddPeer, AddLearner, PromoteLearner, RemovePeer,
                            SplitRegion, MergeRegion>;

// True when `region` as reported shows the step carried out.
bool StepFinished(const OpStep& step, const RegionInfo& region);
std::string DescribeStep(const OpStep& step);

// Bit flags saying what an operator affects; limits and priorities go by them.
enum OpKind : uint32_t {
  kOpLeader = 1 << 0,   // moves leadership
  kOpRegion = 1 << 1,   // moves a replica (balance)
  kOpReplica = 1 << 2,  // repairs the replica set (add missing, remove extra or down)
  kOpMerge = 1 << 3,
  kOpSplit = 1 << 4,
  kOpAdmin = 1 << 5,  // asked for by an operator through the admin API
};
std::string DescribeKind(uint32_t kind);

enum class OpStatus { kRunning, kSuccess, kTimeout, kCanceled, kReplaced };
const char* OpStatusName(OpStatus status);

class Operator {
 public:
  Operator(std::string desc, uint64_t region_id, metapb::RegionEpoch epoch, uint32_t kind,
           std::vector<OpStep> steps);

  const std::string& desc() const { return desc_; }
  uint64_t region_id() const { return region_id_; }
  const metapb::RegionEpoch& epoch() const { return epoch_; }
  uint32_t kind() const { return kind_; }
  const std::vector<OpStep>& steps() const { return steps_; }
  size_t current_step_index() const { return current_; }
  OpStatus status() const { return status_; }
  uint64_t start_micros() const { return start_micros_; }
  uint64_t timeout_micros() const { return timeout_micros_; }
  // Scheduling priority: admin 3, replica repair 2, merge and split 1, balance 0.
  int priority() const;

  // Starts the clock; the operator times out `timeout_micros` after `now_micros`.
  void Start(uint64_t now_micros, uint64_t timeout_micros);

  // Skips the steps `region` shows finished and returns the one to do now, or nullptr when
  // all are done (the status becomes kSuccess) or the operator already ended.
  const OpStep* Check(const RegionInfo& region);

  // Moves a running operator to kTimeout when its time is up. Returns whether it did.
  bool CheckTimeout(uint64_t now_micros);
  // Ends a running operator with `status`.
  void End(OpStatus status);
  bool IsEnded() const { return status_ != OpStatus::kRunning; }

  // "desc (kind, region N): step0 -> step1 ..." with the current step marked.
  std::string ToString() const;

 private:
  std::string desc_;
  uint64_t region_id_;
  metapb::RegionEpoch epoch_;
  uint32_t kind_;
  std::vector<OpStep> steps_;
  size_t current_ = 0;
  OpStatus status_ = OpStatus::kRunning;
  uint64_t start_micros_ = 0;
  uint64_t timeout_micros_ = 0;
};

// ---- Builders. Each checks the request against `region` and returns InvalidArgument or
// FailedPrecondition when it makes no sense (no peer there, already a peer there, ...).

absl::StatusOr<std::unique_ptr<Operator>> CreateTransferLeaderOperator(const std::string& desc,
                                                                       const RegionInfo& region,
                                                                       uint64_t to_store,
                                                                       uint32_t kind);

// AddLearner then PromoteLearner on `store_id` with the new peer id `peer_id`.
absl::StatusOr<std::unique_ptr<Operator>> CreateAddPeerOperator(const std::string& desc,
                                                                const RegionInfo& region,
                                                                uint64_t store_id, uint64_t peer_id,
                                                                uint32_t kind);

// Removes the peer on `store_id`, first moving leadership away when it is there (to the
// first voter that is neither pending nor down).
absl::StatusOr<std::unique_ptr<Operator>> CreateRemovePeerOperator(const std::string& desc,
                                                                   const RegionInfo& region,
                                                                   uint64_t store_id,
                                                                   uint32_t kind);

// Moves the replica on `from_store` to `to_store` (new peer id `peer_id`): add as learner,
// promote, hand leadership to the new peer when the old one led, remove the old peer.
absl::StatusOr<std::unique_ptr<Operator>> CreateMovePeerOperator(const std::string& desc,
                                                                 const RegionInfo& region,
                                                                 uint64_t from_store,
                                                                 uint64_t to_store,
                                                                 uint64_t peer_id, uint32_t kind);

absl::StatusOr<std::unique_ptr<Operator>> CreateSplitRegionOperator(const std::string& desc,
                                                                    const RegionInfo& region,
                                                                    SplitPolicy policy,
                                                                    std::vector<std::string> keys,
                                                                    uint32_t kind);

// Returns the pair {source operator, target operator}. The regions must be key-adjacent.
// When their peers are on different stores, the source operator first moves its peers to
// the target's stores (new peer ids from `alloc_peer_ids`, one per missing store), since a
// merge needs both regions' peers side by side.
absl::StatusOr<std::vector<std::unique_ptr<Operator>>> CreateMergeRegionOperators(
    const std::string& desc, const RegionInfo& source, const RegionInfo& target,
    const std::vector<uint64_t>& new_peer_ids, uint32_t kind);

// Number of stores holding a peer of `target` but not of `source`: how many new peer ids
// CreateMergeRegionOperators needs.
size_t MergePeersNeeded(const RegionInfo& source, const RegionInfo& target);

}  // namespace rutile::pd

#endif  // RUTILE_PD_OPERATOR_H_
