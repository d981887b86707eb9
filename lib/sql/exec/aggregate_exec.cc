// Hash aggregation (TiDB's HashAggExec, DuckDB's PhysicalHashAggregate).
//
// An AggTable holds groups (key values, first-row values, aggregate states) found in the
// chunks it is given. Serially, one table takes every chunk. With ExecContext::env set
// and concurrency > 1, once the input passes one chunk the aggregation runs in parallel:
// this fiber keeps reading the child and hands chunk i (i >= 1) to partial worker
// (i - 1) % N, a fiber with its own AggTable and EvalContext; chunk 0 stays in the
// main table. When the input ends, each worker's groups are merged into the main table
// as partial results (AggState::PartialResult / Merge), partitioned by key hash across
// merge fibers, and the groups are output in the order of their first input row, as the
// serial aggregation does. Chunks go to workers by number, not by who is free, so
// floating-point sums add up the same way on every run.
//
// Memory: new groups are counted against the statement's quota (8175 past it). Workers
// count theirs in an atomic the reading fiber moves into ExecContext between chunks (only
// that fiber touches the ExecContext), so the quota is checked at most a chunk per
// worker late and a failure stops the workers and returns the error.

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "rutile/env.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/aggregate.h"
#include "util/sync.h"

namespace rutile::sql::exec_internal {

namespace {

// Accumulators of the aggregates that take the vectorized path (FastKind): folded into
// the group's AggState as a partial result, so final values (scale, NULL for no rows)
// come from the same code as the row-at-a-time path.
struct FastAcc {
  int64_t count = 0;  // Rows counted (COUNT), or non-NULL rows summed (SUM, AVG).
  __int128 isum = 0;  // SUM/AVG of signed integers (exact; no 2^64 rows fit in memory).
  double dsum = 0;    // SUM/AVG of doubles (added in row order, as Sum::AddValue does).
};
enum class FastKind : uint8_t { kNone, kCount, kIntSum, kRealSum };

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

class AggTable {
 public:
  struct Group {
    std::vector<Datum> keys;
    std::vector<Datum> firsts;
    std::vector<std::unique_ptr<expr::AggState>> states;
    uint64_t first_row = 0;  // Input position of the group's first row.
    bool int_key = false;    // Found through the integer index (else the byte-key index).
  };

  AggTable(const AggregateNode& p, EvalContext* ctx)
      : p_(p), ctx_(ctx), used_fast_(p.aggs.size(), FastKind::kNone) {}

  std::vector<Group>& groups() { return groups_; }

