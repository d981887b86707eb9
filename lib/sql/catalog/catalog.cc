#include "sql/catalog/catalog.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/catalog/meta.h"
#include "sql/codec/tablecodec.h"
#include "sql/types/context.h"

namespace rutile::sql {

std::string LowerName(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int TableInfo::FindColumn(std::string_view name) const {
  const std::string lower = LowerName(name);
  for (size_t i = 0; i < columns.size(); ++i) {
    if (LowerName(columns[i].name) == lower) return static_cast<int>(i);
  }
  return -1;
}

std::vector<const ColumnInfo*> TableInfo::WritableChangingColumns() const {
  std::vector<const ColumnInfo*> out;
  for (const ColumnInfo& c : changing_columns) {
    if (c.state == SchemaState::kWriteOnly || c.state == SchemaState::kWriteReorg) {
      out.push_back(&c);
    }
  }
  return out;
}

int TableInfo::AutoIncrementColumn() const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].auto_increment) return static_cast<int>(i);
  }
  return -1;
}

namespace {

// The TEXT and BLOB family: MySQL's byte limits per variant (TINY 2^8-1, plain 2^16-1,
// MEDIUM 2^24-1, LONG 2^32-1). flen is an int, so LONG's limit is capped at INT32_MAX,
// which is beyond any value a session can send (the protocol's packets are smaller).
// TEXT(n) / BLOB(n) pick the smallest variant holding n bytes, as MySQL does.
FieldType SizedBlob(TypeKind kind, int64_t length, Collation collation) {
  FieldType ft = FieldType::Blob(collation);
  int64_t limit = 65535;
  switch (kind) {
    case TypeKind::kTinyText:
    case TypeKind::kTinyBlob:
      limit = 255;
      break;
    case TypeKind::kMediumText:
    case TypeKind::kMediumBlob:
      limit = 16777215;
      break;
    case TypeKind::kLongText:
    case TypeKind::kLongBlob:
      limit = 4294967295;
      break;
    default:
      if (length >= 0) {
        limit = length <= 255        ? 255
                : length <= 65535    ? 65535
                : length <= 16777215 ? 16777215
                                     : 4294967295;
      }
      break;
  }
  ft.tp = limit == 255        ? TypeCode::kTinyBlob
          : limit == 65535    ? TypeCode::kBlob
          : limit == 16777215 ? TypeCode::kMediumBlob
                              : TypeCode::kLongBlob;
  ft.flen = static_cast<int>(std::min<int64_t>(limit, std::numeric_limits<int32_t>::max()));
  return ft;
}

}  // namespace

