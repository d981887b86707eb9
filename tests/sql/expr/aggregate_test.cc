#include "sql/expr/aggregate.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "sql/errors.h"

namespace rutile::sql::expr {
namespace {

Datum Dec(const std::string& s) {
  Decimal d;
  Decimal::Parse(s, &d);
  return Datum::Dec(d);
}

// Runs `name` over single-argument rows in complete mode.
std::string RunAgg(std::string_view name, const FieldType& type, const std::vector<Datum>& rows,
                   bool distinct = false, EvalContext* ctx_out = nullptr) {
  absl::StatusOr<AggDesc> d = NewAggDesc(name, {type}, distinct);
  EXPECT_TRUE(d.ok()) << d.status();
  auto st = NewAggState(*d);
  EvalContext ctx;
  for (const Datum& r : rows) EXPECT_TRUE(st->Update(&ctx, std::span<const Datum>(&r, 1)).ok());
  absl::StatusOr<Datum> v = st->FinalResult(&ctx);
  EXPECT_TRUE(v.ok());
  if (ctx_out != nullptr) *ctx_out = ctx;
  return v->ToString();
}

TEST(AggregateTest, CountSumAvg) {
  FieldType i = FieldType::LongLong();
  std::vector<Datum> rows = {Datum::Int(1), Datum(), Datum::Int(2)};
  EXPECT_EQ(RunAgg("count", i, rows), "2");
  EXPECT_EQ(RunAgg("sum", i, rows), "3");
  EXPECT_EQ(RunAgg("avg", i, rows), "1.5000");
  EXPECT_EQ(RunAgg("sum", i, {}), "NULL");
  EXPECT_EQ(RunAgg("avg", i, {Datum()}), "NULL");
  EXPECT_EQ(RunAgg("count", i, {}), "0");
  absl::StatusOr<AggDesc> star = NewAggDesc("count", {});
  ASSERT_TRUE(star.ok());
  auto st = NewAggState(*star);
  EvalContext ctx;
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(st->Update(&ctx, {}).ok());
  EXPECT_EQ(st->FinalResult(&ctx)->ToString(), "3");

  FieldType dec = FieldType::NewDecimal(10, 2);
  EXPECT_EQ(RunAgg("sum", dec, {Dec("1.25"), Dec("2.50")}), "3.75");
  EXPECT_EQ(RunAgg("avg", dec, {Dec("1.25"), Dec("2.50")}), "1.875000");
  EXPECT_EQ(RunAgg("avg", dec, {Dec("1.00"), Dec("1.00"), Dec("2.00")}), "1.333333");
  EXPECT_EQ(RunAgg("sum", FieldType::Double(), {Datum::Double(0.5), Datum::Double(0.25)}), "0.75");
  EXPECT_EQ(RunAgg("avg", FieldType::Double(), {Datum::Double(1), Datum::Double(2)}), "1.5");
  EvalContext warn;
  EXPECT_EQ(
      RunAgg("sum", FieldType::Varchar(10), {Datum::String("1"), Datum::String("x")}, false, &warn),
      "1");
  EXPECT_EQ(warn.warnings().size(), 1u);
  // Types follow MySQL.
  EXPECT_EQ(NewAggDesc("sum", {i})->result_type.GetEvalType(), EvalType::kDecimal);
  EXPECT_EQ(NewAggDesc("avg", {dec})->result_type.decimal, 6);
  EXPECT_EQ(NewAggDesc("count", {dec})->result_type.tp, TypeCode::kLongLong);
  EXPECT_EQ(NewAggDesc("sum", {FieldType::Double()})->result_type.tp, TypeCode::kDouble);
  EXPECT_EQ(NewAggDesc("max", {dec})->result_type, dec);
}

TEST(AggregateTest, MinMaxUseCollation) {
  FieldType ci = FieldType::Varchar(10, Collation::kUtf8mb4GeneralCi);
  FieldType bin = FieldType::Varchar(10, Collation::kBinary);
  std::vector<Datum> rows = {Datum::String("b"), Datum::String("A"), Datum(), Datum::String("C")};
  EXPECT_EQ(RunAgg("min", ci, rows), "A");
  EXPECT_EQ(RunAgg("max", ci, rows), "C");
  EXPECT_EQ(RunAgg("max", bin, rows), "b");
  EXPECT_EQ(RunAgg("min", FieldType::LongLong(), {Datum::Int(3), Datum::Int(-1)}), "-1");
  EXPECT_EQ(RunAgg("max", FieldType::LongLong(), {Datum()}), "NULL");
}

TEST(AggregateTest, Distinct) {
  FieldType ci = FieldType::Varchar(10, Collation::kUtf8mb4GeneralCi);
  EXPECT_EQ(RunAgg("count", ci,
                   {Datum::String("a"), Datum::String("A"), Datum::String("b"), Datum()}, true),
            "2");
  FieldType i = FieldType::LongLong();
  EXPECT_EQ(RunAgg("sum", i, {Datum::Int(1), Datum::Int(1), Datum::Int(2)}, true), "3");
  EXPECT_EQ(RunAgg("avg", i, {Datum::Int(1), Datum::Int(1), Datum::Int(2)}, true), "1.5000");
  EXPECT_EQ(RunAgg("group_concat", i, {Datum::Int(1), Datum::Int(1), Datum::Int(2)}, true), "1,2");
  // COUNT(DISTINCT a, b) counts tuples without NULLs.
  absl::StatusOr<AggDesc> d = NewAggDesc("count", {i, i}, true);
  ASSERT_TRUE(d.ok());
  auto st = NewAggState(*d);
  EvalContext ctx;
  std::vector<std::vector<Datum>> rows = {{Datum::Int(1), Datum::Int(1)},
                                          {Datum::Int(1), Datum::Int(2)},
                                          {Datum::Int(1), Datum::Int(1)},
                                          {Datum::Int(1), Datum()}};
  for (const auto& r : rows) ASSERT_TRUE(st->Update(&ctx, r).ok());
  EXPECT_EQ(st->FinalResult(&ctx)->ToString(), "2");
}

TEST(AggregateTest, GroupConcat) {
  FieldType s = FieldType::Varchar(10);
  EXPECT_EQ(RunAgg("group_concat", s, {Datum::String("a"), Datum(), Datum::String("b")}), "a,b");
  EXPECT_EQ(RunAgg("group_concat", s, {Datum()}), "NULL");
  absl::StatusOr<AggDesc> d = NewAggDesc("group_concat", {s, FieldType::LongLong()});
  ASSERT_TRUE(d.ok());
  d->separator = "; ";
  d->max_len = 8;
  auto st = NewAggState(*d);
  EvalContext ctx;
  ASSERT_TRUE(st->Update(&ctx, std::vector<Datum>{Datum::String("x"), Datum::Int(1)}).ok());
  ASSERT_TRUE(st->Update(&ctx, std::vector<Datum>{Datum::String("y"), Datum::Int(2)}).ok());
  ASSERT_TRUE(st->Update(&ctx, std::vector<Datum>{Datum::String("z"), Datum::Int(3)}).ok());
  EXPECT_EQ(st->FinalResult(&ctx)->ToString(), "x1; y2; ");
  ASSERT_EQ(ctx.warnings().size(), 1u);
  EXPECT_EQ(ctx.warnings()[0].error.code, 1260);
}

TEST(AggregateTest, GroupConcatOrderBy) {
  const FieldType s = FieldType::Varchar(10);
  const FieldType i = FieldType::LongLong();
  // GROUP_CONCAT(s ORDER BY k DESC, s): rows arrive out of order, across two partial
  // states merged into a final one.
  absl::StatusOr<AggDesc> d = NewAggDesc("group_concat", {s, i, s}, false, {true, false});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(ValueArgs(*d), 1u);
  std::vector<std::vector<Datum>> rows = {
      {Datum::String("b"), Datum::Int(1), Datum::String("b")},
      {Datum::String("x"), Datum(), Datum::String("x")},  // NULL key: last when descending.
      {Datum(), Datum::Int(9), Datum()},                  // NULL value: skipped.
      {Datum::String("c"), Datum::Int(3), Datum::String("c")},
      {Datum::String("a"), Datum::Int(1), Datum::String("a")},
  };
  EvalContext ctx;
  auto one = NewAggState(*d);
  auto p1 = NewAggState(*d), p2 = NewAggState(*d), fin = NewAggState(*d);
  for (size_t r = 0; r < rows.size(); ++r) {
    ASSERT_TRUE(one->Update(&ctx, rows[r]).ok());
    ASSERT_TRUE((r % 2 == 0 ? p1 : p2)->Update(&ctx, rows[r]).ok());
  }
  EXPECT_EQ(one->FinalResult(&ctx)->ToString(), "c,a,b,x");
  ASSERT_EQ(PartialTypes(*d).size(), 1u);
  ASSERT_TRUE(fin->Merge(&ctx, p2->PartialResult()).ok());
  ASSERT_TRUE(fin->Merge(&ctx, p1->PartialResult()).ok());
  EXPECT_EQ(fin->FinalResult(&ctx)->ToString(), "c,a,b,x");
  const std::vector<Datum> garbage = {Datum::String("\x01garbage")};
  EXPECT_FALSE(fin->Merge(&ctx, garbage).ok());
  fin->Reset();
  EXPECT_EQ(fin->FinalResult(&ctx)->ToString(), "NULL");

  // DISTINCT compares the values only; the cut at max_len happens after sorting.
  absl::StatusOr<AggDesc> dd = NewAggDesc("group_concat", {s, i}, true, {false});
  ASSERT_TRUE(dd.ok());
  dd->max_len = 3;
  auto ds = NewAggState(*dd);
  for (auto [v, k] :
       std::vector<std::pair<const char*, int>>{{"z", 0}, {"y", 1}, {"z", 2}, {"w", 5}}) {
    std::vector<Datum> r = {Datum::String(v), Datum::Int(k)};
    ASSERT_TRUE(ds->Update(&ctx, r).ok());
  }
  EvalContext wctx;
  EXPECT_EQ(ds->FinalResult(&wctx)->ToString(), "z,y");
  ASSERT_EQ(wctx.warnings().size(), 1u);
  EXPECT_EQ(wctx.warnings()[0].error.code, 1260);

  // Sort keys belong to GROUP_CONCAT and need a value before them.
  EXPECT_FALSE(NewAggDesc("sum", {i, i}, false, {false}).ok());
  EXPECT_FALSE(NewAggDesc("group_concat", {i}, false, {false}).ok());
}

// The cut at group_concat_max_len falls on a character boundary unless the result is
// binary, with warning 1260, ordered or not.
TEST(AggregateTest, GroupConcatCutsAtACharacterBoundary) {
  const FieldType s = FieldType::Varchar(10);
  const FieldType i = FieldType::LongLong();
  for (bool ordered : {false, true}) {
    std::vector<FieldType> types = {s};
    std::vector<bool> desc;
    if (ordered) {
      types.push_back(i);
      desc.push_back(false);
    }
    absl::StatusOr<AggDesc> d = NewAggDesc("group_concat", types, false, desc);
    ASSERT_TRUE(d.ok()) << d.status();
    d->max_len = 5;  // "ab,é" is 5 bytes; "ab,éé" would cut inside the second é.
    auto st = NewAggState(*d);
    EvalContext ctx;
    std::vector<Datum> r1 = {Datum::String("ab"), Datum::Int(1)};
    std::vector<Datum> r2 = {Datum::String("\xC3\xA9\xC3\xA9"), Datum::Int(2)};
    const size_t args = ordered ? 2 : 1;
    ASSERT_TRUE(st->Update(&ctx, std::span<const Datum>(r1.data(), args)).ok());
    ASSERT_TRUE(st->Update(&ctx, std::span<const Datum>(r2.data(), args)).ok());
    EXPECT_EQ(st->FinalResult(&ctx)->GetString(), "ab,\xC3\xA9") << "ordered " << ordered;
    ASSERT_EQ(ctx.warnings().size(), 1u);
    EXPECT_EQ(ctx.warnings()[0].error.code, 1260);
    EXPECT_EQ(ctx.warnings()[0].error.message, "Row 2 was cut by GROUP_CONCAT()");
  }
  // A binary result is cut at the byte.
  absl::StatusOr<AggDesc> b = NewAggDesc("group_concat", {FieldType::VarBinary(10)});
  ASSERT_TRUE(b.ok());
  b->max_len = 4;
  auto st = NewAggState(*b);
  EvalContext ctx;
  ASSERT_TRUE(st->Update(&ctx, std::vector<Datum>{Datum::String("\xC3\xA9\xC3\xA9\xC3")}).ok());
  EXPECT_EQ(st->FinalResult(&ctx)->GetString(), "\xC3\xA9\xC3\xA9");
}

// GROUP_CONCAT ... ORDER BY keeps only the rows that can reach the result: over many
// rows its buffers stay near group_concat_max_len (as TakeMemDelta reports them), and the
// result, the cut and the warning equal those of sorting every row — complete, or split
// into partial states merged at the end.
TEST(AggregateTest, OrderedGroupConcatKeepsOnlyWhatCanReachTheResult) {
  const FieldType s = FieldType::Varchar(40);
  const FieldType i = FieldType::LongLong();
  std::mt19937_64 rng(7);
  for (int round = 0; round < 24; ++round) {
    const bool desc = round % 2 == 1;
    absl::StatusOr<AggDesc> d = NewAggDesc("group_concat", {s, i}, false, {desc});
    ASSERT_TRUE(d.ok());
    d->max_len = 1 + rng() % 200;
    d->separator = round % 3 == 0 ? "" : (round % 3 == 1 ? "," : "--");
    const size_t n = 300 + rng() % 1500;
    std::vector<std::vector<Datum>> rows;
    for (size_t r = 0; r < n; ++r) {
      // Empty pieces only with a separator (rows that add nothing are all kept).
      std::string v(rng() % 12 + (d->separator.empty() ? 1 : 0),
                    static_cast<char>('a' + rng() % 26));
      rows.push_back({Datum::String(v), Datum::Int(static_cast<int64_t>(rng() % 100))});
    }
    // Reference: a stable sort of every row, joined, cut.
    std::vector<size_t> order(n);
    for (size_t r = 0; r < n; ++r) order[r] = r;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return desc ? rows[a][1].GetInt64() > rows[b][1].GetInt64()
                  : rows[a][1].GetInt64() < rows[b][1].GetInt64();
    });
    std::string want;
    std::string want_warning;
    for (size_t k = 0; k < n; ++k) {
      if (k > 0) want += d->separator;
      want += rows[order[k]][0].GetString();
      if (want.size() > d->max_len) {
        want.resize(d->max_len);
        want_warning = "Row " + std::to_string(k + 1) + " was cut by GROUP_CONCAT()";
        break;
      }
    }
    auto one = NewAggState(*d);
    std::vector<std::unique_ptr<AggState>> parts;
    for (int p = 0; p < 3; ++p) parts.push_back(NewAggState(*d));
    EvalContext ctx;
    int64_t held = 0, peak = 0;
    for (size_t r = 0; r < n; ++r) {
      ASSERT_TRUE(one->Update(&ctx, rows[r]).ok());
      held += one->TakeMemDelta();
      peak = std::max(peak, held);
      // Contiguous thirds, merged in order: ties keep their input order.
      ASSERT_TRUE(parts[r * 3 / n]->Update(&ctx, rows[r]).ok());
    }
    // Every kept row holds at least a byte or a separator of the result's max_len + 1, and
    // a piece is kept to max_len + 1 bytes: a few hundred rows at most, not n.
    EXPECT_LT(peak, static_cast<int64_t>((d->max_len + 2) * 400)) << "round " << round;
    auto fin = NewAggState(*d);
    for (auto& p : parts) ASSERT_TRUE(fin->Merge(&ctx, p->PartialResult()).ok());
    for (AggState* st : {one.get(), fin.get()}) {
      EvalContext wctx;
      absl::StatusOr<Datum> got = st->FinalResult(&wctx);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->GetString(), want) << "round " << round;
      if (want_warning.empty()) {
        EXPECT_EQ(wctx.warning_count(), 0u);
      } else {
        ASSERT_EQ(wctx.warnings().size(), 1u) << "round " << round;
        EXPECT_EQ(wctx.warnings()[0].error.message, want_warning) << "round " << round;
      }
    }
    one->Reset();
    held += one->TakeMemDelta();
    EXPECT_EQ(held, 0) << "round " << round;
  }
}

