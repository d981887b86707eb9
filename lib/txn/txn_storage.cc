#include "txn/txn_storage.h"

#include <map>

namespace rutile::txn {

template <typename F>
auto TxnStorage::RunWrite(const std::vector<std::string>& raw_keys, bool latch, F&& body)
    -> decltype(body(static_cast<MvccReader*>(nullptr), static_cast<MvccTxn*>(nullptr))) {
  Latches::Guard guard;
  if (latch) guard = latches_->Acquire(LatchKeys(raw_keys));
  std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
  MvccReader reader(engine_, snap.get());
  // Declared last, destroyed first: the memory locks go after the write, before the
  // latches.
  MvccTxn txn(cm_);
  auto result = body(&reader, &txn);
  if (!result.ok()) return result;
  if (txn.modify_count() > 0) {
    absl::Status s = engine_->Write(txn.batch(), write_options_);
    if (!s.ok()) return s;
  }
  return result;
}

namespace {

absl::Status CheckMemLock(ConcurrencyManager* cm, const std::string& key, TimeStamp ts,
                          const TxnReadOptions& opts) {
  return cm->ReadKeyCheck(
      key, [&](const Lock& l, std::string_view k) { return CheckLockForRead(l, k, ts, opts); });
}

}  // namespace

absl::StatusOr<std::optional<std::string>> TxnStorage::Get(const std::string& key, TimeStamp ts,
                                                           const TxnReadOptions& opts) {
  if (opts.isolation == IsolationLevel::kSI) {
    cm_->UpdateMaxTs(ts);
    absl::Status s = CheckMemLock(cm_, EncodeKey(key), ts, opts);
    if (!s.ok()) return s;
  }
  std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
  MvccReader reader(engine_, snap.get());
  return PointGet(&reader, key, ts, opts);
}

absl::StatusOr<std::vector<KvPair>> TxnStorage::BatchGet(const std::vector<std::string>& keys,
                                                         TimeStamp ts, const TxnReadOptions& opts) {
  if (opts.isolation == IsolationLevel::kSI) {
    cm_->UpdateMaxTs(ts);
    for (const std::string& k : keys) {
      absl::Status s = CheckMemLock(cm_, EncodeKey(k), ts, opts);
      if (!s.ok()) return s;
    }
  }
  std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
  MvccReader reader(engine_, snap.get());
  return txn::BatchGet(&reader, keys, ts, opts);
}

absl::StatusOr<std::vector<KvPair>> TxnStorage::Scan(const ScanOptions& opts) {
  if (opts.read.isolation == IsolationLevel::kSI) {
    cm_->UpdateMaxTs(opts.ts);
    absl::Status s = cm_->ReadRangeCheck(EncodeKey(opts.start_key),
                                         opts.end_key.empty() ? "" : EncodeKey(opts.end_key),
                                         [&](const Lock& l, std::string_view k) {
                                           return CheckLockForRead(l, k, opts.ts, opts.read);
                                         });
    if (!s.ok()) return s;
  }
  std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
  MvccReader reader(engine_, snap.get());
  return txn::Scan(&reader, opts);
}

absl::StatusOr<PrewriteResponse> TxnStorage::Prewrite(const PrewriteRequest& req) {
  std::vector<std::string> keys;
  keys.reserve(req.mutations.size());
  for (const Mutation& m : req.mutations) keys.push_back(m.key);
  return RunWrite(keys, true, [&](MvccReader* r, MvccTxn* t) { return txn::Prewrite(r, t, req); });
}

absl::Status TxnStorage::Commit(const CommitRequest& req) {
  return RunWrite(req.keys, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::Commit(r, t, req); });
}

absl::Status TxnStorage::Rollback(const RollbackRequest& req) {
  return RunWrite(req.keys, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::Rollback(r, t, req); });
}

absl::Status TxnStorage::Cleanup(const CleanupRequest& req) {
  return RunWrite({req.key}, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::CleanupCommand(r, t, req); });
}

absl::StatusOr<TxnStatus> TxnStorage::CheckTxnStatus(const CheckTxnStatusRequest& req) {
  return RunWrite({req.primary_key}, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::CheckTxnStatus(r, t, req); });
}

absl::StatusOr<uint64_t> TxnStorage::TxnHeartBeat(const TxnHeartBeatRequest& req) {
  return RunWrite({req.primary_key}, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::TxnHeartBeat(r, t, req); });
}

