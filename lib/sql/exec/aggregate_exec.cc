#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/aggregate.h"

namespace rutile::sql::exec_internal {

namespace {

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

}  // namespace

std::unique_ptr<Executor> NewAggregateExec(const AggregateNode& p, ExecContext* ctx,
                                           std::unique_ptr<Executor> child) {
  return std::make_unique<AggregateExec>(p, ctx, std::move(child));
}

}  // namespace rutile::sql::exec_internal
