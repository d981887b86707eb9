// A modelled cluster for PD tests: PD's core (cluster view, operator controller,
// coordinator, admin) fed by a model of what the stores really hold. Operators' steps are
// "carried out" on the model and reported back through region heartbeats, the way the
// raftstore will, so schedules can be followed to completion without Raft or a network.

#ifndef RUTILE_TESTS_PD_PD_TEST_UTIL_H_
#define RUTILE_TESTS_PD_PD_TEST_UTIL_H_

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pd/admin.h"
#include "pd/cluster.h"
#include "pd/coordinator.h"
#include "pd/operator_controller.h"

namespace rutile::pd::testing {

inline constexpr uint64_t kSecond = 1'000'000;

// Peer ids in tests: region * 100 + store, so traces are readable.
inline uint64_t PeerId(uint64_t region, uint64_t store) { return region * 100 + store; }

inline metapb::Peer MakePeer(uint64_t id, uint64_t store, bool learner = false) {
  metapb::Peer p;
  p.set_id(id);
  p.set_store_id(store);
  p.set_role(learner ? metapb::LEARNER : metapb::VOTER);
  return p;
}

// A region with voters on `stores` (peer ids PeerId), led from `leader_store` (0 = none).
inline RegionInfo MakeRegion(uint64_t id, const std::string& start, const std::string& end,
                             const std::vector<uint64_t>& stores, uint64_t leader_store,
                             uint64_t size = 10 * kMiB, uint64_t version = 1,
                             uint64_t conf_ver = 1) {
  RegionInfo r;
  r.meta.set_id(id);
  r.meta.set_start_key(start);
  r.meta.set_end_key(end);
  r.meta.mutable_region_epoch()->set_version(version);
  r.meta.mutable_region_epoch()->set_conf_ver(conf_ver);
  for (uint64_t s : stores) *r.meta.add_peers() = MakePeer(PeerId(id, s), s);
  if (leader_store != 0) r.leader = MakePeer(PeerId(id, leader_store), leader_store);
  r.approximate_size = size;
  r.approximate_keys = size / 1024;
  return r;
}

inline metapb::Store MakeStore(
    uint64_t id, const std::vector<std::pair<std::string, std::string>>& labels = {}) {
  metapb::Store s;
  s.set_id(id);
  s.set_address(absl::StrCat("store-", id));
  for (const auto& [k, v] : labels) {
    metapb::StoreLabel* l = s.add_labels();
    l->set_key(k);
    l->set_value(v);
  }
  return s;
}

// The key of the i-th of n regions ("k0000"...), "" for the ends.
inline std::string RegionKey(int i, int n) {
  if (i <= 0 || i >= n) return "";
  char buf[16];
  snprintf(buf, sizeof(buf), "k%04d", i);
  return buf;
}

class PdHarness {
 public:
  PdHarness()
      : operators_(&cluster_, &config_),
        coordinator_(&cluster_, &operators_, &config_, [this] { return AllocId(); }),
        admin_(
            &cluster_, &operators_, &coordinator_, &config_, [this] { return AllocId(); },
            [this] { return now_; }) {
    // Tests turn merging on when they mean to (it would fold the small test regions
    // together under any balance test), and then mostly without the split-merge delay.
    config_.max_merge_region_size = 0;
    config_.split_merge_interval_micros = 0;
  }

  Cluster& cluster() { return cluster_; }
  ScheduleConfig& config() { return config_; }
  OperatorController& operators() { return operators_; }
  Coordinator& coordinator() { return coordinator_; }
  Admin& admin() { return admin_; }
  uint64_t now() const { return now_; }
  void Advance(uint64_t micros) { now_ += micros; }
  ScheduleContext Context() {
    return ScheduleContext(cluster_, config_, operators_, now_, [this] { return AllocId(); });
  }

  absl::StatusOr<uint64_t> AllocId() { return next_id_++; }

  // Registers a store and marks it alive now.
  void AddStore(uint64_t id, const std::vector<std::pair<std::string, std::string>>& labels = {}) {
    ASSERT_TRUE(cluster_.PutStore(MakeStore(id, labels)).ok());
    alive_[id] = true;
    ASSERT_TRUE(cluster_.HandleStoreHeartbeat(id, StoreStats{}, now_).ok());
  }
  // A dead store stops heartbeating; its peers stop acting.
  void KillStore(uint64_t id) { alive_[id] = false; }
  // Heartbeats every live store.
  void HeartbeatStores() {
    for (const auto& [id, alive] : alive_) {
      if (alive) {
        EXPECT_TRUE(cluster_.HandleStoreHeartbeat(id, StoreStats{}, now_).ok());
      }
    }
  }

  // Adds a region to the model and reports it.
  void AddRegion(const RegionInfo& region) {
    model_[region.id()] = region;
    Report(region.id());
  }

  // Reports the model's region to PD; returns the step PD wants next.
  std::optional<OpStep> Report(uint64_t region_id) {
    const RegionInfo& r = model_.at(region_id);
    absl::StatusOr<std::vector<uint64_t>> removed = cluster_.HandleRegionHeartbeat(r, now_);
    EXPECT_TRUE(removed.ok()) << removed.status();
    if (!removed.ok()) return std::nullopt;
    operators_.OnRegionsRemoved(*removed);
    return operators_.Dispatch(*cluster_.GetRegion(region_id), now_);
  }

