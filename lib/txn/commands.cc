#include "txn/commands.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "txn/errors.h"

namespace rutile::txn {

namespace {

#define RETURN_IF_ERROR_C(expr) \
  do {                          \
    absl::Status _st = (expr);  \
    if (!_st.ok()) return _st;  \
  } while (0)

#define ASSIGN_OR_RETURN_C(lhs, expr)           \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

std::string EncodeBound(const std::string& raw_end) {
  return raw_end.empty() ? std::string() : EncodeKey(raw_end);
}

}  // namespace

std::vector<std::string> LatchKeys(const std::vector<std::string>& raw_keys) {
  std::vector<std::string> out;
  out.reserve(raw_keys.size());
  for (const std::string& k : raw_keys) out.push_back(EncodeKey(k));
  return out;
}

// ---- Prewrite ----

absl::StatusOr<PrewriteResponse> Prewrite(MvccReader* reader, MvccTxn* txn,
                                          const PrewriteRequest& req) {
  if (req.start_ts == 0) return absl::InvalidArgumentError("prewrite: start_ts is 0");
  if (!req.is_pessimistic_lock.empty() && req.is_pessimistic_lock.size() != req.mutations.size()) {
    return absl::InvalidArgumentError("prewrite: is_pessimistic_lock size mismatch");
  }
  const bool pessimistic = req.for_update_ts != 0;
  if (!pessimistic && std::find(req.is_pessimistic_lock.begin(), req.is_pessimistic_lock.end(),
                                true) != req.is_pessimistic_lock.end()) {
    return absl::InvalidArgumentError("prewrite: pessimistic lock check without for_update_ts");
  }
  bool async = req.use_async_commit;
  bool one_pc = req.try_one_pc;
  PrewriteResponse resp;
  // At most two rounds: the second one after a fallback to plain 2PC.
  for (int round = 0; round < 2; ++round) {
    TxnProps props;
    props.start_ts = req.start_ts;
    props.primary = req.primary;
    props.pessimistic = pessimistic;
    props.for_update_ts = req.for_update_ts;
    props.skip_constraint_check = req.skip_constraint_check;
    props.commit_kind = one_pc  ? CommitKind::kOnePc
                        : async ? CommitKind::kAsync
                                : CommitKind::kTwoPc;
    props.max_commit_ts = req.max_commit_ts;
    props.txn_size = req.txn_size;
    props.lock_ttl = req.lock_ttl;
    props.min_commit_ts = req.min_commit_ts;
    props.is_retry_request = req.is_retry_request;

    const std::optional<std::vector<std::string>> primary_secondaries =
        async ? std::optional<std::vector<std::string>>(req.secondaries) : std::nullopt;
    const std::optional<std::vector<std::string>> empty_secondaries =
        async ? std::optional<std::vector<std::string>>(std::vector<std::string>()) : std::nullopt;

    std::vector<LockInfo> locks;
    TimeStamp final_min_commit_ts = 0;
    bool fallback = false;
    for (size_t i = 0; i < req.mutations.size(); ++i) {
      const Mutation& m = req.mutations[i];
      const bool is_pl = !req.is_pessimistic_lock.empty() && req.is_pessimistic_lock[i];
      auto r = PrewriteKey(txn, reader, props, m,
                           m.key == req.primary ? primary_secondaries : empty_secondaries, is_pl);
      if (!r.ok()) {
        if (auto kl = GetTxnErrorAs<KeyIsLocked>(r.status())) {
          locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
          continue;
        }
        txn->Clear();
        return r.status();
      }
      if (r->commit_ts_too_large) {
        fallback = true;
        break;
      }
      final_min_commit_ts = std::max(final_min_commit_ts, r->min_commit_ts);
    }
    if (fallback) {
      txn->Clear();
      async = false;
      one_pc = false;
      resp.fell_back = true;
      continue;
    }
    if (!locks.empty()) {
      txn->Clear();
      return MakeTxnError(KeyIsLocked{std::move(locks)});
    }
    if (one_pc) {
      for (const MvccTxn::OnePcLock& l : txn->locks_for_1pc()) {
        RETURN_IF_ERROR_C(CommitOnePcLock(txn, reader, l, final_min_commit_ts));
      }
      txn->locks_for_1pc().clear();
      resp.one_pc_commit_ts = final_min_commit_ts;
    } else if (async) {
      resp.min_commit_ts = final_min_commit_ts;
    }
    return resp;
  }
  return absl::InternalError("prewrite: fallback did not converge");
}

// ---- Commit, rollback, cleanup ----

absl::Status Commit(MvccReader* reader, MvccTxn* txn, const CommitRequest& req) {
  if (req.commit_ts <= req.start_ts) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit: commit_ts ", req.commit_ts, " <= start_ts ", req.start_ts));
  }
  for (const std::string& k : req.keys) {
    RETURN_IF_ERROR_C(CommitKey(txn, reader, EncodeKey(k), req.start_ts, req.commit_ts));
  }
  return absl::OkStatus();
}

