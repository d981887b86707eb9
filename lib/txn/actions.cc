#include "txn/actions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "util/failpoint.h"

namespace rutile::txn {

namespace {

#define RETURN_IF_ERROR_T(expr) \
  do {                          \
    absl::Status _st = (expr);  \
    if (!_st.ok()) return _st;  \
  } while (0)

#define ASSIGN_OR_RETURN_T(lhs, expr)           \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

absl::StatusOr<std::string> Raw(std::string_view key) { return DecodeKey(key); }

absl::Status KeyIsLockedError(const Lock& lock, std::string_view key) {
  ASSIGN_OR_RETURN_T(raw, Raw(key));
  return MakeTxnError(KeyIsLocked{{LockInfo::From(lock, std::move(raw))}});
}

// The key exists at or below `ts` (a Put is the newest data version).
absl::StatusOr<bool> KeyExists(MvccReader* reader, std::string_view key, TimeStamp ts,
                               TimeStamp gc_fence_limit) {
  ASSIGN_OR_RETURN_T(w, reader->GetWrite(key, ts, gc_fence_limit));
  return w.has_value();
}

// AlreadyExist when `should_not_exist` and the newest record `write` at commit_ts (or, if
// it is a Lock/Rollback, an older data version) says the key exists.
absl::Status CheckDataConstraint(MvccReader* reader, bool should_not_exist, const Write& write,
                                 TimeStamp commit_ts, std::string_view key, TimeStamp start_ts) {
  if (!should_not_exist || write.type == WriteType::kDelete) return absl::OkStatus();
  bool exists = write.type == WriteType::kPut;
  if (!exists && commit_ts > 0) {
    ASSIGN_OR_RETURN_T(e, KeyExists(reader, key, commit_ts - 1, start_ts));
    exists = e;
  }
  if (!exists) return absl::OkStatus();
  ASSIGN_OR_RETURN_T(raw, Raw(key));
  return MakeTxnError(AlreadyExist{std::move(raw)});
}

std::optional<Write> MakeRollback(TimeStamp start_ts, bool is_protected,
                                  const std::optional<OverlappedWrite>& overlapped) {
  if (overlapped.has_value()) {
    if (!is_protected) return std::nullopt;
    Write w = overlapped->write;
    w.has_overlapped_rollback = true;
    w.gc_fence = overlapped->gc_fence;
    return w;
  }
  return Write::Rollback(start_ts, is_protected);
}

// Removes the newest unprotected rollback record at or below start_ts: consecutive
// rollbacks need only the newest one.
absl::Status CollapsePrevRollback(MvccTxn* txn, MvccReader* reader, std::string_view key,
                                  TimeStamp start_ts) {
  ASSIGN_OR_RETURN_T(prev, reader->SeekWrite(key, start_ts));
  if (prev.has_value() && prev->second.type == WriteType::kRollback &&
      !prev->second.is_protected_rollback()) {
    txn->DeleteWrite(key, prev->first);
  }
  return absl::OkStatus();
}

// TiKV's mark_rollback_on_mismatching_lock: when a protected rollback record is written at
// start_ts on a key locked by an async-commit transaction that could commit exactly at
// start_ts, remember start_ts in its lock so the commit keeps the rollback visible.
void MarkRollbackOnMismatchingLock(MvccTxn* txn, std::string_view key, Lock lock,
                                   TimeStamp start_ts, bool is_protected) {
  if (!is_protected || start_ts < lock.min_commit_ts || !lock.use_async_commit) return;
  lock.rollback_ts.push_back(start_ts);
  txn->PutLock(key, lock);
}

// The commit record for a lock, noting an overlapped rollback at commit_ts.
absl::StatusOr<Write> CommitRecordFor(MvccReader* reader, std::string_view key, const Lock& lock,
                                      TimeStamp commit_ts) {
  Write w;
  w.type = WriteTypeFromLock(lock.type);
  w.start_ts = lock.start_ts;
  w.short_value = lock.short_value;
  bool overlapped = std::find(lock.rollback_ts.begin(), lock.rollback_ts.end(), commit_ts) !=
                    lock.rollback_ts.end();
  if (!overlapped) {
    // A rollback record of another transaction whose start_ts equals our (calculated)
    // commit_ts would be overwritten: keep its meaning in the flag.
    ASSIGN_OR_RETURN_T(existing, reader->SeekWrite(key, commit_ts));
    overlapped =
        existing.has_value() && existing->first == commit_ts &&
        existing->second.start_ts != lock.start_ts &&
        (existing->second.type == WriteType::kRollback || existing->second.has_overlapped_rollback);
  }
  w.has_overlapped_rollback = overlapped;
  return w;
}

}  // namespace

// ---- Prewrite ----

absl::StatusOr<PrewriteKeyResult> PrewriteKey(
    MvccTxn* txn, MvccReader* reader, const TxnProps& props, const Mutation& m,
    const std::optional<std::vector<std::string>>& secondaries, bool is_pessimistic_lock) {
  PrewriteKeyResult result;
  const std::string key = EncodeKey(m.key);
  const TimeStamp start_ts = props.start_ts;
  if (props.pessimistic && m.should_not_write()) {
    return absl::InvalidArgumentError("CheckNotExists in a pessimistic prewrite");
  }
  uint64_t lock_ttl = props.lock_ttl;
  TimeStamp min_commit_ts = props.min_commit_ts;
  bool has_pessimistic_lock = false;
  bool amended = false;

  ASSIGN_OR_RETURN_T(lock, reader->LoadLock(key));
  if (lock.has_value()) {
    if (lock->start_ts != start_ts) {
      if (is_pessimistic_lock) {
        // A retried prewrite of a transaction that was committed meanwhile.
        ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
        if (rec.committed()) {
          result.duplicate = true;
          return result;
        }
        return MakeTxnError(PessimisticLockNotFound{start_ts, m.key});
      }
      return KeyIsLockedError(*lock, key);
    }
    if (lock->type == LockType::kPessimistic) {
      if (!props.pessimistic) return MakeTxnError(LockTypeNotMatch{start_ts, m.key, true});
      // Our pessimistic lock: overwrite it; its ttl and min_commit_ts may have been pushed.
      lock_ttl = std::max(lock_ttl, lock->ttl);
      min_commit_ts = std::max(min_commit_ts, lock->min_commit_ts);
      has_pessimistic_lock = true;
    } else {
      // Duplicated prewrite: the lock is already there.
      result.duplicate = true;
      result.min_commit_ts = lock->use_async_commit ? lock->min_commit_ts : 0;
      return result;
    }
  } else if (is_pessimistic_lock) {
    // The pessimistic lock is gone (or was never written). If nothing committed on the key
    // since start_ts, prewriting is still safe ("amend"); a commit of our own means this
    // is a retry after commit.
    ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
    if (rec.committed()) {
      result.duplicate = true;
      return result;
    }
    ASSIGN_OR_RETURN_T(newest, reader->SeekWrite(key, kMaxTs));
    if (newest.has_value() && newest->first >= start_ts) {
      return MakeTxnError(PessimisticLockNotFound{start_ts, m.key});
    }
    amended = true;
  }

  const bool check_newer =
      !has_pessimistic_lock && !amended && (props.pessimistic || !props.skip_constraint_check);
  if (check_newer) {
    ASSIGN_OR_RETURN_T(newest, reader->SeekWrite(key, kMaxTs));
    if (newest.has_value()) {
      const auto& [commit_ts, write] = *newest;
      const TimeStamp limit = props.pessimistic ? props.for_update_ts : start_ts;
      const bool self_rolled_back = commit_ts == start_ts && (write.type == WriteType::kRollback ||
                                                              write.has_overlapped_rollback);
      if (commit_ts > limit || self_rolled_back) {
        if (!self_rolled_back) {
          // Maybe the newer record is our own commit and this is a retried prewrite.
          ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
          if (rec.committed()) {
            result.duplicate = true;
            return result;
          }
        }
        return MakeTxnError(
            WriteConflict{start_ts, write.start_ts, commit_ts, m.key, props.primary});
      }
      RETURN_IF_ERROR_T(
          CheckDataConstraint(reader, m.should_not_exist(), write, commit_ts, key, start_ts));
    }
  }

  if (m.should_not_write()) {
    // CheckNotExists is a read at start_ts.
    txn->cm()->UpdateMaxTs(start_ts);
    if (props.commit_kind != CommitKind::kTwoPc) {
      result.min_commit_ts = std::max(props.min_commit_ts, start_ts + 1);
    }
    return result;
  }

  if (props.is_retry_request && props.commit_kind == CommitKind::kAsync && !has_pessimistic_lock) {
    // A retried async-commit prewrite must not lock a key its transaction already
    // committed (the first response was lost and the transaction got resolved).
    ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
    if (rec.committed()) {
      result.duplicate = true;
      return result;
    }
  }

  Lock l;
  l.type = m.lock_type();
  l.primary = props.primary;
  l.start_ts = start_ts;
  l.ttl = lock_ttl;
  l.for_update_ts = props.pessimistic ? props.for_update_ts : 0;
  l.txn_size = props.txn_size;
  l.min_commit_ts = min_commit_ts;
  if (m.has_value()) {
    if (IsShortValue(m.value)) {
      l.short_value = m.value;
    } else {
      txn->PutValue(key, start_ts, m.value);
    }
  }
  const bool one_pc = props.commit_kind == CommitKind::kOnePc;
  if (secondaries.has_value()) {
    l.use_async_commit = true;
    l.secondaries = *secondaries;
  }
  if (l.use_async_commit || one_pc) {
    // Hold the key in the memory table, then read max_ts and publish the lock in one hold
    // of the table's mutex: a reader checking this key either ran before (it raised
    // max_ts first, so our commit_ts is above its read) or finds the lock
    // (concurrency_manager.h).
    KeyHandleGuard guard = txn->cm()->LockKey(key);
    RUTILE_FAIL_POINT("async_commit_before_memory_lock");
    bool too_large = false;
    guard.WithLock([&](std::optional<Lock>& slot) {
      const TimeStamp max_ts = txn->cm()->max_ts();
      TimeStamp mc = std::max({max_ts, start_ts, l.for_update_ts}) + 1;
      mc = std::max(mc, l.min_commit_ts);
      if (props.max_commit_ts != 0 && mc > props.max_commit_ts) {
        too_large = true;
        return;
      }
      l.min_commit_ts = mc;
      slot = l;
    });
    if (too_large) {
      result.commit_ts_too_large = true;
      return result;
    }
    txn->AddGuard(std::move(guard));
    result.min_commit_ts = l.min_commit_ts;
  }
  if (one_pc) {
    txn->PutLockFor1pc(key, std::move(l), has_pessimistic_lock);
  } else {
    txn->PutLock(key, l);
  }
  return result;
}

// ---- Commit ----

absl::Status CommitKey(MvccTxn* txn, MvccReader* reader, std::string_view key, TimeStamp start_ts,
                       TimeStamp commit_ts) {
  ASSIGN_OR_RETURN_T(lock, reader->LoadLock(key));
  if (lock.has_value() && lock->start_ts == start_ts) {
    if (commit_ts < lock->min_commit_ts) {
      ASSIGN_OR_RETURN_T(raw, Raw(key));
      return MakeTxnError(CommitTsExpired{start_ts, commit_ts, raw, lock->min_commit_ts});
    }
    // A pessimistic lock that was never prewritten commits as a Lock record.
    ASSIGN_OR_RETURN_T(write, CommitRecordFor(reader, key, *lock, commit_ts));
    txn->PutWrite(key, commit_ts, write);
    txn->UnlockKey(key);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
  if (rec.committed()) return absl::OkStatus();  // Duplicated commit.
  ASSIGN_OR_RETURN_T(raw, Raw(key));
  return MakeTxnError(TxnLockNotFound{start_ts, commit_ts, raw});
}

absl::Status CommitOnePcLock(MvccTxn* txn, MvccReader* reader, const MvccTxn::OnePcLock& l,
                             TimeStamp commit_ts) {
  ASSIGN_OR_RETURN_T(write, CommitRecordFor(reader, l.key, l.lock, commit_ts));
  txn->PutWrite(l.key, commit_ts, write);
  if (l.remove_pessimistic_lock) txn->UnlockKey(l.key);
  return absl::OkStatus();
}

// ---- Rollback, cleanup, check_txn_status ----

const char* TxnStatusKindName(TxnStatus::Kind k) {
  switch (k) {
    case TxnStatus::Kind::kRolledBack:
      return "RolledBack";
    case TxnStatus::Kind::kTtlExpire:
      return "TtlExpire";
    case TxnStatus::Kind::kLockNotExist:
      return "LockNotExist";
    case TxnStatus::Kind::kUncommitted:
      return "Uncommitted";
    case TxnStatus::Kind::kCommitted:
      return "Committed";
    case TxnStatus::Kind::kPessimisticRollBack:
      return "PessimisticRollBack";
    case TxnStatus::Kind::kLockNotExistDoNothing:
      return "LockNotExistDoNothing";
  }
  return "?";
}

absl::Status RollbackLock(MvccTxn* txn, MvccReader* reader, std::string_view key, const Lock& lock,
                          TimeStamp start_ts, bool collapse_rollback) {
  ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
  if (rec.committed()) {
    ASSIGN_OR_RETURN_T(raw, Raw(key));
    return absl::InternalError(absl::StrCat("rolling back a lock of a committed transaction: key=",
                                            EscapeKey(raw), " start_ts=", start_ts));
  }
  if (rec.kind != TxnCommitRecord::Kind::kNone) {
    // Already rolled back; only the lock is left to remove.
    txn->UnlockKey(key);
    return absl::OkStatus();
  }
  if (lock.type == LockType::kPut && !lock.short_value.has_value()) {
    txn->DeleteValue(key, start_ts);
  }
  // Only a pessimistic transaction's primary needs protection: a stale pessimistic lock
  // request could otherwise lock it again after the rollback record is collapsed.
  ASSIGN_OR_RETURN_T(raw, Raw(key));
  const bool is_protected = lock.is_pessimistic_txn() && raw == lock.primary;
  if (auto w = MakeRollback(start_ts, is_protected, rec.overlapped_write)) {
    txn->PutWrite(key, start_ts, *w);
  }
  if (collapse_rollback) RETURN_IF_ERROR_T(CollapsePrevRollback(txn, reader, key, start_ts));
  txn->UnlockKey(key);
  return absl::OkStatus();
}

absl::StatusOr<TxnStatus> CheckTxnStatusMissingLock(MvccTxn* txn, MvccReader* reader,
                                                    std::string_view key, TimeStamp start_ts,
                                                    const std::optional<Lock>& mismatch_lock,
                                                    MissingLockAction action,
                                                    bool resolving_pessimistic_lock) {
  TxnStatus st;
  ASSIGN_OR_RETURN_T(rec, reader->GetTxnCommitRecord(key, start_ts));
  if (rec.committed()) {
    st.kind = TxnStatus::Kind::kCommitted;
    st.commit_ts = rec.commit_ts;
    return st;
  }
  if (rec.rolled_back()) {
    st.kind = TxnStatus::Kind::kRolledBack;
    return st;
  }
  if (action == MissingLockAction::kReturnError) {
    ASSIGN_OR_RETURN_T(raw, Raw(key));
    return MakeTxnError(TxnNotFound{start_ts, raw});
  }
  if (resolving_pessimistic_lock) {
    st.kind = TxnStatus::Kind::kLockNotExistDoNothing;
    return st;
  }
  const bool is_protected = action == MissingLockAction::kProtectedRollback;
  if (!is_protected) RETURN_IF_ERROR_T(CollapsePrevRollback(txn, reader, key, start_ts));
  if (mismatch_lock.has_value() && !rec.overlapped_write.has_value()) {
    MarkRollbackOnMismatchingLock(txn, key, *mismatch_lock, start_ts, is_protected);
  }
  if (auto w = MakeRollback(start_ts, is_protected, rec.overlapped_write)) {
    txn->PutWrite(key, start_ts, *w);
  }
  st.kind = TxnStatus::Kind::kLockNotExist;
  return st;
}

absl::StatusOr<TxnStatus> CheckTxnStatusLockExists(MvccTxn* txn, MvccReader* reader,
                                                   std::string_view key, Lock lock,
                                                   TimeStamp current_ts, TimeStamp caller_start_ts,
                                                   bool force_sync_commit,
                                                   bool resolving_pessimistic_lock) {
  TxnStatus st;
  // An async-commit transaction's fate is decided by all its locks (check_secondary_locks),
  // never by the primary's TTL alone, and its min_commit_ts must not move.
  if (lock.use_async_commit && !force_sync_commit) {
    st.kind = TxnStatus::Kind::kUncommitted;
    st.lock = std::move(lock);
    return st;
  }
  if (PhysicalMs(lock.start_ts) + lock.ttl < PhysicalMs(current_ts)) {
    if (resolving_pessimistic_lock && lock.type == LockType::kPessimistic) {
      txn->UnlockKey(key);
      st.kind = TxnStatus::Kind::kPessimisticRollBack;
      return st;
    }
    RETURN_IF_ERROR_T(RollbackLock(txn, reader, key, lock, lock.start_ts, true));
    st.kind = TxnStatus::Kind::kTtlExpire;
    return st;
  }
  // Push min_commit_ts above the reader so that it can ignore the lock. A lock with
  // min_commit_ts 0 is left alone (its client may not expect it to move).
  if (lock.min_commit_ts != 0 && caller_start_ts != kMaxTs &&
      caller_start_ts >= lock.min_commit_ts) {
    lock.min_commit_ts = std::max(caller_start_ts + 1, current_ts);
    txn->PutLock(key, lock);
  }
  st.min_commit_ts_pushed =
      (caller_start_ts != 0 && lock.min_commit_ts > caller_start_ts) || caller_start_ts == kMaxTs;
  st.kind = TxnStatus::Kind::kUncommitted;
  st.lock = std::move(lock);
  return st;
}

absl::Status Cleanup(MvccTxn* txn, MvccReader* reader, std::string_view key, TimeStamp start_ts,
                     TimeStamp current_ts, bool protect_rollback) {
  ASSIGN_OR_RETURN_T(lock, reader->LoadLock(key));
  if (lock.has_value() && lock->start_ts == start_ts) {
    if (current_ts != 0 && PhysicalMs(lock->start_ts) + lock->ttl >= PhysicalMs(current_ts)) {
      return KeyIsLockedError(*lock, key);
    }
    return RollbackLock(txn, reader, key, *lock, start_ts, !protect_rollback);
  }
  ASSIGN_OR_RETURN_T(
      st, CheckTxnStatusMissingLock(txn, reader, key, start_ts, lock,
                                    protect_rollback ? MissingLockAction::kProtectedRollback
                                                     : MissingLockAction::kRollback,
                                    false));
  if (st.kind == TxnStatus::Kind::kCommitted) {
    ASSIGN_OR_RETURN_T(raw, Raw(key));
    return MakeTxnError(Committed{start_ts, st.commit_ts, raw});
  }
  return absl::OkStatus();
}

// ---- Pessimistic locks ----

absl::StatusOr<std::optional<std::string>> AcquirePessimisticLockKey(
    MvccTxn* txn, MvccReader* reader, std::string_view key, const PessimisticLockParams& p) {
  std::optional<std::string> value;
  ASSIGN_OR_RETURN_T(lock, reader->LoadLock(key));
  if (lock.has_value()) {
    if (lock->start_ts != p.start_ts) return KeyIsLockedError(*lock, key);
    if (lock->type != LockType::kPessimistic) {
      ASSIGN_OR_RETURN_T(raw, Raw(key));
      return MakeTxnError(LockTypeNotMatch{p.start_ts, raw, false});
    }
    if (p.need_value) {
      ASSIGN_OR_RETURN_T(v, reader->Get(key, p.for_update_ts));
      value = std::move(v);
    }
    if (p.for_update_ts > lock->for_update_ts) {
      Lock l = *lock;
      l.for_update_ts = p.for_update_ts;
      l.ttl = std::max(l.ttl, p.lock_ttl);
      l.min_commit_ts = std::max(l.min_commit_ts, p.min_commit_ts);
      txn->PutLock(key, l);
    }
    return value;
  }

  ASSIGN_OR_RETURN_T(newest, reader->SeekWrite(key, kMaxTs));
  if (newest.has_value()) {
    const auto& [commit_ts, write] = *newest;
    // A pessimistic transaction reads at for_update_ts: a newer commit means the client
    // must read again with a newer for_update_ts.
    if (commit_ts > p.for_update_ts) {
      ASSIGN_OR_RETURN_T(raw, Raw(key));
      return MakeTxnError(WriteConflict{p.start_ts, write.start_ts, commit_ts, raw, p.primary});
    }
    // The rollback may be the newest record or hidden below newer commits.
    bool rolled_back = commit_ts == p.start_ts &&
                       (write.type == WriteType::kRollback || write.has_overlapped_rollback);
    if (!rolled_back && commit_ts > p.start_ts) {
      ASSIGN_OR_RETURN_T(older, reader->SeekWrite(key, p.start_ts));
      rolled_back =
          older.has_value() && older->first == p.start_ts &&
          (older->second.type == WriteType::kRollback || older->second.has_overlapped_rollback);
    }
    if (rolled_back) {
      ASSIGN_OR_RETURN_T(raw, Raw(key));
      return MakeTxnError(PessimisticLockRolledBack{p.start_ts, raw});
    }
    RETURN_IF_ERROR_T(
        CheckDataConstraint(reader, p.should_not_exist, write, commit_ts, key, p.start_ts));
    if (p.need_value) {
      ASSIGN_OR_RETURN_T(v, reader->Get(key, p.for_update_ts));
      value = std::move(v);
    }
  }
  Lock l;
  l.type = LockType::kPessimistic;
  l.primary = p.primary;
  l.start_ts = p.start_ts;
  l.ttl = p.lock_ttl;
  l.for_update_ts = p.for_update_ts;
  l.min_commit_ts = p.min_commit_ts;
  txn->PutLock(key, l);
  return value;
}

// ---- GC ----

absl::Status GcKey(MvccTxn* txn, MvccReader* reader, std::string_view key, TimeStamp safe_point,
                   GcStats* stats) {
  ASSIGN_OR_RETURN_T(writes, reader->ScanWrites(key));
  enum class State { kRewind, kRemoveIdempotent, kRemove } state = State::kRewind;
  stats->keys++;
  for (const auto& [commit_ts, w] : writes) {
    if (state == State::kRewind) {
      if (commit_ts > safe_point) continue;
      state = State::kRemoveIdempotent;
    }
    if (state == State::kRemoveIdempotent) {
      switch (w.type) {
        case WriteType::kPut:
          state = State::kRemove;  // The version reads at safe_point see: keep it.
          continue;
        case WriteType::kDelete:
          state = State::kRemove;  // Nothing below it is visible, nor is it needed.
          break;
        case WriteType::kLock:
        case WriteType::kRollback:
          break;
      }
      txn->DeleteWrite(key, commit_ts);
      stats->versions_deleted++;
      continue;
    }
    txn->DeleteWrite(key, commit_ts);
    stats->versions_deleted++;
    if (w.type == WriteType::kPut && !w.short_value.has_value()) {
      txn->DeleteValue(key, w.start_ts);
      stats->values_deleted++;
    }
  }
  return absl::OkStatus();
}

}  // namespace rutile::txn
