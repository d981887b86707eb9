// The coprocessor's DAG at the store (sql/coprocessor/dag.h) over an in-memory snapshot:
// scans, selection, partial aggregation, TopN and limit against what the rows say, the
// chunk codec, and malformed requests.

#include "sql/coprocessor/dag.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sql/chunk/chunk_codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expr_pb.h"
#include "sql/expr/registry.h"
#include "sql/types/compare.h"

namespace rutile::sql::coprocessor {
namespace {

namespace pb = ::rutile::coprocessor;

constexpr int64_t kTable = 42;

std::vector<expr::ExprPtr> Args(expr::ExprPtr a, expr::ExprPtr b) {
  std::vector<expr::ExprPtr> v;
  v.push_back(std::move(a));
  v.push_back(std::move(b));
  return v;
}

// A snapshot over a map of raw keys.
class MapReader : public SnapshotReader {
 public:
  std::map<std::string, std::string> rows;
  absl::Status error;
  absl::Status Scan(std::string_view start, std::string_view end, bool reverse,
                    absl::FunctionRef<bool(std::string_view, std::string_view)> fn) override {
    if (!error.ok()) return error;
    auto lo = rows.lower_bound(std::string(start));
    auto hi = end.empty() ? rows.end() : rows.lower_bound(std::string(end));
    if (!reverse) {
      for (auto it = lo; it != hi; ++it) {
        if (!fn(it->first, it->second)) break;
      }
    } else {
      for (auto it = hi; it != lo;) {
        --it;
        if (!fn(it->first, it->second)) break;
      }
    }
    return absl::OkStatus();
  }
};

// t(id BIGINT handle, k INT, v VARCHAR): row h has k = h % 10, v = "v<h>" (NULL when h % 7
// == 0).
class DagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int64_t h = 1; h <= 100; ++h) {
      std::vector<int64_t> ids = {2, 3};
      std::vector<Datum> vals = {Datum::Int(h % 10),
                                 h % 7 == 0 ? Datum() : Datum::String("v" + std::to_string(h))};
      auto row = codec::EncodeRow(ids, vals);
      ASSERT_TRUE(row.ok());
      reader_.rows[codec::EncodeRowKey(kTable, h)] = *row;
    }
  }

  static std::vector<FieldType> ScanTypes() {
    return {FieldType::LongLong(), FieldType::Int(TypeCode::kLong), FieldType::Varchar(20)};
  }

  pb::Request NewRequest(int64_t lo = 1, int64_t hi = 101) {
    pb::Request req;
    req.set_start_ts(100);
    pb::KeyRange* r = req.add_ranges();
    r->set_start(codec::EncodeRowKey(kTable, lo));
    r->set_end(codec::EncodeRowKey(kTable, hi));
    pb::TableScan* ts = req.mutable_dag()->add_executors()->mutable_table_scan();
    ts->set_table_id(kTable);
    const std::vector<FieldType> types = ScanTypes();
    const int64_t ids[] = {1, 2, 3};
    for (size_t i = 0; i < types.size(); ++i) {
      pb::ColumnInfo* c = ts->add_columns();
      c->set_column_id(ids[i]);
      c->set_pk_handle(i == 0);
      expr::FieldTypeToPb(types[i], c->mutable_type());
    }
    EvalContext ctx;
    expr::EvalConfigToPb(ctx, req.mutable_dag()->mutable_eval());
    return req;
  }

  // Runs `req` and decodes its rows.
  std::vector<std::vector<Datum>> Run(const pb::Request& req, uint64_t* scanned = nullptr) {
    pb::Response resp;
    absl::Status s = RunDag(req, &reader_, &resp);
    EXPECT_TRUE(s.ok()) << s;
    auto types = OutputTypes(req.dag());
    EXPECT_TRUE(types.ok()) << types.status();
    std::vector<std::vector<Datum>> rows;
    for (const pb::Chunk& c : resp.chunks()) {
      auto chunk = DecodeChunk(c.data(), *types);
      EXPECT_TRUE(chunk.ok()) << chunk.status();
      if (!chunk.ok()) break;
      for (size_t i = 0; i < chunk->NumRows(); ++i) rows.push_back(chunk->GetRow(i));
    }
    if (scanned != nullptr) *scanned = resp.scanned_rows();
    return rows;
  }

  static void AddCondition(pb::Request* req, const expr::Expression& e) {
    ASSERT_TRUE(expr::ExprToPb(
                    e, req->mutable_dag()->add_executors()->mutable_selection()->add_conditions())
                    .ok());
  }

  MapReader reader_;
};

