// The abstract syntax tree of the MySQL dialect, as the parser produces it.
//
// Every node restores to SQL text (`Restore`), in a canonical form: upper-case keywords,
// backquoted identifiers, single-quoted strings, parentheses only where precedence needs
// them. Parsing the restored text gives a structurally equal tree (`AstEqual`), the
// property TiDB's `Restore` offers. `Dump` prints the complete structure (every field,
// including node kinds) as an S-expression; structural equality is equality of dumps.
//
// Nodes own their children through std::unique_ptr; a tree is built once by the parser
// and then only read. Thread safety: const methods may be called concurrently.

#ifndef RUTILE_SQL_PARSER_AST_H_
#define RUTILE_SQL_PARSER_AST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rutile::sql {

class QueryStmt;
class Restorer;
class Dumper;

// Position of a node's first token in the statement text.
struct SourcePos {
  uint32_t offset = 0;
  uint32_t line = 1;
  uint32_t column = 1;
};

class Node {
 public:
  virtual ~Node() = default;
  // Appends the canonical SQL text of this node.
  virtual void Restore(Restorer* r) const = 0;
  // Appends the structural S-expression of this node.
  virtual void Dump(Dumper* d) const = 0;

  SourcePos pos;
  // Depth of the tree below and including this node (a leaf is 1). The parser bounds it
  // so that recursive walks over a tree (Restore, Dump, destruction) stay within a fiber
  // stack.
  int depth = 1;
};

// Returns the canonical SQL text of `node`.
std::string RestoreSql(const Node& node);
// Returns the structural dump of `node`.
std::string DumpAst(const Node& node);
// Structural equality: same node kinds and fields throughout (positions excluded).
bool AstEqual(const Node& a, const Node& b);

// ---------------------------------------------------------------------------------------
// Expressions.

// Binding strength of an expression's outermost operator, higher binds tighter. The
// parser's Pratt loop and Restore's parenthesisation share these values.
enum Prec : int {
  kPrecLowest = 0,
  kPrecAssign = 2,    // :=
  kPrecOr = 4,        // OR, || (unless PIPES_AS_CONCAT)
  kPrecXor = 6,       // XOR
  kPrecAnd = 8,       // AND, &&
  kPrecNot = 10,      // NOT
  kPrecCmp = 12,      // = <=> <> < <= > >= IS, comparisons with ANY/ALL
  kPrecPred = 14,     // BETWEEN IN LIKE REGEXP
  kPrecBitOr = 16,    // |
  kPrecBitAnd = 18,   // &
  kPrecShift = 20,    // << >>
  kPrecAdd = 22,      // + -
  kPrecMul = 24,      // * / DIV % MOD
  kPrecBitXor = 26,   // ^
  kPrecConcat = 27,   // || under PIPES_AS_CONCAT
  kPrecUnary = 28,    // - + ~ ! (prefix), BINARY
  kPrecCollate = 30,  // COLLATE
  kPrecPrimary = 100,
};

class Expr : public Node {
 public:
  // The binding strength of this expression's outermost operator.
  virtual int Precedence() const { return kPrecPrimary; }
};
using ExprPtr = std::unique_ptr<Expr>;

enum class LiteralKind : uint8_t {
  kNull,
  kBool,     // text "TRUE" or "FALSE"
  kInt,      // decimal digits as written
  kDecimal,  // as written, with a '.'
  kFloat,    // as written, with an exponent
  kString,   // decoded text
  kHex,      // hex digits
  kBit,      // binary digits
};

class LiteralExpr : public Expr {
 public:
  LiteralKind kind = LiteralKind::kNull;
  std::string text;
  // Character set introducer (_utf8mb4'..'), lower case; empty when none.
  std::string charset;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// A column name, optionally qualified: [[db.]table.]column.
class ColumnRefExpr : public Expr {
 public:
  std::string db;
  std::string table;
  std::string column;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// A `?` placeholder; `index` counts from 0 in order of appearance in the statement.
class ParamExpr : public Expr {
 public:
  int index = 0;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// @name (user) or @@[scope.]name (system).
class VariableExpr : public Expr {
 public:
  bool system = false;
  // For system variables: kDefault, kSession, kGlobal or kLocal (from lexer.h's VarScope).
  uint8_t scope = 0;
  std::string name;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class UnaryOp : uint8_t { kMinus, kPlus, kBitNeg, kNot, kBinary };

class UnaryExpr : public Expr {
 public:
  UnaryOp op = UnaryOp::kMinus;
  ExprPtr operand;

