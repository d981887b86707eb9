// The hash join's parallel probe (workers on fibers over the shared build side) gives
// what the serial probe gives on random inputs — rows in the same order, warnings too —
// for every join type, with and without an other-condition, and stops cleanly when its
// consumer stops early.

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
                  size_t max_chunks = SIZE_MAX) {
  ExecContext ctx;
  ctx.env = env;
  ctx.concurrency = concurrency;
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

}  // namespace
}  // namespace rutile::sql