TEST_F(DagTest, TableScanDecodesEveryRowInKeyOrder) {
  auto rows = Run(NewRequest());
  ASSERT_EQ(rows.size(), 100u);
  for (int64_t h = 1; h <= 100; ++h) {
    const auto& r = rows[h - 1];
    EXPECT_EQ(r[0].GetInt64(), h);
    EXPECT_EQ(r[1].GetInt64(), h % 10);
    if (h % 7 == 0) {
      EXPECT_TRUE(r[2].IsNull());
    } else {
      EXPECT_EQ(r[2].ToString(), "v" + std::to_string(h));
    }
  }
  // A descending scan of a sub-range.
  pb::Request req = NewRequest(10, 20);
  req.mutable_dag()->mutable_executors(0)->mutable_table_scan()->set_desc(true);
  rows = Run(req);
  ASSERT_EQ(rows.size(), 10u);
  EXPECT_EQ(rows.front()[0].GetInt64(), 19);
  EXPECT_EQ(rows.back()[0].GetInt64(), 10);
}

TEST_F(DagTest, SelectionThenLimitStopsTheScanEarly) {
  pb::Request req = NewRequest();
  auto k = expr::NewColumn(1, FieldType::Int(TypeCode::kLong), "k");
  auto cond = expr::NewFunction("eq", Args(std::move(k), expr::NewInt(3)));
  ASSERT_TRUE(cond.ok()) << cond.status();
  AddCondition(&req, **cond);
  auto rows = Run(req);
  ASSERT_EQ(rows.size(), 10u);
  for (const auto& r : rows) EXPECT_EQ(r[1].GetInt64(), 3);

  req.mutable_dag()->add_executors()->mutable_limit()->set_limit(2);
  req.mutable_dag()->set_chunk_rows(4);
  uint64_t scanned = 0;
  rows = Run(req, &scanned);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0].GetInt64(), 3);
  EXPECT_EQ(rows[1][0].GetInt64(), 13);
  EXPECT_LT(scanned, 30u);  // Not the whole table.
}

