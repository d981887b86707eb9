// Comparisons (= <> < <= > >= <=>), three-valued logic (AND OR XOR NOT, IS [NOT]
// TRUE/FALSE/NULL), BETWEEN, IN (list) and LIKE.

#include "sql/expr/builtins.h"
#include "sql/types/collation.h"
#include "sql/types/compare.h"

namespace rutile::sql::expr {

int CompareAs(EvalType cmp, const Datum& a, const FieldType& ta, const Datum& b,
              const FieldType& tb, Collation collation) {
  auto three = [](auto x, auto y) { return x < y ? -1 : (x > y ? 1 : 0); };
  switch (cmp) {
    case EvalType::kInt: {
      __int128 x = a.kind() == DatumKind::kUint64 ? static_cast<__int128>(a.GetUint64())
                                                  : static_cast<__int128>(a.GetInt64());
      __int128 y = b.kind() == DatumKind::kUint64 ? static_cast<__int128>(b.GetUint64())
                                                  : static_cast<__int128>(b.GetInt64());
      return three(x, y);
    }
    case EvalType::kReal:
      return three(a.GetDouble(), b.GetDouble());
    case EvalType::kDecimal:
      return a.GetDecimal().Compare(b.GetDecimal());
    case EvalType::kString:
    case EvalType::kJson:
      return CompareStrings(a.GetString(), b.GetString(), collation);
    case EvalType::kDatetime:
      return a.GetTime().Compare(b.GetTime());
    case EvalType::kDuration:
      return a.GetDuration().Compare(b.GetDuration());
  }
  return 0;
}

namespace {

enum CmpOp { kEq, kNe, kLt, kLe, kGt, kGe, kNullEq };

template <int kOp>
inline bool Holds(int c) {
  switch (kOp) {
    case kEq:
    case kNullEq:
      return c == 0;
    case kNe:
      return c != 0;
    case kLt:
      return c < 0;
    case kLe:
      return c <= 0;
    case kGt:
      return c > 0;
    default:
      return c >= 0;
  }
}

template <int kOp>
absl::StatusOr<Datum> CmpRow(const ScalarFunction& fn, EvalContext* ctx,
                             std::span<const Datum> args) {
  if (kOp == kNullEq) {
    bool na = args[0].IsNull(), nb = args[1].IsNull();
    if (na || nb) return Datum::Int(na && nb ? 1 : 0);
  }
  int c = CompareAs(fn.aux().cmp_type, args[0], fn.arg(0).type(), args[1], fn.arg(1).type(),
                    fn.aux().collation);
  return Datum::Int(Holds<kOp>(c) ? 1 : 0);
}

// Performance-critical path.
template <int kOp>
absl::Status CmpVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                    size_t n, Column* out) {
  const Column& a = args[0];
  const Column& b = args[1];
  out->ResizeFixed(n);
  int64_t* o = out->Int64Data();
  if (kOp != kNullEq) {
    out->MergeNulls(a);
    out->MergeNulls(b);
  }
  const EvalType cmp = fn.aux().cmp_type;
  const bool ua = fn.arg(0).type().IsUnsigned(), ub = fn.arg(1).type().IsUnsigned();
  for (size_t k = 0; k < n; ++k) {
    bool na = a.IsNull(k), nb = b.IsNull(k);
    if (na || nb) {
      if (kOp == kNullEq) o[k] = (na && nb) ? 1 : 0;
      continue;
    }
    int c;
    switch (cmp) {
      case EvalType::kInt:
        if (!ua && !ub) {
          int64_t x = a.GetInt64(k), y = b.GetInt64(k);
          c = x < y ? -1 : (x > y ? 1 : 0);
        } else {
          __int128 x = ua ? static_cast<__int128>(a.GetUint64(k)) : a.GetInt64(k);
          __int128 y = ub ? static_cast<__int128>(b.GetUint64(k)) : b.GetInt64(k);
          c = x < y ? -1 : (x > y ? 1 : 0);
        }
        break;
      case EvalType::kReal: {
        double x = a.GetFloat64(k), y = b.GetFloat64(k);
        c = x < y ? -1 : (x > y ? 1 : 0);
        break;
      }
      case EvalType::kDecimal:
        c = a.GetDecimal(k).Compare(b.GetDecimal(k));
        break;
      case EvalType::kString:
      case EvalType::kJson:
        c = CompareStrings(a.GetBytes(k), b.GetBytes(k), fn.aux().collation);
        break;
      case EvalType::kDatetime:
        c = a.GetTime(k).Compare(b.GetTime(k));
        break;
      case EvalType::kDuration:
        c = a.GetDuration(k).Compare(b.GetDuration(k));
        break;
      default:
        c = 0;
    }
    o[k] = Holds<kOp>(c) ? 1 : 0;
  }
  return absl::OkStatus();
}

FieldType BoolType() {
  FieldType ft = FieldType::LongLong();
  ft.flen = 1;
  return ft;
}

template <int kOp>
absl::StatusOr<ExprPtr> CmpBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncAux aux;
  aux.cmp_type = CmpEvalType(args[0]->type(), args[1]->type());
  FieldType ta = args[0]->type(), tb = args[1]->type();
  for (ExprPtr& a : args) a = WrapCast(std::move(a), aux.cmp_type);
  aux.collation = CmpCollation(args[0]->type(), args[1]->type());
  if (aux.cmp_type == EvalType::kString) aux.collation = CmpCollation(ta, tb);
  FuncImpl impl;
  impl.row = CmpRow<kOp>;
  impl.vec = CmpVec<kOp>;
  impl.null_propagating = kOp != kNullEq;
  FieldType rt = BoolType();
  if (kOp == kNullEq) rt.flag |= kNotNullFlag;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl, aux));
}

