// Expressions and aggregates through protobuf (lib/sql/expr/expr_pb.h):
//  - every registered builtin, called on random arguments over random typed columns
//    (NULLs, unsigned, decimals, floats, times, durations, three collations), survives
//    ExprToPb -> bytes -> ExprFromPb with the same structure and type, and the decoded
//    expression gives identical values, warnings and errors as the original, row at a
//    time and vectorized, on random chunks and selections;
//  - aggregates: partial states over random splits of the rows, their partial results
//    through the wire and merged, equal the one-phase aggregate;
//  - malformed protobufs are InvalidArgument, and random mutations of valid ones never
//    crash.

#include "sql/expr/expr_pb.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "absl/strings/str_split.h"
#include "expr_test_util.h"
#include "gtest/gtest.h"
#include "sql/expr/registry.h"

namespace rutile::sql::expr {
namespace {

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  int Uniform(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool Chance(int percent) { return Uniform(100) < percent; }

  static std::vector<FieldType> Types() {
    return {FieldType::LongLong(),
            FieldType::LongLong(true),
            FieldType::Double(),
            FieldType::NewDecimal(10, 2),
            FieldType::Varchar(20, Collation::kUtf8mb4GeneralCi),
            FieldType::Varchar(20, Collation::kUtf8mb4Bin),
            FieldType::VarBinary(20),
            FieldType::Date(),
            FieldType::Datetime(3),
            FieldType::Duration(0),
            FieldType::Int(TypeCode::kLong),
            FieldType::Float()};
  }

  std::string RandomString() {
    static const char* kPool[] = {"10",  "1e2",  "abc",        "",     " a",
                                  "A",   "é",    "2024-01-02", "-3.5", "0",
                                  "a_c", "ABC ", "12:30:00",   "x%y",  "9223372036854775807",
                                  "Zz",  "1.25", "%Y-%m",      "DAY",  "3"};
    return kPool[Uniform(sizeof(kPool) / sizeof(kPool[0]))];
  }

  Datum RandomValue(const FieldType& ft) {
    if (Chance(15)) return Datum();
    switch (ft.GetEvalType()) {
      case EvalType::kInt:
        if (ft.IsUnsigned()) {
          if (Chance(5)) return Datum::Uint(UINT64_MAX);
          return Datum::Uint(static_cast<uint64_t>(Uniform(40)));
        }
        if (ft.tp == TypeCode::kLong) return Datum::Int(Uniform(201) - 100);
        if (Chance(4)) return Datum::Int(Chance(50) ? INT64_MAX : INT64_MIN);
        return Datum::Int(Uniform(41) - 20);
      case EvalType::kReal:
        if (ft.tp == TypeCode::kFloat) return Datum::Float((Uniform(2001) - 1000) / 8.0f);
        if (Chance(3)) return Datum::Double(1e300);
        return Datum::Double((Uniform(20001) - 10000) / 64.0);
      case EvalType::kDecimal: {
        Decimal d, r;
        Decimal::Parse(std::to_string(Uniform(200001) - 100000) + "e-2", &d);
        d.Rescale(2, &r);
        return Datum::Dec(r);
      }
      case EvalType::kString:
        return Datum::String(RandomString());
      case EvalType::kDatetime:
        if (ft.tp == TypeCode::kDate) {
          return Datum::FromTime(
              Time::FromDate(2000 + Uniform(30), 1 + Uniform(12), 1 + Uniform(28)));
        }
        return Datum::FromTime(Time::FromDatetime(2000 + Uniform(30), 1 + Uniform(12),
                                                  1 + Uniform(28), Uniform(24), Uniform(60),
                                                  Uniform(60), Uniform(1000) * 1000, 3));
      case EvalType::kDuration: {
        Duration d;
        d.micros = (static_cast<int64_t>(Uniform(720001)) - 360000) * 1000000;
        return Datum::FromDuration(d);
      }
      default:
        return Datum();
    }
  }

  Chunk RandomChunk(const std::vector<FieldType>& types, int max_rows = 30) {
    Chunk c(types);
    int rows = Chance(5) ? 0 : 1 + Uniform(max_rows);
    for (int r = 0; r < rows; ++r) {
      std::vector<Datum> row;
      for (const FieldType& t : types) row.push_back(RandomValue(t));
      EXPECT_TRUE(c.AppendRow(row));
    }
    return c;
  }

  ExprPtr Leaf(const std::vector<FieldType>& types) {
    if (Chance(65)) {
      size_t i = static_cast<size_t>(Uniform(static_cast<int>(types.size())));
      return NewColumn(i, types[i]);
    }
    switch (Uniform(9)) {
      case 0:
        return NewNull();
      case 1:
        return NewInt(Uniform(21) - 10);
      case 2:
        return *NewDecimalLiteral(Chance(50) ? "2.50" : "-0.125");
      case 3:
        return NewDouble(Chance(50) ? 0.5 : 3);
      case 4:
        return NewString(RandomString(), Chance(70) ? kDefaultCollation : Collation::kUtf8mb4Bin);
      case 5:
        return NewUint(Chance(80) ? 3 : UINT64_MAX);
      case 6:
        return NewConstant(RandomValue(FieldType::Datetime(3)), FieldType::Datetime(3));
      case 7:
        return NewConstant(RandomValue(FieldType::Duration(0)), FieldType::Duration(0));
      default:
        return NewConstant(RandomValue(FieldType::Float()), FieldType::Float());
    }
  }

  FieldType RandomCastTarget() {
    static const FieldType kTargets[] = {
        FieldType::LongLong(),  FieldType::LongLong(true), FieldType::NewDecimal(8, 3),
        FieldType::Varchar(3),  FieldType::Varchar(-1),    FieldType::Date(),
        FieldType::Datetime(2), FieldType::Duration(0),    FieldType::Double(),
        FieldType::Float(),     FieldType::VarBinary(4)};
    return kTargets[Uniform(sizeof(kTargets) / sizeof(kTargets[0]))];
  }

  // A call of `name` with `n` random arguments of depth < depth (may fail to build).
  absl::StatusOr<ExprPtr> Call(const std::string& name, int n, const std::vector<FieldType>& types,
                               int depth) {
    std::vector<ExprPtr> args;
    for (int i = 0; i < n; ++i) args.push_back(Expr(types, depth - 1));
    if ((name == "date_add" || name == "date_sub" || name == "adddate" || name == "subdate") &&
        n == 3) {
      static const char* kUnits[] = {"DAY",        "month",         "HOUR",       "SECOND",
                                     "YEAR_MONTH", "MINUTE_SECOND", "MICROSECOND"};
      args[2] = NewString(kUnits[Uniform(7)]);
    }
    if (name == "date_format" && n == 2 && Chance(70)) args[1] = NewString("%Y-%m-%d %H:%i %W");
    return NewFunction(name, std::move(args));
  }

  ExprPtr Expr(const std::vector<FieldType>& types, int depth) {
    if (depth <= 0 || Chance(40)) return Leaf(types);
    if (Chance(10)) return NewCast(Expr(types, depth - 1), RandomCastTarget());
    static const char* kFns[] = {"plus",   "minus",     "mul",   "div",  "eq",       "lt",
                                 "and",    "or",        "not",   "case", "if",       "ifnull",
                                 "concat", "substring", "upper", "abs",  "round",    "year",
                                 "nullif", "coalesce",  "in",    "like", "greatest", "date_add"};
    static const int kArity[] = {2, 2, 2, 2, 2, 2, 2, 2, 1, 3, 3, 2,
                                 2, 3, 1, 1, 2, 1, 2, 3, 3, 2, 2, 3};
    int f = Uniform(sizeof(kFns) / sizeof(kFns[0]));
    absl::StatusOr<ExprPtr> e = Call(kFns[f], kArity[f], types, depth);
    if (!e.ok()) return Leaf(types);
    return std::move(*e);
  }

  std::mt19937_64 rng_;
};

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The wire: serialize to bytes and parse back.
sqlexprpb::Expr ThroughBytes(const sqlexprpb::Expr& pb) {
  std::string bytes;
  EXPECT_TRUE(pb.SerializeToString(&bytes));
  sqlexprpb::Expr out;
  EXPECT_TRUE(out.ParseFromString(bytes));
  return out;
}

struct Outcome {
  bool error = false;
  std::string error_text;
  std::vector<Datum> values;
  std::vector<std::string> warnings;
};

Outcome RunRows(const Expression& e, const Chunk& chunk, const Sel* sel, const EvalContext& proto) {
  EvalContext ctx = proto;
  Outcome o;
  size_t n = sel ? sel->size() : chunk.NumRows();
  for (size_t k = 0; k < n; ++k) {
    absl::StatusOr<Datum> v = e.Eval(&ctx, chunk, sel ? (*sel)[k] : k);
    if (!v.ok()) {
      o.error = true;
      o.error_text = v.status().ToString();
      break;
    }
    o.values.push_back(std::move(*v));
  }
  o.warnings = Sorted(testing::WarningTexts(ctx));
  return o;
}

Outcome RunVec(const Expression& e, const Chunk& chunk, const Sel* sel, const EvalContext& proto) {
  EvalContext ctx = proto;
  Outcome o;
  Column out;
  absl::Status st = e.EvalChunk(&ctx, chunk, sel, &out);
  if (!st.ok()) {
    o.error = true;
    o.error_text = st.ToString();
  } else {
    for (size_t k = 0; k < out.size(); ++k) o.values.push_back(out.GetDatum(k, e.type()));
  }
  o.warnings = Sorted(testing::WarningTexts(ctx));
  return o;
}

void ExpectSame(const Outcome& a, const Outcome& b, const std::string& what) {
  ASSERT_EQ(a.error, b.error) << what << " " << a.error_text << " / " << b.error_text;
  ASSERT_EQ(a.error_text, b.error_text) << what;
  ASSERT_EQ(a.values.size(), b.values.size()) << what;
  for (size_t k = 0; k < a.values.size(); ++k) {
    ASSERT_TRUE(a.values[k].IdenticalTo(b.values[k]))
        << what << " row " << k << ": " << a.values[k].DebugString() << " vs "
        << b.values[k].DebugString();
  }
  ASSERT_EQ(a.warnings, b.warnings) << what;
}

bool NotPushable(const std::string& name) {
  for (const char* n : {"now", "current_timestamp", "localtime", "localtimestamp", "sysdate",
                        "curdate", "current_date", "curtime", "current_time"}) {
    if (name == n) return true;
  }
  return false;
}

TEST(ExprPbTest, EveryBuiltinRoundTripsAndEvaluatesIdentically) {
  Gen g(0xe7b5);
  const std::vector<FieldType> types = Gen::Types();
  EvalContext proto;
  proto.now = Time::FromDatetime(2024, 2, 29, 12, 0, 0);
  proto.max_allowed_packet = 4096;
  // The context travels too.
  sqlexprpb::EvalConfig cfg;
  EvalConfigToPb(proto, &cfg);
  EvalContext remote;
  ASSERT_TRUE(EvalConfigFromPb(cfg, &remote).ok());
  ASSERT_EQ(remote.now.Pack(), proto.now.Pack());
  ASSERT_EQ(remote.max_allowed_packet, proto.max_allowed_packet);

  std::vector<std::string> names = FunctionNames();
  ASSERT_GT(names.size(), 80u);
  std::map<std::string, int> built;
  Chunk chunk = g.RandomChunk(types);
  int cases = 0, errors = 0;
  for (const std::string& name : names) {
    for (int iter = 0; iter < 60; ++iter) {
      if (g.Chance(10)) chunk = g.RandomChunk(types);
      absl::StatusOr<ExprPtr> built_e = g.Call(name, g.Uniform(5), types, 1 + g.Uniform(3));
      if (!built_e.ok()) continue;
      const Expression& e = **built_e;
      ++built[name];
      if (NotPushable(name)) {
        ASSERT_FALSE(CanPushDown(e)) << e.ToString();
        sqlexprpb::Expr pb;
        ASSERT_EQ(ExprToPb(e, &pb).code(), absl::StatusCode::kUnimplemented);
        continue;
      }
      ASSERT_TRUE(CanPushDown(e)) << e.ToString();
      sqlexprpb::Expr pb;
      absl::Status st = ExprToPb(e, &pb);
      ASSERT_TRUE(st.ok()) << e.ToString() << ": " << st;
      absl::StatusOr<ExprPtr> back = ExprFromPb(ThroughBytes(pb), types);
      ASSERT_TRUE(back.ok()) << e.ToString() << ": " << back.status() << "\n" << pb.DebugString();
      ASSERT_EQ((*back)->ToString(), e.ToString());
      ASSERT_EQ((*back)->type(), e.type()) << e.ToString();
      // Encoding the decoded expression gives the same bytes.
      sqlexprpb::Expr again;
      ASSERT_TRUE(ExprToPb(**back, &again).ok());
      ASSERT_EQ(again.SerializeAsString(), pb.SerializeAsString()) << e.ToString();

      std::optional<Sel> sel;
      if (g.Chance(50)) {
        Sel s;
        for (uint32_t r = 0; r < chunk.NumRows(); ++r) {
          if (g.Chance(60)) s.push_back(r);
        }
        sel = std::move(s);
      }
      const Sel* selp = sel ? &*sel : nullptr;
      Outcome a = RunRows(e, chunk, selp, proto);
      Outcome b = RunRows(**back, chunk, selp, remote);
      ExpectSame(a, b, "row " + e.ToString());
      Outcome va = RunVec(e, chunk, selp, proto);
      Outcome vb = RunVec(**back, chunk, selp, remote);
      ExpectSame(va, vb, "vec " + e.ToString());
      ++cases;
      errors += a.error ? 1 : 0;
    }
  }
  // Every builtin was exercised.
  for (const std::string& name : names) EXPECT_GT(built[name], 0) << name;
  EXPECT_GT(errors, 10);
  std::printf("functions=%zu cases=%d errors=%d\n", names.size(), cases, errors);
}

TEST(ExprPbTest, RandomNestedExpressionsRoundTrip) {
  Gen g(0xbeef);
  const std::vector<FieldType> types = Gen::Types();
  EvalContext proto;
  int cases = 0;
  for (int iter = 0; iter < 600; ++iter) {
    ExprPtr e = g.Expr(types, 4);
    ASSERT_TRUE(CanPushDown(*e));
    sqlexprpb::Expr pb;
    ASSERT_TRUE(ExprToPb(*e, &pb).ok()) << e->ToString();
    absl::StatusOr<ExprPtr> back = ExprFromPb(ThroughBytes(pb), types);
    ASSERT_TRUE(back.ok()) << e->ToString() << ": " << back.status();
    ASSERT_EQ((*back)->ToString(), e->ToString());
    Chunk chunk = g.RandomChunk(types, 10);
    ExpectSame(RunVec(*e, chunk, nullptr, proto), RunVec(**back, chunk, nullptr, proto),
               e->ToString());
    ++cases;
  }
  EXPECT_EQ(cases, 600);
}

TEST(ExprPbTest, DatumsOfEveryKindRoundTrip) {
  Decimal dec;
  Decimal::Parse("-12345678901234567890.1234500", &dec);
  Duration dur;
  dur.micros = -Duration::kMaxMicros;
  dur.fsp = 6;
  Time zero_in_date = Time::FromDate(2024, 0, 0);
  const Datum kDatums[] = {Datum(),
                           Datum::Int(INT64_MIN),
                           Datum::Uint(UINT64_MAX),
                           Datum::Float(1.5f),
                           Datum::Double(-0.0),
                           Datum::Double(1e-300),
                           Datum::Dec(dec),
                           Datum::String(std::string("a\0b\xff", 4)),
                           Datum::FromTime(Time::FromDatetime(9999, 12, 31, 23, 59, 59, 999999, 6)),
                           Datum::FromTime(Time()),
                           Datum::FromTime(zero_in_date),
                           Datum::FromDuration(dur)};
  for (const Datum& d : kDatums) {
    sqlexprpb::Datum pb;
    ASSERT_TRUE(DatumToPb(d, &pb).ok());
    absl::StatusOr<Datum> back = DatumFromPb(pb);
    ASSERT_TRUE(back.ok()) << d.DebugString() << back.status();
    EXPECT_TRUE(back->IdenticalTo(d)) << d.DebugString() << " vs " << back->DebugString();
  }
  sqlexprpb::Datum pb;
  EXPECT_EQ(DatumToPb(Datum::MaxValue(), &pb).code(), absl::StatusCode::kInvalidArgument);
  // Field types with every attribute.
  FieldType ft = FieldType::Varchar(77, Collation::kUtf8mb4Bin);
  ft.flag |= kNotNullFlag | kBinaryFlag;
  FieldType u = FieldType::LongLong(true);
  u.flag |= kZerofillFlag;
  // A LONGBLOB column's length is the largest int32 (MySQL's 2^32-1 does not fit FieldType).
  FieldType long_blob = FieldType::Blob();
  long_blob.flen = std::numeric_limits<int32_t>::max();
  for (const FieldType& t : {ft, u, FieldType::NewDecimal(65, 30), FieldType::Timestamp(6),
                             FieldType::Blob(), long_blob, FieldType::Null()}) {
    sqlexprpb::FieldType p;
    FieldTypeToPb(t, &p);
    absl::StatusOr<FieldType> b = FieldTypeFromPb(p);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(*b, t) << t.ToString();
  }
}

TEST(ExprPbTest, NotPushable) {
  EXPECT_FALSE(CanPushDown(*testing::F("now")));
  EXPECT_FALSE(
      CanPushDown(*testing::F("plus", NewColumn(0, FieldType::LongLong()), testing::F("curtime"))));
  EXPECT_TRUE(CanPushDown(*testing::F("plus", NewColumn(0, FieldType::LongLong()), NewInt(1))));
  // Any other Expression subclass (the executor's subqueries, correlated columns).
  class Opaque : public Expression {
   public:
    Opaque() : Expression(FieldType::LongLong()) {}
    absl::StatusOr<Datum> Eval(EvalContext*, const Chunk&, size_t) const override {
      return Datum::Int(1);
    }
    absl::Status EvalChunk(EvalContext*, const Chunk&, const Sel*, Column*) const override {
      return absl::OkStatus();
    }
    std::string ToString() const override { return "opaque"; }
    ExprPtr Clone() const override { return std::make_unique<Opaque>(); }
  };
  ExprPtr e = testing::F("eq", std::make_unique<Opaque>(), NewInt(1));
  EXPECT_FALSE(CanPushDown(*e));
  sqlexprpb::Expr pb;
  EXPECT_EQ(ExprToPb(*e, &pb).code(), absl::StatusCode::kUnimplemented);
}

sqlexprpb::Expr Valid() {
  sqlexprpb::Expr pb;
  ExprPtr e = testing::F("plus", NewColumn(0, FieldType::LongLong()), NewInt(7));
  EXPECT_TRUE(ExprToPb(*e, &pb).ok());
  return pb;
}

void ExpectBad(const sqlexprpb::Expr& pb, std::string_view what) {
  const FieldType kTypes[] = {FieldType::LongLong(), FieldType::Varchar(10)};
  absl::StatusOr<ExprPtr> e = ExprFromPb(pb, kTypes);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << what << ": " << e.status();
}

TEST(ExprPbTest, MalformedRejected) {
  const FieldType kTypes[] = {FieldType::LongLong(), FieldType::Varchar(10)};
  ASSERT_TRUE(ExprFromPb(Valid(), kTypes).ok());
  sqlexprpb::Expr pb;
  ExpectBad(pb, "empty");
  pb = Valid();
  pb.set_func("no_such_function");
  ExpectBad(pb, "unknown function");
  pb = Valid();
  pb.set_func("now");
  pb.clear_children();
  ExpectBad(pb, "session function");
  pb = Valid();
  pb.mutable_children()->RemoveLast();
  ExpectBad(pb, "wrong arity");
  pb = Valid();
  pb.mutable_children(0)->set_column_offset(2);
  ExpectBad(pb, "offset out of range");
  pb = Valid();
  pb.mutable_children(0)->set_column_offset(1);
  ExpectBad(pb, "column of another layout");
  pb = Valid();
  pb.mutable_children(1)->mutable_constant()->set_bytes("x");
  ExpectBad(pb, "constant of the wrong kind");
  pb = Valid();
  pb.mutable_children(1)->mutable_field_type()->set_tp(15);
  pb.mutable_children(1)->mutable_constant()->set_decimal("1.x");
  ExpectBad(pb, "bad decimal");
  pb = Valid();
  pb.mutable_children(1)->mutable_constant()->clear_value();
  ExpectBad(pb, "datum without a value");
  pb = Valid();
  pb.mutable_children(1)->mutable_field_type()->set_tp(12);
  pb.mutable_children(1)->mutable_constant()->mutable_time()->set_packed(~uint64_t{0});
  ExpectBad(pb, "bad time");
  pb = Valid();
  pb.mutable_children(1)->mutable_field_type()->set_tp(11);
  pb.mutable_children(1)->mutable_constant()->mutable_duration()->set_micros(INT64_MAX);
  ExpectBad(pb, "bad duration");
  pb = Valid();
  pb.mutable_field_type()->set_tp(200);
  ExpectBad(pb, "unknown type code");
  pb = Valid();
  pb.mutable_field_type()->set_collation(8);
  ExpectBad(pb, "unknown collation");
  pb = Valid();
  pb.mutable_field_type()->set_charset("latin1");
  ExpectBad(pb, "charset");
  pb = Valid();
  pb.mutable_field_type()->set_tp(5);  // DOUBLE: plus of two ints is not.
  ExpectBad(pb, "rebuilt type differs");
  pb = Valid();
  pb.clear_field_type();
  ExpectBad(pb, "no type");
  pb = Valid();
  pb.set_tp(static_cast<sqlexprpb::ExprType>(42));
  ExpectBad(pb, "unknown kind");
  pb = Valid();
  pb.set_func("cast");
  ExpectBad(pb, "cast of two");
  pb = Valid();
  *pb.mutable_children(0)->add_children() = Valid();
  ExpectBad(pb, "column with children");
  // Nesting bomb.
  sqlexprpb::Expr deep = Valid();
  for (int i = 0; i < kMaxExprDepth + 5; ++i) {
    sqlexprpb::Expr outer;
    outer.set_tp(sqlexprpb::SCALAR_FUNC);
    outer.set_func("unaryminus");
    *outer.mutable_field_type() = deep.field_type();
    *outer.add_children() = std::move(deep);
    deep = std::move(outer);
  }
  ExpectBad(deep, "too deep");
  // Eval config.
  sqlexprpb::EvalConfig cfg;
  EvalContext ctx;
  EXPECT_EQ(EvalConfigFromPb(cfg, &ctx).code(), absl::StatusCode::kInvalidArgument);
  cfg.set_max_allowed_packet(100);
  cfg.set_sql_mode(1u << 20);
  EXPECT_EQ(EvalConfigFromPb(cfg, &ctx).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExprPbTest, MutatedProtosNeverCrash) {
  Gen g(0xf022);
  const std::vector<FieldType> types = Gen::Types();
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    ExprPtr e = g.Expr(types, 3);
    sqlexprpb::Expr pb;
    ASSERT_TRUE(ExprToPb(*e, &pb).ok());
    // Mutate a random node.
    std::vector<sqlexprpb::Expr*> nodes = {&pb};
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (sqlexprpb::Expr& c : *nodes[i]->mutable_children()) nodes.push_back(&c);
    }
    sqlexprpb::Expr* n = nodes[g.Uniform(static_cast<int>(nodes.size()))];
    switch (g.Uniform(8)) {
      case 0:
        n->set_column_offset(static_cast<uint32_t>(g.Uniform(20)));
        break;
      case 1:
        n->set_tp(static_cast<sqlexprpb::ExprType>(g.Uniform(4)));
        break;
      case 2: {
        std::vector<std::string> names = FunctionNames();
        n->set_func(names[g.Uniform(static_cast<int>(names.size()))]);
        break;
      }
      case 3:
        if (n->children_size() > 0) n->mutable_children()->RemoveLast();
        break;
      case 4:
        *n->add_children() = *n;
        break;
      case 5:
        n->mutable_field_type()->set_tp(Gen::Types()[g.Uniform(12)].tp == TypeCode::kLong ? 3 : 15);
        break;
      case 6:
        n->mutable_field_type()->set_decimal(g.Uniform(40) - 2);
        break;
      default:
        n->mutable_constant()->set_i64(g.Uniform(5));
        break;
    }
    absl::StatusOr<ExprPtr> back = ExprFromPb(pb, types);
    if (!back.ok()) {
      ASSERT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument) << back.status();
      ++rejected;
      continue;
    }
    ++accepted;
    // Whatever was accepted is a well-formed expression: it evaluates without crashing.
    Chunk chunk = g.RandomChunk(types, 5);
    EvalContext ctx;
    Column out;
    (void)(*back)->EvalChunk(&ctx, chunk, nullptr, &out);
    for (size_t r = 0; r < chunk.NumRows(); ++r) (void)(*back)->Eval(&ctx, chunk, r);
  }
  EXPECT_GT(rejected, 250);
  EXPECT_GT(accepted, 50);
}

