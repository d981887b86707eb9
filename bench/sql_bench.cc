// SQL benchmark: statements through rutile::sql::Session beside the transactional KV
// client they run on, in the same program and run, on the same cluster: one in-process
// rutile::Node (MemEngine, PD hosted, one region), a rutile::TxnClient over it, and a
// Database::Open over that client. Both sides take a TSO timestamp per transaction and
// commit one-key transactions in one phase, so the ratios measure what the SQL layer
// (parsing or plan cache, binding, executors, row codec, session) costs over the KV path.
// Every case runs on a fiber of Env::Default() (the cluster's Env).
//
// Cases (Google Benchmark, wall clock, rates in items per second):
//   sql_point_select   prepared `SELECT v, s FROM t WHERE id = ?` on a 10,000-row table
//                      (a point get on the clustered handle, the plan cache's fast path:
//                      one Get on the transaction), autocommit
//   kv_get             TxnClient Begin + Get of a present key (a read-only transaction)
//   sql_insert         prepared single-row autocommit `INSERT INTO w VALUES (?, ?, ?)`
//                      (its duplicate check is the prewrite's: the row key goes as an
//                      Insert mutation, TiDB's lazy uniqueness check)
//   kv_put_commit      TxnClient Begin + Put + Commit of one fresh key (a one-key
//                      transaction, try_one_pc)
//   sql_agg_cop / sql_agg_kv
//                      `SELECT k % 10, SUM(v) FROM a GROUP BY k % 10` over a 100,000-row
//                      table split into 4 regions: through the coprocessor (partial
//                      aggregation at the region leaders, regions in parallel) against the
//                      KV path (tidb_allow_coprocessor = 0: every row to the SQL node)
//   sql_count_cop / sql_count_kv
//                      `SELECT COUNT(*) FROM a WHERE v > 900`, the same two ways
// Lines at the end:
//   RATIO point_select_vs_txn_get   target >= 0.5
//   RATIO insert_vs_one_key_txn     target >= 0.5
//   RATIO cop_agg_vs_kv_path        coprocessor over the old path (> 1: faster)
//   RATIO cop_count_vs_kv_path

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "rutile/testing/one_node.h"
#include "sql/codec/tablecodec.h"
#include "util/sync.h"

namespace rutile::sqlbench {
namespace {

constexpr int64_t kRows = 10'000;

uint64_t Mix(uint64_t x) {  // splitmix64.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void Die(const std::string& what) {
  std::fprintf(stderr, "sql_bench setup failed: %s\n", what.c_str());
  std::abort();
}

using bench::OnFiber;

struct Fixture {
  std::unique_ptr<testing::OneNodeCluster> cluster;
  TxnClient* kv = nullptr;
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<sql::Session> session;
  uint32_t select_id = 0;
  uint32_t insert_id = 0;
  TxnOptions one_pc;

  Fixture() {
    one_pc.try_one_pc = true;
    OnFiber([&] { Open(); });
  }

  void Open() {
    auto c = testing::OneNodeCluster::Open();
    if (!c.ok()) Die(c.status().ToString());
    cluster = *std::move(c);
    kv = cluster->client.get();
    sql::DatabaseOptions dbo;
    dbo.client = kv;
    auto d = sql::Database::Open(dbo);
    if (!d.ok()) Die(d.status().ToString());
    db = *std::move(d);
    session = db->NewSession();
    Must(session->Execute("USE test"));
    Must(session->Execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v INT, s VARCHAR(32))"));
    Must(session->Execute("CREATE TABLE w (id BIGINT PRIMARY KEY, v INT, s VARCHAR(32))"));
    for (int64_t base = 0; base < kRows; base += 500) {
      std::string sql = "INSERT INTO t VALUES ";
      for (int64_t i = base; i < base + 500; ++i) {
        if (i != base) sql += ",";
        sql += "(" + std::to_string(i) + "," + std::to_string(i * 7) + ",'value-" +
               std::to_string(i) + "')";
      }
      Must(session->Execute(sql));
    }
    auto sel = session->Prepare("SELECT v, s FROM t WHERE id = ?");
    Must(sel);
    select_id = *sel;
    auto ins = session->Prepare("INSERT INTO w VALUES (?, ?, ?)");
    Must(ins);
    insert_id = *ins;
    // The baseline's keys ("r...", "w...") sort before the SQL tables' ("t..."): the same
    // region, the same leader.
    for (int64_t base = 0; base < kRows; base += 500) {
      auto txn = kv->Begin();
      Must(txn);
      for (int64_t i = base; i < base + 500; ++i) Must((*txn)->Put(Key("r", i), Value(i)));
      Must((*txn)->Commit());
    }
  }

