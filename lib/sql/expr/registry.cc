#include "sql/expr/registry.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/expr/builtins.h"
#include "sql/types/collation.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

const FunctionTable& Table() {
  static const FunctionTable* table = [] {
    auto* t = new FunctionTable();
    RegisterArithmetic(t);
    RegisterComparison(t);
    RegisterControl(t);
    RegisterString(t);
    RegisterMath(t);
    RegisterTime(t);
    return t;
  }();
  return *table;
}

}  // namespace

absl::StatusOr<ExprPtr> NewFunction(std::string_view name, std::vector<ExprPtr> args) {
  std::string lower(name);
  absl::AsciiStrToLower(&lower);
  const FunctionTable& t = Table();
  auto it = t.find(lower);
  if (it == t.end()) {
    return MySqlErrorStatus(kErSpDoesNotExist, absl::StrCat("FUNCTION ", lower, " does not exist"));
  }
  const FunctionSpec& spec = it->second;
  int n = static_cast<int>(args.size());
  if (n < spec.min_args || (spec.max_args >= 0 && n > spec.max_args)) {
    return MySqlErrorStatus(
        kErWrongParamCountToNativeFct,
        absl::StrCat("Incorrect parameter count in the call to native function '", lower, "'"));
  }
  for (const ExprPtr& a : args) {
    if (a == nullptr) return absl::InvalidArgumentError("null argument expression");
  }
  return spec.build(lower, std::move(args));
}

ExprPtr NewCast(ExprPtr arg, const FieldType& target) { return MakeCast(std::move(arg), target); }

ExprPtr NewColumn(size_t index, const FieldType& type, std::string name) {
  return std::make_unique<ColumnRef>(index, type, std::move(name));
}

ExprPtr NewConstant(const Datum& value, const FieldType& type) {
  return std::make_unique<Constant>(value, type);
}

ExprPtr NewNull() { return NewConstant(Datum(), FieldType::Null()); }
ExprPtr NewInt(int64_t v) { return NewConstant(Datum::Int(v), LiteralIntType(v)); }
ExprPtr NewUint(uint64_t v) { return NewConstant(Datum::Uint(v), LiteralUintType(v)); }
ExprPtr NewDouble(double v) { return NewConstant(Datum::Double(v), FieldType::Double()); }

absl::StatusOr<ExprPtr> NewDecimalLiteral(std::string_view text) {
  Decimal d;
  size_t consumed = 0;
  DecimalStatus st = Decimal::Parse(text, &d, &consumed);
  if (st == DecimalStatus::kBadNumber || consumed != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("bad decimal literal ", std::string(text)));
  }
  if (st == DecimalStatus::kOverflow) {
    return MySqlErrorStatus(kErDataOutOfRange, "DECIMAL value is out of range");
  }
  return NewConstant(Datum::Dec(d), LiteralDecimalType(d.Precision(), d.scale()));
}

ExprPtr NewString(std::string v, Collation collation) {
  size_t chars = CharLength(v, collation);
  return NewConstant(Datum::String(std::move(v)), LiteralStringType(chars, collation));
}

bool FunctionExists(std::string_view name) {
  std::string lower(name);
  absl::AsciiStrToLower(&lower);
  return Table().count(lower) > 0;
}

std::vector<std::string> FunctionNames() {
  std::vector<std::string> out;
  for (const auto& [name, spec] : Table()) out.push_back(name);
  return out;
}

}  // namespace rutile::sql::expr
