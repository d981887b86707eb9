#include "sql/coprocessor/dag.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sql/chunk/chunk.h"
#include "sql/chunk/chunk_codec.h"
#include "sql/codec/codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/exec/agg_table.h"
#include "sql/exec/executor.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expr_pb.h"
#include "sql/expr/expression.h"
#include "sql/types/compare.h"
#include "sql/types/context.h"
#include "sql/types/convert.h"

namespace rutile::sql::coprocessor {
namespace {

namespace pb = ::rutile::coprocessor;

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("coprocessor DAG: ", what));
}

absl::StatusOr<std::vector<FieldType>> ColumnTypes(
    const google::protobuf::RepeatedPtrField<pb::ColumnInfo>& cols) {
  std::vector<FieldType> out;
  for (const pb::ColumnInfo& c : cols) {
    absl::StatusOr<FieldType> ft = expr::FieldTypeFromPb(c.type());
    if (!ft.ok()) return ft.status();
    out.push_back(*ft);
  }
  return out;
}

// The DAG decoded: what runs, with the types between the stages.
struct Plan {
  // Scan.
  bool index = false;
  bool desc = false;
  int64_t table_id = 0;
  int64_t index_id = 0;
  bool index_handle = false;
  std::vector<FieldType> scan_types;
  // Table scans decode only the columns the later stages read (TiKV's column pruning of
  // BatchTableScanExecutor): `decoded` lists them (scan column indexes, ascending) and
  // `row_decoder` reads them in that order; the others are filled with placeholders the
  // stages never look at. Empty `decoded` with a decoder: every column.
  std::vector<size_t> decoded;
  std::vector<FieldType> decoded_types;
  std::vector<codec::RowColumn> scan_columns;
  std::optional<codec::RowDecoder> row_decoder;
  // Selection.
  std::vector<expr::ExprPtr> conds;
  // Partial aggregation (an AggTable at run time).
  bool agg = false;
  std::vector<expr::ExprPtr> group_by;
  std::vector<expr::AggCall> aggs;
  // TopN.
  std::vector<expr::ExprPtr> order_by;
  std::vector<bool> order_desc;
  std::optional<uint64_t> topn;
  // Limit (after the stages above).
  std::optional<uint64_t> limit;
  // Types of the last stage and the output offsets into them.
  std::vector<FieldType> out_types;
  std::vector<uint32_t> offsets;
};

// Marks in `used` the scan columns `e` reads; false when `e` has a node of a kind this
// does not know (then every column counts as read).
bool MarkColumns(const expr::Expression& e, std::vector<bool>* used) {
  if (const auto* c = dynamic_cast<const expr::ColumnRef*>(&e)) {
    if (c->index() >= used->size()) return false;
    (*used)[c->index()] = true;
    return true;
  }
  if (dynamic_cast<const expr::Constant*>(&e) != nullptr) return true;
  if (dynamic_cast<const expr::ScalarFunction*>(&e) == nullptr) return false;
  for (const expr::ExprPtr& ch : e.children()) {
    if (!MarkColumns(*ch, used)) return false;
  }
  return true;
}

// Chooses the table scan's decoded columns (Plan::decoded) and builds its row decoder.
void PruneScan(Plan* p) {
  const size_t n = p->scan_types.size();
  std::vector<bool> used(n, false);
  bool known = true;
  auto mark = [&](const std::vector<expr::ExprPtr>& es) {
    for (const expr::ExprPtr& e : es) known = known && MarkColumns(*e, &used);
  };
  mark(p->conds);
  if (p->agg) {
    mark(p->group_by);
    for (const expr::AggCall& a : p->aggs) mark(a.args);
  } else {
    // The scan's rows are the output (through TopN and Limit): the offsets' columns.
    mark(p->order_by);
    for (uint32_t o : p->offsets) used[o] = true;
  }
  size_t count = 0;
  for (bool u : used) count += u ? 1 : 0;
  if (!known || count == n) {
    p->row_decoder.emplace(p->scan_columns);
    return;
  }
  std::vector<codec::RowColumn> cols;
  for (size_t i = 0; i < n; ++i) {
    if (!used[i]) continue;
    p->decoded.push_back(i);
    p->decoded_types.push_back(p->scan_types[i]);
    cols.push_back(p->scan_columns[i]);
  }
  if (cols.empty()) {
    // COUNT(*) alone: decode the handle (from the key, so no row parsing) to count rows.
    for (size_t i = 0; i < n && cols.empty(); ++i) {
      if (p->scan_columns[i].is_handle) {
        p->decoded.push_back(i);
        p->decoded_types.push_back(p->scan_types[i]);
        cols.push_back(p->scan_columns[i]);
      }
    }
    if (cols.empty()) {
      p->decoded.push_back(0);
      p->decoded_types.push_back(p->scan_types[0]);
      cols.push_back(p->scan_columns[0]);
    }
  }
  p->row_decoder.emplace(std::move(cols));
}

