#include "txn_workloads.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "checkers/linearizability.h"
#include "util/sync.h"

namespace rutile::sim_test {

namespace {

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return std::nullopt;
  return v;
}

// Shuffles `v` with the Env's seeded randomness.
template <typename T>
void Shuffle(Env* env, std::vector<T>* v) {
  for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[env->Uniform(i)]);
}

absl::Status Anomaly(const std::string& workload, const std::string& db,
                     const std::string& summary) {
  return absl::InternalError(absl::StrCat(workload, " on ", db, ": ", summary));
}

}  // namespace

std::string TxnCounts::ToString() const {
  return absl::StrCat("ok=", ok, " fail=", fail, " info=", info);
}

absl::Status TxnWorkload::Start(testing::WorkloadContext& ctx) {
  WaitGroup wg;
  wg.Add(options_.clients);
  for (int c = 0; c < options_.clients; ++c) {
    ctx.env()->Spawn([this, copy = ctx, c, wg]() mutable {
      uint64_t n = 0;
      while (!copy.Stopping() &&
             (options_.max_txns_per_client == 0 || n < options_.max_txns_per_client)) {
        Step(copy, c);
        ++n;
        if (options_.think_micros > 0) {
          copy.env()->SleepForMicros(copy.env()->Uniform(options_.think_micros + 1));
        }
      }
      wg.Done();
    });
  }
  wg.Wait();
  return absl::OkStatus();
}

absl::Status TxnWorkload::Check(testing::WorkloadContext& ctx) {
  absl::Status s = FinalCheck(ctx);
  if (!s.ok()) return s;
  if (counts_.ok < options_.min_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        Name(), " on ", db_->Name(), ": only ", counts_.ok, " transactions committed (",
        counts_.ToString(), "), expected at least ", options_.min_ok));
  }
  return absl::OkStatus();
}

TxnOutcome TxnWorkload::RunTxn(const std::function<absl::Status(TxnAdapter&)>& body) {
  ++in_flight_;
  TxnOutcome o = RunTxnInner(body);
  --in_flight_;
  return o;
}

TxnOutcome TxnWorkload::RunTxnInner(const std::function<absl::Status(TxnAdapter&)>& body) {
  absl::StatusOr<std::unique_ptr<TxnAdapter>> txn = db_->Begin();
  if (!txn.ok()) {
    ++counts_.fail;
    return TxnOutcome::kFail;
  }
  absl::Status s = body(**txn);
  if (!s.ok()) {
    (*txn)->Rollback();
    ++counts_.fail;
    return TxnOutcome::kFail;
  }
  s = (*txn)->Commit();
  if (s.ok()) {
    ++counts_.ok;
    return TxnOutcome::kOk;
  }
  if (db_->CommitDefinitelyFailed(s)) {
    ++counts_.fail;
    return TxnOutcome::kFail;
  }
  ++counts_.info;
  return TxnOutcome::kInfo;
}

absl::Status TxnWorkload::RunTxnUntilOk(Env* env, uint64_t timeout_micros,
                                        const std::function<absl::Status(TxnAdapter&)>& body) {
  uint64_t deadline = env->NowMicros() + timeout_micros;
  uint64_t backoff = 10'000;
  while (true) {
    if (RunTxn(body) == TxnOutcome::kOk) return absl::OkStatus();
    if (env->NowMicros() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(Name(), " on ", db_->Name(), ": no transaction committed in ",
                       timeout_micros, "us (", counts_.ToString(), ")"));
    }
    env->SleepForMicros(backoff);
    backoff = std::min<uint64_t>(backoff * 2, 500'000);
  }
}

// ---- bank ----

BankWorkload::BankWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                           BankWorkloadOptions bank)
    : TxnWorkload(std::move(db), std::move(options)), bank_(bank) {}

std::string BankWorkload::AccountKey(int64_t account) const {
  return Key(absl::StrCat("bank/", account));
}

