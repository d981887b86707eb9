// RawKvClient: the raw (non-transactional) key-value API of a Rutile cluster, TiKV's
// RawKV: Get, Put, Delete, Scan, BatchGet, BatchPut over keys partitioned into regions.
// Each request goes to the leader of the region holding its key, found through a region
// cache filled from PD lookups. Region errors are retried with exponential backoff
// (measured on the Env) until the request's deadline: NotLeader (retry at the hinted
// leader, or the next replica), EpochNotMatch and KeyNotInRegion (refresh the cache, from
// the regions the error carries when it has them), RegionNotFound (next replica),
// ServerIsBusy and StaleCommand (back off).
//
// Writes of one region are atomic; a BatchPut spanning regions is not (one write per
// region). A request that timed out may still have applied (DeadlineExceeded).
//
// For now the client is in-process: it reaches the stores of the given nodes directly
// (no RPC). The transactional API comes later in this header.
//
// Thread safety: every method may be called from any fiber of the nodes' Env
// concurrently. The nodes must outlive the client.

#ifndef RUTILE_KV_H_
#define RUTILE_KV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rutile {

class Node;
namespace node {
struct Access;  // Internal: lib/node's helpers (node_internal.h).
}  // namespace node

struct RawKvOptions {
  // How long one call (including its retries) may take.
  uint64_t timeout_micros = 20'000'000;
  // Backoff between retries: doubles from the first to the max.
  uint64_t backoff_first_micros = 2'000;
  uint64_t backoff_max_micros = 500'000;
};

// A region as the client sees it (for layout displays and tests).
struct RegionDescription {
  uint64_t id = 0;
  std::string start_key;  // Inclusive; empty: -inf.
  std::string end_key;    // Exclusive; empty: +inf.
  std::vector<uint64_t> stores;
  uint64_t leader_store = 0;  // 0: not known.
};

class RawKvClient {
 public:
  using KvPair = std::pair<std::string, std::string>;

  // A client over the stores of `nodes` (all of one cluster).
  static absl::StatusOr<std::unique_ptr<RawKvClient>> Open(
      const std::vector<Node*>& nodes, const RawKvOptions& options = RawKvOptions());
  ~RawKvClient();
  RawKvClient(const RawKvClient&) = delete;
  RawKvClient& operator=(const RawKvClient&) = delete;

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // Pairs with start <= key < end (empty end: no bound), in key order, at most `limit`
  // (0: no limit).
  absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start, const std::string& end,
                                           size_t limit = 0);
  // One result per key, in the order asked.
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      const std::vector<std::string>& keys);
  absl::Status BatchPut(const std::vector<KvPair>& pairs);

  // Admin: splits the region holding `key` so that `key` starts a region (no-op when it
  // already does). Waits for the split to apply at the leader.
  absl::Status SplitAt(const std::string& key);
  // The regions PD knows, in key order.
  std::vector<RegionDescription> Regions();

  struct Impl;

 private:
  friend struct node::Access;
  explicit RawKvClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rutile

#endif  // RUTILE_KV_H_
