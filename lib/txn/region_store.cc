#include "txn/region_store.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "txn/errors.h"

namespace rutile::txn {

// ---- DeadlockDetector ----

bool DeadlockDetector::Detect(TimeStamp waiter, TimeStamp holder) {
  MutexLock lock(mu_);
  // Is waiter reachable from holder? Then waiter -> holder closes a cycle.
  std::vector<TimeStamp> stack{holder};
  std::set<TimeStamp> seen;
  while (!stack.empty()) {
    TimeStamp t = stack.back();
    stack.pop_back();
    if (t == waiter) return true;
    if (!seen.insert(t).second) continue;
    auto it = wait_for_.find(t);
    if (it == wait_for_.end()) continue;
    for (TimeStamp n : it->second) stack.push_back(n);
  }
  wait_for_[waiter].insert(holder);
  return false;
}

void DeadlockDetector::CleanUpWaitFor(TimeStamp waiter, TimeStamp holder) {
  MutexLock lock(mu_);
  auto it = wait_for_.find(waiter);
  if (it == wait_for_.end()) return;
  auto e = it->second.find(holder);
  if (e != it->second.end()) it->second.erase(e);
  if (it->second.empty()) wait_for_.erase(it);
}

void DeadlockDetector::CleanUp(TimeStamp waiter) {
  MutexLock lock(mu_);
  wait_for_.erase(waiter);
}

size_t DeadlockDetector::TEST_EdgeCount() {
  MutexLock lock(mu_);
  size_t n = 0;
  for (const auto& [k, v] : wait_for_) n += v.size();
  return n;
}

namespace {
constexpr char kDeadlockPayloadUrl[] = "type.rutile.dev/rutile.txn.Deadlock";
}  // namespace

absl::Status DeadlockError(TimeStamp start_ts, TimeStamp blocker, std::string_view key) {
  absl::Status s = absl::AbortedError(
      absl::StrCat("deadlock: txn ", start_ts, " waiting for txn ", blocker, " on key '",
                   EscapeKey(key), "' closes a cycle; txn ", start_ts, " is the victim"));
  s.SetPayload(kDeadlockPayloadUrl, absl::Cord(absl::StrCat(blocker)));
  return s;
}

bool IsDeadlock(const absl::Status& s) {
  return absl::IsAborted(s) && s.GetPayload(kDeadlockPayloadUrl).has_value();
}

// ---- RegionTxnStore ----

RegionTxnStore::RegionTxnStore(Env* env, RegionKv* kv, DeadlockDetector* detector)
    : env_(env), kv_(kv), detector_(detector), latches_(4096), cm_(0) {}

struct RegionTxnStore::PendingWrite {
  RegionTxnStore* store = nullptr;  // Used only while !done (the store is alive).
  Mutex mu;
  bool done = false;  // Guarded by mu; what follows is released once done.
  Latches::Guard latch;
  std::optional<MemLockScope> mem;
  std::vector<KeyHandleGuard> guards;
  std::vector<std::string> keys;
};

RegionTxnStore::~RegionTxnStore() {
  // Writes still unresolved: their outcomes can no longer matter to this store; release
  // what they hold while the latches and tables exist (their callbacks then do nothing).
  std::set<std::shared_ptr<PendingWrite>> pending;
  {
    MutexLock lock(pending_mu_);
    pending.swap(pending_);
  }
  for (const std::shared_ptr<PendingWrite>& p : pending) {
    MutexLock lock(p->mu);
    if (p->done) continue;
    p->done = true;
    p->mem.reset();
    p->guards.clear();
    p->latch.Release();
  }
}

void RegionTxnStore::ResolvePending(const std::shared_ptr<PendingWrite>& p,
                                    const absl::Status& outcome) {
  {
    RegionTxnStore* const self = p->store;
    // Held throughout: the destructor waits for it before the store goes.
    MutexLock lock(p->mu);
    if (p->done) return;
    p->done = true;
    // Applied: publish as the command would have; otherwise only the removals (always
    // safe), as for any failed write.
    if (outcome.ok()) {
      p->mem->Publish();
    } else {
      p->mem->PublishRemovals();
    }
    p->mem.reset();
    p->guards.clear();
    p->latch.Release();
    {
      MutexLock plock(self->pending_mu_);
      self->pending_.erase(p);
    }
    // Its locks may be gone (a late commit or rollback): lock waiters try again.
    self->WakeWaiters(p->keys);
  }
}

size_t RegionTxnStore::TEST_PendingWrites() {
  MutexLock lock(pending_mu_);
  return pending_.size();
}

absl::StatusOr<std::shared_ptr<RegionView>> RegionTxnStore::ReadView(
    const RegionContext& ctx, const std::vector<std::string>& raw_keys) {
  absl::StatusOr<std::shared_ptr<RegionView>> view = kv_->Snapshot(ctx);
  if (!view.ok()) return view.status();
  for (const std::string& k : raw_keys) {
    std::string enc = EncodeKey(k);
    if (!(*view)->Contains(enc)) return (*view)->NotInRegion(enc);
  }
  return view;
}

bool RegionTxnStore::MaxTsSynced(uint64_t region_id, const LeaderTag& tag) {
  if (tag.term == 0) return false;
  MutexLock lock(synced_mu_);
  auto it = max_ts_synced_.find(region_id);
  return it != max_ts_synced_.end() && it->second == tag;
}

absl::Status RegionTxnStore::SyncMaxTs(uint64_t region_id, const LeaderTag& tag) {
  // Asked after a view named `tag`: this store led the region in tag.term, with that
  // epoch, before the timestamp was handed out.
  absl::StatusOr<TimeStamp> ts = kv_->GetTimestamp();
  if (!ts.ok()) return ts.status();
  cm_.UpdateMaxTs(*ts);
  if (tag.term != 0) {
    MutexLock lock(synced_mu_);
    LeaderTag& synced = max_ts_synced_[region_id];
    if (synced < tag) synced = tag;
  }
  return absl::OkStatus();
}

void RegionTxnStore::LeadershipEnded(uint64_t region, const LeaderTag& floor) {
  mem_locks_.Retire(region, floor);
  // The leadership's max_ts sync is void too (a later one syncs again); dropping it here
  // also keeps max_ts_synced_ from growing with regions this store no longer leads.
  MutexLock lock(synced_mu_);
  auto it = max_ts_synced_.find(region);
  if (it != max_ts_synced_.end() && !(floor < it->second)) max_ts_synced_.erase(it);
}

size_t RegionTxnStore::TEST_MaxTsSyncedRegions() {
  MutexLock lock(synced_mu_);
  return max_ts_synced_.size();
}

uint64_t RegionTxnStore::LatchWait(const RegionContext& ctx) {
  uint64_t wait = latch_wait_micros_.load(std::memory_order_relaxed);
  // Not longer than the client waits for this attempt (RegionContext::timeout_micros,
  // deadline): a command still queued when its client gave up would only run late.
  if (ctx.timeout_micros != 0) wait = std::min(wait, ctx.timeout_micros);
  if (ctx.deadline != 0) {
    const uint64_t now = env_->NowMicros();
    wait = ctx.deadline > now ? std::min(wait, ctx.deadline - now) : 0;
  }
  return wait;
}

template <typename F>
auto RegionTxnStore::RunWrite(const RegionContext& ctx, const std::vector<std::string>& raw_keys,
                              bool latch, F&& body, bool new_mem_locks, bool sync_max_ts)
    -> decltype(body(static_cast<MvccReader*>(nullptr), static_cast<MvccTxn*>(nullptr))) {
  // Pinned before any view is read (every round's): an ended leadership's tombstone in the
  // lock table lives while this command may carry its tag (mem_locks.h).
  PessimisticLockTable::Pin pin(&mem_locks_, ctx.region_id);
  Latches::Guard guard;
  absl::StatusOr<std::shared_ptr<RegionView>> view;
  // A max_ts sync made by an earlier round of this command (for views that name no term).
  bool synced_unknown_term = false;
  for (int round = 0;; ++round) {
    if (latch && !latches_.AcquireFor(LatchKeys(raw_keys), env_, LatchWait(ctx), &guard)) {
      return absl::DeadlineExceededError(
          "timed out waiting for the latches of the command's keys (an earlier write of "
          "them may still be unresolved); nothing changed");
    }
    view = ReadView(ctx, raw_keys);
    if (!view.ok()) return view.status();
    if (!sync_max_ts) break;
    const LeaderTag seen{(*view)->leader_term(), (*view)->epoch_version()};
    if (MaxTsSynced(ctx.region_id, seen) || (seen.term == 0 && synced_unknown_term)) break;
    // Not synced in this leadership yet: the PD round trip is made without the latches
    // (other commands of these keys need not wait for PD), then the command starts over
    // under a new view. A leadership that keeps changing under it gives up (the client
    // retries).
    guard.Release();
    view = absl::UnavailableError("");
    if (round >= 2) {
      return absl::UnavailableError(
          "the region's leadership changed while max_ts was being synced; nothing changed");
    }
    absl::Status s = SyncMaxTs(ctx.region_id, seen);
    if (!s.ok()) return s;
    synced_unknown_term = true;
  }
  // The leadership the view was read under: in-memory pessimistic locks of another one
  // are void (mem_locks.h), and the write applies only in this term (RegionContext::term).
  const LeaderTag tag{(*view)->leader_term(), (*view)->epoch_version()};
  RegionContext write_ctx = ctx;
  write_ctx.term = tag.term;
  const bool accept = new_mem_locks && mem_locks_on_.load(std::memory_order_relaxed) &&
                      mem_locks_.HasRoom(ctx.region_id, tag, raw_keys.size());
  MemLockScope mem(&mem_locks_, ctx.region_id, tag, accept);
  MvccReader reader((*view)->engine(), nullptr);
  reader.set_mem_locks(&mem);
  // Declared last, destroyed first: the memory locks go after the write, before the
  // latches.
  MvccTxn txn(&cm_);
  txn.set_mem_locks(&mem);
  auto result = body(&reader, &txn);
  if (!result.ok()) return result;
  if (txn.modify_count() > 0) {
    bool handed_off = false;
    absl::Status s = kv_->Write(write_ctx, txn.batch(), [&]() -> WriteOutcome {
      // Timed out with the outcome unknown: everything that keeps other commands off
      // these keys, and readers off async-commit locks being written, lives on until the
      // outcome is known (TiKV releases latches only when the proposal's callback runs).
      auto p = std::make_shared<PendingWrite>();
      p->store = this;
      p->latch = std::move(guard);
      p->mem.emplace(std::move(mem));
      p->guards = txn.TakeGuards();
      p->keys = raw_keys;
      {
        MutexLock lock(pending_mu_);
        pending_.insert(p);
      }
      handed_off = true;
      // Not `this`: the store may be gone when the outcome comes (see ~RegionTxnStore).
      return [p](const absl::Status& outcome) { ResolvePending(p, outcome); };
    });
    if (!s.ok()) {
      if (handed_off) return s;
      // The write failed (it will not apply): memory locks it would supersede go now
      // (dropping one is always safe), nothing else is published.
      mem.PublishRemovals();
      return s;
    }
  }
  // Still under the latches: no other command of these keys sees the engine write
  // without the memory change.
  mem.Publish();
  return result;
}

void RegionTxnStore::WakeWaiters(const std::vector<std::string>& raw_keys) {
  std::vector<std::shared_ptr<Notification>> wake;
  {
    MutexLock lock(wait_mu_);
    for (const std::string& k : raw_keys) {
      auto it = waiters_.find(k);
      if (it == waiters_.end()) continue;
      for (auto& n : it->second.list) wake.push_back(std::move(n));
      waiters_.erase(it);
    }
  }
  for (auto& n : wake) n->Notify();
}

namespace {

absl::Status CheckMemLock(ConcurrencyManager* cm, std::string_view key, TimeStamp ts,
                          const TxnReadOptions& opts) {
  return cm->ReadKeyCheck(
      key, [&](const Lock& l, std::string_view k) { return CheckLockForRead(l, k, ts, opts); });
}

}  // namespace

// Point reads go through RegionKv::ReadLatest, not a snapshot. Why a read at ts of each key
// in turn (lock CF, then write CF, then default CF) returns exactly what a snapshot would:
// max_ts was raised to ts first, and the memory locks checked, so a transaction that
// prewrites a key after its lock was read commits above ts (2PC takes its commit_ts from
// the TSO after its prewrite finished, later than ts was handed out; async commit and 1PC
// take it above max_ts). A commit at or below ts that the write CF read could still miss
// would have held its lock when the lock was read: the read then reports KeyIsLocked.
absl::StatusOr<std::optional<std::string>> RegionTxnStore::Get(const RegionContext& ctx,
                                                               const std::string& key, TimeStamp ts,
                                                               const TxnReadOptions& opts) {
  return GetEncoded(ctx, key, EncodeKey(key), ts, opts);
}

// Performance-critical path.
absl::StatusOr<std::optional<std::string>> RegionTxnStore::GetEncoded(const RegionContext& ctx,
                                                                      const std::string& key,
                                                                      std::string_view enc,
                                                                      TimeStamp ts,
                                                                      const TxnReadOptions& opts) {
  assert(enc == EncodeKey(key));
  (void)key;
  if (opts.isolation == IsolationLevel::kSI) {
    cm_.UpdateMaxTs(ts);
    absl::Status s = CheckMemLock(&cm_, enc, ts, opts);
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::optional<std::string>> out;
  absl::Status s = kv_->ReadLatest(ctx, [&](const RegionView& view) -> absl::Status {
    if (!view.Contains(enc)) return view.NotInRegion(enc);
    MvccReader reader(view.engine(), nullptr);
    reader.set_single_key(true);
    out = PointGetEncoded(&reader, enc, ts, opts);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<KvPair>> RegionTxnStore::BatchGet(const RegionContext& ctx,
                                                             const std::vector<std::string>& keys,
                                                             TimeStamp ts,
                                                             const TxnReadOptions& opts) {
  std::vector<std::string> enc;
  enc.reserve(keys.size());
  for (const std::string& k : keys) enc.push_back(EncodeKey(k));
  if (opts.isolation == IsolationLevel::kSI) {
    cm_.UpdateMaxTs(ts);
    for (const std::string& k : enc) {
      absl::Status s = CheckMemLock(&cm_, k, ts, opts);
      if (!s.ok()) return s;
    }
  }
  absl::StatusOr<std::vector<KvPair>> out;
  absl::Status s = kv_->ReadLatest(ctx, [&](const RegionView& view) -> absl::Status {
    for (const std::string& k : enc) {
      if (!view.Contains(k)) return view.NotInRegion(k);
    }
    MvccReader reader(view.engine(), nullptr);
    out = txn::BatchGet(&reader, keys, ts, opts);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::shared_ptr<RegionView>> RegionTxnStore::SnapshotForRead(
    const RegionContext& ctx, const std::vector<std::pair<std::string, std::string>>& ranges,
    TimeStamp ts, const TxnReadOptions& opts) {
  if (opts.isolation == IsolationLevel::kSI) {
    cm_.UpdateMaxTs(ts);
    for (const auto& [start, end] : ranges) {
      absl::Status s = cm_.ReadRangeCheck(
          EncodeKey(start), end.empty() ? "" : EncodeKey(end),
          [&](const Lock& l, std::string_view k) { return CheckLockForRead(l, k, ts, opts); });
      if (!s.ok()) return s;
    }
  }
  absl::StatusOr<std::shared_ptr<RegionView>> view = ReadView(ctx, {});
  if (!view.ok()) return view.status();
  for (const auto& [start, end] : ranges) {
    std::string enc = EncodeKey(start);
    if (!(*view)->Contains(enc)) return (*view)->NotInRegion(enc);
  }
  return view;
}

absl::StatusOr<coprocessor::Response> RegionTxnStore::Coprocessor(const RegionContext& ctx,
                                                                  const coprocessor::Request& req) {
  if (!cop_handler_) return TxnService::Coprocessor(ctx, req);
  return cop_handler_(this, ctx, req);
}

absl::StatusOr<std::vector<KvPair>> RegionTxnStore::Scan(const RegionContext& ctx,
                                                         const ScanOptions& opts) {
  if (opts.read.isolation == IsolationLevel::kSI) {
    cm_.UpdateMaxTs(opts.ts);
    absl::Status s = cm_.ReadRangeCheck(EncodeKey(opts.start_key),
                                        opts.end_key.empty() ? "" : EncodeKey(opts.end_key),
                                        [&](const Lock& l, std::string_view k) {
                                          return CheckLockForRead(l, k, opts.ts, opts.read);
                                        });
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::shared_ptr<RegionView>> view = ReadView(ctx, {});
  if (!view.ok()) return view.status();
  MvccReader reader((*view)->engine(), nullptr);
  return txn::Scan(&reader, opts);
}

absl::StatusOr<PrewriteResponse> RegionTxnStore::Prewrite(const RegionContext& ctx,
                                                          const PrewriteRequest& req) {
  std::vector<std::string> keys;
  keys.reserve(req.mutations.size());
  for (const Mutation& m : req.mutations) keys.push_back(m.key);
  // Async commit and 1PC compute commit_ts from max_ts. This store may have just become
  // the region's leader: SyncMaxTs raises max_ts above every read the previous leaders
  // served, once per term (it was one PD call per such prewrite).
  auto r = RunWrite(
      ctx, keys, true, [&](MvccReader* rd, MvccTxn* t) { return txn::Prewrite(rd, t, req); },
      /*new_mem_locks=*/false, /*sync_max_ts=*/req.use_async_commit || req.try_one_pc);
  if (r.ok() && r->one_pc_commit_ts != 0) WakeWaiters(keys);
  return r;
}

absl::Status RegionTxnStore::Commit(const RegionContext& ctx, const CommitRequest& req) {
  absl::Status s = RunWrite(ctx, req.keys, true,
                            [&](MvccReader* r, MvccTxn* t) { return txn::Commit(r, t, req); });
  if (s.ok()) WakeWaiters(req.keys);
  return s;
}

absl::Status RegionTxnStore::Rollback(const RegionContext& ctx, const RollbackRequest& req) {
  absl::Status s = RunWrite(ctx, req.keys, true,
                            [&](MvccReader* r, MvccTxn* t) { return txn::Rollback(r, t, req); });
  if (s.ok()) WakeWaiters(req.keys);
  return s;
}

absl::StatusOr<TxnStatus> RegionTxnStore::CheckTxnStatus(const RegionContext& ctx,
                                                         const CheckTxnStatusRequest& req) {
  auto r = RunWrite(ctx, {req.primary_key}, true,
                    [&](MvccReader* rd, MvccTxn* t) { return txn::CheckTxnStatus(rd, t, req); });
  if (r.ok() && r->kind != TxnStatus::Kind::kUncommitted) WakeWaiters({req.primary_key});
  return r;
}

absl::StatusOr<uint64_t> RegionTxnStore::TxnHeartBeat(const RegionContext& ctx,
                                                      const TxnHeartBeatRequest& req) {
  return RunWrite(ctx, {req.primary_key}, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::TxnHeartBeat(r, t, req); });
}

absl::StatusOr<SecondaryLocksStatus> RegionTxnStore::CheckSecondaryLocks(
    const RegionContext& ctx, const CheckSecondaryLocksRequest& req) {
  return RunWrite(ctx, req.keys, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::CheckSecondaryLocks(r, t, req); });
}

absl::StatusOr<ResolveLockResponse> RegionTxnStore::ResolveLock(const RegionContext& ctx,
                                                                const ResolveLockRequest& req) {
  if (req.keys.empty()) {
    return absl::InvalidArgumentError("resolve_lock at a region leader needs keys");
  }
  auto r = RunWrite(ctx, req.keys, true,
                    [&](MvccReader* rd, MvccTxn* t) { return txn::ResolveLock(rd, t, req); });
  if (r.ok()) WakeWaiters(req.keys);
  return r;
}

absl::StatusOr<std::vector<LockInfo>> RegionTxnStore::ScanLock(const RegionContext& ctx,
                                                               const ScanLockRequest& req) {
  cm_.UpdateMaxTs(req.max_ts);
  PessimisticLockTable::Pin pin(&mem_locks_, ctx.region_id);
  absl::StatusOr<std::shared_ptr<RegionView>> view = ReadView(ctx, {});
  if (!view.ok()) return view.status();
  MemLockScope mem(&mem_locks_, ctx.region_id,
                   LeaderTag{(*view)->leader_term(), (*view)->epoch_version()}, false);
  MvccReader reader((*view)->engine(), nullptr);
  reader.set_mem_locks(&mem);
  ScanLockRequest whole = req;
  whole.start_key.clear();
  whole.end_key.clear();
  return txn::ScanLock(&reader, whole);
}

absl::StatusOr<AcquirePessimisticLockResponse> RegionTxnStore::AcquirePessimisticLock(
    const RegionContext& ctx, const AcquirePessimisticLockRequest& req, uint64_t wait_timeout_ms) {
  std::vector<std::string> keys;
  for (const auto& k : req.keys) keys.push_back(k.key);
  const uint64_t deadline = env_->NowMicros() + wait_timeout_ms * 1000;
  while (true) {
    // Register as a waiter before trying, so a release between the failed attempt and the
    // wait is not missed.
    auto note = std::make_shared<Notification>();
    auto unregister = [&] {
      MutexLock lock(wait_mu_);
      for (const std::string& k : keys) {
        auto it = waiters_.find(k);
        if (it == waiters_.end()) continue;
        auto& l = it->second.list;
        l.erase(std::remove(l.begin(), l.end(), note), l.end());
        if (l.empty()) waiters_.erase(it);
      }
    };
    {
      MutexLock lock(wait_mu_);
      for (const std::string& k : keys) waiters_[k].list.push_back(note);
    }
    auto r = RunWrite(
        ctx, keys, true,
        [&](MvccReader* rd, MvccTxn* t) { return txn::AcquirePessimisticLock(rd, t, req); },
        /*new_mem_locks=*/true);
    std::optional<KeyIsLocked> locked;
    if (!r.ok()) locked = GetTxnErrorAs<KeyIsLocked>(r.status());
    const uint64_t now = env_->NowMicros();
    if (!locked.has_value() || now >= deadline) {
      unregister();
      return r;
    }
    const LockInfo& holder = locked->locks.front();
    if (detector_ != nullptr && detector_->Detect(req.start_ts, holder.lock_version)) {
      unregister();
      return DeadlockError(req.start_ts, holder.lock_version, holder.key);
    }
    note->WaitFor(env_, deadline - now);
    unregister();
    if (detector_ != nullptr) detector_->CleanUpWaitFor(req.start_ts, holder.lock_version);
  }
}

absl::Status RegionTxnStore::PessimisticRollback(const RegionContext& ctx,
                                                 const PessimisticRollbackRequest& req) {
  absl::Status s = RunWrite(ctx, req.keys, true, [&](MvccReader* r, MvccTxn* t) {
    return txn::PessimisticRollback(r, t, req);
  });
  if (s.ok()) WakeWaiters(req.keys);
  return s;
}

absl::StatusOr<GcStats> RegionTxnStore::Gc(const RegionContext& ctx, TimeStamp safe_point) {
  GcRequest req;
  req.safe_point = safe_point;
  return RunWrite(ctx, {}, false, [&](MvccReader* r, MvccTxn* t) { return txn::Gc(r, t, req); });
}

}  // namespace rutile::txn