TEST_F(DagTest, PartialAggregationMergesToTheRowAtATimeResult) {
  pb::Request req = NewRequest();
  pb::Aggregation* agg = req.mutable_dag()->add_executors()->mutable_aggregation();
  auto k = expr::NewColumn(1, FieldType::Int(TypeCode::kLong), "k");
  ASSERT_TRUE(expr::ExprToPb(*k, agg->add_group_by()).ok());
  std::vector<expr::ExprPtr> count_args;
  auto count = expr::NewAggDesc("count", {});
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(expr::AggToPb(*count, count_args, agg->add_aggs()).ok());
  std::vector<expr::ExprPtr> sum_args;
  sum_args.push_back(expr::NewColumn(0, FieldType::LongLong(), "id"));
  auto sum = expr::NewAggDesc("sum", {FieldType::LongLong()});
  ASSERT_TRUE(sum.ok());
  ASSERT_TRUE(expr::AggToPb(*sum, sum_args, agg->add_aggs()).ok());
  // Two regions' worth of partial results, merged.
  std::map<int64_t, std::pair<std::unique_ptr<expr::AggState>, std::unique_ptr<expr::AggState>>>
      groups;
  EvalContext ctx;
  for (auto [lo, hi] : {std::pair<int64_t, int64_t>{1, 50}, {50, 101}}) {
    pb::Request part = req;
    part.mutable_ranges(0)->set_start(codec::EncodeRowKey(kTable, lo));
    part.mutable_ranges(0)->set_end(codec::EncodeRowKey(kTable, hi));
    auto rows = Run(part);
    for (const auto& r : rows) {
      ASSERT_EQ(r.size(), 3u);  // count, sum, k.
      auto& g = groups[r[2].GetInt64()];
      if (!g.first) {
        g.first = expr::NewAggState(*count);
        g.second = expr::NewAggState(*sum);
      }
      ASSERT_TRUE(g.first->Merge(&ctx, std::vector<Datum>{r[0]}).ok());
      ASSERT_TRUE(g.second->Merge(&ctx, std::vector<Datum>{r[1]}).ok());
    }
  }
  ASSERT_EQ(groups.size(), 10u);
  for (auto& [key, g] : groups) {
    int64_t want_sum = 0, want_count = 0;
    for (int64_t h = 1; h <= 100; ++h) {
      if (h % 10 == key) {
        want_sum += h;
        ++want_count;
      }
    }
    EXPECT_EQ(g.first->FinalResult(&ctx)->ToString(), std::to_string(want_count));
    EXPECT_EQ(g.second->FinalResult(&ctx)->ToString(), std::to_string(want_sum));
  }
}

TEST_F(DagTest, TopNKeepsTheFirstRowsInOrder) {
  pb::Request req = NewRequest();
  pb::TopN* top = req.mutable_dag()->add_executors()->mutable_top_n();
  top->set_limit(5);
  pb::ByItem* by = top->add_order_by();
  by->set_desc(true);
  ASSERT_TRUE(
      expr::ExprToPb(*expr::NewColumn(1, FieldType::Int(TypeCode::kLong), "k"), by->mutable_expr())
          .ok());
  req.mutable_dag()->add_output_offsets(0);
  auto rows = Run(req);
  ASSERT_EQ(rows.size(), 5u);
  // k = 9 for 9, 19, 29, ...; ties keep key order.
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 1u);
    EXPECT_EQ(rows[i][0].GetInt64(), static_cast<int64_t>(9 + 10 * i));
  }
}

TEST_F(DagTest, MalformedRequestsAreClearErrors) {
  pb::Response resp;
  // No executors.
  pb::Request req = NewRequest();
  req.mutable_dag()->clear_executors();
  absl::Status s = RunDag(req, &reader_, &resp);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  // A condition over a column the scan does not produce.
  req = NewRequest();
  auto cond = expr::NewFunction(
      "eq", Args(expr::NewColumn(7, FieldType::Int(TypeCode::kLong), "x"), expr::NewInt(1)));
  ASSERT_TRUE(cond.ok());
  AddCondition(&req, **cond);
  s = RunDag(req, &reader_, &resp);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  // An output offset past the columns.
  req = NewRequest();
  req.mutable_dag()->add_output_offsets(3);
  EXPECT_TRUE(absl::IsInvalidArgument(RunDag(req, &reader_, &resp)));
  // Ranges out of order, or outside the table.
  req = NewRequest(50, 60);
  pb::KeyRange* r = req.add_ranges();
  r->set_start(codec::EncodeRowKey(kTable, 1));
  r->set_end(codec::EncodeRowKey(kTable, 5));
  EXPECT_TRUE(absl::IsInvalidArgument(RunDag(req, &reader_, &resp)));
  req = NewRequest();
  req.mutable_ranges(0)->set_end(codec::EncodeRowKey(kTable + 1, 5));
  EXPECT_TRUE(absl::IsInvalidArgument(RunDag(req, &reader_, &resp)));
  // A truncated request does not parse.
  std::string wire = NewRequest().SerializeAsString();
  pb::Request parsed;
  EXPECT_FALSE(parsed.ParseFromString(wire.substr(0, wire.size() - 3)));
  // The reader's errors come back unchanged.
  reader_.error = absl::FailedPreconditionError("locked");
  s = RunDag(NewRequest(), &reader_, &resp);
  EXPECT_EQ(s, reader_.error);
}

