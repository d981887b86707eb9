// Table statistics (TiDB's statistics/): what `ANALYZE TABLE` collects per column and per
// index, and what the planner's selectivity estimation (planner/cardinality.h) reads.
//
//   row count, NULL count, NDV         exact, from a full scan;
//   TopN                               the most frequent values with their counts;
//   histogram                          equi-depth buckets over the values not in the TopN,
//                                      each with its upper bound, cumulative count and the
//                                      repeats of that bound;
//   Count-Min sketch                   depth x width counters over the values not in the
//                                      TopN, for equality estimates of values the TopN lacks.
//
// Values are kept as their memcomparable key encoding (codec::EncodeKeyDatum, strings as
// collation sort keys), so every comparison is a byte comparison; an index's value is the
// concatenated encoding of its columns (a prefix of it answers for a prefix of columns).
//
// Statistics persist in the system table `mysql.stats` (one row per table: the table id,
// the version, and the serialized TableStats), written by ANALYZE and read when a table's
// cached entry is absent. The in-memory StatsCache is shared by a Database's sessions.
//
// Thread safety: TableStats are immutable once published; StatsCache is thread-safe.

#ifndef RUTILE_SQL_PLANNER_STATS_H_
#define RUTILE_SQL_PLANNER_STATS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rutile::sql {

class CMSketch {
 public:
  CMSketch() = default;
  CMSketch(int depth, int width);
  void Insert(std::string_view value, uint64_t count = 1);
  // An upper bound of `value`'s count (the minimum over rows).
  uint64_t Query(std::string_view value) const;
  int depth() const { return depth_; }
  int width() const { return width_; }
  void Serialize(std::string* out) const;
  bool Deserialize(std::string_view* in);

 private:
  int depth_ = 0, width_ = 0;
  std::vector<uint32_t> table_;  // depth_ rows of width_ counters.
};

struct Bucket {
  std::string upper;    // Encoded upper bound (inclusive).
  int64_t count = 0;    // Values in this bucket and every earlier one.
  int64_t repeats = 0;  // Occurrences of `upper`.
};

// The statistics of one column or index.
struct ColumnStats {
  int64_t ndv = 0;
  int64_t null_count = 0;
  std::vector<std::pair<std::string, int64_t>> topn;  // Value, count; most frequent first.
  std::vector<Bucket> buckets;                        // Values not in topn, ascending.
  std::string lower;                                  // Smallest value in the buckets.
  CMSketch cms;
  int64_t non_null() const;  // Rows counted in topn and buckets.

  // Estimated rows equal to encoded `value`.
  double EqualRows(std::string_view value) const;
  // Estimated rows in [lo, hi) (encoded; empty lo: from the smallest, empty hi: to the
  // largest), NULLs excluded.
  double RangeRows(std::string_view lo, std::string_view hi) const;
};

struct TableStats {
  int64_t table_id = 0;
  uint64_t version = 0;  // The snapshot the statistics were collected at.
  int64_t row_count = 0;
  std::map<int64_t, ColumnStats> columns;  // By column id.
  std::map<int64_t, ColumnStats> indexes;  // By index id.

  std::string Serialize() const;
  static absl::StatusOr<TableStats> Deserialize(std::string_view data);
};

using TableStatsPtr = std::shared_ptr<const TableStats>;

// Builds a column's statistics from its encoded non-NULL values (any order).
ColumnStats BuildColumnStats(std::vector<std::string> values, int64_t null_count,
                             size_t max_buckets = 64, size_t max_topn = 20);

// Automatic ANALYZE (TiDB's tidb_auto_analyze_ratio and its minimum row count): a table
// of at least kAutoAnalyzeMinRows rows is analyzed when it never was, or when the rows
// modified since its last ANALYZE pass kAutoAnalyzeRatio of the rows it had then.
inline constexpr double kAutoAnalyzeRatio = 0.5;
inline constexpr int64_t kAutoAnalyzeMinRows = 1000;

class StatsCache {
 public:
  // Statistics of `table_id`, or null when it was never analyzed. A table not cached yet
  // is read once through the loader (which may do KV reads: it runs outside the lock).
  TableStatsPtr Get(int64_t table_id) const;
  void Put(TableStatsPtr stats);
  void Erase(int64_t table_id);
  void SetLoader(std::function<TableStatsPtr(int64_t table_id)> loader);
  // A committed transaction changed table_id's row count by `rows_delta` and modified
  // `modified` rows (inserted, updated or deleted). Put (an ANALYZE) starts over.
  void NoteModified(int64_t table_id, int64_t rows_delta, int64_t modified);
  // Whether table_id is due for an automatic ANALYZE (the rule above).
  bool DueForAnalyze(int64_t table_id) const;
  // Claims the automatic ANALYZE of a due table: true for one caller until it calls
  // ReleaseAnalyze, false (not due, or another session is analyzing it) for the rest, so
  // sessions committing at once do not all scan the table.
  bool ClaimAnalyze(int64_t table_id);
  void ReleaseAnalyze(int64_t table_id);
  // The rows table_id holds by its last ANALYZE and the row-count changes noted since (0
  // when it was never analyzed and nothing was noted).
  int64_t EstimatedRows(int64_t table_id) const;

 private:
  mutable std::mutex mu_;
  // A null entry: loaded, never analyzed.
  mutable std::map<int64_t, TableStatsPtr> tables_;
  std::function<TableStatsPtr(int64_t)> loader_;
  struct Modifications {
    int64_t rows_delta = 0;
    int64_t modified = 0;
  };
  std::map<int64_t, Modifications> modifications_;  // Since the last ANALYZE.
  std::set<int64_t> analyzing_;                     // Claimed by ClaimAnalyze.
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_STATS_H_
