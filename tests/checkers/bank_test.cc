#include "checkers/bank.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <vector>

namespace rutile::checkers {
namespace {

BankRead Read(int64_t index, std::vector<std::optional<int64_t>> balances) {
  BankRead r;
  r.index = index;
  for (size_t i = 0; i < balances.size(); ++i) r.balances[static_cast<int64_t>(i)] = balances[i];
  return r;
}

BankOptions Four() {
  BankOptions o;
  o.accounts = 4;
  o.total = 100;
  return o;
}

TEST(BankCheckerTest, ConsistentReadsAreValid) {
  std::vector<BankRead> reads = {Read(0, {100, 0, 0, 0}), Read(1, {95, 5, 0, 0}),
                                 Read(2, {90, 5, 3, 2}), Read(3, {0, 0, 0, 100})};
  BankResult r = CheckBank(reads, Four());
  EXPECT_TRUE(r.valid) << r.Summary();
  EXPECT_EQ(r.reads, 4u);
  EXPECT_EQ(r.bad_reads, 0u);
}

TEST(BankCheckerTest, FracturedTransferBreaksTheTotal) {
  // A transfer of 5 from account 0 to 1 seen half-applied: the debit but not the credit.
  std::vector<BankRead> reads = {Read(0, {100, 0, 0, 0}), Read(1, {95, 0, 0, 0}),
                                 Read(2, {95, 5, 0, 0})};
  BankResult r = CheckBank(reads, Four());
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.bad_reads, 1u);
  EXPECT_EQ(r.error_counts["wrong-total"], 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("sum 95"), std::string::npos) << r.errors[0];
}

TEST(BankCheckerTest, LostUpdateInflatesTheTotal) {
  // Two transfers from account 0 (5 to 1, 3 to 2) both read 100; the second overwrote
  // the first's debit.
  BankResult r = CheckBank({Read(7, {97, 5, 3, 0})}, Four());
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.error_counts["wrong-total"], 1u);
}

TEST(BankCheckerTest, NegativeBalanceIsCaughtEvenWithTheRightSum) {
  BankResult r = CheckBank({Read(0, {102, -2, 0, 0})}, Four());
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.error_counts["negative-value"], 1u);
  EXPECT_EQ(r.error_counts.count("wrong-total"), 0u);
  BankOptions allowed = Four();
  allowed.negative_balances_allowed = true;
  EXPECT_TRUE(CheckBank({Read(0, {102, -2, 0, 0})}, allowed).valid);
}

TEST(BankCheckerTest, MissingNilAndUnexpectedAccounts) {
  BankResult missing = CheckBank({Read(0, {100, 0, 0})}, Four());
  EXPECT_FALSE(missing.valid);
  EXPECT_EQ(missing.error_counts["missing-account"], 1u);

  BankResult nil = CheckBank({Read(0, {100, std::nullopt, 0, 0})}, Four());
  EXPECT_FALSE(nil.valid);
  EXPECT_EQ(nil.error_counts["nil-balance"], 1u);

  BankResult extra = CheckBank({Read(0, {100, 0, 0, 0, 0})}, Four());
  EXPECT_FALSE(extra.valid);
  EXPECT_EQ(extra.error_counts["unexpected-account"], 1u);
}

TEST(BankCheckerTest, ReportsAreBounded) {
  std::vector<BankRead> reads;
  for (int i = 0; i < 20; ++i) reads.push_back(Read(i, {1, 0, 0, 0}));
  BankOptions o = Four();
  o.max_reported = 3;
  BankResult r = CheckBank(reads, o);
  EXPECT_EQ(r.bad_reads, 20u);
  EXPECT_EQ(r.errors.size(), 3u);
  EXPECT_NE(r.Summary().find("INVALID"), std::string::npos);
}

}  // namespace
}  // namespace rutile::checkers
