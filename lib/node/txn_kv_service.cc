// The transactional commands of the KV RPC service (txn_kv_service.h): wire conversions,
// the handlers, the remote deadlock detector and RemoteTxnService.

#include "node/txn_kv_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "txn/actions.h"

namespace rutile::node {
namespace {

// Largest count of anything a request may carry: bounds what a malformed request costs.
constexpr int kMaxItems = 1 << 20;

// ---- Conversions ----

void ToProto(const txn::RegionContext& ctx, kvrpcpb::Context* out) {
  out->set_region_id(ctx.region_id);
  out->mutable_region_epoch()->set_conf_ver(ctx.conf_ver);
  out->mutable_region_epoch()->set_version(ctx.version);
}

absl::StatusOr<txn::RegionContext> FromProto(const kvrpcpb::Context& ctx) {
  if (ctx.region_id() == 0) return absl::InvalidArgumentError("request names no region");
  if (!ctx.has_region_epoch()) return absl::InvalidArgumentError("request has no region epoch");
  txn::RegionContext out;
  out.region_id = ctx.region_id();
  out.conf_ver = ctx.region_epoch().conf_ver();
  out.version = ctx.region_epoch().version();
  return out;
}

void ToProto(const txn::TxnReadOptions& o, kvrpcpb::TxnReadOptions* out) {
  out->set_read_committed(o.isolation == txn::IsolationLevel::kRC);
  for (txn::TimeStamp t : o.bypass_locks) out->add_bypass_locks(t);
  for (txn::TimeStamp t : o.resolved_locks) out->add_resolved_locks(t);
}

txn::TxnReadOptions FromProto(const kvrpcpb::TxnReadOptions& o) {
  txn::TxnReadOptions out;
  out.isolation = o.read_committed() ? txn::IsolationLevel::kRC : txn::IsolationLevel::kSI;
  out.bypass_locks.assign(o.bypass_locks().begin(), o.bypass_locks().end());
  out.resolved_locks.assign(o.resolved_locks().begin(), o.resolved_locks().end());
  return out;
}

void ToProto(const txn::LockInfo& l, kvrpcpb::LockInfo* out) {
  out->set_key(l.key);
  out->set_primary(l.primary);
  out->set_lock_version(l.lock_version);
  out->set_lock_ttl(l.lock_ttl);
  out->set_txn_size(l.txn_size);
  out->set_lock_type(static_cast<uint32_t>(l.lock_type));
  out->set_lock_for_update_ts(l.lock_for_update_ts);
  out->set_use_async_commit(l.use_async_commit);
  out->set_min_commit_ts(l.min_commit_ts);
  for (const std::string& s : l.secondaries) out->add_secondaries(s);
}

absl::StatusOr<txn::LockInfo> FromProto(const kvrpcpb::LockInfo& l) {
  if (l.lock_type() > static_cast<uint32_t>(txn::LockType::kPessimistic)) {
    return absl::DataLossError(absl::StrCat("lock of unknown type ", l.lock_type()));
  }
  txn::LockInfo out;
  out.key = l.key();
  out.primary = l.primary();
  out.lock_version = l.lock_version();
  out.lock_ttl = l.lock_ttl();
  out.txn_size = l.txn_size();
  out.lock_type = static_cast<txn::LockType>(l.lock_type());
  out.lock_for_update_ts = l.lock_for_update_ts();
  out.use_async_commit = l.use_async_commit();
  out.min_commit_ts = l.min_commit_ts();
  out.secondaries.assign(l.secondaries().begin(), l.secondaries().end());
  return out;
}

void ToProto(const std::vector<txn::KvPair>& pairs,
             google::protobuf::RepeatedPtrField<kvrpcpb::TxnKvPair>* out) {
  for (const txn::KvPair& p : pairs) {
    kvrpcpb::TxnKvPair* o = out->Add();
    o->set_key(p.key);
    o->set_value(p.value);
    if (!p.error.ok()) StatusToProto(p.error, o->mutable_error());
  }
}

std::vector<txn::KvPair> FromProto(
    const google::protobuf::RepeatedPtrField<kvrpcpb::TxnKvPair>& pairs) {
  std::vector<txn::KvPair> out;
  out.reserve(pairs.size());
  for (const kvrpcpb::TxnKvPair& p : pairs) {
    out.push_back(txn::KvPair{p.key(), p.value(),
                              p.has_error() ? StatusFromProto(p.error()) : absl::OkStatus()});
  }
  return out;
}

absl::Status CheckCount(int n) {
  if (n > kMaxItems) return absl::InvalidArgumentError(absl::StrCat("request of ", n, " items"));
  return absl::OkStatus();
}

// Registers `method`: the context is checked (InvalidArgument as the RPC status), then
// `fn(ctx, req, &resp)` runs; its status goes into resp.error (see the header).
template <typename Req, typename Resp>
absl::Status Register(
    transport::RpcEndpoint& endpoint, const char* method, TxnServiceProvider provider,
    std::function<absl::Status(txn::TxnService*, const txn::RegionContext&, const Req&, Resp*)>
        fn) {
  return transport::RegisterTypedMethod<Req, Resp>(
      endpoint, method,
      [provider, fn = std::move(fn)](const transport::RpcContext&,
                                     const Req& req) -> absl::StatusOr<Resp> {
        absl::StatusOr<txn::RegionContext> ctx = FromProto(req.context());
        if (!ctx.ok()) return ctx.status();
        std::shared_ptr<txn::TxnService> svc = provider();
        Resp resp;
        absl::Status s = svc == nullptr ? absl::UnavailableError("store is closed")
                                        : fn(svc.get(), *ctx, req, &resp);
        if (!s.ok()) {
          Resp with_error;
          StatusToProto(s, with_error.mutable_error());
          return with_error;
        }
        return resp;
      });
}

}  // namespace

void StatusToProto(const absl::Status& s, kvrpcpb::ErrorStatus* out) {
  out->set_code(static_cast<int32_t>(s.code()));
  out->set_message(std::string(s.message()));
  s.ForEachPayload([out](absl::string_view url, const absl::Cord& payload) {
    kvrpcpb::StatusPayload* p = out->add_payloads();
    p->set_type_url(std::string(url));
    p->set_value(std::string(payload));
  });
}

absl::Status StatusFromProto(const kvrpcpb::ErrorStatus& e) {
  if (e.code() == 0) return absl::OkStatus();
  absl::StatusCode code =
      e.code() > 0 && e.code() <= static_cast<int>(absl::StatusCode::kUnauthenticated)
          ? static_cast<absl::StatusCode>(e.code())
          : absl::StatusCode::kUnknown;
  absl::Status s(code, e.message());
  for (const kvrpcpb::StatusPayload& p : e.payloads()) {
    s.SetPayload(p.type_url(), absl::Cord(p.value()));
  }
  return s;
}

absl::Status RegisterTxnKvService(transport::RpcEndpoint& endpoint, TxnServiceProvider provider) {
  if (!provider) return absl::InvalidArgumentError("no transaction service");
  absl::Status s = Register<kvrpcpb::TxnGetRequest, kvrpcpb::TxnGetResponse>(
      endpoint, kTxnGetMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const kvrpcpb::TxnGetRequest& req,
         kvrpcpb::TxnGetResponse* resp) -> absl::Status {
        absl::StatusOr<std::optional<std::string>> v =
            svc->Get(ctx, req.key(), req.ts(), FromProto(req.read()));
        if (!v.ok()) return v.status();
        resp->mutable_value()->set_found(v->has_value());
        if (v->has_value()) resp->mutable_value()->set_value(std::move(**v));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::TxnBatchGetRequest, kvrpcpb::TxnBatchGetResponse>(
      endpoint, kTxnBatchGetMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::TxnBatchGetRequest& req,
         kvrpcpb::TxnBatchGetResponse* resp) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size()); !c.ok()) return c;
        std::vector<std::string> keys(req.keys().begin(), req.keys().end());
        absl::StatusOr<std::vector<txn::KvPair>> r =
            svc->BatchGet(ctx, keys, req.ts(), FromProto(req.read()));
        if (!r.ok()) return r.status();
        ToProto(*r, resp->mutable_pairs());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::TxnScanRequest, kvrpcpb::TxnScanResponse>(
      endpoint, kTxnScanMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const kvrpcpb::TxnScanRequest& req,
         kvrpcpb::TxnScanResponse* resp) -> absl::Status {
        txn::ScanOptions o;
        o.start_key = req.start_key();
        o.end_key = req.end_key();
        o.ts = req.ts();
        o.limit = req.limit();
        o.key_only = req.key_only();
        o.reverse = req.reverse();
        o.read = FromProto(req.read());
        absl::StatusOr<std::vector<txn::KvPair>> r = svc->Scan(ctx, o);
        if (!r.ok()) return r.status();
        ToProto(*r, resp->mutable_pairs());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::PrewriteRequest, kvrpcpb::PrewriteResponse>(
      endpoint, kPrewriteMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const kvrpcpb::PrewriteRequest& req,
         kvrpcpb::PrewriteResponse* resp) -> absl::Status {
        if (absl::Status c = CheckCount(req.mutations_size() + req.secondaries_size()); !c.ok()) {
          return c;
        }
        txn::PrewriteRequest r;
        r.mutations.reserve(req.mutations_size());
        for (const kvrpcpb::Mutation& m : req.mutations()) {
          if (m.op() > static_cast<uint32_t>(txn::MutationType::kCheckNotExists)) {
            return absl::InvalidArgumentError(absl::StrCat("mutation of unknown op ", m.op()));
          }
          r.mutations.push_back(
              txn::Mutation{static_cast<txn::MutationType>(m.op()), m.key(), m.value()});
        }
        if (req.is_pessimistic_lock_size() != 0 &&
            req.is_pessimistic_lock_size() != req.mutations_size()) {
          return absl::InvalidArgumentError("is_pessimistic_lock does not match the mutations");
        }
        r.primary = req.primary();
        r.start_ts = req.start_ts();
        r.lock_ttl = req.lock_ttl();
        r.skip_constraint_check = req.skip_constraint_check();
        r.txn_size = req.txn_size();
        r.min_commit_ts = req.min_commit_ts();
        r.use_async_commit = req.use_async_commit();
        r.secondaries.assign(req.secondaries().begin(), req.secondaries().end());
        r.try_one_pc = req.try_one_pc();
        r.max_commit_ts = req.max_commit_ts();
        r.for_update_ts = req.for_update_ts();
        r.is_pessimistic_lock.assign(req.is_pessimistic_lock().begin(),
                                     req.is_pessimistic_lock().end());
        r.is_retry_request = req.is_retry_request();
        absl::StatusOr<txn::PrewriteResponse> out = svc->Prewrite(ctx, r);
        if (!out.ok()) return out.status();
        resp->set_min_commit_ts(out->min_commit_ts);
        resp->set_one_pc_commit_ts(out->one_pc_commit_ts);
        resp->set_fell_back(out->fell_back);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::CommitRequest, kvrpcpb::TxnEmptyResponse>(
      endpoint, kCommitMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const kvrpcpb::CommitRequest& req,
         kvrpcpb::TxnEmptyResponse*) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size()); !c.ok()) return c;
        txn::CommitRequest r;
        r.keys.assign(req.keys().begin(), req.keys().end());
        r.start_ts = req.start_ts();
        r.commit_ts = req.commit_ts();
        return svc->Commit(ctx, r);
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::BatchRollbackRequest, kvrpcpb::TxnEmptyResponse>(
      endpoint, kBatchRollbackMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::BatchRollbackRequest& req, kvrpcpb::TxnEmptyResponse*) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size()); !c.ok()) return c;
        txn::RollbackRequest r;
        r.keys.assign(req.keys().begin(), req.keys().end());
        r.start_ts = req.start_ts();
        return svc->Rollback(ctx, r);
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::CheckTxnStatusRequest, kvrpcpb::CheckTxnStatusResponse>(
      endpoint, kCheckTxnStatusMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::CheckTxnStatusRequest& req,
         kvrpcpb::CheckTxnStatusResponse* resp) -> absl::Status {
        txn::CheckTxnStatusRequest r;
        r.primary_key = req.primary_key();
        r.lock_ts = req.lock_ts();
        r.caller_start_ts = req.caller_start_ts();
        r.current_ts = req.current_ts();
        r.rollback_if_not_exist = req.rollback_if_not_exist();
        r.force_sync_commit = req.force_sync_commit();
        r.resolving_pessimistic_lock = req.resolving_pessimistic_lock();
        absl::StatusOr<txn::TxnStatus> st = svc->CheckTxnStatus(ctx, r);
        if (!st.ok()) return st.status();
        resp->set_kind(static_cast<uint32_t>(st->kind));
        resp->set_commit_ts(st->commit_ts);
        resp->set_has_lock(st->lock.has_value());
        if (st->lock.has_value()) resp->set_lock(st->lock->Encode());
        resp->set_min_commit_ts_pushed(st->min_commit_ts_pushed);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::TxnHeartBeatRequest, kvrpcpb::TxnHeartBeatResponse>(
      endpoint, kTxnHeartBeatMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::TxnHeartBeatRequest& req,
         kvrpcpb::TxnHeartBeatResponse* resp) -> absl::Status {
        txn::TxnHeartBeatRequest r;
        r.primary_key = req.primary_key();
        r.start_ts = req.start_ts();
        r.advise_ttl = req.advise_ttl();
        absl::StatusOr<uint64_t> ttl = svc->TxnHeartBeat(ctx, r);
        if (!ttl.ok()) return ttl.status();
        resp->set_lock_ttl(*ttl);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::CheckSecondaryLocksRequest, kvrpcpb::CheckSecondaryLocksResponse>(
      endpoint, kCheckSecondaryLocksMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::CheckSecondaryLocksRequest& req,
         kvrpcpb::CheckSecondaryLocksResponse* resp) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size()); !c.ok()) return c;
        txn::CheckSecondaryLocksRequest r;
        r.keys.assign(req.keys().begin(), req.keys().end());
        r.start_ts = req.start_ts();
        absl::StatusOr<txn::SecondaryLocksStatus> st = svc->CheckSecondaryLocks(ctx, r);
        if (!st.ok()) return st.status();
        resp->set_kind(static_cast<uint32_t>(st->kind));
        for (const txn::LockInfo& l : st->locks) ToProto(l, resp->add_locks());
        resp->set_commit_ts(st->commit_ts);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::ResolveLockRequest, kvrpcpb::ResolveLockResponse>(
      endpoint, kResolveLockMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::ResolveLockRequest& req,
         kvrpcpb::ResolveLockResponse* resp) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size() + req.txn_status_size()); !c.ok()) {
          return c;
        }
        txn::ResolveLockRequest r;
        for (const kvrpcpb::TxnFate& f : req.txn_status())
          r.txn_status[f.start_ts()] = f.commit_ts();
        r.keys.assign(req.keys().begin(), req.keys().end());
        r.start_key = req.start_key();
        r.end_key = req.end_key();
        r.scan_limit = req.scan_limit();
        absl::StatusOr<txn::ResolveLockResponse> out = svc->ResolveLock(ctx, r);
        if (!out.ok()) return out.status();
        resp->set_resolved(out->resolved);
        resp->set_has_more(out->has_more);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::ScanLockRequest, kvrpcpb::ScanLockResponse>(
      endpoint, kScanLockMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const kvrpcpb::ScanLockRequest& req,
         kvrpcpb::ScanLockResponse* resp) -> absl::Status {
        txn::ScanLockRequest r;
        r.max_ts = req.max_ts();
        r.start_key = req.start_key();
        r.end_key = req.end_key();
        r.limit = req.limit();
        absl::StatusOr<std::vector<txn::LockInfo>> locks = svc->ScanLock(ctx, r);
        if (!locks.ok()) return locks.status();
        for (const txn::LockInfo& l : *locks) ToProto(l, resp->add_locks());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::PessimisticLockRequest, kvrpcpb::PessimisticLockResponse>(
      endpoint, kPessimisticLockMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::PessimisticLockRequest& req,
         kvrpcpb::PessimisticLockResponse* resp) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size()); !c.ok()) return c;
        txn::AcquirePessimisticLockRequest r;
        for (const kvrpcpb::PessimisticLockKey& k : req.keys()) {
          r.keys.push_back({k.key(), k.should_not_exist()});
        }
        r.primary = req.primary();
        r.start_ts = req.start_ts();
        r.for_update_ts = req.for_update_ts();
        r.lock_ttl = req.lock_ttl();
        r.min_commit_ts = req.min_commit_ts();
        r.return_values = req.return_values();
        absl::StatusOr<txn::AcquirePessimisticLockResponse> out =
            svc->AcquirePessimisticLock(ctx, r, req.wait_timeout_ms());
        if (!out.ok()) return out.status();
        for (const std::optional<std::string>& v : out->values) {
          kvrpcpb::OptionalValue* o = resp->add_values();
          o->set_found(v.has_value());
          if (v.has_value()) o->set_value(*v);
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  s = Register<kvrpcpb::PessimisticRollbackRequest, kvrpcpb::TxnEmptyResponse>(
      endpoint, kPessimisticRollbackMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx,
         const kvrpcpb::PessimisticRollbackRequest& req,
         kvrpcpb::TxnEmptyResponse*) -> absl::Status {
        if (absl::Status c = CheckCount(req.keys_size()); !c.ok()) return c;
        txn::PessimisticRollbackRequest r;
        r.keys.assign(req.keys().begin(), req.keys().end());
        r.start_ts = req.start_ts();
        r.for_update_ts = req.for_update_ts();
        return svc->PessimisticRollback(ctx, r);
      });
  if (!s.ok()) return s;
  s = Register<coprocessor::Request, coprocessor::Response>(
      endpoint, kCoprocessorMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const coprocessor::Request& req,
         coprocessor::Response* resp) -> absl::Status {
        absl::StatusOr<coprocessor::Response> r = svc->Coprocessor(ctx, req);
        if (!r.ok()) return r.status();
        *resp = *std::move(r);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return Register<kvrpcpb::GcRequest, kvrpcpb::GcResponse>(
      endpoint, kGcMethod, provider,
      [](txn::TxnService* svc, const txn::RegionContext& ctx, const kvrpcpb::GcRequest& req,
         kvrpcpb::GcResponse* resp) -> absl::Status {
        absl::StatusOr<txn::GcStats> st = svc->Gc(ctx, req.safe_point());
        if (!st.ok()) return st.status();
        resp->set_keys(st->keys);
        resp->set_versions_deleted(st->versions_deleted);
        resp->set_values_deleted(st->values_deleted);
        return absl::OkStatus();
      });
}