  int Precedence() const override;
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class BinaryOp : uint8_t {
  kOr,
  kXor,
  kAnd,
  kEq,
  kNullSafeEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kBitOr,
  kBitAnd,
  kShl,
  kShr,
  kPlus,
  kMinus,
  kMul,
  kDiv,
  kIntDiv,
  kMod,
  kBitXor,
  kAssign,  // := (left side is a user variable)
};

// Returns the operator's SQL spelling ("AND", "<=>", "DIV" ...).
std::string_view BinaryOpText(BinaryOp op);
int BinaryOpPrecedence(BinaryOp op);
bool IsComparison(BinaryOp op);

class BinaryExpr : public Expr {
 public:
  BinaryOp op = BinaryOp::kAnd;
  ExprPtr left;
  ExprPtr right;

  int Precedence() const override { return BinaryOpPrecedence(op); }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class IsWhat : uint8_t { kNull, kTrue, kFalse, kUnknown };

// expr IS [NOT] NULL|TRUE|FALSE|UNKNOWN.
class IsExpr : public Expr {
 public:
  ExprPtr operand;
  bool negated = false;
  IsWhat what = IsWhat::kNull;

  int Precedence() const override { return kPrecCmp; }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// expr [NOT] BETWEEN low AND high.
class BetweenExpr : public Expr {
 public:
  ExprPtr operand;
  bool negated = false;
  ExprPtr low;
  ExprPtr high;

  int Precedence() const override { return kPrecPred; }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// expr [NOT] IN (list) or expr [NOT] IN (subquery): exactly one of `list` (non-empty)
// and `subquery` is set.
class InExpr : public Expr {
 public:
  ExprPtr operand;
  bool negated = false;
  std::vector<ExprPtr> list;
  std::unique_ptr<QueryStmt> subquery;

  int Precedence() const override { return kPrecPred; }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// expr [NOT] LIKE pattern [ESCAPE escape], or expr [NOT] REGEXP pattern.
class PatternExpr : public Expr {
 public:
  bool regexp = false;
  ExprPtr operand;
  bool negated = false;
  ExprPtr pattern;
  ExprPtr escape;  // LIKE only; may be null.

  int Precedence() const override { return kPrecPred; }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// left <cmp> ANY|SOME|ALL (subquery).
class CompareSubqueryExpr : public Expr {
 public:
  BinaryOp op = BinaryOp::kEq;
  bool all = false;  // ALL; false for ANY and SOME.
  ExprPtr left;
  std::unique_ptr<QueryStmt> subquery;

  int Precedence() const override { return kPrecCmp; }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// expr COLLATE collation.
class CollateExpr : public Expr {
 public:
  ExprPtr operand;
  std::string collation;  // lower case

  int Precedence() const override { return kPrecCollate; }
  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// INTERVAL expr unit, as an operand of + and - or an argument of DATE_ADD and friends.
class IntervalExpr : public Expr {
 public:
  ExprPtr value;
  std::string unit;  // upper case: DAY, HOUR_MINUTE ...

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// A bare keyword argument of a function: the unit of EXTRACT and TIMESTAMPDIFF, the
// direction of TRIM.
class KeywordExpr : public Expr {
 public:
  std::string word;  // upper case

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

struct WhenClause {
  ExprPtr condition;
  ExprPtr result;
};

// CASE [operand] WHEN .. THEN .. [ELSE ..] END.
class CaseExpr : public Expr {
 public:
  ExprPtr operand;  // null for the searched form
  std::vector<WhenClause> whens;
  ExprPtr else_result;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class TypeKind : uint8_t {
  kTinyInt,
  kSmallInt,
  kMediumInt,
  kInt,
  kBigInt,
  kDecimal,
  kFloat,
  kDouble,
  kBit,
  kBool,
  kChar,
  kVarChar,
  kBinary,
  kVarBinary,
  kTinyText,
  kText,
  kMediumText,
  kLongText,
  kTinyBlob,
  kBlob,
  kMediumBlob,
  kLongBlob,
  kDate,
  kDateTime,
  kTimestamp,
  kTime,
  kYear,
  kEnum,
  kSet,
  kJson,
  kSigned,
  kUnsigned,  // CAST targets only
};

std::string_view TypeKindText(TypeKind kind);

// A column or CAST type. Synonyms are folded: INTEGER is kInt, NUMERIC kDecimal, REAL
// kDouble, BOOLEAN kBool, CHARACTER VARYING kVarChar, ...
struct DataType {
  TypeKind kind = TypeKind::kInt;
  int64_t length = -1;  // display width, length, precision or fsp; -1 when not given
  int64_t scale = -1;   // DECIMAL/FLOAT/DOUBLE scale; -1 when not given
  bool is_unsigned = false;
  bool zerofill = false;
  bool binary = false;             // CHAR(n) BINARY
  std::string charset;             // lower case
  std::string collation;           // lower case
  std::vector<std::string> elems;  // ENUM and SET values