absl::Status BankWorkload::Setup(testing::WorkloadContext& ctx) {
  return RunTxnUntilOk(
      ctx.env(), options().final_read_timeout_micros, [this](TxnAdapter& txn) -> absl::Status {
        absl::StatusOr<std::optional<std::string>> first = txn.Get(AccountKey(0));
        if (!first.ok()) return first.status();
        if (first->has_value()) return absl::OkStatus();  // Created already.
        for (int64_t a = 0; a < bank_.accounts; ++a) {
          absl::Status s = txn.Put(AccountKey(a), absl::StrCat(a == 0 ? bank_.total : 0));
          if (!s.ok()) return s;
        }
        return absl::OkStatus();
      });
}

absl::Status BankWorkload::ReadAll(TxnAdapter& txn, checkers::BankRead* read) {
  read->balances.clear();
  std::vector<int64_t> order(static_cast<size_t>(bank_.accounts));
  for (int64_t a = 0; a < bank_.accounts; ++a) order[static_cast<size_t>(a)] = a;
  for (int64_t a : order) {
    absl::StatusOr<std::optional<std::string>> v = txn.Get(AccountKey(a));
    if (!v.ok()) return v.status();
    if (!v->has_value()) continue;  // Missing: the checker reports it.
    read->balances[a] = ParseInt(**v);
  }
  return absl::OkStatus();
}

void BankWorkload::Step(testing::WorkloadContext& ctx, int64_t process) {
  Env* env = ctx.env();
  if (env->OneIn(bank_.read_probability)) {
    checkers::BankRead read;
    read.process = process;
    read.index = Tick();
    if (RunTxn([&](TxnAdapter& txn) { return ReadAll(txn, &read); }) == TxnOutcome::kOk) {
      reads_.push_back(std::move(read));
    }
    return;
  }
  int64_t from = static_cast<int64_t>(env->Uniform(static_cast<uint64_t>(bank_.accounts)));
  int64_t to = static_cast<int64_t>(env->Uniform(static_cast<uint64_t>(bank_.accounts - 1)));
  if (to >= from) ++to;
  int64_t amount =
      1 + static_cast<int64_t>(env->Uniform(static_cast<uint64_t>(bank_.max_transfer)));
  Tick();
  RunTxn([&](TxnAdapter& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string>> a = txn.Get(AccountKey(from));
    if (!a.ok()) return a.status();
    absl::StatusOr<std::optional<std::string>> b = txn.Get(AccountKey(to));
    if (!b.ok()) return b.status();
    std::optional<int64_t> va = a->has_value() ? ParseInt(**a) : std::nullopt;
    std::optional<int64_t> vb = b->has_value() ? ParseInt(**b) : std::nullopt;
    // A broken account is the checker's business; a transfer does not make it worse.
    if (!va || !vb) return absl::FailedPreconditionError("account missing or unreadable");
    if (*va - amount < 0) return absl::FailedPreconditionError("insufficient funds");
    absl::Status s = txn.Put(AccountKey(from), absl::StrCat(*va - amount));
    if (!s.ok()) return s;
    return txn.Put(AccountKey(to), absl::StrCat(*vb + amount));
  });
}

absl::Status BankWorkload::FinalCheck(testing::WorkloadContext& ctx) {
  checkers::BankRead final_read;
  final_read.process = -1;
  final_read.index = Tick();
  absl::Status s = RunTxnUntilOk(ctx.env(), options().final_read_timeout_micros,
                                 [&](TxnAdapter& txn) { return ReadAll(txn, &final_read); });
  if (!s.ok()) return s;
  reads_.push_back(std::move(final_read));
  checkers::BankOptions o;
  o.accounts = bank_.accounts;
  o.total = bank_.total;
  checkers::BankResult r = checkers::CheckBank(reads_, o);
  if (!r.valid) return Anomaly(Name(), db().Name(), r.Summary());
  return absl::OkStatus();
}

// ---- list-append ----

