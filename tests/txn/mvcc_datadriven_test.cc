// Datadriven MVCC scripts (testdata/*.txt): each command runs one transaction command
// through TxnStorage over a fresh MemEngine per file and prints its result, then, for
// write commands, the whole lock, write and default CFs. Regenerate with RUTILE_REWRITE=1
// and read the diff: the expected output is the specification.
//
// Timestamps are integers; "Nms" means ComposeTs(N, 0) (for TTL checks: a lock's TTL
// counts from PhysicalMs(start_ts), so start_ts=5 with ttl=100 expires after 100ms).
//
// Commands (keys are raw strings):
//   prewrite start_ts= primary= [ttl=] [for_update_ts=] [min_commit_ts=] [max_commit_ts=]
//            [async secondaries=(..)] [one_pc] [txn_size=] [skip_constraint_check]
//     input lines: put <k> <v> | put-long <k> <n> | delete <k> | lock <k> | insert <k> <v> |
//                  check_not_exists <k>, optionally followed by "pessimistic"
//   commit keys=(..) start_ts= commit_ts=        rollback keys=(..) start_ts=
//   cleanup key= start_ts= [current_ts=]         heartbeat key= start_ts= ttl=
//   check_txn_status key= lock_ts= [caller_start_ts=] [current_ts=] [rollback_if_not_exist]
//                    [force_sync_commit] [resolving_pessimistic_lock]
//   check_secondary_locks keys=(..) start_ts=
//   acquire_pessimistic_lock keys=(..) primary= start_ts= for_update_ts= [ttl=]
//                            [should_not_exist] [return_values]
//   pessimistic_rollback keys=(..) start_ts= for_update_ts=
//   resolve_lock txns=(start:commit,..) [keys=(..)] [limit=]
//   scan_lock max_ts= [start=] [end=] [limit=]
//   gc safe_point= [start=] [end=]               delete_range start= [end=]
//   get key= ts= [rc] [bypass=(..)] [resolved=(..)]
//   scan ts= [start=] [end=] [limit=] [reverse] [key_only] [rc]
//   update_max_ts ts=                            dump

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testutil/datadriven.h"
#include "txn/txn_test_util.h"

namespace rutile::txn::testing {
namespace {

using testutil::TestData;

TimeStamp ParseTs(const std::string& s) {
  uint64_t v = 0;
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    EXPECT_TRUE(absl::SimpleAtoi(s.substr(0, s.size() - 2), &v)) << s;
    return ComposeTs(v, 0);
  }
  EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
  return v;
}

std::string Str(const TestData& d, const std::string& key, const std::string& def = "") {
  const testutil::CmdArg* a = d.Arg(key);
  if (a == nullptr || a->vals.empty()) return def;
  return a->vals[0];
}

TimeStamp Ts(const TestData& d, const std::string& key, TimeStamp def = 0) {
  const testutil::CmdArg* a = d.Arg(key);
  if (a == nullptr || a->vals.empty()) return def;
  return ParseTs(a->vals[0]);
}

uint64_t Num(const TestData& d, const std::string& key, uint64_t def = 0) {
  const testutil::CmdArg* a = d.Arg(key);
  if (a == nullptr || a->vals.empty()) return def;
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(a->vals[0], &v)) << d.pos << ": " << key;
  return v;
}

std::vector<std::string> List(const TestData& d, const std::string& key) {
  const testutil::CmdArg* a = d.Arg(key);
  return a == nullptr ? std::vector<std::string>() : a->vals;
}

std::string ErrText(const absl::Status& s) {
  if (auto e = GetTxnError(s)) return "error: " + TxnErrorString(*e);
  return "error: " + std::string(absl::StatusCodeToString(s.code())) + ": " +
         std::string(s.message());
}

std::string ShowValue(std::string_view v) {
  if (v.size() > 16) return absl::StrCat("<", v.size(), " bytes>");
  return absl::StrCat("\"", EscapeKey(v), "\"");
}

