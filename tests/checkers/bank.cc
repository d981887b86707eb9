#include "checkers/bank.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::checkers {

namespace {

std::string Describe(const BankRead& read) {
  std::vector<std::string> parts;
  for (const auto& [account, balance] : read.balances) {
    parts.push_back(
        absl::StrCat(account, "=", balance.has_value() ? absl::StrCat(*balance) : "nil"));
  }
  return absl::StrCat("{", absl::StrJoin(parts, " "), "}");
}

}  // namespace

std::string BankResult::Summary() const {
  std::string out =
      absl::StrCat(valid ? "valid" : "INVALID", ": ", reads, " reads, ", bad_reads, " bad");
  for (const auto& [kind, n] : error_counts) absl::StrAppend(&out, ", ", kind, " x", n);
  for (const std::string& e : errors) absl::StrAppend(&out, "\n  ", e);
  return out;
}

BankResult CheckBank(const std::vector<BankRead>& reads, const BankOptions& options) {
  BankResult result;
  result.reads = reads.size();
  for (const BankRead& read : reads) {
    std::vector<std::string> problems;
    auto note = [&](const std::string& kind, std::string what) {
      ++result.error_counts[kind];
      problems.push_back(absl::StrCat(kind, " (", what, ")"));
    };
    int64_t sum = 0;
    bool complete = true;
    for (int64_t account = 0; account < options.accounts; ++account) {
      auto it = read.balances.find(account);
      if (it == read.balances.end()) {
        note("missing-account", absl::StrCat("account ", account));
        complete = false;
      } else if (!it->second.has_value()) {
        note("nil-balance", absl::StrCat("account ", account));
        complete = false;
      } else {
        if (*it->second < 0 && !options.negative_balances_allowed) {
          note("negative-value", absl::StrCat("account ", account, " = ", *it->second));
        }
        sum += *it->second;
      }
    }
    for (const auto& [account, balance] : read.balances) {
      if (account < 0 || account >= options.accounts) {
        note("unexpected-account", absl::StrCat("account ", account));
        if (balance.has_value()) sum += *balance;
      }
    }
    if (complete && sum != options.total) {
      note("wrong-total", absl::StrCat("sum ", sum, ", expected ", options.total));
    }
    if (problems.empty()) continue;
    result.valid = false;
    ++result.bad_reads;
    if (result.errors.size() < options.max_reported) {
      result.errors.push_back(absl::StrCat("read at ", read.index, " by process ", read.process,
                                           ": ", absl::StrJoin(problems, ", "), " in ",
                                           Describe(read)));
    }
  }
  return result;
}

}  // namespace rutile::checkers
