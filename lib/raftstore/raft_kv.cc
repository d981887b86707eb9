#include "raftstore/raft_kv.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "raftstore/store.h"
#include "util/sync.h"

namespace rutile::raftstore {

absl::Status RaftKv::ReadLatest(const Context& ctx,
                                absl::FunctionRef<absl::Status(const RegionSnapshot&)> fn) {
  absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = Snapshot(ctx);
  if (!snap.ok()) return snap.status();
  return fn(**snap);
}

namespace {

// Calls a WriteOutcome exactly once: with the proposal's outcome, or, should its promise
// be destroyed unresolved (only with its store), with Unavailable.
class OnceOutcome {
 public:
  explicit OnceOutcome(WriteOutcome fn) : fn_(std::move(fn)) {}
  OnceOutcome(const OnceOutcome&) = delete;
  OnceOutcome& operator=(const OnceOutcome&) = delete;
  ~OnceOutcome() { Run(absl::UnavailableError("the write's proposal was dropped unresolved")); }

  void Run(const absl::Status& outcome) {
    WriteOutcome fn;
    {
      MutexLock lock(mu_);
      fn.swap(fn_);
    }
    if (fn) fn(outcome);
  }

 private:
  Mutex mu_;
  WriteOutcome fn_;  // Guarded by mu_; empty once run.
};

class StoreRaftKv final : public RaftKv {
 public:
  StoreRaftKv(std::shared_ptr<Store> store, uint64_t timeout_micros, Env* wait_env)
      : store_(std::move(store)),
        wait_env_(wait_env),
        timeout_micros_(timeout_micros != 0 ? timeout_micros
                                            : store_->config().request_timeout_micros) {}

  using RaftKv::Write;
  absl::Status Write(const Context& ctx, std::vector<Modify> batch,
                     absl::FunctionRef<WriteOutcome()> on_timeout) override {
    raft_cmdpb::RaftCmdRequest req;
    FillHeader(ctx, req.mutable_header());
    for (Modify& m : batch) {
      raft_cmdpb::Request* r = req.add_requests();
      const auto cf = static_cast<uint32_t>(m.cf);
      switch (m.type) {
        case Modify::Type::kPut:
          r->set_cmd_type(raft_cmdpb::CMD_PUT);
          r->mutable_put()->set_cf(cf);
          r->mutable_put()->set_key(std::move(m.key));
          r->mutable_put()->set_value(std::move(m.value));
          break;
        case Modify::Type::kDelete:
          r->set_cmd_type(raft_cmdpb::CMD_DELETE);
          r->mutable_delete_()->set_cf(cf);
          r->mutable_delete_()->set_key(std::move(m.key));
          break;
        case Modify::Type::kDeleteRange:
          r->set_cmd_type(raft_cmdpb::CMD_DELETE_RANGE);
          r->mutable_delete_range()->set_cf(cf);
          r->mutable_delete_range()->set_start_key(std::move(m.key));
          r->mutable_delete_range()->set_end_key(std::move(m.value));
          break;
      }
    }
    const uint64_t wait = WaitMicros(ctx);
    if (wait == 0) {
      return absl::DeadlineExceededError("the write's deadline passed before it was proposed");
    }
    Promise<absl::Status> promise;
    Future<absl::Status> f = store_->Propose(std::move(req), promise);
    if (f.WaitFor(env(), wait)) return f.Get();
    if (WriteOutcome late = on_timeout()) {
      auto once = std::make_shared<OnceOutcome>(std::move(late));
      f.Then([once](const absl::Status& s) { once->Run(s); });
      store_->ResolveAtStop(std::move(promise));
    }
    return absl::DeadlineExceededError("write timed out; it may still apply");
  }

  absl::StatusOr<std::shared_ptr<RegionSnapshot>> Snapshot(const Context& ctx) override {
    raft_cmdpb::RaftRequestHeader header;
    FillHeader(ctx, &header);
    // The local reader first: at a leader with a valid lease, no hop through the poller
    // and no promise to wait on.
    if (std::optional<ReadResult> local = store_->LocalRead(header)) return std::move(*local);
    const uint64_t wait = WaitMicros(ctx);
    if (wait == 0) {
      return absl::DeadlineExceededError("the read's deadline passed before it started");
    }
    Future<ReadResult> f = store_->Read(header);
    if (!f.WaitFor(env(), wait)) {
      return absl::DeadlineExceededError("read timed out");
    }
    return f.Get();
  }

  // Performance-critical path.
  absl::Status ReadLatest(const Context& ctx,
                          absl::FunctionRef<absl::Status(const RegionSnapshot&)> fn) override {
    if (!ctx.replica_read) {
      if (std::optional<absl::Status> s =
              store_->ReadLatest(ctx.region_id, ctx.region_epoch.version(), ctx.peer.id(), fn)) {
        return *std::move(s);
      }
    }
    return RaftKv::ReadLatest(ctx, fn);
  }

 private:
  static void FillHeader(const Context& ctx, raft_cmdpb::RaftRequestHeader* h) {
    h->set_region_id(ctx.region_id);
    *h->mutable_region_epoch() = ctx.region_epoch;
    *h->mutable_peer() = ctx.peer;
    h->set_replica_read(ctx.replica_read);
    h->set_term(ctx.term);
  }
  Env* env() const { return wait_env_ != nullptr ? wait_env_ : store_->env(); }
  // How long a call may wait for its answer (Context::timeout_micros, deadline); 0 once
  // its deadline has passed. Reads the clock only for a deadline (not on the local read
  // path).
  uint64_t WaitMicros(const Context& ctx) const {
    const uint64_t t = ctx.timeout_micros != 0 ? ctx.timeout_micros : timeout_micros_;
    if (ctx.deadline == 0) return t;
    const uint64_t now = env()->NowMicros();
    return ctx.deadline > now ? std::min(t, ctx.deadline - now) : 0;
  }

  std::shared_ptr<Store> store_;
  Env* const wait_env_;
  const uint64_t timeout_micros_;
};

}  // namespace

std::unique_ptr<RaftKv> NewStoreRaftKv(std::shared_ptr<Store> store, uint64_t timeout_micros,
                                       Env* wait_env) {
  return std::make_unique<StoreRaftKv>(std::move(store), timeout_micros, wait_env);
}

}  // namespace rutile::raftstore