ListAppendWorkload::ListAppendWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                                       ListAppendWorkloadOptions append)
    : TxnWorkload(std::move(db), std::move(options)), append_(std::move(append)) {
  for (int i = 0; i < append_.active_keys; ++i) active_.push_back(next_key_++);
}

std::string ListAppendWorkload::ListKey(int64_t key) const {
  return Key(absl::StrCat("append/", key));
}

void ListAppendWorkload::Step(testing::WorkloadContext& ctx, int64_t process) {
  Env* env = ctx.env();
  using checkers::Mop;
  std::vector<Mop> mops;
  int n = 1 + static_cast<int>(env->Uniform(static_cast<uint64_t>(append_.max_mops)));
  for (int i = 0; i < n; ++i) {
    size_t slot = env->Uniform(active_.size());
    int64_t key = active_[slot];
    if (env->OneIn(0.5)) {
      mops.push_back(Mop::Append(key, next_element_++));
      if (++appends_[key] >= append_.max_appends_per_key) active_[slot] = next_key_++;
    } else {
      mops.push_back(Mop::Read(key));
    }
  }
  history_.Invoke(process, mops);
  std::vector<Mop> done = mops;
  TxnOutcome o = RunTxn([&](TxnAdapter& txn) -> absl::Status {
    for (Mop& m : done) {
      absl::StatusOr<std::optional<std::string>> v = txn.Get(ListKey(m.key));
      if (!v.ok()) return v.status();
      if (m.kind == Mop::Kind::kAppend) {
        std::string next = v->has_value() && !(*v)->empty() ? absl::StrCat(**v, ",", m.value)
                                                            : absl::StrCat(m.value);
        absl::Status s = txn.Put(ListKey(m.key), next);
        if (!s.ok()) return s;
        continue;
      }
      std::vector<int64_t> list;
      if (v->has_value() && !(*v)->empty()) {
        for (absl::string_view part : absl::StrSplit(**v, ',')) {
          int64_t e = 0;
          // An unparsable element reads as 0, which nobody appends: a garbage read.
          if (!absl::SimpleAtoi(part, &e)) e = 0;
          list.push_back(e);
        }
      }
      m.read = std::move(list);
    }
    return absl::OkStatus();
  });
  switch (o) {
    case TxnOutcome::kOk:
      history_.Complete(process, checkers::OpType::kOk, std::move(done));
      break;
    case TxnOutcome::kFail:
      history_.Complete(process, checkers::OpType::kFail, std::move(mops));
      break;
    case TxnOutcome::kInfo:
      history_.Complete(process, checkers::OpType::kInfo, std::move(mops));
      break;
  }
}

absl::Status ListAppendWorkload::FinalCheck(testing::WorkloadContext& ctx) {
  absl::StatusOr<checkers::ListAppendResult> r = checkers::CheckListAppend(history_, append_.check);
  if (!r.ok()) return r.status();
  result_ = *r;
  if (r->validity == checkers::Validity::kInvalid) {
    return Anomaly(Name(), db().Name(), r->Summary());
  }
  return absl::OkStatus();
}

// ---- long-fork ----

LongForkWorkload::LongForkWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                                   LongForkWorkloadOptions fork)
    : TxnWorkload(std::move(db), std::move(options)), fork_(fork) {}

std::string LongForkWorkload::ForkKey(int64_t key) const { return Key(absl::StrCat("fork/", key)); }