// Truth values: 0 false, 1 true, 2 NULL.
inline uint8_t TruthOf(const Datum& d) {
  if (d.IsNull()) return 2;
  return DatumTruth(d) ? 1 : 0;
}

uint8_t TruthAt(const Column& c, size_t k, EvalType et) {
  if (c.IsNull(k)) return 2;
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
  return 0;
}

// Arguments of logic operators: strings are read as numbers.
ExprPtr TruthArg(ExprPtr e) {
  EvalType et = e->type().GetEvalType();
  if (e->type().tp == TypeCode::kNull) return WrapCast(std::move(e), EvalType::kInt);
  if (et == EvalType::kString || et == EvalType::kJson)
    return WrapCast(std::move(e), EvalType::kReal);
  return e;
}

// AND / OR: the right operand is evaluated only for rows the left does not decide.
class LogicFunction : public ScalarFunction {
 public:
  LogicFunction(std::string name, std::vector<ExprPtr> args, bool is_and)
      : ScalarFunction(std::move(name), std::move(args), BoolType(), FuncImpl{}), is_and_(is_and) {}

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override {
    absl::StatusOr<Datum> a = args_[0]->Eval(ctx, input, row);
    if (!a.ok()) return a.status();
    uint8_t ta = TruthOf(*a);
    uint8_t decisive = is_and_ ? 0 : 1;
    if (ta == decisive) return Datum::Int(decisive);
    absl::StatusOr<Datum> b = args_[1]->Eval(ctx, input, row);
    if (!b.ok()) return b.status();
    uint8_t tb = TruthOf(*b);
    if (tb == decisive) return Datum::Int(decisive);
    if (ta == 2 || tb == 2) return Datum();
    return Datum::Int(1 - decisive);
  }

  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                         Column* out) const override {
    size_t n = SelSize(input, sel);
    Column a;
    if (absl::Status st = args_[0]->EvalChunk(ctx, input, sel, &a); !st.ok()) return st;
    const uint8_t decisive = is_and_ ? 0 : 1;
    std::vector<uint8_t> ta(n);
    Sel rest;
    std::vector<uint32_t> rest_pos;
    for (size_t k = 0; k < n; ++k) {
      ta[k] = TruthAt(a, k, args_[0]->eval_type());
      if (ta[k] != decisive) {
        rest.push_back(sel ? (*sel)[k] : static_cast<uint32_t>(k));
        rest_pos.push_back(static_cast<uint32_t>(k));
      }
    }
    std::vector<uint8_t> result(ta);
    if (!rest.empty()) {
      Column b;
      if (absl::Status st = args_[1]->EvalChunk(ctx, input, &rest, &b); !st.ok()) return st;
      for (size_t j = 0; j < rest.size(); ++j) {
        uint8_t tb = TruthAt(b, j, args_[1]->eval_type());
        uint8_t t = ta[rest_pos[j]];
        result[rest_pos[j]] = tb == decisive ? decisive : ((t == 2 || tb == 2) ? 2 : 1 - decisive);
      }
    }
    *out = Column(PhysicalType::kInt64);
    out->ResizeFixed(n);
    for (size_t k = 0; k < n; ++k) {
      if (result[k] == 2) {
        out->SetNull(k, true);
      } else {
        out->Int64Data()[k] = result[k];
      }
    }
    return absl::OkStatus();
  }

  ExprPtr Clone() const override {
    return std::make_unique<LogicFunction>(name_, CloneArgs(), is_and_);
  }

 private:
  bool is_and_;
};

