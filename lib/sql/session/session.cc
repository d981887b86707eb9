// Session: statement dispatch, transactions, DDL, DML and system variables.

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "sql/catalog/catalog.h"
#include "sql/codec/codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/exec/executor.h"
#include "sql/exec/reader.h"
#include "sql/expr/registry.h"
#include "sql/kv/kv.h"
#include "sql/parser/parser.h"
#include "sql/planner/analyze.h"
#include "sql/planner/binder.h"
#include "sql/planner/explain.h"
#include "sql/session/database_access.h"
#include "sql/session/session_access.h"
#include "sql/types/convert.h"
#include "util/failpoint.h"
#include "util/logging.h"
#include "util/sync.h"

namespace rutile::sql {

namespace {

absl::Status Err(uint16_t code, std::string msg) { return MySqlErrorStatus(code, std::move(msg)); }

constexpr char kVersion[] = "8.0.11-Rutile-0.1";
constexpr char kVersionComment[] = "Rutile (TiDB architecture, embedded)";

// Tables of at most this many rows are analyzed automatically inside the commit that made
// them due; bigger ones on a background fiber (DatabaseImpl::AnalyzeInBackground).
constexpr int64_t kSyncAutoAnalyzeMaxRows = 10'000;

// A unique index entry an INSERT wrote with its duplicate check deferred to the commit
// (WriteRow's `deferred`): what its 1062 error names.
struct DeferredCheck {
  std::string table;
  std::string key;    // The index's name.
  std::string entry;  // The entry's values as the message shows them.
};

ColumnMeta MetaOf(const OutputColumn& c) {
  ColumnMeta m;
  m.name = c.name;
  m.table = c.table;
  m.db = c.db;
  m.type = static_cast<uint8_t>(c.type.tp == TypeCode::kVarchar ? TypeCode::kVarString : c.type.tp);
  // As MySQL: every TEXT/BLOB variant goes out as MYSQL_TYPE_BLOB, its length telling them
  // apart.
  if ((c.type.flag & kBlobFlag) != 0) m.type = static_cast<uint8_t>(TypeCode::kBlob);
  m.flags = c.type.flag;
  m.length = c.type.flen < 0 ? 0 : c.type.flen;
  m.decimals = static_cast<uint8_t>(c.type.decimal < 0 ? 31 : c.type.decimal);
  m.collation_id = static_cast<uint16_t>(c.type.IsString() ? CollationId(c.type.collation) : 63);
  return m;
}

std::string DatumText(const Datum& d) { return d.ToString(); }

}  // namespace

MySqlErrorInfo MySqlErrorOf(const absl::Status& status) {
  MySqlErrorInfo info;
  auto e = GetMySqlError(status);
  if (e.has_value()) {
    info.code = e->code;
    info.sqlstate = e->sqlstate;
    info.message = e->message;
  } else {
    info.code = 1105;
    info.sqlstate = "HY000";
    info.message = std::string(status.message());
  }
  return info;
}

struct DatabaseImpl {
  DatabaseImpl(std::unique_ptr<kv::KvStore> kv, std::shared_ptr<void> holder, Env* e)
      : owner(std::move(holder)),
        env(e != nullptr ? e : Env::Default()),
        store(std::move(kv)),
        catalog(store.get()) {
    catalog.SetLease(env, kSchemaLeaseMicros, kSchemaRefreshMicros);
    // Statistics of a table this Database has not planned yet come from its stats key.
    stats.SetLoader([this](int64_t table_id) -> TableStatsPtr {
      auto b = store->Begin();
      if (!b.ok()) return nullptr;
      auto r = LoadTableStats(b->get(), table_id);
      (*b)->Rollback();
      return r.ok() ? *r : nullptr;
    });
  }
  // The schema lease and how often a busy catalog re-reads the version (catalog.h).
  static constexpr uint64_t kSchemaLeaseMicros = 1'000'000;
  static constexpr uint64_t kSchemaRefreshMicros = 20'000;

  std::shared_ptr<void> owner;  // Released last: may own the cluster `store` runs on.
  Env* env;                     // NOW() reads its wall clock.
  std::unique_ptr<kv::KvStore> store;
  Catalog catalog;
  // Table statistics from ANALYZE TABLE (planner/stats.h), shared by the sessions.
  StatsCache stats;
  // CONNECTION_ID() of sessions no server named (SetConnectionInfo).
  std::atomic<uint64_t> next_connection_id{1};

  // Automatic ANALYZEs of big tables run on fibers of their own (TiDB's auto-analyze
  // worker), not in the committing statement: scanning 100,000 rows held a sysbench
  // connection's COMMIT for 2-4 s. The destructor waits for them (they use the store,
  // the catalog and the statistics).
  WaitGroup background;
  // Analyzes table `t` (claimed with stats.ClaimAnalyze) on a new fiber and releases the
  // claim when done; best effort, as the synchronous automatic ANALYZE.
  void AnalyzeInBackground(TablePtr t);
  ~DatabaseImpl() { background.Wait(); }

  // Automatic ANALYZEs run and failed (SHOW STATUS Rutile_auto_analyze_runs / _errors) and
  // the last failure's text. A failure fails no statement (the statistics stay as they
  // were), so it is logged, at most once per kAutoAnalyzeLogIntervalMicros of `env`.
  static constexpr uint64_t kAutoAnalyzeLogIntervalMicros = 60'000'000;
  std::atomic<uint64_t> auto_analyze_runs{0};
  std::atomic<uint64_t> auto_analyze_errors{0};
  std::mutex auto_analyze_mu;
  std::string auto_analyze_last_error;  // Guarded by auto_analyze_mu.
  uint64_t auto_analyze_logged_at = 0;  // Guarded by auto_analyze_mu; 0: never.
  uint64_t auto_analyze_unlogged = 0;   // Guarded by auto_analyze_mu.
  // Counts an automatic ANALYZE of `table` that ended with `s`.
  void NoteAutoAnalyze(const std::string& table, const absl::Status& s);
};

struct Prepared {
  std::string sql;
  StmtPtr stmt;
  size_t params = 0;
};

struct SessionImpl {
  DatabaseImpl* db = nullptr;
  std::string current_db;
  std::unique_ptr<kv::KvTxn> txn;  // The explicit transaction, if any.
  bool autocommit = true;
  std::string sql_mode_text =
      "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
      "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";
  SqlMode sql_mode = SqlMode::Default();
  // Which databases (table "") and tables SHOW and information_schema list (empty: all);
  // set by SessionAccess::SetVisibility.
  std::function<bool(std::string_view db, std::string_view table)> visible;
  std::string isolation = "REPEATABLE-READ";
  // tidb_txn_mode: explicit transactions lock as they write ("pessimistic", the
  // default) or find conflicts at COMMIT ("optimistic"). Autocommit statements always
  // run optimistic (nothing to wait for between their write and their commit).
  std::string txn_mode = "pessimistic";
  // A new explicit transaction: pessimistic or not by `mode` ("" is tidb_txn_mode).
  absl::StatusOr<std::unique_ptr<kv::KvTxn>> BeginExplicit(const std::string& mode) {
    kv::TxnOptions o;
    o.pessimistic = mode.empty() ? txn_mode == "pessimistic" : mode == "PESSIMISTIC";
    return db->store->BeginWith(o);
  }
  // tidb_mem_quota_query: each statement's memory quota in bytes (0: none), 1 GiB as TiDB.
  int64_t mem_quota_query = int64_t{1} << 30;
  // tidb_allow_coprocessor: table reads may run at the region leaders (planner/pushdown.h).
  bool allow_coprocessor = true;
  // tidb_executor_concurrency: workers of a parallel operator (hash aggregation), 1..64;
  // 1 runs everything on the statement's fiber.
  int64_t executor_concurrency = 2;
  std::map<std::string, Datum> user_vars;
  std::map<std::string, std::string> other_vars;
  uint64_t last_insert_id = 0;
  uint64_t run_id = 0;
  // CONNECTION_ID(), and the account and client host of USER() / CURRENT_USER().
  uint64_t connection_id = 0;
  std::string user = "root";
  std::string host = "localhost";
  // SHOW WARNINGS / SHOW ERRORS: the diagnostics of the last statement that was neither
  // (its warnings, and its error when it failed); `pending_warnings` collects the running
  // statement's.
  std::vector<SqlWarning> diagnostics;
  std::vector<SqlWarning> pending_warnings;
  std::map<uint32_t, Prepared> prepared;
  uint32_t next_prepared = 1;
  // Tables the open transaction wrote, with the oldest revision it wrote each under
  // (the commit rule in sql/catalog/catalog.h).
  std::map<int64_t, int64_t> written_tables;

  // Rows the open transaction's INSERT/UPDATE/DELETE statements changed, per table: the
  // row-count change and the rows modified (automatic ANALYZE, planner/stats.h).
  std::map<int64_t, std::pair<int64_t, int64_t>> modified_rows;

  // An autocommit statement's INSERTs defer their duplicate checks to the commit (TiDB's
  // lazy uniqueness check: the store's prewrite of Mutation::Insert finds a committed
  // version; kv.h PutNotExists). Only there: the statement is the whole transaction, so
  // its commit is the statement's end and the 1062 fails nothing but it. Pessimistic and
  // explicit transactions check at statement time. `deferred_checks`: the unique index
  // entries written so (the row keys name their table and handle themselves).
  bool defer_insert_checks = false;
  std::map<std::string, DeferredCheck> deferred_checks;
  // The tables (id -> name) whose rows the statement wrote so: a failing row key names its
  // table by id, and the catalog may have dropped the table by the time the commit failed.
  std::map<int64_t, std::string> deferred_tables;
  // The 1062 error for a deferred check the commit found failing (`s`: the commit's
  // status), or `s` itself.
  absl::Status DeferredDupError(const absl::Status& s);

  void NoteWrite(const TableInfo& t) {
    auto [it, added] = written_tables.emplace(t.id, t.revision);
    if (!added) it->second = std::min(it->second, t.revision);
  }
  void ClearWrites() {
    written_tables.clear();
    modified_rows.clear();
  }
  // Commits `t` under the catalog's commit rule, then hands its modification counts to
  // the statistics and analyzes the tables they make due.
  absl::Status CommitTxn(kv::KvTxn* t) {
    std::map<int64_t, int64_t> used = std::move(written_tables);
    std::map<int64_t, std::pair<int64_t, int64_t>> modified = std::move(modified_rows);
    ClearWrites();
    absl::Status s = db->catalog.CommitChecked(used, t);
    if (s.ok()) AutoAnalyze(modified);
    return s;
  }
  void NoteModified(const TableName& tn, int64_t rows_delta, int64_t modified);
  void AutoAnalyze(const std::map<int64_t, std::pair<int64_t, int64_t>>& modified);
  absl::Status AnalyzeOne(const TablePtr& t);
  // Bound plans of prepared point selects and handle-range selects, by the prepared
  // statement's AST.
  // A cached point get whose plan is only projections of columns over the scan runs
  // without executors (TiDB's PointGet executor on a plan-cache hit): one Get of the row
  // key on the transaction, decoded into a chunk kept here, the result built from it.
  struct FastPointGet {
    TablePtr table;
    std::unique_ptr<codec::RowDecoder> decoder;  // ScanRowColumns(*table).
    Chunk row;                                   // The decoder's columns; reused.
    // Per visible result column: its column in `row` and its type in the plan's output.
    std::vector<std::pair<size_t, FieldType>> out;
    std::vector<ColumnMeta> columns;
  };
  struct CachedPlan {
    int64_t schema_version = 0;
    std::string db;
    std::string sql_mode;
    PlanPtr plan;
    // In `plan`: the point get whose handle is the parameter, or (range) the handle range
    // whose bounds are the two parameters.
    TableScanNode* scan = nullptr;
    bool range = false;
    std::shared_ptr<FastPointGet> fast;  // Point gets; null when the plan has another shape.
  };
  std::map<const Stmt*, CachedPlan> plan_cache;

  // A prepared INSERT ... VALUES (or SET) whose values are all parameters, literals or
  // DEFAULT keeps what binding it found (TiDB's plan cache for INSERT): the table, the
  // target columns and each value's source, by the prepared statement's AST. A later
  // execution under the same schema version, database and sql_mode only substitutes the
  // parameters, without the Binder.
  struct InsertValue {
    enum class Kind : uint8_t { kParam, kConstant, kDefault };
    Kind kind = Kind::kDefault;
    int param = 0;  // kParam: the parameter's index.
    Datum value;    // kConstant: the literal's value and type.
    FieldType type;
  };
  struct CachedInsert {
    int64_t schema_version = 0;
    std::string db;
    std::string sql_mode;
    TablePtr table;
    std::vector<int> targets;
    std::vector<std::vector<InsertValue>> rows;
  };
  std::map<const Stmt*, CachedInsert> insert_cache;

  // The plan of a query: bound afresh, or a cached prepared point select's. `*fast`
  // (when given): the cached point get's fast path, which then runs the statement (the
  // plan's scan is not updated).
  absl::StatusOr<PlanPtr> PlanQuery(const QueryStmt& q, const std::vector<Datum>* params,
                                    FastPointGet** fast = nullptr);
  absl::StatusOr<ResultSet> RunFastPointGet(FastPointGet* f, int64_t handle, kv::KvTxn* t);

  absl::StatusOr<ResultSet> Execute(std::string_view sql);
  // The parser options sql_mode implies.
  ParserOptions ParseOptions() const {
    ParserOptions po;
    po.pipes_as_concat = sql_mode.pipes_as_concat;
    return po;
  }
  // Parses as Execute does, recording a syntax error in the diagnostics.
  absl::StatusOr<StmtPtr> Parse(std::string_view sql);
  absl::StatusOr<ResultSet> Run(const Stmt& stmt, const std::vector<Datum>* params);
  // Run, recording the statement's diagnostics for SHOW WARNINGS.
  absl::StatusOr<ResultSet> RunRecorded(const Stmt& stmt, const std::vector<Datum>* params);

  BindOptions Options(const std::vector<Datum>* params);
  absl::StatusOr<expr::ExprPtr> Variable(const VariableExpr& v);
  void InitContext(ExecContext* ctx, kv::KvTxn* txn);

