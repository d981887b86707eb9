// The coprocessor's column cache (sql/coprocessor/column_cache.h): cached table scans
// return what the MVCC row path returns, and an entry serves only reads of the same region
// data version and epoch at a ts at or above its newest commit.
//
// DagCacheTest drives RunDag over a map "snapshot" whose data version the test controls:
// hits, sub-ranges, columns added by a later scan, a changed version or epoch, reads below
// the newest commit, scans that met a lock or a newer version, eviction by bytes.
// ColumnCacheClusterTest runs a one-node cluster with the cache on: random writes and
// deletes interleaved with pushed-down queries compared against the KV path; a prewritten,
// uncommitted row is KeyIsLocked (never the cached value); a read at a ts older than a
// cached newer version gets the old value; splits change the epoch.

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/node_internal.h"
#include "node/txn_service.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "sql/chunk/chunk_codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/coprocessor/dag.h"
#include "sql/coprocessor/distsql.h"
#include "sql/expr/expr_pb.h"
#include "sql/session/session_test_util.h"
#include "txn/client/txn_client.h"
#include "txn/errors.h"

namespace rutile::sql::coprocessor {
namespace {

namespace pb = ::rutile::coprocessor;

constexpr int64_t kTable = 42;

// A snapshot over a map of raw keys, with a data version and trace the test sets.
class VersionedReader : public SnapshotReader {
 public:
  std::map<std::string, std::string> rows;
  CacheKey key{1, 7, 3, 100, true};
  bool latest = true;
  uint64_t max_commit_ts = 50;
  int scans = 0;

  absl::Status Scan(std::string_view start, std::string_view end, bool reverse,
                    absl::FunctionRef<bool(std::string_view, std::string_view)> fn) override {
    ++scans;
    auto lo = rows.lower_bound(std::string(start));
    auto hi = rows.lower_bound(std::string(end));
    if (reverse) {
      for (auto it = hi; it != lo;) {
        --it;
        if (!fn(it->first, it->second)) break;
      }
    } else {
      for (auto it = lo; it != hi; ++it) {
        if (!fn(it->first, it->second)) break;
      }
    }
    return absl::OkStatus();
  }
  CacheKey cache_key() const override { return key; }
  absl::Status ScanLatest(std::string_view start, std::string_view end,
                          absl::FunctionRef<bool(std::string_view, std::string_view)> fn, bool* l,
                          uint64_t* m) override {
    *l = latest;
    *m = max_commit_ts;
    return Scan(start, end, false, fn);
  }
};

class DagCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int64_t h = 1; h <= 3000; ++h) Put(h, h % 10, h % 7 == 0 ? -1 : h * 3);
  }
  void Put(int64_t h, int64_t k, int64_t v) {
    std::vector<int64_t> ids = {2, 3};
    std::vector<Datum> vals = {Datum::Int(k), v < 0 ? Datum() : Datum::Int(v)};
    auto row = codec::EncodeRow(ids, vals);
    ASSERT_TRUE(row.ok());
    reader_.rows[codec::EncodeRowKey(kTable, h)] = *row;
  }
  // A scan of columns `ids` (1: the handle) over [lo, hi), optionally descending.
  static pb::Request Request(std::vector<int64_t> ids, int64_t lo, int64_t hi, bool desc = false) {
    pb::Request req;
    req.set_start_ts(100);
    pb::KeyRange* r = req.add_ranges();
    r->set_start(codec::EncodeRowKey(kTable, lo));
    r->set_end(codec::EncodeRowKey(kTable, hi));
    pb::TableScan* ts = req.mutable_dag()->add_executors()->mutable_table_scan();
    ts->set_table_id(kTable);
    ts->set_desc(desc);
    for (int64_t id : ids) {
      pb::ColumnInfo* c = ts->add_columns();
      c->set_column_id(id);
      c->set_pk_handle(id == 1);
      expr::FieldTypeToPb(id == 1 ? FieldType::LongLong() : FieldType::Int(TypeCode::kLong),
                          c->mutable_type());
    }
    EvalContext ctx;
    expr::EvalConfigToPb(ctx, req.mutable_dag()->mutable_eval());
    return req;
  }
  // Rows as text, with and without the cache; expects them to agree.
  std::vector<std::string> Run(const pb::Request& req, ColumnCache* cache) {
    pb::Response resp;
    absl::Status s = RunDag(req, &reader_, &resp, cache);
    EXPECT_TRUE(s.ok()) << s;
    auto types = OutputTypes(req.dag());
    EXPECT_TRUE(types.ok());
    std::vector<std::string> out;
    for (const pb::Chunk& c : resp.chunks()) {
      auto chunk = DecodeChunk(c.data(), *types);
      EXPECT_TRUE(chunk.ok());
      if (!chunk.ok()) break;
      for (size_t i = 0; i < chunk->NumRows(); ++i) {
        std::string line;
        for (const Datum& d : chunk->GetRow(i)) line += d.ToString() + "|";
        out.push_back(line);
      }
    }
    EXPECT_EQ(resp.scanned_rows(), out.size());
    return out;
  }
  std::vector<std::string> Checked(const pb::Request& req) {
    std::vector<std::string> plain = Run(req, nullptr);
    std::vector<std::string> cached = Run(req, &cache_);
    EXPECT_EQ(cached, plain);
    return cached;
  }

  VersionedReader reader_;
  ColumnCache cache_{64 << 20};
};

