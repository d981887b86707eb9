// Helpers shared by the session tests: run a statement expecting success, read a
// one-cell result, or a one-node cluster.

#ifndef RUTILE_TESTS_SQL_SESSION_SESSION_TEST_UTIL_H_
#define RUTILE_TESTS_SQL_SESSION_SESSION_TEST_UTIL_H_

#include <string>
#include <utility>

#include "fiber_test_util.h"
#include "gtest/gtest.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "rutile/testing/one_node.h"

namespace rutile::sql {

inline ResultSet Ok(Session* s, const std::string& sql) {
  auto r = s->Execute(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status();
  return r.ok() ? *std::move(r) : ResultSet();
}

// The single cell of a one-row result, "NULL" for NULL, "<shape>" for any other shape.
inline std::string One(Session* s, const std::string& sql) {
  ResultSet r = Ok(s, sql);
  if (r.rows.size() != 1 || r.rows[0].empty()) return "<shape>";
  return r.rows[0][0].value_or("NULL");
}

// A single node on a transport that hosts the PD and store 1, ticking every 10 ms: the
// one-node cluster the SQL tests over Raft run on (shared with bench/sql_bench).
using ::rutile::testing::OneNodeCluster;
using ::rutile::testing::OneNodeOptions;

}  // namespace rutile::sql

#endif  // RUTILE_TESTS_SQL_SESSION_SESSION_TEST_UTIL_H_