  absl::StatusOr<ResultSet> RunInTxn(const Stmt& stmt, const std::vector<Datum>* params);
  absl::StatusOr<ResultSet> RunInTxnOnce(const Stmt& stmt, const std::vector<Datum>* params);
  absl::StatusOr<ResultSet> Dispatch(const Stmt& stmt, const std::vector<Datum>* params,
                                     kv::KvTxn* txn);
  absl::StatusOr<ResultSet> Query(const QueryStmt& q, const std::vector<Datum>* params,
                                  kv::KvTxn* txn);
  absl::StatusOr<ResultSet> Insert(const InsertStmt& s, const std::vector<Datum>* params,
                                   kv::KvTxn* txn);
  absl::StatusOr<ResultSet> Update(const UpdateStmt& s, const std::vector<Datum>* params,
                                   kv::KvTxn* txn);
  absl::StatusOr<ResultSet> Delete(const DeleteStmt& s, const std::vector<Datum>* params,
                                   kv::KvTxn* txn);
  absl::StatusOr<ResultSet> Explain(const ExplainStmt& s, const std::vector<Datum>* params);
  absl::StatusOr<ResultSet> Analyze(const AnalyzeTableStmt& s);
  absl::StatusOr<ResultSet> Show(const ShowStmt& s);
  absl::StatusOr<ResultSet> Set(const SetStmt& s, const std::vector<Datum>* params);
  absl::StatusOr<ResultSet> Ddl(const Stmt& s);
  absl::StatusOr<ResultSet> CreateTable(const CreateTableStmt& s);
  absl::StatusOr<ResultSet> DropTable(const DropTableStmt& s);
  absl::StatusOr<ResultSet> CreateIndex(const TablePtr& t, const std::string& name,
                                        const std::vector<IndexPart>& parts, bool unique,
                                        bool primary, bool if_not_exists);
  absl::StatusOr<ResultSet> DropIndex(const TablePtr& t, const std::string& name, bool if_exists);
  absl::StatusOr<ResultSet> Alter(const AlterTableStmt& s);
  // Runs the `event` triggers of `t` (BEFORE or AFTER) for one row.
  absl::Status FireTriggers(const TableInfo& t, const char* event, bool before, kv::KvTxn* txn);
  int trigger_depth = 0;
  // How a pessimistic transaction runs locking statement `stmt` (kv.h LockingOptions).
  kv::LockingOptions LockingOptionsFor(const Stmt& stmt);
  absl::StatusOr<std::string> DbOf(const TableName& t) {
    std::string d = t.db.empty() ? current_db : t.db;
    if (d.empty()) return Err(kErNoDb, "No database selected");
    return d;
  }
};

// ---- Row and index maintenance ----

namespace {

std::string EntryText(const TableInfo& t, const IndexInfo& idx, const std::vector<Datum>& row) {
  std::vector<std::string> parts;
  for (int c : idx.columns) parts.push_back(row[c].IsNull() ? "NULL" : row[c].ToString());
  return absl::StrJoin(parts, "-");
}

absl::Status DupError(const std::string& table, const std::string& entry, const std::string& key) {
  return MakeMySqlStatus(
      absl::StatusCode::kAlreadyExists,
      {kErDupEntry, "23000",
       absl::StrCat("Duplicate entry '", entry, "' for key '", table, ".", key, "'")});
}
absl::Status DupError(const TableInfo& t, const std::string& entry, const std::string& key) {
  return DupError(t.name, entry, key);
}

// `carried`: values of t.WritableChangingColumns() (in that order) to store; null or empty
// stores their defaults (a new row).
absl::StatusOr<std::string> EncodeRowValue(const TableInfo& t, const std::vector<Datum>& row,
                                           const std::vector<Datum>* carried = nullptr) {
  std::vector<int64_t> ids;
  std::vector<Datum> vals;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (static_cast<int>(i) == t.handle_col) continue;
    ids.push_back(t.columns[i].id);
    vals.push_back(row[i]);
  }
  if (!t.changing_columns.empty()) {
    std::vector<const ColumnInfo*> writable = t.WritableChangingColumns();
    for (size_t i = 0; i < writable.size(); ++i) {
      ids.push_back(writable[i]->id);
      vals.push_back(carried != nullptr && i < carried->size() ? (*carried)[i]
                                                               : writable[i]->default_value);
    }
  }
  return codec::EncodeRow(ids, vals);
}

// The stored values of the writable changing columns of the row under `handle` (an update
// keeps them: a catalog where the column is public may have set them). Empty when the
// table has none or the row is absent.
absl::StatusOr<std::vector<Datum>> CarriedValues(kv::KvTxn* txn, const TableInfo& t,
                                                 int64_t handle) {
  std::vector<const ColumnInfo*> writable = t.WritableChangingColumns();
  if (writable.empty()) return std::vector<Datum>();
  auto v = txn->Get(codec::EncodeRowKey(t.id, handle));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::vector<Datum>();
  std::vector<codec::RowColumn> cols;
  for (const ColumnInfo* c : writable) {
    codec::RowColumn rc;
    rc.id = c->id;
    rc.type = c->type;
    rc.default_value = c->default_value;
    cols.push_back(rc);
  }
  return codec::RowDecoder(cols).Decode(**v, handle);
}

// Reads the row under `handle`; nullopt when absent.
absl::StatusOr<std::optional<std::vector<Datum>>> ReadRow(kv::KvTxn* txn, const TableInfo& t,
                                                          int64_t handle) {
  auto v = txn->Get(codec::EncodeRowKey(t.id, handle));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<std::vector<Datum>>();
  auto row = RowDecoderFor(t).Decode(**v, handle);
  if (!row.ok()) return row.status();
  return std::optional<std::vector<Datum>>(*std::move(row));
}

// Whether a pessimistic statement locks index entry `e` of `idx` (TiDB's rule): a unique
// key's entry (its key is the indexed values alone: two rows can contend for it). Other
// entries end with the row's handle and are covered by the row key's lock.
bool NeedsLock(const IndexInfo& idx, const IndexEntry& e) { return idx.unique && e.unique_check; }

absl::Status RemoveRow(kv::KvTxn* txn, const TableInfo& t, const std::vector<Datum>& row,
                       int64_t handle) {
  txn->Delete(codec::EncodeRowKey(t.id, handle));
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Deletable()) continue;
    IndexEntry e = MakeIndexEntry(t, idx, row, handle);
    if (NeedsLock(idx, e)) {
      txn->Delete(e.key);
    } else {
      txn->DeleteWithoutLock(e.key);
    }
  }
  return absl::OkStatus();
}

// The handle of a row that conflicts with `row` (as `handle`) on the primary handle or a
// unique index, other than `self`; with the name of the key.
absl::StatusOr<std::optional<std::pair<int64_t, std::string>>> FindConflict(
    kv::KvTxn* txn, const TableInfo& t, const std::vector<Datum>& row, int64_t handle,
    std::optional<int64_t> self) {
  using R = std::optional<std::pair<int64_t, std::string>>;
  if (!self.has_value() || *self != handle) {
    auto v = txn->Get(codec::EncodeRowKey(t.id, handle));
    if (!v.ok()) return v.status();
    if (v->has_value()) return R(std::make_pair(handle, std::string("PRIMARY")));
  }
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.unique || !idx.Writable()) continue;
    IndexEntry e = MakeIndexEntry(t, idx, row, handle);
    if (!e.unique_check) continue;
    auto v = txn->Get(e.key);
    if (!v.ok()) return v.status();
    if (v->has_value()) {
      int64_t other = HandleFromBytes(**v);
      if (!self.has_value() || other != *self) return R(std::make_pair(other, idx.name));
    }
  }
  return R();
}

// `deferred`: the row key and its unique index entries are written with PutNotExists
// (their absence checked at the commit; DeferredConflict found none among the
// transaction's own writes), and each such entry's duplicate text is noted there.
absl::Status WriteRow(kv::KvTxn* txn, const TableInfo& t, const std::vector<Datum>& row,
                      int64_t handle, const std::vector<Datum>* carried = nullptr,
                      std::map<std::string, DeferredCheck>* deferred = nullptr) {
  auto value = EncodeRowValue(t, row, carried);
  if (!value.ok()) return value.status();
  std::string row_key = codec::EncodeRowKey(t.id, handle);
  if (deferred != nullptr && !txn->BufferedValue(row_key).has_value()) {
    txn->PutNotExists(row_key, *std::move(value));
  } else {
    txn->Put(row_key, *std::move(value));
  }
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Writable()) continue;
    IndexEntry e = MakeIndexEntry(t, idx, row, handle);
    if (deferred != nullptr && idx.unique && e.unique_check &&
        !txn->BufferedValue(e.key).has_value()) {
      (*deferred)[e.key] = DeferredCheck{t.name, idx.name, EntryText(t, idx, row)};
      txn->PutNotExists(e.key, e.value);
    } else if (NeedsLock(idx, e)) {
      txn->Put(e.key, e.value);
    } else {
      txn->PutWithoutLock(e.key, e.value);
    }
  }
  return absl::OkStatus();
}

// A deferred INSERT's conflict among the transaction's own writes (a row an earlier row
// of the statement wrote): the name of the key, or nullopt. Keys the transaction has
// not written are checked by the store at the commit (WriteRow's `deferred`).
std::optional<std::string> DeferredConflict(kv::KvTxn* txn, const TableInfo& t,
                                            const std::vector<Datum>& row, int64_t handle) {
  auto present = [&](const std::string& key) {
    auto b = txn->BufferedValue(key);
    return b.has_value() && b->has_value();
  };
  if (present(codec::EncodeRowKey(t.id, handle))) return std::string("PRIMARY");
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.unique || !idx.Writable()) continue;
    IndexEntry e = MakeIndexEntry(t, idx, row, handle);
    if (e.unique_check && present(e.key)) return idx.name;
  }
  return std::nullopt;
}

std::string ConflictText(const TableInfo& t, const std::vector<Datum>& row, int64_t handle,
                         const std::string& key) {
  if (key == "PRIMARY" && t.handle_col >= 0) return absl::StrCat(handle);
  for (const IndexInfo& idx : t.indexes) {
    if (idx.name == key) return EntryText(t, idx, row);
  }
  return absl::StrCat(handle);
}

// Converts a value for storage in column `c` (strict: bad values are errors).
absl::StatusOr<Datum> StoreValue(ExecContext* ctx, const ColumnInfo& c, const Datum& v,
                                 const FieldType& from) {
  if (v.IsNull()) {
    if (c.type.NotNull()) {
      return Err(kErBadNull, absl::StrCat("Column '", c.name, "' cannot be null"));
    }
    return Datum::Null();
  }
  if (c.type.IsString() && c.type.flen >= 0 && v.kind() == DatumKind::kString &&
      ctx->strict_writes) {
    const std::string& s = v.GetString();
    size_t chars = 0;
    for (unsigned char ch : s) chars += (ch & 0xC0) != 0x80 ? 1 : 0;
    // The TEXT/BLOB family limits bytes (TINYTEXT 255 ... LONGTEXT 4 GiB-1), CHAR/VARCHAR
    // characters.
    if ((c.type.flag & kBlobFlag) != 0) chars = s.size();
    if (chars > static_cast<size_t>(c.type.flen)) {
      return Err(kErDataTooLong, absl::StrCat("Data too long for column '", c.name, "' at row 1"));
    }
  }
  auto r = CastDatum(ctx, v, from, c.type);
  if (!r.ok() && from.IsString() && !c.type.IsString()) {
    auto e = GetMySqlError(r.status());
    if (e.has_value() && (e->code == kErTruncatedWrongValue || e->code == kErWarnDataTruncated)) {
      std::string tn = c.type.ToString();
      tn = tn.substr(0, tn.find('('));
      if (c.type.IsInteger()) tn = "integer";
      return Err(kErTruncatedWrongValueForField,
                 absl::StrCat("Incorrect ", tn, " value: '", v.ToString(), "' for column '", c.name,
                              "' at row 1"));
    }
  }
  return r;
}

}  // namespace

// ---- Session plumbing ----

BindOptions SessionImpl::Options(const std::vector<Datum>* params) {
  BindOptions o;
  o.catalog = &db->catalog;
  o.visible = &visible;
  o.db = current_db;
  o.params = params;
  o.variable = [this](const VariableExpr& v) { return Variable(v); };
  o.only_full_group_by = sql_mode.only_full_group_by;
  auto opt = other_vars.find("rutile_optimizer");
  o.optimize = opt == other_vars.end() ||
               !(absl::EqualsIgnoreCase(opt->second, "off") || opt->second == "0");
  o.stats = &db->stats;
  return o;
}

absl::StatusOr<expr::ExprPtr> SessionImpl::Variable(const VariableExpr& v) {
  const std::string name = absl::AsciiStrToLower(v.name);
  if (!v.system) {
    auto it = user_vars.find(name);
    if (it == user_vars.end() || it->second.IsNull()) return expr::NewNull();
    const Datum& d = it->second;
    switch (d.kind()) {
      case DatumKind::kInt64:
        return expr::NewInt(d.GetInt64());
      case DatumKind::kUint64:
        return expr::NewUint(d.GetUint64());
      case DatumKind::kFloat64:
      case DatumKind::kFloat32:
        return expr::NewDouble(d.GetDouble());
      case DatumKind::kDecimal:
        return expr::NewConstant(d, FieldType::NewDecimal(65, d.GetDecimal().scale()));
      default:
        return expr::NewString(d.ToString());
    }
  }
  if (name == "autocommit") return expr::NewInt(autocommit ? 1 : 0);
  if (name == "version") return expr::NewString(kVersion);
  if (name == "version_comment") return expr::NewString(kVersionComment);
  if (name == "sql_mode") return expr::NewString(sql_mode_text);
  if (name == "tx_isolation" || name == "transaction_isolation") return expr::NewString(isolation);
  if (name == "tidb_txn_mode") return expr::NewString(txn_mode);
  if (name == "last_insert_id" || name == "identity") return expr::NewUint(last_insert_id);
  if (name == "max_allowed_packet") return expr::NewInt(64 << 20);
  if (name == "group_concat_max_len") return expr::NewInt(1024);
  if (name == "tidb_mem_quota_query") return expr::NewInt(mem_quota_query);
  if (name == "tidb_allow_coprocessor") return expr::NewInt(allow_coprocessor ? 1 : 0);
  if (name == "tidb_executor_concurrency") return expr::NewInt(executor_concurrency);
  if (name == "connection_id") return expr::NewUint(connection_id);
  // USER() is the client as it connected; CURRENT_USER() the account it authenticated as,
  // and accounts are not host-restricted ('%').
  if (name == "user()") return expr::NewString(absl::StrCat(user, "@", host));
  if (name == "current_user()") return expr::NewString(absl::StrCat(user, "@%"));
  if (name == "character_set_database" || name == "character_set_system") {
    return expr::NewString(name == "character_set_system" ? "utf8mb3" : "utf8mb4");
  }
  if (name == "collation_database") return expr::NewString("utf8mb4_general_ci");
  if (name == "character_set_client" || name == "character_set_connection" ||
      name == "character_set_results" || name == "character_set_server") {
    return expr::NewString("utf8mb4");
  }
  if (name == "collation_connection" || name == "collation_server") {
    return expr::NewString("utf8mb4_general_ci");
  }
  auto it = other_vars.find(name);
  if (it != other_vars.end()) return expr::NewString(it->second);
  return MakeMySqlStatus(absl::StatusCode::kNotFound,
                         {1193, "HY000", absl::StrCat("Unknown system variable '", v.name, "'")});
}

void SessionImpl::InitContext(ExecContext* ctx, kv::KvTxn* txn) {
  // The statement's NOW(): the Env's wall clock, in UTC (time_zone is not modelled yet).
  const absl::CivilSecond cs = absl::ToCivilSecond(
      absl::FromUnixMicros(static_cast<int64_t>(db->env->WallMicros())), absl::UTCTimeZone());
  ctx->now =
      Time::FromDatetime(static_cast<int>(cs.year()), cs.month(), cs.day(), cs.hour(), cs.minute(),
                         cs.second(), static_cast<int>(db->env->WallMicros() % 1'000'000), 6);
  ctx->sql_mode = sql_mode;
  ctx->txn = txn;
  ctx->catalog = &db->catalog;
  ctx->run_id = ++run_id;
  ctx->mem_quota = mem_quota_query;
  ctx->allow_coprocessor = allow_coprocessor;
  ctx->env = db->env;
  ctx->concurrency = static_cast<int>(executor_concurrency);
}

absl::StatusOr<StmtPtr> SessionImpl::Parse(std::string_view sql) {
  auto stmt = ParseOne(sql, ParseOptions());
  if (!stmt.ok()) {
    MySqlErrorInfo e = MySqlErrorOf(stmt.status());
    diagnostics = {{WarnLevel::kError, {e.code, e.sqlstate, e.message}}};
  }
  return stmt;
}

absl::StatusOr<ResultSet> SessionImpl::Execute(std::string_view sql) {
  auto stmt = Parse(sql);
  if (!stmt.ok()) return stmt.status();
  return RunRecorded(**stmt, nullptr);
}

absl::StatusOr<ResultSet> SessionImpl::RunRecorded(const Stmt& stmt,
                                                   const std::vector<Datum>* params) {
  auto* show = dynamic_cast<const ShowStmt*>(&stmt);
  if (show != nullptr && (show->kind == ShowKind::kWarnings || show->kind == ShowKind::kErrors)) {
    return Run(stmt, params);
  }
  pending_warnings.clear();
  absl::StatusOr<ResultSet> r = Run(stmt, params);
  diagnostics = std::move(pending_warnings);
  pending_warnings.clear();
  if (!r.ok()) {
    MySqlErrorInfo e = MySqlErrorOf(r.status());
    diagnostics.push_back({WarnLevel::kError, {e.code, e.sqlstate, e.message}});
  }
  return r;
}

absl::StatusOr<ResultSet> SessionImpl::Run(const Stmt& stmt, const std::vector<Datum>* params) {
  if (auto* t = dynamic_cast<const TxnStmt*>(&stmt)) {
    ResultSet rs;
    switch (t->kind) {
      case TxnKind::kBegin: {
        if (txn) {
          absl::Status s = CommitTxn(txn.get());
          txn.reset();
          if (!s.ok()) return s;
        }
        ClearWrites();
        auto b = BeginExplicit(t->mode);
        if (!b.ok()) return b.status();
        txn = *std::move(b);
        return rs;
      }
      case TxnKind::kCommit: {
        if (!txn) return rs;
        absl::Status s = CommitTxn(txn.get());
        txn.reset();
        if (!s.ok()) return s;
        return rs;
      }
      case TxnKind::kRollback:
        if (txn) txn->Rollback();
        txn.reset();
        ClearWrites();
        return rs;
      default:
        return Err(kErNotSupported, "SAVEPOINT is not supported yet");
    }
  }
  if (auto* u = dynamic_cast<const UseStmt*>(&stmt)) {
    if (!db->catalog.HasDatabase(u->db)) {
      return Err(kErBadDb, absl::StrCat("Unknown database '", u->db, "'"));
    }
    current_db = u->db;
    return ResultSet();
  }
  if (auto* s = dynamic_cast<const SetStmt*>(&stmt)) return Set(*s, params);
  if (auto* s = dynamic_cast<const ShowStmt*>(&stmt)) return Show(*s);
  if (auto* e = dynamic_cast<const ExplainStmt*>(&stmt)) return Explain(*e, params);
  if (dynamic_cast<const QueryStmt*>(&stmt) || dynamic_cast<const InsertStmt*>(&stmt) ||
      dynamic_cast<const UpdateStmt*>(&stmt) || dynamic_cast<const DeleteStmt*>(&stmt)) {
    return RunInTxn(stmt, params);
  }
  // DDL commits the open transaction first, as in MySQL.
  if (txn) {
    absl::Status s = CommitTxn(txn.get());
    txn.reset();
    if (!s.ok()) return s;
  }
  return Ddl(stmt);
}