template <bool kIsAnd>
absl::StatusOr<ExprPtr> LogicBuilder(const std::string& name, std::vector<ExprPtr> args) {
  for (ExprPtr& a : args) a = TruthArg(std::move(a));
  return ExprPtr(std::make_unique<LogicFunction>(kIsAnd ? "and" : "or", std::move(args), kIsAnd));
}

absl::StatusOr<Datum> XorRow(const ScalarFunction& fn, EvalContext* ctx,
                             std::span<const Datum> args) {
  return Datum::Int(DatumTruth(args[0]) != DatumTruth(args[1]) ? 1 : 0);
}

absl::StatusOr<Datum> NotRow(const ScalarFunction& fn, EvalContext* ctx,
                             std::span<const Datum> args) {
  return Datum::Int(DatumTruth(args[0]) ? 0 : 1);
}

// Performance-critical path.
absl::Status NotVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                    size_t n, Column* out) {
  out->ResizeFixed(n);
  out->MergeNulls(args[0]);
  for (size_t k = 0; k < n; ++k) {
    out->Int64Data()[k] = TruthAt(args[0], k, fn.arg(0).eval_type()) == 1 ? 0 : 1;
  }
  return absl::OkStatus();
}

// kind: 0 IS TRUE, 1 IS FALSE, 2 IS NOT TRUE, 3 IS NOT FALSE, 4 IS NULL, 5 IS NOT NULL.
template <int kKind>
absl::StatusOr<Datum> IsRow(const ScalarFunction& fn, EvalContext* ctx,
                            std::span<const Datum> args) {
  uint8_t t = TruthOf(args[0]);
  bool r = false;
  switch (kKind) {
    case 0:
      r = t == 1;
      break;
    case 1:
      r = t == 0;
      break;
    case 2:
      r = t != 1;
      break;
    case 3:
      r = t != 0;
      break;
    case 4:
      r = args[0].IsNull();
      break;
    case 5:
      r = !args[0].IsNull();
      break;
  }
  return Datum::Int(r ? 1 : 0);
}

// Performance-critical path.
template <int kKind>
absl::Status IsVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                   size_t n, Column* out) {
  out->ResizeFixed(n);
  int64_t* o = out->Int64Data();
  for (size_t k = 0; k < n; ++k) {
    if (kKind >= 4) {
      o[k] = args[0].IsNull(k) == (kKind == 4);
      continue;
    }
    uint8_t t = TruthAt(args[0], k, fn.arg(0).eval_type());
    switch (kKind) {
      case 0:
        o[k] = t == 1;
        break;
      case 1:
        o[k] = t == 0;
        break;
      case 2:
        o[k] = t != 1;
        break;
      default:
        o[k] = t != 0;
        break;
    }
  }
  return absl::OkStatus();
}

template <int kKind>
absl::StatusOr<ExprPtr> IsBuilder(const std::string& name, std::vector<ExprPtr> args) {
  if (kKind < 4) args[0] = TruthArg(std::move(args[0]));
  FuncImpl impl;
  impl.row = IsRow<kKind>;
  impl.vec = IsVec<kKind>;
  impl.null_propagating = false;
  FieldType rt = BoolType();
  rt.flag |= kNotNullFlag;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl));
}