TEST(AggregateTest, BadNamesAndArity) {
  auto d = NewAggDesc("median", {FieldType::LongLong()});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(GetMySqlError(d.status())->code, 1305);
  d = NewAggDesc("sum", {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(GetMySqlError(d.status())->code, 1582);
  // A corrupted partial result is an error, not a crash.
  d = NewAggDesc("count", {FieldType::LongLong()}, true);
  auto st = NewAggState(*d);
  EvalContext ctx;
  Datum bad = Datum::String("\x06\x09");
  EXPECT_FALSE(st->Merge(&ctx, std::span<const Datum>(&bad, 1)).ok());
}

// Property: splitting the input into random partitions, aggregating each partially and
// merging the partial results (through a random merge tree) gives the complete-mode
// result.
TEST(AggregatePropertyTest, PartialThenFinalEqualsComplete) {
  std::mt19937_64 rng(99);
  std::vector<FieldType> types = {FieldType::LongLong(), FieldType::NewDecimal(8, 3),
                                  FieldType::Double(), FieldType::Varchar(8)};
  const char* kNames[] = {"count", "sum", "avg", "min", "max", "group_concat"};
  for (int iter = 0; iter < 3000; ++iter) {
    const FieldType& t = types[rng() % types.size()];
    std::string name = kNames[rng() % 6];
    bool distinct = rng() % 3 == 0;
    absl::StatusOr<AggDesc> desc = NewAggDesc(name, {t}, distinct);
    ASSERT_TRUE(desc.ok());
    int n = static_cast<int>(rng() % 30);
    std::vector<Datum> rows;
    for (int i = 0; i < n; ++i) {
      if (rng() % 6 == 0) {
        rows.push_back(Datum());
        continue;
      }
      int v = static_cast<int>(rng() % 9) - 4;
      switch (t.GetEvalType()) {
        case EvalType::kInt:
          rows.push_back(Datum::Int(v));
          break;
        case EvalType::kDecimal:
          rows.push_back(Dec(std::to_string(v) + ".125"));
          break;
        case EvalType::kReal:
          rows.push_back(Datum::Double(v * 0.5));
          break;
        default:
          rows.push_back(Datum::String(std::string(1, static_cast<char>('a' + (v + 4)))));
          break;
      }
    }
    EvalContext ctx;
    auto complete = NewAggState(*desc);
    for (const Datum& r : rows)
      ASSERT_TRUE(complete->Update(&ctx, std::span<const Datum>(&r, 1)).ok());
    absl::StatusOr<Datum> want = complete->FinalResult(&ctx);
    ASSERT_TRUE(want.ok());
    // Partition.
    std::vector<std::vector<Datum>> partials;
    size_t i = 0;
    while (i < rows.size() || partials.empty()) {
      size_t len = rng() % 8;
      auto part = NewAggState(*desc);
      for (size_t k = i; k < std::min(rows.size(), i + len); ++k) {
        ASSERT_TRUE(part->Update(&ctx, std::span<const Datum>(&rows[k], 1)).ok());
      }
      i += len;
      partials.push_back(part->PartialResult());
      ASSERT_EQ(partials.back().size(), PartialTypes(*desc).size());
    }
    // Merge pairwise in random order until one is left.
    while (partials.size() > 1) {
      size_t a = rng() % partials.size();
      size_t b = rng() % (partials.size() - 1);
      if (b >= a) ++b;
      auto m = NewAggState(*desc);
      ASSERT_TRUE(m->Merge(&ctx, partials[a]).ok());
      ASSERT_TRUE(m->Merge(&ctx, partials[b]).ok());
      std::vector<Datum> merged = m->PartialResult();
      partials.erase(partials.begin() + std::max(a, b));
      partials.erase(partials.begin() + std::min(a, b));
      partials.push_back(std::move(merged));
    }
    auto final_state = NewAggState(*desc);
    ASSERT_TRUE(final_state->Merge(&ctx, partials[0]).ok());
    absl::StatusOr<Datum> got = final_state->FinalResult(&ctx);
    ASSERT_TRUE(got.ok());
    if (name == "group_concat" && !want->IsNull()) {
      // Order is unspecified: compare the pieces as multisets.
      ASSERT_FALSE(got->IsNull());
      std::vector<std::string> w = absl::StrSplit(want->GetString(), ',');
      std::vector<std::string> g = absl::StrSplit(got->GetString(), ',');
      std::sort(w.begin(), w.end());
      std::sort(g.begin(), g.end());
      ASSERT_EQ(w, g);
      continue;
    }
    if (want->kind() == DatumKind::kFloat64 && got->kind() == DatumKind::kFloat64) {
      ASSERT_NEAR(want->GetDouble(), got->GetDouble(), 1e-9) << name;
      continue;
    }
    ASSERT_TRUE(got->IdenticalTo(*want))
        << name << (distinct ? " distinct" : "") << " on " << t.ToString() << ": want "
        << want->DebugString() << " got " << got->DebugString();
  }
}

}  // namespace
}  // namespace rutile::sql::expr
