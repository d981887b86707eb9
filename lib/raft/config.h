// Configuration of one Raft node, and the logging hook. Plain data; validated by
// RawNode construction.

#ifndef RUTILE_RAFT_CONFIG_H_
#define RUTILE_RAFT_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "raft/log_storage.h"
#include "raft/read_only.h"

namespace rutile::raft {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Receives the state machine's log lines (elections, term changes, conf changes...).
// Called synchronously from Step/Tick; must not call back into the RawNode.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, const std::string& msg) = 0;
};

struct Config {
  // This node's id; never 0.
  uint64_t id = 0;
  // Ticks without hearing from a leader before a follower campaigns. The actual timeout
  // is randomized in [election_tick, 2 * election_tick). Must exceed heartbeat_tick;
  // 10 * heartbeat_tick is the usual choice.
  int election_tick = 10;
  // Ticks between leader heartbeats.
  int heartbeat_tick = 1;
  // Where the persisted log is read from. Not owned; must outlive the node.
  LogStorage* storage = nullptr;
  // The last applied index when restarting; entries up to it are not handed out again.
  uint64_t applied = 0;
  // Bytes per MsgApp (0: one entry per message, kNoLimit: unbounded).
  uint64_t max_size_per_msg = 1 << 20;
  // Bytes of committed entries per Ready; 0 means max_size_per_msg.
  uint64_t max_committed_size_per_ready = 0;
  // Bytes of proposed but uncommitted payload a leader accepts before dropping
  // proposals; 0 for no limit.
  uint64_t max_uncommitted_entries_size = 0;
  // MsgApp messages in flight per follower in the replicate state; must be > 0.
  size_t max_inflight_msgs = 256;
  // Payload bytes in flight per follower; 0 for no limit.
  uint64_t max_inflight_bytes = 0;
  // The leader steps down when a quorum was not active during an election timeout; a
  // follower that heard from a leader within the timeout ignores vote requests (lease).
  bool check_quorum = false;
  // Candidates first run a pre-election that does not bump terms (thesis §9.6), so a
  // partitioned node rejoining does not disrupt the leader.
  bool pre_vote = false;
  // kLeaseBased requires check_quorum.
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // A leader removed from (or demoted in) the configuration steps down at once.
  bool step_down_on_removal = false;
  // Asynchronous storage writes (etcd-raft's AsyncStorageWrites, thesis §10.2.1): the
  // application may take the next Ready while earlier ones are still being persisted,
  // and reports each one durable with RawNode::AdvanceAppend (see raw_node.h). Responses
  // that promise durable state (MsgAppResp, MsgVoteResp, MsgPreVoteResp) then come in
  // Ready::messages_after_append; the leader and a candidate count their own log and vote
  // only once persisted; committed entries are handed out only once persisted locally
  // (or up to max_apply_unpersisted_entries past that).
  bool async_storage_writes = false;
  // Asynchronous storage writes only (Validate rejects it otherwise): while leader,
  // committed entries of its own term may be handed out for applying up to this many
  // entries past the locally durable log (raft-rs's applied_unpersisted_log_limit).
  // Committed means durable on a quorum, so applying needs no local copy: a leader whose
  // own fsync is the slow one of three applies (and answers its clients) when two
  // followers have persisted, instead of waiting for its disk. Followers and candidates
  // apply only what is durable (their in-memory log may replace a stale suffix still on
  // disk; raft-rs resets the limit on stepping down, TiKV uses it on the leader only);
  // entries from before the leader's term wait for their write too; never past a
  // snapshot still being persisted. An application that persists its applied index must
  // not persist one beyond the last index of its last completed log write (after a crash
  // the log may end below the applied index). 0 (default): apply only what is durable.
  uint64_t max_apply_unpersisted_entries = 0;
  // Seed of the PRNG behind randomized election timeouts (mixed with id).
  uint64_t random_seed = 0;
  // Optional; not owned.
  Logger* logger = nullptr;

  // kInvalidArgument describing the first problem found.
  absl::Status Validate() const;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_CONFIG_H_