absl::StatusOr<FieldType> ToFieldType(const DataType& t) {
  FieldType ft;
  auto collation = [&](Collation def) {
    Collation c = def;
    if (t.binary) c = Collation::kUtf8mb4Bin;
    if (!t.collation.empty()) {
      if (!CollationFromName(t.collation, &c)) {
        return absl::StatusOr<Collation>(
            MySqlErrorStatus(1273, absl::StrCat("Unknown collation: '", t.collation, "'")));
      }
    }
    return absl::StatusOr<Collation>(c);
  };
  switch (t.kind) {
    case TypeKind::kTinyInt:
      ft = FieldType::Int(TypeCode::kTiny, t.is_unsigned);
      break;
    case TypeKind::kBool:
      ft = FieldType::Int(TypeCode::kTiny, false);
      ft.flen = 1;
      return ft;
    case TypeKind::kSmallInt:
      ft = FieldType::Int(TypeCode::kShort, t.is_unsigned);
      break;
    case TypeKind::kMediumInt:
      ft = FieldType::Int(TypeCode::kInt24, t.is_unsigned);
      break;
    case TypeKind::kInt:
      ft = FieldType::Int(TypeCode::kLong, t.is_unsigned);
      break;
    case TypeKind::kBigInt:
    case TypeKind::kSigned:
      ft = FieldType::Int(TypeCode::kLongLong, t.is_unsigned);
      break;
    case TypeKind::kUnsigned:
      ft = FieldType::Int(TypeCode::kLongLong, true);
      break;
    case TypeKind::kYear:
      ft = FieldType::Int(TypeCode::kYear, true);
      ft.flen = 4;
      return ft;
    case TypeKind::kBit:
      ft = FieldType::Int(TypeCode::kLongLong, true);
      return ft;
    case TypeKind::kDecimal: {
      int p = t.length < 0 ? 10 : static_cast<int>(t.length);
      int s = t.scale < 0 ? 0 : static_cast<int>(t.scale);
      if (p > kMaxDecimalPrecision) {
        return MySqlErrorStatus(
            1426, absl::StrCat("Too-big precision ", p, " specified. Maximum is 65."));
      }
      if (s > kMaxDecimalScale || s > p) {
        return MySqlErrorStatus(1425, absl::StrCat("Too big scale ", s, " specified."));
      }
      if (p == 0) p = 10;
      ft = FieldType::NewDecimal(p, s);
      if (t.is_unsigned) ft.flag |= kUnsignedFlag;
      return ft;
    }
    case TypeKind::kFloat:
      if (t.length > 24) {
        ft = FieldType::Double();
      } else {
        ft = FieldType::Float();
      }
      if (t.scale >= 0 && t.length >= 0) {
        ft.flen = static_cast<int>(t.length);
        ft.decimal = static_cast<int>(t.scale);
      }
      if (t.is_unsigned) ft.flag |= kUnsignedFlag;
      return ft;
    case TypeKind::kDouble:
      ft = FieldType::Double();
      if (t.scale >= 0 && t.length >= 0) {
        ft.flen = static_cast<int>(t.length);
        ft.decimal = static_cast<int>(t.scale);
      }
      if (t.is_unsigned) ft.flag |= kUnsignedFlag;
      return ft;
    case TypeKind::kChar:
    case TypeKind::kVarChar:
    case TypeKind::kEnum:
    case TypeKind::kSet:
    case TypeKind::kJson: {
      auto c = collation(kDefaultCollation);
      if (!c.ok()) return c.status();
      int len = t.length < 0 ? (t.kind == TypeKind::kChar ? 1 : 255) : static_cast<int>(t.length);
      ft = FieldType::Varchar(len, *c);
      if (t.kind == TypeKind::kChar) ft.tp = TypeCode::kString;
      return ft;
    }
    case TypeKind::kBinary:
    case TypeKind::kVarBinary: {
      int len = t.length < 0 ? (t.kind == TypeKind::kBinary ? 1 : 255) : static_cast<int>(t.length);
      ft = FieldType::VarBinary(len);
      if (t.kind == TypeKind::kBinary) ft.tp = TypeCode::kString;
      return ft;
    }
    case TypeKind::kTinyText:
    case TypeKind::kText:
    case TypeKind::kMediumText:
    case TypeKind::kLongText: {
      auto c = collation(kDefaultCollation);
      if (!c.ok()) return c.status();
      return SizedBlob(t.kind, t.length, *c);
    }
    case TypeKind::kTinyBlob:
    case TypeKind::kBlob:
    case TypeKind::kMediumBlob:
    case TypeKind::kLongBlob:
      return SizedBlob(t.kind, t.length, Collation::kBinary);
    case TypeKind::kDate:
      return FieldType::Date();
    case TypeKind::kDateTime:
      return FieldType::Datetime(t.length < 0 ? 0 : static_cast<int>(t.length));
    case TypeKind::kTimestamp:
      return FieldType::Timestamp(t.length < 0 ? 0 : static_cast<int>(t.length));
    case TypeKind::kTime:
      return FieldType::Duration(t.length < 0 ? 0 : static_cast<int>(t.length));
  }
  if (t.length > 0 && ft.IsInteger()) ft.flen = static_cast<int>(t.length);
  if (t.zerofill) ft.flag |= kZerofillFlag | kUnsignedFlag;
  return ft;
}