// ---- Deadlock detection ----

absl::Status RegisterDeadlockService(transport::RpcEndpoint& endpoint,
                                     std::shared_ptr<txn::DeadlockDetector> detector) {
  if (detector == nullptr) return absl::InvalidArgumentError("no deadlock detector");
  return transport::RegisterTypedMethod<kvrpcpb::DeadlockRequest, kvrpcpb::DeadlockResponse>(
      endpoint, kDeadlockMethod,
      [detector](const transport::RpcContext&,
                 const kvrpcpb::DeadlockRequest& req) -> absl::StatusOr<kvrpcpb::DeadlockResponse> {
        kvrpcpb::DeadlockResponse resp;
        switch (req.op()) {
          case 0:
            resp.set_deadlock(detector->Detect(req.waiter(), req.holder()));
            break;
          case 1:
            detector->CleanUpWaitFor(req.waiter(), req.holder());
            break;
          case 2:
            detector->CleanUp(req.waiter());
            break;
          default:
            return absl::InvalidArgumentError(absl::StrCat("deadlock op ", req.op()));
        }
        return resp;
      });
}

bool RemoteDeadlockDetector::Call(uint32_t op, txn::TimeStamp waiter, txn::TimeStamp holder) {
  std::shared_ptr<transport::RpcEndpoint> ep = endpoint_.lock();
  if (ep == nullptr) return false;
  kvrpcpb::DeadlockRequest req;
  req.set_op(op);
  req.set_waiter(waiter);
  req.set_holder(holder);
  absl::StatusOr<kvrpcpb::DeadlockResponse> r = transport::CallTyped<kvrpcpb::DeadlockResponse>(
      *ep, node_, kDeadlockMethod, req, timeout_micros_);
  return r.ok() && r->deadlock();
}

