#include "sql/exec/reader.h"

#include <algorithm>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "sql/chunk/chunk_codec.h"
#include "sql/codec/codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/coprocessor/dag.h"
#include "sql/coprocessor/distsql.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expr_pb.h"

namespace rutile::sql {
namespace {

using exec_internal::FilterAndLimit;
using exec_internal::FilterChunk;

class TableScanExec : public Executor {
 public:
  TableScanExec(const TableScanNode& p, ExecContext* ctx)
      : p_(p), ctx_(ctx), types_(SchemaTypes(p.schema)), decoder_(Columns(p)) {
    if (p.filter) conds_.push_back(p.filter.get());
    prefix_ = codec::EncodeRecordPrefix(p.table->id);
    if (p.handle_ranges.empty()) {
      SetHandleRange(p.lo, p.hi);
    } else {
      SetHandleRange(p.handle_ranges[0].first, p.handle_ranges[0].second);
    }
  }

  void SetHandleRange(int64_t lo, int64_t hi) {
    next_ = lo == INT64_MIN ? prefix_ : codec::EncodeRowKey(p_.table->id, lo);
    end_ = hi == INT64_MAX ? codec::PrefixNext(prefix_)
                           : codec::PrefixNext(codec::EncodeRowKey(p_.table->id, hi));
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
      } else if (!p_.merge_paths.empty()) {
        absl::Status s = IndexMergeBatch(out);
        if (!s.ok()) return s;
      } else if (p_.index_id != 0) {
        absl::Status s = IndexBatch(out);
        if (!s.ok()) return s;
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
            if (range_pos_ + 1 < p_.handle_ranges.size()) {
              ++range_pos_;
              SetHandleRange(p_.handle_ranges[range_pos_].first,
                             p_.handle_ranges[range_pos_].second);
            } else {
              scan_exhausted_ = true;
            }
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
      s = FilterAndLimit(ctx_, conds_, p_.limit, &produced_, &done_, out);
      if (!s.ok()) return s;
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
      absl::Status s = FilterAndLimit(ctx_, conds_, p_.limit, &produced_, &done_, out);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Index merge: first the handles every path reads (united, ascending), then a chunk of
  // rows per call.
  absl::Status IndexMergeBatch(Chunk* out) {
    if (!merge_collected_) {
      std::set<int64_t> handles;
      for (const TableScanNode::MergePath& mp : p_.merge_paths) {
        const IndexInfo* idx = nullptr;
        for (const IndexInfo& i : p_.table->indexes) {
          if (i.id == mp.index_id) idx = &i;
        }
        if (mp.index_id != 0 && idx == nullptr) {
          return absl::InternalError("index of the scan is gone");
        }
        for (const auto& range : mp.ranges) {
          std::string next = range.first;
          while (true) {
            auto r = ctx_->txn->Scan(next, range.second, kScanBatch, false);
            if (!r.ok()) return r.status();
            for (const kv::Pair& e : *r) {
              int64_t handle = 0;
              if (mp.index_id == 0) {
                int64_t tid = 0;
                absl::Status s = codec::DecodeRowKey(e.key, &tid, &handle);
                if (!s.ok()) return s;
              } else {
                absl::Status s = HandleOf(e, *idx, &handle, nullptr);
                if (!s.ok()) return s;
              }
              handles.insert(handle);
            }
            if (r->size() < kScanBatch) break;
            next = r->back().key;
            next.push_back('\0');
          }
        }
      }
      merge_handles_.assign(handles.begin(), handles.end());
      merge_collected_ = true;
    }
    const size_t n = std::min(kMaxChunkSize, merge_handles_.size() - merge_pos_);
    std::vector<std::string> keys;
    for (size_t i = 0; i < n; ++i) {
      keys.push_back(codec::EncodeRowKey(p_.table->id, merge_handles_[merge_pos_ + i]));
    }
    merge_pos_ += n;
    if (merge_pos_ >= merge_handles_.size()) done_ = true;
    if (keys.empty()) return absl::OkStatus();
    auto rows = ctx_->txn->BatchGet(keys);
    if (!rows.ok()) return rows.status();
    return DecodePairs(*rows, out);
  }

  // The handle of index entry `e` of `idx`; `datums` (optional) receives the key's datums.
  static absl::Status HandleOf(const kv::Pair& e, const IndexInfo& idx, int64_t* handle,
                               std::vector<Datum>* datums) {
    int64_t tid = 0, iid = 0;
    std::vector<Datum> ds;
    absl::Status s = codec::DecodeIndexKey(e.key, &tid, &iid, &ds);
    if (!s.ok()) return s;
    if (e.value.size() == 8) {
      uint64_t u = 0;
      for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(e.value[i]);
      *handle = static_cast<int64_t>(u);
    } else {
      if (ds.size() <= idx.columns.size() || ds.back().kind() != DatumKind::kInt64) {
        return absl::DataLossError("index entry without a handle");
      }
      *handle = ds.back().GetInt64();
    }
    if (datums != nullptr) *datums = std::move(ds);
    return absl::OkStatus();
  }

  // One batch of rows found through the index ranges: looked up in the table, or (a
  // covering read) decoded from the index entries.
  absl::Status IndexBatch(Chunk* out) {
    if (index_pos_ >= p_.index_ranges.size()) {
      done_ = true;
      return absl::OkStatus();
    }
    // Descending: the ranges from the last, each read backwards from its end.
    const auto& range =
        p_.index_ranges[p_.desc ? p_.index_ranges.size() - 1 - index_pos_ : index_pos_];
    if (index_next_.empty()) index_next_ = p_.desc ? range.second : range.first;
    auto r = p_.desc ? ctx_->txn->Scan(range.first, index_next_, kMaxChunkSize, true)
                     : ctx_->txn->Scan(index_next_, range.second, kMaxChunkSize, false);
    if (!r.ok()) return r.status();
    if (r->size() < kMaxChunkSize) {
      index_next_.clear();
      if (++index_pos_ >= p_.index_ranges.size()) done_ = true;
    } else {
      index_next_ = r->back().key;
      if (!p_.desc) index_next_.push_back('\0');
    }
    const IndexInfo* idx = nullptr;
    for (const IndexInfo& i : p_.table->indexes) {
      if (i.id == p_.index_id) idx = &i;
    }
    if (idx == nullptr) return absl::InternalError("index of the scan is gone");
    std::vector<std::string> keys;
    std::vector<Datum> row;
    for (const kv::Pair& e : *r) {
      std::vector<Datum> ds;
      int64_t handle = 0;
      absl::Status s = HandleOf(e, *idx, &handle, &ds);
      if (!s.ok()) return s;
      if (!p_.index_only) {
        keys.push_back(codec::EncodeRowKey(p_.table->id, handle));
        continue;
      }
      if (ds.size() < idx->columns.size()) return absl::DataLossError("short index entry");
      const size_t ncols = p_.table->columns.size();
      row.assign(ncols + 1, Datum::Null());
      for (size_t k = 0; k < idx->columns.size(); ++k) {
        const int c = idx->columns[k];
        Datum d = std::move(ds[k]);
        if (!d.IsNull() && p_.table->columns[c].type.tp == TypeCode::kFloat) {
          d = Datum::Float(static_cast<float>(d.GetDouble()));
        }
        row[c] = std::move(d);
      }
      if (p_.table->handle_col >= 0) row[p_.table->handle_col] = Datum::Int(handle);
      row[ncols] = Datum::Int(handle);
      if (!out->AppendRow(row)) return absl::InternalError("index entry does not fit the row");
    }
    if (p_.index_only) return absl::OkStatus();
    auto rows = ctx_->txn->BatchGet(keys);
    if (!rows.ok()) return rows.status();
    return DecodePairs(*rows, out);
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
  size_t range_pos_ = 0;  // In handle_ranges.
  size_t index_pos_ = 0;  // In index_ranges.
  bool merge_collected_ = false;
  std::vector<int64_t> merge_handles_;  // Index merge: the united handles, ascending.
  size_t merge_pos_ = 0;
  bool done_ = false;
  uint64_t produced_ = 0;
};

class CopReaderExec : public Executor {
 public:
  CopReaderExec(ExecContext* ctx, kv::CopSnapshot snap, coprocessor::DistSqlRequest req)
      : ctx_(ctx), snap_(snap), req_(std::move(req)) {}

  absl::Status Next(Chunk* out) override {
    if (stream_ == nullptr) {
      if (done_) {
        *out = Chunk();
        return absl::OkStatus();
      }
      absl::StatusOr<std::unique_ptr<coprocessor::DistSqlStream>> s =
          coprocessor::DistSqlStream::Start(snap_.client, std::move(req_));
      if (!s.ok()) return kv::MapTxnError(s.status());
      stream_ = *std::move(s);
    }
    absl::Status s = stream_->Next(out);
    // The warnings of what was read so far: the consumer may stop at any chunk (a LIMIT).
    for (SqlWarning& w : stream_->TakeWarnings()) {
      if (w.level == WarnLevel::kNote) {
        ctx_->AppendNote(w.error.code, std::move(w.error.message));
      } else {
        ctx_->AppendWarning(w.error.code, std::move(w.error.message));
      }
    }
    if (!s.ok()) return kv::MapTxnError(s);
    if (out->NumRows() == 0) {
      stream_.reset();
      done_ = true;
    }
    return absl::OkStatus();
  }

 private:
  ExecContext* ctx_;
  kv::CopSnapshot snap_;
  coprocessor::DistSqlRequest req_;
  std::unique_ptr<coprocessor::DistSqlStream> stream_;
  bool done_ = false;
};

// A coprocessor read in process (kv::LocalCoprocessor, Database::OpenInMemory): one DAG
// request over every range, its chunks then yielded in order.
class LocalCopReaderExec : public Executor {
 public:
  LocalCopReaderExec(ExecContext* ctx, kv::LocalCoprocessor* cop, coprocessor::DistSqlRequest req)
      : ctx_(ctx), cop_(cop), req_(std::move(req)) {}

  absl::Status Next(Chunk* out) override {
    if (!ran_) {
      ran_ = true;
      absl::Status s = Run();
      if (!s.ok()) return kv::MapTxnError(s);
    }
    if (pos_ >= chunks_.size()) {
      *out = Chunk(types_, 1);
      return absl::OkStatus();
    }
    absl::StatusOr<Chunk> c = DecodeChunk(chunks_[pos_++], types_);
    if (!c.ok()) return c.status();
    *out = *std::move(c);
    return absl::OkStatus();
  }

 private:
  absl::Status Run() {
    absl::StatusOr<std::vector<FieldType>> types = coprocessor::OutputTypes(req_.dag);
    if (!types.ok()) return types.status();
    types_ = *std::move(types);
    rutile::coprocessor::Request r;
    r.set_start_ts(req_.read_ts);
    r.set_read_committed(req_.read_committed);
    for (const coprocessor::KeyRange& k : req_.ranges) {
      rutile::coprocessor::KeyRange* kr = r.add_ranges();
      kr->set_start(k.start);
      kr->set_end(k.end);
    }
    *r.mutable_dag() = std::move(req_.dag);
    rutile::coprocessor::Response resp;
    absl::Status s = cop_->Run(r, &resp);
    if (!s.ok()) return s;
    for (const rutile::coprocessor::Warning& w : resp.warnings()) {
      if (w.note()) {
        ctx_->AppendNote(static_cast<uint16_t>(w.code()), w.message());
      } else {
        ctx_->AppendWarning(static_cast<uint16_t>(w.code()), w.message());
      }
    }
    for (rutile::coprocessor::Chunk& c : *resp.mutable_chunks()) {
      chunks_.push_back(std::move(*c.mutable_data()));
    }
    return absl::OkStatus();
  }

  ExecContext* ctx_;
  kv::LocalCoprocessor* cop_;
  coprocessor::DistSqlRequest req_;
  std::vector<FieldType> types_;
  std::vector<std::string> chunks_;  // Encoded (sql/chunk/chunk_codec.h), decoded one by one.
  size_t pos_ = 0;
  bool ran_ = false;
};

// An index read whose index scan runs at the coprocessor (TiDB's IndexReader /
// IndexLookUp): `child` yields the DAG's chunks of the index entries in key order, the
// index columns (a covering read) then the handle. A covering read places the columns
// in the table's row; a lookup reads the rows by handle through the transaction (which
// merges its own writes), keeping the index order. The scan's filter and limit finish
// here, as TableScanExec's do.
class IndexCopReaderExec : public Executor {
 public:
  IndexCopReaderExec(const TableScanNode& p, ExecContext* ctx, const IndexInfo& idx, bool covering,
                     std::unique_ptr<Executor> child)
      : p_(p),
        ctx_(ctx),
        idx_(idx),
        covering_(covering),
        child_(std::move(child)),
        types_(SchemaTypes(p.schema)),
        decoder_(TableScanExec::Columns(p)) {
    if (p.filter) conds_.push_back(p.filter.get());
  }

  absl::Status Next(Chunk* out) override {
    *out = Chunk(types_, kMaxChunkSize);
    while (!done_ && out->NumRows() == 0) {
      Chunk in;
      absl::Status s = child_->Next(&in);
      if (!s.ok()) return s;
      if (in.NumRows() == 0) {
        done_ = true;
        break;
      }
      s = covering_ ? Covering(in, out) : Lookup(in, out);
      if (!s.ok()) return s;
      s = FilterAndLimit(ctx_, conds_, p_.limit, &produced_, &done_, out);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Covering(const Chunk& in, Chunk* out) {
    const size_t ncols = p_.table->columns.size();
    const size_t hcol = in.NumCols() - 1;
    std::vector<Datum> row;
    for (size_t r = 0; r < in.NumRows(); ++r) {
      row.assign(ncols + 1, Datum::Null());
      for (size_t k = 0; k < idx_.columns.size(); ++k) row[idx_.columns[k]] = in.GetDatum(r, k);
      Datum h = in.GetDatum(r, hcol);
      if (p_.table->handle_col >= 0) row[p_.table->handle_col] = h;
      row[ncols] = std::move(h);
      if (!out->AppendRow(row)) return absl::InternalError("index entry does not fit the row");
    }
    return absl::OkStatus();
  }

  absl::Status Lookup(const Chunk& in, Chunk* out) {
    const size_t hcol = in.NumCols() - 1;
    std::vector<std::string> keys;
    std::vector<int64_t> handles;
    for (size_t r = 0; r < in.NumRows(); ++r) {
      Datum h = in.GetDatum(r, hcol);
      if (h.kind() != DatumKind::kInt64) return absl::DataLossError("index entry handle");
      handles.push_back(h.GetInt64());
      keys.push_back(codec::EncodeRowKey(p_.table->id, handles.back()));
    }
    absl::StatusOr<std::vector<kv::Pair>> rows = ctx_->txn->BatchGet(keys);
    if (!rows.ok()) return rows.status();
    absl::flat_hash_map<std::string_view, std::string_view> by_key;
    for (const kv::Pair& kvp : *rows) by_key.emplace(kvp.key, kvp.value);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto it = by_key.find(keys[i]);
      if (it == by_key.end()) continue;
      absl::Status s = decoder_.DecodeToChunk(it->second, handles[i], out);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  const TableScanNode& p_;
  ExecContext* ctx_;
  const IndexInfo& idx_;
  const bool covering_;
  std::unique_ptr<Executor> child_;
  std::vector<FieldType> types_;
  codec::RowDecoder decoder_;
  std::vector<const expr::Expression*> conds_;
  bool done_ = false;
  uint64_t produced_ = 0;
};

// The final phase over partial rows (AggTable::AddPartial); groups come out in the
// order their first partial row arrived.
class FinalAggExec : public Executor {
 public:
  FinalAggExec(const AggregateNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : spec_(exec_internal::SpecOf(p)),
        ctx_(ctx),
        child_(std::move(child)),
        types_(SchemaTypes(p.schema)),
        table_(&spec_, ctx) {}
  ~FinalAggExec() override { ctx_->mem_used -= mem_; }

  absl::Status Next(Chunk* out) override {
    if (!consumed_) {
      absl::Status s = Consume();
      if (!s.ok()) return s;
      consumed_ = true;
    }
    *out = Chunk(types_);
    std::vector<AggTable::Group>& groups = table_.groups();
    std::vector<Datum> row;
    for (; pos_ < groups.size() && !out->IsFull(); ++pos_) {
      AggTable::Group& g = groups[pos_];
      row = g.keys;
      for (const auto& st : g.states) {
        absl::StatusOr<Datum> d = st->FinalResult(ctx_);
        if (!d.ok()) return d.status();
        row.push_back(*std::move(d));
      }
      if (!out->AppendRow(row)) return absl::InternalError("final aggregate row of wrong type");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Consume() {
    uint64_t rows = 0;
    while (true) {
      Chunk in;
      absl::Status s = child_->Next(&in);
      if (!s.ok()) return s;
      if (in.NumRows() == 0) break;
      int64_t bytes = 0;
      s = table_.AddPartial(in, rows, &bytes);
      rows += in.NumRows();
      mem_ += bytes;
      if (s.ok() && bytes > 0) s = ctx_->ConsumeMemory(bytes);
      if (!s.ok()) return s;
    }
    absl::Status s = table_.FoldFast();
    if (!s.ok()) return s;
    // A scalar aggregation answers one row even over no input.
    if (table_.groups().empty() && spec_.group_by.empty()) {
      table_.groups().push_back(table_.EmptyGroup());
    }
    return absl::OkStatus();
  }

  const AggSpec spec_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  std::vector<FieldType> types_;
  AggTable table_;
  size_t pos_ = 0;
  bool consumed_ = false;
  int64_t mem_ = 0;
};

}  // namespace

std::unique_ptr<Executor> NewTableScanExec(const TableScanNode& p, ExecContext* ctx) {
  return std::make_unique<TableScanExec>(p, ctx);
}

absl::StatusOr<std::unique_ptr<Executor>> NewCopReader(const CopPushdown& cop, ExecContext* ctx) {
  if (ctx->txn == nullptr) return std::unique_ptr<Executor>();
  std::vector<coprocessor::KeyRange> ranges = CopScanRanges(*cop.scan);
  std::optional<kv::CopSnapshot> snap =
      ctx->txn->CoprocessorSnapshot(ranges.front().start, ranges.back().end);
  if (!snap.has_value() || (snap->client == nullptr && snap->local == nullptr)) {
    return std::unique_ptr<Executor>();
  }
  absl::StatusOr<rutile::coprocessor::DagRequest> dag = BuildCopDag(cop, *ctx);
  if (!dag.ok()) return dag.status();
  coprocessor::DistSqlRequest req;
  req.dag = *std::move(dag);
  req.ranges = std::move(ranges);
  req.read_ts = snap->read_ts;
  req.read_committed = snap->read_committed;
  if (snap->client == nullptr) {
    return std::unique_ptr<Executor>(
        std::make_unique<LocalCopReaderExec>(ctx, snap->local, std::move(req)));
  }
  return std::unique_ptr<Executor>(std::make_unique<CopReaderExec>(ctx, *snap, std::move(req)));
}

absl::StatusOr<std::unique_ptr<Executor>> NewIndexCopReader(const TableScanNode& p,
                                                            ExecContext* ctx) {
  std::unique_ptr<Executor> none;
  if (ctx->txn == nullptr || p.table == nullptr || p.table->memory_rows != nullptr ||
      p.index_id == 0 || p.handles.has_value() || !p.merge_paths.empty() || p.desc ||
      p.index_ranges.empty() || p.schema.size() != p.table->columns.size() + 1) {
    return none;
  }
  const IndexInfo* idx = nullptr;
  for (const IndexInfo& i : p.table->indexes) {
    if (i.id == p.index_id) idx = &i;
  }
  if (idx == nullptr) return none;
  std::vector<coprocessor::KeyRange> ranges;
  for (const auto& [lo, hi] : p.index_ranges) {
    if (hi.empty() || lo >= hi || (!ranges.empty() && lo < ranges.back().end)) return none;
    ranges.push_back({lo, hi});
  }
  // Index keys hold integers exactly as the row does; other types (floats stored as
  // doubles, collated strings as sort keys) are read from the rows.
  bool covering = p.index_only;
  for (int c : idx->columns) {
    covering = covering && p.table->columns[c].type.IsInteger();
  }
  std::optional<kv::CopSnapshot> snap =
      ctx->txn->CoprocessorSnapshot(ranges.front().start, ranges.back().end);
  if (!snap.has_value() || (snap->client == nullptr && snap->local == nullptr)) return none;
  rutile::coprocessor::DagRequest dag;
  rutile::coprocessor::IndexScan* is = dag.add_executors()->mutable_index_scan();
  is->set_table_id(p.table->id);
  is->set_index_id(p.index_id);
  is->set_handle(true);
  if (covering) {
    for (int c : idx->columns) {
      rutile::coprocessor::ColumnInfo* ci = is->add_columns();
      ci->set_column_id(p.table->columns[c].id);
      expr::FieldTypeToPb(p.table->columns[c].type, ci->mutable_type());
    }
  }
  // Without a filter the scan's limit counts index entries.
  if (p.limit.has_value() && p.filter == nullptr) {
    dag.add_executors()->mutable_limit()->set_limit(*p.limit);
  }
  expr::EvalConfigToPb(*ctx, dag.mutable_eval());
  coprocessor::DistSqlRequest req;
  req.dag = std::move(dag);
  req.ranges = std::move(ranges);
  req.read_ts = snap->read_ts;
  req.read_committed = snap->read_committed;
  std::unique_ptr<Executor> child;
  if (snap->client == nullptr) {
    child = std::make_unique<LocalCopReaderExec>(ctx, snap->local, std::move(req));
  } else {
    child = std::make_unique<CopReaderExec>(ctx, *snap, std::move(req));
  }
  return std::unique_ptr<Executor>(
      std::make_unique<IndexCopReaderExec>(p, ctx, *idx, covering, std::move(child)));
}

std::unique_ptr<Executor> NewFinalAggExec(const AggregateNode& p, ExecContext* ctx,
                                          std::unique_ptr<Executor> partial) {
  return std::make_unique<FinalAggExec>(p, ctx, std::move(partial));
}

}  // namespace rutile::sql
