// In-memory pessimistic locks (TiKV's in-memory pessimistic locks, its RFC of that name): a
// pessimistic lock is kept only in the memory of the store whose peer leads the region,
// not written through Raft. It costs no replicated write and no fsync; a pessimistic
// transaction's DML then pays for Raft once, at its (one-phase) commit.
//
// Why losing such a lock is safe. A pessimistic lock only promises its owner that nobody
// else writes the key before the owner commits; the owner's prewrite checks that promise
// again: a prewrite of a key it believes locked (is_pessimistic_lock) that finds no lock
// of its own fails with PessimisticLockNotFound when any write record on the key is at or
// above its start_ts (actions.cc PrewriteKey, TiKV's amend_pessimistic_lock). Every write
// another transaction could have made while the lock was missing commits above the
// owner's start_ts (it was locked, and the owner's lock taken, after start_ts), so a lost
// lock makes the owner fail, never lose another's update. What must never happen is the
// converse: a lock believed after its key was written by others. So a lock is void once:
//   - the leader changes: locks are tagged with the leader's term (a peer leads at most
//     one unbroken stretch per term, RegionView::leader_term); a command reading at
//     another term sees none, and a newer term clears the region's locks;
//   - the region's epoch version changes (split, merge): the same, by version;
//   - a lock of the key is written to the engine by any command (that supersedes it);
//   - the store restarts (memory).
// TiKV keeps them per peer (PeerPessimisticLocks in the peer's TxnExt): cleared when the
// peer stops leading or is destroyed, moved to the new regions on a split, and proposed
// through Raft before a leader transfer or a merge, to spare their owners an abort. Here
// they are dropped on all of these (the owners' prewrites fail only if someone wrote the
// keys meanwhile): lazily by the tags above, and eagerly when the store reports that a
// leadership ended (raftstore::Store::SetLeadershipEndHook -> Retire), so the table keeps
// nothing for regions this store no longer leads. When the region's table is full, new
// locks go through Raft as before.
//
// Reads never look here: pessimistic locks do not block readers (reads.cc).
//
// Thread safety: PessimisticLockTable is thread-safe; a MemLockScope belongs to one
// command (its latches cover every key it changes).

#ifndef RUTILE_TXN_MEM_LOCKS_H_
#define RUTILE_TXN_MEM_LOCKS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "txn/types.h"

namespace rutile::txn {

// Which leadership a region's in-memory locks belong to. Ordered: a later term, or the
// same term with a later epoch version, is newer.
struct LeaderTag {
  uint64_t term = 0;  // 0: unknown (the command may neither use nor add memory locks).
  uint64_t version = 0;
  bool operator==(const LeaderTag& o) const { return term == o.term && version == o.version; }
  bool operator<(const LeaderTag& o) const {
    return term != o.term ? term < o.term : version < o.version;
  }
};

class PessimisticLockTable {
 public:
  // At most `max_per_region` locks per region (TiKV bounds the memory per region too).
  explicit PessimisticLockTable(size_t max_per_region = 16384) : max_per_region_(max_per_region) {}
  PessimisticLockTable(const PessimisticLockTable&) = delete;
  PessimisticLockTable& operator=(const PessimisticLockTable&) = delete;

  // The lock of encoded `key` in `region` if the region's locks belong to `tag`. A newer
  // `tag` first drops every lock the region had (they belonged to an older leadership).
  std::optional<Lock> Get(uint64_t region, const LeaderTag& tag, std::string_view key);
  // Whether `n` more locks fit in `region` at `tag` (false for an unknown or stale tag).
  bool HasRoom(uint64_t region, const LeaderTag& tag, size_t n);
  // The locks of `region` at `tag` with encoded key in [start, end) (empty end: no
  // bound), in key order.
  std::vector<std::pair<std::string, Lock>> Scan(uint64_t region, const LeaderTag& tag,
                                                 std::string_view start, std::string_view end);
  // Publishes one command's outcome: `superseded` keys (a lock of theirs was written to
  // the engine) lose their memory lock whatever the tag; `changes` (a lock, or nullopt:
  // removed) apply only while the region's locks belong to `tag` (or to an older one,
  // which they then replace); a stale `tag` drops them.
  void Apply(uint64_t region, const LeaderTag& tag,
             const std::map<std::string, std::optional<Lock>, std::less<>>& changes,
             const std::set<std::string, std::less<>>& superseded);
  // Drops every lock of `region` (tests).
  void Clear(uint64_t region);
  // The leadership of `region` at `floor` and every older one ended (the peer stepped
  // down, a split or merge changed the epoch version, the peer was destroyed): their
  // locks go now, and commands still running under such a tag can neither read nor add
  // any (a small tombstone remembers `floor` while any command of the region is pinned;
  // a newer leadership replaces it).
  void Retire(uint64_t region, const LeaderTag& floor);