  void Restore(Restorer* r) const;
  void Dump(Dumper* d) const;
};

// CAST(expr AS type), CONVERT(expr, type) and CONVERT(expr USING charset).
class CastExpr : public Expr {
 public:
  ExprPtr operand;
  DataType type;
  std::string using_charset;  // set for CONVERT .. USING; `type` is then unused

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// A scalar function call; `name` is upper case. Special syntaxes are folded into
// argument lists: SUBSTRING(s FROM a FOR b) is SUBSTRING(s, a, b), POSITION(a IN b) keeps
// its name, EXTRACT(unit FROM d) has a KeywordExpr first argument, TRIM([dir] [r] FROM s)
// is (s [, r] [, KeywordExpr(dir)]).
class FuncCallExpr : public Expr {
 public:
  std::string name;
  std::vector<ExprPtr> args;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

struct OrderItem {
  ExprPtr expr;
  bool desc = false;
};

// An aggregate function: COUNT, SUM, AVG, MIN, MAX, GROUP_CONCAT, BIT_AND, BIT_OR,
// BIT_XOR, STD, STDDEV, STDDEV_POP, STDDEV_SAMP, VARIANCE, VAR_POP, VAR_SAMP.
class AggregateExpr : public Expr {
 public:
  std::string name;  // upper case
  bool distinct = false;
  bool star = false;  // COUNT(*)
  std::vector<ExprPtr> args;
  // GROUP_CONCAT only.
  std::vector<OrderItem> order_by;
  std::optional<std::string> separator;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// Returns whether `upper_name` names an aggregate function.
bool IsAggregateName(std::string_view upper_name);

// A scalar subquery: (SELECT ...).
class SubqueryExpr : public Expr {
 public:
  std::unique_ptr<QueryStmt> query;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class ExistsExpr : public Expr {
 public:
  std::unique_ptr<QueryStmt> query;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// A row constructor (a, b, ...) with at least two items.
class RowExpr : public Expr {
 public:
  std::vector<ExprPtr> items;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// DEFAULT (in INSERT values and SET) or DEFAULT(column).
class DefaultExpr : public Expr {
 public:
  std::string column;  // empty for the bare form

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// ---------------------------------------------------------------------------------------
// Table references.

enum class IndexHintKind : uint8_t { kUse, kIgnore, kForce };
enum class IndexHintScope : uint8_t { kAll, kJoin, kOrderBy, kGroupBy };

struct IndexHint {
  IndexHintKind kind = IndexHintKind::kUse;
  IndexHintScope scope = IndexHintScope::kAll;
  std::vector<std::string> indexes;  // may be empty for USE INDEX ()
};

class TableRef : public Node {};
using TableRefPtr = std::unique_ptr<TableRef>;

// [db.]name [[AS] alias] [index hints].
class TableName : public TableRef {
 public:
  std::string db;
  std::string name;
  std::string alias;
  std::vector<IndexHint> index_hints;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// (subquery) [AS] alias [(columns)].
class DerivedTable : public TableRef {
 public:
  std::unique_ptr<QueryStmt> query;
  std::string alias;
  std::vector<std::string> columns;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class JoinKind : uint8_t { kComma, kInner, kCross, kLeft, kRight, kStraight };

class JoinRef : public TableRef {
 public:
  JoinKind kind = JoinKind::kInner;
  bool natural = false;
  TableRefPtr left;
  TableRefPtr right;
  ExprPtr on;
  std::vector<std::string> using_columns;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// ---------------------------------------------------------------------------------------
// Statements.

class Stmt : public Node {};
using StmtPtr = std::unique_ptr<Stmt>;

struct Limit {
  ExprPtr count;
  ExprPtr offset;  // may be null
  // Written as LIMIT offset, count (kept so that `?` placeholders restore in source order).
  bool comma_form = false;
};

enum class LockMode : uint8_t { kNone, kForUpdate, kForUpdateNoWait, kForUpdateSkipLocked, kShare };

// SELECT and set operations: what may appear as a subquery.
class QueryStmt : public Stmt {
 public:
  std::vector<OrderItem> order_by;
  std::optional<Limit> limit;
};

// One item of a select list: an expression with an optional alias, or a wildcard
// (`*`, `t.*`, `db.t.*`).
struct SelectField {
  ExprPtr expr;  // null for a wildcard
  std::string alias;
  bool wildcard = false;
  std::string wildcard_db;
  std::string wildcard_table;
};

class SelectStmt : public QueryStmt {
 public:
  std::vector<std::string> hints;  // texts of /*+ .. */ comments
  bool distinct = false;
  bool straight_join = false;
  bool sql_calc_found_rows = false;
  bool sql_no_cache = false;
  std::vector<SelectField> fields;
  TableRefPtr from;  // null without FROM (FROM DUAL is also null)
  ExprPtr where;
  std::vector<OrderItem> group_by;
  bool with_rollup = false;
  ExprPtr having;
  LockMode lock = LockMode::kNone;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class SetOp : uint8_t { kUnion, kExcept, kIntersect };

// left UNION|EXCEPT|INTERSECT [ALL|DISTINCT] right [ORDER BY ..] [LIMIT ..].
// INTERSECT binds tighter than UNION and EXCEPT; operators of equal strength associate
// to the left.
class SetOprStmt : public QueryStmt {
 public:
  SetOp op = SetOp::kUnion;
  bool all = false;
  std::unique_ptr<QueryStmt> left;
  std::unique_ptr<QueryStmt> right;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// column = expr, in SET lists and ON DUPLICATE KEY UPDATE.
struct Assignment {
  std::unique_ptr<ColumnRefExpr> column;
  ExprPtr value;
};

// INSERT and REPLACE. Exactly one of `rows` (VALUES), `set` (SET form) and `select` is
// used.
class InsertStmt : public Stmt {
 public:
  bool replace = false;
  std::vector<std::string> hints;
  bool ignore = false;
  std::unique_ptr<TableName> table;
  std::vector<std::string> columns;
  std::vector<std::vector<ExprPtr>> rows;
  std::vector<Assignment> set;
  std::unique_ptr<QueryStmt> select;
  std::vector<Assignment> on_duplicate;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class UpdateStmt : public Stmt {
 public:
  std::vector<std::string> hints;
  bool low_priority = false;
  bool ignore = false;
  TableRefPtr table;
  std::vector<Assignment> set;
  ExprPtr where;
  std::vector<OrderItem> order_by;
  std::optional<Limit> limit;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class DeleteStmt : public Stmt {
 public:
  std::vector<std::string> hints;
  bool low_priority = false;
  bool quick = false;
  bool ignore = false;
  std::unique_ptr<TableName> table;
  ExprPtr where;
  std::vector<OrderItem> order_by;
  std::optional<Limit> limit;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class CreateDatabaseStmt : public Stmt {
 public:
  bool if_not_exists = false;
  std::string name;
  std::string charset;    // lower case; empty when not given
  std::string collation;  // lower case; empty when not given

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class DropDatabaseStmt : public Stmt {
 public:
  bool if_exists = false;
  std::string name;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class ColumnOptionKind : uint8_t {
  kNotNull,
  kNull,
  kDefault,
  kAutoIncrement,
  kPrimaryKey,
  kUniqueKey,
  kComment,
  kCollate,
  kOnUpdate,
  kGenerated,
  kCheck,
  kReferences,
};

struct ColumnOption {
  ColumnOptionKind kind = ColumnOptionKind::kNull;
  ExprPtr expr;                      // DEFAULT, ON UPDATE, generated and CHECK expressions
  std::string text;                  // COMMENT text, COLLATE name, REFERENCES table
  bool stored = false;               // generated columns: STORED vs VIRTUAL
  std::vector<std::string> columns;  // REFERENCES columns
};

struct ColumnDef {
  std::string name;
  DataType type;
  std::vector<ColumnOption> options;

  void Restore(Restorer* r) const;
  void Dump(Dumper* d) const;
};

// One part of an index: a column with an optional prefix length, or an expression.
struct IndexPart {
  std::string column;
  int64_t length = -1;
  ExprPtr expr;  // functional key part; `column` is then empty
  bool desc = false;
};

enum class ConstraintKind : uint8_t {
  kPrimaryKey,
  kUnique,
  kIndex,
  kFulltext,
  kForeignKey,
  kCheck
};

struct Constraint {
  ConstraintKind kind = ConstraintKind::kIndex;
  std::string name;  // index or constraint name; may be empty
  std::vector<IndexPart> parts;
  std::string index_type;  // BTREE or HASH (upper case); may be empty
  std::string comment;
  bool has_comment = false;
  // Foreign keys.
  std::string ref_table;
  std::vector<std::string> ref_columns;
  ExprPtr check;  // CHECK (expr)

  void Restore(Restorer* r) const;
  void Dump(Dumper* d) const;
};

enum class TableOptionKind : uint8_t {
  kEngine,
  kCharset,
  kCollate,
  kAutoIncrement,
  kComment,
  kRowFormat,
  kKeyBlockSize,
  kAvgRowLength,
  kChecksum,
  kCompression,
  kMaxRows,
  kMinRows,
  kStatsPersistent,
  kPackKeys,
  kDelayKeyWrite,
};

struct TableOption {
  TableOptionKind kind = TableOptionKind::kEngine;
  std::string value;  // names are lower case; COMMENT keeps its text; numbers as written
};

class CreateTableStmt : public Stmt {
 public:
  bool temporary = false;
  bool if_not_exists = false;
  std::unique_ptr<TableName> table;
  std::vector<ColumnDef> columns;
  std::vector<Constraint> constraints;
  std::vector<TableOption> options;
  std::unique_ptr<TableName> like;    // CREATE TABLE t LIKE other
  std::unique_ptr<QueryStmt> select;  // CREATE TABLE t [AS] SELECT ...

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class DropTableStmt : public Stmt {
 public:
  bool temporary = false;
  bool if_exists = false;
  bool is_view = false;  // DROP VIEW
  std::vector<std::unique_ptr<TableName>> tables;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class CreateIndexStmt : public Stmt {
 public:
  ConstraintKind kind = ConstraintKind::kIndex;  // kIndex, kUnique or kFulltext
  bool if_not_exists = false;
  std::string name;
  std::unique_ptr<TableName> table;
  std::vector<IndexPart> parts;
  std::string index_type;
  std::string comment;
  bool has_comment = false;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class DropIndexStmt : public Stmt {
 public:
  bool if_exists = false;
  std::string name;
  std::unique_ptr<TableName> table;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class AlterKind : uint8_t {
  kAddColumns,
  kDropColumn,
  kAddConstraint,
  kDropIndex,
  kDropPrimaryKey,
  kModifyColumn,
  kChangeColumn,
  kRenameTable,
  kRenameColumn,
  kRenameIndex,
  kAlterColumnSetDefault,
  kAlterColumnDropDefault,
  kTableOptions,
  kDropForeignKey,
};

enum class ColumnPosition : uint8_t { kNone, kFirst, kAfter };

struct AlterSpec {
  AlterKind kind = AlterKind::kAddColumns;
  std::vector<ColumnDef> columns;  // kAddColumns (one or, parenthesised, several), kModify,
                                   // kChange (one)
  bool parenthesized = false;      // ADD COLUMN (a INT, b INT)
  std::optional<Constraint> constraint;
  std::string name;      // dropped column/index, old name (CHANGE, RENAME COLUMN/INDEX)
  std::string new_name;  // RENAME targets
  std::string new_db;    // RENAME TO db.t
  ColumnPosition position = ColumnPosition::kNone;
  std::string after;  // column named by AFTER
  ExprPtr default_value;
  std::vector<TableOption> options;

  void Restore(Restorer* r) const;
  void Dump(Dumper* d) const;
};

class AlterTableStmt : public Stmt {
 public:
  std::unique_ptr<TableName> table;
  std::vector<AlterSpec> specs;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class RenameTableStmt : public Stmt {
 public:
  std::vector<std::pair<std::unique_ptr<TableName>, std::unique_ptr<TableName>>> pairs;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class CreateViewStmt : public Stmt {
 public:
  bool or_replace = false;
  std::unique_ptr<TableName> name;
  std::vector<std::string> columns;
  std::unique_ptr<QueryStmt> select;
  // WITH [CASCADED|LOCAL] CHECK OPTION: "", "CASCADED" or "LOCAL".
  bool check_option = false;
  std::string check_option_kind;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class TruncateStmt : public Stmt {
 public:
  std::unique_ptr<TableName> table;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class TxnKind : uint8_t {
  kBegin,
  kCommit,
  kRollback,
  kSavepoint,
  kRollbackToSavepoint,
  kReleaseSavepoint
};

// BEGIN / START TRANSACTION [...], COMMIT, ROLLBACK, SAVEPOINT.
class TxnStmt : public Stmt {
 public:
  TxnKind kind = TxnKind::kBegin;
  bool read_only = false;
  bool read_write = false;
  bool consistent_snapshot = false;
  // BEGIN PESSIMISTIC / BEGIN OPTIMISTIC (TiDB): "PESSIMISTIC", "OPTIMISTIC" or empty.
  std::string mode;
  std::string savepoint;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class SetKind : uint8_t { kVariable, kNames, kCharset, kTransaction };

// One item of a SET statement.
struct SetItem {
  SetKind kind = SetKind::kVariable;
  // kVariable: the target. A bare name (`SET autocommit = 1`, `SET GLOBAL x = 1`) becomes
  // a system variable with that scope.
  std::unique_ptr<VariableExpr> target;
  ExprPtr value;  // kVariable; DEFAULT is a DefaultExpr
  // kNames / kCharset: charset (lower case; "default" for DEFAULT), optional collation.
  std::string charset;
  std::string collation;
  // kTransaction: scope (kDefault = next transaction only, kSession, kGlobal),
  // isolation level ("REPEATABLE READ", "READ COMMITTED", "READ UNCOMMITTED",
  // "SERIALIZABLE" or ""), access mode ("READ ONLY", "READ WRITE" or "").
  uint8_t txn_scope = 0;
  std::string isolation;
  std::string access_mode;
};

class SetStmt : public Stmt {
 public:
  std::vector<SetItem> items;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

enum class ShowKind : uint8_t {
  kDatabases,
  kTables,
  kColumns,
  kCreateTable,
  kCreateView,
  kCreateDatabase,
  kIndex,
  kVariables,
  kWarnings,
  kErrors,
  kStatus,
  kProcessList,
  kEngines,
  kCharset,
  kCollation,
  kTableStatus,
  kGrants,
  kPrivileges,
};

class ShowStmt : public Stmt {
 public:
  ShowKind kind = ShowKind::kTables;
  bool full = false;
  bool global = false;  // VARIABLES / STATUS scope (GLOBAL vs SESSION)
  std::string db;       // FROM db (TABLES), or the database of `table`
  std::string table;    // COLUMNS / CREATE TABLE / INDEX; database for CREATE DATABASE
  std::string column;   // DESCRIBE t col
  ExprPtr like;         // LIKE pattern (a string literal)
  ExprPtr where;        // WHERE expr
  std::string user;     // SHOW GRANTS FOR user (raw, restored as written)

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class UseStmt : public Stmt {
 public:
  std::string db;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// EXPLAIN [ANALYZE] [FORMAT = f] stmt. DESCRIBE/EXPLAIN of a table is a ShowStmt.
class ExplainStmt : public Stmt {
 public:
  bool analyze = false;
  std::string format;  // lower case; empty when not given
  StmtPtr stmt;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class AnalyzeTableStmt : public Stmt {
 public:
  std::vector<std::unique_ptr<TableName>> tables;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// CREATE TRIGGER name {BEFORE|AFTER} {INSERT|UPDATE|DELETE} ON t FOR EACH ROW body, where
// the body is one statement or BEGIN [stmt; ...] END (`compound`).
class CreateTriggerStmt : public Stmt {
 public:
  std::unique_ptr<TableName> name;
  bool before = false;
  std::string event;  // INSERT, UPDATE or DELETE
  std::unique_ptr<TableName> table;
  bool compound = false;
  std::vector<StmtPtr> body;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class DropTriggerStmt : public Stmt {
 public:
  bool if_exists = false;
  std::unique_ptr<TableName> name;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// 'user'@'host'.
struct UserSpec {
  std::string user;
  std::string host;  // "%" when not given
  bool has_password = false;
  std::string password;
};

class CreateUserStmt : public Stmt {
 public:
  bool if_not_exists = false;
  std::vector<UserSpec> users;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

class DropUserStmt : public Stmt {
 public:
  bool if_exists = false;
  std::vector<UserSpec> users;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

// GRANT privs ON level TO users [WITH GRANT OPTION] and REVOKE privs ON level FROM users.
class GrantStmt : public Stmt {
 public:
  bool revoke = false;
  std::vector<std::string> privileges;  // upper case ("ALL PRIVILEGES" folds to "ALL")
  // Object level: db and table names; "*" for wildcards (*.*, db.*).
  std::string db;
  std::string table;
  std::vector<UserSpec> users;
  bool with_grant_option = false;

  void Restore(Restorer* r) const override;
  void Dump(Dumper* d) const override;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PARSER_AST_H_
