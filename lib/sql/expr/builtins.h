// Internal to lib/sql/expr: the function registry's table and the helpers builtin
// families share. Callers use registry.h.

#ifndef RUTILE_SQL_EXPR_BUILTINS_H_
#define RUTILE_SQL_EXPR_BUILTINS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sql/expr/expression.h"

namespace rutile::sql::expr {

using Builder = absl::StatusOr<ExprPtr> (*)(const std::string& name, std::vector<ExprPtr> args);

struct FunctionSpec {
  int min_args = 0;
  int max_args = 0;  // -1: any number.
  Builder build = nullptr;
};

using FunctionTable = std::map<std::string, FunctionSpec>;

void RegisterArithmetic(FunctionTable* t);
void RegisterComparison(FunctionTable* t);
void RegisterControl(FunctionTable* t);
void RegisterString(FunctionTable* t);
void RegisterMath(FunctionTable* t);
void RegisterTime(FunctionTable* t);

// A CAST of `e` to exactly `target`.
ExprPtr MakeCast(ExprPtr e, const FieldType& target);
// The same, marked as a conversion a builder inserted (FuncAux::implicit_cast).
ExprPtr MakeImplicitCast(ExprPtr e, const FieldType& target);
// `e` converted to evaluation class `target` (unchanged if already of it): the implicit
// conversions functions apply to their arguments.
ExprPtr WrapCast(ExprPtr e, EvalType target);
// The type an implicit conversion of a value of type `from` to class `et` produces.
FieldType ImplicitTarget(EvalType et, const FieldType& from);

// The result type standing for evaluation class `et` after unifying `types`.
FieldType TypeForClass(EvalType et, std::span<const FieldType> types);

// Row truth value of a non-NULL datum of an argument (int/real/decimal/temporal; strings
// are converted to real before reaching here).
bool DatumTruth(const Datum& d);

// Compares two non-NULL datums of evaluation class `cmp` (both converted to it), with
// the argument types deciding signedness for ints.
int CompareAs(EvalType cmp, const Datum& a, const FieldType& ta, const Datum& b,
              const FieldType& tb, Collation collation);

}  // namespace rutile::sql::expr

#endif  // RUTILE_SQL_EXPR_BUILTINS_H_
