#include "sql/planner/binder.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"
#include "sql/expr/registry.h"
#include "sql/parser/parser.h"
#include "sql/planner/agg_pushdown.h"
#include "sql/planner/cardinality.h"
#include "sql/planner/join_order.h"
#include "sql/planner/ranger.h"
#include "sql/types/compare.h"
#include "sql/types/convert.h"
#include "sql/types/infer.h"

namespace rutile::sql {

struct AggInfo {
  std::vector<std::string> group_texts;
  std::vector<int> group_cols;
  std::vector<std::string> agg_texts;
  std::vector<FieldType> out_types;
  size_t n_group = 0;
  // Without ONLY_FULL_GROUP_BY: non-grouped columns read the group's first row.
  bool full_group_by = true;
  AggregateNode* node = nullptr;
  std::map<int, size_t> first_pos;
};

struct Scope {
  const Schema* schema = nullptr;
  Scope* parent = nullptr;
  std::vector<Correlation>* corr = nullptr;
  const AggInfo* agg = nullptr;
  // Select-list aliases (ORDER BY, HAVING).
  const std::vector<std::pair<std::string, const Expr*>>* aliases = nullptr;
  // Clause name for error messages.
  const char* clause = "field list";
};

namespace {

// `child` filtered by `conditions` (a SelectionNode with the child's schema).
PlanPtr Filtered(PlanPtr child, std::vector<expr::ExprPtr> conditions) {
  auto sel = std::make_shared<SelectionNode>();
  sel->schema = child->schema;
  sel->children.push_back(std::move(child));
  sel->conditions = std::move(conditions);
  return sel;
}

// An information_schema table with only the rows `visible` lets the account see: every
// table there has TABLE_SCHEMA (SCHEMA_NAME in SCHEMATA) second and, but for SCHEMATA,
// TABLE_NAME third.
TablePtr VisibleRows(const TablePtr& t,
                     const std::function<bool(std::string_view, std::string_view)>& visible) {
  if (t->memory_rows == nullptr) return t;
  const bool schemata = t->name == "SCHEMATA";
  auto rows = std::make_shared<std::vector<std::vector<Datum>>>();
  for (const std::vector<Datum>& row : *t->memory_rows) {
    if (row.size() < 3 || row[1].IsNull() || row[2].IsNull()) continue;
    const std::string db = row[1].ToString();
    if (Catalog::IsInfoSchema(db) || visible(db, schemata ? "" : row[2].ToString())) {
      rows->push_back(row);
    }
  }
  auto copy = std::make_shared<TableInfo>(*t);
  copy->memory_rows = std::move(rows);
  return copy;
}

absl::Status Err(uint16_t code, std::string msg) { return MySqlErrorStatus(code, std::move(msg)); }

bool NameEq(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(absl::string_view(a.data(), a.size()),
                                absl::string_view(b.data(), b.size()));
}

// Calls f on each direct child expression of `e` (not descending into subqueries).
template <typename F>
void ForEachChild(const Expr& e, F&& f) {
  auto visit = [&](const ExprPtr& c) {
    if (c) f(*c);
  };
  if (auto* u = dynamic_cast<const UnaryExpr*>(&e)) {
    visit(u->operand);
  } else if (auto* b = dynamic_cast<const BinaryExpr*>(&e)) {
    visit(b->left);
    visit(b->right);
  } else if (auto* i = dynamic_cast<const IsExpr*>(&e)) {
    visit(i->operand);
  } else if (auto* bt = dynamic_cast<const BetweenExpr*>(&e)) {
    visit(bt->operand);
    visit(bt->low);
    visit(bt->high);
  } else if (auto* in = dynamic_cast<const InExpr*>(&e)) {
    visit(in->operand);
    for (const auto& x : in->list) visit(x);
  } else if (auto* p = dynamic_cast<const PatternExpr*>(&e)) {
    visit(p->operand);
    visit(p->pattern);
    visit(p->escape);
  } else if (auto* cs = dynamic_cast<const CompareSubqueryExpr*>(&e)) {
    visit(cs->left);
  } else if (auto* co = dynamic_cast<const CollateExpr*>(&e)) {
    visit(co->operand);
  } else if (auto* iv = dynamic_cast<const IntervalExpr*>(&e)) {
    visit(iv->value);
  } else if (auto* ce = dynamic_cast<const CaseExpr*>(&e)) {
    visit(ce->operand);
    for (const auto& w : ce->whens) {
      visit(w.condition);
      visit(w.result);
    }
    visit(ce->else_result);
  } else if (auto* ca = dynamic_cast<const CastExpr*>(&e)) {
    visit(ca->operand);
  } else if (auto* fc = dynamic_cast<const FuncCallExpr*>(&e)) {
    for (const auto& x : fc->args) visit(x);
  } else if (auto* ag = dynamic_cast<const AggregateExpr*>(&e)) {
    for (const auto& x : ag->args) visit(x);
  } else if (auto* r = dynamic_cast<const RowExpr*>(&e)) {
    for (const auto& x : r->items) visit(x);
  }
}

void CollectAggs(const Expr& e, std::vector<const AggregateExpr*>* out) {
  if (auto* a = dynamic_cast<const AggregateExpr*>(&e)) {
    out->push_back(a);
    return;
  }
  ForEachChild(e, [&](const Expr& c) { CollectAggs(c, out); });
}

void SplitAnd(const Expr* e, std::vector<const Expr*>* out) {
  if (e == nullptr) return;
  if (auto* b = dynamic_cast<const BinaryExpr*>(e); b && b->op == BinaryOp::kAnd) {
    SplitAnd(b->left.get(), out);
    SplitAnd(b->right.get(), out);
    return;
  }
  out->push_back(e);
}

void CollectColumns(const expr::Expression& e, std::set<size_t>* out) {
  if (auto* c = dynamic_cast<const expr::ColumnRef*>(&e)) {
    out->insert(c->index());
    return;
  }
  for (const auto& ch : e.children()) CollectColumns(*ch, out);
}

const char* BinaryFuncName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kXor:
      return "xor";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kEq:
      return "eq";
    case BinaryOp::kNullSafeEq:
      return "nulleq";
    case BinaryOp::kNe:
      return "ne";
    case BinaryOp::kLt:
      return "lt";
    case BinaryOp::kLe:
      return "le";
    case BinaryOp::kGt:
      return "gt";
    case BinaryOp::kGe:
      return "ge";
    case BinaryOp::kBitOr:
      return "bitor";
    case BinaryOp::kBitAnd:
      return "bitand";
    case BinaryOp::kShl:
      return "leftshift";
    case BinaryOp::kShr:
      return "rightshift";
    case BinaryOp::kPlus:
      return "plus";
    case BinaryOp::kMinus:
      return "minus";
    case BinaryOp::kMul:
      return "mul";
    case BinaryOp::kDiv:
      return "div";
    case BinaryOp::kIntDiv:
      return "intdiv";
    case BinaryOp::kMod:
      return "mod";
    case BinaryOp::kBitXor:
      return "bitxor";
    case BinaryOp::kAssign:
      return "assign";
  }
  return "?";
}

bool IsNondeterministic(const std::string& name) {
  static const std::set<std::string> kNames = {"rand",
                                               "now",
                                               "sysdate",
                                               "uuid",
                                               "curdate",
                                               "current_date",
                                               "curtime",
                                               "current_time",
                                               "current_timestamp",
                                               "localtime",
                                               "localtimestamp",
                                               "unix_timestamp",
                                               "utc_timestamp",
                                               "sleep"};
  return kNames.count(name) > 0;
}

expr::ExprPtr AndAll(std::vector<expr::ExprPtr> es) {
  if (es.empty()) return nullptr;
  expr::ExprPtr acc = std::move(es[0]);
  for (size_t i = 1; i < es.size(); ++i) {
    std::vector<expr::ExprPtr> args;
    args.push_back(std::move(acc));
    args.push_back(std::move(es[i]));
    auto r = expr::NewFunction("and", std::move(args));
    acc = *std::move(r);
  }
  return acc;
}

// Finds a column: index, -1 when absent, -2 when ambiguous.
int FindColumn(const Schema& schema, const ColumnRefExpr& c) {
  int found = -1;
  for (size_t i = 0; i < schema.size(); ++i) {
    const OutputColumn& oc = schema[i];
    if (!NameEq(oc.name, c.column)) continue;
    if (!c.table.empty() && !NameEq(oc.table, c.table)) continue;
    if (!c.db.empty() && !NameEq(oc.db, c.db)) continue;
    if (oc.hidden && c.table.empty() && !NameEq(oc.name, "_tidb_rowid")) continue;
    if (found >= 0) return -2;
    found = static_cast<int>(i);
  }
  return found;
}

std::string ColumnText(const ColumnRefExpr& c) {
  std::string s;
  if (!c.db.empty()) absl::StrAppend(&s, c.db, ".");
  if (!c.table.empty()) absl::StrAppend(&s, c.table, ".");
  absl::StrAppend(&s, c.column);
  return s;
}

bool HashCompatible(const FieldType& a, const FieldType& b) {
  EvalType ea = a.GetEvalType(), eb = b.GetEvalType();
  if (ea != eb) return false;
  if (ea == EvalType::kString) return a.collation == b.collation;
  return ea == EvalType::kInt || ea == EvalType::kDecimal || ea == EvalType::kReal ||
         ea == EvalType::kDatetime || ea == EvalType::kDuration;
}

// An index lookup join is chosen by cost when the outer side's estimated rows times this
// stay below the inner table's rows (a lookup costs a seek and a random row read; the hash
// join reads the inner table once, sequentially).
constexpr double kIndexJoinRowFactor = 10;

// The most tables one FROM clause joins (the join graph keeps a table set in a uint64_t).
constexpr size_t kMaxJoinTables = 64;

// The table names (aliases) `ref` brings into scope.
void CollectAliases(const TableRef& ref, std::set<std::string>* out) {
  if (auto* t = dynamic_cast<const TableName*>(&ref)) {
    out->insert(absl::AsciiStrToLower(t->alias.empty() ? t->name : t->alias));
  } else if (auto* d = dynamic_cast<const DerivedTable*>(&ref)) {
    out->insert(absl::AsciiStrToLower(d->alias));
  } else if (auto* j = dynamic_cast<const JoinRef*>(&ref)) {
    CollectAliases(*j->left, out);
    CollectAliases(*j->right, out);
  }
}

