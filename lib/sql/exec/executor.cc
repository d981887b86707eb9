#include "sql/exec/executor.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rutile/env.h"
#include "sql/codec/codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/errors.h"
#include "sql/types/compare.h"
#include "sql/types/convert.h"

namespace rutile::sql {

std::vector<FieldType> SchemaTypes(const Schema& s) {
  std::vector<FieldType> out;
  out.reserve(s.size());
  for (const OutputColumn& c : s) out.push_back(c.type);
  return out;
}

absl::Status ExecContext::ConsumeMemory(int64_t bytes) {
  mem_used += bytes;
  if (bytes <= 0 || mem_quota <= 0 || mem_used <= mem_quota) return absl::OkStatus();
  return MakeMySqlStatus(
      absl::StatusCode::kResourceExhausted,
      {8175, "HY000",
       absl::StrCat("Your query has been cancelled due to exceeding the allowed memory limit "
                    "for a single SQL query (tidb_mem_quota_query = ",
                    mem_quota, " bytes; the query needed more than ", mem_used,
                    "). Please try narrowing your query scope or increase the "
                    "tidb_mem_quota_query limit and try again.")});
}

namespace {

std::string ExprList(const std::vector<expr::ExprPtr>& es) {
  std::vector<std::string> parts;
  for (const auto& e : es) parts.push_back(e->ToString());
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string TableScanNode::Describe() const {
  std::string s = absl::StrCat("TableScan ", table->name);
  if (handles.has_value()) {
    absl::StrAppend(&s, " handles:", handles->size());
  } else if (index_id != 0) {
    absl::StrAppend(&s, " index:", index_id);
  } else if (lo != INT64_MIN || hi != INT64_MAX) {
    absl::StrAppend(&s, " range:[", lo, ",", hi, "]");
  }
  if (filter) absl::StrAppend(&s, " filter:", filter->ToString());
  return s;
}
std::string SelectionNode::Describe() const { return "Selection " + ExprList(conditions); }
std::string ProjectionNode::Describe() const { return "Projection " + ExprList(exprs); }
std::string JoinNode::Describe() const {
  static const char* kNames[] = {"Inner", "Left", "Semi", "Anti"};
  std::string s = absl::StrCat(left_keys.empty() ? "NestedLoopJoin " : "HashJoin ",
                               kNames[static_cast<int>(type)]);
  if (!left_keys.empty())
    absl::StrAppend(&s, " keys:", ExprList(left_keys), "=", ExprList(right_keys));
  if (other) absl::StrAppend(&s, " other:", other->ToString());
  return s;
}
std::string AggregateNode::Describe() const {
  return absl::StrCat("HashAgg group:[", ExprList(group_by), "] aggs:", aggs.size());
}
std::string SortNode::Describe() const {
  std::string s = limit.has_value() ? absl::StrCat("TopN ", *limit, " ") : "Sort ";
  for (const SortItem& i : items) absl::StrAppend(&s, i.expr->ToString(), i.desc ? " desc " : " ");
  return s;
}
std::string LimitNode::Describe() const { return absl::StrCat("Limit ", offset, ",", count); }
std::string DistinctNode::Describe() const { return "Distinct"; }
std::string SetOpNode::Describe() const {
  static const char* kNames[] = {"Union", "Except", "Intersect"};
  return absl::StrCat(kNames[static_cast<int>(op)], all ? " All" : "");
}

static void ExplainRec(const PlanNode& p, int depth, std::string* out) {
  absl::StrAppend(out, std::string(depth * 2, ' '), p.Describe(), "\n");
  for (const auto& c : p.children) ExplainRec(*c, depth + 1, out);
}

std::string ExplainPlan(const PlanNode& plan) {
  std::string out;
  ExplainRec(plan, 0, &out);
  return out;
}

void AppendHashKey(std::string* key, const Datum& d, const FieldType& ft) {
  switch (d.kind()) {
    case DatumKind::kNull:
      key->push_back('\0');
      return;
    case DatumKind::kUint64:
      if (d.GetUint64() <= static_cast<uint64_t>(INT64_MAX)) {
        codec::EncodeKeyDatum(key, Datum::Int(static_cast<int64_t>(d.GetUint64())));
        return;
      }
      break;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      if (d.GetDouble() == 0) {
        codec::EncodeKeyDatum(key, Datum::Double(0));
        return;
      }
      break;
    case DatumKind::kDecimal: {
      // Equal decimals of different scales must hash alike.
      std::string s = d.GetDecimal().ToString();
      if (s.find('.') != std::string::npos) {
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
      }
      if (s == "-0") s = "0";
      key->push_back('\x06');
      key->append(s);
      key->push_back('\0');
      return;
    }
    case DatumKind::kString:
      codec::EncodeKeyDatum(key, d, ft.collation);
      return;
    default:
      break;
  }
  codec::EncodeKeyDatum(key, d);
}

namespace {

// Keeps the rows where every condition is true (not NULL, not false).
absl::Status FilterChunk(ExecContext* ctx, const std::vector<const expr::Expression*>& conds,
                         Chunk* chunk) {
  if (conds.empty() || chunk->NumRows() == 0) return absl::OkStatus();
  std::vector<uint32_t> keep;
  const size_t n = chunk->NumRows();
  std::vector<uint8_t> ok(n, 1);
  for (const expr::Expression* c : conds) {
    Column col;
    absl::Status s = c->EvalChunk(ctx, *chunk, nullptr, &col);
    if (!s.ok()) return s;
    for (size_t i = 0; i < n; ++i) {
      if (!ok[i]) continue;
      if (col.IsNull(i)) {
        ok[i] = 0;
        continue;
      }
      switch (col.type()) {
        case PhysicalType::kInt64:
          ok[i] = col.GetInt64(i) != 0;
          break;
        case PhysicalType::kUint64:
          ok[i] = col.GetUint64(i) != 0;
          break;
        case PhysicalType::kFloat64:
          ok[i] = col.GetFloat64(i) != 0;
          break;
        case PhysicalType::kDecimal:
          ok[i] = !col.GetDecimal(i).IsZero();
          break;
        default: {
          auto b = DatumToBool(ctx, col.GetDatum(i, c->type()), c->type());
          if (!b.ok()) return b.status();
          ok[i] = *b;
        }
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (ok[i]) keep.push_back(static_cast<uint32_t>(i));
  }
  if (keep.size() == n) return absl::OkStatus();
  Chunk out(chunk->types());
  for (uint32_t r : keep) out.AppendRowFrom(*chunk, r);
  *chunk = std::move(out);
  return absl::OkStatus();
}

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
int64_t RowBytes(size_t n, size_t cols) { return static_cast<int64_t>(n * (cols * 17 + 8)); }

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

class DualExec : public Executor {
 public:
  explicit DualExec(const PlanNode& p) : types_(SchemaTypes(p.schema)) {}
  absl::Status Next(Chunk* out) override {
    *out = Chunk(types_);
    if (done_) return absl::OkStatus();
    done_ = true;
    std::vector<Datum> row(types_.size(), Datum::Int(0));
    out->AppendRow(row);
    return absl::OkStatus();
  }

 private:
  std::vector<FieldType> types_;
  bool done_ = false;
};

class TableScanExec : public Executor {
 public:
  TableScanExec(const TableScanNode& p, ExecContext* ctx)
      : p_(p), ctx_(ctx), types_(SchemaTypes(p.schema)), decoder_(Columns(p)) {
    if (p.filter) conds_.push_back(p.filter.get());
    prefix_ = codec::EncodeRecordPrefix(p.table->id);
    if (p.lo != INT64_MIN) {
      next_ = codec::EncodeRowKey(p.table->id, p.lo);
    } else {
      next_ = prefix_;
    }
    end_ = p.hi == INT64_MAX ? codec::PrefixNext(prefix_)
                             : codec::PrefixNext(codec::EncodeRowKey(p.table->id, p.hi));
  }

  static std::vector<codec::RowColumn> Columns(const TableScanNode& p) {
    std::vector<codec::RowColumn> cols;
    for (size_t i = 0; i < p.table->columns.size(); ++i) {
      const ColumnInfo& c = p.table->columns[i];
      codec::RowColumn rc;
      rc.id = c.id;
      rc.type = c.type;
      rc.default_value = c.default_value;
      rc.is_handle = static_cast<int>(i) == p.table->handle_col;
      cols.push_back(rc);
    }
    codec::RowColumn h;
    h.id = -1;
    h.type = FieldType::LongLong();
    h.is_handle = true;
    cols.push_back(h);
    return cols;
  }

  absl::Status Next(Chunk* out) override {
    // Point gets fill a handful of rows: size the chunk for them, not for 1,024.
    *out = Chunk(types_, p_.handles.has_value() ? p_.handles->size() + 1 : kMaxChunkSize);
    if (p_.table->memory_rows != nullptr) return NextMemory(out);
    while (!done_ && out->NumRows() == 0) {
      std::vector<kv::Pair> pairs;
      if (p_.handles.has_value()) {
        std::vector<std::string> keys;
        for (int64_t h : *p_.handles) keys.push_back(codec::EncodeRowKey(p_.table->id, h));
        auto r = ctx_->txn->BatchGet(keys);
        if (!r.ok()) return r.status();
        pairs = std::move(*r);
        done_ = true;
      } else if (p_.index_id != 0) {
        auto r = IndexLookup();
        if (!r.ok()) return r.status();
        pairs = std::move(*r);
      } else {
        // A range scan fetches up to kScanBatch rows per KV request (each request takes a
        // region snapshot and seeks) and decodes them a chunk at a time; under a pushed
        // limit a chunk's worth is enough.
        const size_t batch = p_.limit.has_value() ? kMaxChunkSize : kScanBatch;
        if (pending_pos_ >= pending_.size()) {
          auto r = ctx_->txn->Scan(next_, end_, batch, false);
          if (!r.ok()) return r.status();
          pending_ = std::move(*r);
          pending_pos_ = 0;
          if (pending_.size() < batch) {
            scan_exhausted_ = true;
          } else {
            next_ = pending_.back().key;
            next_.push_back('\0');
          }
        }
        const size_t n = std::min(kMaxChunkSize, pending_.size() - pending_pos_);
        absl::Status s =
            DecodePairs(std::span<const kv::Pair>(pending_).subspan(pending_pos_, n), out);
        if (!s.ok()) return s;
        pending_pos_ += n;
        if (pending_pos_ >= pending_.size() && scan_exhausted_) done_ = true;
      }
      absl::Status s = DecodePairs(pairs, out);
      if (!s.ok()) return s;
      s = FilterChunk(ctx_, conds_, out);
      if (!s.ok()) return s;
      if (p_.limit.has_value()) {
        if (produced_ + out->NumRows() >= *p_.limit) {
          *out = out->Slice(0, *p_.limit - produced_);
          done_ = true;
        }
        produced_ += out->NumRows();
      }
    }
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kScanBatch = 16 * kMaxChunkSize;

  absl::Status DecodePairs(std::span<const kv::Pair> pairs, Chunk* out) {
    for (const kv::Pair& kvp : pairs) {
      int64_t tid = 0, handle = 0;
      absl::Status s = codec::DecodeRowKey(kvp.key, &tid, &handle);
      if (!s.ok()) return s;
      s = decoder_.DecodeToChunk(kvp.value, handle, out);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // information_schema: rows held by the table definition, handle = position + 1.
  absl::Status NextMemory(Chunk* out) {
    const auto& rows = *p_.table->memory_rows;
    while (!done_ && out->NumRows() == 0) {
      for (; memory_pos_ < rows.size() && !out->IsFull(); ++memory_pos_) {
        std::vector<Datum> row = rows[memory_pos_];
        row.push_back(Datum::Int(static_cast<int64_t>(memory_pos_) + 1));
        if (!out->AppendRow(row)) return absl::InternalError("information_schema row type");
      }
      if (memory_pos_ >= rows.size()) done_ = true;
      absl::Status s = FilterChunk(ctx_, conds_, out);
      if (!s.ok()) return s;
      if (p_.limit.has_value()) {
        if (produced_ + out->NumRows() >= *p_.limit) {
          *out = out->Slice(0, *p_.limit - produced_);
          done_ = true;
        }
        produced_ += out->NumRows();
      }
    }
    return absl::OkStatus();
  }

  // One batch of rows found through the index range.
  absl::StatusOr<std::vector<kv::Pair>> IndexLookup() {
    if (index_next_.empty()) index_next_ = p_.index_lo;
    auto r = ctx_->txn->Scan(index_next_, p_.index_hi, kMaxChunkSize, false);
    if (!r.ok()) return r.status();
    if (r->size() < kMaxChunkSize) {
      done_ = true;
    } else {
      index_next_ = r->back().key;
      index_next_.push_back('\0');
    }
    std::vector<std::string> keys;
    for (const kv::Pair& e : *r) {
      int64_t handle = 0;
      if (e.value.size() == 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(e.value[i]);
        handle = static_cast<int64_t>(u);
      } else {
        int64_t tid = 0, iid = 0;
        std::vector<Datum> ds;
        absl::Status s = codec::DecodeIndexKey(e.key, &tid, &iid, &ds);
        if (!s.ok()) return s;
        if (ds.empty() || ds.back().kind() != DatumKind::kInt64) {
          return absl::DataLossError("index entry without a handle");
        }
        handle = ds.back().GetInt64();
      }
      keys.push_back(codec::EncodeRowKey(p_.table->id, handle));
    }
    return ctx_->txn->BatchGet(keys);
  }

  const TableScanNode& p_;
  ExecContext* ctx_;
  std::vector<FieldType> types_;
  codec::RowDecoder decoder_;
  std::vector<const expr::Expression*> conds_;
  std::string prefix_, next_, end_, index_next_;
  std::vector<kv::Pair> pending_;  // Fetched by the range scan, not yet decoded.
  size_t pending_pos_ = 0;
  bool scan_exhausted_ = false;
  size_t memory_pos_ = 0;
  bool done_ = false;
  uint64_t produced_ = 0;
};

class SelectionExec : public Executor {
 public:
  SelectionExec(const SelectionNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : ctx_(ctx), child_(std::move(child)) {
    for (const auto& c : p.conditions) conds_.push_back(c.get());
  }
  absl::Status Next(Chunk* out) override {
    while (true) {
      absl::Status s = child_->Next(out);
      if (!s.ok()) return s;
      if (out->NumRows() == 0) return absl::OkStatus();
      s = FilterChunk(ctx_, conds_, out);
      if (!s.ok()) return s;
      if (out->NumRows() > 0) return absl::OkStatus();
    }
  }

 private:
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  std::vector<const expr::Expression*> conds_;
};

absl::Status Project(ExecContext* ctx, const std::vector<expr::ExprPtr>& exprs,
                     const std::vector<FieldType>& types, const Chunk& in, Chunk* out) {
  *out = Chunk(types, 0);  // Every column is replaced below.
  for (size_t i = 0; i < exprs.size(); ++i) {
    Column col;
    absl::Status s = exprs[i]->EvalChunk(ctx, in, nullptr, &col);
    if (!s.ok()) return s;
    out->column(i) = std::move(col);
  }
  return absl::OkStatus();
}

class ProjectionExec : public Executor {
 public:
  ProjectionExec(const ProjectionNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : p_(p), ctx_(ctx), child_(std::move(child)), types_(SchemaTypes(p.schema)) {}
  absl::Status Next(Chunk* out) override {
    Chunk in;
    absl::Status s = child_->Next(&in);
    if (!s.ok()) return s;
    if (in.NumRows() == 0) {
      *out = Chunk(types_, 0);
      return absl::OkStatus();
    }
    return Project(ctx_, p_.exprs, types_, in, out);
  }

 private:
  const ProjectionNode& p_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  std::vector<FieldType> types_;
};

absl::Status Drain(Executor* e, Chunk* all) {
  while (true) {
    Chunk c;
    absl::Status s = e->Next(&c);
    if (!s.ok()) return s;
    if (c.NumRows() == 0) return absl::OkStatus();
    for (size_t r = 0; r < c.NumRows(); ++r) all->AppendRowFrom(c, r);
  }
}

absl::Status EvalColumns(ExecContext* ctx, const std::vector<expr::ExprPtr>& exprs, const Chunk& in,
                         std::vector<Column>* cols) {
  cols->clear();
  for (const auto& e : exprs) {
    Column c;
    absl::Status s = e->EvalChunk(ctx, in, nullptr, &c);
    if (!s.ok()) return s;
    cols->push_back(std::move(c));
  }
  return absl::OkStatus();
}

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

class AggregateExec : public Executor {
 public:
  AggregateExec(const AggregateNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : p_(p), ctx_(ctx), child_(std::move(child)), out_(SchemaTypes(p.schema)) {}

  absl::Status Next(Chunk* out) override {
    if (!done_) {
      absl::Status s = Consume();
      if (!s.ok()) return s;
      done_ = true;
    }
    if (out_.Empty()) {
      *out = Chunk(SchemaTypes(p_.schema));
      return absl::OkStatus();
    }
    out_.Take(out);
    return absl::OkStatus();
  }

 private:
  // Accumulators of the aggregates that take the vectorized path (FastKind): folded into
  // the group's AggState as a partial result at the end, so final values (scale, NULL for
  // no rows) come from the same code as the row-at-a-time path.
  struct FastAcc {
    int64_t count = 0;  // Rows counted (COUNT), or non-NULL rows summed (SUM, AVG).
    __int128 isum = 0;  // SUM/AVG of signed integers (exact; no 2^64 rows fit in memory).
    double dsum = 0;    // SUM/AVG of doubles (added in row order, as Sum::AddValue does).
  };
  enum class FastKind : uint8_t { kNone, kCount, kIntSum, kRealSum };

  struct Group {
    std::vector<Datum> keys;
    std::vector<Datum> firsts;
    std::vector<std::unique_ptr<expr::AggState>> states;
    std::vector<FastAcc> fast;
  };

  Group NewGroup() {
    Group g;
    for (const AggItem& a : p_.aggs) g.states.push_back(expr::NewAggState(a.desc));
    g.fast.resize(p_.aggs.size());
    return g;
  }

  // How aggregate `a` can consume argument columns `args` in bulk.
  FastKind FastKindOf(size_t a, const std::vector<Column>& args) const {
    const expr::AggDesc& d = p_.aggs[a].desc;
    if (d.distinct) return FastKind::kNone;
    if (d.kind == expr::AggKind::kCount)
      return args.size() <= 1 ? FastKind::kCount : FastKind::kNone;
    if ((d.kind != expr::AggKind::kSum && d.kind != expr::AggKind::kAvg) || args.size() != 1) {
      return FastKind::kNone;
    }
    const EvalType result = d.result_type.GetEvalType();
    if (args[0].type() == PhysicalType::kInt64 && result == EvalType::kDecimal &&
        d.arg_types[0].GetEvalType() == EvalType::kInt && !d.arg_types[0].IsUnsigned()) {
      return FastKind::kIntSum;
    }
    if (args[0].type() == PhysicalType::kFloat64 && result == EvalType::kReal &&
        d.arg_types[0].GetEvalType() == EvalType::kReal) {
      return FastKind::kRealSum;
    }
    return FastKind::kNone;
  }

  static Decimal Int128ToDecimal(__int128 v) {
    if (v >= INT64_MIN && v <= INT64_MAX) return Decimal::FromInt64(static_cast<int64_t>(v));
    const bool neg = v < 0;
    unsigned __int128 u =
        neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
    std::string digits;
    while (u > 0) {
      digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
      u /= 10;
    }
    std::reverse(digits.begin(), digits.end());
    Decimal out;
    (void)Decimal::FromDigits(digits, 0, neg, &out);  // At most 39 digits: always fits.
    return out;
  }

  // Folds the vectorized accumulators of every group into its states.
  absl::Status MergeFast(std::vector<Group>* groups) {
    for (Group& g : *groups) {
      for (size_t a = 0; a < p_.aggs.size(); ++a) {
        if (used_fast_[a] == FastKind::kNone) continue;
        const FastAcc& f = g.fast[a];
        const expr::AggKind kind = p_.aggs[a].desc.kind;
        Datum sum;
        if (f.count > 0) {
          sum = used_fast_[a] == FastKind::kIntSum ? Datum::Dec(Int128ToDecimal(f.isum))
                                                   : Datum::Double(f.dsum);
        }
        absl::Status s;
        if (kind == expr::AggKind::kCount) {
          Datum n = Datum::Int(f.count);
          s = g.states[a]->Merge(ctx_, std::span<const Datum>(&n, 1));
        } else if (kind == expr::AggKind::kSum) {
          s = g.states[a]->Merge(ctx_, std::span<const Datum>(&sum, 1));
        } else {
          Datum partial[2] = {Datum::Int(f.count), sum};
          s = g.states[a]->Merge(ctx_, partial);
        }
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Consume() {
    // Group lookup: one integer key by value, any other key list by its hash-key bytes.
    absl::flat_hash_map<int64_t, uint32_t> int_index;
    std::optional<uint32_t> null_group;
    std::unordered_map<std::string, uint32_t> index;
    std::vector<Group> groups;
    used_fast_.assign(p_.aggs.size(), FastKind::kNone);
    std::vector<uint32_t> gid;
    std::string k;
    std::vector<Datum> av;
    while (true) {
      Chunk in;
      absl::Status s = child_->Next(&in);
      if (!s.ok()) return s;
      if (in.NumRows() == 0) break;
      const size_t n = in.NumRows();
      std::vector<Column> keys;
      s = EvalColumns(ctx_, p_.group_by, in, &keys);
      if (!s.ok()) return s;
      std::vector<Column> firsts;
      s = EvalColumns(ctx_, p_.first_values, in, &firsts);
      if (!s.ok()) return s;
      std::vector<std::vector<Column>> args(p_.aggs.size());
      for (size_t a = 0; a < p_.aggs.size(); ++a) {
        s = EvalColumns(ctx_, p_.aggs[a].args, in, &args[a]);
        if (!s.ok()) return s;
      }
      absl::Status mem;
      auto new_group = [&](size_t r, std::vector<Datum> kd) {
        if (mem.ok()) {
          mem = mem_.Add(static_cast<int64_t>(
              sizeof(Group) + 64 +
              p_.aggs.size() * (sizeof(FastAcc) + sizeof(void*) + kAggStateBytes) +
              (kd.size() + firsts.size()) * sizeof(Datum)));
        }
        groups.push_back(NewGroup());
        groups.back().keys = std::move(kd);
        for (size_t i = 0; i < firsts.size(); ++i) {
          groups.back().firsts.push_back(firsts[i].GetDatum(r, p_.first_values[i]->type()));
        }
        return static_cast<uint32_t>(groups.size() - 1);
      };
      gid.resize(n);
      if (keys.empty()) {
        if (groups.empty()) new_group(0, {});
        std::fill(gid.begin(), gid.end(), 0);
      } else if (keys.size() == 1 && keys[0].type() == PhysicalType::kInt64) {
        const Column& kc = keys[0];
        const int64_t* kv = kc.Int64Data();
        const bool nulls = kc.HasNulls();
        for (size_t r = 0; r < n; ++r) {
          if (nulls && kc.IsNull(r)) {
            if (!null_group) null_group = new_group(r, {Datum()});
            gid[r] = *null_group;
            continue;
          }
          auto it = int_index.find(kv[r]);
          if (it == int_index.end()) {
            uint32_t g = new_group(r, {kc.GetDatum(r, p_.group_by[0]->type())});
            it = int_index.emplace(kv[r], g).first;
          }
          gid[r] = it->second;
        }
      } else {
        for (size_t r = 0; r < n; ++r) {
          k.clear();
          std::vector<Datum> kd;
          for (size_t i = 0; i < keys.size(); ++i) {
            kd.push_back(keys[i].GetDatum(r, p_.group_by[i]->type()));
            AppendHashKey(&k, kd.back(), p_.group_by[i]->type());
          }
          auto it = index.find(k);
          if (it == index.end()) it = index.emplace(k, new_group(r, std::move(kd))).first;
          gid[r] = it->second;
        }
      }
      if (!mem.ok()) return mem;
      for (size_t a = 0; a < p_.aggs.size(); ++a) {
        FastKind fk = FastKindOf(a, args[a]);
        if (fk != FastKind::kNone && used_fast_[a] != FastKind::kNone && used_fast_[a] != fk) {
          fk = FastKind::kNone;
        }
        if (fk != FastKind::kNone) used_fast_[a] = fk;
        const Column* col = args[a].empty() ? nullptr : &args[a][0];
        const bool nulls = col != nullptr && col->HasNulls();
        switch (fk) {
          case FastKind::kCount:
            for (size_t r = 0; r < n; ++r) {
              if (nulls && col->IsNull(r)) continue;
              ++groups[gid[r]].fast[a].count;
            }
            continue;
          case FastKind::kIntSum: {
            const int64_t* v = col->Int64Data();
            for (size_t r = 0; r < n; ++r) {
              if (nulls && col->IsNull(r)) continue;
              FastAcc& f = groups[gid[r]].fast[a];
              ++f.count;
              f.isum += v[r];
            }
            continue;
          }
          case FastKind::kRealSum: {
            const double* v = col->Float64Data();
            for (size_t r = 0; r < n; ++r) {
              if (nulls && col->IsNull(r)) continue;
              FastAcc& f = groups[gid[r]].fast[a];
              ++f.count;
              f.dsum += v[r];
            }
            continue;
          }
          case FastKind::kNone:
            break;
        }
        for (size_t r = 0; r < n; ++r) {
          av.clear();
          for (size_t i = 0; i < args[a].size(); ++i) {
            av.push_back(args[a][i].GetDatum(r, p_.aggs[a].args[i]->type()));
          }
          s = groups[gid[r]].states[a]->Update(ctx_, av);
          if (!s.ok()) return s;
        }
      }
    }
    absl::Status s = MergeFast(&groups);
    if (!s.ok()) return s;
    if (groups.empty() && p_.group_by.empty()) {
      groups.push_back(NewGroup());
      groups.back().firsts.assign(p_.first_values.size(), Datum::Null());
    }
    for (Group& g : groups) {
      std::vector<Datum> row = g.keys;
      for (auto& st : g.states) {
        auto v = st->FinalResult(ctx_);
        if (!v.ok()) return v.status();
        row.push_back(*std::move(v));
      }
      row.insert(row.end(), g.firsts.begin(), g.firsts.end());
      if (!out_.buf().AppendRow(row)) return absl::InternalError("aggregate row kind mismatch");
    }
    return absl::OkStatus();
  }

  const AggregateNode& p_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  OutputQueue out_;
  static constexpr size_t kAggStateBytes = 96;  // An AggState, roughly.
  std::vector<FastKind> used_fast_;  // Per aggregate: the vectorized path it took, if any.
  MemAccount mem_{ctx_};
  bool done_ = false;
};

class SortExec : public Executor {
 public:
  SortExec(const SortNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : p_(p), ctx_(ctx), child_(std::move(child)), out_(SchemaTypes(p.schema)) {}

  absl::Status Next(Chunk* out) override {
    if (!done_) {
      absl::Status s = Consume();
      if (!s.ok()) return s;
      done_ = true;
    }
    if (out_.Empty()) {
      *out = Chunk(SchemaTypes(p_.schema));
      return absl::OkStatus();
    }
    out_.Take(out);
    return absl::OkStatus();
  }

 private:
  // ORDER BY ... LIMIT n with n up to this keeps only the best n rows (a heap) instead of
  // buffering and sorting the whole input.
  static constexpr uint64_t kMaxHeapLimit = 100'000;

  struct TopEntry {
    std::vector<Datum> keys;
    uint64_t seq = 0;   // Input order: ties keep it, as the stable sort does.
    uint32_t slot = 0;  // Row in `kept`.
  };

  int CompareKeys(const std::vector<Datum>& a, const std::vector<Datum>& b) const {
    for (size_t i = 0; i < p_.items.size(); ++i) {
      int c = CompareDatum(a[i], b[i], p_.items[i].expr->type().collation);
      if (c != 0) return p_.items[i].desc ? -c : c;
    }
    return 0;
  }

  absl::Status ConsumeTopN(uint64_t limit) {
    auto before = [&](const TopEntry& a, const TopEntry& b) {
      int c = CompareKeys(a.keys, b.keys);
      return c != 0 ? c < 0 : a.seq < b.seq;
    };
    std::vector<TopEntry> heap;  // A max-heap under `before`: the front is the worst kept.
    Chunk kept(SchemaTypes(p_.schema));
    uint64_t seq = 0;
    TopEntry cand;
    while (true) {
      Chunk in;
      absl::Status s = child_->Next(&in);
      if (!s.ok()) return s;
      if (in.NumRows() == 0) break;
      if (limit == 0) continue;
      std::vector<Column> cols;
      for (const SortItem& it : p_.items) {
        Column c;
        s = it.expr->EvalChunk(ctx_, in, nullptr, &c);
        if (!s.ok()) return s;
        cols.push_back(std::move(c));
      }
      for (size_t r = 0; r < in.NumRows(); ++r, ++seq) {
        cand.keys.resize(cols.size());
        for (size_t i = 0; i < cols.size(); ++i) {
          cand.keys[i] = cols[i].GetDatum(r, p_.items[i].expr->type());
        }
        cand.seq = seq;
        if (heap.size() >= limit) {
          if (!before(cand, heap.front())) continue;
          std::pop_heap(heap.begin(), heap.end(), before);
          heap.pop_back();
        }
        cand.slot = static_cast<uint32_t>(kept.NumRows());
        kept.AppendRowFrom(in, r);
        heap.push_back(std::move(cand));
        cand = TopEntry();
        std::push_heap(heap.begin(), heap.end(), before);
        if (kept.NumRows() > 2 * limit + kMaxChunkSize) {  // Drop the evicted rows.
          Chunk compact(SchemaTypes(p_.schema));
          for (TopEntry& e : heap) {
            compact.AppendRowFrom(kept, e.slot);
            e.slot = static_cast<uint32_t>(compact.NumRows() - 1);
          }
          kept = std::move(compact);
        }
      }
    }
    std::sort(heap.begin(), heap.end(), before);
    for (const TopEntry& e : heap) out_.buf().AppendRowFrom(kept, e.slot);
    return absl::OkStatus();
  }

  absl::Status Consume() {
    if (p_.limit.has_value() && *p_.limit <= kMaxHeapLimit) return ConsumeTopN(*p_.limit);
    Chunk all(SchemaTypes(p_.schema));
    std::vector<std::vector<Datum>> keys;  // keys[row][item]
    while (true) {
      Chunk in;
      absl::Status s = child_->Next(&in);
      if (!s.ok()) return s;
      if (in.NumRows() == 0) break;
      std::vector<Column> cols;
      for (const SortItem& it : p_.items) {
        Column c;
        s = it.expr->EvalChunk(ctx_, in, nullptr, &c);
        if (!s.ok()) return s;
        cols.push_back(std::move(c));
      }
      s = mem_.Add(RowBytes(in.NumRows(), in.NumCols()) +
                   static_cast<int64_t>(in.NumRows() * (24 + cols.size() * sizeof(Datum))));
      if (!s.ok()) return s;
      for (size_t r = 0; r < in.NumRows(); ++r) {
        std::vector<Datum> k;
        for (size_t i = 0; i < cols.size(); ++i) {
          k.push_back(cols[i].GetDatum(r, p_.items[i].expr->type()));
        }
        keys.push_back(std::move(k));
        all.AppendRowFrom(in, r);
      }
    }
    std::vector<uint32_t> order(keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
    auto less = [&](uint32_t a, uint32_t b) {
      for (size_t i = 0; i < p_.items.size(); ++i) {
        int c = CompareDatum(keys[a][i], keys[b][i], p_.items[i].expr->type().collation);
        if (c != 0) return p_.items[i].desc ? c > 0 : c < 0;
      }
      return false;
    };
    std::stable_sort(order.begin(), order.end(), less);
    size_t n = order.size();
    if (p_.limit.has_value() && *p_.limit < n) n = *p_.limit;
    for (size_t i = 0; i < n; ++i) out_.buf().AppendRowFrom(all, order[i]);
    return absl::OkStatus();
  }

  const SortNode& p_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  OutputQueue out_;
  bool done_ = false;
  MemAccount mem_{ctx_};
};

class LimitExec : public Executor {
 public:
  LimitExec(const LimitNode& p, std::unique_ptr<Executor> child)
      : p_(p), child_(std::move(child)) {}
  absl::Status Next(Chunk* out) override {
    while (true) {
      if (emitted_ >= p_.count) {
        *out = Chunk(SchemaTypes(p_.schema));
        return absl::OkStatus();
      }
      absl::Status s = child_->Next(out);
      if (!s.ok()) return s;
      size_t n = out->NumRows();
      if (n == 0) return absl::OkStatus();
      size_t begin = 0;
      if (skipped_ < p_.offset) {
        size_t skip = std::min<uint64_t>(p_.offset - skipped_, n);
        skipped_ += skip;
        begin = skip;
      }
      size_t end = n;
      if (end - begin > p_.count - emitted_) end = begin + (p_.count - emitted_);
      if (begin == end) continue;
      emitted_ += end - begin;
      if (begin != 0 || end != n) *out = out->Slice(begin, end);
      return absl::OkStatus();
    }
  }

 private:
  const LimitNode& p_;
  std::unique_ptr<Executor> child_;
  uint64_t skipped_ = 0;
  uint64_t emitted_ = 0;
};

std::string RowKey(const Chunk& c, size_t r, size_t ncols) {
  std::string k;
  for (size_t i = 0; i < ncols; ++i) AppendHashKey(&k, c.GetDatum(r, i), c.types()[i]);
  return k;
}

class DistinctExec : public Executor {
 public:
  DistinctExec(const DistinctNode& p, std::unique_ptr<Executor> child)
      : p_(p), child_(std::move(child)) {}
  absl::Status Next(Chunk* out) override {
    while (true) {
      absl::Status s = child_->Next(out);
      if (!s.ok()) return s;
      if (out->NumRows() == 0) return absl::OkStatus();
      Chunk keep(out->types());
      for (size_t r = 0; r < out->NumRows(); ++r) {
        if (seen_.insert(RowKey(*out, r, p_.key_cols)).second) keep.AppendRowFrom(*out, r);
      }
      if (keep.NumRows() == 0) continue;
      *out = std::move(keep);
      return absl::OkStatus();
    }
  }

 private:
  const DistinctNode& p_;
  std::unique_ptr<Executor> child_;
  std::unordered_set<std::string> seen_;
};

class SetOpExec : public Executor {
 public:
  SetOpExec(const SetOpNode& p, std::unique_ptr<Executor> left, std::unique_ptr<Executor> right)
      : p_(p), left_(std::move(left)), right_(std::move(right)) {}

  absl::Status Next(Chunk* out) override {
    const size_t ncols = p_.schema.size();
    if (p_.op != SetOpKind::kUnion && !built_) {
      built_ = true;
      while (true) {
        Chunk c;
        absl::Status s = right_->Next(&c);
        if (!s.ok()) return s;
        if (c.NumRows() == 0) break;
        for (size_t r = 0; r < c.NumRows(); ++r) ++right_counts_[RowKey(c, r, ncols)];
      }
    }
    while (true) {
      Executor* src = on_left_ ? left_.get() : right_.get();
      absl::Status s = src->Next(out);
      if (!s.ok()) return s;
      if (out->NumRows() == 0) {
        if (on_left_ && p_.op == SetOpKind::kUnion) {
          on_left_ = false;
          continue;
        }
        return absl::OkStatus();
      }
      Chunk keep(out->types());
      for (size_t r = 0; r < out->NumRows(); ++r) {
        std::string k = RowKey(*out, r, ncols);
        bool emit = false;
        switch (p_.op) {
          case SetOpKind::kUnion:
            emit = p_.all || seen_.insert(k).second;
            break;
          case SetOpKind::kExcept: {
            auto it = right_counts_.find(k);
            if (p_.all) {
              if (it != right_counts_.end() && it->second > 0) {
                --it->second;
              } else {
                emit = true;
              }
            } else {
              emit = it == right_counts_.end() && seen_.insert(k).second;
            }
            break;
          }
          case SetOpKind::kIntersect: {
            auto it = right_counts_.find(k);
            if (p_.all) {
              if (it != right_counts_.end() && it->second > 0) {
                --it->second;
                emit = true;
              }
            } else {
              emit = it != right_counts_.end() && seen_.insert(k).second;
            }
            break;
          }
        }
        if (emit) keep.AppendRowFrom(*out, r);
      }
      if (keep.NumRows() == 0) continue;
      *out = std::move(keep);
      return absl::OkStatus();
    }
  }

 private:
  const SetOpNode& p_;
  std::unique_ptr<Executor> left_, right_;
  bool built_ = false;
  bool on_left_ = true;
  std::unordered_set<std::string> seen_;
  std::unordered_map<std::string, int64_t> right_counts_;
};

}  // namespace

namespace {

// EXPLAIN ANALYZE: counts an executor's rows, calls and time (ExecContext::runtime).
class InstrumentedExec : public Executor {
 public:
  InstrumentedExec(std::unique_ptr<Executor> inner, OperatorRuntime* rt)
      : inner_(std::move(inner)), rt_(rt) {}
  absl::Status Next(Chunk* out) override {
    const uint64_t start = Env::Default()->NowMicros();
    absl::Status s = inner_->Next(out);
    rt_->micros += Env::Default()->NowMicros() - start;
    ++rt_->calls;
    if (s.ok()) rt_->rows += out->NumEffectiveRows();
    return s;
  }

 private:
  std::unique_ptr<Executor> inner_;
  OperatorRuntime* rt_;
};

absl::StatusOr<std::unique_ptr<Executor>> BuildNodeExecutor(const PlanNode& plan, ExecContext* ctx);

}  // namespace

absl::StatusOr<std::unique_ptr<Executor>> BuildExecutor(const PlanNode& plan, ExecContext* ctx) {
  auto e = BuildNodeExecutor(plan, ctx);
  if (!e.ok() || ctx->runtime == nullptr) return e;
  return std::unique_ptr<Executor>(
      std::make_unique<InstrumentedExec>(*std::move(e), &(*ctx->runtime)[&plan]));
}

namespace {

absl::StatusOr<std::unique_ptr<Executor>> BuildNodeExecutor(const PlanNode& plan,
                                                            ExecContext* ctx) {
  std::vector<std::unique_ptr<Executor>> kids;
  for (const auto& c : plan.children) {
    auto e = BuildExecutor(*c, ctx);
    if (!e.ok()) return e.status();
    kids.push_back(*std::move(e));
  }
  switch (plan.kind) {
    case PlanKind::kDual:
      return std::unique_ptr<Executor>(std::make_unique<DualExec>(plan));
    case PlanKind::kTableScan:
      return std::unique_ptr<Executor>(
          std::make_unique<TableScanExec>(static_cast<const TableScanNode&>(plan), ctx));
    case PlanKind::kSelection:
      return std::unique_ptr<Executor>(std::make_unique<SelectionExec>(
          static_cast<const SelectionNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kProjection:
      return std::unique_ptr<Executor>(std::make_unique<ProjectionExec>(
          static_cast<const ProjectionNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kJoin:
      return std::unique_ptr<Executor>(std::make_unique<JoinExec>(
          static_cast<const JoinNode&>(plan), ctx, std::move(kids[0]), std::move(kids[1])));
    case PlanKind::kAggregate:
      return std::unique_ptr<Executor>(std::make_unique<AggregateExec>(
          static_cast<const AggregateNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kSort:
      return std::unique_ptr<Executor>(
          std::make_unique<SortExec>(static_cast<const SortNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kLimit:
      return std::unique_ptr<Executor>(
          std::make_unique<LimitExec>(static_cast<const LimitNode&>(plan), std::move(kids[0])));
    case PlanKind::kDistinct:
      return std::unique_ptr<Executor>(std::make_unique<DistinctExec>(
          static_cast<const DistinctNode&>(plan), std::move(kids[0])));
    case PlanKind::kSetOp:
      return std::unique_ptr<Executor>(std::make_unique<SetOpExec>(
          static_cast<const SetOpNode&>(plan), std::move(kids[0]), std::move(kids[1])));
  }
  return absl::InternalError("unknown plan node");
}

}  // namespace

absl::StatusOr<std::vector<std::vector<Datum>>> RunPlanRows(const PlanNode& plan,
                                                            ExecContext* ctx) {
  auto e = BuildExecutor(plan, ctx);
  if (!e.ok()) return e.status();
  std::vector<std::vector<Datum>> rows;
  while (true) {
    Chunk c;
    absl::Status s = (*e)->Next(&c);
    if (!s.ok()) return s;
    if (c.NumRows() == 0) break;
    for (size_t r = 0; r < c.NumRows(); ++r) rows.push_back(c.GetRow(r));
  }
  return rows;
}

// ---- Correlated columns and subqueries ----

absl::Status CorrelatedColumn::EvalChunk(EvalContext*, const Chunk& input, const expr::Sel* sel,
                                         Column* out) const {
  *out = Column(PhysicalTypeOf(type_));
  const size_t n = expr::SelSize(input, sel);
  for (size_t i = 0; i < n; ++i) {
    absl::Status s = expr::AppendResult(out, *slot_);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

SubqueryExpression::SubqueryExpression(SubqueryKind kind, PlanPtr plan,
                                       std::vector<Correlation> correlations, expr::ExprPtr operand,
                                       expr::ExprPtr compare, bool negated, FieldType type)
    : Expression(type),
      kind_(kind),
      plan_(std::move(plan)),
      compare_(std::move(compare)),
      negated_(negated),
      cache_(std::make_shared<Cache>()) {
  for (Correlation& c : correlations) {
    correlations_.push_back({nullptr, c.slot});
    outer_exprs_.push_back(std::move(c.outer));
  }
  if (operand) outer_exprs_.push_back(std::move(operand));
}

std::string SubqueryExpression::ToString() const {
  static const char* kNames[] = {"scalar", "exists", "in", "any", "all"};
  return absl::StrCat(negated_ ? "not " : "", kNames[static_cast<int>(kind_)], "(subquery)");
}

expr::ExprPtr SubqueryExpression::Clone() const {
  std::vector<Correlation> cs;
  for (size_t i = 0; i < correlations_.size(); ++i) {
    cs.push_back({outer_exprs_[i]->Clone(), correlations_[i].slot});
  }
  expr::ExprPtr operand;
  if (outer_exprs_.size() > correlations_.size()) operand = outer_exprs_.back()->Clone();
  auto e =
      std::make_unique<SubqueryExpression>(kind_, plan_, std::move(cs), std::move(operand),
                                           compare_ ? compare_->Clone() : nullptr, negated_, type_);
  e->cache_ = cache_;
  return e;
}

absl::StatusOr<Datum> SubqueryExpression::Compute(ExecContext* ctx,
                                                  const std::vector<std::vector<Datum>>& rows,
                                                  const Datum& operand) const {
  auto negate = [&](Datum d) {
    if (!negated_ || d.IsNull()) return d;
    return Datum::Int(d.GetInt64() == 0 ? 1 : 0);
  };
  switch (kind_) {
    case SubqueryKind::kScalar:
      if (rows.empty()) return Datum::Null();
      if (rows.size() > 1) return MySqlErrorStatus(1242, "Subquery returns more than 1 row");
      return rows[0][0];
    case SubqueryKind::kExists:
      return negate(Datum::Int(rows.empty() ? 0 : 1));
    default:
      break;
  }
  const bool all = kind_ == SubqueryKind::kAll;
  if (rows.empty()) return negate(Datum::Int(all ? 1 : 0));
  if (operand.IsNull()) return Datum::Null();
  std::vector<FieldType> types = {outer_exprs_.back()->type(), plan_->schema[0].type};
  Chunk c(types);
  bool saw_null = false;
  for (const auto& row : rows) {
    c.Reset();
    std::vector<Datum> pair = {operand, row[0]};
    if (!c.AppendRow(pair)) return absl::InternalError("subquery compare kind mismatch");
    auto r = compare_->Eval(ctx, c, 0);
    if (!r.ok()) return r.status();
    if (r->IsNull()) {
      saw_null = true;
      continue;
    }
    bool t = r->kind() == DatumKind::kUint64 ? r->GetUint64() != 0 : r->GetInt64() != 0;
    if (!all && t) return negate(Datum::Int(1));
    if (all && !t) return negate(Datum::Int(0));
  }
  if (saw_null) return Datum::Null();
  return negate(Datum::Int(all ? 1 : 0));
}

absl::StatusOr<Datum> SubqueryExpression::Eval(EvalContext* ectx, const Chunk& input,
                                               size_t row) const {
  ExecContext* ctx = static_cast<ExecContext*>(ectx);
  for (size_t i = 0; i < correlations_.size(); ++i) {
    auto v = outer_exprs_[i]->Eval(ctx, input, row);
    if (!v.ok()) return v.status();
    *correlations_[i].slot = *std::move(v);
  }
  Datum operand;
  if (outer_exprs_.size() > correlations_.size()) {
    auto v = outer_exprs_.back()->Eval(ctx, input, row);
    if (!v.ok()) return v.status();
    operand = *std::move(v);
  }
  if (correlations_.empty()) {
    if (!cache_->valid || cache_->rid != ctx->run_id) {
      auto rows = RunPlanRows(*plan_, ctx);
      if (!rows.ok()) return rows.status();
      cache_->rows = *std::move(rows);
      cache_->valid = true;
      cache_->rid = ctx->run_id;
    }
    return Compute(ctx, cache_->rows, operand);
  }
  // EXISTS and scalar subqueries need at most 1 or 2 rows; they still run to the end
  // (a LIMIT in the plan bounds that).
  auto rows = RunPlanRows(*plan_, ctx);
  if (!rows.ok()) return rows.status();
  return Compute(ctx, *rows, operand);
}

absl::Status SubqueryExpression::EvalChunk(EvalContext* ctx, const Chunk& input,
                                           const expr::Sel* sel, Column* out) const {
  *out = Column(PhysicalTypeOf(type_));
  const size_t n = expr::SelSize(input, sel);
  for (size_t i = 0; i < n; ++i) {
    auto v = Eval(ctx, input, sel ? (*sel)[i] : i);
    if (!v.ok()) return v.status();
    absl::Status s = expr::AppendResult(out, expr::Canonicalize(*v, type_));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace rutile::sql