// ---- Aggregates ----

TEST(ExprPbTest, PartialAggregationMergesToOnePhase) {
  Gen g(0xa66);
  const std::vector<FieldType> types = Gen::Types();
  const char* kAggs[] = {"count", "sum", "avg", "min", "max", "group_concat"};
  int cases = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::string name = kAggs[g.Uniform(6)];
    bool distinct = g.Chance(30);
    bool star = name == "count" && !distinct && g.Chance(30);
    std::vector<ExprPtr> args;
    if (!star) {
      int n = (name == "group_concat" || (name == "count" && distinct)) ? 1 + g.Uniform(2) : 1;
      for (int i = 0; i < n; ++i) args.push_back(g.Expr(types, 1 + g.Uniform(2)));
    }
    // GROUP_CONCAT ... ORDER BY: sort keys after the values; the partials carry them and
    // the final merge re-sorts, so the result equals one phase's exactly.
    std::vector<bool> order_desc;
    if (name == "group_concat" && g.Chance(50)) {
      for (int k = 1 + g.Uniform(2); k > 0; --k) {
        args.push_back(g.Expr(types, 1 + g.Uniform(2)));
        order_desc.push_back(g.Chance(50));
      }
    }
    std::vector<FieldType> arg_types;
    for (const ExprPtr& a : args) arg_types.push_back(a->type());
    absl::StatusOr<AggDesc> desc = NewAggDesc(name, arg_types, distinct, order_desc);
    ASSERT_TRUE(desc.ok()) << desc.status();
    desc->separator = "|";
    desc->max_len = 1 << 20;

    sqlexprpb::AggFunc pb;
    ASSERT_TRUE(AggToPb(*desc, args, &pb).ok());
    std::string bytes = pb.SerializeAsString();
    sqlexprpb::AggFunc wire;
    ASSERT_TRUE(wire.ParseFromString(bytes));
    absl::StatusOr<AggCall> remote = AggFromPb(wire, types);
    ASSERT_TRUE(remote.ok()) << remote.status();
    ASSERT_EQ(remote->desc.result_type, desc->result_type);
    ASSERT_EQ(remote->desc.separator, "|");
    ASSERT_EQ(remote->desc.order_desc, order_desc);
    ASSERT_EQ(remote->args.size(), args.size());

    // One phase over all rows; partial phases over a random split, merged.
    std::unique_ptr<AggState> one = NewAggState(*desc);
    std::unique_ptr<AggState> final_state = NewAggState(*desc);
    EvalContext ctx;
    bool failed = false;
    int parts = 1 + g.Uniform(4);
    std::vector<std::string> partial_warnings;
    for (int p = 0; p < parts && !failed; ++p) {
      Chunk chunk = g.RandomChunk(types, 15);
      std::vector<Column> local(args.size()), far(args.size());
      EvalContext lctx, rctx;
      for (size_t i = 0; i < args.size(); ++i) {
        absl::Status a = args[i]->EvalChunk(&lctx, chunk, nullptr, &local[i]);
        absl::Status b = remote->args[i]->EvalChunk(&rctx, chunk, nullptr, &far[i]);
        ASSERT_EQ(a.ok(), b.ok());
        if (!a.ok()) failed = true;
      }
      if (failed) break;
      absl::Status a = one->UpdateColumns(&ctx, local, chunk.NumRows());
      std::unique_ptr<AggState> partial = NewAggState(remote->desc);
      absl::Status b = partial->UpdateColumns(&rctx, far, chunk.NumRows());
      ASSERT_EQ(a.ok(), b.ok()) << a << " / " << b;
      if (!a.ok()) {
        failed = true;
        break;
      }
      // The partial result crosses the wire as datums of PartialTypes.
      std::vector<Datum> res = partial->PartialResult();
      std::vector<FieldType> pts = PartialTypes(remote->desc);
      ASSERT_EQ(res.size(), pts.size());
      std::vector<Datum> received;
      for (size_t i = 0; i < res.size(); ++i) {
        Column probe(PhysicalTypeOf(pts[i]));
        ASSERT_TRUE(probe.AppendDatum(res[i])) << name << " partial " << i;
        sqlexprpb::Datum d;
        ASSERT_TRUE(DatumToPb(res[i], &d).ok());
        absl::StatusOr<Datum> back = DatumFromPb(d);
        ASSERT_TRUE(back.ok());
        received.push_back(*back);
      }
      ASSERT_TRUE(final_state->Merge(&ctx, received).ok());
    }
    if (failed) continue;
    absl::StatusOr<Datum> want = one->FinalResult(&ctx);
    absl::StatusOr<Datum> got = final_state->FinalResult(&ctx);
    ASSERT_EQ(want.ok(), got.ok());
    if (!want.ok()) continue;
    if (name == "group_concat" && order_desc.empty() && !want->IsNull() && !got->IsNull()) {
      // Concatenation order across partials is unspecified: compare the pieces.
      std::vector<std::string> a = absl::StrSplit(want->GetString(), '|');
      std::vector<std::string> b = absl::StrSplit(got->GetString(), '|');
      EXPECT_EQ(Sorted(a), Sorted(b));
    } else if (want->kind() == DatumKind::kFloat64 && got->kind() == DatumKind::kFloat64) {
      // Floating-point addition is not associative: equal up to rounding.
      double a = want->GetDouble(), b = got->GetDouble();
      EXPECT_LE(std::abs(a - b), 1e-9 * std::max(std::abs(a), 1.0)) << name << " " << a << " " << b;
    } else {
      EXPECT_TRUE(want->IdenticalTo(*got)) << name << (distinct ? " distinct " : " ")
                                           << want->DebugString() << " vs " << got->DebugString();
    }
    ++cases;
  }
  EXPECT_GT(cases, 400);
}

