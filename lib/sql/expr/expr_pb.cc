#include "sql/expr/expr_pb.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "sql/chunk/chunk.h"
#include "sql/expr/registry.h"

namespace rutile::sql::expr {
namespace {

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("sqlexprpb: ", what));
}

// Functions whose value depends on the session or the statement's clock, or on nothing
// at all (randomness): a coprocessor cannot reproduce them. Unregistered names are
// listed too so that registering one later does not make it pushable by accident.
bool SessionDependent(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "now",
      "current_timestamp",
      "localtime",
      "localtimestamp",
      "sysdate",
      "curdate",
      "current_date",
      "curtime",
      "current_time",
      "utc_timestamp",
      "utc_date",
      "utc_time",
      "unix_timestamp",
      "rand",
      "uuid",
      "uuid_short",
      "user",
      "current_user",
      "session_user",
      "system_user",
      "database",
      "schema",
      "connection_id",
      "last_insert_id",
      "found_rows",
      "row_count",
      "sleep",
      "get_lock",
      "release_lock",
      "version",
      "getvar",
      "setvar",
      "benchmark",
      "current_role",
      "is_free_lock",
      "is_used_lock",
      "release_all_locks",
      "values",
  };
  for (std::string_view n : kNames) {
    if (n == name) return true;
  }
  return false;
}

// The argument a builder was given, before the implicit CAST it wrapped it in.
const Expression& Unwrapped(const Expression& e) {
  const auto* f = dynamic_cast<const ScalarFunction*>(&e);
  if (f != nullptr && f->name() == "cast" && f->aux().implicit_cast && f->num_args() == 1) {
    return f->arg(0);
  }
  return e;
}

bool KnownTypeCode(int32_t tp) {
  switch (tp) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 15:
    case 16:
    case 245:
    case 246:
    case 247:
    case 248:
    case 249:
    case 250:
    case 251:
    case 252:
    case 253:
    case 254:
      return true;
    default:
      return false;  // 255 GEOMETRY is not supported either.
  }
}

constexpr Collation kCollations[] = {Collation::kBinary, Collation::kUtf8mb4Bin,
                                     Collation::kUtf8mb4GeneralCi};

const char* CharsetOf(Collation c) { return c == Collation::kBinary ? "binary" : "utf8mb4"; }

absl::Status ToPb(const Expression& e, sqlexprpb::Expr* out) {
  FieldTypeToPb(e.type(), out->mutable_field_type());
  if (const auto* c = dynamic_cast<const ColumnRef*>(&e)) {
    out->set_tp(sqlexprpb::COLUMN_REF);
    out->set_column_offset(static_cast<uint32_t>(c->index()));
    return absl::OkStatus();
  }
  if (const auto* k = dynamic_cast<const Constant*>(&e)) {
    out->set_tp(sqlexprpb::CONSTANT);
    return DatumToPb(k->value(), out->mutable_constant());
  }
  const auto* f = dynamic_cast<const ScalarFunction*>(&e);
  if (f == nullptr) {
    return absl::UnimplementedError(absl::StrCat("cannot push down ", e.ToString()));
  }
  out->set_tp(sqlexprpb::SCALAR_FUNC);
  out->set_func(f->name());
  if (f->name() == "cast") {
    if (f->num_args() != 1) return absl::InternalError("cast without exactly one argument");
    return ToPb(f->arg(0), out->add_children());
  }
  if (f->name() == "nullif") {
    // Built as (a, a converted for comparing, b converted): the call was (a, b).
    if (f->num_args() != 3) return absl::InternalError("nullif not built with 3 arguments");
    if (absl::Status st = ToPb(f->arg(0), out->add_children()); !st.ok()) return st;
    return ToPb(Unwrapped(f->arg(2)), out->add_children());
  }
  for (size_t i = 0; i < f->num_args(); ++i) {
    if (absl::Status st = ToPb(Unwrapped(f->arg(i)), out->add_children()); !st.ok()) return st;
  }
  return absl::OkStatus();
}