bool RemoteDeadlockDetector::Detect(txn::TimeStamp waiter, txn::TimeStamp holder) {
  return Call(0, waiter, holder);
}
void RemoteDeadlockDetector::CleanUpWaitFor(txn::TimeStamp waiter, txn::TimeStamp holder) {
  Call(1, waiter, holder);
}
void RemoteDeadlockDetector::CleanUp(txn::TimeStamp waiter) { Call(2, waiter, 0); }

// ---- RemoteTxnService ----

template <typename Resp, typename Req>
absl::StatusOr<Resp> RemoteTxnService::Call(const char* method, const Req& req,
                                            uint64_t extra_micros) {
  absl::StatusOr<Resp> r =
      transport::CallTyped<Resp>(*endpoint_, store_, method, req, timeout_micros_ + extra_micros);
  if (!r.ok()) return r.status();
  if (r->has_error()) {
    absl::Status s = StatusFromProto(r->error());
    if (!s.ok()) return s;
  }
  return r;
}

absl::StatusOr<std::optional<std::string>> RemoteTxnService::Get(const txn::RegionContext& ctx,
                                                                 const std::string& key,
                                                                 txn::TimeStamp ts,
                                                                 const txn::TxnReadOptions& opts) {
  kvrpcpb::TxnGetRequest req;
  ToProto(ctx, req.mutable_context());
  req.set_key(key);
  req.set_ts(ts);
  ToProto(opts, req.mutable_read());
  absl::StatusOr<kvrpcpb::TxnGetResponse> r = Call<kvrpcpb::TxnGetResponse>(kTxnGetMethod, req);
  if (!r.ok()) return r.status();
  if (!r->value().found()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(*r->mutable_value()->mutable_value()));
}

