// The hash join's parallel probe (workers on fibers over the shared build side) gives
// what the serial probe gives on random inputs — rows in the same order, warnings too,
// counted exactly past max_error_count — for every join type, with and without an
// other-condition; stops cleanly when its consumer stops early; counts its output against
// the memory quota; and after an error keeps returning it (no hang).

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/registry.h"

namespace rutile::sql {
namespace {

// Yields the chunks it holds (copies), then an empty chunk; counts the chunks read.
class ChunkSource : public Executor {
 public:
  ChunkSource(std::vector<FieldType> types, const std::vector<Chunk>* chunks, int* reads = nullptr)
      : types_(std::move(types)), chunks_(chunks), reads_(reads) {}
  absl::Status Next(Chunk* out) override {
    if (reads_ != nullptr) ++*reads_;
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
  int* reads_;
  size_t pos_ = 0;
};

// Columns of both sides: 0 k (INT, NULLs), 1 s (VARCHAR: a number, or letters that a
// cast to integer truncates with a warning), 2 v (INT).
std::vector<FieldType> Types() {
  return {FieldType::LongLong(), FieldType::Varchar(8), FieldType::LongLong()};
}

// Full chunks (the probe goes parallel after a full one), the last one partial.
std::vector<Chunk> RandomInput(std::mt19937_64& rng, size_t rows, int64_t keys) {
  std::vector<Chunk> chunks;
  Chunk c(Types());
  for (size_t i = 0; i < rows; ++i) {
    std::vector<Datum> row = {
        rng() % 13 == 0 ? Datum() : Datum::Int(static_cast<int64_t>(rng() % keys)),
        rng() % 97 == 0 ? Datum::String("x") : Datum::String(std::to_string(rng() % keys)),
        Datum::Int(static_cast<int64_t>(rng() % 1000))};
    EXPECT_TRUE(c.AppendRow(row));
    if (c.NumRows() == kMaxChunkSize) {
      chunks.push_back(std::move(c));
      c = Chunk(Types());
    }
  }
  if (c.NumRows() > 0) chunks.push_back(std::move(c));
  return chunks;
}

expr::ExprPtr Col(size_t i) { return expr::NewColumn(i, Types()[i]); }

// left JOIN right ON left.k = right.k (int keys) or CAST(left.s AS SIGNED) = right.k
// (computed keys, warnings), [AND left.v < right.v].
std::shared_ptr<JoinNode> Plan(JoinType type, bool cast_key, bool other) {
  auto p = std::make_shared<JoinNode>();
  p->type = type;
  for (int side = 0; side < 2; ++side) {
    auto child = std::make_shared<DualNode>();  // Only its schema is read.
    for (const FieldType& t : Types()) child->schema.push_back({"c", "", "", t});
    p->children.push_back(child);
  }
  p->left_keys.push_back(cast_key ? expr::NewCast(Col(1), FieldType::LongLong()) : Col(0));
  p->right_keys.push_back(Col(0));
  if (other) {
    std::vector<expr::ExprPtr> args;
    args.push_back(Col(2));
    args.push_back(expr::NewColumn(3 + 2, Types()[2]));
    p->other = *expr::NewFunction("lt", std::move(args));
  }
  std::vector<FieldType> out = Types();
  if (type == JoinType::kInner || type == JoinType::kLeft) {
    for (const FieldType& t : Types()) out.push_back(t);
  }
  for (const FieldType& t : out) p->schema.push_back({"c", "", "", t});
  return p;
}

struct RunResult {
  absl::Status status;
  std::vector<std::string> rows;
  size_t warnings = 0;
};

RunResult RunJoin(const JoinNode& p, const std::vector<Chunk>& left,
                  const std::vector<Chunk>& right, Env* env, int concurrency,
                  size_t max_chunks = SIZE_MAX,
                  const std::function<void(ExecContext*)>& setup = nullptr) {
  ExecContext ctx;
  ctx.env = env;
  ctx.concurrency = concurrency;
  if (setup) setup(&ctx);
  RunResult r;
  {
    auto join = exec_internal::NewJoinExec(p, &ctx, std::make_unique<ChunkSource>(Types(), &left),
                                           std::make_unique<ChunkSource>(Types(), &right));
    for (size_t n = 0; n < max_chunks; ++n) {
      Chunk c;
      r.status = join->Next(&c);
      if (!r.status.ok() || c.NumRows() == 0) break;
      for (size_t i = 0; i < c.NumRows(); ++i) {
        std::string line;
        for (size_t k = 0; k < c.NumCols(); ++k) line += c.GetDatum(i, k).DebugString() + "|";
        r.rows.push_back(line);
      }
    }
  }
  r.warnings = ctx.warning_count();
  EXPECT_EQ(ctx.mem_used, 0) << "memory not released";
  return r;
}

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

TEST(ParallelJoinTest, RandomInputsMatchSerial) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    OnSim(seed, [&](Env* env) {
      std::mt19937_64 rng(seed);
      const int64_t keys = seed % 2 == 0 ? 50 : 3000;
      std::vector<Chunk> left = RandomInput(rng, 1024 * 2 + rng() % 2000, keys);
      std::vector<Chunk> right = RandomInput(rng, 200 + rng() % 800, keys);
      for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kSemi, JoinType::kAnti}) {
        for (int variant = 0; variant < 3; ++variant) {
          std::shared_ptr<JoinNode> p = Plan(type, variant == 2, variant >= 1);
          RunResult serial = RunJoin(*p, left, right, nullptr, 1);
          ASSERT_TRUE(serial.status.ok()) << serial.status;
          {
            const int workers = 2 + static_cast<int>(seed % 2);
            RunResult par = RunJoin(*p, left, right, env, workers);
            ASSERT_TRUE(par.status.ok()) << par.status;
            ASSERT_EQ(par.rows, serial.rows)
                << "seed " << seed << " type " << static_cast<int>(type) << " variant " << variant
                << " workers " << workers;
            ASSERT_EQ(par.warnings, serial.warnings) << "seed " << seed;
          }
        }
      }
    });
  }
}

