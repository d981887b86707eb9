// Sort-merge join (TiDB's MergeJoinExec; DuckDB's merge join over sorted runs): both
// children yield rows in ascending order of their first `merge_keys` join keys (the
// planner proves it, planner/binder.cc ApplyOrderProperties), and the join reads them in
// one pass. The left side drives; the right side's rows of one merge-key value (a "run")
// are buffered, crossing chunk boundaries, and joined with every left row of that value.
//
// Semantics are the hash join's (join_exec.cc): keys compare as MySQL compares them
// (CompareDatum: integers of either signedness exactly, decimals of any scale, strings
// under the keys' collation; the binder pairs keys of one comparison class only, as for
// the hash join), a NULL in any key matches nothing, keys past the merge keys are checked
// for equality on the candidate pairs, and `other` is evaluated on the joined rows. The
// output is in left order, each left row's matches in right order — the order the hash
// join emits when its probe (left) side is ordered — so it stays ordered on the keys.
// Inner and semi joins stop reading the left side once the right one is exhausted; all
// types stop reading the right side once the left one is. An input that is not ordered
// fails the statement (Internal) rather than producing wrong rows.
//
// The buffered run counts against the statement's memory quota (8175 past it). The
// executor holds no other resources: dropping it mid-stream (a LIMIT satisfied, an error
// above) releases the run and its quota.

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sql/exec/exec_util.h"
#include "sql/types/collation.h"
#include "sql/types/compare.h"

namespace rutile::sql::exec_internal {

namespace {

// Compares non-NULL key values a[i] (of type ta) and b[j] (of type tb) as CompareDatum
// does, without building datums for the common physical types.
int CompareKeyAt(const Column& a, size_t i, const FieldType& ta, const Column& b, size_t j,
                 const FieldType& tb, Collation coll) {
  if (a.type() == b.type()) {
    switch (a.type()) {
      case PhysicalType::kInt64: {
        const int64_t x = a.GetInt64(i), y = b.GetInt64(j);
        return x < y ? -1 : x > y ? 1 : 0;
      }
      case PhysicalType::kUint64: {
        const uint64_t x = a.GetUint64(i), y = b.GetUint64(j);
        return x < y ? -1 : x > y ? 1 : 0;
      }
      case PhysicalType::kFloat64: {
        const double x = a.GetFloat64(i), y = b.GetFloat64(j);
        return x < y ? -1 : x > y ? 1 : 0;
      }
      case PhysicalType::kDecimal:
        return a.GetDecimal(i).Compare(b.GetDecimal(j));
      case PhysicalType::kTime:
        return a.GetTime(i).Compare(b.GetTime(j));
      case PhysicalType::kDuration:
        return a.GetDuration(i).Compare(b.GetDuration(j));
      case PhysicalType::kBytes:
        if (ta.GetEvalType() == EvalType::kString && tb.GetEvalType() == EvalType::kString) {
          return CompareStrings(a.GetBytes(i), b.GetBytes(j), coll);
        }
        break;
    }
  }
  return CompareDatum(a.GetDatum(i, ta), b.GetDatum(j, tb), coll);
}

class MergeJoinExec : public Executor {
 public:
  MergeJoinExec(const JoinNode& p, ExecContext* ctx, std::unique_ptr<Executor> left,
                std::unique_ptr<Executor> right)
      : p_(p),
        ctx_(ctx),
        left_types_(SchemaTypes(p.children[0]->schema)),
        right_types_(SchemaTypes(p.children[1]->schema)),
        out_types_(SchemaTypes(p.schema)),
        out_(out_types_),
        nkeys_(p.left_keys.size()),
        nmerge_(std::min(p.merge_keys, p.left_keys.size())) {
    left_.exec = std::move(left);
    right_.exec = std::move(right);
    combined_types_ = left_types_;
    combined_types_.insert(combined_types_.end(), right_types_.begin(), right_types_.end());
    if (p.other) other_.push_back(p.other.get());
    for (size_t k = 0; k < nkeys_; ++k) {
      const FieldType& t = p.left_keys[k]->type();
      colls_.push_back(t.GetEvalType() == EvalType::kString ? t.collation : Collation::kBinary);
    }
    run_ = Chunk(right_types_);
    run_keys_.resize(nkeys_);
  }

