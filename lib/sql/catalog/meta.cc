#include "sql/catalog/meta.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"

namespace rutile::sql {
namespace {

constexpr char kNextGlobalId[] = "NextGlobalID";
constexpr char kSchemaVersion[] = "SchemaVersionKey";
constexpr char kDbs[] = "DBs";
constexpr char kJobList[] = "DDLJobList";
constexpr char kJobHistory[] = "DDLJobHistory";
constexpr char kNextJobId[] = "NextDDLJobID";
constexpr char kOwner[] = "DDLOwner";
constexpr char kSyncers[] = "SchemaSyncers";
constexpr char kDeleteRanges[] = "DDLDeleteRanges";
// planner/analyze.cc's StatsKey uses the same key (a test checks they agree).
constexpr char kStats[] = "Stats";

std::string DbKey(int64_t db_id) { return absl::StrCat("DB:", db_id); }
std::string TableField(int64_t id) { return absl::StrCat("Table:", id); }
std::string AutoIdField(int64_t id) { return absl::StrCat("TID:", id); }
std::string JobField(int64_t id) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(static_cast<uint64_t>(id) >> (56 - 8 * i));
  return s;
}

// A delete-range record's field: the job id, then the element when not 0.
std::string DeleteRangeField(int64_t job_id, int64_t element) {
  std::string f = JobField(job_id);
  if (element != 0) f += JobField(element);
  return f;
}

// ---- A small binary writer/reader (varints and length-prefixed strings) ----

class Writer {
 public:
  void U(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void I(int64_t v) { U((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void S(std::string_view s) {
    U(s.size());
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool I(int64_t* v) {
    uint64_t u;
    if (!U(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  template <typename T>
  bool Small(T* v) {
    int64_t x;
    if (!I(&x)) return false;
    *v = static_cast<T>(x);
    return true;
  }
  bool S(std::string* s) {
    uint64_t n;
    if (!U(&n) || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool Done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

absl::Status Corrupt(const char* what) {
  return absl::DataLossError(absl::StrCat("corrupt catalog meta value: ", what));
}

void WriteFieldType(Writer* w, const FieldType& ft) {
  w->I(static_cast<int64_t>(ft.tp));
  w->I(ft.flag);
  w->I(ft.flen);
  w->I(ft.decimal);
  w->I(static_cast<int64_t>(ft.collation));
}

bool ReadFieldType(Reader* r, FieldType* ft) {
  return r->Small(&ft->tp) && r->Small(&ft->flag) && r->Small(&ft->flen) &&
         r->Small(&ft->decimal) && r->Small(&ft->collation);
}

void WriteIndex(Writer* w, const IndexInfo& idx) {
  w->I(idx.id);
  w->S(idx.name);
  w->U(idx.columns.size());
  for (int c : idx.columns) w->I(c);
  w->U(idx.unique ? 1 : 0);
  w->U(idx.primary ? 1 : 0);
  w->I(static_cast<int64_t>(idx.state));
}

bool ReadIndex(Reader* r, IndexInfo* idx) {
  uint64_t n, u, p;
  if (!r->I(&idx->id) || !r->S(&idx->name) || !r->U(&n) || n > (1u << 16)) return false;
  idx->columns.resize(n);
  for (int& c : idx->columns) {
    if (!r->Small(&c)) return false;
  }
  if (!r->U(&u) || !r->U(&p) || !r->Small(&idx->state)) return false;
  idx->unique = u != 0;
  idx->primary = p != 0;
  return true;
}

void WriteColumn(Writer* w, const ColumnInfo& c) {
  w->I(c.id);
  w->S(c.name);
  WriteFieldType(w, c.type);
  w->U((c.has_default ? 1 : 0) | (c.auto_increment ? 2 : 0) | (c.hidden ? 4 : 0));
  std::string dv;
  codec::EncodeKeyDatum(&dv, c.default_value);
  w->S(dv);
}

bool ReadColumn(Reader* r, ColumnInfo* c) {
  uint64_t flags;
  std::string dv;
  if (!r->I(&c->id) || !r->S(&c->name) || !ReadFieldType(r, &c->type) || !r->U(&flags) ||
      !r->S(&dv)) {
    return false;
  }
  c->has_default = flags & 1;
  c->auto_increment = flags & 2;
  c->hidden = flags & 4;
  std::string_view dvv = dv;
  auto d =
      dv.empty() ? absl::StatusOr<Datum>(Datum::Null()) : codec::DecodeKeyDatumAs(&dvv, c->type);
  if (!d.ok()) return false;
  c->default_value = *d;
  return true;
}

}  // namespace

std::string EncodeTableInfo(const TableInfo& t) {
  Writer w;
  w.U(1);  // format version
  w.I(t.id);
  w.I(t.db_id);
  w.S(t.db);
  w.S(t.name);
  w.I(t.handle_col);
  w.U(t.columns.size());
  for (const ColumnInfo& c : t.columns) WriteColumn(&w, c);
  w.U(t.indexes.size());
  for (const IndexInfo& idx : t.indexes) WriteIndex(&w, idx);
  w.U(t.triggers.size());
  for (const TriggerInfo& tr : t.triggers) {
    w.S(tr.name);
    w.U(tr.before ? 1 : 0);
    w.S(tr.event);
    w.U(tr.body.size());
    for (const std::string& b : tr.body) w.S(b);
  }
  w.U(t.is_view ? 1 : 0);
  w.S(t.view_sql);
  w.U(t.view_columns.size());
  for (const std::string& c : t.view_columns) w.S(c);
  w.I(t.revision);
  w.I(t.max_column_id);
  // Optional trailers (absent in values written before column states, or table states,
  // existed): the changing columns, then the table's state.
  if (!t.changing_columns.empty() || t.state != SchemaState::kPublic) {
    w.U(t.changing_columns.size());
    for (const ColumnInfo& c : t.changing_columns) {
      WriteColumn(&w, c);
      w.I(static_cast<int64_t>(c.state));
    }
  }
  if (t.state != SchemaState::kPublic) w.I(static_cast<int64_t>(t.state));
  return w.Take();
}

absl::StatusOr<std::shared_ptr<TableInfo>> DecodeTableInfo(std::string_view in) {
  Reader r(in);
  auto t = std::make_shared<TableInfo>();
  uint64_t version, n;
  if (!r.U(&version) || version != 1) return Corrupt("table format");
  if (!r.I(&t->id) || !r.I(&t->db_id) || !r.S(&t->db) || !r.S(&t->name) ||
      !r.Small(&t->handle_col) || !r.U(&n) || n > (1u << 16)) {
    return Corrupt("table header");
  }
  t->columns.resize(n);
  for (ColumnInfo& c : t->columns) {
    if (!ReadColumn(&r, &c)) return Corrupt("column");
  }
  if (!r.U(&n) || n > (1u << 16)) return Corrupt("indexes");
  t->indexes.resize(n);
  for (IndexInfo& idx : t->indexes) {
    if (!ReadIndex(&r, &idx)) return Corrupt("index");
    for (int c : idx.columns) {
      if (c < 0 || static_cast<size_t>(c) >= t->columns.size()) return Corrupt("index column");
    }
  }
  if (!r.U(&n) || n > (1u << 16)) return Corrupt("triggers");
  t->triggers.resize(n);
  for (TriggerInfo& tr : t->triggers) {
    uint64_t before, nb;
    if (!r.S(&tr.name) || !r.U(&before) || !r.S(&tr.event) || !r.U(&nb) || nb > (1u << 16)) {
      return Corrupt("trigger");
    }
    tr.before = before != 0;
    tr.body.resize(nb);
    for (std::string& b : tr.body) {
      if (!r.S(&b)) return Corrupt("trigger body");
    }
  }
  uint64_t is_view;
  if (!r.U(&is_view) || !r.S(&t->view_sql) || !r.U(&n) || n > (1u << 16)) return Corrupt("view");
  t->is_view = is_view != 0;
  t->view_columns.resize(n);
  for (std::string& c : t->view_columns) {
    if (!r.S(&c)) return Corrupt("view column");
  }
  if (!r.I(&t->revision) || !r.I(&t->max_column_id)) return Corrupt("table trailer");
  if (!r.Done()) {
    if (!r.U(&n) || n > (1u << 16)) return Corrupt("changing columns");
    t->changing_columns.resize(n);
    for (ColumnInfo& c : t->changing_columns) {
      if (!ReadColumn(&r, &c) || !r.Small(&c.state)) return Corrupt("changing column");
    }
    if (!r.Done()) {
      if (!r.Small(&t->state) || t->state > SchemaState::kPublic) return Corrupt("table state");
    }
    if (!r.Done()) return Corrupt("table trailer");
  }
  if (t->handle_col >= static_cast<int>(t->columns.size())) return Corrupt("handle column");
  return t;
}

std::string EncodeDdlJob(const DdlJob& j) {
  Writer w;
  w.U(2);
  w.I(j.id);
  w.I(static_cast<int64_t>(j.type));
  w.I(static_cast<int64_t>(j.state));
  w.I(j.db_id);
  w.I(j.table_id);
  w.I(j.index_id);
  w.I(static_cast<int64_t>(j.schema_state));
  w.I(j.reorg_handle);
  w.I(j.row_count);
  WriteIndex(&w, j.index);
  w.I(j.error_code);
  w.S(j.error);
  if (j.type == DdlJobType::kAddColumn || j.type == DdlJobType::kDropColumn) {
    WriteColumn(&w, j.column);
  }
  if (j.type == DdlJobType::kAddIndex) {
    w.U(j.index_column_ids.size());
    for (int64_t id : j.index_column_ids) w.I(id);
  }
  if (j.type == DdlJobType::kCreateTable) w.S(j.table ? EncodeTableInfo(*j.table) : "");
  if (j.type == DdlJobType::kTruncateTable) w.I(j.new_table_id);
  if (j.type == DdlJobType::kCreateDatabase || j.type == DdlJobType::kDropDatabase) {
    w.S(j.db_name);
  }
  return w.Take();
}

absl::StatusOr<DdlJob> DecodeDdlJob(std::string_view in) {
  Reader r(in);
  DdlJob j;
  uint64_t version;
  if (!r.U(&version) || (version != 1 && version != 2) || !r.I(&j.id) || !r.Small(&j.type) ||
      !r.Small(&j.state) || !r.I(&j.db_id) || !r.I(&j.table_id) || !r.I(&j.index_id) ||
      !r.Small(&j.schema_state) || !r.I(&j.reorg_handle) || !r.I(&j.row_count) ||
      !ReadIndex(&r, &j.index) || !r.Small(&j.error_code) || !r.S(&j.error)) {
    return Corrupt("ddl job");
  }
  if ((j.type == DdlJobType::kAddColumn || j.type == DdlJobType::kDropColumn) &&
      !ReadColumn(&r, &j.column)) {
    return Corrupt("ddl job column");
  }
  // Version 1 jobs carry positions only.
  if (version >= 2 && j.type == DdlJobType::kAddIndex) {
    uint64_t n;
    if (!r.U(&n) || n > 4096) return Corrupt("ddl job index columns");
    j.index_column_ids.resize(n);
    for (int64_t& id : j.index_column_ids) {
      if (!r.I(&id)) return Corrupt("ddl job index columns");
    }
  }
  if (j.type == DdlJobType::kCreateTable) {
    std::string blob;
    if (!r.S(&blob)) return Corrupt("ddl job table");
    auto t = DecodeTableInfo(blob);
    if (!t.ok()) return t.status();
    j.table = *std::move(t);
  }
  if (j.type == DdlJobType::kTruncateTable && !r.I(&j.new_table_id)) {
    return Corrupt("ddl job new table id");
  }
  if ((j.type == DdlJobType::kCreateDatabase || j.type == DdlJobType::kDropDatabase) &&
      !r.S(&j.db_name)) {
    return Corrupt("ddl job database name");
  }
  if (j.type < DdlJobType::kAddIndex || j.type > DdlJobType::kDropDatabase) {
    return Corrupt("ddl job type");
  }
  if (!r.Done()) return Corrupt("ddl job");
  return j;
}

// ---- Meta ----

absl::StatusOr<int64_t> Meta::GetInt(const std::string& key) {
  auto v = txn_->Get(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return 0;
  int64_t x;
  if (!absl::SimpleAtoi(**v, &x)) return Corrupt("integer");
  return x;
}

absl::StatusOr<int64_t> Meta::GenGlobalId() {
  const std::string key = codec::MetaStringKey(kNextGlobalId);
  auto v = GetInt(key);
  if (!v.ok()) return v.status();
  // Ids below 100 are left free (TiDB reserves low ids for system tables).
  int64_t next = std::max<int64_t>(*v, 99) + 1;
  txn_->Put(key, absl::StrCat(next));
  return next;
}

absl::StatusOr<int64_t> Meta::SchemaVersion() {
  return GetInt(codec::MetaStringKey(kSchemaVersion));
}

absl::StatusOr<int64_t> Meta::BumpSchemaVersion() {
  auto v = SchemaVersion();
  if (!v.ok()) return v.status();
  txn_->Put(codec::MetaStringKey(kSchemaVersion), absl::StrCat(*v + 1));
  return *v + 1;
}

absl::StatusOr<std::vector<DbInfo>> Meta::ListDatabases() {
  const std::string prefix = codec::MetaHashPrefix(kDbs);
  auto r = txn_->Scan(prefix, codec::PrefixNext(prefix), 0, false);
  if (!r.ok()) return r.status();
  std::vector<DbInfo> out;
  for (const kv::Pair& p : *r) {
    Reader rd(p.value);
    DbInfo d;
    if (!rd.I(&d.id) || !rd.S(&d.name) || !rd.Done()) return Corrupt("database");
    out.push_back(std::move(d));
  }
  return out;
}

void Meta::PutDatabase(const DbInfo& db) {
  Writer w;
  w.I(db.id);
  w.S(db.name);
  txn_->Put(codec::MetaHashKey(kDbs, DbKey(db.id)), w.Take());
}

absl::Status Meta::DropDatabase(int64_t db_id) {
  txn_->Delete(codec::MetaHashKey(kDbs, DbKey(db_id)));
  const std::string prefix = codec::MetaHashPrefix(DbKey(db_id));
  auto r = txn_->Scan(prefix, codec::PrefixNext(prefix), 0, false);
  if (!r.ok()) return r.status();
  for (const kv::Pair& p : *r) txn_->Delete(p.key);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::shared_ptr<TableInfo>>> Meta::ListTables(int64_t db_id) {
  const std::string prefix = codec::MetaHashPrefix(DbKey(db_id));
  auto r = txn_->Scan(prefix, codec::PrefixNext(prefix), 0, false);
  if (!r.ok()) return r.status();
  std::vector<std::shared_ptr<TableInfo>> out;
  for (const kv::Pair& p : *r) {
    std::string key, field;
    absl::Status s = codec::DecodeMetaHashKey(p.key, &key, &field);
    if (!s.ok()) return s;
    if (field.rfind("Table:", 0) != 0) continue;
    auto t = DecodeTableInfo(p.value);
    if (!t.ok()) return t.status();
    out.push_back(*std::move(t));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<TableInfo>> Meta::GetTable(int64_t db_id, int64_t table_id) {
  auto v = txn_->Get(codec::MetaHashKey(DbKey(db_id), TableField(table_id)));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return absl::NotFoundError(absl::StrCat("table id ", table_id, " is gone"));
  return DecodeTableInfo(**v);
}

void Meta::PutTable(int64_t db_id, const TableInfo& t) {
  txn_->Put(codec::MetaHashKey(DbKey(db_id), TableField(t.id)), EncodeTableInfo(t));
}

void Meta::DropTable(int64_t db_id, int64_t table_id) {
  txn_->Delete(codec::MetaHashKey(DbKey(db_id), TableField(table_id)));
  txn_->Delete(codec::MetaHashKey(DbKey(db_id), AutoIdField(table_id)));
}

void Meta::DropTableStats(int64_t table_id) {
  txn_->Delete(codec::MetaHashKey(kStats, absl::StrCat("Table:", table_id)));
}

void Meta::PutDeleteRange(const DeleteRangeRecord& r) {
  Writer w;
  w.I(r.version);
  w.S(r.start);
  w.S(r.end);
  txn_->Put(codec::MetaHashKey(kDeleteRanges, DeleteRangeField(r.job_id, r.element)), w.Take());
}

absl::StatusOr<std::vector<DeleteRangeRecord>> Meta::ListDeleteRanges() {
  const std::string prefix = codec::MetaHashPrefix(kDeleteRanges);
  auto r = txn_->Scan(prefix, codec::PrefixNext(prefix), 0, false);
  if (!r.ok()) return r.status();
  std::vector<DeleteRangeRecord> out;
  for (const kv::Pair& p : *r) {
    std::string key, field;
    absl::Status s = codec::DecodeMetaHashKey(p.key, &key, &field);
    if (!s.ok()) return s;
    DeleteRangeRecord rec;
    Reader rd(p.value);
    if ((field.size() != 8 && field.size() != 16) || !rd.I(&rec.version) || !rd.S(&rec.start) ||
        !rd.S(&rec.end) || !rd.Done()) {
      return Corrupt("delete range");
    }
    uint64_t id = 0, element = 0;
    for (size_t i = 0; i < 8; ++i) id = (id << 8) | static_cast<uint8_t>(field[i]);
    for (size_t i = 8; i < field.size(); ++i)
      element = (element << 8) | static_cast<uint8_t>(field[i]);
    rec.job_id = static_cast<int64_t>(id);
    rec.element = static_cast<int64_t>(element);
    out.push_back(std::move(rec));
  }
  return out;
}

void Meta::RemoveDeleteRange(int64_t job_id, int64_t element) {
  txn_->Delete(codec::MetaHashKey(kDeleteRanges, DeleteRangeField(job_id, element)));
}

absl::StatusOr<int64_t> Meta::GetAutoId(int64_t db_id, int64_t table_id) {
  return GetInt(codec::MetaHashKey(DbKey(db_id), AutoIdField(table_id)));
}

void Meta::SetAutoId(int64_t db_id, int64_t table_id, int64_t v) {
  txn_->Put(codec::MetaHashKey(DbKey(db_id), AutoIdField(table_id)), absl::StrCat(v));
}

absl::StatusOr<int64_t> Meta::GenJobId() {
  const std::string key = codec::MetaStringKey(kNextJobId);
  auto v = GetInt(key);
  if (!v.ok()) return v.status();
  txn_->Put(key, absl::StrCat(*v + 1));
  return *v + 1;
}

void Meta::PutJob(const DdlJob& job) {
  txn_->Put(codec::MetaHashKey(kJobList, JobField(job.id)), EncodeDdlJob(job));
}

absl::StatusOr<std::optional<DdlJob>> Meta::FirstJob() {
  const std::string prefix = codec::MetaHashPrefix(kJobList);
  auto r = txn_->Scan(prefix, codec::PrefixNext(prefix), 1, false);
  if (!r.ok()) return r.status();
  if (r->empty()) return std::optional<DdlJob>();
  auto j = DecodeDdlJob((*r)[0].value);
  if (!j.ok()) return j.status();
  return std::optional<DdlJob>(*std::move(j));
}

absl::StatusOr<std::optional<DdlJob>> Meta::HistoryJob(int64_t id) {
  auto v = txn_->Get(codec::MetaHashKey(kJobHistory, JobField(id)));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<DdlJob>();
  auto j = DecodeDdlJob(**v);
  if (!j.ok()) return j.status();
  return std::optional<DdlJob>(*std::move(j));
}

void Meta::FinishJob(const DdlJob& job) {
  txn_->Delete(codec::MetaHashKey(kJobList, JobField(job.id)));
  txn_->Put(codec::MetaHashKey(kJobHistory, JobField(job.id)), EncodeDdlJob(job));
}

absl::StatusOr<std::optional<std::pair<std::string, uint64_t>>> Meta::Owner() {
  using R = std::optional<std::pair<std::string, uint64_t>>;
  auto v = txn_->Get(codec::MetaStringKey(kOwner));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return R();
  Reader rd(**v);
  std::string owner;
  uint64_t expiry;
  if (!rd.S(&owner) || !rd.U(&expiry) || !rd.Done()) return Corrupt("ddl owner");
  return R(std::make_pair(owner, expiry));
}

void Meta::SetOwner(const std::string& owner, uint64_t expiry) {
  Writer w;
  w.S(owner);
  w.U(expiry);
  txn_->Put(codec::MetaStringKey(kOwner), w.Take());
}

absl::StatusOr<std::vector<SyncerInfo>> Meta::ListSyncers() {
  const std::string prefix = codec::MetaHashPrefix(kSyncers);
  auto r = txn_->Scan(prefix, codec::PrefixNext(prefix), 0, false);
  if (!r.ok()) return r.status();
  std::vector<SyncerInfo> out;
  for (const kv::Pair& p : *r) {
    std::string key;
    SyncerInfo info;
    absl::Status s = codec::DecodeMetaHashKey(p.key, &key, &info.id);
    if (!s.ok()) return s;
    Reader rd(p.value);
    if (!rd.I(&info.version) || !rd.U(&info.wall_micros) || !rd.Done()) {
      return Corrupt("schema syncer");
    }
    out.push_back(std::move(info));
  }
  return out;
}

void Meta::PutSyncer(const SyncerInfo& info) {
  Writer w;
  w.I(info.version);
  w.U(info.wall_micros);
  txn_->Put(codec::MetaHashKey(kSyncers, info.id), w.Take());
}

}  // namespace rutile::sql
