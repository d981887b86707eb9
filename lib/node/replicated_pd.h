// ReplicatedPd: a node's view of the replicated PD (lib/pd/server.h, lib/pd/client.h), in
// LocalPd's shape (PdApi) so Node, the raw KV and txn clients and rutile::Pd can use either.
// With `engine` null and self_id not a member it is only a client (TestCluster's). It optionally
// hosts this node's PD member (PdServer over the node's engine and endpoint) and talks to the
// leader through a pd::Client on the same endpoint; raftstore's PdClient calls become
// pdpb calls, and heartbeat replies' operators become raftstore::RegionOperator.
//
// Thread safety: every method may be called from any fiber concurrently.

#ifndef RUTILE_NODE_REPLICATED_PD_H_
#define RUTILE_NODE_REPLICATED_PD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "node/local_pd.h"
#include "pd/client.h"
#include "pd/server.h"
#include "raftstore/pd_client.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "transport/rpc.h"

namespace rutile::node {

struct ReplicatedPdOptions {
  uint64_t self_id = 0;
  // Every PD member's node id. When self_id is among them this node hosts a member.
  std::vector<uint64_t> members;
  // PdServerOptions beyond the ids, env, engine and endpoint (scheduling, timing).
  pd::PdServerOptions server;
  pd::ClientOptions client;
};

class ReplicatedPd final : public raftstore::PdClient, public PdApi {
 public:
  // `engine` and `endpoint` must outlive the object. Must run on a fiber of `env`.
  static absl::StatusOr<std::unique_ptr<ReplicatedPd>> Open(Env* env, storage::Engine* engine,
                                                            transport::RpcEndpoint* endpoint,
                                                            const ReplicatedPdOptions& options);
  ~ReplicatedPd() override;

  // Stops the hosted member and the client, waiting for their fibers. Idempotent.
  void Close();
  // For a node that crashed (its fibers never run again): stops the member and the
  // client without waiting; Close and the destructor then return at once.
  void Abandon();

  // raftstore::PdClient.
  absl::StatusOr<uint64_t> AllocId() override;
  absl::StatusOr<std::vector<raftstore::SplitIds>> AskBatchSplit(const metapb::Region& region,
                                                                 size_t count) override;
  absl::StatusOr<std::optional<raftstore::RegionOperator>> RegionHeartbeat(
      const metapb::Region& region, const metapb::Peer& leader,
      const raftstore::RegionStats& stats) override;
  absl::Status ReportBatchSplit(const std::vector<metapb::Region>& regions) override;
  absl::Status StoreHeartbeat(const raftstore::StoreStats& stats) override;

  // LocalPd's other calls.
  absl::Status PutStore(uint64_t store_id);
  absl::Status ReportRegion(const metapb::Region& region);

  // PdApi.
  absl::StatusOr<uint64_t> GetTimestamp() override;
  absl::StatusOr<RegionRoute> GetRegionByKey(const std::string& key) override;
  absl::StatusOr<std::vector<RegionRoute>> Regions() override;
  absl::Status SetSchedulingEnabled(bool enabled) override;
  absl::StatusOr<std::string> AdminExecute(std::string_view command_line) override;
  absl::StatusOr<uint64_t> GetGcSafePoint() override;
  absl::StatusOr<uint64_t> UpdateGcSafePoint(uint64_t safe_point) override;

  pd::Client& client() { return *client_; }
  // The hosted member, or null.
  pd::PdServer* server() { return server_.get(); }

 private:
  ReplicatedPd() = default;

  std::unique_ptr<pd::PdServer> server_;
  std::unique_ptr<pd::Client> client_;
};

// The raftstore instruction for a pdpb operator.
raftstore::RegionOperator FromPdpb(const pdpb::RegionOperator& op);

}  // namespace rutile::node

#endif  // RUTILE_NODE_REPLICATED_PD_H_
