#include "sql/planner/analyze.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rutile/env.h"
#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"
#include "sql/exec/executor.h"

namespace rutile::sql {

std::string StatsKey(int64_t table_id) {
  return codec::MetaHashKey("Stats", absl::StrCat("Table:", table_id));
}

absl::StatusOr<TableStats> CollectTableStats(const TablePtr& table, ExecContext* ctx) {
  const TableInfo& t = *table;
  auto scan = std::make_shared<TableScanNode>();
  scan->table = table;
  for (const ColumnInfo& c : t.columns) scan->schema.push_back({c.name, t.name, t.db, c.type});
  scan->schema.push_back({"_tidb_rowid", t.name, t.db, FieldType::LongLong(), true});
  auto exec = BuildExecutor(*scan, ctx);
  if (!exec.ok()) return exec.status();
  const size_t ncols = t.columns.size();
  std::vector<std::vector<std::string>> col_values(ncols);
  std::vector<int64_t> col_nulls(ncols, 0);
  std::vector<const IndexInfo*> indexes;
  for (const IndexInfo& idx : t.indexes) {
    if (idx.Public()) indexes.push_back(&idx);
  }
  std::vector<std::vector<std::string>> idx_values(indexes.size());
  std::vector<int64_t> idx_nulls(indexes.size(), 0);
  TableStats stats;
  stats.table_id = t.id;
  stats.version = ctx->txn != nullptr ? ctx->txn->start_ts() : 0;
  std::vector<std::string> enc(ncols);
  std::vector<bool> null(ncols);
  while (true) {
    Chunk c;
    absl::Status s = (*exec)->Next(&c);
    if (!s.ok()) return s;
    if (c.NumRows() == 0) break;
    for (size_t r = 0; r < c.NumRows(); ++r) {
      ++stats.row_count;
      for (size_t i = 0; i < ncols; ++i) {
        Datum d = c.GetDatum(r, i);
        enc[i].clear();
        null[i] = d.IsNull();
        if (null[i]) {
          ++col_nulls[i];
          continue;
        }
        const FieldType& ft = t.columns[i].type;
        codec::EncodeKeyDatum(
            &enc[i], d, ft.GetEvalType() == EvalType::kString ? ft.collation : Collation::kBinary);
        col_values[i].push_back(enc[i]);
      }
      for (size_t k = 0; k < indexes.size(); ++k) {
        // NULL in the first column: counted as a NULL index value (its key still exists).
        if (null[indexes[k]->columns[0]]) {
          ++idx_nulls[k];
          continue;
        }
        std::string v;
        for (int col : indexes[k]->columns) {
          if (null[col]) {
            v.push_back(static_cast<char>(codec::kNilFlag));
          } else {
            v += enc[col];
          }
        }
        idx_values[k].push_back(std::move(v));
      }
    }
  }
  // Building the statistics is CPU alone (sorting every column's values, the sketches):
  // seconds for a table of 100,000 rows on a loaded machine. It runs behind RunBlocking so
  // the fiber's worker thread keeps running its other fibers meanwhile (an automatic
  // ANALYZE runs inside a committing statement; inline, it stalled every connection whose
  // fibers shared the thread, and the Raft store's, for that long).
  auto build = [&] {
    for (size_t i = 0; i < ncols; ++i) {
      stats.columns[t.columns[i].id] = BuildColumnStats(std::move(col_values[i]), col_nulls[i]);
    }
    for (size_t k = 0; k < indexes.size(); ++k) {
      stats.indexes[indexes[k]->id] = BuildColumnStats(std::move(idx_values[k]), idx_nulls[k]);
    }
  };
  if (ctx->env != nullptr) {
    ctx->env->RunBlocking(build);
  } else {
    build();
  }
  return stats;
}

void PersistTableStats(kv::KvTxn* txn, const TableStats& stats) {
  txn->Put(StatsKey(stats.table_id), stats.Serialize());
}

absl::StatusOr<TableStatsPtr> LoadTableStats(kv::KvTxn* txn, int64_t table_id) {
  auto v = txn->Get(StatsKey(table_id));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return TableStatsPtr();
  auto ts = TableStats::Deserialize(**v);
  if (!ts.ok()) return ts.status();
  return TableStatsPtr(std::make_shared<const TableStats>(*std::move(ts)));
}

}  // namespace rutile::sql
