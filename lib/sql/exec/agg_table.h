// AggTable: the hash table of a hash aggregation (TiDB's HashAggExec partial workers,
// DuckDB's GroupedAggregateHashTable), shared by the executor's AggregateExec (raw rows, and
// its final phase over a coprocessor's partial rows) and the coprocessor's partial
// aggregation (sql/coprocessor/dag.cc).
//
// A table holds groups (key values, first-row values, aggregate states) in the order of
// their first input row. Rows come a chunk at a time: the group-by expressions are evaluated
// over the chunk and each row is mapped to its group id (one integer key by value through an
// integer index, any other key list through its AppendHashKey bytes); then every aggregate
// consumes its argument columns. COUNT, and SUM/AVG of signed integers or of doubles, add
// into plain per-group accumulators in a tight loop (FastAcc); the others update their
// AggState row by row. FoldFast moves the accumulators into the states as partial results,
// so final values (decimal scale, NULL over no rows) come from the same code either way.
//
// Input modes: Add takes raw rows (the aggregates' arguments are evaluated), AddPartial takes
// rows of partial results (each aggregate's PartialTypes columns, then the group-by values,
// as a coprocessor's partial aggregation emits them) and merges them (AggState::Merge; COUNT
// and the double SUM/AVG in bulk). EmitPartial writes the groups in that same partial layout.
//
// Thread safety: a table is used by one fiber at a time.

#ifndef RUTILE_SQL_EXEC_AGG_TABLE_H_
#define RUTILE_SQL_EXEC_AGG_TABLE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "sql/chunk/chunk.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expression.h"
#include "sql/types/context.h"

namespace rutile::sql {

// What an AggTable computes. Borrowed: the expressions and descriptors must outlive the
// tables built on the spec.
struct AggSpec {
  struct Agg {
    const expr::AggDesc* desc = nullptr;
    std::vector<const expr::Expression*> args;
  };
  std::vector<const expr::Expression*> group_by;
  std::vector<Agg> aggs;
  std::vector<const expr::Expression*> first_values;
};

class AggTable {
 public:
  struct Group {
    std::vector<Datum> keys;
    std::vector<Datum> firsts;
    std::vector<std::unique_ptr<expr::AggState>> states;
    uint64_t first_row = 0;  // Input position of the group's first row.
    bool int_key = false;    // Found through the integer index (else the byte-key index).
  };

  // `spec` must outlive the table; expressions evaluate in `ctx`.
  AggTable(const AggSpec* spec, EvalContext* ctx);
  ~AggTable();
  AggTable(const AggTable&) = delete;
  AggTable& operator=(const AggTable&) = delete;

  std::vector<Group>& groups() { return groups_; }
  size_t NumGroups() const { return groups_.size(); }

  // Adds the raw rows of `in` (live rows only: `in` has no selection), whose row 0 is
  // input row `first_row`; `*mem_bytes` changes by the estimated size of the groups
  // created and what their aggregates' buffers grew by (GROUP_CONCAT ... ORDER BY can
  // also shrink: the change may be negative).
  absl::Status Add(const Chunk& in, uint64_t first_row, int64_t* mem_bytes);

  // Merges the partial rows of `in`: each aggregate's partial columns then the group-by
  // values. The spec must have no first values.
  absl::Status AddPartial(const Chunk& in, uint64_t first_row, int64_t* mem_bytes);

  // Folds the vectorized accumulators of every group into its states (and clears them).
  absl::Status FoldFast();

  // Appends every group, in first-row order, as a partial row (each aggregate's partial
  // columns, then the group-by values) to `out`, whose columns have those types; calls
  // `flush(out)` whenever `out` holds `chunk_rows` rows and once at the end if it has any.
  // A table of a scalar aggregation (no group-by) with no groups emits one group over no
  // rows. Folds first.
  absl::Status EmitPartial(const std::vector<FieldType>& types, size_t chunk_rows,
                           const std::function<absl::Status(Chunk)>& flush);

  // The group of `g`'s key in this table, if any (for merging another table's group).
  std::optional<uint32_t> Find(const Group& g);
  // Adds group `g` (folded: no fast accumulators) as a new group of this table.
  void Adopt(Group g);
  // Merges group `g` of another table (folded) into this table's group `into`,
  // evaluating in `ctx`.
  absl::Status MergeInto(EvalContext* ctx, uint32_t into, Group& g);
  // The partition (of `parts`) group `g`'s key falls in.
  size_t PartitionOf(const Group& g, size_t parts);

  // A new group of the spec's aggregates with no rows (a scalar aggregation over nothing).
  Group EmptyGroup() const;

 private:
  // Accumulators of the aggregates that take the vectorized path.
  struct FastAcc {
    int64_t count = 0;  // Rows counted (COUNT), or non-NULL rows summed (SUM, AVG).
    __int128 isum = 0;  // SUM/AVG of signed integers (exact; no 2^64 rows fit in memory).
    double dsum = 0;    // SUM/AVG of doubles (added in row order, as Sum::AddValue does).
  };
  enum class FastKind : uint8_t { kNone, kCount, kIntSum, kRealSum };

  // Maps each of the `n` rows of key columns `keys` to its group id (gid_), creating the
  // groups not seen yet (first values from firsts_ when `with_firsts`).
  void AssignGroups(const std::vector<const Column*>& keys, size_t n, uint64_t first_row,
                    bool with_firsts, int64_t* mem_bytes);
  uint32_t NewGroup(std::vector<Datum> keys, bool int_key, uint64_t first_row, size_t r,
                    bool with_firsts, int64_t* mem_bytes);
  void HashKeyOf(const Group& g, std::string* k) const;
  absl::Status EvalColumns(const std::vector<const expr::Expression*>& exprs, const Chunk& in,
                           std::vector<Column>* cols);
  FastKind FastKindOf(size_t a, const std::vector<Column>& args) const;
  FastKind PartialFastKindOf(size_t a) const;
  // Claims the accumulators of aggregate `a` for kind `fk`; false when they already serve
  // another kind (the rows then go through the AggState).
  bool UseFast(size_t a, FastKind fk);

  const AggSpec& spec_;
  EvalContext* ctx_;
  std::vector<Group> groups_;
  std::vector<FastAcc> fast_;        // groups x aggregates.
  std::vector<FastKind> used_fast_;  // Per aggregate: the vectorized path it took, if any.
  // Group lookup: one integer key by value, any other key list by its hash-key bytes.
  absl::flat_hash_map<int64_t, uint32_t> int_index_;
  std::optional<uint32_t> null_group_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  // Per-chunk scratch.
  std::vector<Column> keys_, firsts_;
  std::vector<std::vector<Column>> args_;
  std::vector<const Column*> key_ptrs_;
  std::vector<uint32_t> gid_;
  std::vector<Datum> av_;
  std::string key_;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_EXEC_AGG_TABLE_H_
