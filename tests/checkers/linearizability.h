// A linearizability checker for histories of concurrent operations.
//
// The algorithm is Wing & Gong's, with Lowe's memoisation, in the shape the
// porcupine checker uses: the history becomes a doubly linked list of call and
// return entries ordered by time; the search repeatedly takes the first call
// whose operation the model accepts from the current state, "lifts" it (and its
// return) out of the list, and backtracks when it reaches a return entry whose
// call has not been linearized. A cache of (set of linearized operations, model
// state) pairs already explored prunes the search. The check is P-compositional:
// the model may split the history into independent partitions (e.g. one per
// key), which are checked one after the other.
//
// Operations whose outcome is unknown (a timeout, a crashed client) have no
// output (`output == std::nullopt`) and usually return at kInfiniteTime: they
// may take effect at any point after their call, or never.
//
// Thread safety: CheckLinearizable is a pure function of its arguments; a
// Model must be safe to call concurrently only if it is shared across threads.

#ifndef RUTILE_TESTS_CHECKERS_LINEARIZABILITY_H_
#define RUTILE_TESTS_CHECKERS_LINEARIZABILITY_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace rutile::checkers {

// Return time of an operation that never returned.
inline constexpr int64_t kInfiniteTime = std::numeric_limits<int64_t>::max();

// One operation of a history: `input` was invoked by `client_id` at `call` and
// returned `output` at `ret`. Times only need to be comparable (log line
// numbers do); at equal times a call orders before a return.
template <typename Input, typename Output>
struct Operation {
  int64_t client_id = 0;
  Input input{};
  int64_t call = 0;
  // std::nullopt when the outcome is unknown: any output is accepted.
  std::optional<Output> output;
  int64_t ret = kInfiniteTime;
};

// The sequential specification of an object. `State` must be copyable; the
// default Hash / Equal use absl::Hash and operator==.
template <typename State, typename Input, typename Output>
class Model {
 public:
  using StateType = State;
  using InputType = Input;
  using OutputType = Output;
  using Op = Operation<Input, Output>;

  virtual ~Model() = default;

  // The state before any operation.
  virtual State Init() const = 0;

  // Applies `input` to `state`. Returns false when `output` is not what the
  // object could have returned from `state`; otherwise stores the next state in
  // `*next`. `output` is nullptr when the outcome is unknown.
  virtual bool Step(const State& state, const Input& input, const Output* output,
                    State* next) const = 0;

  virtual size_t Hash(const State& state) const { return absl::HashOf(state); }
  virtual bool Equal(const State& a, const State& b) const { return a == b; }

  // Splits the history into independently checkable groups of operation
  // indices. The default keeps one group.
  virtual std::vector<std::vector<size_t>> Partition(absl::Span<const Op> history) const {
    std::vector<size_t> all(history.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    return {std::move(all)};
  }

  // Diagnostics.
  virtual std::string DescribeOperation(const Input& input, const Output* output) const {
    return "op";
  }
  virtual std::string DescribeState(const State& state) const { return "state"; }
};

enum class CheckResult { kOk, kIllegal, kUnknown };

const char* CheckResultName(CheckResult result);

struct LinearizabilityOptions {
  // Search iterations allowed over all partitions; 0 means unlimited.
  uint64_t max_steps = 0;
  // Wall-clock budget over all partitions.
  absl::Duration timeout = absl::InfiniteDuration();
  // How many operations of the longest linearizable prefix to print.
  size_t max_described_ops = 8;
  // Steps one partition runs before the next gets a turn.
  uint64_t slice_steps = 4096;
};

// What the checker found for one partition.
struct PartitionReport {
  size_t partition = 0;
  size_t num_ops = 0;
  CheckResult result = CheckResult::kOk;
  // kUnknown when the search stopped before deciding this partition.
  // Indices (into the full history) of the longest linearizable prefix found,
  // in linearization order. For kOk partitions, a complete linearization.
  std::vector<size_t> longest_prefix;
};

struct LinearizabilityReport {
  CheckResult result = CheckResult::kOk;
  uint64_t steps = 0;
  std::vector<PartitionReport> partitions;
  // For kIllegal: which partition failed, its longest linearizable prefix, the
  // state it leads to and the operations none of which can follow it.
  std::string explanation;
};

namespace internal {

// Call/return entries of one partition as a doubly linked list with a head
// sentinel (node 0). Node k + 1 holds entry k.
struct EntryList {
  std::vector<int> next, prev;
  // For call nodes, the matching return node; -1 for return nodes.
  std::vector<int> match;
  // Position of the operation in the partition.
  std::vector<int> op;

  // Builds the list from (call, ret) times of the partition's operations.
  static EntryList Build(const std::vector<std::pair<int64_t, int64_t>>& times);