TEST(ParallelJoinTest, StopsCleanlyWhenTheConsumerStopsEarly) {
  OnSim(9, [&](Env* env) {
    std::mt19937_64 rng(9);
    std::vector<Chunk> left = RandomInput(rng, 1024 * 12, 40);
    std::vector<Chunk> right = RandomInput(rng, 500, 40);
    std::shared_ptr<JoinNode> p = Plan(JoinType::kInner, false, true);
    RunResult serial = RunJoin(*p, left, right, nullptr, 1, 3);
    RunResult par = RunJoin(*p, left, right, env, 4, 3);
    ASSERT_TRUE(par.status.ok()) << par.status;
    EXPECT_EQ(par.rows, serial.rows);
  });
}

// Warnings past max_warnings are counted, not kept: the workers' counts reach the
// statement whole (each worker keeps at most max_warnings per probe chunk).
TEST(ParallelJoinTest, WarningCountExactPastTheCap) {
  OnSim(11, [&](Env* env) {
    std::mt19937_64 rng(11);
    std::vector<Chunk> left = RandomInput(rng, 1024 * 6 + 100, 300);
    std::vector<Chunk> right = RandomInput(rng, 400, 300);
    auto cap = [](ExecContext* c) { c->max_warnings = 3; };
    for (bool other : {false, true}) {
      std::shared_ptr<JoinNode> p = Plan(JoinType::kLeft, true, other);
      RunResult serial = RunJoin(*p, left, right, nullptr, 1, SIZE_MAX, cap);
      RunResult par = RunJoin(*p, left, right, env, 2, SIZE_MAX, cap);
      ASSERT_TRUE(serial.status.ok()) << serial.status;
      ASSERT_TRUE(par.status.ok()) << par.status;
      EXPECT_GT(serial.warnings, 30u);
      EXPECT_EQ(par.warnings, serial.warnings) << "other " << other;
      EXPECT_EQ(par.rows, serial.rows);
    }
  });
}

// Output waiting for the consumer counts against the quota: a probe whose chunks match
// many build rows each fails with 8175 (the build side alone fits), serially and in
// parallel; with room it runs, and everything is released.
TEST(ParallelJoinTest, ProbeOutputCountsAgainstTheQuota) {
  OnSim(12, [&](Env* env) {
    std::mt19937_64 rng(12);
    std::vector<Chunk> left = RandomInput(rng, 1024 * 3, 10);
    std::vector<Chunk> right = RandomInput(rng, 150, 10);  // ~15 matches per probe row.
    std::shared_ptr<JoinNode> p = Plan(JoinType::kInner, false, false);
    auto quota = [](int64_t q) { return [q](ExecContext* c) { c->mem_quota = q; }; };
    for (int workers : {1, 3}) {
      Env* e = workers == 1 ? nullptr : env;
      RunResult small = RunJoin(*p, left, right, e, workers, SIZE_MAX, quota(400'000));
      ASSERT_FALSE(small.status.ok()) << "workers " << workers;
      EXPECT_NE(small.status.ToString().find("8175"), std::string::npos) << small.status;
      RunResult big = RunJoin(*p, left, right, e, workers, SIZE_MAX, quota(64'000'000));
      ASSERT_TRUE(big.status.ok()) << big.status;
      EXPECT_GT(big.rows.size(), 20'000u);
    }
  });
}

// An error from a worker's probe (a strict-mode cast) ends the statement; a later Next
// returns the error again instead of waiting for results the stopped workers never send.
TEST(ParallelJoinTest, NextAfterAnErrorReturnsIt) {
  OnSim(13, [&](Env* env) {
    std::vector<Chunk> left;
    for (int c = 0; c < 6; ++c) {
      Chunk chunk(Types());
      for (size_t i = 0; i < kMaxChunkSize; ++i) {
        const bool bad = c == 3 && i == 500;
        std::vector<Datum> row = {Datum::Int(static_cast<int64_t>(i % 7)),
                                  Datum::String(bad ? "x" : std::to_string(i % 7)),
                                  Datum::Int(static_cast<int64_t>(i))};
        ASSERT_TRUE(chunk.AppendRow(row));
      }
      left.push_back(std::move(chunk));
    }
    std::mt19937_64 rng(13);
    std::vector<Chunk> right = RandomInput(rng, 50, 7);
    std::shared_ptr<JoinNode> p = Plan(JoinType::kInner, true, false);
    ExecContext ctx;
    ctx.env = env;
    ctx.concurrency = 2;
    ctx.strict_writes = true;
    auto join = exec_internal::NewJoinExec(*p, &ctx, std::make_unique<ChunkSource>(Types(), &left),
                                           std::make_unique<ChunkSource>(Types(), &right));
    absl::Status first;
    for (int n = 0; n < 1000 && first.ok(); ++n) {
      Chunk c;
      first = join->Next(&c);
      ASSERT_TRUE(!first.ok() || c.NumRows() > 0) << "ended without the error";
    }
    ASSERT_FALSE(first.ok());
    for (int again = 0; again < 3; ++again) {
      Chunk c;
      EXPECT_EQ(join->Next(&c), first);
    }
  });
}

}  // namespace
}  // namespace rutile::sql
