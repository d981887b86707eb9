// Table readers: how a plan's TableScan reads its rows.
//
// NewTableScanExec reads through the transaction's KV interface (kv::KvTxn: batch gets for
// point gets, index scans followed by row lookups, range scans a batch at a time), merging
// the transaction's own buffered writes. NewCopReader runs a coprocessor read
// (planner/pushdown.h): the scan, its filter and the pushed aggregation / TopN / limit run
// at the region leaders (sql/coprocessor/distsql.h, regions in parallel) and the reader
// yields their chunks in key order, merging the transaction's own writes over them
// (UnionScan); NewIndexCopReader runs an index range's scan there;
// NewFinalAggExec merges a pushed aggregation's partial
// rows into the AggregateNode's output (TiDB's final HashAgg above a TableReader).
//
// Thread safety: an executor belongs to one statement execution.

#ifndef RUTILE_SQL_EXEC_READER_H_
#define RUTILE_SQL_EXEC_READER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "sql/codec/rowcodec.h"
#include "sql/exec/executor.h"
#include "sql/exec/plan.h"
#include "sql/planner/pushdown.h"

namespace rutile::sql {

std::unique_ptr<Executor> NewTableScanExec(const TableScanNode& p, ExecContext* ctx);
// How a table scan decodes a stored row: every column of the table in order, then the
// handle (the scan's output schema).
std::vector<codec::RowColumn> ScanRowColumns(const TableInfo& table);

// The coprocessor read of `cop`, producing BuildCopDag's output; null when the
// transaction must read through KV instead (kv::KvTxn::CoprocessorSnapshot), or when it
// has its own writes in the scan's ranges and `cop` pushes an aggregation, TopN or limit:
// those run at the root then, over the scan's own read. A scan read while the
// transaction has entries in its ranges (kv::KvTxn::SnapshotOverlay) is TiDB's UnionScan:
// the regions return the committed rows that pass the filter, and the transaction's
// entries (decoded, filtered the same way) replace and join them in handle order.
absl::StatusOr<std::unique_ptr<Executor>> NewCopReader(const CopPushdown& cop, ExecContext* ctx);

// An index read of `p` (an index range, not descending) whose index scan runs at the
// coprocessor: the entries' handles (and, for a covering read of integer columns, their
// values) come from the regions, rows are looked up through the transaction. With the
// transaction's own entries in the index ranges it is a UnionScan too (entries merged in
// key order). Null when the read must go through KV instead (a locking statement, a store
// without a coprocessor, or own entries over an index whose key form the merge does not
// rebuild: DECIMAL, time or other non-integer, non-float, non-string columns).
absl::StatusOr<std::unique_ptr<Executor>> NewIndexCopReader(const TableScanNode& p,
                                                            ExecContext* ctx);

// Whether a read of `scan` would be a UnionScan now (EXPLAIN shows one): it can go to
// the coprocessor and the transaction has entries in its ranges.
bool UnionScanApplies(const TableScanNode& scan, ExecContext* ctx);

// The final aggregation of `p` over `partial`, which yields each aggregate's partial
// columns then the group-by values (in first-seen group order, as the hash aggregation).
std::unique_ptr<Executor> NewFinalAggExec(const AggregateNode& p, ExecContext* ctx,
                                          std::unique_ptr<Executor> partial);

// Coprocessor table reads so far (process-wide) that shipped only some of their scan's
// columns (TableScanNode::used_columns); for tests.
uint64_t TotalPrunedCopReads();

}  // namespace rutile::sql

#endif  // RUTILE_SQL_EXEC_READER_H_