// A table w(id handle, g INT NULL, d DOUBLE NULL, s VARCHAR NULL) of random rows, for the
// vectorized partial aggregation (AggTable) and TopN over many small chunks: their results
// must equal a one-phase reference over the same rows.
class DagRandomTest : public ::testing::Test {
 protected:
  struct Row {
    int64_t id;
    Datum g, d, s;
  };

  void SetUp() override {
    uint64_t x = 88172645463325252ull;
    auto next = [&] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    for (int64_t h = 1; h <= 700; ++h) {
      Row r;
      r.id = h;
      r.g = next() % 9 == 0 ? Datum() : Datum::Int(static_cast<int64_t>(next() % 13) - 3);
      r.d = next() % 11 == 0 ? Datum() : Datum::Double(static_cast<double>(next() % 400) / 8);
      r.s = next() % 7 == 0 ? Datum() : Datum::String("s" + std::to_string(next() % 5));
      const std::vector<int64_t> ids = {2, 3, 4};
      const std::vector<Datum> vals = {r.g, r.d, r.s};
      auto row = codec::EncodeRow(ids, vals);
      ASSERT_TRUE(row.ok());
      reader_.rows[codec::EncodeRowKey(kTable, h)] = *row;
      rows_.push_back(r);
    }
  }

  static std::vector<FieldType> Types() {
    return {FieldType::LongLong(), FieldType::Int(TypeCode::kLong), FieldType::Double(),
            FieldType::Varchar(10)};
  }

  pb::Request NewRequest(uint32_t chunk_rows) {
    pb::Request req;
    req.set_start_ts(100);
    pb::KeyRange* r = req.add_ranges();
    r->set_start(codec::EncodeRowKey(kTable, 1));
    r->set_end(codec::EncodeRowKey(kTable, 1000));
    pb::TableScan* ts = req.mutable_dag()->add_executors()->mutable_table_scan();
    ts->set_table_id(kTable);
    const std::vector<FieldType> types = Types();
    for (size_t i = 0; i < types.size(); ++i) {
      pb::ColumnInfo* c = ts->add_columns();
      c->set_column_id(static_cast<int64_t>(i + 1));
      c->set_pk_handle(i == 0);
      expr::FieldTypeToPb(types[i], c->mutable_type());
    }
    req.mutable_dag()->set_chunk_rows(chunk_rows);
    EvalContext ctx;
    expr::EvalConfigToPb(ctx, req.mutable_dag()->mutable_eval());
    return req;
  }

  std::vector<std::vector<Datum>> Run(const pb::Request& req) {
    pb::Response resp;
    absl::Status s = RunDag(req, &reader_, &resp);
    EXPECT_TRUE(s.ok()) << s;
    auto types = OutputTypes(req.dag());
    EXPECT_TRUE(types.ok()) << types.status();
    std::vector<std::vector<Datum>> out;
    for (const pb::Chunk& c : resp.chunks()) {
      auto chunk = DecodeChunk(c.data(), *types);
      EXPECT_TRUE(chunk.ok()) << chunk.status();
      if (!chunk.ok()) break;
      for (size_t i = 0; i < chunk->NumRows(); ++i) out.push_back(chunk->GetRow(i));
    }
    return out;
  }

  Datum Value(const Row& r, size_t col) const {
    switch (col) {
      case 0:
        return Datum::Int(r.id);
      case 1:
        return r.g;
      case 2:
        return r.d;
      default:
        return r.s;
    }
  }

  MapReader reader_;
  std::vector<Row> rows_;
};