absl::StatusOr<std::vector<txn::KvPair>> RemoteTxnService::BatchGet(
    const txn::RegionContext& ctx, const std::vector<std::string>& keys, txn::TimeStamp ts,
    const txn::TxnReadOptions& opts) {
  kvrpcpb::TxnBatchGetRequest req;
  ToProto(ctx, req.mutable_context());
  for (const std::string& k : keys) req.add_keys(k);
  req.set_ts(ts);
  ToProto(opts, req.mutable_read());
  absl::StatusOr<kvrpcpb::TxnBatchGetResponse> r =
      Call<kvrpcpb::TxnBatchGetResponse>(kTxnBatchGetMethod, req);
  if (!r.ok()) return r.status();
  return FromProto(r->pairs());
}

absl::StatusOr<std::vector<txn::KvPair>> RemoteTxnService::Scan(const txn::RegionContext& ctx,
                                                                const txn::ScanOptions& opts) {
  kvrpcpb::TxnScanRequest req;
  ToProto(ctx, req.mutable_context());
  req.set_start_key(opts.start_key);
  req.set_end_key(opts.end_key);
  req.set_ts(opts.ts);
  req.set_limit(opts.limit);
  req.set_key_only(opts.key_only);
  req.set_reverse(opts.reverse);
  ToProto(opts.read, req.mutable_read());
  absl::StatusOr<kvrpcpb::TxnScanResponse> r = Call<kvrpcpb::TxnScanResponse>(kTxnScanMethod, req);
  if (!r.ok()) return r.status();
  return FromProto(r->pairs());
}