void LongForkWorkload::Step(testing::WorkloadContext& ctx, int64_t process) {
  Env* env = ctx.env();
  if (next_key_ > 0 && env->OneIn(fork_.read_probability)) {
    // A group among the recent writes.
    uint64_t window = static_cast<uint64_t>(std::min<int64_t>(next_key_, 2 * fork_.group_size));
    int64_t recent = next_key_ - 1 - static_cast<int64_t>(env->Uniform(window));
    int64_t group = recent / fork_.group_size;
    std::vector<int64_t> keys;
    for (int64_t k = group * fork_.group_size; k < (group + 1) * fork_.group_size; ++k) {
      keys.push_back(k);
    }
    Shuffle(env, &keys);
    checkers::LongForkRead read;
    read.process = process;
    read.index = Tick();
    TxnOutcome o = RunTxn([&](TxnAdapter& txn) -> absl::Status {
      for (int64_t k : keys) {
        absl::StatusOr<std::optional<std::string>> v = txn.Get(ForkKey(k));
        if (!v.ok()) return v.status();
        // An unparsable value reads as -1, which nobody writes: a garbage read.
        read.values[k] = v->has_value() ? ParseInt(**v).value_or(-1) : std::optional<int64_t>();
      }
      return absl::OkStatus();
    });
    if (o == TxnOutcome::kOk) reads_.push_back(std::move(read));
    return;
  }
  int64_t key = next_key_++;
  int64_t value = key * 7 + 1;
  writes_[key] = value;
  Tick();
  RunTxn([&](TxnAdapter& txn) { return txn.Put(ForkKey(key), absl::StrCat(value)); });
}

absl::Status LongForkWorkload::FinalCheck(testing::WorkloadContext& ctx) {
  checkers::LongForkOptions o;
  o.group_size = fork_.group_size;
  absl::StatusOr<checkers::LongForkResult> r = checkers::CheckLongFork(reads_, writes_, o);
  if (!r.ok()) return r.status();
  if (!r->valid) return Anomaly(Name(), db().Name(), r->Summary());
  return absl::OkStatus();
}

// ---- set ----

SetWorkload::SetWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                         SetWorkloadOptions set)
    : TxnWorkload(std::move(db), std::move(options)), set_(set) {}

std::string SetWorkload::ElementKey(int64_t element) const {
  return Key(absl::StrFormat("set/%010d", element));
}

absl::StatusOr<std::vector<int64_t>> SetWorkload::ReadAll(TxnAdapter& txn) {
  // "set/" .. "set0": '0' follows '/'.
  absl::StatusOr<std::vector<TxnAdapter::KvPair>> pairs = txn.Scan(Key("set/"), Key("set0"));
  if (!pairs.ok()) return pairs.status();
  std::vector<int64_t> elements;
  size_t prefix = Key("set/").size();
  for (const auto& [key, value] : *pairs) {
    // A key that is no element of ours reads as -1, which nobody adds: unexpected.
    std::optional<int64_t> e =
        key.size() > prefix ? ParseInt(key.substr(prefix)) : std::optional<int64_t>();
    elements.push_back(e.value_or(-1));
  }
  return elements;
}

void SetWorkload::Step(testing::WorkloadContext& ctx, int64_t process) {
  if (ctx.env()->OneIn(set_.read_probability)) {
    checkers::SetRead read;
    read.invoke = Tick();
    TxnOutcome o = RunTxn([&](TxnAdapter& txn) -> absl::Status {
      absl::StatusOr<std::vector<int64_t>> e = ReadAll(txn);
      if (!e.ok()) return e.status();
      read.elements = std::move(*e);
      return absl::OkStatus();
    });
    read.complete = Tick();
    if (o == TxnOutcome::kOk) reads_.push_back(std::move(read));
    return;
  }
  checkers::SetAdd add;
  add.element = next_element_++;
  add.invoke = Tick();
  TxnOutcome o = RunTxn(
      [&](TxnAdapter& txn) { return txn.Put(ElementKey(add.element), absl::StrCat(add.element)); });
  add.complete = Tick();
  add.outcome = o == TxnOutcome::kOk     ? checkers::SetOutcome::kOk
                : o == TxnOutcome::kFail ? checkers::SetOutcome::kFail
                                         : checkers::SetOutcome::kInfo;
  adds_.push_back(add);
}