// Same physical layout in a chunk.
bool SameLayout(const FieldType& a, const FieldType& b) {
  return PhysicalTypeOf(a) == PhysicalTypeOf(b);
}

absl::StatusOr<ExprPtr> FromPb(const sqlexprpb::Expr& pb, std::span<const FieldType> input_types,
                               int depth);

// A column reference or a constant.
__attribute__((noinline)) absl::StatusOr<ExprPtr> LeafFromPb(
    const sqlexprpb::Expr& pb, std::span<const FieldType> input_types) {
  absl::StatusOr<FieldType> type = FieldTypeFromPb(pb.field_type());
  if (!type.ok()) return type.status();
  switch (pb.tp()) {
    case sqlexprpb::COLUMN_REF: {
      if (pb.children_size() != 0) return Bad("column reference with children");
      uint32_t off = pb.column_offset();
      if (off >= input_types.size()) {
        return Bad(absl::StrCat("column offset ", off, " out of range (input has ",
                                input_types.size(), " columns)"));
      }
      if (!SameLayout(*type, input_types[off])) {
        return Bad(absl::StrCat("column ", off, " typed ", type->ToString(), " but the input is ",
                                input_types[off].ToString()));
      }
      return NewColumn(off, *type, absl::StrCat("column#", off));
    }
    case sqlexprpb::CONSTANT: {
      if (pb.children_size() != 0) return Bad("constant with children");
      if (!pb.has_constant()) return Bad("constant without a value");
      absl::StatusOr<Datum> d = DatumFromPb(pb.constant());
      if (!d.ok()) return d.status();
      // Only the canonical kind of the type travels; anything else is a bad datum.
      if (!Canonicalize(*d, *type).IdenticalTo(*d)) {
        return Bad(absl::StrCat("constant ", d->DebugString(), " is not a value of type ",
                                type->ToString()));
      }
      return NewConstant(*d, *type);
    }
    default:
      return Bad(absl::StrCat("unknown expression kind ", static_cast<int>(pb.tp())));
  }
}

// A function call's own fields, before its arguments are decoded.
__attribute__((noinline)) absl::Status CheckFunctionPb(const sqlexprpb::Expr& pb) {
  absl::StatusOr<FieldType> type = FieldTypeFromPb(pb.field_type());
  if (!type.ok()) return type.status();
  const std::string& name = pb.func();
  if (name.empty()) return Bad("function call without a name");
  if (name != "cast" && (!FunctionExists(name) || SessionDependent(name))) {
    return Bad(absl::StrCat("function '", name, "' cannot be evaluated by a coprocessor"));
  }
  return absl::OkStatus();
}

// The call of `pb` (checked by CheckFunctionPb) over its decoded arguments.
__attribute__((noinline)) absl::StatusOr<ExprPtr> FunctionOfPb(const sqlexprpb::Expr& pb,
                                                               std::vector<ExprPtr> args) {
  absl::StatusOr<FieldType> type = FieldTypeFromPb(pb.field_type());
  if (!type.ok()) return type.status();
  const std::string& name = pb.func();
  if (name == "cast") {
    if (args.size() != 1) return Bad("cast needs exactly one argument");
    if (type->tp == TypeCode::kNull) return Bad("cast to NULL type");
    return NewCast(std::move(args[0]), *type);
  }
  absl::StatusOr<ExprPtr> e = NewFunction(name, std::move(args));
  if (!e.ok()) {
    if (e.status().code() == absl::StatusCode::kInvalidArgument) return e.status();
    return Bad(absl::StrCat("function '", name, "': ", e.status().message()));
  }
  if (!((*e)->type() == *type)) {
    return Bad(absl::StrCat("function '", name, "' rebuilt as ", (*e)->type().ToString(),
                            " but the sender typed it ", type->ToString()));
  }
  return e;
}