absl::StatusOr<txn::PrewriteResponse> RemoteTxnService::Prewrite(const txn::RegionContext& ctx,
                                                                 const txn::PrewriteRequest& req) {
  kvrpcpb::PrewriteRequest w;
  ToProto(ctx, w.mutable_context());
  for (const txn::Mutation& m : req.mutations) {
    kvrpcpb::Mutation* o = w.add_mutations();
    o->set_op(static_cast<uint32_t>(m.type));
    o->set_key(m.key);
    o->set_value(m.value);
  }
  w.set_primary(req.primary);
  w.set_start_ts(req.start_ts);
  w.set_lock_ttl(req.lock_ttl);
  w.set_skip_constraint_check(req.skip_constraint_check);
  w.set_txn_size(req.txn_size);
  w.set_min_commit_ts(req.min_commit_ts);
  w.set_use_async_commit(req.use_async_commit);
  for (const std::string& k : req.secondaries) w.add_secondaries(k);
  w.set_try_one_pc(req.try_one_pc);
  w.set_max_commit_ts(req.max_commit_ts);
  w.set_for_update_ts(req.for_update_ts);
  for (bool b : req.is_pessimistic_lock) w.add_is_pessimistic_lock(b);
  w.set_is_retry_request(req.is_retry_request);
  absl::StatusOr<kvrpcpb::PrewriteResponse> r = Call<kvrpcpb::PrewriteResponse>(kPrewriteMethod, w);
  if (!r.ok()) return r.status();
  txn::PrewriteResponse out;
  out.min_commit_ts = r->min_commit_ts();
  out.one_pc_commit_ts = r->one_pc_commit_ts();
  out.fell_back = r->fell_back();
  return out;
}