TEST_F(DagCacheTest, HitsSubRangesAndColumnsAddedLater) {
  const pb::Request full = Request({1, 2}, 1, 3001);
  Checked(full);  // Builds.
  EXPECT_EQ(cache_.stats().entries, 1u);
  const int scans = reader_.scans;
  Checked(full);  // The row path runs once (the comparison), the cached path not at all.
  EXPECT_EQ(reader_.scans, scans + 1);
  EXPECT_EQ(cache_.stats().hits, 1u);
  // A sub-range (rows 500..1499) and several ranges filter the cached handles.
  EXPECT_EQ(Checked(Request({1, 2}, 500, 1500)).size(), 1000u);
  pb::Request multi = Request({2}, 10, 20);
  pb::KeyRange* r = multi.add_ranges();
  r->set_start(codec::EncodeRowKey(kTable, 2990));
  r->set_end(codec::EncodeRowKey(kTable, 3001));
  EXPECT_EQ(Checked(multi).size(), 21u);
  EXPECT_EQ(cache_.stats().hits, 3u);
  // Column 3 is missing: the scan reads rows and the rebuilt entry keeps column 2.
  Checked(Request({1, 3}, 1, 3001));
  EXPECT_EQ(cache_.stats().hits, 3u);
  Checked(Request({1, 2, 3}, 1, 3001));
  EXPECT_EQ(cache_.stats().hits, 4u);
  // Descending scans do not use the cache.
  Checked(Request({1, 2}, 1, 3001, /*desc=*/true));
  EXPECT_EQ(cache_.stats().hits, 4u);
}

