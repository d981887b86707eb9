// ANALYZE TABLE (TiDB's executor/analyze over statistics/): reads every row of a table in
// one snapshot and builds its statistics (planner/stats.h) for each column and each public
// index, then persists them under the table's statistics key so another Database over the
// same store, or this one after a restart, loads them when it first plans the table.
//
// Thread safety: functions; the caller serializes ANALYZE of one table.

#ifndef RUTILE_SQL_PLANNER_ANALYZE_H_
#define RUTILE_SQL_PLANNER_ANALYZE_H_

#include <string>

#include "absl/status/statusor.h"
#include "sql/catalog/catalog.h"
#include "sql/exec/plan.h"
#include "sql/kv/kv.h"
#include "sql/planner/stats.h"

namespace rutile::sql {

// The KV key holding table `table_id`'s serialized statistics (the meta hash "Stats").
std::string StatsKey(int64_t table_id);

// Scans `table` through `ctx` (its txn is the snapshot) and builds its statistics.
absl::StatusOr<TableStats> CollectTableStats(const TablePtr& table, ExecContext* ctx);

// Writes `stats` under StatsKey in `txn` (the caller commits).
void PersistTableStats(kv::KvTxn* txn, const TableStats& stats);

// Reads table `table_id`'s persisted statistics; null when never analyzed.
absl::StatusOr<TableStatsPtr> LoadTableStats(kv::KvTxn* txn, int64_t table_id);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_ANALYZE_H_
