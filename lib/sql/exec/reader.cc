#include "sql/exec/reader.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

// The type an index column comes back as in its key form (the datum the index key
// decodes to: integers as they are, floats as doubles, strings as the bytes of their
// sort key), for a UnionScan that rebuilds each entry's key; nullopt for types whose key
// form it does not rebuild (those reads go through KV).
std::optional<FieldType> IndexKeyForm(const FieldType& t) {
  switch (t.tp) {
    case TypeCode::kTiny:
    case TypeCode::kShort:
    case TypeCode::kLong:
    case TypeCode::kInt24:
    case TypeCode::kLongLong:
      return FieldType::LongLong(t.IsUnsigned());
    case TypeCode::kFloat:
    case TypeCode::kDouble:
      return FieldType::Double();
    case TypeCode::kVarchar:
    case TypeCode::kVarString:
    case TypeCode::kString:
    case TypeCode::kTinyBlob:
    case TypeCode::kMediumBlob:
    case TypeCode::kLongBlob:
    case TypeCode::kBlob:
      return FieldType::Blob(Collation::kBinary);
    default:
      return std::nullopt;
  }
}

class TableScanExec : public Executor {
  friend class IndexCopReaderExec;  // HandleOf.

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
    return ScanRowColumns(*p.table);
  }

  absl::Status Next(Chunk* out) override {
    // Point gets fill a handful of rows: size the chunk for them, not for 1,024.
    *out = Chunk(types_, p_.handles.has_value() ? p_.handles->size() + 1 : kMaxChunkSize);
    if (p_.table->memory_rows != nullptr) return NextMemory(out);
    while (!done_ && out->NumRows() == 0) {
      std::vector<kv::Pair> pairs;
      if (p_.handles.has_value() && p_.handles->size() == 1) {
        // One point get: Get, without BatchGet's grouping by region.
        std::string key = codec::EncodeRowKey(p_.table->id, p_.handles->front());
        auto r = ctx_->txn->Get(key);
        if (!r.ok()) return r.status();
        if (r->has_value()) pairs.push_back({std::move(key), **std::move(r)});
        done_ = true;
      } else if (p_.handles.has_value()) {
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

// `scan_rt` (optional): EXPLAIN ANALYZE's record of the scan below a pushed aggregation,
// TopN or limit, whose rows are those that passed the scan's selection at the regions
// (the reader's own rows are what the pushed operator returned).
class CopReaderExec : public Executor {
 public:
  CopReaderExec(ExecContext* ctx, kv::CopSnapshot snap, coprocessor::DistSqlRequest req,
                OperatorRuntime* scan_rt)
      : ctx_(ctx), snap_(snap), req_(std::move(req)), scan_rt_(scan_rt) {}

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
      if (scan_rt_ != nullptr) scan_rt_->rows += stream_->stats().selected_rows;
      stream_.reset();
      done_ = true;
    }
    return absl::OkStatus();
  }

 private:
  ExecContext* ctx_;
  kv::CopSnapshot snap_;
  coprocessor::DistSqlRequest req_;
  OperatorRuntime* const scan_rt_;
  std::unique_ptr<coprocessor::DistSqlStream> stream_;
  bool done_ = false;
};

// The chunks of a read that shipped only some of the scan's columns (DagRequest
// output_offsets) widened back to the scan's schema: column shipped[k] is the child's
// column k; the others are placeholders (zero values) nothing above reads
// (TableScanNode::used_columns).
class WidenExec : public Executor {
 public:
  WidenExec(std::vector<FieldType> types, std::vector<uint32_t> shipped,
            std::unique_ptr<Executor> child)
      : types_(std::move(types)), shipped_(std::move(shipped)), child_(std::move(child)) {}

  absl::Status Next(Chunk* out) override {
    Chunk in;
    absl::Status s = child_->Next(&in);
    if (!s.ok()) return s;
    const size_t n = in.NumRows();
    Chunk full(types_, std::max<size_t>(in.capacity(), 1));
    std::vector<bool> have(types_.size(), false);
    for (size_t k = 0; k < shipped_.size() && k < in.NumCols(); ++k) {
      full.column(shipped_[k]) = std::move(in.column(k));
      have[shipped_[k]] = true;
    }
    for (size_t c = 0; c < types_.size(); ++c) {
      if (!have[c]) full.column(c).ResizeFixed(n);
    }
    if (in.sel() != nullptr) full.SetSel(*in.sel());
    *out = std::move(full);
    return absl::OkStatus();
  }

 private:
  const std::vector<FieldType> types_;
  const std::vector<uint32_t> shipped_;
  std::unique_ptr<Executor> child_;
};

// A coprocessor read in process (kv::LocalCoprocessor, Database::OpenInMemory): one DAG
// request over every range, its chunks then yielded in order.
class LocalCopReaderExec : public Executor {
 public:
  LocalCopReaderExec(ExecContext* ctx, kv::LocalCoprocessor* cop, coprocessor::DistSqlRequest req,
                     OperatorRuntime* scan_rt)
      : ctx_(ctx), cop_(cop), req_(std::move(req)), scan_rt_(scan_rt) {}

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
    if (scan_rt_ != nullptr) scan_rt_->rows += resp.selected_rows();
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
  OperatorRuntime* const scan_rt_;
  std::vector<FieldType> types_;
  std::vector<std::string> chunks_;  // Encoded (sql/chunk/chunk_codec.h), decoded one by one.
  size_t pos_ = 0;
  bool ran_ = false;
};

// TiDB's UnionScan over a table read: `child` (the coprocessor's read of the scan with
// its filter, nothing above it pushed) yields the committed rows at the snapshot in
// handle order; the transaction's overlay of the scan's ranges (kv::KvTxn::
// SnapshotOverlay: its own writes, and values its locking reads locked) replaces them.
// A snapshot row whose key the overlay holds is dropped; the overlay's values are
// decoded, filtered by the same condition here and merged in handle order. The scan's
// limit applies after the merge.
class UnionScanExec : public Executor {
 public:
  UnionScanExec(const TableScanNode& p, ExecContext* ctx, std::vector<kv::OverlayEntry> overlay,
                std::unique_ptr<Executor> child)
      : p_(p),
        ctx_(ctx),
        overlay_(std::move(overlay)),
        child_(std::move(child)),
        types_(SchemaTypes(p.schema)),
        hcol_(types_.size() - 1) {
    if (p.filter) conds_.push_back(p.filter.get());
  }

  absl::Status Next(Chunk* out) override {
    if (!prepared_) {
      absl::Status s = Prepare();
      if (!s.ok()) return s;
      prepared_ = true;
    }
    *out = Chunk(types_, kMaxChunkSize);
    while (!done_ && out->NumRows() == 0) {
      while (!out->IsFull()) {
        if (in_pos_ >= in_rows_.size() && !child_done_) {
          absl::Status s = child_->Next(&in_);
          if (!s.ok()) return s;
          in_rows_.clear();
          in_pos_ = 0;
          if (in_.NumRows() == 0) {
            child_done_ = true;
          } else if (const std::vector<uint32_t>* sel = in_.sel()) {
            in_rows_ = *sel;
          } else {
            for (size_t r = 0; r < in_.NumRows(); ++r) in_rows_.push_back(r);
          }
          continue;
        }
        const bool have_in = in_pos_ < in_rows_.size();
        const bool have_added = added_pos_ < added_handles_.size();
        if (!have_in && !have_added) {
          done_ = true;
          break;
        }
        if (have_in) {
          const uint32_t r = in_rows_[in_pos_];
          const int64_t h = in_.column(hcol_).GetInt64(r);
          if (overlay_handles_.contains(h)) {
            ++in_pos_;  // The transaction's own version (or its delete) replaces it.
            continue;
          }
          if (!have_added || h < added_handles_[added_pos_]) {
            out->AppendRowFrom(in_, r);
            ++in_pos_;
            continue;
          }
        }
        out->AppendRowFrom(added_, added_pos_++);
      }
      absl::Status s = FilterAndLimit(ctx_, {}, p_.limit, &produced_, &done_, out);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  // Decodes the overlay's rows (filtered) and notes every handle it holds.
  absl::Status Prepare() {
    // The decoded rows (string payloads counted by the encoded values' size) and the
    // handle set stay for the whole read: charged to the statement's quota first.
    int64_t bytes = exec_internal::RowBytes(overlay_.size(), types_.size()) +
                    static_cast<int64_t>(overlay_.size() * (sizeof(int64_t) * 3));
    for (const kv::OverlayEntry& e : overlay_) {
      if (e.value.has_value()) bytes += static_cast<int64_t>(e.value->size());
    }
    absl::Status charged = mem_.Add(bytes);
    if (!charged.ok()) return charged;
    codec::RowDecoder decoder(TableScanExec::Columns(p_));
    added_ = Chunk(types_, overlay_.size() + 1);
    for (const kv::OverlayEntry& e : overlay_) {
      int64_t tid = 0, handle = 0;
      absl::Status s = codec::DecodeRowKey(e.key, &tid, &handle);
      if (!s.ok()) return s;
      overlay_handles_.insert(handle);
      if (!e.value.has_value()) continue;
      s = decoder.DecodeToChunk(*e.value, handle, &added_);
      if (!s.ok()) return s;
    }
    absl::Status s = exec_internal::FilterChunk(ctx_, conds_, &added_);
    if (!s.ok()) return s;
    if (added_.sel() != nullptr) added_ = added_.Compact();
    for (size_t r = 0; r < added_.NumRows(); ++r) {
      added_handles_.push_back(added_.column(hcol_).GetInt64(r));
    }
    overlay_.clear();
    return absl::OkStatus();
  }

  const TableScanNode& p_;
  ExecContext* ctx_;
  std::vector<kv::OverlayEntry> overlay_;
  std::unique_ptr<Executor> child_;
  std::vector<FieldType> types_;
  const size_t hcol_;  // The handle: the scan's last column.
  std::vector<const expr::Expression*> conds_;
  bool prepared_ = false;
  exec_internal::MemAccount mem_{ctx_};
  absl::flat_hash_set<int64_t> overlay_handles_;
  Chunk added_;                         // The overlay's rows that pass the filter.
  std::vector<int64_t> added_handles_;  // Theirs, ascending (the overlay is in key order).
  size_t added_pos_ = 0;
  Chunk in_;                       // The child's current chunk.
  std::vector<uint32_t> in_rows_;  // Its live rows.
  size_t in_pos_ = 0;
  bool child_done_ = false;
  bool done_ = false;
  uint64_t produced_ = 0;
};

// An index read whose index scan runs at the coprocessor (TiDB's IndexReader /
// IndexLookUp): `child` yields the DAG's chunks of the index entries in key order, the
// index columns (a covering read) then the handle. A covering read places the columns
// in the table's row; a lookup reads the rows by handle through the transaction (which
// merges its own writes), keeping the index order. The scan's filter and limit finish
// here, as TableScanExec's do (`filter_pushed`: the regions applied the filter already,
// NewIndexCopReader, and the limit too).
//
// With an `overlay` (the transaction's entries of the index ranges, kv::KvTxn::
// SnapshotOverlay) this is TiDB's UnionScan over an index read: the child then yields
// every index column in its key form (IndexKeyForm) and the handle, so that each entry's
// key is known again; entries merge in key order, the overlay's replacing the
// snapshot's of the same key (a delete removes it).
class IndexCopReaderExec : public Executor {
 public:
  IndexCopReaderExec(const TableScanNode& p, ExecContext* ctx, const IndexInfo& idx, bool covering,
                     std::unique_ptr<Executor> child, std::vector<kv::OverlayEntry> overlay,
                     bool filter_pushed)
      : p_(p),
        ctx_(ctx),
        idx_(idx),
        covering_(covering),
        child_(std::move(child)),
        types_(SchemaTypes(p.schema)),
        decoder_(TableScanExec::Columns(p)),
        overlay_(std::move(overlay)),
        union_(!overlay_.empty()) {
    if (p.filter && !filter_pushed) conds_.push_back(p.filter.get());
  }

  absl::Status Next(Chunk* out) override {
    *out = Chunk(types_, kMaxChunkSize);
    while (!done_ && out->NumRows() == 0) {
      Chunk in;
      if (!child_done_) {
        absl::Status s = child_->Next(&in);
        if (!s.ok()) return s;
        child_done_ = in.NumRows() == 0;
      }
      if (union_) {
        absl::Status s = Merge(&in);
        if (!s.ok()) return s;
      }
      if (in.NumRows() == 0) {
        if (child_done_ && (!union_ || ov_pos_ >= overlay_.size())) {
          done_ = true;
          break;
        }
        continue;
      }
      absl::Status s = covering_ ? Covering(in, out) : Lookup(in, out);
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

  // The key of entry `r` of `in` (key-form index columns, then the handle), as
  // catalog's MakeIndexEntry writes it: the handle joins the values unless the index is
  // unique and no value is NULL. A collated string's key form is its sort key already.
  std::string KeyOf(const Chunk& in, size_t r) const {
    const size_t n = idx_.columns.size();
    std::vector<Datum> vals;
    bool has_null = false;
    for (size_t k = 0; k < n; ++k) {
      vals.push_back(in.GetDatum(r, k));
      has_null = has_null || vals.back().IsNull();
    }
    std::optional<int64_t> handle;
    if (!idx_.unique || has_null) handle = in.column(n).GetInt64(r);
    return codec::EncodeIndexKey(p_.table->id, idx_.id, vals, handle);
  }

  // Appends overlay entry `e` (a put) to `m` as the child would yield it.
  absl::Status AppendOverlay(const kv::OverlayEntry& e, Chunk* m) const {
    int64_t handle = 0;
    std::vector<Datum> ds;
    absl::Status s = TableScanExec::HandleOf({e.key, *e.value}, idx_, &handle, &ds);
    if (!s.ok()) return s;
    const size_t n = idx_.columns.size();
    if (ds.size() < n) return absl::DataLossError("short index entry");
    ds.resize(n);
    ds.push_back(Datum::Int(handle));
    if (!m->AppendRow(ds)) return absl::InternalError("index entry of the wrong type");
    return absl::OkStatus();
  }

  // Replaces `in` (the child's next chunk; empty at its end) by its merge with the
  // overlay entries up to its last key (at the end: the rest, a chunk at a time).
  absl::Status Merge(Chunk* in) {
    Chunk m(in->NumRows() > 0 ? in->types() : key_types_, kMaxChunkSize);
    if (in->NumRows() > 0) key_types_ = in->types();
    for (size_t r = 0; r < in->NumRows(); ++r) {
      const std::string key = KeyOf(*in, r);
      while (ov_pos_ < overlay_.size() && overlay_[ov_pos_].key < key) {
        const kv::OverlayEntry& e = overlay_[ov_pos_++];
        if (!e.value.has_value()) continue;
        absl::Status s = AppendOverlay(e, &m);
        if (!s.ok()) return s;
      }
      if (ov_pos_ < overlay_.size() && overlay_[ov_pos_].key == key) continue;  // Replaced.
      m.AppendRowFrom(*in, r);
    }
    if (child_done_) {
      if (key_types_.empty()) key_types_ = KeyTypes();
      if (m.NumCols() == 0) m = Chunk(key_types_, kMaxChunkSize);
      while (ov_pos_ < overlay_.size() && !m.IsFull()) {
        const kv::OverlayEntry& e = overlay_[ov_pos_++];
        if (!e.value.has_value()) continue;
        absl::Status s = AppendOverlay(e, &m);
        if (!s.ok()) return s;
      }
    }
    *in = std::move(m);
    return absl::OkStatus();
  }

  // The child's column types: the index columns' key forms, then the handle.
  std::vector<FieldType> KeyTypes() const {
    std::vector<FieldType> t;
    for (int c : idx_.columns) t.push_back(*IndexKeyForm(p_.table->columns[c].type));
    t.push_back(FieldType::LongLong());
    return t;
  }

  const TableScanNode& p_;
  ExecContext* ctx_;
  const IndexInfo& idx_;
  const bool covering_;
  std::unique_ptr<Executor> child_;
  std::vector<FieldType> types_;
  codec::RowDecoder decoder_;
  std::vector<const expr::Expression*> conds_;
  std::vector<kv::OverlayEntry> overlay_;  // Ascending by key.
  const bool union_;
  size_t ov_pos_ = 0;
  std::vector<FieldType> key_types_;
  bool child_done_ = false;
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
      if (s.ok() && bytes != 0) s = ctx_->ConsumeMemory(bytes);
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

std::vector<codec::RowColumn> ScanRowColumns(const TableInfo& table) {
  std::vector<codec::RowColumn> cols;
  cols.reserve(table.columns.size() + 1);
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const ColumnInfo& c = table.columns[i];
    codec::RowColumn rc;
    rc.id = c.id;
    rc.type = c.type;
    rc.default_value = c.default_value;
    rc.is_handle = static_cast<int>(i) == table.handle_col;
    cols.push_back(rc);
  }
  codec::RowColumn h;
  h.id = -1;
  h.type = FieldType::LongLong();
  h.is_handle = true;
  cols.push_back(h);
  return cols;
}

std::unique_ptr<Executor> NewTableScanExec(const TableScanNode& p, ExecContext* ctx) {
  return std::make_unique<TableScanExec>(p, ctx);
}

namespace {

// The overlay of `ranges` (ascending, disjoint) in one list.
std::vector<kv::OverlayEntry> OverlayOf(kv::KvTxn* txn,
                                        const std::vector<coprocessor::KeyRange>& ranges) {
  std::vector<kv::OverlayEntry> out;
  for (const coprocessor::KeyRange& r : ranges) {
    std::vector<kv::OverlayEntry> part = txn->SnapshotOverlay(r.start, r.end);
    if (out.empty()) {
      out = std::move(part);
    } else {
      for (kv::OverlayEntry& e : part) out.push_back(std::move(e));
    }
  }
  return out;
}

std::unique_ptr<Executor> StartCopRead(ExecContext* ctx, const kv::CopSnapshot& snap,
                                       coprocessor::DistSqlRequest req, OperatorRuntime* scan_rt) {
  req.read_ts = snap.read_ts;
  req.read_committed = snap.read_committed;
  if (snap.client == nullptr) {
    return std::make_unique<LocalCopReaderExec>(ctx, snap.local, std::move(req), scan_rt);
  }
  return std::make_unique<CopReaderExec>(ctx, snap, std::move(req), scan_rt);
}

}  // namespace

namespace {

// Whether NewIndexCopReader reads `p` through the coprocessor (nullopt: through KV), and
// if so its index and ranges (ascending, disjoint). EXPLAIN's UnionScanApplies asks the
// same, so both agree on which reads merge the transaction's writes.
struct IndexCopRead {
  const IndexInfo* idx = nullptr;
  std::vector<coprocessor::KeyRange> ranges;
};

std::optional<IndexCopRead> IndexCopReadOf(const TableScanNode& p, ExecContext* ctx) {
  if (ctx->txn == nullptr || p.table == nullptr || p.table->memory_rows != nullptr ||
      p.index_id == 0 || p.handles.has_value() || !p.merge_paths.empty() || p.desc ||
      p.index_ranges.empty() || p.schema.size() != p.table->columns.size() + 1) {
    return std::nullopt;
  }
  IndexCopRead r;
  for (const IndexInfo& i : p.table->indexes) {
    if (i.id == p.index_id) r.idx = &i;
  }
  if (r.idx == nullptr) return std::nullopt;
  for (const auto& [lo, hi] : p.index_ranges) {
    if (hi.empty() || lo >= hi || (!r.ranges.empty() && lo < r.ranges.back().end)) {
      return std::nullopt;
    }
    r.ranges.push_back({lo, hi});
  }
  return r;
}

// The key forms a UnionScan over `idx` rebuilds its entries in (nullopt: a form it does
// not rebuild — DECIMAL, times, ... — so the read goes through KV).
std::optional<std::vector<FieldType>> UnionKeyTypes(const TableInfo& table, const IndexInfo& idx) {
  std::vector<FieldType> out;
  for (int c : idx.columns) {
    std::optional<FieldType> t = IndexKeyForm(table.columns[c].type);
    if (!t.has_value()) return std::nullopt;
    out.push_back(*t);
  }
  return out;
}

// Rewrites the column references of `e` (a filter over a scan's schema: the table's
// columns, then the handle) to the output of an index scan of `idx` (its columns, then
// the handle). False when `e` reads a column the index does not hold, or one whose key
// form is not its value (only integers are stored as they are).
bool ToIndexScanColumns(const TableInfo& table, const IndexInfo& idx, sqlexprpb::Expr* e) {
  if (e->tp() == sqlexprpb::COLUMN_REF) {
    const uint64_t c = e->column_offset();
    const size_t n = idx.columns.size();
    if (c == table.columns.size() || static_cast<int64_t>(c) == table.handle_col) {
      // The entry's handle is a signed integer: an unsigned key's column would compare
      // differently.
      if (table.handle_col >= 0 && table.columns[table.handle_col].type.IsUnsigned()) return false;
      e->set_column_offset(n);
      return true;
    }
    for (size_t k = 0; k < n; ++k) {
      if (static_cast<uint64_t>(idx.columns[k]) == c) {
        if (!table.columns[c].type.IsInteger()) return false;
        e->set_column_offset(k);
        return true;
      }
    }
    return false;
  }
  for (sqlexprpb::Expr& child : *e->mutable_children()) {
    if (!ToIndexScanColumns(table, idx, &child)) return false;
  }
  return true;
}

}  // namespace

bool UnionScanApplies(const TableScanNode& scan, ExecContext* ctx) {
  if (ctx->txn == nullptr || !ctx->allow_coprocessor || scan.table == nullptr ||
      scan.table->memory_rows != nullptr) {
    return false;
  }
  std::vector<coprocessor::KeyRange> ranges;
  if (scan.index_id != 0) {
    std::optional<IndexCopRead> read = IndexCopReadOf(scan, ctx);
    if (!read.has_value() || !UnionKeyTypes(*scan.table, *read->idx).has_value()) return false;
    ranges = std::move(read->ranges);
  } else if (PlanPushdown(scan).has_value()) {
    ranges = CopScanRanges(scan);
  }
  if (ranges.empty()) return false;
  std::optional<kv::CopSnapshot> snap =
      ctx->txn->CoprocessorSnapshot(ranges.front().start, ranges.back().end);
  if (!snap.has_value() || (snap->client == nullptr && snap->local == nullptr)) return false;
  return !OverlayOf(ctx->txn, ranges).empty();
}

namespace {
std::atomic<uint64_t> pruned_cop_reads{0};
}  // namespace

uint64_t TotalPrunedCopReads() { return pruned_cop_reads.load(std::memory_order_relaxed); }

absl::StatusOr<std::unique_ptr<Executor>> NewCopReader(const CopPushdown& cop, ExecContext* ctx) {
  if (ctx->txn == nullptr) return std::unique_ptr<Executor>();
  std::vector<coprocessor::KeyRange> ranges = CopScanRanges(*cop.scan);
  std::optional<kv::CopSnapshot> snap =
      ctx->txn->CoprocessorSnapshot(ranges.front().start, ranges.back().end);
  if (!snap.has_value() || (snap->client == nullptr && snap->local == nullptr)) {
    return std::unique_ptr<Executor>();
  }
  std::vector<kv::OverlayEntry> overlay = OverlayOf(ctx->txn, ranges);
  const bool pushes_above = cop.agg != nullptr || cop.topn != nullptr || cop.limit != nullptr;
  // The transaction's own writes in range: the regions read the scan and its filter only,
  // a UnionScan merges the writes, and what was to be pushed runs at the root over it
  // (the builder then reads the scan below that node by itself).
  if (!overlay.empty() && pushes_above) return std::unique_ptr<Executor>();
  absl::StatusOr<rutile::coprocessor::DagRequest> dag = BuildCopDag(cop, *ctx);
  if (!dag.ok()) return dag.status();
  if (!overlay.empty() && dag->executors_size() > 0 &&
      dag->executors(dag->executors_size() - 1).has_limit()) {
    // The scan's limit counts merged rows: the UnionScan applies it.
    dag->mutable_executors()->RemoveLast();
  }
  // Column pruning (TiDB's DAGRequest.output_offsets): the regions decode and ship only
  // the scan's columns the plan reads (not under a pushed aggregation, whose output is
  // its own, nor a UnionScan, which merges whole rows); at least one (the handle) ships,
  // so the rows keep their count.
  std::vector<uint32_t> shipped;
  const std::vector<bool>& used = cop.scan->used_columns;
  if (cop.agg == nullptr && overlay.empty() && used.size() == cop.scan->schema.size() &&
      std::find(used.begin(), used.end(), false) != used.end()) {
    for (size_t c = 0; c < used.size(); ++c) {
      if (used[c]) shipped.push_back(static_cast<uint32_t>(c));
    }
    if (shipped.empty()) shipped.push_back(static_cast<uint32_t>(used.size() - 1));
    for (uint32_t c : shipped) dag->add_output_offsets(c);
  }
  coprocessor::DistSqlRequest req;
  req.dag = *std::move(dag);
  req.ranges = std::move(ranges);
  OperatorRuntime* scan_rt =
      pushes_above && ctx->runtime != nullptr ? &(*ctx->runtime)[cop.scan] : nullptr;
  std::unique_ptr<Executor> reader = StartCopRead(ctx, *snap, std::move(req), scan_rt);
  if (!shipped.empty()) {
    pruned_cop_reads.fetch_add(1, std::memory_order_relaxed);
    return std::unique_ptr<Executor>(std::make_unique<WidenExec>(
        SchemaTypes(cop.scan->schema), std::move(shipped), std::move(reader)));
  }
  if (overlay.empty()) return reader;
  return std::unique_ptr<Executor>(
      std::make_unique<UnionScanExec>(*cop.scan, ctx, std::move(overlay), std::move(reader)));
}

absl::StatusOr<std::unique_ptr<Executor>> NewIndexCopReader(const TableScanNode& p,
                                                            ExecContext* ctx) {
  std::unique_ptr<Executor> none;
  std::optional<IndexCopRead> read = IndexCopReadOf(p, ctx);
  if (!read.has_value()) return none;
  const IndexInfo* idx = read->idx;
  std::vector<coprocessor::KeyRange> ranges = std::move(read->ranges);
  // Index keys hold integers exactly as the row does; other types (floats stored as
  // doubles, collated strings as sort keys) are read from the rows.
  bool covering = p.index_only;
  for (int c : idx->columns) {
    covering = covering && p.table->columns[c].type.IsInteger();
  }
  std::optional<kv::CopSnapshot> snap =
      ctx->txn->CoprocessorSnapshot(ranges.front().start, ranges.back().end);
  if (!snap.has_value() || (snap->client == nullptr && snap->local == nullptr)) return none;
  std::vector<kv::OverlayEntry> overlay = OverlayOf(ctx->txn, ranges);
  const bool with_union = !overlay.empty();
  std::vector<FieldType> key_types;
  if (with_union) {
    std::optional<std::vector<FieldType>> kt = UnionKeyTypes(*p.table, *idx);
    if (!kt.has_value()) return none;
    key_types = *std::move(kt);
  }
  // Under a limit, a filter over the index's integer columns (and the handle) runs at the
  // regions, so that the limit can go there too and each region stops after that many
  // entries (not under a UnionScan: the merged entries count).
  std::optional<sqlexprpb::Expr> pushed_filter;
  if (p.limit.has_value() && p.filter != nullptr && !with_union && expr::CanPushDown(*p.filter)) {
    sqlexprpb::Expr f;
    if (expr::ExprToPb(*p.filter, &f).ok() && ToIndexScanColumns(*p.table, *idx, &f)) {
      pushed_filter = std::move(f);
    }
  }
  rutile::coprocessor::DagRequest dag;
  rutile::coprocessor::IndexScan* is = dag.add_executors()->mutable_index_scan();
  is->set_table_id(p.table->id);
  is->set_index_id(p.index_id);
  is->set_handle(true);
  if (covering || with_union || pushed_filter.has_value()) {
    for (size_t k = 0; k < idx->columns.size(); ++k) {
      const ColumnInfo& col = p.table->columns[idx->columns[k]];
      rutile::coprocessor::ColumnInfo* ci = is->add_columns();
      ci->set_column_id(col.id);
      expr::FieldTypeToPb(with_union ? key_types[k] : col.type, ci->mutable_type());
    }
  }
  if (pushed_filter.has_value()) {
    *dag.add_executors()->mutable_selection()->add_conditions() = *std::move(pushed_filter);
  }
  // With no filter left at the root the scan's limit counts index entries (but not under a
  // UnionScan: the merged entries count).
  if (p.limit.has_value() && (p.filter == nullptr || pushed_filter.has_value()) && !with_union) {
    dag.add_executors()->mutable_limit()->set_limit(*p.limit);
  }
  expr::EvalConfigToPb(*ctx, dag.mutable_eval());
  coprocessor::DistSqlRequest req;
  req.dag = std::move(dag);
  req.ranges = std::move(ranges);
  std::unique_ptr<Executor> child = StartCopRead(ctx, *snap, std::move(req), nullptr);
  return std::unique_ptr<Executor>(std::make_unique<IndexCopReaderExec>(
      p, ctx, *idx, covering, std::move(child), std::move(overlay), pushed_filter.has_value()));
}

std::unique_ptr<Executor> NewFinalAggExec(const AggregateNode& p, ExecContext* ctx,
                                          std::unique_ptr<Executor> partial) {
  return std::make_unique<FinalAggExec>(p, ctx, std::move(partial));
}

}  // namespace rutile::sql