absl::StatusOr<Plan> DecodePlan(const pb::DagRequest& dag) {
  Plan p;
  if (dag.executors_size() == 0) return Bad("no executors");
  const pb::Executor& first = dag.executors(0);
  if (first.has_table_scan()) {
    const pb::TableScan& ts = first.table_scan();
    p.table_id = ts.table_id();
    p.desc = ts.desc();
    if (ts.columns_size() == 0) return Bad("table scan reads no column");
    std::vector<codec::RowColumn> cols;
    for (const pb::ColumnInfo& c : ts.columns()) {
      absl::StatusOr<FieldType> ft = expr::FieldTypeFromPb(c.type());
      if (!ft.ok()) return ft.status();
      codec::RowColumn rc;
      rc.id = c.column_id();
      rc.type = *ft;
      rc.is_handle = c.pk_handle() || c.column_id() == -1;
      if (c.column_id() < -1) return Bad(absl::StrCat("bad column id ", c.column_id()));
      if (rc.is_handle && !ft->IsInteger()) return Bad("handle column of a non-integer type");
      if (c.has_default_value()) {
        absl::StatusOr<Datum> d = expr::DatumFromPb(c.default_value());
        if (!d.ok()) return Bad(absl::StrCat("bad default of column ", rc.id));
        rc.default_value = *std::move(d);
      }
      p.scan_types.push_back(*ft);
      cols.push_back(std::move(rc));
    }
    p.scan_columns = std::move(cols);
  } else if (first.has_index_scan()) {
    const pb::IndexScan& is = first.index_scan();
    p.index = true;
    p.table_id = is.table_id();
    p.index_id = is.index_id();
    p.desc = is.desc();
    p.index_handle = is.handle();
    absl::StatusOr<std::vector<FieldType>> types = ColumnTypes(is.columns());
    if (!types.ok()) return types.status();
    p.scan_types = *std::move(types);
    if (p.index_handle) p.scan_types.push_back(FieldType::LongLong());
    if (p.scan_types.empty()) return Bad("index scan reads no column");
  } else {
    return Bad("the first executor is not a scan");
  }
  std::vector<FieldType> types = p.scan_types;
  enum Stage { kSel, kAgg, kTopN, kLimit, kEnd };
  int stage = kSel;
  for (int i = 1; i < dag.executors_size(); ++i) {
    const pb::Executor& e = dag.executors(i);
    if (e.has_selection()) {
      if (stage > kSel) return Bad("selection after aggregation, topn or limit");
      for (const auto& c : e.selection().conditions()) {
        absl::StatusOr<expr::ExprPtr> x = expr::ExprFromPb(c, types);
        if (!x.ok()) return x.status();
        p.conds.push_back(*std::move(x));
      }
    } else if (e.has_aggregation()) {
      if (stage > kSel) return Bad("aggregation after topn or limit");
      stage = kTopN;
      p.agg = true;
      std::vector<FieldType> next;
      for (const auto& a : e.aggregation().aggs()) {
        absl::StatusOr<expr::AggCall> call = expr::AggFromPb(a, types);
        if (!call.ok()) return call.status();
        for (const FieldType& ft : expr::PartialTypes(call->desc)) next.push_back(ft);
        p.aggs.push_back(*std::move(call));
      }
      for (const auto& g : e.aggregation().group_by()) {
        absl::StatusOr<expr::ExprPtr> x = expr::ExprFromPb(g, types);
        if (!x.ok()) return x.status();
        next.push_back((*x)->type());
        p.group_by.push_back(*std::move(x));
      }
      types = std::move(next);
    } else if (e.has_top_n()) {
      if (stage > kTopN) return Bad("topn after limit");
      if (e.top_n().order_by_size() == 0) return Bad("topn without order");
      stage = kEnd;
      for (const auto& b : e.top_n().order_by()) {
        absl::StatusOr<expr::ExprPtr> x = expr::ExprFromPb(b.expr(), types);
        if (!x.ok()) return x.status();
        p.order_by.push_back(*std::move(x));
        p.order_desc.push_back(b.desc());
      }
      p.topn = e.top_n().limit();
    } else if (e.has_limit()) {
      if (stage > kLimit) return Bad("limit after topn or limit");
      stage = kEnd;
      p.limit = e.limit().limit();
    } else {
      return Bad(e.has_table_scan() || e.has_index_scan() ? "a scan after the first executor"
                                                          : "unknown executor");
    }
  }
  p.out_types = types;
  if (dag.output_offsets_size() == 0) {
    for (size_t i = 0; i < types.size(); ++i) p.offsets.push_back(static_cast<uint32_t>(i));
  } else {
    for (uint32_t o : dag.output_offsets()) {
      if (o >= types.size()) {
        return Bad(absl::StrCat("output offset ", o, " of ", types.size(), " columns"));
      }
      p.offsets.push_back(o);
    }
  }
  if (!p.index) PruneScan(&p);
  return p;
}

