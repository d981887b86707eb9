#include "sql/coprocessor/dag.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "sql/chunk/chunk.h"
#include "sql/chunk/chunk_codec.h"
#include "sql/codec/codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/exec/executor.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expr_pb.h"
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

// How an aggregate accumulates at the coprocessor: through its AggState row by row
// (kGeneric), or in plain integers folded into the state at the end (COUNT, and SUM/AVG
// of signed integers, whose states would otherwise add a DECIMAL per row).
enum FastAgg { kGeneric = 0, kFastCount, kFastSum, kFastAvg };

int FastKind(const expr::AggCall& a) {
  if (a.desc.distinct) return kGeneric;
  if (a.desc.kind == expr::AggKind::kCount) return kFastCount;
  if ((a.desc.kind != expr::AggKind::kSum && a.desc.kind != expr::AggKind::kAvg) ||
      a.args.size() != 1 || a.desc.result_type.GetEvalType() != EvalType::kDecimal) {
    return kGeneric;
  }
  const FieldType& t = a.args[0]->type();
  if (!t.IsInteger() || t.IsUnsigned() || PhysicalTypeOf(t) != PhysicalType::kInt64) {
    return kGeneric;
  }
  return a.desc.kind == expr::AggKind::kSum ? kFastSum : kFastAvg;
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
  std::optional<codec::RowDecoder> row_decoder;
  // Selection.
  std::vector<expr::ExprPtr> conds;
  // Partial aggregation; `fast[a]` says how aggregate a accumulates (see Runner::Fast).
  bool agg = false;
  std::vector<int> fast;
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
    p.row_decoder.emplace(std::move(cols));
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
        p.fast.push_back(FastKind(*call));
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
  Runner(Plan* p, pb::Response* resp, uint32_t chunk_rows)
      : p_(*p), resp_(resp), chunk_rows_(chunk_rows) {}

  absl::Status Init(const sqlexprpb::EvalConfig& cfg) {
    absl::Status s = expr::EvalConfigFromPb(cfg, &ctx_);
    if (!s.ok()) return s;
    in_ = Chunk(p_.scan_types, chunk_rows_);
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
    }
    if (!err_.ok()) return false;
    if (in_.NumRows() >= chunk_rows_) {
      err_ = Flush();
      if (!err_.ok()) return false;
    }
    return !done_;
  }

  absl::Status error() const { return err_; }

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
    in_ = Chunk(p_.scan_types, chunk_rows_);
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
    if (p_.agg) return Aggregate(chunk);
    if (p_.topn.has_value()) return CollectTopN(std::move(chunk));
    return Emit(std::move(chunk));
  }

  absl::Status Aggregate(const Chunk& chunk) {
    const size_t n = chunk.NumRows();
    std::vector<Column> gcols(p_.group_by.size());
    for (size_t g = 0; g < p_.group_by.size(); ++g) {
      absl::Status s = p_.group_by[g]->EvalChunk(&ctx_, chunk, nullptr, &gcols[g]);
      if (!s.ok()) return s;
    }
    std::vector<std::vector<Column>> acols(p_.aggs.size());
    for (size_t a = 0; a < p_.aggs.size(); ++a) {
      acols[a].resize(p_.aggs[a].args.size());
      for (size_t j = 0; j < p_.aggs[a].args.size(); ++j) {
        absl::Status s = p_.aggs[a].args[j]->EvalChunk(&ctx_, chunk, nullptr, &acols[a][j]);
        if (!s.ok()) return s;
      }
    }
    std::string key;
    std::vector<Datum> args;
    for (size_t i = 0; i < n; ++i) {
      key.clear();
      for (size_t g = 0; g < gcols.size(); ++g) {
        AppendHashKey(&key, gcols[g].GetDatum(i, p_.group_by[g]->type()), p_.group_by[g]->type());
      }
      auto [it, inserted] = index_.try_emplace(key, groups_.size());
      if (inserted) {
        groups_.emplace_back();
        Group& grp = groups_.back();
        for (size_t g = 0; g < gcols.size(); ++g) {
          grp.keys.push_back(gcols[g].GetDatum(i, p_.group_by[g]->type()));
        }
        for (const expr::AggCall& a : p_.aggs) grp.states.push_back(expr::NewAggState(a.desc));
        grp.acc.resize(p_.aggs.size());
      }
      Group& grp = groups_[it->second];
      for (size_t a = 0; a < p_.aggs.size(); ++a) {
        if (p_.fast[a] != kGeneric) {
          bool null = false;
          for (const Column& c : acols[a]) null = null || c.IsNull(i);
          if (null) continue;
          Acc& acc = grp.acc[a];
          if (p_.fast[a] != kFastCount) {
            int64_t sum = 0;
            if (__builtin_add_overflow(acc.sum, acols[a][0].GetInt64(i), &sum)) {
              absl::Status s = Fold(a, &grp);
              if (!s.ok()) return s;
              sum = acols[a][0].GetInt64(i);
            }
            acc.sum = sum;
            acc.has = true;
          }
          ++acc.count;
          continue;
        }
        args.clear();
        for (size_t j = 0; j < acols[a].size(); ++j) {
          args.push_back(acols[a][j].GetDatum(i, p_.aggs[a].args[j]->type()));
        }
        absl::Status s = grp.states[a]->Update(&ctx_, args);
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status EmitGroups() {
    if (groups_.empty() && p_.group_by.empty()) {
      // A scalar aggregation answers one row even over no input, as the final one does.
      groups_.emplace_back();
      for (const expr::AggCall& a : p_.aggs) {
        groups_.back().states.push_back(expr::NewAggState(a.desc));
      }
    }
    Chunk out(p_.out_types, chunk_rows_);
    std::vector<Datum> row;
    for (Group& g : groups_) {
      for (size_t a = 0; a < p_.aggs.size() && !g.acc.empty(); ++a) {
        absl::Status s = Fold(a, &g);
        if (!s.ok()) return s;
      }
      row.clear();
      for (const auto& st : g.states) {
        for (Datum& d : st->PartialResult()) row.push_back(std::move(d));
      }
      for (const Datum& d : g.keys) row.push_back(d);
      if (!out.AppendRow(row)) return absl::InternalError("partial aggregate row of wrong type");
      if (out.NumRows() >= chunk_rows_) {
        Chunk full = std::move(out);
        out = Chunk(p_.out_types, chunk_rows_);
        absl::Status s = p_.topn.has_value() ? CollectTopN(std::move(full)) : Emit(std::move(full));
        if (!s.ok()) return s;
      }
    }
    if (out.NumRows() == 0) return absl::OkStatus();
    return p_.topn.has_value() ? CollectTopN(std::move(out)) : Emit(std::move(out));
  }

  // TopN: keeps at most 2 x limit candidate rows, trimming by sort when over.
  absl::Status CollectTopN(Chunk chunk) {
    const size_t n = chunk.NumRows();
    std::vector<Column> cols(p_.order_by.size());
    for (size_t k = 0; k < p_.order_by.size(); ++k) {
      absl::Status s = p_.order_by[k]->EvalChunk(&ctx_, chunk, nullptr, &cols[k]);
      if (!s.ok()) return s;
    }
    for (size_t i = 0; i < n; ++i) {
      TopRow r;
      for (size_t k = 0; k < cols.size(); ++k) {
        r.keys.push_back(cols[k].GetDatum(i, p_.order_by[k]->type()));
      }
      r.row = chunk.GetRow(i);
      r.seq = seq_++;
      top_.push_back(std::move(r));
    }
    if (top_.size() > 2 * std::max<uint64_t>(*p_.topn, 512)) TrimTopN();
    return absl::OkStatus();
  }

  void TrimTopN() {
    auto before = [&](const TopRow& a, const TopRow& b) {
      for (size_t k = 0; k < a.keys.size(); ++k) {
        int c = CompareDatum(a.keys[k], b.keys[k], p_.order_by[k]->type().collation);
        if (c != 0) return p_.order_desc[k] ? c > 0 : c < 0;
      }
      return a.seq < b.seq;
    };
    const size_t keep = std::min<uint64_t>(*p_.topn, top_.size());
    std::partial_sort(top_.begin(), top_.begin() + static_cast<std::ptrdiff_t>(keep), top_.end(),
                      before);
    top_.resize(keep);
  }

  absl::Status EmitTopN() {
    TrimTopN();
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

  struct Acc {
    int64_t count = 0;
    int64_t sum = 0;
    bool has = false;
  };
  struct Group {
    std::vector<Datum> keys;
    std::vector<std::unique_ptr<expr::AggState>> states;
    std::vector<Acc> acc;  // Per aggregate, for the fast ones.
  };

  // Moves what the fast accumulator of aggregate `a` holds into its state, as a partial
  // result (merging is associative), and clears it.
  absl::Status Fold(size_t a, Group* g) {
    Acc& acc = g->acc[a];
    if (p_.fast[a] == kGeneric || acc.count == 0) return absl::OkStatus();
    Datum sum = acc.has ? Datum::Dec(Decimal::FromInt64(acc.sum)) : Datum();
    std::vector<Datum> partial;
    switch (p_.fast[a]) {
      case kFastCount:
        partial = {Datum::Int(acc.count)};
        break;
      case kFastSum:
        partial = {std::move(sum)};
        break;
      default:
        partial = {Datum::Int(acc.count), std::move(sum)};
        break;
    }
    acc = Acc();
    return g->states[a]->Merge(&ctx_, partial);
  }
  struct TopRow {
    std::vector<Datum> keys;
    std::vector<Datum> row;
    uint64_t seq = 0;
  };

  Plan& p_;
  pb::Response* resp_;
  const uint32_t chunk_rows_;
  EvalContext ctx_;
  Chunk in_;
  std::vector<Datum> row_;
  absl::Status err_;
  bool done_ = false;
  uint64_t scanned_ = 0;
  uint64_t emitted_ = 0;
  // Groups in first-seen order, and their index by hash key.
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<Group> groups_;
  std::vector<TopRow> top_;
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

absl::Status RunDag(const pb::Request& req, SnapshotReader* reader, pb::Response* resp) {
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
