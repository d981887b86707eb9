// Helpers shared by the executor files (executor.cc, aggregate_exec.cc, join_exec.cc,
// merge_join_exec.cc, sort_exec.cc): filtering a chunk, the per-executor memory account, the output
// queue, and the constructors of the operators that live in their own files. Internal to
// lib/sql/exec.
//
// Thread safety: as executor.h (one statement execution).

#ifndef RUTILE_SQL_EXEC_EXEC_UTIL_H_
#define RUTILE_SQL_EXEC_EXEC_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "sql/chunk/chunk.h"
#include "sql/exec/agg_table.h"
#include "sql/exec/executor.h"
#include "sql/exec/plan.h"

namespace rutile::sql::exec_internal {

// Keeps the rows where every condition is true (not NULL, not false).
absl::Status FilterChunk(ExecContext* ctx, const std::vector<const expr::Expression*>& conds,
                         Chunk* chunk);

// A reader's output step: FilterChunk, then, with a `limit` on rows after filtering, cuts
// the chunk at it (counting in *produced) and sets *done once it is reached.
absl::Status FilterAndLimit(ExecContext* ctx, const std::vector<const expr::Expression*>& conds,
                            std::optional<uint64_t> limit, uint64_t* produced, bool* done,
                            Chunk* chunk);

// Whether `e` reads anything but its input chunk (a subquery or an outer query's value:
// those need the ExecContext and its transaction, so they stay on the statement's fiber
// rather than a parallel operator's workers).
bool ReadsOutside(const expr::Expression& e);

// Appends every row `e` produces to `all`.
absl::Status Drain(Executor* e, Chunk* all);

// Evaluates each of `exprs` over `in` into `cols`.
absl::Status EvalColumns(ExecContext* ctx, const std::vector<expr::ExprPtr>& exprs, const Chunk& in,
                         std::vector<Column>* cols);

// What one executor holds against its statement's memory quota; released when it goes.
class MemAccount {
 public:
  explicit MemAccount(ExecContext* ctx) : ctx_(ctx) {}
  ~MemAccount() { ctx_->mem_used -= bytes_; }
  MemAccount(const MemAccount&) = delete;
  MemAccount& operator=(const MemAccount&) = delete;
  absl::Status Add(int64_t bytes) {
    bytes_ += bytes;
    return ctx_->ConsumeMemory(bytes);
  }

 private:
  ExecContext* ctx_;
  int64_t bytes_ = 0;
};

// Estimated bytes of `n` buffered rows of `cols` columns (values, null bits, row
// bookkeeping; string payloads are not counted).
inline int64_t RowBytes(size_t n, size_t cols) { return static_cast<int64_t>(n * (cols * 17 + 8)); }

// Hands out a growing buffer of rows in chunks of at most kMaxChunkSize.
class OutputQueue {
 public:
  explicit OutputQueue(std::vector<FieldType> types) : types_(std::move(types)), buf_(types_) {}
  Chunk& buf() { return buf_; }
  bool HasFull() const { return buf_.NumRows() - pos_ >= kMaxChunkSize; }
  bool Empty() const { return buf_.NumRows() == pos_; }
  void Take(Chunk* out) {
    size_t end = std::min(buf_.NumRows(), pos_ + kMaxChunkSize);
    if (pos_ == 0 && end == buf_.NumRows()) {
      *out = std::move(buf_);
      buf_ = Chunk(types_);
      return;
    }
    *out = buf_.Slice(pos_, end);
    pos_ = end;
    if (pos_ == buf_.NumRows()) {
      buf_ = Chunk(types_);
      pos_ = 0;
    }
  }

 private:
  std::vector<FieldType> types_;
  Chunk buf_;
  size_t pos_ = 0;
};

// An operator that consumes its whole input before it emits anything (hash aggregation,
// sort): the first Next runs Consume(), which fills out_; Next then hands the rows out a
// chunk at a time, and an empty chunk at the end.
class BlockingExec : public Executor {
 public:
  explicit BlockingExec(const std::vector<FieldType>& types) : types_(types), out_(types) {}
  absl::Status Next(Chunk* out) final {
    if (!consumed_) {
      absl::Status s = Consume();
      if (!s.ok()) return s;
      consumed_ = true;
    }
    if (out_.Empty()) {
      *out = Chunk(types_);
      return absl::OkStatus();
    }
    out_.Take(out);
    return absl::OkStatus();
  }

 private:
  std::vector<FieldType> types_;
  bool consumed_ = false;

 protected:
  virtual absl::Status Consume() = 0;
  OutputQueue out_;
};

// The AggTable spec of `p` (borrowing its expressions).
AggSpec SpecOf(const AggregateNode& p);

std::unique_ptr<Executor> NewJoinExec(const JoinNode& p, ExecContext* ctx,
                                      std::unique_ptr<Executor> left,
                                      std::unique_ptr<Executor> right);
std::unique_ptr<Executor> NewMergeJoinExec(const JoinNode& p, ExecContext* ctx,
                                           std::unique_ptr<Executor> left,
                                           std::unique_ptr<Executor> right);
std::unique_ptr<Executor> NewAggregateExec(const AggregateNode& p, ExecContext* ctx,
                                           std::unique_ptr<Executor> child);
std::unique_ptr<Executor> NewSortExec(const SortNode& p, ExecContext* ctx,
                                      std::unique_ptr<Executor> child);

}  // namespace rutile::sql::exec_internal

#endif  // RUTILE_SQL_EXEC_EXEC_UTIL_H_