bool Truthy(EvalContext* ctx, const Column& col, size_t i, const FieldType& ft, absl::Status* err) {
  if (col.IsNull(i)) return false;
  switch (col.type()) {
    case PhysicalType::kInt64:
      return col.GetInt64(i) != 0;
    case PhysicalType::kUint64:
      return col.GetUint64(i) != 0;
    case PhysicalType::kFloat64:
      return col.GetFloat64(i) != 0;
    case PhysicalType::kDecimal:
      return !col.GetDecimal(i).IsZero();
    default: {
      absl::StatusOr<bool> b = DatumToBool(ctx, col.GetDatum(i, ft), ft);
      if (!b.ok()) {
        *err = b.status();
        return false;
      }
      return *b;
    }
  }
}

class Runner {
 public:
  struct TopRow {
    std::vector<Datum> keys;
    std::vector<Datum> row;
    uint64_t seq = 0;
  };
  Runner(Plan* p, pb::Response* resp, uint32_t chunk_rows)
      : p_(*p), resp_(resp), chunk_rows_(chunk_rows) {}

  absl::Status Init(const sqlexprpb::EvalConfig& cfg) {
    absl::Status s = expr::EvalConfigFromPb(cfg, &ctx_);
    if (!s.ok()) return s;
    in_ = Chunk(DecodedTypes(), chunk_rows_);
    top_cols_.resize(p_.order_by.size());
    if (p_.agg) {
      for (const expr::ExprPtr& g : p_.group_by) spec_.group_by.push_back(g.get());
      for (const expr::AggCall& a : p_.aggs) {
        AggSpec::Agg sa;
        sa.desc = &a.desc;
        for (const expr::ExprPtr& e : a.args) sa.args.push_back(e.get());
        spec_.aggs.push_back(std::move(sa));
      }
      table_ = std::make_unique<AggTable>(&spec_, &ctx_);
    }
    return absl::OkStatus();
  }

  // Performance-critical path.
  bool OnRow(std::string_view key, std::string_view value) {
    ++scanned_;
    if (p_.index) {
      err_ = DecodeIndexRow(key, value);
    } else {
      int64_t tid = 0, handle = 0;
      err_ = codec::DecodeRowKey(key, &tid, &handle);
      if (err_.ok() && tid != p_.table_id) {
        err_ = Bad(absl::StrCat("row of table ", tid, " in a scan of table ", p_.table_id));
      }
      if (err_.ok()) err_ = p_.row_decoder->DecodeToChunk(value, handle, &in_);
      if (build_ != nullptr && !build_->overflow) build_->handles.push_back(handle);
    }
    if (!err_.ok()) return false;
    if (in_.NumRows() >= chunk_rows_) {
      err_ = Flush();
      if (!err_.ok()) return false;
    }
    return !done_;
  }

  absl::Status error() const { return err_; }

  // Rows of the scan as decoded chunks (the column cache's rows): false stops the scan.
  bool OnChunk(Chunk chunk) {
    scanned_ += chunk.NumRows();
    in_ = std::move(chunk);
    err_ = Flush();
    return err_.ok() && !done_;
  }

