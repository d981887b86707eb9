#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "sql/exec/exec_util.h"
#include "sql/types/compare.h"

namespace rutile::sql::exec_internal {

namespace {

class SortExec : public BlockingExec {
 public:
  SortExec(const SortNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : BlockingExec(SchemaTypes(p.schema)), p_(p), ctx_(ctx), child_(std::move(child)) {}

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
      // Once the heap is full, a row whose first key is strictly worse than the worst
      // kept row's cannot enter: rejected on the typed value, without building datums.
      const Column& first = cols[0];
      const bool first_desc = p_.items[0].desc;
      const bool typed_first =
          first.type() == PhysicalType::kInt64 || first.type() == PhysicalType::kFloat64;
      for (size_t r = 0; r < in.NumRows(); ++r, ++seq) {
        if (typed_first && heap.size() >= limit && !first.IsNull(r)) {
          const Datum& worst = heap.front().keys[0];
          int c = 0;  // This row's first key against the worst kept one's.
          if (first.type() == PhysicalType::kInt64 && worst.kind() == DatumKind::kInt64) {
            const int64_t v = first.GetInt64(r), w = worst.GetInt64();
            c = v < w ? -1 : v > w ? 1 : 0;
          } else if (first.type() == PhysicalType::kFloat64 &&
                     worst.kind() == DatumKind::kFloat64) {
            const double v = first.GetFloat64(r), w = worst.GetDouble();
            c = v < w ? -1 : v > w ? 1 : 0;
          }
          if (first_desc ? c < 0 : c > 0) continue;
        }
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

  absl::Status Consume() override {
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
  MemAccount mem_{ctx_};
};

}  // namespace

std::unique_ptr<Executor> NewSortExec(const SortNode& p, ExecContext* ctx,
                                      std::unique_ptr<Executor> child) {
  return std::make_unique<SortExec>(p, ctx, std::move(child));
}

}  // namespace rutile::sql::exec_internal
