// RegionRequestSender: sends a request to the store leading the region of a key, and handles
// what a store answers about routing, so that every client (the raw KV clients in process
// and over RPC, the transaction client, the coprocessor client through it) reacts to the
// typed region errors of DESIGN.md §7 one way. The model is TiKV client-go's
// RegionRequestSender (internal/locate/region_request.go): look the region up in the
// RegionCache, send to its leader (or, with no reachable leader known, to its replicas in
// turn), and on
//   NotLeader{leader}        cache the new leader and retry at once;
//   NotLeader{}              forget the leader, back off, walk the replicas;
//   EpochNotMatch{regions}   cache the current regions (none given: drop the region), retry
//                            at once (the request is rebuilt for the new range);
//   KeyNotInRegion,
//   RegionNotFound,
//   ProposalInMergingMode    drop the region (ask PD again), back off;
//   ServerIsBusy,
//   StaleCommand, others     back off and retry;
//   a store error            (see IsStoreError: the store did not answer, is shutting down
//                            or is not reachable) forget the leader, back off, try the next
//                            replica; after as many of these in a row as the region has
//                            replicas, drop the region too (its replicas may have moved);
//   anything else            return it to the caller.
// A region error that names somewhere new retries at once, but at most
// `max_immediate_retries` times in a row: stale leader hints can point in a circle, and an
// in-process answer takes no virtual time, so a loop without backoff would spin at one
// instant and its deadline would never come (txn sim seed 1001137). Every wait is an
// Env sleep, bounded by the call's deadline; past the deadline the call fails with
// DeadlineExceeded naming the last region, store and error.
//
// The request itself is the caller's `Attempt`: it reaches the given store however it
// does (an in-process RaftKv, a TxnService, an RPC) and returns the store's status. An
// attempt that finds the store unreachable without trying returns StoreUnreachable(store).
//
// Thread safety: every method may be called from any fiber concurrently; the Attempt runs
// in the calling fiber (SendGrouped with `parallel`: in fibers it spawns).

#ifndef RUTILE_TXN_CLIENT_REGION_REQUEST_SENDER_H_
#define RUTILE_TXN_CLIENT_REGION_REQUEST_SENDER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "metapb.pb.h"
#include "raft_cmdpb.pb.h"
#include "rutile/env.h"
#include "txn/client/region_cache.h"

namespace rutile::txn::client {

struct SenderOptions {
  // Backoff sleeps double from the first to the max (a first of 0 counts as 1 us, a max
  // below the first as the first).
  uint64_t backoff_first_micros = 2'000;
  uint64_t backoff_max_micros = 200'000;
  int max_immediate_retries = 3;
  // Names the request in the DeadlineExceeded message ("raw kv request", "txn request").
  std::string what = "request";
  // Whether a status that is not a region error is a store error (retried elsewhere);
  // null: IsStoreError.
  std::function<bool(const absl::Status&)> is_store_error;
};

// Where one attempt goes.
struct SendTarget {
  const metapb::Region& region;  // As cached: its epoch goes into the request's context.
  uint64_t store;
  uint64_t deadline;  // The call's deadline (Env micros): an attempt should not outlast it.
};

// The region error a store's status carries (raftstore/errors.h's payload), if any.
std::optional<raft_cmdpb::Error> RegionErrorOf(const absl::Status& s);
// The error an attempt returns when it could not reach `store` at all.
absl::Status StoreUnreachable(uint64_t store);
bool IsStoreUnreachable(const absl::Status& s);
// The default store-error test: DeadlineExceeded (no answer in time: the outcome is
// unknown, so only idempotent requests may be sent through a sender), Unavailable and
// Aborted (the store is unreachable or shutting down, a proposal was dropped).
bool IsStoreError(const absl::Status& s);

class RegionRequestSender {
 public:
  using Attempt = absl::FunctionRef<absl::Status(const SendTarget&)>;
  // One attempt for the keys of one region: `indices` index the keys given to SendGrouped.
  using GroupAttempt =
      std::function<absl::Status(const SendTarget&, const std::vector<size_t>& indices)>;

  // `env` and `cache` must outlive the sender.
  RegionRequestSender(Env* env, RegionCache* cache, SenderOptions options);

  // Runs `attempt` at the region holding `key` until it succeeds, fails with an error that
  // is neither a region error nor a store error (returned as is), or `deadline` (Env
  // micros) passes (DeadlineExceeded).
  absl::Status Send(const std::string& key, uint64_t deadline, Attempt attempt);

  // Groups `keys` by their cached regions and runs `attempt` once per group (in parallel
  // fibers when `parallel`), regrouping the keys of groups that met a region or store
  // error and retrying them until every group succeeded, one failed with another error
  // (the first such is returned; serially, at once), or `deadline` passes.
  absl::Status SendGrouped(const std::vector<std::string>& keys, uint64_t deadline, bool parallel,
                           const GroupAttempt& attempt);

  RegionCache* cache() { return cache_; }
  Env* env() { return env_; }

 private:
  enum class Outcome { kDone, kRetry, kRetryNow, kFail };
  struct Backoff;

  // The store to try for `e` on attempt number `attempt`: the cached leader when there is
  // one and `avoid_leader` is false, else a replica in turn (not the leader's store when
  // `avoid_leader`). 0 when the region has none.
  static uint64_t PickStore(const RegionCache::Entry& e, uint64_t attempt, bool avoid_leader);
  // Runs `attempt` at `e` (the leader, or a replica when the leader is unreachable).
  absl::Status Try(const RegionCache::Entry& e, uint64_t attempt_no, uint64_t deadline,
                   absl::FunctionRef<absl::Status(const SendTarget&)> attempt, uint64_t* store);
  // Classifies the failed status `s` of an attempt at `store` and updates the cache.
  // `*store_errors` counts store errors in a row for this region.
  Outcome OnFailure(const absl::Status& s, const RegionCache::Entry& e, uint64_t store,
                    int* store_errors);
  bool StoreError(const absl::Status& s) const;
  absl::Status TimedOut(const absl::Status& last, const std::string& where) const;

  Env* const env_;
  RegionCache* const cache_;
  const SenderOptions options_;
};

}  // namespace rutile::txn::client

#endif  // RUTILE_TXN_CLIENT_REGION_REQUEST_SENDER_H_