  // What a table scan that builds a column cache entry gathers: the handles and the
  // decoded columns (DecodedTypes' order; a handle column stays empty, the handles are
  // its values) of every row, up to `limit` bytes (ColumnCache::max_build_bytes).
  struct Build {
    std::vector<int64_t> handles;
    std::vector<Column> cols;
    size_t bytes = 0;
    size_t limit = 0;
    bool overflow = false;
  };
  void StartBuild(size_t limit) {
    build_ = std::make_unique<Build>();
    build_->limit = limit;
    for (const FieldType& ft : DecodedTypes()) build_->cols.emplace_back(PhysicalTypeOf(ft));
  }
  // The gathered rows, or null when they passed the limit. Call after the scan.
  std::unique_ptr<Build> TakeBuild() {
    if (build_ == nullptr || build_->overflow) return nullptr;
    return std::move(build_);
  }

  // The types of the scan chunk being filled: the decoded columns'.
  const std::vector<FieldType>& DecodedTypes() const {
    return p_.decoded.empty() ? p_.scan_types : p_.decoded_types;
  }
  // Whether decoded column `j` is the handle (its values are the rows' handles).
  bool DecodedIsHandle(size_t j) const {
    return p_.scan_columns[p_.decoded.empty() ? j : p_.decoded[j]].is_handle;
  }

  absl::Status Finish() {
    absl::Status s = Flush();
    if (!s.ok()) return s;
    if (p_.agg) {
      s = EmitGroups();
      if (!s.ok()) return s;
    }
    if (p_.topn.has_value()) {
      s = EmitTopN();
      if (!s.ok()) return s;
    }
    for (const SqlWarning& w : ctx_.warnings()) {
      pb::Warning* pw = resp_->add_warnings();
      pw->set_note(w.level == WarnLevel::kNote);
      pw->set_code(w.error.code);
      pw->set_sqlstate(w.error.sqlstate);
      pw->set_message(w.error.message);
    }
    resp_->set_scanned_rows(scanned_);
    resp_->set_selected_rows(selected_);
    return absl::OkStatus();
  }

 private:
  absl::Status DecodeIndexRow(std::string_view key, std::string_view value) {
    int64_t tid = 0, iid = 0;
    std::vector<Datum> ds;
    absl::Status s = codec::DecodeIndexKey(key, &tid, &iid, &ds);
    if (!s.ok()) return s;
    if (tid != p_.table_id || iid != p_.index_id) {
      return Bad(absl::StrCat("entry of index ", tid, ".", iid, " in a scan of index ", p_.table_id,
                              ".", p_.index_id));
    }
    const size_t ncols = p_.scan_types.size() - (p_.index_handle ? 1 : 0);
    if (ds.size() < ncols) return absl::DataLossError("index entry with too few columns");
    row_.clear();
    // Key datums come back in their key form: exact for numbers, times and binary
    // strings (the planner reads only such columns from an index).
    for (size_t i = 0; i < ncols; ++i) row_.push_back(std::move(ds[i]));
    if (p_.index_handle) {
      int64_t handle = 0;
      if (value.size() == 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(value[i]);
        handle = static_cast<int64_t>(u);
      } else if (ds.size() > ncols && ds.back().kind() == DatumKind::kInt64) {
        handle = ds.back().GetInt64();
      } else {
        return absl::DataLossError("index entry without a handle");
      }
      row_.push_back(Datum::Int(handle));
    }
    if (!in_.AppendRow(row_)) return absl::DataLossError("index entry of the wrong type");
    return absl::OkStatus();
  }