std::string_view SchemaStateName(SchemaState s) {
  switch (s) {
    case SchemaState::kNone:
      return "none";
    case SchemaState::kDeleteOnly:
      return "delete only";
    case SchemaState::kWriteOnly:
      return "write only";
    case SchemaState::kWriteReorg:
      return "write reorganization";
    case SchemaState::kPublic:
      return "public";
  }
  return "unknown";
}

std::string HandleBytes(int64_t h) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(static_cast<uint64_t>(h) >> (56 - 8 * i));
  return s;
}

int64_t HandleFromBytes(std::string_view v) {
  uint64_t u = 0;
  for (size_t i = 0; i < 8 && i < v.size(); ++i) u = (u << 8) | static_cast<uint8_t>(v[i]);
  return static_cast<int64_t>(u);
}

codec::RowDecoder RowDecoderFor(const TableInfo& t) {
  std::vector<codec::RowColumn> cols;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    codec::RowColumn rc;
    rc.id = t.columns[i].id;
    rc.type = t.columns[i].type;
    rc.default_value = t.columns[i].default_value;
    rc.is_handle = static_cast<int>(i) == t.handle_col;
    cols.push_back(rc);
  }
  return codec::RowDecoder(cols);
}

IndexEntry MakeIndexEntry(const TableInfo& t, const IndexInfo& idx, const std::vector<Datum>& row,
                          int64_t handle) {
  std::vector<Datum> vals;
  std::vector<Collation> colls;
  bool has_null = false;
  for (int c : idx.columns) {
    vals.push_back(row[c]);
    has_null = has_null || row[c].IsNull();
    const FieldType& ft = t.columns[c].type;
    colls.push_back(ft.GetEvalType() == EvalType::kString ? ft.collation : Collation::kBinary);
  }
  IndexEntry e;
  if (idx.unique && !has_null) {
    e.key = codec::EncodeIndexKey(t.id, idx.id, vals, std::nullopt, colls);
    e.value = HandleBytes(handle);
    e.unique_check = true;
  } else {
    e.key = codec::EncodeIndexKey(t.id, idx.id, vals, handle, colls);
    e.value = std::string(1, '\0');
  }
  return e;
}

// ---- AutoIdAllocator ----

absl::Status AutoIdAllocator::Reserve(int64_t above, bool force) {
  for (int attempt = 0;; ++attempt) {
    auto b = store_->Begin();
    if (!b.ok()) return b.status();
    Meta m(b->get());
    auto cur = m.GetAutoId(db_id_, table_id_);
    if (!cur.ok()) return cur.status();
    // Ids up to `cur` are taken; reserve (start, start + kBatch].
    int64_t start = force ? above : std::max(*cur, above);
    m.SetAutoId(db_id_, table_id_, start + kBatch);
    absl::Status s = (*b)->Commit();
    if (s.ok()) {
      base_ = start + 1;
      end_ = start + kBatch + 1;
      return s;
    }
    if (!absl::IsAborted(s) || attempt >= 20) return s;
  }
}

absl::StatusOr<int64_t> AutoIdAllocator::Next() {
  MutexLock l(mu_);
  if (base_ >= end_) {
    absl::Status s = Reserve(0, false);
    if (!s.ok()) return s;
  }
  return base_++;
}

absl::Status AutoIdAllocator::Rebase(int64_t used) {
  MutexLock l(mu_);
  if (used < base_) return absl::OkStatus();
  if (used + 1 < end_) {
    base_ = used + 1;
    return absl::OkStatus();
  }
  return Reserve(used, false);
}

absl::Status AutoIdAllocator::Reset(int64_t next) {
  MutexLock l(mu_);
  return Reserve(std::max<int64_t>(next, 1) - 1, true);
}

