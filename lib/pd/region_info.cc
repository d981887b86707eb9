#include "pd/region_info.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::pd {

std::string StoreInfo::Label(const std::string& key) const {
  for (const metapb::StoreLabel& l : meta.labels()) {
    if (l.key() == key) return l.value();
  }
  return "";
}

bool IsVoter(const metapb::Peer& peer) {
  return peer.role() == metapb::VOTER || peer.role() == metapb::INCOMING_VOTER;
}

bool IsLearner(const metapb::Peer& peer) { return peer.role() == metapb::LEARNER; }

const metapb::Peer* RegionInfo::PeerOnStore(uint64_t store_id) const {
  for (const metapb::Peer& p : meta.peers()) {
    if (p.store_id() == store_id) return &p;
  }
  return nullptr;
}

const metapb::Peer* RegionInfo::PeerById(uint64_t peer_id) const {
  for (const metapb::Peer& p : meta.peers()) {
    if (p.id() == peer_id) return &p;
  }
  return nullptr;
}

std::vector<uint64_t> RegionInfo::StoreIds() const {
  std::vector<uint64_t> out;
  for (const metapb::Peer& p : meta.peers()) out.push_back(p.store_id());
  return out;
}

std::vector<uint64_t> RegionInfo::VoterStoreIds() const {
  std::vector<uint64_t> out;
  for (const metapb::Peer& p : meta.peers()) {
    if (IsVoter(p)) out.push_back(p.store_id());
  }
  return out;
}

std::vector<uint64_t> RegionInfo::FollowerStoreIds() const {
  std::vector<uint64_t> out;
  for (const metapb::Peer& p : meta.peers()) {
    if (IsVoter(p) && p.id() != leader.id()) out.push_back(p.store_id());
  }
  return out;
}

std::vector<uint64_t> RegionInfo::LearnerStoreIds() const {
  std::vector<uint64_t> out;
  for (const metapb::Peer& p : meta.peers()) {
    if (!IsVoter(p)) out.push_back(p.store_id());
  }
  return out;
}

size_t RegionInfo::VoterCount() const {
  return static_cast<size_t>(std::count_if(meta.peers().begin(), meta.peers().end(),
                                           [](const metapb::Peer& p) { return IsVoter(p); }));
}

bool RegionInfo::IsPending(uint64_t peer_id) const {
  for (const metapb::Peer& p : pending_peers) {
    if (p.id() == peer_id) return true;
  }
  return false;
}

bool RegionInfo::IsDown(uint64_t peer_id) const {
  for (const DownPeer& d : down_peers) {
    if (d.peer.id() == peer_id) return true;
  }
  return false;
}

bool KeyInRange(const std::string& key, const std::string& start, const std::string& end) {
  return key >= start && (end.empty() || key < end);
}

std::string DescribeKey(const std::string& key) {
  bool printable =
      std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '"'; });
  if (printable) return key;
  return absl::StrCat("0x", absl::BytesToHexString(key));
}

std::string DescribeRegion(const RegionInfo& region) {
  std::vector<std::string> peers;
  for (const metapb::Peer& p : region.meta.peers()) {
    std::string s = absl::StrCat(p.id(), "@s", p.store_id());
    if (IsLearner(p)) absl::StrAppend(&s, "(learner)");
    if (p.id() == region.leader.id()) absl::StrAppend(&s, "*");
    peers.push_back(std::move(s));
  }
  return absl::StrCat("r", region.id(), " [", DescribeKey(region.start_key()), ", ",
                      region.end_key().empty() ? "+inf" : DescribeKey(region.end_key()), ") v",
                      region.version(), " cv", region.conf_ver(), " peers={",
                      absl::StrJoin(peers, ","), "}");
}

std::string DescribeStore(const StoreInfo& store) {
  std::vector<std::string> labels;
  for (const metapb::StoreLabel& l : store.meta.labels()) {
    labels.push_back(absl::StrCat(l.key(), "=", l.value()));
  }
  std::string out = absl::StrCat("s", store.id(), " ", metapb::StoreState_Name(store.meta.state()),
                                 " regions=", store.region_count, " leaders=", store.leader_count,
                                 " size=", store.region_size >> 20, "MiB");
  if (!labels.empty()) absl::StrAppend(&out, " labels={", absl::StrJoin(labels, ","), "}");
  return out;
}

}  // namespace rutile::pd