// The recursion of a deep expression goes through FromPb and FunctionFromPb only: both
// keep small frames (the checks and the rebuilding live in the functions above).
__attribute__((noinline)) absl::StatusOr<ExprPtr> FunctionFromPb(
    const sqlexprpb::Expr& pb, std::span<const FieldType> input_types, int depth) {
  if (absl::Status st = CheckFunctionPb(pb); !st.ok()) return st;
  std::vector<ExprPtr> args;
  args.reserve(pb.children_size());
  for (const sqlexprpb::Expr& c : pb.children()) {
    absl::StatusOr<ExprPtr> a = FromPb(c, input_types, depth + 1);
    if (!a.ok()) return a.status();
    args.push_back(*std::move(a));
  }
  return FunctionOfPb(pb, std::move(args));
}

__attribute__((noinline)) absl::Status TooDeep() {
  return Bad(absl::StrCat("expression nested deeper than ", kMaxExprDepth));
}

absl::StatusOr<ExprPtr> FromPb(const sqlexprpb::Expr& pb, std::span<const FieldType> input_types,
                               int depth) {
  if (depth > kMaxExprDepth) return TooDeep();
  if (!pb.has_field_type()) return Bad("expression without a field_type");
  if (pb.tp() == sqlexprpb::SCALAR_FUNC) return FunctionFromPb(pb, input_types, depth);
  return LeafFromPb(pb, input_types);
}

const char* AggName(AggKind k) {
  switch (k) {
    case AggKind::kCount:
      return "count";
    case AggKind::kSum:
      return "sum";
    case AggKind::kAvg:
      return "avg";
    case AggKind::kMin:
      return "min";
    case AggKind::kMax:
      return "max";
    case AggKind::kGroupConcat:
      return "group_concat";
  }
  return "";
}

}  // namespace

bool CanPushDown(const Expression& e) {
  if (dynamic_cast<const ColumnRef*>(&e) != nullptr) return true;
  if (const auto* k = dynamic_cast<const Constant*>(&e)) {
    DatumKind kind = k->value().kind();
    return kind != DatumKind::kMinNotNull && kind != DatumKind::kMaxValue;
  }
  const auto* f = dynamic_cast<const ScalarFunction*>(&e);
  if (f == nullptr) return false;
  if (f->name() != "cast" && (!FunctionExists(f->name()) || SessionDependent(f->name()))) {
    return false;
  }
  for (size_t i = 0; i < f->num_args(); ++i) {
    if (!CanPushDown(f->arg(i))) return false;
  }
  return true;
}

absl::Status ExprToPb(const Expression& e, sqlexprpb::Expr* out) {
  out->Clear();
  if (!CanPushDown(e)) {
    return absl::UnimplementedError(
        absl::StrCat("expression cannot be evaluated by a coprocessor: ", e.ToString()));
  }
  return ToPb(e, out);
}

absl::StatusOr<ExprPtr> ExprFromPb(const sqlexprpb::Expr& pb,
                                   std::span<const FieldType> input_types) {
  return FromPb(pb, input_types, 0);
}

bool CanPushDownAgg(const AggDesc& desc, std::span<const ExprPtr> args) {
  if (args.size() != desc.arg_types.size()) return false;
  for (const ExprPtr& a : args) {
    if (a == nullptr || !CanPushDown(*a)) return false;
  }
  return true;
}

absl::Status AggToPb(const AggDesc& desc, std::span<const ExprPtr> args, sqlexprpb::AggFunc* out) {
  out->Clear();
  if (args.size() != desc.arg_types.size()) {
    return absl::InvalidArgumentError(absl::StrCat("aggregate ", AggName(desc.kind), " has ",
                                                   desc.arg_types.size(), " argument types but ",
                                                   args.size(), " arguments"));
  }
  out->set_kind(static_cast<sqlexprpb::AggKind>(desc.kind));
  out->set_distinct(desc.distinct);
  for (const ExprPtr& a : args) {
    if (a == nullptr) return absl::InvalidArgumentError("null aggregate argument");
    if (absl::Status st = ExprToPb(*a, out->add_args()); !st.ok()) return st;
  }
  FieldTypeToPb(desc.result_type, out->mutable_result_type());
  out->set_separator(desc.separator);
  out->set_max_len(desc.max_len);
  for (bool d : desc.order_desc) out->add_order_desc(d);
  for (const FieldType& t : PartialTypes(desc)) FieldTypeToPb(t, out->add_partial_types());
  return absl::OkStatus();
}

