// CASE, IF, IFNULL, COALESCE (lazy) and NULLIF.

#include "sql/expr/builtins.h"
#include "sql/types/compare.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

// `e` converted to exactly the representation of result type `rt` where it differs in a
// way values show (class, signedness, FLOAT/DOUBLE, decimal scale, DATE/DATETIME).
ExprPtr CoerceTo(ExprPtr e, const FieldType& rt) {
  const FieldType& ft = e->type();
  EvalType et = rt.GetEvalType();
  bool cast = ft.tp == TypeCode::kNull || ft.GetEvalType() != et;
  if (!cast) {
    switch (et) {
      case EvalType::kInt:
        cast = ft.IsUnsigned() != rt.IsUnsigned();
        break;
      case EvalType::kReal:
        cast = (ft.tp == TypeCode::kFloat) != (rt.tp == TypeCode::kFloat);
        break;
      case EvalType::kDecimal:
        cast = rt.decimal >= 0 && ft.decimal != rt.decimal;
        break;
      case EvalType::kDatetime:
        cast = (ft.tp == TypeCode::kDate) != (rt.tp == TypeCode::kDate) ||
               (rt.decimal >= 0 && ft.decimal != rt.decimal);
        break;
      case EvalType::kDuration:
        cast = rt.decimal >= 0 && ft.decimal != rt.decimal;
        break;
      default:
        break;
    }
  }
  if (!cast) return e;
  FieldType target = rt;
  if (et == EvalType::kString || et == EvalType::kJson) target.flen = kUnspecifiedLength;
  if (et == EvalType::kDecimal) target.flen = kMaxDecimalPrecision;
  target.flag &= ~kNotNullFlag;
  return MakeImplicitCast(std::move(e), target);
}

inline bool IsTrue(const Datum& d) { return !d.IsNull() && DatumTruth(d); }

ExprPtr CondArg(ExprPtr e) {
  EvalType et = e->type().GetEvalType();
  if (e->type().tp == TypeCode::kNull) return WrapCast(std::move(e), EvalType::kInt);
  if (et == EvalType::kString || et == EvalType::kJson)
    return WrapCast(std::move(e), EvalType::kReal);
  return e;
}

bool TrueAt(const Column& c, size_t k) {
  if (c.IsNull(k)) return false;
  switch (c.type()) {
    case PhysicalType::kInt64:
      return c.GetInt64(k) != 0;
    case PhysicalType::kDuration:
      return c.GetDuration(k).micros != 0;
    case PhysicalType::kUint64:
      return c.GetUint64(k) != 0;
    case PhysicalType::kFloat64:
      return c.GetFloat64(k) != 0;
    case PhysicalType::kDecimal:
      return !c.GetDecimal(k).IsZero();
    case PhysicalType::kTime:
      return !c.GetTime(k).IsZero();
    case PhysicalType::kBytes:
      return !c.GetBytes(k).empty();
  }
  return false;
}

// Output assembly for branchy vectorized evaluation: each output row names the piece
// (branch result column) and the row within it that supplies its value.
struct Assembly {
  std::vector<Column> pieces;
  std::vector<std::pair<int32_t, uint32_t>> source;  // (piece, row); piece -1 = NULL.

  absl::Status Emit(PhysicalType type, Column* out) const {
    *out = Column(type);
    out->Reserve(source.size());
    for (const auto& [p, r] : source) {
      if (p < 0) {
        out->AppendNull();
      } else {
        out->AppendFrom(pieces[p], r);
      }
    }
    return absl::OkStatus();
  }
};

// CASE WHEN c1 THEN v1 [WHEN c2 THEN v2 ...] [ELSE e] END, as args c1, v1, c2, v2, ..., e.
class CaseFunction : public ScalarFunction {
 public:
  CaseFunction(std::string name, std::vector<ExprPtr> args, FieldType type)
      : ScalarFunction(std::move(name), std::move(args), type, FuncImpl{}) {}

