// Property: vectorized evaluation equals row-at-a-time evaluation — same values (kind,
// value and scale), same warnings (as a multiset), and an error on one path exactly when
// there is one on the other — over random expressions on random chunks with NULLs and
// selection vectors.

#include <algorithm>
#include <random>

#include "expr_test_util.h"
#include "gtest/gtest.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Uniform(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool Chance(int percent) { return Uniform(100) < percent; }

  std::vector<FieldType> Types() {
    FieldType dec = FieldType::NewDecimal(10, 2);
    FieldType small = FieldType::Int(TypeCode::kLong);
    return {FieldType::LongLong(),
            FieldType::LongLong(true),
            FieldType::Double(),
            dec,
            FieldType::Varchar(20, Collation::kUtf8mb4GeneralCi),
            FieldType::VarBinary(20),
            FieldType::Date(),
            FieldType::Datetime(3),
            FieldType::Duration(0),
            small};
  }

  std::string RandomString() {
    static const char* kPool[] = {"10",  "1e2",  "abc",        "",     " a",
                                  "A",   "é",    "2024-01-02", "-3.5", "0",
                                  "a_c", "ABC ", "12:30:00",   "x%y",  "9223372036854775807",
                                  "Zz",  "1.25"};
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
        if (Chance(4)) return Datum::Int(Chance(50) ? INT64_MAX : INT64_MIN);
        if (Chance(5))
          return Datum::Int(static_cast<int64_t>(rng_() % 2000000000000LL) - 1000000000000LL);
        return Datum::Int(Uniform(41) - 20);
      case EvalType::kReal:
        if (Chance(3)) return Datum::Double(1e300);
        if (Chance(10)) return Datum::Double(0);
        return Datum::Double((Uniform(20001) - 10000) / 64.0);
      case EvalType::kDecimal: {
        Decimal d;
        std::string s = std::to_string(Uniform(2000001) - 1000000);
        s.insert(s.size() - std::min<size_t>(2, s.size() - (s[0] == '-' ? 1 : 0)), ".");
        if (s[0] == '.') s = "0" + s;
        if (s.rfind("-.", 0) == 0) s = "-0" + s.substr(1);
        Decimal::Parse(s, &d);
        Decimal r;
        d.Rescale(2, &r);
        return Datum::Dec(r);
      }
      case EvalType::kString:
        return Datum::String(RandomString());
      case EvalType::kDatetime:
        if (ft.tp == TypeCode::kDate)
          return Datum::FromTime(
              Time::FromDate(2000 + Uniform(30), 1 + Uniform(12), 1 + Uniform(28)));
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

  Chunk RandomChunk(const std::vector<FieldType>& types) {
    Chunk c(types);
    int rows = Chance(5) ? 0 : 1 + Uniform(40);
    for (int r = 0; r < rows; ++r) {
      std::vector<Datum> row;
      for (const FieldType& t : types) row.push_back(RandomValue(t));
      EXPECT_TRUE(c.AppendRow(row));
    }
    return c;
  }

  ExprPtr Leaf(const std::vector<FieldType>& types) {
    if (Chance(60)) {
      size_t i = static_cast<size_t>(Uniform(static_cast<int>(types.size())));
      return NewColumn(i, types[i], "c" + std::to_string(i));
    }
    switch (Uniform(7)) {
      case 0:
        return NewNull();
      case 1:
        return NewInt(Uniform(21) - 10);
      case 2: {
        absl::StatusOr<ExprPtr> d = NewDecimalLiteral(Chance(50) ? "2.5" : "-0.125");
        return std::move(*d);
      }
      case 3:
        return NewDouble(Chance(50) ? 0.5 : 3);
      case 4:
        return NewString(RandomString());
      case 5:
        return NewUint(Chance(80) ? 3 : UINT64_MAX);
      default:
        return NewInt(Chance(50) ? INT64_MAX : 0);
    }
  }

  FieldType RandomCastTarget() {
    switch (Uniform(9)) {
      case 0:
        return FieldType::LongLong();
      case 1:
        return FieldType::LongLong(true);
      case 2:
        return FieldType::NewDecimal(8, 3);
      case 3:
        return FieldType::Varchar(Chance(50) ? 3 : -1);
      case 4:
        return FieldType::Date();
      case 5:
        return FieldType::Datetime(Uniform(4));
      case 6:
        return FieldType::Duration(0);
      case 7:
        return FieldType::Float();
      default:
        return FieldType::Double();
    }
  }

  ExprPtr Expr(const std::vector<FieldType>& types, int depth) {
    if (depth <= 0 || Chance(25)) return Leaf(types);
    struct Fn {
      const char* name;
      int arity;  // -1: special.
    };
    static const Fn kFns[] = {
        {"plus", 2},      {"minus", 2},        {"mul", 2},        {"div", 2},
        {"intdiv", 2},    {"mod", 2},          {"unaryminus", 1}, {"eq", 2},
        {"ne", 2},        {"lt", 2},           {"le", 2},         {"gt", 2},
        {"ge", 2},        {"nulleq", 2},       {"and", 2},        {"or", 2},
        {"xor", 2},       {"not", 1},          {"istrue", 1},     {"isfalse", 1},
        {"isnull", 1},    {"isnotnull", 1},    {"between", 3},    {"in", -1},
        {"like", -1},     {"case", -1},        {"if", 3},         {"ifnull", 2},
        {"nullif", 2},    {"coalesce", -1},    {"concat", 2},     {"concat_ws", 3},
        {"length", 1},    {"char_length", 1},  {"upper", 1},      {"lower", 1},
        {"substring", 3}, {"left", 2},         {"right", 2},      {"trim", 1},
        {"replace", 3},   {"lpad", 3},         {"reverse", 1},    {"instr", 2},
        {"locate", 2},    {"abs", 1},          {"ceil", 1},       {"floor", 1},
        {"round", 2},     {"truncate", 2},     {"sqrt", 1},       {"sign", 1},
        {"greatest", 2},  {"least", 3},        {"year", 1},       {"month", 1},
        {"datediff", 2},  {"date_format", -1}, {"cast", -1},      {"date_add", -1},
        {"repeat", 2},    {"ln", 1},           {"pow", 2},
    };
    const Fn& fn = kFns[Uniform(sizeof(kFns) / sizeof(kFns[0]))];
    std::string name = fn.name;
    std::vector<ExprPtr> args;
    if (name == "cast") {
      return NewCast(Expr(types, depth - 1), RandomCastTarget());
    } else if (name == "in" || name == "coalesce") {
      int n = 2 + Uniform(4);
      for (int i = 0; i < n; ++i) args.push_back(Expr(types, depth - 1));
    } else if (name == "like") {
      static const char* kPatterns[] = {"%a%", "a_", "1%", "%", "_", "A%C", "x|%y"};
      args.push_back(Expr(types, depth - 1));
      args.push_back(Chance(70) ? NewString(kPatterns[Uniform(7)]) : Expr(types, depth - 1));
      if (Chance(30)) args.push_back(NewString("|"));
    } else if (name == "case") {
      int pairs = 1 + Uniform(3);
      for (int i = 0; i < 2 * pairs; ++i) args.push_back(Expr(types, depth - 1));
      if (Chance(60)) args.push_back(Expr(types, depth - 1));
    } else if (name == "date_format") {
      args.push_back(Expr(types, depth - 1));
      args.push_back(NewString("%Y-%m-%d %H:%i %W"));
    } else if (name == "date_add") {
      static const char* kUnits[] = {"DAY",    "MONTH",      "HOUR",
                                     "SECOND", "YEAR_MONTH", "MINUTE_SECOND"};
      args.push_back(Expr(types, depth - 1));
      args.push_back(Chance(60) ? NewInt(Uniform(61) - 30) : Expr(types, depth - 1));
      args.push_back(NewString(kUnits[Uniform(6)]));
    } else {
      for (int i = 0; i < fn.arity; ++i) args.push_back(Expr(types, depth - 1));
    }
    absl::StatusOr<ExprPtr> e = NewFunction(name, std::move(args));
    if (!e.ok()) return Leaf(types);
    return std::move(*e);
  }

  std::mt19937_64 rng_;
};

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