absl::StatusOr<AggCall> AggFromPb(const sqlexprpb::AggFunc& pb,
                                  std::span<const FieldType> input_types) {
  int kind = static_cast<int>(pb.kind());
  if (kind < static_cast<int>(AggKind::kCount) || kind > static_cast<int>(AggKind::kGroupConcat)) {
    return Bad(absl::StrCat("unknown aggregate kind ", kind));
  }
  AggCall call;
  std::vector<FieldType> arg_types;
  for (const sqlexprpb::Expr& a : pb.args()) {
    absl::StatusOr<ExprPtr> e = ExprFromPb(a, input_types);
    if (!e.ok()) return e.status();
    arg_types.push_back((*e)->type());
    call.args.push_back(std::move(*e));
  }
  absl::StatusOr<AggDesc> desc =
      NewAggDesc(AggName(static_cast<AggKind>(kind)), std::move(arg_types), pb.distinct(),
                 std::vector<bool>(pb.order_desc().begin(), pb.order_desc().end()));
  if (!desc.ok()) return desc.status();
  if (!pb.has_result_type()) return Bad("aggregate without a result_type");
  absl::StatusOr<FieldType> rt = FieldTypeFromPb(pb.result_type());
  if (!rt.ok()) return rt.status();
  if (!(*rt == desc->result_type)) {
    return Bad(absl::StrCat("aggregate ", AggName(desc->kind), " rebuilt as ",
                            desc->result_type.ToString(), " but the sender typed it ",
                            rt->ToString()));
  }
  if (pb.max_len() == 0 || pb.max_len() > (uint64_t{1} << 32)) {
    return Bad(absl::StrCat("bad group_concat max_len ", pb.max_len()));
  }
  desc->separator = pb.separator();
  desc->max_len = static_cast<size_t>(pb.max_len());
  if (pb.partial_types_size() > 0) {
    std::vector<FieldType> want = PartialTypes(*desc);
    bool same = want.size() == static_cast<size_t>(pb.partial_types_size());
    for (size_t i = 0; same && i < want.size(); ++i) {
      absl::StatusOr<FieldType> t = FieldTypeFromPb(pb.partial_types(static_cast<int>(i)));
      same = t.ok() && *t == want[i];
    }
    if (!same) return Bad(absl::StrCat("aggregate ", AggName(desc->kind), " partial types differ"));
  }
  call.desc = std::move(*desc);
  return call;
}

void FieldTypeToPb(const FieldType& ft, sqlexprpb::FieldType* out) {
  out->set_tp(static_cast<int32_t>(ft.tp));
  out->set_flag(ft.flag);
  out->set_flen(ft.flen);
  out->set_decimal(ft.decimal);
  out->set_collation(CollationId(ft.collation));
  out->set_charset(std::string(CharsetOf(ft.collation)));
}