  // Adds the rows of `in`, whose row 0 is input row `first_row`; `*mem_bytes` grows by
  // the estimated size of the groups it creates.
  absl::Status Add(const Chunk& in, uint64_t first_row, int64_t* mem_bytes) {
    const size_t n = in.NumRows();
    absl::Status s = EvalColumns(p_.group_by, in, &keys_);
    if (!s.ok()) return s;
    s = EvalColumns(p_.first_values, in, &firsts_);
    if (!s.ok()) return s;
    args_.resize(p_.aggs.size());
    for (size_t a = 0; a < p_.aggs.size(); ++a) {
      s = EvalColumns(p_.aggs[a].args, in, &args_[a]);
      if (!s.ok()) return s;
    }
    auto new_group = [&](size_t r, std::vector<Datum> kd, bool int_key) {
      *mem_bytes += static_cast<int64_t>(
          sizeof(Group) + 64 + p_.aggs.size() * (sizeof(FastAcc) + sizeof(void*) + kAggStateBytes) +
          (kd.size() + firsts_.size()) * sizeof(Datum));
      Group& g = NewGroup();
      g.keys = std::move(kd);
      g.first_row = first_row + r;
      g.int_key = int_key;
      for (size_t i = 0; i < firsts_.size(); ++i) {
        g.firsts.push_back(firsts_[i].GetDatum(r, p_.first_values[i]->type()));
      }
      return static_cast<uint32_t>(groups_.size() - 1);
    };
    gid_.resize(n);
    if (keys_.empty()) {
      if (groups_.empty()) index_.emplace(std::string(), new_group(0, {}, false));
      std::fill(gid_.begin(), gid_.end(), 0);
    } else if (keys_.size() == 1 && keys_[0].type() == PhysicalType::kInt64) {
      const Column& kc = keys_[0];
      const int64_t* kv = kc.Int64Data();
      const bool nulls = kc.HasNulls();
      for (size_t r = 0; r < n; ++r) {
        if (nulls && kc.IsNull(r)) {
          if (!null_group_) null_group_ = new_group(r, {Datum()}, true);
          gid_[r] = *null_group_;
          continue;
        }
        auto [it, fresh] = int_index_.try_emplace(kv[r], 0);
        if (fresh) it->second = new_group(r, {Datum::Int(kv[r])}, true);
        gid_[r] = it->second;
      }
    } else {
      std::string& k = key_;
      for (size_t r = 0; r < n; ++r) {
        k.clear();
        for (size_t i = 0; i < keys_.size(); ++i) {
          AppendHashKey(&k, keys_[i].GetDatum(r, p_.group_by[i]->type()), p_.group_by[i]->type());
        }
        auto it = index_.find(k);
        if (it == index_.end()) {
          std::vector<Datum> kd;
          kd.reserve(keys_.size());
          for (size_t i = 0; i < keys_.size(); ++i) {
            kd.push_back(keys_[i].GetDatum(r, p_.group_by[i]->type()));
          }
          it = index_.emplace(k, new_group(r, std::move(kd), false)).first;
        }
        gid_[r] = it->second;
      }
    }
    const size_t na = p_.aggs.size();
    for (size_t a = 0; a < na; ++a) {
      FastKind fk = FastKindOf(a, args_[a]);
      if (fk != FastKind::kNone && used_fast_[a] != FastKind::kNone && used_fast_[a] != fk) {
        fk = FastKind::kNone;
      }
      if (fk != FastKind::kNone) used_fast_[a] = fk;
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
          av_.push_back(args_[a][i].GetDatum(r, p_.aggs[a].args[i]->type()));
        }
        s = groups_[gid_[r]].states[a]->Update(ctx_, av_);
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // Folds the vectorized accumulators of every group into its states (and clears them).
  absl::Status FoldFast() {
    const size_t na = p_.aggs.size();
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      Group& g = groups_[gi];
      for (size_t a = 0; a < na; ++a) {
        if (used_fast_[a] == FastKind::kNone) continue;
        FastAcc& f = fast_[gi * na + a];
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
        f = FastAcc();
      }
    }
    return absl::OkStatus();
  }

