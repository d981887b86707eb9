#include "sql/expr/expression.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/types/convert.h"

namespace rutile::sql::expr {

// ---- ColumnRef ----

ColumnRef::ColumnRef(size_t index, FieldType type, std::string name)
    : Expression(type), index_(index), name_(std::move(name)) {}

absl::StatusOr<Datum> ColumnRef::Eval(EvalContext* ctx, const Chunk& input, size_t row) const {
  return input.GetDatum(row, index_);
}

// Performance-critical path.
absl::Status ColumnRef::EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                                  Column* out) const {
  const Column& src = input.column(index_);
  if (sel == nullptr) {
    *out = src;
    return absl::OkStatus();
  }
  *out = Column(src.type());
  out->Reserve(sel->size());
  for (uint32_t r : *sel) out->AppendFrom(src, r);
  return absl::OkStatus();
}

std::string ColumnRef::ToString() const {
  return name_.empty() ? absl::StrCat("column#", index_) : name_;
}

ExprPtr ColumnRef::Clone() const { return std::make_unique<ColumnRef>(index_, type_, name_); }

// ---- Constant ----

Constant::Constant(Datum value, FieldType type)
    : Expression(type), value_(Canonicalize(value, type)) {}

absl::StatusOr<Datum> Constant::Eval(EvalContext* ctx, const Chunk& input, size_t row) const {
  return value_;
}

absl::Status Constant::EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                                 Column* out) const {
  size_t n = SelSize(input, sel);
  *out = Column(PhysicalTypeOf(type_));
  out->Reserve(n);
  for (size_t k = 0; k < n; ++k) {
    if (absl::Status st = AppendResult(out, value_); !st.ok()) return st;
  }
  return absl::OkStatus();
}

std::string Constant::ToString() const {
  if (value_.IsNull()) return "NULL";
  if (value_.kind() == DatumKind::kString || value_.kind() == DatumKind::kTime ||
      value_.kind() == DatumKind::kDuration) {
    return absl::StrCat("'", value_.ToString(), "'");
  }
  return value_.ToString();
}

ExprPtr Constant::Clone() const { return std::make_unique<Constant>(value_, type_); }

// ---- ScalarFunction ----

ScalarFunction::ScalarFunction(std::string name, std::vector<ExprPtr> args, FieldType type,
                               FuncImpl impl, FuncAux aux)
    : Expression(type),
      name_(std::move(name)),
      args_(std::move(args)),
      impl_(impl),
      aux_(std::move(aux)) {}

absl::StatusOr<Datum> ScalarFunction::Eval(EvalContext* ctx, const Chunk& input, size_t row) const {
  std::vector<Datum> vals;
  vals.reserve(args_.size());
  for (const ExprPtr& a : args_) {
    absl::StatusOr<Datum> v = a->Eval(ctx, input, row);
    if (!v.ok()) return v.status();
    vals.push_back(std::move(*v));
  }
  if (impl_.null_propagating) {
    for (const Datum& v : vals) {
      if (v.IsNull()) return Datum();
    }
  }
  return impl_.row(*this, ctx, vals);
}

absl::Status ScalarFunction::EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                                       Column* out) const {
  size_t n = SelSize(input, sel);
  std::vector<Column> cols(args_.size());
  for (size_t i = 0; i < args_.size(); ++i) {
    if (absl::Status st = args_[i]->EvalChunk(ctx, input, sel, &cols[i]); !st.ok()) return st;
  }
  *out = Column(PhysicalTypeOf(type_));
  out->Reserve(n);
  if (impl_.vec != nullptr) return impl_.vec(*this, ctx, cols, n, out);
  return EvalRows(ctx, cols, n, out);
}

// Apart from EvalChunk so that the recursion over a deep expression keeps small frames.
__attribute__((noinline)) absl::Status ScalarFunction::EvalRows(EvalContext* ctx,
                                                                const std::vector<Column>& cols,
                                                                size_t n, Column* out) const {
  std::vector<Datum> vals(args_.size());
  for (size_t k = 0; k < n; ++k) {
    bool has_null = false;
    for (size_t i = 0; i < args_.size(); ++i) {
      vals[i] = cols[i].GetDatum(k, args_[i]->type());
      has_null |= vals[i].IsNull();
    }
    if (has_null && impl_.null_propagating) {
      out->AppendNull();
      continue;
    }
    absl::StatusOr<Datum> r = impl_.row(*this, ctx, vals);
    if (!r.ok()) return r.status();
    if (absl::Status st = AppendResult(out, *r); !st.ok()) return st;
  }
  return absl::OkStatus();
}

namespace {

const char* InfixOperator(std::string_view name) {
  static constexpr std::pair<const char*, const char*> kOps[] = {
      {"plus", "+"},  {"minus", "-"},   {"mul", "*"},      {"div", "/"},   {"intdiv", "DIV"},
      {"mod", "%"},   {"eq", "="},      {"ne", "<>"},      {"lt", "<"},    {"le", "<="},
      {"gt", ">"},    {"ge", ">="},     {"nulleq", "<=>"}, {"and", "AND"}, {"or", "OR"},
      {"xor", "XOR"}, {"like", "LIKE"},
  };
  for (const auto& [n, op] : kOps) {
    if (name == n) return op;
  }
  return nullptr;
}

}  // namespace

