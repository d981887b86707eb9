// Deeply nested statements on a fiber with a server's stack (256 KiB, what rutile-server's
// connection fibers get): every statement either runs and returns the right answer or
// fails with a MySQL error — 1436 "Thread stack overrun" from the binder's stack guard, or
// the parser's 1064 past its nesting limit — and the session goes on. Nothing overflows
// the stack: under AddressSanitizer (frames several times larger than in Release) an
// overflow aborts the test. Nesting a few dozen deep, as sqllogictest's random/expr files
// do, must work.
//
// Each shape is nested in every place a bound expression is walked recursively: the
// select list (evaluation), WHERE over a table (pushed to the coprocessor: protobuf
// conversion both ways and evaluation there), constant folding, GROUP BY (the binder
// matches group expressions by their restored text), ORDER BY, EXPLAIN, and prepared
// statements.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "util/env_internal.h"
#include "util/sync.h"

namespace rutile::sql {
namespace {

constexpr size_t kServerFiberStack = 256 * 1024;
// What a server connection's fiber has used before its statement reaches Session::Execute
// (protocol decoding, the connection loop), generously.
constexpr size_t kCallerFrames = 24 * 1024;

// A nesting of depth `d` of one shape around the column `x`, and the value it has for x = 3.
struct Shape {
  const char* name;
  std::function<std::string(int d, const std::string& x)> make;
  std::function<int64_t(int d)> value;
  int levels = 1;  // Syntax tree levels per step of depth on the deepest path.
};

// Expressions nested this many syntax tree levels deep always run: sqllogictest's
// random/expr files nest about 20 deep.
constexpr int kAlwaysBinds = 24;

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<Shape> Shapes() {
  return {
      {"plus_chain", [](int d, const std::string& x) { return x + Repeat(" + 1", d); },
       [](int d) { return 3 + d; }},
      {"parenthesized",
       [](int d, const std::string& x) { return Repeat("(1 + ", d) + x + std::string(d, ')'); },
       [](int d) { return 3 + d; }},
      {"abs",
       [](int d, const std::string& x) { return Repeat("ABS(", d) + x + std::string(d, ')'); },
       [](int) { return 3; }},
      {"unary_minus",
       [](int d, const std::string& x) { return Repeat("-(", d) + x + std::string(d, ')'); },
       [](int d) { return d % 2 == 0 ? 3 : -3; }},
      {"case",
       [](int d, const std::string& x) {
         return Repeat("CASE WHEN " + x + " > 0 THEN ", d) + x + Repeat(" ELSE 0 END", d);
       },
       [](int) { return 3; }},
      {"cast",
       [](int d, const std::string& x) {
         return Repeat("CAST(", d) + x + Repeat(" AS SIGNED)", d);
       },
       [](int) { return 3; }},
      {"if_in",
       [](int d, const std::string& x) {
         return Repeat("IF(" + x + " IN (1, 2, 3), ", d) + x + Repeat(", 0)", d);
       },
       [](int) { return 3; }},
      {"coalesce_between",
       [](int d, const std::string& x) {
         return Repeat("COALESCE(NULL, " + x + " BETWEEN 0 AND ", d) + "5" + std::string(d, ')') +
                " + " + x;
       },
       // The innermost BETWEEN is 1, every one around it 0.
       [](int d) { return d == 1 ? 4 : 3; }, 2},
  };
}

// Runs `fn` on a fiber of a 256 KiB-stack Env, below kCallerFrames of used stack.
class DeepNestingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ThreadedEnvOptions o;
    o.worker_threads = 1;
    o.io_threads = 1;
    o.fiber_stack_bytes = kServerFiberStack;
    env_ = NewThreadedEnv(o);
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    s_ = db_->NewSession();
    ASSERT_EQ(Run("USE test"), "");
    ASSERT_EQ(Run("CREATE TABLE t (id INT PRIMARY KEY, x INT, g INT)"), "");
    ASSERT_EQ(Run("INSERT INTO t VALUES (1, 3, 7), (2, 3, 7)"), "");
  }

  void TearDown() override {
    s_.reset();
    db_.reset();
    env_.reset();
  }

  static __attribute__((noinline)) void Below(const std::function<void()>& fn) {
    volatile char pad[kCallerFrames];
    pad[0] = 0;
    pad[kCallerFrames - 1] = 0;
    fn();
    pad[1] = pad[0];
  }

  // The statement's first cell, "" for a statement without rows, or "error <code>".
  std::string Run(const std::string& sql) {
    return OnServerFiber([&] { return s_->Execute(sql); });
  }
  // The same for `sql` prepared and run once with `params`.
  std::string RunPrepared(const std::string& sql, const std::vector<Value>& params) {
    return OnServerFiber([&]() -> absl::StatusOr<ResultSet> {
      absl::StatusOr<uint32_t> id = s_->Prepare(sql);
      if (!id.ok()) return id.status();
      auto r = s_->ExecutePrepared(*id, params);
      EXPECT_TRUE(s_->ClosePrepared(*id).ok());
      return r;
    });
  }

  std::string OnServerFiber(const std::function<absl::StatusOr<ResultSet>()>& fn) {
    std::string out;
    WaitGroup wg;
    wg.Add(1);
    env_->Spawn([&] {
      Below([&] {
        absl::StatusOr<ResultSet> r = fn();
        if (!r.ok()) {
          out = absl::StrCat("error ", MySqlErrorOf(r.status()).code);
        } else if (!r->rows.empty() && !r->rows[0].empty()) {
          out = r->rows[0][0].value_or("NULL");
        }
      });
      wg.Done();
    });
    wg.Wait();
    return out;
  }

  std::unique_ptr<Env> env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Session> s_;
};