// ---- Catalog ----

namespace {

absl::Status BadDb(const std::string& name) {
  return MakeMySqlStatus(absl::StatusCode::kNotFound,
                         {kErBadDb, "42000", absl::StrCat("Unknown database '", name, "'")});
}

}  // namespace

Catalog::Catalog(kv::KvStore* store) : store_(store) {
  static std::atomic<uint64_t> next_catalog{1};
  owner_id_ =
      absl::StrCat("catalog-", reinterpret_cast<uintptr_t>(this), "-", next_catalog.fetch_add(1));
}

Catalog::~Catalog() = default;

std::shared_ptr<AutoIdAllocator> Catalog::AllocatorFor(int64_t db_id, int64_t table_id) {
  auto& a = allocators_[table_id];
  if (a == nullptr) a = std::make_shared<AutoIdAllocator>(store_, db_id, table_id);
  return a;
}

void Catalog::ApplyTableLocked(std::shared_ptr<TableInfo> t) {
  if (t->state == SchemaState::kPublic) {
    PublishLocked(std::move(t));
    return;
  }
  // On the way out (DROP TABLE): kept by id for the commit rule, hidden from names.
  t->next_id = AllocatorFor(t->db_id, t->id);
  auto it = dbs_.find(LowerName(t->db));
  if (it != dbs_.end()) {
    auto n = it->second.tables.find(LowerName(t->name));
    if (n != it->second.tables.end() && n->second->id == t->id) it->second.tables.erase(n);
  }
  by_id_[t->id] = std::move(t);
}

void Catalog::EraseTableLocked(int64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  TablePtr t = it->second;
  auto d = dbs_.find(LowerName(t->db));
  if (d != dbs_.end()) {
    auto n = d->second.tables.find(LowerName(t->name));
    if (n != d->second.tables.end() && n->second->id == id) d->second.tables.erase(n);
  }
  by_id_.erase(it);
  allocators_.erase(id);
}

bool Catalog::PublishLocked(std::shared_ptr<TableInfo> t) {
  auto it = dbs_.find(LowerName(t->db));
  if (it == dbs_.end()) return false;
  t->next_id = AllocatorFor(t->db_id, t->id);
  it->second.tables[LowerName(t->name)] = t;
  by_id_[t->id] = t;
  return true;
}

absl::Status Catalog::LoadFrom(kv::KvTxn* txn) {
  Meta m(txn);
  auto version = m.SchemaVersion();
  if (!version.ok()) return version.status();
  auto dbs = m.ListDatabases();
  if (!dbs.ok()) return dbs.status();
  std::map<int64_t, std::vector<std::shared_ptr<TableInfo>>> tables;
  for (const DbInfo& d : *dbs) {
    auto ts = m.ListTables(d.id);
    if (!ts.ok()) return ts.status();
    tables[d.id] = *std::move(ts);
  }
  // Loading a newer schema waits for the commits validated under the old one
  // (CommitGuard), so a catalog that reports the new version has none in flight.
  std::unique_lock<SharedMutex> publish(publish_mu_);
  std::lock_guard<std::mutex> l(mu_);
  if (*version <= version_.load() && !dbs_.empty()) return absl::OkStatus();
  dbs_.clear();
  by_id_.clear();
  for (const DbInfo& d : *dbs) {
    Db& db = dbs_[LowerName(d.name)];
    db.id = d.id;
    db.name = d.name;
    for (auto& t : tables[d.id]) {
      t->db = d.name;
      ApplyTableLocked(t);
    }
  }
  version_.store(*version);
  return absl::OkStatus();
}