namespace {

// How often a pessimistic statement runs again after meeting newer commits on keys it
// locked (each run keeps its locks, so this takes a stream of new keys).
constexpr int kMaxStatementRetries = 100;

// SELECT ... FOR UPDATE [NOWAIT | SKIP LOCKED] (LOCK IN SHARE MODE takes no lock, as in
// TiDB by default).
bool LocksReads(const Stmt& stmt) {
  auto* s = dynamic_cast<const SelectStmt*>(&stmt);
  return s != nullptr &&
         (s->lock == LockMode::kForUpdate || s->lock == LockMode::kForUpdateNoWait ||
          s->lock == LockMode::kForUpdateSkipLocked);
}

// Statements a pessimistic transaction runs with a current read and locks.
bool IsLockingStatement(const Stmt& stmt) {
  return dynamic_cast<const InsertStmt*>(&stmt) != nullptr ||
         dynamic_cast<const UpdateStmt*>(&stmt) != nullptr ||
         dynamic_cast<const DeleteStmt*>(&stmt) != nullptr || LocksReads(stmt);
}

// An expression that reads nothing but its row and the statement's parameters: no
// subquery, no variable assignment.
bool RowLocal(const Expr* e) {
  if (e == nullptr) return true;
  if (dynamic_cast<const LiteralExpr*>(e) != nullptr ||
      dynamic_cast<const ParamExpr*>(e) != nullptr ||
      dynamic_cast<const ColumnRefExpr*>(e) != nullptr ||
      dynamic_cast<const DefaultExpr*>(e) != nullptr) {
    return true;
  }
  if (auto* u = dynamic_cast<const UnaryExpr*>(e)) return RowLocal(u->operand.get());
  if (auto* b = dynamic_cast<const BinaryExpr*>(e)) {
    return b->op != BinaryOp::kAssign && RowLocal(b->left.get()) && RowLocal(b->right.get());
  }
  if (auto* f = dynamic_cast<const FuncCallExpr*>(e)) {
    for (const ExprPtr& a : f->args) {
      if (!RowLocal(a.get())) return false;
    }
    return true;
  }
  return false;
}

bool RowLocal(const std::vector<Assignment>& set) {
  for (const Assignment& a : set) {
    if (!RowLocal(a.value.get())) return false;
  }
  return true;
}

// `col = ?` or `col = literal`: the column named, or null.
const ColumnRefExpr* EqualsConstant(const Expr* where) {
  auto* eq = dynamic_cast<const BinaryExpr*>(where);
  if (eq == nullptr || eq->op != BinaryOp::kEq) return nullptr;
  auto constant = [](const Expr* e) {
    return dynamic_cast<const ParamExpr*>(e) != nullptr ||
           dynamic_cast<const LiteralExpr*>(e) != nullptr;
  };
  auto* l = dynamic_cast<const ColumnRefExpr*>(eq->left.get());
  auto* r = dynamic_cast<const ColumnRefExpr*>(eq->right.get());
  if (l != nullptr && constant(eq->right.get())) return l;
  if (r != nullptr && constant(eq->left.get())) return r;
  return nullptr;
}

}  // namespace

kv::LockingOptions SessionImpl::LockingOptionsFor(const Stmt& stmt) {
  kv::LockingOptions o;
  o.lock_reads = LocksReads(stmt);
  // TiDB reuses the transaction's for_update_ts for point-get DML and INSERT ... VALUES:
  // every key such a statement depends on is one it reads by key, and those are locked as
  // they are read (on their latest versions), so a fresh TSO timestamp buys nothing. The
  // table must have no triggers (their statements read other tables).
  auto table_of = [&](const TableName* tn) -> TablePtr {
    if (tn == nullptr) return nullptr;
    auto d = DbOf(*tn);
    if (!d.ok()) return nullptr;
    auto t = db->catalog.GetTable(*d, tn->name);
    if (!t.ok() || (*t)->is_view || !(*t)->triggers.empty()) return nullptr;
    return *t;
  };
  // WHERE <integer primary key> = constant: the planner reads that one row by its key.
  auto point = [&](const TableName* tn, const Expr* where) {
    TablePtr t = table_of(tn);
    const ColumnRefExpr* c = EqualsConstant(where);
    return t != nullptr && c != nullptr && t->handle_col >= 0 &&
           t->FindColumn(c->column) == t->handle_col &&
           (c->table.empty() || absl::EqualsIgnoreCase(c->table, tn->name) ||
            absl::EqualsIgnoreCase(c->table, tn->alias));
  };
  if (auto* u = dynamic_cast<const UpdateStmt*>(&stmt)) {
    o.reuse_for_update_ts = u->order_by.empty() && RowLocal(u->set) &&
                            point(dynamic_cast<const TableName*>(u->table.get()), u->where.get());
  } else if (auto* d = dynamic_cast<const DeleteStmt*>(&stmt)) {
    o.reuse_for_update_ts = d->order_by.empty() && point(d->table.get(), d->where.get());
  } else if (auto* i = dynamic_cast<const InsertStmt*>(&stmt)) {
    bool local = i->select == nullptr && RowLocal(i->set) && RowLocal(i->on_duplicate) &&
                 table_of(i->table.get()) != nullptr;
    for (const auto& row : i->rows) {
      for (const ExprPtr& e : row) local = local && RowLocal(e.get());
    }
    o.reuse_for_update_ts = local;
  }
  return o;
}

absl::StatusOr<ResultSet> SessionImpl::RunInTxn(const Stmt& stmt,
                                                const std::vector<Datum>* params) {
  // An autocommit statement that met a schema change (8028) or a write conflict at its
  // commit (1213; autocommit statements run optimistic, so never a deadlock) changed
  // nothing and showed nothing: it runs again over the new schema and a fresh snapshot,
  // as TiDB retries autocommit statements.
  for (int attempt = 0;; ++attempt) {
    const bool autocommit_statement = txn == nullptr && autocommit;
    auto r = RunInTxnOnce(stmt, params);
    if (r.ok() || !autocommit_statement || attempt >= 3) return r;
    auto e = GetMySqlError(r.status());
    if (!e.has_value() || (e->code != kErInfoSchemaChanged && e->code != 1213)) return r;
    if (e->code == 1213) db->env->SleepForMicros(1000u << attempt);
  }
}

absl::StatusOr<ResultSet> SessionImpl::RunInTxnOnce(const Stmt& stmt,
                                                    const std::vector<Datum>* params) {
  // The cached schema, confirmed within the lease's refresh interval (no KV read on the
  // common path; catalog.h).
  absl::Status fresh = db->catalog.EnsureFresh();
  if (!fresh.ok()) return fresh;
  const bool implicit = txn == nullptr;
  std::unique_ptr<kv::KvTxn> local;
  kv::KvTxn* t = txn.get();
  if (implicit) {
    auto b = autocommit ? db->store->Begin() : BeginExplicit("");
    if (!b.ok()) return b.status();
    local = *std::move(b);
    t = local.get();
    ClearWrites();
    if (!autocommit) {
      txn = std::move(local);
      t = txn.get();
    }
  } else if (isolation == "READ-COMMITTED") {
    // READ COMMITTED: each statement of a transaction reads what is committed when it
    // starts (the first one reads at start_ts).
    absl::Status refreshed = t->RefreshSnapshot();
    if (!refreshed.ok()) return refreshed;
  }
  if (local != nullptr) {
    t->BeginStatement();
    deferred_checks.clear();
    deferred_tables.clear();
    defer_insert_checks = true;
    // LAST_INSERT_ID() stays what it was when the statement fails, at its commit too.
    const uint64_t last_insert_id_before = last_insert_id;
    auto r = Dispatch(stmt, params, t);
    defer_insert_checks = false;
    if (!r.ok()) {
      local->Rollback();
      ClearWrites();
      last_insert_id = last_insert_id_before;
      return r.status();
    }
    absl::Status s = CommitTxn(local.get());
    if (!s.ok()) {
      last_insert_id = last_insert_id_before;
      return DeferredDupError(s);
    }
    return r;
  }
  // Inside a transaction. A pessimistic one runs a statement that writes or locks as a
  // locking statement (kv.h): it reads the latest committed data, locks what it wrote
  // (and, FOR UPDATE, what it read) when it ends, and runs again when a key it locked had
  // a commit newer than what it read (TiDB's pessimistic statement retry; the locks stay,
  // so the next run sees the same versions). A deadlock (1213) rolls the whole
  // transaction back, as MySQL does; a lock wait timeout only the statement.
  const bool locking = IsLockingStatement(stmt);
  for (int attempt = 0;; ++attempt) {
    if (locking) {
      absl::Status b = t->BeginLockingStatement(LockingOptionsFor(stmt));
      if (!b.ok()) return b;
    } else {
      t->BeginStatement();
    }
    auto r = Dispatch(stmt, params, t);
    if (!r.ok()) {
      t->RollbackStatement();
      // A statement that locks as it reads (kv::LockingOptions) can meet a deadlock
      // before it ends: it rolls the transaction back too.
      auto e = GetMySqlError(r.status());
      if (locking && e.has_value() && e->code == 1213) {
        txn->Rollback();
        txn.reset();
        written_tables.clear();
      }
      return r.status();
    }
    bool retry = false;
    absl::Status locked = t->LockStatement(&retry);
    if (!locked.ok()) {
      auto e = GetMySqlError(locked);
      if (e.has_value() && e->code == 1213) {
        txn->Rollback();
        txn.reset();
        ClearWrites();
      }
      return locked;
    }
    if (!retry) return r;
    if (attempt >= kMaxStatementRetries) {
      txn->Rollback();
      txn.reset();
      ClearWrites();
      return MakeMySqlStatus(
          absl::StatusCode::kAborted,
          {1213, "40001",
           "Deadlock found when trying to get lock; try restarting transaction (the "
           "statement kept meeting newer commits)"});
    }
    pending_warnings.clear();
  }
}

absl::StatusOr<ResultSet> SessionImpl::Dispatch(const Stmt& stmt, const std::vector<Datum>* params,
                                                kv::KvTxn* t) {
  if (auto* q = dynamic_cast<const QueryStmt*>(&stmt)) return Query(*q, params, t);
  if (auto* i = dynamic_cast<const InsertStmt*>(&stmt)) {
    auto r = Insert(*i, params, t);
    if (r.ok() && i->table) {
      const auto n = static_cast<int64_t>(r->affected_rows);
      NoteModified(*i->table, n, n);
    }
    return r;
  }
  if (auto* u = dynamic_cast<const UpdateStmt*>(&stmt)) {
    auto r = Update(*u, params, t);
    if (auto* tn = dynamic_cast<const TableName*>(u->table.get()); r.ok() && tn != nullptr) {
      NoteModified(*tn, 0, static_cast<int64_t>(r->affected_rows));
    }
    return r;
  }
  if (auto* d = dynamic_cast<const DeleteStmt*>(&stmt)) {
    auto r = Delete(*d, params, t);
    if (r.ok() && d->table) {
      const auto n = static_cast<int64_t>(r->affected_rows);
      NoteModified(*d->table, -n, n);
    }
    return r;
  }
  return Err(kErNotSupported, "unsupported statement");
}

void SessionImpl::NoteModified(const TableName& tn, int64_t rows_delta, int64_t modified) {
  if (modified == 0) return;
  auto d = DbOf(tn);
  if (!d.ok()) return;
  auto t = db->catalog.GetTable(*d, tn.name);
  if (!t.ok() || (*t)->is_view || (*t)->memory_rows) return;
  auto& m = modified_rows[(*t)->id];
  m.first += rows_delta;
  m.second += modified;
}

// Automatic ANALYZE after a commit: best effort (a failure leaves the statistics as they
// were and does not fail the committed statement).
void SessionImpl::AutoAnalyze(const std::map<int64_t, std::pair<int64_t, int64_t>>& modified) {
  for (const auto& [id, m] : modified) {
    db->stats.NoteModified(id, m.first, m.second);
    // One session analyzes a due table; the others committing meanwhile go on (each
    // scanned the whole table before, every connection of a sysbench run stalling for
    // seconds at once).
    if (!db->stats.ClaimAnalyze(id)) continue;
    TablePtr t = db->catalog.FindTableById(id);
    if (t == nullptr) {
      db->stats.ReleaseAnalyze(id);
      continue;
    }
    // A small table is analyzed before the commit returns (milliseconds; the statements
    // that follow plan with its statistics, deterministically); a big one in the
    // background, so its commit does not wait seconds for the scan.
    if (db->stats.EstimatedRows(id) > kSyncAutoAnalyzeMaxRows) {
      db->AnalyzeInBackground(std::move(t));
      continue;
    }
    db->NoteAutoAnalyze(t->name, AnalyzeOne(t));
    db->stats.ReleaseAnalyze(id);
  }
}

void DatabaseImpl::NoteAutoAnalyze(const std::string& table, const absl::Status& s) {
  auto_analyze_runs.fetch_add(1, std::memory_order_relaxed);
  if (s.ok()) return;
  auto_analyze_errors.fetch_add(1, std::memory_order_relaxed);
  std::string text = absl::StrCat("table ", table, ": ", MySqlErrorOf(s).message);
  const uint64_t now = env->NowMicros();
  uint64_t unlogged = 0;
  {
    std::lock_guard<std::mutex> l(auto_analyze_mu);
    auto_analyze_last_error = text;
    if (auto_analyze_logged_at != 0 &&
        now - auto_analyze_logged_at < kAutoAnalyzeLogIntervalMicros) {
      ++auto_analyze_unlogged;
      return;
    }
    auto_analyze_logged_at = now == 0 ? 1 : now;
    unlogged = std::exchange(auto_analyze_unlogged, 0);
  }
  RUTILE_LOG_WARN("automatic ANALYZE failed ({} more failures not logged since the last): {}",
                  unlogged, text);
}

void DatabaseImpl::AnalyzeInBackground(TablePtr t) {
  background.Add(1);
  WaitGroup done = background;
  env->Spawn([this, t = std::move(t), done]() mutable {
    // Also when the fiber is unwound (FiberCancelled: a SimEnv destroyed meanwhile).
    struct Finish {
      DatabaseImpl* db;
      int64_t table_id;
      WaitGroup* done;
      ~Finish() {
        db->stats.ReleaseAnalyze(table_id);
        done->Done();
      }
    } finish{this, t->id, &done};
    // A session of its own with the default settings (the committing one may be gone).
    SessionImpl s;
    s.db = this;
    NoteAutoAnalyze(t->name, s.AnalyzeOne(t));
  });
}