absl::StatusOr<ExprPtr> XorBuilder(const std::string& name, std::vector<ExprPtr> args) {
  for (ExprPtr& a : args) a = TruthArg(std::move(a));
  FuncImpl impl;
  impl.row = XorRow;
  return ExprPtr(std::make_unique<ScalarFunction>("xor", std::move(args), BoolType(), impl));
}

absl::StatusOr<ExprPtr> NotBuilder(const std::string& name, std::vector<ExprPtr> args) {
  args[0] = TruthArg(std::move(args[0]));
  FuncImpl impl;
  impl.row = NotRow;
  impl.vec = NotVec;
  return ExprPtr(std::make_unique<ScalarFunction>("not", std::move(args), BoolType(), impl));
}

// Common comparison class and collation of all arguments; wraps them.
FuncAux WrapAllForCompare(std::vector<ExprPtr>* args) {
  std::vector<FieldType> types;
  for (const ExprPtr& a : *args) types.push_back(a->type());
  FuncAux aux;
  aux.cmp_type = AggCmpEvalType(types);
  aux.collation = Collation::kBinary;
  bool first = true;
  for (const FieldType& t : types) {
    if (t.GetEvalType() != EvalType::kString || t.tp == TypeCode::kNull) continue;
    if (first) {
      aux.collation = t.collation;
      first = false;
    } else {
      FieldType acc = FieldType::Varchar(0, aux.collation);
      aux.collation = CmpCollation(acc, t);
    }
  }
  for (ExprPtr& a : *args) a = WrapCast(std::move(a), aux.cmp_type);
  return aux;
}

int Cmp(const ScalarFunction& fn, std::span<const Datum> args, size_t i, size_t j) {
  return CompareAs(fn.aux().cmp_type, args[i], fn.arg(i).type(), args[j], fn.arg(j).type(),
                   fn.aux().collation);
}

absl::StatusOr<Datum> BetweenRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  // x >= lo AND x <= hi with three-valued logic.
  uint8_t ge = (args[0].IsNull() || args[1].IsNull()) ? 2 : (Cmp(fn, args, 0, 1) >= 0 ? 1 : 0);
  uint8_t le = (args[0].IsNull() || args[2].IsNull()) ? 2 : (Cmp(fn, args, 0, 2) <= 0 ? 1 : 0);
  if (ge == 0 || le == 0) return Datum::Int(0);
  if (ge == 2 || le == 2) return Datum();
  return Datum::Int(1);
}

absl::StatusOr<ExprPtr> BetweenBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncAux aux = WrapAllForCompare(&args);
  FuncImpl impl;
  impl.row = BetweenRow;
  impl.null_propagating = false;
  return ExprPtr(
      std::make_unique<ScalarFunction>("between", std::move(args), BoolType(), impl, aux));
}

absl::StatusOr<Datum> InRow(const ScalarFunction& fn, EvalContext* ctx,
                            std::span<const Datum> args) {
  if (args[0].IsNull()) return Datum();
  bool saw_null = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].IsNull()) {
      saw_null = true;
      continue;
    }
    if (Cmp(fn, args, 0, i) == 0) return Datum::Int(1);
  }
  return saw_null ? Datum() : Datum::Int(0);
}

absl::StatusOr<ExprPtr> InBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncAux aux = WrapAllForCompare(&args);
  FuncImpl impl;
  impl.row = InRow;
  impl.null_propagating = false;
  return ExprPtr(std::make_unique<ScalarFunction>("in", std::move(args), BoolType(), impl, aux));
}

// ---- LIKE ----

struct PatternToken {
  enum Kind : uint8_t { kLiteral, kOne, kMany } kind;
  uint32_t rune;
};

uint32_t Weight(uint32_t r, Collation c) {
  return c == Collation::kUtf8mb4GeneralCi ? FoldRune(r) : r;
}