  // Runs the buffered scan rows through selection into the next stage.
  absl::Status Flush() {
    if (in_.NumRows() == 0) return absl::OkStatus();
    Chunk chunk = std::move(in_);
    in_ = Chunk(DecodedTypes(), chunk_rows_);
    if (build_ != nullptr && !build_->overflow) Gather(chunk);
    if (!p_.decoded.empty()) {
      // Columns at their scan positions; the ones not decoded hold placeholders.
      const size_t n = chunk.NumRows();
      Chunk full(p_.scan_types, 0);
      for (size_t j = 0; j < p_.decoded.size(); ++j) {
        full.column(p_.decoded[j]) = std::move(chunk.column(j));
      }
      size_t j = 0;
      for (size_t c = 0; c < p_.scan_types.size(); ++c) {
        if (j < p_.decoded.size() && p_.decoded[j] == c) {
          ++j;
        } else {
          full.column(c).ResizeFixed(n);
        }
      }
      chunk = std::move(full);
    }
    if (!p_.conds.empty()) {
      const size_t n = chunk.NumRows();
      std::vector<uint8_t> keep(n, 1);
      for (const expr::ExprPtr& c : p_.conds) {
        Column col;
        absl::Status s = c->EvalChunk(&ctx_, chunk, nullptr, &col);
        if (!s.ok()) return s;
        absl::Status err;
        for (size_t i = 0; i < n; ++i) {
          if (keep[i]) keep[i] = Truthy(&ctx_, col, i, c->type(), &err);
          if (!err.ok()) return err;
        }
      }
      std::vector<uint32_t> sel;
      for (size_t i = 0; i < n; ++i) {
        if (keep[i]) sel.push_back(static_cast<uint32_t>(i));
      }
      if (sel.empty()) return absl::OkStatus();
      if (sel.size() != n) {
        chunk.SetSel(std::move(sel));
        chunk = chunk.Compact();
      }
    }
    selected_ += chunk.NumRows();
    if (p_.agg) return Aggregate(chunk);
    if (p_.topn.has_value()) return CollectTopN(std::move(chunk));
    return Emit(std::move(chunk));
  }

  void Gather(const Chunk& chunk) {
    const size_t n = chunk.NumRows();
    build_->bytes += n * sizeof(int64_t);
    for (size_t j = 0; j < build_->cols.size(); ++j) {
      if (DecodedIsHandle(j)) continue;  // The handles are its values.
      build_->bytes += ColumnBytes(chunk.column(j));
      build_->cols[j].AppendRange(chunk.column(j), 0, n);
    }
    // Byte columns index their data with 32-bit offsets.
    if (build_->bytes > build_->limit || build_->bytes > (size_t{1} << 31)) {
      build_->overflow = true;
      build_->cols.clear();
      build_->handles.clear();
    }
  }

  absl::Status Aggregate(const Chunk& chunk) {
    int64_t bytes = 0;  // The region's request is bounded by its rows, not a quota.
    absl::Status s = table_->Add(chunk, agg_rows_, &bytes);
    agg_rows_ += chunk.NumRows();
    return s;
  }

  absl::Status EmitGroups() {
    return table_->EmitPartial(p_.out_types, chunk_rows_, [&](Chunk c) {
      return p_.topn.has_value() ? CollectTopN(std::move(c)) : Emit(std::move(c));
    });
  }

  // TopN: a heap of at most `limit` rows with the last in order on top. A row that does
  // not sort before the top is dropped unmaterialized (the common case once the heap is
  // full); ties keep the earlier row, as a stable sort does.
  absl::Status CollectTopN(Chunk chunk) {
    const uint64_t limit = *p_.topn;
    const size_t n = chunk.NumRows();
    if (limit == 0) return absl::OkStatus();
    for (size_t k = 0; k < p_.order_by.size(); ++k) {
      absl::Status s = p_.order_by[k]->EvalChunk(&ctx_, chunk, nullptr, &top_cols_[k]);
      if (!s.ok()) return s;
    }
    auto before = [&](const TopRow& a, const TopRow& b) { return Before(a, b); };
    for (size_t i = 0; i < n; ++i) {
      const uint64_t seq = seq_++;
      if (top_.size() >= limit && !RowBeforeTop(i)) continue;
      TopRow r;
      r.keys.reserve(top_cols_.size());
      for (size_t k = 0; k < top_cols_.size(); ++k) {
        r.keys.push_back(top_cols_[k].GetDatum(i, p_.order_by[k]->type()));
      }
      r.row = chunk.GetRow(i);
      r.seq = seq;
      if (top_.size() >= limit) {
        std::pop_heap(top_.begin(), top_.end(), before);
        top_.back() = std::move(r);
      } else {
        top_.push_back(std::move(r));
      }
      std::push_heap(top_.begin(), top_.end(), before);
    }
    return absl::OkStatus();
  }

  // Whether `a` sorts before `b` under the TopN's order (then by arrival).
  bool Before(const TopRow& a, const TopRow& b) const {
    for (size_t k = 0; k < a.keys.size(); ++k) {
      int c = CompareDatum(a.keys[k], b.keys[k], p_.order_by[k]->type().collation);
      if (c != 0) return p_.order_desc[k] ? c > 0 : c < 0;
    }
    return a.seq < b.seq;
  }

