// Rutile's side of bench/peers/analytics: loads CSV files into a single-node durable
// cluster (Database::OpenLocalCluster on LevelDB) through the real SQL path, and times
// queries on it. The data directory persists, so a second invocation can query what a
// first one loaded.
//
//   analytics_rutile load DIR TABLE CSV [ROWS_PER_INSERT [INSERTS_PER_TXN]]
//       Appends the CSV's rows (numbers only, comma-separated, no header, the first the
//       table's primary key `id`) to TABLE with
//       multi-row INSERT statements (default 1,000 rows each) in explicit transactions of
//       INSERTS_PER_TXN statements (default 8): every row goes through the parser, the
//       binder, the row codec, and Percolator's 2PC over Raft. A transaction failing with a
//       retryable error is replayed; rows whose id is at most the table's MAX(id) are
//       skipped (a failed load resumes). Prints `LOADED <rows> <s>`.
//   analytics_rutile sql DIR STATEMENT...
//       Executes statements (DDL, for instance) and prints their rows.
//   analytics_rutile query DIR RUNS NAME SQL [NAME SQL ...]
//       Runs each query RUNS times and prints `FIRST <name> <seconds of the first (cold)
//       run>`, `FIRST_CPU <name> <its CPU seconds>`, `TIME <name> <median seconds>`,
//       `CPU <name> <median CPU seconds of the process>` (the figure to trust on a loaded
//       machine) and `RESULT <name> <first row>`.
//
// The cluster's LevelDB block cache is 1 GiB (RUTILE_BLOCK_CACHE_MB to change it), and
// its columnar cache of region data for coprocessor scans is ON, 1 GiB
// (RUTILE_COLUMNAR_CACHE_MB; 0: off): `query` prints `COLUMNAR_CACHE <MiB>` first. The
// first run of each query builds the cache (FIRST); later runs read it.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "rutile/env.h"
#include "rutile/sql.h"

namespace rutile::analytics {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "analytics_rutile: %s\n", what.c_str());
  std::fflush(nullptr);
  std::_Exit(1);  // Not exit(): the cluster's threads are still running.
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the whole process (every thread) so far.
double CpuNow() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::unique_ptr<sql::Database> Open(const std::string& dir) {
  sql::LocalClusterOptions o;
  o.nodes = 1;
  o.data_dir = dir;
  // A block cache that holds the table (5M rows: ~400 MB of uncompressed blocks), as a
  // database server sizes it (TiKV: 45% of the memory); the engine's default is 8 MiB.
  // RUTILE_BLOCK_CACHE_MB overrides it (0: the engine's default).
  o.block_cache_bytes = size_t{1024} << 20;
  if (const char* mb = std::getenv("RUTILE_BLOCK_CACHE_MB")) {
    o.block_cache_bytes = static_cast<size_t>(std::stoull(mb)) << 20;
  }
  // The stores' columnar cache of region data for coprocessor scans (opt-in in the
  // library, NodeOptions::columnar_cache_bytes): on here, 1 GiB (the 5M-row table's four
  // columns and handles take ~200 MB); RUTILE_COLUMNAR_CACHE_MB overrides it (0: off).
  o.columnar_cache_bytes = size_t{1024} << 20;
  if (const char* mb = std::getenv("RUTILE_COLUMNAR_CACHE_MB")) {
    o.columnar_cache_bytes = static_cast<size_t>(std::stoull(mb)) << 20;
  }
  auto db = sql::Database::OpenLocalCluster(o);
  if (!db.ok()) Die("open " + dir + ": " + db.status().ToString());
  return *std::move(db);
}

// Executes `stmt`; a failure is returned, not fatal.
absl::StatusOr<sql::ResultSet> TryExec(sql::Session* s, const std::string& stmt) {
  return s->Execute(stmt);
}

sql::ResultSet Exec(sql::Session* s, const std::string& stmt) {
  auto r = s->Execute(stmt);
  if (!r.ok()) {
    sql::MySqlErrorInfo e = sql::MySqlErrorOf(r.status());
    Die("'" + stmt.substr(0, 120) + "': " + std::to_string(e.code) + " " + e.message);
  }
  return *std::move(r);
}