bool LikeMatch(std::string_view s, std::string_view p, int64_t escape, Collation c) {
  std::vector<uint32_t> str;
  std::vector<PatternToken> pat;
  size_t i = 0;
  if (c == Collation::kBinary) {
    for (char ch : s) str.push_back(static_cast<unsigned char>(ch));
  } else {
    while (i < s.size()) str.push_back(Weight(DecodeRune(s, &i), c));
  }
  i = 0;
  auto next = [&]() -> uint32_t {
    if (c == Collation::kBinary) return static_cast<unsigned char>(p[i++]);
    return DecodeRune(p, &i);
  };
  while (i < p.size()) {
    uint32_t r = next();
    if (escape >= 0 && r == static_cast<uint32_t>(escape) && i < p.size()) {
      pat.push_back({PatternToken::kLiteral, Weight(next(), c)});
    } else if (r == '%') {
      if (pat.empty() || pat.back().kind != PatternToken::kMany)
        pat.push_back({PatternToken::kMany, 0});
    } else if (r == '_') {
      pat.push_back({PatternToken::kOne, 0});
    } else {
      pat.push_back({PatternToken::kLiteral, Weight(r, c)});
    }
  }
  size_t si = 0, pi = 0;
  size_t star_p = SIZE_MAX, star_s = 0;
  while (si < str.size()) {
    if (pi < pat.size() && (pat[pi].kind == PatternToken::kOne ||
                            (pat[pi].kind == PatternToken::kLiteral && pat[pi].rune == str[si]))) {
      ++si;
      ++pi;
    } else if (pi < pat.size() && pat[pi].kind == PatternToken::kMany) {
      star_p = pi++;
      star_s = si;
    } else if (star_p != SIZE_MAX) {
      pi = star_p + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < pat.size() && pat[pi].kind == PatternToken::kMany) ++pi;
  return pi == pat.size();
}

absl::StatusOr<Datum> LikeRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  if (args[0].IsNull() || args[1].IsNull()) return Datum();
  int64_t escape = '\\';
  if (args.size() > 2) {
    if (args[2].IsNull()) {
      escape = '\\';
    } else {
      const std::string& e = args[2].GetString();
      if (e.empty()) {
        escape = -1;
      } else {
        size_t pos = 0;
        escape = DecodeRune(e, &pos);
        if (pos != e.size()) {
          return MySqlErrorStatus(kErWrongArguments, "Incorrect arguments to ESCAPE");
        }
      }
    }
  }
  return Datum::Int(
      LikeMatch(args[0].GetString(), args[1].GetString(), escape, fn.aux().collation) ? 1 : 0);
}

absl::StatusOr<ExprPtr> LikeBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncAux aux;
  aux.collation = CmpCollation(args[0]->type(), args[1]->type());
  for (ExprPtr& a : args) a = WrapCast(std::move(a), EvalType::kString);
  FuncImpl impl;
  impl.row = LikeRow;
  impl.null_propagating = false;
  return ExprPtr(std::make_unique<ScalarFunction>("like", std::move(args), BoolType(), impl, aux));
}

}  // namespace

void RegisterComparison(FunctionTable* t) {
  (*t)["eq"] = {2, 2, CmpBuilder<kEq>};
  (*t)["ne"] = {2, 2, CmpBuilder<kNe>};
  (*t)["lt"] = {2, 2, CmpBuilder<kLt>};
  (*t)["le"] = {2, 2, CmpBuilder<kLe>};
  (*t)["gt"] = {2, 2, CmpBuilder<kGt>};
  (*t)["ge"] = {2, 2, CmpBuilder<kGe>};
  (*t)["nulleq"] = {2, 2, CmpBuilder<kNullEq>};
  (*t)["and"] = {2, 2, LogicBuilder<true>};
  (*t)["or"] = {2, 2, LogicBuilder<false>};
  (*t)["xor"] = {2, 2, XorBuilder};
  (*t)["not"] = {1, 1, NotBuilder};
  (*t)["istrue"] = {1, 1, IsBuilder<0>};
  (*t)["isfalse"] = {1, 1, IsBuilder<1>};
  (*t)["isnottrue"] = {1, 1, IsBuilder<2>};
  (*t)["isnotfalse"] = {1, 1, IsBuilder<3>};
  (*t)["isnull"] = {1, 1, IsBuilder<4>};
  (*t)["isnotnull"] = {1, 1, IsBuilder<5>};
  (*t)["between"] = {3, 3, BetweenBuilder};
  (*t)["in"] = {2, -1, InBuilder};
  (*t)["like"] = {2, 3, LikeBuilder};
}

}  // namespace rutile::sql::expr