absl::Status Catalog::Load() {
  MutexLock l(refresh_mu_);
  // Register before loading: a schema writer that misses this report published before
  // the snapshot the load reads, and one that sees it waits for this catalog's version.
  for (int attempt = 0;; ++attempt) {
    auto b = store_->Begin();
    if (!b.ok()) return b.status();
    Meta((*b).get()).PutSyncer({owner_id_, -1, env_->WallMicros()});
    absl::Status s = (*b)->Commit();
    if (s.ok()) break;
    if (!absl::IsAborted(s) || attempt >= 20) return s;
  }
  const uint64_t t0 = Now();
  auto b = store_->Begin();
  if (!b.ok()) return b.status();
  absl::Status s = LoadFrom(b->get());
  (*b)->Rollback();
  if (!s.ok()) return s;
  synced_at_.store(t0);
  reported_version_ = -1;
  return RefreshLocked();
}

void Catalog::SetLease(Env* env, uint64_t lease_micros, uint64_t refresh_micros) {
  if (env != nullptr) env_ = env;
  lease_micros_ = std::max<uint64_t>(lease_micros, 1000);
  refresh_micros_ = std::min(refresh_micros, lease_micros_ / 4);
  // Unique across processes too (the address alone is not).
  owner_id_ = absl::StrCat(owner_id_, "-", env_->Random64());
}

absl::Status Catalog::EnsureFresh() {
  if (Now() < synced_at_.load() + refresh_micros_) return absl::OkStatus();
  MutexLock l(refresh_mu_);
  if (Now() < synced_at_.load() + refresh_micros_) return absl::OkStatus();
  return RefreshLocked();
}

absl::Status Catalog::RefreshLocked() {
  const uint64_t t0 = Now();
  auto b = store_->Begin();
  if (!b.ok()) return b.status();
  kv::KvTxn* txn = b->get();
  auto v = Meta(txn).SchemaVersion();
  if (!v.ok()) {
    txn->Rollback();
    return v.status();
  }
  if (*v > version_.load()) {
    absl::Status s = LoadFrom(txn);
    if (!s.ok()) {
      txn->Rollback();
      return s;
    }
  }
  if (t0 > synced_at_.load()) synced_at_.store(t0);
  // Report the loaded version when it changed, and now and then to show this catalog is
  // alive (a silent one stops delaying DDL once its lease is surely over).
  const int64_t loaded = version_.load();
  const uint64_t wall = env_->WallMicros();
  if (loaded == reported_version_ && wall < reported_wall_ + lease_micros_ / 4) {
    txn->Rollback();
    return absl::OkStatus();
  }
  Meta(txn).PutSyncer({owner_id_, loaded, wall});
  // A report that fails only makes schema writers wait out the lease; the view is fresh.
  if (txn->Commit().ok()) {
    reported_version_ = loaded;
    reported_wall_ = wall;
  }
  return absl::OkStatus();
}

namespace {

absl::Status SchemaExpired(const absl::Status& s) {
  return MakeMySqlStatus(
      absl::StatusCode::kAborted,
      {kErInfoSchemaExpired, "HY000",
       absl::StrCat("Information schema is out of date: schema failed to update in 1 lease, "
                    "please make sure the cluster is reachable",
                    s.ok() ? "" : absl::StrCat(" (", s.message(), ")"))});
}

}  // namespace

absl::Status Catalog::CommitChecked(const std::map<int64_t, int64_t>& used, kv::KvTxn* txn) {
  if (used.empty()) return txn->Commit();
  absl::Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    s = EnsureFresh();
    if (!s.ok()) continue;
    auto guard = CommitGuard();
    // Half a lease left for the commit itself: a schema writer that did not hear from
    // this catalog waits a whole lease before its next step.
    const uint64_t now = Now();
    if (now >= synced_at_.load() + lease_micros_ / 2) continue;
    s = CheckRevisions(used);
    if (!s.ok()) {
      txn->Rollback();
      return s;
    }
    // The prewrite, lock resolution and backoff may take longer than the lease: the view
    // must still be within its lease when the commit_ts is chosen, just before the commit
    // point (TiDB's schema lease checker). The view cannot change meanwhile (the guard
    // holds off a load), so only the lease can run out; synced_at_ may move on as other
    // sessions confirm the same version. After the lease a schema writer may be two
    // states further on, where this write would miss what a backfill relies on.
    return txn->CommitWithCheck(
        [this] {
          if (commit_hook_) commit_hook_();
          if (Now() >= synced_at_.load() + lease_micros_) return SchemaExpired(absl::OkStatus());
          return absl::OkStatus();
        },
        synced_at_.load() + lease_micros_ - now);
  }
  txn->Rollback();
  return SchemaExpired(s);
}

