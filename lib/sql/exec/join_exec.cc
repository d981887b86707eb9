#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

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
    for (size_t r = 0; r < right_all_.NumRows(); ++r) {
      std::string k;
      bool null = false;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i].IsNull(r)) {
          null = true;
          break;
        }
        AppendHashKey(&k, keys[i].GetDatum(r, p_.right_keys[i]->type()), p_.right_keys[i]->type());
      }
      if (!null) table_[k].push_back(static_cast<uint32_t>(r));
    }
    return absl::OkStatus();
  }

  absl::Status Probe(const Chunk& l) {
    std::vector<Column> keys;
    if (!p_.left_keys.empty()) {
      absl::Status s = EvalColumns(ctx_, p_.left_keys, l, &keys);
      if (!s.ok()) return s;
    }
    std::vector<uint32_t> all;
    if (p_.left_keys.empty()) {
      all.resize(right_all_.NumRows());
      for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint32_t>(i);
    }
    static const std::vector<uint32_t> kNone;
    for (size_t r = 0; r < l.NumRows(); ++r) {
      const std::vector<uint32_t>* cands = &all;
      if (!p_.left_keys.empty()) {
        std::string k;
        bool null = false;
        for (size_t i = 0; i < keys.size(); ++i) {
          if (keys[i].IsNull(r)) {
            null = true;
            break;
          }
          AppendHashKey(&k, keys[i].GetDatum(r, p_.left_keys[i]->type()), p_.left_keys[i]->type());
        }
        auto it = null ? table_.end() : table_.find(k);
        cands = it == table_.end() ? &kNone : &it->second;
      }
      bool matched = false;
      if (other_.empty()) {
        // No other condition: every candidate matches, straight into the output (no
        // chunk per probe row to filter).
        matched = !cands->empty();
        if (p_.type == JoinType::kInner || p_.type == JoinType::kLeft) {
          for (uint32_t rr : *cands) AppendCombined(&out_.buf(), l, r, rr);
        }
      }
      for (size_t begin = 0; !other_.empty() && begin < cands->size(); begin += kMaxChunkSize) {
        size_t end = std::min(cands->size(), begin + kMaxChunkSize);
        Chunk c(combined_types_);
        for (size_t j = begin; j < end; ++j) AppendCombined(&c, l, r, (*cands)[j]);
        absl::Status s = FilterChunk(ctx_, other_, &c);
        if (!s.ok()) return s;
        if (c.NumRows() == 0) continue;
        matched = true;
        if (p_.type == JoinType::kInner || p_.type == JoinType::kLeft) {
          for (size_t j = 0; j < c.NumRows(); ++j) out_.buf().AppendRowFrom(c, j);
        } else {
          break;
        }
      }
      if ((p_.type == JoinType::kSemi && matched) || (p_.type == JoinType::kAnti && !matched)) {
        out_.buf().AppendRowFrom(l, r);
      } else if (p_.type == JoinType::kLeft && !matched) {
        Chunk& b = out_.buf();
        for (size_t i = 0; i < left_types_.size(); ++i) b.column(i).AppendFrom(l.column(i), r);
        for (size_t i = 0; i < right_types_.size(); ++i)
          b.column(left_types_.size() + i).AppendNull();
      }
    }
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
  std::unordered_map<std::string, std::vector<uint32_t>> table_;
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