namespace {

// `SELECT col, ... | * FROM t WHERE col = ?` and nothing else: the shape whose bound plan
// depends on its one parameter only through a point get's handle (when the column turns
// out to be the integer primary key; PointGetScan checks the plan).
bool PointSelectShape(const QueryStmt& q) {
  auto* s = dynamic_cast<const SelectStmt*>(&q);
  if (s == nullptr || s->distinct || !s->hints.empty() || !s->group_by.empty() ||
      s->having != nullptr || !s->order_by.empty() || s->limit.has_value() ||
      s->lock != LockMode::kNone || s->sql_calc_found_rows) {
    return false;
  }
  auto* from = dynamic_cast<const TableName*>(s->from.get());
  if (from == nullptr || !from->index_hints.empty()) return false;
  auto* eq = dynamic_cast<const BinaryExpr*>(s->where.get());
  if (eq == nullptr || eq->op != BinaryOp::kEq) return false;
  const bool col_param = dynamic_cast<const ColumnRefExpr*>(eq->left.get()) != nullptr &&
                         dynamic_cast<const ParamExpr*>(eq->right.get()) != nullptr;
  const bool param_col = dynamic_cast<const ParamExpr*>(eq->left.get()) != nullptr &&
                         dynamic_cast<const ColumnRefExpr*>(eq->right.get()) != nullptr;
  if (!col_param && !param_col) return false;
  for (const SelectField& f : s->fields) {
    if (!f.wildcard && dynamic_cast<const ColumnRefExpr*>(f.expr.get()) == nullptr) return false;
  }
  return true;
}

// `SELECT fields FROM t WHERE col BETWEEN ? AND ? [ORDER BY cols]`, DISTINCT or not, each
// field a column or an aggregate of columns, and nothing else: the shape whose bound plan
// depends on its two parameters only through a handle range's bounds (when the column
// turns out to be the integer primary key and the planner read that range;
// HandleRangeScan checks the plan). sysbench's range selects have this shape.
bool RangeSelectShape(const QueryStmt& q) {
  auto* s = dynamic_cast<const SelectStmt*>(&q);
  if (s == nullptr || !s->hints.empty() || !s->group_by.empty() || s->having != nullptr ||
      s->limit.has_value() || s->lock != LockMode::kNone || s->sql_calc_found_rows) {
    return false;
  }
  auto* from = dynamic_cast<const TableName*>(s->from.get());
  if (from == nullptr || !from->index_hints.empty()) return false;
  auto* b = dynamic_cast<const BetweenExpr*>(s->where.get());
  if (b == nullptr || b->negated ||
      dynamic_cast<const ColumnRefExpr*>(b->operand.get()) == nullptr ||
      dynamic_cast<const ParamExpr*>(b->low.get()) == nullptr ||
      dynamic_cast<const ParamExpr*>(b->high.get()) == nullptr) {
    return false;
  }
  auto is_col = [](const Expr* e) { return dynamic_cast<const ColumnRefExpr*>(e) != nullptr; };
  for (const SelectField& f : s->fields) {
    if (f.wildcard || is_col(f.expr.get())) continue;
    auto* a = dynamic_cast<const AggregateExpr*>(f.expr.get());
    if (a == nullptr || !a->order_by.empty() || a->separator.has_value()) return false;
    for (const ExprPtr& x : a->args) {
      if (!is_col(x.get())) return false;
    }
  }
  for (const OrderItem& o : s->order_by) {
    if (!is_col(o.expr.get())) return false;
  }
  return true;
}

// The table scan of a plan made only of projections, aggregations, sorts (no TopN) and
// distincts over one scan that reads exactly the handle range [lo, hi] with nothing pushed
// into it but the filter `between(handle, lo, hi)` the binder keeps from the WHERE (which
// that range implies); null otherwise.
TableScanNode* HandleRangeScan(PlanNode* node, int64_t lo, int64_t hi) {
  while (node->children.size() == 1 &&
         (node->kind == PlanKind::kProjection || node->kind == PlanKind::kAggregate ||
          node->kind == PlanKind::kDistinct ||
          (node->kind == PlanKind::kSort && !static_cast<SortNode*>(node)->limit.has_value()))) {
    node = node->children[0].get();
  }
  if (node->kind != PlanKind::kTableScan || !node->children.empty()) return nullptr;
  auto* scan = static_cast<TableScanNode*>(node);
  if (scan->handles.has_value() || scan->index_id != 0 || !scan->merge_paths.empty() ||
      !scan->handle_ranges.empty() || scan->index_only || scan->limit.has_value() ||
      scan->lo != lo || scan->hi != hi || scan->table == nullptr || scan->table->handle_col < 0 ||
      scan->table->memory_rows != nullptr || scan->filter == nullptr) {
    return nullptr;
  }
  auto* f = dynamic_cast<const expr::ScalarFunction*>(scan->filter.get());
  if (f == nullptr || f->name() != "between" || f->num_args() != 3) return nullptr;
  auto* c = dynamic_cast<const expr::ColumnRef*>(&f->arg(0));
  if (c == nullptr || c->index() != static_cast<size_t>(scan->table->handle_col)) return nullptr;
  auto bound_is = [](const expr::Expression& e, int64_t v) {
    if (!e.IsConstant()) return false;
    const Datum& d = static_cast<const expr::Constant&>(e).value();
    return d.kind() == DatumKind::kInt64 && d.GetInt64() == v;
  };
  if (!bound_is(f->arg(1), lo) || !bound_is(f->arg(2), hi)) return nullptr;
  return scan;
}

// The point get on `handle` of a plan made only of projections over one table scan
// that reads exactly that handle with nothing else pushed into it but the filter the
// binder keeps from the WHERE (the statement's only predicate, `handle column = ?` with
// an integer parameter, which the point get already implies); null otherwise.
TableScanNode* PointGetScan(PlanNode* node, int64_t handle) {
  while (node->kind == PlanKind::kProjection && node->children.size() == 1) {
    node = node->children[0].get();
  }
  if (node->kind != PlanKind::kTableScan || !node->children.empty()) return nullptr;
  auto* scan = static_cast<TableScanNode*>(node);
  if (!scan->handles.has_value() || scan->handles->size() != 1 || (*scan->handles)[0] != handle ||
      scan->limit.has_value() || scan->index_id != 0) {
    return nullptr;
  }
  return scan;
}

}  // namespace

// The fast path of a cached point get (SessionImpl::FastPointGet) when `top` is
// projections of plain columns over `scan`, which reads a stored table; null otherwise.
static std::shared_ptr<SessionImpl::FastPointGet> MakeFastPointGet(const PlanNode& top,
                                                                   const TableScanNode& scan) {
  if (scan.table == nullptr || scan.table->memory_rows != nullptr || scan.filter != nullptr ||
      scan.schema.size() != scan.table->columns.size() + 1) {
    return nullptr;
  }
  auto f = std::make_shared<SessionImpl::FastPointGet>();
  for (size_t i = 0; i < top.schema.size(); ++i) {
    if (top.schema[i].hidden) continue;
    size_t c = i;
    const PlanNode* n = &top;
    while (n != &scan) {
      if (n->kind != PlanKind::kProjection || n->children.size() != 1) return nullptr;
      const auto& exprs = static_cast<const ProjectionNode*>(n)->exprs;
      if (c >= exprs.size()) return nullptr;
      auto* ref = dynamic_cast<const expr::ColumnRef*>(exprs[c].get());
      if (ref == nullptr) return nullptr;
      c = ref->index();
      n = n->children[0].get();
    }
    if (c >= scan.schema.size()) return nullptr;
    f->out.emplace_back(c, top.schema[i].type);
    f->columns.push_back(MetaOf(top.schema[i]));
  }
  f->table = scan.table;
  f->decoder = std::make_unique<codec::RowDecoder>(ScanRowColumns(*scan.table));
  f->row = Chunk(SchemaTypes(scan.schema), 2);
  return f;
}

absl::StatusOr<ResultSet> SessionImpl::RunFastPointGet(FastPointGet* f, int64_t handle,
                                                       kv::KvTxn* t) {
  std::string key = codec::EncodeRowKey(f->table->id, handle);
  auto v = t->Get(key);
  if (!v.ok()) return v.status();
  ResultSet rs;
  rs.has_rows = true;
  rs.columns = f->columns;
  if (v->has_value()) {
    f->row.Reset();
    absl::Status s = f->decoder->DecodeToChunk(**v, handle, &f->row);
    if (!s.ok()) return s;
    Row row;
    row.reserve(f->out.size());
    for (const auto& [c, type] : f->out) {
      Datum d = f->row.column(c).GetDatum(0, type);
      if (d.IsNull()) {
        row.push_back(std::nullopt);
      } else {
        row.push_back(DatumText(d));
      }
    }
    rs.rows.push_back(std::move(row));
  }
  pending_warnings.clear();
  return rs;
}

absl::StatusOr<PlanPtr> SessionImpl::PlanQuery(const QueryStmt& q, const std::vector<Datum>* params,
                                               FastPointGet** fast) {
  // Prepared point selects keep their bound plan (TiDB's plan cache for point gets): a
  // later execution with a non-negative integer parameter only swaps the handle. The plan
  // is rebuilt when the schema version, the current database or sql_mode changed.
  // Prepared handle-range selects (`WHERE pk BETWEEN ? AND ?` with integer parameters,
  // low <= high) keep theirs the same way: a later execution only moves the range's bounds.
  int64_t handle = -1;
  if (params != nullptr && params->size() == 1 && (*params)[0].kind() == DatumKind::kInt64 &&
      PointSelectShape(q)) {
    handle = (*params)[0].GetInt64();
  }
  bool range = false;
  int64_t lo = 0, hi = 0;
  if (handle < 0 && params != nullptr && params->size() == 2 &&
      (*params)[0].kind() == DatumKind::kInt64 && (*params)[1].kind() == DatumKind::kInt64 &&
      (*params)[0].GetInt64() <= (*params)[1].GetInt64() && RangeSelectShape(q)) {
    range = true;
    lo = (*params)[0].GetInt64();
    hi = (*params)[1].GetInt64();
  }
  const int64_t version = db->catalog.schema_version();
  if (handle >= 0 || range) {
    auto it = plan_cache.find(&q);
    if (it != plan_cache.end() && it->second.range == range &&
        it->second.schema_version == version && it->second.db == current_db &&
        it->second.sql_mode == sql_mode_text) {
      if (range) {
        it->second.scan->lo = lo;
        it->second.scan->hi = hi;
      } else if (fast != nullptr && it->second.fast != nullptr) {
        *fast = it->second.fast.get();
      } else {
        it->second.scan->handles = std::vector<int64_t>{handle};
      }
      return it->second.plan;
    }
  }
  Binder binder(Options(params));
  auto plan = binder.BuildQuery(q);
  if (!plan.ok()) return plan.status();
  if (handle >= 0 || range) {
    TableScanNode* scan =
        range ? HandleRangeScan(plan->get(), lo, hi) : PointGetScan(plan->get(), handle);
    if (scan != nullptr) {
      // The kept `id = ?` (`id BETWEEN ? AND ?`) filter would pin the first parameters;
      // the point get (the handle range) implies it.
      scan->filter = nullptr;
      CachedPlan& c = plan_cache[&q];
      c = CachedPlan{version, current_db, sql_mode_text, *plan, scan, range, nullptr};
      if (!range) c.fast = MakeFastPointGet(**plan, *scan);
    } else {
      plan_cache.erase(&q);
    }
  }
  return plan;
}

absl::StatusOr<ResultSet> SessionImpl::Query(const QueryStmt& q, const std::vector<Datum>* params,
                                             kv::KvTxn* t) {
  FastPointGet* fast = nullptr;
  auto plan = PlanQuery(q, params, &fast);
  if (!plan.ok()) return plan.status();
  if (fast != nullptr) return RunFastPointGet(fast, (*params)[0].GetInt64(), t);
  ExecContext ctx;
  InitContext(&ctx, t);
  auto exec = BuildExecutor(**plan, &ctx);
  if (!exec.ok()) return exec.status();
  ResultSet rs;
  rs.has_rows = true;
  std::vector<size_t> cols;
  for (size_t i = 0; i < (*plan)->schema.size(); ++i) {
    if ((*plan)->schema[i].hidden) continue;
    cols.push_back(i);
    rs.columns.push_back(MetaOf((*plan)->schema[i]));
  }
  while (true) {
    Chunk c;
    absl::Status s = (*exec)->Next(&c);
    if (!s.ok()) return s;
    if (c.NumRows() == 0) break;
    for (size_t r = 0; r < c.NumRows(); ++r) {
      Row row;
      for (size_t i : cols) {
        Datum d = c.GetDatum(r, i);
        if (d.IsNull()) {
          row.push_back(std::nullopt);
        } else {
          row.push_back(DatumText(d));
        }
      }
      rs.rows.push_back(std::move(row));
    }
  }
  rs.warnings = static_cast<uint32_t>(ctx.warning_count());
  pending_warnings = ctx.warnings();
  return rs;
}

absl::StatusOr<ResultSet> SessionImpl::Explain(const ExplainStmt& e,
                                               const std::vector<Datum>* params) {
  auto* q = dynamic_cast<const QueryStmt*>(e.stmt.get());
  if (q == nullptr) return Err(kErNotSupported, "EXPLAIN supports queries only");
  Binder binder(Options(params));
  auto plan = binder.BuildQuery(*q);
  if (!plan.ok()) return plan.status();
  std::map<const PlanNode*, OperatorRuntime> runtime;
  if (e.analyze) {
    // Runs the query to the end, every operator instrumented, and discards its rows.
    std::unique_ptr<kv::KvTxn> own;
    kv::KvTxn* t = txn.get();
    if (t == nullptr) {
      auto b = db->store->Begin();
      if (!b.ok()) return b.status();
      own = *std::move(b);
      t = own.get();
    }
    ExecContext ctx;
    InitContext(&ctx, t);
    ctx.runtime = &runtime;
    auto exec = BuildExecutor(**plan, &ctx);
    if (!exec.ok()) return exec.status();
    while (true) {
      Chunk c;
      absl::Status s = (*exec)->Next(&c);
      if (!s.ok()) return s;
      if (c.NumRows() == 0) break;
    }
    if (own) own->Rollback();
  }
  ResultSet rs;
  rs.has_rows = true;
  for (const std::string& n : ExplainColumns(e.analyze)) {
    OutputColumn oc;
    oc.name = n;
    oc.type = FieldType::Varchar(-1);
    rs.columns.push_back(MetaOf(oc));
  }
  // Which scans merge this transaction's own writes (UnionScan) is read before an
  // EXPLAIN ANALYZE's own transaction is gone; a statement outside one has none.
  ExecContext uctx;
  InitContext(&uctx, txn.get());
  auto union_scan = [&](const TableScanNode& s) {
    return uctx.txn != nullptr && UnionScanApplies(s, &uctx);
  };
  for (auto& row : ExplainRows(plan->get(), &db->stats, e.analyze ? &runtime : nullptr,
                               allow_coprocessor, union_scan)) {
    Row r;
    for (auto& v : row) r.push_back(std::move(v));
    rs.rows.push_back(std::move(r));
  }
  return rs;
}

// ANALYZE TABLE: collects each table's statistics in one snapshot, persists them and
// publishes them to the Database's statistics cache (planner/analyze.h).
absl::StatusOr<ResultSet> SessionImpl::Analyze(const AnalyzeTableStmt& s) {
  std::vector<Row> rows;
  for (const auto& tn : s.tables) {
    auto d = DbOf(*tn);
    if (!d.ok()) return d.status();
    auto t = db->catalog.GetTable(*d, tn->name);
    if (!t.ok()) return t.status();
    if ((*t)->is_view || (*t)->memory_rows) {
      return Err(1347, absl::StrCat("'", *d, ".", tn->name, "' is not BASE TABLE"));
    }
    absl::Status st = AnalyzeOne(*t);
    if (!st.ok()) return st;
    rows.push_back({absl::StrCat(*d, ".", tn->name), std::string("analyze"), std::string("status"),
                    std::string("OK")});
  }
  ResultSet rs;
  rs.has_rows = true;
  for (const char* n : {"Table", "Op", "Msg_type", "Msg_text"}) {
    OutputColumn oc;
    oc.name = n;
    oc.type = FieldType::Varchar(-1);
    rs.columns.push_back(MetaOf(oc));
  }
  rs.rows = std::move(rows);
  return rs;
}

absl::Status SessionImpl::AnalyzeOne(const TablePtr& t) {
  RUTILE_FAIL_POINT_RETURN("sql_analyze_table_error", [](const std::string& v) {
    return absl::UnavailableError(absl::StrCat("injected: ", v));
  });
  auto b = db->store->Begin();
  if (!b.ok()) return b.status();
  ExecContext ctx;
  InitContext(&ctx, b->get());
  auto stats = CollectTableStats(t, &ctx);
  if (!stats.ok()) {
    (*b)->Rollback();
    return stats.status();
  }
  PersistTableStats(b->get(), *stats);
  absl::Status st = (*b)->Commit();
  if (!st.ok()) return st;
  db->stats.Put(std::make_shared<const TableStats>(*std::move(stats)));
  return absl::OkStatus();
}

// ---- INSERT / REPLACE ----

