// A checker for Jepsen's bank workload: a fixed set of accounts holds a constant total,
// and transactions transfer money between two accounts. Every read of all the accounts
// must see exactly the expected accounts, each with a balance (no NULL), none negative
// (unless allowed), summing to the total. A read that breaks this saw a state no serial
// order of whole transfers produces: a fractured read, a lost update or a partial commit.
//
// Thread safety: CheckBank is a pure function.

#ifndef RUTILE_TESTS_CHECKERS_BANK_H_
#define RUTILE_TESTS_CHECKERS_BANK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rutile::checkers {

// One successful read of the accounts.
struct BankRead {
  // Position in the history (for messages).
  int64_t index = 0;
  int64_t process = 0;
  // Account id -> balance; std::nullopt when the account row exists with no balance.
  // An account missing from the map was not seen at all.
  std::map<int64_t, std::optional<int64_t>> balances;
};

struct BankOptions {
  // Accounts 0 .. accounts-1.
  int64_t accounts = 8;
  int64_t total = 100;
  bool negative_balances_allowed = false;
  // At most this many bad reads are described.
  size_t max_reported = 5;
};

struct BankResult {
  bool valid = true;
  size_t reads = 0;
  size_t bad_reads = 0;
  // Counts per error kind: "wrong-total", "negative-value", "nil-balance",
  // "missing-account", "unexpected-account".
  std::map<std::string, size_t> error_counts;
  // One line per reported bad read.
  std::vector<std::string> errors;

  std::string Summary() const;
};

BankResult CheckBank(const std::vector<BankRead>& reads, const BankOptions& options);

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_BANK_H_
