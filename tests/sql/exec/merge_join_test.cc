// The merge join (exec/merge_join_exec.cc) against the hash join (join_exec.cc) on the same
// ordered inputs: every join type, duplicates on both sides, NULL keys, empty sides,
// chunk boundaries inside a run of equal keys, keys of mixed signedness, decimals of
// different scales and case-insensitive strings; then what only the merge join does:
// refusing an unordered input, the memory quota over a long run, stopping early.

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/sql.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/registry.h"
#include "sql/types/compare.h"

namespace rutile::sql {
namespace {

// Yields the chunks it holds (copies), then empty chunks; counts the calls.
class ChunkSource : public Executor {
 public:
  ChunkSource(std::vector<FieldType> types, std::vector<Chunk> chunks, int* reads = nullptr)
      : types_(std::move(types)), chunks_(std::move(chunks)), reads_(reads) {}
  absl::Status Next(Chunk* out) override {
    if (reads_ != nullptr) ++*reads_;
    if (pos_ >= chunks_.size()) {
      *out = Chunk(types_);
      return absl::OkStatus();
    }
    const Chunk& c = chunks_[pos_++];
    *out = c.Slice(0, c.NumRows());
    return absl::OkStatus();
  }

 private:
  std::vector<FieldType> types_;
  std::vector<Chunk> chunks_;
  int* reads_;
  size_t pos_ = 0;
};

// Columns of both sides: 0 k INT (NULLs), 1 s VARCHAR general_ci, 2 v INT,
// 3 u BIGINT UNSIGNED, 4 d DECIMAL(10,2) (left) / DECIMAL(12,4) (right).
std::vector<FieldType> Types(bool left) {
  return {FieldType::LongLong(), FieldType::Varchar(8, Collation::kUtf8mb4GeneralCi),
          FieldType::LongLong(), FieldType::LongLong(true),
          left ? FieldType::NewDecimal(10, 2) : FieldType::NewDecimal(12, 4)};
}

using Row = std::vector<Datum>;

Datum Dec(const std::string& s) {
  Decimal d;
  EXPECT_EQ(Decimal::Parse(s, &d), DecimalStatus::kOk) << s;
  return Datum::Dec(d);
}

// Splits `rows` into chunks at the given sizes (cycled), so runs straddle chunks.
std::vector<Chunk> Chunks(const std::vector<Row>& rows, bool left,
                          const std::vector<size_t>& sizes) {
  std::vector<Chunk> out;
  size_t i = 0, s = 0;
  while (i < rows.size()) {
    const size_t n = std::min(sizes[s++ % sizes.size()], rows.size() - i);
    Chunk c(Types(left), std::max<size_t>(n, 1));
    for (size_t j = 0; j < n; ++j) EXPECT_TRUE(c.AppendRow(rows[i + j]));
    out.push_back(std::move(c));
    i += n;
  }
  return out;
}

// Which columns are the keys, on each side.
struct KeySpec {
  std::vector<size_t> left, right;
  size_t merge = 1;  // Leading keys the inputs are ordered on.
};

void SortRows(std::vector<Row>* rows, const std::vector<size_t>& cols) {
  std::stable_sort(rows->begin(), rows->end(), [&](const Row& a, const Row& b) {
    for (size_t c : cols) {
      int r = CompareDatum(a[c], b[c], Collation::kUtf8mb4GeneralCi);
      if (r != 0) return r < 0;
    }
    return false;
  });
}

std::shared_ptr<JoinNode> Plan(JoinType type, const KeySpec& keys, size_t merge_keys, bool other) {
  auto p = std::make_shared<JoinNode>();
  p->type = type;
  for (int side = 0; side < 2; ++side) {
    auto child = std::make_shared<DualNode>();  // Only its schema is read.
    for (const FieldType& t : Types(side == 0)) child->schema.push_back({"c", "", "", t});
    p->children.push_back(child);
  }
  for (size_t k = 0; k < keys.left.size(); ++k) {
    p->left_keys.push_back(expr::NewColumn(keys.left[k], Types(true)[keys.left[k]]));
    p->right_keys.push_back(expr::NewColumn(keys.right[k], Types(false)[keys.right[k]]));
  }
  p->merge_keys = merge_keys;
  if (other) {  // left.v < right.v
    std::vector<expr::ExprPtr> args;
    args.push_back(expr::NewColumn(2, FieldType::LongLong()));
    args.push_back(expr::NewColumn(5 + 2, FieldType::LongLong()));
    p->other = *expr::NewFunction("lt", std::move(args));
  }
  std::vector<FieldType> out = Types(true);
  if (type == JoinType::kInner || type == JoinType::kLeft) {
    for (const FieldType& t : Types(false)) out.push_back(t);
  }
  for (const FieldType& t : out) p->schema.push_back({"c", "", "", t});
  return p;
}

struct RunResult {
  absl::Status status;
  std::vector<std::string> rows;
  int left_reads = 0, right_reads = 0;
};

RunResult RunJoin(const JoinNode& p, std::vector<Chunk> left, std::vector<Chunk> right,
                  int64_t quota = 0, size_t max_chunks = SIZE_MAX) {
  ExecContext ctx;
  ctx.mem_quota = quota;
  RunResult r;
  {
    auto l = std::make_unique<ChunkSource>(Types(true), std::move(left), &r.left_reads);
    auto rt = std::make_unique<ChunkSource>(Types(false), std::move(right), &r.right_reads);
    std::unique_ptr<Executor> join =
        p.merge_keys > 0 ? exec_internal::NewMergeJoinExec(p, &ctx, std::move(l), std::move(rt))
                         : exec_internal::NewJoinExec(p, &ctx, std::move(l), std::move(rt));
    for (size_t n = 0; n < max_chunks; ++n) {
      Chunk c;
      r.status = join->Next(&c);
      if (!r.status.ok() || c.NumRows() == 0) break;
      EXPECT_LE(c.NumRows(), kMaxChunkSize);
      for (size_t i = 0; i < c.NumRows(); ++i) {
        std::string line;
        for (size_t k = 0; k < c.NumCols(); ++k) line += c.GetDatum(i, k).DebugString() + "|";
        r.rows.push_back(line);
      }
    }
    if (!r.status.ok()) {
      Chunk c;
      EXPECT_FALSE(join->Next(&c).ok()) << "a Next after an error must fail again";
    }
  }
  EXPECT_EQ(ctx.mem_used, 0) << "memory not released";
  return r;
}

constexpr JoinType kTypes[] = {JoinType::kInner, JoinType::kLeft, JoinType::kSemi, JoinType::kAnti};

// Merge and hash join give the same rows, in the same order (both emit in left order, each
// left row's matches in right order).
void ExpectSameAsHash(const std::vector<Row>& left, const std::vector<Row>& right,
                      const KeySpec& keys, const std::vector<size_t>& sizes,
                      const std::string& what) {
  for (JoinType type : kTypes) {
    for (bool other : {false, true}) {
      auto merge = Plan(type, keys, keys.merge, other);
      auto hash = Plan(type, keys, 0, other);
      RunResult m = RunJoin(*merge, Chunks(left, true, sizes), Chunks(right, false, sizes));
      RunResult h = RunJoin(*hash, Chunks(left, true, sizes), Chunks(right, false, sizes));
      ASSERT_TRUE(m.status.ok()) << m.status << " " << what;
      ASSERT_TRUE(h.status.ok()) << h.status;
      EXPECT_EQ(m.rows, h.rows) << what << " type " << static_cast<int>(type) << " other " << other;
    }
  }
}

Row R(std::optional<int64_t> k, std::string s, int64_t v, uint64_t u = 0,
      const std::string& d = "0") {
  return {k.has_value() ? Datum::Int(*k) : Datum::Null(), Datum::String(std::move(s)),
          Datum::Int(v), Datum::Uint(u), Dec(d)};
}

TEST(MergeJoinTest, DuplicatesNullsAndRunsAcrossChunks) {
  // Key 2 has three rows on the left and four on the right; NULLs on both sides.
  std::vector<Row> left = {R(std::nullopt, "a", 1),
                           R(std::nullopt, "b", 2),
                           R(1, "c", 3),
                           R(2, "d", 4),
                           R(2, "e", 5),
                           R(2, "f", 6),
                           R(4, "g", 7),
                           R(5, "h", 8),
                           R(7, "i", 9)};
  std::vector<Row> right = {R(std::nullopt, "x", 9),
                            R(2, "p", 3),
                            R(2, "q", 5),
                            R(2, "r", 7),
                            R(2, "s", 1),
                            R(3, "t", 0),
                            R(5, "u", 8),
                            R(5, "v", 9),
                            R(8, "w", 1)};
  KeySpec keys{{0}, {0}, 1};
  // Chunk sizes 1, 2, 3 and whole: boundaries fall inside both runs of key 2.
  for (const std::vector<size_t>& sizes :
       std::vector<std::vector<size_t>>{{1}, {2}, {3, 1}, {kMaxChunkSize}}) {
    ExpectSameAsHash(left, right, keys, sizes, "sizes " + std::to_string(sizes[0]));
  }
  // The expected inner join spelled out once.
  auto p = Plan(JoinType::kInner, keys, 1, false);
  RunResult r = RunJoin(*p, Chunks(left, true, {2}), Chunks(right, false, {3}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.rows.size(), 3u * 4u + 2u);
}

TEST(MergeJoinTest, EmptySides) {
  std::vector<Row> some = {R(1, "a", 1), R(2, "b", 2), R(2, "c", 3)};
  KeySpec keys{{0}, {0}, 1};
  ExpectSameAsHash({}, some, keys, {2}, "empty left");
  ExpectSameAsHash(some, {}, keys, {2}, "empty right");
  ExpectSameAsHash({}, {}, keys, {2}, "both empty");
  std::vector<Row> nulls = {R(std::nullopt, "a", 1), R(std::nullopt, "b", 2)};
  ExpectSameAsHash(nulls, nulls, keys, {1}, "only NULL keys");
}

TEST(MergeJoinTest, MixedSignednessDecimalScalesAndCollations) {
  // Signed k on the left against unsigned u on the right.
  std::vector<Row> left = {R(1, "a", 1), R(3, "b", 2), R(3, "c", 3), R(9, "d", 4)};
  std::vector<Row> right = {R(0, "x", 1, 1), R(0, "y", 2, 3), R(0, "z", 3, 3),
                            R(0, "w", 4, uint64_t{1} << 63)};
  ExpectSameAsHash(left, right, KeySpec{{0}, {3}, 1}, {1, 2}, "int = unsigned");
  // DECIMAL(10,2) against DECIMAL(12,4): 1.50 = 1.5000.
  std::vector<Row> ld = {R(0, "a", 1, 0, "-1.25"), R(0, "b", 2, 0, "1.50"), R(0, "c", 3, 0, "1.50"),
                         R(0, "d", 4, 0, "2.00")};
  std::vector<Row> rd = {R(0, "x", 1, 0, "-1.2500"), R(0, "y", 2, 0, "1.5000"),
                         R(0, "z", 9, 0, "3.0001")};
  ExpectSameAsHash(ld, rd, KeySpec{{4}, {4}, 1}, {1}, "decimal scales");
  // general_ci: 'a' = 'A' = 'a ' (PAD SPACE).
  std::vector<Row> ls = {R(0, "A", 1), R(0, "a", 2), R(0, "B", 3), R(0, "c", 4)};
  std::vector<Row> rs = {R(0, "a ", 1), R(0, "A", 5), R(0, "b", 6), R(0, "C", 0), R(0, "d", 9)};
  SortRows(&ls, {1});
  SortRows(&rs, {1});
  ExpectSameAsHash(ls, rs, KeySpec{{1}, {1}, 1}, {1, 3}, "general_ci strings");
  {
    auto p = Plan(JoinType::kInner, KeySpec{{1}, {1}, 1}, 1, false);
    RunResult r = RunJoin(*p, Chunks(ls, true, {2}), Chunks(rs, false, {2}));
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.rows.size(), 2u * 2u + 1u + 1u);
  }
}

TEST(MergeJoinTest, CompositeKeysMergedOrChecked) {
  std::vector<Row> left, right;
  for (int64_t k = 0; k < 4; ++k) {
    for (int64_t v = 0; v < 3; ++v) {
      left.push_back(R(k, "x", v));
      if ((k + v) % 2 == 0) right.push_back(R(k, "y", v));
      right.push_back(R(k, "z", v));
    }
  }
  right.push_back(R(2, "n", 0));
  right.back()[2] = Datum::Null();
  SortRows(&left, {0, 2});
  SortRows(&right, {0, 2});
  // Ordered on (k, v), merged on both; or merged on k with v checked per pair.
  ExpectSameAsHash(left, right, KeySpec{{0, 2}, {0, 2}, 2}, {2, 5}, "two merge keys");
  ExpectSameAsHash(left, right, KeySpec{{0, 2}, {0, 2}, 1}, {4}, "one merge key");
}

// Random ordered inputs: merge join and hash join give the same rows (compared sorted).
TEST(MergeJoinTest, RandomAgainstHashJoin) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    const int64_t keys = seed % 3 == 0 ? 6 : seed % 3 == 1 ? 40 : 400;
    const size_t max_rows = keys == 6 ? 150 : 700;  // Few keys: long runs, many pairs.
    auto rows = [&](size_t n) {
      std::vector<Row> out;
      for (size_t i = 0; i < n; ++i) {
        std::optional<int64_t> k;
        if (rng() % 11 != 0) k = static_cast<int64_t>(rng() % keys);
        std::string s(1, static_cast<char>((rng() % 2 ? 'a' : 'A') + rng() % 3));
        out.push_back(R(k, s, static_cast<int64_t>(rng() % 100), rng() % keys,
                        std::to_string(rng() % keys) + (rng() % 2 ? ".5" : ".0")));
      }
      return out;
    };
    std::vector<Row> left = rows(rng() % max_rows), right = rows(rng() % max_rows);
    if (seed == 5) left.clear();
    if (seed == 6) right.clear();
    const int variant = static_cast<int>(seed % 4);
    KeySpec spec;
    if (variant == 0) spec = KeySpec{{0}, {0}, 1};
    if (variant == 1) spec = KeySpec{{0}, {3}, 1};        // int = unsigned
    if (variant == 2) spec = KeySpec{{4, 1}, {4, 1}, 2};  // decimal, string
    if (variant == 3) spec = KeySpec{{1, 0}, {1, 0}, 1};  // string merged, int checked
    std::vector<size_t> lcols = spec.left, rcols = spec.right;
    lcols.resize(spec.merge);
    rcols.resize(spec.merge);
    SortRows(&left, lcols);
    SortRows(&right, rcols);
    std::vector<size_t> sizes;
    for (int i = 0; i < 7; ++i) sizes.push_back(1 + rng() % (seed % 2 ? 40 : kMaxChunkSize));
    for (JoinType type : kTypes) {
      for (bool other : {false, true}) {
        auto merge = Plan(type, spec, spec.merge, other);
        auto hash = Plan(type, spec, 0, other);
        RunResult m = RunJoin(*merge, Chunks(left, true, sizes), Chunks(right, false, sizes));
        RunResult h = RunJoin(*hash, Chunks(left, true, sizes), Chunks(right, false, sizes));
        ASSERT_TRUE(m.status.ok()) << m.status << " seed " << seed;
        ASSERT_TRUE(h.status.ok()) << h.status;
        std::sort(m.rows.begin(), m.rows.end());
        std::sort(h.rows.begin(), h.rows.end());
        ASSERT_EQ(m.rows, h.rows) << "seed " << seed << " type " << static_cast<int>(type)
                                  << " other " << other;
      }
    }
  }
}