absl::Status Catalog::WaitSchemaSynced(int64_t version) {
  const uint64_t deadline = Now() + lease_micros_;
  const uint64_t poll = std::max<uint64_t>(1000, refresh_micros_ / 4);
  for (;;) {
    auto b = store_->Begin();
    if (!b.ok()) return b.status();
    auto list = Meta(b->get()).ListSyncers();
    (*b)->Rollback();
    if (!list.ok()) return list.status();
    const uint64_t wall = env_->WallMicros();
    bool behind = false;
    for (const SyncerInfo& r : *list) {
      if (r.id == owner_id_ || r.version >= version) continue;
      // Silent for a lease past its last report interval: its lease is over, so it
      // reloads before using its view again.
      if (wall > r.wall_micros + lease_micros_ + lease_micros_ / 4) continue;
      behind = true;
      break;
    }
    if (!behind || Now() >= deadline) return absl::OkStatus();
    env_->SleepForMicros(poll);
  }
}

absl::Status Catalog::Sync(kv::KvTxn* txn) {
  auto v = Meta(txn).SchemaVersion();
  if (!v.ok()) return v.status();
  if (*v <= version_.load()) return absl::OkStatus();
  return LoadFrom(txn);
}

absl::Status Catalog::Mutate(const std::function<absl::Status(Meta&)>& fn,
                             const std::function<void()>& apply) {
  MutexLock ddl(ddl_mu_);
  for (int attempt = 0;; ++attempt) {
    auto b = store_->Begin();
    if (!b.ok()) return b.status();
    kv::KvTxn* txn = b->get();
    absl::Status s = Sync(txn);
    if (!s.ok()) return s;
    Meta m(txn);
    s = fn(m);
    if (!s.ok()) {
      txn->Rollback();
      return s;
    }
    auto v = m.BumpSchemaVersion();
    if (!v.ok()) return v.status();
    {
      std::unique_lock<SharedMutex> publish(publish_mu_);
      s = txn->Commit();
      if (s.ok()) {
        std::lock_guard<std::mutex> l(mu_);
        // The commit bumped the version from the snapshot's, which Sync loaded: unless a
        // Sync raced ahead (and loaded this change too), the cache is exactly one behind.
        if (version_.load() == *v - 1) {
          apply();
          version_.store(*v);
        }
      }
    }
    if (s.ok()) {
      // Other catalogs load the change before the next one (or the statement) goes on;
      // the change is made either way.
      (void)WaitSchemaSynced(*v);
      return s;
    }
    if (!absl::IsAborted(s) || attempt >= 20) return s;
  }
}

// CREATE / DROP DATABASE are DDL jobs run by the owner (ddl.cc), as tables are: the name
// is checked against this catalog's view first and by the owner against the store, so of
// two racing CREATEs one gets 1007; DROP DATABASE leaves delete-range records for its
// tables' keys in the job's own transaction.
absl::Status Catalog::CreateDatabase(const std::string& name, bool if_not_exists) {
  (void)EnsureFresh();
  if (HasDatabase(name)) {
    if (if_not_exists) return absl::OkStatus();
    return MakeMySqlStatus(absl::StatusCode::kAlreadyExists,
                           {kErDbCreateExists, "HY000",
                            absl::StrCat("Can't create database '", name, "'; database exists")});
  }
  DdlJob job;
  job.type = DdlJobType::kCreateDatabase;
  job.db_name = name;
  absl::StatusOr<DdlJobResult> r = RunJob(std::move(job));
  if (!r.ok() && if_not_exists && GetMySqlError(r.status()).has_value() &&
      GetMySqlError(r.status())->code == kErDbCreateExists) {
    return absl::OkStatus();
  }
  return r.status();
}

