// Hand-written histories for the linearizability checker and its models, plus
// a property test against a brute-force checker on small random histories.

#include "checkers/linearizability.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "checkers/models.h"
#include "gtest/gtest.h"

namespace rutile::checkers {
namespace {

RegisterOp Write(int64_t client, int64_t v, int64_t call, int64_t ret) {
  return {client, RegisterInput::Write(v), call, RegisterOutput::Done(), ret};
}
RegisterOp Read(int64_t client, std::optional<int64_t> v, int64_t call, int64_t ret) {
  return {client, RegisterInput::Read(), call, RegisterOutput::ReadResult(v), ret};
}
RegisterOp Cas(int64_t client, int64_t from, int64_t to, bool ok, int64_t call, int64_t ret) {
  return {client, RegisterInput::Cas(from, to), call, RegisterOutput::CasResult(ok), ret};
}

CheckResult Check(const std::vector<RegisterOp>& ops, LinearizabilityOptions options = {}) {
  return CheckLinearizable(RegisterModel(), ops, options).result;
}

// MIT 6.824 2017 quiz 2, section VII (porcupine's first test).
TEST(Linearizability, ConcurrentReadsMayReturnOldOrNew) {
  EXPECT_EQ(Check({Write(0, 100, 0, 100), Read(1, 100, 25, 75), Read(2, std::nullopt, 30, 60)}),
            CheckResult::kOk);
}

TEST(Linearizability, ReadOfOldValueAfterNewValueIsIllegal) {
  std::vector<RegisterOp> ops = {Write(0, 200, 0, 100), Read(1, 200, 10, 30),
                                 Read(2, std::nullopt, 40, 90)};
  LinearizabilityReport report =
      CheckLinearizable<std::optional<int64_t>>(RegisterModel(), absl::MakeConstSpan(ops));
  EXPECT_EQ(report.result, CheckResult::kIllegal);
  EXPECT_NE(report.explanation.find("read() -> nil"), std::string::npos) << report.explanation;
  ASSERT_EQ(report.partitions.size(), 1u);
  EXPECT_EQ(report.partitions[0].longest_prefix.size(), 2u);
}

TEST(Linearizability, ZeroDurationOperations) {
  EXPECT_EQ(Check({Write(0, 100, 0, 100), Read(1, 100, 25, 75), Read(2, std::nullopt, 30, 30),
                   Read(3, std::nullopt, 30, 30)}),
            CheckResult::kOk);
  EXPECT_EQ(Check({Write(0, 200, 0, 100), Read(1, 200, 10, 10), Read(2, 200, 10, 10),
                   Read(3, std::nullopt, 40, 90)}),
            CheckResult::kIllegal);
}

TEST(Linearizability, EmptyHistoryIsLinearizable) { EXPECT_EQ(Check({}), CheckResult::kOk); }

TEST(Linearizability, CasMustAgreeWithTheState) {
  EXPECT_EQ(Check({Write(0, 1, 0, 1), Cas(0, 1, 2, true, 2, 3), Read(0, 2, 4, 5)}),
            CheckResult::kOk);
  EXPECT_EQ(Check({Write(0, 1, 0, 1), Cas(0, 1, 2, false, 2, 3)}), CheckResult::kIllegal);
  EXPECT_EQ(Check({Cas(0, 1, 2, true, 0, 1)}), CheckResult::kIllegal);  // Absent register.
}

TEST(Linearizability, IndeterminateWriteMayTakeEffectLateOrNever) {
  RegisterOp lost = {1, RegisterInput::Write(7), 0, std::nullopt, kInfiniteTime};
  // Never observed: as if it never happened.
  EXPECT_EQ(Check({lost, Read(0, std::nullopt, 10, 11)}), CheckResult::kOk);
  // Observed long after its call.
  EXPECT_EQ(Check({lost, Read(0, std::nullopt, 10, 11), Read(0, 7, 20, 21)}), CheckResult::kOk);
  // But it cannot take effect before it was invoked.
  RegisterOp late = {1, RegisterInput::Write(7), 30, std::nullopt, kInfiniteTime};
  EXPECT_EQ(Check({late, Read(0, 7, 20, 21)}), CheckResult::kIllegal);
  // Nor twice.
  EXPECT_EQ(Check({lost, Write(0, 1, 10, 11), Read(0, 7, 12, 13), Read(0, 1, 14, 15),
                   Read(0, 7, 16, 17)}),
            CheckResult::kIllegal);
}

TEST(Linearizability, IndeterminateCasAcceptsEitherOutcome) {
  RegisterOp cas = {1, RegisterInput::Cas(1, 2), 2, std::nullopt, kInfiniteTime};
  EXPECT_EQ(Check({Write(0, 1, 0, 1), cas, Read(0, 2, 5, 6)}), CheckResult::kOk);
  EXPECT_EQ(Check({Write(0, 1, 0, 1), cas, Read(0, 1, 5, 6)}), CheckResult::kOk);
  EXPECT_EQ(Check({Write(0, 1, 0, 1), cas, Read(0, 3, 5, 6)}), CheckResult::kIllegal);
}

TEST(Linearizability, StepBudgetGivesUnknown) {
  std::vector<RegisterOp> ops;
  for (int i = 0; i < 12; ++i) ops.push_back(Write(i, i, 0, 100));
  ops.push_back(Read(99, 100, 101, 102));  // Never written: exhaustive search.
  EXPECT_EQ(Check(ops, {.max_steps = 100}), CheckResult::kUnknown);
  EXPECT_EQ(Check(ops), CheckResult::kIllegal);
}

KvOp Kv(int64_t client, KvInput::Kind kind, std::string key, std::string value,
        std::optional<std::string> out, int64_t call, int64_t ret) {
  KvOp op;
  op.client_id = client;
  op.input.kind = kind;
  op.input.key = std::move(key);
  op.input.value = std::move(value);
  op.call = call;
  op.ret = ret;
  op.output = KvOutput{std::move(out), true};
  return op;
}

TEST(KvModel, PartitionsByKey) {
  using K = KvInput::Kind;
  std::vector<KvOp> ops = {Kv(0, K::kPut, "a", "1", {}, 0, 1),
                           Kv(1, K::kAppend, "b", "x", {}, 0, 3),
                           Kv(0, K::kGet, "a", "", "1", 2, 3), Kv(0, K::kGet, "b", "", "x", 4, 5),
                           Kv(1, K::kGet, "c", "", std::nullopt, 4, 5)};
  LinearizabilityReport r =
      CheckLinearizable<std::optional<std::string>>(KvModel(), absl::MakeConstSpan(ops));
  EXPECT_EQ(r.result, CheckResult::kOk);
  EXPECT_EQ(r.partitions.size(), 3u);
  // A stale read in one key makes the whole history illegal.
  ops.push_back(Kv(2, K::kGet, "a", "", std::nullopt, 6, 7));
  r = CheckLinearizable<std::optional<std::string>>(KvModel(), absl::MakeConstSpan(ops));
  EXPECT_EQ(r.result, CheckResult::kIllegal);
  EXPECT_NE(r.explanation.find("get('a') -> nil"), std::string::npos) << r.explanation;
}

TEST(KvModel, AbsentReadsEmptyOnlyWhenAsked) {
  using K = KvInput::Kind;
  std::vector<KvOp> ops = {Kv(0, K::kGet, "a", "", "", 0, 1)};
  EXPECT_EQ(
      CheckLinearizable<std::optional<std::string>>(KvModel(true), absl::MakeConstSpan(ops)).result,
      CheckResult::kOk);
  EXPECT_EQ(CheckLinearizable<std::optional<std::string>>(KvModel(false), absl::MakeConstSpan(ops))
                .result,
            CheckResult::kIllegal);
}

// Brute force: tries every order of the operations that respects real time.
bool BruteForce(const std::vector<RegisterOp>& ops) {
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  RegisterModel model;
  do {
    bool ok = true;
    for (size_t i = 0; i < order.size() && ok; ++i) {
      for (size_t j = i + 1; j < order.size() && ok; ++j) {
        if (ops[order[j]].ret < ops[order[i]].call) ok = false;  // j finished before i began.
      }
    }
    std::optional<int64_t> state = model.Init();
    for (size_t i = 0; i < order.size() && ok; ++i) {
      const RegisterOp& op = ops[order[i]];
      std::optional<int64_t> next;
      ok = model.Step(state, op.input, op.output ? &*op.output : nullptr, &next);
      state = next;
    }
    if (ok) return true;
  } while (std::next_permutation(order.begin(), order.end()));
  return false;
}

TEST(Linearizability, AgreesWithBruteForceOnRandomHistories) {
  std::mt19937_64 rng(42);
  int legal = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    const int n = 1 + static_cast<int>(rng() % 6);
    std::vector<RegisterOp> ops;
    for (int i = 0; i < n; ++i) {
      int64_t call = static_cast<int64_t>(rng() % 10);
      int64_t ret = call + static_cast<int64_t>(rng() % 6);
      switch (rng() % 3) {
        case 0:
          ops.push_back(Write(i, static_cast<int64_t>(rng() % 3), call, ret));
          break;
        case 1: {
          std::optional<int64_t> v;
          if (rng() % 4 != 0) v = static_cast<int64_t>(rng() % 3);
          ops.push_back(Read(i, v, call, ret));
          break;
        }
        default:
          ops.push_back(Cas(i, static_cast<int64_t>(rng() % 3), static_cast<int64_t>(rng() % 3),
                            rng() % 2 == 0, call, ret));
      }
      if (rng() % 8 == 0) {  // Unknown outcome.
        ops.back().output.reset();
        if (rng() % 2 == 0) ops.back().ret = kInfiniteTime;
      }
    }
    bool expected = BruteForce(ops);
    legal += expected;
    ASSERT_EQ(Check(ops), expected ? CheckResult::kOk : CheckResult::kIllegal) << "iter " << iter;
  }
  // Both outcomes must be well represented for the comparison to mean much.
  EXPECT_GT(legal, 300);
  EXPECT_LT(legal, 2700);
}

}  // namespace
}  // namespace rutile::checkers