TEST(MergeJoinTest, UnorderedInputFails) {
  std::vector<Row> left = {R(1, "a", 1), R(3, "b", 2), R(2, "c", 3)};
  std::vector<Row> right = {R(1, "x", 1), R(2, "y", 2), R(3, "z", 3)};
  auto p = Plan(JoinType::kLeft, KeySpec{{0}, {0}, 1}, 1, false);
  RunResult r = RunJoin(*p, Chunks(left, true, {2}), Chunks(right, false, {2}));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInternal) << r.status;
  RunResult r2 = RunJoin(*p, Chunks(right, true, {2}), Chunks(left, false, {2}));
  EXPECT_EQ(r2.status.code(), absl::StatusCode::kInternal) << r2.status;
}

TEST(MergeJoinTest, LongRunCountsAgainstTheQuota) {
  std::vector<Row> left = {R(1, "a", 1)}, right;
  for (int i = 0; i < 5000; ++i) right.push_back(R(1, "x", i));
  auto p = Plan(JoinType::kSemi, KeySpec{{0}, {0}, 1}, 1, false);
  RunResult ok = RunJoin(*p, Chunks(left, true, {100}), Chunks(right, false, {100}));
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  RunResult r = RunJoin(*p, Chunks(left, true, {100}), Chunks(right, false, {100}), 64 * 1024);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(MySqlErrorOf(r.status).code, 8175) << r.status;
}