  absl::Status Next(Chunk* out) override {
    if (!status_.ok()) return status_;
    while (!out_.HasFull() && !done_) {
      absl::Status s = Step();
      if (!s.ok()) {
        status_ = s;  // Sticky: a Next after an error fails again instead of resuming.
        done_ = true;
        ReleaseRun();
        return s;
      }
    }
    if (out_.Empty()) {
      *out = Chunk(out_types_);
      return absl::OkStatus();
    }
    out_.Take(out);
    return absl::OkStatus();
  }

 private:
  static constexpr uint32_t kNoRow = UINT32_MAX;

  // One input: its current chunk, the chunk's key columns and the next row to read; the
  // last non-NULL merge key passed (one row of key columns), to check the order.
  struct Side {
    std::unique_ptr<Executor> exec;
    Chunk chunk;
    std::vector<Column> keys;
    size_t pos = 0;
    bool exhausted = false;
    // The previous non-NULL-keyed row: `prev` in this chunk, or (-1) the one saved in
    // `last` from an earlier chunk (has_last).
    int64_t prev = -1;
    std::vector<Column> last;
    bool has_last = false;
  };

  const std::vector<expr::ExprPtr>& KeyExprs(const Side& s) const {
    return &s == &left_ ? p_.left_keys : p_.right_keys;
  }

  // Makes s->pos a row of s->chunk, reading chunks as needed; false once exhausted.
  absl::StatusOr<bool> Fill(Side* s) {
    while (s->pos >= s->chunk.NumRows()) {
      if (s->exhausted) return false;
      Chunk c;
      absl::Status st = s->exec->Next(&c);
      if (!st.ok()) return st;
      if (c.NumRows() == 0) {
        s->exhausted = true;
        s->chunk = Chunk();
        s->keys.clear();
        s->pos = 0;
        s->prev = -1;
        return false;
      }
      if (c.sel() != nullptr) c = c.Compact();
      if (s->prev >= 0) {  // Keep the chunk's last checked row for the next one's check.
        s->last.resize(nmerge_);
        for (size_t k = 0; k < nmerge_; ++k) {
          Column col(s->keys[k].type());
          col.AppendFrom(s->keys[k], static_cast<size_t>(s->prev));
          s->last[k] = std::move(col);
        }
        s->has_last = true;
        s->prev = -1;
      }
      std::vector<Column> keys;
      st = EvalColumns(ctx_, KeyExprs(*s), c, &keys);
      if (!st.ok()) return st;
      s->chunk = std::move(c);
      s->keys = std::move(keys);
      s->pos = 0;
    }
    return true;
  }

  // Whether row `r` of key columns `keys` has a NULL in any key (it matches nothing).
  bool AnyNull(const std::vector<Column>& keys, size_t r) const {
    for (size_t k = 0; k < nkeys_; ++k) {
      if (keys[k].IsNull(r)) return true;
    }
    return false;
  }

  // Compares the merge keys of row a_r of `a` (left keys when a_left) with row b_r of `b`
  // (right keys when b_left is false).
  int CompareMerge(const std::vector<Column>& a, size_t a_r, bool a_left,
                   const std::vector<Column>& b, size_t b_r, bool b_left) const {
    for (size_t k = 0; k < nmerge_; ++k) {
      const FieldType& ta = (a_left ? p_.left_keys : p_.right_keys)[k]->type();
      const FieldType& tb = (b_left ? p_.left_keys : p_.right_keys)[k]->type();
      int c = CompareKeyAt(a[k], a_r, ta, b[k], b_r, tb, colls_[k]);
      if (c != 0) return c;
    }
    return 0;
  }

  // Checks that the non-NULL-keyed row s->pos does not sort before the side's previous
  // one, and makes it the previous one.
  absl::Status CheckOrder(Side* s, bool is_left) {
    const size_t r = s->pos;
    const bool before =
        s->prev >= 0
            ? CompareMerge(s->keys, r, is_left, s->keys, static_cast<size_t>(s->prev), is_left) < 0
            : s->has_last && CompareMerge(s->keys, r, is_left, s->last, 0, is_left) < 0;
    if (before) {
      return absl::InternalError(absl::StrCat("merge join: the ", is_left ? "left" : "right",
                                              " input is not ordered on the join keys"));
    }
    s->prev = static_cast<int64_t>(r);
    return absl::OkStatus();
  }