absl::StatusOr<ResultSet> SessionImpl::Insert(const InsertStmt& s, const std::vector<Datum>* params,
                                              kv::KvTxn* t) {
  const int64_t version = db->catalog.schema_version();
  const CachedInsert* cached = nullptr;
  if (params != nullptr) {
    auto it = insert_cache.find(&s);
    if (it != insert_cache.end() && it->second.schema_version == version &&
        it->second.db == current_db && it->second.sql_mode == sql_mode_text) {
      cached = &it->second;
    }
  }
  TablePtr table_ptr;
  if (cached != nullptr) {
    table_ptr = cached->table;
  } else {
    auto db_name = DbOf(*s.table);
    if (!db_name.ok()) return db_name.status();
    auto table = db->catalog.GetTable(*db_name, s.table->name);
    if (!table.ok()) return table.status();
    table_ptr = *std::move(table);
  }
  const TableInfo& ti = *table_ptr;
  NoteWrite(ti);
  if (ti.is_view) {
    return Err(1471,
               absl::StrCat("The target table ", ti.name, " of the INSERT is not insertable-into"));
  }
  ExecContext ctx;
  InitContext(&ctx, t);
  ctx.strict_writes = sql_mode.Strict();
  const size_t ncols = ti.columns.size();
  // Target columns.
  std::vector<int> targets;
  std::vector<std::string> names;
  if (cached == nullptr) names = s.columns;
  if (cached == nullptr && !s.set.empty()) {
    names.clear();
    for (const Assignment& a : s.set) names.push_back(a.column->column);
  }
  if (cached != nullptr) {
    targets = cached->targets;
  } else if (names.empty()) {
    for (size_t i = 0; i < ncols; ++i) targets.push_back(static_cast<int>(i));
  } else {
    std::set<int> seen;
    for (const std::string& n : names) {
      int idx = ti.FindColumn(n);
      if (idx < 0)
        return Err(kErBadField, absl::StrCat("Unknown column '", n, "' in 'field list'"));
      if (!seen.insert(idx).second) {
        return Err(1110, absl::StrCat("Column '", n, "' specified twice"));
      }
      targets.push_back(idx);
    }
  }
  // Source rows as (value, type) per target.
  struct Src {
    std::vector<Datum> vals;
    std::vector<FieldType> types;
    std::vector<bool> is_default;
  };
  std::vector<Src> src;
  // What a prepared INSERT's binding found, for insert_cache (cleared when a value is
  // neither a parameter, a literal nor DEFAULT).
  std::optional<CachedInsert> to_cache;
  if (cached == nullptr && params != nullptr && !s.select) to_cache.emplace();
  std::optional<Binder> binder;  // Made when a value needs it.
  Schema empty;
  auto bind_row = [&](const std::vector<const Expr*>& exprs) -> absl::Status {
    if (exprs.size() != targets.size()) {
      return Err(1136,
                 absl::StrCat("Column count doesn't match value count at row ", src.size() + 1));
    }
    Src r;
    std::vector<InsertValue> sources;
    for (const Expr* e : exprs) {
      InsertValue source;
      if (dynamic_cast<const DefaultExpr*>(e) != nullptr) {
        r.vals.push_back(Datum::Null());
        r.types.push_back(FieldType::Null());
        r.is_default.push_back(true);
        sources.push_back(source);
        continue;
      }
      if (!binder.has_value()) binder.emplace(Options(params));
      auto x = binder->BindOver(*e, empty);
      if (!x.ok()) return x.status();
      auto v = Binder::EvalConstant(&ctx, **x);
      if (!v.ok()) return v.status();
      if (auto* p = dynamic_cast<const ParamExpr*>(e)) {
        source.kind = InsertValue::Kind::kParam;
        source.param = p->index;
      } else if (dynamic_cast<const LiteralExpr*>(e) != nullptr) {
        source.kind = InsertValue::Kind::kConstant;
        source.value = *v;
        source.type = (*x)->type();
      } else {
        to_cache.reset();
      }
      sources.push_back(std::move(source));
      r.vals.push_back(*std::move(v));
      r.types.push_back((*x)->type());
      r.is_default.push_back(false);
    }
    if (to_cache.has_value()) to_cache->rows.push_back(std::move(sources));
    src.push_back(std::move(r));
    return absl::OkStatus();
  };
  if (cached != nullptr) {
    // The cached binding with this execution's parameters (as Binder::ParamConstant binds
    // them).
    for (const std::vector<InsertValue>& row : cached->rows) {
      Src r;
      for (const InsertValue& v : row) {
        switch (v.kind) {
          case InsertValue::Kind::kDefault:
            r.vals.push_back(Datum::Null());
            r.types.push_back(FieldType::Null());
            r.is_default.push_back(true);
            continue;
          case InsertValue::Kind::kConstant:
            r.vals.push_back(v.value);
            r.types.push_back(v.type);
            break;
          case InsertValue::Kind::kParam: {
            if (v.param < 0 || static_cast<size_t>(v.param) >= params->size()) {
              return Err(1210, "Incorrect arguments to EXECUTE");
            }
            auto x = Binder::ParamConstant((*params)[v.param]);
            if (!x.ok()) return x.status();
            r.vals.push_back(static_cast<const expr::Constant&>(**x).value());
            r.types.push_back((*x)->type());
            break;
          }
        }
        r.is_default.push_back(false);
      }
      src.push_back(std::move(r));
    }
  } else if (s.select) {
    Binder binder(Options(params));
    auto plan = binder.BuildQuery(*s.select);
    if (!plan.ok()) return plan.status();
    size_t visible = 0;
    for (const auto& c : (*plan)->schema) visible += c.hidden ? 0 : 1;
    if (visible != targets.size())
      return Err(1136, "Column count doesn't match value count at row 1");
    auto rows = RunPlanRows(**plan, &ctx);
    if (!rows.ok()) return rows.status();
    for (auto& row : *rows) {
      Src r;
      for (size_t i = 0; i < targets.size(); ++i) {
        r.vals.push_back(row[i]);
        r.types.push_back((*plan)->schema[i].type);
        r.is_default.push_back(false);
      }
      src.push_back(std::move(r));
    }
  } else if (!s.set.empty()) {
    std::vector<const Expr*> exprs;
    for (const Assignment& a : s.set) exprs.push_back(a.value.get());
    absl::Status st = bind_row(exprs);
    if (!st.ok()) return st;
  } else {
    for (const auto& row : s.rows) {
      std::vector<const Expr*> exprs;
      for (const auto& e : row) exprs.push_back(e.get());
      if (exprs.empty() && !targets.empty() && names.empty()) {
        // INSERT INTO t VALUES (): every column takes its default.
        Src r;
        r.vals.assign(targets.size(), Datum::Null());
        r.types.assign(targets.size(), FieldType::Null());
        r.is_default.assign(targets.size(), true);
        src.push_back(std::move(r));
        if (to_cache.has_value()) to_cache->rows.emplace_back(targets.size());
        continue;
      }
      absl::Status st = bind_row(exprs);
      if (!st.ok()) return st;
    }
  }
  if (to_cache.has_value()) {
    to_cache->schema_version = version;
    to_cache->db = current_db;
    to_cache->sql_mode = sql_mode_text;
    to_cache->table = table_ptr;
    to_cache->targets = targets;
    insert_cache[&s] = *std::move(to_cache);
  }
  ResultSet rs;
  const int auto_col = ti.AutoIncrementColumn();
  uint64_t first_auto = 0;
  // A plain INSERT of an autocommit statement into a table without triggers leaves its
  // duplicate checks to the commit (defer_insert_checks); IGNORE, REPLACE and ON
  // DUPLICATE KEY UPDATE act on the conflicting row, so they read it now.
  const bool defer = defer_insert_checks && t->DefersExistenceCheck() && !s.replace && !s.ignore &&
                     s.on_duplicate.empty() && ti.triggers.empty() && ti.memory_rows == nullptr;
  if (defer) deferred_tables.emplace(ti.id, ti.name);
  for (const Src& r : src) {
    std::vector<Datum> row(ncols);
    std::vector<bool> given(ncols, false);
    for (size_t i = 0; i < targets.size(); ++i) {
      const int c = targets[i];
      if (r.is_default[i]) continue;
      given[c] = true;
      const ColumnInfo& col = ti.columns[c];
      if (r.vals[i].IsNull() && c == auto_col) {
        given[c] = false;
        continue;
      }
      auto v = StoreValue(&ctx, col, r.vals[i], r.types[i]);
      if (!v.ok()) return v.status();
      row[c] = *std::move(v);
    }
    for (size_t c = 0; c < ncols; ++c) {
      if (given[c]) continue;
      const ColumnInfo& col = ti.columns[c];
      if (static_cast<int>(c) == auto_col) continue;
      if (col.has_default) {
        row[c] = col.default_value;
      } else if (col.type.NotNull()) {
        return Err(1364, absl::StrCat("Field '", col.name, "' doesn't have a default value"));
      }
    }
    if (auto_col >= 0) {
      Datum& v = row[auto_col];
      bool zero = false;
      if (!v.IsNull()) {
        if (v.kind() == DatumKind::kInt64) zero = v.GetInt64() == 0;
        if (v.kind() == DatumKind::kUint64) zero = v.GetUint64() == 0;
      }
      if (v.IsNull() || zero) {
        auto next = ti.next_id->Next();
        if (!next.ok()) return next.status();
        int64_t id = *next;
        auto cv = CastDatum(&ctx, Datum::Int(id), FieldType::LongLong(), ti.columns[auto_col].type);
        if (!cv.ok()) return cv.status();
        v = *cv;
        if (first_auto == 0) first_auto = static_cast<uint64_t>(id);
      } else {
        int64_t given_id =
            v.kind() == DatumKind::kUint64 ? static_cast<int64_t>(v.GetUint64()) : v.GetInt64();
        absl::Status rebased = ti.next_id->Rebase(given_id);
        if (!rebased.ok()) return rebased;
      }
    }
    int64_t handle = 0;
    if (ti.handle_col >= 0) {
      const Datum& h = row[ti.handle_col];
      handle = h.kind() == DatumKind::kUint64 ? static_cast<int64_t>(h.GetUint64()) : h.GetInt64();
    } else {
      auto next = ti.next_id->Next();
      if (!next.ok()) return next.status();
      handle = *next;
    }
    if (defer) {
      std::optional<std::string> key = DeferredConflict(t, ti, row, handle);
      if (key.has_value()) return DupError(ti, ConflictText(ti, row, handle, *key), *key);
      absl::Status st = WriteRow(t, ti, row, handle, nullptr, &deferred_checks);
      if (!st.ok()) return st;
      rs.affected_rows += 1;
      continue;
    }
    auto conflict = FindConflict(t, ti, row, handle, std::nullopt);
    if (!conflict.ok()) return conflict.status();
    if (conflict->has_value()) {
      auto [other, key] = **conflict;
      if (s.replace) {
        // Remove every row in the way, then insert.
        while (conflict->has_value()) {
          int64_t victim = (*conflict)->first;
          auto old = ReadRow(t, ti, victim);
          if (!old.ok()) return old.status();
          if (!old->has_value()) break;
          absl::Status st = RemoveRow(t, ti, **old, victim);
          if (!st.ok()) return st;
          rs.affected_rows += 1;
          conflict = FindConflict(t, ti, row, handle, std::nullopt);
          if (!conflict.ok()) return conflict.status();
        }
      } else if (!s.on_duplicate.empty()) {
        auto old = ReadRow(t, ti, other);
        if (!old.ok()) return old.status();
        if (!old->has_value()) return absl::InternalError("conflicting row vanished");
        std::vector<Datum> cur = **old;
        // Evaluate assignments left to right over the current row.
        Schema schema;
        for (const ColumnInfo& c : ti.columns)
          schema.push_back({c.name, ti.name, ti.db, c.type, false});
        BindOptions o = Options(params);
        const std::vector<Datum> inserted = row;
        o.values_func = [&](const std::string& col) -> absl::StatusOr<expr::ExprPtr> {
          int idx = ti.FindColumn(col);
          if (idx < 0)
            return Err(kErBadField, absl::StrCat("Unknown column '", col, "' in 'field list'"));
          return expr::NewConstant(inserted[idx], ti.columns[idx].type);
        };
        Binder ub(o);
        for (const Assignment& a : s.on_duplicate) {
          int idx = ti.FindColumn(a.column->column);
          if (idx < 0)
            return Err(kErBadField,
                       absl::StrCat("Unknown column '", a.column->column, "' in 'field list'"));
          auto x = ub.BindOver(*a.value, schema);
          if (!x.ok()) return x.status();
          Chunk one(SchemaTypes(schema));
          one.AppendRow(cur);
          auto v = (*x)->Eval(&ctx, one, 0);
          if (!v.ok()) return v.status();
          auto sv = StoreValue(&ctx, ti.columns[idx], *v, (*x)->type());
          if (!sv.ok()) return sv.status();
          cur[idx] = *std::move(sv);
        }
        bool changed = false;
        for (size_t c = 0; c < ncols; ++c) changed = changed || !cur[c].IdenticalTo((**old)[c]);
        if (!changed) continue;
        int64_t new_handle = other;
        if (ti.handle_col >= 0) {
          const Datum& h = cur[ti.handle_col];
          new_handle =
              h.kind() == DatumKind::kUint64 ? static_cast<int64_t>(h.GetUint64()) : h.GetInt64();
        }
        auto c2 = FindConflict(t, ti, cur, new_handle, other);
        if (!c2.ok()) return c2.status();
        if (c2->has_value()) {
          return DupError(ti, ConflictText(ti, cur, new_handle, (*c2)->second), (*c2)->second);
        }
        auto carried = CarriedValues(t, ti, other);
        if (!carried.ok()) return carried.status();
        absl::Status st = RemoveRow(t, ti, **old, other);
        if (!st.ok()) return st;
        st = WriteRow(t, ti, cur, new_handle, &*carried);
        if (!st.ok()) return st;
        rs.affected_rows += 2;
        continue;
      } else if (s.ignore) {
        continue;
      } else {
        return DupError(ti, ConflictText(ti, row, handle, key), key);
      }
    }
    absl::Status st = FireTriggers(ti, "INSERT", true, t);
    if (!st.ok()) return st;
    st = WriteRow(t, ti, row, handle);
    if (!st.ok()) return st;
    st = FireTriggers(ti, "INSERT", false, t);
    if (!st.ok()) return st;
    rs.affected_rows += 1;
  }
  if (first_auto != 0) {
    last_insert_id = first_auto;
    rs.last_insert_id = first_auto;
  }
  rs.warnings = static_cast<uint32_t>(ctx.warning_count());
  pending_warnings = ctx.warnings();
  return rs;
}

absl::Status SessionImpl::DeferredDupError(const absl::Status& s) {
  std::optional<std::string> key = kv::ExistingKeyOf(s);
  if (!key.has_value()) return s;
  RUTILE_FAIL_POINT("sql_before_deferred_dup_error");
  auto it = deferred_checks.find(*key);
  if (it != deferred_checks.end()) {
    return DupError(it->second.table, it->second.entry, it->second.key);
  }
  // Not a unique index entry: a row key, named by its table as the statement knew it (not
  // by the catalog, which may have lost a table dropped meanwhile).
  int64_t table_id = 0;
  int64_t handle = 0;
  const bool row_key = codec::DecodeRowKey(*key, &table_id, &handle).ok();
  if (!row_key) table_id = codec::DecodeTableId(*key).value_or(0);
  auto table = deferred_tables.find(table_id);
  if (table == deferred_tables.end()) {
    // A key no INSERT of the statement wrote (not expected): still a MySQL error.
    return MakeMySqlStatus(absl::StatusCode::kAlreadyExists,
                           {1022, "23000", "Can't write; duplicate key in table"});
  }
  if (!row_key) {
    return MakeMySqlStatus(
        absl::StatusCode::kAlreadyExists,
        {1022, "23000", absl::StrCat("Can't write; duplicate key in table '", table->second, "'")});
  }
  return DupError(table->second, absl::StrCat(handle), "PRIMARY");
}

// ---- UPDATE / DELETE ----

namespace {

struct TargetRows {
  TablePtr table;
  Schema schema;  // columns then handle
  std::vector<std::vector<Datum>> rows;
};

}  // namespace