class MvccEnv {
 public:
  std::string Handle(const TestData& d) {
    std::string out = Run(d);
    if (writes_) absl::StrAppend(&out, Dump());
    writes_ = false;
    return out;
  }

 private:
  std::string Run(const TestData& d) {
    const std::string& c = d.cmd;
    writes_ = true;
    if (c == "prewrite") return Prewrite(d);
    if (c == "commit") {
      return Result(e_.store.Commit({List(d, "keys"), Ts(d, "start_ts"), Ts(d, "commit_ts")}));
    }
    if (c == "rollback") return Result(e_.store.Rollback({List(d, "keys"), Ts(d, "start_ts")}));
    if (c == "cleanup") {
      return Result(e_.store.Cleanup({Str(d, "key"), Ts(d, "start_ts"), Ts(d, "current_ts")}));
    }
    if (c == "heartbeat") {
      auto r = e_.store.TxnHeartBeat({Str(d, "key"), Ts(d, "start_ts"), Num(d, "ttl")});
      return r.ok() ? absl::StrCat("ttl=", *r, "\n") : ErrText(r.status()) + "\n";
    }
    if (c == "check_txn_status") return CheckTxnStatus(d);
    if (c == "check_secondary_locks") return CheckSecondary(d);
    if (c == "acquire_pessimistic_lock") return AcquirePessimistic(d);
    if (c == "pessimistic_rollback") {
      return Result(e_.store.PessimisticRollback(
          {List(d, "keys"), Ts(d, "start_ts"), Ts(d, "for_update_ts")}));
    }
    if (c == "resolve_lock") return ResolveLock(d);
    if (c == "gc") {
      GcRequest req;
      req.safe_point = Ts(d, "safe_point");
      req.start_key = Str(d, "start");
      req.end_key = Str(d, "end");
      auto r = e_.store.Gc(req);
      if (!r.ok()) return ErrText(r.status()) + "\n";
      return absl::StrCat("keys=", r->keys, " versions_deleted=", r->versions_deleted,
                          " values_deleted=", r->values_deleted, "\n");
    }
    if (c == "delete_range") {
      return Result(e_.store.DeleteRange({Str(d, "start"), Str(d, "end")}));
    }
    writes_ = false;
    if (c == "get") return Get(d);
    if (c == "scan") return Scan(d);
    if (c == "scan_lock") return ScanLock(d);
    if (c == "update_max_ts") {
      e_.cm.UpdateMaxTs(Ts(d, "ts"));
      return absl::StrCat("max_ts=", e_.cm.max_ts(), "\n");
    }
    if (c == "dump") return Dump();
    ADD_FAILURE() << d.pos << ": unknown command " << c;
    return "";
  }

  static std::string Result(const absl::Status& s) { return s.ok() ? "ok\n" : ErrText(s) + "\n"; }