absl::Status Rollback(MvccReader* reader, MvccTxn* txn, const RollbackRequest& req) {
  // Rollback is sent when the client knows the transaction failed: its records need no
  // protection.
  for (const std::string& k : req.keys) {
    RETURN_IF_ERROR_C(Cleanup(txn, reader, EncodeKey(k), req.start_ts, 0, false));
  }
  return absl::OkStatus();
}

absl::Status CleanupCommand(MvccReader* reader, MvccTxn* txn, const CleanupRequest& req) {
  return Cleanup(txn, reader, EncodeKey(req.key), req.start_ts, req.current_ts, true);
}

// ---- Transaction status ----

absl::StatusOr<TxnStatus> CheckTxnStatus(MvccReader* reader, MvccTxn* txn,
                                         const CheckTxnStatusRequest& req) {
  txn->cm()->UpdateMaxTs(req.caller_start_ts);
  const std::string key = EncodeKey(req.primary_key);
  ASSIGN_OR_RETURN_C(lock, reader->LoadLock(key));
  if (lock.has_value() && lock->start_ts == req.lock_ts) {
    return CheckTxnStatusLockExists(txn, reader, key, *std::move(lock), req.current_ts,
                                    req.caller_start_ts, req.force_sync_commit,
                                    req.resolving_pessimistic_lock);
  }
  return CheckTxnStatusMissingLock(txn, reader, key, req.lock_ts, lock,
                                   req.rollback_if_not_exist ? MissingLockAction::kProtectedRollback
                                                             : MissingLockAction::kReturnError,
                                   req.resolving_pessimistic_lock);
}

absl::StatusOr<uint64_t> TxnHeartBeat(MvccReader* reader, MvccTxn* txn,
                                      const TxnHeartBeatRequest& req) {
  const std::string key = EncodeKey(req.primary_key);
  ASSIGN_OR_RETURN_C(lock, reader->LoadLock(key));
  if (lock.has_value() && lock->start_ts == req.start_ts) {
    if (lock->ttl < req.advise_ttl) {
      lock->ttl = req.advise_ttl;
      txn->PutLock(key, *lock);
    }
    return lock->ttl;
  }
  return MakeTxnError(TxnNotFound{req.start_ts, req.primary_key});
}

absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(MvccReader* reader, MvccTxn* txn,
                                                         const CheckSecondaryLocksRequest& req) {
  // A commit must never overwrite the protected rollback written here: keep later async
  // commits above start_ts.
  txn->cm()->UpdateMaxTs(req.start_ts);
  SecondaryLocksStatus result;
  for (const std::string& raw : req.keys) {
    const std::string key = EncodeKey(raw);
    ASSIGN_OR_RETURN_C(lock, reader->LoadLock(key));
    std::optional<Lock> mismatch_lock;
    bool need_rollback = false;
    std::optional<OverlappedWrite> overlapped;
    SecondaryLocksStatus::Kind kind = SecondaryLocksStatus::Kind::kLocked;
    TimeStamp commit_ts = 0;
    if (lock.has_value() && lock->start_ts == req.start_ts) {
      if (lock->type == LockType::kPessimistic) {
        // Never prewritten: the transaction cannot have committed. Roll it back.
        txn->UnlockKey(key);
        ASSIGN_OR_RETURN_C(rec, reader->GetTxnCommitRecord(key, req.start_ts));
        overlapped = rec.overlapped_write;
        kind = SecondaryLocksStatus::Kind::kRolledBack;
        need_rollback = true;
      } else {
        result.locks.push_back(LockInfo::From(*lock, raw));
        continue;
      }
    } else {
      mismatch_lock = lock;
      ASSIGN_OR_RETURN_C(rec, reader->GetTxnCommitRecord(key, req.start_ts));
      if (rec.committed()) {
        kind = SecondaryLocksStatus::Kind::kCommitted;
        commit_ts = rec.commit_ts;
      } else if (rec.rolled_back()) {
        kind = SecondaryLocksStatus::Kind::kRolledBack;
      } else {
        kind = SecondaryLocksStatus::Kind::kRolledBack;
        need_rollback = true;
        overlapped = rec.overlapped_write;
      }
    }
    if (need_rollback) {
      if (mismatch_lock.has_value() && !overlapped.has_value()) {
        Lock l = *mismatch_lock;
        if (req.start_ts >= l.min_commit_ts && l.use_async_commit) {
          l.rollback_ts.push_back(req.start_ts);
          txn->PutLock(key, l);
        }
      }
      // Protected, so a stale prewrite can never succeed after it.
      std::optional<Write> w;
      if (overlapped.has_value()) {
        w = overlapped->write;
        w->has_overlapped_rollback = true;
        w->gc_fence = overlapped->gc_fence;
      } else {
        w = Write::Rollback(req.start_ts, true);
      }
      txn->PutWrite(key, req.start_ts, *w);
    }
    result.kind = kind;
    result.commit_ts = commit_ts;
    result.locks.clear();
    return result;
  }
  result.kind = SecondaryLocksStatus::Kind::kLocked;
  return result;
}

// ---- Lock resolution ----

