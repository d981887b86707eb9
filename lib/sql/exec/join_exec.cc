#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sql/exec/exec_util.h"

namespace rutile::sql::exec_internal {

namespace {

class JoinExec : public Executor {
 public:
  JoinExec(const JoinNode& p, ExecContext* ctx, std::unique_ptr<Executor> left,
           std::unique_ptr<Executor> right)
      : p_(p),
        ctx_(ctx),
        left_(std::move(left)),
        right_(std::move(right)),
        left_types_(SchemaTypes(p.children[0]->schema)),
        right_types_(SchemaTypes(p.children[1]->schema)),
        out_(SchemaTypes(p.schema)) {
    combined_types_ = left_types_;
    combined_types_.insert(combined_types_.end(), right_types_.begin(), right_types_.end());
    if (p.other) other_.push_back(p.other.get());
  }

  absl::Status Next(Chunk* out) override {
    if (!built_) {
      absl::Status s = Build();
      if (!s.ok()) return s;
      built_ = true;
    }
    while (!out_.HasFull() && !left_done_) {
      Chunk l;
      absl::Status s = left_->Next(&l);
      if (!s.ok()) return s;
      if (l.NumRows() == 0) {
        left_done_ = true;
        break;
      }
      s = Probe(l);
      if (!s.ok()) return s;
    }
    if (out_.Empty()) {
      *out = Chunk(SchemaTypes(p_.schema));
      return absl::OkStatus();
    }
    out_.Take(out);
    return absl::OkStatus();
  }

 private:
  static constexpr uint32_t kNoRow = UINT32_MAX;

  // Whether both sides' single key is a signed integer column: the table is then keyed
  // by the int64 itself (equal integers hash alike; NULLs never match).
  bool IntKeyed() const {
    return p_.left_keys.size() == 1 &&
           PhysicalTypeOf(p_.left_keys[0]->type()) == PhysicalType::kInt64 &&
           PhysicalTypeOf(p_.right_keys[0]->type()) == PhysicalType::kInt64;
  }

