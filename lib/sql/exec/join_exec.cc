#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "rutile/env.h"
#include "sql/exec/exec_util.h"
#include "util/sync.h"

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
        out_types_(SchemaTypes(p.schema)),
        out_(out_types_) {
    combined_types_ = left_types_;
    combined_types_.insert(combined_types_.end(), right_types_.begin(), right_types_.end());
    if (p.other) other_.push_back(p.other.get());
  }

  ~JoinExec() override { StopWorkers(); }

  // After an error every later call returns that error: the probe state (tasks handed to
  // stopped workers, rows half emitted) cannot go on.
  absl::Status Next(Chunk* out) override {
    if (!failed_.ok()) return failed_;
    if (!built_) {
      absl::Status s = Build();
      if (!s.ok()) return Fail(std::move(s));
      built_ = true;
    }
    while (!out_.HasFull() && !(left_done_ && in_flight_ == 0)) {
      absl::Status s = p_.inner_lookup    ? ProbeNextLookup()
                       : workers_.empty() ? ProbeNextSerial()
                                          : ProbeNextParallel();
      if (!s.ok()) return Fail(std::move(s));
    }
    if (out_.Empty()) {
      *out = Chunk(SchemaTypes(p_.schema));
      return absl::OkStatus();
    }
    out_.Take(out);
    // The rows handed out no longer count against the quota.
    const int64_t taken = std::min(out_bytes_, RowBytes(out->NumRows(), out_types_.size()));
    out_bytes_ -= taken;
    return mem_.Add(-taken);
  }

 private:
  static constexpr uint32_t kNoRow = UINT32_MAX;

  // Whether both sides' single key is a signed integer column: the table is then keyed
  // by the int64 itself (equal integers hash alike; NULLs never match).
  bool IntKeyed() const {
    return p_.left_keys.size() == 1 &&
           PhysicalTypeOf(p_.left_keys[0]->type()) == PhysicalType::kInt64 &&
           PhysicalTypeOf(p_.right_keys[0]->type()) == PhysicalType::kInt64;
  }

  // The hash-key bytes of row `r` of `keys` into `k`; false when a key is NULL.
  static bool RowKey(const std::vector<Column>& keys, const std::vector<expr::ExprPtr>& exprs,
                     size_t r, std::string* k) {
    k->clear();
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].IsNull(r)) return false;
      AppendHashKey(k, keys[i].GetDatum(r, exprs[i]->type()), exprs[i]->type());
    }
    return true;
  }

  absl::Status Build() {
    if (p_.inner_lookup) return absl::OkStatus();  // Per probe chunk (ProbeNextLookup).
    right_all_ = Chunk(right_types_);
    absl::Status s = Drain(right_.get(), &right_all_);
    if (!s.ok()) return s;
    return IndexRight();
  }

  // The hash table over right_all_, counted against the quota (a previous batch's
  // released).
  absl::Status IndexRight() {
    table_.clear();
    int_table_.clear();
    absl::Status s = mem_.Add(-right_bytes_);
    right_bytes_ = RowBytes(right_all_.NumRows(), right_all_.NumCols()) +
                   static_cast<int64_t>(right_all_.NumRows() * 48);  // Hash table entries.
    if (s.ok()) s = mem_.Add(right_bytes_);
    if (!s.ok()) return s;
    if (p_.left_keys.empty()) return absl::OkStatus();
    std::vector<Column> keys;
    s = EvalColumns(ctx_, p_.right_keys, right_all_, &keys);
    if (!s.ok()) return s;
    // Each key's rows are chained through next_ in build order (built back to front so a
    // chain starts at its first row): probes emit matches in build order.
    const size_t n = right_all_.NumRows();
    next_.assign(n, kNoRow);
    int_keyed_ = IntKeyed() && keys[0].type() == PhysicalType::kInt64;
    std::string k;
    for (size_t i = n; i-- > 0;) {
      const uint32_t r = static_cast<uint32_t>(i);
      if (int_keyed_) {
        if (keys[0].IsNull(r)) continue;
        auto [it, fresh] = int_table_.try_emplace(keys[0].GetInt64(r), r);
        if (!fresh) {
          next_[r] = it->second;
          it->second = r;
        }
        continue;
      }
      if (!RowKey(keys, p_.right_keys, r, &k)) continue;
      auto [it, fresh] = table_.try_emplace(k, r);
      if (!fresh) {
        next_[r] = it->second;
        it->second = r;
      }
    }
    return absl::OkStatus();
  }

  // The first build row whose key equals row `r`'s of `keys` (kNoRow: none).
  uint32_t Head(const std::vector<Column>& keys, size_t r, std::string* k) const {
    if (int_keyed_) {
      const Column& c = keys[0];
      if (c.IsNull(r)) return kNoRow;
      int64_t v = 0;
      if (c.type() == PhysicalType::kInt64) {
        v = c.GetInt64(r);
      } else if (c.type() == PhysicalType::kUint64 &&
                 c.GetUint64(r) <= static_cast<uint64_t>(INT64_MAX)) {
        v = static_cast<int64_t>(c.GetUint64(r));
      } else {
        return kNoRow;  // As the byte keys: no other kind equals a signed integer's key.
      }
      auto it = int_table_.find(v);
      return it == int_table_.end() ? kNoRow : it->second;
    }
    if (!RowKey(keys, p_.left_keys, r, k)) return kNoRow;
    auto it = table_.find(*k);
    return it == table_.end() ? kNoRow : it->second;
  }

  // What one prober (the statement's fiber or a worker) uses: its evaluation context,
  // the pending (left row, right row or kNoRow for NULLs) output pairs of the probe chunk,
  // gathered a column at a time into `out`.
  struct ProbeBuf {
    ExecContext* ctx = nullptr;
    Chunk* out = nullptr;
    std::vector<uint32_t> lsel, rsel, cands;
    std::vector<Column> keys;
    std::string k;
  };

  // Probes with left chunk `l`, appending the joined rows to *b.out.
  absl::Status Probe(const Chunk& l, ProbeBuf* b) const {
    std::vector<Column>& keys = b->keys;
    keys.clear();
    if (!p_.left_keys.empty()) {
      absl::Status s = EvalColumns(b->ctx, p_.left_keys, l, &keys);
      if (!s.ok()) return s;
    }
    const bool keyed = !p_.left_keys.empty();
    const bool emit_pairs = p_.type == JoinType::kInner || p_.type == JoinType::kLeft;
    b->lsel.clear();
    b->rsel.clear();
    std::vector<uint32_t>& lsel = b->lsel;
    std::vector<uint32_t>& rsel = b->rsel;
    std::vector<uint32_t>& cands = b->cands;
    for (size_t r = 0; r < l.NumRows(); ++r) {
      const uint32_t lr = static_cast<uint32_t>(r);
      bool matched = false;
      if (other_.empty()) {
        // No other condition: every candidate matches, straight into the output.
        if (keyed) {
          uint32_t h = Head(keys, r, &b->k);
          matched = h != kNoRow;
          if (emit_pairs) {
            for (uint32_t rr = h; rr != kNoRow; rr = next_[rr]) {
              lsel.push_back(lr);
              rsel.push_back(rr);
            }
          }
        } else {
          matched = right_all_.NumRows() > 0;
          if (emit_pairs) {
            for (size_t rr = 0; rr < right_all_.NumRows(); ++rr) {
              lsel.push_back(lr);
              rsel.push_back(static_cast<uint32_t>(rr));
            }
          }
        }
      } else {
        cands.clear();
        if (keyed) {
          for (uint32_t rr = Head(keys, r, &b->k); rr != kNoRow; rr = next_[rr]) {
            cands.push_back(rr);
          }
        } else {
          for (size_t rr = 0; rr < right_all_.NumRows(); ++rr) {
            cands.push_back(static_cast<uint32_t>(rr));
          }
        }
        for (size_t begin = 0; begin < cands.size(); begin += kMaxChunkSize) {
          const size_t end = std::min(cands.size(), begin + kMaxChunkSize);
          Chunk c(combined_types_, end - begin);
          for (size_t j = begin; j < end; ++j) AppendCombined(&c, l, r, cands[j]);
          absl::Status s = FilterChunk(b->ctx, other_, &c);
          if (!s.ok()) return s;
          if (c.NumRows() == 0) continue;
          matched = true;
          if (!emit_pairs) break;
          // The rows that passed, in candidate order: flush what is pending first.
          Flush(l, b);
          b->out->Append(c);
        }
      }
      if ((p_.type == JoinType::kSemi && matched) || (p_.type == JoinType::kAnti && !matched) ||
          (p_.type == JoinType::kLeft && !matched)) {
        lsel.push_back(lr);
        rsel.push_back(kNoRow);
      }
    }
    Flush(l, b);
    return absl::OkStatus();
  }

  // Appends the pending (left row, right row) pairs of probe chunk `l` to *b->out.
  void Flush(const Chunk& l, ProbeBuf* b) const {
    if (b->lsel.empty()) return;
    Chunk& o = *b->out;
    for (size_t i = 0; i < left_types_.size(); ++i) o.column(i).AppendGather(l.column(i), b->lsel);
    if (p_.type == JoinType::kInner || p_.type == JoinType::kLeft) {
      const bool any_null = p_.type == JoinType::kLeft &&
                            std::find(b->rsel.begin(), b->rsel.end(), kNoRow) != b->rsel.end();
      for (size_t i = 0; i < right_types_.size(); ++i) {
        Column& dst = o.column(left_types_.size() + i);
        const Column& src = right_all_.column(i);
        if (!any_null) {
          dst.AppendGather(src, b->rsel);
          continue;
        }
        for (uint32_t rr : b->rsel) {
          if (rr == kNoRow) {
            dst.AppendNull();
          } else {
            dst.AppendFrom(src, rr);
          }
        }
      }
    }
    b->lsel.clear();
    b->rsel.clear();
  }

  absl::Status Fail(absl::Status s) {
    StopWorkers();
    failed_ = std::move(s);
    return failed_;
  }

  // Counts the rows out_ gained since it held `rows_before` against the quota (output
  // waiting for the consumer: one probe chunk can match many build rows).
  absl::Status ChargeOutput(size_t rows_before) {
    const int64_t bytes = RowBytes(out_.buf().NumRows() - rows_before, out_types_.size());
    out_bytes_ += bytes;
    return mem_.Add(bytes);
  }

  // ---- Serial probing, and the switch to parallel ----

  // Whether probing may run on worker fibers (TiDB's parallel hash join probe workers):
  // the probe side's keys and the other condition read only the chunk (no subquery or
  // outer value: those need the statement's fiber).
  bool CanProbeInParallel() const {
    if (ctx_->env == nullptr || ctx_->concurrency <= 1) return false;
    for (const auto& k : p_.left_keys) {
      if (ReadsOutside(*k)) return false;
    }
    return p_.other == nullptr || !ReadsOutside(*p_.other);
  }

  absl::Status ProbeNextSerial() {
    Chunk l;
    absl::Status s = left_->Next(&l);
    if (!s.ok()) return s;
    if (l.NumRows() == 0) {
      left_done_ = true;
      return absl::OkStatus();
    }
    // A full probe chunk means more are likely: the next ones go to workers.
    const bool go_parallel =
        l.NumRows() >= kMaxChunkSize && right_all_.NumRows() > 0 && CanProbeInParallel();
    serial_.ctx = ctx_;
    serial_.out = &out_.buf();
    const size_t before = out_.buf().NumRows();
    s = Probe(l, &serial_);
    if (s.ok()) s = ChargeOutput(before);
    if (!s.ok()) return s;
    if (go_parallel) StartWorkers();
    return absl::OkStatus();
  }

  // ---- Index lookup join: per probe chunk, the inner rows of its distinct keys ----

  absl::Status ProbeNextLookup() {
    Chunk l;
    absl::Status s = left_->Next(&l);
    if (!s.ok()) return s;
    if (l.NumRows() == 0) {
      left_done_ = true;
      return absl::OkStatus();
    }
    std::vector<Column> keys;
    s = EvalColumns(ctx_, p_.left_keys, l, &keys);
    if (!s.ok()) return s;
    absl::flat_hash_map<std::string, bool> seen;
    std::vector<std::vector<Datum>> tuples;
    std::string k;
    for (size_t r = 0; r < l.NumRows(); ++r) {
      if (!RowKey(keys, p_.left_keys, r, &k) || !seen.try_emplace(k, true).second) continue;
      std::vector<Datum> t;
      for (size_t i = 0; i < keys.size(); ++i) {
        t.push_back(keys[i].GetDatum(r, p_.left_keys[i]->type()));
      }
      tuples.push_back(std::move(t));
    }
    right_all_ = Chunk(right_types_);
    if (!tuples.empty()) {
      absl::StatusOr<PlanPtr> read = p_.inner_lookup(tuples);
      if (!read.ok()) return read.status();
      // The batch's read is not part of the statement's plan: EXPLAIN ANALYZE counts it
      // in the join.
      auto* runtime = ctx_->runtime;
      ctx_->runtime = nullptr;
      absl::StatusOr<std::unique_ptr<Executor>> e = BuildExecutor(**read, ctx_);
      ctx_->runtime = runtime;
      if (!e.ok()) return e.status();
      s = Drain(e->get(), &right_all_);
      if (!s.ok()) return s;
      const auto& inner = static_cast<const TableScanNode&>(*p_.children[1]);
      if (inner.filter) {
        s = FilterChunk(ctx_, {inner.filter.get()}, &right_all_);
        if (!s.ok()) return s;
      }
    }
    s = IndexRight();
    if (!s.ok()) return s;
    serial_.ctx = ctx_;
    serial_.out = &out_.buf();
    const size_t before = out_.buf().NumRows();
    s = Probe(l, &serial_);
    if (!s.ok()) return s;
    return ChargeOutput(before);
  }

  // ---- Parallel probing: the build side is shared read-only; the statement's fiber reads
  // probe chunks (the child stays on it), numbers them and hands them to the workers, and
  // emits their results in that order, so the output equals the serial one (warnings too).

  struct ProbeTask {
    uint64_t seq = 0;
    Chunk in;
  };
  struct ProbeResult {
    uint64_t seq = 0;
    Chunk out;
    absl::Status status;
    std::vector<SqlWarning> warnings;
    size_t warning_count = 0;  // Counted by the worker; more than `warnings` past its cap.
  };
  struct Worker {
    explicit Worker(const ExecContext& base) : ctx(base) { ctx.ClearWarnings(); }
    ExecContext ctx;
    ProbeBuf buf;
  };

  void StartWorkers() {
    const int n = ctx_->concurrency;
    tasks_ = std::make_shared<Channel<ProbeTask>>(static_cast<size_t>(2 * n));
    results_ = std::make_shared<Channel<ProbeResult>>();
    running_.Add(n);
    for (int i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<Worker>(*ctx_));
      Worker* w = workers_.back().get();
      WaitGroup done = running_;
      auto tasks = tasks_;
      auto results = results_;
      ctx_->env->Spawn([this, w, done, tasks, results]() mutable {
        while (std::optional<ProbeTask> t = tasks->Pop()) {
          ProbeResult r;
          r.seq = t->seq;
          r.out = Chunk(out_types_);
          w->buf.ctx = &w->ctx;
          w->buf.out = &r.out;
          r.status = Probe(t->in, &w->buf);
          r.warnings = w->ctx.warnings();
          r.warning_count = w->ctx.warning_count();
          w->ctx.ClearWarnings();
          results->Push(std::move(r));
        }
        done.Done();
      });
    }
  }

  // Keeps up to two tasks per worker in flight; appends the next result in order.
  absl::Status ProbeNextParallel() {
    const size_t window = 2 * workers_.size();
    while (!left_done_ && in_flight_ < window) {
      Chunk l;
      absl::Status s = left_->Next(&l);
      if (!s.ok()) return s;
      if (l.NumRows() == 0) {
        left_done_ = true;
        break;
      }
      tasks_->Push(ProbeTask{next_seq_++, std::move(l)});
      ++in_flight_;
    }
    if (in_flight_ == 0) return absl::OkStatus();
    auto it = done_.find(emit_seq_);
    while (it == done_.end()) {
      std::optional<ProbeResult> r = results_->Pop();
      if (!r.has_value()) return absl::InternalError("join probe workers stopped");
      // A result waits here until its turn, then in out_ until handed out: it counts
      // against the quota from now on (a worker cannot touch the statement's account).
      const int64_t bytes = RowBytes(r->out.NumRows(), out_types_.size());
      out_bytes_ += bytes;
      absl::Status charged = mem_.Add(bytes);
      const uint64_t seq = r->seq;
      it = done_.emplace(seq, std::move(*r)).first;
      if (!charged.ok()) return charged;
      if (seq != emit_seq_) it = done_.find(emit_seq_);
    }
    ProbeResult r = std::move(it->second);
    done_.erase(it);
    ++emit_seq_;
    --in_flight_;
    ctx_->AppendWarnings(r.warnings, r.warning_count);
    if (!r.status.ok()) return r.status;
    out_.buf().Append(r.out);
    return absl::OkStatus();
  }

  // Closes the workers' input and waits for them (on every way out once they started);
  // their results are dropped.
  void StopWorkers() {
    if (workers_.empty() || stopped_) return;
    stopped_ = true;
    tasks_->Close();
    running_.Wait();
    results_->Close();
  }

  void AppendCombined(Chunk* c, const Chunk& l, size_t lr, size_t rr) const {
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
  // Key -> first build row with it; next_ chains the rest.
  absl::flat_hash_map<std::string, uint32_t> table_;
  absl::flat_hash_map<int64_t, uint32_t> int_table_;
  std::vector<uint32_t> next_;
  bool int_keyed_ = false;
  int64_t right_bytes_ = 0;  // What right_all_ and its table hold against the quota.
  int64_t out_bytes_ = 0;    // What output not yet handed out holds against it.
  absl::Status failed_;      // The first error Next returned.
  bool built_ = false;
  bool left_done_ = false;
  std::vector<FieldType> out_types_;
  OutputQueue out_;
  MemAccount mem_{ctx_};
  ProbeBuf serial_;
  // Parallel probing (StartWorkers): tasks numbered by next_seq_, results emitted in
  // order from emit_seq_; in_flight_ counts tasks handed out and not yet emitted.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<Channel<ProbeTask>> tasks_;
  std::shared_ptr<Channel<ProbeResult>> results_;
  WaitGroup running_;
  std::map<uint64_t, ProbeResult> done_;
  uint64_t next_seq_ = 0, emit_seq_ = 0;
  size_t in_flight_ = 0;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Executor> NewJoinExec(const JoinNode& p, ExecContext* ctx,
                                      std::unique_ptr<Executor> left,
                                      std::unique_ptr<Executor> right) {
  return std::make_unique<JoinExec>(p, ctx, std::move(left), std::move(right));
}

}  // namespace rutile::sql::exec_internal