absl::StatusOr<FieldType> FieldTypeFromPb(const sqlexprpb::FieldType& pb) {
  if (!KnownTypeCode(pb.tp())) return Bad(absl::StrCat("unknown type code ", pb.tp()));
  FieldType ft;
  ft.tp = static_cast<TypeCode>(pb.tp());
  ft.flag = pb.flag();
  // Any non-negative int32 is a length: LONGBLOB/LONGTEXT columns carry 2^31-1 (the
  // largest length FieldType holds), and they reach the coprocessor as scan columns.
  if (pb.flen() < kUnspecifiedLength) {
    return Bad(absl::StrCat("bad type length ", pb.flen()));
  }
  ft.flen = pb.flen();
  if (pb.decimal() < kUnspecifiedLength || pb.decimal() > 31) {
    return Bad(absl::StrCat("bad type decimals ", pb.decimal()));
  }
  ft.decimal = pb.decimal();
  if (ft.tp == TypeCode::kNewDecimal &&
      (ft.flen > kMaxDecimalPrecision || ft.decimal > kMaxDecimalScale)) {
    return Bad(absl::StrCat("bad decimal type (", ft.flen, ",", ft.decimal, ")"));
  }
  if (ft.IsTemporal() && ft.decimal > kMaxFsp) {
    return Bad(absl::StrCat("bad fractional-second precision ", ft.decimal));
  }
  bool found = false;
  for (Collation c : kCollations) {
    if (CollationId(c) == pb.collation()) {
      ft.collation = c;
      found = true;
    }
  }
  if (!found) return Bad(absl::StrCat("unknown collation id ", pb.collation()));
  if (!pb.charset().empty() && pb.charset() != CharsetOf(ft.collation)) {
    return Bad(absl::StrCat("charset ", pb.charset(), " does not go with collation ",
                            std::string(CollationName(ft.collation))));
  }
  return ft;
}

absl::Status DatumToPb(const Datum& d, sqlexprpb::Datum* out) {
  out->Clear();
  switch (d.kind()) {
    case DatumKind::kNull:
      out->set_null(true);
      return absl::OkStatus();
    case DatumKind::kInt64:
      out->set_i64(d.GetInt64());
      return absl::OkStatus();
    case DatumKind::kUint64:
      out->set_u64(d.GetUint64());
      return absl::OkStatus();
    case DatumKind::kFloat32:
      out->set_f32(static_cast<float>(d.GetDouble()));
      return absl::OkStatus();
    case DatumKind::kFloat64:
      out->set_f64(d.GetDouble());
      return absl::OkStatus();
    case DatumKind::kDecimal:
      out->set_decimal(d.GetDecimal().ToString());
      return absl::OkStatus();
    case DatumKind::kString:
      out->set_bytes(std::string(d.GetString()));
      return absl::OkStatus();
    case DatumKind::kTime: {
      const Time& t = d.GetTime();
      out->mutable_time()->set_packed(t.Pack());
      out->mutable_time()->set_type(static_cast<int32_t>(t.type));
      out->mutable_time()->set_fsp(t.fsp);
      return absl::OkStatus();
    }
    case DatumKind::kDuration:
      out->mutable_duration()->set_micros(d.GetDuration().micros);
      out->mutable_duration()->set_fsp(d.GetDuration().fsp);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("datum ", d.DebugString(), " has no wire form"));
  }
}

absl::StatusOr<Datum> DatumFromPb(const sqlexprpb::Datum& pb) {
  switch (pb.value_case()) {
    case sqlexprpb::Datum::kNull:
      if (!pb.null()) return Bad("datum null=false");
      return Datum();
    case sqlexprpb::Datum::kI64:
      return Datum::Int(pb.i64());
    case sqlexprpb::Datum::kU64:
      return Datum::Uint(pb.u64());
    case sqlexprpb::Datum::kF32:
      return Datum::Float(pb.f32());
    case sqlexprpb::Datum::kF64:
      return Datum::Double(pb.f64());
    case sqlexprpb::Datum::kDecimal: {
      Decimal dec;
      size_t consumed = 0;
      DecimalStatus st = Decimal::Parse(pb.decimal(), &dec, &consumed);
      if (st != DecimalStatus::kOk || consumed != pb.decimal().size() || pb.decimal().empty()) {
        return Bad(absl::StrCat("bad decimal datum '", pb.decimal(), "'"));
      }
      return Datum::Dec(dec);
    }
    case sqlexprpb::Datum::kBytes:
      return Datum::String(pb.bytes());
    case sqlexprpb::Datum::kTime: {
      const sqlexprpb::TimeValue& t = pb.time();
      if (t.type() < 0 || t.type() > static_cast<int32_t>(TimeType::kTimestamp) || t.fsp() < 0 ||
          t.fsp() > kMaxFsp) {
        return Bad(absl::StrCat("bad time datum type ", t.type(), " fsp ", t.fsp()));
      }
      Time v = Time::Unpack(t.packed(), static_cast<TimeType>(t.type()), t.fsp());
      // Field ranges only: zero months/days are legal without NO_ZERO_IN_DATE.
      if (t.packed() >> 60 != 0 || v.year > 9999 || v.month > 12 || v.day > 31 || v.hour > 23 ||
          v.minute > 59 || v.second > 59 || v.micro > 999999 || v.Pack() != t.packed()) {
        return Bad(absl::StrCat("bad time datum ", t.packed()));
      }
      return Datum::FromTime(v);
    }
    case sqlexprpb::Datum::kDuration: {
      const sqlexprpb::DurationValue& d = pb.duration();
      if (d.micros() > Duration::kMaxMicros || d.micros() < -Duration::kMaxMicros || d.fsp() < 0 ||
          d.fsp() > kMaxFsp) {
        return Bad(absl::StrCat("bad duration datum ", d.micros(), " fsp ", d.fsp()));
      }
      Duration v;
      v.micros = d.micros();
      v.fsp = static_cast<int8_t>(d.fsp());
      return Datum::FromDuration(v);
    }
    default:
      return Bad("datum without a value");
  }
}

