// Datadriven EXPLAIN scripts (testdata/*.txt), each run on a fresh in-memory Database:
//
//   exec              the input's statements, one per line; output "ok" or the error
//   explain           EXPLAIN of the input query: one line per operator, the columns
//                     (id, estRows, task, access object, operator info) joined by " | "
//   explain-analyze   EXPLAIN ANALYZE of the input query: id and actual rows per operator
//                     (time is not deterministic)
//   query             the input query's rows, values joined by " "
//
// RUTILE_REWRITE=1 rewrites the expected outputs (then read them).

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rutile/sql.h"
#include "testutil/datadriven.h"

namespace rutile::sql {
namespace {

std::string Rows(const ResultSet& rs, const std::vector<size_t>& cols, const char* sep) {
  std::string out;
  for (const auto& row : rs.rows) {
    std::vector<std::string> vals;
    for (size_t c : cols) vals.push_back(row[c].has_value() ? *row[c] : "NULL");
    absl::StrAppend(&out, absl::StrJoin(vals, sep), "\n");
  }
  return out;
}

std::string Handle(Session* s, const testutil::TestData& d) {
  if (d.cmd == "exec") {
    std::string out;
    for (absl::string_view line : absl::StrSplit(d.input, '\n', absl::SkipEmpty())) {
      auto r = s->Execute(std::string(line));
      if (!r.ok()) absl::StrAppend(&out, "error: ", MySqlErrorOf(r.status()).message, "\n");
    }
    return out.empty() ? "ok\n" : out;
  }
  const bool analyze = d.cmd == "explain-analyze";
  std::string sql = d.input;
  if (d.cmd == "explain") sql = "EXPLAIN " + sql;
  if (analyze) sql = "EXPLAIN ANALYZE " + sql;
  auto r = s->Execute(sql);
  if (!r.ok()) return absl::StrCat("error: ", MySqlErrorOf(r.status()).message, "\n");
  std::vector<size_t> cols;
  if (analyze) {
    cols = {0, 5};
  } else {
    for (size_t i = 0; i < r->columns.size(); ++i) cols.push_back(i);
  }
  return Rows(*r, cols, d.cmd == "query" ? " " : " | ");
}

TEST(ExplainDatadriven, Scripts) {
  std::vector<std::string> scripts =
      testutil::ListScripts(testutil::TestDataDir("sql/planner/testdata"));
  ASSERT_FALSE(scripts.empty());
  for (const std::string& path : scripts) {
    SCOPED_TRACE(path);
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    std::unique_ptr<Session> s = (*db)->NewSession();
    ASSERT_TRUE(s->Execute("CREATE DATABASE IF NOT EXISTS test").ok());
    ASSERT_TRUE(s->Execute("USE test").ok());
    testutil::RunTest(path, [&](const testutil::TestData& d) { return Handle(s.get(), d); });
  }
}

}  // namespace
}  // namespace rutile::sql