absl::Status RemoteTxnService::Commit(const txn::RegionContext& ctx,
                                      const txn::CommitRequest& req) {
  kvrpcpb::CommitRequest w;
  ToProto(ctx, w.mutable_context());
  for (const std::string& k : req.keys) w.add_keys(k);
  w.set_start_ts(req.start_ts);
  w.set_commit_ts(req.commit_ts);
  return Call<kvrpcpb::TxnEmptyResponse>(kCommitMethod, w).status();
}

absl::Status RemoteTxnService::Rollback(const txn::RegionContext& ctx,
                                        const txn::RollbackRequest& req) {
  kvrpcpb::BatchRollbackRequest w;
  ToProto(ctx, w.mutable_context());
  for (const std::string& k : req.keys) w.add_keys(k);
  w.set_start_ts(req.start_ts);
  return Call<kvrpcpb::TxnEmptyResponse>(kBatchRollbackMethod, w).status();
}

absl::StatusOr<txn::TxnStatus> RemoteTxnService::CheckTxnStatus(
    const txn::RegionContext& ctx, const txn::CheckTxnStatusRequest& req) {
  kvrpcpb::CheckTxnStatusRequest w;
  ToProto(ctx, w.mutable_context());
  w.set_primary_key(req.primary_key);
  w.set_lock_ts(req.lock_ts);
  w.set_caller_start_ts(req.caller_start_ts);
  w.set_current_ts(req.current_ts);
  w.set_rollback_if_not_exist(req.rollback_if_not_exist);
  w.set_force_sync_commit(req.force_sync_commit);
  w.set_resolving_pessimistic_lock(req.resolving_pessimistic_lock);
  absl::StatusOr<kvrpcpb::CheckTxnStatusResponse> r =
      Call<kvrpcpb::CheckTxnStatusResponse>(kCheckTxnStatusMethod, w);
  if (!r.ok()) return r.status();
  if (r->kind() > static_cast<uint32_t>(txn::TxnStatus::Kind::kLockNotExistDoNothing)) {
    return absl::DataLossError(absl::StrCat("txn status of unknown kind ", r->kind()));
  }
  txn::TxnStatus out;
  out.kind = static_cast<txn::TxnStatus::Kind>(r->kind());
  out.commit_ts = r->commit_ts();
  out.min_commit_ts_pushed = r->min_commit_ts_pushed();
  if (r->has_lock()) {
    absl::StatusOr<txn::Lock> lock = txn::Lock::Decode(r->lock());
    if (!lock.ok()) return lock.status();
    out.lock = std::move(*lock);
  }
  return out;
}