TEST_F(DagRandomTest, PartialAggregationOverManyChunksEqualsOnePhase) {
  const std::vector<FieldType> types = Types();
  // Aggregates: (name, argument column or -1 for none).
  const std::vector<std::pair<std::string, int>> calls = {{"count", -1}, {"count", 2}, {"sum", 1},
                                                          {"avg", 1},    {"sum", 2},   {"avg", 2},
                                                          {"min", 3},    {"max", 2},   {"sum", 0}};
  for (int key_col : {-1, 1, 3}) {  // No group-by, the INT column, the VARCHAR column.
    for (uint32_t chunk_rows : {1u, 7u, 1024u}) {
      SCOPED_TRACE(::testing::Message() << "group by " << key_col << " chunk " << chunk_rows);
      pb::Request req = NewRequest(chunk_rows);
      pb::Aggregation* agg = req.mutable_dag()->add_executors()->mutable_aggregation();
      if (key_col >= 0) {
        ASSERT_TRUE(
            expr::ExprToPb(*expr::NewColumn(key_col, types[key_col]), agg->add_group_by()).ok());
      }
      std::vector<expr::AggDesc> descs;
      for (const auto& [name, arg] : calls) {
        std::vector<FieldType> at;
        std::vector<expr::ExprPtr> args;
        if (arg >= 0) {
          at.push_back(types[arg]);
          args.push_back(expr::NewColumn(arg, types[arg]));
        }
        auto d = expr::NewAggDesc(name, at);
        ASSERT_TRUE(d.ok()) << d.status();
        ASSERT_TRUE(expr::AggToPb(*d, args, agg->add_aggs()).ok());
        descs.push_back(*d);
      }
      // Partial rows: each aggregate's partial columns, then the key.
      EvalContext ctx;
      std::map<std::string, std::vector<std::unique_ptr<expr::AggState>>> got;
      std::vector<std::string> got_order;
      for (const auto& r : Run(req)) {
        const std::string key = key_col >= 0 ? r.back().ToString() : "";
        auto& states = got[key];
        ASSERT_TRUE(states.empty()) << "group " << key << " twice";
        got_order.push_back(key);
        size_t col = 0;
        for (const expr::AggDesc& d : descs) {
          states.push_back(expr::NewAggState(d));
          const size_t w = expr::PartialTypes(d).size();
          std::vector<Datum> partial(r.begin() + static_cast<std::ptrdiff_t>(col),
                                     r.begin() + static_cast<std::ptrdiff_t>(col + w));
          ASSERT_TRUE(states.back()->Merge(&ctx, partial).ok());
          col += w;
        }
      }
      // The reference: one phase over the rows, groups in first-seen order.
      std::map<std::string, std::vector<std::unique_ptr<expr::AggState>>> want;
      std::vector<std::string> want_order;
      for (const Row& row : rows_) {
        const std::string key = key_col >= 0 ? Value(row, key_col).ToString() : "";
        auto& states = want[key];
        if (states.empty()) {
          want_order.push_back(key);
          for (const expr::AggDesc& d : descs) states.push_back(expr::NewAggState(d));
        }
        for (size_t a = 0; a < calls.size(); ++a) {
          std::vector<Datum> args;
          if (calls[a].second >= 0) args.push_back(Value(row, calls[a].second));
          ASSERT_TRUE(states[a]->Update(&ctx, args).ok());
        }
      }
      if (key_col < 0) {
        ASSERT_EQ(got_order.size(), 1u);
      }
      EXPECT_EQ(got_order, want_order);
      for (const std::string& key : want_order) {
        ASSERT_EQ(got.count(key), 1u) << key;
        for (size_t a = 0; a < calls.size(); ++a) {
          auto g = got[key][a]->FinalResult(&ctx);
          auto w = want[key][a]->FinalResult(&ctx);
          ASSERT_TRUE(g.ok() && w.ok());
          EXPECT_EQ(g->ToString(), w->ToString()) << "group " << key << " aggregate " << a;
        }
      }
    }
  }
}