// A session in the database `analytics` (created on first use).
std::unique_ptr<sql::Session> NewSession(sql::Database* db) {
  auto s = db->NewSession();
  Exec(s.get(), "CREATE DATABASE IF NOT EXISTS analytics");
  Exec(s.get(), "USE analytics");
  return s;
}

std::string RowText(const sql::Row& row) {
  std::string out;
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) out += '|';
    out += row[i].has_value() ? *row[i] : "NULL";
  }
  return out;
}

int Load(const std::string& dir, const std::string& table, const std::string& csv,
         size_t rows_per_insert, size_t inserts_per_txn) {
  std::ifstream in(csv);
  if (!in) Die("cannot read " + csv);
  uint64_t rows = 0;
  const std::string key_col = "id";  // The CSV's first column: the table's primary key.
  double start = Now();
  bench::OnFiber([&] {
    auto db = Open(dir);
    auto s = NewSession(db.get());
    std::string line, stmt;
    size_t in_stmt = 0;
    // The current transaction's INSERTs, replayed when it fails with an error MySQL calls
    // retryable (8027/8028: the schema lease ran out, as it can on a loaded machine while
    // a large prewrite runs; 9007: a write conflict). A transaction that reported 8027 may
    // still have committed (an async-commit transaction is committed once its prewrites
    // succeed): its id range is counted before replaying it.
    std::vector<std::string> txn;
    int64_t txn_first = INT64_MAX, txn_last = INT64_MIN;
    uint64_t txn_rows = 0;
    auto committed_rows = [&]() -> uint64_t {
      absl::StatusOr<sql::ResultSet> r =
          TryExec(s.get(), "SELECT COUNT(*) FROM " + table + " WHERE " + key_col + " BETWEEN " +
                               std::to_string(txn_first) + " AND " + std::to_string(txn_last));
      if (!r.ok() || r->rows.empty() || !r->rows[0][0].has_value()) return UINT64_MAX;
      return std::stoull(*r->rows[0][0]);
    };
    auto commit = [&] {
      if (txn.empty()) return;
      absl::Status last;
      for (int attempt = 0; attempt < 20; ++attempt) {
        if (attempt > 0) {
          const uint64_t have = committed_rows();
          if (have == txn_rows) {
            last = absl::OkStatus();
            break;
          }
          if (have != 0) Die("a failed load transaction left " + std::to_string(have) + " rows");
        }
        last = TryExec(s.get(), "BEGIN").status();
        for (size_t i = 0; last.ok() && i < txn.size(); ++i) {
          last = TryExec(s.get(), txn[i]).status();
        }
        if (last.ok()) last = TryExec(s.get(), "COMMIT").status();
        if (last.ok()) break;
        (void)TryExec(s.get(), "ROLLBACK");
        const uint16_t code = sql::MySqlErrorOf(last).code;
        if (code != 8027 && code != 8028 && code != 9007) break;
        std::fprintf(stderr, "analytics_rutile: retrying a transaction after %u\n", code);
        Env::Default()->SleepForMicros(200'000 * (attempt + 1));
      }
      if (!last.ok()) {
        sql::MySqlErrorInfo e = sql::MySqlErrorOf(last);
        Die("load transaction: " + std::to_string(e.code) + " " + e.message);
      }
      txn.clear();
      txn_first = INT64_MAX;
      txn_last = INT64_MIN;
      txn_rows = 0;
    };
    auto flush_stmt = [&] {
      if (in_stmt == 0) return;
      txn.push_back(std::move(stmt));
      stmt.clear();
      in_stmt = 0;
      if (txn.size() == inserts_per_txn) commit();
    };
    // Rows up to the table's largest id are there already (a load that failed part way
    // resumes where it stopped).
    int64_t have = INT64_MIN;
    {
      sql::ResultSet r = Exec(s.get(), "SELECT MAX(" + key_col + ") FROM " + table);
      if (!r.rows.empty() && r.rows[0][0].has_value()) have = std::stoll(*r.rows[0][0]);
    }
    uint64_t skipped = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (have != INT64_MIN && std::stoll(line.substr(0, line.find(','))) <= have) {
        ++skipped;
        continue;
      }
      if (in_stmt == 0) {
        stmt = "INSERT INTO " + table + " VALUES (";
      } else {
        stmt += ",(";
      }
      stmt += line;
      stmt += ')';
      const int64_t id = std::stoll(line.substr(0, line.find(',')));
      txn_first = std::min(txn_first, id);
      txn_last = std::max(txn_last, id);
      ++txn_rows;
      ++rows;
      if (++in_stmt == rows_per_insert) flush_stmt();
    }
    flush_stmt();
    commit();
    if (skipped > 0) {
      std::fprintf(stderr, "analytics_rutile: %llu rows of %s were loaded before\n",
                   static_cast<unsigned long long>(skipped), table.c_str());
    }
    s.reset();
    db.reset();
  });
  std::printf("LOADED %s %llu %.3f\n", table.c_str(), static_cast<unsigned long long>(rows),
              Now() - start);
  return 0;
}

