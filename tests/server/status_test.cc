// Tests of the HTTP status port (StatusServer) through cpp-httplib's client.

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>
#include <vector>

#include "rutile/sql.h"
#include "server/server.h"
#include "util/metrics.h"

namespace rutile::server {
namespace {

TEST(StatusServer, ServesMetricsStatusAndRegions) {
  auto probe =
      metrics::Registry::Default().AddCounter("rutile_status_test_probe_total", "A probe.");
  ASSERT_TRUE(probe.ok()) << probe.status();
  (*probe)->Increment();
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  auto mysql = MySqlServer::Start(db, o);
  ASSERT_TRUE(mysql.ok()) << mysql.status();
  StatusOptions so;
  so.port = 0;
  so.mysql = mysql->get();
  auto status = StatusServer::Start(so);
  ASSERT_TRUE(status.ok()) << status.status();
  httplib::Client client("127.0.0.1", (*status)->port());
  client.set_read_timeout(20, 0);
  auto res = client.Get("/status");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"mysql_port\":" + std::to_string((*mysql)->port())), std::string::npos)
      << res->body;
  res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\nrutile_status_test_probe_total "), std::string::npos) << res->body;
  res = client.Get("/regions");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  // More concurrent clients than request threads: the rest queue and are served.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      httplib::Client c("127.0.0.1", (*status)->port());
      c.set_read_timeout(20, 0);
      for (int i = 0; i < 5; ++i) {
        auto r = c.Get("/status");
        if (r && r->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  status->reset();
  mysql->reset();
  delete db;
}

}  // namespace
}  // namespace rutile::server