TEST_F(DagCacheTest, EntryServesOnlyItsDataVersionEpochAndNewerReads) {
  const pb::Request req = Request({1, 2, 3}, 1, 3001);
  Checked(req);
  Checked(req);
  ASSERT_EQ(cache_.stats().hits, 1u);
  // A write to the region: new data, new version. The stale entry must not serve.
  Put(5, 1, 1);
  reader_.key.data_version = 8;
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 1u);
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 2u);
  // A split (epoch version) invalidates too.
  reader_.key.epoch_version = 4;
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 2u);
  // A read below the entry's newest commit goes to the row path.
  reader_.key.read_ts = 40;
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 2u);
  reader_.key.read_ts = 100;
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 3u);
  // A scan that met a lock or a newer version keeps nothing.
  reader_.key.data_version = 9;
  reader_.latest = false;
  Checked(req);
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 3u);
  EXPECT_EQ(cache_.stats().entries, 0u);
  // Nor does a read that may not build (read committed).
  reader_.latest = true;
  reader_.key.may_build = false;
  Checked(req);
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(DagCacheTest, EvictsLeastRecentlyUsedByBytes) {
  // Each region's entry of 1,000 rows (handles and column 2) takes about 16 KB; a build
  // may gather half the capacity.
  ColumnCache small(40'000, /*max_build_share=*/0.5);
  std::vector<std::string> first;
  for (uint64_t region = 1; region <= 3; ++region) {
    reader_.key.region_id = region;
    pb::Request req = Request({1, 2}, static_cast<int64_t>(region - 1) * 1000 + 1,
                              static_cast<int64_t>(region) * 1000 + 1);
    std::vector<std::string> plain = Run(req, nullptr);
    EXPECT_EQ(Run(req, &small), plain);
    EXPECT_EQ(Run(req, &small), plain);
  }
  ColumnCache::Stats st = small.stats();
  EXPECT_EQ(st.hits, 3u);
  EXPECT_GT(st.evictions, 0u);
  EXPECT_LE(st.bytes, 40'000u);
  // Region 1's entry went first; the latest stays.
  reader_.key.region_id = 3;
  Run(Request({1, 2}, 2001, 3001), &small);
  EXPECT_EQ(small.stats().hits, 4u);
  // A table larger than the whole budget is never kept; capacity 0 turns the cache off.
  ColumnCache tiny(1000);
  Run(Request({1, 2}, 1, 3001), &tiny);
  EXPECT_EQ(tiny.stats().entries, 0u);
  small.SetCapacity(0);
  EXPECT_EQ(small.stats().entries, 0u);
}

TEST_F(DagCacheTest, OneBuildGathersAtMostItsShareOfTheCapacity) {
  // 3,000 rows of handles and column 2: about 48 KB, under the capacity but over the
  // default quarter of it. Concurrent builds each hold what they gathered, so one build
  // must stop at its share (and the scan still answers).
  const pb::Request req = Request({1, 2}, 1, 3001);
  ColumnCache quarter(100'000);
  EXPECT_EQ(quarter.max_build_bytes(), 25'000u);
  EXPECT_EQ(Run(req, &quarter), Run(req, nullptr));
  EXPECT_EQ(Run(req, &quarter), Run(req, nullptr));
  EXPECT_EQ(quarter.stats().inserts, 0u);
  EXPECT_EQ(quarter.stats().hits, 0u);
  // A smaller range fits; so does the whole table with a larger share.
  EXPECT_EQ(Run(Request({1, 2}, 1, 1001), &quarter).size(), 1000u);
  EXPECT_EQ(quarter.stats().inserts, 1u);
  ColumnCache whole(100'000, /*max_build_share=*/1.0);
  EXPECT_EQ(Run(req, &whole), Run(req, nullptr));
  EXPECT_EQ(whole.stats().inserts, 1u);
  EXPECT_EQ(Run(req, &whole), Run(req, nullptr));
  EXPECT_EQ(whole.stats().hits, 1u);
}

TEST_F(DagCacheTest, AnOlderSnapshotNeitherErasesNorReplacesANewerEntry) {
  const pb::Request req = Request({1, 2}, 1, 3001);
  reader_.key.data_version = 20;
  Checked(req);
  ASSERT_EQ(cache_.stats().entries, 1u);
  // A read of an older snapshot of the region (it began before the write the entry
  // follows): the row path, and the newer entry stays.
  reader_.key.data_version = 19;
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 0u);
  reader_.key.data_version = 20;
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 1u);
  // Nor does an older build that ends later replace it.
  auto older = std::make_shared<CachedTable>();
  older->table_id = kTable;
  older->region_id = reader_.key.region_id;
  older->data_version = 19;
  older->epoch_version = reader_.key.epoch_version;
  EXPECT_FALSE(cache_.Insert(older));
  Checked(req);
  EXPECT_EQ(cache_.stats().hits, 2u);
  // A newer snapshot drops it for good.
  reader_.key.data_version = 21;
  reader_.key.may_build = false;
  Checked(req);
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(DagCacheTest, HandleColumnsComeFromTheEntrysHandles) {
  // Built by a scan without the handle column; a scan with it (as the integer primary
  // key, as _tidb_rowid, or unsigned) is served from the entry's handles, not rebuilt.
  Checked(Request({2}, 1, 3001));
  ASSERT_EQ(cache_.stats().inserts, 1u);
  const size_t bytes = cache_.stats().bytes;
  Checked(Request({1, 2}, 1, 3001));
  Checked(Request({1, 2}, 700, 2100));
  pb::Request rowid = Request({2}, 1, 3001);
  pb::ColumnInfo* h =
      rowid.mutable_dag()->mutable_executors(0)->mutable_table_scan()->add_columns();
  h->set_column_id(-1);
  h->set_pk_handle(true);
  expr::FieldTypeToPb(FieldType::LongLong(), h->mutable_type());
  Checked(rowid);
  pb::Request unsigned_pk = Request({1, 2}, 1, 3001);
  FieldType u = FieldType::LongLong();
  u.flag |= kUnsignedFlag;
  expr::FieldTypeToPb(u, unsigned_pk.mutable_dag()
                             ->mutable_executors(0)
                             ->mutable_table_scan()
                             ->mutable_columns(0)
                             ->mutable_type());
  std::vector<std::string> rows = Checked(unsigned_pk);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front().substr(0, 2), "1|");
  EXPECT_EQ(cache_.stats().hits, 4u);
  EXPECT_EQ(cache_.stats().inserts, 1u);
  // A scan of the handle alone (COUNT(*)) builds an entry of handles only.
  ColumnCache only(64 << 20);
  EXPECT_EQ(Run(Request({1}, 1, 3001), &only), Run(Request({1}, 1, 3001), nullptr));
  EXPECT_EQ(Run(Request({1}, 1, 3001), &only).size(), 3000u);
  EXPECT_EQ(only.stats().hits, 1u);
  EXPECT_LT(only.stats().bytes, bytes);
}

// ---- Over a cluster ----

std::vector<std::string> Rows(Session* s, const std::string& sql) {
  ResultSet r = Ok(s, sql);
  std::vector<std::string> out;
  for (const auto& row : r.rows) {
    std::string line;
    for (const auto& v : row) line += v.value_or("NULL") + "|";
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ColumnCacheClusterTest : public ::testing::Test {
 protected:
  void Start() {
    transport_ = NewLocalTransport(Env::Default());
    NodeOptions o = OneNodeOptions(transport_.get());
    o.columnar_cache_bytes = 32 << 20;
    auto n = Node::Open(o);
    ASSERT_TRUE(n.ok()) << n.status();
    node_ = *std::move(n);
    auto client = TxnClient::Open({node_.get()});
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    DatabaseOptions d;
    d.client = client_.get();
    auto db = Database::Open(d);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    s_ = db_->NewSession();
    Ok(s_.get(), "USE test");
    Ok(s_.get(), "CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v INT, s VARCHAR(10))");
    std::string sql = "INSERT INTO t VALUES ";
    for (int i = 1; i <= 1200; ++i) {
      if (i > 1) sql += ",";
      sql += absl::StrCat("(", i, ",", i % 10, ",",
                          i % 13 == 0 ? std::string("NULL") : absl::StrCat((i * 37) % 1000), ",'s",
                          i % 17, "')");
    }
    Ok(s_.get(), sql);
    table_id_ = std::stoll(One(s_.get(),
                               "SELECT TIDB_TABLE_ID FROM information_schema.tables WHERE "
                               "table_schema = 'test' AND table_name = 't'"));
    for (int64_t h : {400, 800}) {
      ASSERT_TRUE(client_->SplitAt(codec::EncodeRowKey(table_id_, h)).ok());
    }
    store_ = node::StoreOf(node::Access::ImplOf(node_.get()).get());
  }

  void Stop() {
    s_.reset();
    db_.reset();
    client_.reset();
    node_->Close();
  }

  ColumnCache::Stats CacheStats() { return node::ColumnarCacheStats(store_.get()); }

  // The rows of `sql` through the coprocessor (twice: the second may hit the cache) and
  // through the KV path; expects all three to agree.
  void Same(const std::string& sql) {
    std::vector<std::string> cop = Rows(s_.get(), sql);
    std::vector<std::string> again = Rows(s_.get(), sql);
    Ok(s_.get(), "SET tidb_allow_coprocessor = 0");
    std::vector<std::string> kv = Rows(s_.get(), sql);
    Ok(s_.get(), "SET tidb_allow_coprocessor = 1");
    EXPECT_EQ(cop, kv) << sql;
    EXPECT_EQ(again, kv) << sql;
  }

  // A direct coprocessor request at `ts` scanning columns id and v of the region holding
  // handle `h`: the sum of v over its rows, or the error.
  absl::StatusOr<int64_t> SumAt(int64_t h, uint64_t ts) {
    const std::string key = codec::EncodeRowKey(table_id_, h);
    std::shared_ptr<txn::TxnService> svc = node::TxnServiceFor(
        store_, node::PdApiOf(node::Access::ImplOf(node_->pd().get())), Env::Default());
    for (const metapb::Region& r : store_->Regions()) {
      auto start = r.start_key().empty() ? absl::StatusOr<std::string>(std::string())
                                         : txn::DecodeKey(r.start_key());
      auto end = r.end_key().empty() ? absl::StatusOr<std::string>(std::string())
                                     : txn::DecodeKey(r.end_key());
      if (!start.ok() || !end.ok()) continue;
      if (key < *start || (!end->empty() && key >= *end)) continue;
      pb::Request req;
      req.set_start_ts(ts);
      pb::KeyRange* kr = req.add_ranges();
      kr->set_start(std::max(*start, codec::EncodeRecordPrefix(table_id_)));
      std::string table_end = codec::EncodeRecordPrefix(table_id_ + 1);
      kr->set_end(end->empty() ? table_end : std::min(*end, table_end));
      pb::TableScan* ts_pb = req.mutable_dag()->add_executors()->mutable_table_scan();
      ts_pb->set_table_id(table_id_);
      pb::ColumnInfo* c1 = ts_pb->add_columns();
      c1->set_column_id(1);
      c1->set_pk_handle(true);
      expr::FieldTypeToPb(FieldType::LongLong(), c1->mutable_type());
      pb::ColumnInfo* c3 = ts_pb->add_columns();
      c3->set_column_id(3);
      expr::FieldTypeToPb(FieldType::Int(TypeCode::kLong), c3->mutable_type());
      EvalContext ctx;
      expr::EvalConfigToPb(ctx, req.mutable_dag()->mutable_eval());
      txn::RegionContext rc;
      rc.region_id = r.id();
      rc.conf_ver = r.region_epoch().conf_ver();
      rc.version = r.region_epoch().version();
      absl::StatusOr<pb::Response> resp = svc->Coprocessor(rc, req);
      if (!resp.ok()) return resp.status();
      auto types = OutputTypes(req.dag());
      if (!types.ok()) return types.status();
      int64_t sum = 0;
      for (const pb::Chunk& c : resp->chunks()) {
        auto chunk = DecodeChunk(c.data(), *types);
        if (!chunk.ok()) return chunk.status();
        for (size_t i = 0; i < chunk->NumRows(); ++i) {
          if (!chunk->column(1).IsNull(i)) sum += chunk->column(1).GetInt64(i);
        }
      }
      return sum;
    }
    return absl::NotFoundError("no region");
  }

  uint64_t Ts() {
    auto t = client_->Begin();
    EXPECT_TRUE(t.ok());
    return (*t)->impl()->txn->start_ts();
  }

  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<TxnClient> client_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Session> s_;
  std::shared_ptr<raftstore::Store> store_;
  int64_t table_id_ = 0;
};

TEST_F(ColumnCacheClusterTest, CachedScansEqualTheKvPathUnderRandomWrites) {
  OnFiber([&] {
    Start();
    const uint32_t seed = std::random_device()();
    std::printf("column_cache_test seed %u\n", seed);  // Replayable on a failure.
    std::mt19937 rng(seed);
    const std::vector<std::string> queries = {
        "SELECT COUNT(*), SUM(v), AVG(v) FROM t",
        "SELECT k % 4, COUNT(*), SUM(v) FROM t GROUP BY k % 4",
        "SELECT s, MIN(v), MAX(id) FROM t WHERE v > 300 GROUP BY s",
        "SELECT id, v FROM t ORDER BY v DESC, id LIMIT 9",
        "SELECT id, s FROM t WHERE id BETWEEN 350 AND 450 AND k <> 3",
    };
    for (const std::string& q : queries) Same(q);
    const uint64_t hits0 = CacheStats().hits;
    EXPECT_GT(hits0, 0u);
    for (int round = 0; round < 6; ++round) {
      // Writes in random regions: inserts, updates, deletes, some in one transaction.
      const bool txn = rng() % 2 == 0;
      if (txn) Ok(s_.get(), "BEGIN");
      for (int i = 0; i < 3; ++i) {
        const int64_t id = 1 + rng() % 1300;
        switch (rng() % 3) {
          case 0:
            Ok(s_.get(), absl::StrCat("REPLACE INTO t VALUES (", id, ",", rng() % 10, ",",
                                      rng() % 1000, ",'w')"));
            break;
          case 1:
            Ok(s_.get(), absl::StrCat("UPDATE t SET v = v + 1 WHERE id = ", id));
            break;
          default:
            Ok(s_.get(), absl::StrCat("DELETE FROM t WHERE id = ", id));
            break;
        }
      }
      if (txn) Ok(s_.get(), "COMMIT");
      Same(queries[rng() % queries.size()]);
      Same(queries[rng() % queries.size()]);
    }
    EXPECT_GT(CacheStats().hits, hits0);
    Stop();
  });
}

TEST_F(ColumnCacheClusterTest, LocksOlderReadsAndSplitsAreNeverServedStale) {
  OnFiber([&] {
    Start();
    const uint64_t t1 = Ts();
    absl::StatusOr<int64_t> base = SumAt(500, t1);
    ASSERT_TRUE(base.ok()) << base.status();
    ASSERT_TRUE(SumAt(500, t1).ok());
    const uint64_t hits = CacheStats().hits;
    EXPECT_GT(hits, 0u);
    EXPECT_EQ(*SumAt(500, Ts()), *base);

    // A committed update of row 500: newer reads see it, a read at t1 sees the old value
    // even after a newer read cached the new data.
    Ok(s_.get(), "UPDATE t SET v = v + 1000 WHERE id = 500");
    const uint64_t t2 = Ts();
    EXPECT_EQ(*SumAt(500, t2), *base + 1000);
    EXPECT_EQ(*SumAt(500, t2), *base + 1000);
    EXPECT_EQ(*SumAt(500, t1), *base);

    // A prewritten, uncommitted row: readers above its start_ts get KeyIsLocked, also
    // after a reader below it scanned the region (which must not have cached anything).
    const uint64_t before_lock = Ts();
    TxnOptions to;
    to.lock_ttl_ms = 60'000;
    auto dead = client_->Begin(to);
    ASSERT_TRUE(dead.ok());
    std::vector<int64_t> ids = {2, 3};
    std::vector<Datum> vals = {Datum::Int(1), Datum::Int(7)};
    auto row = codec::EncodeRow(ids, vals);
    ASSERT_TRUE(row.ok());
    ASSERT_TRUE((*dead)->Put(codec::EncodeRowKey(table_id_, 600), *row).ok());
    ASSERT_TRUE((*dead)->impl()->txn->TEST_PrewriteOnlyAndAbandon().ok());
    EXPECT_EQ(*SumAt(500, before_lock), *base + 1000);
    EXPECT_EQ(*SumAt(500, before_lock), *base + 1000);
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<int64_t> locked = SumAt(500, Ts());
      ASSERT_FALSE(locked.ok());
      EXPECT_TRUE(txn::GetTxnErrorAs<txn::KeyIsLocked>(locked.status()).has_value())
          << locked.status();
    }

    // A split: the region's epoch changes; each part reads its own rows.
    const uint64_t t3 = Ts();
    const int64_t left = *SumAt(100, t3);
    ASSERT_TRUE(client_->SplitAt(codec::EncodeRowKey(table_id_, 200)).ok());
    const int64_t a = *SumAt(100, t3);
    const int64_t b = *SumAt(300, t3);
    EXPECT_EQ(a + b, left);
    EXPECT_EQ(*SumAt(100, t3), a);
    Stop();
  });
}

}  // namespace
}  // namespace rutile::sql::coprocessor
