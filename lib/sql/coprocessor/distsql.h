// distsql: the coprocessor's client (TiDB's distsql + store/copr). A request is a DAG
// over raw key ranges at one read timestamp; it is split by region through the txn
// client's region cache, and the regions' requests run concurrently (at most
// `concurrency` fibers on the client's Env). Results come back in key order (the order of
// the ranges), one chunk at a time, so a reader above sees the rows as a scan would.
//
// Per region: a region error (NotLeader, EpochNotMatch after a split or merge, ...) is
// retried by the client's routing (txn::client::Client::WithRegion), and a region that
// shrank has its ranges re-split, the rest going to the regions that now hold them;
// KeyIsLocked resolves the locks through the client's lock resolver (or reads past
// transactions known to commit above the read) and retries with backoff, until the
// client's timeout.
//
// Stopping early (the stream destroyed before its end, or after an error: a satisfied
// LIMIT, a failed statement) cancels the rest at once: no new region request starts,
// workers backing off (a live lock, a region error) wake and stop, and requests in flight
// are abandoned, their answers dropped (the workers are the client's background fibers,
// which the client's destructor waits for). Warnings come per region request and reach
// the reader with the task it reads (TakeWarnings), so those of the rows read so far are
// there when it stops early.
//
// Thread safety: a DistSqlStream is used by one fiber; its workers run on their own
// fibers.

#ifndef RUTILE_SQL_COPROCESSOR_DISTSQL_H_
#define RUTILE_SQL_COPROCESSOR_DISTSQL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coprocessor.pb.h"
#include "sql/chunk/chunk.h"
#include "sql/types/context.h"
#include "txn/client/txn_client.h"

namespace rutile::sql::coprocessor {

struct KeyRange {
  std::string start;  // Raw, inclusive.
  std::string end;    // Raw, exclusive; never empty.
};

struct DistSqlRequest {
  rutile::coprocessor::DagRequest dag;
  std::vector<KeyRange> ranges;  // Ascending and disjoint.
  uint64_t read_ts = 0;
  bool read_committed = false;
  // Region requests in flight at once.
  size_t concurrency = 8;
};

// What the requests did, summed over regions (EXPLAIN ANALYZE, tests).
struct DistSqlStats {
  uint64_t region_requests = 0;  // Successful ones.
  uint64_t retries = 0;          // Region errors and lock resolutions.
  uint64_t scanned_rows = 0;
  uint64_t selected_rows = 0;  // Of scanned_rows, those that passed the selection.
};

// Region requests answered, over every stream of the process (tests, metrics).
uint64_t TotalRegionRequests();

class DistSqlStream {
 public:
  // Starts `req` through `client` (which must outlive the stream). Chunks are decoded as
  // the DAG's output types. InvalidArgument when the DAG is malformed.
  static absl::StatusOr<std::unique_ptr<DistSqlStream>> Start(txn::client::Client* client,
                                                              DistSqlRequest req);
  ~DistSqlStream();

  // The next chunk in key order; no rows at the end. The first error of any region
  // request is returned (and the stream is then done).
  absl::Status Next(Chunk* out);
  // Warnings the regions raised for the tasks Next has reached so far, in key order,
  // moved out (call after any Next, also when stopping early).
  std::vector<SqlWarning> TakeWarnings();
  DistSqlStats stats() const;
  const std::vector<FieldType>& types() const;

  struct State;

 private:
  explicit DistSqlStream(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace rutile::sql::coprocessor

#endif  // RUTILE_SQL_COPROCESSOR_DISTSQL_H_