namespace {

absl::Status ResolveOne(MvccReader* reader, MvccTxn* txn, const std::string& key,
                        TimeStamp start_ts, TimeStamp commit_ts) {
  if (commit_ts == 0) return Cleanup(txn, reader, key, start_ts, 0, false);
  return CommitKey(txn, reader, key, start_ts, commit_ts);
}

}  // namespace

absl::StatusOr<ResolveLockResponse> ResolveLock(MvccReader* reader, MvccTxn* txn,
                                                const ResolveLockRequest& req) {
  if (req.txn_status.empty()) return absl::InvalidArgumentError("resolve_lock: no transaction");
  for (const auto& [s, c] : req.txn_status) {
    if (c != 0 && c <= s) {
      return absl::InvalidArgumentError(
          absl::StrCat("resolve_lock: commit_ts ", c, " <= start_ts ", s));
    }
  }
  ResolveLockResponse resp;
  if (!req.keys.empty()) {
    if (req.txn_status.size() != 1) {
      return absl::InvalidArgumentError("resolve_lock: keys given for several transactions");
    }
    const auto [start_ts, commit_ts] = *req.txn_status.begin();
    for (const std::string& raw : req.keys) {
      RETURN_IF_ERROR_C(ResolveOne(reader, txn, EncodeKey(raw), start_ts, commit_ts));
      resp.resolved++;
    }
    return resp;
  }
  ASSIGN_OR_RETURN_C(locks, reader->ScanLocks(
                                EncodeKey(req.start_key), EncodeBound(req.end_key),
                                [&](const Lock& l) { return req.txn_status.count(l.start_ts) > 0; },
                                req.scan_limit, &resp.has_more));
  for (const auto& [key, lock] : locks) {
    RETURN_IF_ERROR_C(
        ResolveOne(reader, txn, key, lock.start_ts, req.txn_status.at(lock.start_ts)));
    resp.resolved++;
  }
  return resp;
}

absl::StatusOr<std::vector<LockInfo>> ScanLock(MvccReader* reader, const ScanLockRequest& req) {
  ASSIGN_OR_RETURN_C(locks,
                     reader->ScanLocks(
                         EncodeKey(req.start_key), EncodeBound(req.end_key),
                         [&](const Lock& l) { return l.start_ts <= req.max_ts; }, req.limit));
  std::vector<LockInfo> out;
  out.reserve(locks.size());
  for (const auto& [key, lock] : locks) {
    ASSIGN_OR_RETURN_C(raw, DecodeKey(key));
    out.push_back(LockInfo::From(lock, std::move(raw)));
  }
  return out;
}

// ---- Pessimistic locking ----

absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
    MvccReader* reader, MvccTxn* txn, const AcquirePessimisticLockRequest& req) {
  if (req.for_update_ts == 0 || req.start_ts == 0) {
    return absl::InvalidArgumentError("acquire_pessimistic_lock: zero timestamp");
  }
  txn->cm()->UpdateMaxTs(req.for_update_ts);
  AcquirePessimisticLockResponse resp;
  PessimisticLockParams p;
  p.primary = req.primary;
  p.start_ts = req.start_ts;
  p.for_update_ts = req.for_update_ts;
  p.lock_ttl = req.lock_ttl;
  p.min_commit_ts = req.min_commit_ts;
  p.need_value = req.return_values;
  for (const auto& k : req.keys) {
    p.should_not_exist = k.should_not_exist;
    auto v = AcquirePessimisticLockKey(txn, reader, EncodeKey(k.key), p);
    if (!v.ok()) {
      txn->Clear();
      return v.status();
    }
    if (req.return_values) resp.values.push_back(*std::move(v));
  }
  return resp;
}

absl::Status PessimisticRollback(MvccReader* reader, MvccTxn* txn,
                                 const PessimisticRollbackRequest& req) {
  for (const std::string& raw : req.keys) {
    const std::string key = EncodeKey(raw);
    ASSIGN_OR_RETURN_C(lock, reader->LoadLock(key));
    if (lock.has_value() && lock->type == LockType::kPessimistic &&
        lock->start_ts == req.start_ts && lock->for_update_ts <= req.for_update_ts) {
      txn->UnlockKey(key);
    }
  }
  return absl::OkStatus();
}

// ---- Garbage collection and range deletion ----

absl::StatusOr<GcStats> Gc(MvccReader* reader, MvccTxn* txn, const GcRequest& req) {
  ASSIGN_OR_RETURN_C(keys,
                     reader->ScanWriteKeys(EncodeKey(req.start_key), EncodeBound(req.end_key), 0));
  GcStats stats;
  for (const std::string& key : keys) {
    RETURN_IF_ERROR_C(GcKey(txn, reader, key, req.safe_point, &stats));
  }
  return stats;
}

absl::Status DeleteRange(MvccTxn* txn, const DeleteRangeRequest& req) {
  const std::string start = EncodeKey(req.start_key);
  const std::string end = EncodeBound(req.end_key);
  if (!end.empty() && end < start) return absl::InvalidArgumentError("delete_range: start > end");
  for (storage::CF cf : {storage::CF::kDefault, storage::CF::kLock, storage::CF::kWrite}) {
    txn->DeleteRange(cf, start, end);
  }
  return absl::OkStatus();
}

}  // namespace rutile::txn
