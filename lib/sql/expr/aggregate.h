// Aggregate function state: COUNT, SUM, AVG, MIN, MAX (each optionally DISTINCT) and
// GROUP_CONCAT, usable in three modes so that work can be split between coprocessors
// and the executor (TiDB's aggregation modes):
//
//   complete  raw rows in (Update), the final value out (FinalResult);
//   partial   raw rows in (Update), partial results out (PartialResult);
//   final     partial results in (Merge), the final value out.
//
// Partial results are datums of PartialTypes(desc) and merge associatively and
// commutatively (GROUP_CONCAT's order aside, which MySQL leaves unspecified too):
//   COUNT -> [count]                     SUM -> [sum or NULL]
//   AVG   -> [count, sum or NULL]        MIN/MAX -> [value or NULL]
//   GROUP_CONCAT -> [text or NULL]
//   GROUP_CONCAT ... ORDER BY -> [the (sort keys, piece) rows, key-encoded, in their
//                    order]: the final merge re-sorts them, so the order holds however the
//                    work was split
//   any DISTINCT aggregate but MIN/MAX -> [the distinct argument tuples, key-encoded]
//
// Results follow MySQL: COUNT is BIGINT; SUM of integers or decimals is DECIMAL, of
// anything else DOUBLE; AVG of integers or decimals is DECIMAL with the scale plus 4;
// SUM/AVG/MIN/MAX of no rows is NULL; GROUP_CONCAT stops at group_concat_max_len
// (1024) bytes, cut at a character boundary unless the result is binary, with warning
// 1260 "Row N was cut by GROUP_CONCAT()" (N: the row of the group, in concatenation
// order, that passed the limit; MySQL counts rows across the groups of the statement).
//
// Memory: GROUP_CONCAT ... ORDER BY keeps only the rows that can still reach the result
// (the first ones in sort order whose pieces fill group_concat_max_len, pieces cut to it:
// TiDB's topNRows); DISTINCT keeps every distinct tuple. States that buffer report how
// much they grew (TakeMemDelta) for the statement's memory quota.
//
// Thread safety: an AggState is used by one thread at a time.

#ifndef RUTILE_SQL_EXPR_AGGREGATE_H_
#define RUTILE_SQL_EXPR_AGGREGATE_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/chunk/chunk.h"
#include "sql/types/context.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql::expr {

enum class AggKind : uint8_t { kCount, kSum, kAvg, kMin, kMax, kGroupConcat };

struct AggDesc {
  AggKind kind = AggKind::kCount;
  bool distinct = false;
  // Argument types; empty for COUNT(*).
  std::vector<FieldType> arg_types;
  FieldType result_type;
  // GROUP_CONCAT's SEPARATOR.
  std::string separator = ",";
  // GROUP_CONCAT ... ORDER BY: the last order_desc.size() arguments are the sort keys
  // (compared in their collations, NULL first, descending where true), the others are
  // concatenated. Rows that tie keep their input order.
  std::vector<bool> order_desc;
  // group_concat_max_len.
  size_t max_len = 1024;
};

// Builds the descriptor of `name` (count, sum, avg, min, max, group_concat;
// case-insensitive) over arguments of `arg_types`, inferring the result type. Errors:
// 1305 for an unknown name, 1582 for a wrong argument count. `order_desc`: GROUP_CONCAT's
// ORDER BY (the last order_desc.size() of `arg_types` are its keys; other aggregates
// take none).
absl::StatusOr<AggDesc> NewAggDesc(std::string_view name, std::vector<FieldType> arg_types,
                                   bool distinct = false, std::vector<bool> order_desc = {});

// The arguments of `desc` that are values rather than GROUP_CONCAT sort keys.
inline size_t ValueArgs(const AggDesc& desc) {
  return desc.arg_types.size() - desc.order_desc.size();
}

// The types of the partial result datums.
std::vector<FieldType> PartialTypes(const AggDesc& desc);

class AggState {
 public:
  virtual ~AggState() = default;
  // Adds one input row's argument values (none for COUNT(*)).
  virtual absl::Status Update(EvalContext* ctx, std::span<const Datum> args) = 0;
  // Adds the input rows of argument columns (each of `n` rows).
  absl::Status UpdateColumns(EvalContext* ctx, std::span<const Column> args, size_t n);
  // Folds in a partial result produced by PartialResult() of another state.
  virtual absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) = 0;
  virtual std::vector<Datum> PartialResult() const = 0;
  virtual absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const = 0;
  virtual void Reset() = 0;
  // Bytes the state's buffers grew by since the last call (negative: they shrank); zero
  // for the states that buffer nothing.
  int64_t TakeMemDelta() { return std::exchange(mem_delta_, 0); }

  explicit AggState(const AggDesc& desc) : desc_(desc) {}

 protected:
  AggDesc desc_;
  int64_t mem_delta_ = 0;
};

std::unique_ptr<AggState> NewAggState(const AggDesc& desc);

}  // namespace rutile::sql::expr

#endif  // RUTILE_SQL_EXPR_AGGREGATE_H_