constexpr int kIterations = 30000;

TEST(VecPropertyTest, VectorizedEqualsRowAtATime) {
  Generator g(0x5eed);
  std::vector<FieldType> types = g.Types();
  int cases = 0, errors = 0, rows_checked = 0;
  Chunk chunk;
  for (int iter = 0; iter < kIterations; ++iter) {
    if (iter % 40 == 0) chunk = g.RandomChunk(types);
    ExprPtr e = g.Expr(types, 1 + g.Uniform(4));
    std::optional<Sel> sel;
    if (g.Chance(50)) {
      Sel s;
      for (uint32_t r = 0; r < chunk.NumRows(); ++r) {
        if (g.Chance(60)) s.push_back(r);
      }
      sel = std::move(s);
    }
    const Sel* selp = sel ? &*sel : nullptr;
    EvalContext row_ctx, vec_ctx;
    row_ctx.now = vec_ctx.now = Time::FromDatetime(2024, 2, 29, 12, 0, 0);
    // Keep REPEAT/LPAD results small.
    row_ctx.max_allowed_packet = vec_ctx.max_allowed_packet = 4096;
    std::vector<Datum> row_values;
    bool row_error = false;
    size_t n = selp ? selp->size() : chunk.NumRows();
    for (size_t k = 0; k < n && !row_error; ++k) {
      size_t r = selp ? (*selp)[k] : k;
      absl::StatusOr<Datum> v = e->Eval(&row_ctx, chunk, r);
      if (!v.ok()) {
        row_error = true;
        break;
      }
      row_values.push_back(std::move(*v));
    }
    Column out;
    absl::Status st = e->EvalChunk(&vec_ctx, chunk, selp, &out);
    ++cases;
    ASSERT_EQ(row_error, !st.ok()) << e->ToString() << " vec: " << st;
    if (row_error) {
      ++errors;
      continue;
    }
    ASSERT_EQ(out.size(), n) << e->ToString();
    ASSERT_EQ(out.type(), PhysicalTypeOf(e->type())) << e->ToString();
    for (size_t k = 0; k < n; ++k) {
      Datum v = out.GetDatum(k, e->type());
      ASSERT_TRUE(v.IdenticalTo(row_values[k]))
          << e->ToString() << " row " << k << ": row=" << row_values[k].DebugString()
          << " vec=" << v.DebugString() << " type=" << e->type().ToString();
      if (!v.IsNull()) {
        // The value has the canonical kind of the expression's type.
        Column probe(PhysicalTypeOf(e->type()));
        ASSERT_TRUE(probe.AppendDatum(row_values[k])) << e->ToString();
      }
      ++rows_checked;
    }
    ASSERT_EQ(Sorted(testing::WarningTexts(row_ctx)), Sorted(testing::WarningTexts(vec_ctx)))
        << e->ToString();
  }
  // The generator must exercise both outcomes.
  EXPECT_GT(errors, 100);
  EXPECT_GT(rows_checked, 100000);
  std::printf("cases=%d errors=%d rows=%d\n", cases, errors, rows_checked);
}

}  // namespace
}  // namespace rutile::sql::expr