static absl::StatusOr<TargetRows> ReadTargets(SessionImpl* self, const TableName& tn,
                                              const Expr* where,
                                              const std::vector<OrderItem>& order,
                                              const std::optional<Limit>& limit,
                                              const std::vector<Datum>* params, ExecContext* ctx) {
  auto db_name = self->DbOf(tn);
  if (!db_name.ok()) return db_name.status();
  auto table = self->db->catalog.GetTable(*db_name, tn.name);
  if (!table.ok()) return table.status();
  self->NoteWrite(**table);
  if ((*table)->is_view) {
    return Err(
        1288, absl::StrCat("The target table ", (*table)->name, " of the UPDATE is not updatable"));
  }
  Binder binder(self->Options(params));
  auto plan = binder.BuildTableRead(*table, tn.alias.empty() ? (*table)->name : tn.alias, where);
  if (!plan.ok()) return plan.status();
  PlanPtr p = *plan;
  if (!order.empty()) {
    auto sort = std::make_shared<SortNode>();
    sort->children.push_back(p);
    sort->schema = p->schema;
    for (const OrderItem& o : order) {
      auto x = binder.BindOver(*o.expr, p->schema);
      if (!x.ok()) return x.status();
      sort->items.push_back({*std::move(x), o.desc});
    }
    p = sort;
  }
  if (limit.has_value()) {
    Schema none;
    auto x = binder.BindOver(*limit->count, none);
    if (!x.ok()) return x.status();
    auto v = Binder::EvalConstant(ctx, **x);
    if (!v.ok()) return v.status();
    auto lim = std::make_shared<LimitNode>();
    lim->children.push_back(p);
    lim->schema = p->schema;
    lim->count = v->kind() == DatumKind::kInt64
                     ? static_cast<uint64_t>(std::max<int64_t>(0, v->GetInt64()))
                     : v->GetUint64();
    p = lim;
  }
  TargetRows out;
  out.table = *table;
  out.schema = p->schema;
  auto rows = RunPlanRows(*p, ctx);
  if (!rows.ok()) return rows.status();
  out.rows = *std::move(rows);
  return out;
}

absl::StatusOr<ResultSet> SessionImpl::Update(const UpdateStmt& s, const std::vector<Datum>* params,
                                              kv::KvTxn* t) {
  auto* tn = dynamic_cast<const TableName*>(s.table.get());
  if (tn == nullptr) return Err(kErNotSupported, "multi-table UPDATE is not supported yet");
  ExecContext ctx;
  InitContext(&ctx, t);
  auto target = ReadTargets(this, *tn, s.where.get(), s.order_by, s.limit, params, &ctx);
  if (!target.ok()) return target.status();
  const TableInfo& ti = *target->table;
  ctx.strict_writes = sql_mode.Strict();
  Binder binder(Options(params));
  std::vector<std::pair<int, expr::ExprPtr>> sets;
  for (const Assignment& a : s.set) {
    int idx = ti.FindColumn(a.column->column);
    if (idx < 0) {
      return Err(kErBadField,
                 absl::StrCat("Unknown column '", a.column->column, "' in 'field list'"));
    }
    if (dynamic_cast<const DefaultExpr*>(a.value.get()) != nullptr) {
      sets.push_back({idx, expr::NewConstant(ti.columns[idx].default_value, ti.columns[idx].type)});
      continue;
    }
    auto x = binder.BindOver(*a.value, target->schema);
    if (!x.ok()) return x.status();
    sets.push_back({idx, *std::move(x)});
  }
  ResultSet rs;
  const std::vector<FieldType> types = SchemaTypes(target->schema);
  const size_t ncols = ti.columns.size();
  for (const auto& old : target->rows) {
    std::vector<Datum> cur = old;
    for (auto& [idx, x] : sets) {
      Chunk one(types);
      if (!one.AppendRow(cur)) return absl::InternalError("update row kind mismatch");
      auto v = x->Eval(&ctx, one, 0);
      if (!v.ok()) return v.status();
      auto sv = StoreValue(&ctx, ti.columns[idx], *v, x->type());
      if (!sv.ok()) return sv.status();
      cur[idx] = *std::move(sv);
    }
    bool changed = false;
    for (size_t c = 0; c < ncols; ++c) changed = changed || !cur[c].IdenticalTo(old[c]);
    if (!changed) continue;
    const int64_t old_handle = old[ncols].GetInt64();
    int64_t new_handle = old_handle;
    if (ti.handle_col >= 0) {
      const Datum& h = cur[ti.handle_col];
      new_handle =
          h.kind() == DatumKind::kUint64 ? static_cast<int64_t>(h.GetUint64()) : h.GetInt64();
    }
    std::vector<Datum> old_cols(old.begin(), old.begin() + ncols);
    std::vector<Datum> new_cols(cur.begin(), cur.begin() + ncols);
    absl::Status st = FireTriggers(ti, "UPDATE", true, t);
    if (!st.ok()) return st;
    auto carried = CarriedValues(t, ti, old_handle);
    if (!carried.ok()) return carried.status();
    st = RemoveRow(t, ti, old_cols, old_handle);
    if (!st.ok()) return st;
    auto c2 = FindConflict(t, ti, new_cols, new_handle, std::nullopt);
    if (!c2.ok()) return c2.status();
    if (c2->has_value()) {
      return DupError(ti, ConflictText(ti, new_cols, new_handle, (*c2)->second), (*c2)->second);
    }
    st = WriteRow(t, ti, new_cols, new_handle, &*carried);
    if (!st.ok()) return st;
    st = FireTriggers(ti, "UPDATE", false, t);
    if (!st.ok()) return st;
    rs.affected_rows += 1;
  }
  rs.warnings = static_cast<uint32_t>(ctx.warning_count());
  pending_warnings = ctx.warnings();
  return rs;
}

absl::StatusOr<ResultSet> SessionImpl::Delete(const DeleteStmt& s, const std::vector<Datum>* params,
                                              kv::KvTxn* t) {
  ExecContext ctx;
  InitContext(&ctx, t);
  auto target = ReadTargets(this, *s.table, s.where.get(), s.order_by, s.limit, params, &ctx);
  if (!target.ok()) return target.status();
  const TableInfo& ti = *target->table;
  const size_t ncols = ti.columns.size();
  ResultSet rs;
  for (const auto& row : target->rows) {
    std::vector<Datum> cols(row.begin(), row.begin() + ncols);
    absl::Status st = FireTriggers(ti, "DELETE", true, t);
    if (!st.ok()) return st;
    st = RemoveRow(t, ti, cols, row[ncols].GetInt64());
    if (!st.ok()) return st;
    st = FireTriggers(ti, "DELETE", false, t);
    if (!st.ok()) return st;
    rs.affected_rows += 1;
  }
  return rs;
}

// ---- DDL ----