absl::Status Catalog::DropDatabase(const std::string& name, bool if_exists,
                                   std::vector<TablePtr>* dropped) {
  (void)EnsureFresh();
  DdlJob job;
  job.type = DdlJobType::kDropDatabase;
  job.db_name = name;
  std::vector<TablePtr> tables;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = IsInfoSchema(name) ? dbs_.end() : dbs_.find(LowerName(name));
    if (it != dbs_.end()) {
      job.db_id = it->second.id;
      for (const auto& [n, t] : it->second.tables) tables.push_back(t);
    }
  }
  auto missing = [&]() -> absl::Status {
    if (if_exists) return absl::OkStatus();
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErDbDropExists, "HY000",
         absl::StrCat("Can't drop database '", name, "'; database doesn't exist")});
  };
  if (job.db_id == 0) return missing();
  absl::StatusOr<DdlJobResult> r = RunJob(std::move(job));
  if (!r.ok()) {
    std::optional<MySqlError> e = GetMySqlError(r.status());
    if (e.has_value() && e->code == kErDbDropExists) return missing();
    return r.status();
  }
  if (dropped != nullptr) *dropped = std::move(tables);
  return absl::OkStatus();
}

bool Catalog::HasDatabase(const std::string& name) const {
  if (IsInfoSchema(name)) return true;
  std::lock_guard<std::mutex> l(mu_);
  return dbs_.count(LowerName(name)) > 0;
}

std::vector<std::string> Catalog::Databases() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out = {"information_schema"};
  for (auto& [lower, d] : dbs_) out.push_back(d.name);
  return out;
}

std::vector<TablePtr> Catalog::Tables(const std::string& db) const {
  std::vector<TablePtr> out;
  if (IsInfoSchema(db)) {
    for (const char* n : {"COLUMNS", "SCHEMATA", "STATISTICS", "TABLES"}) {
      auto t = InfoSchemaTable(n);
      if (t.ok()) out.push_back(*t);
    }
    return out;
  }
  std::lock_guard<std::mutex> l(mu_);
  auto it = dbs_.find(LowerName(db));
  if (it == dbs_.end()) return out;
  for (auto& [n, t] : it->second.tables) out.push_back(t);
  return out;
}

TablePtr Catalog::FindTable(const std::string& db, const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dbs_.find(LowerName(db));
  if (it == dbs_.end()) return nullptr;
  auto t = it->second.tables.find(LowerName(name));
  if (t == it->second.tables.end()) return nullptr;
  return t->second;
}

TablePtr Catalog::FindTableById(int64_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

absl::StatusOr<TablePtr> Catalog::GetTable(const std::string& db, const std::string& name) const {
  TablePtr t = FindTable(db, name);
  if (t == nullptr) {
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErNoSuchTable, "42S02", absl::StrCat("Table '", db, ".", name, "' doesn't exist")});
  }
  return t;
}

absl::Status Catalog::SyncLatest() {
  auto b = store_->Begin();
  if (!b.ok()) return b.status();
  absl::Status s = Sync(b->get());
  (*b)->Rollback();
  return s;
}

