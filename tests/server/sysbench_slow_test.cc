// sysbench 1.0.20 against an in-process MySqlServer, as VERIFY.md runs it against MariaDB:
// oltp_common prepare, then point_select, read_only, read_write and insert for 10 s each at
// 4 threads with prepared statements. Passes when no run aborts (sysbench retries only
// 1213/1205/1020 and aborts on any other error) and every run commits transactions.

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/server.h"

namespace rutile::server {
namespace {

std::string RunShell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (rc != 0) out += absl::StrCat("\n[exit ", rc, "]");
  return out;
}

TEST(Sysbench, OltpWorkloadsRunWithoutErrors) {
  auto db = sql::Database::OpenInMemory();
  ASSERT_TRUE(db.ok());
  ServerOptions o;
  o.port = 0;
  auto server = MySqlServer::Start(db->get(), o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto session = (*db)->NewSession();
  ASSERT_TRUE(session->Execute("CREATE DATABASE sbtest").ok());
  const std::string common = absl::StrCat(
      " --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=", (*server)->port(),
      " --mysql-user=root --mysql-password= --mysql-db=sbtest --tables=1 --table-size=10000");
  std::string out =
      RunShell(absl::StrCat(RUTILE_SYSBENCH, " oltp_common", common, " prepare 2>&1"));
  ASSERT_EQ(out.find("FATAL"), std::string::npos) << out;
  ASSERT_EQ(out.find("[exit"), std::string::npos) << out;
  for (const char* workload :
       {"oltp_point_select", "oltp_read_only", "oltp_read_write", "oltp_insert"}) {
    out = RunShell(absl::StrCat(RUTILE_SYSBENCH, " ", workload, common,
                                " --threads=4 --time=10 --rand-type=uniform run 2>&1"));
    EXPECT_EQ(out.find("FATAL"), std::string::npos) << workload << "\n" << out;
    EXPECT_EQ(out.find("[exit"), std::string::npos) << workload << "\n" << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(transactions:\s+(\d+))"))) << out;
    EXPECT_GT(std::stoll(m[1]), 0) << workload;
    std::printf("%s: %s\n", workload,
                std::regex_search(out, m, std::regex(R"(queries:\s+\d+\s+\(([0-9.]+) per sec)"))
                    ? absl::StrCat(m[1].str(), " queries/s").c_str()
                    : "?");
  }
}

}  // namespace
}  // namespace rutile::server