  // Whether row `i` of the evaluated order columns sorts strictly before the heap's top
  // (it arrived later, so a tie does not).
  bool RowBeforeTop(size_t i) const {
    const TopRow& top = top_.front();
    for (size_t k = 0; k < top_cols_.size(); ++k) {
      const Column& col = top_cols_[k];
      const Datum& t = top.keys[k];
      int c = 0;
      if (!col.IsNull(i) && col.type() == PhysicalType::kFloat64 &&
          t.kind() == DatumKind::kFloat64) {
        const double v = col.GetFloat64(i), w = t.GetDouble();
        c = v < w ? -1 : (v > w ? 1 : 0);
      } else if (!col.IsNull(i) && col.type() == PhysicalType::kInt64 &&
                 t.kind() == DatumKind::kInt64) {
        const int64_t v = col.GetInt64(i), w = t.GetInt64();
        c = v < w ? -1 : (v > w ? 1 : 0);
      } else {
        c = CompareDatum(col.GetDatum(i, p_.order_by[k]->type()), t,
                         p_.order_by[k]->type().collation);
      }
      if (c != 0) return p_.order_desc[k] ? c > 0 : c < 0;
    }
    return false;
  }

  absl::Status EmitTopN() {
    std::sort(top_.begin(), top_.end(),
              [&](const TopRow& a, const TopRow& b) { return Before(a, b); });
    Chunk out(p_.out_types, chunk_rows_);
    for (const TopRow& r : top_) {
      if (!out.AppendRow(r.row)) return absl::InternalError("topn row of the wrong type");
      if (out.NumRows() >= chunk_rows_) {
        absl::Status s = Emit(std::move(out));
        if (!s.ok()) return s;
        out = Chunk(p_.out_types, chunk_rows_);
      }
    }
    if (out.NumRows() > 0) return Emit(std::move(out));
    return absl::OkStatus();
  }

  // Applies the limit and the output offsets and encodes the chunk into the response.
  absl::Status Emit(Chunk chunk) {
    if (p_.limit.has_value()) {
      const uint64_t left = *p_.limit - emitted_;
      if (chunk.NumRows() >= left) {
        chunk = chunk.Slice(0, left);
        done_ = true;
      }
    }
    emitted_ += chunk.NumRows();
    if (chunk.NumRows() == 0) return absl::OkStatus();
    bool identity = p_.offsets.size() == p_.out_types.size();
    for (size_t i = 0; identity && i < p_.offsets.size(); ++i) identity = p_.offsets[i] == i;
    std::string* data = resp_->add_chunks()->mutable_data();
    if (identity) {
      EncodeChunk(chunk, data);
    } else {
      std::vector<FieldType> types;
      for (uint32_t o : p_.offsets) types.push_back(p_.out_types[o]);
      Chunk out(types, 0);
      for (size_t i = 0; i < p_.offsets.size(); ++i) out.column(i) = chunk.column(p_.offsets[i]);
      EncodeChunk(out, data);
    }
    return absl::OkStatus();
  }