absl::Status Catalog::AddTable(std::shared_ptr<TableInfo> table) {
  DdlJob job;
  job.type = DdlJobType::kCreateTable;
  // The database may be newer than this catalog's view.
  if (absl::Status st = SyncLatest(); !st.ok()) return st;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = dbs_.find(LowerName(table->db));
    if (it == dbs_.end()) return BadDb(table->db);
    // The owner checks again against the store; this only saves a job.
    if (it->second.tables.count(LowerName(table->name))) {
      return MakeMySqlStatus(
          absl::StatusCode::kAlreadyExists,
          {kErTableExists, "42S01", absl::StrCat("Table '", table->name, "' already exists")});
    }
    job.db_id = it->second.id;
  }
  job.table_id = table->id;
  job.table = std::make_shared<TableInfo>(*table);
  job.table->db_id = job.db_id;
  job.table->next_id = nullptr;
  auto r = RunJob(std::move(job));
  if (!r.ok()) return r.status();
  TablePtr published = FindTableById(r->table_id);
  table->id = r->table_id;
  table->revision = 1;
  table->state = SchemaState::kPublic;
  if (published != nullptr) {
    table->db_id = published->db_id;
    table->next_id = published->next_id;
  } else {
    std::lock_guard<std::mutex> l(mu_);
    auto it = dbs_.find(LowerName(table->db));
    if (it != dbs_.end()) table->db_id = it->second.id;
    table->next_id = AllocatorFor(table->db_id, table->id);
  }
  return absl::OkStatus();
}

absl::Status Catalog::ReplaceTable(std::shared_ptr<TableInfo> table) {
  const int64_t base = table->revision;
  return Mutate(
      [&](Meta& m) -> absl::Status {
        {
          std::lock_guard<std::mutex> l(mu_);
          auto it = by_id_.find(table->id);
          if (it == by_id_.end()) return absl::NotFoundError("table vanished");
          if (it->second->revision != base) {
            return MySqlErrorStatus(kErInfoSchemaChanged,
                                    "Information schema is changed during the execution of the "
                                    "statement, please try again");
          }
        }
        table->revision = base + 1;
        m.PutTable(table->db_id, *table);
        return absl::OkStatus();
      },
      [&] { PublishLocked(table); });
}

absl::Status Catalog::RemoveTable(const std::string& db, const std::string& name) {
  if (absl::Status st = SyncLatest(); !st.ok()) return st;
  TablePtr t = FindTable(db, name);
  if (t == nullptr) {
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErBadTable, "42S02", absl::StrCat("Unknown table '", db, ".", name, "'")});
  }
  DdlJob job;
  job.type = DdlJobType::kDropTable;
  job.db_id = t->db_id;
  job.table_id = t->id;
  auto r = RunJob(std::move(job));
  if (!r.ok() && GetMySqlError(r.status()).has_value() &&
      GetMySqlError(r.status())->code == kErBadTable) {
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErBadTable, "42S02", absl::StrCat("Unknown table '", db, ".", name, "'")});
  }
  return r.status();
}

absl::Status Catalog::TruncateTable(const TablePtr& t) {
  DdlJob job;
  job.type = DdlJobType::kTruncateTable;
  job.db_id = t->db_id;
  job.table_id = t->id;
  auto r = RunJob(std::move(job));
  if (!r.ok() && GetMySqlError(r.status()).has_value() &&
      GetMySqlError(r.status())->code == kErNoSuchTable) {
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErNoSuchTable, "42S02", absl::StrCat("Table '", t->db, ".", t->name, "' doesn't exist")});
  }
  return r.status();
}

absl::Status Catalog::CheckRevisions(const std::map<int64_t, int64_t>& used) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [id, rev] : used) {
    auto it = by_id_.find(id);
    // A dropped (or truncated) table: its keys are being deleted, so a write now would
    // be left behind. A table at another revision: the store may be a state further on,
    // where the writes miss an index entry the backfill relies on.
    if (it == by_id_.end() || it->second->revision != rev) {
      return MakeMySqlStatus(absl::StatusCode::kAborted,
                             {kErInfoSchemaChanged, "HY000",
                              "Information schema is changed during the execution of the "
                              "statement, please try again"});
    }
  }
  return absl::OkStatus();
}

}  // namespace rutile::sql
