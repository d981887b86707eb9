// Helpers for expression tests: literal builders and evaluation of a constant expression
// through both the row and the vectorized path, checking they agree.

#ifndef RUTILE_TESTS_SQL_EXPR_EXPR_TEST_UTIL_H_
#define RUTILE_TESTS_SQL_EXPR_EXPR_TEST_UTIL_H_

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sql/errors.h"
#include "sql/expr/registry.h"
#include "sql/types/context.h"

namespace rutile::sql::expr::testing {

inline ExprPtr I(int64_t v) { return NewInt(v); }
inline ExprPtr U(uint64_t v) { return NewUint(v); }
inline ExprPtr R(double v) { return NewDouble(v); }
inline ExprPtr S(std::string v, Collation c = kDefaultCollation) {
  return NewString(std::move(v), c);
}
inline ExprPtr N() { return NewNull(); }
inline ExprPtr Dec(std::string_view text) {
  absl::StatusOr<ExprPtr> e = NewDecimalLiteral(text);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(*e);
}

template <typename... Args>
std::vector<ExprPtr> List(Args&&... args) {
  std::vector<ExprPtr> v;
  (v.push_back(std::forward<Args>(args)), ...);
  return v;
}

// Builds `name(args...)`, failing the test if the build fails.
template <typename... Args>
ExprPtr F(std::string_view name, Args&&... args) {
  absl::StatusOr<ExprPtr> e = NewFunction(name, List(std::forward<Args>(args)...));
  EXPECT_TRUE(e.ok()) << name << ": " << e.status();
  if (!e.ok()) return NewNull();
  return std::move(*e);
}

struct EvalResult {
  absl::StatusOr<Datum> value = Datum();
  std::vector<std::string> warnings;  // "code message".

  std::string Text() const { return value.ok() ? value->ToString() : "ERROR"; }
  uint16_t ErrorCode() const {
    auto e = GetMySqlError(value.status());
    return e ? e->code : 0;
  }
};

inline std::vector<std::string> WarningTexts(const EvalContext& ctx) {
  std::vector<std::string> out;
  for (const SqlWarning& w : ctx.warnings()) {
    out.push_back(std::to_string(w.error.code) + " " + w.error.message);
  }
  return out;
}

// Evaluates `e` (which reads no columns) both ways on a one-row chunk.
inline EvalResult EvalBoth(const Expression& e, const EvalContext& proto = EvalContext()) {
  Chunk chunk({FieldType::LongLong()});
  Datum one = Datum::Int(1);
  chunk.AppendRow(std::span<const Datum>(&one, 1));
  EvalContext row_ctx = proto;
  EvalResult r;
  r.value = e.Eval(&row_ctx, chunk, 0);
  r.warnings = WarningTexts(row_ctx);
  EvalContext vec_ctx = proto;
  Column out;
  Sel sel = {0};
  absl::Status st = e.EvalChunk(&vec_ctx, chunk, &sel, &out);
  EXPECT_EQ(st.ok(), r.value.ok())
      << e.ToString() << " row: " << r.value.status() << " vec: " << st;
  if (st.ok() && r.value.ok()) {
    EXPECT_EQ(out.size(), 1u);
    Datum v = out.GetDatum(0, e.type());
    EXPECT_TRUE(v.IdenticalTo(*r.value))
        << e.ToString() << " row=" << r.value->DebugString() << " vec=" << v.DebugString();
    EXPECT_EQ(WarningTexts(vec_ctx), r.warnings) << e.ToString();
  }
  return r;
}

}  // namespace rutile::sql::expr::testing

#endif  // RUTILE_TESTS_SQL_EXPR_EXPR_TEST_UTIL_H_
