// The coprocessor's store side (TiKV's src/coprocessor + tidb_query_executors): runs a
// DAG request (lib/proto/coprocessor.proto) over one region's MVCC snapshot and answers
// with encoded chunks (sql/chunk/chunk_codec.h).
//
// The executors form a chain: a scan (TableScan decodes rows t{id}_r{h} with the row
// codec; IndexScan decodes index keys), then any of Selection (conditions, vectorized),
// partial hash Aggregation (per group: each aggregate's partial columns, then the group-by
// values), TopN and Limit. Work stops early once a Limit (with no aggregation or TopN
// before it) is satisfied.
//
// The snapshot comes through SnapshotReader, which the store implements over its MVCC
// reader (lib/node/coprocessor_host.cc): this layer never sees Raft or the lock CF. Errors:
// a malformed DAG (unknown executor, a column id the scan does not read, an expression the
// registry cannot rebuild, ranges out of order) is InvalidArgument naming the problem; the
// reader's errors (KeyIsLocked, region errors) are returned unchanged.
//
// Thread safety: RunDag may run concurrently on distinct readers.

#ifndef RUTILE_SQL_COPROCESSOR_DAG_H_
#define RUTILE_SQL_COPROCESSOR_DAG_H_

#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coprocessor.pb.h"
#include "sql/coprocessor/column_cache.h"
#include "sql/types/field_type.h"

namespace rutile::sql::coprocessor {

// One region's snapshot at the request's start_ts, with Percolator's read rules applied.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  // Calls fn(key, value) for every visible row with raw key in [start, end) (empty end:
  // unbounded), ascending (descending with `reverse`), until fn returns false. A lock that
  // blocks the read is KeyIsLocked.
  virtual absl::Status Scan(
      std::string_view start, std::string_view end, bool reverse,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> fn) = 0;

  // For the column cache (column_cache.h): the region and data version the snapshot holds
  // and the read ts. data_version 0 (the default): the cache is not used.
  virtual CacheKey cache_key() const { return {}; }
  // A forward Scan that also tells whether the rows it read are the range's latest data:
  // *latest when it met no lock and no write record above the read ts; *max_commit_ts is
  // then the largest commit ts of the keys' newest records. The default traces nothing.
  virtual absl::Status ScanLatest(
      std::string_view start, std::string_view end,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> fn, bool* latest,
      uint64_t* max_commit_ts) {
    *latest = false;
    *max_commit_ts = 0;
    return Scan(start, end, false, fn);
  }
};

// Runs `req.dag()` over `req.ranges()` read through `reader`; fills `resp` (chunks,
// warnings, scanned rows). With `cache` (not null, capacity > 0) an ascending table scan
// reads the rows from a valid cached entry of the reader's region (column_cache.h), and a
// one-range scan that found none builds one from what it reads.
absl::Status RunDag(const rutile::coprocessor::Request& req, SnapshotReader* reader,
                    rutile::coprocessor::Response* resp, ColumnCache* cache = nullptr);

// The output column types of `dag` (after output_offsets): what the receiver decodes the
// chunks as. InvalidArgument for a malformed DAG.
absl::StatusOr<std::vector<FieldType>> OutputTypes(const rutile::coprocessor::DagRequest& dag);

}  // namespace rutile::sql::coprocessor

#endif  // RUTILE_SQL_COPROCESSOR_DAG_H_
