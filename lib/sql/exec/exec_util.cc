#include "sql/exec/exec_util.h"

#include "sql/types/convert.h"

namespace rutile::sql::exec_internal {

bool ReadsOutside(const expr::Expression& e) {
  if (dynamic_cast<const SubqueryExpression*>(&e) != nullptr ||
      dynamic_cast<const CorrelatedColumn*>(&e) != nullptr) {
    return true;
  }
  for (const expr::ExprPtr& c : e.children()) {
    if (ReadsOutside(*c)) return true;
  }
  return false;
}

absl::Status FilterAndLimit(ExecContext* ctx, const std::vector<const expr::Expression*>& conds,
                            std::optional<uint64_t> limit, uint64_t* produced, bool* done,
                            Chunk* chunk) {
  absl::Status s = FilterChunk(ctx, conds, chunk);
  if (!s.ok() || !limit.has_value()) return s;
  if (*produced + chunk->NumRows() >= *limit) {
    *chunk = chunk->Slice(0, *limit - *produced);
    *done = true;
  }
  *produced += chunk->NumRows();
  return absl::OkStatus();
}

absl::Status FilterChunk(ExecContext* ctx, const std::vector<const expr::Expression*>& conds,
                         Chunk* chunk) {
  if (conds.empty() || chunk->NumRows() == 0) return absl::OkStatus();
  std::vector<uint32_t> keep;
  const size_t n = chunk->NumRows();
  std::vector<uint8_t> ok(n, 1);
  for (const expr::Expression* c : conds) {
    Column col;
    absl::Status s = c->EvalChunk(ctx, *chunk, nullptr, &col);
    if (!s.ok()) return s;
    for (size_t i = 0; i < n; ++i) {
      if (!ok[i]) continue;
      if (col.IsNull(i)) {
        ok[i] = 0;
        continue;
      }
      switch (col.type()) {
        case PhysicalType::kInt64:
          ok[i] = col.GetInt64(i) != 0;
          break;
        case PhysicalType::kUint64:
          ok[i] = col.GetUint64(i) != 0;
          break;
        case PhysicalType::kFloat64:
          ok[i] = col.GetFloat64(i) != 0;
          break;
        case PhysicalType::kDecimal:
          ok[i] = !col.GetDecimal(i).IsZero();
          break;
        default: {
          auto b = DatumToBool(ctx, col.GetDatum(i, c->type()), c->type());
          if (!b.ok()) return b.status();
          ok[i] = *b;
        }
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (ok[i]) keep.push_back(static_cast<uint32_t>(i));
  }
  if (keep.size() == n) return absl::OkStatus();
  Chunk out(chunk->types(), keep.size());
  out.AppendGather(*chunk, keep);
  *chunk = std::move(out);
  return absl::OkStatus();
}

absl::Status Drain(Executor* e, Chunk* all) {
  while (true) {
    Chunk c;
    absl::Status s = e->Next(&c);
    if (!s.ok()) return s;
    if (c.NumRows() == 0) return absl::OkStatus();
    all->Append(c);
  }
}

absl::Status EvalColumns(ExecContext* ctx, const std::vector<expr::ExprPtr>& exprs, const Chunk& in,
                         std::vector<Column>* cols) {
  cols->clear();
  for (const auto& e : exprs) {
    Column c;
    absl::Status s = e->EvalChunk(ctx, in, nullptr, &c);
    if (!s.ok()) return s;
    cols->push_back(std::move(c));
  }
  return absl::OkStatus();
}

}  // namespace rutile::sql::exec_internal