  static std::string Key(const char* prefix, int64_t i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s%019lld", prefix, static_cast<long long>(i));
    return buf;
  }
  static std::string Value(int64_t i) { return std::string(24, 'v') + std::to_string(i); }

  template <typename T>
  static void Must(const T& r) {
    if (!r.ok()) Die(r.status().ToString());
  }
  static void Must(const absl::Status& s) {
    if (!s.ok()) Die(s.ToString());
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

using Clock = std::chrono::steady_clock;

void Finish(benchmark::State& state, Clock::time_point start, const char* comparison,
            const char* side) {
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  state.SetItemsProcessed(state.iterations());
  if (secs > 0) bench::RecordRate(comparison, side, static_cast<double>(state.iterations()) / secs);
}

void BM_SqlPointSelect(benchmark::State& state) {
  Fixture& f = F();
  OnFiber([&] {
    uint64_t n = 0;
    auto start = Clock::now();
    for (auto _ : state) {
      int64_t id = static_cast<int64_t>(Mix(++n) % kRows);
      auto r = f.session->ExecutePrepared(f.select_id, {sql::Value::Int(id)});
      if (!r.ok() || r->rows.size() != 1) {
        state.SkipWithError("point select failed");
        break;
      }
      benchmark::DoNotOptimize(r->rows[0][0]);
    }
    Finish(state, start, "point_select_vs_txn_get", "rutile");
  });
}

void BM_KvGet(benchmark::State& state) {
  Fixture& f = F();
  OnFiber([&] {
    uint64_t n = 0;
    auto start = Clock::now();
    for (auto _ : state) {
      int64_t id = static_cast<int64_t>(Mix(++n) % kRows);
      auto txn = f.kv->Begin();
      if (!txn.ok()) {
        state.SkipWithError("begin failed");
        break;
      }
      auto v = (*txn)->Get(Fixture::Key("r", id));
      if (!v.ok() || !v->has_value()) {
        state.SkipWithError("get failed");
        break;
      }
      benchmark::DoNotOptimize(**v);
      (void)(*txn)->Commit();
    }
    Finish(state, start, "point_select_vs_txn_get", "baseline");
  });
}

void BM_SqlInsert(benchmark::State& state) {
  Fixture& f = F();
  OnFiber([&] {
    static int64_t next = 0;
    auto start = Clock::now();
    for (auto _ : state) {
      int64_t id = next++;
      auto r = f.session->ExecutePrepared(f.insert_id,
                                          {sql::Value::Int(id), sql::Value::Int(id * 7),
                                           sql::Value::String("value-" + std::to_string(id))});
      if (!r.ok()) {
        state.SkipWithError("insert failed");
        break;
      }
    }
    Finish(state, start, "insert_vs_one_key_txn", "rutile");
  });
}

void BM_KvPutCommit(benchmark::State& state) {
  Fixture& f = F();
  OnFiber([&] {
    static int64_t next = 0;
    auto start = Clock::now();
    for (auto _ : state) {
      int64_t id = next++;
      auto txn = f.kv->Begin(f.one_pc);
      if (!txn.ok() || !(*txn)->Put(Fixture::Key("w", id), Fixture::Value(id)).ok() ||
          !(*txn)->Commit().ok()) {
        state.SkipWithError("commit failed");
        break;
      }
    }
    Finish(state, start, "insert_vs_one_key_txn", "baseline");
  });
}

// The analytics table, loaded on first use: a(id, k, v) of 100,000 rows in 4 regions,
// and a session reading it through the KV path.
constexpr int64_t kAggRows = 100'000;
struct AggFixture {
  std::unique_ptr<sql::Session> cop;
  std::unique_ptr<sql::Session> kv;
  AggFixture() {
    Fixture& f = F();
    OnFiber([&] {
      cop = f.db->NewSession();
      kv = f.db->NewSession();
      Fixture::Must(cop->Execute("USE test"));
      Fixture::Must(kv->Execute("USE test"));
      Fixture::Must(kv->Execute("SET tidb_allow_coprocessor = 0"));
      Fixture::Must(cop->Execute("CREATE TABLE a (id BIGINT PRIMARY KEY, k INT, v INT)"));
      for (int64_t base = 0; base < kAggRows; base += 1000) {
        std::string sql = "INSERT INTO a VALUES ";
        for (int64_t i = base; i < base + 1000; ++i) {
          if (i != base) sql += ",";
          sql += "(" + std::to_string(i) + "," + std::to_string(Mix(i) % 1000) + "," +
                 std::to_string(Mix(i + kAggRows) % 1000) + ")";
        }
        Fixture::Must(cop->Execute(sql));
      }
      auto id = cop->Execute(
          "SELECT TIDB_TABLE_ID FROM information_schema.tables WHERE table_name = 'a'");
      Fixture::Must(id);
      const std::string tid = id->rows.at(0).at(0).value_or("0");
      // Split at handles 25k, 50k, 75k.
      for (int64_t h : {25'000, 50'000, 75'000}) {
        const std::string key = sql::codec::EncodeRowKey(std::stoll(tid), h);
        Fixture::Must(f.kv->SplitAt(key));
      }
    });
  }
};

AggFixture& A() {
  static AggFixture* a = new AggFixture();
  return *a;
}

void RunQuery(benchmark::State& state, sql::Session* s, const char* sql, size_t want_rows,
              const char* comparison, const char* side) {
  OnFiber([&] {
    auto start = Clock::now();
    for (auto _ : state) {
      auto r = s->Execute(sql);
      if (!r.ok() || r->rows.size() != want_rows) {
        state.SkipWithError(r.ok() ? "wrong row count" : r.status().ToString().c_str());
        break;
      }
      benchmark::DoNotOptimize(r->rows[0][0]);
    }
    Finish(state, start, comparison, side);
  });
}

constexpr char kAggSql[] = "SELECT k % 10, SUM(v) FROM a GROUP BY k % 10";
constexpr char kCountSql[] = "SELECT COUNT(*) FROM a WHERE v > 900";

void BM_SqlAggCop(benchmark::State& state) {
  RunQuery(state, A().cop.get(), kAggSql, 10, "cop_agg_vs_kv_path", "rutile");
}
void BM_SqlAggKv(benchmark::State& state) {
  RunQuery(state, A().kv.get(), kAggSql, 10, "cop_agg_vs_kv_path", "baseline");
}
void BM_SqlCountCop(benchmark::State& state) {
  RunQuery(state, A().cop.get(), kCountSql, 1, "cop_count_vs_kv_path", "rutile");
}
void BM_SqlCountKv(benchmark::State& state) {
  RunQuery(state, A().kv.get(), kCountSql, 1, "cop_count_vs_kv_path", "baseline");
}

// The loops run on a fiber, not on the benchmark's thread: size them by wall time.
BENCHMARK(BM_KvGet)->Name("kv_get")->UseRealTime();
BENCHMARK(BM_SqlPointSelect)->Name("sql_point_select")->UseRealTime();
BENCHMARK(BM_KvPutCommit)->Name("kv_put_commit")->UseRealTime();
BENCHMARK(BM_SqlInsert)->Name("sql_insert")->UseRealTime();
BENCHMARK(BM_SqlAggKv)->Name("sql_agg_kv")->UseRealTime();
BENCHMARK(BM_SqlAggCop)->Name("sql_agg_cop")->UseRealTime();
BENCHMARK(BM_SqlCountKv)->Name("sql_count_kv")->UseRealTime();
BENCHMARK(BM_SqlCountCop)->Name("sql_count_cop")->UseRealTime();

}  // namespace
}  // namespace rutile::sqlbench

int main(int argc, char** argv) { return rutile::bench::RunAndReport(argc, argv); }