  bool has_else() const { return args_.size() % 2 == 1; }

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override {
    size_t pairs = args_.size() / 2;
    for (size_t i = 0; i < pairs; ++i) {
      absl::StatusOr<Datum> c = args_[2 * i]->Eval(ctx, input, row);
      if (!c.ok()) return c.status();
      if (IsTrue(*c)) return args_[2 * i + 1]->Eval(ctx, input, row);
    }
    if (has_else()) return args_.back()->Eval(ctx, input, row);
    return Datum();
  }

  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                         Column* out) const override {
    size_t n = SelSize(input, sel);
    Assembly as;
    as.source.assign(n, {-1, 0});
    Sel remaining;
    std::vector<uint32_t> remaining_pos;
    for (size_t k = 0; k < n; ++k) {
      remaining.push_back(sel ? (*sel)[k] : static_cast<uint32_t>(k));
      remaining_pos.push_back(static_cast<uint32_t>(k));
    }
    size_t pairs = args_.size() / 2;
    for (size_t i = 0; i < pairs && !remaining.empty(); ++i) {
      Column cond;
      if (absl::Status st = args_[2 * i]->EvalChunk(ctx, input, &remaining, &cond); !st.ok()) {
        return st;
      }
      Sel take, rest;
      std::vector<uint32_t> take_pos, rest_pos;
      for (size_t j = 0; j < remaining.size(); ++j) {
        if (TrueAt(cond, j)) {
          take.push_back(remaining[j]);
          take_pos.push_back(remaining_pos[j]);
        } else {
          rest.push_back(remaining[j]);
          rest_pos.push_back(remaining_pos[j]);
        }
      }
      if (!take.empty()) {
        Column v;
        if (absl::Status st = args_[2 * i + 1]->EvalChunk(ctx, input, &take, &v); !st.ok()) {
          return st;
        }
        int32_t piece = static_cast<int32_t>(as.pieces.size());
        as.pieces.push_back(std::move(v));
        for (size_t j = 0; j < take.size(); ++j) as.source[take_pos[j]] = {piece, j};
      }
      remaining = std::move(rest);
      remaining_pos = std::move(rest_pos);
    }
    if (has_else() && !remaining.empty()) {
      Column v;
      if (absl::Status st = args_.back()->EvalChunk(ctx, input, &remaining, &v); !st.ok()) {
        return st;
      }
      int32_t piece = static_cast<int32_t>(as.pieces.size());
      as.pieces.push_back(std::move(v));
      for (size_t j = 0; j < remaining.size(); ++j) as.source[remaining_pos[j]] = {piece, j};
    }
    return as.Emit(PhysicalTypeOf(type_), out);
  }

  ExprPtr Clone() const override {
    return std::make_unique<CaseFunction>(name_, CloneArgs(), type_);
  }
};

// COALESCE(a1, ..., an): the first non-NULL argument, evaluating no further.
class CoalesceFunction : public ScalarFunction {
 public:
  CoalesceFunction(std::string name, std::vector<ExprPtr> args, FieldType type)
      : ScalarFunction(std::move(name), std::move(args), type, FuncImpl{}) {}

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override {
    for (const ExprPtr& a : args_) {
      absl::StatusOr<Datum> v = a->Eval(ctx, input, row);
      if (!v.ok() || !v->IsNull()) return v;
    }
    return Datum();
  }

  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                         Column* out) const override {
    size_t n = SelSize(input, sel);
    Assembly as;
    as.source.assign(n, {-1, 0});
    Sel remaining;
    std::vector<uint32_t> remaining_pos;
    for (size_t k = 0; k < n; ++k) {
      remaining.push_back(sel ? (*sel)[k] : static_cast<uint32_t>(k));
      remaining_pos.push_back(static_cast<uint32_t>(k));
    }
    for (size_t i = 0; i < args_.size() && !remaining.empty(); ++i) {
      Column v;
      if (absl::Status st = args_[i]->EvalChunk(ctx, input, &remaining, &v); !st.ok()) return st;
      int32_t piece = static_cast<int32_t>(as.pieces.size());
      Sel rest;
      std::vector<uint32_t> rest_pos;
      for (size_t j = 0; j < remaining.size(); ++j) {
        if (v.IsNull(j)) {
          rest.push_back(remaining[j]);
          rest_pos.push_back(remaining_pos[j]);
        } else {
          as.source[remaining_pos[j]] = {piece, j};
        }
      }
      as.pieces.push_back(std::move(v));
      remaining = std::move(rest);
      remaining_pos = std::move(rest_pos);
    }
    return as.Emit(PhysicalTypeOf(type_), out);
  }

  ExprPtr Clone() const override {
    return std::make_unique<CoalesceFunction>(name_, CloneArgs(), type_);
  }
};