namespace {

// A call of `name` (result type `type`) over its arguments' texts. Apart from
// ScalarFunction::ToString so that the recursion over a deep expression keeps small frames.
__attribute__((noinline)) std::string CallText(const std::string& name, const FieldType& type,
                                               const std::vector<std::string>& args) {
  const char* op = InfixOperator(name);
  if (op != nullptr && args.size() == 2) {
    return absl::StrCat("(", args[0], " ", op, " ", args[1], ")");
  }
  if (name == "unaryminus" && args.size() == 1) return absl::StrCat("-", args[0]);
  if (name == "not" && args.size() == 1) return absl::StrCat("(NOT ", args[0], ")");
  if (name == "cast" && args.size() == 1) {
    return absl::StrCat("cast(", args[0], " as ", type.ToString(), ")");
  }
  return absl::StrCat(name, "(", absl::StrJoin(args, ", "), ")");
}

}  // namespace

std::string ScalarFunction::ToString() const {
  std::vector<std::string> parts;
  parts.reserve(args_.size());
  for (const ExprPtr& a : args_) parts.push_back(a->ToString());
  return CallText(name_, type_, parts);
}

std::vector<ExprPtr> ScalarFunction::CloneArgs() const {
  std::vector<ExprPtr> out;
  out.reserve(args_.size());
  for (const ExprPtr& a : args_) out.push_back(a->Clone());
  return out;
}

ExprPtr ScalarFunction::Clone() const {
  return std::make_unique<ScalarFunction>(name_, CloneArgs(), type_, impl_, aux_);
}

// ---- Helpers ----

absl::Status AppendResult(Column* out, const Datum& d) {
  if (!out->AppendDatum(d)) {
    return absl::InternalError(absl::StrCat("expression produced ", d.DebugString(),
                                            " for a column of physical type ",
                                            static_cast<int>(out->type())));
  }
  return absl::OkStatus();
}

Datum Canonicalize(const Datum& v, const FieldType& type) {
  if (v.IsNull() || type.tp == TypeCode::kNull) return Datum();
  EvalContext ctx;
  switch (type.GetEvalType()) {
    case EvalType::kInt:
      if (v.kind() == DatumKind::kInt64 && type.IsUnsigned()) {
        return Datum::Uint(static_cast<uint64_t>(v.GetInt64()));
      }
      if (v.kind() == DatumKind::kUint64 && !type.IsUnsigned()) {
        return Datum::Int(static_cast<int64_t>(v.GetUint64()));
      }
      if (v.kind() == DatumKind::kInt64 || v.kind() == DatumKind::kUint64) return v;
      break;
    case EvalType::kReal:
      if (v.kind() == DatumKind::kFloat64 && type.tp == TypeCode::kFloat) {
        return Datum::Float(static_cast<float>(v.GetDouble()));
      }
      if (v.kind() == DatumKind::kFloat32 && type.tp != TypeCode::kFloat) {
        return Datum::Double(v.GetDouble());
      }
      if (v.kind() == DatumKind::kFloat64 || v.kind() == DatumKind::kFloat32) return v;
      break;
    case EvalType::kDecimal:
      if (v.kind() == DatumKind::kDecimal) return v;
      break;
    case EvalType::kString:
    case EvalType::kJson:
      if (v.kind() == DatumKind::kString) return v;
      break;
    case EvalType::kDatetime:
      if (v.kind() == DatumKind::kTime) return v;
      break;
    case EvalType::kDuration:
      if (v.kind() == DatumKind::kDuration) return v;
      break;
  }
  // Another kind: convert as a CAST from its own natural type would.
  FieldType from;
  switch (v.kind()) {
    case DatumKind::kInt64:
      from = FieldType::LongLong();
      break;
    case DatumKind::kUint64:
      from = FieldType::LongLong(true);
      break;
    case DatumKind::kFloat32:
      from = FieldType::Float();
      break;
    case DatumKind::kFloat64:
      from = FieldType::Double();
      break;
    case DatumKind::kDecimal:
      from = FieldType::NewDecimal(65, v.GetDecimal().scale());
      break;
    case DatumKind::kTime:
      from = FieldType::Datetime(6);
      break;
    case DatumKind::kDuration:
      from = FieldType::Duration(6);
      break;
    default:
      from = FieldType::Varchar(-1);
      break;
  }
  absl::StatusOr<Datum> r = CastDatum(&ctx, v, from, type);
  return r.ok() ? *r : Datum();
}

absl::Status OutOfRange(std::string_view type_name, const Expression& e) {
  return MySqlErrorStatus(
      kErDataOutOfRange,
      absl::StrCat(std::string(type_name), " value is out of range in '", e.ToString(), "'"));
}

}  // namespace rutile::sql::expr