  std::string Prewrite(const TestData& d) {
    PrewriteRequest req;
    req.start_ts = Ts(d, "start_ts");
    req.primary = Str(d, "primary");
    req.lock_ttl = Num(d, "ttl");
    req.for_update_ts = Ts(d, "for_update_ts");
    req.min_commit_ts = Ts(d, "min_commit_ts");
    req.max_commit_ts = Ts(d, "max_commit_ts");
    req.txn_size = Num(d, "txn_size");
    req.use_async_commit = d.HasArg("async");
    req.secondaries = List(d, "secondaries");
    req.try_one_pc = d.HasArg("one_pc");
    req.skip_constraint_check = d.HasArg("skip_constraint_check");
    bool any_pessimistic = false;
    for (absl::string_view line : absl::StrSplit(d.input, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      Mutation m;
      const std::string& op = f.at(0);
      m.key = f.at(1);
      if (op == "put" || op == "insert") {
        m.type = op == "put" ? MutationType::kPut : MutationType::kInsert;
        m.value = f.at(2);
      } else if (op == "put-long") {
        m.type = MutationType::kPut;
        size_t n = 0;
        EXPECT_TRUE(absl::SimpleAtoi(f.at(2), &n));
        m.value = std::string(n, 'x');
      } else if (op == "delete") {
        m.type = MutationType::kDelete;
      } else if (op == "lock") {
        m.type = MutationType::kLock;
      } else if (op == "check_not_exists") {
        m.type = MutationType::kCheckNotExists;
      } else {
        ADD_FAILURE() << d.pos << ": bad mutation " << line;
      }
      const bool pl = f.back() == "pessimistic";
      any_pessimistic |= pl;
      req.is_pessimistic_lock.push_back(pl);
      req.mutations.push_back(std::move(m));
    }
    if (!any_pessimistic) req.is_pessimistic_lock.clear();
    auto r = e_.store.Prewrite(req);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    std::string out = "ok";
    if (r->min_commit_ts) absl::StrAppend(&out, " min_commit_ts=", r->min_commit_ts);
    if (r->one_pc_commit_ts) absl::StrAppend(&out, " one_pc_commit_ts=", r->one_pc_commit_ts);
    if (r->fell_back) absl::StrAppend(&out, " fell_back");
    return out + "\n";
  }

  std::string CheckTxnStatus(const TestData& d) {
    CheckTxnStatusRequest req;
    req.primary_key = Str(d, "key");
    req.lock_ts = Ts(d, "lock_ts");
    req.caller_start_ts = Ts(d, "caller_start_ts");
    req.current_ts = Ts(d, "current_ts");
    req.rollback_if_not_exist = d.HasArg("rollback_if_not_exist");
    req.force_sync_commit = d.HasArg("force_sync_commit");
    req.resolving_pessimistic_lock = d.HasArg("resolving_pessimistic_lock");
    auto r = e_.store.CheckTxnStatus(req);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    std::string out = TxnStatusKindName(r->kind);
    if (r->kind == TxnStatus::Kind::kCommitted) absl::StrAppend(&out, " commit_ts=", r->commit_ts);
    if (r->lock) absl::StrAppend(&out, " lock={", r->lock->DebugString(), "}");
    if (r->min_commit_ts_pushed) absl::StrAppend(&out, " min_commit_ts_pushed");
    return out + "\n";
  }

  std::string CheckSecondary(const TestData& d) {
    auto r = e_.store.CheckSecondaryLocks({List(d, "keys"), Ts(d, "start_ts")});
    if (!r.ok()) return ErrText(r.status()) + "\n";
    switch (r->kind) {
      case SecondaryLocksStatus::Kind::kCommitted:
        return absl::StrCat("committed commit_ts=", r->commit_ts, "\n");
      case SecondaryLocksStatus::Kind::kRolledBack:
        return "rolled back\n";
      case SecondaryLocksStatus::Kind::kLocked: {
        std::vector<std::string> keys;
        for (const auto& l : r->locks) keys.push_back(l.key);
        return absl::StrCat("locked keys=(", absl::StrJoin(keys, ","), ")\n");
      }
    }
    return "";
  }

  std::string AcquirePessimistic(const TestData& d) {
    AcquirePessimisticLockRequest req;
    for (const std::string& k : List(d, "keys"))
      req.keys.push_back({k, d.HasArg("should_not_exist")});
    req.primary = Str(d, "primary");
    req.start_ts = Ts(d, "start_ts");
    req.for_update_ts = Ts(d, "for_update_ts");
    req.lock_ttl = Num(d, "ttl");
    req.min_commit_ts = req.for_update_ts + 1;
    req.return_values = d.HasArg("return_values");
    auto r = e_.store.AcquirePessimisticLock(req);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    std::string out = "ok";
    for (const auto& v : r->values) absl::StrAppend(&out, " ", v ? ShowValue(*v) : "none");
    return out + "\n";
  }

  std::string ResolveLock(const TestData& d) {
    ResolveLockRequest req;
    for (const std::string& t : List(d, "txns")) {
      std::vector<std::string> p = absl::StrSplit(t, ':');
      req.txn_status[ParseTs(p.at(0))] = ParseTs(p.at(1));
    }
    req.keys = List(d, "keys");
    req.scan_limit = Num(d, "limit");
    auto r = e_.store.ResolveLock(req);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    return absl::StrCat("resolved=", r->resolved, r->has_more ? " has_more" : "", "\n");
  }

  std::string Get(const TestData& d) {
    TxnReadOptions opts;
    if (d.HasArg("rc")) opts.isolation = IsolationLevel::kRC;
    for (const auto& t : List(d, "bypass")) opts.bypass_locks.push_back(ParseTs(t));
    for (const auto& t : List(d, "resolved")) opts.resolved_locks.push_back(ParseTs(t));
    auto r = e_.store.Get(Str(d, "key"), Ts(d, "ts"), opts);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    return (r->has_value() ? ShowValue(**r) : "none") + "\n";
  }

  std::string Scan(const TestData& d) {
    ScanOptions o;
    o.start_key = Str(d, "start");
    o.end_key = Str(d, "end");
    o.ts = Ts(d, "ts");
    o.limit = Num(d, "limit");
    o.reverse = d.HasArg("reverse");
    o.key_only = d.HasArg("key_only");
    if (d.HasArg("rc")) o.read.isolation = IsolationLevel::kRC;
    auto r = e_.store.Scan(o);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    std::string out;
    for (const KvPair& p : *r) {
      if (!p.error.ok()) {
        absl::StrAppend(&out, EscapeKey(p.key), ": ", ErrText(p.error), "\n");
      } else {
        absl::StrAppend(&out, EscapeKey(p.key), " = ", o.key_only ? "-" : ShowValue(p.value), "\n");
      }
    }
    return out.empty() ? "<empty>\n" : out;
  }

  std::string ScanLock(const TestData& d) {
    ScanLockRequest req;
    req.max_ts = Ts(d, "max_ts");
    req.start_key = Str(d, "start");
    req.end_key = Str(d, "end");
    req.limit = Num(d, "limit");
    auto r = e_.store.ScanLock(req);
    if (!r.ok()) return ErrText(r.status()) + "\n";
    std::string out;
    for (const LockInfo& l : *r) {
      absl::StrAppend(&out, EscapeKey(l.key), " start_ts=", l.lock_version,
                      " primary=", EscapeKey(l.primary), "\n");
    }
    return out.empty() ? "<empty>\n" : out;
  }

  // Every entry of the lock, write and default CFs, decoded.
  std::string Dump() {
    std::string out;
    auto line = [&](const char* cf, std::string_view key, bool versioned, std::string text) {
      std::string k(key);
      TimeStamp ts = 0;
      if (versioned) {
        ts = *DecodeTs(key);
        k = std::string(*TruncateTs(key));
      }
      auto raw = DecodeKey(k);
      absl::StrAppend(&out, cf, ": ", raw.ok() ? EscapeKey(*raw) : "<bad key>",
                      versioned ? absl::StrCat("@", ts) : "", " => ", text, "\n");
    };
    for (storage::CF cf : {storage::CF::kLock, storage::CF::kWrite, storage::CF::kDefault}) {
      auto it = e_.engine.NewIterator(cf, {});
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (cf == storage::CF::kLock) {
          auto l = Lock::Decode(it->value());
          line("lock", it->key(), false, l.ok() ? l->DebugString() : "<corrupt>");
        } else if (cf == storage::CF::kWrite) {
          auto w = Write::Decode(it->value());
          line("write", it->key(), true, w.ok() ? w->DebugString() : "<corrupt>");
        } else {
          line("default", it->key(), true, ShowValue(it->value()));
        }
      }
    }
    return out;
  }

  TestEngine e_;
  bool writes_ = false;
};

TEST(MvccDatadrivenTest, Scripts) {
  std::vector<std::string> files = testutil::ListScripts(testutil::TestDataDir("txn/testdata"));
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    MvccEnv env;
    testutil::RunTest(f, [&](const TestData& d) { return env.Handle(d); });
  }
}

}  // namespace
}  // namespace rutile::txn::testing