  // The group of `g`'s key in this table, if any (for merging another table's group).
  std::optional<uint32_t> Find(const Group& g) {
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

  // Adds group `g` (folded: no fast accumulators) as a new group of this table.
  void Adopt(Group g) {
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
    fast_.resize(groups_.size() * p_.aggs.size());
  }

  // Merges group `g` of another table (folded) into this table's group `into`,
  // evaluating in `ctx`.
  absl::Status MergeInto(EvalContext* ctx, uint32_t into, Group& g) {
    Group& dst = groups_[into];
    for (size_t a = 0; a < p_.aggs.size(); ++a) {
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

  // The partition (of `parts`) group `g`'s key falls in.
  size_t PartitionOf(const Group& g, size_t parts) {
    if (g.int_key) {
      if (g.keys[0].IsNull()) return 0;
      return absl::HashOf(g.keys[0].GetInt64()) % parts;
    }
    HashKeyOf(g, &key_);
    return absl::HashOf(key_) % parts;
  }

 private:
  Group& NewGroup() {
    Group g;
    g.states.reserve(p_.aggs.size());
    for (const AggItem& a : p_.aggs) g.states.push_back(expr::NewAggState(a.desc));
    groups_.push_back(std::move(g));
    fast_.resize(groups_.size() * p_.aggs.size());
    return groups_.back();
  }

  void HashKeyOf(const Group& g, std::string* k) const {
    k->clear();
    for (size_t i = 0; i < g.keys.size(); ++i) AppendHashKey(k, g.keys[i], p_.group_by[i]->type());
  }

  absl::Status EvalColumns(const std::vector<expr::ExprPtr>& exprs, const Chunk& in,
                           std::vector<Column>* cols) {
    cols->resize(exprs.size());
    for (size_t i = 0; i < exprs.size(); ++i) {
      absl::Status s = exprs[i]->EvalChunk(ctx_, in, nullptr, &(*cols)[i]);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
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

  const AggregateNode& p_;
  EvalContext* ctx_;
  std::vector<Group> groups_;
  std::vector<FastAcc> fast_;        // groups x aggregates.
  std::vector<FastKind> used_fast_;  // Per aggregate: the vectorized path it took, if any.
  // Group lookup: one integer key by value, any other key list by its hash-key bytes.
  absl::flat_hash_map<int64_t, uint32_t> int_index_;
  std::optional<uint32_t> null_group_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  // Per-chunk scratch.
  std::vector<Column> keys_, firsts_;
  std::vector<std::vector<Column>> args_;
  std::vector<uint32_t> gid_;
  std::vector<Datum> av_;
  std::string key_;
};

class AggregateExec : public BlockingExec {
 public:
  AggregateExec(const AggregateNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : BlockingExec(SchemaTypes(p.schema)), p_(p), ctx_(ctx), child_(std::move(child)) {}

 private:
  // A partial worker: a fiber aggregating the chunks sent to it into its own table.
  struct Worker {
    Worker(const AggregateNode& p, const EvalContext& base) : ctx(base), table(p, &ctx) {
      ctx.ClearWarnings();
    }
    EvalContext ctx;
    AggTable table;
    // Batches of (first input row, chunk).
    Channel<std::vector<std::pair<uint64_t, Chunk>>> input{2};
    std::vector<std::pair<uint64_t, Chunk>> pending;  // The batch being filled.
    absl::Status status;                              // Read after the fiber is done.
    std::atomic<int64_t> mem{0};                      // Bytes of new groups not yet accounted.
    std::atomic<bool> failed{false};
  };

  static constexpr size_t kBatchChunks = 8;

  bool CanRunParallel() const {
    if (ctx_->env == nullptr || ctx_->concurrency <= 1) return false;
    auto outside = [](const std::vector<expr::ExprPtr>& es) {
      for (const auto& e : es) {
        if (ReadsOutside(*e)) return true;
      }
      return false;
    };
    if (outside(p_.group_by) || outside(p_.first_values)) return false;
    for (const AggItem& a : p_.aggs) {
      // GROUP_CONCAT's result depends on the order rows arrive in.
      if (a.desc.kind == expr::AggKind::kGroupConcat || outside(a.args)) return false;
    }
    return true;
  }

  absl::Status Consume() override {
    AggTable main(p_, ctx_);
    std::vector<std::unique_ptr<Worker>> workers;
    WaitGroup running;
    std::atomic<bool> stop{false};
    // Closes the inputs and waits for the workers: on every path out once they started.
    auto finish = [&] {
      for (auto& w : workers) {
        if (!w->pending.empty() && !stop) w->input.Push(std::move(w->pending));
        w->input.Close();
      }
      if (!workers.empty()) running.Wait();
    };
    const bool parallel = CanRunParallel();
    uint64_t rows = 0, chunks = 0;
    bool worker_failed = false;
    absl::Status s;
    while (true) {
      Chunk in;
      s = child_->Next(&in);
      if (!s.ok()) break;
      if (in.NumRows() == 0) break;
      const size_t n = in.NumRows();
      if (chunks == 0 || !parallel) {
        int64_t bytes = 0;
        s = main.Add(in, rows, &bytes);
        if (s.ok()) s = mem_.Add(bytes);
        if (!s.ok()) break;
      } else {
        if (workers.empty()) StartWorkers(&workers, &running, &stop);
        // Chunks go in batches (a fiber hand-off per chunk costs more than aggregating it).
        Worker& w = *workers[((chunks - 1) / kBatchChunks) % workers.size()];
        w.pending.emplace_back(rows, std::move(in));
        if (w.pending.size() == kBatchChunks) {
          w.input.Push(std::move(w.pending));
          w.pending.clear();
          s = CollectWorkers(workers, &worker_failed);
          if (!s.ok() || worker_failed) break;
        }
      }
      rows += n;
      ++chunks;
    }
    if (!s.ok() || worker_failed) stop = true;
    finish();
    if (s.ok()) s = CollectWorkers(workers, &worker_failed);
    if (!s.ok()) return s;
    for (auto& w : workers) {
      if (!w->status.ok()) return w->status;
    }
    s = main.FoldFast();
    if (!s.ok()) return s;
    if (!workers.empty()) {
      s = MergeWorkers(&main, &workers);
      if (!s.ok()) return s;
    }
    std::vector<AggTable::Group>& groups = main.groups();
    if (groups.empty() && p_.group_by.empty()) {
      AggTable::Group g;
      for (const AggItem& a : p_.aggs) g.states.push_back(expr::NewAggState(a.desc));
      g.firsts.assign(p_.first_values.size(), Datum::Null());
      groups.push_back(std::move(g));
    }
    // Groups in the order of their first row (merging appended the workers' new ones).
    std::vector<uint32_t> order(groups.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
    if (!workers.empty()) {
      std::sort(order.begin(), order.end(),
                [&](uint32_t a, uint32_t b) { return groups[a].first_row < groups[b].first_row; });
    }
    std::vector<Datum> row;
    for (uint32_t gi : order) {
      AggTable::Group& g = groups[gi];
      row = g.keys;
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

  void StartWorkers(std::vector<std::unique_ptr<Worker>>* workers, WaitGroup* running,
                    std::atomic<bool>* stop) {
    const int n = ctx_->concurrency;
    running->Add(n);
    for (int i = 0; i < n; ++i) {
      workers->push_back(std::make_unique<Worker>(p_, *ctx_));
      Worker* w = workers->back().get();
      WaitGroup done = *running;
      ctx_->env->Spawn([w, done, stop]() mutable {
        while (std::optional<std::vector<std::pair<uint64_t, Chunk>>> batch = w->input.Pop()) {
          for (auto& [first_row, chunk] : *batch) {
            if (!w->status.ok() || stop->load()) break;  // Drain what is queued.
            int64_t bytes = 0;
            w->status = w->table.Add(chunk, first_row, &bytes);
            w->mem.fetch_add(bytes);
            if (!w->status.ok()) w->failed = true;
          }
        }
        if (w->status.ok() && !stop->load()) w->status = w->table.FoldFast();
        done.Done();
      });
    }
  }

  // Moves what the workers counted into the statement's memory account (8175 past the
  // quota); sets `*failed` when a worker has failed (its status is read once it is done).
  absl::Status CollectWorkers(const std::vector<std::unique_ptr<Worker>>& workers, bool* failed) {
    int64_t bytes = 0;
    for (const auto& w : workers) {
      bytes += w->mem.exchange(0);
      *failed = *failed || w->failed.load();
    }
    return bytes == 0 ? absl::OkStatus() : mem_.Add(bytes);
  }

  void AppendWarnings(const EvalContext& from) {
    for (const SqlWarning& warn : from.warnings()) {
      if (warn.level == WarnLevel::kNote) {
        ctx_->AppendNote(warn.error.code, warn.error.message);
      } else {
        ctx_->AppendWarning(warn.error.code, warn.error.message);
      }
    }
  }

  // Merges the (finished) workers' groups into `main`: each merge fiber takes the
  // groups whose key hashes into its partition, so no two fibers touch one group.
  absl::Status MergeWorkers(AggTable* main, std::vector<std::unique_ptr<Worker>>* workers) {
    for (auto& w : *workers) {
      if (!w->status.ok()) return w->status;
      AppendWarnings(w->ctx);
    }
    // Groups new to `main` are adopted after the partitions merged (the table's index is
    // not shared across fibers); groups it has are merged in place by their partition.
    const size_t parts = workers->size();
    std::vector<std::vector<std::pair<uint32_t, AggTable::Group*>>> merge(parts);
    for (auto& w : *workers) {
      for (AggTable::Group& g : w->table.groups()) {
        std::optional<uint32_t> into = main->Find(g);
        if (into.has_value()) {
          merge[main->PartitionOf(g, parts)].push_back({*into, &g});
        } else {
          // A key new to main but seen by several workers: the first becomes main's.
          main->Adopt(std::move(g));
        }
      }
    }
    std::vector<absl::Status> status(parts);
    std::vector<EvalContext> ctxs(parts, static_cast<const EvalContext&>(*ctx_));
    WaitGroup merged;
    merged.Add(static_cast<int>(parts));
    for (size_t p = 0; p < parts; ++p) {
      WaitGroup done = merged;
      ctxs[p].ClearWarnings();
      ctx_->env->Spawn([&, p, done]() mutable {
        for (auto& [into, g] : merge[p]) {
          status[p] = main->MergeInto(&ctxs[p], into, *g);
          if (!status[p].ok()) break;
        }
        done.Done();
      });
    }
    merged.Wait();
    for (size_t p = 0; p < parts; ++p) {
      if (!status[p].ok()) return status[p];
      AppendWarnings(ctxs[p]);
    }
    return absl::OkStatus();
  }

  const AggregateNode& p_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  MemAccount mem_{ctx_};
};

}  // namespace

std::unique_ptr<Executor> NewAggregateExec(const AggregateNode& p, ExecContext* ctx,
                                           std::unique_ptr<Executor> child) {
  return std::make_unique<AggregateExec>(p, ctx, std::move(child));
}

}  // namespace rutile::sql::exec_internal
