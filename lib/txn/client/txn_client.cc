#include "txn/client/txn_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "txn/errors.h"
#include "util/failpoint.h"

namespace rutile::txn::client {
namespace {

constexpr char kDeadlockPayloadUrl[] = "type.rutile.dev/rutile.txn.Deadlock";
// Async commit and 1PC give up (fall back to 2PC) if the commit_ts would exceed start_ts
// by more than this.
constexpr uint64_t kMaxCommitTsWindowMs = 2'000;
constexpr size_t kMaxAsyncCommitKeys = 256;
// A lock-resolving retry runs at once at most this many times in a row before it backs off.
constexpr int kMaxImmediateRetries = 3;

bool EndAfter(const std::string& end, const std::string& key) { return end.empty() || key < end; }

RegionContext ContextOf(const SendTarget& t, uint64_t attempt_timeout_micros) {
  RegionContext ctx;
  ctx.region_id = t.region.id();
  ctx.conf_ver = t.region.region_epoch().conf_ver();
  ctx.version = t.region.region_epoch().version();
  ctx.timeout_micros = attempt_timeout_micros;
  ctx.deadline = t.deadline;
  return ctx;
}

bool LockExpired(uint64_t ttl_ms, TimeStamp lock_ts, TimeStamp now) {
  return PhysicalMs(now) >= PhysicalMs(lock_ts) + ttl_ms;
}

absl::Status Undetermined(const absl::Status& cause) {
  return UndeterminedError(absl::StrCat(
      "commit outcome unknown (the primary may or may not have committed): ", cause.ToString()));
}

// Store errors for the txn client: no answer in time (every txn command is idempotent, so
// sending it again is safe), or a store shutting down or unreachable; never a transaction
// error (a write conflict is Aborted, a deadlock too) carried in the same codes.
bool IsTxnStoreError(const absl::Status& s) {
  if (absl::IsDeadlineExceeded(s)) return true;
  if (GetTxnError(s).has_value()) return false;
  if (absl::IsAborted(s)) return !s.GetPayload(kDeadlockPayloadUrl).has_value();
  return absl::IsUnavailable(s);
}

SenderOptions SenderOptionsOf(const ClientOptions& o) {
  SenderOptions so;
  so.backoff_first_micros = o.backoff_first_micros;
  so.backoff_max_micros = o.backoff_max_micros;
  so.max_immediate_retries = kMaxImmediateRetries;
  so.what = "txn request";
  so.is_store_error = IsTxnStoreError;
  return so;
}

}  // namespace

// ==== Client ====

Client::Client(ClusterAccess* cluster, ClientOptions options)
    : cluster_(cluster),
      env_(cluster->env()),
      options_(options),
      cache_([cluster](const std::string& key) { return cluster->GetRegionByKey(key); }),
      sender_(env_, &cache_, SenderOptionsOf(options_)) {}

Client::~Client() { background_.Wait(); }

absl::Status Client::ValidateOptions(const ClientOptions& o) {
  if (o.timeout_micros == 0) return absl::InvalidArgumentError("timeout_micros is 0");
  if (o.attempt_timeout_micros == 0) {
    return absl::InvalidArgumentError("attempt_timeout_micros is 0");
  }
  if (o.backoff_first_micros == 0) return absl::InvalidArgumentError("backoff_first_micros is 0");
  if (o.backoff_max_micros < o.backoff_first_micros) {
    return absl::InvalidArgumentError(absl::StrCat("backoff_max_micros ", o.backoff_max_micros,
                                                   " is below backoff_first_micros ",
                                                   o.backoff_first_micros));
  }
  return absl::OkStatus();
}

void Client::Background(std::function<void()> fn) {
  background_.Add(1);
  WaitGroup wg = background_;
  env_->Spawn([fn = std::move(fn), wg]() mutable {
    fn();
    wg.Done();
  });
}

bool Client::Backoff(uint64_t* backoff, uint64_t deadline) {
  uint64_t now = env_->NowMicros();
  if (now >= deadline) return false;
  // At least 1 us: a zero backoff would retry without virtual time passing.
  *backoff = std::max<uint64_t>(*backoff, 1);
  env_->SleepForMicros(std::min(*backoff, deadline - now));
  *backoff = std::min(*backoff * 2, options_.backoff_max_micros);
  return true;
}

bool Client::RetryPause(bool must_wait, uint64_t* backoff, int* immediate, uint64_t deadline) {
  if (!must_wait && ++*immediate > kMaxImmediateRetries) must_wait = true;
  if (must_wait) {
    *immediate = 0;
    return Backoff(backoff, deadline);
  }
  return env_->NowMicros() < deadline;
}

absl::StatusOr<std::unique_ptr<Txn>> Client::Begin(const BeginOptions& options) {
  TimeStamp ts = options.read_ts;
  if (ts == 0) {
    absl::StatusOr<TimeStamp> t = cluster_->GetTimestamp();
    if (!t.ok()) return t.status();
    ts = *t;
  } else if (!options.read_ts_is_current) {
    absl::StatusOr<TimeStamp> safe = cluster_->GetGcSafePoint();
    if (!safe.ok()) return safe.status();
    if (ts < *safe) {
      return absl::FailedPreconditionError(absl::StrCat(
          "read_ts ", ts, " is below the GC safe point ", *safe, ": its versions may be gone"));
    }
  }
  return std::make_unique<Txn>(this, options, ts);
}

absl::Status Client::WithRegion(
    const std::string& ekey, uint64_t deadline,
    absl::FunctionRef<absl::Status(const RegionContext&, TxnService*, const metapb::Region&)> fn) {
  return sender_.Send(ekey, deadline, [&](const SendTarget& t) -> absl::Status {
    TxnService* svc = cluster_->Store(t.store);
    if (svc == nullptr) return StoreUnreachable(t.store);
    return fn(ContextOf(t, options_.attempt_timeout_micros), svc, t.region);
  });
}

absl::Status Client::ForEachGroup(const std::vector<std::string>& raw_keys, uint64_t deadline,
                                  bool parallel, const GroupFn& fn) {
  std::vector<std::string> ekeys;
  ekeys.reserve(raw_keys.size());
  for (const std::string& k : raw_keys) ekeys.push_back(EncodeKey(k));
  return sender_.SendGrouped(
      ekeys, deadline, parallel,
      [&](const SendTarget& t, const std::vector<size_t>& indices) -> absl::Status {
        TxnService* svc = cluster_->Store(t.store);
        if (svc == nullptr) return StoreUnreachable(t.store);
        std::vector<std::string> keys;
        keys.reserve(indices.size());
        for (size_t i : indices) keys.push_back(raw_keys[i]);
        return fn(ContextOf(t, options_.attempt_timeout_micros), svc, t.region, keys);
      });
}

absl::Status Client::SplitAt(
    const std::string& key,
    const std::function<absl::Status(uint64_t, const metapb::Region&, const std::string&)>& split) {
  const std::string ekey = EncodeKey(key);
  uint64_t split_region = 0;
  absl::Status s = sender_.Send(ekey, Deadline(), [&](const SendTarget& t) {
    if (t.region.start_key() == ekey) return absl::OkStatus();
    split_region = t.region.id();
    return split(t.store, t.region, ekey);
  });
  if (split_region != 0) cache_.Invalidate(split_region);
  return s;
}

// ---- Lock resolution ----

absl::Status Client::ResolveKeys(const std::vector<std::string>& keys, TimeStamp start_ts,
                                 TimeStamp commit_ts, uint64_t deadline) {
  return ForEachGroup(keys, deadline, true,
                      [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
                          const std::vector<std::string>& ks) -> absl::Status {
                        ResolveLockRequest req;
                        req.txn_status[start_ts] = commit_ts;
                        req.keys = ks;
                        absl::StatusOr<ResolveLockResponse> r = svc->ResolveLock(ctx, req);
                        return r.status();
                      });
}

absl::StatusOr<std::optional<TimeStamp>> Client::TxnFate(const LockInfo& lock,
                                                         TimeStamp caller_start_ts,
                                                         uint64_t deadline) {
  {
    absl::MutexLock l(&mu_);
    auto it = resolved_.find(lock.lock_version);
    if (it != resolved_.end()) return std::optional<TimeStamp>(it->second);
  }
  absl::StatusOr<TimeStamp> now = cluster_->GetTimestamp();
  if (!now.ok()) return now.status();
  CheckTxnStatusRequest req;
  req.primary_key = lock.primary;
  req.lock_ts = lock.lock_version;
  req.caller_start_ts = caller_start_ts;
  req.current_ts = *now;
  // A missing primary lock of a live transaction may just not be prewritten yet: only an
  // expired secondary lets the check roll the primary back.
  req.rollback_if_not_exist = LockExpired(lock.lock_ttl, lock.lock_version, *now);
  req.resolving_pessimistic_lock = lock.lock_type == LockType::kPessimistic;
  TxnStatus st;
  absl::Status s = WithRegion(
      EncodeKey(lock.primary), deadline,
      [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&) -> absl::Status {
        absl::StatusOr<TxnStatus> r = svc->CheckTxnStatus(ctx, req);
        if (!r.ok()) return r.status();
        st = *std::move(r);
        return absl::OkStatus();
      });
  if (GetTxnErrorAs<TxnNotFound>(s).has_value()) return std::optional<TimeStamp>();
  if (!s.ok()) return s;
  std::optional<TimeStamp> fate;
  switch (st.kind) {
    case TxnStatus::Kind::kCommitted:
      fate = st.commit_ts;
      break;
    case TxnStatus::Kind::kRolledBack:
    case TxnStatus::Kind::kTtlExpire:
    case TxnStatus::Kind::kLockNotExist:
    case TxnStatus::Kind::kPessimisticRollBack:
    case TxnStatus::Kind::kLockNotExistDoNothing:
      fate = 0;
      break;
    case TxnStatus::Kind::kUncommitted: {
      if (!st.lock.has_value() || !st.lock->use_async_commit) break;
      if (!LockExpired(st.lock->ttl, st.lock->start_ts, *now)) break;
      // Async commit: the transaction committed iff every key is prewritten; its
      // commit_ts is then the largest min_commit_ts.
      std::vector<std::string> keys = st.lock->secondaries;
      TimeStamp commit_ts = st.lock->min_commit_ts;
      std::optional<TimeStamp> decided;
      bool fallback = false;
      s = ForEachGroup(keys, deadline, true,
                       [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
                           const std::vector<std::string>& ks) -> absl::Status {
                         CheckSecondaryLocksRequest r;
                         r.keys = ks;
                         r.start_ts = lock.lock_version;
                         absl::StatusOr<SecondaryLocksStatus> out =
                             svc->CheckSecondaryLocks(ctx, r);
                         if (!out.ok()) return out.status();
                         if (out->kind == SecondaryLocksStatus::Kind::kCommitted) {
                           decided = out->commit_ts;
                         } else if (out->kind == SecondaryLocksStatus::Kind::kRolledBack) {
                           if (!decided.has_value()) decided = 0;
                         } else {
                           for (const LockInfo& li : out->locks) {
                             if (!li.use_async_commit) fallback = true;
                             commit_ts = std::max(commit_ts, li.min_commit_ts);
                           }
                         }
                         return absl::OkStatus();
                       });
      if (!s.ok()) return s;
      if (fallback && !decided.has_value()) {
        // Part of the transaction fell back to 2PC: its committer takes a commit_ts from
        // the TSO, so decide through the primary as for 2PC (it is expired: roll back).
        req.force_sync_commit = true;
        s = WithRegion(
            EncodeKey(lock.primary), deadline,
            [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&) -> absl::Status {
              absl::StatusOr<TxnStatus> r = svc->CheckTxnStatus(ctx, req);
              if (!r.ok()) return r.status();
              st = *std::move(r);
              return absl::OkStatus();
            });
        if (!s.ok()) return s;
        if (st.kind == TxnStatus::Kind::kCommitted) {
          fate = st.commit_ts;
        } else if (st.kind != TxnStatus::Kind::kUncommitted) {
          fate = 0;
        }
        break;
      }
      fate = decided.has_value() ? *decided : commit_ts;
      // Resolve every key of the transaction (the primary included).
      keys.push_back(st.lock->primary);
      s = ResolveKeys(keys, lock.lock_version, *fate, deadline);
      if (!s.ok()) return s;
      break;
    }
  }
  if (fate.has_value()) {
    absl::MutexLock l(&mu_);
    if (resolved_.size() >= 4096) resolved_.clear();  // A cache; bound its memory.
    resolved_[lock.lock_version] = *fate;
  } else if (st.kind == TxnStatus::Kind::kUncommitted && st.lock.has_value() &&
             st.lock->min_commit_ts > caller_start_ts && caller_start_ts != 0 &&
             !st.lock->use_async_commit) {
    // Pushed above the reader: it may read past the lock.
    return std::optional<TimeStamp>(kMaxTs);
  }
  return fate;
}

absl::StatusOr<bool> Client::ResolveLocks(const std::vector<LockInfo>& locks,
                                          TimeStamp caller_start_ts, uint64_t deadline,
                                          std::vector<TimeStamp>* bypass) {
  bool all = true;
  for (const LockInfo& l : locks) {
    absl::StatusOr<std::optional<TimeStamp>> fate = TxnFate(l, caller_start_ts, deadline);
    if (!fate.ok()) return fate.status();
    if (!fate->has_value()) {
      all = false;
      continue;
    }
    if (**fate == kMaxTs) {
      // The primary's min_commit_ts was pushed above the reader: the transaction will
      // commit above caller_start_ts, so the reader may pass its locks.
      if (bypass != nullptr) {
        bypass->push_back(l.lock_version);
      } else {
        all = false;
      }
      continue;
    }
    absl::Status s = ResolveKeys({l.key}, l.lock_version, **fate, deadline);
    if (!s.ok()) return s;
  }
  return all;
}

// ---- GC ----

absl::StatusOr<GcStats> Client::Gc(TimeStamp requested) {
  if (requested == 0) return absl::InvalidArgumentError("gc: safe point 0");
  absl::StatusOr<TimeStamp> now = cluster_->GetTimestamp();
  if (!now.ok()) return now.status();
  if (requested > *now) {
    return absl::InvalidArgumentError(
        absl::StrCat("gc: safe point ", requested, " is above the current timestamp ", *now));
  }
  // PD keeps the safe point: record it before removing anything, so a stale read that
  // begins from now on is refused instead of reading versions being removed.
  absl::StatusOr<TimeStamp> kept = cluster_->UpdateGcSafePoint(requested);
  if (!kept.ok()) return kept.status();
  const TimeStamp safe_point = *kept;
  GcStats total;
  const uint64_t deadline = Deadline();
  std::vector<RegionRoute> regions = cluster_->Regions();
  for (const RegionRoute& route : regions) {
    // Regions may have split since: walk the range by the current cache.
    std::string cursor = route.region.start_key();
    const std::string end = route.region.end_key();
    while (true) {
      std::string region_end;
      uint64_t backoff = options_.backoff_first_micros;
      int immediate = 0;
      // Resolve the locks older than the safe point.
      while (true) {
        std::vector<LockInfo> locks;
        absl::Status s = WithRegion(cursor, deadline,
                                    [&](const RegionContext& ctx, TxnService* svc,
                                        const metapb::Region& r) -> absl::Status {
                                      ScanLockRequest req;
                                      req.max_ts = safe_point;
                                      absl::StatusOr<std::vector<LockInfo>> out =
                                          svc->ScanLock(ctx, req);
                                      if (!out.ok()) return out.status();
                                      locks = *std::move(out);
                                      region_end = r.end_key();
                                      return absl::OkStatus();
                                    });
        if (!s.ok()) return s;
        std::vector<LockInfo> old;
        for (LockInfo& l : locks) {
          if (l.lock_version < safe_point) old.push_back(std::move(l));
        }
        if (old.empty()) break;
        absl::StatusOr<bool> done = ResolveLocks(old, 0, deadline);
        if (!done.ok()) return done.status();
        if (!RetryPause(!*done, &backoff, &immediate, deadline)) {
          return absl::DeadlineExceededError("gc: live locks below the safe point");
        }
      }
      absl::Status s = WithRegion(
          cursor, deadline,
          [&](const RegionContext& ctx, TxnService* svc, const metapb::Region& r) -> absl::Status {
            absl::StatusOr<GcStats> st = svc->Gc(ctx, safe_point);
            if (!st.ok()) return st.status();
            total.keys += st->keys;
            total.versions_deleted += st->versions_deleted;
            total.values_deleted += st->values_deleted;
            region_end = r.end_key();
            return absl::OkStatus();
          });
      if (!s.ok()) return s;
      if (region_end.empty() || (!end.empty() && region_end >= end)) break;
      cursor = region_end;
    }
  }
  return total;
}

// ==== Txn ====

Txn::Txn(Client* client, BeginOptions options, TimeStamp start_ts)
    : client_(client), options_(options), start_ts_(start_ts), for_update_ts_(start_ts) {}

Txn::~Txn() {
  if (state_ == State::kActive || state_ == State::kFailed) {
    if (!pessimistic_locked_.empty()) (void)Rollback();
  }
  StopHeartbeat();
}

absl::Status Txn::CheckActive(bool writing) const {
  switch (state_) {
    case State::kCommitted:
      return absl::FailedPreconditionError(
          absl::StrCat("transaction ", start_ts_, " is already committed"));
    case State::kRolledBack:
      return absl::FailedPreconditionError(
          absl::StrCat("transaction ", start_ts_, " is already rolled back"));
    case State::kFailed:
      return failure_;
    case State::kActive:
      break;
  }
  if (writing && options_.read_ts != 0) {
    return absl::FailedPreconditionError("a transaction with an explicit read_ts is read-only");
  }
  return absl::OkStatus();
}

absl::Status Txn::SnapshotGet(const std::string& key, std::optional<std::string>* out) {
  const uint64_t deadline = client_->Deadline();
  uint64_t backoff = client_->options().backoff_first_micros;
  int immediate = 0;
  const std::string ekey = EncodeKey(key);
  while (true) {
    TxnReadOptions opts;
    opts.bypass_locks = bypass_;
    absl::Status s = client_->WithRegion(
        ekey, deadline,
        [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&) -> absl::Status {
          // The key routed by goes along encoded.
          absl::StatusOr<std::optional<std::string>> v =
              svc->GetEncoded(ctx, key, ekey, start_ts_, opts);
          if (!v.ok()) return v.status();
          *out = *std::move(v);
          return absl::OkStatus();
        });
    if (s.ok()) return s;
    std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(s);
    if (!kl.has_value()) return s;
    absl::StatusOr<bool> done = client_->ResolveLocks(kl->locks, start_ts_, deadline, &bypass_);
    if (!done.ok()) return done.status();
    if (!client_->RetryPause(!*done, &backoff, &immediate, deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat("read blocked by a live lock: ", s.message()));
    }
  }
}

absl::StatusOr<std::optional<std::string>> Txn::Get(const std::string& key) {
  absl::Status a = CheckActive(false);
  if (!a.ok()) return a;
  if (!writes_.empty()) {
    auto it = writes_.find(key);
    if (it != writes_.end()) return it->second;
  }
  if (!locked_values_.empty()) {
    auto lv = locked_values_.find(key);
    if (lv != locked_values_.end()) return lv->second;
  }
  std::optional<std::string> out;
  absl::Status s = SnapshotGet(key, &out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<std::optional<std::string>>> Txn::BatchGet(
    const std::vector<std::string>& keys) {
  absl::Status a = CheckActive(false);
  if (!a.ok()) return a;
  std::vector<std::optional<std::string>> out(keys.size());
  std::map<std::string, std::optional<std::string>> fetched;
  std::vector<std::string> need;
  for (const std::string& k : keys) {
    if (writes_.count(k) == 0 && locked_values_.count(k) == 0) need.push_back(k);
  }
  std::sort(need.begin(), need.end());
  need.erase(std::unique(need.begin(), need.end()), need.end());
  const uint64_t deadline = client_->Deadline();
  uint64_t backoff = client_->options().backoff_first_micros;
  int immediate = 0;
  while (!need.empty()) {
    Mutex mu;
    std::vector<LockInfo> locks;
    std::vector<std::string> locked_keys;
    absl::Status s = client_->ForEachGroup(
        need, deadline, true,
        [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
            const std::vector<std::string>& ks) -> absl::Status {
          TxnReadOptions ro;
          ro.bypass_locks = bypass_;
          absl::StatusOr<std::vector<KvPair>> r = svc->BatchGet(ctx, ks, start_ts_, ro);
          if (!r.ok()) {
            std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(r.status());
            if (!kl.has_value()) return r.status();
            MutexLock l(mu);
            locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
            locked_keys.insert(locked_keys.end(), ks.begin(), ks.end());
            return absl::OkStatus();
          }
          MutexLock l(mu);
          std::set<std::string> seen;
          for (KvPair& p : *r) {
            if (!p.error.ok()) {
              std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(p.error);
              if (!kl.has_value()) return p.error;
              locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
              locked_keys.push_back(p.key);
              seen.insert(p.key);
              continue;
            }
            seen.insert(p.key);
            fetched[p.key] = std::move(p.value);
          }
          for (const std::string& k : ks) {
            if (seen.count(k) == 0) fetched[k] = std::nullopt;
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    need = std::move(locked_keys);
    if (need.empty()) break;
    absl::StatusOr<bool> done = client_->ResolveLocks(locks, start_ts_, deadline, &bypass_);
    if (!done.ok()) return done.status();
    if (!client_->RetryPause(!*done, &backoff, &immediate, deadline)) {
      return absl::DeadlineExceededError("batch get blocked by live locks");
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto w = writes_.find(keys[i]);
    auto lv = locked_values_.find(keys[i]);
    out[i] = w != writes_.end()           ? w->second
             : lv != locked_values_.end() ? lv->second
                                          : fetched[keys[i]];
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Txn::Scan(const std::string& start,
                                                                           const std::string& end,
                                                                           size_t limit) {
  absl::Status a = CheckActive(false);
  if (!a.ok()) return a;
  if (!end.empty() && end <= start) return std::vector<std::pair<std::string, std::string>>();
  // Buffered writes in range may hide or add keys; ask the store for enough.
  size_t deletes = 0;
  bool buffered = false;
  for (const auto* m : {&locked_values_, &writes_}) {
    for (auto it = m->lower_bound(start); it != m->end() && EndAfter(end, it->first); ++it) {
      buffered = true;
      if (!it->second.has_value()) ++deletes;
    }
  }
  // Regions are visited in key order and each answers in key order, so the snapshot's
  // pairs arrive sorted: a vector, merged with the buffered writes only if there are any.
  std::vector<std::pair<std::string, std::string>> snap;
  const uint64_t deadline = client_->Deadline();
  std::string cursor = EncodeKey(start);
  const size_t want = limit == 0 ? 0 : limit + deletes;
  while (true) {
    std::string region_end;
    uint64_t backoff = client_->options().backoff_first_micros;
    int immediate = 0;
    while (true) {
      std::vector<KvPair> part;
      absl::Status s = client_->WithRegion(
          cursor, deadline,
          [&](const RegionContext& ctx, TxnService* svc, const metapb::Region& r) -> absl::Status {
            ScanOptions o;
            o.start_key = start;
            o.end_key = end;
            o.ts = start_ts_;
            o.read.bypass_locks = bypass_;
            o.limit = want == 0 ? 0 : want - std::min(want, snap.size());
            absl::StatusOr<std::vector<KvPair>> out = svc->Scan(ctx, o);
            if (!out.ok()) return out.status();
            part = *std::move(out);
            region_end = r.end_key();
            return absl::OkStatus();
          });
      std::vector<LockInfo> locks;
      if (std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(s)) {
        locks = kl->locks;
      } else if (!s.ok()) {
        return s;
      }
      for (const KvPair& p : part) {
        if (p.error.ok()) continue;
        std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(p.error);
        if (!kl.has_value()) return p.error;
        locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
      }
      if (locks.empty()) {
        snap.reserve(snap.size() + part.size());
        for (KvPair& p : part) snap.emplace_back(std::move(p.key), std::move(p.value));
        break;
      }
      absl::StatusOr<bool> done = client_->ResolveLocks(locks, start_ts_, deadline, &bypass_);
      if (!done.ok()) return done.status();
      if (!client_->RetryPause(!*done, &backoff, &immediate, deadline)) {
        return absl::DeadlineExceededError("scan blocked by live locks");
      }
    }
    if (want != 0 && snap.size() >= want) break;
    if (region_end.empty() || (!end.empty() && region_end >= EncodeKey(end))) break;
    cursor = region_end;
  }
  if (!buffered) {
    if (limit != 0 && snap.size() > limit) snap.resize(limit);
    return snap;
  }
  std::map<std::string, std::string> merged;
  for (auto& [k, v] : snap) merged.emplace(std::move(k), std::move(v));
  // Values locked by locking reads (newer than the snapshot), then this txn's own writes.
  for (const auto* m : {&locked_values_, &writes_}) {
    for (auto it = m->lower_bound(start); it != m->end() && EndAfter(end, it->first); ++it) {
      if (it->second.has_value()) {
        merged[it->first] = *it->second;
      } else {
        merged.erase(it->first);
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [k, v] : merged) {
    if (limit != 0 && out.size() >= limit) break;
    out.emplace_back(k, std::move(v));
  }
  return out;
}

absl::Status Txn::Put(const std::string& key, const std::string& value) {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (options_.pessimistic) {
    absl::Status s = AcquirePessimistic({key}, /*latest=*/false);
    if (!s.ok()) return s;
  }
  writes_[key] = value;
  return absl::OkStatus();
}

absl::Status Txn::Insert(const std::string& key, const std::string& value) {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (options_.pessimistic) {
    return absl::InvalidArgumentError("Insert in a pessimistic transaction");
  }
  writes_[key] = value;
  must_not_exist_.insert(key);
  return absl::OkStatus();
}

absl::Status Txn::Delete(const std::string& key) {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  // Deleting a key this transaction inserted undoes the insert: the key's committed
  // state must still be absent, but a Delete cannot carry that requirement to the store.
  if (must_not_exist_.count(key) != 0) {
    return absl::InvalidArgumentError("Delete of a key written by Insert");
  }
  if (options_.pessimistic) {
    absl::Status s = AcquirePessimistic({key}, /*latest=*/false);
    if (!s.ok()) return s;
  }
  writes_[key] = std::nullopt;
  return absl::OkStatus();
}

absl::Status Txn::WriteWithoutLock(const std::string& key,
                                   const std::optional<std::string>& value) {
  if (!options_.pessimistic) return value.has_value() ? Put(key, *value) : Delete(key);
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  writes_[key] = value;
  return absl::OkStatus();
}

absl::Status Txn::LockKeys(const std::vector<std::string>& keys) {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  for (const std::string& k : keys) {
    if (k.empty()) return absl::InvalidArgumentError("empty key");
  }
  if (options_.pessimistic) return AcquirePessimistic(keys, /*latest=*/true);
  for (const std::string& k : keys) lock_only_.insert(k);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Txn::GetForUpdate(const std::string& key) {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (!options_.pessimistic) {
    absl::StatusOr<std::optional<std::string>> v = Get(key);
    if (v.ok()) lock_only_.insert(key);
    return v;
  }
  absl::Status s = AcquirePessimistic({key}, /*latest=*/true);
  if (!s.ok()) return s;
  // Own writes first, then the locked value; a key locked by Put/Delete is in writes_.
  return Get(key);
}

absl::StatusOr<std::vector<std::optional<std::string>>> Txn::BatchGetForUpdate(
    const std::vector<std::string>& keys) {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  for (const std::string& k : keys) {
    if (k.empty()) return absl::InvalidArgumentError("empty key");
  }
  if (!options_.pessimistic) {
    absl::StatusOr<std::vector<std::optional<std::string>>> v = BatchGet(keys);
    if (v.ok()) lock_only_.insert(keys.begin(), keys.end());
    return v;
  }
  absl::Status s = AcquirePessimistic(keys, /*latest=*/true);
  if (!s.ok()) return s;
  std::vector<std::optional<std::string>> out(keys.size());
  std::vector<size_t> unknown;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (auto w = writes_.find(keys[i]); w != writes_.end()) {
      out[i] = w->second;
    } else if (auto lv = locked_values_.find(keys[i]); lv != locked_values_.end()) {
      out[i] = lv->second;
    } else {
      unknown.push_back(i);
    }
  }
  if (unknown.empty()) return out;
  // Locked earlier without its value (Put/Delete lock at start_ts): read it at
  // for_update_ts, where no newer commit can exist while the lock is held.
  BeginOptions b;
  b.read_ts = for_update_ts_;
  b.read_ts_is_current = true;
  absl::StatusOr<std::unique_ptr<Txn>> r = client_->Begin(b);
  if (!r.ok()) return r.status();
  std::vector<std::string> need;
  for (size_t i : unknown) need.push_back(keys[i]);
  absl::StatusOr<std::vector<std::optional<std::string>>> v = (*r)->BatchGet(need);
  if (!v.ok()) return v.status();
  for (size_t j = 0; j < unknown.size(); ++j) {
    out[unknown[j]] = (*v)[j];
    locked_values_[keys[unknown[j]]] = (*v)[j];
  }
  return out;
}

absl::Status Txn::AcquirePessimistic(const std::vector<std::string>& keys, bool latest) {
  std::vector<std::string> need;
  for (const std::string& k : keys) {
    if (pessimistic_locked_.count(k) == 0) need.push_back(k);
  }
  std::sort(need.begin(), need.end());
  need.erase(std::unique(need.begin(), need.end()), need.end());
  if (need.empty()) return absl::OkStatus();
  if (primary_.empty()) primary_ = need.front();
  const uint64_t deadline = client_->Deadline();
  const uint64_t wait_deadline = client_->env()->NowMicros() + options_.lock_wait_timeout_ms * 1000;
  uint64_t backoff = client_->options().backoff_first_micros;
  while (!need.empty()) {
    Mutex mu;
    std::vector<LockInfo> locks;
    std::vector<std::string> retry;
    std::vector<std::string> conflicted;
    // Put/Delete lock at start_ts: a commit after start_ts on the key is a write conflict,
    // as in optimistic mode. A locking read locks the latest version at for_update_ts.
    const TimeStamp for_update_ts = latest ? for_update_ts_ : start_ts_;
    absl::Status s = client_->ForEachGroup(
        need, deadline, true,
        [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
            const std::vector<std::string>& ks) -> absl::Status {
          AcquirePessimisticLockRequest req;
          for (const std::string& k : ks) req.keys.push_back({k, false});
          req.primary = primary_;
          req.start_ts = start_ts_;
          req.for_update_ts = for_update_ts;
          req.return_values = latest;
          req.lock_ttl = options_.lock_ttl_ms;
          uint64_t now = client_->env()->NowMicros();
          uint64_t wait_ms = wait_deadline > now ? (wait_deadline - now) / 1000 : 0;
          absl::StatusOr<AcquirePessimisticLockResponse> r =
              svc->AcquirePessimisticLock(ctx, req, wait_ms);
          if (r.ok()) {
            MutexLock l(mu);
            for (size_t i = 0; i < ks.size(); ++i) {
              pessimistic_locked_.insert(ks[i]);
              if (latest && i < r->values.size()) locked_values_[ks[i]] = r->values[i];
            }
            return absl::OkStatus();
          }
          if (latest && GetTxnErrorAs<WriteConflict>(r.status()).has_value()) {
            // Committed above for_update_ts: lock again at a fresh one.
            MutexLock l(mu);
            conflicted.insert(conflicted.end(), ks.begin(), ks.end());
            return absl::OkStatus();
          }
          std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(r.status());
          if (!kl.has_value()) return r.status();
          MutexLock l(mu);
          locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
          retry.insert(retry.end(), ks.begin(), ks.end());
          return absl::OkStatus();
        });
    if (!pessimistic_locked_.empty()) StartHeartbeat();
    if (!s.ok()) {
      if (absl::IsAborted(s)) {
        state_ = State::kFailed;
        failure_ = s;
      }
      return s;
    }
    if (!conflicted.empty()) {
      // The TSO is monotonic: a fresh timestamp is above every commit that conflicted.
      absl::StatusOr<TimeStamp> ts = client_->GetTimestamp();
      if (!ts.ok()) return ts.status();
      for_update_ts_ = std::max(for_update_ts_, *ts);
      if (client_->env()->NowMicros() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "locking read of '", EscapeKey(conflicted.front()), "' kept meeting newer commits"));
      }
    }
    need = std::move(retry);
    need.insert(need.end(), conflicted.begin(), conflicted.end());
    if (need.empty()) break;
    if (locks.empty()) continue;
    absl::StatusOr<bool> done = client_->ResolveLocks(locks, 0, deadline);
    if (!done.ok()) return done.status();
    if (client_->env()->NowMicros() >= wait_deadline) {
      state_ = State::kFailed;
      failure_ = absl::AbortedError(absl::StrCat(
          "lock wait timeout: txn ", start_ts_, " waited ", options_.lock_wait_timeout_ms,
          " ms for key '", EscapeKey(need.front()), "' held by txn ", locks.front().lock_version));
      return failure_;
    }
    if (!*done) client_->Backoff(&backoff, wait_deadline);
  }
  return absl::OkStatus();
}

void Txn::StartHeartbeat() {
  if (hb_running_ || primary_.empty()) return;
  hb_running_ = true;
  hb_stop_ = std::make_shared<Notification>();
  hb_done_.Add(1);
  std::shared_ptr<Notification> stop = hb_stop_;
  WaitGroup done = hb_done_;
  Client* client = client_;
  const std::string primary = primary_;
  const TimeStamp start_ts = start_ts_;
  const uint64_t ttl = options_.lock_ttl_ms;
  client_->env()->Spawn([client, stop, done, primary, start_ts, ttl]() mutable {
    while (!stop->WaitFor(client->env(), ttl * 1000 / 2)) {
      absl::StatusOr<TimeStamp> now = client->GetTimestamp();
      if (!now.ok()) continue;
      TxnHeartBeatRequest req;
      req.primary_key = primary;
      req.start_ts = start_ts;
      req.advise_ttl = PhysicalMs(*now) - PhysicalMs(start_ts) + ttl;
      absl::Status s =
          client->WithRegion(EncodeKey(primary), client->env()->NowMicros() + ttl * 1000 / 2,
                             [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&) {
                               return svc->TxnHeartBeat(ctx, req).status();
                             });
      if (GetTxnErrorAs<TxnNotFound>(s).has_value() && !stop->HasBeenNotified()) {
        // Not prewritten yet, or already gone: keep trying until told to stop.
        continue;
      }
    }
    done.Done();
  });
}

void Txn::StopHeartbeat() {
  if (!hb_running_) return;
  hb_stop_->Notify();
  hb_done_.Wait();
  hb_running_ = false;
}

absl::Status Txn::PrewriteAll(bool async, bool one_pc, PrewriteResult* out, uint64_t deadline) {
  std::vector<Mutation> muts;
  std::vector<bool> pess;
  std::vector<std::string> keys;
  for (const auto& [k, v] : writes_) {
    muts.push_back(!v.has_value()                  ? Mutation::Delete(k)
                   : must_not_exist_.count(k) != 0 ? Mutation::Insert(k, *v)
                                                   : Mutation::Put(k, *v));
    pess.push_back(pessimistic_locked_.count(k) > 0);
    keys.push_back(k);
  }
  for (const std::string& k : lock_only_) {
    if (writes_.count(k) != 0) continue;
    muts.push_back(Mutation::LockKey(k));
    pess.push_back(false);
    keys.push_back(k);
  }
  for (const std::string& k : pessimistic_locked_) {
    if (writes_.count(k) != 0) continue;
    muts.push_back(Mutation::LockKey(k));
    pess.push_back(true);
    keys.push_back(k);
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) index[keys[i]] = i;
  std::vector<std::string> secondaries;
  if (async) {
    for (const std::string& k : keys) {
      if (k != primary_) secondaries.push_back(k);
    }
  }
  Mutex mu;
  uint64_t backoff = client_->options().backoff_first_micros;
  int immediate = 0;
  std::vector<std::string> pending = keys;
  while (!pending.empty()) {
    std::vector<LockInfo> locks;
    std::vector<std::string> retry;
    absl::Status s = client_->ForEachGroup(
        pending, deadline, true,
        [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
            const std::vector<std::string>& ks) -> absl::Status {
          PrewriteRequest req;
          req.primary = primary_;
          req.start_ts = start_ts_;
          req.lock_ttl = options_.lock_ttl_ms;
          req.txn_size = keys.size();
          req.use_async_commit = async;
          if (async) {
            req.min_commit_ts = start_ts_ + 1;
            req.secondaries = secondaries;
          }
          // 1PC only when this group holds every key: a split after the layout check
          // regroups the keys, and each part committing on its own would tear the txn.
          req.try_one_pc = one_pc && ks.size() == keys.size();
          if (async || one_pc) {
            req.max_commit_ts = ComposeTs(PhysicalMs(start_ts_) + kMaxCommitTsWindowMs, 0);
            if (commit_check_ != nullptr) {
              req.max_commit_ts = std::min(req.max_commit_ts, check_max_commit_ts_);
            }
          }
          if (options_.pessimistic) {
            req.for_update_ts = for_update_ts_;
          }
          for (const std::string& k : ks) {
            req.mutations.push_back(muts[index[k]]);
            if (options_.pessimistic) req.is_pessimistic_lock.push_back(pess[index[k]]);
          }
          absl::StatusOr<PrewriteResponse> r = svc->Prewrite(ctx, req);
          if (r.ok() && RUTILE_FAIL_POINT_VALUE("txn_prewrite_response_lost").has_value()) {
            // The prewrite applied but its answer timed out: the group is sent again.
            r = absl::DeadlineExceededError("injected: prewrite response lost");
          }
          MutexLock l(mu);
          if (!r.ok()) {
            std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(r.status());
            if (!kl.has_value()) return r.status();
            locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
            retry.insert(retry.end(), ks.begin(), ks.end());
            return absl::OkStatus();
          }
          out->min_commit_ts = std::max(out->min_commit_ts, r->min_commit_ts);
          out->one_pc_commit_ts = std::max(out->one_pc_commit_ts, r->one_pc_commit_ts);
          if (r->fell_back) out->fell_back = true;
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    pending = std::move(retry);
    if (pending.empty()) break;
    absl::StatusOr<bool> done = client_->ResolveLocks(locks, 0, deadline);
    if (!done.ok()) return done.status();
    if (!client_->RetryPause(!*done, &backoff, &immediate, deadline)) {
      return absl::DeadlineExceededError(absl::StrCat("prewrite blocked by live locks, e.g. on '",
                                                      EscapeKey(locks[0].key), "' of txn ",
                                                      locks[0].lock_version));
    }
  }
  return absl::OkStatus();
}

void Txn::ReleasePessimisticLocks() {
  // Never prewritten: remove the locks without rollback records, so they cannot make a
  // later lock on the same keys look like a write conflict.
  std::vector<std::string> keys(pessimistic_locked_.begin(), pessimistic_locked_.end());
  pessimistic_locked_.clear();
  if (keys.empty()) return;
  (void)client_->ForEachGroup(keys, client_->Deadline(), true,
                              [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
                                  const std::vector<std::string>& ks) {
                                PessimisticRollbackRequest req;
                                req.keys = ks;
                                req.start_ts = start_ts_;
                                req.for_update_ts = for_update_ts_;
                                return svc->PessimisticRollback(ctx, req);
                              });
}

void Txn::CleanupAfterFailure(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  const uint64_t deadline = client_->Deadline();
  (void)client_->ForEachGroup(keys, deadline, true,
                              [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&,
                                  const std::vector<std::string>& ks) {
                                RollbackRequest req;
                                req.keys = ks;
                                req.start_ts = start_ts_;
                                return svc->Rollback(ctx, req);
                              });
}

absl::StatusOr<TimeStamp> Txn::RollBackPrimaryFirst(const std::vector<std::string>& keys) {
  absl::Status s =
      client_->WithRegion(EncodeKey(primary_), client_->Deadline(),
                          [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&) {
                            RollbackRequest req;
                            req.keys = {primary_};
                            req.start_ts = start_ts_;
                            return svc->Rollback(ctx, req);
                          });
  if (std::optional<Committed> c = GetTxnErrorAs<Committed>(s); c.has_value()) {
    return c->commit_ts;
  }
  if (!s.ok()) return s;
  std::vector<std::string> rest;
  for (const std::string& k : keys) {
    if (k != primary_) rest.push_back(k);
  }
  CleanupAfterFailure(rest);
  return TimeStamp{0};
}

absl::Status Txn::Commit() {
  absl::Status a = CheckActive(false);
  if (state_ == State::kFailed) {
    StopHeartbeat();
    ReleasePessimisticLocks();
    return a;
  }
  if (!a.ok()) return a;
  std::vector<std::string> keys;
  for (const auto& [k, v] : writes_) keys.push_back(k);
  for (const std::string& k : lock_only_) {
    if (writes_.count(k) == 0) keys.push_back(k);
  }
  for (const std::string& k : pessimistic_locked_) {
    if (writes_.count(k) == 0 && lock_only_.count(k) == 0) keys.push_back(k);
  }
  if (keys.empty()) {
    state_ = State::kCommitted;
    commit_ts_ = start_ts_;
    commit_kind_ = "read-only";
    return absl::OkStatus();
  }
  std::sort(keys.begin(), keys.end());
  if (primary_.empty()) primary_ = keys.front();
  const uint64_t deadline = client_->Deadline();

  // One region for every key? Then 1PC is possible, for pessimistic transactions too (as
  // in TiKV): the one prewrite checks and replaces the pessimistic locks and writes the
  // commit records in the same Raft entry, so a pessimistic transaction commits with one
  // replicated write instead of a prewrite, a TSO call and a commit (three round trips
  // after its lock writes; SQL's explicit transactions are pessimistic by default).
  // A commit gate bounds 1PC and async commit through max_commit_ts (see SetCommitCheck).
  const bool fast_ok = commit_check_ == nullptr || check_max_commit_ts_ > start_ts_;
  bool one_pc = false;
  if (options_.try_one_pc && fast_ok && keys.size() == 1) {
    // One key lies in one region: no lookup here (PrewriteAll asks for 1PC only when one
    // group holds every key, and routes the key itself).
    one_pc = true;
  } else if (options_.try_one_pc && fast_ok) {
    std::set<uint64_t> regions;
    bool ok = true;
    for (const std::string& k : keys) {
      absl::Status s =
          client_->WithRegion(EncodeKey(k), deadline,
                              [&](const RegionContext& ctx, TxnService*, const metapb::Region&) {
                                regions.insert(ctx.region_id);
                                return absl::OkStatus();
                              });
      if (!s.ok()) ok = false;
    }
    one_pc = ok && regions.size() == 1;
  }
  const bool async =
      !one_pc && fast_ok && options_.async_commit && keys.size() <= kMaxAsyncCommitKeys;
  if (!one_pc) StartHeartbeat();

  PrewriteResult pr;
  absl::Status s = PrewriteAll(async, one_pc, &pr, deadline);
  if (!s.ok()) {
    StopHeartbeat();
    state_ = State::kFailed;
    pessimistic_locked_.clear();
    if (async && !absl::IsAborted(s) && !absl::IsAlreadyExists(s)) {
      // Every prewrite may have landed (an async-commit transaction is committed once all
      // its locks exist): rolling keys back now could split it. Leave it to resolvers.
      failure_ = Undetermined(s);
      return failure_;
    }
    if (one_pc) {
      // A 1PC prewrite that timed out may still apply (and be retried meanwhile): the
      // transaction may be committed, so only the primary's rollback can tell.
      absl::StatusOr<TimeStamp> done = RollBackPrimaryFirst(keys);
      if (done.ok() && *done != 0) {
        state_ = State::kCommitted;
        commit_ts_ = *done;
        commit_kind_ = "1pc";
        failure_ = absl::OkStatus();
        return absl::OkStatus();
      }
      failure_ = done.ok() ? s : Undetermined(s);
      return failure_;
    }
    CleanupAfterFailure(keys);
    failure_ = s;
    return s;
  }
  if (one_pc && pr.one_pc_commit_ts != 0 && !pr.fell_back) {
    StopHeartbeat();  // Running since a pessimistic lock was taken.
    state_ = State::kCommitted;
    commit_ts_ = pr.one_pc_commit_ts;
    commit_kind_ = "1pc";
    return absl::OkStatus();
  }
  TimeStamp commit_ts = 0;
  bool committed = false;
  if (async && !pr.fell_back && pr.min_commit_ts != 0) {
    // Every key is prewritten: the transaction is committed at min_commit_ts.
    commit_ts = pr.min_commit_ts;
    committed = true;
    commit_kind_ = "async";
  } else {
    commit_kind_ = "2pc";
    while (true) {
      absl::StatusOr<TimeStamp> ts = client_->GetTimestamp();
      if (!ts.ok()) {
        s = ts.status();
        break;
      }
      commit_ts = *ts;
      if (commit_check_ != nullptr) {
        // The gate decides at the chosen commit_ts, before anything is committed.
        absl::Status c = commit_check_();
        if (!c.ok() && (one_pc || async)) {
          // A 1PC or async-commit prewrite sent again after its response was lost finds
          // its transaction committed (or its locks) and reports no commit_ts: the
          // transaction may be committed already, within the gate's max_commit_ts. The
          // primary's rollback decides; reporting the gate's error (retryable, "rolled
          // back") for a committed transaction would make its replay write it twice.
          StopHeartbeat();
          absl::StatusOr<TimeStamp> done = RollBackPrimaryFirst(keys);
          if (done.ok() && *done != 0) {
            commit_ts = *done;
            commit_kind_ = one_pc ? "1pc" : "async";
            s = absl::OkStatus();
            break;
          }
          state_ = State::kFailed;
          failure_ = done.ok() ? c : Undetermined(c);
          return failure_;
        }
        if (!c.ok()) {
          StopHeartbeat();
          state_ = State::kFailed;
          failure_ = c;
          CleanupAfterFailure(keys);
          return c;
        }
      }
      s = client_->WithRegion(
          EncodeKey(primary_), deadline,
          [&](const RegionContext& ctx, TxnService* svc, const metapb::Region&) {
            CommitRequest req;
            req.keys = {primary_};
            req.start_ts = start_ts_;
            req.commit_ts = commit_ts;
            return svc->Commit(ctx, req);
          });
      // A reader pushed min_commit_ts above our commit_ts: take a newer one.
      if (GetTxnErrorAs<CommitTsExpired>(s).has_value()) continue;
      break;
    }
    if (s.ok()) {
      committed = true;
    } else if (GetTxnErrorAs<TxnLockNotFound>(s).has_value()) {
      StopHeartbeat();
      state_ = State::kFailed;
      failure_ = absl::AbortedError(absl::StrCat("transaction ", start_ts_,
                                                 " was rolled back by another transaction "
                                                 "before its commit: ",
                                                 s.message()));
      CleanupAfterFailure(keys);
      return failure_;
    } else {
      StopHeartbeat();
      state_ = State::kFailed;
      failure_ = Undetermined(s);
      return failure_;
    }
  }
  StopHeartbeat();
  state_ = State::kCommitted;
  commit_ts_ = commit_ts;
  // Secondaries (and, for async commit, every key) are committed in the background: the
  // transaction's fate is already decided, and readers resolve what is left.
  std::vector<std::string> rest;
  for (const std::string& k : keys) {
    if (commit_kind_ == "async" || k != primary_) rest.push_back(k);
  }
  if (!rest.empty() && committed) {
    Client* client = client_;
    const TimeStamp start_ts = start_ts_;
    client_->Background([client, rest = std::move(rest), start_ts, commit_ts] {
      (void)client->ForEachGroup(rest, client->Deadline(), true,
                                 [&](const RegionContext& ctx, TxnService* svc,
                                     const metapb::Region&, const std::vector<std::string>& ks) {
                                   CommitRequest req;
                                   req.keys = ks;
                                   req.start_ts = start_ts;
                                   req.commit_ts = commit_ts;
                                   return svc->Commit(ctx, req);
                                 });
    });
  }
  return absl::OkStatus();
}

absl::Status Txn::Rollback() {
  if (state_ == State::kCommitted) {
    return absl::FailedPreconditionError(
        absl::StrCat("transaction ", start_ts_, " is already committed"));
  }
  if (state_ == State::kRolledBack) return absl::OkStatus();
  StopHeartbeat();
  ReleasePessimisticLocks();
  state_ = State::kRolledBack;
  return absl::OkStatus();
}

absl::Status Txn::TEST_PrewriteOnlyAndAbandon() {
  absl::Status a = CheckActive(true);
  if (!a.ok()) return a;
  std::vector<std::string> keys;
  for (const auto& [k, v] : writes_) keys.push_back(k);
  if (keys.empty()) return absl::InvalidArgumentError("nothing to prewrite");
  if (primary_.empty()) primary_ = keys.front();
  PrewriteResult pr;
  absl::Status s = PrewriteAll(options_.async_commit, false, &pr, client_->Deadline());
  StopHeartbeat();
  state_ = State::kRolledBack;  // Inert from now on; the locks stay behind.
  pessimistic_locked_.clear();
  return s;
}

}  // namespace rutile::txn::client
