// Hash aggregation (TiDB's HashAggExec, DuckDB's PhysicalHashAggregate).
//
// An AggTable (agg_table.h) holds groups (key values, first-row values, aggregate states)
// found in the chunks it is given. Serially, one table takes every chunk. With ExecContext::env set
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

#include "rutile/env.h"
#include "sql/exec/agg_table.h"
#include "sql/exec/exec_util.h"
#include "sql/expr/aggregate.h"
#include "util/sync.h"

namespace rutile::sql::exec_internal {

AggSpec SpecOf(const AggregateNode& p) {
  AggSpec s;
  for (const expr::ExprPtr& e : p.group_by) s.group_by.push_back(e.get());
  for (const expr::ExprPtr& e : p.first_values) s.first_values.push_back(e.get());
  for (const AggItem& a : p.aggs) {
    AggSpec::Agg g;
    g.desc = &a.desc;
    for (const expr::ExprPtr& e : a.args) g.args.push_back(e.get());
    s.aggs.push_back(std::move(g));
  }
  return s;
}

namespace {

class AggregateExec : public BlockingExec {
 public:
  AggregateExec(const AggregateNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : BlockingExec(SchemaTypes(p.schema)),
        p_(p),
        spec_(SpecOf(p)),
        ctx_(ctx),
        child_(std::move(child)) {}

 private:
  // A partial worker: a fiber aggregating the chunks sent to it into its own table.
  struct Worker {
    Worker(const AggSpec* spec, const EvalContext& base) : ctx(base), table(spec, &ctx) {
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
    AggTable main(&spec_, ctx_);
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
      groups.push_back(main.EmptyGroup());
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
      if (p_.mode == AggMode::kPartial) {
        // Each aggregate's partial columns, then the keys (AggMode::kPartial).
        row.clear();
        for (auto& st : g.states) {
          std::vector<Datum> part = st->PartialResult();
          row.insert(row.end(), std::make_move_iterator(part.begin()),
                     std::make_move_iterator(part.end()));
        }
        row.insert(row.end(), g.keys.begin(), g.keys.end());
        if (!out_.buf().AppendRow(row)) return absl::InternalError("partial row kind mismatch");
        continue;
      }
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
      workers->push_back(std::make_unique<Worker>(&spec_, *ctx_));
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
    ctx_->AppendWarnings(from.warnings(), from.warning_count());
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
  const AggSpec spec_;
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
