#include "pd/client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "pd/tso.h"
#include "util/sync.h"

namespace rutile::pd {
namespace {

struct TsoWaiter {
  Promise<absl::StatusOr<uint64_t>> promise;
};

}  // namespace

struct Client::Shared {
  Channel<std::shared_ptr<TsoWaiter>> queue;
  WaitGroup wg;
  std::atomic<bool> closed{false};
  std::atomic<uint64_t> tso_calls{0};
  std::atomic<uint64_t> timestamps{0};
};

Client::Client(Env* env, transport::RpcEndpoint* endpoint, std::vector<uint64_t> members,
               const ClientOptions& options)
    : shared_(std::make_shared<Shared>()),
      env_(env),
      endpoint_(endpoint),
      members_(std::move(members)),
      options_(options) {
  shared_->wg.Add(1);
  env_->Spawn([this] {
    TsoLoop();
    shared_->wg.Done();
  });
}

Client::~Client() { Close(); }

void Client::Close() {
  if (shared_->closed.exchange(true)) return;
  shared_->queue.Close();
  shared_->wg.Wait();
}

void Client::Abandon() {
  if (shared_->closed.exchange(true)) return;
  shared_->queue.Close();
}

ClientStats Client::stats() const {
  ClientStats s;
  s.tso_calls = shared_->tso_calls.load();
  s.timestamps = shared_->timestamps.load();
  s.retries = retries_.load();
  return s;
}

template <typename Resp, typename Req>
absl::StatusOr<Resp> Client::Call(const std::string& method, const Req& request) {
  if (members_.empty()) return absl::FailedPreconditionError("pd client: no members");
  const uint64_t deadline = env_->NowMicros() + options_.request_timeout_micros;
  const std::string bytes = request.SerializeAsString();
  absl::Status last = absl::UnavailableError("pd: no leader answered");
  for (int attempt = 0;; ++attempt) {
    if (shared_->closed) return absl::CancelledError("pd client closed");
    if (attempt > 0) {
      retries_.fetch_add(1);
      if (env_->NowMicros() >= deadline) {
        return absl::UnavailableError(
            absl::StrCat("pd: ", method, " found no serving leader: ", last.ToString()));
      }
    }
    uint64_t to = leader_.load();
    if (to == 0) to = members_[next_member_.fetch_add(1) % members_.size()];
    absl::StatusOr<std::string> raw =
        endpoint_->CallAndWait(to, "Pd." + method, bytes, options_.rpc_timeout_micros);
    if (!raw.ok()) {
      // The member is down, unreachable or stopped: try another.
      last = raw.status();
      if (absl::IsInvalidArgument(raw.status()) || absl::IsNotFound(raw.status()) ||
          absl::IsFailedPrecondition(raw.status()) || absl::IsAlreadyExists(raw.status()) ||
          absl::IsOutOfRange(raw.status()) || absl::IsResourceExhausted(raw.status())) {
        return raw.status();  // The leader's own answer.
      }
      leader_.compare_exchange_strong(to, 0);
      if (absl::IsUnavailable(raw.status()) || absl::IsUnimplemented(raw.status())) {
        env_->SleepForMicros(options_.retry_backoff_micros);
      }
      continue;
    }
    Resp resp;
    if (!resp.ParseFromString(*raw)) return absl::DataLossError("pd: response does not parse");
    if (!resp.header().not_leader()) {
      leader_.store(to);
      return resp;
    }
    last = absl::UnavailableError(absl::StrCat("member ", to, " is not the serving leader"));
    uint64_t hint = resp.header().leader();
    if (hint != 0 && hint != to) {
      leader_.store(hint);
    } else {
      // No leader known there, or it leads but is not ready yet: wait a little.
      leader_.store(hint == to ? to : 0);
      env_->SleepForMicros(options_.retry_backoff_micros);
    }
  }
}

void Client::TsoLoop() {
  while (true) {
    std::optional<std::shared_ptr<TsoWaiter>> first = shared_->queue.Pop();
    if (!first.has_value()) return;
    std::vector<std::shared_ptr<TsoWaiter>> batch{std::move(*first)};
    while (batch.size() < options_.max_tso_batch) {
      std::optional<std::shared_ptr<TsoWaiter>> more = shared_->queue.TryPop();
      if (!more.has_value()) break;
      batch.push_back(std::move(*more));
    }
    pdpb::TsoRequest req;
    req.set_count(static_cast<uint32_t>(batch.size()));
    absl::StatusOr<pdpb::TsoResponse> resp = Call<pdpb::TsoResponse>("Tso", req);
    if (resp.ok() && resp->count() != batch.size()) {
      resp = absl::InternalError("pd: TSO answered a different count");
    }
    if (!resp.ok()) {
      for (auto& w : batch) w->promise.Set(resp.status());
      continue;
    }
    shared_->tso_calls.fetch_add(1);
    shared_->timestamps.fetch_add(batch.size());
    const uint64_t first_ts = resp->timestamp() - batch.size() + 1;
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->promise.Set(first_ts + i);
  }
}

absl::StatusOr<uint64_t> Client::GetTimestamp() {
  auto w = std::make_shared<TsoWaiter>();
  Future<absl::StatusOr<uint64_t>> f = w->promise.GetFuture();
  if (!shared_->queue.Push(w)) return absl::CancelledError("pd client closed");
  return f.Get();
}

absl::StatusOr<uint64_t> Client::AllocIds(uint64_t count) {
  pdpb::AllocIdRequest req;
  req.set_count(count);
  absl::StatusOr<pdpb::AllocIdResponse> r = Call<pdpb::AllocIdResponse>("AllocId", req);
  if (!r.ok()) return r.status();
  return r->first_id();
}

absl::Status Client::PutStore(const metapb::Store& store) {
  pdpb::PutStoreRequest req;
  *req.mutable_store() = store;
  return Call<pdpb::PutStoreResponse>("PutStore", req).status();
}

absl::Status Client::StoreHeartbeat(const pdpb::StoreHeartbeatRequest& request) {
  return Call<pdpb::StoreHeartbeatResponse>("StoreHeartbeat", request).status();
}

absl::StatusOr<pdpb::RegionHeartbeatResponse> Client::RegionHeartbeat(
    const pdpb::RegionHeartbeatRequest& request) {
  return Call<pdpb::RegionHeartbeatResponse>("RegionHeartbeat", request);
}

absl::Status Client::ReportRegions(const std::vector<metapb::Region>& regions) {
  pdpb::ReportRegionsRequest req;
  for (const metapb::Region& r : regions) *req.add_regions() = r;
  return Call<pdpb::ReportRegionsResponse>("ReportRegions", req).status();
}

absl::StatusOr<std::optional<pdpb::RegionRoute>> Client::GetRegionByKey(const std::string& key) {
  pdpb::GetRegionRequest req;
  req.set_key(key);
  absl::StatusOr<pdpb::GetRegionResponse> r = Call<pdpb::GetRegionResponse>("GetRegion", req);
  if (!r.ok()) return r.status();
  if (!r->found()) return std::optional<pdpb::RegionRoute>();
  return std::optional<pdpb::RegionRoute>(r->route());
}

absl::StatusOr<std::vector<pdpb::RegionRoute>> Client::ScanRegions(const std::string& start,
                                                                   const std::string& end,
                                                                   uint64_t limit) {
  pdpb::ScanRegionsRequest req;
  req.set_start_key(start);
  req.set_end_key(end);
  req.set_limit(limit);
  absl::StatusOr<pdpb::ScanRegionsResponse> r = Call<pdpb::ScanRegionsResponse>("ScanRegions", req);
  if (!r.ok()) return r.status();
  return std::vector<pdpb::RegionRoute>(r->routes().begin(), r->routes().end());
}

absl::StatusOr<uint64_t> Client::GetGcSafePoint() {
  absl::StatusOr<pdpb::GetGcSafePointResponse> r =
      Call<pdpb::GetGcSafePointResponse>("GetGcSafePoint", pdpb::GetGcSafePointRequest());
  if (!r.ok()) return r.status();
  return r->safe_point();
}

absl::StatusOr<uint64_t> Client::UpdateGcSafePoint(uint64_t safe_point) {
  pdpb::UpdateGcSafePointRequest req;
  req.set_safe_point(safe_point);
  absl::StatusOr<pdpb::UpdateGcSafePointResponse> r =
      Call<pdpb::UpdateGcSafePointResponse>("UpdateGcSafePoint", req);
  if (!r.ok()) return r.status();
  return r->safe_point();
}

absl::StatusOr<std::string> Client::Admin(std::string_view command_line) {
  pdpb::AdminRequest req;
  req.set_command_line(std::string(command_line));
  absl::StatusOr<pdpb::AdminResponse> r = Call<pdpb::AdminResponse>("Admin", req);
  if (!r.ok()) return r.status();
  return r->output();
}

absl::Status Client::SetSchedulingEnabled(bool enabled) {
  pdpb::AdminRequest req;
  req.set_set_scheduling(true);
  req.set_scheduling_enabled(enabled);
  return Call<pdpb::AdminResponse>("Admin", req).status();
}

}  // namespace rutile::pd