  // A command of `region` in flight: pinned before it reads its region view (where its tag
  // comes from) until its last use of the table (MemLockScope pins itself too, so a write
  // whose outcome is pending stays pinned). A region's entry lives while it holds locks or
  // pins; a retired tombstone is only needed while a command that may carry its tag runs
  // (a command pinned later reads a view after the leadership ended: a newer tag, or an
  // error), so an entry with neither locks nor pins goes, and the table keeps nothing for
  // regions destroyed here or led elsewhere.
  class Pin {
   public:
    Pin(PessimisticLockTable* table, uint64_t region);
    ~Pin();
    Pin(Pin&& o) noexcept : table_(o.table_), region_(o.region_) { o.table_ = nullptr; }
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;
    Pin& operator=(Pin&&) = delete;

   private:
    PessimisticLockTable* table_;  // Null once moved from.
    uint64_t region_;
  };

  size_t TEST_Count(uint64_t region);
  // How many regions have an entry (locks, a live or retired tag, or pins).
  size_t TEST_Entries();

 private:
  struct Region {
    LeaderTag tag;
    std::map<std::string, Lock, std::less<>> locks;
    bool retired = false;  // `tag` and older are over (Retire); `locks` is empty.
    int pins = 0;          // Commands of the region in flight (Pin).
  };
  // The region's entry if it belongs to `tag`, after dropping an older one; null when
  // `tag` is unknown or older than the entry's.
  Region* Current(uint64_t region, const LeaderTag& tag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Erases `it` if nothing needs it: no locks, no pins.
  void MaybeErase(std::map<uint64_t, Region>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_per_region_;
  absl::Mutex mu_;
  std::map<uint64_t, Region> regions_ ABSL_GUARDED_BY(mu_);
};

// One command's window on its region's in-memory locks: MvccReader::LoadLock consults it
// for keys with no lock in the engine, MvccTxn::PutLock/UnlockKey route through it, and
// the command publishes what it staged after its engine write succeeded (Publish). A
// lock found in the engine always wins over one in memory.
class MemLockScope {
 public:
  // `accept_new`: new pessimistic locks may be placed in memory (AcquirePessimisticLock
  // with room in the table); otherwise only locks already in memory stay there.
  MemLockScope(PessimisticLockTable* table, uint64_t region, LeaderTag tag, bool accept_new)
      : table_(table),
        region_(region),
        tag_(tag),
        accept_new_(accept_new && tag.term != 0),
        pin_(table, region) {}

  // Reader side.
  std::optional<Lock> Get(std::string_view key);
  void NoteEngineLock(std::string_view key) { engine_locked_.emplace(key); }
  std::vector<std::pair<std::string, Lock>> Scan(std::string_view start, std::string_view end);

  // Writer side. True when the change was staged in memory (the engine write must be
  // skipped); false: write the engine (a memory lock of the key is then superseded).
  bool PutLock(std::string_view key, const Lock& lock);
  bool UnlockKey(std::string_view key);
  // Forgets what was staged (MvccTxn::Clear).
  void ResetStaged();
  // Whether anything was staged (a command with no engine write still publishes).
  bool HasStaged() const { return !staged_.empty() || !superseded_.empty(); }
  // After the command's engine write succeeded (or when it had none).
  void Publish();
  // After the engine write failed (it may still apply): only the removals, which are
  // always safe, are published.
  void PublishRemovals();

 private:
  bool Resident(std::string_view key) const;

  PessimisticLockTable* const table_;
  const uint64_t region_;
  const LeaderTag tag_;
  const bool accept_new_;
  PessimisticLockTable::Pin pin_;
  // Keys whose lock, as this command read it, is in memory / in the engine.
  std::set<std::string, std::less<>> resident_;
  std::set<std::string, std::less<>> engine_locked_;
  std::map<std::string, std::optional<Lock>, std::less<>> staged_;
  std::set<std::string, std::less<>> superseded_;
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_MEM_LOCKS_H_