absl::StatusOr<uint64_t> RemoteTxnService::TxnHeartBeat(const txn::RegionContext& ctx,
                                                        const txn::TxnHeartBeatRequest& req) {
  kvrpcpb::TxnHeartBeatRequest w;
  ToProto(ctx, w.mutable_context());
  w.set_primary_key(req.primary_key);
  w.set_start_ts(req.start_ts);
  w.set_advise_ttl(req.advise_ttl);
  absl::StatusOr<kvrpcpb::TxnHeartBeatResponse> r =
      Call<kvrpcpb::TxnHeartBeatResponse>(kTxnHeartBeatMethod, w);
  if (!r.ok()) return r.status();
  return r->lock_ttl();
}

absl::StatusOr<txn::SecondaryLocksStatus> RemoteTxnService::CheckSecondaryLocks(
    const txn::RegionContext& ctx, const txn::CheckSecondaryLocksRequest& req) {
  kvrpcpb::CheckSecondaryLocksRequest w;
  ToProto(ctx, w.mutable_context());
  for (const std::string& k : req.keys) w.add_keys(k);
  w.set_start_ts(req.start_ts);
  absl::StatusOr<kvrpcpb::CheckSecondaryLocksResponse> r =
      Call<kvrpcpb::CheckSecondaryLocksResponse>(kCheckSecondaryLocksMethod, w);
  if (!r.ok()) return r.status();
  if (r->kind() > static_cast<uint32_t>(txn::SecondaryLocksStatus::Kind::kRolledBack)) {
    return absl::DataLossError(absl::StrCat("secondary locks status of kind ", r->kind()));
  }
  txn::SecondaryLocksStatus out;
  out.kind = static_cast<txn::SecondaryLocksStatus::Kind>(r->kind());
  out.commit_ts = r->commit_ts();
  for (const kvrpcpb::LockInfo& l : r->locks()) {
    absl::StatusOr<txn::LockInfo> li = FromProto(l);
    if (!li.ok()) return li.status();
    out.locks.push_back(std::move(*li));
  }
  return out;
}