  Plan& p_;
  pb::Response* resp_;
  const uint32_t chunk_rows_;
  EvalContext ctx_;
  Chunk in_;
  std::vector<Datum> row_;
  absl::Status err_;
  bool done_ = false;
  uint64_t scanned_ = 0;
  uint64_t selected_ = 0;  // Rows that passed the selection.
  uint64_t emitted_ = 0;
  // Partial aggregation over the plan's group-by and aggregates.
  AggSpec spec_;
  std::unique_ptr<AggTable> table_;
  uint64_t agg_rows_ = 0;
  std::unique_ptr<Build> build_;  // Gathering a column cache entry.
  std::vector<TopRow> top_;       // A heap under Before: the last kept row on top.
  std::vector<Column> top_cols_;
  uint64_t seq_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<FieldType>> OutputTypes(const pb::DagRequest& dag) {
  absl::StatusOr<Plan> p = DecodePlan(dag);
  if (!p.ok()) return p.status();
  std::vector<FieldType> out;
  for (uint32_t o : p->offsets) out.push_back(p->out_types[o]);
  return out;
}

namespace {

// The cache's keys of the columns a table scan decodes (Runner::DecodedTypes' order): the
// serialized ColumnInfo (never empty: it has a type), or empty for a handle column, whose
// values an entry's handles are.
std::vector<std::string> DecodedColumnKeys(const Plan& p, const pb::TableScan& ts) {
  std::vector<std::string> keys;
  const size_t n = p.decoded.empty() ? p.scan_types.size() : p.decoded.size();
  for (size_t j = 0; j < n; ++j) {
    const size_t i = p.decoded.empty() ? j : p.decoded[j];
    keys.push_back(p.scan_columns[i].is_handle
                       ? std::string()
                       : ts.columns(static_cast<int>(i)).SerializeAsString());
  }
  return keys;
}

// Fills `col`, a handle column's chunk column, with rows [begin, end) of `e`'s handles
// (kInt64, or kUint64 for an unsigned handle: the same bits, as the row decoder fills it).
void FillHandles(const CachedTable& e, size_t begin, size_t end, Column* col) {
  col->ResizeFixed(end - begin);  // Not NULL.
  const int64_t* src = e.handles.data() + begin;
  if (col->type() == PhysicalType::kInt64) {
    std::copy(src, src + (end - begin), col->Int64Data());
  } else {
    uint64_t* dst = col->Uint64Data();
    for (size_t i = 0; i < end - begin; ++i) dst[i] = static_cast<uint64_t>(src[i]);
  }
}

// The first row of `e` whose key is at or after raw `key`.
size_t LowerRow(const CachedTable& e, std::string_view key) {
  size_t lo = 0, hi = e.handles.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (codec::EncodeRowKey(e.table_id, e.handles[mid]) < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Whether `e` holds every column of `keys` and every range of `req`.
bool Serves(const CachedTable& e, const std::vector<std::string>& keys, const pb::Request& req) {
  for (const std::string& k : keys) {
    if (!k.empty() && e.columns.count(k) == 0) return false;
  }
  for (const pb::KeyRange& r : req.ranges()) {
    if (r.start() < e.start || r.end() > e.end) return false;
  }
  return true;
}

// Feeds the rows of `e` in `req`'s ranges to `run` as chunks of at most `chunk_rows`.
absl::Status ScanCached(const CachedTable& e, const std::vector<std::string>& keys,
                        const pb::Request& req, uint32_t chunk_rows, Runner* run) {
  std::vector<const Column*> cols;  // Null: the handle column.
  for (const std::string& k : keys) cols.push_back(k.empty() ? nullptr : e.columns.at(k).get());
  for (const pb::KeyRange& r : req.ranges()) {
    const size_t end = LowerRow(e, r.end());
    for (size_t pos = LowerRow(e, r.start()); pos < end;) {
      const size_t n = std::min<size_t>(chunk_rows, end - pos);
      Chunk c(run->DecodedTypes(), n);
      for (size_t j = 0; j < cols.size(); ++j) {
        if (cols[j] == nullptr) {
          FillHandles(e, pos, pos + n, &c.column(j));
        } else {
          c.column(j).AppendRange(*cols[j], pos, pos + n);
        }
      }
      pos += n;
      if (!run->OnChunk(std::move(c))) return run->error();
    }
  }
  return absl::OkStatus();
}

// The entry a scan built from what it read (`b`), keeping the columns of the region's
// entry of the same data it replaces.
std::shared_ptr<CachedTable> MakeEntry(const CacheKey& key, int64_t table_id,
                                       const pb::KeyRange& range, uint64_t max_commit_ts,
                                       const std::vector<std::string>& keys, Runner::Build* b,
                                       const CachedTable* old) {
  auto e = std::make_shared<CachedTable>();
  e->table_id = table_id;
  e->region_id = key.region_id;
  e->data_version = key.data_version;
  e->epoch_version = key.epoch_version;
  e->start = range.start();
  e->end = range.end();
  e->max_commit_ts = max_commit_ts;
  e->handles = std::move(b->handles);
  e->bytes = e->handles.size() * sizeof(int64_t);
  for (size_t j = 0; j < keys.size(); ++j) {
    if (keys[j].empty() || e->columns.count(keys[j]) > 0) continue;
    e->bytes += ColumnBytes(b->cols[j]);
    e->columns[keys[j]] = std::make_shared<const Column>(std::move(b->cols[j]));
  }
  if (old != nullptr && old->start == e->start && old->end == e->end &&
      old->handles.size() == e->handles.size() && old->max_commit_ts == e->max_commit_ts) {
    for (const auto& [k, col] : old->columns) {
      if (e->columns.count(k) > 0) continue;
      e->bytes += ColumnBytes(*col);
      e->columns[k] = col;
    }
  }
  return e;
}

}  // namespace

absl::Status RunDag(const pb::Request& req, SnapshotReader* reader, pb::Response* resp,
                    ColumnCache* cache) {
  absl::StatusOr<Plan> plan = DecodePlan(req.dag());
  if (!plan.ok()) return plan.status();
  // Ranges: ascending and disjoint, each inside the scanned table or index.
  const std::string prefix = plan->index ? codec::EncodeIndexPrefix(plan->table_id, plan->index_id)
                                         : codec::EncodeRecordPrefix(plan->table_id);
  const std::string prefix_end = codec::PrefixNext(prefix);
  std::string prev_end;
  for (int i = 0; i < req.ranges_size(); ++i) {
    const pb::KeyRange& r = req.ranges(i);
    if (r.end().empty() || r.start() >= r.end()) {
      return Bad(absl::StrCat("range ", i, " is empty or unbounded"));
    }
    if (r.start() < prefix || r.end() > prefix_end) {
      return Bad(absl::StrCat("range ", i, " outside the scanned table or index"));
    }
    if (i > 0 && r.start() < prev_end) return Bad("ranges out of order or overlapping");
    prev_end = r.end();
  }
  const uint32_t chunk_rows = req.dag().chunk_rows() == 0
                                  ? kMaxChunkSize
                                  : std::min<uint32_t>(req.dag().chunk_rows(), 1u << 16);
  Runner run(&*plan, resp, chunk_rows);
  absl::Status s = run.Init(req.dag().eval());
  if (!s.ok()) return s;
  // The column cache: ascending table scans of a snapshot whose data version is known.
  CacheKey key;
  if (cache != nullptr && !plan->index && !plan->desc && cache->capacity() > 0) {
    key = reader->cache_key();
  }
  std::vector<std::string> col_keys;
  bool build = false;
  if (key.data_version != 0 && key.region_id != 0) {
    col_keys = DecodedColumnKeys(*plan, req.dag().executors(0).table_scan());
    std::shared_ptr<const CachedTable> e = cache->Lookup(key, plan->table_id);
    if (e != nullptr && Serves(*e, col_keys, req)) {
      cache->CountHit();
      s = ScanCached(*e, col_keys, req, chunk_rows, &run);
      if (!s.ok()) return s;
      return run.Finish();
    }
    // One range (a region's part of a table scan): read it tracing versions and keep it,
    // unless the region's entry of the same data holds more of the table.
    build = key.may_build && req.ranges_size() == 1;
    if (build && e != nullptr && e->start <= req.ranges(0).start() &&
        req.ranges(0).end() <= e->end &&
        (e->start != req.ranges(0).start() || e->end != req.ranges(0).end())) {
      build = false;
    }
  }
  if (build) {
    run.StartBuild(cache->max_build_bytes());
    bool latest = false, stopped = false;
    uint64_t max_commit_ts = 0;
    s = reader->ScanLatest(
        req.ranges(0).start(), req.ranges(0).end(),
        [&](std::string_view k, std::string_view v) {
          const bool more = run.OnRow(k, v);
          if (!more) stopped = true;
          return more;
        },
        &latest, &max_commit_ts);
    if (!s.ok()) return s;
    if (!run.error().ok()) return run.error();
    s = run.Finish();
    if (!s.ok()) return s;
    std::unique_ptr<Runner::Build> b = run.TakeBuild();
    if (latest && !stopped && b != nullptr && max_commit_ts <= key.read_ts) {
      std::shared_ptr<const CachedTable> old = cache->Peek(key, plan->table_id);
      cache->Insert(MakeEntry(key, plan->table_id, req.ranges(0), max_commit_ts, col_keys, b.get(),
                              old.get()));
    }
    return absl::OkStatus();
  }
  bool stopped = false;
  for (int k = 0; k < req.ranges_size() && !stopped; ++k) {
    const int i = plan->desc ? req.ranges_size() - 1 - k : k;
    s = reader->Scan(req.ranges(i).start(), req.ranges(i).end(), plan->desc,
                     [&](std::string_view key, std::string_view value) {
                       bool more = run.OnRow(key, value);
                       if (!more) stopped = true;
                       return more;
                     });
    if (!s.ok()) return s;
    if (!run.error().ok()) return run.error();
  }
  return run.Finish();
}

}  // namespace rutile::sql::coprocessor