  void ReleaseRun() {
    run_ = Chunk(right_types_);
    for (Column& c : run_keys_) c = Column(c.type());
    run_valid_ = false;
    (void)mem_.Add(-run_bytes_);
    run_bytes_ = 0;
  }

  // Replaces the run by the right rows of the smallest merge key not below left row `lr`'s
  // (the right rows before it, and those with a NULL key, are passed over); no run once
  // the right side is exhausted.
  absl::Status AdvanceRun(size_t lr) {
    ReleaseRun();
    while (true) {
      absl::StatusOr<bool> more = Fill(&right_);
      if (!more.ok()) return more.status();
      if (!*more) return absl::OkStatus();
      const size_t r = right_.pos;
      if (AnyNull(right_.keys, r)) {
        ++right_.pos;
        continue;
      }
      absl::Status s = CheckOrder(&right_, /*is_left=*/false);
      if (!s.ok()) return s;
      if (!run_valid_) {
        if (CompareMerge(right_.keys, r, false, left_.keys, lr, true) < 0) {
          ++right_.pos;
          continue;
        }
        run_valid_ = true;
      } else if (CompareMerge(right_.keys, r, false, run_keys_, 0, false) != 0) {
        return absl::OkStatus();  // The run ends here; this row starts the next.
      }
      // Buffer the rest of this chunk's rows of the run's key in one go.
      size_t end = r + 1;
      while (end < right_.chunk.NumRows() &&
             (AnyNull(right_.keys, end) ||
              CompareMerge(right_.keys, end, false, right_.keys, r, false) == 0)) {
        ++end;
      }
      if (run_.NumRows() == 0) {
        for (size_t k = 0; k < nkeys_; ++k) run_keys_[k] = Column(right_.keys[k].type());
      }
      // NULL-keyed rows inside the span are kept out of the run.
      for (size_t i = r; i < end; ++i) {
        if (AnyNull(right_.keys, i)) continue;
        for (size_t c = 0; c < right_types_.size(); ++c) {
          run_.column(c).AppendFrom(right_.chunk.column(c), i);
        }
        for (size_t k = 0; k < nkeys_; ++k) run_keys_[k].AppendFrom(right_.keys[k], i);
      }
      right_.pos = end;
      const int64_t add = RowBytes(run_.NumRows(), right_types_.size() + nkeys_) - run_bytes_;
      run_bytes_ += add;
      s = mem_.Add(add);
      if (!s.ok()) return s;
    }
  }

  // Whether left row `lr` and run row `rr` agree on the keys past the merge keys.
  bool RestEqual(size_t lr, size_t rr) const {
    for (size_t k = nmerge_; k < nkeys_; ++k) {
      if (CompareKeyAt(left_.keys[k], lr, p_.left_keys[k]->type(), run_keys_[k], rr,
                       p_.right_keys[k]->type(), colls_[k]) != 0) {
        return false;
      }
    }
    return true;
  }

  // Joins left row `lr` with the run; returns whether it matched.
  absl::StatusOr<bool> JoinRun(size_t lr) {
    const bool emit_pairs = p_.type == JoinType::kInner || p_.type == JoinType::kLeft;
    const uint32_t l32 = static_cast<uint32_t>(lr);
    cands_.clear();
    for (size_t rr = 0; rr < run_.NumRows(); ++rr) {
      if (nmerge_ < nkeys_ && !RestEqual(lr, rr)) continue;
      cands_.push_back(static_cast<uint32_t>(rr));
    }
    if (cands_.empty()) return false;
    if (other_.empty()) {
      if (emit_pairs) {
        for (uint32_t rr : cands_) {
          lsel_.push_back(l32);
          rsel_.push_back(rr);
        }
      }
      return true;
    }
    bool matched = false;
    for (size_t begin = 0; begin < cands_.size(); begin += kMaxChunkSize) {
      const size_t end = std::min(cands_.size(), begin + kMaxChunkSize);
      Chunk c(combined_types_, end - begin);
      std::vector<uint32_t> lrows(end - begin, l32);
      std::span<const uint32_t> rrows(cands_.data() + begin, end - begin);
      for (size_t i = 0; i < left_types_.size(); ++i) {
        c.column(i).AppendGather(left_.chunk.column(i), lrows);
      }
      for (size_t i = 0; i < right_types_.size(); ++i) {
        c.column(left_types_.size() + i).AppendGather(run_.column(i), rrows);
      }
      absl::Status s = FilterChunk(ctx_, other_, &c);
      if (!s.ok()) return s;
      if (c.NumRows() == 0) continue;
      matched = true;
      if (!emit_pairs) break;
      Flush();  // Pending pairs come first.
      out_.buf().Append(c);
    }
    return matched;
  }