TEST(MergeJoinTest, StopsReadingWhatCannotMatch) {
  std::vector<Row> left, right = {R(1, "x", 1), R(2, "y", 2)};
  for (int i = 0; i < 5000; ++i) left.push_back(R(i, "a", i));
  // Inner: once the right side ends, the rest of the left side is not read.
  auto inner = Plan(JoinType::kInner, KeySpec{{0}, {0}, 1}, 1, false);
  RunResult r = RunJoin(*inner, Chunks(left, true, {100}), Chunks(right, false, {1}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.rows.size(), 2u);
  EXPECT_LE(r.left_reads, 2);
  // Left outer: reads it all; the right side is not read past the left's last key.
  auto outer = Plan(JoinType::kLeft, KeySpec{{0}, {0}, 1}, 1, false);
  RunResult o = RunJoin(*outer, Chunks(right, true, {1}), Chunks(left, false, {100}));
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.rows.size(), 2u);
  EXPECT_LE(o.right_reads, 2);
  // A consumer that stops after one chunk: everything is released (RunJoin checks mem_used).
  std::vector<Row> many;
  for (int i = 0; i < 3000; ++i) many.push_back(R(i / 3, "m", i));
  RunResult part = RunJoin(*inner, Chunks(many, true, {700}), Chunks(many, false, {700}), 0, 1);
  ASSERT_TRUE(part.status.ok());
  EXPECT_EQ(part.rows.size(), kMaxChunkSize);
}

}  // namespace
}  // namespace rutile::sql