  // Removes call node `c` and its return from the list; Unlift restores them.
  void Lift(int c) {
    next[prev[c]] = next[c];
    if (next[c] >= 0) prev[next[c]] = prev[c];
    int r = match[c];
    next[prev[r]] = next[r];
    if (next[r] >= 0) prev[next[r]] = prev[r];
  }
  void Unlift(int c) {
    int r = match[c];
    next[prev[r]] = r;
    if (next[r] >= 0) prev[next[r]] = r;
    next[prev[c]] = c;
    if (next[c] >= 0) prev[next[c]] = c;
  }
};

// A pseudo-random 64-bit value per operation; the XOR of the values of a set
// of operations hashes the set and updates in O(1) (Zobrist hashing).
uint64_t ZobristValue(size_t i);

// Operations (partition positions) that could come right after `prefix`: those
// not in it whose call precedes every remaining return.
std::vector<size_t> NextCandidates(const std::vector<std::pair<int64_t, int64_t>>& times,
                                   const std::vector<size_t>& prefix);

// The search over one partition, resumable so that partitions can be
// interleaved: a history is illegal as soon as any partition is.
template <typename State, typename Input, typename Output>
class PartitionSearch {
 public:
  using M = Model<State, Input, Output>;
  using Op = Operation<Input, Output>;

  PartitionSearch(const M& model, absl::Span<const Op> history, std::vector<size_t> ops)
      : model_(model), history_(history), ops_(std::move(ops)), words_((ops_.size() + 63) / 64) {
    times_.reserve(ops_.size());
    for (size_t i : ops_) times_.emplace_back(history[i].call, history[i].ret);
    list_ = EntryList::Build(times_);
    linearized_.assign(words_, 0);
    state_ = model_.Init();
    entry_ = list_.next[0];
  }

  // Runs at most `budget` steps. Returns kOk or kIllegal when decided, and
  // kUnknown when the budget ran out first.
  CheckResult Advance(uint64_t budget, uint64_t* steps) {
    if (result_ != CheckResult::kUnknown) return result_;
    for (uint64_t n = 0; n < budget; ++n) {
      if (list_.next[0] < 0) {
        longest_.clear();
        for (const Frame& f : calls_) longest_.push_back(list_.op[f.node]);
        return result_ = CheckResult::kOk;
      }
      ++*steps;
      if (list_.match[entry_] >= 0) {
        const int pos = list_.op[entry_];
        const Op& op = history_[ops_[pos]];
        State next_state{};
        if (model_.Step(state_, op.input, op.output ? &*op.output : nullptr, &next_state)) {
          const uint64_t set_hash = set_hash_ ^ ZobristValue(pos);
          SetBit(pos);
          if (CacheInsert(set_hash, next_state)) {
            calls_.push_back(Frame{entry_, std::move(state_), set_hash_});
            state_ = std::move(next_state);
            set_hash_ = set_hash;
            list_.Lift(entry_);
            entry_ = list_.next[0];
            continue;
          }
          ClearBit(pos);
        }
        entry_ = list_.next[entry_];
      } else {
        // A return whose call is not linearized: backtrack.
        if (calls_.size() > longest_.size()) {
          longest_.clear();
          for (const Frame& f : calls_) longest_.push_back(list_.op[f.node]);
        }
        if (calls_.empty()) return result_ = CheckResult::kIllegal;
        Frame top = std::move(calls_.back());
        calls_.pop_back();
        state_ = std::move(top.state);
        set_hash_ = top.set_hash;
        ClearBit(list_.op[top.node]);
        list_.Unlift(top.node);
        entry_ = list_.next[top.node];
      }
    }
    return CheckResult::kUnknown;
  }

  CheckResult result() const { return result_; }
  size_t size() const { return ops_.size(); }
  // Indices into the history of the longest linearizable prefix found.
  std::vector<size_t> LongestPrefix() const {
    std::vector<size_t> out;
    for (size_t pos : longest_) out.push_back(ops_[pos]);
    return out;
  }

  std::string Explain(size_t partition, size_t max_described) const {
    State s = model_.Init();
    std::vector<std::string> described;
    for (size_t k = 0; k < longest_.size(); ++k) {
      const Op& op = history_[ops_[longest_[k]]];
      const Output* out = op.output ? &*op.output : nullptr;
      State n{};
      model_.Step(s, op.input, out, &n);
      s = std::move(n);
      if (k + max_described >= longest_.size()) described.push_back(Describe(longest_[k]));
    }
    std::vector<std::string> stuck;
    for (size_t pos : NextCandidates(times_, longest_)) stuck.push_back(Describe(pos));
    return absl::StrCat(
        "partition ", partition, " (", ops_.size(),
        " ops) is not linearizable: the longest linearizable prefix has ", longest_.size(), " ops",
        longest_.size() > described.size() ? ", ending" : "", " [", absl::StrJoin(described, "; "),
        "], and leads to state ", model_.DescribeState(s), ", after which none of [",
        absl::StrJoin(stuck, "; "), "] can be linearized");
  }

