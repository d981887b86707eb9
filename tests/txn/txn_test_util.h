// TiKV-style helpers for transaction tests (after tikv src/storage/txn/actions/tests.rs and
// mvcc/mod.rs): a MemEngine-backed TxnStorage and short must_* functions that run one
// command and fail the current test with the key and timestamps when it does not behave.
// Each helper runs a whole command (latches, snapshot, atomic write), as a region leader
// would.

#ifndef RUTILE_TESTS_TXN_TXN_TEST_UTIL_H_
#define RUTILE_TESTS_TXN_TXN_TEST_UTIL_H_

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/mem_engine.h"
#include "txn/errors.h"
#include "txn/txn_storage.h"

namespace rutile::txn::testing {

struct TestEngine {
  storage::MemEngine engine;
  ConcurrencyManager cm{1};
  Latches latches{64};
  TxnStorage store{&engine, &cm, &latches};

  MvccReader* Reader() {
    snap_ = engine.GetSnapshot();
    reader_ = std::make_unique<MvccReader>(&engine, snap_.get());
    return reader_.get();
  }

 private:
  std::unique_ptr<storage::Snapshot> snap_;
  std::unique_ptr<MvccReader> reader_;
};

inline std::string Where(std::string_view key, TimeStamp ts) {
  return "key=" + EscapeKey(key) + " ts=" + std::to_string(ts);
}

// ---- Prewrite ----

inline PrewriteRequest OptimisticReq(Mutation m, std::string_view pk, TimeStamp ts) {
  PrewriteRequest req;
  req.mutations.push_back(std::move(m));
  req.primary = std::string(pk);
  req.start_ts = ts;
  req.lock_ttl = 0;
  return req;
}

inline PrewriteResponse must_prewrite(TestEngine& e, const PrewriteRequest& req) {
  auto r = e.store.Prewrite(req);
  EXPECT_TRUE(r.ok()) << "prewrite start_ts=" << req.start_ts << ": " << r.status();
  return r.ok() ? *r : PrewriteResponse{};
}

inline void must_prewrite_put(TestEngine& e, std::string_view key, std::string_view value,
                              std::string_view pk, TimeStamp ts) {
  auto r =
      e.store.Prewrite(OptimisticReq(Mutation::Put(std::string(key), std::string(value)), pk, ts));
  EXPECT_TRUE(r.ok()) << "prewrite put " << Where(key, ts) << ": " << r.status();
}

inline void must_prewrite_delete(TestEngine& e, std::string_view key, std::string_view pk,
                                 TimeStamp ts) {
  auto r = e.store.Prewrite(OptimisticReq(Mutation::Delete(std::string(key)), pk, ts));
  EXPECT_TRUE(r.ok()) << "prewrite delete " << Where(key, ts) << ": " << r.status();
}

inline void must_prewrite_lock(TestEngine& e, std::string_view key, std::string_view pk,
                               TimeStamp ts) {
  auto r = e.store.Prewrite(OptimisticReq(Mutation::LockKey(std::string(key)), pk, ts));
  EXPECT_TRUE(r.ok()) << "prewrite lock " << Where(key, ts) << ": " << r.status();
}

inline absl::Status must_prewrite_put_err(TestEngine& e, std::string_view key,
                                          std::string_view value, std::string_view pk,
                                          TimeStamp ts) {
  auto r =
      e.store.Prewrite(OptimisticReq(Mutation::Put(std::string(key), std::string(value)), pk, ts));
  EXPECT_FALSE(r.ok()) << "prewrite put " << Where(key, ts) << " unexpectedly succeeded";
  return r.status();
}

inline absl::Status must_prewrite_insert_err(TestEngine& e, std::string_view key,
                                             std::string_view value, std::string_view pk,
                                             TimeStamp ts) {
  auto r = e.store.Prewrite(
      OptimisticReq(Mutation::Insert(std::string(key), std::string(value)), pk, ts));
  EXPECT_FALSE(r.ok()) << "prewrite insert " << Where(key, ts) << " unexpectedly succeeded";
  return r.status();
}

// Pessimistic prewrite of one Put.
inline absl::StatusOr<PrewriteResponse> try_pessimistic_prewrite_put(
    TestEngine& e, std::string_view key, std::string_view value, std::string_view pk, TimeStamp ts,
    TimeStamp for_update_ts, bool is_pessimistic_lock) {
  PrewriteRequest req = OptimisticReq(Mutation::Put(std::string(key), std::string(value)), pk, ts);
  req.for_update_ts = for_update_ts;
  req.is_pessimistic_lock = {is_pessimistic_lock};
  return e.store.Prewrite(req);
}

inline void must_pessimistic_prewrite_put(TestEngine& e, std::string_view key,
                                          std::string_view value, std::string_view pk, TimeStamp ts,
                                          TimeStamp for_update_ts, bool is_pessimistic_lock) {
  auto r = try_pessimistic_prewrite_put(e, key, value, pk, ts, for_update_ts, is_pessimistic_lock);
  EXPECT_TRUE(r.ok()) << "pessimistic prewrite " << Where(key, ts) << ": " << r.status();
}

// ---- Commit / rollback ----

inline void must_commit(TestEngine& e, std::string_view key, TimeStamp start_ts,
                        TimeStamp commit_ts) {
  absl::Status s = e.store.Commit({{std::string(key)}, start_ts, commit_ts});
  EXPECT_TRUE(s.ok()) << "commit " << Where(key, start_ts) << "@" << commit_ts << ": " << s;
}

inline absl::Status must_commit_err(TestEngine& e, std::string_view key, TimeStamp start_ts,
                                    TimeStamp commit_ts) {
  absl::Status s = e.store.Commit({{std::string(key)}, start_ts, commit_ts});
  EXPECT_FALSE(s.ok()) << "commit " << Where(key, start_ts) << " unexpectedly succeeded";
  return s;
}

inline void must_rollback(TestEngine& e, std::string_view key, TimeStamp start_ts) {
  absl::Status s = e.store.Rollback({{std::string(key)}, start_ts});
  EXPECT_TRUE(s.ok()) << "rollback " << Where(key, start_ts) << ": " << s;
}

inline absl::Status must_rollback_err(TestEngine& e, std::string_view key, TimeStamp start_ts) {
  absl::Status s = e.store.Rollback({{std::string(key)}, start_ts});
  EXPECT_FALSE(s.ok()) << "rollback " << Where(key, start_ts) << " unexpectedly succeeded";
  return s;
}

inline void must_cleanup(TestEngine& e, std::string_view key, TimeStamp start_ts,
                         TimeStamp current_ts) {
  absl::Status s = e.store.Cleanup({std::string(key), start_ts, current_ts});
  EXPECT_TRUE(s.ok()) << "cleanup " << Where(key, start_ts) << ": " << s;
}

inline absl::Status must_cleanup_err(TestEngine& e, std::string_view key, TimeStamp start_ts,
                                     TimeStamp current_ts) {
  absl::Status s = e.store.Cleanup({std::string(key), start_ts, current_ts});
  EXPECT_FALSE(s.ok()) << "cleanup " << Where(key, start_ts) << " unexpectedly succeeded";
  return s;
}

// ---- Inspecting the CFs ----

inline Lock must_locked(TestEngine& e, std::string_view key, TimeStamp start_ts) {
  auto l = e.Reader()->LoadLock(EncodeKey(key));
  EXPECT_TRUE(l.ok()) << l.status();
  if (!l.ok() || !l->has_value()) {
    ADD_FAILURE() << "expected a lock on " << Where(key, start_ts);
    return Lock{};
  }
  EXPECT_EQ((*l)->start_ts, start_ts) << "lock on " << EscapeKey(key);
  return **l;
}

inline void must_unlocked(TestEngine& e, std::string_view key) {
  auto l = e.Reader()->LoadLock(EncodeKey(key));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_FALSE(l->has_value()) << "unexpected lock on " << EscapeKey(key) << ": "
                               << (l->has_value() ? (*l)->DebugString() : "");
}

// The write record at exactly key@commit_ts, if any.
inline std::optional<Write> write_at(TestEngine& e, std::string_view key, TimeStamp commit_ts) {
  auto w = e.Reader()->SeekWrite(EncodeKey(key), commit_ts);
  EXPECT_TRUE(w.ok()) << w.status();
  if (!w.ok() || !w->has_value() || (*w)->first != commit_ts) return std::nullopt;
  return (*w)->second;
}

inline Write must_written(TestEngine& e, std::string_view key, TimeStamp start_ts,
                          TimeStamp commit_ts, WriteType type) {
  std::optional<Write> w = write_at(e, key, commit_ts);
  if (!w.has_value()) {
    ADD_FAILURE() << "no write record at " << Where(key, commit_ts);
    return Write{};
  }
  EXPECT_EQ(w->start_ts, start_ts) << Where(key, commit_ts);
  EXPECT_EQ(w->type, type) << Where(key, commit_ts) << " " << w->DebugString();
  return *w;
}

inline void must_not_written(TestEngine& e, std::string_view key, TimeStamp commit_ts) {
  std::optional<Write> w = write_at(e, key, commit_ts);
  EXPECT_FALSE(w.has_value()) << "unexpected record at " << Where(key, commit_ts) << ": "
                              << (w ? w->DebugString() : "");
}

inline void must_get_commit_ts(TestEngine& e, std::string_view key, TimeStamp start_ts,
                               TimeStamp commit_ts) {
  auto rec = e.Reader()->GetTxnCommitRecord(EncodeKey(key), start_ts);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_TRUE(rec->committed()) << Where(key, start_ts);
  EXPECT_EQ(rec->commit_ts, commit_ts) << Where(key, start_ts);
}

inline void must_get_rollback_ts(TestEngine& e, std::string_view key, TimeStamp start_ts) {
  auto rec = e.Reader()->GetTxnCommitRecord(EncodeKey(key), start_ts);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_TRUE(rec->rolled_back()) << "not rolled back: " << Where(key, start_ts);
}

inline void must_get_rollback_protected(TestEngine& e, std::string_view key, TimeStamp start_ts,
                                        bool is_protected) {
  std::optional<Write> w = write_at(e, key, start_ts);
  ASSERT_TRUE(w.has_value()) << "no rollback at " << Where(key, start_ts);
  EXPECT_EQ(w->type, WriteType::kRollback);
  EXPECT_EQ(w->is_protected_rollback(), is_protected) << w->DebugString();
}

inline void must_get_overlapped_rollback(TestEngine& e, std::string_view key, TimeStamp start_ts,
                                         TimeStamp overlapped_start_ts, WriteType type,
                                         std::optional<TimeStamp> gc_fence) {
  std::optional<Write> w = write_at(e, key, start_ts);
  ASSERT_TRUE(w.has_value()) << "no record at " << Where(key, start_ts);
  EXPECT_EQ(w->start_ts, overlapped_start_ts);
  EXPECT_EQ(w->type, type);
  EXPECT_TRUE(w->has_overlapped_rollback) << w->DebugString();
  EXPECT_EQ(w->gc_fence, gc_fence) << w->DebugString();
}

// ---- Reads ----

inline void must_get(TestEngine& e, std::string_view key, TimeStamp ts, std::string_view value) {
  auto v = e.store.Get(std::string(key), ts);
  ASSERT_TRUE(v.ok()) << "get " << Where(key, ts) << ": " << v.status();
  ASSERT_TRUE(v->has_value()) << "get " << Where(key, ts) << ": no value";
  EXPECT_EQ(**v, value) << "get " << Where(key, ts);
}

inline void must_get_none(TestEngine& e, std::string_view key, TimeStamp ts) {
  auto v = e.store.Get(std::string(key), ts);
  ASSERT_TRUE(v.ok()) << "get " << Where(key, ts) << ": " << v.status();
  EXPECT_FALSE(v->has_value()) << "get " << Where(key, ts) << " = " << **v;
}

inline absl::Status must_get_err(TestEngine& e, std::string_view key, TimeStamp ts) {
  auto v = e.store.Get(std::string(key), ts);
  EXPECT_FALSE(v.ok()) << "get " << Where(key, ts) << " unexpectedly succeeded";
  return v.status();
}

// ---- Pessimistic locks ----

inline absl::StatusOr<AcquirePessimisticLockResponse> try_acquire_pessimistic_lock(
    TestEngine& e, std::string_view key, std::string_view pk, TimeStamp start_ts,
    TimeStamp for_update_ts, bool should_not_exist = false, bool return_values = false) {
  AcquirePessimisticLockRequest req;
  req.keys.push_back({std::string(key), should_not_exist});
  req.primary = std::string(pk);
  req.start_ts = start_ts;
  req.for_update_ts = for_update_ts;
  req.lock_ttl = 0;
  req.min_commit_ts = for_update_ts + 1;
  req.return_values = return_values;
  return e.store.AcquirePessimisticLock(req);
}

inline void must_acquire_pessimistic_lock(TestEngine& e, std::string_view key, std::string_view pk,
                                          TimeStamp start_ts, TimeStamp for_update_ts) {
  auto r = try_acquire_pessimistic_lock(e, key, pk, start_ts, for_update_ts);
  EXPECT_TRUE(r.ok()) << "acquire pessimistic lock " << Where(key, start_ts) << ": " << r.status();
}

inline absl::Status must_acquire_pessimistic_lock_err(TestEngine& e, std::string_view key,
                                                      std::string_view pk, TimeStamp start_ts,
                                                      TimeStamp for_update_ts) {
  auto r = try_acquire_pessimistic_lock(e, key, pk, start_ts, for_update_ts);
  EXPECT_FALSE(r.ok()) << "acquire pessimistic lock " << Where(key, start_ts)
                       << " unexpectedly succeeded";
  return r.status();
}

inline void must_pessimistic_locked(TestEngine& e, std::string_view key, TimeStamp start_ts,
                                    TimeStamp for_update_ts) {
  Lock l = must_locked(e, key, start_ts);
  EXPECT_EQ(l.type, LockType::kPessimistic) << l.DebugString();
  EXPECT_EQ(l.for_update_ts, for_update_ts) << l.DebugString();
}

inline void must_pessimistic_rollback(TestEngine& e, std::string_view key, TimeStamp start_ts,
                                      TimeStamp for_update_ts) {
  absl::Status s = e.store.PessimisticRollback({{std::string(key)}, start_ts, for_update_ts});
  EXPECT_TRUE(s.ok()) << s;
}

// ---- Status ----

inline TxnStatus must_check_txn_status(TestEngine& e, std::string_view pk, TimeStamp lock_ts,
                                       TimeStamp caller_start_ts, TimeStamp current_ts,
                                       bool rollback_if_not_exist, TxnStatus::Kind expect) {
  CheckTxnStatusRequest req;
  req.primary_key = std::string(pk);
  req.lock_ts = lock_ts;
  req.caller_start_ts = caller_start_ts;
  req.current_ts = current_ts;
  req.rollback_if_not_exist = rollback_if_not_exist;
  auto r = e.store.CheckTxnStatus(req);
  EXPECT_TRUE(r.ok()) << "check_txn_status " << Where(pk, lock_ts) << ": " << r.status();
  if (!r.ok()) return TxnStatus{};
  EXPECT_EQ(TxnStatusKindName(r->kind), std::string(TxnStatusKindName(expect)))
      << Where(pk, lock_ts);
  return *r;
}

inline GcStats must_gc(TestEngine& e, std::string_view key, TimeStamp safe_point) {
  GcRequest req;
  req.safe_point = safe_point;
  req.start_key = std::string(key);
  req.end_key = std::string(key) + '\0';
  auto r = e.store.Gc(req);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : GcStats{};
}

// Shorthands for error kinds.
template <typename T>
bool IsErr(const absl::Status& s) {
  return GetTxnErrorAs<T>(s).has_value();
}

}  // namespace rutile::txn::testing

#endif  // RUTILE_TESTS_TXN_TXN_TEST_UTIL_H_