absl::Status SetWorkload::FinalCheck(testing::WorkloadContext& ctx) {
  checkers::SetRead final_read;
  final_read.invoke = Tick();
  absl::Status s = RunTxnUntilOk(ctx.env(), options().final_read_timeout_micros,
                                 [&](TxnAdapter& txn) -> absl::Status {
                                   absl::StatusOr<std::vector<int64_t>> e = ReadAll(txn);
                                   if (!e.ok()) return e.status();
                                   final_read.elements = std::move(*e);
                                   return absl::OkStatus();
                                 });
  if (!s.ok()) return s;
  final_read.complete = Tick();
  reads_.push_back(std::move(final_read));
  absl::StatusOr<checkers::SetResult> r = checkers::CheckSet(adds_, reads_, checkers::SetOptions());
  if (!r.ok()) return r.status();
  if (!r->valid) return Anomaly(Name(), db().Name(), r->Summary());
  return absl::OkStatus();
}

// ---- register ----

RegisterWorkload::RegisterWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                                   RegisterWorkloadOptions reg)
    : TxnWorkload(std::move(db), std::move(options)), reg_(reg) {}

void RegisterWorkload::Step(testing::WorkloadContext& ctx, int64_t process) {
  using checkers::KvInput;
  using checkers::KvOutput;
  Env* env = ctx.env();
  checkers::KvOp op;
  op.client_id = process;
  std::string key = Key(absl::StrCat("reg/", env->Uniform(static_cast<uint64_t>(reg_.keys))));
  auto value = [&] { return absl::StrCat(env->Uniform(static_cast<uint64_t>(reg_.values))); };
  op.call = Tick();
  switch (env->Uniform(3)) {
    case 0: {
      op.input = KvInput{KvInput::Kind::kGet, key, "", std::nullopt};
      std::optional<std::string> got;
      TxnOutcome o = RunTxn([&](TxnAdapter& txn) -> absl::Status {
        absl::StatusOr<std::optional<std::string>> v = txn.Get(key);
        if (!v.ok()) return v.status();
        got = *v;
        return absl::OkStatus();
      });
      if (o != TxnOutcome::kOk) return;  // A read that did not commit tells nothing.
      op.output = KvOutput{got, true};
      break;
    }
    case 1: {
      op.input = KvInput{KvInput::Kind::kPut, key, value(), std::nullopt};
      TxnOutcome o = RunTxn([&](TxnAdapter& txn) { return txn.Put(key, op.input.value); });
      if (o == TxnOutcome::kFail) return;
      if (o == TxnOutcome::kInfo) {
        ops_.push_back(std::move(op));  // May take effect at any later time, or never.
        return;
      }
      op.output = KvOutput{std::nullopt, true};
      break;
    }
    default: {
      std::string from = value();
      op.input = KvInput{KvInput::Kind::kCas, key, value(), from};
      bool swapped = false;
      TxnOutcome o = RunTxn([&](TxnAdapter& txn) -> absl::Status {
        absl::StatusOr<std::optional<std::string>> v = txn.Get(key);
        if (!v.ok()) return v.status();
        swapped = *v == from;
        if (!swapped) return absl::OkStatus();
        return txn.Put(key, op.input.value);
      });
      if (o == TxnOutcome::kFail) return;
      if (o == TxnOutcome::kInfo) {
        if (swapped) ops_.push_back(std::move(op));  // A read-only one tells nothing.
        return;
      }
      op.output = KvOutput{std::nullopt, swapped};
      break;
    }
  }
  op.ret = Tick();
  ops_.push_back(std::move(op));
}

absl::Status RegisterWorkload::FinalCheck(testing::WorkloadContext& ctx) {
  checkers::LinearizabilityOptions o;
  o.timeout = absl::Seconds(reg_.check_timeout_seconds);
  checkers::LinearizabilityReport r = checkers::CheckLinearizable(checkers::KvModel(), ops_, o);
  if (r.result == checkers::CheckResult::kIllegal) {
    return Anomaly(Name(), db().Name(), absl::StrCat("not linearizable: ", r.explanation));
  }
  undecided_ = 0;
  for (const checkers::PartitionReport& p : r.partitions) {
    undecided_ += p.result == checkers::CheckResult::kUnknown;
  }
  return absl::OkStatus();
}

}  // namespace rutile::sim_test