 private:
  struct Frame {
    int node;
    State state;
    uint64_t set_hash;
  };

  std::string Describe(size_t pos) const {
    const Op& op = history_[ops_[pos]];
    return absl::StrCat("#", ops_[pos], " client ", op.client_id, " ",
                        model_.DescribeOperation(op.input, op.output ? &*op.output : nullptr));
  }

  void SetBit(size_t i) { linearized_[i / 64] |= uint64_t{1} << (i % 64); }
  void ClearBit(size_t i) { linearized_[i / 64] &= ~(uint64_t{1} << (i % 64)); }

  // Adds (linearized_, state) to the cache unless present; `set_hash` is the
  // Zobrist hash of linearized_. Returns whether it was added.
  bool CacheInsert(uint64_t set_hash, const State& state) {
    const uint64_t h = absl::HashOf(set_hash, model_.Hash(state));
    auto [it, fresh] = cache_head_.try_emplace(h, -1);
    for (int32_t e = it->second; e >= 0; e = cache_next_[e]) {
      if (std::equal(linearized_.begin(), linearized_.end(),
                     cache_bits_.begin() + static_cast<ptrdiff_t>(e * words_)) &&
          model_.Equal(cache_states_[e], state)) {
        return false;
      }
    }
    const int32_t e = static_cast<int32_t>(cache_states_.size());
    cache_bits_.insert(cache_bits_.end(), linearized_.begin(), linearized_.end());
    cache_states_.push_back(state);
    cache_next_.push_back(it->second);
    it->second = e;
    return true;
  }

  const M& model_;
  absl::Span<const Op> history_;
  std::vector<size_t> ops_;
  size_t words_;
  std::vector<std::pair<int64_t, int64_t>> times_;
  EntryList list_;
  std::vector<uint64_t> linearized_;
  uint64_t set_hash_ = 0;
  State state_{};
  int entry_ = 0;
  std::vector<Frame> calls_;
  std::vector<size_t> longest_;
  CheckResult result_ = CheckResult::kUnknown;
  absl::flat_hash_map<uint64_t, int32_t> cache_head_;
  std::vector<uint64_t> cache_bits_;
  std::vector<State> cache_states_;
  std::vector<int32_t> cache_next_;
};

}  // namespace internal

// Checks `history` against `model`. Returns kOk when every partition has a
// linearization, kIllegal when one has none, and kUnknown when the step or
// time budget ran out before a verdict. Partitions are searched in turns of
// `LinearizabilityOptions::slice_steps`, so an easy illegal partition is found
// even when another partition is expensive.
template <typename State, typename Input, typename Output>
LinearizabilityReport CheckLinearizable(const Model<State, Input, Output>& model,
                                        absl::Span<const Operation<Input, Output>> history,
                                        const LinearizabilityOptions& options = {}) {
  LinearizabilityReport report;
  const absl::Time deadline = options.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + options.timeout;
  std::vector<internal::PartitionSearch<State, Input, Output>> searches;
  for (std::vector<size_t>& ops : model.Partition(history)) {
    searches.emplace_back(model, history, std::move(ops));
  }
  int illegal = -1;
  bool pending = true;
  while (pending && illegal < 0) {
    pending = false;
    for (size_t p = 0; p < searches.size() && illegal < 0; ++p) {
      uint64_t budget = options.slice_steps;
      if (options.max_steps != 0) {
        budget = std::min(budget, options.max_steps - std::min(options.max_steps, report.steps));
      }
      CheckResult r = searches[p].Advance(budget, &report.steps);
      if (r == CheckResult::kIllegal) illegal = static_cast<int>(p);
      if (r == CheckResult::kUnknown) pending = true;
    }
    if (pending &&
        ((options.max_steps != 0 && report.steps >= options.max_steps) || absl::Now() > deadline)) {
      break;
    }
  }
  for (size_t p = 0; p < searches.size(); ++p) {
    PartitionReport part;
    part.partition = p;
    part.num_ops = searches[p].size();
    part.result = searches[p].result();
    part.longest_prefix = searches[p].LongestPrefix();
    report.partitions.push_back(std::move(part));
  }
  if (illegal >= 0) {
    report.result = CheckResult::kIllegal;
    report.explanation = searches[illegal].Explain(illegal, options.max_described_ops);
  } else {
    report.result = pending ? CheckResult::kUnknown : CheckResult::kOk;
  }
  return report;
}

// Convenience overload: `CheckLinearizable(RegisterModel(), ops)`.
template <typename State, typename Input, typename Output>
LinearizabilityReport CheckLinearizable(const Model<State, Input, Output>& model,
                                        const std::vector<Operation<Input, Output>>& history,
                                        const LinearizabilityOptions& options = {}) {
  return CheckLinearizable(model, absl::MakeConstSpan(history), options);
}

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_LINEARIZABILITY_H_