  // The hash-key bytes of row `r` of `keys` into `k`; false when a key is NULL.
  static bool RowKey(const std::vector<Column>& keys, const std::vector<expr::ExprPtr>& exprs,
                     size_t r, std::string* k) {
    k->clear();
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].IsNull(r)) return false;
      AppendHashKey(k, keys[i].GetDatum(r, exprs[i]->type()), exprs[i]->type());
    }
    return true;
  }

  absl::Status Build() {
    right_all_ = Chunk(right_types_);
    absl::Status s = Drain(right_.get(), &right_all_);
    if (!s.ok()) return s;
    s = mem_.Add(RowBytes(right_all_.NumRows(), right_all_.NumCols()) +
                 static_cast<int64_t>(right_all_.NumRows() * 48));  // Hash table entries.
    if (!s.ok()) return s;
    if (p_.left_keys.empty()) return absl::OkStatus();
    std::vector<Column> keys;
    s = EvalColumns(ctx_, p_.right_keys, right_all_, &keys);
    if (!s.ok()) return s;
    // Each key's rows are chained through next_ in build order (built back to front so a
    // chain starts at its first row): probes emit matches in build order.
    const size_t n = right_all_.NumRows();
    next_.assign(n, kNoRow);
    int_keyed_ = IntKeyed() && keys[0].type() == PhysicalType::kInt64;
    std::string k;
    for (size_t i = n; i-- > 0;) {
      const uint32_t r = static_cast<uint32_t>(i);
      if (int_keyed_) {
        if (keys[0].IsNull(r)) continue;
        auto [it, fresh] = int_table_.try_emplace(keys[0].GetInt64(r), r);
        if (!fresh) {
          next_[r] = it->second;
          it->second = r;
        }
        continue;
      }
      if (!RowKey(keys, p_.right_keys, r, &k)) continue;
      auto [it, fresh] = table_.try_emplace(k, r);
      if (!fresh) {
        next_[r] = it->second;
        it->second = r;
      }
    }
    return absl::OkStatus();
  }

  // The first build row whose key equals row `r`'s of `keys` (kNoRow: none).
  uint32_t Head(const std::vector<Column>& keys, size_t r, std::string* k) const {
    if (int_keyed_) {
      const Column& c = keys[0];
      if (c.IsNull(r)) return kNoRow;
      int64_t v = 0;
      if (c.type() == PhysicalType::kInt64) {
        v = c.GetInt64(r);
      } else if (c.type() == PhysicalType::kUint64 &&
                 c.GetUint64(r) <= static_cast<uint64_t>(INT64_MAX)) {
        v = static_cast<int64_t>(c.GetUint64(r));
      } else {
        return kNoRow;  // As the byte keys: no other kind equals a signed integer's key.
      }
      auto it = int_table_.find(v);
      return it == int_table_.end() ? kNoRow : it->second;
    }
    if (!RowKey(keys, p_.left_keys, r, k)) return kNoRow;
    auto it = table_.find(*k);
    return it == table_.end() ? kNoRow : it->second;
  }

  absl::Status Probe(const Chunk& l) {
    std::vector<Column> keys;
    if (!p_.left_keys.empty()) {
      absl::Status s = EvalColumns(ctx_, p_.left_keys, l, &keys);
      if (!s.ok()) return s;
    }
    const bool keyed = !p_.left_keys.empty();
    const bool emit_pairs = p_.type == JoinType::kInner || p_.type == JoinType::kLeft;
    // Output rows as (left row, right row or kNoRow for NULLs), gathered a column at a
    // time at the end.
    lsel_.clear();
    rsel_.clear();
    std::vector<uint32_t> cands;
    std::string k;
    for (size_t r = 0; r < l.NumRows(); ++r) {
      const uint32_t lr = static_cast<uint32_t>(r);
      bool matched = false;
      if (other_.empty()) {
        // No other condition: every candidate matches, straight into the output.
        if (keyed) {
          uint32_t h = Head(keys, r, &k);
          matched = h != kNoRow;
          if (emit_pairs) {
            for (uint32_t rr = h; rr != kNoRow; rr = next_[rr]) {
              lsel_.push_back(lr);
              rsel_.push_back(rr);
            }
          }
        } else {
          matched = right_all_.NumRows() > 0;
          if (emit_pairs) {
            for (size_t rr = 0; rr < right_all_.NumRows(); ++rr) {
              lsel_.push_back(lr);
              rsel_.push_back(static_cast<uint32_t>(rr));
            }
          }
        }
      } else {
        cands.clear();
        if (keyed) {
          for (uint32_t rr = Head(keys, r, &k); rr != kNoRow; rr = next_[rr]) {
            cands.push_back(rr);
          }
        } else {
          for (size_t rr = 0; rr < right_all_.NumRows(); ++rr) {
            cands.push_back(static_cast<uint32_t>(rr));
          }
        }
        for (size_t begin = 0; begin < cands.size(); begin += kMaxChunkSize) {
          const size_t end = std::min(cands.size(), begin + kMaxChunkSize);
          Chunk c(combined_types_, end - begin);
          for (size_t j = begin; j < end; ++j) AppendCombined(&c, l, r, cands[j]);
          absl::Status s = FilterChunk(ctx_, other_, &c);
          if (!s.ok()) return s;
          if (c.NumRows() == 0) continue;
          matched = true;
          if (!emit_pairs) break;
          // The rows that passed, in candidate order: flush what is pending first.
          s = Flush(l);
          if (!s.ok()) return s;
          out_.buf().Append(c);
        }
      }
      if ((p_.type == JoinType::kSemi && matched) || (p_.type == JoinType::kAnti && !matched) ||
          (p_.type == JoinType::kLeft && !matched)) {
        lsel_.push_back(lr);
        rsel_.push_back(kNoRow);
      }
    }
    return Flush(l);
  }

  // Appends the pending (left row, right row) pairs of probe chunk `l` to the output.
  absl::Status Flush(const Chunk& l) {
    if (lsel_.empty()) return absl::OkStatus();
    Chunk& b = out_.buf();
    for (size_t i = 0; i < left_types_.size(); ++i) b.column(i).AppendGather(l.column(i), lsel_);
    if (p_.type == JoinType::kInner || p_.type == JoinType::kLeft) {
      const bool any_null = p_.type == JoinType::kLeft &&
                            std::find(rsel_.begin(), rsel_.end(), kNoRow) != rsel_.end();
      for (size_t i = 0; i < right_types_.size(); ++i) {
        Column& dst = b.column(left_types_.size() + i);
        const Column& src = right_all_.column(i);
        if (!any_null) {
          dst.AppendGather(src, rsel_);
          continue;
        }
        for (uint32_t rr : rsel_) {
          if (rr == kNoRow) {
            dst.AppendNull();
          } else {
            dst.AppendFrom(src, rr);
          }
        }
      }
    }
    lsel_.clear();
    rsel_.clear();
    return absl::OkStatus();
  }

  void AppendCombined(Chunk* c, const Chunk& l, size_t lr, size_t rr) {
    for (size_t i = 0; i < left_types_.size(); ++i) c->column(i).AppendFrom(l.column(i), lr);
    for (size_t i = 0; i < right_types_.size(); ++i) {
      c->column(left_types_.size() + i).AppendFrom(right_all_.column(i), rr);
    }
  }

  const JoinNode& p_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> left_, right_;
  std::vector<FieldType> left_types_, right_types_, combined_types_;
  std::vector<const expr::Expression*> other_;
  Chunk right_all_;
  // Key -> first build row with it; next_ chains the rest.
  absl::flat_hash_map<std::string, uint32_t> table_;
  absl::flat_hash_map<int64_t, uint32_t> int_table_;
  std::vector<uint32_t> next_;
  bool int_keyed_ = false;
  std::vector<uint32_t> lsel_, rsel_;  // Pending output pairs of the probe chunk.
  bool built_ = false;
  bool left_done_ = false;
  OutputQueue out_;
  MemAccount mem_{ctx_};
};

}  // namespace

std::unique_ptr<Executor> NewJoinExec(const JoinNode& p, ExecContext* ctx,
                                      std::unique_ptr<Executor> left,
                                      std::unique_ptr<Executor> right) {
  return std::make_unique<JoinExec>(p, ctx, std::move(left), std::move(right));
}

}  // namespace rutile::sql::exec_internal