absl::StatusOr<SecondaryLocksStatus> TxnStorage::CheckSecondaryLocks(
    const CheckSecondaryLocksRequest& req) {
  return RunWrite(req.keys, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::CheckSecondaryLocks(r, t, req); });
}

absl::StatusOr<ResolveLockResponse> TxnStorage::ResolveLock(const ResolveLockRequest& req) {
  if (!req.keys.empty()) {
    return RunWrite(req.keys, true,
                    [&](MvccReader* r, MvccTxn* t) { return txn::ResolveLock(r, t, req); });
  }
  if (req.txn_status.empty()) return absl::InvalidArgumentError("resolve_lock: no transaction");
  // Read phase: find the locks. Write phase: resolve exactly those, under their latches.
  std::map<TimeStamp, std::vector<std::string>> by_txn;
  bool has_more = false;
  std::vector<std::string> all_keys;
  {
    std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
    MvccReader reader(engine_, snap.get());
    ScanLockRequest scan;
    scan.start_key = req.start_key;
    scan.end_key = req.end_key;
    scan.max_ts = kMaxTs;
    auto locks = reader.ScanLocks(
        EncodeKey(req.start_key), req.end_key.empty() ? "" : EncodeKey(req.end_key),
        [&](const Lock& l) { return req.txn_status.count(l.start_ts) > 0; }, req.scan_limit,
        &has_more);
    if (!locks.ok()) return locks.status();
    for (const auto& [key, lock] : *locks) {
      auto raw = DecodeKey(key);
      if (!raw.ok()) return raw.status();
      by_txn[lock.start_ts].push_back(*raw);
      all_keys.push_back(*std::move(raw));
    }
  }
  auto r = RunWrite(all_keys, true,
                    [&](MvccReader* reader, MvccTxn* t) -> absl::StatusOr<ResolveLockResponse> {
                      ResolveLockResponse resp;
                      for (const auto& [start_ts, keys] : by_txn) {
                        ResolveLockRequest one;
                        one.txn_status[start_ts] = req.txn_status.at(start_ts);
                        one.keys = keys;
                        auto rr = txn::ResolveLock(reader, t, one);
                        if (!rr.ok()) return rr.status();
                        resp.resolved += rr->resolved;
                      }
                      return resp;
                    });
  if (r.ok()) r->has_more = has_more;
  return r;
}

absl::StatusOr<std::vector<LockInfo>> TxnStorage::ScanLock(const ScanLockRequest& req) {
  cm_->UpdateMaxTs(req.max_ts);
  absl::Status s = cm_->ReadRangeCheck(
      EncodeKey(req.start_key), req.end_key.empty() ? "" : EncodeKey(req.end_key),
      [&](const Lock& l, std::string_view k) -> absl::Status {
        if (l.start_ts > req.max_ts) return absl::OkStatus();
        auto raw = DecodeKey(k);
        if (!raw.ok()) return raw.status();
        return MakeTxnError(KeyIsLocked{{LockInfo::From(l, *raw)}});
      });
  if (!s.ok()) return s;
  std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
  MvccReader reader(engine_, snap.get());
  return txn::ScanLock(&reader, req);
}

absl::StatusOr<AcquirePessimisticLockResponse> TxnStorage::AcquirePessimisticLock(
    const AcquirePessimisticLockRequest& req) {
  std::vector<std::string> keys;
  for (const auto& k : req.keys) keys.push_back(k.key);
  return RunWrite(keys, true, [&](MvccReader* r, MvccTxn* t) {
    return txn::AcquirePessimisticLock(r, t, req);
  });
}

absl::Status TxnStorage::PessimisticRollback(const PessimisticRollbackRequest& req) {
  return RunWrite(req.keys, true,
                  [&](MvccReader* r, MvccTxn* t) { return txn::PessimisticRollback(r, t, req); });
}

absl::StatusOr<GcStats> TxnStorage::Gc(const GcRequest& req) {
  return RunWrite({}, false, [&](MvccReader* r, MvccTxn* t) { return txn::Gc(r, t, req); });
}

absl::Status TxnStorage::DeleteRange(const DeleteRangeRequest& req) {
  return RunWrite({}, false, [&](MvccReader*, MvccTxn* t) { return txn::DeleteRange(t, req); });
}

}  // namespace rutile::txn