int Sql(const std::string& dir, const std::vector<std::string>& stmts) {
  bench::OnFiber([&] {
    auto db = Open(dir);
    auto s = NewSession(db.get());
    for (const std::string& st : stmts) {
      sql::ResultSet r = Exec(s.get(), st);
      for (const sql::Row& row : r.rows) std::printf("%s\n", RowText(row).c_str());
    }
    s.reset();
    db.reset();
  });
  return 0;
}

int Query(const std::string& dir, int runs, const std::vector<std::string>& args) {
  if (args.size() % 2 != 0) Die("query wants NAME SQL pairs");
  bench::OnFiber([&] {
    auto db = Open(dir);
    auto s = NewSession(db.get());
    const char* mb = std::getenv("RUTILE_COLUMNAR_CACHE_MB");
    std::printf("COLUMNAR_CACHE %s MiB\n", mb != nullptr ? mb : "1024");
    for (size_t q = 0; q < args.size(); q += 2) {
      std::vector<double> times, cpus;
      std::string first;
      double first_time = 0, first_cpu = 0;
      for (int i = 0; i < runs; ++i) {
        double t0 = Now(), c0 = CpuNow();
        sql::ResultSet r = Exec(s.get(), args[q + 1]);
        times.push_back(Now() - t0);
        cpus.push_back(CpuNow() - c0);
        if (i == 0) {
          first_time = times.back();
          first_cpu = cpus.back();
        }
        first = r.rows.empty() ? "(no rows)" : RowText(r.rows[0]);
      }
      std::sort(times.begin(), times.end());
      std::sort(cpus.begin(), cpus.end());
      std::printf("FIRST %s %.4f\n", args[q].c_str(), first_time);
      std::printf("FIRST_CPU %s %.4f\n", args[q].c_str(), first_cpu);
      std::printf("TIME %s %.4f\n", args[q].c_str(), times[times.size() / 2]);
      std::printf("CPU %s %.4f\n", args[q].c_str(), cpus[cpus.size() / 2]);
      std::printf("RESULT %s %s\n", args[q].c_str(), first.c_str());
      std::fflush(stdout);
    }
    s.reset();
    db.reset();
  });
  return 0;
}

}  // namespace
}  // namespace rutile::analytics

int main(int argc, char** argv) {
  using namespace rutile::analytics;
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() >= 4 && a[0] == "load") {
    size_t per_insert = a.size() > 4 ? std::stoul(a[4]) : 1000;
    size_t per_txn = a.size() > 5 ? std::stoul(a[5]) : 8;
    return Load(a[1], a[2], a[3], per_insert, per_txn);
  }
  if (a.size() >= 3 && a[0] == "sql") {
    return Sql(a[1], std::vector<std::string>(a.begin() + 2, a.end()));
  }
  if (a.size() >= 5 && a[0] == "query") {
    return Query(a[1], std::stoi(a[2]), std::vector<std::string>(a.begin() + 3, a.end()));
  }
  std::fprintf(stderr,
               "usage: analytics_rutile load DIR TABLE CSV [ROWS_PER_INSERT [INSERTS_PER_TXN]]\n"
               "       analytics_rutile sql DIR STATEMENT...\n"
               "       analytics_rutile query DIR RUNS NAME SQL [NAME SQL ...]\n");
  return 2;
}