absl::StatusOr<txn::ResolveLockResponse> RemoteTxnService::ResolveLock(
    const txn::RegionContext& ctx, const txn::ResolveLockRequest& req) {
  kvrpcpb::ResolveLockRequest w;
  ToProto(ctx, w.mutable_context());
  for (const auto& [start, commit] : req.txn_status) {
    kvrpcpb::TxnFate* f = w.add_txn_status();
    f->set_start_ts(start);
    f->set_commit_ts(commit);
  }
  for (const std::string& k : req.keys) w.add_keys(k);
  w.set_start_key(req.start_key);
  w.set_end_key(req.end_key);
  w.set_scan_limit(req.scan_limit);
  absl::StatusOr<kvrpcpb::ResolveLockResponse> r =
      Call<kvrpcpb::ResolveLockResponse>(kResolveLockMethod, w);
  if (!r.ok()) return r.status();
  txn::ResolveLockResponse out;
  out.resolved = r->resolved();
  out.has_more = r->has_more();
  return out;
}

absl::StatusOr<std::vector<txn::LockInfo>> RemoteTxnService::ScanLock(
    const txn::RegionContext& ctx, const txn::ScanLockRequest& req) {
  kvrpcpb::ScanLockRequest w;
  ToProto(ctx, w.mutable_context());
  w.set_max_ts(req.max_ts);
  w.set_start_key(req.start_key);
  w.set_end_key(req.end_key);
  w.set_limit(req.limit);
  absl::StatusOr<kvrpcpb::ScanLockResponse> r = Call<kvrpcpb::ScanLockResponse>(kScanLockMethod, w);
  if (!r.ok()) return r.status();
  std::vector<txn::LockInfo> out;
  for (const kvrpcpb::LockInfo& l : r->locks()) {
    absl::StatusOr<txn::LockInfo> li = FromProto(l);
    if (!li.ok()) return li.status();
    out.push_back(std::move(*li));
  }
  return out;
}

absl::StatusOr<txn::AcquirePessimisticLockResponse> RemoteTxnService::AcquirePessimisticLock(
    const txn::RegionContext& ctx, const txn::AcquirePessimisticLockRequest& req,
    uint64_t wait_timeout_ms) {
  kvrpcpb::PessimisticLockRequest w;
  ToProto(ctx, w.mutable_context());
  for (const auto& k : req.keys) {
    kvrpcpb::PessimisticLockKey* o = w.add_keys();
    o->set_key(k.key);
    o->set_should_not_exist(k.should_not_exist);
  }
  w.set_primary(req.primary);
  w.set_start_ts(req.start_ts);
  w.set_for_update_ts(req.for_update_ts);
  w.set_lock_ttl(req.lock_ttl);
  w.set_min_commit_ts(req.min_commit_ts);
  w.set_return_values(req.return_values);
  w.set_wait_timeout_ms(wait_timeout_ms);
  absl::StatusOr<kvrpcpb::PessimisticLockResponse> r =
      Call<kvrpcpb::PessimisticLockResponse>(kPessimisticLockMethod, w, wait_timeout_ms * 1000);
  if (!r.ok()) return r.status();
  txn::AcquirePessimisticLockResponse out;
  for (const kvrpcpb::OptionalValue& v : r->values()) {
    out.values.push_back(v.found() ? std::optional<std::string>(v.value()) : std::nullopt);
  }
  return out;
}

absl::Status RemoteTxnService::PessimisticRollback(const txn::RegionContext& ctx,
                                                   const txn::PessimisticRollbackRequest& req) {
  kvrpcpb::PessimisticRollbackRequest w;
  ToProto(ctx, w.mutable_context());
  for (const std::string& k : req.keys) w.add_keys(k);
  w.set_start_ts(req.start_ts);
  w.set_for_update_ts(req.for_update_ts);
  return Call<kvrpcpb::TxnEmptyResponse>(kPessimisticRollbackMethod, w).status();
}

absl::StatusOr<txn::GcStats> RemoteTxnService::Gc(const txn::RegionContext& ctx,
                                                  txn::TimeStamp safe_point) {
  kvrpcpb::GcRequest w;
  ToProto(ctx, w.mutable_context());
  w.set_safe_point(safe_point);
  absl::StatusOr<kvrpcpb::GcResponse> r = Call<kvrpcpb::GcResponse>(kGcMethod, w);
  if (!r.ok()) return r.status();
  txn::GcStats out;
  out.keys = r->keys();
  out.versions_deleted = r->versions_deleted();
  out.values_deleted = r->values_deleted();
  return out;
}

absl::StatusOr<coprocessor::Response> RemoteTxnService::Coprocessor(
    const txn::RegionContext& ctx, const coprocessor::Request& req) {
  coprocessor::Request w = req;
  ToProto(ctx, w.mutable_context());
  return Call<coprocessor::Response>(kCoprocessorMethod, w);
}

}  // namespace rutile::node
