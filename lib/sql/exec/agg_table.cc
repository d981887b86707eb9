#include "sql/exec/agg_table.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "sql/exec/executor.h"

namespace rutile::sql {

namespace {

constexpr size_t kAggStateBytes = 96;  // An AggState, roughly.

Decimal Int128ToDecimal(__int128 v) {
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

}  // namespace

AggTable::AggTable(const AggSpec* spec, EvalContext* ctx)
    : spec_(*spec), ctx_(ctx), used_fast_(spec->aggs.size(), FastKind::kNone) {}

AggTable::~AggTable() = default;

uint32_t AggTable::NewGroup(std::vector<Datum> keys, bool int_key, uint64_t first_row, size_t r,
                            bool with_firsts, int64_t* mem_bytes) {
  const size_t na = spec_.aggs.size();
  *mem_bytes += static_cast<int64_t>(sizeof(Group) + 64 +
                                     na * (sizeof(FastAcc) + sizeof(void*) + kAggStateBytes) +
                                     (keys.size() + spec_.first_values.size()) * sizeof(Datum));
  Group g;
  g.keys = std::move(keys);
  g.first_row = first_row + r;
  g.int_key = int_key;
  g.states.reserve(na);
  for (const AggSpec::Agg& a : spec_.aggs) g.states.push_back(expr::NewAggState(*a.desc));
  if (with_firsts) {
    g.firsts.reserve(firsts_.size());
    for (size_t i = 0; i < firsts_.size(); ++i) {
      g.firsts.push_back(firsts_[i].GetDatum(r, spec_.first_values[i]->type()));
    }
  }
  groups_.push_back(std::move(g));
  fast_.resize(groups_.size() * na);
  return static_cast<uint32_t>(groups_.size() - 1);
}

AggTable::Group AggTable::EmptyGroup() const {
  Group g;
  for (const AggSpec::Agg& a : spec_.aggs) g.states.push_back(expr::NewAggState(*a.desc));
  g.firsts.assign(spec_.first_values.size(), Datum::Null());
  return g;
}

void AggTable::AssignGroups(const std::vector<const Column*>& keys, size_t n, uint64_t first_row,
                            bool with_firsts, int64_t* mem_bytes) {
  gid_.resize(n);
  if (keys.empty()) {
    if (groups_.empty()) {
      index_.emplace(std::string(), NewGroup({}, false, first_row, 0, with_firsts, mem_bytes));
    }
    std::fill(gid_.begin(), gid_.end(), 0);
    return;
  }
  if (keys.size() == 1 && keys[0]->type() == PhysicalType::kInt64) {
    const Column& kc = *keys[0];
    const int64_t* kv = kc.Int64Data();
    const bool nulls = kc.HasNulls();
    // Runs of one key (sorted or clustered input) skip the lookup.
    bool have_prev = false;
    int64_t prev_key = 0;
    uint32_t prev_gid = 0;
    for (size_t r = 0; r < n; ++r) {
      if (nulls && kc.IsNull(r)) {
        if (!null_group_) {
          null_group_ = NewGroup({Datum()}, true, first_row, r, with_firsts, mem_bytes);
        }
        gid_[r] = *null_group_;
        continue;
      }
      if (have_prev && kv[r] == prev_key) {
        gid_[r] = prev_gid;
        continue;
      }
      auto [it, fresh] = int_index_.try_emplace(kv[r], 0);
      if (fresh) {
        it->second = NewGroup({Datum::Int(kv[r])}, true, first_row, r, with_firsts, mem_bytes);
      }
      gid_[r] = it->second;
      have_prev = true;
      prev_key = kv[r];
      prev_gid = it->second;
    }
    return;
  }
  std::string& k = key_;
  for (size_t r = 0; r < n; ++r) {
    k.clear();
    for (size_t i = 0; i < keys.size(); ++i) {
      const FieldType& ft = spec_.group_by[i]->type();
      AppendHashKey(&k, keys[i]->GetDatum(r, ft), ft);
    }
    auto it = index_.find(k);
    if (it == index_.end()) {
      std::vector<Datum> kd;
      kd.reserve(keys.size());
      for (size_t i = 0; i < keys.size(); ++i) {
        kd.push_back(keys[i]->GetDatum(r, spec_.group_by[i]->type()));
      }
      it = index_.emplace(k, NewGroup(std::move(kd), false, first_row, r, with_firsts, mem_bytes))
               .first;
    }
    gid_[r] = it->second;
  }
}

bool AggTable::UseFast(size_t a, FastKind fk) {
  if (used_fast_[a] == FastKind::kNone) used_fast_[a] = fk;
  return used_fast_[a] == fk;
}

absl::Status AggTable::Add(const Chunk& in, uint64_t first_row, int64_t* mem_bytes) {
  const size_t n = in.NumRows();
  absl::Status s = EvalColumns(spec_.group_by, in, &keys_);
  if (!s.ok()) return s;
  s = EvalColumns(spec_.first_values, in, &firsts_);
  if (!s.ok()) return s;
  args_.resize(spec_.aggs.size());
  for (size_t a = 0; a < spec_.aggs.size(); ++a) {
    s = EvalColumns(spec_.aggs[a].args, in, &args_[a]);
    if (!s.ok()) return s;
  }
  key_ptrs_.clear();
  for (const Column& c : keys_) key_ptrs_.push_back(&c);
  AssignGroups(key_ptrs_, n, first_row, true, mem_bytes);
  const size_t na = spec_.aggs.size();
  for (size_t a = 0; a < na; ++a) {
    FastKind fk = FastKindOf(a, args_[a]);
    if (fk != FastKind::kNone && !UseFast(a, fk)) fk = FastKind::kNone;
    const Column* col = args_[a].empty() ? nullptr : &args_[a][0];
    const bool nulls = col != nullptr && col->HasNulls();
    FastAcc* acc = fast_.data() + a;  // Group g's accumulator: acc[g * na].
    switch (fk) {
      case FastKind::kCount:
        for (size_t r = 0; r < n; ++r) {
          if (nulls && col->IsNull(r)) continue;
          ++acc[gid_[r] * na].count;
        }
        continue;
      case FastKind::kIntSum: {
        const int64_t* v = col->Int64Data();
        for (size_t r = 0; r < n; ++r) {
          if (nulls && col->IsNull(r)) continue;
          FastAcc& f = acc[gid_[r] * na];
          ++f.count;
          f.isum += v[r];
        }
        continue;
      }
      case FastKind::kRealSum: {
        const double* v = col->Float64Data();
        for (size_t r = 0; r < n; ++r) {
          if (nulls && col->IsNull(r)) continue;
          FastAcc& f = acc[gid_[r] * na];
          ++f.count;
          f.dsum += v[r];
        }
        continue;
      }
      case FastKind::kNone:
        break;
    }
    for (size_t r = 0; r < n; ++r) {
      av_.clear();
      for (size_t i = 0; i < args_[a].size(); ++i) {
        av_.push_back(args_[a][i].GetDatum(r, spec_.aggs[a].args[i]->type()));
      }
      expr::AggState& st = *groups_[gid_[r]].states[a];
      s = st.Update(ctx_, av_);
      *mem_bytes += st.TakeMemDelta();  // What GROUP_CONCAT and DISTINCT buffer.
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status AggTable::AddPartial(const Chunk& in, uint64_t first_row, int64_t* mem_bytes) {
  const size_t n = in.NumRows();
  const size_t na = spec_.aggs.size();
  if (!spec_.first_values.empty()) return absl::InternalError("partial rows with first values");
  std::vector<size_t> at(na + 1, 0);  // Column of aggregate a's first partial value.
  for (size_t a = 0; a < na; ++a)
    at[a + 1] = at[a] + expr::PartialTypes(*spec_.aggs[a].desc).size();
  if (in.NumCols() != at[na] + spec_.group_by.size()) {
    return absl::InternalError("partial aggregate chunk of the wrong width");
  }
  key_ptrs_.clear();
  for (size_t g = 0; g < spec_.group_by.size(); ++g) key_ptrs_.push_back(&in.column(at[na] + g));
  AssignGroups(key_ptrs_, n, first_row, false, mem_bytes);
  for (size_t a = 0; a < na; ++a) {
    FastKind fk = PartialFastKindOf(a);
    const expr::AggKind kind = spec_.aggs[a].desc->kind;
    // The bulk paths read the partial columns' plain arrays.
    const Column& c0 = in.column(at[a]);
    const Column& clast = in.column(at[a + 1] - 1);
    if (fk == FastKind::kCount && c0.type() != PhysicalType::kInt64) fk = FastKind::kNone;
    if (fk == FastKind::kRealSum &&
        (clast.type() != PhysicalType::kFloat64 ||
         (kind == expr::AggKind::kAvg && c0.type() != PhysicalType::kInt64))) {
      fk = FastKind::kNone;
    }
    if (fk != FastKind::kNone && !UseFast(a, fk)) fk = FastKind::kNone;
    FastAcc* acc = fast_.data() + a;
    if (fk == FastKind::kCount) {
      const int64_t* v = c0.Int64Data();
      const bool nulls = c0.HasNulls();
      for (size_t r = 0; r < n; ++r) {
        if (nulls && c0.IsNull(r)) continue;
        acc[gid_[r] * na].count += v[r];
      }
      continue;
    }
    if (fk == FastKind::kRealSum) {
      // SUM: [sum or NULL]; AVG: [count, sum or NULL]. NULL: no rows summed.
      const double* sum = clast.Float64Data();
      const bool nulls = clast.HasNulls();
      const int64_t* cnt = kind == expr::AggKind::kAvg ? c0.Int64Data() : nullptr;
      for (size_t r = 0; r < n; ++r) {
        if (nulls && clast.IsNull(r)) continue;
        FastAcc& f = acc[gid_[r] * na];
        f.count += cnt != nullptr ? cnt[r] : 1;
        f.dsum += sum[r];
      }
      continue;
    }
    for (size_t r = 0; r < n; ++r) {
      av_.clear();
      for (size_t c = at[a]; c < at[a + 1]; ++c) av_.push_back(in.GetDatum(r, c));
      expr::AggState& st = *groups_[gid_[r]].states[a];
      absl::Status s = st.Merge(ctx_, av_);
      *mem_bytes += st.TakeMemDelta();
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status AggTable::FoldFast() {
  const size_t na = spec_.aggs.size();
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& g = groups_[gi];
    for (size_t a = 0; a < na; ++a) {
      if (used_fast_[a] == FastKind::kNone) continue;
      FastAcc& f = fast_[gi * na + a];
      const expr::AggKind kind = spec_.aggs[a].desc->kind;
      Datum sum;
      if (f.count > 0) {
        sum = used_fast_[a] == FastKind::kIntSum ? Datum::Dec(Int128ToDecimal(f.isum))
                                                 : Datum::Double(f.dsum);
      }
      absl::Status s;
      if (kind == expr::AggKind::kCount) {
        if (f.count == 0) continue;  // Merging zero changes nothing.
        Datum n = Datum::Int(f.count);
        s = g.states[a]->Merge(ctx_, std::span<const Datum>(&n, 1));
      } else if (f.count == 0) {
        continue;
      } else if (kind == expr::AggKind::kSum) {
        s = g.states[a]->Merge(ctx_, std::span<const Datum>(&sum, 1));
      } else {
        Datum partial[2] = {Datum::Int(f.count), sum};
        s = g.states[a]->Merge(ctx_, partial);
      }
      if (!s.ok()) return s;
      f = FastAcc();
    }
  }
  return absl::OkStatus();
}

absl::Status AggTable::EmitPartial(const std::vector<FieldType>& types, size_t chunk_rows,
                                   const std::function<absl::Status(Chunk)>& flush) {
  absl::Status s = FoldFast();
  if (!s.ok()) return s;
  if (groups_.empty() && spec_.group_by.empty()) groups_.push_back(EmptyGroup());
  Chunk out(types, chunk_rows);
  std::vector<Datum> row;
  for (const Group& g : groups_) {
    row.clear();
    for (const auto& st : g.states) {
      for (Datum& d : st->PartialResult()) row.push_back(std::move(d));
    }
    row.insert(row.end(), g.keys.begin(), g.keys.end());
    if (!out.AppendRow(row)) return absl::InternalError("partial aggregate row of wrong type");
    if (out.NumRows() >= chunk_rows) {
      s = flush(std::move(out));
      if (!s.ok()) return s;
      out = Chunk(types, chunk_rows);
    }
  }
  if (out.NumRows() == 0) return absl::OkStatus();
  return flush(std::move(out));
}

std::optional<uint32_t> AggTable::Find(const Group& g) {
  if (g.int_key) {
    if (g.keys[0].IsNull()) return null_group_;
    auto it = int_index_.find(g.keys[0].GetInt64());
    if (it == int_index_.end()) return std::nullopt;
    return it->second;
  }
  HashKeyOf(g, &key_);
  auto it = index_.find(key_);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

void AggTable::Adopt(Group g) {
  const uint32_t id = static_cast<uint32_t>(groups_.size());
  if (g.int_key) {
    if (g.keys[0].IsNull()) {
      null_group_ = id;
    } else {
      int_index_.emplace(g.keys[0].GetInt64(), id);
    }
  } else {
    HashKeyOf(g, &key_);
    index_.emplace(key_, id);
  }
  groups_.push_back(std::move(g));
  fast_.resize(groups_.size() * spec_.aggs.size());
}

absl::Status AggTable::MergeInto(EvalContext* ctx, uint32_t into, Group& g) {
  Group& dst = groups_[into];
  for (size_t a = 0; a < spec_.aggs.size(); ++a) {
    std::vector<Datum> partial = g.states[a]->PartialResult();
    absl::Status s = dst.states[a]->Merge(ctx, partial);
    if (!s.ok()) return s;
  }
  if (g.first_row < dst.first_row) {
    dst.first_row = g.first_row;
    dst.firsts = std::move(g.firsts);
  }
  return absl::OkStatus();
}

size_t AggTable::PartitionOf(const Group& g, size_t parts) {
  if (g.int_key) {
    if (g.keys[0].IsNull()) return 0;
    return absl::HashOf(g.keys[0].GetInt64()) % parts;
  }
  HashKeyOf(g, &key_);
  return absl::HashOf(key_) % parts;
}

void AggTable::HashKeyOf(const Group& g, std::string* k) const {
  k->clear();
  for (size_t i = 0; i < g.keys.size(); ++i) {
    AppendHashKey(k, g.keys[i], spec_.group_by[i]->type());
  }
}

absl::Status AggTable::EvalColumns(const std::vector<const expr::Expression*>& exprs,
                                   const Chunk& in, std::vector<Column>* cols) {
  cols->resize(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) {
    absl::Status s = exprs[i]->EvalChunk(ctx_, in, nullptr, &(*cols)[i]);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

AggTable::FastKind AggTable::FastKindOf(size_t a, const std::vector<Column>& args) const {
  const expr::AggDesc& d = *spec_.aggs[a].desc;
  if (d.distinct) return FastKind::kNone;
  if (d.kind == expr::AggKind::kCount) return args.size() <= 1 ? FastKind::kCount : FastKind::kNone;
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

AggTable::FastKind AggTable::PartialFastKindOf(size_t a) const {
  const expr::AggDesc& d = *spec_.aggs[a].desc;
  if (d.distinct) return FastKind::kNone;
  if (d.kind == expr::AggKind::kCount) return FastKind::kCount;
  if ((d.kind == expr::AggKind::kSum || d.kind == expr::AggKind::kAvg) &&
      d.result_type.GetEvalType() == EvalType::kReal && d.arg_types.size() == 1 &&
      d.arg_types[0].GetEvalType() == EvalType::kReal) {
    return FastKind::kRealSum;
  }
  return FastKind::kNone;
}

}  // namespace rutile::sql
