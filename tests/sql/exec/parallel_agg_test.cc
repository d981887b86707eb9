// The parallel hash aggregation (partial workers on fibers, partitioned final merge)
// gives what the serial one gives on random inputs, group order included, and fails
// cleanly on the memory quota.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/expression.h"

namespace rutile::sql {
namespace {

// Yields the chunks it holds (copies), then an empty chunk.
class ChunkSource : public Executor {
 public:
  ChunkSource(std::vector<FieldType> types, const std::vector<Chunk>* chunks)
      : types_(std::move(types)), chunks_(chunks) {}
  absl::Status Next(Chunk* out) override {
    if (pos_ >= chunks_->size()) {
      *out = Chunk(types_);
      return absl::OkStatus();
    }
    const Chunk& c = (*chunks_)[pos_++];
    *out = c.Slice(0, c.NumRows());
    return absl::OkStatus();
  }

 private:
  std::vector<FieldType> types_;
  const std::vector<Chunk>* chunks_;
  size_t pos_ = 0;
};

// Input columns: 0 k (INT, NULLs), 1 s (VARCHAR), 2 v (INT, NULLs), 3 d (DOUBLE,
// multiples of 1/4 so sums are exact in any order), 4 w (DECIMAL).
std::vector<FieldType> InputTypes() {
  return {FieldType::LongLong(), FieldType::Varchar(8), FieldType::LongLong(), FieldType::Double(),
          FieldType::NewDecimal(8, 2)};
}

std::vector<Chunk> RandomInput(std::mt19937_64& rng, size_t rows, int64_t keys) {
  std::vector<Chunk> chunks;
  Chunk c(InputTypes());
  for (size_t i = 0; i < rows; ++i) {
    Decimal w;
    Decimal::Parse(std::to_string(rng() % 1000) + "." + std::to_string(rng() % 100), &w);
    std::vector<Datum> row = {
        rng() % 17 == 0 ? Datum() : Datum::Int(static_cast<int64_t>(rng() % keys) - keys / 2),
        Datum::String(std::string(1 + rng() % 3, static_cast<char>('a' + rng() % 4))),
        rng() % 11 == 0 ? Datum() : Datum::Int(static_cast<int64_t>(rng() % 100000) - 50000),
        Datum::Double(static_cast<double>(rng() % 4000) / 4), Datum::Dec(w)};
    EXPECT_TRUE(c.AppendRow(row));
    if (c.NumRows() == kMaxChunkSize || rng() % 700 == 0) {
      chunks.push_back(std::move(c));
      c = Chunk(InputTypes());
    }
  }
  if (c.NumRows() > 0) chunks.push_back(std::move(c));
  return chunks;
}

expr::ExprPtr Col(size_t i) { return std::make_unique<expr::ColumnRef>(i, InputTypes()[i]); }

AggItem Agg(const std::string& name, std::vector<size_t> cols, bool distinct = false) {
  AggItem a;
  std::vector<FieldType> types;
  for (size_t c : cols) {
    a.args.push_back(Col(c));
    types.push_back(InputTypes()[c]);
  }
  a.desc = *expr::NewAggDesc(name, types, distinct);
  return a;
}

// GROUP BY `group_cols`: COUNT(*), COUNT(v), SUM(v), AVG(d), MIN(s), MAX(w),
// COUNT(DISTINCT v), SUM(d); first value of s.
std::shared_ptr<AggregateNode> Plan(const std::vector<size_t>& group_cols) {
  auto p = std::make_shared<AggregateNode>();
  for (size_t c : group_cols) {
    p->group_by.push_back(Col(c));
    p->schema.push_back({"g", "", "", InputTypes()[c]});
  }
  p->aggs.push_back(Agg("count", {}));
  p->aggs.push_back(Agg("count", {2}));
  p->aggs.push_back(Agg("sum", {2}));
  p->aggs.push_back(Agg("avg", {3}));
  p->aggs.push_back(Agg("min", {1}));
  p->aggs.push_back(Agg("max", {4}));
  p->aggs.push_back(Agg("count", {2}, true));
  p->aggs.push_back(Agg("sum", {3}));
  for (const AggItem& a : p->aggs) p->schema.push_back({"a", "", "", a.desc.result_type});
  p->first_values.push_back(Col(1));
  p->schema.push_back({"f", "", "", InputTypes()[1]});
  return p;
}

struct RunResult {
  absl::Status status;
  std::vector<std::string> rows;
};

RunResult RunAgg(const AggregateNode& p, const std::vector<Chunk>& input, Env* env, int concurrency,
                 int64_t quota = 0) {
  ExecContext ctx;
  ctx.env = env;
  ctx.concurrency = concurrency;
  ctx.mem_quota = quota;
  RunResult r;
  {
    auto agg = exec_internal::NewAggregateExec(p, &ctx,
                                               std::make_unique<ChunkSource>(InputTypes(), &input));
    while (true) {
      Chunk c;
      r.status = agg->Next(&c);
      if (!r.status.ok() || c.NumRows() == 0) break;
      for (size_t i = 0; i < c.NumRows(); ++i) {
        std::string line;
        for (size_t k = 0; k < c.NumCols(); ++k) line += c.GetDatum(i, k).DebugString() + "|";
        r.rows.push_back(line);
      }
    }
  }
  EXPECT_EQ(ctx.mem_used, 0) << "memory not released";
  return r;
}

// Runs `fn` on a fiber of a SimEnv with `seed` until it is done.
void OnSim(uint64_t seed, const std::function<void(Env*)>& fn) {
  SimEnvOptions o;
  o.seed = seed;
  SimEnv env(o);
  bool done = false;
  env.Spawn([&] {
    fn(&env);
    done = true;
  });
  ASSERT_TRUE(env.RunUntil([&] { return done; }, 60'000'000)) << "seed " << seed;
}

TEST(ParallelAggTest, RandomInputsMatchSerial) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    OnSim(seed, [&](Env* env) {
      std::mt19937_64 rng(seed);
      const size_t rows = rng() % 4 == 0 ? rng() % 900 : 1000 + rng() % 5000;
      const int64_t keys = seed % 3 == 0 ? 3 : seed % 3 == 1 ? 200 : 5000;
      std::vector<Chunk> input = RandomInput(rng, rows, keys);
      for (const std::vector<size_t>& group : std::vector<std::vector<size_t>>{{}, {0}, {1, 0}}) {
        std::shared_ptr<AggregateNode> p = Plan(group);
        RunResult serial = RunAgg(*p, input, nullptr, 1);
        ASSERT_TRUE(serial.status.ok()) << serial.status;
        for (int workers : {2, 3}) {
          RunResult par = RunAgg(*p, input, env, workers);
          ASSERT_TRUE(par.status.ok()) << par.status;
          ASSERT_EQ(par.rows, serial.rows)
              << "seed " << seed << " groups " << group.size() << " workers " << workers;
        }
      }
    });
  }
}

TEST(ParallelAggTest, QuotaFailsTheQueryCleanly) {
  OnSim(7, [&](Env* env) {
    std::mt19937_64 rng(7);
    std::vector<Chunk> input = RandomInput(rng, 8000, 1 << 30);  // Nearly every row a group.
    std::shared_ptr<AggregateNode> p = Plan({0});
    for (int workers : {1, 2}) {
      RunResult r = RunAgg(*p, input, workers == 1 ? nullptr : env, workers, 4 << 20);
      ASSERT_FALSE(r.status.ok()) << workers;
      EXPECT_EQ(MySqlErrorOf(r.status).code, 8175) << r.status;
      EXPECT_TRUE(r.rows.empty());
    }
    // Enough quota: it runs.
    RunResult ok = RunAgg(*p, input, env, 2, 1 << 30);
    EXPECT_TRUE(ok.status.ok()) << ok.status;
  });
}

}  // namespace
}  // namespace rutile::sql