// Whether some conjunct is a comparison (=, <>, <, <=, >, >=) with an operand that is a
// column qualified by a table of `inner`: NULL there makes it NULL, so it rejects the
// NULL-extended rows of an outer join with `inner` as the inner side.
bool NullRejects(const std::vector<const Expr*>& conds, const TableRef& inner) {
  std::set<std::string> aliases;
  CollectAliases(inner, &aliases);
  auto inner_col = [&](const Expr* e) {
    auto* c = dynamic_cast<const ColumnRefExpr*>(e);
    return c != nullptr && !c->table.empty() && aliases.count(absl::AsciiStrToLower(c->table)) > 0;
  };
  for (const Expr* c : conds) {
    auto* b = dynamic_cast<const BinaryExpr*>(c);
    if (b == nullptr) continue;
    switch (b->op) {
      case BinaryOp::kEq:
      case BinaryOp::kNe:
      case BinaryOp::kLt:
      case BinaryOp::kLe:
      case BinaryOp::kGt:
      case BinaryOp::kGe:
        if (inner_col(b->left.get()) || inner_col(b->right.get())) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

Binder::Binder(BindOptions opts)
    : opts_(std::move(opts)),
      stack_base_(reinterpret_cast<uintptr_t>(__builtin_frame_address(0))) {}
Binder::~Binder() = default;

absl::Status Binder::CheckStack(int max_levels) const {
  const uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const size_t used = stack_base_ > here ? stack_base_ - here : 0;
  if (depth_ <= max_levels && used <= opts_.max_stack_bytes) return absl::OkStatus();
  // MySQL's check_stack_overrun reports this for a statement nested too deeply.
  return Err(1436, absl::StrCat("Thread stack overrun:  ", used, " bytes used of a ",
                                opts_.max_stack_bytes,
                                " byte stack: the statement's expressions or subqueries nest "
                                "too deeply"));
}

absl::StatusOr<Datum> Binder::EvalConstant(ExecContext* ctx, const expr::Expression& e) {
  Chunk empty(std::vector<FieldType>{FieldType::LongLong()});
  std::vector<Datum> row = {Datum::Int(0)};
  empty.AppendRow(row);
  return e.Eval(ctx, empty, 0);
}

absl::StatusOr<expr::ExprPtr> Binder::BindFunction(const std::string& name,
                                                   std::vector<expr::ExprPtr> args) {
  bool all_const = true;
  for (const auto& a : args) all_const = all_const && a->IsConstant();
  auto f = expr::NewFunction(name, std::move(args));
  if (!f.ok()) return f.status();
  if (all_const && !IsNondeterministic(name)) {
    ExecContext scratch;
    auto v = EvalConstant(&scratch, **f);
    if (v.ok() && scratch.warning_count() == 0) {
      return expr::NewConstant(*v, (*f)->type());
    }
  }
  return f;
}

absl::StatusOr<TablePtr> Binder::ResolveTable(const TableName& t) {
  std::string db = t.db.empty() ? opts_.db : t.db;
  if (db.empty()) return Err(kErNoDb, "No database selected");
  if (Catalog::IsInfoSchema(db)) {
    auto table = opts_.catalog->InfoSchemaTable(t.name);
    if (!table.ok() || opts_.visible == nullptr || !*opts_.visible) return table;
    return VisibleRows(*table, *opts_.visible);
  }
  return opts_.catalog->GetTable(db, t.name);
}

absl::StatusOr<expr::ExprPtr> Binder::BindOver(const Expr& e, const Schema& schema) {
  Scope s;
  s.schema = &schema;
  return Bind(e, &s);
}

absl::StatusOr<expr::ExprPtr> Binder::Bind(const Expr& e, Scope* s) {
  ++depth_;
  if (absl::Status st = CheckStack(400); !st.ok()) {
    --depth_;
    return st;
  }
  absl::StatusOr<expr::ExprPtr> r;
  if (s->agg != nullptr) {
    const AggInfo& ai = *s->agg;
    if (dynamic_cast<const ColumnRefExpr*>(&e) == nullptr &&
        dynamic_cast<const LiteralExpr*>(&e) == nullptr) {
      const std::string text = RestoreSql(e);
      for (size_t i = 0; i < ai.agg_texts.size(); ++i) {
        if (ai.agg_texts[i] == text) {
          --depth_;
          return expr::NewColumn(ai.n_group + i, ai.out_types[ai.n_group + i], text);
        }
      }
      for (size_t i = 0; i < ai.group_texts.size(); ++i) {
        if (ai.group_texts[i] == text) {
          --depth_;
          return expr::NewColumn(i, ai.out_types[i], text);
        }
      }
    }
  }
  r = BindSimple(e, s);
  --depth_;
  return r;
}

// The operators deep expressions nest most (AND/OR chains, comparisons, NOT) in a small
// stack frame, without BindInner's dispatch.
__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindSimple(const Expr& e,
                                                                           Scope* s) {
  if (auto* b = dynamic_cast<const BinaryExpr*>(&e);
      b != nullptr && b->op != BinaryOp::kAssign &&
      dynamic_cast<const RowExpr*>(b->left.get()) == nullptr &&
      dynamic_cast<const RowExpr*>(b->right.get()) == nullptr &&
      dynamic_cast<const IntervalExpr*>(b->left.get()) == nullptr &&
      dynamic_cast<const IntervalExpr*>(b->right.get()) == nullptr) {
    std::vector<expr::ExprPtr> args(2);
    auto l = Bind(*b->left, s);
    if (!l.ok()) return l.status();
    args[0] = *std::move(l);
    auto r = Bind(*b->right, s);
    if (!r.ok()) return r.status();
    args[1] = *std::move(r);
    return BindFunction(BinaryFuncName(b->op), std::move(args));
  }
  if (auto* u = dynamic_cast<const UnaryExpr*>(&e); u != nullptr && u->op == UnaryOp::kNot) {
    std::vector<expr::ExprPtr> args(1);
    auto a = Bind(*u->operand, s);
    if (!a.ok()) return a.status();
    args[0] = *std::move(a);
    return BindFunction("not", std::move(args));
  }
  return BindInner(e, s);
}

absl::StatusOr<expr::ExprPtr> Binder::BindColumn(const ColumnRefExpr& c, Scope* s) {
  if (s->aliases != nullptr && c.table.empty()) {
    for (const auto& [alias, ast] : *s->aliases) {
      if (NameEq(alias, c.column)) {
        Scope inner = *s;
        inner.aliases = nullptr;
        return Bind(*ast, &inner);
      }
    }
  }
  int idx = s->schema ? FindColumn(*s->schema, c) : -1;
  if (idx == -2) {
    return Err(1052, absl::StrCat("Column '", ColumnText(c), "' in ", s->clause, " is ambiguous"));
  }
  if (idx >= 0) {
    const OutputColumn& oc = (*s->schema)[idx];
    if (s->agg != nullptr) {
      for (size_t i = 0; i < s->agg->group_cols.size(); ++i) {
        if (s->agg->group_cols[i] == idx) return expr::NewColumn(i, oc.type, oc.name);
      }
      if (!s->agg->full_group_by) {
        AggInfo* ai = const_cast<AggInfo*>(s->agg);
        auto it = ai->first_pos.find(idx);
        size_t pos = 0;
        if (it == ai->first_pos.end()) {
          pos = ai->node->first_values.size();
          ai->first_pos[idx] = pos;
          ai->node->first_values.push_back(expr::NewColumn(idx, oc.type, oc.name));
          OutputColumn fc = oc;
          fc.hidden = true;
          ai->node->schema.push_back(fc);
        } else {
          pos = it->second;
        }
        return expr::NewColumn(ai->n_group + ai->node->aggs.size() + pos, oc.type, oc.name);
      }
      if (s->agg->group_cols.empty()) {
        return Err(1140, absl::StrCat("In aggregated query without GROUP BY, expression contains "
                                      "nonaggregated column '",
                                      ColumnText(c),
                                      "'; this is incompatible with sql_mode=only_full_group_by"));
      }
      return Err(1055,
                 absl::StrCat("Expression of SELECT list is not in GROUP BY clause and "
                              "contains nonaggregated column '",
                              ColumnText(c),
                              "' which is not functionally dependent on columns in GROUP "
                              "BY clause; this is incompatible with sql_mode=only_full_group_by"));
    }
    return expr::NewColumn(idx, oc.type, oc.name);
  }
  if (s->parent != nullptr && s->corr != nullptr) {
    auto outer = BindColumn(c, s->parent);
    if (!outer.ok()) {
      if (GetMySqlError(outer.status()).has_value() &&
          GetMySqlError(outer.status())->code == kErBadField) {
        return Err(kErBadField,
                   absl::StrCat("Unknown column '", ColumnText(c), "' in '", s->clause, "'"));
      }
      return outer.status();
    }
    auto slot = std::make_shared<Datum>();
    FieldType t = (*outer)->type();
    s->corr->push_back({*std::move(outer), slot});
    return expr::ExprPtr(std::make_unique<CorrelatedColumn>(slot, t, c.column));
  }
  return Err(kErBadField,
             absl::StrCat("Unknown column '", ColumnText(c), "' in '", s->clause, "'"));
}

absl::StatusOr<expr::ExprPtr> Binder::BindSubquery(const QueryStmt& q, SubqueryKind kind,
                                                   const Expr* operand, BinaryOp op, bool negated,
                                                   Scope* s) {
  std::vector<Correlation> corr;
  auto plan = BuildQueryIn(q, s, &corr);
  if (!plan.ok()) return plan.status();
  return SubqueryOver(*std::move(plan), std::move(corr), kind, operand, op, negated, s);
}

// BindSubquery once its query is built (a frame of its own: not on the stack while the
// query's own subqueries recurse).
__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::SubqueryOver(
    PlanPtr built, std::vector<Correlation> corr, SubqueryKind kind, const Expr* operand,
    BinaryOp op, bool negated, Scope* s) {
  absl::StatusOr<PlanPtr> plan = std::move(built);
  size_t ncols = 0;
  for (const auto& c : (*plan)->schema) ncols += c.hidden ? 0 : 1;
  if (kind != SubqueryKind::kExists && ncols != 1) {
    return Err(1241, "Operand should contain 1 column(s)");
  }
  expr::ExprPtr operand_expr, compare;
  FieldType type = FieldType::LongLong();
  type.flen = 1;
  if (kind == SubqueryKind::kScalar) {
    type = (*plan)->schema[0].type;
    type.flag &= ~kNotNullFlag;
  }
  if (operand != nullptr) {
    if (dynamic_cast<const RowExpr*>(operand) != nullptr) {
      return Err(kErNotSupported, "This version doesn't yet support 'row IN (subquery)'");
    }
    auto o = Bind(*operand, s);
    if (!o.ok()) return o.status();
    operand_expr = *std::move(o);
    std::vector<expr::ExprPtr> args;
    args.push_back(expr::NewColumn(0, operand_expr->type()));
    args.push_back(expr::NewColumn(1, (*plan)->schema[0].type));
    auto cmp = expr::NewFunction(BinaryFuncName(op), std::move(args));
    if (!cmp.ok()) return cmp.status();
    compare = *std::move(cmp);
  }
  return expr::ExprPtr(std::make_unique<SubqueryExpression>(kind, *std::move(plan), std::move(corr),
                                                            std::move(operand_expr),
                                                            std::move(compare), negated, type));
}

// BindInner dispatches on the expression's kind to one function per kind. The recursion
// of a deep expression goes through BindInner and the function of each level's kind:
// keeping them apart keeps each level's frames small (one function holding every kind's
// locals took over 13 KB of stack per level under ASan), so that expressions nested a few
// dozen deep bind within a fiber's stack.
absl::StatusOr<expr::ExprPtr> Binder::BindInner(const Expr& e, Scope* s) {
  if (auto* lit = dynamic_cast<const LiteralExpr*>(&e)) return BindLiteral(*lit);
  if (auto* c = dynamic_cast<const ColumnRefExpr*>(&e)) return BindColumn(*c, s);
  if (auto* p = dynamic_cast<const ParamExpr*>(&e)) return BindParam(*p);
  if (auto* v = dynamic_cast<const VariableExpr*>(&e)) {
    if (!opts_.variable) return expr::NewNull();
    return opts_.variable(*v);
  }
  if (auto* u = dynamic_cast<const UnaryExpr*>(&e)) return BindUnary(*u, s);
  if (auto* b = dynamic_cast<const BinaryExpr*>(&e)) return BindBinary(*b, s);
  if (auto* is = dynamic_cast<const IsExpr*>(&e)) return BindIs(*is, s);
  if (dynamic_cast<const BetweenExpr*>(&e) != nullptr ||
      dynamic_cast<const InExpr*>(&e) != nullptr ||
      dynamic_cast<const PatternExpr*>(&e) != nullptr) {
    return BindPredicate(e, s);
  }
  if (auto* cs = dynamic_cast<const CompareSubqueryExpr*>(&e)) {
    return BindSubquery(*cs->subquery, cs->all ? SubqueryKind::kAll : SubqueryKind::kAny,
                        cs->left.get(), cs->op, false, s);
  }
  if (auto* sq = dynamic_cast<const SubqueryExpr*>(&e)) return BindScalarSubquery(*sq, s);
  if (auto* ex = dynamic_cast<const ExistsExpr*>(&e)) {
    return BindSubquery(*ex->query, SubqueryKind::kExists, nullptr, BinaryOp::kEq, false, s);
  }
  if (auto* co = dynamic_cast<const CollateExpr*>(&e)) return BindCollate(*co, s);
  if (auto* ce = dynamic_cast<const CaseExpr*>(&e)) return BindCase(*ce, s);
  if (auto* ca = dynamic_cast<const CastExpr*>(&e)) return BindCast(*ca, s);
  if (auto* fc = dynamic_cast<const FuncCallExpr*>(&e)) return BindFuncCall(*fc, s);
  if (dynamic_cast<const AggregateExpr*>(&e) != nullptr) {
    return Err(1111, "Invalid use of group function");
  }
  if (dynamic_cast<const RowExpr*>(&e) != nullptr) {
    return Err(1241, "Operand should contain 1 column(s)");
  }
  if (dynamic_cast<const DefaultExpr*>(&e) != nullptr) {
    return Err(kErNotSupported, "DEFAULT is not supported in this context");
  }
  if (dynamic_cast<const IntervalExpr*>(&e) != nullptr) {
    return Err(1064, "You have an error in your SQL syntax near 'INTERVAL'");
  }
  return Err(kErNotSupported, absl::StrCat("Expression not supported: ", RestoreSql(e)));
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindLiteral(
    const LiteralExpr& lit) {
  switch (lit.kind) {
    case LiteralKind::kNull:
      return expr::NewNull();
    case LiteralKind::kBool:
      return expr::NewInt(absl::EqualsIgnoreCase(lit.text, "TRUE") ? 1 : 0);
    case LiteralKind::kInt: {
      uint64_t u = 0;
      if (absl::SimpleAtoi(lit.text, &u)) {
        if (u <= static_cast<uint64_t>(INT64_MAX)) return expr::NewInt(static_cast<int64_t>(u));
        return expr::NewUint(u);
      }
      return expr::NewDecimalLiteral(lit.text);
    }
    case LiteralKind::kDecimal:
      return expr::NewDecimalLiteral(lit.text);
    case LiteralKind::kFloat:
      return expr::NewDouble(std::strtod(lit.text.c_str(), nullptr));
    case LiteralKind::kString:
      if (lit.charset == "binary") return expr::NewString(lit.text, Collation::kBinary);
      return expr::NewString(lit.text);
    case LiteralKind::kHex: {
      std::string hex = lit.text;
      if (hex.size() % 2) hex = "0" + hex;
      std::string bytes;
      for (size_t i = 0; i < hex.size(); i += 2) {
        bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      }
      return expr::NewString(bytes, Collation::kBinary);
    }
    case LiteralKind::kBit: {
      uint64_t v = 0;
      for (char c : lit.text) v = (v << 1) | (c == '1' ? 1 : 0);
      return expr::NewUint(v);
    }
  }
  return Err(kErNotSupported, "unsupported literal");
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindParam(const ParamExpr& p) {
  if (opts_.params == nullptr || p.index < 0 || p.index >= static_cast<int>(opts_.params->size())) {
    return Err(1210, "Incorrect arguments to EXECUTE");
  }
  return ParamConstant((*opts_.params)[p.index]);
}

absl::StatusOr<expr::ExprPtr> Binder::ParamConstant(const Datum& d) {
  switch (d.kind()) {
    case DatumKind::kNull:
      return expr::NewNull();
    case DatumKind::kInt64:
      return expr::NewConstant(d, FieldType::LongLong());
    case DatumKind::kUint64:
      return expr::NewConstant(d, FieldType::LongLong(true));
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return expr::NewDouble(d.GetDouble());
    case DatumKind::kDecimal:
      return expr::NewConstant(
          d, FieldType::NewDecimal(d.GetDecimal().Precision(), d.GetDecimal().scale()));
    case DatumKind::kString:
      return expr::NewString(d.GetString());
    default:
      return Err(1210, "Incorrect arguments to EXECUTE");
  }
}

namespace {

// MySQL negates a negative integer constant in DECIMAL (its negation might not fit).
__attribute__((noinline)) expr::ExprPtr NegatedOperand(expr::ExprPtr x) {
  if (!x->IsConstant() || x->eval_type() != EvalType::kInt || x->type().IsUnsigned()) return x;
  const Datum& d = static_cast<const expr::Constant&>(*x).value();
  if (d.IsNull() || d.kind() != DatumKind::kInt64 || d.GetInt64() >= 0) return x;
  int digits = std::max(1, x->type().flen);
  x = expr::NewCast(std::move(x), FieldType::NewDecimal(std::min(digits, 65), 0));
  ExecContext scratch;
  auto folded = Binder::EvalConstant(&scratch, *x);
  if (folded.ok()) x = expr::NewConstant(*folded, x->type());
  return x;
}

// `cast` folded to a constant when its operand is one and the conversion warns of nothing.
__attribute__((noinline)) expr::ExprPtr FoldCast(expr::ExprPtr cast) {
  ExecContext scratch;
  auto v = Binder::EvalConstant(&scratch, *cast);
  if (v.ok() && scratch.warning_count() == 0) return expr::NewConstant(*v, cast->type());
  return cast;
}

}  // namespace

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindUnary(const UnaryExpr& u,
                                                                          Scope* s) {
  auto a = Bind(*u.operand, s);
  if (!a.ok()) return a.status();
  std::vector<expr::ExprPtr> args;
  switch (u.op) {
    case UnaryOp::kPlus:
      return a;
    case UnaryOp::kMinus:
      args.push_back(NegatedOperand(*std::move(a)));
      return BindFunction("unaryminus", std::move(args));
    case UnaryOp::kNot:
      args.push_back(*std::move(a));
      return BindFunction("not", std::move(args));
    case UnaryOp::kBitNeg:
      args.push_back(*std::move(a));
      return BindFunction("bitneg", std::move(args));
    case UnaryOp::kBinary:
      return expr::NewCast(*std::move(a), FieldType::VarBinary(-1));
  }
  return Err(kErNotSupported, "unsupported unary operator");
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindRowCompare(const BinaryExpr& b,
                                                                               const RowExpr* lrow,
                                                                               const RowExpr* rrow,
                                                                               Scope* s) {
  if (lrow == nullptr || rrow == nullptr || lrow->items.size() != rrow->items.size()) {
    return Err(
        1241, absl::StrCat("Operand should contain ", lrow ? lrow->items.size() : 1, " column(s)"));
  }
  if (b.op != BinaryOp::kEq && b.op != BinaryOp::kNe && b.op != BinaryOp::kNullSafeEq) {
    return Err(kErNotSupported, "This version doesn't yet support row comparison with < or >");
  }
  std::vector<expr::ExprPtr> parts;
  for (size_t i = 0; i < lrow->items.size(); ++i) {
    auto l = Bind(*lrow->items[i], s);
    if (!l.ok()) return l.status();
    auto r = Bind(*rrow->items[i], s);
    if (!r.ok()) return r.status();
    std::vector<expr::ExprPtr> args;
    args.push_back(*std::move(l));
    args.push_back(*std::move(r));
    auto f = BindFunction(BinaryFuncName(b.op), std::move(args));
    if (!f.ok()) return f.status();
    parts.push_back(*std::move(f));
  }
  expr::ExprPtr acc = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    std::vector<expr::ExprPtr> args;
    args.push_back(std::move(acc));
    args.push_back(std::move(parts[i]));
    auto f = BindFunction(b.op == BinaryOp::kNe ? "or" : "and", std::move(args));
    if (!f.ok()) return f.status();
    acc = *std::move(f);
  }
  return acc;
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindBinary(const BinaryExpr& b,
                                                                           Scope* s) {
  auto* lrow = dynamic_cast<const RowExpr*>(b.left.get());
  auto* rrow = dynamic_cast<const RowExpr*>(b.right.get());
  if (lrow != nullptr || rrow != nullptr) return BindRowCompare(b, lrow, rrow, s);
  auto* liv = dynamic_cast<const IntervalExpr*>(b.left.get());
  auto* riv = dynamic_cast<const IntervalExpr*>(b.right.get());
  std::vector<expr::ExprPtr> args;
  if ((liv || riv) && (b.op == BinaryOp::kPlus || b.op == BinaryOp::kMinus)) {
    const Expr& date = liv ? *b.right : *b.left;
    const IntervalExpr& iv = liv ? *liv : *riv;
    auto d = Bind(date, s);
    if (!d.ok()) return d.status();
    args.push_back(*std::move(d));
    auto v = Bind(*iv.value, s);
    if (!v.ok()) return v.status();
    args.push_back(*std::move(v));
    args.push_back(expr::NewString(iv.unit));
    return BindFunction(b.op == BinaryOp::kPlus ? "date_add" : "date_sub", std::move(args));
  }
  if (b.op == BinaryOp::kAssign) return Err(kErNotSupported, "':=' is not supported");
  auto l = Bind(*b.left, s);
  if (!l.ok()) return l.status();
  args.push_back(*std::move(l));
  auto r = Bind(*b.right, s);
  if (!r.ok()) return r.status();
  args.push_back(*std::move(r));
  return BindFunction(BinaryFuncName(b.op), std::move(args));
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindIs(const IsExpr& is, Scope* s) {
  auto a = Bind(*is.operand, s);
  if (!a.ok()) return a.status();
  const char* name = nullptr;
  switch (is.what) {
    case IsWhat::kNull:
    case IsWhat::kUnknown:
      name = is.negated ? "isnotnull" : "isnull";
      break;
    case IsWhat::kTrue:
      name = is.negated ? "isnottrue" : "istrue";
      break;
    case IsWhat::kFalse:
      name = is.negated ? "isnotfalse" : "isfalse";
      break;
  }
  std::vector<expr::ExprPtr> args;
  args.push_back(*std::move(a));
  return BindFunction(name, std::move(args));
}

// BETWEEN, IN (list or subquery) and LIKE/REGEXP, each possibly negated.
__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindPredicate(const Expr& e,
                                                                              Scope* s) {
  std::vector<expr::ExprPtr> args;
  const char* name = nullptr;
  bool negated = false;
  if (auto* bt = dynamic_cast<const BetweenExpr*>(&e)) {
    for (const Expr* x : {bt->operand.get(), bt->low.get(), bt->high.get()}) {
      auto a = Bind(*x, s);
      if (!a.ok()) return a.status();
      args.push_back(*std::move(a));
    }
    name = "between";
    negated = bt->negated;
  } else if (auto* in = dynamic_cast<const InExpr*>(&e)) {
    if (in->subquery) {
      return BindSubquery(*in->subquery, SubqueryKind::kIn, in->operand.get(), BinaryOp::kEq,
                          in->negated, s);
    }
    if (dynamic_cast<const RowExpr*>(in->operand.get()) != nullptr) {
      return Err(kErNotSupported, "This version doesn't yet support row IN (list)");
    }
    auto a = Bind(*in->operand, s);
    if (!a.ok()) return a.status();
    args.push_back(*std::move(a));
    for (const auto& x : in->list) {
      if (dynamic_cast<const RowExpr*>(x.get())) {
        return Err(1241, "Operand should contain 1 column(s)");
      }
      auto v = Bind(*x, s);
      if (!v.ok()) return v.status();
      args.push_back(*std::move(v));
    }
    name = "in";
    negated = in->negated;
  } else {
    const auto& p = dynamic_cast<const PatternExpr&>(e);
    for (const Expr* x : {p.operand.get(), p.pattern.get(), p.escape.get()}) {
      if (x == nullptr) continue;
      auto a = Bind(*x, s);
      if (!a.ok()) return a.status();
      args.push_back(*std::move(a));
    }
    name = p.regexp ? "regexp" : "like";
    negated = p.negated;
  }
  auto f = BindFunction(name, std::move(args));
  if (!f.ok() || !negated) return f;
  std::vector<expr::ExprPtr> not_args;
  not_args.push_back(*std::move(f));
  return BindFunction("not", std::move(not_args));
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindScalarSubquery(
    const SubqueryExpr& sq, Scope* s) {
  if (auto it = scalar_cols_.find(&sq);
      it != scalar_cols_.end() && it->second.schema != nullptr && it->second.schema == s->schema) {
    // Decorrelated into a left join below (JoinScalarSubqueries).
    const ScalarColumn& c = it->second;
    expr::ExprPtr col = expr::NewColumn(c.index, c.type);
    if (!c.is_count) return col;
    std::vector<expr::ExprPtr> args;
    args.push_back(std::move(col));
    args.push_back(expr::NewInt(0));
    return BindFunction("ifnull", std::move(args));
  }
  return BindSubquery(*sq.query, SubqueryKind::kScalar, nullptr, BinaryOp::kEq, false, s);
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindCollate(const CollateExpr& co,
                                                                            Scope* s) {
  auto a = Bind(*co.operand, s);
  if (!a.ok()) return a.status();
  Collation c;
  if (!CollationFromName(co.collation, &c)) {
    return Err(1273, absl::StrCat("Unknown collation: '", co.collation, "'"));
  }
  if ((*a)->eval_type() != EvalType::kString) return a;
  FieldType t = (*a)->type();
  t.collation = c;
  return expr::NewCast(*std::move(a), t);
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindCase(const CaseExpr& ce,
                                                                         Scope* s) {
  std::vector<expr::ExprPtr> args;
  expr::ExprPtr operand;
  if (ce.operand) {
    auto o = Bind(*ce.operand, s);
    if (!o.ok()) return o.status();
    operand = *std::move(o);
  }
  for (const WhenClause& w : ce.whens) {
    auto c = Bind(*w.condition, s);
    if (!c.ok()) return c.status();
    if (operand) {
      std::vector<expr::ExprPtr> eq;
      eq.push_back(operand->Clone());
      eq.push_back(*std::move(c));
      c = BindFunction("eq", std::move(eq));
      if (!c.ok()) return c.status();
    }
    args.push_back(*std::move(c));
    auto r = Bind(*w.result, s);
    if (!r.ok()) return r.status();
    args.push_back(*std::move(r));
  }
  if (ce.else_result) {
    auto el = Bind(*ce.else_result, s);
    if (!el.ok()) return el.status();
    args.push_back(*std::move(el));
  }
  return BindFunction("case", std::move(args));
}

namespace {

// The type CAST(... AS dt) converts to.
__attribute__((noinline)) absl::StatusOr<FieldType> CastTarget(const DataType& dt) {
  FieldType t;
  switch (dt.kind) {
    case TypeKind::kSigned:
    case TypeKind::kInt:
    case TypeKind::kBigInt:
      return FieldType::LongLong(false);
    case TypeKind::kUnsigned:
      return FieldType::LongLong(true);
    case TypeKind::kDecimal: {
      int p = dt.length < 0 ? 10 : static_cast<int>(dt.length);
      int sc = dt.scale < 0 ? 0 : static_cast<int>(dt.scale);
      if (p > 65)
        return Err(1426, absl::StrCat("Too-big precision ", p, " specified. Maximum is 65."));
      if (sc > 30 || sc > p) return Err(1425, absl::StrCat("Too big scale ", sc, " specified."));
      return FieldType::NewDecimal(p, sc);
    }
    case TypeKind::kChar:
    case TypeKind::kVarChar:
      t = FieldType::Varchar(dt.length < 0 ? -1 : static_cast<int>(dt.length));
      if (!dt.charset.empty() && dt.charset == "binary") t.collation = Collation::kBinary;
      return t;
    case TypeKind::kBinary:
    case TypeKind::kVarBinary:
      return FieldType::VarBinary(dt.length < 0 ? -1 : static_cast<int>(dt.length));
    case TypeKind::kDate:
      return FieldType::Date();
    case TypeKind::kDateTime:
      return FieldType::Datetime(dt.length < 0 ? 0 : static_cast<int>(dt.length));
    case TypeKind::kTime:
      return FieldType::Duration(dt.length < 0 ? 0 : static_cast<int>(dt.length));
    case TypeKind::kDouble:
      return FieldType::Double();
    case TypeKind::kFloat:
      return FieldType::Float();
    default:
      return Err(1064, absl::StrCat("You have an error in your SQL syntax; CAST to ",
                                    std::string(TypeKindText(dt.kind)), " is not supported"));
  }
}

}  // namespace

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindCast(const CastExpr& ca,
                                                                         Scope* s) {
  auto a = Bind(*ca.operand, s);
  if (!a.ok()) return a.status();
  if (!ca.using_charset.empty()) return a;
  absl::StatusOr<FieldType> t = CastTarget(ca.type);
  if (!t.ok()) return t.status();
  const bool constant = (*a)->IsConstant();
  expr::ExprPtr cast = expr::NewCast(*std::move(a), *t);
  if (constant) return FoldCast(std::move(cast));
  return cast;
}

// The functions the binder answers itself (VALUES(col), DATABASE(), USER(), VERSION(), ...);
// nullopt for any other.
__attribute__((noinline)) std::optional<absl::StatusOr<expr::ExprPtr>> Binder::BindSpecialFunction(
    const FuncCallExpr& fc, const std::string& name) {
  if (name == "values" && fc.args.size() == 1) {
    auto* col = dynamic_cast<const ColumnRefExpr*>(fc.args[0].get());
    if (col != nullptr && opts_.values_func) return opts_.values_func(col->column);
    if (col != nullptr) return expr::NewNull();
  }
  if (name == "database" || name == "schema") {
    if (opts_.db.empty()) return expr::NewNull();
    return expr::NewString(opts_.db, Collation::kUtf8mb4GeneralCi);
  }
  const bool user =
      name == "user" || name == "session_user" || name == "system_user" || name == "current_user";
  if (user || name == "version" || name == "last_insert_id" || name == "connection_id" ||
      name == "row_count" || name == "found_rows") {
    if (!fc.args.empty()) {
      return Err(1582, absl::StrCat("Incorrect parameter count in the call to native function '",
                                    fc.name, "'"));
    }
    // Answered by the session (the user under a name no system variable can have).
    VariableExpr v;
    v.system = true;
    v.name = !user ? name : name == "current_user" ? "current_user()" : "user()";
    if (!opts_.variable) return expr::NewNull();
    return opts_.variable(v);
  }
  return std::nullopt;
}

__attribute__((noinline)) absl::StatusOr<expr::ExprPtr> Binder::BindFuncCall(const FuncCallExpr& fc,
                                                                             Scope* s) {
  std::string name = absl::AsciiStrToLower(fc.name);
  if (auto special = BindSpecialFunction(fc, name); special.has_value()) {
    return *std::move(special);
  }
  std::vector<expr::ExprPtr> args;
  for (const auto& x : fc.args) {
    if (auto* kw = dynamic_cast<const KeywordExpr*>(x.get())) {
      args.push_back(expr::NewString(kw->word));
      continue;
    }
    const auto* iv = dynamic_cast<const IntervalExpr*>(x.get());
    auto a = Bind(iv != nullptr ? *iv->value : *x, s);
    if (!a.ok()) return a.status();
    args.push_back(*std::move(a));
    if (iv != nullptr) args.push_back(expr::NewString(iv->unit));
  }
  if (name == "trim" && args.size() == 3) {
    // The direction keyword arrives as a string; the kernel wants 0|1|2.
    const auto* k = dynamic_cast<const expr::Constant*>(args[2].get());
    if (k != nullptr && k->value().kind() == DatumKind::kString) {
      std::string w = k->value().GetString();
      args[2] = expr::NewInt(w == "LEADING" ? 1 : w == "TRAILING" ? 2 : 0);
    }
  }
  return BindFunction(name, std::move(args));
}

// ---- Queries ----

absl::StatusOr<PlanPtr> Binder::BuildQuery(const QueryStmt& q) {
  // Join hints are noted by JoinNode address: a statement's must not meet an earlier
  // statement's freed nodes (a Binder may serve several statements).
  merge_hinted_.clear();
  merge_refused_.clear();
  return BuildQueryIn(q, nullptr, nullptr);
}

void MarkUsedColumns(PlanNode* p);  // Below, beside FinishAccessPaths.

absl::StatusOr<PlanPtr> Binder::BuildQueryIn(const QueryStmt& q, Scope* parent,
                                             std::vector<Correlation>* corr) {
  ++depth_;
  if (absl::Status st = CheckStack(100); !st.ok()) {
    --depth_;
    return st;
  }
  absl::StatusOr<PlanPtr> r;
  if (auto* s = dynamic_cast<const SelectStmt*>(&q)) {
    r = BuildSelect(*s, parent, corr);
  } else if (auto* so = dynamic_cast<const SetOprStmt*>(&q)) {
    r = BuildSetOp(*so, parent, corr);
  } else {
    r = UnsupportedQuery();
  }
  --depth_;
  if (r.ok()) FinishQuery(&*r);
  return r;
}

// Out of BuildQueryIn's frame, which every nested subquery's recursion passes through.
__attribute__((noinline)) absl::Status Binder::UnsupportedQuery() {
  return Err(kErNotSupported, "unsupported query");
}

__attribute__((noinline)) void Binder::FinishQuery(PlanPtr* plan) {
  if (!access_candidates_.empty()) {
    FinishAccessPaths(plan->get(), std::vector<bool>((*plan)->schema.size(), true));
  }
  if (opts_.optimize) {
    PushAggregationsBelowJoins(plan->get(), opts_.stats);
    ApplyOrderProperties(plan, {});
    MarkUsedColumns(plan->get());
  }
}

namespace {

absl::StatusOr<uint64_t> LimitValue(Binder* b, const Expr& e) {
  Schema none;
  auto x = b->BindOver(e, none);
  if (!x.ok()) return x.status();
  ExecContext scratch;
  auto v = Binder::EvalConstant(&scratch, **x);
  if (!v.ok()) return v.status();
  if (v->kind() == DatumKind::kInt64 && v->GetInt64() >= 0)
    return static_cast<uint64_t>(v->GetInt64());
  if (v->kind() == DatumKind::kUint64) return v->GetUint64();
  return Err(1210, "Incorrect arguments to LIMIT");
}

}  // namespace

absl::StatusOr<PlanPtr> Binder::BuildSetOp(const SetOprStmt& so, Scope* parent,
                                           std::vector<Correlation>* corr) {
  auto l = BuildQueryIn(*so.left, parent, corr);
  if (!l.ok()) return l.status();
  auto r = BuildQueryIn(*so.right, parent, corr);
  if (!r.ok()) return r.status();
  if ((*l)->schema.size() != (*r)->schema.size()) {
    return Err(1222, "The used SELECT statements have a different number of columns");
  }
  auto node = std::make_shared<SetOpNode>();
  node->op = so.op == SetOp::kUnion    ? SetOpKind::kUnion
             : so.op == SetOp::kExcept ? SetOpKind::kExcept
                                       : SetOpKind::kIntersect;
  node->all = so.all;
  std::vector<FieldType> types;
  for (size_t i = 0; i < (*l)->schema.size(); ++i) {
    std::vector<FieldType> two = {(*l)->schema[i].type, (*r)->schema[i].type};
    FieldType t = UnifyTypes(two);
    if (t.tp != TypeCode::kNull && (*l)->schema[i].type.NotNull() &&
        (*r)->schema[i].type.NotNull()) {
      t.flag |= kNotNullFlag;
    } else {
      t.flag &= ~kNotNullFlag;
    }
    types.push_back(t);
    OutputColumn oc = (*l)->schema[i];
    oc.type = t;
    oc.table.clear();
    oc.hidden = false;
    node->schema.push_back(oc);
  }
  for (PlanPtr side : {*l, *r}) {
    bool same = true;
    for (size_t i = 0; i < types.size(); ++i) {
      FieldType a = side->schema[i].type, b = types[i];
      a.flag &= ~kNotNullFlag;
      b.flag &= ~kNotNullFlag;
      same = same && a == b;
    }
    if (same) {
      node->children.push_back(side);
      continue;
    }
    auto proj = std::make_shared<ProjectionNode>();
    proj->children.push_back(side);
    for (size_t i = 0; i < types.size(); ++i) {
      expr::ExprPtr c = expr::NewColumn(i, side->schema[i].type);
      if (types[i].tp != TypeCode::kNull) c = expr::NewCast(std::move(c), types[i]);
      proj->exprs.push_back(std::move(c));
      OutputColumn oc = node->schema[i];
      oc.type = proj->exprs.back()->type();
      proj->schema.push_back(oc);
    }
    node->children.push_back(proj);
  }
  // Children must produce exactly the node's types.
  for (size_t i = 0; i < types.size(); ++i)
    node->schema[i].type = node->children[0]->schema[i].type;
  return BuildOrderLimit(node, so, parent, corr);
}

absl::StatusOr<PlanPtr> Binder::BuildOrderLimit(PlanPtr plan, const QueryStmt& q, Scope* parent,
                                                std::vector<Correlation>* corr) {
  if (!q.order_by.empty()) {
    Schema schema = plan->schema;
    for (auto& c : schema) c.table.clear();
    Scope s;
    s.schema = &schema;
    s.parent = parent;
    s.corr = corr;
    s.clause = "order clause";
    auto sort = std::make_shared<SortNode>();
    sort->children.push_back(plan);
    sort->schema = plan->schema;
    for (const OrderItem& it : q.order_by) {
      auto* lit = dynamic_cast<const LiteralExpr*>(it.expr.get());
      expr::ExprPtr x;
      if (lit != nullptr && lit->kind == LiteralKind::kInt) {
        int64_t pos = 0;
        if (!absl::SimpleAtoi(lit->text, &pos) || pos < 1 ||
            pos > static_cast<int64_t>(schema.size())) {
          return Err(kErBadField,
                     absl::StrCat("Unknown column '", lit->text, "' in 'order clause'"));
        }
        x = expr::NewColumn(pos - 1, schema[pos - 1].type);
      } else {
        auto b = Bind(*it.expr, &s);
        if (!b.ok()) return b.status();
        x = *std::move(b);
      }
      sort->items.push_back({std::move(x), it.desc});
    }
    plan = sort;
  }
  if (q.limit.has_value()) {
    auto count = LimitValue(this, *q.limit->count);
    if (!count.ok()) return count.status();
    uint64_t offset = 0;
    if (q.limit->offset) {
      auto o = LimitValue(this, *q.limit->offset);
      if (!o.ok()) return o.status();
      offset = *o;
    }
    if (plan->kind == PlanKind::kSort) {
      static_cast<SortNode*>(plan.get())->limit = offset + *count;
    }
    auto lim = std::make_shared<LimitNode>();
    lim->children.push_back(plan);
    lim->schema = plan->schema;
    lim->offset = offset;
    lim->count = *count;
    plan = lim;
  }
  return plan;
}

absl::StatusOr<PlanPtr> Binder::BuildLeaf(const TableRef& ref, Scope* parent,
                                          std::vector<Correlation>* corr) {
  if (auto* t = dynamic_cast<const TableName*>(&ref)) {
    auto table = ResolveTable(*t);
    if (!table.ok()) return table.status();
    const std::string alias = t->alias.empty() ? (*table)->name : t->alias;
    if ((*table)->is_view) {
      auto stmt = ParseOne((*table)->view_sql);
      if (!stmt.ok()) return stmt.status();
      auto* q = dynamic_cast<const QueryStmt*>(stmt->get());
      if (q == nullptr) return absl::InternalError("view is not a query");
      Binder inner(opts_);
      inner.opts_.db = (*table)->db;
      auto plan = inner.BuildQuery(*q);
      if (!plan.ok()) return plan.status();
      // Keep the view's AST alive with its plan: expressions do not point into it.
      for (size_t i = 0; i < (*plan)->schema.size(); ++i) {
        OutputColumn& oc = (*plan)->schema[i];
        oc.table = alias;
        oc.db = (*table)->db;
        if (i < (*table)->view_columns.size()) oc.name = (*table)->view_columns[i];
      }
      return plan;
    }
    auto scan = std::make_shared<TableScanNode>();
    // A scan of an abandoned plan may have had this address.
    access_candidates_.erase(scan.get());
    index_hints_.erase(scan.get());
    scan->table = *table;
    for (const ColumnInfo& c : (*table)->columns) {
      scan->schema.push_back({c.name, alias, (*table)->db, c.type, false});
    }
    scan->schema.push_back({"_tidb_rowid", alias, (*table)->db, FieldType::LongLong(), true});
    for (const IndexHint& h : t->index_hints) {
      for (const std::string& name : h.indexes) {
        bool found = NameEq(name, "primary") && (*table)->handle_col >= 0;
        for (const IndexInfo& idx : (*table)->indexes) found = found || NameEq(idx.name, name);
        if (!found) {
          return Err(1176, absl::StrCat("Key '", name, "' doesn't exist in table '", alias, "'"));
        }
      }
    }
    if (!t->index_hints.empty()) index_hints_[scan.get()] = t->index_hints;
    return PlanPtr(scan);
  }
  if (auto* d = dynamic_cast<const DerivedTable*>(&ref)) {
    auto plan = BuildQueryIn(*d->query, parent, corr);
    if (!plan.ok()) return plan.status();
    // A fresh projection carries the alias, so a shared subplan keeps its own names.
    auto proj = std::make_shared<ProjectionNode>();
    proj->children.push_back(*plan);
    for (size_t i = 0; i < (*plan)->schema.size(); ++i) {
      OutputColumn oc = (*plan)->schema[i];
      proj->exprs.push_back(expr::NewColumn(i, oc.type));
      oc.table = d->alias;
      oc.db.clear();
      if (i < d->columns.size()) oc.name = d->columns[i];
      proj->schema.push_back(oc);
    }
    return PlanPtr(proj);
  }
  return Err(kErNotSupported, "unsupported table reference");
}

absl::StatusOr<PlanPtr> Binder::BuildFrom(const TableRef& ref, const Expr* where, Scope* parent,
                                          std::vector<Correlation>* corr,
                                          std::vector<const Expr*>* leftover) {
  if (where == nullptr) {
    if (auto it = prebuilt_.find(&ref);
        it != prebuilt_.end() && it->second.parent == parent && it->second.corr == corr) {
      PlanPtr plan = std::move(it->second.plan);
      prebuilt_.erase(it);
      return plan;
    }
    absl::StatusOr<bool> ahead = Prebuild(ref, parent, corr);
    if (!ahead.ok()) return ahead.status();
    if (*ahead) {
      absl::StatusOr<PlanPtr> plan = BuildFromConds(ref, {}, parent, corr, leftover);
      prebuilt_.clear();
      return plan;
    }
  }
  std::vector<const Expr*> where_conds;
  SplitAnd(where, &where_conds);
  return BuildFromConds(ref, where_conds, parent, corr, leftover);
}

absl::StatusOr<bool> Binder::Prebuild(const TableRef& ref, Scope* parent,
                                      std::vector<Correlation>* corr) {
  // Nestings up to this deep recurse as before.
  constexpr size_t kPrebuildDepth = 8;
  if (prebuilding_) return false;
  auto outer = [](const TableRef* r) -> const JoinRef* {
    auto* j = dynamic_cast<const JoinRef*>(r);
    return j != nullptr && (j->kind == JoinKind::kLeft || j->kind == JoinKind::kRight) ? j
                                                                                       : nullptr;
  };
  // The separately built sides, found as BuildFromConds (with no WHERE, so no outer join
  // turns inner) walks `ref`: inner joins are flattened, an outer join's chain down its
  // outer sides is one leaf whose joins' inner sides and base are built by BuildFrom.
  // Listed parents before children, with their nesting depth.
  std::vector<const TableRef*> sides;
  size_t max_depth = 0;
  std::vector<std::pair<const TableRef*, size_t>> walk = {{&ref, 0}};
  while (!walk.empty()) {
    auto [r, depth] = walk.back();
    walk.pop_back();
    auto side = [&](const TableRef* x) {
      sides.push_back(x);
      max_depth = std::max(max_depth, depth + 1);
      walk.push_back({x, depth + 1});
    };
    if (const JoinRef* top = outer(r)) {
      const JoinRef* j = top;
      while (true) {
        side(j->kind == JoinKind::kLeft ? j->right.get() : j->left.get());
        const TableRef* o = j->kind == JoinKind::kLeft ? j->left.get() : j->right.get();
        const JoinRef* next = outer(o);
        if (next == nullptr) {
          side(o);
          break;
        }
        j = next;
      }
    } else if (auto* j = dynamic_cast<const JoinRef*>(r)) {
      walk.push_back({j->left.get(), depth});
      walk.push_back({j->right.get(), depth});
    }
  }
  if (max_depth < kPrebuildDepth) return false;
  prebuilding_ = true;
  for (size_t i = sides.size(); i-- > 0;) {
    absl::StatusOr<PlanPtr> plan = BuildFromConds(*sides[i], {}, parent, corr, nullptr);
    if (!plan.ok()) {
      prebuilding_ = false;
      prebuilt_.clear();
      return plan.status();
    }
    prebuilt_[sides[i]] = Prebuilt{*std::move(plan), parent, corr};
  }
  prebuilding_ = false;
  return true;
}

absl::StatusOr<PlanPtr> Binder::BuildFromConds(const TableRef& ref,
                                               const std::vector<const Expr*>& where_conds,
                                               Scope* parent, std::vector<Correlation>* corr,
                                               std::vector<const Expr*>* leftover) {
  // The limit on the tables of one FROM clause, checked before anything below recurses:
  // an outer join builds its sides with BuildFrom, one call level per nested outer join,
  // so this bounds that depth too (an inner-join group has the same limit in BuildJoinTree).
  size_t tables = 0;
  for (std::vector<const TableRef*> walk = {&ref}; !walk.empty();) {
    const TableRef* r = walk.back();
    walk.pop_back();
    if (auto* j = dynamic_cast<const JoinRef*>(r)) {
      walk.push_back(j->left.get());
      walk.push_back(j->right.get());
    } else if (++tables > kMaxJoinTables) {
      return Err(1116, absl::StrCat("Too many tables; Rutile can only use ", kMaxJoinTables,
                                    " tables in a join"));
    }
  }
  std::vector<PlanPtr> leaves;
  std::vector<const Expr*> conds;
  // Flattens inner joins; outer joins become one leaf each. Iterative, with an explicit
  // stack of the inner joins whose sides are being flattened: a comma join of 60 tables
  // nests 60 JoinRefs, and recursing once per level overflowed a fiber's stack under ASan.
  // The ON / USING / NATURAL conditions of an inner join whose sides are both flattened
  // (leaves [first_left, first_right) and [first_right, end)).
  auto finish_inner = [&](const JoinRef* j, size_t first_left, size_t first_right) -> absl::Status {
    SplitAnd(j->on.get(), &conds);
    std::vector<std::string> using_cols = j->using_columns;
    if (j->natural) {
      for (size_t a = first_left; a < first_right; ++a) {
        for (const auto& lc : leaves[a]->schema) {
          if (lc.hidden) continue;
          for (size_t b = first_right; b < leaves.size(); ++b) {
            for (const auto& rc : leaves[b]->schema) {
              if (!rc.hidden && NameEq(lc.name, rc.name)) using_cols.push_back(lc.name);
            }
          }
        }
      }
    }
    for (const std::string& col : using_cols) {
      auto find = [&](size_t from, size_t to) -> std::string {
        for (size_t a = from; a < to; ++a) {
          for (const auto& c : leaves[a]->schema) {
            if (!c.hidden && NameEq(c.name, col)) return c.table;
          }
        }
        return "";
      };
      std::string lt = find(first_left, first_right), rt = find(first_right, leaves.size());
      if (lt.empty() || rt.empty()) {
        return Err(kErBadField, absl::StrCat("Unknown column '", col, "' in 'from clause'"));
      }
      auto eq = std::make_unique<BinaryExpr>();
      eq->op = BinaryOp::kEq;
      auto lc = std::make_unique<ColumnRefExpr>();
      lc->table = lt;
      lc->column = col;
      auto rc = std::make_unique<ColumnRefExpr>();
      rc->table = rt;
      rc->column = col;
      eq->left = std::move(lc);
      eq->right = std::move(rc);
      conds.push_back(eq.get());
      arena_.push_back(std::move(eq));
    }
    return absl::OkStatus();
  };
  // The outer join `j` over its outer side's plan: LEFT JOIN as is, RIGHT JOIN with the
  // sides swapped.
  auto outer_join = [&](const JoinRef* j, PlanPtr outer_plan) -> absl::StatusOr<PlanPtr> {
    const TableRef& inner_side = j->kind == JoinKind::kLeft ? *j->right : *j->left;
    absl::StatusOr<PlanPtr> lp = std::move(outer_plan);
    auto rp = BuildFrom(inner_side, nullptr, parent, corr, nullptr);
    if (!rp.ok()) return rp.status();
    auto join = std::make_shared<JoinNode>();
    join->type = JoinType::kLeft;
    join->children = {*lp, *rp};
    join->schema = (*lp)->schema;
    join->schema.insert(join->schema.end(), (*rp)->schema.begin(), (*rp)->schema.end());
    Scope full;
    full.schema = &join->schema;
    full.parent = parent;
    full.corr = corr;
    full.clause = "on clause";
    std::vector<const Expr*> on;
    SplitAnd(j->on.get(), &on);
    std::vector<std::unique_ptr<Expr>> synth;
    for (const std::string& col : j->using_columns) {
      auto eq = std::make_unique<BinaryExpr>();
      eq->op = BinaryOp::kEq;
      auto lc = std::make_unique<ColumnRefExpr>();
      auto rc = std::make_unique<ColumnRefExpr>();
      for (const auto& c : (*lp)->schema) {
        if (!c.hidden && NameEq(c.name, col)) lc->table = c.table;
      }
      for (const auto& c : (*rp)->schema) {
        if (!c.hidden && NameEq(c.name, col)) rc->table = c.table;
      }
      lc->column = col;
      rc->column = col;
      eq->left = std::move(lc);
      eq->right = std::move(rc);
      on.push_back(eq.get());
      arena_.push_back(std::move(eq));
    }
    const size_t nl = (*lp)->schema.size();
    std::vector<expr::ExprPtr> others;
    for (const Expr* c : on) {
      auto* b = dynamic_cast<const BinaryExpr*>(c);
      if (b != nullptr && b->op == BinaryOp::kEq) {
        auto l = Bind(*b->left, &full);
        auto r = Bind(*b->right, &full);
        if (!l.ok()) return l.status();
        if (!r.ok()) return r.status();
        std::set<size_t> lc, rc;
        CollectColumns(**l, &lc);
        CollectColumns(**r, &rc);
        auto left_only = [&](const std::set<size_t>& s) { return !s.empty() && *s.rbegin() < nl; };
        auto right_only = [&](const std::set<size_t>& s) { return !s.empty() && *s.begin() >= nl; };
        const Expr* lside = nullptr;
        const Expr* rside = nullptr;
        expr::ExprPtr lkey;
        if (left_only(lc) && right_only(rc)) {
          lside = b->left.get();
          rside = b->right.get();
          lkey = *std::move(l);
        } else if (left_only(rc) && right_only(lc)) {
          lside = b->right.get();
          rside = b->left.get();
          lkey = *std::move(r);
        }
        if (lside != nullptr) {
          Scope rs;
          rs.schema = &(*rp)->schema;
          rs.parent = parent;
          rs.corr = corr;
          auto rkey = Bind(*rside, &rs);
          if (!rkey.ok()) return rkey.status();
          if (HashCompatible(lkey->type(), (*rkey)->type())) {
            join->left_keys.push_back(std::move(lkey));
            join->right_keys.push_back(*std::move(rkey));
            continue;
          }
        }
      }
      auto x = Bind(*c, &full);
      if (!x.ok()) return x.status();
      others.push_back(*std::move(x));
    }
    join->other = AndAll(std::move(others));
    NoteJoinHints(join.get(), **lp, **rp);
    PlanPtr result = join;
    if (j->kind == JoinKind::kRight) {
      // Restore the written column order: left side first.
      auto proj = std::make_shared<ProjectionNode>();
      proj->children.push_back(join);
      const size_t nr = (*rp)->schema.size();
      for (size_t i = 0; i < nr; ++i) {
        proj->exprs.push_back(expr::NewColumn(nl + i, join->schema[nl + i].type));
        proj->schema.push_back(join->schema[nl + i]);
      }
      for (size_t i = 0; i < nl; ++i) {
        proj->exprs.push_back(expr::NewColumn(i, join->schema[i].type));
        proj->schema.push_back(join->schema[i]);
      }
      result = proj;
    }
    return result;
  };
  // An outer join: one leaf. A chain of outer joins nested on their outer sides (t1 LEFT
  // JOIN t2 ON .. LEFT JOIN t3 ON ..) is built bottom up in a loop, not by recursing per
  // join; each nested one goes through BuildJoinTree as BuildFrom would take it.
  auto outer_leaf = [&](const JoinRef* top) -> absl::Status {
    auto outer_side = [](const JoinRef* j) -> const TableRef* {
      return j->kind == JoinKind::kLeft ? j->left.get() : j->right.get();
    };
    std::vector<const JoinRef*> spine = {top};
    while (true) {
      auto* oj = dynamic_cast<const JoinRef*>(outer_side(spine.back()));
      if (oj == nullptr || (oj->kind != JoinKind::kLeft && oj->kind != JoinKind::kRight)) break;
      spine.push_back(oj);
    }
    auto base = BuildFrom(*outer_side(spine.back()), nullptr, parent, corr, nullptr);
    if (!base.ok()) return base.status();
    PlanPtr plan = *std::move(base);
    for (size_t k = spine.size(); k-- > 0;) {
      auto joined = outer_join(spine[k], std::move(plan));
      if (!joined.ok()) return joined.status();
      if (k == 0) {
        leaves.push_back(*std::move(joined));
        break;
      }
      auto tree = BuildJoinTree({*std::move(joined)}, {}, parent, corr, nullptr);
      if (!tree.ok()) return tree.status();
      plan = *std::move(tree);
    }
    return absl::OkStatus();
  };
  struct PendingJoin {
    const JoinRef* join;
    size_t first_left;
    size_t first_right = SIZE_MAX;  // Set once the left side is flattened.
  };
  std::vector<PendingJoin> pending;
  const TableRef* next = &ref;
  while (true) {
    if (next != nullptr) {
      const TableRef* r = next;
      next = nullptr;
      auto* j = dynamic_cast<const JoinRef*>(r);
      if (j == nullptr) {
        auto leaf = BuildLeaf(*r, parent, corr);
        if (!leaf.ok()) return leaf.status();
        leaves.push_back(*std::move(leaf));
      } else {
        bool outer = j->kind == JoinKind::kLeft || j->kind == JoinKind::kRight;
        // Outer-to-inner conversion: a WHERE conjunct that rejects NULLs of the inner side
        // drops the NULL-extended rows anyway, so the join is an inner one (and joins the
        // reorderable graph).
        if (outer && opts_.optimize && !where_conds.empty() &&
            NullRejects(where_conds, j->kind == JoinKind::kLeft ? *j->right : *j->left)) {
          outer = false;
        }
        if (!outer) {
          pending.push_back({j, leaves.size()});
          next = j->left.get();
          continue;
        }
        absl::Status s = outer_leaf(j);
        if (!s.ok()) return s;
      }
    }
    // A subtree is flattened: go on with the innermost pending join.
    if (pending.empty()) break;
    PendingJoin& p = pending.back();
    if (p.first_right == SIZE_MAX) {
      p.first_right = leaves.size();
      next = p.join->right.get();
      continue;
    }
    absl::Status s = finish_inner(p.join, p.first_left, p.first_right);
    if (!s.ok()) return s;
    pending.pop_back();
  }
  conds.insert(conds.end(), where_conds.begin(), where_conds.end());
  return BuildJoinTree(std::move(leaves), std::move(conds), parent, corr, leftover);
}

// BuildJoinTree's state, on the heap: the driver and the per-condition step that may
// recurse into a subquery (Decorrelate, an IN subquery's semi join, Bind) keep small frames
// (under ASan BuildJoinTree in one piece took 6.3 KB a subquery nesting level).
struct Binder::JoinTreeBuild {
  std::vector<PlanPtr> leaves;
  Scope* parent = nullptr;
  std::vector<Correlation>* corr = nullptr;
  Schema full;                  // The leaves' columns side by side.
  std::vector<size_t> offsets;  // Where each leaf's columns start in `full` (and the end).
  Scope fs;                     // Over `full`.
  std::vector<std::vector<const Expr*>> leaf_conds;  // Conditions over one leaf.
  // Conditions over two or more leaves: the join graph's edges.
  struct JoinCond {
    const Expr* ast;
    uint64_t mask;
    // `lhs = rhs` with sides over disjoint leaf sets (an equi edge), else null.
    const Expr* lhs = nullptr;
    const Expr* rhs = nullptr;
    uint64_t lmask = 0, rmask = 0;
    bool placed = false;
  };
  std::vector<JoinCond> join_conds;
  std::vector<expr::ExprPtr> top;  // Conditions over no leaf.
  // `x IN (uncorrelated subquery)` as a top-level conjunct becomes a hash semi join over
  // the joined inputs (a NULL or unmatched x drops the row either way); so do [NOT]
  // EXISTS and IN subqueries correlated through their WHERE conjuncts (Decorrelate).
  std::vector<SemiJoinPart> semis;

  size_t LeafOf(size_t col) const {
    size_t j = 0;
    while (offsets[j + 1] <= col) ++j;
    return j;
  }
  uint64_t MaskOf(const expr::Expression& x) const {
    std::set<size_t> cols;
    CollectColumns(x, &cols);
    uint64_t m = 0;
    for (size_t col : cols) m |= uint64_t{1} << LeafOf(col);
    return m;
  }
};

absl::StatusOr<PlanPtr> Binder::BuildJoinTree(std::vector<PlanPtr> leaves,
                                              std::vector<const Expr*> conds, Scope* parent,
                                              std::vector<Correlation>* corr,
                                              std::vector<const Expr*>*) {
  if (leaves.size() > kMaxJoinTables) {
    return Err(1116, absl::StrCat("Too many tables; Rutile can only use ", kMaxJoinTables,
                                  " tables in a join"));
  }
  auto b = std::make_unique<JoinTreeBuild>();
  b->leaves = std::move(leaves);
  b->parent = parent;
  b->corr = corr;
  for (const auto& l : b->leaves) {
    b->offsets.push_back(b->full.size());
    b->full.insert(b->full.end(), l->schema.begin(), l->schema.end());
  }
  b->offsets.push_back(b->full.size());
  b->fs.schema = &b->full;
  b->fs.parent = parent;
  b->fs.corr = corr;
  b->fs.clause = "where clause";
  b->leaf_conds.resize(b->leaves.size());
  for (const Expr* c : conds) {
    absl::Status s = JoinTreeCond(b.get(), c);
    if (!s.ok()) return s;
  }
  return JoinTreeFinish(b.get());
}

// Places WHERE conjunct `c` of a join tree: a semi join, a condition over no leaf, one
// leaf or several (an edge).
__attribute__((noinline)) absl::Status Binder::JoinTreeCond(JoinTreeBuild* jt, const Expr* c) {
  Scope* parent = jt->parent;
  std::vector<Correlation>* corr = jt->corr;
  Scope& fs = jt->fs;
  const Schema& full = jt->full;
  using JoinCond = JoinTreeBuild::JoinCond;
  if (opts_.optimize) {
    if (auto part = Decorrelate(*c, full, parent, corr)) {
      jt->semis.push_back(*std::move(part));
      return absl::OkStatus();
    }
  }
  if (auto* in = dynamic_cast<const InExpr*>(c);
      opts_.optimize && in && in->subquery && !in->negated &&
      dynamic_cast<const RowExpr*>(in->operand.get()) == nullptr) {
    std::vector<Correlation> sub_corr;
    auto sub = BuildQueryIn(*in->subquery, &fs, &sub_corr);
    // Binding the conjunct would build the subquery again and fail the same way (once per
    // level of a nested IN: exponentially often).
    if (!sub.ok()) return sub.status();
    auto left = Bind(*in->operand, &fs);
    if (sub.ok() && left.ok() && sub_corr.empty() && (*sub)->schema.size() == 1 &&
        HashCompatible((*left)->type(), (*sub)->schema[0].type)) {
      SemiJoinPart part;
      part.left_keys.push_back(*std::move(left));
      part.right_keys.push_back(expr::NewColumn(0, (*sub)->schema[0].type));
      part.plan = *std::move(sub);
      jt->semis.push_back(std::move(part));
      return absl::OkStatus();
    }
  }
  auto x = Bind(*c, &fs);
  if (!x.ok()) return x.status();
  const uint64_t m = jt->MaskOf(**x);
  if (m == 0) {
    jt->top.push_back(*std::move(x));
  } else if ((m & (m - 1)) == 0) {
    jt->leaf_conds[__builtin_ctzll(m)].push_back(c);
  } else {
    JoinCond jc{c, m};
    auto* b = dynamic_cast<const BinaryExpr*>(c);
    if (b != nullptr && b->op == BinaryOp::kEq) {
      auto l = Bind(*b->left, &fs);
      auto r = Bind(*b->right, &fs);
      if (l.ok() && r.ok() && HashCompatible((*l)->type(), (*r)->type())) {
        const uint64_t lm = jt->MaskOf(**l), rm = jt->MaskOf(**r);
        if (lm != 0 && rm != 0 && (lm & rm) == 0) {
          jc.lhs = b->left.get();
          jc.rhs = b->right.get();
          jc.lmask = lm;
          jc.rmask = rm;
        }
      }
    }
    jt->join_conds.push_back(jc);
  }
  return absl::OkStatus();
}

// The rest of BuildJoinTree once every conjunct is placed: the leaves' filters and access
// paths, the join order, the semi joins and the conditions left on top.
__attribute__((noinline)) absl::StatusOr<PlanPtr> Binder::JoinTreeFinish(JoinTreeBuild* jt) {
  std::vector<PlanPtr>& leaves = jt->leaves;
  const size_t n = leaves.size();
  Scope* parent = jt->parent;
  std::vector<Correlation>* corr = jt->corr;
  Scope& fs = jt->fs;
  const Schema& full = jt->full;
  const std::vector<size_t>& offsets = jt->offsets;
  std::vector<std::vector<const Expr*>>& leaf_conds = jt->leaf_conds;
  using JoinCond = JoinTreeBuild::JoinCond;
  std::vector<JoinCond>& join_conds = jt->join_conds;
  std::vector<expr::ExprPtr>& top = jt->top;
  std::vector<SemiJoinPart>& semis = jt->semis;
  auto leaf_of = [jt](size_t col) { return jt->LeafOf(col); };
  for (size_t j = 0; j < n; ++j) {
    if (leaf_conds[j].empty()) continue;
    Scope ls;
    ls.schema = &leaves[j]->schema;
    ls.parent = parent;
    ls.corr = corr;
    ls.clause = "where clause";
    std::vector<expr::ExprPtr> bound;
    for (const Expr* c : leaf_conds[j]) {
      auto x = Bind(*c, &ls);
      if (!x.ok()) return x.status();
      bound.push_back(*std::move(x));
    }
    if (leaves[j]->kind == PlanKind::kTableScan) {
      auto* scan = static_cast<TableScanNode*>(leaves[j].get());
      if (opts_.optimize) ApplyAccessPath(scan, bound);
      scan->filter = AndAll(std::move(bound));
    } else {
      leaves[j] = Filtered(leaves[j], std::move(bound));
    }
  }
  std::vector<double> rows(n);
  for (size_t j = 0; j < n; ++j) rows[j] = EstimatePlanRows(leaves[j].get(), opts_.stats);
  std::vector<JoinEdge> edges;
  for (const JoinCond& jc : join_conds) {
    JoinEdge e;
    e.leaves = jc.mask;
    e.left = jc.lmask;
    e.right = jc.rmask;
    e.selectivity = kDefaultJoinSelectivity;
    if (jc.lhs != nullptr) {
      // 1 / max(NDV) of the two sides (TiDB's equal-join estimate), for plain columns.
      auto l = Bind(*jc.lhs, &fs);
      auto r = Bind(*jc.rhs, &fs);
      double ndv = 1;
      for (auto* x : {l.ok() ? l->get() : nullptr, r.ok() ? r->get() : nullptr}) {
        auto* c = dynamic_cast<const expr::ColumnRef*>(x);
        if (c == nullptr) {
          ndv = std::max(ndv, 1 / kPseudoEqualRate);
          continue;
        }
        const size_t leaf = leaf_of(c->index());
        ndv = std::max(
            ndv, ColumnNdv(*leaves[leaf], c->index() - offsets[leaf], rows[leaf], opts_.stats));
      }
      e.selectivity = 1 / ndv;
    }
    edges.push_back(e);
  }
  // LEADING(t1, t2, ...): those leaves first in that order, then the rest as written.
  std::vector<int> leading;
  if (!hints_.leading.empty() && n > 1) {
    std::vector<bool> taken(n, false);
    for (const std::string& name : hints_.leading) {
      for (size_t j = 0; j < n; ++j) {
        if (!taken[j] && !leaves[j]->schema.empty() &&
            absl::AsciiStrToLower(leaves[j]->schema[0].table) == name) {
          taken[j] = true;
          leading.push_back(static_cast<int>(j));
          break;
        }
      }
    }
    if (leading.empty()) {
      // No hinted table in this FROM.
    } else {
      for (size_t j = 0; j < n; ++j) {
        if (!taken[j]) leading.push_back(static_cast<int>(j));
      }
    }
  }
  std::vector<JoinOrderNode> order = !leading.empty() ? WrittenJoinOrder(rows, edges, &leading)
                                     : opts_.optimize ? OrderJoins(rows, edges)
                                                      : WrittenJoinOrder(rows, edges);
  // Whether an unplaced equality joins leaf `leaf` to leaves within `outer_mask` through a
  // plain column of the leaf that is its handle or the first column of a public index.
  auto index_joinable = [&](int leaf, uint64_t outer_mask) {
    const PlanPtr& l = leaves[leaf];
    if (l->kind != PlanKind::kTableScan) return false;
    const TableInfo& t = *static_cast<const TableScanNode*>(l.get())->table;
    if (t.memory_rows != nullptr) return false;
    const uint64_t bit = uint64_t{1} << leaf;
    Scope ls;
    ls.schema = &l->schema;
    ls.parent = parent;
    ls.corr = corr;
    for (const JoinCond& jc : join_conds) {
      if (jc.placed || jc.lhs == nullptr) continue;
      const Expr* side = nullptr;
      if (jc.lmask == bit && (jc.rmask & ~outer_mask) == 0) {
        side = jc.lhs;
      } else if (jc.rmask == bit && (jc.lmask & ~outer_mask) == 0) {
        side = jc.rhs;
      }
      if (side == nullptr) continue;
      auto x = Bind(*side, &ls);
      if (!x.ok()) continue;
      auto* c = dynamic_cast<const expr::ColumnRef*>(x->get());
      if (c == nullptr) continue;
      const int col = static_cast<int>(c->index());
      if (col == static_cast<int>(l->schema.size()) - 1 || col == t.handle_col) return true;
      for (const IndexInfo& idx : t.indexes) {
        if (idx.Public() && !idx.columns.empty() && idx.columns[0] == col) return true;
      }
    }
    return false;
  };
  // What reading a table scan on its own costs in rows: its access path's rows when it
  // has one (a point get or range already reads little), else the table's.
  auto inner_read_rows = [&](const TableScanNode& scan) {
    return scan.access_rows >= 0 ? scan.access_rows : TableRows(scan, opts_.stats);
  };
  auto alias_of = [&](int node) -> std::string {
    if (node < 0 || order[node].leaf < 0) return "";
    const PlanPtr& l = leaves[order[node].leaf];
    if (l->kind != PlanKind::kTableScan || l->schema.empty()) return "";
    return absl::AsciiStrToLower(l->schema[0].table);
  };
  // Builds the plans bottom-up; each node's output is its left then right columns.
  std::vector<PlanPtr> built(order.size());
  std::vector<std::vector<int>> leaf_order(order.size());  // Leaves in output order.
  for (size_t k = 0; k < order.size(); ++k) {
    const JoinOrderNode& on = order[k];
    if (on.leaf >= 0) {
      built[k] = leaves[on.leaf];
      leaf_order[k] = {on.leaf};
      continue;
    }
    // INL_JOIN(t): t is the inner (right) side when it can be. By cost: the order puts the
    // smaller input on the right (a hash join's build side); when that side is small next to
    // a left table that its keys can look up (its handle or an index's first column), the
    // table becomes the inner side of an index lookup join instead.
    int li = on.left, ri = on.right;
    if (hints_.inl.count(alias_of(li)) > 0 && hints_.inl.count(alias_of(ri)) == 0) {
      std::swap(li, ri);
    } else if (opts_.optimize && hints_.inl.count(alias_of(ri)) == 0 && !alias_of(li).empty() &&
               hints_.hash.count(alias_of(li)) == 0 && hints_.hash.count(alias_of(ri)) == 0) {
      auto rows_of = [&](int node) {
        return inner_read_rows(*static_cast<const TableScanNode*>(leaves[order[node].leaf].get()));
      };
      const bool right_inl =
          !alias_of(ri).empty() && order[li].rows * kIndexJoinRowFactor < rows_of(ri);
      if (!right_inl && order[ri].rows * kIndexJoinRowFactor < rows_of(li) &&
          index_joinable(order[li].leaf, order[ri].mask)) {
        std::swap(li, ri);
      }
    }
    const PlanPtr& lp = built[li];
    const PlanPtr& rp = built[ri];
    const uint64_t lmask = order[li].mask, rmask = order[ri].mask;
    auto join = std::make_shared<JoinNode>();
    join->type = JoinType::kInner;
    join->children = {lp, rp};
    join->schema = lp->schema;
    join->schema.insert(join->schema.end(), rp->schema.begin(), rp->schema.end());
    join->est_rows = on.rows;
    leaf_order[k] = leaf_order[li];
    leaf_order[k].insert(leaf_order[k].end(), leaf_order[ri].begin(), leaf_order[ri].end());
    Scope js;
    js.schema = &join->schema;
    js.parent = parent;
    js.corr = corr;
    js.clause = "where clause";
    std::vector<expr::ExprPtr> others;
    for (JoinCond& jc : join_conds) {
      if (jc.placed || (jc.mask & ~on.mask) != 0) continue;
      jc.placed = true;
      if (jc.lhs != nullptr) {
        const Expr* lside = nullptr;
        const Expr* rside = nullptr;
        if ((jc.lmask & ~lmask) == 0 && (jc.rmask & ~rmask) == 0) {
          lside = jc.lhs;
          rside = jc.rhs;
        } else if ((jc.rmask & ~lmask) == 0 && (jc.lmask & ~rmask) == 0) {
          lside = jc.rhs;
          rside = jc.lhs;
        }
        if (lside != nullptr) {
          Scope lsc = js, rsc = js;
          lsc.schema = &lp->schema;
          rsc.schema = &rp->schema;
          auto lkey = Bind(*lside, &lsc);
          if (!lkey.ok()) return lkey.status();
          auto rkey = Bind(*rside, &rsc);
          if (!rkey.ok()) return rkey.status();
          if (HashCompatible((*lkey)->type(), (*rkey)->type())) {
            join->left_keys.push_back(*std::move(lkey));
            join->right_keys.push_back(*std::move(rkey));
            continue;
          }
        }
      }
      auto x = Bind(*jc.ast, &js);
      if (!x.ok()) return x.status();
      others.push_back(*std::move(x));
    }
    join->other = AndAll(std::move(others));
    // Index lookup join: hinted (INL_JOIN), or by cost when the outer side is small next to
    // what reading the inner table whole costs (and no HASH_JOIN hint names either side).
    if (opts_.optimize && !join->right_keys.empty() && !alias_of(ri).empty()) {
      auto* scan = static_cast<TableScanNode*>(rp.get());
      const std::string inner = alias_of(ri), outer = alias_of(li);
      bool use = hints_.inl.count(inner) > 0;
      if (!use && hints_.hash.count(inner) == 0 &&
          (outer.empty() || hints_.hash.count(outer) == 0)) {
        use = order[li].rows * kIndexJoinRowFactor < inner_read_rows(*scan);
      }
      if (use) TryIndexJoin(join.get(), scan);
    }
    NoteJoinHints(join.get(), *lp, *rp);
    built[k] = join;
  }
  PlanPtr plan = built.back();
  // Restores the written column order when the leaves were reordered.
  const std::vector<int>& lo = leaf_order.back();
  bool same = true;
  for (size_t i = 0; i < lo.size(); ++i) same = same && lo[i] == static_cast<int>(i);
  if (!same) {
    std::vector<size_t> pos(n);  // Leaf -> first column in the join's output.
    size_t at = 0;
    for (int leaf : lo) {
      pos[leaf] = at;
      at += leaves[leaf]->schema.size();
    }
    auto proj = std::make_shared<ProjectionNode>();
    proj->children.push_back(plan);
    proj->schema = full;
    proj->est_rows = plan->est_rows;
    for (size_t j = 0; j < n; ++j) {
      for (size_t c = 0; c < leaves[j]->schema.size(); ++c) {
        proj->exprs.push_back(
            expr::NewColumn(pos[j] + c, leaves[j]->schema[c].type, leaves[j]->schema[c].name));
      }
    }
    plan = proj;
  }
  for (SemiJoinPart& s : semis) {
    auto join = std::make_shared<JoinNode>();
    join->type = s.type;
    join->children = {plan, s.plan};
    join->schema = plan->schema;
    join->left_keys = std::move(s.left_keys);
    join->right_keys = std::move(s.right_keys);
    join->other = std::move(s.other);
    plan = join;
  }
  if (!top.empty()) {
    plan = Filtered(plan, std::move(top));
  }
  return plan;
}

namespace {

bool ContainsSubquery(const Expr& e) {
  if (dynamic_cast<const SubqueryExpr*>(&e) != nullptr ||
      dynamic_cast<const ExistsExpr*>(&e) != nullptr ||
      dynamic_cast<const CompareSubqueryExpr*>(&e) != nullptr) {
    return true;
  }
  if (auto* in = dynamic_cast<const InExpr*>(&e); in != nullptr && in->subquery) return true;
  bool found = false;
  ForEachChild(e, [&](const Expr& c) { found = found || ContainsSubquery(c); });
  return found;
}

void CollectColumnRefs(const Expr& e, std::vector<const ColumnRefExpr*>* out) {
  if (auto* c = dynamic_cast<const ColumnRefExpr*>(&e)) {
    out->push_back(c);
    return;
  }
  ForEachChild(e, [&](const Expr& c) { CollectColumnRefs(c, out); });
}

}  // namespace

Binder::ConjunctKind Binder::ClassifyConjunct(const Expr& k, const Scope& inner_scope,
                                              const Schema& outer, const Schema& combined) {
  {
    std::vector<Correlation> kc;
    Scope ks = inner_scope;
    ks.corr = &kc;
    auto x = Bind(k, &ks);
    if (x.ok() && kc.empty()) return ConjunctKind::kLocal;
  }
  // Correlated: every column must resolve over outer ++ inner exactly as the subquery's
  // scoping resolves it (inner names first, then the outer query's).
  if (ContainsSubquery(k)) return ConjunctKind::kRefused;
  const Schema& inner = *inner_scope.schema;
  std::vector<const ColumnRefExpr*> refs;
  CollectColumnRefs(k, &refs);
  for (const ColumnRefExpr* c : refs) {
    const int ri = FindColumn(inner, *c);
    if (ri == -2) return ConjunctKind::kRefused;
    int want = ri >= 0 ? static_cast<int>(outer.size()) + ri : FindColumn(outer, *c);
    if (want < 0 || FindColumn(combined, *c) != want) return ConjunctKind::kRefused;
  }
  return ConjunctKind::kCorrelated;
}

std::optional<Binder::SemiJoinPart> Binder::Decorrelate(const Expr& cond, const Schema& outer,
                                                        Scope* parent,
                                                        std::vector<Correlation>* corr) {
  const Expr* e = &cond;
  bool negated = false;
  if (auto* u = dynamic_cast<const UnaryExpr*>(e); u != nullptr && u->op == UnaryOp::kNot) {
    negated = true;
    e = u->operand.get();
  }
  const QueryStmt* q = nullptr;
  const Expr* operand = nullptr;
  if (auto* ex = dynamic_cast<const ExistsExpr*>(e)) {
    q = ex->query.get();
  } else if (auto* in = dynamic_cast<const InExpr*>(e);
             in != nullptr && in->subquery && !in->negated && !negated &&
             dynamic_cast<const RowExpr*>(in->operand.get()) == nullptr) {
    q = in->subquery.get();
    operand = in->operand.get();
  }
  if (q == nullptr) return std::nullopt;
  auto* sel = dynamic_cast<const SelectStmt*>(q);
  if (sel == nullptr || sel->from == nullptr || !sel->group_by.empty() || sel->having ||
      sel->limit.has_value() || sel->with_rollup) {
    return std::nullopt;
  }
  std::vector<const AggregateExpr*> aggs;
  for (const SelectField& f : sel->fields) {
    if (f.expr) CollectAggs(*f.expr, &aggs);
  }
  for (const OrderItem& o : sel->order_by) CollectAggs(*o.expr, &aggs);
  if (!aggs.empty()) return std::nullopt;
  if (operand != nullptr && (sel->fields.size() != 1 || sel->fields[0].wildcard)) {
    return std::nullopt;
  }
  // The subquery's FROM alone gives its schema; nothing in it may be correlated.
  std::vector<Correlation> from_corr;
  auto probe = BuildFromConds(*sel->from, {}, nullptr, &from_corr, nullptr);
  if (!probe.ok() || !from_corr.empty()) return std::nullopt;
  const Schema inner = (*probe)->schema;
  Schema combined = outer;
  combined.insert(combined.end(), inner.begin(), inner.end());
  Scope inner_scope;
  inner_scope.schema = &inner;
  Scope comb_scope;
  comb_scope.schema = &combined;
  SemiJoinPart part;
  part.type = negated ? JoinType::kAnti : JoinType::kSemi;
  std::vector<const Expr*> conj, local;
  SplitAnd(sel->where.get(), &conj);
  std::vector<expr::ExprPtr> others;
  bool correlated = false;
  for (const Expr* k : conj) {
    const ConjunctKind kind = ClassifyConjunct(*k, inner_scope, outer, combined);
    if (kind == ConjunctKind::kRefused) return std::nullopt;
    if (kind == ConjunctKind::kLocal) {
      local.push_back(k);
      continue;
    }
    correlated = true;
    if (auto* b = dynamic_cast<const BinaryExpr*>(k); b != nullptr && b->op == BinaryOp::kEq) {
      auto l = Bind(*b->left, &comb_scope);
      auto r = Bind(*b->right, &comb_scope);
      if (!l.ok() || !r.ok()) return std::nullopt;
      std::set<size_t> lc, rc;
      CollectColumns(**l, &lc);
      CollectColumns(**r, &rc);
      auto outer_only = [&](const std::set<size_t>& cs) {
        return !cs.empty() && *cs.rbegin() < outer.size();
      };
      auto inner_only = [&](const std::set<size_t>& cs) {
        return !cs.empty() && *cs.begin() >= outer.size();
      };
      const Expr* inner_side = nullptr;
      expr::ExprPtr outer_key;
      if (outer_only(lc) && inner_only(rc)) {
        inner_side = b->right.get();
        outer_key = *std::move(l);
      } else if (outer_only(rc) && inner_only(lc)) {
        inner_side = b->left.get();
        outer_key = *std::move(r);
      }
      if (inner_side != nullptr) {
        auto inner_key = Bind(*inner_side, &inner_scope);
        if (inner_key.ok() && HashCompatible(outer_key->type(), (*inner_key)->type())) {
          part.left_keys.push_back(std::move(outer_key));
          part.right_keys.push_back(*std::move(inner_key));
          continue;
        }
      }
    }
    auto x = Bind(*k, &comb_scope);
    if (!x.ok()) return std::nullopt;
    others.push_back(*std::move(x));
  }
  if (operand != nullptr) {
    Scope os;
    os.schema = &outer;
    os.parent = parent;
    os.corr = corr;
    auto l = Bind(*operand, &os);
    auto r = Bind(*sel->fields[0].expr, &inner_scope);
    if (!l.ok() || !r.ok() || !HashCompatible((*l)->type(), (*r)->type())) return std::nullopt;
    part.left_keys.insert(part.left_keys.begin(), *std::move(l));
    part.right_keys.insert(part.right_keys.begin(), *std::move(r));
  } else if (!correlated) {
    return std::nullopt;  // An uncorrelated EXISTS runs once and is cached.
  }
  std::vector<Correlation> sub_corr;
  auto plan = BuildFromConds(*sel->from, local, nullptr, &sub_corr, nullptr);
  if (!plan.ok() || !sub_corr.empty()) return std::nullopt;
  part.plan = *std::move(plan);
  part.other = AndAll(std::move(others));
  return part;
}

namespace {

// The scalar subqueries in `e` (not inside other subqueries).
void CollectScalarSubqueries(const Expr& e, std::vector<const SubqueryExpr*>* out) {
  if (auto* sq = dynamic_cast<const SubqueryExpr*>(&e)) {
    out->push_back(sq);
    return;
  }
  ForEachChild(e, [&](const Expr& c) { CollectScalarSubqueries(c, out); });
}

// Whether evaluating `e` can raise no warning nor error on any row (conservative: columns,
// constants, comparisons and logic over them, lossless numeric casts).
bool Quiet(const expr::Expression& e) {
  if (dynamic_cast<const expr::ColumnRef*>(&e) != nullptr ||
      dynamic_cast<const expr::Constant*>(&e) != nullptr) {
    return true;
  }
  auto* f = dynamic_cast<const expr::ScalarFunction*>(&e);
  if (f == nullptr) return false;
  const std::string& n = f->name();
  for (size_t i = 0; i < f->num_args(); ++i) {
    if (!Quiet(f->arg(i))) return false;
  }
  if (n == "cast") {
    const EvalType from = f->arg(0).eval_type(), to = f->eval_type();
    const bool numeric_to =
        to == EvalType::kInt || to == EvalType::kDecimal || to == EvalType::kReal;
    return (from == EvalType::kInt && numeric_to &&
            (to != EvalType::kInt || f->arg(0).type().IsUnsigned() == f->type().IsUnsigned())) ||
           (from == EvalType::kDecimal && to == EvalType::kReal) ||
           (from == to && from == EvalType::kString &&
            f->type().collation == f->arg(0).type().collation);
  }
  if (n == "eq" || n == "ne" || n == "lt" || n == "le" || n == "gt" || n == "ge" || n == "nulleq" ||
      n == "isnull") {
    return true;  // Operands of differing classes are compared through casts, checked above.
  }
  if (n == "and" || n == "or" || n == "not" || n == "xor") {
    for (size_t i = 0; i < f->num_args(); ++i) {
      if (f->arg(i).eval_type() == EvalType::kString) return false;  // Truth of a string warns.
    }
    return true;
  }
  return false;
}

}  // namespace

// The join evaluates the subquery's expressions once over every inner row (matched or
// not); the correlated execution (an Apply, as MySQL runs it) over the matching inner rows,
// once per outer row. Warnings (and errors) would differ, so only subqueries whose
// conditions, keys and aggregate arguments cannot raise any (Quiet) are decorrelated.
std::optional<Binder::ScalarJoinPart> Binder::DecorrelateScalar(const SubqueryExpr& sq,
                                                                const Schema& outer) {
  auto* sel = dynamic_cast<const SelectStmt*>(sq.query.get());
  if (sel == nullptr || sel->from == nullptr || !sel->group_by.empty() || sel->having ||
      sel->limit.has_value() || sel->with_rollup || sel->distinct || sel->fields.size() != 1 ||
      sel->fields[0].wildcard) {
    return std::nullopt;
  }
  auto* agg = dynamic_cast<const AggregateExpr*>(sel->fields[0].expr.get());
  if (agg == nullptr || !agg->order_by.empty()) return std::nullopt;
  const std::string name = absl::AsciiStrToLower(agg->name);
  if (name != "count" && name != "sum" && name != "avg" && name != "min" && name != "max") {
    return std::nullopt;
  }
  for (const auto& a : agg->args) {
    std::vector<const AggregateExpr*> nested;
    CollectAggs(*a, &nested);
    if (!nested.empty() || ContainsSubquery(*a)) return std::nullopt;
  }
  std::vector<Correlation> from_corr;
  auto probe = BuildFromConds(*sel->from, {}, nullptr, &from_corr, nullptr);
  if (!probe.ok() || !from_corr.empty()) return std::nullopt;
  const Schema inner = (*probe)->schema;
  Schema combined = outer;
  combined.insert(combined.end(), inner.begin(), inner.end());
  Scope inner_scope;
  inner_scope.schema = &inner;
  Scope comb_scope;
  comb_scope.schema = &combined;
  ScalarJoinPart part;
  std::vector<const Expr*> conj, local, inner_keys;
  SplitAnd(sel->where.get(), &conj);
  for (const Expr* k : conj) {
    // Correlated conjuncts: only `outer = inner` equalities.
    const ConjunctKind kind = ClassifyConjunct(*k, inner_scope, outer, combined);
    if (kind == ConjunctKind::kRefused) return std::nullopt;
    if (kind == ConjunctKind::kLocal) {
      auto x = Bind(*k, &inner_scope);
      if (!x.ok() || !Quiet(**x)) return std::nullopt;
      local.push_back(k);
      continue;
    }
    auto* b = dynamic_cast<const BinaryExpr*>(k);
    if (b == nullptr || b->op != BinaryOp::kEq) return std::nullopt;
    auto l = Bind(*b->left, &comb_scope);
    auto r = Bind(*b->right, &comb_scope);
    if (!l.ok() || !r.ok()) return std::nullopt;
    std::set<size_t> lc, rc;
    CollectColumns(**l, &lc);
    CollectColumns(**r, &rc);
    auto outer_only = [&](const std::set<size_t>& cs) {
      return !cs.empty() && *cs.rbegin() < outer.size();
    };
    auto inner_only = [&](const std::set<size_t>& cs) {
      return !cs.empty() && *cs.begin() >= outer.size();
    };
    const Expr* inner_side = nullptr;
    expr::ExprPtr outer_key;
    if (outer_only(lc) && inner_only(rc)) {
      inner_side = b->right.get();
      outer_key = *std::move(l);
    } else if (outer_only(rc) && inner_only(lc)) {
      inner_side = b->left.get();
      outer_key = *std::move(r);
    } else {
      return std::nullopt;
    }
    auto inner_key = Bind(*inner_side, &inner_scope);
    if (!inner_key.ok() || !HashCompatible(outer_key->type(), (*inner_key)->type()) ||
        !Quiet(*outer_key) || !Quiet(**inner_key)) {
      return std::nullopt;
    }
    part.left_keys.push_back(std::move(outer_key));
    inner_keys.push_back(inner_side);
  }
  if (part.left_keys.empty()) return std::nullopt;  // Uncorrelated: run once and cached.
  std::vector<Correlation> sub_corr;
  auto plan = BuildFromConds(*sel->from, local, nullptr, &sub_corr, nullptr);
  if (!plan.ok() || !sub_corr.empty()) return std::nullopt;
  Scope ps;
  ps.schema = &(*plan)->schema;
  auto an = std::make_shared<AggregateNode>();
  an->children.push_back(*plan);
  for (const Expr* k : inner_keys) {
    auto x = Bind(*k, &ps);
    if (!x.ok()) return std::nullopt;
    // Unnamed: the columns join the outer query's FROM schema, where no name may find them.
    an->schema.push_back({"", "", "", (*x)->type(), true});
    an->group_by.push_back(*std::move(x));
  }
  AggItem item;
  std::vector<FieldType> types;
  for (const auto& a : agg->args) {
    auto x = Bind(*a, &ps);
    if (!x.ok() || !Quiet(**x)) return std::nullopt;
    // SUM and AVG convert their argument to a number: a string's conversion warns.
    const EvalType et = (*x)->eval_type();
    if ((name == "sum" || name == "avg") && et != EvalType::kInt && et != EvalType::kDecimal &&
        et != EvalType::kReal) {
      return std::nullopt;
    }
    types.push_back((*x)->type());
    item.args.push_back(*std::move(x));
  }
  auto desc = expr::NewAggDesc(name, types, agg->distinct);
  if (!desc.ok()) return std::nullopt;
  item.desc = *std::move(desc);
  an->schema.push_back({"", "", "", item.desc.result_type, true});
  an->aggs.push_back(std::move(item));
  an->est_rows = EstimatePlanRows(an.get(), opts_.stats);
  for (size_t i = 0; i < inner_keys.size(); ++i) {
    part.right_keys.push_back(expr::NewColumn(i, an->schema[i].type));
  }
  part.plan = an;
  part.is_count = name == "count";
  return part;
}

std::vector<const SubqueryExpr*> Binder::JoinScalarSubqueries(const std::vector<const Expr*>& exprs,
                                                              PlanPtr* plan) {
  std::vector<const SubqueryExpr*> found, done;
  for (const Expr* e : exprs) CollectScalarSubqueries(*e, &found);
  for (const SubqueryExpr* sq : found) {
    if (std::find(done.begin(), done.end(), sq) != done.end()) continue;
    std::optional<ScalarJoinPart> part = DecorrelateScalar(*sq, (*plan)->schema);
    if (!part.has_value()) continue;
    auto join = std::make_shared<JoinNode>();
    join->type = JoinType::kLeft;
    join->children = {*plan, part->plan};
    join->schema = (*plan)->schema;
    join->schema.insert(join->schema.end(), part->plan->schema.begin(), part->plan->schema.end());
    join->left_keys = std::move(part->left_keys);
    join->right_keys = std::move(part->right_keys);
    join->est_rows = (*plan)->est_rows;
    ScalarColumn col;
    col.index = join->schema.size() - 1;
    col.type = join->schema.back().type;
    col.is_count = part->is_count;
    scalar_cols_[sq] = col;
    *plan = join;
    done.push_back(sq);
  }
  return done;
}

namespace {

// Costs per row read (TiDB's cost model in spirit): a table row in a scan, an index entry,
// and the extra random read of an index lookup's row; a seek per range.
constexpr double kTableRowCost = 1.0;
constexpr double kIndexRowCost = 0.6;
constexpr double kLookupRowCost = 1.5;
constexpr double kSeekCost = 0.5;

std::string IndexPrefixOf(const TableInfo& t, const IndexInfo& idx) {
  return codec::EncodeIndexPrefix(t.id, idx.id);
}

}  // namespace

bool Binder::TryIndexJoin(JoinNode* join, TableScanNode* scan) {
  const TablePtr table = scan->table;
  const TableInfo& t = *table;
  if (t.memory_rows != nullptr || scan->lookup_inner || scan->schema.empty()) return false;
  const size_t nkeys = join->right_keys.size();
  std::vector<int> kcol(nkeys, -1);
  for (size_t i = 0; i < nkeys; ++i) {
    if (auto* c = dynamic_cast<const expr::ColumnRef*>(join->right_keys[i].get())) {
      kcol[i] = static_cast<int>(c->index());
    }
  }
  // An outer key's datums must encode as the inner column's: integers of one signedness,
  // or strings of one collation.
  auto same_class = [&](size_t i, const FieldType& col) {
    const FieldType& o = join->left_keys[i]->type();
    const EvalType eo = o.GetEvalType(), ec = col.GetEvalType();
    if (eo == EvalType::kInt && ec == EvalType::kInt) return o.IsUnsigned() == col.IsUnsigned();
    if (eo == EvalType::kString && ec == EvalType::kString) return o.collation == col.collation;
    return false;
  };
  const int handle_out = static_cast<int>(scan->schema.size()) - 1;
  int handle_key = -1;
  for (size_t i = 0; i < nkeys && handle_key < 0; ++i) {
    if ((kcol[i] == handle_out || (t.handle_col >= 0 && kcol[i] == t.handle_col)) &&
        same_class(i, scan->schema[handle_out].type)) {
      handle_key = static_cast<int>(i);
    }
  }
  const IndexInfo* best = nullptr;
  std::vector<size_t> best_keys;  // Outer key of each index column used.
  if (handle_key < 0) {
    auto hints = index_hints_.find(scan);
    for (const IndexInfo& idx : t.indexes) {
      if (!idx.Public()) continue;
      bool ok = true;
      if (hints != index_hints_.end()) {
        for (const IndexHint& h : hints->second) {
          if (h.scope != IndexHintScope::kAll && h.scope != IndexHintScope::kJoin) continue;
          bool named = false;
          for (const std::string& nm : h.indexes) named = named || NameEq(nm, idx.name);
          ok = ok && (h.kind == IndexHintKind::kIgnore ? !named : named);
        }
      }
      if (!ok) continue;
      std::vector<size_t> used;
      for (int c : idx.columns) {
        int found = -1;
        for (size_t i = 0; i < nkeys && found < 0; ++i) {
          if (kcol[i] == c && same_class(i, t.columns[c].type)) found = static_cast<int>(i);
        }
        if (found < 0) break;
        used.push_back(static_cast<size_t>(found));
      }
      if (used.size() > best_keys.size()) {
        best = &idx;
        best_keys = std::move(used);
      }
    }
    if (best == nullptr) return false;
  }
  // The template: what the lookups read besides their keys (the filter applied by the join).
  access_candidates_.erase(scan);
  scan->handles.reset();
  scan->lo = INT64_MIN;
  scan->hi = INT64_MAX;
  scan->handle_ranges.clear();
  scan->index_ranges.clear();
  scan->merge_paths.clear();
  scan->index_only = false;
  scan->desc = false;
  scan->limit.reset();
  scan->index_id = best != nullptr ? best->id : 0;
  scan->lookup_inner = true;
  const Schema schema = scan->schema;
  if (handle_key >= 0) {
    const size_t ki = static_cast<size_t>(handle_key);
    join->inner_lookup =
        [table, schema,
         ki](const std::vector<std::vector<Datum>>& keys) -> absl::StatusOr<PlanPtr> {
      std::vector<int64_t> hs;
      for (const std::vector<Datum>& k : keys) {
        const Datum& d = k[ki];
        if (d.kind() == DatumKind::kInt64) {
          hs.push_back(d.GetInt64());
        } else if (d.kind() == DatumKind::kUint64 &&
                   d.GetUint64() <= static_cast<uint64_t>(INT64_MAX)) {
          hs.push_back(static_cast<int64_t>(d.GetUint64()));
        }
      }
      std::sort(hs.begin(), hs.end());
      hs.erase(std::unique(hs.begin(), hs.end()), hs.end());
      auto s = std::make_shared<TableScanNode>();
      s->table = table;
      s->schema = schema;
      s->handles = std::move(hs);
      return PlanPtr(s);
    };
    return true;
  }
  const std::string prefix = IndexPrefixOf(t, *best);
  const int64_t index_id = best->id;
  std::vector<Collation> colls;
  for (size_t j = 0; j < best_keys.size(); ++j) {
    const FieldType& ft = t.columns[best->columns[j]].type;
    colls.push_back(ft.GetEvalType() == EvalType::kString ? ft.collation : Collation::kBinary);
  }
  join->inner_lookup = [table, schema, prefix, index_id, best_keys, colls](
                           const std::vector<std::vector<Datum>>& keys) -> absl::StatusOr<PlanPtr> {
    std::vector<std::string> los;
    for (const std::vector<Datum>& k : keys) {
      std::string lo = prefix;
      for (size_t j = 0; j < best_keys.size(); ++j) {
        codec::EncodeKeyDatum(&lo, k[best_keys[j]], colls[j]);
      }
      los.push_back(std::move(lo));
    }
    std::sort(los.begin(), los.end());
    los.erase(std::unique(los.begin(), los.end()), los.end());
    auto s = std::make_shared<TableScanNode>();
    s->table = table;
    s->schema = schema;
    s->index_id = index_id;
    for (std::string& lo : los) {
      std::string hi = codec::PrefixNext(lo);
      s->index_ranges.push_back({std::move(lo), std::move(hi)});
    }
    return PlanPtr(s);
  };
  return true;
}

Binder::JoinHints Binder::ParseJoinHints(const std::vector<std::string>& texts) {
  JoinHints h;
  for (const std::string& text : texts) {
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() &&
             !(std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
        ++i;
      size_t start = i;
      while (i < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
        ++i;
      std::string name = absl::AsciiStrToLower(text.substr(start, i - start));
      while (i < text.size() && text[i] == ' ') ++i;
      if (name.empty() || i >= text.size() || text[i] != '(') continue;
      size_t close = text.find(')', i);
      if (close == std::string::npos) break;
      std::vector<std::string> args;
      for (absl::string_view a : absl::StrSplit(text.substr(i + 1, close - i - 1),
                                                absl::ByAnyChar(", "), absl::SkipEmpty())) {
        std::string arg(a);
        arg.erase(std::remove(arg.begin(), arg.end(), '`'), arg.end());
        if (size_t at = arg.find('@'); at != std::string::npos) arg.resize(at);
        if (size_t dot = arg.rfind('.'); dot != std::string::npos) arg = arg.substr(dot + 1);
        if (!arg.empty()) args.push_back(absl::AsciiStrToLower(arg));
      }
      i = close + 1;
      if (name == "inl_join" || name == "tidb_inlj" || name == "inl_hash_join") {
        h.inl.insert(args.begin(), args.end());
      } else if (name == "hash_join" || name == "tidb_hj") {
        h.hash.insert(args.begin(), args.end());
      } else if (name == "merge_join" || name == "tidb_smj") {
        h.merge.insert(args.begin(), args.end());
      } else if (name == "no_merge_join") {
        h.no_merge.insert(args.begin(), args.end());
      } else if (name == "leading") {
        h.leading = args;
      }
    }
  }
  return h;
}

void Binder::ApplyAccessPath(TableScanNode* scan, const std::vector<expr::ExprPtr>& conds) {
  const TableInfo& t = *scan->table;
  if (t.memory_rows != nullptr) return;
  std::vector<const expr::Expression*> cs;
  for (const auto& c : conds) cs.push_back(c.get());
  const double rows = TableRows(*scan, opts_.stats);
  TableStatsPtr ts = StatsOf(*scan, opts_.stats);
  std::vector<AccessCandidate> cands;
  AccessCandidate full;
  full.rows = rows;
  full.cost = rows * kTableRowCost;
  cands.push_back(full);
  // Estimated rows of handle ranges and of an index's ranges.
  const bool has_handle = t.handle_col >= 0 && !t.columns[t.handle_col].type.IsUnsigned();
  const ColumnStats* hstats = nullptr;
  if (ts != nullptr && has_handle) {
    auto it = ts->columns.find(t.columns[t.handle_col].id);
    if (it != ts->columns.end()) hstats = &it->second;
  }
  auto handle_rows = [&](const std::vector<std::pair<int64_t, int64_t>>& hr, bool* points) {
    *points = true;
    double n = 0, est = 0;
    for (const auto& [a, b] : hr) {
      *points = *points && a == b;
      n += static_cast<double>(b) - static_cast<double>(a) + 1;
      if (a == b) {
        est += 1;
      } else if (hstats != nullptr) {
        std::string lo, hi;
        if (a != INT64_MIN) codec::EncodeKeyDatum(&lo, Datum::Int(a));
        if (b != INT64_MAX) codec::EncodeKeyDatum(&hi, Datum::Int(b));
        est += hstats->RangeRows(lo, hi.empty() ? "" : codec::PrefixNext(hi));
      } else if (a != INT64_MIN && b != INT64_MAX) {
        est += static_cast<double>(b) - static_cast<double>(a) + 1;
      } else if (a != INT64_MIN || b != INT64_MAX) {
        est += rows * kPseudoLessRate;
      } else {
        est += rows;
      }
    }
    return std::min(rows, std::min(est, n));
  };
  auto index_rows = [&](const IndexInfo& idx, const std::vector<KeyRange>& ranges) {
    const ColumnStats* is = nullptr;
    if (ts != nullptr) {
      auto it = ts->indexes.find(idx.id);
      if (it != ts->indexes.end()) is = &it->second;
    }
    double est = 0;
    for (const KeyRange& r : ranges) {
      if (r.full_point && idx.unique && r.lo.find(static_cast<char>(codec::kNilFlag)) != 0) {
        est += 1;
      } else if (is != nullptr) {
        est += is->RangeRows(r.lo, r.hi);
      } else {
        est += rows * r.pseudo_selectivity;
      }
    }
    return std::min(est, rows);
  };
  auto index_key_ranges = [&](const IndexInfo& idx, const std::vector<KeyRange>& ranges) {
    const std::string prefix = IndexPrefixOf(t, idx);
    std::vector<std::pair<std::string, std::string>> out;
    for (const KeyRange& r : ranges) {
      out.push_back({prefix + r.lo, r.hi.empty() ? codec::PrefixNext(prefix) : prefix + r.hi});
    }
    return out;
  };
  // The integer handle: point gets or handle ranges.
  if (has_handle) {
    auto hr = BuildHandleRanges(cs, static_cast<size_t>(t.handle_col));
    if (hr.has_value()) {
      AccessCandidate c;
      c.kind = AccessCandidate::kHandle;
      c.handle_ranges = *hr;
      bool points = false;
      c.rows = handle_rows(*hr, &points);
      c.cost = c.rows * kTableRowCost + (points ? 0 : static_cast<double>(hr->size()) * kSeekCost);
      cands.push_back(std::move(c));
    }
  }
  // Index hints: USE / FORCE INDEX name the indexes that may be used (an empty USE INDEX ()
  // none), IGNORE INDEX those that may not; FORCE INDEX also rules the table scan out
  // when a named index applies.
  bool forced = false;
  auto allowed = [&](const IndexInfo& idx) {
    auto it = index_hints_.find(scan);
    if (it == index_hints_.end()) return true;
    bool ok = true;
    for (const IndexHint& h : it->second) {
      if (h.scope != IndexHintScope::kAll && h.scope != IndexHintScope::kJoin) continue;
      bool named = false;
      for (const std::string& n : h.indexes) named = named || NameEq(n, idx.name);
      if (h.kind == IndexHintKind::kIgnore) {
        ok = ok && !named;
      } else {
        ok = ok && named;
        if (h.kind == IndexHintKind::kForce) forced = true;
      }
    }
    return ok;
  };
  auto index_types = [&](const IndexInfo& idx, std::vector<size_t>* cols,
                         std::vector<FieldType>* types) {
    bool coverable = true;
    for (int c : idx.columns) {
      cols->push_back(static_cast<size_t>(c));
      types->push_back(t.columns[c].type);
      const FieldType& ft = t.columns[c].type;
      const EvalType et = ft.GetEvalType();
      coverable = coverable && (et == EvalType::kInt || et == EvalType::kReal) &&
                  ft.tp != TypeCode::kBit && ft.tp != TypeCode::kYear;
    }
    return coverable;
  };
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Public() || idx.columns.empty() || !allowed(idx)) continue;
    std::vector<size_t> cols;
    std::vector<FieldType> types;
    const bool coverable = index_types(idx, &cols, &types);
    auto ranges = BuildIndexRanges(cs, cols, types);
    AccessCandidate c;
    c.kind = AccessCandidate::kIndex;
    c.index = &idx;
    c.coverable = coverable;
    if (!ranges.has_value()) {
      // No range: the whole index, worth reading only when it covers the query (its
      // entries are narrower than rows).
      if (!coverable) continue;
      const std::string prefix = IndexPrefixOf(t, idx);
      c.index_ranges.push_back({prefix, codec::PrefixNext(prefix)});
      c.rows = rows;
      c.cost = 1e300;
      c.covering_cost = rows * kIndexRowCost + kSeekCost;
      cands.push_back(std::move(c));
      continue;
    }
    c.index_ranges = index_key_ranges(idx, *ranges);
    c.rows = index_rows(idx, *ranges);
    const double seeks = static_cast<double>(ranges->size()) * kSeekCost;
    c.cost = c.rows * (kIndexRowCost + kLookupRowCost) + seeks;
    c.covering_cost = c.rows * kIndexRowCost + seeks;
    cands.push_back(std::move(c));
  }
  // Index merge (union) for a conjunct that is an OR: each disjunct read through its best
  // index or handle ranges, the handles united, each row looked up once.
  for (const expr::Expression* cond : cs) {
    std::vector<const expr::Expression*> disj;
    std::function<void(const expr::Expression*)> flatten = [&](const expr::Expression* e) {
      auto* f = dynamic_cast<const expr::ScalarFunction*>(e);
      if (f != nullptr && f->name() == "or" && disj.size() <= 16) {
        for (size_t i = 0; i < f->num_args(); ++i) flatten(&f->arg(i));
      } else {
        disj.push_back(e);
      }
    };
    flatten(cond);
    if (disj.size() < 2 || disj.size() > 16) continue;
    AccessCandidate m;
    m.kind = AccessCandidate::kMerge;
    double read = 0, cost = 0;
    bool ok = true;
    for (const expr::Expression* d : disj) {
      std::vector<const expr::Expression*> one = {d};
      TableScanNode::MergePath best;
      double best_rows = -1, best_cost = 0;
      if (has_handle) {
        auto hr = BuildHandleRanges(one, static_cast<size_t>(t.handle_col));
        if (hr.has_value()) {
          bool points = false;
          best_rows = handle_rows(*hr, &points);
          best_cost = best_rows * kIndexRowCost + static_cast<double>(hr->size()) * kSeekCost;
          for (const auto& [a, b] : *hr) {
            best.ranges.push_back({codec::EncodeRowKey(t.id, a),
                                   b == INT64_MAX
                                       ? codec::PrefixNext(codec::EncodeRecordPrefix(t.id))
                                       : codec::PrefixNext(codec::EncodeRowKey(t.id, b))});
          }
        }
      }
      for (const IndexInfo& idx : t.indexes) {
        if (!idx.Public() || idx.columns.empty() || !allowed(idx)) continue;
        std::vector<size_t> cols;
        std::vector<FieldType> types;
        index_types(idx, &cols, &types);
        auto ranges = BuildIndexRanges(one, cols, types);
        if (!ranges.has_value()) continue;
        const double r = index_rows(idx, *ranges);
        const double c = r * kIndexRowCost + static_cast<double>(ranges->size()) * kSeekCost;
        if (best_rows < 0 || c < best_cost) {
          best_rows = r;
          best_cost = c;
          best.index_id = idx.id;
          best.ranges = index_key_ranges(idx, *ranges);
        }
      }
      if (best_rows < 0) {
        ok = false;
        break;
      }
      read += best_rows;
      cost += best_cost;
      m.merge_paths.push_back(std::move(best));
    }
    if (!ok) continue;
    m.rows = std::min(read, rows);
    m.cost = cost + m.rows * kLookupRowCost;
    m.covering_cost = m.cost;
    cands.push_back(std::move(m));
  }
  if (forced) {
    bool any_index = false;
    for (const AccessCandidate& c : cands)
      any_index = any_index || c.kind == AccessCandidate::kIndex;
    if (any_index) {
      for (AccessCandidate& c : cands) {
        if (c.kind != AccessCandidate::kIndex) c.cost = c.covering_cost = 1e300;
      }
    }
  }
  for (AccessCandidate& c : cands) {
    if (c.kind != AccessCandidate::kIndex) c.covering_cost = c.cost;
  }
  ApplyCandidate(scan, cands, /*covering_ok=*/false);
  if (cands.size() > 1) access_candidates_[scan] = std::move(cands);
}

void Binder::ApplyCandidate(TableScanNode* scan, const std::vector<AccessCandidate>& cands,
                            bool covering_ok) {
  size_t best = 0;
  double best_cost = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    const AccessCandidate& c = cands[i];
    const double cost = covering_ok && c.coverable ? c.covering_cost : c.cost;
    // Ties go to the later (narrower) path.
    if (i == 0 || cost <= best_cost) {
      best = i;
      best_cost = cost;
    }
  }
  const AccessCandidate& c = cands[best];
  scan->handles.reset();
  scan->lo = INT64_MIN;
  scan->hi = INT64_MAX;
  scan->handle_ranges.clear();
  scan->index_id = 0;
  scan->index_ranges.clear();
  scan->index_only = false;
  scan->merge_paths.clear();
  scan->access_rows = c.rows;
  switch (c.kind) {
    case AccessCandidate::kFull:
      break;
    case AccessCandidate::kHandle: {
      bool points = true;
      for (const auto& [a, b] : c.handle_ranges) points = points && a == b;
      if (points) {
        std::vector<int64_t> hs;
        for (const auto& r : c.handle_ranges) hs.push_back(r.first);
        scan->handles = std::move(hs);
      } else {
        scan->lo = c.handle_ranges.front().first;
        scan->hi = c.handle_ranges.back().second;
        if (c.handle_ranges.size() > 1) scan->handle_ranges = c.handle_ranges;
      }
      break;
    }
    case AccessCandidate::kMerge:
      scan->merge_paths = c.merge_paths;
      break;
    case AccessCandidate::kIndex:
      scan->index_id = c.index->id;
      scan->index_ranges = c.index_ranges;
      scan->index_only = covering_ok && c.coverable;
      break;
  }
}

// Max/min elimination (TiDB's rule_max_min_eliminate): MIN(col) or MAX(col) alone, with
// no GROUP BY, over one table with an index led by `col` that covers what the scan reads,
// needs only the first (last) non-NULL entry in the index's order: the scan reads the
// index in that order, NULLs excluded by its ranges, and stops after one row that passes
// its filter. The aggregate stays on top (NULL when no row is left).
void Binder::EliminateMaxMin(AggregateNode* agg) {
  if (!agg->group_by.empty() || agg->aggs.size() != 1 || !agg->first_values.empty()) return;
  const AggItem& item = agg->aggs[0];
  if (item.desc.kind != expr::AggKind::kMin && item.desc.kind != expr::AggKind::kMax) return;
  if (item.args.size() != 1 || agg->children[0]->kind != PlanKind::kTableScan) return;
  auto* col = dynamic_cast<const expr::ColumnRef*>(item.args[0].get());
  auto* scan = static_cast<TableScanNode*>(agg->children[0].get());
  const TableInfo& t = *scan->table;
  if (col == nullptr || col->index() >= t.columns.size() || t.memory_rows != nullptr) return;
  std::vector<bool> need(scan->schema.size(), false);
  need[col->index()] = true;
  if (scan->filter) {
    std::set<size_t> cs;
    CollectColumns(*scan->filter, &cs);
    for (size_t c : cs) need[c] = true;
  }
  std::vector<const expr::Expression*> conds;
  if (scan->filter) conds.push_back(scan->filter.get());
  auto not_null = expr::NewFunction("isnotnull", [&] {
    std::vector<expr::ExprPtr> a;
    a.push_back(expr::NewColumn(col->index(), col->type()));
    return a;
  }());
  if (!not_null.ok()) return;
  conds.push_back(not_null->get());
  auto hints = index_hints_.find(scan);
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Public() || idx.columns.empty() || idx.columns[0] != static_cast<int>(col->index())) {
      continue;
    }
    if (hints != index_hints_.end()) continue;  // Hinted scans keep their hinted path.
    std::vector<bool> have(scan->schema.size(), false);
    std::vector<size_t> cols;
    std::vector<FieldType> types;
    bool covers = true;
    for (int c : idx.columns) {
      have[c] = true;
      cols.push_back(static_cast<size_t>(c));
      types.push_back(t.columns[c].type);
      const EvalType et = t.columns[c].type.GetEvalType();
      covers = covers && (et == EvalType::kInt || et == EvalType::kReal) &&
               t.columns[c].type.tp != TypeCode::kBit && t.columns[c].type.tp != TypeCode::kYear;
    }
    if (t.handle_col >= 0) have[t.handle_col] = true;
    have[t.columns.size()] = true;
    for (size_t k = 0; k < need.size(); ++k) covers = covers && (!need[k] || have[k]);
    if (!covers) continue;
    auto ranges = BuildIndexRanges(conds, cols, types);
    if (!ranges.has_value()) continue;
    const std::string prefix = codec::EncodeIndexPrefix(t.id, idx.id);
    scan->handles.reset();
    scan->lo = INT64_MIN;
    scan->hi = INT64_MAX;
    scan->handle_ranges.clear();
    scan->index_id = idx.id;
    scan->index_ranges.clear();
    for (const KeyRange& r : *ranges) {
      scan->index_ranges.push_back(
          {prefix + r.lo, r.hi.empty() ? codec::PrefixNext(prefix) : prefix + r.hi});
    }
    scan->index_only = true;
    scan->desc = item.desc.kind == expr::AggKind::kMax;
    scan->limit = 1;
    scan->access_rows = 1;
    scan->est_rows = -1;
    access_candidates_.erase(scan);
    return;
  }
}

namespace {

// Calls `at_scan(scan, need)` for every table scan of `p`'s tree (not inside expressions)
// with the columns of its output the nodes above it read (`required`: those of `p`'s
// output).
void ForEachScanNeed(PlanNode* p, const std::vector<bool>& required,
                     const std::function<void(TableScanNode*, std::vector<bool>)>& at_scan) {
  auto cols_of = [](const expr::Expression* e, std::vector<bool>* need) {
    if (e == nullptr) return;
    std::set<size_t> cs;
    CollectColumns(*e, &cs);
    for (size_t c : cs) {
      if (c < need->size()) (*need)[c] = true;
    }
  };
  auto child_size = [&](size_t i) { return p->children[i]->schema.size(); };
  auto recurse = [&](size_t i, const std::vector<bool>& need) {
    ForEachScanNeed(p->children[i].get(), need, at_scan);
  };
  switch (p->kind) {
    case PlanKind::kTableScan: {
      std::vector<bool> need = required;
      need.resize(p->schema.size(), false);
      at_scan(static_cast<TableScanNode*>(p), std::move(need));
      return;
    }
    case PlanKind::kProjection: {
      auto* proj = static_cast<ProjectionNode*>(p);
      std::vector<bool> need(child_size(0), false);
      for (size_t i = 0; i < proj->exprs.size(); ++i) {
        if (i >= required.size() || required[i]) cols_of(proj->exprs[i].get(), &need);
      }
      recurse(0, need);
      return;
    }
    case PlanKind::kSelection: {
      std::vector<bool> need = required;
      need.resize(child_size(0), true);
      for (const auto& c : static_cast<SelectionNode*>(p)->conditions) cols_of(c.get(), &need);
      recurse(0, need);
      return;
    }
    case PlanKind::kJoin: {
      auto* j = static_cast<JoinNode*>(p);
      const size_t nl = child_size(0), nr = child_size(1);
      std::vector<bool> all(nl + nr, false);
      for (size_t i = 0; i < required.size() && i < all.size(); ++i) all[i] = required[i];
      if (j->type == JoinType::kSemi || j->type == JoinType::kAnti) {
        // Output is the left side only.
      }
      std::vector<bool> left(all.begin(), all.begin() + nl);
      std::vector<bool> right(all.begin() + nl, all.end());
      for (const auto& k : j->left_keys) cols_of(k.get(), &left);
      for (const auto& k : j->right_keys) cols_of(k.get(), &right);
      std::vector<bool> other(nl + nr, false);
      cols_of(j->other.get(), &other);
      for (size_t i = 0; i < nl; ++i) left[i] = left[i] || other[i];
      for (size_t i = 0; i < nr; ++i) right[i] = right[i] || other[nl + i];
      recurse(0, left);
      recurse(1, right);
      return;
    }
    case PlanKind::kAggregate: {
      auto* a = static_cast<AggregateNode*>(p);
      std::vector<bool> need(child_size(0), false);
      for (const auto& g : a->group_by) cols_of(g.get(), &need);
      for (const AggItem& it : a->aggs) {
        for (const auto& x : it.args) cols_of(x.get(), &need);
      }
      for (const auto& f : a->first_values) cols_of(f.get(), &need);
      recurse(0, need);
      return;
    }
    case PlanKind::kSort: {
      std::vector<bool> need = required;
      need.resize(child_size(0), true);
      for (const SortItem& it : static_cast<SortNode*>(p)->items) cols_of(it.expr.get(), &need);
      recurse(0, need);
      return;
    }
    case PlanKind::kLimit: {
      std::vector<bool> need = required;
      need.resize(child_size(0), true);
      recurse(0, need);
      return;
    }
    case PlanKind::kDistinct: {
      std::vector<bool> need = required;
      need.resize(child_size(0), true);
      const size_t k = static_cast<DistinctNode*>(p)->key_cols;
      for (size_t i = 0; i < k && i < need.size(); ++i) need[i] = true;
      recurse(0, need);
      return;
    }
    default:
      for (size_t i = 0; i < p->children.size(); ++i) {
        recurse(i, std::vector<bool>(child_size(i), true));
      }
      return;
  }
}

}  // namespace

// Columns of a node's output that the nodes above it read; at a table scan with several
// access paths, a covering index read is chosen when it holds every read column.
void Binder::FinishAccessPaths(PlanNode* p, const std::vector<bool>& required) {
  if (access_candidates_.empty()) return;
  ForEachScanNeed(p, required, [&](TableScanNode* scan, std::vector<bool> need) {
    auto it = access_candidates_.find(scan);
    if (it == access_candidates_.end()) return;
    if (scan->filter != nullptr) {
      std::set<size_t> cs;
      CollectColumns(*scan->filter, &cs);
      for (size_t c : cs) {
        if (c < need.size()) need[c] = true;
      }
    }
    const TableInfo& t = *scan->table;
    std::vector<AccessCandidate>& cands = it->second;
    for (AccessCandidate& c : cands) {
      if (c.kind != AccessCandidate::kIndex || !c.coverable) continue;
      std::vector<bool> have(scan->schema.size(), false);
      for (int col : c.index->columns) have[col] = true;
      if (t.handle_col >= 0) have[t.handle_col] = true;
      have[t.columns.size()] = true;  // The hidden handle.
      for (size_t k = 0; k < need.size(); ++k) {
        if (need[k] && !have[k]) c.coverable = false;
      }
    }
    ApplyCandidate(scan, cands, /*covering_ok=*/true);
    access_candidates_.erase(it);
  });
}

// Column pruning: each scan notes the columns of its output the plan reads (a
// coprocessor read ships only those, TiDB's DAGRequest.output_offsets).
void MarkUsedColumns(PlanNode* p) {
  ForEachScanNeed(
      p, std::vector<bool>(p->schema.size(), true),
      [](TableScanNode* scan, std::vector<bool> need) { scan->used_columns = std::move(need); });
}

absl::StatusOr<PlanPtr> Binder::BuildTableRead(const TablePtr& table, const std::string& alias,
                                               const Expr* where) {
  TableName tn;
  tn.db = table->db;
  tn.name = table->name;
  tn.alias = alias;
  auto leaf = BuildLeaf(tn, nullptr, nullptr);
  if (!leaf.ok()) return leaf.status();
  std::vector<const Expr*> conds;
  SplitAnd(where, &conds);
  return BuildJoinTree({*leaf}, conds, nullptr, nullptr, nullptr);
}

absl::StatusOr<PlanPtr> Binder::BuildFromWhere(const SelectStmt& sel, Scope* parent,
                                               std::vector<Correlation>* corr) {
  std::vector<const Expr*> conds;
  SplitAnd(sel.where.get(), &conds);
  // The WHERE conjuncts over correlated scalar subqueries that all decorrelate, decided
  // over the FROM clause's schema (built once more, with no conditions, to know it).
  std::vector<const Expr*> kept, scalar;
  std::optional<Schema> from_schema;
  for (const Expr* c : conds) {
    std::vector<const SubqueryExpr*> subs;
    if (opts_.optimize) CollectScalarSubqueries(*c, &subs);
    bool all = !subs.empty();
    for (const SubqueryExpr* sq : subs) {
      if (!all) break;
      if (!from_schema.has_value()) {
        std::vector<Correlation> probe_corr;
        auto probe = BuildFromConds(*sel.from, {}, parent, &probe_corr, nullptr);
        if (!probe.ok()) return probe.status();
        from_schema = (*probe)->schema;
      }
      all = DecorrelateScalar(*sq, *from_schema).has_value();
    }
    (all ? scalar : kept).push_back(c);
  }
  auto built = BuildFromConds(*sel.from, kept, parent, corr, nullptr);
  if (!built.ok() || scalar.empty()) return built;
  PlanPtr plan = *std::move(built);
  // Left joins of the aggregations (JoinScalarSubqueries; their values hidden columns
  // after the FROM clause's, as for the select list), then the conjuncts over them.
  std::vector<const SubqueryExpr*> subs = JoinScalarSubqueries(scalar, &plan);
  const Schema joined = plan->schema;
  for (const SubqueryExpr* sq : subs) scalar_cols_[sq].schema = &joined;
  Scope ws;
  ws.schema = &joined;
  ws.parent = parent;
  ws.corr = corr;
  ws.clause = "where clause";
  auto f = std::make_shared<SelectionNode>();
  f->children.push_back(plan);
  f->schema = joined;
  absl::Status st;
  for (const Expr* c : scalar) {
    auto x = Bind(*c, &ws);
    if (!x.ok()) {
      st = x.status();
      break;
    }
    f->conditions.push_back(*std::move(x));
  }
  for (const SubqueryExpr* sq : subs) scalar_cols_.erase(sq);
  if (!st.ok()) return st;
  return PlanPtr(f);
}

// One SELECT's binding state (Binder::BuildSelect), on the heap. Its phases are functions
// of their own, each clause item's binding one more, so a subquery nested in the statement
// finds only small frames on the stack below it: under ASan every local and temporary of a
// function has a slot of its own, and BuildSelect in one piece took 9.4 KB a nesting level.
struct Binder::SelectBuild {
  const SelectStmt& sel;
  Scope* parent;
  std::vector<Correlation>* corr;
  PlanPtr plan;
  // Correlated scalar subqueries of the select list joined below (JoinScalarSubqueries);
  // their values are hidden columns of from_schema.
  std::vector<const SubqueryExpr*> scalar_subs;
  Schema from_schema;
  Scope from_scope;
  using Item = SelectBuildItem;
  std::vector<Item> items;  // The select list, wildcards expanded.
  std::vector<std::pair<std::string, const Expr*>> aliases;
  std::vector<const AggregateExpr*> aggs;
  AggInfo info;
  Scope agg_scope;
  Scope* scope = nullptr;  // Where the select list binds: from_scope or agg_scope.
  std::shared_ptr<ProjectionNode> proj;
  std::vector<std::string> texts;  // The select list's restored texts.
  std::vector<SortItem> sort_items;
  JoinHints saved_hints;  // The enclosing SELECT's.

  SelectBuild(const SelectStmt& s, Scope* p, std::vector<Correlation>* c)
      : sel(s), parent(p), corr(c) {}
};

absl::StatusOr<PlanPtr> Binder::BuildSelect(const SelectStmt& sel, Scope* parent,
                                            std::vector<Correlation>* corr) {
  auto b = std::make_unique<SelectBuild>(sel, parent, corr);
  SelectHints(b.get());
  // On the way out: the enclosing SELECT's join hints back, and the scalar columns that
  // point at b->from_schema gone with it.
  struct Restore {
    Binder* binder;
    SelectBuild* b;
    ~Restore() {
      binder->hints_ = std::move(b->saved_hints);
      for (const SubqueryExpr* sq : b->scalar_subs) binder->scalar_cols_.erase(sq);
    }
  } restore{this, b.get()};
  absl::Status s = SelectFrom(b.get());
  if (s.ok()) s = SelectItems(b.get());
  if (s.ok()) s = SelectAggregate(b.get());
  if (s.ok()) s = SelectProject(b.get());
  if (s.ok()) s = SelectOrder(b.get());
  if (!s.ok()) return s;
  return SelectFinish(b.get());
}

// This SELECT's join hints in hints_, the enclosing one's kept in b->saved_hints.
__attribute__((noinline)) void Binder::SelectHints(SelectBuild* b) {
  b->saved_hints = std::exchange(hints_, ParseJoinHints(b->sel.hints));
}

__attribute__((noinline)) absl::Status Binder::SelectFrom(SelectBuild* b) {
  const SelectStmt& sel = b->sel;
  if (sel.from == nullptr) {
    absl::Status s = SelectDual(b);
    if (!s.ok()) return s;
  } else {
    auto p = BuildFromWhere(sel, b->parent, b->corr);
    if (!p.ok()) return p.status();
    b->plan = *std::move(p);
  }
  if (opts_.optimize && sel.from != nullptr && sel.group_by.empty() && !sel.having) {
    SelectScalarJoins(b);
  }
  b->from_schema = b->plan->schema;
  for (const SubqueryExpr* sq : b->scalar_subs) scalar_cols_[sq].schema = &b->from_schema;
  b->from_scope.schema = &b->from_schema;
  b->from_scope.parent = b->parent;
  b->from_scope.corr = b->corr;
  return absl::OkStatus();
}

__attribute__((noinline)) absl::Status Binder::SelectDual(SelectBuild* b) {
  auto dual = std::make_shared<DualNode>();
  dual->schema.push_back({"dummy", "", "", FieldType::LongLong(), true});
  b->plan = dual;
  if (!b->sel.where) return absl::OkStatus();
  Scope s;
  s.schema = &b->plan->schema;
  s.parent = b->parent;
  s.corr = b->corr;
  s.clause = "where clause";
  auto x = Bind(*b->sel.where, &s);
  if (!x.ok()) return x.status();
  std::vector<expr::ExprPtr> conds;
  conds.push_back(*std::move(x));
  b->plan = Filtered(b->plan, std::move(conds));
  return absl::OkStatus();
}

// Correlated scalar subqueries of the select list of a query without aggregation become
// left joins (DecorrelateScalar).
__attribute__((noinline)) void Binder::SelectScalarJoins(SelectBuild* b) {
  std::vector<const AggregateExpr*> outer_aggs;
  std::vector<const Expr*> exprs;
  for (const SelectField& f : b->sel.fields) {
    if (f.expr == nullptr) continue;
    CollectAggs(*f.expr, &outer_aggs);
    exprs.push_back(f.expr.get());
  }
  for (const OrderItem& o : b->sel.order_by) CollectAggs(*o.expr, &outer_aggs);
  if (outer_aggs.empty()) b->scalar_subs = JoinScalarSubqueries(exprs, &b->plan);
}

__attribute__((noinline)) absl::Status Binder::SelectItems(SelectBuild* b) {
  const SelectStmt& sel = b->sel;
  for (const SelectField& f : sel.fields) {
    if (f.wildcard) {
      bool any = false;
      for (const OutputColumn& c : b->from_schema) {
        if (c.hidden) continue;
        if (!f.wildcard_table.empty() && !NameEq(c.table, f.wildcard_table)) continue;
        if (!f.wildcard_db.empty() && !NameEq(c.db, f.wildcard_db)) continue;
        auto ref = std::make_unique<ColumnRefExpr>();
        ref->table = c.table;
        ref->column = c.name;
        ref->db = c.db;
        b->items.push_back({ref.get(), c.name, c.table});
        arena_.push_back(std::move(ref));
        any = true;
      }
      if (!any) {
        if (!f.wildcard_table.empty())
          return Err(kErBadTable, absl::StrCat("Unknown table '", f.wildcard_table, "'"));
        return Err(1096, "No tables used");
      }
      continue;
    }
    SelectBuild::Item it;
    it.ast = f.expr.get();
    if (!f.alias.empty()) {
      it.name = f.alias;
    } else if (auto* c = dynamic_cast<const ColumnRefExpr*>(f.expr.get())) {
      it.name = c->column;
      it.table = c->table;
    } else {
      it.name = RestoreSql(*f.expr);
    }
    b->items.push_back(it);
  }
  for (const SelectField& f : sel.fields) {
    if (!f.wildcard && !f.alias.empty()) b->aliases.push_back({f.alias, f.expr.get()});
  }
  for (const SelectBuildItem& it : b->items) CollectAggs(*it.ast, &b->aggs);
  if (sel.having) CollectAggs(*sel.having, &b->aggs);
  for (const OrderItem& o : sel.order_by) CollectAggs(*o.expr, &b->aggs);
  b->scope = &b->from_scope;
  return absl::OkStatus();
}

__attribute__((noinline)) absl::Status Binder::SelectAggregate(SelectBuild* b) {
  const SelectStmt& sel = b->sel;
  if (b->aggs.empty() && sel.group_by.empty()) {
    if (!sel.having) return absl::OkStatus();
    return SelectHaving(b, b->from_scope);
  }
  auto an = std::make_shared<AggregateNode>();
  an->children.push_back(b->plan);
  for (const OrderItem& g : sel.group_by) {
    absl::Status s = SelectGroupItem(b, an.get(), *g.expr);
    if (!s.ok()) return s;
  }
  b->info.n_group = an->group_by.size();
  for (const AggregateExpr* a : b->aggs) {
    absl::Status s = SelectAggItem(b, an.get(), *a);
    if (!s.ok()) return s;
  }
  b->info.full_group_by = opts_.only_full_group_by;
  b->info.node = an.get();
  if (opts_.optimize) EliminateMaxMin(an.get());
  b->plan = an;
  b->agg_scope.schema = &b->from_schema;
  b->agg_scope.parent = b->parent;
  b->agg_scope.corr = b->corr;
  b->agg_scope.agg = &b->info;
  b->scope = &b->agg_scope;
  if (!sel.having) return absl::OkStatus();
  return SelectHaving(b, b->agg_scope);
}

// The GROUP BY item `ast`: a position names a select item, a bare name an alias when no
// column of the FROM clause has it.
__attribute__((noinline)) absl::Status Binder::SelectGroupItem(SelectBuild* b, AggregateNode* an,
                                                               const Expr& item) {
  const Expr* ast = &item;
  if (auto* lit = dynamic_cast<const LiteralExpr*>(ast); lit && lit->kind == LiteralKind::kInt) {
    int64_t pos = 0;
    if (!absl::SimpleAtoi(lit->text, &pos) || pos < 1 ||
        pos > static_cast<int64_t>(b->items.size())) {
      return Err(kErBadField,
                 absl::StrCat("Unknown column '", lit->text, "' in 'group statement'"));
    }
    ast = b->items[pos - 1].ast;
    std::vector<const AggregateExpr*> inner;
    CollectAggs(*ast, &inner);
    if (!inner.empty()) return Err(1056, "Can't group on an aggregate");
  } else if (auto* c = dynamic_cast<const ColumnRefExpr*>(ast); c && c->table.empty()) {
    if (FindColumn(b->from_schema, *c) == -1) {
      for (const auto& [alias, a] : b->aliases) {
        if (NameEq(alias, c->column)) {
          ast = a;
          break;
        }
      }
    }
  }
  b->from_scope.clause = "group statement";
  auto x = Bind(*ast, &b->from_scope);
  b->from_scope.clause = "field list";
  if (!x.ok()) return x.status();
  int col = -1;
  if (auto* cr = dynamic_cast<const expr::ColumnRef*>(x->get()))
    col = static_cast<int>(cr->index());
  b->info.group_texts.push_back(RestoreSql(*ast));
  b->info.group_cols.push_back(col);
  OutputColumn oc;
  oc.name = b->info.group_texts.back();
  oc.type = (*x)->type();
  if (col >= 0) oc = b->from_schema[col];
  oc.hidden = false;
  an->schema.push_back(oc);
  b->info.out_types.push_back((*x)->type());
  an->group_by.push_back(*std::move(x));
  return absl::OkStatus();
}

__attribute__((noinline)) absl::Status Binder::SelectAggItem(SelectBuild* b, AggregateNode* an,
                                                             const AggregateExpr& a) {
  const std::string text = RestoreSql(a);
  AggInfo& info = b->info;
  if (std::find(info.agg_texts.begin(), info.agg_texts.end(), text) != info.agg_texts.end()) {
    return absl::OkStatus();
  }
  AggItem item;
  std::vector<FieldType> types;
  for (const auto& arg : a.args) {
    absl::Status s = SelectAggArg(b, *arg, &item, &types);
    if (!s.ok()) return s;
  }
  // GROUP_CONCAT ... ORDER BY: the sort keys follow the values as further arguments; a
  // position names one of the values (MySQL resolves it in the argument list).
  std::vector<bool> order_desc;
  for (const OrderItem& o : a.order_by) {
    const Expr* key = o.expr.get();
    if (auto* lit = dynamic_cast<const LiteralExpr*>(key); lit && lit->kind == LiteralKind::kInt) {
      int64_t pos = 0;
      if (!absl::SimpleAtoi(lit->text, &pos) || pos < 1 ||
          pos > static_cast<int64_t>(a.args.size())) {
        return Err(kErBadField, absl::StrCat("Unknown column '", lit->text, "' in 'order clause'"));
      }
      key = a.args[pos - 1].get();
    }
    absl::Status s = SelectAggArg(b, *key, &item, &types);
    if (!s.ok()) return s;
    order_desc.push_back(o.desc);
  }
  auto desc =
      expr::NewAggDesc(absl::AsciiStrToLower(a.name), types, a.distinct, std::move(order_desc));
  if (!desc.ok()) return desc.status();
  item.desc = *std::move(desc);
  if (a.separator.has_value()) item.desc.separator = *a.separator;
  info.agg_texts.push_back(text);
  info.out_types.push_back(item.desc.result_type);
  an->schema.push_back({text, "", "", item.desc.result_type, false});
  an->aggs.push_back(std::move(item));
  return absl::OkStatus();
}

// One argument (or GROUP_CONCAT sort key) of an aggregate, over the FROM clause's rows.
__attribute__((noinline)) absl::Status Binder::SelectAggArg(SelectBuild* b, const Expr& arg,
                                                            AggItem* item,
                                                            std::vector<FieldType>* types) {
  std::vector<const AggregateExpr*> nested;
  CollectAggs(arg, &nested);
  if (!nested.empty()) return Err(1111, "Invalid use of group function");
  auto x = Bind(arg, &b->from_scope);
  if (!x.ok()) return x.status();
  types->push_back((*x)->type());
  item->args.push_back(*std::move(x));
  return absl::OkStatus();
}

// HAVING over `scope` (the aggregation's, or the FROM clause's without one), aliases seen.
__attribute__((noinline)) absl::Status Binder::SelectHaving(SelectBuild* b, const Scope& scope) {
  Scope hs = scope;
  hs.aliases = &b->aliases;
  hs.clause = "having clause";
  auto x = Bind(*b->sel.having, &hs);
  if (!x.ok()) return x.status();
  std::vector<expr::ExprPtr> conds;
  conds.push_back(*std::move(x));
  b->plan = Filtered(b->plan, std::move(conds));
  return absl::OkStatus();
}

__attribute__((noinline)) absl::Status Binder::SelectProject(SelectBuild* b) {
  b->proj = std::make_shared<ProjectionNode>();
  b->proj->children.push_back(b->plan);
  for (const SelectBuildItem& it : b->items) {
    absl::Status s = SelectProjectItem(b, it);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

__attribute__((noinline)) absl::Status Binder::SelectProjectItem(SelectBuild* b,
                                                                 const SelectBuildItem& it) {
  auto x = Bind(*it.ast, b->scope);
  if (!x.ok()) return x.status();
  OutputColumn oc;
  oc.name = it.name;
  oc.table = it.table;
  oc.type = (*x)->type();
  if (auto* c = dynamic_cast<const ColumnRefExpr*>(it.ast)) {
    int idx = FindColumn(b->from_schema, *c);
    if (idx >= 0) {
      oc.table = b->from_schema[idx].table;
      oc.db = b->from_schema[idx].db;
    }
  }
  b->proj->schema.push_back(oc);
  b->proj->exprs.push_back(*std::move(x));
  b->texts.push_back(RestoreSql(*it.ast));
  return absl::OkStatus();
}

// ORDER BY: positions and aliases name output columns; other expressions are computed as
// hidden columns after the visible ones.
__attribute__((noinline)) absl::Status Binder::SelectOrder(SelectBuild* b) {
  for (const OrderItem& o : b->sel.order_by) {
    absl::StatusOr<int> col = SelectOrderColumn(b, *o.expr);
    if (col.ok() && *col < 0) col = SelectOrderHidden(b, *o.expr);
    if (!col.ok()) return col.status();
    b->sort_items.push_back({expr::NewColumn(*col, b->proj->schema[*col].type), o.desc});
  }
  return absl::OkStatus();
}

// The visible output column ORDER BY item `ast` names (a position, an alias, or the same
// text as a select item); -1 when none.
__attribute__((noinline)) absl::StatusOr<int> Binder::SelectOrderColumn(SelectBuild* b,
                                                                        const Expr& ast) {
  const SelectStmt& sel = b->sel;
  const size_t visible = b->items.size();
  int col = -1;
  if (auto* lit = dynamic_cast<const LiteralExpr*>(&ast); lit && lit->kind == LiteralKind::kInt) {
    int64_t pos = 0;
    if (!absl::SimpleAtoi(lit->text, &pos) || pos < 1 || pos > static_cast<int64_t>(visible)) {
      return Err(kErBadField, absl::StrCat("Unknown column '", lit->text, "' in 'order clause'"));
    }
    return static_cast<int>(pos - 1);
  }
  if (auto* c = dynamic_cast<const ColumnRefExpr*>(&ast); c && c->table.empty()) {
    for (size_t i = 0; i < sel.fields.size() && col < 0; ++i) {
      if (!sel.fields[i].wildcard && !sel.fields[i].alias.empty() &&
          NameEq(sel.fields[i].alias, c->column)) {
        // Position of this field among the expanded items.
        for (size_t k = 0; k < b->items.size(); ++k) {
          if (b->items[k].ast == sel.fields[i].expr.get()) col = static_cast<int>(k);
        }
      }
    }
  }
  if (col < 0) {
    const std::string text = RestoreSql(ast);
    for (size_t i = 0; i < visible && col < 0; ++i) {
      if (b->texts[i] == text) col = static_cast<int>(i);
    }
  }
  return col;
}

// ORDER BY item `ast` as a hidden output column of the projection: its index.
__attribute__((noinline)) absl::StatusOr<int> Binder::SelectOrderHidden(SelectBuild* b,
                                                                        const Expr& ast) {
  Scope os = *b->scope;
  os.clause = "order clause";
  auto x = Bind(ast, &os);
  if (!x.ok()) return x.status();
  const int col = static_cast<int>(b->proj->exprs.size());
  b->proj->schema.push_back({"", "", "", (*x)->type(), true});
  b->proj->exprs.push_back(*std::move(x));
  return col;
}

__attribute__((noinline)) absl::StatusOr<PlanPtr> Binder::SelectFinish(SelectBuild* b) {
  const SelectStmt& sel = b->sel;
  const size_t visible = b->items.size();
  PlanPtr plan = b->proj;
  if (sel.distinct) {
    auto d = std::make_shared<DistinctNode>();
    d->children.push_back(plan);
    d->schema = plan->schema;
    d->key_cols = visible;
    plan = d;
  }
  std::optional<uint64_t> count;
  uint64_t offset = 0;
  if (sel.limit.has_value()) {
    auto c = LimitValue(this, *sel.limit->count);
    if (!c.ok()) return c.status();
    count = *c;
    if (sel.limit->offset) {
      auto o = LimitValue(this, *sel.limit->offset);
      if (!o.ok()) return o.status();
      offset = *o;
    }
  }
  if (!b->sort_items.empty()) {
    auto sort = std::make_shared<SortNode>();
    sort->children.push_back(plan);
    sort->schema = plan->schema;
    sort->items = std::move(b->sort_items);
    if (count.has_value()) sort->limit = offset + *count;
    plan = sort;
  }
  if (count.has_value()) {
    auto lim = std::make_shared<LimitNode>();
    lim->children.push_back(plan);
    lim->schema = plan->schema;
    lim->offset = offset;
    lim->count = *count;
    plan = lim;
  }
  if (plan->schema.size() > visible) {
    auto p2 = std::make_shared<ProjectionNode>();
    p2->children.push_back(plan);
    for (size_t i = 0; i < visible; ++i) {
      p2->exprs.push_back(expr::NewColumn(i, plan->schema[i].type));
      p2->schema.push_back(plan->schema[i]);
    }
    plan = p2;
  }
  return plan;
}

}  // namespace rutile::sql