bool IsDepthError(const std::string& r) { return r == "error 1436" || r == "error 1064"; }

TEST_F(DeepNestingTest, DeepExpressionsRunOrFailCleanly) {
  const std::vector<int> depths = {1, 8, 16, 24, 32, 48, 64, 96, 128, 160, 199, 260};
  int overruns = 0;
  for (const Shape& shape : Shapes()) {
    for (int d : depths) {
      SCOPED_TRACE(absl::StrCat(shape.name, " depth ", d));
      const std::string want = std::to_string(shape.value(d));
      const std::string e = shape.make(d, "x");
      const std::string k = shape.make(d, "3");
      const std::vector<std::pair<std::string, std::string>> cases = {
          {"SELECT " + e + " FROM t WHERE id = 1", want},
          {"SELECT COUNT(*) FROM t WHERE " + e + " = " + want, "2"},
          {"SELECT " + k, want},
          {"SELECT id FROM t WHERE id = " + k + " - " + want + " + 1", "1"},
          {"SELECT " + e + " FROM t GROUP BY " + e, want},
          {"SELECT x FROM t ORDER BY " + e + ", id LIMIT 1", "3"},
          {"SELECT MAX(" + e + ") FROM t", want},
          {"SELECT (SELECT " + e + " FROM t WHERE id = 2) FROM t WHERE id = 1", want},
      };
      for (const auto& [sql, expect] : cases) {
        const std::string got = Run(sql);
        if (IsDepthError(got)) {
          EXPECT_GT(d * shape.levels, kAlwaysBinds) << sql.substr(0, 200) << ": " << got;
          if (got == "error 1436") ++overruns;
        } else {
          EXPECT_EQ(got, expect) << sql.substr(0, 200);
        }
      }
      const std::string explain = Run("EXPLAIN SELECT id FROM t WHERE " + e + " = " + want);
      EXPECT_TRUE((!explain.empty() && explain.rfind("error", 0) != 0) || IsDepthError(explain))
          << explain;
      // A prepared statement with the expression over parameters.
      const std::string p = shape.make(d, "?");
      std::vector<Value> params;
      for (char c : p) {
        if (c == '?') params.push_back(Value::Int(3));
      }
      const std::string got = RunPrepared("SELECT " + p + " FROM t WHERE id = 1", params);
      if (IsDepthError(got)) {
        EXPECT_GT(d * shape.levels, kAlwaysBinds) << got;
      } else {
        EXPECT_EQ(got, want);
      }
      // The session goes on after a failed statement.
      ASSERT_EQ(Run("SELECT x FROM t WHERE id = 2"), "3");
    }
  }
  // The binder's guard, not only the parser's limit, turned deep statements away.
  EXPECT_GT(overruns, 0);
}

// Subqueries nested this many levels deep always run (each level is a query of its own in
// the binder's recursion: BuildSelect, the join tree and BindSubquery keep small frames for
// it; under ASan they took ~15 KB a level and nesting stopped at about 6).
constexpr int kSubqueriesAlwaysNest = 20;
// The same in WHERE (IN, EXISTS): there Decorrelate binds a level's nested subquery to
// classify its conjunct and, when it does not decorrelate, the conjunct is bound again, so
// binding takes 2^depth steps: these stay shallow.
constexpr int kWhereSubqueriesAlwaysNest = 8;

// Subqueries nested in subqueries: in the select list, with aggregation, GROUP BY and
// ORDER BY at each level, and in WHERE ... IN (an uncorrelated semi join) and EXISTS (one
// row a level: a subquery runs once per row of the level around it).
TEST_F(DeepNestingTest, DeepSubqueriesRunOrFailCleanly) {
  bool overrun = false;
  auto check = [&](const std::string& sql, const std::string& want, int d, int always) {
    const std::string got = Run(sql);
    if (IsDepthError(got)) {
      EXPECT_GT(d, always) << sql.substr(0, 120) << ": " << got;
      overrun |= got == "error 1436";
    } else {
      EXPECT_EQ(got, want) << sql.substr(0, 120);
    }
  };
  for (int d : {1, 4, 8, 16, 20, 24, 32, 64, 99}) {
    SCOPED_TRACE(absl::StrCat("depth ", d));
    check("SELECT " + Repeat("(SELECT ", d) + "x FROM t WHERE id = 1" +
              Repeat(" LIMIT 1) FROM t WHERE id = 1", d),
          "3", d, kSubqueriesAlwaysNest);
    check("SELECT " + Repeat("(SELECT MAX(x) + ", d) + "0" +
              Repeat(" FROM t WHERE id = 1 GROUP BY g ORDER BY 1 LIMIT 1)", d),
          std::to_string(3 * d), d, kSubqueriesAlwaysNest);
    ASSERT_EQ(Run("SELECT x FROM t WHERE id = 2"), "3");
  }
  for (int d : {1, 4, 8}) {
    SCOPED_TRACE(absl::StrCat("depth ", d));
    check("SELECT COUNT(*) FROM t WHERE x IN " + Repeat("(SELECT x FROM t WHERE x IN ", d) + "(3)" +
              std::string(d, ')'),
          "2", d, kWhereSubqueriesAlwaysNest);
    check("SELECT COUNT(*) FROM t WHERE EXISTS " +
              Repeat("(SELECT 1 FROM t WHERE id = 1 AND EXISTS ", d) + "(SELECT 1)" +
              std::string(d, ')'),
          "2", d, kWhereSubqueriesAlwaysNest);
    ASSERT_EQ(Run("SELECT x FROM t WHERE id = 2"), "3");
  }
  EXPECT_TRUE(overrun);
}

}  // namespace
}  // namespace rutile::sql