TEST_F(DagRandomTest, TopNOverManyChunksEqualsAStableSort) {
  const std::vector<FieldType> types = Types();
  // ORDER BY d DESC (NULLs last in DESC), g; the handle breaks no ties: equal keys keep
  // scan order.
  for (uint64_t limit : {0u, 1u, 10u, 64u, 1000u}) {
    for (uint32_t chunk_rows : {3u, 1024u}) {
      SCOPED_TRACE(::testing::Message() << "limit " << limit << " chunk " << chunk_rows);
      pb::Request req = NewRequest(chunk_rows);
      pb::TopN* top = req.mutable_dag()->add_executors()->mutable_top_n();
      top->set_limit(limit);
      pb::ByItem* by = top->add_order_by();
      by->set_desc(true);
      ASSERT_TRUE(expr::ExprToPb(*expr::NewColumn(2, types[2]), by->mutable_expr()).ok());
      by = top->add_order_by();
      ASSERT_TRUE(expr::ExprToPb(*expr::NewColumn(1, types[1]), by->mutable_expr()).ok());
      auto got = Run(req);
      std::vector<Row> want = rows_;
      std::stable_sort(want.begin(), want.end(), [](const Row& a, const Row& b) {
        int c = CompareDatum(a.d, b.d);
        if (c != 0) return c > 0;
        return CompareDatum(a.g, b.g) < 0;
      });
      want.resize(std::min<size_t>(limit, want.size()));
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i][0].GetInt64(), want[i].id) << i;
      }
    }
  }
}

Datum Dec(const std::string& text) {
  Decimal d;
  Decimal::Parse(text, &d);
  return Datum::Dec(d);
}

TEST(ChunkCodecTest, RoundTripsEveryPhysicalTypeAndRejectsTruncation) {
  std::vector<FieldType> types = {FieldType::LongLong(),  FieldType::LongLong(true),
                                  FieldType::Double(),    FieldType::NewDecimal(10, 2),
                                  FieldType::Datetime(3), FieldType::Duration(0),
                                  FieldType::Varchar(10)};
  Chunk c(types);
  for (int i = 0; i < 20; ++i) {
    std::vector<Datum> row = {
        Datum::Int(-i),
        Datum::Uint(static_cast<uint64_t>(i) << 60),
        Datum::Double(i * 0.5),
        Dec(std::to_string(i) + ".25"),
        Datum::FromTime(Time::FromDatetime(2024, 1, 1 + i, 1, 2, 3, 456000, 3)),
        Datum::FromDuration(Duration{i * 1'000'000LL, 0}),
        Datum::String(std::string(i % 4, 'x'))};
    if (i % 5 == 0) row[i % 7] = Datum();
    ASSERT_TRUE(c.AppendRow(row)) << i;
  }
  c.SetSel({1, 3, 5, 10, 19});
  std::string data;
  EncodeChunk(c, &data);
  auto back = DecodeChunk(data, types);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->NumRows(), 5u);
  const uint32_t sel[] = {1, 3, 5, 10, 19};
  for (size_t i = 0; i < 5; ++i) {
    for (size_t col = 0; col < types.size(); ++col) {
      EXPECT_EQ(back->GetDatum(i, col).ToString(), c.GetDatum(sel[i], col).ToString())
          << i << "," << col;
    }
  }
  for (size_t cut = 0; cut < data.size(); ++cut) {
    EXPECT_FALSE(DecodeChunk(data.substr(0, cut), types).ok()) << cut;
  }
  EXPECT_FALSE(DecodeChunk(data + "x", types).ok());
  types[0] = FieldType::Varchar(3);
  EXPECT_FALSE(DecodeChunk(data, types).ok());
}

}  // namespace
}  // namespace rutile::sql::coprocessor