TEST(ExprPbTest, MalformedAggregatesRejected) {
  const FieldType kTypes[] = {FieldType::LongLong(), FieldType::Varchar(10)};
  std::vector<ExprPtr> args;
  args.push_back(NewColumn(0, FieldType::LongLong()));
  absl::StatusOr<AggDesc> desc = NewAggDesc("avg", {FieldType::LongLong()});
  ASSERT_TRUE(desc.ok());
  sqlexprpb::AggFunc good;
  ASSERT_TRUE(AggToPb(*desc, args, &good).ok());
  ASSERT_TRUE(AggFromPb(good, kTypes).ok());
  auto bad = [&](sqlexprpb::AggFunc pb, std::string_view what) {
    EXPECT_EQ(AggFromPb(pb, kTypes).status().code(), absl::StatusCode::kInvalidArgument) << what;
  };
  sqlexprpb::AggFunc pb = good;
  pb.set_kind(static_cast<sqlexprpb::AggKind>(9));
  bad(pb, "unknown kind");
  pb = good;
  pb.set_kind(sqlexprpb::SUM);
  bad(pb, "result type of another kind");
  pb = good;
  *pb.add_args() = pb.args(0);
  bad(pb, "avg of two");
  pb = good;
  pb.mutable_args(0)->set_column_offset(5);
  bad(pb, "bad argument");
  pb = good;
  pb.clear_result_type();
  bad(pb, "no result type");
  pb = good;
  pb.set_max_len(0);
  bad(pb, "max_len 0");
  pb = good;
  pb.mutable_partial_types()->RemoveLast();
  bad(pb, "partial types");
  EXPECT_EQ(AggToPb(*desc, {}, &pb).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rutile::sql::expr