  // Every region leader on a live store reports; each carries out the step it is given.
  // Returns the number of steps carried out.
  int Tick() {
    int steps = 0;
    std::vector<uint64_t> ids;
    for (const auto& [id, r] : model_) ids.push_back(id);
    for (uint64_t id : ids) {
      if (model_.count(id) == 0) continue;
      if (!alive_[model_.at(id).leader_store_id()]) continue;
      std::optional<OpStep> step = Report(id);
      if (step && Apply(id, *step)) {
        ++steps;
        if (model_.count(id) != 0) Report(id);
      }
    }
    return steps;
  }

  // Runs scheduling rounds, each followed by ticks until the operators stop making
  // progress, until a round adds nothing and no operator runs. Returns the rounds used.
  int RunUntilQuiet(int max_rounds, uint64_t round_micros = kSecond) {
    for (int round = 0; round < max_rounds; ++round) {
      HeartbeatStores();
      std::vector<std::string> added = coordinator_.RunOnce(now_);
      while (Tick() > 0) {
      }
      Advance(round_micros);
      if (added.empty() && operators_.GetOperators().empty()) return round + 1;
    }
    return max_rounds;
  }

  // Carries out `step` on the model region (as the raftstore would). Returns false when it
  // cannot (for example the target store is dead).
  bool Apply(uint64_t region_id, const OpStep& step) {
    RegionInfo& r = model_.at(region_id);
    auto bump_conf = [&] { r.meta.mutable_region_epoch()->set_conf_ver(r.conf_ver() + 1); };
    if (const auto* s = std::get_if<AddLearner>(&step)) {
      if (!alive_[s->store_id]) return false;
      *r.meta.add_peers() = MakePeer(s->peer_id, s->store_id, /*learner=*/true);
      bump_conf();
    } else if (const auto* s = std::get_if<AddPeer>(&step)) {
      if (!alive_[s->store_id]) return false;
      *r.meta.add_peers() = MakePeer(s->peer_id, s->store_id);
      bump_conf();
    } else if (const auto* s = std::get_if<PromoteLearner>(&step)) {
      for (metapb::Peer& p : *r.meta.mutable_peers()) {
        if (p.id() == s->peer_id) p.set_role(metapb::VOTER);
      }
      bump_conf();
    } else if (const auto* s = std::get_if<RemovePeer>(&step)) {
      auto* peers = r.meta.mutable_peers();
      for (int i = 0; i < peers->size(); ++i) {
        if (peers->Get(i).store_id() == s->store_id) {
          peers->DeleteSubrange(i, 1);
          break;
        }
      }
      r.down_peers.erase(
          std::remove_if(r.down_peers.begin(), r.down_peers.end(),
                         [&](const DownPeer& d) { return d.peer.store_id() == s->store_id; }),
          r.down_peers.end());
      bump_conf();
    } else if (const auto* s = std::get_if<TransferLeader>(&step)) {
      if (!alive_[s->to_store]) return false;
      r.leader = *r.PeerOnStore(s->to_store);
    } else if (const auto* s = std::get_if<SplitRegion>(&step)) {
      std::string key = s->keys.empty() ? r.start_key() + "m" : s->keys.front();
      RegionInfo left = r;
      uint64_t left_id = *AllocId();
      left.meta.set_id(left_id);
      left.meta.set_end_key(key);
      for (metapb::Peer& p : *left.meta.mutable_peers()) p.set_id(*AllocId());
      left.leader = *left.PeerOnStore(r.leader_store_id());
      left.approximate_size = r.approximate_size / 2;
      r.approximate_size -= left.approximate_size;
      r.meta.set_start_key(key);
      r.meta.mutable_region_epoch()->set_version(r.version() + 1);
      left.meta.mutable_region_epoch()->set_version(r.version());
      model_[left_id] = left;
      Report(left_id);
    } else if (const auto* s = std::get_if<MergeRegion>(&step)) {
      RegionInfo& target = model_.at(s->to.id());
      if (target.start_key() == r.end_key()) {
        target.meta.set_start_key(r.start_key());
      } else {
        target.meta.set_end_key(r.end_key());
      }
      target.meta.mutable_region_epoch()->set_version(std::max(r.version(), target.version()) + 1);
      target.approximate_size += r.approximate_size;
      model_.erase(region_id);
      Report(s->to.id());
    }
    return true;
  }

  const std::map<uint64_t, RegionInfo>& model() const { return model_; }
  RegionInfo& model_region(uint64_t id) { return model_.at(id); }

 private:
  Cluster cluster_;
  ScheduleConfig config_;
  OperatorController operators_;
  Coordinator coordinator_;
  Admin admin_;
  uint64_t now_ = 1000 * kSecond;
  uint64_t next_id_ = 10'000;
  std::map<uint64_t, bool> alive_;
  std::map<uint64_t, RegionInfo> model_;
};

}  // namespace rutile::pd::testing

#endif  // RUTILE_TESTS_PD_PD_TEST_UTIL_H_