absl::Status SessionImpl::FireTriggers(const TableInfo& t, const char* event, bool before,
                                       kv::KvTxn* txn) {
  for (const TriggerInfo& tr : t.triggers) {
    if (tr.before != before || tr.event != event) continue;
    if (trigger_depth >= 16) return Err(1442, "Can't update table in stored function/trigger");
    for (const std::string& sql : tr.body) {
      auto stmt = ParseOne(sql);
      if (!stmt.ok()) return stmt.status();
      ++trigger_depth;
      auto r = Dispatch(**stmt, nullptr, txn);
      --trigger_depth;
      if (!r.ok()) return r.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ResultSet> SessionImpl::Ddl(const Stmt& stmt) {
  if (auto* s = dynamic_cast<const CreateDatabaseStmt*>(&stmt)) {
    absl::Status st = db->catalog.CreateDatabase(s->name, s->if_not_exists);
    if (!st.ok()) return st;
    ResultSet rs;
    rs.affected_rows = 1;
    return rs;
  }
  if (auto* s = dynamic_cast<const DropDatabaseStmt*>(&stmt)) {
    std::vector<TablePtr> dropped;
    // The DDL owner deletes the tables' keys (delete-range records of the job).
    absl::Status st = db->catalog.DropDatabase(s->name, s->if_exists, &dropped);
    if (!st.ok()) return st;
    if (absl::EqualsIgnoreCase(current_db, s->name)) current_db.clear();
    ResultSet rs;
    rs.affected_rows = dropped.size();
    return rs;
  }
  if (auto* s = dynamic_cast<const CreateTableStmt*>(&stmt)) return CreateTable(*s);
  if (auto* s = dynamic_cast<const DropTableStmt*>(&stmt)) return DropTable(*s);
  if (auto* s = dynamic_cast<const CreateIndexStmt*>(&stmt)) {
    auto d = DbOf(*s->table);
    if (!d.ok()) return d.status();
    auto t = db->catalog.GetTable(*d, s->table->name);
    if (!t.ok()) return t.status();
    if (s->kind == ConstraintKind::kFulltext)
      return Err(kErNotSupported, "FULLTEXT indexes are not supported");
    return CreateIndex(*t, s->name, s->parts, s->kind == ConstraintKind::kUnique, false,
                       s->if_not_exists);
  }
  if (auto* s = dynamic_cast<const DropIndexStmt*>(&stmt)) {
    if (!s->table)
      return Err(1064, "You have an error in your SQL syntax: DROP INDEX needs ON table");
    auto d = DbOf(*s->table);
    if (!d.ok()) return d.status();
    auto t = db->catalog.GetTable(*d, s->table->name);
    if (!t.ok()) return t.status();
    return DropIndex(*t, s->name, s->if_exists);
  }
  if (auto* s = dynamic_cast<const AlterTableStmt*>(&stmt)) return Alter(*s);
  if (auto* s = dynamic_cast<const TruncateStmt*>(&stmt)) {
    auto d = DbOf(*s->table);
    if (!d.ok()) return d.status();
    auto t = db->catalog.GetTable(*d, s->table->name);
    if (!t.ok()) return t.status();
    if ((*t)->is_view)
      return Err(kErNoSuchTable,
                 absl::StrCat("Table '", *d, ".", s->table->name, "' doesn't exist"));
    // A DDL job: the table under a new id, the old id's keys deleted (catalog.h).
    absl::Status st = db->catalog.TruncateTable(*t);
    if (!st.ok()) return st;
    return ResultSet();
  }
  if (auto* s = dynamic_cast<const CreateViewStmt*>(&stmt)) {
    auto d = DbOf(*s->name);
    if (!d.ok()) return d.status();
    Binder binder(Options(nullptr));
    auto plan = binder.BuildQuery(*s->select);
    if (!plan.ok()) return plan.status();
    size_t visible = 0;
    for (const auto& c : (*plan)->schema) visible += c.hidden ? 0 : 1;
    if (!s->columns.empty() && s->columns.size() != visible) {
      return Err(1353,
                 "In definition of view, derived table or common table expression, SELECT list and "
                 "column names list have different column counts");
    }
    std::vector<std::string> names = s->columns;
    if (names.empty()) {
      for (const auto& c : (*plan)->schema) {
        if (!c.hidden) names.push_back(c.name);
      }
    }
    std::set<std::string> seen;
    for (const std::string& n : names) {
      if (!seen.insert(LowerName(n)).second) {
        return Err(kErDupFieldName, absl::StrCat("Duplicate column name '", n, "'"));
      }
    }
    auto info = std::make_shared<TableInfo>();
    info->db = *d;
    info->name = s->name->name;
    info->is_view = true;
    info->view_sql = RestoreSql(*s->select);
    info->view_columns = s->columns;
    for (size_t i = 0; i < (*plan)->schema.size(); ++i) {
      if ((*plan)->schema[i].hidden) continue;
      ColumnInfo c;
      c.name = i < names.size() ? names[i] : (*plan)->schema[i].name;
      c.type = (*plan)->schema[i].type;
      info->columns.push_back(c);
    }
    TablePtr existing = db->catalog.FindTable(*d, info->name);
    if (existing != nullptr) {
      if (!s->or_replace || !existing->is_view) {
        return MakeMySqlStatus(
            absl::StatusCode::kAlreadyExists,
            {kErTableExists, "42S01", absl::StrCat("Table '", info->name, "' already exists")});
      }
      info->id = existing->id;
      absl::Status st = db->catalog.ReplaceTable(info);
      if (!st.ok()) return st;
      return ResultSet();
    }
    absl::Status st = db->catalog.AddTable(info);
    if (!st.ok()) return st;
    return ResultSet();
  }
  if (auto* a = dynamic_cast<const AnalyzeTableStmt*>(&stmt)) return Analyze(*a);
  if (auto* s = dynamic_cast<const CreateTriggerStmt*>(&stmt)) {
    auto d = DbOf(*s->table);
    if (!d.ok()) return d.status();
    auto t = db->catalog.GetTable(*d, s->table->name);
    if (!t.ok()) return t.status();
    if ((*t)->is_view)
      return Err(1347, absl::StrCat("'", *d, ".", s->table->name, "' is not BASE TABLE"));
    for (const TablePtr& other : db->catalog.Tables(*d)) {
      for (const TriggerInfo& tr : other->triggers) {
        if (absl::EqualsIgnoreCase(tr.name, s->name->name))
          return Err(1359, "Trigger already exists");
      }
    }
    TriggerInfo tr;
    tr.name = s->name->name;
    tr.before = s->before;
    tr.event = absl::AsciiStrToUpper(s->event);
    for (const StmtPtr& b : s->body) tr.body.push_back(RestoreSql(*b));
    auto info = std::make_shared<TableInfo>(**t);
    info->triggers.push_back(tr);
    absl::Status st = db->catalog.ReplaceTable(info);
    if (!st.ok()) return st;
    return ResultSet();
  }
  if (auto* s = dynamic_cast<const DropTriggerStmt*>(&stmt)) {
    auto d = DbOf(*s->name);
    if (!d.ok()) return d.status();
    for (const TablePtr& t : db->catalog.Tables(*d)) {
      for (size_t i = 0; i < t->triggers.size(); ++i) {
        if (!absl::EqualsIgnoreCase(t->triggers[i].name, s->name->name)) continue;
        auto info = std::make_shared<TableInfo>(*t);
        info->triggers.erase(info->triggers.begin() + i);
        absl::Status st = db->catalog.ReplaceTable(info);
        if (!st.ok()) return st;
        return ResultSet();
      }
    }
    if (s->if_exists) return ResultSet();
    return Err(1360, "Trigger does not exist");
  }
  return Err(kErNotSupported,
             absl::StrCat("This statement is not supported yet: ", RestoreSql(stmt)));
}

absl::StatusOr<ResultSet> SessionImpl::CreateTable(const CreateTableStmt& s) {
  auto d = DbOf(*s.table);
  if (!d.ok()) return d.status();
  if (!db->catalog.HasDatabase(*d))
    return Err(kErBadDb, absl::StrCat("Unknown database '", *d, "'"));
  if (db->catalog.FindTable(*d, s.table->name) != nullptr) {
    if (s.if_not_exists) return ResultSet();
    return MakeMySqlStatus(
        absl::StatusCode::kAlreadyExists,
        {kErTableExists, "42S01", absl::StrCat("Table '", s.table->name, "' already exists")});
  }
  auto info = std::make_shared<TableInfo>();
  info->db = *d;
  info->name = s.table->name;
  if (s.like) {
    auto ld = DbOf(*s.like);
    if (!ld.ok()) return ld.status();
    auto src = db->catalog.GetTable(*ld, s.like->name);
    if (!src.ok()) return src.status();
    info->columns = (*src)->columns;
    for (const IndexInfo& i : (*src)->indexes) {
      if (i.Public()) info->indexes.push_back(i);
    }
    info->handle_col = (*src)->handle_col;
    absl::Status st = db->catalog.AddTable(info);
    if (!st.ok() && s.if_not_exists && MySqlErrorOf(st).code == kErTableExists) {
      return ResultSet();
    }
    if (!st.ok()) return st;
    return ResultSet();
  }
  if (s.select) return Err(kErNotSupported, "CREATE TABLE ... SELECT is not supported yet");
  std::vector<std::string> pk_cols;
  struct PendingIndex {
    std::string name;
    std::vector<std::string> cols;
    bool unique;
    bool primary;
  };
  std::vector<PendingIndex> pending;
  Binder binder(Options(nullptr));
  ExecContext ctx;
  ctx.strict_writes = true;
  ctx.sql_mode = sql_mode;
  int64_t next_col_id = 1;
  for (const ColumnDef& cd : s.columns) {
    if (info->FindColumn(cd.name) >= 0) {
      return Err(kErDupFieldName, absl::StrCat("Duplicate column name '", cd.name, "'"));
    }
    auto ft = ToFieldType(cd.type);
    if (!ft.ok()) return ft.status();
    ColumnInfo c;
    c.id = next_col_id++;
    c.name = cd.name;
    c.type = *ft;
    const Expr* default_expr = nullptr;
    for (const ColumnOption& o : cd.options) {
      switch (o.kind) {
        case ColumnOptionKind::kNotNull:
          c.type.flag |= kNotNullFlag;
          break;
        case ColumnOptionKind::kNull:
          c.type.flag &= ~kNotNullFlag;
          break;
        case ColumnOptionKind::kDefault:
          default_expr = o.expr.get();
          break;
        case ColumnOptionKind::kAutoIncrement:
          c.auto_increment = true;
          c.type.flag |= kAutoIncrementFlag | kNotNullFlag;
          break;
        case ColumnOptionKind::kPrimaryKey:
          pk_cols.push_back(cd.name);
          break;
        case ColumnOptionKind::kUniqueKey:
          pending.push_back({cd.name, {cd.name}, true, false});
          break;
        case ColumnOptionKind::kCollate: {
          Collation coll;
          if (!CollationFromName(o.text, &coll)) {
            return Err(1273, absl::StrCat("Unknown collation: '", o.text, "'"));
          }
          if (c.type.IsString() && c.type.collation != Collation::kBinary) c.type.collation = coll;
          break;
        }
        default:
          break;
      }
    }
    if (default_expr != nullptr) {
      Schema none;
      auto x = binder.BindOver(*default_expr, none);
      if (!x.ok() || !(*x)->IsConstant()) {
        return Err(kErInvalidDefault, absl::StrCat("Invalid default value for '", cd.name, "'"));
      }
      auto v = Binder::EvalConstant(&ctx, **x);
      if (!v.ok())
        return Err(kErInvalidDefault, absl::StrCat("Invalid default value for '", cd.name, "'"));
      if (v->IsNull()) {
        if (c.type.NotNull())
          return Err(kErInvalidDefault, absl::StrCat("Invalid default value for '", cd.name, "'"));
      } else {
        auto cv = CastDatum(&ctx, *v, (*x)->type(), c.type);
        if (!cv.ok())
          return Err(kErInvalidDefault, absl::StrCat("Invalid default value for '", cd.name, "'"));
        c.default_value = *cv;
      }
      c.has_default = true;
    } else if (!c.type.NotNull()) {
      c.has_default = true;  // DEFAULT NULL
    }
    info->columns.push_back(c);
  }
  for (const Constraint& con : s.constraints) {
    std::vector<std::string> cols;
    for (const IndexPart& p : con.parts) {
      if (p.column.empty()) return Err(kErNotSupported, "functional index parts are not supported");
      cols.push_back(p.column);
    }
    switch (con.kind) {
      case ConstraintKind::kPrimaryKey:
        if (!pk_cols.empty()) return Err(kErMultiplePriKey, "Multiple primary key defined");
        pk_cols = cols;
        break;
      case ConstraintKind::kUnique:
        pending.push_back({con.name, cols, true, false});
        break;
      case ConstraintKind::kIndex:
        pending.push_back({con.name, cols, false, false});
        break;
      default:
        break;  // FULLTEXT, FOREIGN KEY and CHECK are accepted and not enforced.
    }
  }
  if (pk_cols.size() > 1 &&
      std::count_if(s.columns.begin(), s.columns.end(), [](const ColumnDef& cd) {
        return std::any_of(cd.options.begin(), cd.options.end(), [](const ColumnOption& o) {
          return o.kind == ColumnOptionKind::kPrimaryKey;
        });
      }) > 1) {
    return Err(kErMultiplePriKey, "Multiple primary key defined");
  }
  if (!pk_cols.empty()) {
    for (const std::string& n : pk_cols) {
      int idx = info->FindColumn(n);
      if (idx < 0) {
        return Err(kErKeyColumnDoesNotExist,
                   absl::StrCat("Key column '", n, "' doesn't exist in table"));
      }
      info->columns[idx].type.flag |= kNotNullFlag | kPriKeyFlag;
      if (info->columns[idx].has_default && info->columns[idx].default_value.IsNull()) {
        info->columns[idx].has_default = false;
      }
    }
    int idx = info->FindColumn(pk_cols[0]);
    if (pk_cols.size() == 1 && info->columns[idx].type.IsInteger() &&
        info->columns[idx].type.tp != TypeCode::kYear) {
      info->handle_col = idx;
    } else {
      pending.insert(pending.begin(), {"PRIMARY", pk_cols, true, true});
    }
  }
  int auto_cols = 0;
  for (const ColumnInfo& c : info->columns) auto_cols += c.auto_increment ? 1 : 0;
  if (auto_cols > 1) {
    return Err(kErWrongAutoKey,
               "Incorrect table definition; there can be only one auto column and it must be "
               "defined as a key");
  }
  int64_t next_index_id = 1;
  std::set<std::string> index_names;
  for (PendingIndex& p : pending) {
    IndexInfo idx;
    idx.id = next_index_id++;
    idx.unique = p.unique;
    idx.primary = p.primary;
    for (const std::string& n : p.cols) {
      int c = info->FindColumn(n);
      if (c < 0)
        return Err(kErKeyColumnDoesNotExist,
                   absl::StrCat("Key column '", n, "' doesn't exist in table"));
      idx.columns.push_back(c);
      if (p.unique && p.cols.size() == 1) info->columns[c].type.flag |= kUniqueKeyFlag;
    }
    std::string name = p.name.empty() ? p.cols[0] : p.name;
    if (p.name.empty()) {
      int suffix = 2;
      std::string base = name;
      while (index_names.count(LowerName(name))) name = absl::StrCat(base, "_", suffix++);
    } else if (index_names.count(LowerName(name))) {
      return Err(kErDupKeyName, absl::StrCat("Duplicate key name '", name, "'"));
    }
    index_names.insert(LowerName(name));
    idx.name = name;
    info->indexes.push_back(idx);
  }
  absl::Status st = db->catalog.AddTable(info);
  // Created meanwhile by another session (the owner's check): IF NOT EXISTS is fine.
  if (!st.ok() && s.if_not_exists && MySqlErrorOf(st).code == kErTableExists) {
    return ResultSet();
  }
  if (!st.ok()) return st;
  for (const TableOption& o : s.options) {
    if (o.kind == TableOptionKind::kAutoIncrement) {
      int64_t v = 1;
      if (absl::SimpleAtoi(o.value, &v) && v > 0) {
        st = info->next_id->Reset(v);
        if (!st.ok()) return st;
      }
    }
  }
  return ResultSet();
}

absl::StatusOr<ResultSet> SessionImpl::DropTable(const DropTableStmt& s) {
  // Check every name first, so a failing DROP drops nothing.
  std::vector<std::string> missing;
  std::vector<TablePtr> found;
  for (const auto& tn : s.tables) {
    auto d = DbOf(*tn);
    if (!d.ok()) return d.status();
    TablePtr t = db->catalog.FindTable(*d, tn->name);
    if (t == nullptr || (s.is_view && !t->is_view) || (!s.is_view && t->is_view)) {
      if (t != nullptr && s.is_view) {
        return Err(1347, absl::StrCat("'", *d, ".", tn->name, "' is not VIEW"));
      }
      missing.push_back(absl::StrCat(*d, ".", tn->name));
      continue;
    }
    found.push_back(t);
  }
  if (!missing.empty() && !s.if_exists) {
    return MakeMySqlStatus(absl::StatusCode::kNotFound,
                           {kErBadTable, "42S02",
                            absl::StrCat("Unknown ", s.is_view ? "view" : "table", " '",
                                         absl::StrJoin(missing, ","), "'")});
  }
  for (const TablePtr& t : found) {
    // A DDL job through F1's states; the owner deletes the table's keys (catalog.h).
    absl::Status st = db->catalog.RemoveTable(t->db, t->name);
    // Dropped meanwhile by another session: IF EXISTS makes that fine.
    if (!st.ok() && s.if_exists && MySqlErrorOf(st).code == kErBadTable) continue;
    if (!st.ok()) return st;
  }
  return ResultSet();
}

absl::StatusOr<ResultSet> SessionImpl::CreateIndex(const TablePtr& t, const std::string& name,
                                                   const std::vector<IndexPart>& parts, bool unique,
                                                   bool primary, bool if_not_exists) {
  if (t->is_view) return Err(1347, absl::StrCat("'", t->db, ".", t->name, "' is not BASE TABLE"));
  auto info = std::make_shared<TableInfo>(*t);
  IndexInfo idx;
  idx.unique = unique;
  idx.primary = primary;
  int64_t max_id = 0;
  for (const IndexInfo& i : info->indexes) max_id = std::max(max_id, i.id);
  idx.id = max_id + 1;
  for (const IndexPart& p : parts) {
    if (p.column.empty()) return Err(kErNotSupported, "functional index parts are not supported");
    int c = info->FindColumn(p.column);
    if (c < 0)
      return Err(kErKeyColumnDoesNotExist,
                 absl::StrCat("Key column '", p.column, "' doesn't exist in table"));
    idx.columns.push_back(c);
  }
  idx.name = name.empty() ? info->columns[idx.columns[0]].name : name;
  for (const IndexInfo& i : info->indexes) {
    if (absl::EqualsIgnoreCase(i.name, idx.name)) {
      if (if_not_exists) return ResultSet();
      return Err(kErDupKeyName, absl::StrCat("Duplicate key name '", idx.name, "'"));
    }
  }
  // Online: F1's states with a batched backfill, run by the DDL owner from the job queue
  // (sql/catalog/ddl.cc); a duplicate rolls the index back and changes nothing.
  absl::Status st = db->catalog.AddIndexOnline(t, std::move(idx));
  if (!st.ok()) return st;
  return ResultSet();
}

absl::StatusOr<ResultSet> SessionImpl::DropIndex(const TablePtr& t, const std::string& name,
                                                 bool if_exists) {
  auto info = std::make_shared<TableInfo>(*t);
  auto it = std::find_if(info->indexes.begin(), info->indexes.end(), [&](const IndexInfo& i) {
    return i.Public() && absl::EqualsIgnoreCase(i.name, name);
  });
  if (it == info->indexes.end()) {
    if (if_exists) return ResultSet();
    return Err(kErCantDropFieldOrKey,
               absl::StrCat("Can't DROP '", name, "'; check that column/key exists"));
  }
  absl::Status st = db->catalog.DropIndexOnline(t, it->id);
  if (!st.ok()) return st;
  return ResultSet();
}

absl::StatusOr<ResultSet> SessionImpl::Alter(const AlterTableStmt& s) {
  auto d = DbOf(*s.table);
  if (!d.ok()) return d.status();
  auto t = db->catalog.GetTable(*d, s.table->name);
  if (!t.ok()) return t.status();
  TablePtr cur = *t;
  for (const AlterSpec& spec : s.specs) {
    switch (spec.kind) {
      case AlterKind::kAddColumns: {
        auto info = std::make_shared<TableInfo>(*cur);
        int64_t max_id = info->max_column_id;
        for (const ColumnInfo& c : info->columns) max_id = std::max(max_id, c.id);
        for (const ColumnDef& cd : spec.columns) {
          if (info->FindColumn(cd.name) >= 0) {
            return Err(kErDupFieldName, absl::StrCat("Duplicate column name '", cd.name, "'"));
          }
          auto ft = ToFieldType(cd.type);
          if (!ft.ok()) return ft.status();
          ColumnInfo c;
          c.id = ++max_id;
          c.name = cd.name;
          c.type = *ft;
          c.has_default = true;
          for (const ColumnOption& o : cd.options) {
            if (o.kind == ColumnOptionKind::kNotNull) c.type.flag |= kNotNullFlag;
            if (o.kind == ColumnOptionKind::kDefault) {
              Binder binder(Options(nullptr));
              Schema none;
              auto x = binder.BindOver(*o.expr, none);
              if (!x.ok()) return x.status();
              ExecContext ctx;
              auto v = Binder::EvalConstant(&ctx, **x);
              if (!v.ok()) return v.status();
              if (!v->IsNull()) {
                auto cv = CastDatum(&ctx, *v, (*x)->type(), c.type);
                if (!cv.ok())
                  return Err(kErInvalidDefault,
                             absl::StrCat("Invalid default value for '", cd.name, "'"));
                c.default_value = *cv;
              }
            }
            if (o.kind == ColumnOptionKind::kPrimaryKey ||
                o.kind == ColumnOptionKind::kAutoIncrement) {
              return Err(kErNotSupported, "adding a key column is not supported yet");
            }
          }
          if (c.type.NotNull() && c.default_value.IsNull()) {
            // MySQL fills existing rows with the type's zero value.
            ExecContext zctx;
            auto zero = CastDatum(&zctx, Datum::Int(0), FieldType::LongLong(), c.type);
            if (c.type.IsString()) {
              c.default_value = Datum::String("");
            } else if (zero.ok()) {
              c.default_value = *zero;
            }
          }
          // Online: F1's states run by the DDL owner (sql/catalog/ddl.cc).
          absl::Status st = db->catalog.AddColumnOnline(cur, c);
          if (!st.ok()) return st;
          cur = db->catalog.FindTable(*d, s.table->name);
          if (cur == nullptr) return Err(kErNoSuchTable, "Table was dropped during ALTER TABLE");
        }
        break;
      }
      case AlterKind::kDropColumn: {
        auto info = std::make_shared<TableInfo>(*cur);
        int idx = info->FindColumn(spec.name);
        if (idx < 0) {
          return Err(kErCantDropFieldOrKey,
                     absl::StrCat("Can't DROP '", spec.name, "'; check that column/key exists"));
        }
        if (idx == info->handle_col)
          return Err(kErNotSupported, "dropping the primary key column is not supported");
        if (info->columns.size() == 1) {
          return Err(1090, "You can't delete all columns with ALTER TABLE; use DROP TABLE instead");
        }
        for (const IndexInfo& i : info->indexes) {
          if (std::find(i.columns.begin(), i.columns.end(), idx) != i.columns.end()) {
            return Err(kErNotSupported, "dropping an indexed column is not supported yet");
          }
        }
        absl::Status st = db->catalog.DropColumnOnline(cur, info->columns[idx].id);
        if (!st.ok()) return st;
        cur = db->catalog.FindTable(*d, s.table->name);
        if (cur == nullptr) return Err(kErNoSuchTable, "Table was dropped during ALTER TABLE");
        break;
      }
      case AlterKind::kAddConstraint: {
        const Constraint& con = *spec.constraint;
        if (con.kind != ConstraintKind::kIndex && con.kind != ConstraintKind::kUnique) {
          return Err(kErNotSupported, "only ADD INDEX and ADD UNIQUE are supported");
        }
        auto r = CreateIndex(cur, con.name, con.parts, con.kind == ConstraintKind::kUnique, false,
                             false);
        if (!r.ok()) return r.status();
        cur = db->catalog.FindTable(*d, s.table->name);
        break;
      }
      case AlterKind::kDropIndex: {
        auto r = DropIndex(cur, spec.name, false);
        if (!r.ok()) return r.status();
        cur = db->catalog.FindTable(*d, s.table->name);
        break;
      }
      default:
        return Err(kErNotSupported, "this ALTER TABLE operation is not supported yet");
    }
  }
  return ResultSet();
}

// ---- SET / SHOW ----

absl::StatusOr<ResultSet> SessionImpl::Set(const SetStmt& s, const std::vector<Datum>* params) {
  for (const SetItem& item : s.items) {
    if (item.kind == SetKind::kNames || item.kind == SetKind::kCharset) continue;
    if (item.kind == SetKind::kTransaction) {
      if (item.isolation == "READ COMMITTED") isolation = "READ-COMMITTED";
      if (item.isolation == "REPEATABLE READ") isolation = "REPEATABLE-READ";
      if (item.isolation == "SERIALIZABLE" || item.isolation == "READ UNCOMMITTED") {
        return Err(8048,
                   absl::StrCat("The isolation level '", item.isolation, "' is not supported"));
      }
      continue;
    }
    const VariableExpr& v = *item.target;
    const std::string name = absl::AsciiStrToLower(v.name);
    Datum value;
    FieldType vt = FieldType::Null();
    if (dynamic_cast<const DefaultExpr*>(item.value.get()) == nullptr) {
      Binder binder(Options(params));
      Schema none;
      auto x = binder.BindOver(*item.value, none);
      if (!x.ok()) return x.status();
      ExecContext ctx;
      auto b = db->store->Begin();
      if (!b.ok()) return b.status();
      InitContext(&ctx, b->get());
      auto d = Binder::EvalConstant(&ctx, **x);
      if (!d.ok()) return d.status();
      value = *d;
      vt = (*x)->type();
    }
    if (!v.system) {
      user_vars[name] = value;
      continue;
    }
    std::string text = value.IsNull() ? "" : value.ToString();
    if (name == "autocommit") {
      bool on = absl::EqualsIgnoreCase(text, "on") || text == "1";
      bool off = absl::EqualsIgnoreCase(text, "off") || text == "0";
      if (!on && !off) {
        return Err(1231,
                   absl::StrCat("Variable 'autocommit' can't be set to the value of '", text, "'"));
      }
      if (on && txn && !autocommit) {
        absl::Status st = CommitTxn(txn.get());
        txn.reset();
        if (!st.ok()) return st;
      }
      autocommit = on;
    } else if (name == "sql_mode") {
      sql_mode_text = absl::AsciiStrToUpper(text);
      sql_mode = SqlMode::Parse(sql_mode_text);
    } else if (name == "tx_isolation" || name == "transaction_isolation") {
      std::string up = absl::AsciiStrToUpper(text);
      if (up != "READ-COMMITTED" && up != "REPEATABLE-READ") {
        return Err(1231, absl::StrCat("Variable '", v.name, "' can't be set to the value of '",
                                      text, "'"));
      }
      isolation = up;
    } else if (name == "tidb_txn_mode") {
      std::string low = absl::AsciiStrToLower(text);
      if (low.empty()) low = "optimistic";  // TiDB: '' is optimistic
      if (low != "pessimistic" && low != "optimistic") {
        return Err(1231, absl::StrCat("Variable 'tidb_txn_mode' can't be set to the value of '",
                                      text, "'"));
      }
      txn_mode = low;
    } else if (name == "tidb_mem_quota_query") {
      int64_t q = 0;
      if (!absl::SimpleAtoi(text, &q) || q < 0) {
        return Err(1232, "Incorrect argument type to variable 'tidb_mem_quota_query'");
      }
      mem_quota_query = q;
    } else if (name == "tidb_allow_coprocessor") {
      std::string low = absl::AsciiStrToLower(text);
      if (low == "1" || low == "on") {
        allow_coprocessor = true;
      } else if (low == "0" || low == "off") {
        allow_coprocessor = false;
      } else {
        return Err(1231,
                   absl::StrCat("Variable 'tidb_allow_coprocessor' can't be set to the value of '",
                                text, "'"));
      }
    } else if (name == "tidb_executor_concurrency") {
      int64_t c = 0;
      if (!absl::SimpleAtoi(text, &c) || c < 1 || c > 64) {
        return Err(1231, absl::StrCat("Variable 'tidb_executor_concurrency' can't be set to the "
                                      "value of '",
                                      text, "'"));
      }
      executor_concurrency = c;
    } else if (name == "version" || name == "version_comment") {
      return Err(1238, absl::StrCat("Variable '", name, "' is a read only variable"));
    } else {
      other_vars[name] = text;
    }
  }
  return ResultSet();
}

namespace {

ResultSet TextResult(const std::vector<std::string>& names, std::vector<Row> rows) {
  ResultSet rs;
  rs.has_rows = true;
  for (const std::string& n : names) {
    OutputColumn oc;
    oc.name = n;
    oc.type = FieldType::Varchar(-1);
    rs.columns.push_back(MetaOf(oc));
  }
  rs.rows = std::move(rows);
  return rs;
}

// Keeps the rows of a SHOW VARIABLES / STATUS whose name (column 0) matches the statement's
// LIKE pattern, compared as MySQL does (case-insensitively); all rows without one.
absl::StatusOr<std::vector<Row>> RowsLike(Binder* binder, const ShowStmt& s,
                                          std::vector<Row> rows) {
  if (s.like == nullptr) return rows;
  Schema none;
  auto pattern = binder->BindOver(*s.like, none);
  if (!pattern.ok()) return pattern.status();
  std::vector<Row> kept;
  for (Row& r : rows) {
    std::vector<expr::ExprPtr> args;
    args.push_back(expr::NewString(r[0].value_or("")));
    args.push_back((*pattern)->Clone());
    auto like = expr::NewFunction("like", std::move(args));
    if (!like.ok()) return like.status();
    ExecContext ctx;
    auto v = Binder::EvalConstant(&ctx, **like);
    if (!v.ok()) return v.status();
    if (!v->IsNull() && v->GetInt64() != 0) kept.push_back(std::move(r));
  }
  return kept;
}

}  // namespace

absl::StatusOr<ResultSet> SessionImpl::Show(const ShowStmt& s) {
  switch (s.kind) {
    case ShowKind::kDatabases: {
      std::vector<Row> rows;
      for (const std::string& d : db->catalog.Databases()) {
        if (!visible || visible(d, "")) rows.push_back({d});
      }
      return TextResult({"Database"}, std::move(rows));
    }
    case ShowKind::kTables: {
      std::string d = s.db.empty() ? current_db : s.db;
      if (d.empty()) return Err(kErNoDb, "No database selected");
      if (!db->catalog.HasDatabase(d))
        return Err(kErBadDb, absl::StrCat("Unknown database '", d, "'"));
      std::vector<Row> rows;
      for (const TablePtr& t : db->catalog.Tables(d)) {
        if (visible && !visible(d, t->name)) continue;
        if (s.full) {
          rows.push_back({t->name, std::string(t->is_view ? "VIEW" : "BASE TABLE")});
        } else {
          rows.push_back({t->name});
        }
      }
      if (s.full) return TextResult({"Tables_in_" + d, "Table_type"}, std::move(rows));
      return TextResult({"Tables_in_" + d}, std::move(rows));
    }
    case ShowKind::kColumns:
    case ShowKind::kIndex:
    case ShowKind::kCreateTable: {
      std::string d = s.db.empty() ? current_db : s.db;
      if (d.empty()) return Err(kErNoDb, "No database selected");
      auto t = db->catalog.GetTable(d, s.table);
      if (!t.ok()) return t.status();
      const TableInfo& ti = **t;
      if (s.kind == ShowKind::kColumns) {
        std::vector<Row> rows;
        for (size_t i = 0; i < ti.columns.size(); ++i) {
          const ColumnInfo& c = ti.columns[i];
          std::string key;
          if (c.type.flag & kPriKeyFlag)
            key = "PRI";
          else if (c.type.flag & kUniqueKeyFlag)
            key = "UNI";
          else {
            for (const IndexInfo& idx : ti.indexes) {
              if (idx.Public() && !idx.columns.empty() && idx.columns[0] == static_cast<int>(i))
                key = "MUL";
            }
          }
          std::optional<std::string> def;
          if (c.has_default && !c.default_value.IsNull()) def = c.default_value.ToString();
          rows.push_back({c.name, c.type.ToString(), std::string(c.type.NotNull() ? "NO" : "YES"),
                          key, def, std::string(c.auto_increment ? "auto_increment" : "")});
        }
        return TextResult({"Field", "Type", "Null", "Key", "Default", "Extra"}, std::move(rows));
      }
      if (s.kind == ShowKind::kIndex) {
        std::vector<Row> rows;
        if (ti.handle_col >= 0) {
          rows.push_back({ti.name, std::string("0"), std::string("PRIMARY"), std::string("1"),
                          ti.columns[ti.handle_col].name});
        }
        for (const IndexInfo& idx : ti.indexes) {
          if (!idx.Public()) continue;
          for (size_t k = 0; k < idx.columns.size(); ++k) {
            rows.push_back({ti.name, std::string(idx.unique ? "0" : "1"), idx.name,
                            absl::StrCat(k + 1), ti.columns[idx.columns[k]].name});
          }
        }
        return TextResult({"Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name"},
                          std::move(rows));
      }
      if (ti.is_view) {
        return TextResult(
            {"View", "Create View"},
            {{ti.name, absl::StrCat("CREATE VIEW `", ti.name, "` AS ", ti.view_sql)}});
      }
      std::string text = absl::StrCat("CREATE TABLE `", ti.name, "` (\n");
      std::vector<std::string> lines;
      for (const ColumnInfo& c : ti.columns) {
        std::string l = absl::StrCat("  `", c.name, "` ", c.type.ToString());
        if (c.type.NotNull()) absl::StrAppend(&l, " NOT NULL");
        if (c.has_default && !c.auto_increment) {
          absl::StrAppend(
              &l, " DEFAULT ",
              c.default_value.IsNull() ? "NULL" : "'" + c.default_value.ToString() + "'");
        }
        if (c.auto_increment) absl::StrAppend(&l, " AUTO_INCREMENT");
        lines.push_back(l);
      }
      if (ti.handle_col >= 0)
        lines.push_back(absl::StrCat("  PRIMARY KEY (`", ti.columns[ti.handle_col].name, "`)"));
      for (const IndexInfo& idx : ti.indexes) {
        if (!idx.Public()) continue;
        std::vector<std::string> cols;
        for (int c : idx.columns) cols.push_back("`" + ti.columns[c].name + "`");
        if (idx.primary) {
          lines.push_back(absl::StrCat("  PRIMARY KEY (", absl::StrJoin(cols, ","), ")"));
        } else {
          lines.push_back(absl::StrCat("  ", idx.unique ? "UNIQUE KEY" : "KEY", " `", idx.name,
                                       "` (", absl::StrJoin(cols, ","), ")"));
        }
      }
      absl::StrAppend(&text, absl::StrJoin(lines, ",\n"),
                      "\n) ENGINE=Rutile DEFAULT CHARSET=utf8mb4");
      return TextResult({"Table", "Create Table"}, {{ti.name, text}});
    }
    case ShowKind::kVariables: {
      std::vector<Row> rows;
      for (const char* n : {"autocommit", "sql_mode", "tx_isolation", "transaction_isolation",
                            "version", "version_comment"}) {
        VariableExpr v;
        v.system = true;
        v.name = n;
        auto x = Variable(v);
        if (!x.ok()) continue;
        const Datum& d = static_cast<const expr::Constant&>(**x).value();
        rows.push_back({std::string(n), d.ToString()});
      }
      Binder binder(Options(nullptr));
      auto kept = RowsLike(&binder, s, std::move(rows));
      if (!kept.ok()) return kept.status();
      return TextResult({"Variable_name", "Value"}, *std::move(kept));
    }
    case ShowKind::kStatus: {
      // Rutile's own counters (session and global scope alike: they are the Database's).
      std::string last_error;
      {
        std::lock_guard<std::mutex> l(db->auto_analyze_mu);
        last_error = db->auto_analyze_last_error;
      }
      std::vector<Row> rows = {
          {std::string("Rutile_auto_analyze_errors"), absl::StrCat(db->auto_analyze_errors.load())},
          {std::string("Rutile_auto_analyze_last_error"), last_error},
          {std::string("Rutile_auto_analyze_runs"), absl::StrCat(db->auto_analyze_runs.load())},
      };
      Binder binder(Options(nullptr));
      auto kept = RowsLike(&binder, s, std::move(rows));
      if (!kept.ok()) return kept.status();
      return TextResult({"Variable_name", "Value"}, *std::move(kept));
    }
    case ShowKind::kWarnings:
    case ShowKind::kErrors: {
      std::vector<Row> rows;
      for (const SqlWarning& w : diagnostics) {
        if (s.kind == ShowKind::kErrors && w.level != WarnLevel::kError) continue;
        const char* level = w.level == WarnLevel::kNote      ? "Note"
                            : w.level == WarnLevel::kWarning ? "Warning"
                                                             : "Error";
        rows.push_back({std::string(level), std::to_string(w.error.code), w.error.message});
      }
      return TextResult({"Level", "Code", "Message"}, std::move(rows));
    }
    default:
      return Err(kErNotSupported, "this SHOW statement is not supported yet");
  }
}

// ---- Public API ----

Database::Database() = default;
Database::~Database() = default;

absl::StatusOr<std::unique_ptr<Database>> Database::OpenInMemory() {
  return DatabaseAccess::Make(std::make_unique<kv::LocalKvStore>(), nullptr);
}

absl::StatusOr<std::unique_ptr<Database>> DatabaseAccess::Make(std::unique_ptr<kv::KvStore> store,
                                                               std::shared_ptr<void> owner,
                                                               Env* env) {
  if (store == nullptr) return absl::InvalidArgumentError("no KV store");
  auto db = std::unique_ptr<Database>(new Database());
  db->impl_ = std::make_unique<DatabaseImpl>(std::move(store), std::move(owner), env);
  absl::Status s = db->impl_->catalog.Load();
  if (!s.ok()) return s;
  s = db->impl_->catalog.CreateDatabase("test", true);
  if (!s.ok()) return s;
  return db;
}

Catalog* CatalogOf(Database* db) { return &db->impl_->catalog; }

std::unique_ptr<Session> Database::NewSession() {
  auto impl = std::make_unique<SessionImpl>();
  impl->db = impl_.get();
  impl->connection_id = impl_->next_connection_id.fetch_add(1);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Session::Session(std::unique_ptr<SessionImpl> impl) : impl_(std::move(impl)) {}
Session::~Session() {
  if (impl_->txn) impl_->txn->Rollback();
}

absl::StatusOr<ResultSet> Session::Execute(std::string_view sql) { return impl_->Execute(sql); }

absl::StatusOr<StmtPtr> SessionAccess::Parse(Session* s, std::string_view sql) {
  return s->impl_->Parse(sql);
}

absl::StatusOr<ResultSet> SessionAccess::Run(Session* s, const Stmt& stmt) {
  return s->impl_->RunRecorded(stmt, nullptr);
}

void SessionAccess::SetVisibility(
    Session* s, std::function<bool(std::string_view db, std::string_view table)> visible) {
  s->impl_->visible = std::move(visible);
}

const Stmt* SessionAccess::Prepared(const Session& s, uint32_t id) {
  auto it = s.impl_->prepared.find(id);
  return it == s.impl_->prepared.end() ? nullptr : it->second.stmt.get();
}

absl::StatusOr<uint32_t> Session::Prepare(std::string_view sql) {
  // Parsed under the session's sql_mode, as a statement run at once would be.
  auto stmt = ParseOne(sql, impl_->ParseOptions());
  if (!stmt.ok()) return stmt.status();
  Prepared p;
  p.sql = std::string(sql);
  // Count placeholders from the canonical text (strings are quoted there, and restored
  // placeholders are bare '?').
  std::string text = RestoreSql(**stmt);
  bool in_str = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_str) {
      if (c == '\\') {
        ++i;
      } else if (c == '\'') {
        in_str = false;
      }
    } else if (c == '\'') {
      in_str = true;
    } else if (c == '?') {
      ++p.params;
    }
  }
  p.stmt = *std::move(stmt);
  uint32_t id = impl_->next_prepared++;
  impl_->prepared[id] = std::move(p);
  return id;
}

absl::StatusOr<ResultSet> Session::ExecutePrepared(uint32_t id, const std::vector<Value>& params) {
  auto it = impl_->prepared.find(id);
  if (it == impl_->prepared.end()) {
    return Err(1243,
               absl::StrCat("Unknown prepared statement handler (", id, ") given to EXECUTE"));
  }
  if (params.size() != it->second.params) return Err(1210, "Incorrect arguments to EXECUTE");
  std::vector<Datum> ds;
  for (const Value& v : params) {
    switch (v.kind) {
      case Value::Kind::kNull:
        ds.push_back(Datum::Null());
        break;
      case Value::Kind::kInt:
        ds.push_back(Datum::Int(v.i));
        break;
      case Value::Kind::kUint:
        ds.push_back(Datum::Uint(v.u));
        break;
      case Value::Kind::kDouble:
        ds.push_back(Datum::Double(v.d));
        break;
      case Value::Kind::kString:
        ds.push_back(Datum::String(v.s));
        break;
    }
  }
  return impl_->RunRecorded(*it->second.stmt, &ds);
}

absl::Status Session::ClosePrepared(uint32_t id) {
  auto it = impl_->prepared.find(id);
  if (it != impl_->prepared.end()) {
    impl_->plan_cache.erase(it->second.stmt.get());
    impl_->insert_cache.erase(it->second.stmt.get());
  }
  if (impl_->prepared.erase(id) == 0) {
    return Err(1243, absl::StrCat("Unknown prepared statement handler (", id,
                                  ") given to DEALLOCATE PREPARE"));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> Session::ParamCount(uint32_t id) const {
  auto it = impl_->prepared.find(id);
  if (it == impl_->prepared.end()) return Err(1243, "Unknown prepared statement handler");
  return it->second.params;
}

absl::StatusOr<std::vector<ColumnMeta>> Session::PreparedColumns(uint32_t id) const {
  auto it = impl_->prepared.find(id);
  if (it == impl_->prepared.end()) return Err(1243, "Unknown prepared statement handler");
  std::vector<ColumnMeta> out;
  const auto* q = dynamic_cast<const QueryStmt*>(it->second.stmt.get());
  if (q == nullptr) return out;
  std::vector<Datum> nulls(it->second.params, Datum::Null());
  Binder binder(impl_->Options(&nulls));
  auto plan = binder.BuildQuery(*q);
  if (!plan.ok()) return plan.status();
  for (const auto& c : (*plan)->schema) {
    if (!c.hidden) out.push_back(MetaOf(c));
  }
  return out;
}

void Session::SetConnectionInfo(uint64_t connection_id, std::string_view user,
                                std::string_view host) {
  impl_->connection_id = connection_id;
  impl_->user = std::string(user);
  impl_->host = std::string(host);
}
uint64_t Session::ConnectionId() const { return impl_->connection_id; }

std::string Session::CurrentDatabase() const { return impl_->current_db; }
bool Session::InTransaction() const { return impl_->txn != nullptr; }

}  // namespace rutile::sql
