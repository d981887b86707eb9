// pd::Client: the client of the replicated PD (server.h) over the caller's RpcEndpoint.
// It remembers which member leads, sends every request there, and on a not_leader answer,
// a timeout or an unreachable member follows the leader hint or tries the next member,
// with a short backoff, until the request's overall deadline. Concurrent GetTimestamp
// calls are batched: one fiber sends one "Pd.Tso" call for everything queued while the
// previous call was in flight and hands the consecutive timestamps out in queue order.
//
// Errors: the server's own answers (InvalidArgument, NotFound, FailedPrecondition, ...)
// are returned as they are; when no leader answered within the deadline, Unavailable or
// DeadlineExceeded.
//
// Thread safety: every method may be called from any fiber of the Env concurrently.

#ifndef RUTILE_PD_CLIENT_H_
#define RUTILE_PD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "pdpb.pb.h"
#include "rutile/env.h"
#include "transport/rpc.h"

namespace rutile::pd {

struct ClientOptions {
  // One attempt at one member.
  uint64_t rpc_timeout_micros = 1'000'000;
  // A request, all retries included.
  uint64_t request_timeout_micros = 15'000'000;
  // Pause before trying again when no member serves (an election is under way).
  uint64_t retry_backoff_micros = 50'000;
  // Most timestamps one "Pd.Tso" call asks for.
  uint32_t max_tso_batch = 16'384;
};

struct ClientStats {
  uint64_t tso_calls = 0;   // "Pd.Tso" calls that returned timestamps
  uint64_t timestamps = 0;  // timestamps handed out
  uint64_t retries = 0;     // attempts that failed over to another member or waited
};

class Client {
 public:
  // `env` and `endpoint` must outlive the client; `members` are the PD members' node ids.
  Client(Env* env, transport::RpcEndpoint* endpoint, std::vector<uint64_t> members,
         const ClientOptions& options = ClientOptions());
  // Closes the client (see Close).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Fails queued timestamp requests with Cancelled and waits for the batching fiber (on a
  // fiber of the Env). Idempotent.
  void Close();
  // Close for a client whose Env no longer runs its fibers (a crashed simulated node): the
  // same without waiting for the batching fiber. Close then returns at once.
  void Abandon();

  // A timestamp from the TSO, greater than every timestamp any PD client received before
  // this call began.
  absl::StatusOr<uint64_t> GetTimestamp();
  // The first of `count` consecutive new cluster-unique ids.
  absl::StatusOr<uint64_t> AllocIds(uint64_t count = 1);

  absl::Status PutStore(const metapb::Store& store);
  absl::Status StoreHeartbeat(const pdpb::StoreHeartbeatRequest& request);
  absl::StatusOr<pdpb::RegionHeartbeatResponse> RegionHeartbeat(
      const pdpb::RegionHeartbeatRequest& request);
  absl::Status ReportRegions(const std::vector<metapb::Region>& regions);
  // The region holding `key`, nullopt when PD knows none.
  absl::StatusOr<std::optional<pdpb::RegionRoute>> GetRegionByKey(const std::string& key);
  // Regions overlapping [start, end) (empty end: no bound), at most `limit` (0: all).
  absl::StatusOr<std::vector<pdpb::RegionRoute>> ScanRegions(const std::string& start,
                                                             const std::string& end,
                                                             uint64_t limit = 0);

  // The GC safe point: no MVCC version a reader may still need is older than it.
  absl::StatusOr<uint64_t> GetGcSafePoint();
  // Moves the safe point up to `safe_point` (never down) and returns the one in force.
  absl::StatusOr<uint64_t> UpdateGcSafePoint(uint64_t safe_point);

  // A pd-ctl command line at the leader (lib/pd/admin.h); its output.
  absl::StatusOr<std::string> Admin(std::string_view command_line);
  absl::Status SetSchedulingEnabled(bool enabled);

  // The member last known to lead (0: none known).
  uint64_t leader_hint() const { return leader_.load(); }
  ClientStats stats() const;

  struct Shared;

 private:
  // Calls "Pd.<method>" at the leader with retries; returns the leader's answer, the
  // server's error, or Unavailable/DeadlineExceeded when no leader answered.
  template <typename Resp, typename Req>
  absl::StatusOr<Resp> Call(const std::string& method, const Req& request);
  void TsoLoop();

  std::shared_ptr<Shared> shared_;
  Env* env_;
  transport::RpcEndpoint* endpoint_;
  std::vector<uint64_t> members_;
  ClientOptions options_;
  std::atomic<uint64_t> leader_{0};
  std::atomic<uint64_t> next_member_{0};
  std::atomic<uint64_t> retries_{0};
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_CLIENT_H_