  // Appends the pending (left row, run row or kNoRow) pairs to the output.
  void Flush() {
    if (lsel_.empty()) return;
    Chunk& o = out_.buf();
    for (size_t i = 0; i < left_types_.size(); ++i) {
      o.column(i).AppendGather(left_.chunk.column(i), lsel_);
    }
    if (p_.type == JoinType::kInner || p_.type == JoinType::kLeft) {
      const bool any_null = std::find(rsel_.begin(), rsel_.end(), kNoRow) != rsel_.end();
      for (size_t i = 0; i < right_types_.size(); ++i) {
        Column& dst = o.column(left_types_.size() + i);
        if (!any_null) {
          dst.AppendGather(run_.column(i), rsel_);
          continue;
        }
        for (uint32_t rr : rsel_) {
          if (rr == kNoRow) {
            dst.AppendNull();
          } else {
            dst.AppendFrom(run_.column(i), rr);
          }
        }
      }
    }
    lsel_.clear();
    rsel_.clear();
  }

  // Joins the left rows from left_.pos until the chunk ends or a chunk of output is ready.
  absl::Status Step() {
    absl::StatusOr<bool> more = Fill(&left_);
    if (!more.ok()) return more.status();
    if (!*more) {
      done_ = true;
      return absl::OkStatus();
    }
    const size_t n = left_.chunk.NumRows();
    const bool keep_unmatched = p_.type == JoinType::kLeft || p_.type == JoinType::kAnti;
    while (left_.pos < n) {
      const size_t lr = left_.pos;
      bool matched = false;
      if (!AnyNull(left_.keys, lr)) {
        absl::Status s = CheckOrder(&left_, /*is_left=*/true);
        if (!s.ok()) return s;
        if (!run_valid_ || CompareMerge(left_.keys, lr, true, run_keys_, 0, false) > 0) {
          Flush();  // Pending pairs point into the run about to be replaced.
          s = AdvanceRun(lr);
          if (!s.ok()) return s;
        }
        if (run_valid_ && CompareMerge(left_.keys, lr, true, run_keys_, 0, false) == 0) {
          absl::StatusOr<bool> m = JoinRun(lr);
          if (!m.ok()) return m.status();
          matched = *m;
        }
      }
      if ((p_.type == JoinType::kSemi && matched) || (keep_unmatched && !matched)) {
        lsel_.push_back(static_cast<uint32_t>(lr));
        rsel_.push_back(kNoRow);
      }
      ++left_.pos;
      if (!run_valid_ && right_.exhausted && !keep_unmatched) {
        done_ = true;  // Nothing more can match: the rest of the left side is not read.
        break;
      }
      if (out_.buf().NumRows() + lsel_.size() >= kMaxChunkSize) break;
    }
    Flush();
    return absl::OkStatus();
  }

  const JoinNode& p_;
  ExecContext* ctx_;
  std::vector<FieldType> left_types_, right_types_, combined_types_, out_types_;
  OutputQueue out_;
  const size_t nkeys_, nmerge_;
  std::vector<Collation> colls_;  // Per key: the collation strings compare under.
  std::vector<const expr::Expression*> other_;
  Side left_, right_;
  // The run: right rows of one merge key (none NULL), and their key columns.
  Chunk run_;
  std::vector<Column> run_keys_;
  bool run_valid_ = false;
  int64_t run_bytes_ = 0;
  std::vector<uint32_t> lsel_, rsel_, cands_;
  bool done_ = false;
  absl::Status status_;
  MemAccount mem_{ctx_};
};

}  // namespace

std::unique_ptr<Executor> NewMergeJoinExec(const JoinNode& p, ExecContext* ctx,
                                           std::unique_ptr<Executor> left,
                                           std::unique_ptr<Executor> right) {
  return std::make_unique<MergeJoinExec>(p, ctx, std::move(left), std::move(right));
}

}  // namespace rutile::sql::exec_internal