absl::StatusOr<ExprPtr> CaseBuilder(const std::string& name, std::vector<ExprPtr> args) {
  std::vector<FieldType> value_types;
  for (size_t i = 1; i < args.size(); i += 2) value_types.push_back(args[i]->type());
  if (args.size() % 2 == 1) value_types.push_back(args.back()->type());
  FieldType rt = UnifyTypes(value_types);
  rt.flag &= ~kNotNullFlag;
  for (size_t i = 0; i < args.size(); ++i) {
    bool is_value = i % 2 == 1 || i == args.size() - 1;
    if (is_value) {
      args[i] = CoerceTo(std::move(args[i]), rt);
    } else {
      args[i] = CondArg(std::move(args[i]));
    }
  }
  return ExprPtr(std::make_unique<CaseFunction>(name, std::move(args), rt));
}

absl::StatusOr<ExprPtr> IfBuilder(const std::string& name, std::vector<ExprPtr> args) {
  return CaseBuilder("if", std::move(args));
}

absl::StatusOr<ExprPtr> CoalesceBuilder(const std::string& name, std::vector<ExprPtr> args) {
  std::vector<FieldType> types;
  for (const ExprPtr& a : args) types.push_back(a->type());
  FieldType rt = UnifyTypes(types);
  bool any_not_null = false;
  for (const FieldType& t : types) any_not_null |= t.NotNull();
  rt.flag &= ~kNotNullFlag;
  if (any_not_null) rt.flag |= kNotNullFlag;
  for (ExprPtr& a : args) a = CoerceTo(std::move(a), rt);
  return ExprPtr(std::make_unique<CoalesceFunction>(name, std::move(args), rt));
}

absl::StatusOr<Datum> NullIfRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  if (args[0].IsNull() || args[1].IsNull() || args[2].IsNull()) return args[0];
  int c = CompareAs(fn.aux().cmp_type, args[1], fn.arg(1).type(), args[2], fn.arg(2).type(),
                    fn.aux().collation);
  return c == 0 ? Datum() : args[0];
}

absl::StatusOr<ExprPtr> NullIfBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncAux aux;
  aux.cmp_type = CmpEvalType(args[0]->type(), args[1]->type());
  aux.collation = CmpCollation(args[0]->type(), args[1]->type());
  FieldType rt = args[0]->type();
  rt.flag &= ~(kNotNullFlag | kPriKeyFlag | kUniqueKeyFlag | kMultipleKeyFlag | kAutoIncrementFlag);
  if (rt.tp == TypeCode::kNull) rt = FieldType::Null();
  std::vector<ExprPtr> wrapped;
  ExprPtr b = std::move(args[1]);
  ExprPtr a_cmp = WrapCast(args[0]->Clone(), aux.cmp_type);
  wrapped.push_back(std::move(args[0]));
  wrapped.push_back(std::move(a_cmp));
  wrapped.push_back(WrapCast(std::move(b), aux.cmp_type));
  FuncImpl impl;
  impl.row = NullIfRow;
  impl.null_propagating = false;
  return ExprPtr(std::make_unique<ScalarFunction>("nullif", std::move(wrapped), rt, impl, aux));
}

}  // namespace

void RegisterControl(FunctionTable* t) {
  (*t)["case"] = {1, -1, CaseBuilder};
  (*t)["if"] = {3, 3, IfBuilder};
  (*t)["ifnull"] = {2, 2, CoalesceBuilder};
  (*t)["coalesce"] = {1, -1, CoalesceBuilder};
  (*t)["nullif"] = {2, 2, NullIfBuilder};
}

}  // namespace rutile::sql::expr
