// Bound expressions and aggregates <-> protobuf (lib/proto/sqlexprpb.proto), so that a
// coprocessor at a region's leader evaluates selection, projection and partial
// aggregation exactly as the SQL layer would (TiDB's expression/expr_to_pb.go with
// TiKV's RPN builder on the other side; our own design).
//
// What goes on the wire is the logical call: a function node carries its registry name
// and the arguments as they were given to the builder, *without* the implicit CASTs the
// builder inserted (FuncAux::implicit_cast; NULLIF's internal copy of its first
// argument is left out too). ExprFromPb rebuilds every call through registry.h's NewFunction, so
// the same conversions are inserted, the same kernel is chosen and the same result type is
// inferred; it checks that the rebuilt type equals the one on the wire, so two binaries
// that disagree about a function fail loudly instead of computing something else.
// Explicit CASTs travel as "cast" with their target type. Constants travel as typed
// datums of their canonical kind; column references by offset into the input row.
//
// Typical use (planner side, then coprocessor side):
//
//   if (CanPushDown(*cond)) RETURN_IF_ERROR(ExprToPb(*cond, dag.add_conditions()));
//   ...
//   ASSIGN_OR_RETURN(ExprPtr cond, ExprFromPb(pb, scan_column_types));
//   EvalContext ctx; RETURN_IF_ERROR(EvalConfigFromPb(dag.eval_config(), &ctx));
//   cond->EvalChunk(&ctx, chunk, nullptr, &out);
//
// Aggregates: AggToPb / AggFromPb carry an AggDesc and its argument expressions. The
// coprocessor runs NewAggState(desc) in partial mode (Update, then PartialResult(),
// whose datums have PartialTypes(desc)); the SQL side's final aggregation feeds those
// datums to AggState::Merge and takes FinalResult() — equal to one-phase aggregation
// (GROUP_CONCAT's concatenation order aside, which MySQL leaves unspecified too).
//
// Errors: anything malformed on decoding (unknown function or type code, wrong arity,
// column offset out of range or of the wrong physical type, a datum of the wrong kind,
// an invalid time, a non-pushable function, nesting deeper than kMaxExprDepth) is
// InvalidArgument, never a crash. A call the registry itself rejects keeps its MySQL
// error (1305 unknown function, 1582 wrong argument count), also InvalidArgument.
// Encoding an expression CanPushDown rejects is Unimplemented.
//
// Thread safety: free functions over immutable inputs; safe to call concurrently.

#ifndef RUTILE_SQL_EXPR_EXPR_PB_H_
#define RUTILE_SQL_EXPR_EXPR_PB_H_

#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expression.h"
#include "sqlexprpb.pb.h"

namespace rutile::sql::expr {

// Decoding refuses expressions nested deeper than this.
inline constexpr int kMaxExprDepth = 256;

// True when a coprocessor can evaluate `e` with the same values, warnings and errors as
// the SQL layer: only column references, constants and registry functions (and CASTs)
// that depend on nothing but their arguments and the EvalConfig. False for subqueries,
// correlated columns (any Expression subclass other than ColumnRef / Constant /
// ScalarFunction), session- or time-dependent functions (NOW(), CURDATE(), CURTIME()...,
// and USER(), RAND(), DATABASE() etc. should they be registered), and functions the
// registry does not know. User variables are bound to constants before this point.
bool CanPushDown(const Expression& e);

// Serializes `e` into *out (cleared first). Unimplemented when !CanPushDown(e).
absl::Status ExprToPb(const Expression& e, sqlexprpb::Expr* out);

// Rebuilds an expression over input rows of `input_types` (a column reference's offset
// indexes it; the reference keeps the type on the wire, which must have the same
// physical layout as the input column).
absl::StatusOr<ExprPtr> ExprFromPb(const sqlexprpb::Expr& pb,
                                   std::span<const FieldType> input_types);

// An aggregate call: its descriptor and argument expressions (plan.h's AggItem).
struct AggCall {
  AggDesc desc;
  std::vector<ExprPtr> args;
};

// True when every argument can be pushed down.
bool CanPushDownAgg(const AggDesc& desc, std::span<const ExprPtr> args);
// Serializes an aggregate with its arguments (args.size() == desc.arg_types.size()).
absl::Status AggToPb(const AggDesc& desc, std::span<const ExprPtr> args, sqlexprpb::AggFunc* out);
// Rebuilds it: arguments through ExprFromPb, the descriptor through NewAggDesc (checked
// against the wire's result type and, when present, partial types).
absl::StatusOr<AggCall> AggFromPb(const sqlexprpb::AggFunc& pb,
                                  std::span<const FieldType> input_types);

// Building blocks, also for the coprocessor's schemas and result rows.
void FieldTypeToPb(const FieldType& ft, sqlexprpb::FieldType* out);
absl::StatusOr<FieldType> FieldTypeFromPb(const sqlexprpb::FieldType& pb);
// Any datum but the MinNotNull / MaxValue sentinels (InvalidArgument for those).
absl::Status DatumToPb(const Datum& d, sqlexprpb::Datum* out);
absl::StatusOr<Datum> DatumFromPb(const sqlexprpb::Datum& pb);

// The statement settings evaluation reads (sql_mode, strict_writes, NOW,
// max_allowed_packet, max_warnings); warnings are not carried.
void EvalConfigToPb(const EvalContext& ctx, sqlexprpb::EvalConfig* out);
absl::Status EvalConfigFromPb(const sqlexprpb::EvalConfig& pb, EvalContext* ctx);

}  // namespace rutile::sql::expr

#endif  // RUTILE_SQL_EXPR_EXPR_PB_H_
