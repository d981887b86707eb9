// The coprocessor's DAG at the store (sql/coprocessor/dag.h) over an in-memory snapshot:
// scans, selection, partial aggregation, TopN and limit against what the rows say, the
// chunk codec, and malformed requests.

#include "sql/coprocessor/dag.h"

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
