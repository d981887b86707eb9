// How raftstore lays out its keys in a storage::Engine, and small region helpers.
//
// Data column families (default, lock, write) hold two kinds of keys:
//   'z' + user key                    the data of every region (TiKV's DATA_PREFIX); a
//                                     region [start, end) is ['z'+start, 'z'+end), or up to
//                                     'z'+1 = '{' for an empty end.
//   0x01 'r' region_id(8) 's'         RegionLocalState (in CF default)
//   0x01 'r' region_id(8) 'a'         RaftApplyState (in CF default)
// Region and apply state live with the data so an apply batch changes data, applied index
// and region atomically (a batch confined to the data CFs is atomic; one mixing kRaft is
// not). The Raft log and hard state of each region are in CF kRaft under
// EngineLogStorage's 'R' group prefix, the group being the region id.
//
// Thread safety: pure functions.

#ifndef RUTILE_RAFTSTORE_KEYS_H_
#define RUTILE_RAFTSTORE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "metapb.pb.h"
#include "raft.pb.h"

namespace rutile::raftstore {

inline constexpr char kDataPrefix = 'z';
inline constexpr char kLocalPrefix = 0x01;

// The index and term a region's log starts from when a region is created by bootstrap
// or split (TiKV's RAFT_INIT_LOG_INDEX): a peer created empty by a message always needs
// a snapshot to catch up, never entries from index 1.
inline constexpr uint64_t kInitLogIndex = 5;
inline constexpr uint64_t kInitLogTerm = 5;

std::string DataKey(std::string_view user_key);
// Writes DataKey(user_key) into `out` (at least user_key.size() + 1 bytes); returns its
// length. For point reads that keep the key on the stack.
size_t WriteDataKey(std::string_view user_key, char* out);
// The engine key bounding the region's data from above ('{' for an empty end key).
std::string DataEndKey(std::string_view user_end_key);
// Strips the data prefix; requires a data key.
std::string_view UserKey(std::string_view data_key);

std::string RegionStateKey(uint64_t region_id);
std::string ApplyStateKey(uint64_t region_id);
// Bounds of every RegionStateKey / ApplyStateKey.
std::string RegionMetaMinKey();
std::string RegionMetaMaxKey();
// Decodes the region id and kind ('s' or 'a') of a region meta key; false if not one.
bool DecodeRegionMetaKey(std::string_view key, uint64_t* region_id, char* kind);

// True when start_key <= key < end_key (empty end: no upper bound).
bool KeyInRegion(std::string_view key, const metapb::Region& region);
// True when the two ranges share a key.
bool RangesOverlap(std::string_view start_a, std::string_view end_a, std::string_view start_b,
                   std::string_view end_b);

// The peer of `region` with id `peer_id` / on `store_id`, or null.
const metapb::Peer* FindPeer(const metapb::Region& region, uint64_t peer_id);
const metapb::Peer* FindPeerOnStore(const metapb::Region& region, uint64_t store_id);

// The Raft configuration `region`'s peers and roles describe (TiKV's conf_state_from_region):
// incoming voters are VOTER and INCOMING_VOTER; when any peer is INCOMING_VOTER or
// DEMOTING_VOTER the configuration is joint, its outgoing voters being VOTER and
// DEMOTING_VOTER, and demoting voters become learners when it is left.
raft::ConfState ConfStateFromRegion(const metapb::Region& region);

// "region 3 [a, c) epoch 2/4 peers 3@1,4@2,5@3".
std::string DescribeRegion(const metapb::Region& region);

// A printable form of a key: printable ASCII as is, other bytes as \xNN.
std::string EscapeKey(std::string_view key);

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_KEYS_H_
