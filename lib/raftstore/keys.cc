#include "raftstore/keys.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace rutile::raftstore {
namespace {

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

std::string RegionMetaKey(uint64_t region_id, char kind) {
  std::string k;
  k.reserve(11);
  k.push_back(kLocalPrefix);
  k.push_back('r');
  AppendBigEndian64(&k, region_id);
  k.push_back(kind);
  return k;
}

}  // namespace

std::string DataKey(std::string_view user_key) {
  std::string k;
  k.reserve(user_key.size() + 1);
  k.push_back(kDataPrefix);
  k.append(user_key);
  return k;
}

size_t WriteDataKey(std::string_view user_key, char* out) {
  out[0] = kDataPrefix;
  if (!user_key.empty()) std::memcpy(out + 1, user_key.data(), user_key.size());
  return user_key.size() + 1;
}

std::string DataEndKey(std::string_view user_end_key) {
  if (user_end_key.empty()) return std::string(1, kDataPrefix + 1);
  return DataKey(user_end_key);
}

std::string_view UserKey(std::string_view data_key) { return data_key.substr(1); }

std::string RegionStateKey(uint64_t region_id) { return RegionMetaKey(region_id, 's'); }
std::string ApplyStateKey(uint64_t region_id) { return RegionMetaKey(region_id, 'a'); }
std::string RegionMetaMinKey() { return std::string{kLocalPrefix, 'r'}; }
std::string RegionMetaMaxKey() { return std::string{kLocalPrefix, 's'}; }

bool DecodeRegionMetaKey(std::string_view key, uint64_t* region_id, char* kind) {
  if (key.size() != 11 || key[0] != kLocalPrefix || key[1] != 'r') return false;
  uint64_t v = 0;
  for (int i = 2; i < 10; ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  *region_id = v;
  *kind = key[10];
  return true;
}

bool KeyInRegion(std::string_view key, const metapb::Region& region) {
  if (key < std::string_view(region.start_key())) return false;
  return region.end_key().empty() || key < std::string_view(region.end_key());
}

bool RangesOverlap(std::string_view start_a, std::string_view end_a, std::string_view start_b,
                   std::string_view end_b) {
  // a starts before b ends, and b starts before a ends.
  bool a_before_b_end = end_b.empty() || start_a < end_b;
  bool b_before_a_end = end_a.empty() || start_b < end_a;
  return a_before_b_end && b_before_a_end;
}

const metapb::Peer* FindPeer(const metapb::Region& region, uint64_t peer_id) {
  for (const metapb::Peer& p : region.peers()) {
    if (p.id() == peer_id) return &p;
  }
  return nullptr;
}

const metapb::Peer* FindPeerOnStore(const metapb::Region& region, uint64_t store_id) {
  for (const metapb::Peer& p : region.peers()) {
    if (p.store_id() == store_id) return &p;
  }
  return nullptr;
}

raft::ConfState ConfStateFromRegion(const metapb::Region& region) {
  raft::ConfState cs;
  bool joint = false;
  for (const metapb::Peer& p : region.peers()) {
    if (p.role() == metapb::INCOMING_VOTER || p.role() == metapb::DEMOTING_VOTER) joint = true;
  }
  for (const metapb::Peer& p : region.peers()) {
    switch (p.role()) {
      case metapb::VOTER:
        cs.add_voters(p.id());
        if (joint) cs.add_voters_outgoing(p.id());
        break;
      case metapb::INCOMING_VOTER:
        cs.add_voters(p.id());
        break;
      case metapb::DEMOTING_VOTER:
        cs.add_voters_outgoing(p.id());
        cs.add_learners_next(p.id());
        break;
      case metapb::LEARNER:
        cs.add_learners(p.id());
        break;
      default:
        break;
    }
  }
  if (joint) cs.set_auto_leave(true);
  return cs;
}

std::string EscapeKey(std::string_view key) {
  std::string out;
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    }
  }
  return out;
}

std::string DescribeRegion(const metapb::Region& region) {
  std::vector<std::string> peers;
  for (const metapb::Peer& p : region.peers()) {
    std::string role;
    if (p.role() == metapb::LEARNER) role = "L";
    if (p.role() == metapb::INCOMING_VOTER) role = "I";
    if (p.role() == metapb::DEMOTING_VOTER) role = "D";
    peers.push_back(absl::StrCat(p.id(), "@", p.store_id(), role));
  }
  return absl::StrCat("region ", region.id(), " [", EscapeKey(region.start_key()), ", ",
                      EscapeKey(region.end_key()), ") epoch ", region.region_epoch().conf_ver(),
                      "/", region.region_epoch().version(), " peers ", absl::StrJoin(peers, ","));
}

}  // namespace rutile::raftstore