void EvalConfigToPb(const EvalContext& ctx, sqlexprpb::EvalConfig* out) {
  out->Clear();
  const SqlMode& m = ctx.sql_mode;
  uint32_t bits = 0;
  bits |= m.strict_trans_tables ? 1u : 0u;
  bits |= m.strict_all_tables ? 2u : 0u;
  bits |= m.error_for_division_by_zero ? 4u : 0u;
  bits |= m.no_zero_date ? 8u : 0u;
  bits |= m.no_zero_in_date ? 16u : 0u;
  bits |= m.no_unsigned_subtraction ? 32u : 0u;
  bits |= m.pipes_as_concat ? 64u : 0u;
  bits |= m.only_full_group_by ? 128u : 0u;
  out->set_sql_mode(bits);
  out->set_strict_writes(ctx.strict_writes);
  out->mutable_now()->set_packed(ctx.now.Pack());
  out->mutable_now()->set_type(static_cast<int32_t>(ctx.now.type));
  out->mutable_now()->set_fsp(ctx.now.fsp);
  out->set_max_allowed_packet(ctx.max_allowed_packet);
  out->set_max_warnings(ctx.max_warnings);
}

absl::Status EvalConfigFromPb(const sqlexprpb::EvalConfig& pb, EvalContext* ctx) {
  if (pb.sql_mode() >> 8 != 0) return Bad(absl::StrCat("unknown sql_mode bits ", pb.sql_mode()));
  if (pb.max_allowed_packet() <= 0) {
    return Bad(absl::StrCat("bad max_allowed_packet ", pb.max_allowed_packet()));
  }
  Time now;
  if (pb.has_now()) {
    sqlexprpb::Datum d;
    *d.mutable_time() = pb.now();
    absl::StatusOr<Datum> t = DatumFromPb(d);
    if (!t.ok()) return t.status();
    now = t->GetTime();
  } else {
    now = EvalContext().now;
  }
  uint32_t b = pb.sql_mode();
  SqlMode m;
  m.strict_trans_tables = (b & 1) != 0;
  m.strict_all_tables = (b & 2) != 0;
  m.error_for_division_by_zero = (b & 4) != 0;
  m.no_zero_date = (b & 8) != 0;
  m.no_zero_in_date = (b & 16) != 0;
  m.no_unsigned_subtraction = (b & 32) != 0;
  m.pipes_as_concat = (b & 64) != 0;
  m.only_full_group_by = (b & 128) != 0;
  ctx->sql_mode = m;
  ctx->strict_writes = pb.strict_writes();
  ctx->now = now;
  ctx->max_allowed_packet = pb.max_allowed_packet();
  ctx->max_warnings = static_cast<size_t>(pb.max_warnings());
  return absl::OkStatus();
}

}  // namespace rutile::sql::expr
